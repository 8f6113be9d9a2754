//! The built `mesos` binary: `mesos master` serves, and bad flags fail
//! with a message a person can act on.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Kills the child when the test ends, passing or failing.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mesos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mesos"))
}

/// A GET over a plain socket: the status line and the body.
fn get(addr: &str, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.lines().next().unwrap_or_default().to_string();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

#[test]
fn master_serves_health_and_version() {
    let work_dir = std::env::temp_dir().join(format!("mesos-cli-master-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work_dir);
    let mut child = KillOnDrop(
        mesos()
            .args(["master", "--port=0", "--ip", "127.0.0.1"])
            .arg(format!("--work_dir={}", work_dir.display()))
            .args(["--allocation_interval=250ms", "--weights=web=2,batch=0.5"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("master listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let (status, _) = get(&addr, "/health");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let (status, body) = get(&addr, "/version");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains(r#""version":"1.11.0""#), "{body}");
    // The flags took effect, under Mesos' names.
    let (_, flags) = get(&addr, "/flags");
    assert!(
        flags.contains(r#""allocation_interval":"0.25secs""#),
        "{flags}"
    );
    assert!(flags.contains(r#""registry":"local""#), "{flags}");
    assert!(flags.contains(r#""weights":"batch=0.5,web=2""#), "{flags}");
    // The registry lives in the work dir.
    assert!(
        flags.contains(&format!(r#""work_dir":"{}""#, work_dir.display())),
        "{flags}"
    );

    // SIGTERM stops it cleanly (exit 0), and its log has no colour codes
    // when stderr is not a terminal.
    let pid = child.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut log = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(log.contains("master started"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "ANSI codes in a non-terminal log: {log:?}"
    );
    let _ = std::fs::remove_dir_all(&work_dir);
}

#[test]
fn bad_flags_are_explained() {
    let out = mesos().args(["master", "--port=http"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid --port=http"), "{err}");

    let out = mesos().args(["master", "--bogus=1"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown flag --bogus"), "{err}");

    let out = mesos()
        .args(["master"])
        .env("MESOS_PORT", "99999")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid --port=99999"), "{err}");

    for (flag, expected) in [
        ("--allocation_interval=5", "missing unit"),
        ("--offer_timeout=5parsecs", "unknown unit"),
        ("--registry=local", "needs --work_dir"),
        ("--registry=zk", "invalid --registry=zk"),
        ("--weights=web", "expected role=weight"),
        ("--weights=web=-1", "expected a positive number"),
    ] {
        let out = mesos().args(["master", flag]).output().unwrap();
        assert!(!out.status.success(), "{flag}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{flag}: {err}");
    }
}

#[test]
fn version_and_help() {
    let out = mesos().arg("version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Mesos API 1.11.0"));
    let out = mesos().arg("help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("local") && help.contains("execute"), "{help}");
    assert!(!help.contains("not built yet"), "{help}");
    let out = mesos().args(["local", "--help"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: mesos local"));
    let out = mesos().args(["local", "--agents=0"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --agents=0: expected 1 to 64"));
    let out = mesos().args(["execute", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: mesos execute"));
}
