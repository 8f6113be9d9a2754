//! The Mesos master as a library.
//!
//! Pools agents' resources and offers them to frameworks by Dominant
//! Resource Fairness; serves the v1 scheduler and operator APIs and the
//! legacy endpoints.
//!
//! Built: the [`allocator`] (hierarchical DRF with weights, quota,
//! filters, suppress/revive), the scheduler API (every call; offers,
//! launches, status updates and acknowledgements, reconciliation,
//! failover), agents over our master/agent protocol, the registry (in
//! memory, a local file, or replicated in ZooKeeper), the operator API and
//! the legacy endpoints. With [`MasterConfig::zk`] several masters elect
//! their leader through ZooKeeper, as Mesos' do: standbys redirect to the
//! leader, and a successor recovers the registry when the leader goes.
//! State views (`/state`, GET_STATE and the rest) are built from
//! snapshots, off the event loop, on threads below its priority. Not
//! yet: offer operations other than LAUNCH and LAUNCH_GROUP.
//!
//! A lone master:
//!
//! ```no_run
//! # async fn run() -> Result<(), mesos_master::StartError> {
//! let master = mesos_master::Master::start(mesos_master::MasterConfig::default()).await?;
//! println!("master at http://{}", master.addr());
//! master.stopped().await;
//! # Ok(()) }
//! ```
//!
//! One of several, elected through ZooKeeper, its registry in ZooKeeper:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use mesos_master::{Master, MasterConfig, RegistryConfig};
//! let master = Master::start(MasterConfig {
//!     zk: Some("zk://zk1:2181,zk2:2181,zk3:2181/mesos".parse()?),
//!     registry: RegistryConfig::Replicated,
//!     ..MasterConfig::default()
//! })
//! .await?;
//! println!("leading now: {}", master.is_leading());
//! # Ok(()) }
//! ```

mod actor;
mod agent_entry;
mod agent_table;
mod agents;
pub mod allocator;
mod config;
mod cow_map;
mod events;
mod executors;
mod ha;
mod http;
mod loop_thread;
mod offers;
mod operator;
mod readers;
mod reclaim;
mod registration;
mod registry;
mod scheduler;
mod snapshot;
mod task_entry;
mod task_table;
mod teardown;
mod turns;

pub use config::{
    AGENT_VISITS_PER_TURN, AGENTS_PER_TURN, MESOS_VERSION, MasterConfig, RegistryConfig,
};
/// The name of the master's event loop thread, for tools that measure it
/// (`/proc/PID/task/*/comm`).
pub use loop_thread::THREAD_NAME as EVENT_LOOP_THREAD;
pub use registry::RegistryError;

use mesos_state::{AnyStore, FileStore, MemoryStore};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Why a master could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The registry could not be opened or read.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The settings contradict each other.
    #[error("invalid master settings: {0}")]
    Config(String),
    /// The operating system would not start the event loop's thread.
    #[error("cannot start the master's event loop thread: {0}")]
    Thread(std::io::Error),
}

/// A running master: its HTTP server and its actor (or, with ZooKeeper,
/// the contender that runs an actor while this master leads).
#[derive(Debug)]
pub struct Master {
    addr: SocketAddr,
    role: watch::Receiver<ha::Role>,
    server: JoinHandle<()>,
    actor: JoinHandle<()>,
    /// The registry's writer (without ZooKeeper): a stopping master waits
    /// for what its actor queued to be written, so a successor started on
    /// the same registry right after sees all of it.
    registry_writer: Option<JoinHandle<()>>,
    halted: bool,
}

/// Opens the registry store `config` names (not the replicated one,
/// which exists only while leading: see `ha`).
pub(crate) fn open_store(config: &RegistryConfig) -> Result<Arc<AnyStore>, StartError> {
    Ok(match config {
        RegistryConfig::InMemory => Arc::new(AnyStore::Memory(MemoryStore::new())),
        RegistryConfig::Local { work_dir } => Arc::new(AnyStore::File(
            FileStore::open(work_dir.join("registry")).map_err(RegistryError::from)?,
        )),
        RegistryConfig::Store(store) => Arc::clone(store),
        RegistryConfig::Replicated => {
            return Err(StartError::Config(
                "the replicated registry lives in ZooKeeper: give --zk".into(),
            ));
        }
    })
}

impl Master {
    /// Binds `config.ip:config.port` and starts serving. Without `zk`
    /// the master recovers its registry and leads at once; with `zk` it
    /// contends for leadership and serves as a standby (redirecting to
    /// the leader) until elected.
    pub async fn start(config: MasterConfig) -> Result<Master, StartError> {
        if matches!(config.registry, RegistryConfig::Replicated) && config.zk.is_none() {
            return Err(StartError::Config(
                "--registry=replicated keeps the registry in ZooKeeper: give --zk".into(),
            ));
        }
        let bind_error = |e| StartError::Bind {
            addr: SocketAddr::new(config.ip, config.port),
            source: e,
        };
        let listener = tokio::net::TcpListener::bind((config.ip, config.port))
            .await
            .map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let info = actor::master_info(&config, addr, uuid::Uuid::new_v4().to_string());
        let (role, roles) = watch::channel(ha::Role::Standby(None));
        let max_body = config.max_request_body;
        let standby = config.zk.is_some();
        let mut registry_writer = None;
        let actor = match config.zk.clone() {
            None => {
                let store = open_store(&config.registry)?;
                let recovered = registry::recover(&store).await?;
                let (commands, rx) = mpsc::channel(1024);
                let (registry, writer) = registry::Registry::start(store);
                registry_writer = Some(writer);
                let actor = loop_thread::spawn(
                    actor::MasterActor::new(config, info, registry, recovered).run(rx),
                )
                .map_err(StartError::Thread)?;
                role.send_replace(ha::Role::Leading(commands));
                actor
            }
            Some(zk) => {
                // A local registry store is opened before serving, so a
                // bad --work_dir fails the start, not each election.
                let store = match config.registry {
                    RegistryConfig::Replicated => None,
                    ref other => Some(open_store(other)?),
                };
                tokio::spawn(ha::contend(config, info, zk, store, role))
            }
        };
        let app = http::router(http::Http::new(roles.clone()), max_body, standby);
        let server = tokio::spawn(async move {
            // A router served as it is rebuilds its route table for every
            // connection (12 KB each: 250 MB for 10,000 agents' two
            // connections); made into a service once, a connection
            // shares it.
            if let Err(e) = axum::serve(listener, app.into_make_service()).await {
                tracing::error!("master HTTP server failed: {e}");
            }
        });
        tracing::info!(%addr, "master started");
        Ok(Master {
            addr,
            role: roles,
            server,
            actor,
            registry_writer,
            halted: false,
        })
    }

    /// Whether this master leads now (always, without ZooKeeper).
    pub fn is_leading(&self) -> bool {
        matches!(*self.role.borrow(), ha::Role::Leading(_))
    }

    /// The address the master listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits until the master stops (its server fails or is aborted).
    pub async fn stopped(self) {
        let _ = self.server.await;
        self.actor.abort();
    }

    /// Stops the master: the server first, then the actor, so every open
    /// stream ends.
    pub async fn stop(mut self) {
        self.halt().await;
    }

    /// Stops the master in place (as [`Master::stop`]), for holders that
    /// cannot give it up, such as a test cluster restarting its master.
    pub async fn halt(&mut self) {
        if self.halted {
            return;
        }
        self.halted = true;
        self.server.abort();
        let _ = (&mut self.server).await;
        self.actor.abort();
        let _ = (&mut self.actor).await;
        if let Some(mut writer) = self.registry_writer.take() {
            // Bounded: a store that fails keeps its writer retrying.
            if tokio::time::timeout(std::time::Duration::from_secs(10), &mut writer)
                .await
                .is_err()
            {
                tracing::error!("registry writes still failing at stop; abandoning them");
                writer.abort();
            }
        }
    }
}
