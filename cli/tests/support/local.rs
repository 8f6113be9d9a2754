//! Running the built `mesos` binary in tests: `mesos local` on free
//! ports, killed when the test ends.

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
