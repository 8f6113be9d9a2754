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
