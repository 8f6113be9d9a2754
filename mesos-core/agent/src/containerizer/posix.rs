//! The POSIX containerizer: one process group per container.

use super::process::{self, Signal};
use super::{Container, ContainerError, Containerizer, LaunchSpec};
use mesos_proto::v1::ContainerId;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// Runs each container as a process group; signals reach the whole group.
/// No resource isolation: `posix/cpu` and `posix/mem` only observe. With
/// `posix/rlimits` ([`PosixContainerizer::with_rlimits`]), containers that
/// ask for resource limits start through `mesos containerizer launch`,
/// which sets them.
#[derive(Debug, Default)]
pub struct PosixContainerizer {
    pids: Mutex<HashMap<ContainerId, u32>>,
    /// The `mesos` binary, when `posix/rlimits` is on.
    rlimits_launcher: Option<PathBuf>,
}

impl PosixContainerizer {
    /// A containerizer with no containers.
    pub fn new() -> PosixContainerizer {
        PosixContainerizer::default()
    }

    /// One that applies containers' rlimits (`posix/rlimits`), starting
    /// those containers through `launcher` (the `mesos` binary).
    pub fn with_rlimits(launcher: PathBuf) -> PosixContainerizer {
        PosixContainerizer {
            rlimits_launcher: Some(launcher),
            ..Default::default()
        }
    }

    fn pids(&self) -> std::sync::MutexGuard<'_, HashMap<ContainerId, u32>> {
        self.pids.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Containerizer for PosixContainerizer {
    fn launch(&self, spec: &LaunchSpec) -> Result<Container, ContainerError> {
        let failed = |e: std::io::Error| ContainerError::Launch {
            container: spec.container_id.clone(),
            message: e.to_string(),
        };
        let flags =
            super::rlimit_flags(spec, self.rlimits_launcher.is_some()).map_err(|message| {
                ContainerError::Launch {
                    container: spec.container_id.clone(),
                    message,
                }
            })?;
        let command = match &self.rlimits_launcher {
            Some(launcher) if !flags.is_empty() => super::through_launcher(launcher, flags, spec),
            _ => spec.command.clone(),
        };
        let mut cmd = process::command(&command, &spec.env, &spec.sandbox, true).map_err(failed)?;
        let mut child = cmd.spawn().map_err(failed)?;
        let pid = child.id().unwrap_or_default();
        self.pids().insert(spec.container_id.clone(), pid);
        let (tx, terminated) = oneshot::channel();
        tokio::spawn(async move {
            let termination = match child.wait().await {
                Ok(status) => process::termination(status),
                Err(_) => super::Termination {
                    exit_code: None,
                    signal: None,
                    limitation: None,
                },
            };
            let _ = tx.send(termination);
        });
        Ok(Container { pid, terminated })
    }

    fn recover(
        &self,
        container: &ContainerId,
        pid: u32,
        _resources: &mesos_proto::resources::Resources,
    ) -> Result<Container, ContainerError> {
        let terminated = process::watch_exit(pid).map_err(|e| ContainerError::Launch {
            container: container.clone(),
            message: format!("cannot re-adopt pid {pid}: {e}"),
        })?;
        self.pids().insert(container.clone(), pid);
        Ok(Container { pid, terminated })
    }

    fn signal(&self, container: &ContainerId, signal: Signal) -> Result<(), ContainerError> {
        let pid = *self
            .pids()
            .get(container)
            .ok_or_else(|| ContainerError::Unknown(container.clone()))?;
        process::signal_group(pid, signal).map_err(|e| ContainerError::Launch {
            container: container.clone(),
            message: e.to_string(),
        })
    }

    fn destroy(&self, container: &ContainerId) {
        if let Some(pid) = self.pids().remove(container) {
            let _ = process::signal_group(pid, Signal::KILL);
        }
    }
}
