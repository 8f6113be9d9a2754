//! The Linux containerizer: each container in its own cgroups (cpu,
//! memory, pids; v1 or v2) and, with `namespaces/pid`, its own pid
//! namespace and `/proc`.
//!
//! Processes join their cgroups before the command runs: the agent starts
//! `mesos containerizer launch` ([`launch_main`]), which moves itself into
//! the container's cgroups and then becomes the command (exec), as Mesos'
//! `mesos-containerizer launch` does. No process of the container ever
//! runs outside it.

use super::cgroups::{CgroupFs, Cgroups, ContainerCgroups, Isolators, Limits, RealFs, Usage};
use super::process::{self, Signal};
use super::{Container, ContainerError, Containerizer, LaunchSpec, Termination};
use mesos_proto::resources::Resources;
use mesos_proto::v1::ContainerId;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

#[derive(Debug)]
struct Entry {
    pid: u32,
    cgroups: Option<ContainerCgroups>,
    limits: Limits,
}

#[derive(Debug)]
struct Inner<F: CgroupFs> {
    cgroups: Option<Cgroups<F>>,
    isolators: Isolators,
    launcher: PathBuf,
    containers: Mutex<HashMap<ContainerId, Entry>>,
}

/// Containers in cgroups (and pid namespaces).
#[derive(Debug)]
pub struct LinuxContainerizer<F: CgroupFs + 'static = RealFs> {
    inner: Arc<Inner<F>>,
}

impl<F: CgroupFs + 'static> LinuxContainerizer<F> {
    /// A containerizer using `cgroups` (none: only namespaces) for
    /// `isolators`, starting containers through `launcher` (the `mesos`
    /// binary).
    pub fn new(cgroups: Option<Cgroups<F>>, isolators: Isolators, launcher: PathBuf) -> Self {
        LinuxContainerizer {
            inner: Arc::new(Inner {
                cgroups,
                isolators,
                launcher,
                containers: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl<F: CgroupFs> Inner<F> {
    fn containers(&self) -> std::sync::MutexGuard<'_, HashMap<ContainerId, Entry>> {
        self.containers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the memory isolator saw: the OOM killer ended a process.
    fn limitation(&self, container: &ContainerId) -> Option<String> {
        let cgroups = self.cgroups.as_ref()?;
        let containers = self.containers();
        let entry = containers.get(container)?;
        let cg = entry.cgroups.as_ref()?;
        if cgroups.oom_kills(cg) == 0 {
            return None;
        }
        let requested = entry.limits.memory_bytes.unwrap_or(0) >> 20;
        let used = cgroups
            .fs()
            .read(&cg.dirs[0].join("memory.max_usage_in_bytes"))
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .map_or(requested, |b| b >> 20);
        Some(format!(
            "Memory limit exceeded: Requested: {requested}MB Maximum Used: {used}MB"
        ))
    }

    fn kill_all(&self, container: &ContainerId) {
        let containers = self.containers();
        let Some(entry) = containers.get(container) else {
            return;
        };
        let _ = process::signal_group(entry.pid, Signal::KILL);
        if let (Some(cgroups), Some(cg)) = (&self.cgroups, &entry.cgroups) {
            for pid in cgroups.pids(cg) {
                if let Some(pid) = i32::try_from(pid)
                    .ok()
                    .and_then(rustix::process::Pid::from_raw)
                {
                    let _ = rustix::process::kill_process(pid, Signal::KILL);
                }
            }
        }
    }
}

impl<F: CgroupFs + 'static> Containerizer for LinuxContainerizer<F> {
    fn launch(&self, spec: &LaunchSpec) -> Result<Container, ContainerError> {
        let failed = |message: String| ContainerError::Launch {
            container: spec.container_id.clone(),
            message,
        };
        let inner = &self.inner;
        let limits = Limits::for_resources(&spec.resources, &inner.isolators);
        let cgroups = match &inner.cgroups {
            Some(c) => Some(
                c.create(spec.container_id.as_str(), &limits)
                    .map_err(|e| failed(format!("cannot create its cgroups: {e}")))?,
            ),
            None => None,
        };
        let mut flags: Vec<String> = cgroups
            .iter()
            .flat_map(|c| c.dirs.iter())
            .map(|dir| format!("--cgroup={}", dir.display()))
            .collect();
        if inner.isolators.pid_namespace {
            flags.push("--pid_namespace".into());
        }
        let spawned = super::rlimit_flags(spec, inner.isolators.rlimits)
            .map_err(std::io::Error::other)
            .and_then(|rlimits| {
                flags.extend(rlimits);
                let helper = super::through_launcher(&inner.launcher, flags, spec);
                process::command(&helper, &spec.env, &spec.sandbox, true)?.spawn()
            });
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                if let (Some(c), Some(cg)) = (&inner.cgroups, &cgroups) {
                    let _ = c.remove(cg);
                }
                return Err(failed(e.to_string()));
            }
        };
        let pid = child.id().unwrap_or_default();
        inner.containers().insert(
            spec.container_id.clone(),
            Entry {
                pid,
                cgroups,
                limits,
            },
        );
        let (tx, terminated) = oneshot::channel();
        let (watcher, container) = (Arc::clone(inner), spec.container_id.clone());
        tokio::spawn(async move {
            let mut termination = match child.wait().await {
                Ok(status) => process::termination(status),
                Err(_) => Termination {
                    exit_code: None,
                    signal: None,
                    limitation: None,
                },
            };
            termination.limitation = watcher.limitation(&container);
            let _ = tx.send(termination);
        });
        Ok(Container { pid, terminated })
    }

    fn recover(
        &self,
        container: &ContainerId,
        pid: u32,
        resources: &Resources,
    ) -> Result<Container, ContainerError> {
        let failed = |message: String| ContainerError::Launch {
            container: container.clone(),
            message,
        };
        let inner = &self.inner;
        let limits = Limits::for_resources(resources, &inner.isolators);
        let terminated = process::watch_exit(pid)
            .map_err(|e| failed(format!("cannot re-adopt pid {pid}: {e}")))?;
        // The cgroups are where the previous agent made them (`create` is
        // idempotent and rewrites the same limits).
        let cgroups = match &inner.cgroups {
            Some(c) => Some(
                c.create(container.as_str(), &limits)
                    .map_err(|e| failed(format!("cannot recover its cgroups: {e}")))?,
            ),
            None => None,
        };
        inner.containers().insert(
            container.clone(),
            Entry {
                pid,
                cgroups,
                limits,
            },
        );
        let (tx, rx) = oneshot::channel();
        let (watcher, id) = (Arc::clone(inner), container.clone());
        tokio::spawn(async move {
            let mut termination = terminated.await.unwrap_or(Termination {
                exit_code: None,
                signal: None,
                limitation: None,
            });
            termination.limitation = watcher.limitation(&id);
            let _ = tx.send(termination);
        });
        Ok(Container {
            pid,
            terminated: rx,
        })
    }

    fn signal(&self, container: &ContainerId, signal: Signal) -> Result<(), ContainerError> {
        if signal == Signal::KILL {
            self.inner.kill_all(container);
            return Ok(());
        }
        let pid = self
            .inner
            .containers()
            .get(container)
            .map(|e| e.pid)
            .ok_or_else(|| ContainerError::Unknown(container.clone()))?;
        process::signal_group(pid, signal).map_err(|e| ContainerError::Launch {
            container: container.clone(),
            message: e.to_string(),
        })
    }

    fn destroy(&self, container: &ContainerId) {
        self.inner.kill_all(container);
        let Some(entry) = self.inner.containers().remove(container) else {
            return;
        };
        let inner = Arc::clone(&self.inner);
        // Killed processes leave their cgroups shortly; then remove them.
        tokio::spawn(async move {
            let (Some(cgroups), Some(cg)) = (&inner.cgroups, &entry.cgroups) else {
                return;
            };
            for _ in 0..100 {
                if cgroups.pids(cg).is_empty() && cgroups.remove(cg).is_ok() {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            tracing::warn!(
                "cgroups of a destroyed container could not be removed: {:?}",
                cg.dirs
            );
        });
    }

    fn limitation(&self, container: &ContainerId) -> Option<String> {
        self.inner.limitation(container)
    }

    fn usage(&self, container: &ContainerId) -> Option<Usage> {
        let cgroups = self.inner.cgroups.as_ref()?;
        let containers = self.inner.containers();
        let mut usage = cgroups.usage(containers.get(container)?.cgroups.as_ref()?);
        usage.mem_limit_bytes = usage
            .mem_limit_bytes
            .or(containers.get(container)?.limits.memory_bytes);
        Some(usage)
    }

    fn update(&self, container: &ContainerId, resources: &Resources) -> Result<(), ContainerError> {
        let Some(cgroups) = &self.inner.cgroups else {
            return Ok(());
        };
        let mut containers = self.inner.containers();
        let entry = containers
            .get_mut(container)
            .ok_or_else(|| ContainerError::Unknown(container.clone()))?;
        let limits = Limits::for_resources(resources, &self.inner.isolators);
        if let Some(cg) = &entry.cgroups {
            cgroups
                .set_limits(cg, &limits)
                .map_err(|e| ContainerError::Launch {
                    container: container.clone(),
                    message: format!("cannot update its limits: {e}"),
                })?;
        }
        entry.limits = limits;
        Ok(())
    }
}

/// `mesos containerizer launch [--cgroup=DIR]... [--rlimit=TYPE:SOFT:HARD]...
/// [--pid_namespace] -- ARGV...`: joins the cgroups, sets the resource
/// limits, then becomes `ARGV` (through `unshare --pid --fork --mount-proc`
/// for a pid namespace with its own `/proc`). Returns only on failure.
pub fn launch_main(args: &[String]) -> String {
    let Some(split) = args.iter().position(|a| a == "--") else {
        return "usage: mesos containerizer launch [--cgroup=DIR]... [--rlimit=TYPE:SOFT:HARD]... [--pid_namespace] -- COMMAND...".into();
    };
    let (flags, argv) = (&args[..split], &args[split + 1..]);
    if argv.is_empty() {
        return "no command to launch after --".into();
    }
    let pid = std::process::id().to_string();
    let mut pid_namespace = false;
    for flag in flags {
        if let Some(dir) = flag.strip_prefix("--cgroup=") {
            let procs = std::path::Path::new(dir).join("cgroup.procs");
            if let Err(e) = std::fs::write(&procs, &pid) {
                return format!("cannot join cgroup {dir}: {e}");
            }
        } else if let Some(limit) = flag.strip_prefix("--rlimit=") {
            if let Err(e) = super::rlimits::RLimit::parse_flag(limit).and_then(|l| l.apply()) {
                return e;
            }
        } else if flag == "--pid_namespace" {
            pid_namespace = true;
        } else {
            return format!("unknown flag {flag}");
        }
    }
    use std::os::unix::process::CommandExt;
    let error = if pid_namespace {
        std::process::Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "--kill-child", "--"])
            .args(argv)
            .exec()
    } else {
        std::process::Command::new(&argv[0]).args(&argv[1..]).exec()
    };
    format!("cannot run {}: {error}", argv[0])
}
