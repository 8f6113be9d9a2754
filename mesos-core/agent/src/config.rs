//! The agent's settings, named after Mesos' agent flags.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

/// `--recover`: what a restarted agent does with what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecoverMode {
    /// Re-adopt live executors of checkpointing frameworks (Mesos'
    /// default).
    #[default]
    Reconnect,
    /// Kill what is left and start afresh.
    Cleanup,
}

impl std::str::FromStr for RecoverMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "reconnect" => Ok(RecoverMode::Reconnect),
            "cleanup" => Ok(RecoverMode::Cleanup),
            other => Err(format!("expected reconnect or cleanup, got `{other}`")),
        }
    }
}

/// Agent settings. `Default` gives Mesos' defaults on loopback, except
/// `master` and `work_dir`, which a real agent must be given.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AgentConfig {
    /// `--master`: the master's `host:port`.
    pub master: String,
    /// `--ip`: the address to listen on.
    pub ip: IpAddr,
    /// `--port` (default 5051; 0 picks a free port).
    pub port: u16,
    /// `--hostname`: advertised to the master (default: the IP).
    pub hostname: Option<String>,
    /// `--work_dir`: sandboxes and checkpoints.
    pub work_dir: PathBuf,
    /// `--resources` text; what is not given is detected.
    pub resources: Option<String>,
    /// `--attributes` text (`rack:2;zone:a`).
    pub attributes: String,
    /// `--isolation`, comma separated (`posix/cpu,posix/mem` by default).
    pub isolation: String,
    /// `--cgroups_root`: where containers' cgroups go in each hierarchy
    /// (Mesos: `mesos`).
    pub cgroups_root: String,
    /// `--cgroups_enable_cfs`: hard cpu limits with the CFS quota, not only
    /// shares (Mesos: false).
    pub cgroups_enable_cfs: bool,
    /// `--executor_registration_timeout` (Mesos: 1 min).
    pub executor_registration_timeout: Duration,
    /// `--executor_shutdown_grace_period` (Mesos: 5 secs).
    pub executor_shutdown_grace_period: Duration,
    /// `--recover`.
    pub recover: RecoverMode,
    /// `--recovery_timeout`: how long executors wait for a restarted
    /// agent (Mesos: 15 mins).
    pub recovery_timeout: Duration,
    /// `--gc_delay`: how long a finished sandbox is kept (Mesos: 1 week).
    pub gc_delay: Duration,
    /// `--fetcher_cache_dir`.
    pub fetcher_cache_dir: Option<PathBuf>,
    /// `--fetcher_cache_size` in bytes (Mesos: 2 GB).
    pub fetcher_cache_size: u64,
    /// The `mesos` binary, run as `mesos executor command` for command
    /// tasks (default: this process's own executable).
    pub launcher: Option<PathBuf>,
    /// How often the agent tells the master it is alive.
    pub heartbeat_interval: Duration,
    /// The first wait before a status update is resent (Mesos: 10 secs,
    /// doubling up to `status_update_retry_max`).
    pub status_update_retry: Duration,
    /// The longest wait between resends (Mesos: 10 mins).
    pub status_update_retry_max: Duration,
    /// The largest request body accepted; larger ones get 413.
    pub max_request_body: usize,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            master: "127.0.0.1:5050".into(),
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 5051,
            hostname: None,
            work_dir: PathBuf::from("/var/lib/mesos"),
            resources: None,
            attributes: String::new(),
            isolation: "posix/cpu,posix/mem".into(),
            cgroups_root: "mesos".into(),
            cgroups_enable_cfs: false,
            executor_registration_timeout: Duration::from_secs(60),
            executor_shutdown_grace_period: Duration::from_secs(5),
            recover: RecoverMode::Reconnect,
            recovery_timeout: Duration::from_secs(15 * 60),
            gc_delay: Duration::from_secs(7 * 86400),
            fetcher_cache_dir: None,
            fetcher_cache_size: 2 << 30,
            launcher: None,
            heartbeat_interval: Duration::from_secs(5),
            status_update_retry: Duration::from_secs(10),
            status_update_retry_max: Duration::from_secs(600),
            max_request_body: 16 << 20,
        }
    }
}
