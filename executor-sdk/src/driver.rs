//! The [`Executor`] trait and the driver that speaks the v1 executor API
//! for it.

use crate::config::ExecutorConfig;
use mesos_http::STREAM_ID;
use mesos_http::client::{Client, HttpError, RecordStream};
use mesos_proto::media::MediaType;
use mesos_proto::v1::executor::{Call, Event, call, event};
use mesos_proto::v1::{
    KillPolicy, TaskGroupInfo, TaskId, TaskInfo, TaskState, TaskStatus, task_status,
};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Why a driver stopped other than by a SHUTDOWN or [`ExecutorDriver::stop`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecutorError {
    /// The agent refused the subscription (for good).
    #[error("the agent refused the subscription: {0}")]
    Refused(String),
    /// The agent could not be reached within the recovery timeout (or at
    /// all, for a framework that does not checkpoint).
    #[error("lost the agent at {endpoint} and could not resubscribe: {last_error}")]
    AgentLost {
        /// The agent's endpoint.
        endpoint: String,
        /// The last failure.
        last_error: String,
    },
}

/// What an executor does when the agent tells it something.
///
/// Callbacks run one at a time, in the order of the agent's events; a
/// callback that waits for something long (a process, a timer) should
/// spawn a task and report through the [`ExecutorDriver`], which is cheap
/// to clone.
///
/// ```no_run
/// use mesos_executor::{Executor, ExecutorConfig, ExecutorDriver};
/// use mesos_proto::v1::{KillPolicy, TaskId, TaskInfo, TaskState};
///
/// struct Echo;
///
/// impl Executor for Echo {
///     async fn launch(&mut self, driver: &ExecutorDriver, task: TaskInfo) {
///         driver.update(&task.task_id, TaskState::TaskRunning, None);
///         driver.update(&task.task_id, TaskState::TaskFinished, Some("echoed".into()));
///     }
///     async fn kill(&mut self, driver: &ExecutorDriver, task: TaskId, _: Option<KillPolicy>) {
///         driver.update(&task, TaskState::TaskKilled, None);
///     }
/// }
///
/// #[tokio::main]
/// async fn main() {
///     let config = ExecutorConfig::from_env().expect("run me from a Mesos agent");
///     mesos_executor::run(Echo, config).await.expect("executor failed");
/// }
/// ```
pub trait Executor: Send + 'static {
    /// The agent accepted the subscription (also after a resubscription).
    fn subscribed(
        &mut self,
        driver: &ExecutorDriver,
        subscribed: event::Subscribed,
    ) -> impl Future<Output = ()> + Send {
        let _ = (driver, subscribed);
        async {}
    }

    /// Run a task.
    fn launch(
        &mut self,
        driver: &ExecutorDriver,
        task: TaskInfo,
    ) -> impl Future<Output = ()> + Send;

    /// Run a task group. The default refuses it: each task fails with a
    /// message saying this executor does not run groups.
    fn launch_group(
        &mut self,
        driver: &ExecutorDriver,
        group: TaskGroupInfo,
    ) -> impl Future<Output = ()> + Send {
        for task in &group.tasks {
            driver.update(
                &task.task_id,
                TaskState::TaskFailed,
                Some("this executor does not run task groups".into()),
            );
        }
        async {}
    }

    /// Kill a task (with the kill policy that overrides the task's own,
    /// if the framework gave one).
    fn kill(
        &mut self,
        driver: &ExecutorDriver,
        task_id: TaskId,
        kill_policy: Option<KillPolicy>,
    ) -> impl Future<Output = ()> + Send;

    /// The framework acknowledged the update `uuid` of `task_id`.
    fn acknowledged(
        &mut self,
        driver: &ExecutorDriver,
        task_id: TaskId,
        uuid: Vec<u8>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (driver, task_id, uuid);
        async {}
    }

    /// A framework message.
    fn message(
        &mut self,
        driver: &ExecutorDriver,
        data: Vec<u8>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (driver, data);
        async {}
    }

    /// Shut down: kill every task. The driver stops when this returns; the
    /// agent kills the executor after its shutdown grace period.
    fn shutdown(&mut self, driver: &ExecutorDriver) -> impl Future<Output = ()> + Send {
        let _ = driver;
        async {}
    }

    /// The agent reported an error.
    fn error(
        &mut self,
        driver: &ExecutorDriver,
        message: String,
    ) -> impl Future<Output = ()> + Send {
        let _ = driver;
        tracing::error!("agent error: {message}");
        async {}
    }

    /// The connection to the agent was lost; the driver is resubscribing.
    fn disconnected(&mut self, driver: &ExecutorDriver) -> impl Future<Output = ()> + Send {
        let _ = driver;
        async {}
    }
}

#[derive(Debug, Default)]
struct Unacknowledged {
    /// Updates sent and not yet acknowledged, in the order sent.
    updates: Vec<call::Update>,
    /// Tasks launched whose updates are not all acknowledged.
    tasks: BTreeMap<TaskId, TaskInfo>,
    /// The current subscription's stream id, when subscribed.
    stream_id: Option<String>,
    stopped: bool,
}

/// The executor's way to talk to its agent: send status updates and
/// messages, or stop the driver. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ExecutorDriver {
    config: Arc<ExecutorConfig>,
    client: Client,
    media: MediaType,
    state: Arc<Mutex<Unacknowledged>>,
    stop: Arc<Notify>,
    acked: Arc<Notify>,
    /// Calls go out one at a time, in order, through this queue.
    outbox: tokio::sync::mpsc::UnboundedSender<Call>,
}

impl ExecutorDriver {
    /// A driver, with the task that sends its calls in order.
    fn new(config: ExecutorConfig) -> ExecutorDriver {
        let (outbox, mut queue) = tokio::sync::mpsc::unbounded_channel::<Call>();
        let driver = ExecutorDriver {
            config: Arc::new(config),
            client: Client::default(),
            media: MediaType::Protobuf,
            state: Arc::default(),
            stop: Arc::new(Notify::new()),
            acked: Arc::new(Notify::new()),
            outbox,
        };
        let (client, media, url) = (
            driver.client.clone(),
            driver.media,
            driver.config.executor_url(),
        );
        tokio::spawn(async move {
            while let Some(call) = queue.recv().await {
                let headers = [("Content-Type", media.as_str())];
                if let Err(e) = client.post_ok(&url, &headers, media.encode(&call)).await {
                    tracing::warn!(
                        "executor call not delivered (updates are replayed on resubscription): {e}"
                    );
                }
            }
        });
        driver
    }

    /// The executor's configuration.
    pub fn config(&self) -> &ExecutorConfig {
        &self.config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Unacknowledged> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn call(&self, ty: call::Type) -> Call {
        Call {
            executor_id: self.config.executor_id.clone(),
            framework_id: self.config.framework_id.clone(),
            r#type: Some(ty as i32),
            ..Default::default()
        }
    }

    /// Sends a status update for `task_id` in `state`, with an optional
    /// message. See [`ExecutorDriver::send_status`].
    pub fn update(&self, task_id: &TaskId, state: TaskState, message: Option<String>) {
        self.send_status(TaskStatus {
            task_id: task_id.clone(),
            state: state as i32,
            message,
            ..Default::default()
        });
    }

    /// Sends a status update. The driver fills in what the executor API
    /// requires (`uuid`, `timestamp`, `source`, `executor_id`) when unset,
    /// keeps the update until the framework acknowledges it, and replays
    /// it on resubscription: an update is never lost to a broken
    /// connection.
    pub fn send_status(&self, mut status: TaskStatus) {
        if status.uuid.is_none() {
            status.uuid = Some(uuid::Uuid::new_v4().as_bytes().to_vec());
        }
        if status.timestamp.is_none() {
            status.timestamp = Some(now_secs());
        }
        status
            .source
            .get_or_insert(task_status::Source::Executor as i32);
        status
            .executor_id
            .get_or_insert_with(|| self.config.executor_id.clone());
        if status.agent_id.is_none() {
            status.agent_id.clone_from(&self.config.agent_id);
        }
        let update = call::Update { status };
        let stream_id = {
            let mut state = self.lock();
            state.updates.push(update.clone());
            state.stream_id.clone()
        };
        if stream_id.is_none() {
            return;
        }
        let mut call = self.call(call::Type::Update);
        call.update = Some(update);
        self.post_in_background(call);
    }

    /// Sends a framework message to the scheduler (best effort, as in
    /// Mesos).
    pub fn send_message(&self, data: Vec<u8>) {
        let mut call = self.call(call::Type::Message);
        call.message = Some(call::Message { data });
        self.post_in_background(call);
    }

    /// Waits until every update sent so far is acknowledged, at most
    /// `timeout`; whether they all were. An executor about to exit waits
    /// here so that its last update is not lost with it.
    pub async fn wait_acknowledged(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let acked = self.acked.notified();
            if self.lock().updates.is_empty() {
                return true;
            }
            if tokio::time::timeout_at(deadline, acked).await.is_err() {
                return self.lock().updates.is_empty();
            }
        }
    }

    /// Stops the driver: [`run`] returns `Ok` soon after.
    pub fn stop(&self) {
        self.lock().stopped = true;
        self.stop.notify_one();
    }

    /// Queues a call; calls leave in the order queued.
    fn post_in_background(&self, call: Call) {
        let _ = self.outbox.send(call);
    }

    /// SUBSCRIBE, carrying what is not yet acknowledged.
    async fn subscribe(&self) -> Result<RecordStream, HttpError> {
        let mut call = self.call(call::Type::Subscribe);
        {
            let state = self.lock();
            call.subscribe = Some(call::Subscribe {
                unacknowledged_tasks: state.tasks.values().cloned().collect(),
                unacknowledged_updates: state.updates.clone(),
            });
        }
        let headers = [
            ("Content-Type", self.media.as_str()),
            ("Accept", self.media.as_str()),
        ];
        let resp = self
            .client
            .post_ok(
                &self.config.executor_url(),
                &headers,
                self.media.encode(&call),
            )
            .await?;
        let stream_id = resp
            .headers()
            .get(STREAM_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        self.lock().stream_id = Some(stream_id.unwrap_or_default());
        Ok(RecordStream::new(resp.into_body()))
    }

    fn acknowledge(&self, task_id: &TaskId, uuid: &[u8]) {
        let mut state = self.lock();
        state
            .updates
            .retain(|u| !(u.status.task_id == *task_id && u.status.uuid.as_deref() == Some(uuid)));
        if !state.updates.iter().any(|u| u.status.task_id == *task_id) {
            state.tasks.remove(task_id);
        }
        drop(state);
        self.acked.notify_waiters();
    }
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// What one subscription ended with.
enum Ended {
    /// SHUTDOWN handled or the driver stopped.
    Done,
    /// The stream broke.
    Lost(String),
}

/// Runs `executor` against the agent named in `config` until the agent
/// shuts it down or the executor calls [`ExecutorDriver::stop`].
///
/// A lost connection is retried with backoff for `recovery_timeout` when
/// the framework checkpoints (the agent may be restarting), carrying the
/// unacknowledged tasks and updates; otherwise it ends the driver, as in
/// Mesos.
pub async fn run<E: Executor>(
    mut executor: E,
    config: ExecutorConfig,
) -> Result<(), ExecutorError> {
    let driver = ExecutorDriver::new(config);
    let mut lost_since: Option<Instant> = None;
    let mut backoff = Duration::from_millis(100);
    loop {
        if driver.lock().stopped {
            return Ok(());
        }
        match driver.subscribe().await {
            Ok(stream) => {
                backoff = Duration::from_millis(100);
                match serve(&mut executor, &driver, stream).await {
                    Ended::Done => return Ok(()),
                    Ended::Lost(why) => {
                        tracing::warn!("lost the agent: {why}");
                        driver.lock().stream_id = None;
                        executor.disconnected(&driver).await;
                        lost_since = Some(Instant::now());
                        if !driver.config.checkpoint {
                            executor.shutdown(&driver).await;
                            return Err(ExecutorError::AgentLost {
                                endpoint: driver.config.agent_endpoint.clone(),
                                last_error: why,
                            });
                        }
                    }
                }
            }
            Err(HttpError::Status { status, body, .. }) if (400..500).contains(&status) => {
                return Err(ExecutorError::Refused(format!("HTTP {status}: {body}")));
            }
            Err(e) => {
                let since = *lost_since.get_or_insert_with(Instant::now);
                let limit = if driver.config.checkpoint {
                    driver.config.recovery_timeout
                } else {
                    // Not checkpointing: the agent should be there at once;
                    // allow it a moment to start serving.
                    Duration::from_secs(10)
                };
                if since.elapsed() >= limit {
                    executor.shutdown(&driver).await;
                    return Err(ExecutorError::AgentLost {
                        endpoint: driver.config.agent_endpoint.clone(),
                        last_error: e.to_string(),
                    });
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(driver.config.subscription_backoff_max);
            }
        }
    }
}

async fn serve<E: Executor>(
    executor: &mut E,
    driver: &ExecutorDriver,
    mut stream: RecordStream,
) -> Ended {
    let mut heartbeat = tokio::time::interval(driver.config.heartbeat_interval);
    heartbeat.tick().await;
    loop {
        let record = tokio::select! {
            r = stream.next(Duration::from_secs(365 * 86400)) => r,
            _ = driver.stop.notified() => return Ended::Done,
            _ = heartbeat.tick() => {
                let call = driver.call(call::Type::Heartbeat);
                driver.post_in_background(call);
                continue;
            }
        };
        let bytes = match record {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ended::Lost("the agent closed the stream".into()),
            Err(e) => return Ended::Lost(e.to_string()),
        };
        let event: Event = match driver.media.decode(&bytes) {
            Ok(event) => event,
            Err(e) => {
                tracing::warn!("undecodable event from the agent, ignored: {e}");
                continue;
            }
        };
        if dispatch(executor, driver, event).await {
            return Ended::Done;
        }
        if driver.lock().stopped {
            return Ended::Done;
        }
    }
}

/// Hands one event to the executor; true when the driver must stop.
async fn dispatch<E: Executor>(executor: &mut E, driver: &ExecutorDriver, event: Event) -> bool {
    let ty = event.r#type.and_then(|t| event::Type::try_from(t).ok());
    match ty {
        Some(event::Type::Subscribed) => {
            if let Some(subscribed) = event.subscribed {
                executor.subscribed(driver, subscribed).await;
            }
        }
        Some(event::Type::Launch) => {
            if let Some(launch) = event.launch {
                driver
                    .lock()
                    .tasks
                    .insert(launch.task.task_id.clone(), launch.task.clone());
                executor.launch(driver, launch.task).await;
            }
        }
        Some(event::Type::LaunchGroup) => {
            if let Some(group) = event.launch_group {
                {
                    let mut state = driver.lock();
                    for task in &group.task_group.tasks {
                        state.tasks.insert(task.task_id.clone(), task.clone());
                    }
                }
                executor.launch_group(driver, group.task_group).await;
            }
        }
        Some(event::Type::Kill) => {
            if let Some(kill) = event.kill {
                executor.kill(driver, kill.task_id, kill.kill_policy).await;
            }
        }
        Some(event::Type::Acknowledged) => {
            if let Some(ack) = event.acknowledged {
                driver.acknowledge(&ack.task_id, &ack.uuid);
                executor.acknowledged(driver, ack.task_id, ack.uuid).await;
            }
        }
        Some(event::Type::Message) => {
            if let Some(message) = event.message {
                executor.message(driver, message.data).await;
            }
        }
        Some(event::Type::Shutdown) => {
            executor.shutdown(driver).await;
            return true;
        }
        Some(event::Type::Error) => {
            let message = event.error.map(|e| e.message).unwrap_or_default();
            executor.error(driver, message).await;
        }
        Some(event::Type::Heartbeat) | Some(event::Type::Unknown) | None => {}
    }
    false
}
