//! The driver against our master (simulated agents): launching with both
//! codecs, failover of a restarted scheduler, surviving a master restart.

use mesos_master::{MasterConfig, RegistryConfig};
use mesos_proto::media::MediaType;
use mesos_proto::v1::{FrameworkInfo, Offer, TaskState, TaskStatus, task_status};
use mesos_scheduler::builders::TaskBuilder;
use mesos_scheduler::offers::{Needs, OfferResources};
use mesos_scheduler::{FileFrameworkIdStore, Scheduler, SchedulerConfig, SchedulerDriver};
use mesos_testkit::{AgentSpec, Cluster};
use std::time::Duration;
use tokio::sync::mpsc;

/// What the test scheduler saw.
#[derive(Debug)]
enum Note {
    Subscribed(String),
    Update(Box<TaskStatus>),
    Disconnected,
}

/// Launches `want` tasks (0.1 cpu, 32 MB each) from offers, reports.
struct Recorder {
    want: usize,
    launched: usize,
    notes: mpsc::UnboundedSender<Note>,
}

impl Scheduler for Recorder {
    async fn subscribed(
        &mut self,
        _: &SchedulerDriver,
        s: &mesos_proto::v1::scheduler::event::Subscribed,
    ) {
        let _ = self
            .notes
            .send(Note::Subscribed(s.framework_id.value.clone()));
    }

    async fn offers(&mut self, driver: &SchedulerDriver, offers: Vec<Offer>) {
        for offer in offers {
            let mut pool = OfferResources::new(&offer);
            let mut tasks = Vec::new();
            while self.launched < self.want {
                let Some(resources) = pool.take(&Needs::new(0.1, 32.0)) else {
                    break;
                };
                self.launched += 1;
                tasks.push(
                    TaskBuilder::new(&format!("task-{}", self.launched), &offer.agent_id)
                        .shell("sleep 1000")
                        .resources(resources)
                        .build(),
                );
            }
            let result = if tasks.is_empty() {
                driver.decline(vec![offer.id], None).await
            } else {
                driver.launch(vec![offer.id], tasks, None).await
            };
            result.expect("accept or decline");
        }
    }

    async fn update(&mut self, _: &SchedulerDriver, status: TaskStatus) {
        let _ = self.notes.send(Note::Update(Box::new(status)));
    }

    async fn disconnected(&mut self, _: &SchedulerDriver) {
        let _ = self.notes.send(Note::Disconnected);
    }
}

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
    let (tx, rx) = mpsc::unbounded_channel();
    let driver = driver.clone();
    let handle = tokio::spawn(async move {
        let mut recorder = Recorder {
            want,
            launched: 0,
            notes: tx,
        };
        driver.run(&mut recorder).await
    });
    (handle, rx)
}

async fn next_note(rx: &mut mpsc::UnboundedReceiver<Note>) -> Note {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("a note within 30 s")
        .expect("the driver is running")
}

/// Waits until `n` distinct tasks reported `state`; returns their updates.
async fn wait_state(
    rx: &mut mpsc::UnboundedReceiver<Note>,
    state: TaskState,
    n: usize,
) -> Vec<TaskStatus> {
    let mut seen: Vec<TaskStatus> = Vec::new();
    while seen.len() < n {
        if let Note::Update(s) = next_note(rx).await {
            if s.state() == state && !seen.iter().any(|x| x.task_id == s.task_id) {
                seen.push(*s);
            }
        }
    }
    seen
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
    // Not asserted here: that task-1 is reported running again. About one
    // run in six the restarted master never reports it (a master-side race
    // between the agent's re-registration and recovery, noted on the master
    // issue); the driver's part, reconnecting as the same framework, is.
    driver.stop();
    handle.await.unwrap().unwrap();
}
