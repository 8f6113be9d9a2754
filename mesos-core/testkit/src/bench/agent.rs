//! [`sleepers`]: many `sleep` tasks on one real agent, each a real process
//! under its own command executor; how long until all run, and how long
//! until all are killed.

use super::{Launcher, TaskOutcome};
use crate::{RawScheduler, TestkitError};
use mesos_proto::media::MediaType;
use mesos_proto::resources::Resources;
use mesos_proto::v1::scheduler::{Call, call};
use mesos_proto::v1::{FrameworkInfo, TaskState};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What [`sleepers`] measured.
#[derive(Debug, Clone)]
pub struct SleepersReport {
    /// Tasks launched (and killed).
    pub tasks: usize,
    /// From the first ACCEPT to the last TASK_RUNNING.
    pub to_running: Duration,
    /// From the first KILL to the last TASK_KILLED.
    pub to_killed: Duration,
}

/// Launches `tasks` tasks of `sleep 1000` (0.01 cpus, 1 MB each) through
/// the master at `master` onto its agents, acknowledging every update;
/// calls `at_running` once all run (to sample the agent's memory, say);
/// then kills them all. A task that ends any other way than TASK_KILLED
/// fails the scenario, naming it.
pub async fn sleepers<T>(
    master: std::net::SocketAddr,
    tasks: usize,
    at_running: impl FnOnce() -> T,
) -> Result<(SleepersReport, T), TestkitError> {
    let info = FrameworkInfo {
        user: std::env::var("USER").unwrap_or_else(|_| "root".into()),
        name: "sleepers".into(),
        ..Default::default()
    };
    let mut s = RawScheduler::subscribe(master, info, MediaType::Protobuf).await?;
    let per_task: Resources = "cpus:0.01;mem:1"
        .parse()
        .map_err(|e| TestkitError::Decode(format!("{e}")))?;
    let mut launcher = Launcher::new(&s, per_task, tasks);
    let deadline = Instant::now() + Duration::from_secs(600);
    while launcher.latencies.len() < tasks {
        let event = next_event(&mut s, deadline).await?;
        if let TaskOutcome::Ended(status) = launcher.on_event(&event) {
            return Err(TestkitError::Setup(format!(
                "task {} ended before it was killed: {:?} {}",
                status.task_id,
                TaskState::try_from(status.state),
                status.message.unwrap_or_default()
            )));
        }
    }
    let to_running = launcher.first.map_or(Duration::ZERO, |f| f.elapsed());
    let sample = at_running();

    let killing = Instant::now();
    let mut left: HashMap<_, _> = launcher.sent.clone();
    for (task_id, _) in launcher.sent.iter() {
        let agent_id = launcher.agents.get(task_id).cloned().unwrap_or_default();
        launcher.send(Call {
            framework_id: Some(s.framework_id().clone()),
            r#type: Some(call::Type::Kill as i32),
            kill: Some(call::Kill {
                task_id: task_id.clone(),
                agent_id: Some(agent_id),
                kill_policy: None,
            }),
            ..Default::default()
        });
    }
    while !left.is_empty() {
        let event = next_event(&mut s, deadline).await?;
        match launcher.on_event(&event) {
            TaskOutcome::Ended(status) if status.state == TaskState::TaskKilled as i32 => {
                left.remove(&status.task_id);
            }
            TaskOutcome::Ended(status) => {
                return Err(TestkitError::Setup(format!(
                    "task {} was to be killed but ended {:?}: {}",
                    status.task_id,
                    TaskState::try_from(status.state),
                    status.message.unwrap_or_default()
                )));
            }
            TaskOutcome::Other => {}
        }
    }
    let report = SleepersReport {
        tasks,
        to_running,
        to_killed: killing.elapsed(),
    };
    Ok((report, sample))
}

async fn next_event(
    s: &mut RawScheduler,
    deadline: Instant,
) -> Result<mesos_proto::v1::scheduler::Event, TestkitError> {
    let wait = deadline.saturating_duration_since(Instant::now());
    s.next_event(wait.min(Duration::from_secs(60)))
        .await?
        .ok_or(TestkitError::Timeout("an event"))
}
