//! Ending executors and their tasks: KILL_TASK, SHUTDOWN_FRAMEWORK,
//! executor shutdown with its grace period, registration and shutdown
//! timeouts, a container's end, sandbox garbage collection, and the
//! agent's own graceful stop.

use super::executors::{MAX_COMPLETED_EXECUTORS, Phase, Queued, event};
use super::{Actor, Input, is_terminal};
use crate::containerizer::process::Signal;
use mesos_proto::agent_protocol::{AgentCall, agent_call};
use mesos_proto::duration::format_duration;
use mesos_proto::v1::executor::event;
use mesos_proto::v1::{ContainerId, FrameworkId, KillPolicy, TaskId, TaskState, task_status};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;

impl Actor {
    /// KILL_TASK.
    pub(crate) fn kill_task(
        &mut self,
        framework_id: &FrameworkId,
        task_id: &TaskId,
        kill_policy: Option<KillPolicy>,
    ) {
        let partition_aware = self.frameworks.get(framework_id).is_some_and(|f| {
            f.info.capabilities.iter().any(|c| {
                c.r#type
                    == Some(
                        mesos_proto::v1::framework_info::capability::Type::PartitionAware as i32,
                    )
            })
        });
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            tracing::warn!("cannot kill task {task_id}: framework {framework_id} is unknown");
            return;
        };
        let Some(run) = framework
            .executors
            .values_mut()
            .find(|r| r.has_task(task_id))
        else {
            let state = if partition_aware {
                TaskState::TaskDropped
            } else {
                TaskState::TaskLost
            };
            self.agent_update(
                framework_id,
                task_id,
                state,
                Some(task_status::Reason::TaskUnknown),
                format!("Cannot kill task {task_id}: no executor here runs it"),
                None,
            );
            return;
        };
        let executor_id = run.info.executor_id.clone();
        if run.tasks.contains_key(task_id) && run.phase == Phase::Reconnecting {
            // Sent once the executor is back.
            run.pending_kills.push((task_id.clone(), kill_policy));
            return;
        }
        if run.tasks.contains_key(task_id) && run.stream.is_some() {
            let mut kill = event(event::Type::Kill);
            kill.kill = Some(event::Kill {
                task_id: task_id.clone(),
                kill_policy,
            });
            run.send(kill);
            return;
        }
        // Killed before its executor subscribed: it never ran.
        run.queued.retain(|q| match q {
            Queued::Task(t) => t.task_id != *task_id,
            Queued::Group(g) => !g.tasks.iter().any(|t| t.task_id == *task_id),
        });
        let idle = run.queued.is_empty() && run.tasks.is_empty();
        let container_id = run.container_id.clone();
        self.agent_update(
            framework_id,
            task_id,
            TaskState::TaskKilled,
            Some(task_status::Reason::TaskKilledDuringLaunch),
            "Killed before its executor started".into(),
            Some(executor_id),
        );
        if idle {
            self.shutdown_executor(&container_id);
        }
    }

    /// SHUTDOWN_FRAMEWORK: every executor of the framework shuts down; its
    /// pending updates are dropped (the master forgot the framework).
    pub(crate) fn shutdown_framework(&mut self, framework_id: &FrameworkId) {
        self.updates.forget_framework(framework_id);
        self.task_meta.retain(|_, (f, _)| f != framework_id);
        let containers: Vec<ContainerId> = self
            .frameworks
            .get(framework_id)
            .map(|f| {
                f.executors
                    .values()
                    .map(|r| r.container_id.clone())
                    .collect()
            })
            .unwrap_or_default();
        for container_id in containers {
            self.shutdown_executor(&container_id);
        }
    }

    /// SHUTDOWN to a subscribed executor, with a grace period before the
    /// kill; an executor that never subscribed is killed at once.
    pub(crate) fn shutdown_executor(&mut self, container_id: &ContainerId) {
        let Some((framework_id, executor_id)) = self.containers.get(container_id).cloned() else {
            return;
        };
        let default_grace = self.config.executor_shutdown_grace_period;
        let Some(run) = self.run_mut(&framework_id, &executor_id) else {
            return;
        };
        if run.phase == Phase::Terminating {
            return;
        }
        let fetching = run.phase == Phase::Fetching;
        run.phase = Phase::Terminating;
        if fetching {
            // Ends when its fetch does (Input::Fetched).
            return;
        }
        if run.stream.is_some() {
            run.send(event(event::Type::Shutdown));
            let grace = run
                .info
                .shutdown_grace_period
                .as_ref()
                .and_then(|d| u64::try_from(d.nanoseconds).ok())
                .map_or(default_grace, Duration::from_nanos);
            let inputs = self.inputs.clone();
            let cid = container_id.clone();
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                let _ = inputs.send(Input::ShutdownTimeout(cid)).await;
            });
        } else {
            let _ = self.containerizer.signal(container_id, Signal::KILL);
        }
    }

    pub(crate) fn registration_timeout(&mut self, container_id: &ContainerId) {
        let Some((framework_id, executor_id)) = self.containers.get(container_id).cloned() else {
            return;
        };
        let (registration, recovery) = (
            self.config.executor_registration_timeout,
            self.config.recovery_timeout,
        );
        let Some(run) = self.run_mut(&framework_id, &executor_id) else {
            return;
        };
        let failure = match run.phase {
            Phase::Launching => (
                task_status::Reason::ExecutorRegistrationTimeout,
                format!(
                    "Executor did not register within {}",
                    format_duration(registration)
                ),
            ),
            Phase::Reconnecting => (
                task_status::Reason::ExecutorReregistrationTimeout,
                format!(
                    "Executor did not re-register within {}",
                    format_duration(recovery)
                ),
            ),
            _ => return,
        };
        tracing::warn!("executor {executor_id}: {}; killing it", failure.1);
        run.phase = Phase::Terminating;
        run.failure = Some(failure);
        let _ = self.containerizer.signal(container_id, Signal::KILL);
    }

    pub(crate) fn shutdown_timeout(&mut self, container_id: &ContainerId) {
        if self.containers.contains_key(container_id) {
            let _ = self.containerizer.signal(container_id, Signal::KILL);
        }
    }

    /// A container ended: tasks it left unfinished fail, the run is
    /// complete, its sandbox is kept for `--gc_delay`.
    pub(crate) fn terminated(
        &mut self,
        container_id: &ContainerId,
        termination: crate::containerizer::Termination,
    ) {
        if self.nested_terminated(container_id, termination.clone()) {
            return;
        }
        let Some((framework_id, executor_id)) = self.containers.remove(container_id) else {
            return;
        };
        self.containerizer.destroy(container_id);
        self.destroy_nested_of(container_id);
        self.counters.executors_terminated += 1;
        let Some(framework) = self.frameworks.get_mut(&framework_id) else {
            return;
        };
        let Some(mut run) = framework.executors.remove(&executor_id) else {
            return;
        };
        tracing::info!(
            "executor {executor_id} of framework {framework_id}: {}",
            termination.describe("Executor")
        );
        let (reason, message) = if let Some(limitation) = &termination.limitation {
            (
                task_status::Reason::ContainerLimitationMemory,
                limitation.clone(),
            )
        } else if let Some(failure) = run.failure.take() {
            failure
        } else {
            (
                task_status::Reason::ExecutorTerminated,
                termination.describe("Executor"),
            )
        };
        let mut unfinished: Vec<TaskId> = run.queued_tasks().map(|t| t.task_id.clone()).collect();
        for task in run.tasks.values_mut() {
            if !is_terminal(task.state) {
                task.state = TaskState::TaskFailed as i32;
                unfinished.push(task.info.task_id.clone());
            }
        }
        run.stream = None;
        if let Some(meta) = &run.meta {
            if let Err(e) = meta.completed() {
                tracing::error!("cannot checkpoint the end of executor {executor_id}: {e}");
            }
        }
        framework
            .completed_executors
            .push(super::state::executor_json(&run));
        let excess = framework
            .completed_executors
            .len()
            .saturating_sub(MAX_COMPLETED_EXECUTORS);
        framework.completed_executors.drain(..excess);
        for task_id in unfinished {
            self.agent_update(
                &framework_id,
                &task_id,
                TaskState::TaskFailed,
                Some(reason),
                message.clone(),
                Some(executor_id.clone()),
            );
        }
        // The master knows executors it was given (not the command
        // executors the agent makes up): it releases their resources.
        if !run.generated {
            self.notify_master(
                AgentCall {
                    r#type: agent_call::Type::ExitedExecutor as i32,
                    exited_executor: Some(agent_call::ExitedExecutor {
                        framework_id: framework_id.clone(),
                        executor_id: executor_id.clone(),
                        status: termination.wait_status(),
                    }),
                    ..Default::default()
                },
                "exited executor",
            );
        }
        let meta = run.meta.map(|m| m.dir().to_path_buf());
        self.schedule_gc(run.directory, meta, self.config.gc_delay);
    }

    /// Removes a finished run's sandbox (and its checkpoints) after
    /// `delay`.
    pub(super) fn schedule_gc(&self, directory: PathBuf, meta: Option<PathBuf>, delay: Duration) {
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            for dir in std::iter::once(directory).chain(meta) {
                if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
                    tracing::debug!("{} not removed: {e}", dir.display());
                }
            }
        });
    }

    /// Shuts every executor down and waits (at most their grace period and
    /// a little more) for them to end.
    pub(crate) async fn shutdown_all(&mut self, inputs: &mut mpsc::Receiver<Input>) {
        let containers: Vec<ContainerId> = self.containers.keys().cloned().collect();
        for container_id in &containers {
            self.shutdown_executor(container_id);
        }
        let deadline = tokio::time::Instant::now()
            + self.config.executor_shutdown_grace_period
            + Duration::from_secs(2);
        while !self.containers.is_empty() {
            match tokio::time::timeout_at(deadline, inputs.recv()).await {
                Ok(Some(Input::Terminated(cid, termination))) => self.terminated(&cid, termination),
                Ok(Some(Input::ShutdownTimeout(cid))) => self.shutdown_timeout(&cid),
                Ok(Some(Input::Fetched(cid, spec, result))) => self.fetched(&cid, *spec, result),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        for container_id in self.containers.keys() {
            self.containerizer.destroy(container_id);
        }
    }
}
