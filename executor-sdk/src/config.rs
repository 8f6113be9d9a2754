//! What an executor learns from its environment, as Mesos sets it.

use mesos_proto::duration::parse_duration;
use mesos_proto::v1::{AgentId, ExecutorId, FrameworkId};
use std::path::PathBuf;
use std::time::Duration;

/// The environment variable errors of [`ExecutorConfig::from_env`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A variable Mesos always sets is absent: the program was not
    /// launched by an agent.
    #[error("{0} is not set; is this program being run by a Mesos agent?")]
    Missing(&'static str),
    /// A variable has a value that does not parse.
    #[error("invalid {name}={value}: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// An executor's configuration: who it is and where its agent is.
///
/// ```
/// use mesos_executor::ExecutorConfig;
///
/// let env = [
///     ("MESOS_AGENT_ENDPOINT", "127.0.0.1:5051"),
///     ("MESOS_FRAMEWORK_ID", "f1"),
///     ("MESOS_EXECUTOR_ID", "e1"),
///     ("MESOS_DIRECTORY", "/tmp/sandbox"),
///     ("MESOS_CHECKPOINT", "1"),
///     ("MESOS_RECOVERY_TIMEOUT", "1mins"),
/// ];
/// let config = ExecutorConfig::from_vars(|name| {
///     env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
/// })
/// .unwrap();
/// assert_eq!(config.executor_id.as_str(), "e1");
/// assert!(config.checkpoint);
/// assert_eq!(config.recovery_timeout.as_secs(), 60);
/// assert_eq!(config.sandbox, config.directory);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ExecutorConfig {
    /// The agent's `host:port` (`MESOS_AGENT_ENDPOINT`).
    pub agent_endpoint: String,
    /// `MESOS_FRAMEWORK_ID`.
    pub framework_id: FrameworkId,
    /// `MESOS_EXECUTOR_ID`.
    pub executor_id: ExecutorId,
    /// `MESOS_SLAVE_ID` / `MESOS_AGENT_ID`, when set.
    pub agent_id: Option<AgentId>,
    /// The sandbox on the host (`MESOS_DIRECTORY`).
    pub directory: PathBuf,
    /// The sandbox as the executor sees it (`MESOS_SANDBOX`; the
    /// directory when unset).
    pub sandbox: PathBuf,
    /// Whether the framework checkpoints (`MESOS_CHECKPOINT=1`): then a
    /// lost agent connection is retried for `recovery_timeout`.
    pub checkpoint: bool,
    /// How long to keep trying to resubscribe (`MESOS_RECOVERY_TIMEOUT`,
    /// default 15 mins).
    pub recovery_timeout: Duration,
    /// The longest wait between subscription attempts
    /// (`MESOS_SUBSCRIPTION_BACKOFF_MAX`, default 2 secs).
    pub subscription_backoff_max: Duration,
    /// How long the agent waits after SHUTDOWN before killing the executor
    /// (`MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD`, default 5 secs).
    pub shutdown_grace_period: Duration,
    /// How often the driver sends a HEARTBEAT call (30 secs).
    pub heartbeat_interval: Duration,
}

impl ExecutorConfig {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<ExecutorConfig, ConfigError> {
        ExecutorConfig::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `var` (a variable's value by name).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<ExecutorConfig, ConfigError> {
        let required = |name: &'static str| var(name).ok_or(ConfigError::Missing(name));
        let duration = |name: &'static str, default: Duration| match var(name) {
            None => Ok(default),
            Some(value) => parse_duration(&value).map_err(|e| ConfigError::Invalid {
                name,
                reason: e.to_string(),
                value,
            }),
        };
        let directory = PathBuf::from(required("MESOS_DIRECTORY")?);
        Ok(ExecutorConfig {
            agent_endpoint: required("MESOS_AGENT_ENDPOINT")?,
            framework_id: FrameworkId::new(required("MESOS_FRAMEWORK_ID")?),
            executor_id: ExecutorId::new(required("MESOS_EXECUTOR_ID")?),
            agent_id: var("MESOS_AGENT_ID")
                .or_else(|| var("MESOS_SLAVE_ID"))
                .map(AgentId::new),
            sandbox: var("MESOS_SANDBOX").map_or_else(|| directory.clone(), PathBuf::from),
            directory,
            checkpoint: var("MESOS_CHECKPOINT").as_deref() == Some("1"),
            recovery_timeout: duration("MESOS_RECOVERY_TIMEOUT", Duration::from_secs(15 * 60))?,
            subscription_backoff_max: duration(
                "MESOS_SUBSCRIPTION_BACKOFF_MAX",
                Duration::from_secs(2),
            )?,
            shutdown_grace_period: duration(
                "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD",
                Duration::from_secs(5),
            )?,
            heartbeat_interval: Duration::from_secs(30),
        })
    }

    /// The executor API URL: `http://<endpoint>/api/v1/executor`.
    pub fn executor_url(&self) -> String {
        format!("http://{}/api/v1/executor", self.agent_endpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_invalid_variables_are_named() {
        let err = ExecutorConfig::from_vars(|_| None).unwrap_err();
        assert_eq!(err, ConfigError::Missing("MESOS_DIRECTORY"));
        assert!(err.to_string().contains("Mesos agent"));
        let err = ExecutorConfig::from_vars(|name| {
            Some(match name {
                "MESOS_RECOVERY_TIMEOUT" => "soon".to_string(),
                "MESOS_CHECKPOINT" => "0".to_string(),
                _ => "x".to_string(),
            })
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("MESOS_RECOVERY_TIMEOUT=soon"),
            "{err}"
        );
    }
}
