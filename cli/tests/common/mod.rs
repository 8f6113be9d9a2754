//! A real master and a real agent on loopback, with the built `mesos`
//! binary as the agent's executor and launcher, shared by the agent tests.

#![allow(dead_code, unreachable_pub)]

use mesos_agent::{Agent, AgentConfig};
use mesos_master::Master;
use mesos_proto::media::MediaType;
use mesos_proto::v1::{
    CommandInfo, FrameworkInfo, Offer, TaskId, TaskInfo, TaskState, TaskStatus, framework_info,
};
use mesos_testkit::{RawScheduler, TestClient};
use std::collections::BTreeMap;
use std::time::Duration;

pub const WAIT: Duration = Duration::from_secs(30);

pub struct Fixture {
    pub master: Master,
    pub agent: Agent,
    pub scheduler: RawScheduler,
    pub work_dir: tempfile::TempDir,
}

pub fn framework(capabilities: &[framework_info::capability::Type]) -> FrameworkInfo {
    FrameworkInfo {
        user: "root".into(),
        name: "agent-test".into(),
        capabilities: capabilities
            .iter()
            .map(|c| framework_info::Capability {
                r#type: Some(*c as i32),
            })
            .collect(),
        ..Default::default()
    }
}

pub async fn fixture(capabilities: &[framework_info::capability::Type]) -> Fixture {
    fixture_with(capabilities, |_| {}).await
}

/// A fixture whose agent's settings `configure` adjusts.
pub async fn fixture_with(
    capabilities: &[framework_info::capability::Type],
    configure: impl FnOnce(&mut AgentConfig),
) -> Fixture {
    let work_dir = tempfile::tempdir().unwrap();
    let (master, agent) = mesos_testkit::master_and_agent(work_dir.path(), |config| {
        config.launcher = Some(env!("CARGO_BIN_EXE_mesos").into());
        configure(config);
    })
    .await
    .unwrap();
    let scheduler =
        RawScheduler::subscribe(master.addr(), framework(capabilities), MediaType::Protobuf)
            .await
            .unwrap();
    Fixture {
        master,
        agent,
        scheduler,
        work_dir,
    }
}

pub async fn offer(s: &mut RawScheduler) -> Offer {
    let e = s.wait_for(WAIT, |e| e.offers.is_some()).await.unwrap();
    e.offers.unwrap().offers.remove(0)
}

pub fn command_task(id: &str, offer: &Offer, command: &str) -> TaskInfo {
    TaskInfo {
        name: id.into(),
        task_id: TaskId::new(id),
        agent_id: offer.agent_id.clone(),
        resources: "cpus:0.1;mem:32"
            .parse::<mesos_proto::resources::Resources>()
            .unwrap()
            .into_vec(),
        command: Some(CommandInfo {
            value: Some(command.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub async fn launch(f: &mut Fixture, task: TaskInfo, offer: &Offer) {
    let call = f.scheduler.launch_call(&[&offer.id], vec![task], None);
    assert_eq!(f.scheduler.call(&call).await.unwrap().0, 202);
}

/// Acknowledges updates of `task` until one is terminal (or `stop` holds);
/// returns them all, in arrival order.
pub async fn updates_until(
    f: &mut Fixture,
    task: &str,
    stop: impl Fn(&TaskStatus) -> bool,
) -> Vec<TaskStatus> {
    let mut seen = Vec::new();
    loop {
        let status = f.scheduler.next_update(WAIT).await.unwrap();
        if status.task_id.as_str() != task {
            continue;
        }
        assert_eq!(f.scheduler.acknowledge(&status).await.unwrap(), 202);
        let done = stop(&status);
        seen.push(status);
        if done {
            return seen;
        }
    }
}

pub fn states(updates: &[TaskStatus]) -> Vec<TaskState> {
    updates
        .iter()
        .map(|s| TaskState::try_from(s.state).unwrap())
        .collect()
}

pub fn terminal(s: &TaskStatus) -> bool {
    !matches!(
        TaskState::try_from(s.state),
        Ok(TaskState::TaskStaging
            | TaskState::TaskStarting
            | TaskState::TaskRunning
            | TaskState::TaskKilling)
    )
}

/// `/state` of the agent, parsed.
pub async fn agent_state(agent: &Agent) -> serde_json::Value {
    let (status, _, body) = TestClient::default()
        .get(&format!("http://{}/state", agent.addr()))
        .await
        .unwrap();
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

/// The sandbox directory of the (only) executor that ran `task`.
pub fn sandbox_of(state: &serde_json::Value, task: &str) -> String {
    for fw in state["frameworks"].as_array().unwrap() {
        for list in ["executors", "completed_executors"] {
            for ex in fw[list].as_array().unwrap() {
                if ex["id"] == task {
                    return ex["directory"].as_str().unwrap().to_string();
                }
            }
        }
    }
    panic!("no executor for {task} in {state}");
}

/// Acknowledges every update, recording it, until `done` holds for what
/// was recorded.
pub async fn collect_until(
    scheduler: &mut RawScheduler,
    seen: &mut BTreeMap<String, Vec<TaskStatus>>,
    done: impl Fn(&BTreeMap<String, Vec<TaskStatus>>) -> bool,
) {
    while !done(seen) {
        let status = match scheduler.next_update(WAIT).await {
            Ok(status) => status,
            Err(e) => panic!("{e}; updates so far: {seen:#?}"),
        };
        // Updates the master makes itself carry no uuid: nothing to
        // acknowledge.
        if status.uuid.is_some() {
            assert_eq!(
                scheduler.acknowledge(&status).await.unwrap(),
                202,
                "acknowledging {status:?}"
            );
        }
        seen.entry(status.task_id.to_string())
            .or_default()
            .push(status);
    }
}

pub fn reached(seen: &BTreeMap<String, Vec<TaskStatus>>, task: &str, state: TaskState) -> bool {
    seen.get(task)
        .is_some_and(|u| u.iter().any(|s| s.state == state as i32))
}

/// Whether the tests run as root (cgroups and namespaces need it); says
/// so when not.
#[allow(dead_code)]
pub fn root() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next().map(|u| u == "0"))
        })
        .unwrap_or(false);
    if !root {
        eprintln!("skipped: cgroups and namespaces need root");
    }
    root
}

/// Mesos' default executor (type DEFAULT) with id `id`, for task groups.
pub fn default_executor(id: &str) -> mesos_proto::v1::ExecutorInfo {
    mesos_proto::v1::ExecutorInfo {
        r#type: Some(mesos_proto::v1::executor_info::Type::Default as i32),
        executor_id: mesos_proto::v1::ExecutorId::new(id),
        resources: "cpus:0.1;mem:32"
            .parse::<mesos_proto::resources::Resources>()
            .unwrap()
            .into_vec(),
        ..Default::default()
    }
}
