//! Containers: the processes of one executor run, isolated and observed.
//!
//! [`Containerizer`] is the seam; [`PosixContainerizer`] is the POSIX
//! implementation (a process group per container, the whole group
//! signalled). The Linux one (cgroups, namespaces) plugs in here.

pub mod cgroups;
mod linux;
mod posix;
pub mod process;
pub mod rlimits;

pub use linux::{LinuxContainerizer, launch_main};
pub use posix::PosixContainerizer;

use mesos_proto::resources::Resources;
use mesos_proto::v1::{CommandInfo, ContainerId};
use std::path::PathBuf;
use tokio::sync::oneshot;

/// What to run in a new container.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// The container's id.
    pub container_id: ContainerId,
    /// The command (shell or argv form, with its environment).
    pub command: CommandInfo,
    /// Environment given on top of the command's own.
    pub env: Vec<(String, String)>,
    /// The sandbox: working directory, home of `stdout` and `stderr`.
    pub sandbox: PathBuf,
    /// What the container may use (its limits, where isolated).
    pub resources: Resources,
    /// POSIX resource limits (`ContainerInfo.rlimit_info`), applied when
    /// the `posix/rlimits` isolator is on.
    pub rlimits: Option<mesos_proto::v1::RLimitInfo>,
}

/// The `CommandInfo` that starts `spec`'s command through `mesos
/// containerizer launch` ([`launch_main`]) with `flags` (cgroups to join,
/// limits to set, namespaces to enter).
pub(crate) fn through_launcher(
    launcher: &std::path::Path,
    flags: Vec<String>,
    spec: &LaunchSpec,
) -> CommandInfo {
    let launcher = launcher.to_string_lossy().into_owned();
    let mut arguments = vec![launcher.clone(), "containerizer".into(), "launch".into()];
    arguments.extend(flags);
    arguments.push("--".into());
    arguments.extend(process::argv(&spec.command));
    CommandInfo {
        shell: Some(false),
        value: Some(launcher),
        arguments,
        environment: spec.command.environment.clone(),
        ..Default::default()
    }
}

/// The `--rlimit` flags for `spec` when `enabled` (the `posix/rlimits`
/// isolator is on); a limit Mesos would refuse is an error naming it.
pub(crate) fn rlimit_flags(spec: &LaunchSpec, enabled: bool) -> Result<Vec<String>, String> {
    let Some(info) = spec.rlimits.as_ref().filter(|i| !i.rlimits.is_empty()) else {
        return Ok(Vec::new());
    };
    if !enabled {
        tracing::warn!(
            "container {} asks for rlimits, ignored: the posix/rlimits isolator is off",
            spec.container_id
        );
        return Ok(Vec::new());
    }
    Ok(rlimits::RLimit::from_info(info)?
        .iter()
        .map(rlimits::RLimit::flag)
        .collect())
}

/// How a container's main process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Termination {
    /// The exit code, if it exited.
    pub exit_code: Option<i32>,
    /// The signal, if one killed it.
    pub signal: Option<i32>,
    /// What an isolator found, if one ended it (the memory limit).
    pub limitation: Option<String>,
}

impl Termination {
    /// Whether the process exited with code 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// The status as `waitpid(2)` encodes it (exit code << 8, or the
    /// signal number), which Mesos reports for an executor's exit.
    ///
    /// ```
    /// # use mesos_agent::containerizer::Termination;
    /// let exited = Termination { exit_code: Some(1), signal: None, limitation: None };
    /// assert_eq!(exited.wait_status(), 256);
    /// let killed = Termination { exit_code: None, signal: Some(9), limitation: None };
    /// assert_eq!(killed.wait_status(), 9);
    /// ```
    pub fn wait_status(&self) -> i32 {
        match (self.exit_code, self.signal) {
            (Some(code), _) => (code & 0xff) << 8,
            (None, Some(signal)) => signal & 0x7f,
            (None, None) => 0,
        }
    }

    /// Mesos' words for it: `Command exited with status 1`, `Command
    /// terminated with signal Killed`.
    pub fn describe(&self, what: &str) -> String {
        match (self.exit_code, self.signal) {
            (Some(code), _) => format!("{what} exited with status {code}"),
            (None, Some(sig)) => format!(
                "{what} terminated with signal {}",
                process::signal_name(sig)
            ),
            (None, None) => format!("{what} terminated"),
        }
    }
}

/// A launched container.
#[derive(Debug)]
pub struct Container {
    /// The main process's pid.
    pub pid: u32,
    /// Resolves when the main process ends.
    pub terminated: oneshot::Receiver<Termination>,
}

/// Why a container could not be launched or signalled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContainerError {
    /// The command could not be started.
    #[error("cannot launch container {container}: {message}")]
    Launch {
        /// The container.
        container: ContainerId,
        /// Why.
        message: String,
    },
    /// No such container.
    #[error("unknown container {0}")]
    Unknown(ContainerId),
}

/// Launches and signals containers.
pub trait Containerizer: Send + Sync + std::fmt::Debug + 'static {
    /// Starts `spec`'s command in a new container.
    fn launch(&self, spec: &LaunchSpec) -> Result<Container, ContainerError>;

    /// Sends `signal` to every process of the container.
    fn signal(
        &self,
        container: &ContainerId,
        signal: process::Signal,
    ) -> Result<(), ContainerError>;

    /// Takes back a container a previous agent process launched (found in
    /// the checkpoints after a restart): its main process `pid` is
    /// watched again and `resources` are its limits. Fails when the
    /// process is gone.
    fn recover(
        &self,
        container: &ContainerId,
        pid: u32,
        resources: &Resources,
    ) -> Result<Container, ContainerError>;

    /// Kills whatever is left of a container and forgets it.
    fn destroy(&self, container: &ContainerId);

    /// A limit the container hit (the memory limit), as a message.
    fn limitation(&self, container: &ContainerId) -> Option<String> {
        let _ = container;
        None
    }

    /// The container's resource usage, where measured.
    fn usage(&self, container: &ContainerId) -> Option<cgroups::Usage> {
        let _ = container;
        None
    }

    /// The container's resources changed (tasks came or went).
    fn update(&self, container: &ContainerId, resources: &Resources) -> Result<(), ContainerError> {
        let _ = (container, resources);
        Ok(())
    }
}
