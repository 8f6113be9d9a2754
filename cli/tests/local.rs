//! The built binary as a newcomer uses it: `mesos local` starts a
//! cluster, `mesos execute` runs commands on it, Ctrl-C stops everything.

#[path = "support/local.rs"]
mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{KillOnDrop, local, mesos};

fn execute(master: &str, args: &[&str]) -> (i32, String, String) {
    let out = mesos()
        .args(["execute", "--master", master])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn get(addr: &str, path: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, _, body) = rt
        .block_on(mesos_http::client::Client::default().get(&format!("http://{addr}{path}")))
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Processes other than `mesos execute` whose command line contains
/// `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        // The task's processes, not the `mesos execute` that asked for it.
        if cmdline.contains(needle) && !cmdline.contains("execute") {
            found.push(cmdline);
        }
    }
    found
}

#[test]
fn local_runs_commands_and_stops_everything_on_ctrl_c() {
    let work = tempfile::tempdir().unwrap();
    let (mut local, master, banner) = local(work.path(), 2);
    assert!(banner.iter().any(|l| l.contains("agent 2")), "{banner:?}");
    assert_eq!(get(&master, "/health").0, 200);
    let (_, slaves) = get(&master, "/slaves");
    let slaves: serde_json::Value = serde_json::from_str(&slaves).unwrap();
    assert_eq!(slaves["slaves"].as_array().unwrap().len(), 2, "{slaves}");

    // execute: the output followed, the exit status passed on.
    let (code, stdout, stderr) = execute(
        &master,
        &["--command", "echo hi", "--follow", "--name", "hi"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "hi\n", "{stderr}");
    assert!(stderr.contains("TASK_RUNNING"), "{stderr}");
    assert!(stderr.contains("TASK_FINISHED"), "{stderr}");
    let (code, _, stderr) = execute(&master, &["--command", "exit 3", "--name", "three"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("TASK_FAILED: Command exited with status 3"),
        "{stderr}"
    );
    let (code, stdout, _) = execute(
        &master,
        &[
            "--command",
            "echo $GREETING",
            "--env",
            "GREETING=hello",
            "--follow",
        ],
    );
    assert_eq!((code, stdout.as_str()), (0, "hello\n"));
    // Resources no agent has: the task waits; a bad flag fails at once.
    let (code, _, stderr) = execute(&master, &["--command", "true", "--resources", "cpus:x"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("invalid --resources=cpus:x"), "{stderr}");

    // Inspection: tables, --json, cat and tail of finished tasks.
    let inspect = |args: &[&str]| {
        let out = mesos()
            .args(args)
            .args(["--master", &master])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{args:?}: {stderr}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let agents = inspect(&["agents"]);
    assert_eq!(
        agents.lines().count(),
        3,
        "a header and two agents: {agents}"
    );
    assert!(agents.starts_with("ID "), "{agents}");
    let tasks: serde_json::Value =
        serde_json::from_str(&inspect(&["tasks", "--all", "--json"])).unwrap();
    let hi = tasks
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "hi" && t["state"] == "TASK_FINISHED")
        .unwrap_or_else(|| panic!("{tasks}"));
    let id = hi["id"].as_str().unwrap();
    assert_eq!(inspect(&["cat", id]), "hi\n");
    assert_eq!(inspect(&["tail", "-n", "1", id]), "hi\n");
    assert!(inspect(&["ps", "--all"]).contains(id));
    assert!(
        !inspect(&["tasks"]).contains(id),
        "finished tasks only with --all"
    );
    let frameworks: serde_json::Value =
        serde_json::from_str(&inspect(&["frameworks", "--all", "--json"])).unwrap();
    assert!(frameworks.as_array().unwrap().len() >= 3, "{frameworks}");
    let out = mesos()
        .args(["cat", "no-such-task", "--master", &master])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("the master knows no task no-such-task"));

    // A task left running when Ctrl-C comes is stopped with the cluster.
    let marker = format!("sleep 4242.{}", std::process::id());
    let mut long = KillOnDrop(
        mesos()
            .args(["execute", "--master", &master, "--command", &marker])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut err = BufReader::new(long.0.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("TASK_RUNNING") {
        let mut line = String::new();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "execute ended early: {seen}"
        );
        seen.push_str(&line);
    }
    assert!(!processes_with(&marker).is_empty(), "the task runs");
    let status = Command::new("kill")
        .args(["-INT", &local.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let code = loop {
        if let Some(status) = local.0.try_wait().unwrap() {
            break status.code();
        }
        assert!(Instant::now() < deadline, "mesos local did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(0));
    assert!(
        processes_with(&marker).is_empty(),
        "the task was stopped with the cluster"
    );
    let _ = long.0.kill();
    let mut rest = String::new();
    let _ = err.read_to_string(&mut rest);
}

#[test]
fn execute_without_a_master_says_what_to_do() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let (code, _, stderr) = execute(&addr, &["--command", "true"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!("cannot reach the master at {addr}")),
        "{stderr}"
    );
    assert!(stderr.contains("connection refused"), "{stderr}");
    assert!(stderr.contains("is `mesos local`"), "{stderr}");
}

/// An agent the operator marked gone may never register again: a
/// `mesos local` restarted on the same work directory stops and says how
/// to start afresh, instead of waiting for a registration that cannot
/// come.
#[test]
fn a_local_cluster_whose_agent_was_marked_gone_says_how_to_start_afresh() {
    let work = tempfile::tempdir().unwrap();
    let (first, master, _) = local(work.path(), 1);
    let (_, slaves) = get(&master, "/slaves");
    let slaves: serde_json::Value = serde_json::from_str(&slaves).unwrap();
    let id = slaves["slaves"][0]["id"].as_str().unwrap().to_string();
    let call = serde_json::json!({
        "type": "MARK_AGENT_GONE",
        "mark_agent_gone": {"agent_id": {"value": id}},
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(mesos_http::client::Client::default().post_ok(
        &format!("http://{master}/api/v1"),
        &[("Content-Type", "application/json")],
        call.to_string().into_bytes(),
    ))
    .unwrap();
    drop(first);

    let mut again = KillOnDrop(
        mesos()
            .args(["local", "--port=0", "--agents=1"])
            .arg(format!("--work_dir={}", work.path().display()))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Read while it runs: a full pipe would block it.
    let mut err = again.0.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut stderr = String::new();
        let _ = err.read_to_string(&mut stderr);
        stderr
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = again.0.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = again.0.kill();
            panic!("mesos local kept running: {}", reader.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = reader.join().unwrap();
    assert!(!status.success());
    assert!(stderr.contains("refused this agent for good"), "{stderr}");
    assert!(
        stderr.contains(&id),
        "the master's reason names it: {stderr}"
    );
    assert!(
        stderr.contains(&format!("remove {}", work.path().display())),
        "{stderr}"
    );
}
