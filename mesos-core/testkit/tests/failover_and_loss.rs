//! Framework failover timeouts, teardown and lost agents, through the
//! whole cluster.

use mesos_master::MasterConfig;
use mesos_proto::media::MediaType;
use mesos_proto::v1::scheduler::call;
use mesos_proto::v1::{FrameworkInfo, TaskId, TaskState, TaskStatus, task_status};
use mesos_testkit::{AgentSpec, Cluster, RawScheduler, TaskScript, TestClient, sleep_task};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn framework(failover_timeout: f64, partition_aware: bool) -> FrameworkInfo {
    FrameworkInfo {
        user: "root".into(),
        name: "survivor".into(),
        failover_timeout: Some(failover_timeout),
        capabilities: mesos_testkit::partition_aware(partition_aware),
        ..Default::default()
    }
}

/// Subscribes, launches task `t` on the first offer, acknowledges its
/// TASK_RUNNING.
async fn with_running_task(cluster: &Cluster, info: FrameworkInfo) -> RawScheduler {
    let mut s = RawScheduler::subscribe(cluster.addr(), info, MediaType::Json)
        .await
        .unwrap();
    let e = s.wait_for(WAIT, |e| e.offers.is_some()).await.unwrap();
    let offer = e.offers.unwrap().offers.remove(0);
    let t = sleep_task("t", &offer.agent_id, "cpus:1;mem:64");
    assert_eq!(
        s.call(&s.launch_call(&[&offer.id], vec![t], None))
            .await
            .unwrap()
            .0,
        202
    );
    let running = update(&mut s).await;
    assert_eq!(running.state, TaskState::TaskRunning as i32);
    assert_eq!(s.acknowledge(&running).await.unwrap(), 202);
    s
}

async fn update(s: &mut RawScheduler) -> TaskStatus {
    s.next_update(WAIT).await.unwrap()
}

fn config() -> MasterConfig {
    MasterConfig {
        allocation_interval: Duration::from_millis(20),
        heartbeat_interval: Duration::from_millis(200),
        ..Default::default()
    }
}

fn one_agent() -> Vec<AgentSpec> {
    vec![AgentSpec {
        resources: "cpus:2;mem:1024".into(),
        script: TaskScript::Run,
        retry: Duration::from_millis(100),
        ..Default::default()
    }]
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not happen"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_framework_failing_over_within_its_timeout_keeps_its_tasks() {
    let cluster = Cluster::start(config(), one_agent()).await.unwrap();
    let s = with_running_task(&cluster, framework(60.0, false)).await;
    let id = s.framework_id().clone();
    drop(s);
    // Gone long enough for the master to notice (a few heartbeats).
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut info = framework(60.0, false);
    info.id = Some(id.clone());
    let mut s = RawScheduler::subscribe(cluster.addr(), info, MediaType::Protobuf)
        .await
        .unwrap();
    assert_eq!(*s.framework_id(), id, "the same framework");
    let mut r = s.call_of(call::Type::Reconcile);
    r.reconcile = Some(call::Reconcile { tasks: vec![] });
    s.call(&r).await.unwrap();
    let status = update(&mut s).await;
    assert_eq!(status.task_id.as_str(), "t");
    assert_eq!(status.state, TaskState::TaskRunning as i32);
    assert_eq!(
        cluster.agents[0].tasks()[&TaskId::new("t")].state,
        TaskState::TaskRunning
    );
}

#[tokio::test]
async fn past_its_failover_timeout_a_framework_is_removed_and_its_tasks_killed() {
    let cluster = Cluster::start(config(), one_agent()).await.unwrap();
    let s = with_running_task(&cluster, framework(0.3, false)).await;
    let id = s.framework_id().clone();
    drop(s);
    let agent = &cluster.agents[0];
    eventually("the task is killed", || {
        agent.tasks()[&TaskId::new("t")].state == TaskState::TaskKilled
    })
    .await;
    let mut info = framework(0.3, false);
    info.id = Some(id);
    let err = RawScheduler::subscribe(cluster.addr(), info, MediaType::Json)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("has been removed"), "{err}");
}

/// An agent silent for 3 x 100 ms is unreachable.
fn quick_loss_config() -> MasterConfig {
    MasterConfig {
        agent_ping_timeout: Duration::from_millis(100),
        max_agent_ping_timeouts: 3,
        ..config()
    }
}

async fn lose_the_agent(partition_aware: bool) -> (TaskStatus, bool) {
    let mut cluster = Cluster::start(quick_loss_config(), one_agent())
        .await
        .unwrap();
    let mut s = with_running_task(&cluster, framework(60.0, partition_aware)).await;
    let agent = cluster.agents.remove(0);
    let agent_id = agent.agent_id();
    let stopped = tokio::time::Instant::now();
    agent.stop().await;
    let status = update(&mut s).await;
    // Not before the agent has been silent for 3 x 100 ms.
    assert!(
        stopped.elapsed() >= Duration::from_millis(300),
        "{:?}",
        stopped.elapsed()
    );
    assert_eq!(status.agent_id.as_ref(), Some(&agent_id));
    let failure = s.wait_for(WAIT, |e| e.failure.is_some()).await.unwrap();
    let saw_failure = failure.failure.unwrap().agent_id == Some(agent_id);
    (status, saw_failure)
}

#[tokio::test]
async fn a_lost_agent_gives_task_unreachable_to_partition_aware_frameworks() {
    let (status, failure) = lose_the_agent(true).await;
    assert_eq!(status.state, TaskState::TaskUnreachable as i32);
    assert_eq!(
        status.reason,
        Some(task_status::Reason::AgentRemoved as i32)
    );
    assert_eq!(status.source, Some(task_status::Source::Master as i32));
    assert!(failure);
}

#[tokio::test]
async fn a_lost_agent_gives_task_lost_to_other_frameworks() {
    let (status, failure) = lose_the_agent(false).await;
    assert_eq!(status.state, TaskState::TaskLost as i32);
    assert!(status.message.unwrap().contains("unreachable"));
    assert!(failure);
}

#[tokio::test]
async fn reconciliation_answers_from_the_standing_of_the_named_agent() {
    use mesos_proto::v1::scheduler::response;
    use mesos_proto::v1::{AgentId, OperationId, OperationState};
    let mut cluster = Cluster::start(quick_loss_config(), one_agent())
        .await
        .unwrap();
    let mut s = with_running_task(&cluster, framework(60.0, true)).await;
    let agent = cluster.agents.remove(0);
    let lost = agent.agent_id();
    agent.stop().await;
    let status = update(&mut s).await;
    assert_eq!(status.state, TaskState::TaskUnreachable as i32);

    // Tasks the master does not know: on the unreachable agent, on an
    // agent it never heard of.
    let nowhere = AgentId::new("no-such-agent");
    let tasks = [("ghost", Some(&lost)), ("phantom", Some(&nowhere))];
    assert_eq!(s.reconcile(&tasks).await.unwrap(), 202);
    let ghost = update(&mut s).await;
    assert_eq!(ghost.task_id.as_str(), "ghost");
    assert_eq!(ghost.state, TaskState::TaskUnreachable as i32);
    assert_eq!(ghost.agent_id.as_ref(), Some(&lost));
    assert_eq!(
        ghost.reason,
        Some(task_status::Reason::Reconciliation as i32)
    );
    let phantom = update(&mut s).await;
    assert_eq!(phantom.task_id.as_str(), "phantom");
    assert_eq!(phantom.state, TaskState::TaskUnknown as i32);

    // Operations: answered at once in the call's response (Mesos 1.8+).
    // The master knows none, so each is answered from its agent's
    // standing, without a uuid (nothing to acknowledge).
    let op = |id: &str, agent: Option<AgentId>| call::reconcile_operations::Operation {
        operation_id: OperationId::new(id),
        agent_id: agent,
        resource_provider_id: None,
    };
    let mut r = s.call_of(call::Type::ReconcileOperations);
    r.reconcile_operations = Some(call::ReconcileOperations {
        operations: vec![
            op("on-lost", Some(lost.clone())),
            op("nowhere", Some(AgentId::new("no-such-agent"))),
            op("unplaced", None),
        ],
    });
    let response = s.respond(&r).await.unwrap();
    assert_eq!(
        response.r#type,
        Some(response::Type::ReconcileOperations as i32)
    );
    let answers: Vec<_> = response
        .reconcile_operations
        .unwrap()
        .operation_statuses
        .into_iter()
        .map(|status| {
            assert!(status.uuid.is_none());
            (
                status.operation_id.unwrap().value,
                OperationState::try_from(status.state).unwrap(),
                status.agent_id,
            )
        })
        .collect();
    assert_eq!(
        answers,
        vec![
            (
                "on-lost".to_string(),
                OperationState::OperationUnreachable,
                Some(lost)
            ),
            (
                "nowhere".to_string(),
                OperationState::OperationUnknown,
                Some(AgentId::new("no-such-agent"))
            ),
            (
                "unplaced".to_string(),
                OperationState::OperationUnknown,
                None
            ),
        ]
    );
    // An implicit reconciliation of operations: none are known.
    assert!(s.reconcile_operations(&[]).await.unwrap().is_empty());

    // Acknowledging an operation status the master never sent is dropped
    // and counted, as in Mesos; a malformed uuid is refused.
    let mut ack = s.call_of(call::Type::AcknowledgeOperationStatus);
    ack.acknowledge_operation_status = Some(call::AcknowledgeOperationStatus {
        uuid: vec![7; 16],
        operation_id: OperationId::new("on-lost"),
        ..Default::default()
    });
    assert_eq!(s.call(&ack).await.unwrap().0, 202);
    ack.acknowledge_operation_status.as_mut().unwrap().uuid = vec![1, 2];
    let (code, body) = s.call(&ack).await.unwrap();
    assert_eq!(code, 400);
    assert!(body.contains("must be 16 bytes"), "{body}");
    let url = format!("http://{}/metrics/snapshot", cluster.addr());
    let (code, _, body) = TestClient::default().get(&url).await.unwrap();
    assert_eq!(code, 200);
    let metrics: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        metrics["master/invalid_operation_status_update_acknowledgements"],
        1.0
    );
}

/// An agent whose connection closes is disconnected at once, as Mesos
/// does: shown inactive, its resources no longer offered, and still
/// reachable until its ping timeout.
#[tokio::test]
async fn an_agent_whose_stream_closes_is_disconnected_at_once() {
    let quiet = MasterConfig {
        // No heartbeat reaches the agent during the test: only its
        // closed stream can tell the master.
        heartbeat_interval: Duration::from_secs(600),
        ..config()
    };
    let mut cluster = Cluster::start(quiet, one_agent()).await.unwrap();
    let base = format!("http://{}", cluster.addr());
    let client = TestClient::default();
    let slave = |state: &serde_json::Value| state["slaves"][0]["active"].clone();
    let state = client.get_json(&format!("{base}/state")).await.unwrap();
    assert_eq!(slave(&state), true, "{state}");

    cluster.agents.remove(0).stop().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let state = client.get_json(&format!("{base}/state")).await.unwrap();
        let metrics = client
            .get_json(&format!("{base}/metrics/snapshot"))
            .await
            .unwrap();
        if slave(&state) == false && metrics["master/slaves_disconnected"] == 1.0 {
            assert_eq!(state["slaves"].as_array().unwrap().len(), 1, "still known");
            assert_eq!(metrics["master/slaves_unreachable"], 0.0);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent is still active: {state}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Nothing of it is offered any more.
    let mut s = RawScheduler::subscribe(cluster.addr(), framework(60.0, false), MediaType::Json)
        .await
        .unwrap();
    let offer = s
        .wait_for(Duration::from_millis(500), |e| e.offers.is_some())
        .await;
    assert!(offer.is_err(), "offered after its stream closed: {offer:?}");
}

/// TEARDOWN of a framework with its tasks kills them, every live task
/// counts as killed, history keeps the last
/// `--max_completed_tasks_per_framework` as TASK_KILLED, and the rest is
/// done in later turns of the event loop: its table freed, its agents
/// told, its history written, its resources released (the pending
/// metrics empty, and another framework is offered everything).
#[tokio::test]
async fn teardown_kills_everything_keeps_the_last_tasks_and_frees_the_rest() {
    teardown_with(3, 2, 3).await;
}

/// The same with more than a turn's worth of history and agents to tell
/// (in a debug build, each of the 500 history copies takes tens of
/// microseconds, each turn two milliseconds).
#[tokio::test]
async fn a_large_teardown_finishes_over_later_turns() {
    teardown_with(20, 30, 500).await;
}

async fn teardown_with(agents: usize, per_agent: usize, history: usize) {
    let spec = AgentSpec {
        resources: format!("cpus:{per_agent};mem:{}", per_agent * 64),
        ..one_agent().remove(0)
    };
    let cluster = Cluster::start(
        MasterConfig {
            max_completed_tasks_per_framework: history,
            ..config()
        },
        vec![spec; agents],
    )
    .await
    .unwrap();
    let addr = cluster.addr();
    let client = TestClient::default();
    let metric = |name: &'static str| {
        let client = client.clone();
        async move {
            let m = client
                .get_json(&format!("http://{addr}/metrics/snapshot"))
                .await
                .unwrap();
            m[name].as_f64().unwrap_or_else(|| panic!("no {name}"))
        }
    };
    let mut s = RawScheduler::subscribe(addr, framework(0.0, true), MediaType::Json)
        .await
        .unwrap();
    let total = agents * per_agent;
    let mut launched = 0;
    while launched < total {
        let e = s.wait_for(WAIT, |e| e.offers.is_some()).await.unwrap();
        for offer in e.offers.unwrap().offers {
            let tasks = (0..per_agent)
                .map(|i| {
                    sleep_task(
                        &format!("t{}", launched + i),
                        &offer.agent_id,
                        "cpus:1;mem:64",
                    )
                })
                .collect();
            launched += per_agent;
            let accept = s.launch_call(&[&offer.id], tasks, None);
            assert_eq!(s.call(&accept).await.unwrap().0, 202);
        }
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while metric("master/tasks_running").await < total as f64 {
        assert!(tokio::time::Instant::now() < deadline, "tasks not running");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    assert_eq!(
        s.call(&s.call_of(call::Type::Teardown)).await.unwrap().0,
        202
    );
    // At once: nothing live, every task counted as killed.
    assert_eq!(metric("master/tasks_running").await, 0.0);
    assert_eq!(metric("master/tasks_killed").await, total as f64);
    let deadline = tokio::time::Instant::now() + WAIT;
    for pending in [
        "master/event_loop/teardown_pending",
        "master/event_loop/reclaim_pending",
    ] {
        while metric(pending).await > 0.0 {
            assert!(tokio::time::Instant::now() < deadline, "{pending} stays");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let tasks = client
        .operator_get(addr, mesos_proto::v1::master::call::Type::GetTasks)
        .await
        .unwrap()
        .get_tasks
        .unwrap();
    assert!(tasks.tasks.is_empty());
    assert_eq!(tasks.completed_tasks.len(), history);
    let distinct: std::collections::BTreeSet<_> =
        tasks.completed_tasks.iter().map(|t| &t.task_id).collect();
    assert_eq!(distinct.len(), history);
    assert!(
        tasks
            .completed_tasks
            .iter()
            .all(|t| t.state == TaskState::TaskKilled as i32),
        "{:?}",
        tasks.completed_tasks
    );
    for agent in &cluster.agents {
        eventually("the agent killing the framework's tasks", || {
            let tasks = agent.tasks();
            tasks.len() == per_agent && tasks.values().all(|t| t.state == TaskState::TaskKilled)
        })
        .await;
    }
    // Everything it held is offered again, whole, to another framework.
    let mut other = RawScheduler::subscribe(addr, framework(0.0, false), MediaType::Json)
        .await
        .unwrap();
    let mut offered = std::collections::BTreeSet::new();
    while offered.len() < agents {
        let e = other.wait_for(WAIT, |e| e.offers.is_some()).await.unwrap();
        for offer in e.offers.unwrap().offers {
            let cpus: f64 = offer
                .resources
                .iter()
                .filter(|r| r.name == "cpus")
                .filter_map(|r| r.scalar.as_ref())
                .map(|s| s.value)
                .sum();
            assert_eq!(cpus, per_agent as f64, "{offer:?}");
            offered.insert(offer.agent_id);
        }
    }
}

/// A framework that disconnects holding offers on every agent gives them
/// all back (over later turns of the loop when there are many: see
/// `recover_withdrawn`), and another framework is then offered every
/// agent whole.
#[tokio::test]
async fn a_framework_disconnecting_with_many_offers_gives_them_all_back() {
    const AGENTS: usize = 200;
    let cluster = Cluster::start(config(), vec![one_agent().remove(0); AGENTS])
        .await
        .unwrap();
    let addr = cluster.addr();
    let mut holder = RawScheduler::subscribe(addr, framework(60.0, false), MediaType::Json)
        .await
        .unwrap();
    let mut held = std::collections::BTreeSet::new();
    while held.len() < AGENTS {
        let e = holder.wait_for(WAIT, |e| e.offers.is_some()).await.unwrap();
        held.extend(e.offers.unwrap().offers.into_iter().map(|o| o.agent_id));
    }
    let other = FrameworkInfo {
        name: "other".into(),
        ..framework(60.0, false)
    };
    let mut other = RawScheduler::subscribe(addr, other, MediaType::Json)
        .await
        .unwrap();
    drop(holder);

    let mut cpus = std::collections::BTreeMap::new();
    while cpus.len() < AGENTS {
        let e = other.wait_for(WAIT, |e| e.offers.is_some()).await.unwrap();
        for offer in e.offers.unwrap().offers {
            let r = mesos_proto::resources::Resources::try_from(offer.resources).unwrap();
            assert!(
                cpus.insert(offer.agent_id, r.cpus()).is_none(),
                "offered twice"
            );
        }
    }
    assert!(cpus.values().all(|c| *c == Some(2.0)), "{cpus:?}");
    let metrics = TestClient::default()
        .get_json(&format!("http://{addr}/metrics/snapshot"))
        .await
        .unwrap();
    assert_eq!(metrics["master/event_loop/recover_pending"], 0.0);
    assert_eq!(metrics["master/frameworks_disconnected"], 1.0);
}
