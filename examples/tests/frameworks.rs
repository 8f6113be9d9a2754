//! The example frameworks, run as their binaries with the arguments their
//! doc comments show: hello-world and failover against a master with a
//! simulated agent, echo-framework against a real agent running the
//! echo-executor example.

use mesos_master::MasterConfig;
use mesos_testkit::{AgentSpec, Cluster, TaskScript};
use std::process::{Command, Stdio};
use std::time::Duration;

fn master_config() -> MasterConfig {
    MasterConfig {
        allocation_interval: Duration::from_millis(50),
        ..Default::default()
    }
}

/// Runs an example to its end (killed after 60 s): exit code and stdout.
async fn run(bin: &str, args: &[&str]) -> (Option<i32>, String) {
    let child = tokio::process::Command::new(bin)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{bin} did not finish in 60 s"))
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_world_launches_its_tasks_and_exits_when_they_finish() {
    let agent = AgentSpec {
        script: TaskScript::Finish(Duration::from_millis(50)),
        ..Default::default()
    };
    let cluster = Cluster::start(master_config(), vec![agent]).await.unwrap();
    let master = cluster.addr().to_string();
    let (code, out) = run(env!("CARGO_BIN_EXE_hello-world"), &[&master, "4"]).await;
    assert_eq!(code, Some(0), "{out}");
    for i in 1..=4 {
        assert!(out.contains(&format!("hello-{i}: TASK_FINISHED")), "{out}");
    }
    assert_eq!(cluster.agents[0].tasks().len(), 4);

    // A failing task makes it exit 1.
    let failing = Cluster::start(
        master_config(),
        vec![AgentSpec {
            script: TaskScript::Fail,
            ..Default::default()
        }],
    )
    .await
    .unwrap();
    let (code, out) = run(
        env!("CARGO_BIN_EXE_hello-world"),
        &[&failing.addr().to_string(), "1"],
    )
    .await;
    assert_eq!(code, Some(1), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_survives_its_own_restart() {
    let cluster = Cluster::start(master_config(), vec![AgentSpec::default()])
        .await
        .unwrap();
    let master = cluster.addr().to_string();
    let dir = tempfile::tempdir().unwrap();
    let id_file = dir.path().join("failover.id");
    let id_path = id_file.to_str().unwrap();

    // First run: registers, launches its task; stopped once it runs.
    let mut first = tokio::process::Command::new(env!("CARGO_BIN_EXE_failover"))
        .args([&master, id_path])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(first.stdout.take().unwrap()));
    let mut seen = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let running = line.starts_with("running");
            seen.push(line);
            if running {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the first run's task never ran: {seen:?}"));
    assert!(seen[0].starts_with("registered as framework"), "{seen:?}");
    let id = seen[0].rsplit(' ').next().unwrap().to_string();
    let _ = Command::new("kill")
        .args(["-INT", &first.id().unwrap().to_string()])
        .status();
    first.wait().await.unwrap();

    // Second run with --teardown: the same framework (failed over), its task
    // reported by reconciliation, then torn down.
    let (code, out) = run(
        env!("CARGO_BIN_EXE_failover"),
        &[&master, id_path, "--teardown"],
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("failed over as framework {id}")),
        "{out}"
    );
    assert!(out.contains("torn down"), "{out}");
    assert_eq!(
        cluster.agents[0].tasks().len(),
        1,
        "no second task was launched"
    );
    assert!(!id_file.exists(), "teardown forgets the stored id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_framework_talks_to_the_echo_executor() {
    let dir = tempfile::tempdir().unwrap();
    let (master, _agent) = mesos_testkit::master_and_agent(dir.path(), |_| {})
        .await
        .unwrap();
    let (code, out) = run(
        env!("CARGO_BIN_EXE_echo-framework"),
        &[
            &master.addr().to_string(),
            env!("CARGO_BIN_EXE_echo-executor"),
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("echo-1: TASK_RUNNING"), "{out}");
    assert!(out.contains("reply: echo: ping"), "{out}");
}
