//! Running the built `mesos` binary in tests: `mesos local` on free
//! ports, killed when the test ends.

// Each test file uses some of these helpers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Kills the child when the test ends, passing or failing.
pub(crate) struct KillOnDrop(pub(crate) Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn mesos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mesos"))
}

/// Starts `mesos local` with `agents` agents on free ports; returns it and
/// the master's `host:port`, read from its banner.
pub(crate) fn local(
    work_dir: &std::path::Path,
    agents: usize,
) -> (KillOnDrop, String, Vec<String>) {
    let mut child = KillOnDrop(
        mesos()
            .args(["local", "--port=0", &format!("--agents={agents}")])
            .arg(format!("--work_dir={}", work_dir.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    let mut master = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.trim().strip_prefix("master") {
            let url = rest.split_whitespace().next().unwrap();
            master = Some(url.trim_start_matches("http://").to_string());
        }
        let done = line.starts_with("Ctrl-C");
        banner.push(line);
        if done {
            break;
        }
    }
    let master = master.unwrap_or_else(|| panic!("no master in the banner: {banner:?}"));
    (child, master, banner)
}

/// A free loopback port (for processes that must keep theirs).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `mesos master` contending in ZooKeeper at `url` on `port`.
pub(crate) fn zk_master(
    url: &str,
    port: u16,
    session: std::time::Duration,
    work_dir: &std::path::Path,
) -> KillOnDrop {
    KillOnDrop(
        mesos()
            .arg("master")
            .arg("--ip=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg(format!("--zk={url}"))
            .arg(format!("--zk_session_timeout={}ms", session.as_millis()))
            .arg("--quorum=2")
            .arg("--allocation_interval=100ms")
            .arg(format!("--work_dir={}", work_dir.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// `mesos agent` finding its master in ZooKeeper at `url`.
pub(crate) fn zk_agent(url: &str, work_dir: &std::path::Path) -> KillOnDrop {
    KillOnDrop(
        mesos()
            .arg("agent")
            .arg(format!("--master={url}"))
            .arg(format!("--work_dir={}", work_dir.display()))
            .arg("--ip=127.0.0.1")
            .arg(format!("--port={}", free_port()))
            .arg("--resources=cpus:2;mem:512;disk:1024;ports:[31000-31100]")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}
