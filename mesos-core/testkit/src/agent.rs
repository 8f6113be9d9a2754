//! Simulated agents: the real master/agent protocol, no processes.
//!
//! A [`SimulatedAgent`] registers with a master over HTTP, answers each
//! launch with scripted status updates, and delivers them as Mesos' status
//! update manager does: per task, in order, the head update resent until the
//! framework acknowledges it.

use crate::http::{RecordStream, TestClient, TestkitError};
use mesos_proto::agent_protocol::{
    AgentCall, AgentEvent, PROTOCOL_VERSION, agent_call, agent_event, update_calls,
};
use mesos_proto::prost::Message;
use mesos_proto::resources::{Resources, parse_attributes};
use mesos_proto::v1::{
    AgentId, AgentInfo, FrameworkId, Task, TaskId, TaskInfo, TaskState, TaskStatus, task_status,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// What a simulated task does once launched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskScript {
    /// TASK_RUNNING, then nothing until killed.
    Run,
    /// TASK_RUNNING, then TASK_FINISHED after the delay.
    Finish(Duration),
    /// TASK_FAILED at once.
    Fail,
}

/// How to build a simulated agent.
#[derive(Debug, Clone)]
pub struct AgentSpec {
    /// Advertised hostname.
    pub hostname: String,
    /// `--resources` text.
    pub resources: String,
    /// `--attributes` text.
    pub attributes: String,
    /// What launched tasks do.
    pub script: TaskScript,
    /// How long an unacknowledged update waits before it is resent.
    pub retry: Duration,
}

impl Default for AgentSpec {
    fn default() -> Self {
        AgentSpec {
            hostname: "sim-agent".into(),
            resources: "cpus:4;mem:4096;disk:10000;ports:[31000-32000]".into(),
            attributes: String::new(),
            script: TaskScript::Run,
            retry: Duration::from_millis(500),
        }
    }
}

/// A task on a simulated agent.
#[derive(Debug, Clone, PartialEq)]
pub struct SimTask {
    /// Its framework.
    pub framework_id: FrameworkId,
    /// Its latest state.
    pub state: TaskState,
    /// Updates not yet acknowledged (the head is the one being resent).
    pub pending: usize,
}

#[derive(Debug, Default)]
struct Shared {
    agent_id: Option<AgentId>,
    tasks: BTreeMap<TaskId, SimTask>,
    acknowledged: usize,
}

/// A running simulated agent.
#[derive(Debug)]
pub struct SimulatedAgent {
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
    /// Asks the agent to register again now; it answers how long the
    /// master took.
    reregister: mpsc::UnboundedSender<oneshot::Sender<Duration>>,
}

/// REGISTER (with `info.id` set: re-register, carrying `tasks`); returns
/// the stream id, the event stream and the agent's id.
async fn register(
    client: &TestClient,
    url: &str,
    info: &AgentInfo,
    resources: &Resources,
    tasks: Vec<Task>,
) -> Result<(String, RecordStream, AgentId), TestkitError> {
    let register = AgentCall {
        r#type: agent_call::Type::Register as i32,
        register: Some(agent_call::Register {
            protocol_version: PROTOCOL_VERSION,
            agent_info: info.clone(),
            resources: resources.clone().into_vec(),
            tasks,
            ..Default::default()
        }),
        ..Default::default()
    };
    let resp = client
        .post_ok(
            url,
            &[("Content-Type", "application/x-protobuf")],
            register.encode_to_vec(),
        )
        .await?;
    let stream_id = resp
        .headers()
        .get("Mesos-Stream-Id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut stream = RecordStream::new(resp.into_body());
    let first = stream
        .next(Duration::from_secs(10))
        .await?
        .ok_or(TestkitError::Timeout("REGISTERED"))?;
    let first =
        AgentEvent::decode(first.as_slice()).map_err(|e| TestkitError::Decode(e.to_string()))?;
    let agent_id = first
        .registered
        .map(|r| r.agent_id)
        .ok_or_else(|| TestkitError::Decode("first event is not REGISTERED".into()))?;
    Ok((stream_id, stream, agent_id))
}

struct Runner {
    client: TestClient,
    url: String,
    /// Where the leading master is, when it may move (HA tests).
    master: Option<watch::Receiver<SocketAddr>>,
    stream_id: String,
    agent_id: AgentId,
    info: AgentInfo,
    resources: Resources,
    script: TaskScript,
    /// What each launched task is, for re-registration.
    launched: BTreeMap<TaskId, Task>,
    shared: Arc<Mutex<Shared>>,
    /// Per task: updates in order, the head awaiting acknowledgement.
    queues: BTreeMap<TaskId, (FrameworkId, VecDeque<TaskStatus>)>,
    /// Tasks whose head update is to be sent with the next call: what
    /// became due together goes in one call, as a real agent sends it.
    due: BTreeSet<TaskId>,
    timers: mpsc::Sender<(FrameworkId, TaskId, TaskState)>,
}

impl SimulatedAgent {
    /// Registers with the master at `master` and starts serving. When the
    /// master goes away the agent re-registers (with its id and its live
    /// tasks) until one answers, as a real agent does.
    pub async fn start(
        master: SocketAddr,
        spec: AgentSpec,
    ) -> Result<SimulatedAgent, TestkitError> {
        SimulatedAgent::start_with(master, spec, TestClient::default()).await
    }

    /// As [`SimulatedAgent::start_with`], registering with whichever
    /// master `leader` names at the time: after a failover the agent
    /// re-registers with the new leader.
    pub async fn start_following(
        leader: watch::Receiver<SocketAddr>,
        spec: AgentSpec,
        client: TestClient,
    ) -> Result<SimulatedAgent, TestkitError> {
        let master = *leader.borrow();
        SimulatedAgent::start_inner(master, Some(leader), spec, client).await
    }

    /// As [`SimulatedAgent::start`], making its calls through `client`:
    /// thousands of agents sharing one client share its connection pool.
    pub async fn start_with(
        master: SocketAddr,
        spec: AgentSpec,
        client: TestClient,
    ) -> Result<SimulatedAgent, TestkitError> {
        SimulatedAgent::start_inner(master, None, spec, client).await
    }

    async fn start_inner(
        master: SocketAddr,
        leader: Option<watch::Receiver<SocketAddr>>,
        spec: AgentSpec,
        client: TestClient,
    ) -> Result<SimulatedAgent, TestkitError> {
        let url = format!("http://{master}/api/v1/agent");
        let resources: Resources = spec
            .resources
            .parse()
            .map_err(|e| TestkitError::Decode(format!("{e}")))?;
        let attributes =
            parse_attributes(&spec.attributes).map_err(|e| TestkitError::Decode(format!("{e}")))?;
        let info = AgentInfo {
            hostname: spec.hostname.clone(),
            attributes,
            ..Default::default()
        };
        let (stream_id, stream, agent_id) =
            register(&client, &url, &info, &resources, Vec::new()).await?;
        let shared = Arc::new(Mutex::new(Shared {
            agent_id: Some(agent_id.clone()),
            ..Default::default()
        }));
        let (timers, timer_rx) = mpsc::channel(1024);
        let runner = Runner {
            client,
            url,
            master: leader,
            stream_id,
            agent_id,
            info,
            resources,
            script: spec.script,
            shared: Arc::clone(&shared),
            queues: BTreeMap::new(),
            due: BTreeSet::new(),
            launched: BTreeMap::new(),
            timers,
        };
        let (reregister, commands) = mpsc::unbounded_channel();
        let task = tokio::spawn(runner.run(stream, timer_rx, commands, spec.retry));
        Ok(SimulatedAgent {
            shared,
            task,
            reregister,
        })
    }

    /// The id the master gave this agent.
    pub fn agent_id(&self) -> AgentId {
        self.lock().agent_id.clone().unwrap_or_default()
    }

    /// The tasks it has been asked to run.
    pub fn tasks(&self) -> BTreeMap<TaskId, SimTask> {
        self.lock().tasks.clone()
    }

    /// Forgets task `id`, as an agent restarted without recovering it
    /// does: it is left out of the agent's next registration.
    pub fn forget(&self, id: &TaskId) {
        self.lock().tasks.remove(id);
    }

    /// How many updates frameworks have acknowledged.
    pub fn acknowledged(&self) -> usize {
        self.lock().acknowledged
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers again with the same master now, carrying every task, as
    /// an agent does when its connection to the master breaks; returns
    /// the time from sending REGISTER to the master's REGISTERED. The
    /// agent is asked at once; the future waits for its answer, so many
    /// agents can be asked together.
    pub fn reregister(
        &self,
    ) -> impl std::future::Future<Output = Result<Duration, TestkitError>> + 'static {
        let (tx, rx) = oneshot::channel();
        let asked = self.reregister.send(tx).is_ok();
        async move {
            let gone = || TestkitError::Setup("the simulated agent has stopped".into());
            if !asked {
                return Err(gone());
            }
            rx.await.map_err(|_| gone())
        }
    }

    /// Stops the agent: its stream to the master closes.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

impl Runner {
    async fn run(
        mut self,
        mut stream: RecordStream,
        mut timers: mpsc::Receiver<(FrameworkId, TaskId, TaskState)>,
        mut commands: mpsc::UnboundedReceiver<oneshot::Sender<Duration>>,
        retry: Duration,
    ) {
        let mut resend = tokio::time::interval(retry);
        resend.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                record = stream.next(Duration::from_secs(3600)) => match record {
                    Ok(Some(bytes)) => {
                        // Whatever else has arrived too (the tasks of one
                        // ACCEPT, say) is handled before sending anything.
                        // The connection reads on when asked: a yield lets
                        // it bring in what is already on the socket.
                        let mut next = Some(bytes);
                        while let Some(bytes) = next.take() {
                            if let Ok(event) = AgentEvent::decode(bytes.as_slice()) {
                                self.on_event(event);
                            }
                            next = stream.ready().ok().flatten();
                            if next.is_none() {
                                tokio::task::yield_now().await;
                                next = stream.ready().ok().flatten();
                            }
                        }
                    }
                    _ => match self.reregister().await {
                        Some(next) => {
                            stream = next;
                            self.resend_heads();
                        }
                        None => break,
                    },
                },
                Some(answer) = commands.recv() => {
                    let sent = std::time::Instant::now();
                    match self.reregister().await {
                        Some(next) => {
                            let _ = answer.send(sent.elapsed());
                            stream = next;
                            self.resend_heads();
                        }
                        None => break,
                    }
                }
                Some((framework_id, task_id, state)) = timers.recv() => {
                    self.enqueue(framework_id, task_id, state);
                }
                _ = resend.tick() => {
                    self.heartbeat().await;
                    self.resend_heads();
                }
            }
            self.send_due().await;
        }
    }

    /// The master is gone: registers again, with backoff, until a master
    /// answers (`None` if it refuses the agent for good).
    async fn reregister(&mut self) -> Option<RecordStream> {
        let mut info = self.info.clone();
        info.id = Some(self.agent_id.clone());
        let mut backoff = Duration::from_millis(50);
        loop {
            if let Some(leader) = &self.master {
                self.url = format!("http://{}/api/v1/agent", *leader.borrow());
            }
            let tasks: Vec<Task> = {
                let shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
                self.launched
                    .values()
                    .filter_map(|t| {
                        let sim = shared.tasks.get(&t.task_id)?;
                        Some(Task {
                            state: sim.state as i32,
                            ..t.clone()
                        })
                    })
                    .collect()
            };
            match register(&self.client, &self.url, &info, &self.resources, tasks).await {
                Ok((stream_id, stream, _)) => {
                    self.stream_id = stream_id;
                    return Some(stream);
                }
                Err(TestkitError::Status { status: 403, .. }) => return None,
                Err(_) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    fn on_event(&mut self, event: AgentEvent) {
        match agent_event::Type::try_from(event.r#type) {
            Ok(agent_event::Type::RunTask) => {
                let Some(run) = event.run_task else { return };
                let framework_id = run.framework_info.id.clone().unwrap_or_default();
                self.remember(&framework_id, &run.task);
                self.launch(framework_id, run.task.task_id);
            }
            Ok(agent_event::Type::RunTaskGroup) => {
                let Some(run) = event.run_task_group else {
                    return;
                };
                let framework_id = run.framework_info.id.clone().unwrap_or_default();
                for task in run.task_group.tasks {
                    self.remember(&framework_id, &task);
                    self.launch(framework_id.clone(), task.task_id);
                }
            }
            Ok(agent_event::Type::KillTask) => {
                let Some(kill) = event.kill_task else { return };
                self.enqueue(kill.framework_id, kill.task_id, TaskState::TaskKilled);
            }
            Ok(agent_event::Type::ShutdownFramework) => {
                let Some(shutdown) = event.shutdown_framework else {
                    return;
                };
                let tasks: Vec<TaskId> = {
                    let shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
                    shared
                        .tasks
                        .iter()
                        .filter(|(_, t)| t.framework_id == shutdown.framework_id)
                        .map(|(id, _)| id.clone())
                        .collect()
                };
                for task_id in tasks {
                    self.queues.remove(&task_id);
                    let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(t) = shared.tasks.get_mut(&task_id) {
                        t.state = TaskState::TaskKilled;
                        t.pending = 0;
                    }
                }
            }
            Ok(agent_event::Type::Acknowledge) => {
                let Some(ack) = event.acknowledge else { return };
                self.acknowledge(ack.task_id, ack.uuid);
            }
            _ => {}
        }
    }

    fn remember(&mut self, framework_id: &FrameworkId, task: &TaskInfo) {
        self.launched.insert(
            task.task_id.clone(),
            Task {
                name: task.name.clone(),
                task_id: task.task_id.clone(),
                framework_id: framework_id.clone(),
                agent_id: self.agent_id.clone(),
                resources: task.resources.clone(),
                executor_id: task.executor.as_ref().map(|e| e.executor_id.clone()),
                ..Default::default()
            },
        );
    }

    fn launch(&mut self, framework_id: FrameworkId, task_id: TaskId) {
        let first = match self.script {
            TaskScript::Fail => TaskState::TaskFailed,
            TaskScript::Run | TaskScript::Finish(_) => TaskState::TaskRunning,
        };
        if let TaskScript::Finish(after) = self.script {
            let timers = self.timers.clone();
            let (f, t) = (framework_id.clone(), task_id.clone());
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                let _ = timers.send((f, t, TaskState::TaskFinished)).await;
            });
        }
        self.enqueue(framework_id, task_id, first);
    }

    /// Queues an update; it is due at once if nothing is ahead of it.
    fn enqueue(&mut self, framework_id: FrameworkId, task_id: TaskId, state: TaskState) {
        let status = TaskStatus {
            task_id: task_id.clone(),
            state: state as i32,
            source: Some(task_status::Source::Executor as i32),
            uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
            timestamp: Some(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64()),
            ),
            ..Default::default()
        };
        {
            let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            let task = shared.tasks.entry(task_id.clone()).or_insert(SimTask {
                framework_id: framework_id.clone(),
                state,
                pending: 0,
            });
            task.state = state;
            task.pending += 1;
        }
        let queue = &mut self
            .queues
            .entry(task_id.clone())
            .or_insert_with(|| (framework_id, VecDeque::new()))
            .1;
        queue.push_back(status);
        if queue.len() == 1 {
            self.due.insert(task_id);
        }
    }

    fn acknowledge(&mut self, task_id: TaskId, uuid: Vec<u8>) {
        let Some((_, queue)) = self.queues.get_mut(&task_id) else {
            return;
        };
        if queue.front().and_then(|s| s.uuid.as_deref()) != Some(uuid.as_slice()) {
            return;
        }
        queue.pop_front();
        let more = !queue.is_empty();
        {
            let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            shared.acknowledged += 1;
            if let Some(t) = shared.tasks.get_mut(&task_id) {
                t.pending = t.pending.saturating_sub(1);
            }
        }
        if more {
            self.due.insert(task_id);
        }
    }

    /// Tells the master the agent is alive.
    async fn heartbeat(&mut self) {
        let call = AgentCall {
            r#type: agent_call::Type::Heartbeat as i32,
            agent_id: Some(self.agent_id.clone()),
            ..Default::default()
        };
        let headers = [
            ("Content-Type", "application/x-protobuf"),
            ("Mesos-Stream-Id", self.stream_id.as_str()),
        ];
        let _ = self
            .client
            .post(&self.url, &headers, call.encode_to_vec())
            .await;
    }

    /// Every task's head update is due again (unacknowledged, or after
    /// re-registering).
    fn resend_heads(&mut self) {
        self.due.extend(self.queues.keys().cloned());
    }

    /// Sends the head update of every due task: in one call, or a few for
    /// very many.
    async fn send_due(&mut self) {
        let due = std::mem::take(&mut self.due);
        let heads: Vec<agent_call::Update> = due
            .iter()
            .filter_map(|id| {
                let (framework_id, queue) = self.queues.get(id)?;
                Some(agent_call::Update {
                    framework_id: framework_id.clone(),
                    status: queue.front()?.clone(),
                })
            })
            .collect();
        let headers = [
            ("Content-Type", "application/x-protobuf"),
            ("Mesos-Stream-Id", self.stream_id.as_str()),
        ];
        for call in update_calls(Some(self.agent_id.clone()), heads) {
            if let Err(e) = self
                .client
                .post_ok(&self.url, &headers, call.encode_to_vec())
                .await
            {
                tracing::debug!("simulated agent: updates not delivered, will retry: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A master of its own and its agent API's URL.
    async fn agent_api() -> (crate::Cluster, String) {
        let cluster = crate::Cluster::start(Default::default(), Vec::new())
            .await
            .unwrap();
        let url = format!("http://{}/api/v1/agent", cluster.addr());
        (cluster, url)
    }

    /// POSTs `call` to the agent API at `url`: the status and the body.
    async fn answer(url: &str, stream_id: Option<&str>, call: &AgentCall) -> (u16, String) {
        let mut headers = vec![("Content-Type", "application/x-protobuf")];
        headers.extend(stream_id.map(|id| ("Mesos-Stream-Id", id)));
        let resp = TestClient::default()
            .post(url, &headers, call.encode_to_vec())
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body = mesos_http::client::read_body(resp, url).await.unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// A master takes agents speaking the protocol versions it knows
    /// (1, with one update per call, and 2) and refuses others by name.
    #[tokio::test]
    async fn a_master_takes_the_protocol_versions_it_knows() {
        let (_cluster, url) = agent_api().await;
        let client = TestClient::default();
        let register = |version: u32| AgentCall {
            r#type: agent_call::Type::Register as i32,
            register: Some(agent_call::Register {
                protocol_version: version,
                agent_info: AgentInfo {
                    hostname: format!("v{version}"),
                    ..Default::default()
                },
                resources: "cpus:1;mem:128".parse::<Resources>().unwrap().into_vec(),
                ..Default::default()
            }),
            ..Default::default()
        };
        for version in [0, PROTOCOL_VERSION + 1] {
            let (status, body) = answer(&url, None, &register(version)).await;
            assert_eq!(status, 400);
            assert!(
                body.contains(&format!("protocol version {version}")),
                "{body}"
            );
        }
        for version in [1, PROTOCOL_VERSION] {
            let resp = client
                .post(
                    &url,
                    &[("Content-Type", "application/x-protobuf")],
                    register(version).encode_to_vec(),
                )
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "version {version}");
        }
    }

    /// UPDATE carries its updates in `update`, `updates` or both; one with
    /// neither is refused with a message naming them, one with `update`
    /// alone (protocol version 1) is taken.
    #[tokio::test]
    async fn an_update_call_needs_an_update() {
        let (_cluster, url) = agent_api().await;
        let client = TestClient::default();
        let info = AgentInfo {
            hostname: "empty-updates".into(),
            ..Default::default()
        };
        let resources: Resources = "cpus:1;mem:128".parse().unwrap();
        let (stream_id, _stream, agent_id) = register(&client, &url, &info, &resources, Vec::new())
            .await
            .unwrap();
        let call = AgentCall {
            r#type: agent_call::Type::Update as i32,
            agent_id: Some(agent_id),
            ..Default::default()
        };
        let (status, body) = answer(&url, Some(&stream_id), &call).await;
        assert_eq!(status, 400);
        assert!(body.contains("'update' or 'updates'"), "{body}");

        // One update in `update` alone, as protocol version 1 agents send
        // it, is taken.
        let single = AgentCall {
            update: Some(agent_call::Update {
                framework_id: FrameworkId::new("no-such-framework"),
                status: TaskStatus {
                    task_id: TaskId::new("t"),
                    state: TaskState::TaskRunning as i32,
                    ..Default::default()
                },
            }),
            ..call
        };
        let (status, body) = answer(&url, Some(&stream_id), &single).await;
        assert_eq!(status, 202, "{body}");
    }
}
