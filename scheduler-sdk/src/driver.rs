//! The [`Scheduler`] trait and the driver that runs one: subscribing,
//! failing over, reconnecting, acknowledging and reconciling for it.

use crate::client::{Client, Events, Session};
use crate::reconcile::{Reconcile, Reconciler};
use crate::{Backoff, FrameworkIdStore, Masters, SchedulerError};
use mesos_proto::media::MediaType;
use mesos_proto::v1::scheduler::{Event, call, event};
use mesos_proto::v1::{
    AgentId, ExecutorId, ExecutorInfo, Filters, FrameworkId, FrameworkInfo, InverseOffer,
    KillPolicy, Offer, OfferId, OperationStatus, TaskGroupInfo, TaskId, TaskInfo, TaskStatus,
    offer,
};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What a framework does when the master tells it something.
///
/// Callbacks run one at a time, in the order of the master's events. Every
/// one has a default: offers are declined, everything else is ignored.
/// Make calls through the [`SchedulerDriver`] (cheap to clone; keep one to
/// call from elsewhere).
///
/// ```no_run
/// use mesos_proto::v1::{FrameworkInfo, Offer, TaskStatus};
/// use mesos_scheduler::{Scheduler, SchedulerConfig, SchedulerDriver};
///
/// struct Quiet;
///
/// impl Scheduler for Quiet {
///     async fn offers(&mut self, driver: &SchedulerDriver, offers: Vec<Offer>) {
///         let ids = offers.into_iter().map(|o| o.id).collect();
///         let _ = driver.decline(ids, Some(mesos_scheduler::client::refuse(60.0))).await;
///     }
///     async fn update(&mut self, _: &SchedulerDriver, status: TaskStatus) {
///         println!("{} is {:?}", status.task_id.value, status.state());
///     }
/// }
///
/// # async fn demo() -> Result<(), mesos_scheduler::SchedulerError> {
/// let info = FrameworkInfo { user: "root".into(), name: "quiet".into(), ..Default::default() };
/// let driver = SchedulerDriver::new(SchedulerConfig::new("127.0.0.1:5050", info)?);
/// driver.run(&mut Quiet).await
/// # }
/// ```
pub trait Scheduler: Send {
    /// Subscribed (also after every resubscription and failover).
    fn subscribed(
        &mut self,
        driver: &SchedulerDriver,
        subscribed: &event::Subscribed,
    ) -> impl Future<Output = ()> + Send {
        let _ = (driver, subscribed);
        async {}
    }

    /// New offers. The default declines them all (an offer held and not
    /// answered keeps its resources from everyone else).
    fn offers(
        &mut self,
        driver: &SchedulerDriver,
        offers: Vec<Offer>,
    ) -> impl Future<Output = ()> + Send {
        async move {
            let ids = offers.into_iter().map(|o| o.id).collect();
            if let Err(e) = driver.decline(ids, None).await {
                tracing::warn!(error = %e, "declining offers failed");
            }
        }
    }

    /// Inverse offers (maintenance): the default ignores them.
    fn inverse_offers(
        &mut self,
        driver: &SchedulerDriver,
        offers: Vec<InverseOffer>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (driver, offers);
        async {}
    }

    /// An offer is no longer valid.
    fn rescind(
        &mut self,
        driver: &SchedulerDriver,
        offer: OfferId,
    ) -> impl Future<Output = ()> + Send {
        let _ = (driver, offer);
        async {}
    }

    /// An inverse offer is no longer valid.
    fn rescind_inverse_offer(
        &mut self,
        driver: &SchedulerDriver,
        offer: OfferId,
    ) -> impl Future<Output = ()> + Send {
        let _ = (driver, offer);
        async {}
    }

    /// A task's status changed. With implicit acknowledgements (the
    /// default) the driver acknowledges it when this returns; with
    /// explicit ones call [`SchedulerDriver::acknowledge`].
    fn update(
        &mut self,
        driver: &SchedulerDriver,
        status: TaskStatus,
    ) -> impl Future<Output = ()> + Send {
        let _ = (driver, status);
        async {}
    }

    /// An operation's status changed (acknowledged like task updates).
    fn operation_update(
        &mut self,
        driver: &SchedulerDriver,
        status: OperationStatus,
    ) -> impl Future<Output = ()> + Send {
        let _ = (driver, status);
        async {}
    }

    /// An executor sent a message.
    fn message(
        &mut self,
        driver: &SchedulerDriver,
        agent: AgentId,
        executor: ExecutorId,
        data: Vec<u8>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (driver, agent, executor, data);
        async {}
    }

    /// An agent or an executor failed.
    fn failure(
        &mut self,
        driver: &SchedulerDriver,
        failure: event::Failure,
    ) -> impl Future<Output = ()> + Send {
        let _ = (driver, failure);
        async {}
    }

    /// The master removed the framework (ERROR event, or a resubscription
    /// refused because of it); the driver stops after this.
    fn error(
        &mut self,
        driver: &SchedulerDriver,
        message: String,
    ) -> impl Future<Output = ()> + Send {
        let _ = (driver, message);
        async {}
    }

    /// The connection to the master was lost; the driver reconnects.
    fn disconnected(&mut self, driver: &SchedulerDriver) -> impl Future<Output = ()> + Send {
        let _ = driver;
        async {}
    }
}

/// Who acknowledges status updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Acknowledgements {
    /// The driver, when the update callback returns.
    #[default]
    Implicit,
    /// The scheduler, with [`SchedulerDriver::acknowledge`].
    Explicit,
}

/// How a driver runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SchedulerConfig {
    /// Where the masters are.
    pub masters: Masters,
    /// The framework; its `id` (or the store's) makes the subscription a
    /// failover.
    pub framework: FrameworkInfo,
    /// Roles to subscribe suppressed.
    pub suppressed_roles: Vec<String>,
    /// Protobuf (default) or JSON.
    pub media: MediaType,
    /// Who acknowledges updates.
    pub acknowledgements: Acknowledgements,
    /// Where the framework id is kept across restarts.
    pub store: Option<Arc<dyn FrameworkIdStore>>,
    /// The first wait before reconnecting (default 1 s) ...
    pub reconnect_min: Duration,
    /// ... doubling up to this (default 30 s), with jitter.
    pub reconnect_max: Duration,
    /// Heartbeat intervals without any event before the connection is
    /// declared lost (default 5).
    pub heartbeat_misses: u32,
    /// Implicit reconciliation every this long (default 15 minutes;
    /// `None`: only after subscribing).
    pub reconcile_interval: Option<Duration>,
}

impl SchedulerConfig {
    /// A configuration for `framework` with the masters at `masters`
    /// (`host:port`, a comma-separated list, or `zk://...`).
    pub fn new(masters: &str, framework: FrameworkInfo) -> Result<SchedulerConfig, SchedulerError> {
        Ok(SchedulerConfig {
            masters: masters.parse()?,
            framework,
            suppressed_roles: Vec::new(),
            media: MediaType::Protobuf,
            acknowledgements: Acknowledgements::Implicit,
            store: None,
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(30),
            heartbeat_misses: 5,
            reconcile_interval: Some(Duration::from_secs(15 * 60)),
        })
    }

    /// Keep the framework id in `store`.
    pub fn with_store(mut self, store: impl FrameworkIdStore) -> SchedulerConfig {
        self.store = Some(Arc::new(store));
        self
    }

    /// Speak `media`.
    pub fn with_media(mut self, media: MediaType) -> SchedulerConfig {
        self.media = media;
        self
    }

    /// Acknowledge updates explicitly or implicitly.
    pub fn with_acknowledgements(mut self, acks: Acknowledgements) -> SchedulerConfig {
        self.acknowledgements = acks;
        self
    }
}

#[derive(Debug)]
struct Shared {
    config: SchedulerConfig,
    client: Client,
    session: Mutex<Option<Session>>,
    reconciler: Mutex<Reconciler>,
    stop: watch::Sender<bool>,
}

/// Runs a [`Scheduler`] and makes calls for it. Cheap to clone: every
/// clone drives the same framework.
#[derive(Debug, Clone)]
pub struct SchedulerDriver {
    shared: Arc<Shared>,
}

impl SchedulerDriver {
    /// A driver for `config`; nothing happens until [`SchedulerDriver::run`].
    pub fn new(config: SchedulerConfig) -> SchedulerDriver {
        let client = Client::new(config.masters.clone())
            .with_media(config.media)
            .with_heartbeat_misses(config.heartbeat_misses);
        let reconciler = Reconciler::new(config.reconcile_interval);
        SchedulerDriver {
            shared: Arc::new(Shared {
                config,
                client,
                session: Mutex::new(None),
                reconciler: Mutex::new(reconciler),
                stop: watch::channel(false).0,
            }),
        }
    }

    /// The current session, if subscribed.
    pub fn session(&self) -> Result<Session, SchedulerError> {
        lock(&self.shared.session)
            .clone()
            .ok_or(SchedulerError::Disconnected)
    }

    /// The framework's id, once subscribed.
    pub fn framework_id(&self) -> Option<FrameworkId> {
        lock(&self.shared.session)
            .as_ref()
            .map(|s| s.framework_id().clone())
    }

    /// The tasks the driver believes are not terminal (launched through
    /// it or reported by updates), with their agents.
    pub fn tasks(&self) -> Vec<(TaskId, Option<AgentId>)> {
        lock(&self.shared.reconciler)
            .tasks()
            .map(|(t, a)| (t.clone(), a.clone()))
            .collect()
    }

    /// Ends [`SchedulerDriver::run`] without tearing the framework down:
    /// a scheduler started again with the same id fails over to its tasks.
    pub fn stop(&self) {
        self.shared.stop.send_replace(true);
    }

    /// TEARDOWN: the master kills the framework's tasks and forgets it;
    /// the stored id is cleared and the driver stops.
    pub async fn teardown(&self) -> Result<(), SchedulerError> {
        let result = self.session()?.teardown().await;
        if result.is_ok() {
            if let Some(store) = &self.shared.config.store {
                store.clear()?;
            }
        }
        self.stop();
        result
    }

    /// ACCEPT offers with operations (tasks launched are followed for
    /// reconciliation).
    pub async fn accept(
        &self,
        offers: Vec<OfferId>,
        operations: Vec<offer::Operation>,
        filters: Option<Filters>,
    ) -> Result<(), SchedulerError> {
        let session = self.session()?;
        {
            let mut reconciler = lock(&self.shared.reconciler);
            for op in &operations {
                let launch = op.launch.iter().flat_map(|l| &l.task_infos);
                let group = op.launch_group.iter().flat_map(|g| &g.task_group.tasks);
                for task in launch.chain(group) {
                    reconciler.launched(task.task_id.clone(), Some(task.agent_id.clone()));
                }
            }
        }
        session.accept(offers, operations, filters).await
    }

    /// ACCEPT offers with one LAUNCH of `tasks`.
    pub async fn launch(
        &self,
        offers: Vec<OfferId>,
        tasks: Vec<TaskInfo>,
        filters: Option<Filters>,
    ) -> Result<(), SchedulerError> {
        self.accept(offers, vec![crate::client::launch(tasks)], filters)
            .await
    }

    /// ACCEPT offers with one LAUNCH_GROUP.
    pub async fn launch_group(
        &self,
        offers: Vec<OfferId>,
        executor: ExecutorInfo,
        group: TaskGroupInfo,
        filters: Option<Filters>,
    ) -> Result<(), SchedulerError> {
        let op = crate::client::launch_group(executor, group);
        self.accept(offers, vec![op], filters).await
    }

    /// DECLINE offers.
    pub async fn decline(
        &self,
        offers: Vec<OfferId>,
        filters: Option<Filters>,
    ) -> Result<(), SchedulerError> {
        self.session()?.decline(offers, filters).await
    }

    /// REVIVE offers for `roles` (all when empty).
    pub async fn revive(&self, roles: Vec<String>) -> Result<(), SchedulerError> {
        self.session()?.revive(roles).await
    }

    /// SUPPRESS offers for `roles` (all when empty).
    pub async fn suppress(&self, roles: Vec<String>) -> Result<(), SchedulerError> {
        self.session()?.suppress(roles).await
    }

    /// KILL a task.
    pub async fn kill(
        &self,
        task: TaskId,
        agent: Option<AgentId>,
        kill_policy: Option<KillPolicy>,
    ) -> Result<(), SchedulerError> {
        self.session()?.kill(task, agent, kill_policy).await
    }

    /// SHUTDOWN an executor.
    pub async fn shutdown(
        &self,
        executor: ExecutorId,
        agent: AgentId,
    ) -> Result<(), SchedulerError> {
        self.session()?.shutdown(executor, agent).await
    }

    /// ACKNOWLEDGE an update (with explicit acknowledgements).
    pub async fn acknowledge(&self, status: &TaskStatus) -> Result<(), SchedulerError> {
        self.session()?.acknowledge(status).await
    }

    /// ACKNOWLEDGE_OPERATION_STATUS (with explicit acknowledgements).
    pub async fn acknowledge_operation_status(
        &self,
        status: &OperationStatus,
    ) -> Result<(), SchedulerError> {
        self.session()?.acknowledge_operation_status(status).await
    }

    /// RECONCILE tasks (empty: all).
    pub async fn reconcile(
        &self,
        tasks: Vec<(TaskId, Option<AgentId>)>,
    ) -> Result<(), SchedulerError> {
        self.session()?.reconcile(tasks).await
    }

    /// MESSAGE to an executor.
    pub async fn message(
        &self,
        agent: AgentId,
        executor: ExecutorId,
        data: Vec<u8>,
    ) -> Result<(), SchedulerError> {
        self.session()?.message(agent, executor, data).await
    }

    /// UPDATE_FRAMEWORK.
    pub async fn update_framework(
        &self,
        info: FrameworkInfo,
        suppressed_roles: Vec<String>,
    ) -> Result<(), SchedulerError> {
        self.session()?
            .update_framework(info, suppressed_roles)
            .await
    }

    /// Runs `scheduler` until [`SchedulerDriver::stop`] or
    /// [`SchedulerDriver::teardown`] (`Ok`), or until the framework is
    /// removed or refused for good (`Err`). Lost connections are
    /// reconnected with backoff, resubscribing with the framework's id.
    pub async fn run<S: Scheduler>(&self, scheduler: &mut S) -> Result<(), SchedulerError> {
        let shared = &self.shared;
        let config = &shared.config;
        let mut stopped = shared.stop.subscribe();
        let mut info = config.framework.clone();
        if info.id.is_none() {
            if let Some(store) = &config.store {
                info.id = store.load()?;
            }
        }
        let mut backoff = Backoff::new(config.reconnect_min, config.reconnect_max);
        loop {
            if *stopped.borrow() {
                return Ok(());
            }
            let subscribe = call::Subscribe {
                framework_info: info.clone(),
                suppressed_roles: config.suppressed_roles.clone(),
                offer_constraints: None,
            };
            let attempt = tokio::select! {
                r = shared.client.subscribe_with(subscribe) => r,
                () = until_stopped(&mut stopped) => return Ok(()),
            };
            let (session, events) = match attempt {
                Ok(done) => done,
                Err(SchedulerError::Removed(message)) => {
                    return self.removed(scheduler, message).await;
                }
                Err(e) if e.is_transient() => {
                    let delay = backoff.next_delay();
                    tracing::warn!(error = %e, ?delay, "cannot subscribe; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => continue,
                        () = until_stopped(&mut stopped) => return Ok(()),
                    }
                }
                Err(e) => return Err(e),
            };
            backoff.reset();
            let id = session.framework_id().clone();
            tracing::info!(framework = %id.value, master = %session.url(), "subscribed");
            if let Some(store) = &config.store {
                store.save(&id)?;
            }
            info.id = Some(id);
            *lock(&shared.session) = Some(session.clone());
            lock(&shared.reconciler).subscribed(Instant::now());
            scheduler.subscribed(self, session.subscribed()).await;
            let ended = self.serve(scheduler, &session, events, &mut stopped).await;
            *lock(&shared.session) = None;
            lock(&shared.reconciler).disconnected();
            match ended {
                Ended::Stopped => return Ok(()),
                Ended::Removed(message) => return self.removed(scheduler, message).await,
                Ended::Lost(e) => {
                    tracing::warn!(error = %e, "lost the master; reconnecting");
                    scheduler.disconnected(self).await;
                    let delay = backoff.next_delay();
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        () = until_stopped(&mut stopped) => return Ok(()),
                    }
                }
            }
        }
    }

    async fn removed<S: Scheduler>(
        &self,
        scheduler: &mut S,
        message: String,
    ) -> Result<(), SchedulerError> {
        tracing::error!(%message, "the master removed the framework");
        if let Some(store) = &self.shared.config.store {
            store.clear()?;
        }
        scheduler.error(self, message.clone()).await;
        Err(SchedulerError::Removed(message))
    }

    /// One subscription's events, until it ends.
    async fn serve<S: Scheduler>(
        &self,
        scheduler: &mut S,
        session: &Session,
        mut events: Events,
        stopped: &mut watch::Receiver<bool>,
    ) -> Ended {
        loop {
            let deadline = lock(&self.shared.reconciler).next_deadline();
            let tick = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = events.next() => match event {
                    Ok(event) => {
                        if let Some(ended) = self.dispatch(scheduler, session, event).await {
                            return ended;
                        }
                    }
                    Err(e) => return Ended::Lost(e),
                },
                () = tick => {
                    let action = lock(&self.shared.reconciler).poll(Instant::now());
                    let tasks = match action {
                        Some(Reconcile::Explicit(tasks)) => tasks,
                        Some(Reconcile::Implicit) => Vec::new(),
                        None => continue,
                    };
                    tracing::debug!(tasks = tasks.len(), "reconciling");
                    if let Err(e) = session.reconcile(tasks).await {
                        if e.is_transient() {
                            return Ended::Lost(e);
                        }
                        tracing::warn!(error = %e, "reconciliation refused");
                    }
                }
                () = until_stopped(stopped) => return Ended::Stopped,
            }
        }
    }

    async fn dispatch<S: Scheduler>(
        &self,
        scheduler: &mut S,
        session: &Session,
        event: Event,
    ) -> Option<Ended> {
        let implicit = self.shared.config.acknowledgements == Acknowledgements::Implicit;
        if let Some(offers) = event.offers {
            scheduler.offers(self, offers.offers).await;
        } else if let Some(offers) = event.inverse_offers {
            scheduler.inverse_offers(self, offers.inverse_offers).await;
        } else if let Some(r) = event.rescind {
            scheduler.rescind(self, r.offer_id).await;
        } else if let Some(r) = event.rescind_inverse_offer {
            scheduler
                .rescind_inverse_offer(self, r.inverse_offer_id)
                .await;
        } else if let Some(update) = event.update {
            let status = update.status;
            lock(&self.shared.reconciler).update(&status);
            scheduler.update(self, status.clone()).await;
            if implicit {
                if let Err(e) = session.acknowledge(&status).await {
                    tracing::warn!(error = %e, task = %status.task_id.value, "acknowledgement failed");
                }
            }
        } else if let Some(update) = event.update_operation_status {
            let status = update.status;
            scheduler.operation_update(self, status.clone()).await;
            if implicit {
                if let Err(e) = session.acknowledge_operation_status(&status).await {
                    tracing::warn!(error = %e, "operation acknowledgement failed");
                }
            }
        } else if let Some(m) = event.message {
            scheduler
                .message(self, m.agent_id, m.executor_id, m.data)
                .await;
        } else if let Some(f) = event.failure {
            scheduler.failure(self, f).await;
        } else if let Some(e) = event.error {
            return Some(Ended::Removed(e.message));
        } else if let Some(s) = event.subscribed {
            // A second SUBSCRIBED on one stream does not happen with Mesos;
            // pass it on all the same.
            scheduler.subscribed(self, &s).await;
        }
        None
    }
}

/// Why one subscription ended.
#[derive(Debug)]
enum Ended {
    Stopped,
    Removed(String),
    Lost(SchedulerError),
}

/// Returns once the driver is told to stop.
async fn until_stopped(stopped: &mut watch::Receiver<bool>) {
    if stopped.wait_for(|s| *s).await.is_err() {
        // The sender lives in the driver; it cannot go first.
        std::future::pending::<()>().await;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
