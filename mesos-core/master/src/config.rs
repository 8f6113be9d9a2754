//! The master's settings, named after Mesos' master flags.

use crate::allocator::AllocatorConfig;
use mesos_state::AnyStore;
use mesos_state::zk::ZkUrl;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Agents offered per turn of the master's event loop by default: about
/// 4 ms of work at 15 us per offer (deciding it and making it, measured
/// in a master with 10,000 agents).
pub const AGENTS_PER_TURN: usize = 256;

/// Agents looked at per turn of the master's event loop by default,
/// offered or not: about 2 ms at the 1 us each a blocked agent costs when
/// a framework changed (re-judging it against that framework).
pub const AGENT_VISITS_PER_TURN: usize = 2048;

/// The Mesos version this master speaks and reports (`/version`,
/// `MasterInfo.version`): clients parse it as integers.
pub const MESOS_VERSION: &str = "1.11.0";

/// Master settings. `Default` gives Mesos' defaults on loopback.
#[derive(Debug, Clone)]
pub struct MasterConfig {
    /// `--ip`: the address to listen on.
    pub ip: IpAddr,
    /// `--port` (default 5050; 0 picks a free port).
    pub port: u16,
    /// `--hostname`: advertised in `MasterInfo` (default: the IP).
    pub hostname: Option<String>,
    /// How often subscribed frameworks get a HEARTBEAT event (Mesos: 15 s).
    pub heartbeat_interval: Duration,
    /// `--allocation_interval`: how often offers are made (Mesos: 1 s).
    pub allocation_interval: Duration,
    /// `--agent_ping_timeout`: how long an agent may be silent before a
    /// ping counts as missed (Mesos: 15 s).
    pub agent_ping_timeout: Duration,
    /// `--max_agent_ping_timeouts`: missed pings before an agent is marked
    /// unreachable (Mesos: 5).
    pub max_agent_ping_timeouts: u32,
    /// The largest request body accepted; larger ones get 413.
    pub max_request_body: usize,
    /// Events queued for one subscriber before it is judged too slow and
    /// disconnected (default 262,144: a burst of updates for 100,000 tasks
    /// fits; Mesos' own queues are unbounded).
    pub event_queue: usize,
    /// The allocator's settings. The master's default offers at most
    /// [`AGENTS_PER_TURN`] agents and looks at most at
    /// [`AGENT_VISITS_PER_TURN`] per turn of its event loop, so a cycle
    /// over thousands of agents does not hold the loop for long.
    pub allocator: AllocatorConfig,
    /// `--weights`: role weights (default 1 each). Weights in the
    /// registry (set by UPDATE_WEIGHTS) take precedence, as in Mesos.
    pub weights: BTreeMap<String, f64>,
    /// `--max_completed_frameworks`: removed frameworks kept for the state
    /// endpoints (Mesos: 50).
    pub max_completed_frameworks: usize,
    /// `--max_completed_tasks_per_framework`: terminal tasks kept per
    /// framework for the state endpoints (Mesos: 1000).
    pub max_completed_tasks_per_framework: usize,
    /// `--offer_timeout`: how long an offer may stay outstanding before it
    /// is rescinded (Mesos: none).
    pub offer_timeout: Option<Duration>,
    /// `--registry`: where the registry lives.
    pub registry: RegistryConfig,
    /// `--agent_reregister_timeout`: after a restart, how long agents of
    /// the registry have to re-register before they are marked
    /// unreachable (Mesos: 10 minutes).
    pub agent_reregister_timeout: Duration,
    /// `--registry_max_agent_age`: how long unreachable and gone agents
    /// stay in the registry (Mesos: 2 weeks).
    pub registry_max_agent_age: Duration,
    /// `--registry_max_agent_count`: how many unreachable (and, apart,
    /// gone) agents the registry keeps at most, the oldest going first
    /// (Mesos: 102,400).
    pub registry_max_agent_count: usize,
    /// `--registry_gc_interval`: how often the registry is pruned
    /// (Mesos: 15 minutes).
    pub registry_gc_interval: Duration,
    /// `--zk`: the ZooKeeper group in which masters elect their leader
    /// (`zk://h1:2181,h2:2181/mesos`). Without it this master leads alone.
    pub zk: Option<ZkUrl>,
    /// `--zk_session_timeout`: the ZooKeeper session timeout (Mesos: 10 s).
    /// A leader whose session is lost steps down; a dead leader is
    /// replaced once its session expires.
    pub zk_session_timeout: Duration,
}

/// `--registry`: where the master keeps what must survive it.
#[derive(Debug, Clone, Default)]
pub enum RegistryConfig {
    /// `in_memory`: lost when the master stops (tests, throwaway clusters).
    #[default]
    InMemory,
    /// `local`: a file under `--work_dir` (`<work_dir>/registry`).
    Local {
        /// `--work_dir`.
        work_dir: PathBuf,
    },
    /// `replicated`: in ZooKeeper, under `<zk path>/registry`, written
    /// only while this master leads (needs `zk`).
    Replicated,
    /// A store the caller opened (shared by masters in one process in
    /// tests, or a backend this crate does not open itself).
    Store(Arc<AnyStore>),
}

impl Default for MasterConfig {
    fn default() -> Self {
        MasterConfig {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 5050,
            hostname: None,
            heartbeat_interval: Duration::from_secs(15),
            allocation_interval: Duration::from_secs(1),
            agent_ping_timeout: Duration::from_secs(15),
            max_agent_ping_timeouts: 5,
            max_request_body: 16 * 1024 * 1024,
            event_queue: 256 * 1024,
            allocator: AllocatorConfig {
                max_agents_offered: Some(AGENTS_PER_TURN),
                max_agents_visited: Some(AGENT_VISITS_PER_TURN),
                ..AllocatorConfig::default()
            },
            weights: BTreeMap::new(),
            max_completed_frameworks: 50,
            max_completed_tasks_per_framework: 1000,
            offer_timeout: None,
            registry: RegistryConfig::InMemory,
            agent_reregister_timeout: Duration::from_secs(600),
            registry_max_agent_age: Duration::from_secs(14 * 24 * 3600),
            registry_max_agent_count: 100 * 1024,
            registry_gc_interval: Duration::from_secs(15 * 60),
            zk: None,
            zk_session_timeout: mesos_state::zk::DEFAULT_SESSION_TIMEOUT,
        }
    }
}
