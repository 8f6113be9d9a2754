//! The agent actor: one task owns the agent's state (frameworks,
//! executors, tasks, pending updates) and handles, in order, the master's
//! events, executors' calls and containers' ends.

mod executor_api;
mod executors;
mod metrics;
mod nested;
mod operator;
mod recovery;
mod state;
mod termination;

pub(crate) use recovery::kill_recovered;

use crate::checkpoint::{Checkpoint, Record, Recovered, RunMeta};
use crate::config::AgentConfig;
use crate::containerizer::{Containerizer, Termination};
use crate::link::{self, Accepted, MasterSource, RegisterError, Registration};
use crate::paths::Layout;
use crate::status_update::StatusUpdateManager;
use executors::ExecutorRun;
use mesos_http::client::Client;
use mesos_proto::agent_protocol::{AgentCall, AgentEvent, agent_call, agent_event, update_calls};
use mesos_proto::prost::Message;
use mesos_proto::v1::executor::{Call as ExecutorCall, Event as ExecutorEvent};
use mesos_proto::v1::{
    AgentId, AgentInfo, ContainerId, ExecutorId, FrameworkId, FrameworkInfo, Resource, TaskId,
    TaskState, TaskStatus, task_status,
};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// Why the agent refused an executor's call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CallError {
    /// 400: the call is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// 503: the agent is not ready (not registered yet, shutting down).
    #[error("{0}")]
    Unavailable(String),
    /// 404: what the call names is not here.
    #[error("{0}")]
    NotFound(String),
    /// 500: the agent could not do it.
    #[error("{0}")]
    Internal(String),
}

/// What the actor handles.
#[derive(Debug)]
pub(crate) enum Input {
    /// A registration succeeded.
    Registered(u64, Box<Accepted>),
    /// A registration failed.
    RegisterFailed(u64, RegisterError),
    /// Time to try registering again.
    Reregister,
    /// An event on the master's stream.
    MasterEvent(u64, Box<AgentEvent>),
    /// The master's stream ended.
    MasterLost(u64),
    /// An executor's SUBSCRIBE.
    Subscribe(
        Box<ExecutorCall>,
        oneshot::Sender<Result<mpsc::Receiver<ExecutorEvent>, CallError>>,
    ),
    /// An executor's UPDATE, MESSAGE or HEARTBEAT.
    ExecutorCall(Box<ExecutorCall>, oneshot::Sender<Result<(), CallError>>),
    /// A new container's URIs are fetched (or not): launch it.
    Fetched(
        ContainerId,
        Box<crate::containerizer::LaunchSpec>,
        Result<(), crate::fetcher::FetchError>,
    ),
    /// A container's main process ended.
    Terminated(ContainerId, Termination),
    /// An executor did not subscribe in time.
    RegistrationTimeout(ContainerId),
    /// An executor told to shut down did not exit in time.
    ShutdownTimeout(ContainerId),
    /// The legacy `/state` document.
    State(oneshot::Sender<Vec<u8>>),
    /// `/monitor/statistics`.
    Statistics(oneshot::Sender<Vec<u8>>),
    /// `/metrics/snapshot`.
    Metrics(oneshot::Sender<Vec<u8>>),
    /// A v1 operator API call answered from the state.
    Operator(
        mesos_proto::v1::agent::call::Type,
        oneshot::Sender<Option<mesos_proto::v1::agent::Response>>,
    ),
    /// A nested container call (LAUNCH, WAIT, KILL, REMOVE).
    Nested(Box<mesos_proto::v1::agent::Call>, nested::NestedReply),
    /// Shut every executor down and stop.
    Stop(oneshot::Sender<()>),
}

/// A framework with executors here.
#[derive(Debug)]
pub(crate) struct Framework {
    pub(crate) info: FrameworkInfo,
    pub(crate) executors: BTreeMap<ExecutorId, ExecutorRun>,
    pub(crate) completed_executors: Vec<Vec<u8>>,
}

/// The actor's state.
pub(crate) struct Actor {
    pub(crate) config: AgentConfig,
    pub(crate) layout: Layout,
    pub(crate) addr: SocketAddr,
    pub(crate) info: AgentInfo,
    pub(crate) resources: Vec<Resource>,
    pub(crate) containerizer: Arc<dyn Containerizer>,
    pub(crate) launcher: std::path::PathBuf,
    pub(crate) client: Client,
    /// Where the master is found.
    pub(crate) master: MasterSource,
    /// The master's agent API URL, once registered.
    pub(crate) master_url: String,
    pub(crate) inputs: mpsc::Sender<Input>,
    /// The current master stream, when registered.
    pub(crate) stream_id: Option<String>,
    /// Bumped on each registration attempt, so stale news is ignored.
    pub(crate) generation: u64,
    pub(crate) registered_tx: watch::Sender<Option<AgentId>>,
    /// Why the master refused the agent for good, once it has.
    pub(crate) refused_tx: watch::Sender<Option<String>>,
    pub(crate) frameworks: BTreeMap<FrameworkId, Framework>,
    pub(crate) containers: BTreeMap<ContainerId, (FrameworkId, ExecutorId)>,
    /// Containers executors launched under theirs.
    pub(crate) nested: BTreeMap<ContainerId, nested::Nested>,
    pub(crate) updates: StatusUpdateManager,
    /// `meta/`: what a restarted agent recovers.
    pub(crate) checkpoint: Checkpoint,
    /// The checkpointed run of each task whose update stream is open
    /// (frameworks that checkpoint).
    pub(crate) task_meta: BTreeMap<TaskId, (FrameworkId, RunMeta)>,
    pub(crate) counters: metrics::Counters,
    pub(crate) start_time: f64,
    pub(crate) backoff: Duration,
    /// Status updates to send, gathered while the inputs that arrived
    /// together are handled, then sent in one call.
    pub(crate) outbox: Vec<agent_call::Update>,
}

impl std::fmt::Debug for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actor")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Inputs handled in one turn of the loop at most.
const INPUTS_PER_TURN: usize = 64;

/// The next change of the leader, or never without ZooKeeper.
async fn changed(leader: &mut Option<watch::Receiver<Option<Vec<u8>>>>) -> Option<Vec<u8>> {
    match leader {
        Some(rx) => {
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
            rx.borrow_and_update().clone()
        }
        None => std::future::pending().await,
    }
}

pub(crate) fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Actor {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        config: AgentConfig,
        master: MasterSource,
        addr: SocketAddr,
        info: AgentInfo,
        resources: Vec<Resource>,
        containerizer: Arc<dyn Containerizer>,
        launcher: std::path::PathBuf,
        inputs: mpsc::Sender<Input>,
        registered_tx: watch::Sender<Option<AgentId>>,
        refused_tx: watch::Sender<Option<String>>,
    ) -> Actor {
        Actor {
            layout: Layout::new(config.work_dir.clone()),
            checkpoint: Checkpoint::new(Layout::new(config.work_dir.clone()).meta_dir()),
            task_meta: BTreeMap::new(),
            counters: metrics::Counters::default(),
            master_url: String::new(),
            master,
            updates: StatusUpdateManager::new(
                config.status_update_retry,
                config.status_update_retry_max,
            ),
            config,
            addr,
            info,
            resources,
            containerizer,
            launcher,
            client: Client::default(),
            inputs,
            stream_id: None,
            generation: 0,
            registered_tx,
            refused_tx,
            frameworks: BTreeMap::new(),
            containers: BTreeMap::new(),
            nested: BTreeMap::new(),
            start_time: now_secs(),
            backoff: Duration::from_millis(100),
            outbox: Vec::new(),
        }
    }

    /// Runs until stopped: first puts back what `recovered` holds (an
    /// agent restarted with `--recover=reconnect`), then registers.
    pub(crate) async fn run(
        mut self,
        mut inputs: mpsc::Receiver<Input>,
        recovered: Option<Recovered>,
    ) {
        if let Some(recovered) = recovered {
            let started = Instant::now();
            self.recover(recovered);
            self.counters.recovery_time_secs = Some(started.elapsed().as_secs_f64());
        }
        self.start_registration();
        let mut leader_changes = self.master.leader_changes();
        let mut heartbeat = tokio::time::interval(self.config.heartbeat_interval);
        let mut resend = tokio::time::interval(Duration::from_millis(500));
        resend.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                input = inputs.recv() => {
                    let Some(mut input) = input else { return };
                    // What else is waiting is handled too (a few dozen at
                    // most), so the updates it makes go in one call.
                    for _ in 0..INPUTS_PER_TURN {
                        if let Input::Stop(done) = input {
                            self.send_outbox();
                            self.shutdown_all(&mut inputs).await;
                            let _ = done.send(());
                            return;
                        }
                        self.handle(input);
                        match inputs.try_recv() {
                            Ok(next) => input = next,
                            Err(_) => break,
                        }
                    }
                }
                leader = changed(&mut leader_changes) => self.leader_changed(leader),
                _ = heartbeat.tick() => self.heartbeat(),
                _ = resend.tick() => {
                    for (framework_id, status) in self.updates.due(Instant::now()) {
                        self.forward(framework_id, status);
                    }
                }
            }
            self.send_outbox();
        }
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::Registered(generation, accepted) if generation == self.generation => {
                self.registered(*accepted)
            }
            Input::RegisterFailed(generation, e) if generation == self.generation => match e {
                RegisterError::Refused(why) => {
                    tracing::error!("the master refused this agent for good: {why}");
                    self.refused_tx.send_replace(Some(why));
                }
                other => {
                    tracing::warn!(
                        "registration failed, retrying in {:?}: {other}",
                        self.backoff
                    );
                    self.retry_registration();
                }
            },
            Input::Reregister => self.start_registration(),
            Input::MasterEvent(generation, event) if generation == self.generation => {
                self.master_event(*event)
            }
            Input::MasterLost(generation) if generation == self.generation => {
                tracing::warn!("lost the master; re-registering");
                self.stream_id = None;
                self.retry_registration();
            }
            Input::Registered(..)
            | Input::RegisterFailed(..)
            | Input::MasterEvent(..)
            | Input::MasterLost(..) => {}
            Input::Subscribe(call, reply) => {
                let _ = reply.send(self.executor_subscribe(*call));
            }
            Input::ExecutorCall(call, reply) => {
                let _ = reply.send(self.executor_call(*call));
            }
            Input::Fetched(container_id, spec, result) => {
                self.fetched(&container_id, *spec, result)
            }
            Input::Terminated(container_id, termination) => {
                self.terminated(&container_id, termination)
            }
            Input::RegistrationTimeout(container_id) => self.registration_timeout(&container_id),
            Input::ShutdownTimeout(container_id) => self.shutdown_timeout(&container_id),
            Input::State(reply) => {
                let _ = reply.send(self.state_json());
            }
            Input::Statistics(reply) => {
                let _ = reply.send(self.statistics_json());
            }
            Input::Metrics(reply) => {
                let _ = reply.send(self.metrics_json());
            }
            Input::Nested(call, reply) => self.nested_call(*call, reply),
            Input::Operator(ty, reply) => {
                let _ = reply.send(self.operator(ty));
            }
            Input::Stop(done) => {
                let _ = done.send(());
            }
        }
    }

    /// Registers (or re-registers, carrying what runs here) in the
    /// background.
    fn start_registration(&mut self) {
        self.generation += 1;
        let generation = self.generation;
        let registration = self.registration();
        let (client, resolver, inputs) = (
            self.client.clone(),
            self.master.resolver(),
            self.inputs.clone(),
        );
        tokio::spawn(async move {
            let registered = match resolver.url().await {
                Ok(url) => link::register(&client, &url, registration).await,
                Err(e) => Err(e),
            };
            let input = match registered {
                Ok(accepted) => Input::Registered(generation, Box::new(accepted)),
                Err(e) => Input::RegisterFailed(generation, e),
            };
            let _ = inputs.send(input).await;
        });
    }

    /// ZooKeeper names a new leader: a registered agent moves to it at
    /// once (its stream to the old one may linger until heartbeats lapse).
    fn leader_changed(&mut self, leader: Option<Vec<u8>>) {
        let Some(url) = leader.and_then(|data| link::leader_url(&data).ok()) else {
            return;
        };
        if self.stream_id.is_some() && url != self.master_url {
            tracing::info!(%url, "a new master leads; re-registering with it");
            self.stream_id = None;
            self.backoff = Duration::from_millis(100);
            self.start_registration();
        }
    }

    fn retry_registration(&mut self) {
        let inputs = self.inputs.clone();
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(Duration::from_secs(5));
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let _ = inputs.send(Input::Reregister).await;
        });
    }

    fn registration(&self) -> Registration {
        let mut registration = Registration {
            info: self.info.clone(),
            resources: self.resources.clone(),
            ..Default::default()
        };
        for framework in self.frameworks.values() {
            registration.frameworks.push(framework.info.clone());
            for run in framework.executors.values() {
                if !run.generated {
                    registration.executors.push(run.info.clone());
                }
                registration.tasks.extend(run.tasks_for_master(&self.info));
            }
        }
        // Tasks whose executor is gone but whose updates still wait for
        // acknowledgement: the master keeps them until those arrive.
        let reported: std::collections::BTreeSet<TaskId> = registration
            .tasks
            .iter()
            .map(|t| t.task_id.clone())
            .collect();
        for (framework_id, latest) in self.updates.unacknowledged() {
            if reported.contains(&latest.task_id) {
                continue;
            }
            registration.tasks.push(mesos_proto::v1::Task {
                name: latest.task_id.to_string(),
                task_id: latest.task_id.clone(),
                framework_id: framework_id.clone(),
                executor_id: latest.executor_id.clone(),
                agent_id: self.info.id.clone().unwrap_or_default(),
                state: latest.state,
                statuses: vec![latest.clone()],
                ..Default::default()
            });
        }
        registration
    }

    fn registered(&mut self, accepted: Accepted) {
        tracing::info!("registered with the master as agent {}", accepted.agent_id);
        self.backoff = Duration::from_millis(100);
        self.info.id = Some(accepted.agent_id.clone());
        if let Err(e) = self.checkpoint.agent(&self.info) {
            tracing::error!("cannot checkpoint the agent's id: {e}");
        }
        self.stream_id = Some(accepted.stream_id);
        self.master_url = accepted.url;
        self.registered_tx.send_replace(Some(accepted.agent_id));
        let generation = self.generation;
        let inputs = self.inputs.clone();
        let mut events = accepted.events;
        // Three missed master heartbeats end the stream.
        let silence = accepted.heartbeat_interval * 3 + Duration::from_secs(1);
        tokio::spawn(async move {
            loop {
                match events.next(silence).await {
                    Ok(Some(bytes)) => match AgentEvent::decode(bytes.as_slice()) {
                        Ok(event) => {
                            if inputs
                                .send(Input::MasterEvent(generation, Box::new(event)))
                                .await
                                .is_err()
                            {
                                return;
                            }
                        }
                        Err(e) => tracing::warn!("undecodable event from the master, ignored: {e}"),
                    },
                    Ok(None) | Err(_) => {
                        let _ = inputs.send(Input::MasterLost(generation)).await;
                        return;
                    }
                }
            }
        });
        for (framework_id, status) in self.updates.heads(Instant::now()) {
            self.forward(framework_id, status);
        }
    }

    fn master_event(&mut self, event: AgentEvent) {
        match agent_event::Type::try_from(event.r#type) {
            Ok(agent_event::Type::RunTask) => {
                if let Some(run) = event.run_task {
                    self.run_task(run.framework_info, run.task);
                }
            }
            Ok(agent_event::Type::RunTaskGroup) => {
                if let Some(run) = event.run_task_group {
                    self.run_task_group(run.framework_info, run.executor_info, run.task_group);
                }
            }
            Ok(agent_event::Type::KillTask) => {
                if let Some(kill) = event.kill_task {
                    self.kill_task(&kill.framework_id, &kill.task_id, kill.kill_policy);
                }
            }
            Ok(agent_event::Type::Acknowledge) => {
                if let Some(ack) = event.acknowledge {
                    self.acknowledge(&ack.framework_id, &ack.task_id, ack.uuid);
                }
            }
            Ok(agent_event::Type::ShutdownFramework) => {
                if let Some(shutdown) = event.shutdown_framework {
                    self.shutdown_framework(&shutdown.framework_id);
                }
            }
            Ok(agent_event::Type::Message) => {
                if let Some(message) = event.message {
                    self.framework_message(message);
                }
            }
            Ok(agent_event::Type::ShutdownExecutor) => {
                if let Some(shutdown) = event.shutdown_executor {
                    let container = self
                        .run_mut(&shutdown.framework_id, &shutdown.executor_id)
                        .map(|run| run.container_id.clone());
                    match container {
                        Some(container) => self.shutdown_executor(&container),
                        None => tracing::warn!(
                            "shutdown of unknown executor {} of framework {} ignored",
                            shutdown.executor_id,
                            shutdown.framework_id
                        ),
                    }
                }
            }
            Ok(agent_event::Type::Error) => {
                tracing::error!("the master reported: {}", event.error.unwrap_or_default());
            }
            _ => {}
        }
    }

    fn heartbeat(&self) {
        let Some(stream_id) = self.stream_id.clone() else {
            return;
        };
        let call = AgentCall {
            r#type: agent_call::Type::Heartbeat as i32,
            agent_id: self.info.id.clone(),
            ..Default::default()
        };
        Self::post(&self.client, &self.master_url, stream_id, call, "heartbeat");
    }

    /// POSTs `call` to the master in the background; a failure is only
    /// logged (what must arrive is sent again by its owner).
    fn post(client: &Client, url: &str, stream_id: String, call: AgentCall, what: &'static str) {
        let (client, url) = (client.clone(), url.to_string());
        tokio::spawn(async move {
            if let Err(e) = link::send(&client, &url, &stream_id, &call).await {
                tracing::debug!("{what} not delivered: {e}");
            }
        });
    }

    /// Sends a best-effort call (a framework message, an executor's exit)
    /// to the master if connected; dropped otherwise, as Mesos does.
    pub(crate) fn notify_master(&self, mut call: AgentCall, what: &'static str) {
        let Some(stream_id) = self.stream_id.clone() else {
            tracing::warn!("{what} dropped: not connected to a master");
            return;
        };
        call.agent_id.clone_from(&self.info.id);
        Self::post(&self.client, &self.master_url, stream_id, call, what);
    }

    /// Sends a status update to the master with the others of this turn
    /// of the loop (when connected; otherwise it goes with the next resend
    /// after re-registration).
    pub(crate) fn forward(&mut self, framework_id: FrameworkId, mut status: TaskStatus) {
        if self.stream_id.is_none() {
            return;
        }
        if status.agent_id.is_none() {
            status.agent_id.clone_from(&self.info.id);
        }
        self.outbox.push(agent_call::Update {
            framework_id,
            status,
        });
    }

    /// Sends the updates gathered by [`Actor::forward`]: one call, or a
    /// few for very many.
    fn send_outbox(&mut self) {
        let outbox = std::mem::take(&mut self.outbox);
        let Some(stream_id) = self.stream_id.clone() else {
            return;
        };
        for call in update_calls(self.info.id.clone(), outbox) {
            Self::post(
                &self.client,
                &self.master_url,
                stream_id.clone(),
                call,
                "status updates (resent later)",
            );
        }
    }

    /// Queues an update the agent itself generates (TASK_FAILED for a
    /// task whose executor died, TASK_KILLED for one never launched).
    pub(crate) fn agent_update(
        &mut self,
        framework_id: &FrameworkId,
        task_id: &TaskId,
        state: TaskState,
        reason: Option<task_status::Reason>,
        message: String,
        executor_id: Option<ExecutorId>,
    ) {
        let status = TaskStatus {
            task_id: task_id.clone(),
            state: state as i32,
            message: Some(message),
            source: Some(task_status::Source::Agent as i32),
            reason: reason.map(|r| r as i32),
            agent_id: self.info.id.clone(),
            executor_id,
            timestamp: Some(now_secs()),
            uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
            ..Default::default()
        };
        self.queue_update(framework_id, status);
    }

    /// Puts an update in its task's stream (checkpointed first, for
    /// frameworks that checkpoint); sends it if it is the head.
    pub(crate) fn queue_update(&mut self, framework_id: &FrameworkId, status: TaskStatus) {
        let uuid = status.uuid.as_deref().unwrap_or_default();
        if self.updates.knows(&status.task_id, uuid) {
            return;
        }
        if let Some((_, meta)) = self.task_meta.get(&status.task_id) {
            if let Err(e) = meta.record(&status.task_id, &Record::Update(Box::new(status.clone())))
            {
                tracing::error!(
                    "cannot checkpoint an update of task {}: {e}",
                    status.task_id
                );
            }
        }
        let state = status.state;
        match self.updates.update(framework_id, status, Instant::now()) {
            Ok(Some((framework_id, head))) => {
                self.counters.task_ended(state);
                self.forward(framework_id, head);
            }
            Ok(None) => self.counters.task_ended(state),
            Err(e) => tracing::warn!("status update dropped: {e}"),
        }
    }

    fn acknowledge(&mut self, framework_id: &FrameworkId, task_id: &TaskId, uuid: Vec<u8>) {
        match self.updates.acknowledge(task_id, &uuid, Instant::now()) {
            Ok(next) => {
                if let Some((_, meta)) = self.task_meta.get(task_id) {
                    if let Err(e) = meta.record(task_id, &Record::Ack(uuid.clone())) {
                        tracing::error!(
                            "cannot checkpoint an acknowledgement of task {task_id}: {e}"
                        );
                    }
                }
                if !self.updates.has_stream(task_id) {
                    self.task_meta.remove(task_id);
                }
                if let Some((framework_id, head)) = next {
                    self.forward(framework_id, head);
                }
                self.acknowledged(framework_id, task_id, uuid);
            }
            Err(e) => tracing::debug!("acknowledgement ignored: {e}"),
        }
    }
}

pub(crate) use mesos_proto::is_terminal;
