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
    Address, AgentId, FrameworkId, Offer, OfferId, Task, TaskInfo, TaskState, TaskStatus, Url,
    task_status,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Allocations (deciding and making the offers) longer than this are
/// logged at debug level, with what they decided.
const SLOW_ALLOCATION: std::time::Duration = std::time::Duration::from_millis(5);

impl MasterActor {
    /// One allocation cycle: the allocator's decisions become OFFERS, one
    /// offer per framework, agent and role.
    pub(crate) fn allocate(&mut self) {
        self.allocation_pending = false;
        let started = std::time::Instant::now();
        let now = self.now();
        let mut by_framework: BTreeMap<FrameworkId, Vec<Offer>> = BTreeMap::new();
        let allocations = self.allocator.allocate(now);
        let decided = started.elapsed();
        let count = allocations.len();
        for allocation in allocations {
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
                    // As Mesos: the agent's HTTP endpoint, for frameworks
                    // that talk to agents (sandboxes, the agent API).
                    url: Some(Url {
                        scheme: "http".into(),
                        address: Address {
                            hostname: Some(agent.info.hostname.clone()),
                            ip: None,
                            port: agent.info.port.unwrap_or(5051),
                        },
                        path: Some("/slave(1)".into()),
                        query: Vec::new(),
                        fragment: None,
                    }),
                    resources: resources.clone().into_vec(),
                    attributes: agent.info.attributes.clone(),
                    allocation_info: Some(AllocationInfo { role: Some(role) }),
                    ..Default::default()
                };
                self.offers.insert(
                    id.clone(),
                    Arc::new(OutstandingOffer {
                        id,
                        framework_id: allocation.framework_id.clone(),
                        agent_id: allocation.agent_id.clone(),
                        resources,
                        created: tokio::time::Instant::now(),
                    }),
                );
                by_framework
                    .entry(allocation.framework_id.clone())
                    .or_default()
                    .push(offer);
            }
        }
        // A cycle split in parts: the rest after what else is waiting.
        self.allocation_pending = self.allocator.has_more();
        self.metrics.allocation_runs += 1;
        self.metrics.last_allocation_ms = started.elapsed().as_secs_f64() * 1000.0;
        if started.elapsed() > SLOW_ALLOCATION {
            tracing::debug!(
                allocations = count,
                visited = self.allocator.last_visited(),
                decided_ms = decided.as_secs_f64() * 1e3,
                ms = self.metrics.last_allocation_ms,
                "slow allocation"
            );
        }
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
        for id in ids {
            let Some(o) = self.offers.remove(&id) else {
                continue;
            };
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
            if recover {
                self.recovering.push_back(o);
            }
        }
        if recover {
            self.recover_withdrawn(crate::teardown::TURN);
        }
    }

    /// Gives the allocator back what withdrawn offers held, oldest first,
    /// until `budget` has passed (64 offers at least between looks at the
    /// clock); the rest waits for later turns. At 10,000 offers (a
    /// framework holding every agent's disconnects) the whole took about
    /// 50 ms.
    pub(crate) fn recover_withdrawn(&mut self, budget: std::time::Duration) {
        if self.recovering.is_empty() {
            return;
        }
        let started = std::time::Instant::now();
        let now = self.now();
        while !self.recovering.is_empty() {
            for o in self.recovering.drain(..64.min(self.recovering.len())) {
                self.allocator.recover_resources(
                    &o.framework_id,
                    &o.agent_id,
                    &o.resources,
                    None,
                    now,
                );
            }
            if started.elapsed() >= budget {
                break;
            }
        }
    }

    /// Forgets pending recoveries of offers on agent `id`, which the
    /// allocator is dropping (what the agent brings when it registers
    /// again is counted anew).
    pub(crate) fn forget_recoveries_on(&mut self, id: &AgentId) {
        if !self.recovering.is_empty() {
            self.recovering.retain(|o| o.agent_id != *id);
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
        if !self.recovering.is_empty() {
            self.recovering.retain(|o| o.framework_id != *framework_id);
        }
        // Up to one per agent: dropped in later turns.
        let mut gone = Vec::new();
        self.offers.retain(|_, o| {
            let keep = o.framework_id != *framework_id;
            if !keep {
                gone.push(Arc::clone(o));
            }
            keep
        });
        self.reclaim.defer_in_groups(gone, 256);
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
                // Mesos gives no operation feedback for launches: an id
                // would wait for an UPDATE_OPERATION_STATUS that never
                // comes.
                Some(op_type @ (Op::Launch | Op::LaunchGroup)) if op.id.is_some() => {
                    return Err(CallError::BadRequest(format!(
                        "An operation id was set on a {} operation: operation feedback is \
                         not supported for launches; leave 'id' unset",
                        op_type.as_str_name()
                    )));
                }
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

        match (problem, agent_id) {
            (None, Some(agent_id)) => {
                for op in accept.operations {
                    if let Some(launch) = op.launch {
                        for task in launch.task_infos {
                            self.launch(framework_id, &agent_id, task, &mut remaining);
                        }
                    }
                    if let Some(group) = op.launch_group {
                        self.launch_group(
                            framework_id,
                            &agent_id,
                            group.executor,
                            group.task_group.tasks,
                            &mut remaining,
                        );
                    }
                }
                let now = self.now();
                self.allocator
                    .recover_resources(framework_id, &agent_id, &remaining, filter, now);
            }
            (problem, agent_id) => {
                let message = problem.unwrap_or_default();
                let state = self.lost_or(framework_id, TaskState::TaskDropped);
                for (task, _) in launched_tasks(&accept.operations) {
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
        remaining: &mut Resources,
    ) {
        self.assign_role(framework_id, &mut task);
        match self.check_task(framework_id, agent_id, &task, None, remaining) {
            Ok(resources) => {
                *remaining -= &resources;
                let Some(framework_info) = self.record_task(framework_id, agent_id, &task, None)
                else {
                    return;
                };
                let event = AgentEvent {
                    r#type: agent_event::Type::RunTask as i32,
                    run_task: Some(Box::new(agent_event::RunTask {
                        framework_info,
                        task,
                    })),
                    ..Default::default()
                };
                self.send_agent(agent_id, event);
            }
            Err(message) => self.master_update(
                framework_id,
                &task,
                TaskState::TaskError,
                task_status::Reason::TaskInvalid,
                &message,
            ),
        }
    }

    /// LAUNCH_GROUP: every task of the group is valid, or none is
    /// launched (TASK_ERROR, REASON_TASK_GROUP_INVALID, for all); the
    /// group reaches the agent as one, with its executor, whose resources
    /// count once, when the agent does not run it yet.
    fn launch_group(
        &mut self,
        framework_id: &FrameworkId,
        agent_id: &AgentId,
        executor: mesos_proto::v1::ExecutorInfo,
        mut tasks: Vec<TaskInfo>,
        remaining: &mut Resources,
    ) {
        let mut left = remaining.clone();
        let running = self.agents.get(agent_id).is_some_and(|a| {
            a.executors
                .contains_key(&(framework_id.clone(), executor.executor_id.clone()))
        });
        let mut problem = None;
        if !running {
            match self.with_allocation_info(framework_id, executor.resources.clone()) {
                Ok(r) if left.contains(&r) => left -= &r,
                Ok(r) => {
                    problem = Some(format!(
                        "Executor uses more resources {r} than available {left}"
                    ))
                }
                Err(e) => problem = Some(format!("Executor uses invalid resources: {e}")),
            }
        }
        let mut ids = BTreeSet::new();
        for task in &tasks {
            if problem.is_some() {
                break;
            }
            if !ids.insert(task.task_id.clone()) {
                problem = Some(format!("Duplicate task ID '{}' in the group", task.task_id));
                break;
            }
            match self.check_task(framework_id, agent_id, task, Some(&executor), &left) {
                Ok(r) => left -= &r,
                Err(e) => problem = Some(format!("Task {}: {e}", task.task_id)),
            }
        }
        if let Some(message) = problem {
            for task in &tasks {
                self.master_update(
                    framework_id,
                    task,
                    TaskState::TaskError,
                    task_status::Reason::TaskGroupInvalid,
                    &message,
                );
            }
            return;
        }
        *remaining = left;
        let mut framework_info = None;
        let mut executor = executor;
        self.assign_executor_role(framework_id, &mut executor);
        for task in &mut tasks {
            self.assign_role(framework_id, task);
        }
        for task in &tasks {
            framework_info = self.record_task(framework_id, agent_id, task, Some(&executor));
        }
        let Some(framework_info) = framework_info else {
            return;
        };
        let event = AgentEvent {
            r#type: agent_event::Type::RunTaskGroup as i32,
            run_task_group: Some(Box::new(agent_event::RunTaskGroup {
                framework_info,
                executor_info: executor,
                task_group: mesos_proto::v1::TaskGroupInfo { tasks },
            })),
            ..Default::default()
        };
        self.send_agent(agent_id, event);
    }

    /// The task's resources (and its executor's) carry the role they are
    /// allocated to, filled in where a single-role framework left it out
    /// (Mesos' `injectAllocationInfo`); otherwise they stay as given.
    fn assign_role(&self, framework_id: &FrameworkId, task: &mut TaskInfo) {
        let Some(role) = self.single_role(framework_id) else {
            return;
        };
        inject_role(&mut task.resources, role);
        if let Some(executor) = &mut task.executor {
            inject_role(&mut executor.resources, role);
        }
    }

    fn assign_executor_role(
        &self,
        framework_id: &FrameworkId,
        executor: &mut mesos_proto::v1::ExecutorInfo,
    ) {
        if let Some(role) = self.single_role(framework_id) {
            inject_role(&mut executor.resources, role);
        }
    }

    /// The framework's role when it has exactly one.
    fn single_role(&self, framework_id: &FrameworkId) -> Option<&str> {
        let info = &self.frameworks.get(framework_id)?.info;
        match info.roles.as_slice() {
            [] => Some(info.role.as_deref().unwrap_or("*")),
            [first, rest @ ..] => rest.iter().all(|r| r == first).then_some(first.as_str()),
        }
    }

    /// `resources` with the framework's role filled in where a
    /// single-role framework left it out.
    pub(crate) fn with_allocation_info(
        &self,
        framework_id: &FrameworkId,
        mut resources: Vec<mesos_proto::v1::Resource>,
    ) -> Result<Resources, String> {
        if let Some(role) = self.single_role(framework_id) {
            inject_role(&mut resources, role);
        }
        Resources::from_resources(resources).map_err(|e| e.to_string())
    }

    /// Whether `task` may launch on `agent_id` from `remaining`; what it
    /// uses (with its own executor's resources).
    fn check_task(
        &self,
        framework_id: &FrameworkId,
        agent_id: &AgentId,
        task: &TaskInfo,
        group: Option<&mesos_proto::v1::ExecutorInfo>,
        remaining: &Resources,
    ) -> Result<Resources, String> {
        let known = self
            .frameworks
            .get(framework_id)
            .is_some_and(|f| f.tasks.contains_key(&task.task_id));
        if known {
            return Err(format!("Task ID '{}' is already in use", task.task_id));
        }
        if task.agent_id != *agent_id {
            return Err(format!(
                "Task uses agent ID {} which does not match the offer's agent {agent_id}",
                task.agent_id
            ));
        }
        if group.is_none() && task.command.is_some() == task.executor.is_some() {
            return Err(
                "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
                    .into(),
            );
        }
        if group.is_some() && task.executor.is_some() {
            return Err("Task in a task group must not have an ExecutorInfo".into());
        }
        let mut resources = task.resources.clone();
        // A new executor's resources count with its first task.
        if let Some(executor) = &task.executor {
            let running = self.agents.get(agent_id).is_some_and(|a| {
                a.executors
                    .contains_key(&(framework_id.clone(), executor.executor_id.clone()))
            });
            if !running {
                resources.extend(executor.resources.iter().cloned());
            }
        }
        let resources = self
            .with_allocation_info(framework_id, resources)
            .map_err(|e| format!("Task uses invalid resources: {e}"))?;
        if !remaining.contains(&resources) {
            return Err(format!(
                "Task uses more resources {resources} than available {remaining}"
            ));
        }
        Ok(resources)
    }

    /// Records a valid task as staging on its agent; the framework's info,
    /// to send with it.
    fn record_task(
        &mut self,
        framework_id: &FrameworkId,
        agent_id: &AgentId,
        task: &TaskInfo,
        group: Option<&mesos_proto::v1::ExecutorInfo>,
    ) -> Option<mesos_proto::v1::FrameworkInfo> {
        let framework = self.frameworks.get_mut(framework_id)?;
        let mut recorded = Task::from_info(task, framework_id, group, TaskState::TaskStaging);
        // The agent it was offered by, whatever the TaskInfo says (it was
        // checked against the offer).
        recorded.agent_id = agent_id.clone();
        framework.tasks.insert(recorded);
        let framework_info = framework.info.clone();
        if let Some(added) = framework.tasks.get(&task.task_id).cloned() {
            self.publish_task_added(&added);
        }
        // The agent now runs (or will run) the task's executor: a teardown
        // must reach it even after the task is done.
        if let Some(executor) = group.cloned().or_else(|| task.executor.clone()) {
            if let Some(mut agent) = self.agents.get_mut(agent_id) {
                agent
                    .executors
                    .entry((framework_id.clone(), executor.executor_id.clone()))
                    .or_insert_with(|| Arc::new(executor));
            }
        }
        Some(framework_info)
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

/// Sets `role` as the allocation role of each of `resources` that has
/// none.
fn inject_role(resources: &mut [mesos_proto::v1::Resource], role: &str) {
    for r in resources {
        r.allocation_info.get_or_insert_with(|| AllocationInfo {
            role: Some(role.to_owned()),
        });
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
