//! The Mesos master as a library.
//!
//! Pools agents' resources and offers them to frameworks by Dominant
//! Resource Fairness; serves the v1 scheduler and operator APIs and the
//! legacy endpoints.
//!
//! **Status:** in progress. Built so far: the [`allocator`] (hierarchical
//! DRF, filters, suppress/revive), the scheduler API's subscriptions
//! (SUBSCRIBE streams, heartbeats, failover, TEARDOWN, stream-id checks,
//! reconciliation of unknown tasks) and parts of the operator API. Agents,
//! offers and tasks come next.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let master = mesos_master::Master::start(mesos_master::MasterConfig::default()).await?;
//! println!("master at http://{}", master.addr());
//! master.stopped().await;
//! # Ok(()) }
//! ```

mod actor;
mod agents;
pub mod allocator;
mod config;
mod http;
mod offers;
mod scheduler;

pub use config::{MESOS_VERSION, MasterConfig};

use std::net::SocketAddr;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A running master: its HTTP server and its actor.
#[derive(Debug)]
pub struct Master {
    addr: SocketAddr,
    server: JoinHandle<()>,
    actor: JoinHandle<()>,
}

impl Master {
    /// Binds `config.ip:config.port` and starts serving.
    pub async fn start(config: MasterConfig) -> std::io::Result<Master> {
        let listener = tokio::net::TcpListener::bind((config.ip, config.port)).await?;
        let addr = listener.local_addr()?;
        let (commands, rx) = mpsc::channel(1024);
        let max_body = config.max_request_body;
        let actor = tokio::spawn(actor::MasterActor::new(config, addr).run(rx));
        let app = http::router(http::Http { commands }, max_body);
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("master HTTP server failed: {e}");
            }
        });
        tracing::info!(%addr, "master started");
        Ok(Master {
            addr,
            server,
            actor,
        })
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
    pub async fn stop(self) {
        self.server.abort();
        let _ = self.server.await;
        self.actor.abort();
        let _ = self.actor.await;
    }
}
