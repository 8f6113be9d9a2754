//! The master's single owner of mutable state.
//!
//! One task receives [`Command`]s in order and answers them (the Mesos
//! master actor), so cluster state needs no locks. HTTP handlers only
//! translate requests into commands and replies into responses.

use crate::agent_entry::AgentEntry;
use crate::agent_table::AgentTable;
use crate::allocator::{Allocator, FrameworkOptions};
use crate::config::{MESOS_VERSION, MasterConfig};
use crate::registry::{AgentStanding, Recovered, Registry};
use crate::scheduler::unix_now;
use crate::task_entry::TaskEntry;
use crate::task_table::TaskTable;
use mesos_proto::agent_protocol::{AgentCall, AgentEvent};
use mesos_proto::resources::Resources;
use mesos_proto::v1::quota::QuotaConfig;
use mesos_proto::v1::scheduler::{self, Event, event};
use mesos_proto::v1::{
    AgentId, AgentInfo, ExecutorId, ExecutorInfo, FrameworkId, FrameworkInfo, MasterInfo, OfferId,
    framework_info,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Why a call was refused: the HTTP status and the message for the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CallError {
    /// 400: the call is malformed or invalid.
    #[error("{0}")]
    BadRequest(String),
    /// 403: the framework may not make the call.
    #[error("{0}")]
    Forbidden(String),
    /// 501: the call is valid Mesos but this master does not do it yet.
    #[error("{0}")]
    NotImplemented(String),
    /// 404: the call names something the master does not know.
    #[error("{0}")]
    NotFound(String),
    /// 503: the master is shutting down.
    #[error("{0}")]
    Unavailable(String),
}

/// A new subscription: where its events come from.
#[derive(Debug)]
pub(crate) struct Subscription {
    pub(crate) stream_id: String,
    /// Boxed, as every queue of events here: a queue allocates its
    /// slots 32 at a time, and an `Event` is a kilobyte.
    pub(crate) events: mpsc::Receiver<Box<Event>>,
    /// The framework's registry entry; SUBSCRIBED goes out once it is
    /// durable, so an agent re-registering with the framework's tasks
    /// after a master failover finds the framework known.
    pub(crate) committed: Option<crate::registry::Committed>,
}

/// What the HTTP layer asks of the master.
#[derive(Debug)]
pub(crate) enum Command {
    /// A scheduler SUBSCRIBE.
    Subscribe {
        call_framework_id: Option<FrameworkId>,
        subscribe: Box<scheduler::call::Subscribe>,
        reply: oneshot::Sender<Result<Subscription, CallError>>,
    },
    /// Any other scheduler call, with the request's `Mesos-Stream-Id`.
    Call {
        stream_id: Option<String>,
        call: Box<scheduler::Call>,
        reply: oneshot::Sender<Result<Option<scheduler::Response>, CallError>>,
    },
    /// An operator API SUBSCRIBE.
    OperatorSubscribe {
        reply: oneshot::Sender<crate::events::OperatorSubscription>,
    },
    /// An operator API call.
    Operator {
        call: Box<mesos_proto::v1::master::Call>,
        reply: oneshot::Sender<Result<crate::operator::OperatorAnswer, CallError>>,
    },
    /// An agent's REGISTER.
    RegisterAgent {
        register: Box<crate::registration::Registration>,
        reply: oneshot::Sender<Result<AgentSubscription, CallError>>,
    },
    /// Any other agent call, with the request's `Mesos-Stream-Id`.
    AgentCall {
        stream_id: Option<String>,
        call: Box<AgentCall>,
        reply: oneshot::Sender<Result<(), CallError>>,
    },
    /// An agent's event stream ended (its connection closed, or the
    /// master replaced or dropped the stream).
    AgentStreamClosed {
        agent_id: AgentId,
        stream_id: String,
    },
}

impl Command {
    /// What the command is, for logs.
    fn name(&self) -> &'static str {
        match self {
            Command::Subscribe { .. } => "SUBSCRIBE",
            Command::Call { call, .. } => call
                .r#type
                .and_then(|t| scheduler::call::Type::try_from(t).ok())
                .map_or("scheduler call", |t| t.as_str_name()),
            Command::OperatorSubscribe { .. } => "operator SUBSCRIBE",
            Command::Operator { call, .. } => call
                .r#type
                .and_then(|t| mesos_proto::v1::master::call::Type::try_from(t).ok())
                .map_or("operator call", |t| t.as_str_name()),
            Command::RegisterAgent { .. } => "agent REGISTER",
            Command::AgentCall { .. } => "agent call",
            Command::AgentStreamClosed { .. } => "agent stream closed",
        }
    }
}

/// An agent's accepted registration: where its events come from.
#[derive(Debug)]
pub(crate) struct AgentSubscription {
    pub(crate) agent_id: AgentId,
    pub(crate) stream_id: String,
    pub(crate) events: mpsc::Receiver<Box<AgentEvent>>,
    /// Fires once the admission is in the registry: only then is the
    /// agent told it is registered.
    pub(crate) committed: crate::registry::Committed,
    /// What the registration brought that the master did not keep, for
    /// the HTTP handler to drop instead of the event loop.
    pub(crate) unused: crate::registration::Unused,
}

/// An agent the master knows.
#[derive(Debug)]
pub(crate) struct Agent {
    /// Shared with state snapshots (replaced, never changed in place);
    /// `resources` is the agent's total, as it registered.
    pub(crate) info: Arc<AgentEntry>,
    pub(crate) stream_id: Option<String>,
    /// Boxed: 10,000 agents' queues of unboxed events took 190 MB.
    pub(crate) events: Option<mpsc::Sender<Box<AgentEvent>>>,
    /// When the agent was last heard from.
    pub(crate) last_seen: tokio::time::Instant,
    /// Marked unreachable: its tasks were reported lost or unreachable.
    pub(crate) unreachable: bool,
    /// When it was marked unreachable (Unix seconds).
    pub(crate) unreachable_since: Option<f64>,
    /// Executors on it, by framework and id.
    pub(crate) executors: BTreeMap<(FrameworkId, ExecutorId), Arc<ExecutorInfo>>,
    /// When it first registered with this master (Unix seconds).
    pub(crate) registered_time: f64,
    /// When it last re-registered, if it did.
    pub(crate) reregistered_time: Option<f64>,
    /// Which insertion into the agent table this is (set by
    /// [`AgentTable::insert`](crate::agent_table::AgentTable::insert)):
    /// the ping-timeout deadlines of an agent it replaced are told apart
    /// by it.
    pub(crate) inserted: u64,
}

impl Agent {
    /// An agent known only from the registry, marked unreachable: no
    /// stream, no executors known.
    pub(crate) fn unreachable(info: AgentInfo, now: tokio::time::Instant, since: f64) -> Agent {
        Agent {
            info: Arc::new(info.into()),
            stream_id: None,
            events: None,
            last_seen: now,
            unreachable: true,
            unreachable_since: Some(since),
            executors: BTreeMap::new(),
            registered_time: unix_now(),
            reregistered_time: None,
            inserted: 0,
        }
    }

    pub(crate) fn connected(&self) -> bool {
        self.events.as_ref().is_some_and(|tx| !tx.is_closed())
    }
}

/// An offer outstanding with a framework.
#[derive(Debug, Clone)]
pub(crate) struct OutstandingOffer {
    /// Its id, also its key in the master's offers: snapshots share the
    /// offer without copying the id.
    pub(crate) id: OfferId,
    pub(crate) framework_id: FrameworkId,
    pub(crate) agent_id: AgentId,
    /// Allocated to the offer's role.
    pub(crate) resources: Resources,
    /// When it was made (for `--offer_timeout`).
    pub(crate) created: tokio::time::Instant,
}

/// A framework the master knows.
#[derive(Debug)]
pub(crate) struct Framework {
    pub(crate) info: FrameworkInfo,
    pub(crate) stream_id: Option<String>,
    pub(crate) events: Option<mpsc::Sender<Box<Event>>>,
    pub(crate) capabilities: BTreeSet<i32>,
    /// Its tasks the master knows, terminal ones until acknowledged.
    /// Shared with state snapshots: a snapshot shares the map's shards,
    /// and a task is changed through `Arc::make_mut`, so a snapshot keeps
    /// the tasks as they were when it was taken. The table also keeps
    /// what the live ones use on each agent.
    pub(crate) tasks: TaskTable,
    /// Set while disconnected: when the framework is removed unless it
    /// subscribes again.
    pub(crate) failover_deadline: Option<tokio::time::Instant>,
    /// Its latest terminal tasks, oldest first, at most
    /// `--max_completed_tasks_per_framework`.
    pub(crate) completed_tasks: VecDeque<Arc<TaskEntry>>,
    /// When it subscribed with this master (unset: recovered from the
    /// registry, not subscribed since).
    pub(crate) registered_time: Option<f64>,
    /// When it last subscribed again.
    pub(crate) reregistered_time: Option<f64>,
    /// When it disconnected or was removed.
    pub(crate) unregistered_time: Option<f64>,
}

impl Framework {
    /// A framework as it subscribes.
    pub(crate) fn new(info: FrameworkInfo) -> Framework {
        Framework {
            capabilities: info.capabilities.iter().filter_map(|c| c.r#type).collect(),
            info,
            stream_id: None,
            events: None,
            tasks: TaskTable::default(),
            failover_deadline: None,
            completed_tasks: VecDeque::new(),
            registered_time: None,
            reregistered_time: None,
            unregistered_time: None,
        }
    }

    /// Moves a task to the bounded history of completed tasks.
    pub(crate) fn complete(&mut self, task: Arc<TaskEntry>, limit: usize) {
        self.completed_tasks.push_back(task);
        while self.completed_tasks.len() > limit {
            self.completed_tasks.pop_front();
        }
    }

    pub(crate) fn has(&self, capability: framework_info::capability::Type) -> bool {
        self.capabilities.contains(&(capability as i32))
    }

    pub(crate) fn connected(&self) -> bool {
        self.events.as_ref().is_some_and(|tx| !tx.is_closed())
    }

    /// The roles the framework subscribed with (`roles`, or the legacy
    /// single `role`, default `*`).
    pub(crate) fn roles(&self) -> BTreeSet<String> {
        roles_of(&self.info)
    }
}

pub(crate) fn roles_of(info: &FrameworkInfo) -> BTreeSet<String> {
    if info.roles.is_empty() {
        BTreeSet::from([info.role.clone().unwrap_or_else(|| "*".to_string())])
    } else {
        info.roles.iter().cloned().collect()
    }
}

/// The master's state, owned by one task.
#[derive(Debug)]
pub(crate) struct MasterActor {
    pub(crate) config: MasterConfig,
    pub(crate) info: MasterInfo,
    pub(crate) frameworks: BTreeMap<FrameworkId, Framework>,
    /// Frameworks torn down: they may not come back.
    pub(crate) removed_frameworks: BTreeSet<FrameworkId>,
    /// The latest removed frameworks, oldest first, at most
    /// `--max_completed_frameworks`.
    pub(crate) completed_frameworks: VecDeque<Framework>,
    /// Counters for `/metrics/snapshot`.
    pub(crate) metrics: Counters,
    /// Something happened that may make offers possible (a framework or
    /// agent arrived, a revive): allocate once the queued commands are
    /// handled, not at the next interval.
    pub(crate) allocation_pending: bool,
    /// What the loop let go of, dropped in later turns.
    pub(crate) reclaim: crate::reclaim::Reclaim,
    /// Teardowns with parts left for later turns, oldest first.
    pub(crate) teardowns: VecDeque<crate::teardown::Teardown>,
    /// Offers withdrawn whose resources are not back with the allocator
    /// yet (a framework that disconnects holding thousands), oldest
    /// first.
    pub(crate) recovering: VecDeque<Arc<OutstandingOffer>>,
    /// Operator API subscribers.
    pub(crate) operator_subscribers: Vec<mpsc::Sender<Box<mesos_proto::v1::master::Event>>>,
    pub(crate) allocator: Allocator,
    /// What must survive the master.
    pub(crate) registry: Registry,
    /// With what snapshots show of each (`agent_table`).
    pub(crate) agents: AgentTable,
    /// Agents of the registry that have not re-registered since the
    /// master started; marked unreachable at `reregister_deadline`.
    /// Shared with snapshots by shard: at 10,000 agents, copying them
    /// into every snapshot took 14 ms of the loop while they came back.
    pub(crate) recovered_agents: crate::cow_map::CowMap<AgentId, AgentInfo>,
    /// When the registry is next pruned of unreachable and gone agents.
    pub(crate) next_registry_gc: tokio::time::Instant,
    pub(crate) reregister_deadline: tokio::time::Instant,
    /// Agents an operator marked gone, and when (Unix seconds).
    pub(crate) gone_agents: BTreeMap<AgentId, f64>,
    /// Role weights that differ from 1.
    pub(crate) weights: BTreeMap<String, f64>,
    /// Quota per role.
    pub(crate) quotas: BTreeMap<String, QuotaConfig>,
    /// Shared with state snapshots.
    pub(crate) offers: BTreeMap<OfferId, Arc<OutstandingOffer>>,
    pub(crate) next_framework: u64,
    pub(crate) next_agent: u64,
    pub(crate) next_offer: u64,
    /// Allocator time starts here.
    pub(crate) epoch: tokio::time::Instant,
    /// When the master started (Unix seconds).
    pub(crate) start_time: f64,
    /// The last agent heartbeated (agents are heartbeated in turn).
    pub(crate) heartbeat_cursor: Option<AgentId>,
    /// Heartbeats due and not sent yet: a fraction of an agent per tick
    /// adds up until one is due.
    pub(crate) heartbeats_due: f64,
}

/// Commands handled before an event-triggered allocation runs.
const BATCH: usize = 1024;

/// A batch of commands also ends after this long, so that a burst of
/// costly ones (ACCEPTs launching many tasks) does not hold the loop: the
/// rest are handled next turn, after whatever else is due.
const BATCH_TIME: std::time::Duration = std::time::Duration::from_millis(5);

/// How often timers are checked (and a share of agents heartbeated).
const HOUSEKEEPING: std::time::Duration = std::time::Duration::from_millis(100);

/// What woke the event loop.
enum Wake {
    Command(Command),
    Heartbeat,
    Allocation,
    Housekeeping,
    /// Work left from earlier turns: teardowns, memory to free.
    Later,
}

impl Wake {
    /// What woke the loop, for the log.
    fn kind(&self) -> &'static str {
        match self {
            Wake::Command(_) => "commands",
            Wake::Heartbeat => "heartbeat",
            Wake::Allocation => "allocation",
            Wake::Housekeeping => "housekeeping",
            Wake::Later => "later",
        }
    }
}

/// Cumulative counts for the metrics endpoints.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) agent_registrations: u64,
    pub(crate) agent_reregistrations: u64,
    pub(crate) agent_removals: u64,
    pub(crate) valid_status_updates: u64,
    pub(crate) invalid_status_updates: u64,
    /// Operation status acknowledgements for statuses the master does not
    /// know (all of them, until operations with ids are accepted).
    pub(crate) invalid_operation_status_update_acknowledgements: u64,
    pub(crate) declines: u64,
    pub(crate) accepts: u64,
    pub(crate) allocation_runs: u64,
    pub(crate) last_allocation_ms: f64,
    pub(crate) valid_framework_to_executor_messages: u64,
    pub(crate) invalid_framework_to_executor_messages: u64,
    pub(crate) valid_executor_to_framework_messages: u64,
    pub(crate) invalid_executor_to_framework_messages: u64,
    pub(crate) exited_executors: u64,
    pub(crate) shutdown_executors: u64,
    /// Tasks that reached each terminal state.
    pub(crate) terminal: BTreeMap<i32, u64>,
    /// Turns of the event loop and how long they held it up.
    pub(crate) turns: crate::turns::TurnCounts,
}

/// A framework's failover timeout (0 when unset or invalid).
pub(crate) fn failover_timeout(info: &FrameworkInfo) -> std::time::Duration {
    info.failover_timeout
        .filter(|t| t.is_finite() && *t > 0.0)
        .map_or(std::time::Duration::ZERO, |t| {
            std::time::Duration::try_from_secs_f64(t).unwrap_or(std::time::Duration::MAX)
        })
}

/// The `MasterInfo` of a master at `addr` with `id`.
pub(crate) fn master_info(config: &MasterConfig, addr: SocketAddr, id: String) -> MasterInfo {
    let ip = addr.ip();
    let hostname = config.hostname.clone().unwrap_or_else(|| ip.to_string());
    // MasterInfo.ip is an IPv4 address in network byte order, read as a
    // little-endian integer by Mesos' C++ (it stores `in_addr.s_addr`).
    let ip_u32 = match ip {
        IpAddr::V4(v4) => u32::from_le_bytes(v4.octets()),
        IpAddr::V6(_) => 0,
    };
    MasterInfo {
        id,
        ip: ip_u32,
        port: u32::from(addr.port()),
        pid: Some(format!("master@{ip}:{}", addr.port())),
        hostname: Some(hostname.clone()),
        version: Some(MESOS_VERSION.to_string()),
        address: Some(mesos_proto::v1::Address {
            hostname: Some(hostname),
            ip: Some(ip.to_string()),
            port: i32::from(addr.port()),
        }),
        ..Default::default()
    }
}

impl MasterActor {
    /// A master with what the registry recovered: agents wait to
    /// re-register, frameworks to resubscribe (their failover deadlines
    /// still running), weights and quota in force.
    pub(crate) fn new(
        config: MasterConfig,
        info: MasterInfo,
        registry: Registry,
        recovered: Recovered,
    ) -> MasterActor {
        let mut allocator = Allocator::new(config.allocator.clone());
        let mut weights: BTreeMap<String, f64> = config.weights.clone();
        weights.extend(recovered.weights);
        for (role, weight) in &weights {
            allocator.set_weight(role, *weight);
        }
        let now = tokio::time::Instant::now();
        let gc_interval = config.registry_gc_interval;
        let mut actor = MasterActor {
            info,
            allocator,
            registry,
            reregister_deadline: now + config.agent_reregister_timeout,
            config,
            frameworks: BTreeMap::new(),
            removed_frameworks: BTreeSet::new(),
            completed_frameworks: VecDeque::new(),
            metrics: Counters::default(),
            allocation_pending: false,
            reclaim: Default::default(),
            teardowns: VecDeque::new(),
            recovering: VecDeque::new(),
            operator_subscribers: Vec::new(),
            agents: AgentTable::default(),
            recovered_agents: crate::cow_map::CowMap::default(),
            next_registry_gc: tokio::time::Instant::now() + gc_interval,
            gone_agents: BTreeMap::new(),
            weights,
            quotas: BTreeMap::new(),
            offers: BTreeMap::new(),
            next_framework: 0,
            next_agent: 0,
            next_offer: 0,
            epoch: now,
            start_time: unix_now(),
            heartbeat_cursor: None,
            heartbeats_due: 0.0,
        };
        for quota in recovered.quotas {
            actor.apply_quota(&quota);
            actor.quotas.insert(quota.role.clone(), quota);
        }
        for stored in recovered.agents {
            let Some(id) = stored.info.id.clone() else {
                continue;
            };
            match AgentStanding::try_from(stored.standing) {
                Ok(AgentStanding::Admitted) => {
                    actor.recovered_agents.insert(id, stored.info);
                }
                Ok(AgentStanding::Unreachable) => {
                    actor.agents.insert(
                        id,
                        Agent::unreachable(stored.info, now, stored.since.unwrap_or_else(unix_now)),
                    );
                }
                Ok(AgentStanding::Gone) | Err(_) => {
                    actor.gone_agents.insert(id, stored.since.unwrap_or(0.0));
                }
            }
        }
        let unix = unix_now();
        for stored in recovered.frameworks {
            let Some(id) = stored.info.id.clone() else {
                continue;
            };
            // Connected when the old master stopped: its clock starts now.
            let deadline_unix = stored
                .failover_deadline
                .unwrap_or_else(|| unix + failover_timeout(&stored.info).as_secs_f64());
            let left = std::time::Duration::try_from_secs_f64((deadline_unix - unix).max(0.0))
                .unwrap_or(std::time::Duration::MAX);
            let mut framework = Framework::new(stored.info);
            framework.failover_deadline = Some(now.checked_add(left).unwrap_or(now));
            actor
                .allocator
                .add_framework(id.clone(), Self::allocator_options(&framework));
            actor.allocator.deactivate_framework(&id);
            if stored.failover_deadline.is_none() {
                let _ = actor
                    .registry
                    .put_framework(&framework.info, Some(deadline_unix));
            }
            actor.frameworks.insert(id, framework);
        }
        if !actor.recovered_agents.is_empty() || !actor.frameworks.is_empty() {
            tracing::info!(
                agents = actor.recovered_agents.len(),
                frameworks = actor.frameworks.len(),
                "recovered the registry; waiting for agents to re-register"
            );
        }
        actor
    }

    /// Runs until every command sender is gone.
    pub(crate) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut heartbeat = tokio::time::interval(self.config.heartbeat_interval);
        heartbeat.tick().await;
        let mut allocation = tokio::time::interval(self.config.allocation_interval);
        allocation.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Frameworks whose deadline passed while no master ran go first.
        self.housekeeping();
        loop {
            let wake = tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => Wake::Command(command),
                    None => break,
                },
                _ = heartbeat.tick() => Wake::Heartbeat,
                _ = allocation.tick() => Wake::Allocation,
                // The rest of a cycle split in parts.
                () = std::future::ready(()), if self.allocation_pending => Wake::Allocation,
                _ = housekeeping.tick() => Wake::Housekeeping,
                // Work left from earlier turns.
                () = std::future::ready(()), if self.has_later_work() => Wake::Later,
            };
            let timer = crate::turns::TurnTimer::start();
            let kind = wake.kind();
            let mut batch = 1;
            let mut handled = std::time::Duration::ZERO;
            match wake {
                Wake::Command(command) => {
                    self.handle(command);
                    // A batch: what else is queued, then one allocation
                    // for all of it.
                    for _ in 0..BATCH {
                        if timer.elapsed() > BATCH_TIME {
                            break;
                        }
                        match commands.try_recv() {
                            Ok(command) => {
                                self.handle(command);
                                batch += 1;
                            }
                            Err(_) => break,
                        }
                    }
                    handled = timer.elapsed();
                    if self.allocation_pending {
                        self.allocate();
                    }
                }
                Wake::Heartbeat => self.heartbeat(),
                Wake::Allocation => self.allocate(),
                Wake::Housekeeping => self.housekeeping(),
                Wake::Later => {
                    self.recover_withdrawn(crate::teardown::TURN);
                    self.continue_teardowns(crate::teardown::TURN);
                    self.reclaim.run(crate::reclaim::TURN);
                }
            }
            let turn = timer.stop();
            if turn.slow() {
                tracing::debug!(
                    wake = kind,
                    ms = turn.wall.as_secs_f64() * 1e3,
                    cpu_ms = turn.cpu.as_secs_f64() * 1e3,
                    batch,
                    handled_ms = handled.as_secs_f64() * 1e3,
                    "event loop turn past 10 ms"
                );
            }
            self.metrics.turns.count(turn);
        }
        tracing::info!("master stopped");
    }

    /// Whether earlier turns left work for later ones.
    fn has_later_work(&self) -> bool {
        self.reclaim.is_pending() || self.teardowns_pending() > 0 || !self.recovering.is_empty()
    }

    fn handle(&mut self, command: Command) {
        let started = std::time::Instant::now();
        let name = command.name();
        self.dispatch(command);
        let held = started.elapsed();
        if held > std::time::Duration::from_millis(10) {
            tracing::debug!(
                command = name,
                ms = held.as_secs_f64() * 1e3,
                "slow command"
            );
        }
    }

    fn dispatch(&mut self, command: Command) {
        match command {
            Command::Subscribe {
                call_framework_id,
                subscribe,
                reply,
            } => {
                let _ = reply.send(self.subscribe(call_framework_id, *subscribe));
            }
            Command::Call {
                stream_id,
                call,
                reply,
            } => {
                let _ = reply.send(self.call(stream_id, *call));
            }
            Command::OperatorSubscribe { reply } => {
                let _ = reply.send(self.operator_subscribe());
            }
            Command::Operator { call, reply } => {
                let _ = reply.send(self.operator_call(*call));
            }
            Command::RegisterAgent { register, reply } => {
                let _ = reply.send(self.register_agent(*register));
            }
            Command::AgentStreamClosed {
                agent_id,
                stream_id,
            } => self.agent_stream_closed(&agent_id, &stream_id),
            Command::AgentCall {
                stream_id,
                call,
                reply,
            } => {
                let _ = reply.send(self.agent_call(stream_id, *call));
            }
        }
    }

    /// A new framework id: `<master id>-<sequence>`, as Mesos forms them.
    pub(crate) fn new_framework_id(&mut self) -> FrameworkId {
        let id = FrameworkId::new(format!("{}-{:04}", self.info.id, self.next_framework));
        self.next_framework += 1;
        id
    }

    /// Sends an event to a framework; a closed or full stream disconnects it.
    pub(crate) fn send(&mut self, framework_id: &FrameworkId, event: Event) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let Some(tx) = &framework.events else {
            return;
        };
        if let Err(e) = tx.try_send(Box::new(event)) {
            let why = match e {
                mpsc::error::TrySendError::Full(_) => "its event queue is full",
                mpsc::error::TrySendError::Closed(_) => "its stream closed",
            };
            tracing::info!(framework = %framework_id, "disconnecting framework: {why}");
            self.disconnect(framework_id);
        }
    }

    /// Marks a framework disconnected: no stream, no offers (outstanding
    /// ones go back), and its failover timeout starts.
    pub(crate) fn disconnect(&mut self, framework_id: &FrameworkId) {
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            framework.events = None;
            framework.stream_id = None;
            framework.unregistered_time = Some(unix_now());
            let timeout = failover_timeout(&framework.info);
            framework.failover_deadline = tokio::time::Instant::now().checked_add(timeout);
            let deadline_unix = unix_now() + timeout.as_secs_f64();
            let _ = self
                .registry
                .put_framework(&framework.info, Some(deadline_unix));
            self.allocator.deactivate_framework(framework_id);
            tracing::info!(framework = %framework_id, ?timeout, "framework disconnected");
            self.publish_framework(framework_id, false);
        }
        self.recover_offers_of(framework_id);
    }

    /// Timers: frameworks past their failover timeout are removed; agents
    /// silent too long are marked unreachable.
    fn housekeeping(&mut self) {
        let now = tokio::time::Instant::now();
        self.agent_heartbeat(HOUSEKEEPING);
        // Streams the client closed: the framework disconnected now, not
        // at the next heartbeat.
        let closed: Vec<FrameworkId> = self
            .frameworks
            .iter()
            .filter(|(_, f)| f.events.as_ref().is_some_and(mpsc::Sender::is_closed))
            .map(|(id, _)| id.clone())
            .collect();
        for id in closed {
            self.disconnect(&id);
        }
        let expired: Vec<FrameworkId> = self
            .frameworks
            .iter()
            .filter(|(_, f)| f.failover_deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            tracing::info!(framework = %id, "framework failover timeout elapsed; removing it");
            self.teardown(&id);
        }
        self.check_agents(now);
        self.expire_offers(now);
        if now >= self.next_registry_gc {
            self.next_registry_gc = now + self.config.registry_gc_interval;
            self.registry_gc();
        }
        if now >= self.reregister_deadline && !self.recovered_agents.is_empty() {
            self.expire_recovered_agents();
        }
    }

    /// Allocator time: since the master started.
    pub(crate) fn now(&self) -> std::time::Duration {
        self.epoch.elapsed()
    }

    fn heartbeat(&mut self) {
        self.publish_heartbeat();
        let ids: Vec<FrameworkId> = self.frameworks.keys().cloned().collect();
        for id in ids {
            let connected = self.frameworks.get(&id).is_some_and(Framework::connected);
            if connected {
                let beat = Event {
                    r#type: Some(event::Type::Heartbeat as i32),
                    ..Default::default()
                };
                self.send(&id, beat);
            } else if self.frameworks.get(&id).is_some_and(|f| f.events.is_some()) {
                self.disconnect(&id);
            }
        }
    }

    /// Options for the allocator from a framework's info.
    pub(crate) fn allocator_options(framework: &Framework) -> FrameworkOptions {
        use framework_info::capability::Type as Cap;
        FrameworkOptions {
            roles: framework.roles(),
            suppressed_roles: BTreeSet::new(),
            gpu_resources: framework.has(Cap::GpuResources),
            revocable_resources: framework.has(Cap::RevocableResources),
        }
    }
}
