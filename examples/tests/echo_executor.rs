//! The `echo-executor` example as a custom executor on a real agent: it
//! subscribes with the environment the agent gives it, runs two tasks in
//! one executor, and exits when its framework is torn down.

use mesos_agent::Agent;
use mesos_proto::media::MediaType;
use mesos_proto::v1::scheduler::call;
use mesos_proto::v1::{
    CommandInfo, ExecutorId, ExecutorInfo, FrameworkInfo, TaskId, TaskInfo, TaskState,
};
use mesos_testkit::{RawScheduler, TestClient};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn task(id: &str, agent: &mesos_proto::v1::AgentId, data: &str) -> TaskInfo {
    TaskInfo {
        name: id.into(),
        task_id: TaskId::new(id),
        agent_id: agent.clone(),
        resources: "cpus:0.1;mem:16"
            .parse::<mesos_proto::resources::Resources>()
            .unwrap()
            .into_vec(),
        executor: Some(ExecutorInfo {
            executor_id: ExecutorId::new("echo"),
            command: Some(CommandInfo {
                shell: Some(false),
                value: Some(env!("CARGO_BIN_EXE_echo-executor").into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        data: Some(data.as_bytes().to_vec()),
        ..Default::default()
    }
}

/// A master and agent, a framework subscribed to them and its first offer.
async fn start(
    work_dir: &std::path::Path,
) -> (
    mesos_master::Master,
    Agent,
    RawScheduler,
    mesos_proto::v1::Offer,
) {
    let (master, agent) = mesos_testkit::master_and_agent(work_dir, |_| {})
        .await
        .unwrap();
    let framework = FrameworkInfo {
        user: "root".into(),
        name: "echo".into(),
        ..Default::default()
    };
    let mut s = RawScheduler::subscribe(master.addr(), framework, MediaType::Json)
        .await
        .unwrap();
    let e = s.wait_for(WAIT, |e| e.offers.is_some()).await.unwrap();
    let offer = e.offers.unwrap().offers.remove(0);
    (master, agent, s, offer)
}

async fn agent_state(agent: &Agent) -> serde_json::Value {
    let (_, _, body) = TestClient::default()
        .get(&format!("http://{}/state", agent.addr()))
        .await
        .unwrap();
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_executor_runs_tasks_and_shuts_down_with_its_framework() {
    let work_dir = tempfile::tempdir().unwrap();
    let (master, agent, mut s, offer) = start(work_dir.path()).await;
    let tasks = vec![
        task("one", &offer.agent_id, "hello"),
        task("two", &offer.agent_id, "hello, world"),
    ];
    let accept = s.launch_call(&[&offer.id], tasks, None);
    assert_eq!(s.call(&accept).await.unwrap().0, 202);
    let mut finished = Vec::new();
    while finished.len() < 2 {
        let status = s.next_update(WAIT).await.unwrap();
        assert_eq!(s.acknowledge(&status).await.unwrap(), 202);
        assert_ne!(status.state, TaskState::TaskFailed as i32, "{status:?}");
        if status.state == TaskState::TaskFinished as i32 {
            finished.push((
                status.task_id.to_string(),
                status.message.unwrap_or_default(),
            ));
        }
    }
    finished.sort();
    assert_eq!(
        finished,
        [
            ("one".to_string(), "echoed 5 bytes".to_string()),
            ("two".to_string(), "echoed 12 bytes".to_string())
        ]
    );
    // One executor ran both, in one sandbox.
    let state = agent_state(&agent).await;
    let executors = state["frameworks"][0]["executors"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(executors.len(), 1, "{state}");
    let dir = executors[0]["directory"].as_str().unwrap().to_string();
    assert_eq!(
        std::fs::read_to_string(format!("{dir}/two.out")).unwrap(),
        "hello, world"
    );

    // Tearing the framework down shuts its executor down.
    let teardown = s.call_of(call::Type::Teardown);
    assert_eq!(s.call(&teardown).await.unwrap().0, 202);
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let state = agent_state(&agent).await;
        let fw = &state["frameworks"][0];
        if fw["executors"].as_array().unwrap().is_empty() {
            assert_eq!(fw["completed_executors"][0]["id"], "echo");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "executor still running: {state}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    agent.stop().await;
    master.stop().await;
}

async fn master_state(master: &mesos_master::Master) -> serde_json::Value {
    let (_, _, body) = TestClient::default()
        .get(&format!("http://{}/state", master.addr()))
        .await
        .unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// Cpus the master counts as used on the only agent, offers left out.
async fn cpus_in_use(master: &mesos_master::Master) -> f64 {
    let state = master_state(master).await;
    let agent = &state["slaves"][0];
    agent["used_resources"]["cpus"].as_f64().unwrap_or(0.0)
        - agent["offered_resources"]["cpus"].as_f64().unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framework_messages_go_both_ways_and_an_executor_exit_reaches_the_scheduler() {
    let work_dir = tempfile::tempdir().unwrap();
    let (master, agent, mut s, offer) = start(work_dir.path()).await;
    let agent_id = offer.agent_id.clone();
    let mut one = task("one", &agent_id, "hello");
    if let Some(executor) = &mut one.executor {
        executor.resources = "cpus:0.5;mem:32"
            .parse::<mesos_proto::resources::Resources>()
            .unwrap()
            .into_vec();
    }
    let accept = s.launch_call(&[&offer.id], vec![one], None);
    assert_eq!(s.call(&accept).await.unwrap().0, 202);
    loop {
        let status = s.next_update(WAIT).await.unwrap();
        assert_eq!(s.acknowledge(&status).await.unwrap(), 202);
        if status.state == TaskState::TaskFinished as i32 {
            break;
        }
        assert_eq!(status.state, TaskState::TaskRunning as i32, "{status:?}");
    }
    // The task is done; its executor still holds its own resources.
    assert!((cpus_in_use(&master).await - 0.5).abs() < 1e-9);

    // Scheduler -> executor -> scheduler.
    let mut message = s.call_of(call::Type::Message);
    message.message = Some(call::Message {
        agent_id: agent_id.clone(),
        executor_id: ExecutorId::new("echo"),
        data: b"ping".to_vec(),
    });
    assert_eq!(s.call(&message).await.unwrap().0, 202);
    let e = s.wait_for(WAIT, |e| e.message.is_some()).await.unwrap();
    let reply = e.message.unwrap();
    assert_eq!(reply.data, b"echo: ping");
    assert_eq!(reply.agent_id, agent_id);
    assert_eq!(reply.executor_id, ExecutorId::new("echo"));

    // A message for an executor the agent does not have is dropped and
    // counted, as Mesos does; the call itself is accepted.
    let mut stray = message.clone();
    if let Some(m) = &mut stray.message {
        m.executor_id = ExecutorId::new("nobody");
    }
    assert_eq!(s.call(&stray).await.unwrap().0, 202);

    // SHUTDOWN of the executor: it exits, the scheduler hears a FAILURE
    // naming it with its wait status, and its resources are free again.
    let mut shutdown = s.call_of(call::Type::Shutdown);
    shutdown.shutdown = Some(call::Shutdown {
        executor_id: ExecutorId::new("echo"),
        agent_id: agent_id.clone(),
    });
    assert_eq!(s.call(&shutdown).await.unwrap().0, 202);
    let e = s
        .wait_for(WAIT, |e| {
            e.failure.as_ref().is_some_and(|f| f.executor_id.is_some())
        })
        .await
        .unwrap();
    let failure = e.failure.unwrap();
    assert_eq!(failure.executor_id, Some(ExecutorId::new("echo")));
    assert_eq!(failure.agent_id, Some(agent_id.clone()));
    assert_eq!(failure.status, Some(0), "the executor exits cleanly");
    let deadline = std::time::Instant::now() + WAIT;
    while cpus_in_use(&master).await > 1e-9 {
        assert!(
            std::time::Instant::now() < deadline,
            "executor resources still in use: {}",
            master_state(&master).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (_, _, body) = TestClient::default()
        .get(&format!("http://{}/metrics/snapshot", master.addr()))
        .await
        .unwrap();
    let metrics: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(metrics["master/valid_framework_to_executor_messages"], 2.0);
    assert_eq!(metrics["master/valid_executor_to_framework_messages"], 1.0);
    assert_eq!(metrics["master/messages_exited_executor"], 1.0);
    let (_, _, body) = TestClient::default()
        .get(&format!("http://{}/metrics/snapshot", agent.addr()))
        .await
        .unwrap();
    let metrics: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(metrics["slave/valid_framework_messages"], 1.0);
    assert_eq!(metrics["slave/invalid_framework_messages"], 1.0);
    agent.stop().await;
    master.stop().await;
}
