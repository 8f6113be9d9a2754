//! An agent registering again with the master that has it (its connection
//! broke, or it restarted): the tasks it reports stay as the master has
//! them, with their history; the ones it no longer has end.

use mesos_master::MasterConfig;
use mesos_proto::media::MediaType;
use mesos_proto::v1::master::call::Type as Op;
use mesos_proto::v1::{FrameworkInfo, Task, TaskId, TaskState, task_status};
use mesos_testkit::{AgentSpec, Cluster, RawScheduler, TaskScript, TestClient, sleep_task};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn framework(partition_aware: bool) -> FrameworkInfo {
    FrameworkInfo {
        user: "root".into(),
        name: "steady".into(),
        capabilities: mesos_testkit::partition_aware(partition_aware),
        ..Default::default()
    }
}

/// One agent running tasks t0, t1 and t2 of a framework, each
/// TASK_RUNNING acknowledged.
async fn three_tasks(partition_aware: bool) -> (Cluster, RawScheduler) {
    let config = MasterConfig {
        allocation_interval: Duration::from_millis(20),
        ..Default::default()
    };
    let agent = AgentSpec {
        resources: "cpus:4;mem:1024".into(),
        script: TaskScript::Run,
        retry: Duration::from_millis(100),
        ..Default::default()
    };
    let cluster = Cluster::start(config, vec![agent]).await.unwrap();
    let mut s =
        RawScheduler::subscribe(cluster.addr(), framework(partition_aware), MediaType::Json)
            .await
            .unwrap();
    let e = s.wait_for(WAIT, |e| e.offers.is_some()).await.unwrap();
    let offer = e.offers.unwrap().offers.remove(0);
    let tasks = (0..3)
        .map(|i| sleep_task(&format!("t{i}"), &offer.agent_id, "cpus:1;mem:64"))
        .collect();
    let call = s.launch_call(&[&offer.id], tasks, None);
    assert_eq!(s.call(&call).await.unwrap().0, 202);
    for _ in 0..3 {
        let running = s.next_update(WAIT).await.unwrap();
        assert_eq!(running.state, TaskState::TaskRunning as i32);
        assert_eq!(s.acknowledge(&running).await.unwrap(), 202);
    }
    (cluster, s)
}

/// The master's tasks, by id (GET_TASKS).
async fn tasks(cluster: &Cluster) -> Vec<Task> {
    let response = TestClient::default()
        .operator_get(cluster.addr(), Op::GetTasks)
        .await
        .unwrap();
    let mut tasks = response.get_tasks.unwrap().tasks;
    tasks.sort_by(|a, b| a.task_id.value.cmp(&b.task_id.value));
    tasks
}

async fn metric(cluster: &Cluster, name: &str) -> f64 {
    let url = format!("http://{}/metrics/snapshot", cluster.addr());
    let metrics = TestClient::default().get_json(&url).await.unwrap();
    metrics[name].as_f64().unwrap()
}

#[tokio::test]
async fn an_agent_registering_again_keeps_its_tasks_and_their_history() {
    let (cluster, _s) = three_tasks(true).await;
    let before = tasks(&cluster).await;
    assert_eq!(before.len(), 3);
    // The master recorded each task's TASK_RUNNING; the agent's report
    // carries no statuses (a simulated agent's), so a master that took
    // the reported copy in place of its own would show none.
    assert!(before.iter().all(|t| !t.statuses.is_empty()), "{before:?}");

    let reregistrations = metric(&cluster, "master/slave_reregistrations").await;
    cluster.agents[0].reregister().await.unwrap();
    cluster.agents[0].reregister().await.unwrap();
    assert_eq!(
        metric(&cluster, "master/slave_reregistrations").await,
        reregistrations + 2.0
    );
    assert_eq!(tasks(&cluster).await, before);
    assert_eq!(metric(&cluster, "master/tasks_running").await, 3.0);
    let state = TestClient::default()
        .get_json(&format!("http://{}/state", cluster.addr()))
        .await
        .unwrap();
    assert_eq!(state["frameworks"][0]["tasks"].as_array().unwrap().len(), 3);
    // What the tasks use is still allocated: one cpu left to offer.
    assert_eq!(state["slaves"][0]["used_resources"]["cpus"], 3.0);
}

/// Task t1 is forgotten by the agent, which registers again: the
/// framework's next update is t1's end, and the others run on.
async fn a_forgotten_task(partition_aware: bool) -> mesos_proto::v1::TaskStatus {
    let (cluster, mut s) = three_tasks(partition_aware).await;
    let agent = &cluster.agents[0];
    agent.forget(&TaskId::new("t1"));
    agent.reregister().await.unwrap();
    let ended = s.next_update(WAIT).await.unwrap();
    assert_eq!(ended.task_id.as_str(), "t1");
    assert_eq!(
        ended.reason,
        Some(task_status::Reason::AgentRestarted as i32)
    );
    assert_eq!(ended.source, Some(task_status::Source::Master as i32));
    let states: Vec<(String, i32)> = tasks(&cluster)
        .await
        .into_iter()
        .map(|t| (t.task_id.value, t.state))
        .collect();
    let running = TaskState::TaskRunning as i32;
    assert_eq!(states, [("t0".into(), running), ("t2".into(), running)]);
    assert_eq!(metric(&cluster, "master/tasks_running").await, 2.0);
    ended
}

#[tokio::test]
async fn a_task_the_agent_no_longer_has_is_dropped_for_partition_aware_frameworks() {
    let ended = a_forgotten_task(true).await;
    assert_eq!(ended.state, TaskState::TaskDropped as i32);
}

#[tokio::test]
async fn a_task_the_agent_no_longer_has_is_lost_for_other_frameworks() {
    let ended = a_forgotten_task(false).await;
    assert_eq!(ended.state, TaskState::TaskLost as i32);
    assert!(ended.message.unwrap().contains("restarted"));
}
