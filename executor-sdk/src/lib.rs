//! Write Apache Mesos executors in Rust.
//!
//! An executor is the program an agent starts to run a framework's
//! tasks. This crate gives it an async [`Executor`] trait and a driver,
//! [`run`], that speaks the v1 executor API (`POST /api/v1/executor` on
//! the agent) for it: configuration from the environment the agent sets
//! ([`ExecutorConfig::from_env`]), SUBSCRIBE, status updates kept until
//! acknowledged and replayed on resubscription, heartbeats, and
//! reconnection within `MESOS_RECOVERY_TIMEOUT` for checkpointing
//! frameworks while the agent restarts.
//!
//! The agent's built-in command and default executors are written with
//! it. See [`Executor`] for a complete example.

mod config;
mod driver;

pub use config::{ConfigError, ExecutorConfig};
pub use driver::{Executor, ExecutorDriver, ExecutorError, run};
pub use mesos_proto;
