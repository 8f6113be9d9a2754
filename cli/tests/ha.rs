//! High availability end to end: three `mesos master` processes elect
//! their leader through a real ZooKeeper, an agent and a framework (our
//! SDK) find it through `zk://`; the leader is killed with `kill -9` and
//! everything moves to its successor: a new leader within the session
//! timeout plus 2 s, the agent re-registered, the framework resubscribed
//! with the same id, its task still running, and the task's later status
//! update delivered, as is the update of a task that finished while no
//! master led.

#[path = "support/local.rs"]
mod support;

use mesos_http::client::Client;
use mesos_proto::v1::{FrameworkInfo, MasterInfo, TaskState};
use mesos_scheduler::{SchedulerConfig, SchedulerDriver};
use mesos_state::testing::ZooKeeperServer;
use mesos_state::zk::{self, ZkUrl};
use mesos_testkit::recorder::{Note, Recorder, next_note, wait_state};
use std::time::{Duration, Instant};
use support::{KillOnDrop, free_port, mesos, zk_agent, zk_master};

const SESSION: Duration = Duration::from_secs(4);
/// Bounds every wait that could otherwise hang a broken test.
const BOUND: Duration = Duration::from_secs(60);

async fn get(path_url: &str) -> Option<(u16, String)> {
    let (status, _, body) = Client::default().get(path_url).await.ok()?;
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}

async fn leads(port: u16) -> bool {
    matches!(get(&format!("http://127.0.0.1:{port}/metrics/snapshot")).await,
        Some((200, body)) if body.contains(r#""master/elected":1"#))
}

/// Polls `check` every 100 ms until it holds; panics after `BOUND`.
async fn until<F: std::future::Future<Output = bool>>(what: &str, check: impl Fn() -> F) {
    let deadline = Instant::now() + BOUND;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leading_master_moves_everything_to_its_successor() {
    let zookeeper = ZooKeeperServer::start().unwrap();
    let url = zookeeper.url("/mesos");
    let dir = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port(), free_port()];
    let mut masters: Vec<Option<KillOnDrop>> = ports
        .iter()
        .enumerate()
        .map(|(i, port)| {
            Some(zk_master(
                &url,
                *port,
                SESSION,
                &dir.path().join(format!("master{i}")),
            ))
        })
        .collect();
    let _agent = zk_agent(&url, &dir.path().join("agent"));

    // A framework finds the leader through ZooKeeper and runs two tasks,
    // each until its file appears.
    let stop = dir.path().join("stop");
    let gap = dir.path().join("gap");
    let wait_for_file = |file: &std::path::Path| {
        format!(
            "while [ ! -e {} ]; do sleep 0.1; done; echo done",
            file.display()
        )
    };
    let info = FrameworkInfo {
        user: "root".into(),
        name: "ha".into(),
        failover_timeout: Some(3600.0),
        ..Default::default()
    };
    let mut config = SchedulerConfig::new(&url, info).unwrap();
    config.reconnect_min = Duration::from_millis(100);
    config.reconnect_max = Duration::from_secs(1);
    let driver = SchedulerDriver::new(config);
    let (recorder, mut notes) = Recorder::new([
        ("ha-task", wait_for_file(&stop)),
        ("gap-task", wait_for_file(&gap)),
    ]);
    let run = recorder.spawn(&driver);
    let Note::Subscribed(framework_id) = next_note(&mut notes).await else {
        panic!("not subscribed first")
    };
    let running = wait_state(&mut notes, TaskState::TaskRunning, 2)
        .await
        .remove(0);
    let agent_id = running.agent_id.clone().unwrap().value;

    // Which master leads? Its znode says, as it would to any Mesos tool.
    let zk_url: ZkUrl = url.parse().unwrap();
    let client = zk::connect(&zk_url, SESSION).await.unwrap();
    let (_, data) = zk::leader(&client, "/mesos").await.unwrap().unwrap();
    let leader: MasterInfo = mesos_proto::json::from_slice(&data).unwrap();
    let first = ports
        .iter()
        .position(|p| u32::from(*p) == leader.port)
        .unwrap();
    assert!(leads(ports[first]).await);

    // kill -9 the leader.
    let killed_at = Instant::now();
    drop(masters[first].take());
    // One task finishes while no master leads: its update must survive.
    std::fs::write(&gap, b"").unwrap();
    let mut second = None;
    until("a new leader", || async {
        for (i, port) in ports.iter().enumerate() {
            if i != first && leads(*port).await {
                return true;
            }
        }
        false
    })
    .await;
    let elected_after = killed_at.elapsed();
    for (i, port) in ports.iter().enumerate() {
        if i != first && leads(*port).await {
            second = Some(*port);
        }
    }
    let second = second.unwrap();
    assert!(
        elected_after <= SESSION + Duration::from_secs(2),
        "a new leader only after {elected_after:?} (session timeout {SESSION:?})"
    );

    // The agent re-registers and the framework resubscribes, same ids;
    // the task still runs.
    let state_url = format!("http://127.0.0.1:{second}/master/state");
    until("agent and framework back on the new leader", || async {
        let Some((200, body)) = get(&state_url).await else {
            return false;
        };
        let state: serde_json::Value = serde_json::from_str(&body).unwrap();
        let agent_back = state["slaves"].as_array().is_some_and(|a| {
            a.iter()
                .any(|s| s["id"] == agent_id.as_str() && s["active"] == true)
        });
        let framework_back = state["frameworks"].as_array().is_some_and(|f| {
            f.iter().any(|f| {
                f["id"] == framework_id.as_str()
                    && f["active"] == true
                    && f["tasks"].as_array().is_some_and(|t| {
                        t.iter()
                            .any(|t| t["id"] == "ha-task" && t["state"] == "TASK_RUNNING")
                    })
            })
        });
        agent_back && framework_back
    })
    .await;
    eprintln!(
        "new leader after {elected_after:?}; agent and framework back after {:?}",
        killed_at.elapsed()
    );

    // The inspection commands find the new leader through ZooKeeper too.
    let out = mesos()
        .args(["tasks", "--json", &format!("--master={url}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tasks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        tasks.as_array().is_some_and(|t| t
            .iter()
            .any(|t| t["id"] == "ha-task" && t["state"] == "TASK_RUNNING")),
        "{tasks}"
    );

    // The other finishes after the failover. Both updates arrive: the one
    // made while no master led, and this one.
    std::fs::write(&stop, b"").unwrap();
    let mut finished: Vec<String> = wait_state(&mut notes, TaskState::TaskFinished, 2)
        .await
        .into_iter()
        .map(|s| s.task_id.value)
        .collect();
    finished.sort();
    assert_eq!(finished, ["gap-task", "ha-task"]);
    driver.stop();
    let _ = tokio::time::timeout(BOUND, run).await;
}
