//! The master's settings, named after Mesos' master flags.

use crate::allocator::AllocatorConfig;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

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
    /// disconnected.
    pub event_queue: usize,
    /// The allocator's settings.
    pub allocator: AllocatorConfig,
    /// `--weights`: role weights (default 1 each).
    pub weights: BTreeMap<String, f64>,
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
            event_queue: 16 * 1024,
            allocator: AllocatorConfig::default(),
            weights: BTreeMap::new(),
        }
    }
}
