//! Nested containers: the agent API calls an executor (the default
//! executor, or a custom one) uses to run its tasks in containers of their
//! own under its container, as Mesos' `LAUNCH_CONTAINER`,
//! `WAIT_CONTAINER`, `KILL_CONTAINER` and `REMOVE_CONTAINER` (and their
//! deprecated `*_NESTED_CONTAINER` forms).
//!
//! A nested container gets the sandbox `containers/<id>` inside its
//! parent's, its own limits (its cgroups, under the Linux containerizer)
//! and its own process group. It ends with its parent: when the executor's
//! container terminates, whatever still runs under it is killed.

use super::{Actor, CallError, Input};
use crate::containerizer::process::{self, Signal};
use crate::containerizer::{LaunchSpec, Termination};
use mesos_proto::resources::Resources;
use mesos_proto::v1::agent::{Call, Response, call, response};
use mesos_proto::v1::{CommandInfo, ContainerId, ContainerInfo, Resource, TaskState, task_status};
use tokio::sync::oneshot;

/// What a container call answers: a response (WAIT) or none (200 OK).
pub(crate) type NestedReply = oneshot::Sender<Result<Option<Response>, CallError>>;

/// A container launched under an executor's container.
#[derive(Debug)]
pub(crate) struct Nested {
    pub(crate) pid: Option<u32>,
    pub(crate) termination: Option<Termination>,
    /// WAIT calls waiting for it to end.
    pub(crate) waiters: Vec<(NestedReply, bool)>,
}

fn bad(message: impl Into<String>) -> CallError {
    CallError::BadRequest(message.into())
}

fn not_found(id: &ContainerId) -> CallError {
    CallError::NotFound(format!("Container {id} cannot be found"))
}

impl Actor {
    /// LAUNCH, WAIT, KILL or REMOVE of a nested container.
    pub(crate) fn nested_call(&mut self, call: Call, reply: NestedReply) {
        let ty = call.r#type.and_then(|t| call::Type::try_from(t).ok());
        let result = match ty {
            Some(call::Type::LaunchContainer) => match call.launch_container {
                Some(l) => self.launch_nested(l.container_id, l.command, l.resources, l.container),
                None => Err(bad("Expecting 'launch_container' to be present")),
            },
            Some(call::Type::LaunchNestedContainer) => match call.launch_nested_container {
                Some(l) => self.launch_nested(l.container_id, l.command, Vec::new(), l.container),
                None => Err(bad("Expecting 'launch_nested_container' to be present")),
            },
            Some(call::Type::WaitContainer) => match call.wait_container {
                Some(w) => return self.wait_nested(w.container_id, reply, false),
                None => Err(bad("Expecting 'wait_container' to be present")),
            },
            Some(call::Type::WaitNestedContainer) => match call.wait_nested_container {
                Some(w) => return self.wait_nested(w.container_id, reply, true),
                None => Err(bad("Expecting 'wait_nested_container' to be present")),
            },
            Some(call::Type::KillContainer) => match call.kill_container {
                Some(k) => self.kill_nested(&k.container_id, k.signal),
                None => Err(bad("Expecting 'kill_container' to be present")),
            },
            Some(call::Type::KillNestedContainer) => match call.kill_nested_container {
                Some(k) => self.kill_nested(&k.container_id, k.signal),
                None => Err(bad("Expecting 'kill_nested_container' to be present")),
            },
            Some(call::Type::RemoveContainer) => match call.remove_container {
                Some(r) => self.remove_nested(&r.container_id),
                None => Err(bad("Expecting 'remove_container' to be present")),
            },
            Some(call::Type::RemoveNestedContainer) => match call.remove_nested_container {
                Some(r) => self.remove_nested(&r.container_id),
                None => Err(bad("Expecting 'remove_nested_container' to be present")),
            },
            _ => Err(bad("not a container call")),
        };
        let _ = reply.send(result.map(|()| None));
    }

    fn launch_nested(
        &mut self,
        id: ContainerId,
        command: Option<CommandInfo>,
        resources: Vec<Resource>,
        container: Option<ContainerInfo>,
    ) -> Result<(), CallError> {
        let Some(parent) = id.parent.as_deref().cloned() else {
            return Err(bad(format!(
                "Container {id} has no parent: only nested containers can be launched"
            )));
        };
        if parent.parent.is_some() {
            return Err(bad(format!(
                "Container {id}: containers nested more than one level deep are not supported"
            )));
        }
        if id.value.is_empty() || id.value.contains(['/', '.']) || id.value.starts_with('.') {
            return Err(bad(format!("Container id '{}' is not valid", id.value)));
        }
        if self.nested.contains_key(&id) {
            // Mesos answers 202 Accepted for a container that exists.
            return Ok(());
        }
        let command = command.ok_or_else(|| bad("Expecting 'command' to be present"))?;
        let (parent_dir, meta) = {
            let (framework_id, executor_id) = self
                .containers
                .get(&parent)
                .cloned()
                .ok_or_else(|| bad(format!("Parent container {parent} is not running")))?;
            let run = self
                .run_mut(&framework_id, &executor_id)
                .ok_or_else(|| bad(format!("Parent container {parent} is not running")))?;
            if run.phase == super::executors::Phase::Terminating {
                return Err(bad(format!("Parent container {parent} is being destroyed")));
            }
            (run.directory.clone(), run.meta.clone())
        };
        let checkpointed = resources.clone();
        let resources = Resources::from_resources(resources)
            .map_err(|e| bad(format!("Invalid resources: {e}")))?;
        let directory = parent_dir.join("containers").join(&id.value);
        std::fs::create_dir_all(&directory).map_err(|e| {
            CallError::Internal(format!(
                "Cannot create the sandbox {}: {e}",
                directory.display()
            ))
        })?;
        let sandbox = directory.to_string_lossy().into_owned();
        let spec = LaunchSpec {
            container_id: id.clone(),
            command,
            env: vec![("MESOS_SANDBOX".into(), sandbox)],
            sandbox: directory,
            resources,
            rlimits: container.and_then(|c| c.rlimit_info),
        };
        let launched = self
            .containerizer
            .launch(&spec)
            .map_err(|e| CallError::Internal(format!("Failed to launch container {id}: {e}")))?;
        tracing::info!("launched nested container {id} (pid {})", launched.pid);
        if let Some(meta) = &meta {
            if let Err(e) = meta.nested(&id, launched.pid, &checkpointed) {
                tracing::error!("cannot checkpoint nested container {id}: {e}");
            }
        }
        self.follow_nested(id, launched);
        Ok(())
    }

    /// Records a running nested container and reports its end.
    fn follow_nested(&mut self, id: ContainerId, container: crate::containerizer::Container) {
        self.nested.insert(
            id.clone(),
            Nested {
                pid: Some(container.pid),
                termination: None,
                waiters: Vec::new(),
            },
        );
        let inputs = self.inputs.clone();
        tokio::spawn(async move {
            if let Ok(termination) = container.terminated.await {
                let _ = inputs.send(Input::Terminated(id, termination)).await;
            }
        });
    }

    fn wait_nested(&mut self, id: ContainerId, reply: NestedReply, legacy: bool) {
        let Some(nested) = self.nested.get_mut(&id) else {
            let _ = reply.send(Err(not_found(&id)));
            return;
        };
        match &nested.termination {
            Some(t) => {
                let _ = reply.send(Ok(Some(wait_response(t, legacy))));
            }
            None => nested.waiters.push((reply, legacy)),
        }
    }

    fn kill_nested(&mut self, id: &ContainerId, signal: Option<i32>) -> Result<(), CallError> {
        let nested = self.nested.get(id).ok_or_else(|| not_found(id))?;
        if nested.termination.is_some() {
            return Ok(());
        }
        let signal = match signal {
            None => Signal::KILL,
            Some(n) => Signal::from_named_raw(n)
                .ok_or_else(|| bad(format!("Signal {n} is not a valid signal")))?,
        };
        self.containerizer
            .signal(id, signal)
            .map_err(|e| CallError::Internal(format!("Failed to signal container {id}: {e}")))
    }

    fn remove_nested(&mut self, id: &ContainerId) -> Result<(), CallError> {
        let nested = self.nested.get(id).ok_or_else(|| not_found(id))?;
        if nested.termination.is_none() {
            return Err(bad(format!(
                "Container {id} is still running: kill it and wait for it first"
            )));
        }
        self.nested.remove(id);
        if let Some(meta) = self.parent_meta(id) {
            if let Err(e) = meta.nested_removed(id) {
                tracing::warn!("cannot forget the checkpoint of container {id}: {e}");
            }
        }
        Ok(())
    }

    /// The checkpoint directory of `id`'s parent run, if it checkpoints.
    fn parent_meta(&mut self, id: &ContainerId) -> Option<crate::checkpoint::RunMeta> {
        let parent = id.parent.as_deref()?;
        let (framework_id, executor_id) = self.containers.get(parent).cloned()?;
        self.run_mut(&framework_id, &executor_id)?.meta.clone()
    }

    /// Re-adopts the nested containers of a recovered run whose executor
    /// lives; those whose process is gone are known as ended (how is lost
    /// with the agent that watched them).
    pub(super) fn recover_nested(&mut self, nested: Vec<crate::checkpoint::RecoveredNested>) {
        for n in nested {
            let id = n.container_id;
            let resources = Resources::from_resources(n.resources).unwrap_or_default();
            let adopted = match n.pid {
                Some(pid) if process::is_alive(pid, n.start_time) => self
                    .containerizer
                    .recover(&id, pid, &resources)
                    .map_err(|e| e.to_string()),
                Some(pid) => Err(format!("its process {pid} is gone")),
                None => Err("it was never started".into()),
            };
            match adopted {
                Ok(container) => {
                    tracing::info!("re-adopted nested container {id} (pid {})", container.pid);
                    self.follow_nested(id, container);
                }
                Err(why) => {
                    tracing::info!("nested container {id} ended while the agent was down: {why}");
                    self.nested.insert(
                        id,
                        Nested {
                            pid: None,
                            termination: Some(Termination {
                                exit_code: None,
                                signal: None,
                                limitation: None,
                            }),
                            waiters: Vec::new(),
                        },
                    );
                }
            }
        }
    }

    /// A nested container's process ended: its waiters hear how. Returns
    /// whether `id` was a nested container.
    pub(super) fn nested_terminated(&mut self, id: &ContainerId, termination: Termination) -> bool {
        let Some(nested) = self.nested.get_mut(id) else {
            return false;
        };
        self.containerizer.destroy(id);
        tracing::info!(
            "nested container {id}: {}",
            termination.describe("Container")
        );
        for (waiter, legacy) in nested.waiters.drain(..) {
            let _ = waiter.send(Ok(Some(wait_response(&termination, legacy))));
        }
        nested.pid = None;
        nested.termination = Some(termination);
        true
    }

    /// The executor container `parent` is gone: every container still
    /// running under it is killed (their waiters hear when they end), and
    /// the ended ones are forgotten.
    pub(super) fn destroy_nested_of(&mut self, parent: &ContainerId) {
        let children: Vec<ContainerId> = self
            .nested
            .keys()
            .filter(|c| c.parent.as_deref() == Some(parent))
            .cloned()
            .collect();
        for child in children {
            let running = self
                .nested
                .get(&child)
                .is_some_and(|n| n.termination.is_none());
            if running {
                let _ = self.containerizer.signal(&child, Signal::KILL);
            } else {
                self.nested.remove(&child);
            }
        }
    }
}

/// WAIT_CONTAINER's answer (WAIT_NESTED_CONTAINER's with `legacy`) for a
/// container that ended as `t`: its wait status, and the memory
/// limitation when that ended it.
fn wait_response(t: &Termination, legacy: bool) -> Response {
    let (state, reason) = match &t.limitation {
        Some(_) => (
            Some(TaskState::TaskFailed as i32),
            Some(task_status::Reason::ContainerLimitationMemory as i32),
        ),
        None => (None, None),
    };
    let exit_status = (t.exit_code.is_some() || t.signal.is_some()).then(|| t.wait_status());
    if legacy {
        Response {
            r#type: Some(response::Type::WaitNestedContainer as i32),
            wait_nested_container: Some(response::WaitNestedContainer {
                exit_status,
                state,
                reason,
                message: t.limitation.clone(),
                ..Default::default()
            }),
            ..Default::default()
        }
    } else {
        Response {
            r#type: Some(response::Type::WaitContainer as i32),
            wait_container: Some(response::WaitContainer {
                exit_status,
                state,
                reason,
                message: t.limitation.clone(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}
