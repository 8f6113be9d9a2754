//! The command executor: runs one task's command (`mesos executor
//! command`), as Mesos' `mesos-executor` does.
//!
//! TASK_STARTING, then TASK_RUNNING once the command is started; at its
//! end TASK_FINISHED (exit 0), TASK_FAILED (`Command exited with status
//! N`) or TASK_KILLED. A kill sends SIGTERM to the command's process group
//! (after TASK_KILLING for frameworks with that capability), then SIGKILL
//! once the kill policy's grace period (default 3 s) has passed. The
//! executor exits when its last update is acknowledged.

use super::{
    finish, health, kill_grace, kill_with_grace, shutdown_grace, task_killing, terminal_status,
};
use crate::containerizer::process::{self, Signal};
use mesos_executor::{Executor, ExecutorConfig, ExecutorDriver, ExecutorError};
use mesos_proto::v1::executor::event;
use mesos_proto::v1::{KillPolicy, TaskId, TaskInfo, TaskState, TaskStatus, task_status};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Default)]
struct Running {
    task_id: Option<TaskId>,
    pgid: Option<u32>,
    kill_policy: Option<KillPolicy>,
    killed: bool,
    exited: bool,
    /// Killed for failing its health check.
    unhealthy: bool,
    /// Its health check and check, stopped when it ends.
    checks: Vec<tokio::task::JoinHandle<()>>,
}

/// The command executor.
#[derive(Debug, Default)]
pub struct CommandExecutor {
    task_killing: bool,
    running: Arc<Mutex<Running>>,
}

impl CommandExecutor {
    fn running(&self) -> std::sync::MutexGuard<'_, Running> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Executor for CommandExecutor {
    async fn subscribed(&mut self, _: &ExecutorDriver, subscribed: event::Subscribed) {
        self.task_killing = task_killing(&subscribed);
    }

    async fn launch(&mut self, driver: &ExecutorDriver, task: TaskInfo) {
        if self.running().task_id.is_some() {
            driver.update(
                &task.task_id,
                TaskState::TaskFailed,
                Some("The command executor runs one task only".into()),
            );
            return;
        }
        let Some(command) = task.command.clone().filter(|c| c.value.is_some()) else {
            driver.update(
                &task.task_id,
                TaskState::TaskFailed,
                Some("The task has no command to run".into()),
            );
            return;
        };
        driver.update(&task.task_id, TaskState::TaskStarting, None);
        let sandbox = driver.config().sandbox.clone();
        let spawned = process::command(&command, &[], &sandbox, false).and_then(|mut c| c.spawn());
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                driver.update(
                    &task.task_id,
                    TaskState::TaskFailed,
                    Some(format!("Failed to launch the command: {e}")),
                );
                finish(driver.clone());
                return;
            }
        };
        {
            let mut running = self.running();
            running.task_id = Some(task.task_id.clone());
            running.pgid = child.id();
            running.kill_policy = task.kill_policy;
        }
        driver.send_status(TaskStatus {
            task_id: task.task_id.clone(),
            state: TaskState::TaskRunning as i32,
            ..Default::default()
        });
        let checks = {
            let (health_driver, check_driver) = (driver.clone(), driver.clone());
            let (running, task_killing, id) = (
                Arc::clone(&self.running),
                self.task_killing,
                task.task_id.clone(),
            );
            let check_id = task.task_id.clone();
            health::watch_task(
                &task,
                sandbox.clone(),
                move |verdict| {
                    if lock(&running).killed {
                        return;
                    }
                    health_driver.send_status(health::health_update(&id, verdict.healthy));
                    if verdict.kill {
                        lock(&running).unhealthy = true;
                        kill_task(&running, &health_driver, task_killing, &id, None);
                    }
                },
                move |status| check_driver.send_status(health::check_update(&check_id, status)),
            )
        };
        self.running().checks = checks;
        let (driver, running, task_id) = (driver.clone(), Arc::clone(&self.running), task.task_id);
        tokio::spawn(async move {
            let termination = match child.wait().await {
                Ok(status) => process::termination(status),
                Err(e) => {
                    tracing::error!("lost the command's process: {e}");
                    crate::containerizer::Termination {
                        exit_code: None,
                        signal: None,
                        limitation: None,
                    }
                }
            };
            let (killed, unhealthy) = {
                let mut running = lock(&running);
                running.exited = true;
                for check in running.checks.drain(..) {
                    check.abort();
                }
                (running.killed, running.unhealthy)
            };
            let mut status = terminal_status(task_id, &termination, killed, unhealthy);
            if status.state == TaskState::TaskFailed as i32 {
                status.reason = Some(task_status::Reason::CommandExecutorFailed as i32);
            }
            driver.send_status(status);
            finish(driver);
        });
    }

    async fn kill(&mut self, driver: &ExecutorDriver, task_id: TaskId, policy: Option<KillPolicy>) {
        kill_task(&self.running, driver, self.task_killing, &task_id, policy);
    }

    async fn shutdown(&mut self, driver: &ExecutorDriver) {
        let (task_id, pgid, exited) = {
            let mut running = self.running();
            running.killed = true;
            (running.task_id.clone(), running.pgid, running.exited)
        };
        let (Some(_), Some(pgid), false) = (task_id, pgid, exited) else {
            return;
        };
        let grace = shutdown_grace(driver);
        let _ = process::signal_group(pgid, Signal::TERM);
        let deadline = tokio::time::Instant::now() + grace;
        while tokio::time::Instant::now() < deadline {
            if self.running().exited {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = process::signal_group(pgid, Signal::KILL);
        // Give the waiter a moment to send the terminal update.
        driver.wait_acknowledged(Duration::from_millis(500)).await;
    }
}

fn lock(running: &Arc<Mutex<Running>>) -> std::sync::MutexGuard<'_, Running> {
    running.lock().unwrap_or_else(|p| p.into_inner())
}

/// Kills the task (once): TASK_KILLING for frameworks with that
/// capability, SIGTERM, SIGKILL after the grace period.
fn kill_task(
    running: &Arc<Mutex<Running>>,
    driver: &ExecutorDriver,
    task_killing: bool,
    task_id: &TaskId,
    policy: Option<KillPolicy>,
) {
    let (pgid, grace) = {
        let mut r = lock(running);
        if r.task_id.as_ref() != Some(task_id) || r.exited || r.killed {
            return;
        }
        r.killed = true;
        let grace = kill_grace(policy.as_ref(), r.kill_policy.as_ref());
        (r.pgid, grace)
    };
    if task_killing {
        driver.update(task_id, TaskState::TaskKilling, None);
    }
    if let Some(pgid) = pgid {
        let running = Arc::clone(running);
        kill_with_grace(pgid, grace, move || lock(&running).exited);
    }
}

/// Runs the command executor against the agent named in the environment.
pub async fn run() -> Result<(), ExecutorError> {
    let config = ExecutorConfig::from_env().map_err(|e| ExecutorError::Refused(e.to_string()))?;
    mesos_executor::run(CommandExecutor::default(), config).await
}
