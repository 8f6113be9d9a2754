//! The Mesos agent as a library.
//!
//! Registers with a master over our master/agent protocol
//! ([`mesos_proto::agent_protocol`]), launches executors in containers,
//! serves them the v1 executor API (`POST /api/v1/executor`), and forwards
//! their status updates reliably (per task, in order, resent until the
//! framework acknowledges them).
//!
//! **Status:** built: registration and re-registration with backoff,
//! heartbeats, the POSIX (process groups, `posix/rlimits`) and Linux
//! (cgroups v1/v2, pid namespace) containerizers, sandboxes in Mesos'
//! layout, the fetcher, the command executor (`mesos executor command`)
//! and the default executor for task groups (`mesos executor default`,
//! each task in a nested container of its own), health checks and checks
//! (COMMAND, HTTP, TCP; [`executors::health`]), custom executors, framework
//! messages both ways, the status update manager, kill and shutdown with
//! grace periods, checkpointing and recovery (`--recover=reconnect|cleanup`:
//! live executors and their nested containers of checkpointing frameworks
//! are re-adopted after a restart or `kill -9`; see [`checkpoint`]),
//! `/state`, `/files/*`, `/monitor/statistics`, `/metrics/snapshot`, and
//! the v1 operator API (`/api/v1`: GET_HEALTH, GET_FLAGS, GET_VERSION,
//! GET_METRICS, GET_STATE, GET_CONTAINERS, GET_FRAMEWORKS, GET_EXECUTORS,
//! GET_TASKS, GET_AGENT, LIST_FILES, READ_FILE, LAUNCH/WAIT/KILL/
//! REMOVE_CONTAINER and their `*_NESTED_CONTAINER` forms; others answer
//! 501). Not yet: debug sessions (LAUNCH_NESTED_CONTAINER_SESSION,
//! ATTACH_*), nested containers in GET_CONTAINERS.
//!
//! ```no_run
//! # async fn run() -> Result<(), mesos_agent::StartError> {
//! let mut config = mesos_agent::AgentConfig::default();
//! config.master = "127.0.0.1:5050".into();
//! config.work_dir = "/tmp/mesos-agent".into();
//! let agent = mesos_agent::Agent::start(config).await?;
//! println!("agent {} at http://{}", agent.registered().await, agent.addr());
//! agent.stop().await;
//! # Ok(()) }
//! ```

mod actor;
pub mod checkpoint;
pub mod config;
pub mod containerizer;
pub mod executors;
pub mod fetcher;
mod http;
mod link;
pub mod paths;
pub mod resources;
pub mod status_update;

pub use config::{AgentConfig, RecoverMode};

use actor::{Actor, Input};
use containerizer::{Containerizer, PosixContainerizer};
use mesos_proto::v1::{AgentId, AgentInfo};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// The Mesos version this agent speaks and reports.
pub const MESOS_VERSION: &str = "1.11.0";

/// Why an agent could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// `--resources` or `--attributes` did not parse.
    #[error("invalid --{flag}: {message}")]
    Flag {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The work directory could not be created.
    #[error("cannot create --work_dir {path}: {source}")]
    WorkDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The checkpointed state could not be read back.
    #[error(transparent)]
    Recover(#[from] checkpoint::RecoverError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

fn launcher(config: &AgentConfig) -> std::path::PathBuf {
    config
        .launcher
        .clone()
        .or_else(|| std::env::current_exe().ok())
        .unwrap_or_else(|| "mesos".into())
}

/// The containerizer `--isolation` asks for.
fn containerizer_for(config: &AgentConfig) -> Result<Arc<dyn Containerizer>, StartError> {
    use containerizer::cgroups::{Cgroups, Hierarchy, Isolators, RealFs};
    let flag = |message: String| StartError::Flag {
        flag: "isolation",
        message,
    };
    let mut isolators = Isolators::parse(&config.isolation).map_err(flag)?;
    isolators.cfs = config.cgroups_enable_cfs;
    if !isolators.uses_cgroups() && !isolators.pid_namespace {
        return Ok(Arc::new(if isolators.rlimits {
            PosixContainerizer::with_rlimits(launcher(config))
        } else {
            PosixContainerizer::new()
        }));
    }
    let cgroups = if isolators.uses_cgroups() {
        let hierarchy = Hierarchy::detect().ok_or_else(|| {
            flag("cgroups isolators need a cgroup file system (v1 or v2) mounted".into())
        })?;
        Some(Cgroups::new(RealFs, hierarchy, config.cgroups_root.clone()))
    } else {
        None
    };
    Ok(Arc::new(containerizer::LinuxContainerizer::new(
        cgroups,
        isolators,
        launcher(config),
    )))
}

/// What the checkpoints under `work_dir` hold, as `--recover` asks:
/// `reconnect` recovers them (unless the machine rebooted since: then
/// every executor is gone and the agent starts afresh); `cleanup` kills
/// the executors they name and starts afresh.
fn recover(config: &AgentConfig) -> Result<Option<checkpoint::Recovered>, StartError> {
    let meta = checkpoint::Checkpoint::new(paths::Layout::new(&config.work_dir).meta_dir());
    let Some(recovered) = meta.recover()? else {
        return Ok(None);
    };
    let fresh = match config.recover {
        RecoverMode::Cleanup => {
            actor::kill_recovered(&recovered);
            true
        }
        RecoverMode::Reconnect if recovered.rebooted => {
            tracing::info!("the machine rebooted since the agent last ran: starting afresh");
            true
        }
        RecoverMode::Reconnect => false,
    };
    if fresh {
        meta.clear().map_err(|source| StartError::WorkDir {
            path: config.work_dir.clone(),
            source,
        })?;
        return Ok(None);
    }
    Ok(Some(recovered))
}

/// The master refused the agent for good: it may not register again
/// (it was marked gone), with the master's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the master refused this agent for good: {0}")]
pub struct Refused(pub String);

/// A running agent: its HTTP server and its actor.
#[derive(Debug)]
pub struct Agent {
    addr: SocketAddr,
    inputs: mpsc::Sender<Input>,
    registered: watch::Receiver<Option<AgentId>>,
    /// Why the master refused the agent for good, if it did.
    refused: watch::Receiver<Option<String>>,
    actor: JoinHandle<()>,
    server: JoinHandle<()>,
}

impl Agent {
    /// Starts an agent: binds its port, then registers with the master in
    /// the background (retrying until a master answers).
    /// The containerizer follows `--isolation`: POSIX, or Linux (cgroups,
    /// pid namespace) when a `cgroups/*` or `namespaces/*` isolator is on.
    pub async fn start(config: AgentConfig) -> Result<Agent, StartError> {
        let containerizer = containerizer_for(&config)?;
        Agent::start_with(config, containerizer).await
    }

    /// As [`Agent::start`], with the given containerizer.
    pub async fn start_with(
        config: AgentConfig,
        containerizer: Arc<dyn Containerizer>,
    ) -> Result<Agent, StartError> {
        std::fs::create_dir_all(&config.work_dir).map_err(|source| StartError::WorkDir {
            path: config.work_dir.clone(),
            source,
        })?;
        let machine = resources::Machine::detect(&config.work_dir);
        let total =
            resources::agent_resources(config.resources.as_deref(), &machine).map_err(|e| {
                StartError::Flag {
                    flag: "resources",
                    message: e.to_string(),
                }
            })?;
        let attributes =
            mesos_proto::resources::parse_attributes(&config.attributes).map_err(|e| {
                StartError::Flag {
                    flag: "attributes",
                    message: e.to_string(),
                }
            })?;
        let recovered = recover(&config)?;
        let bind = SocketAddr::new(config.ip, config.port);
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|source| StartError::Bind { addr: bind, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr: bind, source })?;
        let info = AgentInfo {
            // A recovered agent re-registers under its old id.
            id: recovered.as_ref().and_then(|r| r.info.id.clone()),
            hostname: config
                .hostname
                .clone()
                .unwrap_or_else(|| addr.ip().to_string()),
            port: Some(i32::from(addr.port())),
            attributes,
            ..Default::default()
        };
        let launcher = launcher(&config);
        let (inputs, rx) = mpsc::channel(4096);
        let (registered_tx, registered) = watch::channel(None);
        let (refused_tx, refused) = watch::channel(None);
        let router = http::router(
            http::Http {
                inputs: inputs.clone(),
                work_dir: config.work_dir.clone(),
                agent_id: registered.clone(),
            },
            config.max_request_body,
        );
        let master =
            link::MasterSource::from_flag(&config.master).map_err(|message| StartError::Flag {
                flag: "master",
                message,
            })?;
        let actor = Actor::new(
            config,
            master,
            addr,
            info,
            total.into_vec(),
            containerizer,
            launcher,
            inputs.clone(),
            registered_tx,
            refused_tx,
        );
        let actor = tokio::spawn(actor.run(rx, recovered));
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router.into_make_service()).await {
                tracing::error!("agent HTTP server failed: {e}");
            }
        });
        Ok(Agent {
            addr,
            inputs,
            registered,
            refused,
            actor,
            server,
        })
    }

    /// The address the agent serves on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The agent's id, once a master has registered it.
    pub fn agent_id(&self) -> Option<AgentId> {
        self.registered.borrow().clone()
    }

    /// Waits until a master has registered the agent (its id), or has
    /// refused it for good (an agent marked gone may never register
    /// again: [`Refused`] says why).
    pub async fn registration(&self) -> Result<AgentId, Refused> {
        let mut refused = self.refused.clone();
        tokio::select! {
            id = self.registered() => Ok(id),
            why = refused.wait_for(Option::is_some) => match why {
                Ok(why) => Err(Refused(why.clone().unwrap_or_default())),
                // The actor is gone without a word: it will not register.
                Err(_) => std::future::pending().await,
            },
        }
    }

    /// Waits until a master has registered the agent; its id.
    pub async fn registered(&self) -> AgentId {
        let mut rx = self.registered.clone();
        loop {
            if let Some(id) = rx.borrow_and_update().clone() {
                return id;
            }
            if rx.changed().await.is_err() {
                // The actor is gone: nothing will register it any more.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Stops the agent as a crash would, leaving its executors running: a
    /// new agent on the same `--work_dir` and port with
    /// `--recover=reconnect` re-adopts those of frameworks that
    /// checkpoint (the others end themselves when they lose the agent).
    pub async fn halt(self) {
        self.server.abort();
        self.actor.abort();
        let _ = self.actor.await;
        let _ = self.server.await;
    }

    /// Stops the agent gracefully: every executor is shut down (within its
    /// grace period, then killed), then the server stops.
    pub async fn stop(self) {
        let (tx, rx) = oneshot::channel();
        if self.inputs.send(Input::Stop(tx)).await.is_ok() {
            let _ = rx.await;
        }
        self.server.abort();
        let _ = self.actor.await;
    }
}
