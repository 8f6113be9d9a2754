//! The framework side of the scenarios: a raw v1 scheduler that launches
//! 1-cpu tasks on every offer and acknowledges every update.

use crate::{RawScheduler, TestkitError};
use mesos_proto::resources::Resources;
use mesos_proto::v1::offer::{Operation, operation};
use mesos_proto::v1::scheduler::{Event, call};
use mesos_proto::v1::{CommandInfo, Offer, TaskId, TaskInfo, TaskState};
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn tasks_for(offer: &Offer, per_task: &Resources, next: &mut usize, left: usize) -> Vec<TaskInfo> {
    let mut remaining = Resources::from_resources(offer.resources.clone())
        .unwrap_or_default()
        .unallocate();
    let mut out = Vec::new();
    while out.len() < left && remaining.contains(per_task) {
        remaining -= per_task;
        out.push(TaskInfo {
            name: format!("bench-{next}"),
            task_id: TaskId::new(format!("bench-{next}")),
            agent_id: offer.agent_id.clone(),
            resources: per_task.clone().into_vec(),
            command: Some(CommandInfo {
                value: Some("sleep 1000".into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        *next += 1;
    }
    out
}

/// The framework side of the scenarios ([`super::launch_throughput`] and
/// the others): calls go out on their own
/// tasks so the event stream is never held up. What it saw (`sent`,
/// `agents`, `latencies`, `first`) is for the scenarios to read.
pub(super) struct Launcher {
    caller: crate::Caller,
    framework_id: mesos_proto::v1::FrameworkId,
    per_task: Resources,
    tasks: usize,
    next: usize,
    pub(super) sent: HashMap<TaskId, Instant>,
    /// Where each task went.
    pub(super) agents: HashMap<TaskId, mesos_proto::v1::AgentId>,
    pub(super) latencies: Vec<Duration>,
    pub(super) first: Option<Instant>,
    /// Calls sent and not answered yet.
    in_flight: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// What an event meant for the launched tasks.
pub(super) enum TaskOutcome {
    /// A task reached a terminal state.
    Ended(Box<mesos_proto::v1::TaskStatus>),
    /// Nothing final.
    Other,
}

impl Launcher {
    pub(super) fn new(s: &RawScheduler, per_task: Resources, tasks: usize) -> Launcher {
        Launcher {
            caller: s.caller(),
            framework_id: s.framework_id().clone(),
            per_task,
            tasks,
            next: 0,
            sent: HashMap::with_capacity(tasks),
            agents: HashMap::with_capacity(tasks),
            latencies: Vec::with_capacity(tasks),
            first: None,
            in_flight: Default::default(),
        }
    }

    pub(super) fn send(&self, call: mesos_proto::v1::scheduler::Call) {
        use std::sync::atomic::Ordering;
        let caller = self.caller.clone();
        let in_flight = std::sync::Arc::clone(&self.in_flight);
        in_flight.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let _ = caller.call(&call).await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }

    /// Waits until every call sent has been answered (the last
    /// acknowledgements, say), so that what is measured next does not
    /// share the master with them.
    pub(super) async fn settle(&self, deadline: Instant) -> Result<(), TestkitError> {
        while self.in_flight.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            if Instant::now() > deadline {
                return Err(TestkitError::Timeout(
                    "the framework's calls to be answered",
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Launches on offers, records TASK_RUNNING latencies and
    /// acknowledges every update.
    pub(super) fn on_event(&mut self, event: &Event) -> TaskOutcome {
        for offer in event.offers.iter().flat_map(|o| &o.offers) {
            let left = self.tasks.saturating_sub(self.sent.len());
            let launch = tasks_for(offer, &self.per_task, &mut self.next, left);
            let now = Instant::now();
            self.first.get_or_insert(now);
            for t in &launch {
                self.sent.insert(t.task_id.clone(), now);
                self.agents.insert(t.task_id.clone(), t.agent_id.clone());
            }
            self.send(mesos_proto::v1::scheduler::Call {
                framework_id: Some(self.framework_id.clone()),
                r#type: Some(call::Type::Accept as i32),
                accept: Some(call::Accept {
                    offer_ids: vec![offer.id.clone()],
                    operations: vec![Operation {
                        r#type: Some(operation::Type::Launch as i32),
                        launch: Some(operation::Launch { task_infos: launch }),
                        ..Default::default()
                    }],
                    filters: None,
                }),
                ..Default::default()
            });
        }
        let Some(update) = &event.update else {
            return TaskOutcome::Other;
        };
        let status = &update.status;
        if status.state == TaskState::TaskRunning as i32 {
            if let Some(at) = self.sent.get(&status.task_id) {
                self.latencies.push(at.elapsed());
            }
        }
        if let (Some(uuid), Some(agent_id)) = (&status.uuid, &status.agent_id) {
            self.send(mesos_proto::v1::scheduler::Call {
                framework_id: Some(self.framework_id.clone()),
                r#type: Some(call::Type::Acknowledge as i32),
                acknowledge: Some(call::Acknowledge {
                    agent_id: agent_id.clone(),
                    task_id: status.task_id.clone(),
                    uuid: uuid.clone(),
                }),
                ..Default::default()
            });
        }
        if mesos_proto::is_terminal(status.state) {
            TaskOutcome::Ended(Box::new(status.clone()))
        } else {
            TaskOutcome::Other
        }
    }
}

/// Has the framework of `s` launch `tasks` tasks of 1 cpu and 128 MB on
/// its offers until each is running, every update acknowledged and every
/// call answered (within `within`).
pub(super) async fn launch_all(
    s: &mut RawScheduler,
    tasks: usize,
    within: Duration,
) -> Result<(), TestkitError> {
    let per_task = "cpus:1;mem:128"
        .parse()
        .map_err(|e| TestkitError::Decode(format!("{e}")))?;
    let mut launcher = Launcher::new(s, per_task, tasks);
    let deadline = Instant::now() + within;
    while launcher.latencies.len() < tasks {
        if Instant::now() > deadline {
            return Err(TestkitError::Timeout("all tasks running"));
        }
        let Some(event) = s.next_event(Duration::from_secs(30)).await? else {
            return Err(TestkitError::Timeout("an event"));
        };
        let _ = launcher.on_event(&event);
    }
    launcher.settle(deadline).await
}
