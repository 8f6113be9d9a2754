//! In-process Mesos clusters and simulated agents, for our tests and
//! benchmarks and for framework authors' own tests.
//!
//! - [`SimulatedAgent`]: speaks the real master/agent protocol over HTTP
//!   and answers launches with scripted status updates, delivered until
//!   acknowledged.
//! - [`RawScheduler`]: a v1 scheduler on the wire, for asserting exactly
//!   what the master sends.
//! - [`Cluster`]: a master on loopback with simulated agents.
//! - [`master_and_agent`]: a master and a real agent, for end-to-end
//!   tests with real executors.

mod agent;
pub mod bench;
mod http;
mod real;
pub mod recorder;
mod scheduler;

pub use agent::{AgentSpec, SimTask, SimulatedAgent, TaskScript};
pub use http::{RecordStream, TestClient, TestkitError};
pub use real::{agent_config, master_and_agent};
pub use scheduler::{Caller, RawScheduler, partition_aware, sleep_task};

use mesos_master::{Master, MasterConfig};
use std::net::SocketAddr;

/// A master on `127.0.0.1` with simulated agents.
#[derive(Debug)]
pub struct Cluster {
    /// The master.
    pub master: Master,
    /// The agents, in the order they registered.
    pub agents: Vec<SimulatedAgent>,
}

impl Cluster {
    /// Starts a master (on a free port) and one agent per spec.
    pub async fn start(
        config: MasterConfig,
        agents: Vec<AgentSpec>,
    ) -> Result<Cluster, TestkitError> {
        let master = Master::start(MasterConfig { port: 0, ..config })
            .await
            .map_err(|e| TestkitError::Http(e.to_string()))?;
        let mut cluster = Cluster {
            master,
            agents: Vec::new(),
        };
        cluster.add_agents(agents).await?;
        Ok(cluster)
    }

    /// Starts one more agent per spec, registered with this master.
    pub async fn add_agents(&mut self, agents: Vec<AgentSpec>) -> Result<(), TestkitError> {
        for spec in agents {
            self.agents
                .push(SimulatedAgent::start(self.master.addr(), spec).await?);
        }
        Ok(())
    }

    /// The master's address.
    pub fn addr(&self) -> SocketAddr {
        self.master.addr()
    }

    /// Stops the master and starts a new one on the same address with
    /// `config` (give it the old one's registry to see it recover). The
    /// agents re-register by themselves.
    pub async fn restart_master(&mut self, config: MasterConfig) -> Result<(), TestkitError> {
        let addr = self.master.addr();
        self.master.halt().await;
        let config = MasterConfig {
            ip: addr.ip(),
            port: addr.port(),
            ..config
        };
        self.master = Master::start(config)
            .await
            .map_err(|e| TestkitError::Http(e.to_string()))?;
        Ok(())
    }
}
