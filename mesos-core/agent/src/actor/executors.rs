//! Executors on the agent: launching them (fetch, container, checkpoints)
//! and giving them their tasks. Their own calls (SUBSCRIBE, UPDATE, ...)
//! are in `executor_api`; their ends in `termination`.

use super::{Actor, Framework, Input, is_terminal};
use crate::checkpoint::RunMeta;
use crate::containerizer::{Container, LaunchSpec};
use crate::paths::create_run_dir;
use mesos_proto::duration::format_duration;
use mesos_proto::resources::Resources;
use mesos_proto::v1::executor::{Event as ExecutorEvent, event};
use mesos_proto::v1::{
    AgentInfo, CommandInfo, ContainerId, ExecutorId, ExecutorInfo, FrameworkId, FrameworkInfo,
    KillPolicy, Task, TaskGroupInfo, TaskId, TaskInfo, TaskState, TaskStatus, executor_info,
    task_status,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;

/// What the agent adds for a command executor (Mesos: 0.1 cpus, 32 MB).
const COMMAND_EXECUTOR_RESOURCES: &str = "cpus:0.1;mem:32";

/// Events queued for one executor before it is judged stuck.
pub(super) const EXECUTOR_QUEUE: usize = 4096;
/// Completed executors kept per framework for `/state` (Mesos' default).
pub(super) const MAX_COMPLETED_EXECUTORS: usize = 150;

/// Where an executor is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Its sandbox is being filled (URIs fetched); no process yet.
    Fetching,
    /// Started, not yet subscribed.
    Launching,
    /// Subscribed.
    Running,
    /// Re-adopted after an agent restart; waiting for it to subscribe
    /// again (within `--recovery_timeout`).
    Reconnecting,
    /// Told to shut down (or being killed).
    Terminating,
}

/// Something queued for an executor that has not subscribed yet.
#[derive(Debug, Clone)]
pub(crate) enum Queued {
    Task(Box<TaskInfo>),
    Group(TaskGroupInfo),
}

/// A task given to an executor.
#[derive(Debug, Clone)]
pub(crate) struct LiveTask {
    pub(crate) info: TaskInfo,
    pub(crate) state: i32,
    pub(crate) latest: Option<TaskStatus>,
}

/// One run of an executor: its container and its tasks.
#[derive(Debug)]
pub(crate) struct ExecutorRun {
    pub(crate) info: ExecutorInfo,
    pub(crate) framework_id: FrameworkId,
    pub(crate) container_id: ContainerId,
    pub(crate) directory: PathBuf,
    /// A command executor the agent made up for a command task.
    pub(crate) generated: bool,
    pub(crate) phase: Phase,
    pub(crate) stream: Option<mpsc::Sender<ExecutorEvent>>,
    pub(crate) queued: Vec<Queued>,
    pub(crate) tasks: BTreeMap<TaskId, LiveTask>,
    pub(crate) completed: Vec<LiveTask>,
    /// Why the agent is ending it, to tell the frameworks.
    pub(crate) failure: Option<(task_status::Reason, String)>,
    /// Where its checkpoints go (frameworks that checkpoint).
    pub(crate) meta: Option<RunMeta>,
    /// Kills that wait for a re-adopted executor to subscribe again.
    pub(crate) pending_kills: Vec<(TaskId, Option<KillPolicy>)>,
}

impl ExecutorRun {
    pub(super) fn queued_tasks(&self) -> impl Iterator<Item = &TaskInfo> {
        self.queued.iter().flat_map(work_tasks)
    }

    /// Whether `task` is queued or live here.
    pub(crate) fn has_task(&self, task: &TaskId) -> bool {
        self.tasks.contains_key(task) || self.queued_tasks().any(|t| t.task_id == *task)
    }

    /// The run's non-terminal tasks as the master knows tasks.
    pub(crate) fn tasks_for_master(&self, agent: &AgentInfo) -> Vec<Task> {
        let task = |info: &TaskInfo, state: i32, latest: Option<&TaskStatus>| {
            let executor = (!self.generated).then_some(&self.info);
            let mut task =
                Task::from_info(info, &self.framework_id, executor, TaskState::TaskStaging);
            task.state = state;
            task.agent_id = agent.id.clone().unwrap_or_default();
            task.statuses = latest.cloned().into_iter().collect();
            task
        };
        let mut out: Vec<Task> = self
            .queued_tasks()
            .map(|t| task(t, TaskState::TaskStaging as i32, None))
            .collect();
        out.extend(
            self.tasks
                .values()
                .map(|t| task(&t.info, t.state, t.latest.as_ref())),
        );
        out
    }

    pub(super) fn send(&self, event: ExecutorEvent) {
        if let Some(stream) = &self.stream {
            if stream.try_send(event).is_err() {
                tracing::warn!(
                    "executor {} is not reading its events; one was dropped",
                    self.info.executor_id
                );
            }
        }
    }
}

pub(super) fn event(ty: event::Type) -> ExecutorEvent {
    ExecutorEvent {
        r#type: Some(ty as i32),
        ..Default::default()
    }
}

impl Actor {
    /// The executor Mesos makes up for a command task: the `mesos` binary
    /// as `mesos executor command`, with the task's id.
    fn command_executor(&self, framework_id: &FrameworkId, task: &TaskInfo) -> ExecutorInfo {
        let launcher = self.launcher.to_string_lossy().into_owned();
        let command = task
            .command
            .as_ref()
            .and_then(|c| c.value.clone())
            .unwrap_or_default();
        ExecutorInfo {
            executor_id: ExecutorId::new(task.task_id.as_str()),
            framework_id: Some(framework_id.clone()),
            command: Some(CommandInfo {
                shell: Some(false),
                value: Some(launcher.clone()),
                arguments: vec![launcher, "executor".into(), "command".into()],
                ..Default::default()
            }),
            name: Some(format!(
                "Command Executor (Task: {}) (Command: sh -c '{command}')",
                task.task_id
            )),
            source: Some(task.task_id.to_string()),
            // The command executor shares its task's container.
            container: task.container.clone(),
            // Mesos' allowance for the command executor itself.
            resources: COMMAND_EXECUTOR_RESOURCES
                .parse::<Resources>()
                .map(Resources::into_vec)
                .unwrap_or_default(),
            ..Default::default()
        }
    }

    fn framework(&mut self, info: FrameworkInfo) -> Option<&mut Framework> {
        let id = info.id.clone()?;
        if info.checkpoint == Some(true) {
            if let Some(agent_id) = &self.info.id {
                if let Err(e) = self.checkpoint.framework(agent_id, &info) {
                    tracing::error!("cannot checkpoint framework {id}: {e}");
                }
            }
        }
        let framework = self.frameworks.entry(id).or_insert_with(|| Framework {
            info: info.clone(),
            executors: BTreeMap::new(),
            completed_executors: Vec::new(),
        });
        framework.info = info;
        Some(framework)
    }

    /// RUN_TASK: give the task to its executor, launching it if needed.
    pub(crate) fn run_task(&mut self, framework_info: FrameworkInfo, task: TaskInfo) {
        let Some(framework_id) = framework_info.id.clone() else {
            tracing::warn!("RUN_TASK without a framework id, ignored");
            return;
        };
        let (info, generated) = match &task.executor {
            Some(executor) => (executor.clone(), false),
            None => (self.command_executor(&framework_id, &task), true),
        };
        self.run_on(
            framework_info,
            info,
            generated,
            Queued::Task(Box::new(task)),
        );
    }

    /// RUN_TASK_GROUP: tasks for one executor.
    pub(crate) fn run_task_group(
        &mut self,
        framework_info: FrameworkInfo,
        executor: ExecutorInfo,
        group: TaskGroupInfo,
    ) {
        self.run_on(framework_info, executor, false, Queued::Group(group));
    }

    fn run_on(
        &mut self,
        framework_info: FrameworkInfo,
        info: ExecutorInfo,
        generated: bool,
        work: Queued,
    ) {
        let Some(framework_id) = framework_info.id.clone() else {
            return;
        };
        let executor_id = info.executor_id.clone();
        let containerizer = std::sync::Arc::clone(&self.containerizer);
        let Some(framework) = self.framework(framework_info) else {
            return;
        };
        if let Some(run) = framework.executors.get_mut(&executor_id) {
            if run.phase != Phase::Terminating {
                if let Some(meta) = run.meta.clone() {
                    for task in work_tasks(&work) {
                        self.checkpoint_task(&framework_id, &meta, task);
                    }
                }
            }
            let Some(run) = self.run_mut(&framework_id, &executor_id) else {
                return;
            };
            match run.phase {
                Phase::Fetching | Phase::Launching | Phase::Reconnecting => run.queued.push(work),
                Phase::Running => {
                    if !nests_tasks(&run.info) {
                        let mut total = run_resources(run);
                        total += &container_resources(&ExecutorInfo::default(), [&work]);
                        if let Err(e) = containerizer.update(&run.container_id, &total) {
                            tracing::warn!("{e}");
                        }
                    }
                    deliver(run, work);
                }
                Phase::Terminating => {
                    let tasks = tasks_of(&work);
                    for task in tasks {
                        self.agent_update(
                            &framework_id,
                            &task,
                            TaskState::TaskLost,
                            Some(task_status::Reason::ExecutorTerminated),
                            format!("Executor {executor_id} is terminating"),
                            Some(executor_id.clone()),
                        );
                    }
                }
            }
            return;
        }
        if let Err(message) = self.launch_executor(&framework_id, info, generated, work.clone()) {
            for task in tasks_of(&work) {
                self.agent_update(
                    &framework_id,
                    &task,
                    TaskState::TaskFailed,
                    Some(task_status::Reason::ContainerLaunchFailed),
                    message.clone(),
                    Some(executor_id.clone()),
                );
            }
        }
    }

    fn launch_executor(
        &mut self,
        framework_id: &FrameworkId,
        info: ExecutorInfo,
        generated: bool,
        work: Queued,
    ) -> Result<(), String> {
        let agent_id = self
            .info
            .id
            .clone()
            .ok_or("the agent is not registered yet")?;
        let container_id = ContainerId::new(uuid::Uuid::new_v4().to_string());
        let directory =
            self.layout
                .executor_run(&agent_id, framework_id, &info.executor_id, &container_id);
        create_run_dir(&directory)
            .map_err(|e| format!("cannot create the sandbox {}: {e}", directory.display()))?;
        let framework = self
            .frameworks
            .get(framework_id)
            .ok_or("the framework is unknown")?;
        let checkpoint = framework.info.checkpoint.unwrap_or(false);
        let meta = if checkpoint {
            let meta = self
                .checkpoint
                .run(&agent_id, framework_id, &info, generated, &container_id)
                .map_err(|e| format!("cannot checkpoint the executor: {e}"))?;
            for task in work_tasks(&work) {
                self.checkpoint_task(framework_id, &meta, task);
            }
            Some(meta)
        } else {
            None
        };
        let grace = info
            .shutdown_grace_period
            .as_ref()
            .and_then(|d| u64::try_from(d.nanoseconds).ok())
            .map_or(
                self.config.executor_shutdown_grace_period,
                Duration::from_nanos,
            );
        let dir = directory.to_string_lossy().into_owned();
        let endpoint = self.addr.to_string();
        let mut env = vec![
            ("MESOS_FRAMEWORK_ID".to_string(), framework_id.to_string()),
            ("MESOS_EXECUTOR_ID".into(), info.executor_id.to_string()),
            ("MESOS_SLAVE_ID".into(), agent_id.to_string()),
            ("MESOS_AGENT_ID".into(), agent_id.to_string()),
            ("MESOS_DIRECTORY".into(), dir.clone()),
            ("MESOS_SANDBOX".into(), dir),
            ("MESOS_AGENT_ENDPOINT".into(), endpoint.clone()),
            ("MESOS_SLAVE_PID".into(), format!("slave(1)@{endpoint}")),
            (
                "MESOS_CHECKPOINT".into(),
                if checkpoint { "1" } else { "0" }.into(),
            ),
            (
                "MESOS_RECOVERY_TIMEOUT".into(),
                format_duration(self.config.recovery_timeout),
            ),
            ("MESOS_SUBSCRIPTION_BACKOFF_MAX".into(), "2secs".into()),
            (
                "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD".into(),
                format_duration(grace),
            ),
        ];
        if generated {
            env.push(("MESOS_HTTP_COMMAND_EXECUTOR".into(), "1".into()));
        }
        let command = if info.r#type == Some(executor_info::Type::Default as i32) {
            // Mesos' default executor: ours is `mesos executor default`.
            let launcher = self.launcher.to_string_lossy().into_owned();
            CommandInfo {
                shell: Some(false),
                value: Some(launcher.clone()),
                arguments: vec![launcher, "executor".into(), "default".into()],
                ..Default::default()
            }
        } else {
            info.command.clone().unwrap_or_default()
        };
        let spec = LaunchSpec {
            container_id: container_id.clone(),
            command,
            env,
            sandbox: directory.clone(),
            resources: container_resources(&info, std::slice::from_ref(&work)),
            rlimits: info.container.as_ref().and_then(|c| c.rlimit_info.clone()),
        };
        let uris = if generated {
            match &work {
                Queued::Task(t) => t
                    .command
                    .as_ref()
                    .map(|c| c.uris.clone())
                    .unwrap_or_default(),
                Queued::Group(_) => Vec::new(),
            }
        } else {
            info.command
                .as_ref()
                .map(|c| c.uris.clone())
                .unwrap_or_default()
        };
        self.containers.insert(
            container_id.clone(),
            (framework_id.clone(), info.executor_id.clone()),
        );
        let run = ExecutorRun {
            framework_id: framework_id.clone(),
            container_id: container_id.clone(),
            directory: directory.clone(),
            generated,
            phase: Phase::Fetching,
            stream: None,
            queued: vec![work],
            tasks: BTreeMap::new(),
            completed: Vec::new(),
            failure: None,
            meta,
            pending_kills: Vec::new(),
            info,
        };
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            framework
                .executors
                .insert(run.info.executor_id.clone(), run);
        }
        if uris.is_empty() {
            self.fetched(&container_id, spec, Ok(()));
            return Ok(());
        }
        let (client, inputs) = (self.client.clone(), self.inputs.clone());
        let cache = crate::fetcher::Cache {
            dir: self
                .config
                .fetcher_cache_dir
                .clone()
                .unwrap_or_else(|| self.config.work_dir.join("fetch")),
            max_bytes: self.config.fetcher_cache_size,
        };
        tokio::spawn(async move {
            let result = crate::fetcher::fetch_all(&client, &uris, &directory, Some(&cache)).await;
            let _ = inputs
                .send(Input::Fetched(container_id, Box::new(spec), result))
                .await;
        });
        Ok(())
    }

    /// The sandbox is ready (or the fetch failed): start the container.
    pub(crate) fn fetched(
        &mut self,
        container_id: &ContainerId,
        spec: LaunchSpec,
        result: Result<(), crate::fetcher::FetchError>,
    ) {
        let Some((framework_id, executor_id)) = self.containers.get(container_id).cloned() else {
            return;
        };
        let no_process = crate::containerizer::Termination {
            exit_code: None,
            signal: None,
            limitation: None,
        };
        let phase = self.run_mut(&framework_id, &executor_id).map(|r| r.phase);
        if phase == Some(Phase::Terminating) {
            // Shut down while fetching: it never started.
            self.terminated(container_id, no_process);
            return;
        }
        let launched = result.map_err(|e| e.to_string()).and_then(|()| {
            self.containerizer
                .launch(&spec)
                .map_err(|e| format!("Failed to launch container: {e}"))
        });
        let container = match launched {
            Ok(container) => container,
            Err(message) => {
                self.counters.container_launch_errors += 1;
                if let Some(run) = self.run_mut(&framework_id, &executor_id) {
                    run.failure = Some((task_status::Reason::ContainerLaunchFailed, message));
                }
                self.terminated(container_id, no_process);
                return;
            }
        };
        tracing::info!(
            "launched executor {executor_id} of framework {framework_id} in container {container_id} (pid {})",
            container.pid
        );
        if let Some(run) = self.run_mut(&framework_id, &executor_id) {
            run.phase = Phase::Launching;
            if let Some(meta) = &run.meta {
                if let Err(e) = meta.forked(container.pid) {
                    tracing::error!("cannot checkpoint the pid of executor {executor_id}: {e}");
                }
            }
        }
        let timeout = self.config.executor_registration_timeout;
        self.watch(container_id, container, timeout);
    }

    /// Follows a container: its end, and a deadline for its executor to
    /// subscribe.
    pub(super) fn watch(
        &self,
        container_id: &ContainerId,
        container: Container,
        subscribe_within: Duration,
    ) {
        let inputs = self.inputs.clone();
        let cid = container_id.clone();
        let terminated = container.terminated;
        tokio::spawn(async move {
            if let Ok(termination) = terminated.await {
                let _ = inputs.send(Input::Terminated(cid, termination)).await;
            }
        });
        let inputs = self.inputs.clone();
        let cid = container_id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(subscribe_within).await;
            let _ = inputs.send(Input::RegistrationTimeout(cid)).await;
        });
    }

    /// Checkpoints a task given to a run; its update stream will be
    /// checkpointed too.
    fn checkpoint_task(&mut self, framework_id: &FrameworkId, meta: &RunMeta, task: &TaskInfo) {
        if let Err(e) = meta.task(task) {
            tracing::error!("cannot checkpoint task {}: {e}", task.task_id);
        }
        self.task_meta
            .insert(task.task_id.clone(), (framework_id.clone(), meta.clone()));
    }

    pub(super) fn run_mut(
        &mut self,
        framework_id: &FrameworkId,
        executor_id: &ExecutorId,
    ) -> Option<&mut ExecutorRun> {
        self.frameworks
            .get_mut(framework_id)?
            .executors
            .get_mut(executor_id)
    }
}

/// Sends queued work to a subscribed executor.
pub(super) fn deliver(run: &mut ExecutorRun, work: Queued) {
    match work {
        Queued::Task(task) => {
            let task = *task;
            run.tasks.insert(
                task.task_id.clone(),
                LiveTask {
                    info: task.clone(),
                    state: TaskState::TaskStaging as i32,
                    latest: None,
                },
            );
            let mut launch = event(event::Type::Launch);
            launch.launch = Some(event::Launch { task });
            run.send(launch);
        }
        Queued::Group(group) => {
            for task in &group.tasks {
                run.tasks.insert(
                    task.task_id.clone(),
                    LiveTask {
                        info: task.clone(),
                        state: TaskState::TaskStaging as i32,
                        latest: None,
                    },
                );
            }
            let mut launch = event(event::Type::LaunchGroup);
            launch.launch_group = Some(event::LaunchGroup { task_group: group });
            run.send(launch);
        }
    }
}

/// What a run's container holds now: its executor's resources and its
/// live and queued tasks'.
pub(crate) fn run_resources(run: &ExecutorRun) -> Resources {
    let live: Vec<Queued> = run
        .tasks
        .values()
        .filter(|t| !is_terminal(t.state))
        .map(|t| Queued::Task(Box::new(t.info.clone())))
        .chain(run.queued.iter().cloned())
        .collect();
    container_resources(&run.info, &live)
}

/// Whether `info`'s executor runs its tasks in nested containers of their
/// own (the default executor), so its container holds only its own
/// resources.
fn nests_tasks(info: &ExecutorInfo) -> bool {
    info.r#type == Some(executor_info::Type::Default as i32)
}

/// A container's resources: its executor's and, unless the executor nests
/// its tasks, every task's.
fn container_resources<'a>(
    info: &ExecutorInfo,
    work: impl IntoIterator<Item = &'a Queued>,
) -> Resources {
    let mut total = Resources::from_resources(info.resources.clone()).unwrap_or_default();
    if nests_tasks(info) {
        return total;
    }
    for w in work {
        for t in work_tasks(w) {
            if let Ok(r) = Resources::from_resources(t.resources.clone()) {
                total += &r;
            }
        }
    }
    total
}

fn tasks_of(work: &Queued) -> Vec<TaskId> {
    work_tasks(work).map(|t| t.task_id.clone()).collect()
}

fn work_tasks(work: &Queued) -> impl Iterator<Item = &TaskInfo> {
    match work {
        Queued::Task(t) => std::slice::from_ref(t.as_ref()).iter(),
        Queued::Group(g) => g.tasks.iter(),
    }
}
