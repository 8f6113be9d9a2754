//! The driver against our master (simulated agents): launching with both
//! codecs, failover of a restarted scheduler, surviving a master restart.

use mesos_master::{MasterConfig, RegistryConfig};
use mesos_proto::media::MediaType;
use mesos_proto::v1::{FrameworkInfo, TaskState, task_status};
use mesos_scheduler::{FileFrameworkIdStore, SchedulerConfig, SchedulerDriver};
use mesos_testkit::recorder::{Note, Recorder, next_note, wait_state};
use mesos_testkit::{AgentSpec, Cluster};
use std::time::Duration;
use tokio::sync::mpsc;

fn framework(name: &str) -> FrameworkInfo {
    FrameworkInfo {
        user: "root".into(),
        name: name.into(),
        failover_timeout: Some(3600.0),
        ..Default::default()
    }
}

fn config(master: std::net::SocketAddr, info: FrameworkInfo) -> SchedulerConfig {
    let mut config = SchedulerConfig::new(&master.to_string(), info).unwrap();
    config.reconnect_min = Duration::from_millis(50);
    config.reconnect_max = Duration::from_millis(500);
    config
}

fn master_config() -> MasterConfig {
    MasterConfig {
        allocation_interval: Duration::from_millis(50),
        ..Default::default()
    }
}

/// Starts `driver` running a recorder that launches `want` tasks.
fn spawn(
    driver: &SchedulerDriver,
    want: usize,
) -> (
    tokio::task::JoinHandle<Result<(), mesos_scheduler::SchedulerError>>,
    mpsc::UnboundedReceiver<Note>,
) {
    let (recorder, rx) = Recorder::new((1..=want).map(|i| (format!("task-{i}"), "sleep 1000")));
    (recorder.spawn(driver), rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_launch_and_updates_are_acknowledged_with_both_codecs() {
    for media in [MediaType::Protobuf, MediaType::Json] {
        let cluster = Cluster::start(master_config(), vec![AgentSpec::default()])
            .await
            .unwrap();
        let driver =
            SchedulerDriver::new(config(cluster.addr(), framework("codecs")).with_media(media));
        let (handle, mut rx) = spawn(&driver, 3);
        let running = wait_state(&mut rx, TaskState::TaskRunning, 3).await;
        assert_eq!(running.len(), 3, "{media:?}");
        // Implicit acknowledgements reached the agent.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while cluster.agents[0].acknowledged() < 3 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{media:?}: acknowledged {}",
                cluster.agents[0].acknowledged()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(cluster.agents[0].tasks().len(), 3, "{media:?}");
        assert_eq!(driver.tasks().len(), 3, "the driver follows its tasks");
        driver.stop();
        handle.await.unwrap().expect("a stopped driver ends Ok");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_scheduler_fails_over_and_keeps_its_tasks() {
    let cluster = Cluster::start(master_config(), vec![AgentSpec::default()])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = || FileFrameworkIdStore::new(dir.path().join("framework_id"));

    let first =
        SchedulerDriver::new(config(cluster.addr(), framework("failover")).with_store(store()));
    let (handle, mut rx) = spawn(&first, 1);
    let Note::Subscribed(id) = next_note(&mut rx).await else {
        panic!("expected SUBSCRIBED first")
    };
    wait_state(&mut rx, TaskState::TaskRunning, 1).await;
    first.stop();
    handle.await.unwrap().unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("framework_id"))
            .unwrap()
            .trim(),
        id
    );

    // A new process, the same store: the same framework, its task kept
    // (implicit reconciliation reports it running).
    let second =
        SchedulerDriver::new(config(cluster.addr(), framework("failover")).with_store(store()));
    let (handle, mut rx) = spawn(&second, 0);
    let Note::Subscribed(again) = next_note(&mut rx).await else {
        panic!("expected SUBSCRIBED first")
    };
    assert_eq!(again, id, "failed over, not registered anew");
    let reconciled = wait_state(&mut rx, TaskState::TaskRunning, 1).await;
    assert_eq!(reconciled[0].task_id.value, "task-1");
    assert_eq!(
        reconciled[0].reason,
        Some(task_status::Reason::Reconciliation as i32)
    );
    assert_eq!(cluster.agents[0].tasks().len(), 1);
    second.stop();
    handle.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_restart_is_survived_by_reconnecting() {
    let work = tempfile::tempdir().unwrap();
    let registry = || MasterConfig {
        registry: RegistryConfig::Local {
            work_dir: work.path().to_path_buf(),
        },
        agent_reregister_timeout: Duration::from_secs(5),
        // Should the old master's stream linger after the restart, missed
        // heartbeats end it in seconds.
        heartbeat_interval: Duration::from_millis(500),
        ..master_config()
    };
    let mut cluster = Cluster::start(registry(), vec![AgentSpec::default()])
        .await
        .unwrap();
    let driver = SchedulerDriver::new(config(cluster.addr(), framework("survivor")));
    let (handle, mut rx) = spawn(&driver, 1);
    let Note::Subscribed(id) = next_note(&mut rx).await else {
        panic!("expected SUBSCRIBED first")
    };
    wait_state(&mut rx, TaskState::TaskRunning, 1).await;

    cluster.restart_master(registry()).await.unwrap();
    let mut disconnected = false;
    let again = loop {
        match next_note(&mut rx).await {
            Note::Disconnected => disconnected = true,
            Note::Subscribed(again) => break again,
            Note::Update(_) => {}
        }
    };
    assert!(disconnected, "the driver saw the connection go");
    assert_eq!(again, id, "resubscribed as the same framework");
    // And the task is still known running (implicit reconciliation).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        driver.reconcile(vec![]).await.unwrap();
        let mut running = false;
        while let Ok(Some(note)) = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await
        {
            if let Note::Update(s) = note
                && s.state() == TaskState::TaskRunning
                && s.task_id.value == "task-1"
            {
                running = true;
            }
        }
        if running {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "task-1 is not running after the restart"
        );
    }
    driver.stop();
    handle.await.unwrap().unwrap();
}
