//! Third-party clients against our servers: a pymesos scheduler launching
//! command tasks through our master, and a pymesos executor run by our
//! agent as a custom executor (tests/interop/). The venv with pymesos is
//! created by tests/interop/setup.sh (the full test command runs it first;
//! this test runs it too when the venv is missing).

#[path = "support/local.rs"]
mod support;

use std::path::PathBuf;
use std::process::Command;

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop")
}

/// The venv's python, created when missing.
fn python() -> PathBuf {
    let venv = std::env::var_os("MESOS_INTEROP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/interop-venv")
        });
    let status = Command::new(interop_dir().join("setup.sh"))
        .arg(&venv)
        .status()
        .expect("running tests/interop/setup.sh");
    assert!(
        status.success(),
        "tests/interop/setup.sh could not create {}",
        venv.display()
    );
    venv.join("bin/python")
}

fn scheduler(python: &PathBuf, args: &[&str]) -> (bool, String) {
    let out = Command::new(python)
        .arg(interop_dir().join("scheduler.py"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn pymesos_scheduler_and_executor_work_unchanged() {
    let python = python();
    let work = tempfile::tempdir().unwrap();
    let (_local, master, _) = support::local(work.path(), 1);

    let (ok, log) = scheduler(&python, &[&master, "command", "3"]);
    assert!(ok, "pymesos command tasks:\n{log}");
    assert!(log.contains("finished 3"), "{log}");
    assert_eq!(log.matches("TASK_FINISHED").count(), 3, "{log}");

    let executor = format!(
        "{} {}",
        python.display(),
        interop_dir().join("executor.py").display()
    );
    let (ok, log) = scheduler(&python, &[&master, "executor", &executor]);
    assert!(ok, "pymesos executor:\n{log}");
    assert!(
        log.contains("message from pymesos-executor: b'hello from pymesos'"),
        "{log}"
    );
    assert!(log.contains("TASK_RUNNING"), "{log}");
}

#[test]
fn pymesos_finds_the_leading_master_through_zookeeper() {
    // pymesos detects the leader with kazoo: the lowest child of the
    // group, whose JSON `address` it connects to. Two masters contend, so
    // it must pick the leader, not the standby.
    let python = python();
    let zookeeper = mesos_state::testing::ZooKeeperServer::start().unwrap();
    let url = zookeeper.url("/mesos");
    let work = tempfile::tempdir().unwrap();
    let session = std::time::Duration::from_secs(4);
    let _masters: Vec<_> = (0..2)
        .map(|i| {
            let dir = work.path().join(format!("master{i}"));
            support::zk_master(&url, support::free_port(), session, &dir)
        })
        .collect();
    let _agent = support::zk_agent(&url, &work.path().join("agent"));

    let (ok, log) = scheduler(&python, &[&url, "command", "2"]);
    assert!(ok, "pymesos through zk://:\n{log}");
    assert_eq!(log.matches("TASK_FINISHED").count(), 2, "{log}");
}
