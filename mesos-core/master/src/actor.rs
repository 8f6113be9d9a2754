//! The master's single owner of mutable state.
//!
//! One task receives [`Command`]s in order and answers them (the Mesos
//! master actor), so cluster state needs no locks. HTTP handlers only
//! translate requests into commands and replies into responses.

use crate::allocator::{Allocator, FrameworkOptions};
use crate::config::{MESOS_VERSION, MasterConfig};
use mesos_proto::agent_protocol::{AgentCall, AgentEvent, agent_call};
use mesos_proto::resources::Resources;
use mesos_proto::v1::scheduler::{self, Event, event};
use mesos_proto::v1::{
    AgentId, AgentInfo, FrameworkId, FrameworkInfo, MasterInfo, OfferId, Task, TaskId,
    framework_info,
};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
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
    /// 503: the master is shutting down.
    #[error("{0}")]
    Unavailable(String),
}

/// A new subscription: where its events come from.
#[derive(Debug)]
pub(crate) struct Subscription {
    pub(crate) stream_id: String,
    pub(crate) events: mpsc::Receiver<Event>,
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
        reply: oneshot::Sender<Result<(), CallError>>,
    },
    /// The master's `MasterInfo` and start time.
    GetMasterInfo {
        reply: oneshot::Sender<(MasterInfo, f64)>,
    },
    /// The frameworks, for the operator API.
    GetFrameworks {
        reply: oneshot::Sender<Vec<FrameworkView>>,
    },
    /// The agents, for the operator API.
    GetAgents {
        reply: oneshot::Sender<Vec<mesos_proto::v1::master::response::get_agents::Agent>>,
    },
    /// An agent's REGISTER.
    RegisterAgent {
        register: Box<agent_call::Register>,
        reply: oneshot::Sender<Result<AgentSubscription, CallError>>,
    },
    /// Any other agent call, with the request's `Mesos-Stream-Id`.
    AgentCall {
        stream_id: Option<String>,
        call: Box<AgentCall>,
        reply: oneshot::Sender<Result<(), CallError>>,
    },
}

/// An agent's accepted registration: where its events come from.
#[derive(Debug)]
pub(crate) struct AgentSubscription {
    pub(crate) stream_id: String,
    pub(crate) events: mpsc::Receiver<AgentEvent>,
}

/// An agent the master knows.
#[derive(Debug)]
pub(crate) struct Agent {
    pub(crate) info: AgentInfo,
    pub(crate) total: Resources,
    pub(crate) stream_id: Option<String>,
    pub(crate) events: Option<mpsc::Sender<AgentEvent>>,
    /// When the agent was last heard from.
    pub(crate) last_seen: tokio::time::Instant,
    /// Marked unreachable: its tasks were reported lost or unreachable.
    pub(crate) unreachable: bool,
}

impl Agent {
    pub(crate) fn connected(&self) -> bool {
        self.events.as_ref().is_some_and(|tx| !tx.is_closed())
    }
}

/// An offer outstanding with a framework.
#[derive(Debug, Clone)]
pub(crate) struct OutstandingOffer {
    pub(crate) framework_id: FrameworkId,
    pub(crate) agent_id: AgentId,
    /// Allocated to the offer's role.
    pub(crate) resources: Resources,
}

/// A framework as the operator API shows it.
#[derive(Debug, Clone)]
pub(crate) struct FrameworkView {
    pub(crate) info: FrameworkInfo,
    pub(crate) active: bool,
    pub(crate) connected: bool,
}

/// A framework the master knows.
#[derive(Debug)]
pub(crate) struct Framework {
    pub(crate) info: FrameworkInfo,
    pub(crate) stream_id: Option<String>,
    pub(crate) events: Option<mpsc::Sender<Event>>,
    pub(crate) capabilities: BTreeSet<i32>,
    /// Its tasks the master knows, terminal ones until acknowledged.
    pub(crate) tasks: BTreeMap<TaskId, Task>,
    /// Set while disconnected: when the framework is removed unless it
    /// subscribes again.
    pub(crate) failover_deadline: Option<tokio::time::Instant>,
}

impl Framework {
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
    pub(crate) allocator: Allocator,
    pub(crate) agents: BTreeMap<AgentId, Agent>,
    pub(crate) offers: BTreeMap<OfferId, OutstandingOffer>,
    pub(crate) next_framework: u64,
    pub(crate) next_agent: u64,
    pub(crate) next_offer: u64,
    /// Allocator time starts here.
    pub(crate) epoch: tokio::time::Instant,
    /// When the master started (Unix seconds).
    pub(crate) start_time: f64,
}

fn master_info(config: &MasterConfig, addr: SocketAddr, id: String) -> MasterInfo {
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
    pub(crate) fn new(config: MasterConfig, addr: SocketAddr) -> MasterActor {
        let id = uuid::Uuid::new_v4().to_string();
        let mut allocator = Allocator::new(config.allocator.clone());
        for (role, weight) in &config.weights {
            allocator.set_weight(role, *weight);
        }
        MasterActor {
            info: master_info(&config, addr, id),
            allocator,
            config,
            frameworks: BTreeMap::new(),
            removed_frameworks: BTreeSet::new(),
            agents: BTreeMap::new(),
            offers: BTreeMap::new(),
            next_framework: 0,
            next_agent: 0,
            next_offer: 0,
            epoch: tokio::time::Instant::now(),
            start_time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        }
    }

    /// Runs until every command sender is gone.
    pub(crate) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut heartbeat = tokio::time::interval(self.config.heartbeat_interval);
        heartbeat.tick().await;
        let mut allocation = tokio::time::interval(self.config.allocation_interval);
        allocation.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut housekeeping = tokio::time::interval(std::time::Duration::from_millis(100));
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.handle(command),
                    None => break,
                },
                _ = heartbeat.tick() => self.heartbeat(),
                _ = allocation.tick() => self.allocate(),
                _ = housekeeping.tick() => self.housekeeping(),
            }
        }
        tracing::info!("master stopped");
    }

    fn handle(&mut self, command: Command) {
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
            Command::GetMasterInfo { reply } => {
                let _ = reply.send((self.info.clone(), self.start_time));
            }
            Command::GetAgents { reply } => {
                let agents = self
                    .agents
                    .values()
                    .map(|a| mesos_proto::v1::master::response::get_agents::Agent {
                        agent_info: a.info.clone(),
                        active: a.connected(),
                        version: MESOS_VERSION.to_string(),
                        total_resources: a.total.clone().into_vec(),
                        ..Default::default()
                    })
                    .collect();
                let _ = reply.send(agents);
            }
            Command::RegisterAgent { register, reply } => {
                let _ = reply.send(self.register_agent(*register));
            }
            Command::AgentCall {
                stream_id,
                call,
                reply,
            } => {
                let _ = reply.send(self.agent_call(stream_id, *call));
            }
            Command::GetFrameworks { reply } => {
                let views = self
                    .frameworks
                    .values()
                    .map(|f| FrameworkView {
                        info: f.info.clone(),
                        active: f.connected(),
                        connected: f.connected(),
                    })
                    .collect();
                let _ = reply.send(views);
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
        if let Err(e) = tx.try_send(event) {
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
            let timeout = framework
                .info
                .failover_timeout
                .filter(|t| t.is_finite() && *t > 0.0)
                .map_or(std::time::Duration::ZERO, |t| {
                    std::time::Duration::try_from_secs_f64(t).unwrap_or(std::time::Duration::MAX)
                });
            framework.failover_deadline = tokio::time::Instant::now().checked_add(timeout);
            self.allocator.deactivate_framework(framework_id);
            tracing::info!(framework = %framework_id, ?timeout, "framework disconnected");
        }
        self.recover_offers_of(framework_id);
    }

    /// Timers: frameworks past their failover timeout are removed; agents
    /// silent too long are marked unreachable.
    fn housekeeping(&mut self) {
        let now = tokio::time::Instant::now();
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
    }

    /// Allocator time: since the master started.
    pub(crate) fn now(&self) -> std::time::Duration {
        self.epoch.elapsed()
    }

    fn heartbeat(&mut self) {
        self.agent_heartbeat();
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
