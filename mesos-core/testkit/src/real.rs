//! A master and a real agent (real executors, real processes) on
//! loopback, for end-to-end tests.

use crate::TestkitError;
use mesos_agent::{Agent, AgentConfig};
use mesos_master::{Master, MasterConfig};
use std::path::Path;
use std::time::Duration;

/// Starts a master (free port, 50 ms allocation interval) and a real
/// agent registered with it, working in `work_dir`, with `cpus:2;
/// mem:512; disk:1024; ports:[31000-31100]`, updates resent every second
/// and a 2 s shutdown grace period; `configure` adjusts the agent's
/// settings before it starts (its launcher, its isolation, ...).
pub async fn master_and_agent(
    work_dir: &Path,
    configure: impl FnOnce(&mut AgentConfig),
) -> Result<(Master, Agent), TestkitError> {
    let master = Master::start(MasterConfig {
        port: 0,
        allocation_interval: Duration::from_millis(50),
        ..Default::default()
    })
    .await
    .map_err(|e| TestkitError::Setup(e.to_string()))?;
    let mut config = agent_config(master.addr(), work_dir);
    configure(&mut config);
    let agent = Agent::start(config)
        .await
        .map_err(|e| TestkitError::Setup(e.to_string()))?;
    tokio::time::timeout(Duration::from_secs(30), agent.registered())
        .await
        .map_err(|_| TestkitError::Timeout("the agent to register"))?;
    Ok((master, agent))
}

/// The settings [`master_and_agent`] gives its agent: any free port,
/// `cpus:2;mem:512;disk:1024;ports:[31000-31100]`, status updates resent
/// after 1 s, a 2 s executor shutdown grace period. Also for starting the
/// same agent again (with its port) after stopping it.
pub fn agent_config(master: std::net::SocketAddr, work_dir: &Path) -> AgentConfig {
    let mut config = AgentConfig::default();
    config.master = master.to_string();
    config.port = 0;
    config.work_dir = work_dir.to_path_buf();
    config.resources = Some("cpus:2;mem:512;disk:1024;ports:[31000-31100]".into());
    config.status_update_retry = Duration::from_secs(1);
    config.executor_shutdown_grace_period = Duration::from_secs(2);
    config
}
