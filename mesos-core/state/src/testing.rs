//! A real ZooKeeper server on loopback, for tests (feature `testing`).
//!
//! Runs the ZooKeeper of the machine (Debian's `zookeeper` package:
//! `/usr/share/java/zookeeper.jar`, or the jar named by
//! `MESOS_TEST_ZOOKEEPER_JAR`) as a child process with its own port and
//! data directory, so a test can kill and restart it.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! let zk = mesos_state::testing::ZooKeeperServer::start()?;
//! println!("ZooKeeper at {}", zk.url("/mesos"));
//! # Ok(()) }
//! ```

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's `zookeeper` package puts the server's jar.
pub const DEFAULT_JAR: &str = "/usr/share/java/zookeeper.jar";

/// How long a server may take to start answering.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A standalone ZooKeeper server, killed when dropped.
#[derive(Debug)]
pub struct ZooKeeperServer {
    addr: SocketAddr,
    dir: PathBuf,
    jar: PathBuf,
    child: Option<Child>,
}

impl ZooKeeperServer {
    /// Starts a server on a free loopback port and waits until it serves.
    pub fn start() -> io::Result<ZooKeeperServer> {
        let jar = std::env::var_os("MESOS_TEST_ZOOKEEPER_JAR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_JAR));
        if !jar.exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "no ZooKeeper at {}: install the Debian package `zookeeper` \
                     (./scripts/test does) or set MESOS_TEST_ZOOKEEPER_JAR",
                    jar.display()
                ),
            ));
        }
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let dir = std::env::temp_dir().join(format!(
            "mesos-test-zk-{}-{}",
            std::process::id(),
            addr.port()
        ));
        std::fs::create_dir_all(dir.join("data"))?;
        std::fs::write(
            dir.join("zoo.cfg"),
            format!(
                "tickTime=500\ndataDir={}\nclientPortAddress=127.0.0.1\nclientPort={}\n\
                 minSessionTimeout=1000\nmaxSessionTimeout=60000\nadmin.enableServer=false\n\
                 4lw.commands.whitelist=srvr,ruok\n",
                dir.join("data").display(),
                addr.port()
            ),
        )?;
        let mut server = ZooKeeperServer {
            addr,
            dir,
            jar,
            child: None,
        };
        server.restart()?;
        Ok(server)
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> SocketAddr {
        self.addr
    }

    /// `zk://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("zk://{}{}", self.addr, path)
    }

    /// The server's data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Kills the server (`SIGKILL`); its data stays for [`restart`].
    ///
    /// [`restart`]: ZooKeeperServer::restart
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and data (killing it
    /// first if it runs), and waits until it serves.
    pub fn restart(&mut self) -> io::Result<()> {
        self.kill();
        let log = std::fs::File::create(self.dir.join("zookeeper.log"))?;
        let child = Command::new("java")
            .arg("-Xmx256m")
            .arg("-Dzookeeper.admin.enableServer=false")
            .arg("-cp")
            .arg(&self.jar)
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(self.dir.join("zoo.cfg"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run java for ZooKeeper: {e}")))?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if self.serving() {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(io::Error::other(format!(
                    "ZooKeeper exited with {status}; see {}",
                    self.dir.join("zookeeper.log").display()
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "ZooKeeper did not serve on {} within {START_TIMEOUT:?}",
                        self.addr
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the server answers ZooKeeper's `srvr` command.
    fn serving(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        if stream.write_all(b"srvr").is_err() {
            return false;
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer.contains("Mode: standalone")
    }
}

impl Drop for ZooKeeperServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
