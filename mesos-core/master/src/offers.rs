//! Offers: made from the allocator's decisions, declined, rescinded, and
//! accepted with LAUNCH and LAUNCH_GROUP.

use crate::actor::{CallError, MasterActor, OutstandingOffer};
use crate::agents::is_terminal;
use crate::allocator::filters::refuse_duration;
use mesos_proto::agent_protocol::{AgentEvent, agent_event};
use mesos_proto::resources::Resources;
use mesos_proto::v1::offer::operation::Type as Op;
use mesos_proto::v1::resource::AllocationInfo;
use mesos_proto::v1::scheduler::{Event, call, event};
use mesos_proto::v1::{
    AgentId, FrameworkId, Offer, OfferId, Task, TaskInfo, TaskState, TaskStatus, task_status,
};
use std::collections::{BTreeMap, BTreeSet};

impl MasterActor {
    /// One allocation cycle: the allocator's decisions become OFFERS, one
    /// offer per framework, agent and role.
    pub(crate) fn allocate(&mut self) {
        self.allocation_pending = false;
        let started = std::time::Instant::now();
        let now = self.now();
        let mut by_framework: BTreeMap<FrameworkId, Vec<Offer>> = BTreeMap::new();
        for allocation in self.allocator.allocate(now) {
            let Some(agent) = self.agents.get(&allocation.agent_id) else {
                continue;
            };
            for (role, resources) in allocation.resources.allocations() {
                let id = OfferId::new(format!("{}-O{}", self.info.id, self.next_offer));
                self.next_offer += 1;
                let offer = Offer {
                    id: id.clone(),
                    framework_id: allocation.framework_id.clone(),
                    agent_id: allocation.agent_id.clone(),
                    hostname: agent.info.hostname.clone(),
                    resources: resources.clone().into_vec(),
                    attributes: agent.info.attributes.clone(),
                    allocation_info: Some(AllocationInfo { role: Some(role) }),
                    ..Default::default()
                };
                self.offers.insert(
                    id,
                    OutstandingOffer {
                        framework_id: allocation.framework_id.clone(),
                        agent_id: allocation.agent_id.clone(),
                        resources,
                        created: tokio::time::Instant::now(),
                    },
                );
                by_framework
                    .entry(allocation.framework_id.clone())
                    .or_default()
                    .push(offer);
            }
        }
        self.metrics.allocation_runs += 1;
        self.metrics.last_allocation_ms = started.elapsed().as_secs_f64() * 1000.0;
        for (framework_id, offers) in by_framework {
            self.send(
                &framework_id,
                Event {
                    r#type: Some(event::Type::Offers as i32),
                    offers: Some(event::Offers { offers }),
                    ..Default::default()
                },
            );
        }
    }

    /// Takes back the outstanding offers `which` selects: their resources
    /// go back to the allocator (`recover`) and their frameworks hear a
    /// RESCIND (`rescind`).
    fn withdraw_offers(
        &mut self,
        which: impl Fn(&OutstandingOffer) -> bool,
        recover: bool,
        rescind: bool,
    ) {
        let ids: Vec<OfferId> = self
            .offers
            .iter()
            .filter(|(_, o)| which(o))
            .map(|(id, _)| id.clone())
            .collect();
        let now = self.now();
        for id in ids {
            let Some(o) = self.offers.remove(&id) else {
                continue;
            };
            if recover {
                self.allocator.recover_resources(
                    &o.framework_id,
                    &o.agent_id,
                    &o.resources,
                    None,
                    now,
                );
            }
            if rescind {
                self.send(
                    &o.framework_id,
                    Event {
                        r#type: Some(event::Type::Rescind as i32),
                        rescind: Some(event::Rescind { offer_id: id }),
                        ..Default::default()
                    },
                );
            }
        }
    }

    /// Takes back every offer on an agent (it went away; the allocator
    /// drops the agent itself), with RESCIND.
    pub(crate) fn rescind_offers_on(&mut self, agent_id: &AgentId) {
        self.withdraw_offers(|o| o.agent_id == *agent_id, false, true);
    }

    /// `--offer_timeout`: offers outstanding longer are rescinded and their
    /// resources offered again (to others first, by DRF).
    pub(crate) fn expire_offers(&mut self, now: tokio::time::Instant) {
        if let Some(timeout) = self.config.offer_timeout {
            self.withdraw_offers(|o| now.duration_since(o.created) >= timeout, true, true);
        }
    }

    /// Drops a framework's outstanding offers (the allocator releases what
    /// they held when the framework is removed).
    pub(crate) fn forget_offers_of(&mut self, framework_id: &FrameworkId) {
        self.offers.retain(|_, o| o.framework_id != *framework_id);
    }

    /// Takes a framework's outstanding offers back into the pool (it
    /// disconnected).
    pub(crate) fn recover_offers_of(&mut self, framework_id: &FrameworkId) {
        self.withdraw_offers(|o| o.framework_id == *framework_id, true, false);
    }

    /// DECLINE: the offers' resources go back, filtered for the framework
    /// as `filters.refuse_seconds` says. Unknown offers are ignored, as
    /// Mesos does.
    pub(crate) fn decline(&mut self, framework_id: &FrameworkId, decline: call::Decline) {
        let filter = refuse_duration(decline.filters.and_then(|f| f.refuse_seconds));
        let now = self.now();
        for id in decline.offer_ids {
            if self
                .offers
                .get(&id)
                .is_some_and(|o| o.framework_id == *framework_id)
            {
                if let Some(offer) = self.offers.remove(&id) {
                    self.allocator.recover_resources(
                        framework_id,
                        &offer.agent_id,
                        &offer.resources,
                        filter,
                        now,
                    );
                }
            }
        }
    }

    /// ACCEPT: validates the offers and each operation, launches valid
    /// tasks, answers invalid ones with TASK_ERROR (or TASK_DROPPED/LOST for
    /// invalid offers), and gives back what is left with the call's filter.
    pub(crate) fn accept(
        &mut self,
        framework_id: &FrameworkId,
        accept: call::Accept,
    ) -> Result<(), CallError> {
        // Refuse what is not built yet before touching anything.
        for op in &accept.operations {
            let ty = op.r#type.and_then(|t| Op::try_from(t).ok());
            match ty {
                Some(Op::Launch | Op::LaunchGroup) => {}
                Some(other) => {
                    return Err(CallError::BadRequest(format!(
                        "{} operations are not supported yet; only LAUNCH and LAUNCH_GROUP",
                        other.as_str_name()
                    )));
                }
                None => {
                    return Err(CallError::BadRequest(
                        "Expecting 'type' to be present in every operation".into(),
                    ));
                }
            }
        }

        // The offers: known, this framework's, each once, one agent.
        let mut problem = None;
        let mut seen = BTreeSet::new();
        let mut offers = Vec::new();
        for id in &accept.offer_ids {
            if !seen.insert(id.clone()) {
                problem = Some(format!("Offer {id} appears more than once"));
                continue;
            }
            match self.offers.get(id) {
                Some(o) if o.framework_id == *framework_id => offers.push(o.clone()),
                Some(_) => problem = Some(format!("Offer {id} belongs to another framework")),
                None => problem = Some(format!("Offer {id} is no longer valid")),
            }
        }
        if offers.is_empty() && problem.is_none() {
            problem = Some("No offers given".into());
        }
        let agent_id = offers.first().map(|o| o.agent_id.clone());
        if offers
            .iter()
            .any(|o| Some(&o.agent_id) != agent_id.as_ref())
        {
            problem = Some("Aggregated offers must belong to one single agent".into());
        }
        for o in &accept.offer_ids {
            if self
                .offers
                .get(o)
                .is_some_and(|x| x.framework_id == *framework_id)
            {
                self.offers.remove(o);
            }
        }
        let mut remaining = Resources::new();
        for o in &offers {
            remaining += &o.resources;
        }
        let filter = refuse_duration(accept.filters.and_then(|f| f.refuse_seconds));

        let tasks = launched_tasks(&accept.operations);
        match (problem, agent_id) {
            (None, Some(agent_id)) => {
                for (task, group) in tasks {
                    self.launch(framework_id, &agent_id, task, group, &mut remaining);
                }
                let now = self.now();
                self.allocator
                    .recover_resources(framework_id, &agent_id, &remaining, filter, now);
            }
            (problem, agent_id) => {
                let message = problem.unwrap_or_default();
                let state = self.lost_or(framework_id, TaskState::TaskDropped);
                for (task, _) in tasks {
                    self.master_update(
                        framework_id,
                        &task,
                        state,
                        task_status::Reason::InvalidOffers,
                        &message,
                    );
                }
                // The valid offers' resources go back, unfiltered.
                let _ = agent_id;
                let now = self.now();
                for o in offers {
                    self.allocator.recover_resources(
                        framework_id,
                        &o.agent_id,
                        &o.resources,
                        None,
                        now,
                    );
                }
            }
        }
        Ok(())
    }

    /// Validates one task against what is left of the offers and, if
    /// valid, records it and sends it to the agent.
    fn launch(
        &mut self,
        framework_id: &FrameworkId,
        agent_id: &AgentId,
        mut task: TaskInfo,
        group: Option<mesos_proto::v1::ExecutorInfo>,
        remaining: &mut Resources,
    ) {
        let invalid = |message: String| Err::<Resources, String>(message);
        let roles = self
            .frameworks
            .get(framework_id)
            .map(|f| f.roles())
            .unwrap_or_default();
        let checked = (|| {
            let known = self
                .frameworks
                .get(framework_id)
                .is_some_and(|f| f.tasks.contains_key(&task.task_id));
            if known {
                return invalid(format!("Task ID '{}' is already in use", task.task_id));
            }
            if task.agent_id != *agent_id {
                return invalid(format!(
                    "Task uses agent ID {} which does not match the offer's agent {agent_id}",
                    task.agent_id
                ));
            }
            if group.is_none() && task.command.is_some() == task.executor.is_some() {
                return invalid(
                    "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
                        .into(),
                );
            }
            let mut resources = task.resources.clone();
            if let Some(executor) = &task.executor {
                resources.extend(executor.resources.iter().cloned());
            }
            // A single-role framework may leave out allocation info.
            if let [role] = roles.iter().collect::<Vec<_>>().as_slice() {
                for r in &mut resources {
                    r.allocation_info.get_or_insert_with(|| AllocationInfo {
                        role: Some((*role).clone()),
                    });
                }
            }
            let resources = Resources::from_resources(resources)
                .map_err(|e| format!("Task uses invalid resources: {e}"))?;
            if !remaining.contains(&resources) {
                return invalid(format!(
                    "Task uses more resources {resources} than available {remaining}"
                ));
            }
            Ok(resources)
        })();
        let resources = match checked {
            Ok(r) => r,
            Err(message) => {
                self.master_update(
                    framework_id,
                    &task,
                    TaskState::TaskError,
                    task_status::Reason::TaskInvalid,
                    &message,
                );
                return;
            }
        };
        *remaining -= &resources;
        task.resources = resources.clone().into_vec();

        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        framework.tasks.insert(
            task.task_id.clone(),
            Task {
                name: task.name.clone(),
                task_id: task.task_id.clone(),
                framework_id: framework_id.clone(),
                executor_id: task.executor.as_ref().map(|e| e.executor_id.clone()),
                agent_id: agent_id.clone(),
                state: TaskState::TaskStaging as i32,
                resources: task.resources.clone(),
                labels: task.labels.clone(),
                ..Default::default()
            },
        );
        let framework_info = framework.info.clone();
        if let Some(added) = framework.tasks.get(&task.task_id).cloned() {
            self.publish_task_added(&added);
        }
        // The agent now runs (or will run) the task's executor: a teardown
        // must reach it even after the task is done.
        if let Some(executor) = group.clone().or_else(|| task.executor.clone()) {
            if let Some(agent) = self.agents.get_mut(agent_id) {
                agent
                    .executors
                    .entry((framework_id.clone(), executor.executor_id.clone()))
                    .or_insert(executor);
            }
        }
        let event = match group {
            None => AgentEvent {
                r#type: agent_event::Type::RunTask as i32,
                run_task: Some(Box::new(agent_event::RunTask {
                    framework_info,
                    task,
                })),
                ..Default::default()
            },
            Some(executor_info) => AgentEvent {
                r#type: agent_event::Type::RunTaskGroup as i32,
                run_task_group: Some(Box::new(agent_event::RunTaskGroup {
                    framework_info,
                    executor_info,
                    task_group: mesos_proto::v1::TaskGroupInfo { tasks: vec![task] },
                })),
                ..Default::default()
            },
        };
        self.send_agent(agent_id, event);
    }

    /// An update the master makes itself (no uuid: nothing to acknowledge).
    pub(crate) fn master_update(
        &mut self,
        framework_id: &FrameworkId,
        task: &TaskInfo,
        state: TaskState,
        reason: task_status::Reason,
        message: &str,
    ) {
        let status = TaskStatus {
            task_id: task.task_id.clone(),
            state: state as i32,
            reason: Some(reason as i32),
            source: Some(task_status::Source::Master as i32),
            message: Some(message.to_string()),
            agent_id: Some(task.agent_id.clone()),
            timestamp: Some(crate::scheduler::unix_now()),
            ..Default::default()
        };
        debug_assert!(is_terminal(status.state) || state == TaskState::TaskUnreachable);
        self.publish_task_updated(framework_id, &status);
        self.send(
            framework_id,
            Event {
                r#type: Some(event::Type::Update as i32),
                update: Some(event::Update { status }),
                ..Default::default()
            },
        );
    }
}

/// The tasks an ACCEPT launches, each with its group's executor when it is
/// part of a LAUNCH_GROUP.
fn launched_tasks(
    operations: &[mesos_proto::v1::offer::Operation],
) -> Vec<(TaskInfo, Option<mesos_proto::v1::ExecutorInfo>)> {
    let mut out = Vec::new();
    for op in operations {
        if let Some(launch) = &op.launch {
            out.extend(launch.task_infos.iter().cloned().map(|t| (t, None)));
        }
        if let Some(group) = &op.launch_group {
            out.extend(
                group
                    .task_group
                    .tasks
                    .iter()
                    .cloned()
                    .map(|t| (t, Some(group.executor.clone()))),
            );
        }
    }
    out
}
