//! The default executor (`mesos executor default`), as Mesos'
//! `mesos-default-executor`: it runs task groups (LAUNCH_GROUP).
//!
//! Each task runs in a nested container of its own under the executor's,
//! launched through the agent's API (LAUNCH_CONTAINER, WAIT_CONTAINER,
//! KILL_CONTAINER), as Mesos' default executor does: its own limits (the
//! task's resources), its own sandbox `containers/<id>` in the executor's
//! with the link `tasks/<task id>` to it (its `stdout` and `stderr` there,
//! `MESOS_SANDBOX` pointing at it). A task over its memory limit fails with
//! REASON_CONTAINER_LIMITATION_MEMORY and takes its group with it. Every task goes TASK_STARTING, then TASK_RUNNING once the whole
//! group is started; at its end TASK_FINISHED (exit 0), TASK_FAILED
//! (`Command exited with status N`) or TASK_KILLED.
//!
//! As in Mesos, a group lives and dies together: a task that fails (or is
//! killed other than by a kill of its group) gets the rest of its group
//! killed, and a KILL of any task kills its whole group (each with its
//! kill policy's grace period). Several groups may share the executor;
//! it exits when every task has ended and the last update is
//! acknowledged. A plain LAUNCH is run as a group of one.

use super::containers::Containers;
use super::{finish, health, kill_grace, shutdown_grace, task_killing, terminal_status};
use crate::containerizer::process::Signal;
use mesos_executor::{Executor, ExecutorConfig, ExecutorDriver, ExecutorError};
use mesos_proto::v1::executor::event;
use mesos_proto::v1::{
    ContainerId, KillPolicy, TaskGroupInfo, TaskId, TaskInfo, TaskState, TaskStatus,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug)]
struct GroupTask {
    info: TaskInfo,
    group: u64,
    container: Option<ContainerId>,
    killed: bool,
    exited: bool,
    /// Killed for failing its health check.
    unhealthy: bool,
    /// Its health check and check, stopped when it ends.
    checks: Vec<tokio::task::JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct State {
    tasks: BTreeMap<TaskId, GroupTask>,
    next_group: u64,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// The default executor.
#[derive(Debug, Default)]
pub struct DefaultExecutor {
    task_killing: bool,
    state: Shared,
    /// The agent's container calls, once subscribed (the agent names
    /// the executor's container then).
    containers: Option<Containers>,
}

/// Why a task id cannot name a sandbox directory.
fn unsafe_task_id(id: &TaskId) -> Option<String> {
    let v = id.as_str();
    (v.is_empty() || v == "." || v == ".." || v.contains('/') || v.contains('\0'))
        .then(|| format!("Task id '{v}' cannot name a sandbox directory"))
}

impl DefaultExecutor {
    async fn launch_tasks(&mut self, driver: &ExecutorDriver, tasks: Vec<TaskInfo>) {
        let group = {
            let mut state = lock(&self.state);
            state.next_group += 1;
            state.next_group
        };
        let mut accepted = Vec::new();
        for task in tasks {
            let refused = if lock(&self.state).tasks.contains_key(&task.task_id) {
                Some(format!(
                    "Task {} is already known to this executor",
                    task.task_id
                ))
            } else if task
                .command
                .as_ref()
                .and_then(|c| c.value.as_ref())
                .is_none()
            {
                Some("The task has no command to run".to_string())
            } else {
                unsafe_task_id(&task.task_id)
            };
            if let Some(message) = refused {
                driver.update(&task.task_id, TaskState::TaskFailed, Some(message));
                continue;
            }
            driver.update(&task.task_id, TaskState::TaskStarting, None);
            lock(&self.state).tasks.insert(
                task.task_id.clone(),
                GroupTask {
                    info: task.clone(),
                    group,
                    container: None,
                    killed: false,
                    exited: false,
                    unhealthy: false,
                    checks: Vec::new(),
                },
            );
            accepted.push(task);
        }
        let mut failed = false;
        let mut running = Vec::new();
        for task in accepted {
            match self.start(driver, &task).await {
                Ok(container) => running.push((task.task_id, container)),
                Err(message) => {
                    failed = true;
                    if let Some(t) = lock(&self.state).tasks.get_mut(&task.task_id) {
                        t.exited = true;
                    }
                    driver.update(&task.task_id, TaskState::TaskFailed, Some(message));
                }
            }
        }
        for (task_id, container) in running {
            driver.send_status(TaskStatus {
                task_id: task_id.clone(),
                state: TaskState::TaskRunning as i32,
                ..Default::default()
            });
            // Its end is reported only after its TASK_RUNNING.
            self.wait_for(driver, task_id.clone(), container);
            self.watch(driver, &task_id, group);
        }
        if failed {
            self.kill_group(driver, group, None);
        }
        if lock(&self.state).tasks.values().all(|t| t.exited) {
            finish(driver.clone());
        }
    }

    /// Starts one task's container.
    async fn start(&self, driver: &ExecutorDriver, task: &TaskInfo) -> Result<ContainerId, String> {
        let containers = self
            .containers
            .clone()
            .ok_or("The agent did not name the executor's container")?;
        let id = containers.child();
        // `tasks/<task id>` leads to the container's sandbox, as in Mesos.
        let tasks_dir = driver.config().sandbox.join("tasks");
        std::fs::create_dir_all(&tasks_dir)
            .map_err(|e| format!("Cannot create {}: {e}", tasks_dir.display()))?;
        let link = tasks_dir.join(task.task_id.as_str());
        std::os::unix::fs::symlink(format!("../containers/{}", id.as_str()), &link)
            .map_err(|e| format!("Cannot link {}: {e}", link.display()))?;
        containers.launch(&id, task).await?;
        if let Some(t) = lock(&self.state).tasks.get_mut(&task.task_id) {
            t.container = Some(id.clone());
        }
        Ok(id)
    }

    /// Reports the end of `task_id`'s container `id`; a failure ends its
    /// group.
    fn wait_for(&self, driver: &ExecutorDriver, task_id: TaskId, id: ContainerId) {
        let Some(containers) = self.containers.clone() else {
            return;
        };
        let (driver, state) = (driver.clone(), Arc::clone(&self.state));
        let task_killing = self.task_killing;
        tokio::spawn(async move {
            let termination = containers.wait(&id).await;
            containers.remove(&id).await;
            let (killed, unhealthy, group) = {
                let mut st = lock(&state);
                let Some(t) = st.tasks.get_mut(&task_id) else {
                    return;
                };
                t.exited = true;
                for check in t.checks.drain(..) {
                    check.abort();
                }
                (t.killed, t.unhealthy, t.group)
            };
            let status = terminal_status(task_id, &termination, killed, unhealthy);
            let failed = status.state == TaskState::TaskFailed as i32;
            driver.send_status(status);
            if failed {
                // The group lives and dies together.
                kill_group(&state, &driver, &containers, task_killing, group, None);
            }
            if lock(&state).tasks.values().all(|t| t.exited) {
                finish(driver);
            }
        });
    }

    /// Starts the task's health check and check; a task killed for its
    /// health takes its group with it.
    fn watch(&self, driver: &ExecutorDriver, task_id: &TaskId, group: u64) {
        let Some(info) = lock(&self.state).tasks.get(task_id).map(|t| t.info.clone()) else {
            return;
        };
        let sandbox = driver.config().sandbox.join("tasks").join(task_id.as_str());
        let (health_driver, check_driver) = (driver.clone(), driver.clone());
        let (state, task_killing, id) =
            (Arc::clone(&self.state), self.task_killing, task_id.clone());
        let check_id = task_id.clone();
        let containers = self.containers.clone();
        let checks = health::watch_task(
            &info,
            sandbox,
            move |verdict| {
                if lock(&state)
                    .tasks
                    .get(&id)
                    .is_none_or(|t| t.killed || t.exited)
                {
                    return;
                }
                health_driver.send_status(health::health_update(&id, verdict.healthy));
                if verdict.kill {
                    if let Some(t) = lock(&state).tasks.get_mut(&id) {
                        t.unhealthy = true;
                    }
                    if let Some(containers) = &containers {
                        kill_group(
                            &state,
                            &health_driver,
                            containers,
                            task_killing,
                            group,
                            None,
                        );
                    }
                }
            },
            move |status| check_driver.send_status(health::check_update(&check_id, status)),
        );
        if let Some(t) = lock(&self.state).tasks.get_mut(task_id) {
            t.checks = checks;
        }
    }

    fn kill_group(&self, driver: &ExecutorDriver, group: u64, policy: Option<KillPolicy>) {
        if let Some(containers) = &self.containers {
            kill_group(
                &self.state,
                driver,
                containers,
                self.task_killing,
                group,
                policy,
            );
        }
    }
}

/// Kills every live task of `group`, each with its grace period.
fn kill_group(
    state: &Shared,
    driver: &ExecutorDriver,
    containers: &Containers,
    task_killing: bool,
    group: u64,
    policy: Option<KillPolicy>,
) {
    let targets: Vec<(TaskId, Option<ContainerId>, Duration)> = {
        let mut st = lock(state);
        st.tasks
            .values_mut()
            .filter(|t| t.group == group && !t.exited && !t.killed)
            .map(|t| {
                t.killed = true;
                let grace = kill_grace(policy.as_ref(), t.info.kill_policy.as_ref());
                (t.info.task_id.clone(), t.container.clone(), grace)
            })
            .collect()
    };
    for (task_id, container, grace) in targets {
        if task_killing {
            driver.update(&task_id, TaskState::TaskKilling, None);
        }
        if let Some(id) = container {
            let (state, containers) = (Arc::clone(state), containers.clone());
            tokio::spawn(async move {
                let _ = containers.kill(&id, Signal::TERM).await;
                tokio::time::sleep(grace).await;
                if !lock(&state).tasks.get(&task_id).is_none_or(|t| t.exited) {
                    let _ = containers.kill(&id, Signal::KILL).await;
                }
            });
        }
    }
}

impl Executor for DefaultExecutor {
    async fn subscribed(&mut self, driver: &ExecutorDriver, subscribed: event::Subscribed) {
        self.task_killing = task_killing(&subscribed);
        if let Some(parent) = subscribed.container_id.clone() {
            self.containers = Some(Containers::new(&driver.config().agent_endpoint, parent));
        }
    }

    async fn launch(&mut self, driver: &ExecutorDriver, task: TaskInfo) {
        self.launch_tasks(driver, vec![task]).await;
    }

    async fn launch_group(&mut self, driver: &ExecutorDriver, group: TaskGroupInfo) {
        self.launch_tasks(driver, group.tasks).await;
    }

    async fn kill(&mut self, driver: &ExecutorDriver, task_id: TaskId, policy: Option<KillPolicy>) {
        let group = lock(&self.state).tasks.get(&task_id).map(|t| t.group);
        if let Some(group) = group {
            self.kill_group(driver, group, policy);
        }
    }

    async fn shutdown(&mut self, driver: &ExecutorDriver) {
        let live: Vec<ContainerId> = {
            let mut st = lock(&self.state);
            st.tasks
                .values_mut()
                .filter(|t| !t.exited)
                .filter_map(|t| {
                    t.killed = true;
                    t.container.clone()
                })
                .collect()
        };
        let Some(containers) = self.containers.clone() else {
            return;
        };
        for id in &live {
            let _ = containers.kill(id, Signal::TERM).await;
        }
        let deadline = tokio::time::Instant::now() + shutdown_grace(driver);
        while tokio::time::Instant::now() < deadline {
            if lock(&self.state).tasks.values().all(|t| t.exited) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for id in &live {
            let _ = containers.kill(id, Signal::KILL).await;
        }
        // Give the waiters a moment to send the terminal updates.
        driver.wait_acknowledged(Duration::from_millis(500)).await;
    }
}

/// Runs the default executor against the agent named in the environment.
pub async fn run() -> Result<(), ExecutorError> {
    let config = ExecutorConfig::from_env().map_err(|e| ExecutorError::Refused(e.to_string()))?;
    mesos_executor::run(DefaultExecutor::default(), config).await
}
