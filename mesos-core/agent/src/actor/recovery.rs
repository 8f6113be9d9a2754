//! Recovery: a restarted agent puts back what its checkpoints hold.
//! Update streams are replayed (unacknowledged updates are sent again
//! once registered); live executors are re-adopted and given
//! `--recovery_timeout` to subscribe again; executors that ended while the
//! agent was down have their unfinished tasks failed.

use super::executors::{ExecutorRun, LiveTask, Phase, run_resources};
use super::{Actor, Framework, is_terminal};
use crate::checkpoint::{Record, Recovered, RecoveredRun};
use crate::containerizer::Termination;
use crate::containerizer::process;
use mesos_proto::v1::{ExecutorInfo, FrameworkId, TaskState, task_status};
use std::collections::BTreeMap;
use std::time::Instant;

impl Actor {
    /// Puts back every checkpointed framework, executor, task and update.
    pub(crate) fn recover(&mut self, recovered: Recovered) {
        tracing::info!(
            "recovering agent {} ({} checkpointing frameworks)",
            recovered
                .info
                .id
                .as_ref()
                .map(|id| id.to_string())
                .unwrap_or_default(),
            recovered.frameworks.len()
        );
        for framework in recovered.frameworks {
            let Some(framework_id) = framework.info.id.clone() else {
                continue;
            };
            self.frameworks
                .entry(framework_id.clone())
                .or_insert_with(|| Framework {
                    info: framework.info.clone(),
                    executors: BTreeMap::new(),
                    completed_executors: Vec::new(),
                });
            for executor in framework.executors {
                for run in executor.runs {
                    self.recover_run(&framework_id, &executor.info, executor.generated, run);
                }
            }
        }
    }

    fn recover_run(
        &mut self,
        framework_id: &FrameworkId,
        info: &ExecutorInfo,
        generated: bool,
        run: RecoveredRun,
    ) {
        let now = Instant::now();
        let mut tasks = BTreeMap::new();
        let mut completed = Vec::new();
        for task in run.tasks {
            let task_id = task.info.task_id.clone();
            let mut live = LiveTask {
                info: task.info,
                state: TaskState::TaskStaging as i32,
                latest: None,
            };
            for record in task.records {
                match record {
                    Record::Update(status) => {
                        if !is_terminal(live.state) {
                            live.state = status.state;
                        }
                        live.latest = Some((*status).clone());
                        if let Err(e) = self.updates.update(framework_id, *status, now) {
                            tracing::warn!("checkpointed update of task {task_id} dropped: {e}");
                        }
                    }
                    Record::Ack(uuid) => {
                        let _ = self.updates.acknowledge(&task_id, &uuid, now);
                    }
                }
            }
            if is_terminal(live.state) && !self.updates.has_stream(&task_id) {
                completed.push(live);
            } else {
                self.task_meta
                    .insert(task_id.clone(), (framework_id.clone(), run.meta.clone()));
                tasks.insert(task_id, live);
            }
        }
        let Some(agent_id) = self.info.id.clone() else {
            return;
        };
        let directory = self.layout.executor_run(
            &agent_id,
            framework_id,
            &info.executor_id,
            &run.container_id,
        );
        if run.completed {
            // Ended before the agent stopped: only its streams were left.
            let age = std::fs::metadata(run.meta.dir().join("completed"))
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .unwrap_or_default();
            let delay = self.config.gc_delay.saturating_sub(age);
            self.schedule_gc(directory, Some(run.meta.dir().to_path_buf()), delay);
            return;
        }
        let mut executor = ExecutorRun {
            info: info.clone(),
            framework_id: framework_id.clone(),
            container_id: run.container_id.clone(),
            directory,
            generated,
            phase: Phase::Reconnecting,
            stream: None,
            queued: Vec::new(),
            tasks,
            completed,
            failure: None,
            meta: Some(run.meta.clone()),
            pending_kills: Vec::new(),
        };
        let adopted = match run.pid {
            Some(pid) if process::is_alive(pid, run.start_time) => self
                .containerizer
                .recover(&run.container_id, pid, &run_resources(&executor))
                .map_err(|e| e.to_string()),
            Some(pid) => Err(format!("its process {pid} is gone")),
            None => Err("it was never started".into()),
        };
        self.containers.insert(
            run.container_id.clone(),
            (framework_id.clone(), info.executor_id.clone()),
        );
        match adopted {
            Ok(container) => {
                tracing::info!(
                    "re-adopted executor {} of framework {framework_id} (pid {})",
                    info.executor_id,
                    container.pid
                );
                self.frameworks
                    .get_mut(framework_id)
                    .map(|f| f.executors.insert(info.executor_id.clone(), executor));
                let within = self.config.recovery_timeout;
                self.watch(&run.container_id, container, within);
                self.recover_nested(run.nested);
            }
            Err(why) => {
                tracing::info!(
                    "executor {} of framework {framework_id} ended while the agent was down: {why}",
                    info.executor_id
                );
                // What it left running under it goes with it.
                kill_nested(&run.nested);
                executor.failure = Some((
                    task_status::Reason::ExecutorTerminated,
                    "Executor terminated while the agent was down".into(),
                ));
                self.frameworks
                    .get_mut(framework_id)
                    .map(|f| f.executors.insert(info.executor_id.clone(), executor));
                self.terminated(
                    &run.container_id,
                    Termination {
                        exit_code: None,
                        signal: None,
                        limitation: None,
                    },
                );
            }
        }
    }
}

/// What `--recover=cleanup` does: kills every live executor the
/// checkpoints name, so the agent can start afresh.
pub(crate) fn kill_recovered(recovered: &Recovered) {
    for framework in &recovered.frameworks {
        for executor in &framework.executors {
            for run in executor.runs.iter().filter(|r| !r.completed) {
                if let Some(pid) = run.pid.filter(|p| process::is_alive(*p, run.start_time)) {
                    tracing::info!("cleanup: killing executor {}", executor.info.executor_id);
                    let _ = process::signal_group(pid, process::Signal::KILL);
                }
                kill_nested(&run.nested);
            }
        }
    }
}

/// Kills the live processes of recovered nested containers (each its own
/// process group).
fn kill_nested(nested: &[crate::checkpoint::RecoveredNested]) {
    for n in nested {
        if let Some(pid) = n.pid.filter(|p| process::is_alive(*p, n.start_time)) {
            tracing::info!("killing nested container {}", n.container_id);
            let _ = process::signal_group(pid, process::Signal::KILL);
        }
    }
}
