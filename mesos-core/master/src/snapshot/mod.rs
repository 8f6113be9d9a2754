//! State snapshots: what the operator's state views (GET_STATE,
//! GET_TASKS, GET_AGENTS, GET_FRAMEWORKS, GET_EXECUTORS, the operator
//! SUBSCRIBED event and `/state`) are built from.
//!
//! The actor takes a snapshot inside its event loop by sharing, not
//! copying: tasks, agent infos, executors and offers are reference
//! counted and changed copy-on-write (`Arc::make_mut`), so a snapshot
//! costs one reference count per task and per agent and keeps what it saw
//! while the master goes on. Everything expensive (copying tasks into the
//! response, summing what each agent and framework uses) happens off the
//! loop, on the requester's side, so a large `/state` does not hold up
//! offers, updates or heartbeats.

use crate::actor::{Agent, Framework, MasterActor, OutstandingOffer};
use crate::agent_entry::AgentEntry;
use crate::config::MESOS_VERSION;
use crate::operator::time_info;
use mesos_proto::resources::Resources;
use mesos_proto::v1::master::{Response, call, response};
use mesos_proto::v1::{
    AgentId, AgentInfo, ExecutorInfo, FrameworkId, FrameworkInfo, Metric, Offer, OfferId,
};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::cow_map::SharedShards;
use crate::task_entry::TaskEntry;
use crate::task_table::{Listed, SharedTasks, TaskShard};

mod metrics;
pub(crate) use metrics::metric_state;

/// The master's frameworks, agents and offers at one instant.
#[derive(Debug)]
pub(crate) struct StateSnapshot {
    frameworks: Vec<FrameworkSnapshot>,
    completed_frameworks: Vec<FrameworkSnapshot>,
    /// Shared with the master's agent table, in no particular order.
    agents: SharedShards<AgentId, AgentSnapshot>,
    /// Shared with the master's map, in no particular order.
    recovered_agents: SharedShards<AgentId, AgentInfo>,
    offers: Vec<Arc<OutstandingOffer>>,
    /// Role weights that differ from 1.
    weights: BTreeMap<String, f64>,
    /// Roles with quota.
    quota_roles: Vec<String>,
    /// Each role's weighted dominant share, as the allocator has it.
    role_shares: BTreeMap<String, f64>,
    /// The metrics the loop counted, for GET_METRICS to complete.
    metrics: BTreeMap<String, f64>,
}

/// A snapshot's tasks, borrowed: live, unreachable and completed.
#[derive(Debug, Default)]
pub(crate) struct TaskLists<'a> {
    pub(crate) live: Vec<&'a TaskEntry>,
    pub(crate) unreachable: Vec<&'a TaskEntry>,
    pub(crate) completed: Vec<&'a TaskEntry>,
}

/// A framework's tasks in a snapshot as `/state` writes them: the
/// shards of its task table (each with its JSON by [`Listed`]), then its
/// history of completed tasks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameworkTasks<'a> {
    pub(crate) shards: &'a [Arc<TaskShard>],
    pub(crate) history: &'a [Arc<TaskEntry>],
}

/// What is used, by agent and by framework (id value), and what is
/// offered, by agent.
#[derive(Debug, Default)]
pub(crate) struct Usage<'a> {
    /// Borrowed from a framework's sums where it is the only one using
    /// the agent (most agents of most clusters), so nothing is copied.
    by_agent: HashMap<&'a AgentId, Cow<'a, Resources>>,
    by_framework: HashMap<&'a str, Resources>,
    offered_by_agent: HashMap<&'a AgentId, Cow<'a, Resources>>,
}

/// Adds `r` to what `sums` has for `agent`, borrowing it if it is the
/// first.
fn add<'a>(
    sums: &mut HashMap<&'a AgentId, Cow<'a, Resources>>,
    agent: &'a AgentId,
    r: Cow<'a, Resources>,
) {
    match sums.entry(agent) {
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(r);
        }
        std::collections::hash_map::Entry::Occupied(mut e) => *e.get_mut().to_mut() += &*r,
    }
}

/// One reachable agent as the legacy endpoints show it, borrowed from a
/// snapshot and its [`Usage`]: nothing copied.
#[derive(Debug)]
pub(crate) struct AgentRow<'a> {
    /// Its id is `info.id`; `info.resources` is its total.
    pub(crate) info: &'a AgentEntry,
    pub(crate) active: bool,
    pub(crate) registered_time: f64,
    pub(crate) reregistered_time: Option<f64>,
    /// What its live tasks and the executors the master knows of use.
    pub(crate) used: &'a Resources,
    pub(crate) offered: &'a Resources,
}

/// One framework as the legacy endpoints show it, borrowed from a
/// snapshot and its [`Usage`]: only the sum of its offers is computed.
#[derive(Debug)]
pub(crate) struct FrameworkRow<'a> {
    pub(crate) info: &'a FrameworkInfo,
    pub(crate) connected: bool,
    /// `None` for a framework recovered from agents that has not
    /// subscribed since.
    pub(crate) registered_time: Option<f64>,
    pub(crate) reregistered_time: Option<f64>,
    pub(crate) unregistered_time: Option<f64>,
    /// What its live tasks use.
    pub(crate) used: &'a Resources,
    /// What its outstanding offers hold.
    pub(crate) offered: Resources,
    pub(crate) offers: Vec<(&'a OfferId, &'a OutstandingOffer)>,
}

/// The frameworks of a snapshot as rows: subscribed (or recovered) ones
/// and completed ones.
#[derive(Debug, Default)]
pub(crate) struct FrameworkRows<'a> {
    pub(crate) frameworks: Vec<FrameworkRow<'a>>,
    pub(crate) completed: Vec<FrameworkRow<'a>>,
}

/// An agent's libprocess pid as Mesos shows it (`slave(1)@host:port`).
pub(crate) fn agent_pid(info: &AgentInfo) -> String {
    format!("slave(1)@{}:{}", info.hostname, info.port.unwrap_or(5051))
}

static NO_RESOURCES: Resources = Resources::new();

/// One framework in a snapshot.
#[derive(Debug)]
pub(crate) struct FrameworkSnapshot {
    info: FrameworkInfo,
    connected: bool,
    registered_time: Option<f64>,
    reregistered_time: Option<f64>,
    unregistered_time: Option<f64>,
    tasks: SharedTasks,
    completed_tasks: Vec<Arc<TaskEntry>>,
}

/// One agent in a snapshot: what the views show of it. The master keeps
/// one for each agent, up to date (`agent_table`).
#[derive(Debug, Clone)]
pub(crate) struct AgentSnapshot {
    /// Its id is `info.id`.
    info: Arc<AgentEntry>,
    active: bool,
    unreachable: bool,
    registered_time: f64,
    reregistered_time: Option<f64>,
    executors: Vec<Arc<ExecutorInfo>>,
}

impl FrameworkSnapshot {
    pub(crate) fn of(f: &Framework) -> FrameworkSnapshot {
        FrameworkSnapshot {
            info: f.info.clone(),
            connected: f.connected(),
            registered_time: f.registered_time,
            reregistered_time: f.reregistered_time,
            unregistered_time: f.unregistered_time,
            tasks: f.tasks.share(),
            completed_tasks: f.completed_tasks.iter().cloned().collect(),
        }
    }

    /// Adds its tasks to `out`: live, unreachable, and completed (terminal
    /// ones not acknowledged yet, then the history).
    fn split_tasks<'a>(&'a self, out: &mut TaskLists<'a>) {
        for task in self.tasks.tasks.values() {
            match Listed::of(task.state) {
                Listed::Live => out.live.push(task),
                Listed::Unreachable => out.unreachable.push(task),
                Listed::Completed => out.completed.push(task),
            }
        }
        out.completed
            .extend(self.completed_tasks.iter().map(|t| &**t));
    }

    /// What the framework's live tasks use: the sum of its sums by
    /// agent. (Not kept as a running total as those are: ranges and sets
    /// on different agents overlap, so taking one task's ports off a
    /// total would take them off for every agent.)
    pub(crate) fn used(&self) -> Resources {
        let mut used = Resources::new();
        for (_, r) in self.tasks.used.iter() {
            used += r;
        }
        used
    }

    /// The framework with `offers` (its outstanding offers) and what
    /// its tasks use, borrowed.
    fn row<'a>(
        &'a self,
        offers: Vec<(&'a OfferId, &'a OutstandingOffer)>,
        used: &'a Resources,
    ) -> FrameworkRow<'a> {
        let mut offered = Resources::new();
        for (_, offer) in &offers {
            offered += &offer.resources;
        }
        FrameworkRow {
            info: &self.info,
            connected: self.connected,
            registered_time: self.registered_time,
            reregistered_time: self.reregistered_time,
            unregistered_time: self.unregistered_time,
            used,
            offered,
            offers,
        }
    }

    /// The framework as GET_FRAMEWORKS shows it without offers (as the
    /// operator API's FRAMEWORK_ADDED and FRAMEWORK_UPDATED events do).
    pub(crate) fn view(&self) -> response::get_frameworks::Framework {
        self.row(Vec::new(), &self.used()).view(&HashMap::new())
    }
}

impl FrameworkRow<'_> {
    /// The framework as GET_FRAMEWORKS shows it; its offers name their
    /// agents' hosts from `hostnames`.
    fn view(&self, hostnames: &HashMap<&AgentId, &str>) -> response::get_frameworks::Framework {
        let offers = self
            .offers
            .iter()
            .map(|(id, offer)| Offer {
                id: (*id).clone(),
                framework_id: offer.framework_id.clone(),
                agent_id: offer.agent_id.clone(),
                hostname: hostnames
                    .get(&offer.agent_id)
                    .map(|h| h.to_string())
                    .unwrap_or_default(),
                resources: offer.resources.clone().into_vec(),
                ..Default::default()
            })
            .collect();
        response::get_frameworks::Framework {
            framework_info: self.info.clone(),
            active: self.connected,
            connected: self.connected,
            recovered: self.registered_time.is_none(),
            registered_time: self.registered_time.map(time_info),
            reregistered_time: self.reregistered_time.map(time_info),
            unregistered_time: self.unregistered_time.map(time_info),
            offers,
            allocated_resources: self.allocated().into_vec(),
            offered_resources: self.offered.clone().into_vec(),
            ..Default::default()
        }
    }

    /// What is allocated to it: used and offered.
    pub(crate) fn allocated(&self) -> Resources {
        self.used + &self.offered
    }
}

impl AgentSnapshot {
    pub(crate) fn of(a: &Agent) -> AgentSnapshot {
        AgentSnapshot {
            info: Arc::clone(&a.info),
            // Connected as the master knows it: a stream that closes
            // disconnects its agent at once (`agent_stream_closed`).
            active: a.events.is_some(),
            unreachable: a.unreachable,
            registered_time: a.registered_time,
            reregistered_time: a.reregistered_time,
            executors: a.executors.values().cloned().collect(),
        }
    }

    /// Whether `other` shows the same (infos and executors compared by
    /// identity: they are replaced, never changed in place).
    pub(crate) fn same_as(&self, other: &AgentSnapshot) -> bool {
        Arc::ptr_eq(&self.info, &other.info)
            && self.active == other.active
            && self.unreachable == other.unreachable
            && self.registered_time.to_bits() == other.registered_time.to_bits()
            && self.reregistered_time.map(f64::to_bits) == other.reregistered_time.map(f64::to_bits)
            && self.executors.len() == other.executors.len()
            && self
                .executors
                .iter()
                .zip(&other.executors)
                .all(|(a, b)| Arc::ptr_eq(a, b))
    }

    /// The agent as GET_AGENTS shows it, given what its tasks and
    /// executors use and what is offered of it.
    pub(crate) fn view(
        &self,
        used: &Resources,
        offered: &Resources,
    ) -> response::get_agents::Agent {
        let a = &self.info;
        response::get_agents::Agent {
            agent_info: AgentInfo::clone(a),
            active: self.active,
            deactivated: Some(false),
            version: MESOS_VERSION.to_string(),
            pid: Some(agent_pid(a)),
            registered_time: Some(time_info(self.registered_time)),
            reregistered_time: self.reregistered_time.map(time_info),
            // The agent's total is what it registered with.
            total_resources: a.resources.clone(),
            allocated_resources: (used + offered).into_vec(),
            offered_resources: offered.clone().into_vec(),
            ..Default::default()
        }
    }

    fn row<'a>(&'a self, usage: &'a Usage<'a>) -> AgentRow<'a> {
        AgentRow {
            info: &self.info,
            active: self.active,
            registered_time: self.registered_time,
            reregistered_time: self.reregistered_time,
            used: usage.by_agent.get(self.id()).map_or(&NO_RESOURCES, |r| r),
            offered: usage
                .offered_by_agent
                .get(self.id())
                .map_or(&NO_RESOURCES, |r| r),
        }
    }

    fn id(&self) -> &AgentId {
        static NONE: std::sync::OnceLock<AgentId> = std::sync::OnceLock::new();
        self.info
            .id
            .as_ref()
            .unwrap_or_else(|| NONE.get_or_init(AgentId::default))
    }

    /// What the executors the master knows of on this agent use.
    fn executor_resources(&self) -> impl Iterator<Item = Resources> + '_ {
        self.executors
            .iter()
            .filter_map(|e| Resources::from_resources(e.resources.clone()).ok())
    }
}

impl MasterActor {
    /// The state the views are built from, shared rather than copied.
    pub(crate) fn snapshot(&self) -> StateSnapshot {
        StateSnapshot {
            frameworks: self
                .frameworks
                .values()
                .map(FrameworkSnapshot::of)
                .collect(),
            completed_frameworks: self
                .completed_frameworks
                .iter()
                .map(FrameworkSnapshot::of)
                .collect(),
            agents: self.agents.views(),
            recovered_agents: self.recovered_agents.share(),
            offers: self.offers.values().map(Arc::clone).collect(),
            weights: self.weights.clone(),
            quota_roles: self.quotas.keys().cloned().collect(),
            role_shares: self.allocator.role_shares(),
            metrics: BTreeMap::new(),
        }
    }

    /// One agent as GET_AGENTS shows it (none if unknown or unreachable).
    pub(crate) fn agent_view(&self, id: &AgentId) -> Option<response::get_agents::Agent> {
        let a = self.agents.get(id).filter(|a| !a.unreachable)?;
        let mut offered = Resources::new();
        for offer in self.offers.values().filter(|o| o.agent_id == *id) {
            offered += &offer.resources;
        }
        let agent = AgentSnapshot::of(a);
        let mut used = Resources::new();
        for r in self.frameworks.values().filter_map(|f| f.tasks.used_on(id)) {
            used += r;
        }
        for r in agent.executor_resources() {
            used += &r;
        }
        Some(agent.view(&used, &offered))
    }
}

impl StateSnapshot {
    /// The snapshot with the metrics the loop counted, for GET_METRICS.
    pub(crate) fn with_metrics(mut self, metrics: BTreeMap<String, f64>) -> StateSnapshot {
        self.metrics = metrics;
        self
    }

    /// The response to a view call (GET_STATE, GET_TASKS, GET_AGENTS,
    /// GET_FRAMEWORKS, GET_EXECUTORS, GET_ROLES or GET_METRICS).
    pub(crate) fn response(&self, ty: call::Type) -> Response {
        let mut out = Response::default();
        match ty {
            call::Type::GetRoles => {
                out.r#type = Some(response::Type::GetRoles as i32);
                out.get_roles = Some(response::GetRoles {
                    roles: self.roles(),
                });
            }
            call::Type::GetMetrics => {
                out.r#type = Some(response::Type::GetMetrics as i32);
                out.get_metrics = Some(response::GetMetrics {
                    metrics: Metric::list(self.metrics()),
                });
            }
            call::Type::GetTasks => {
                out.r#type = Some(response::Type::GetTasks as i32);
                out.get_tasks = Some(self.get_tasks());
            }
            call::Type::GetAgents => {
                out.r#type = Some(response::Type::GetAgents as i32);
                out.get_agents = Some(self.get_agents());
            }
            call::Type::GetFrameworks => {
                out.r#type = Some(response::Type::GetFrameworks as i32);
                out.get_frameworks = Some(self.get_frameworks());
            }
            call::Type::GetExecutors => {
                out.r#type = Some(response::Type::GetExecutors as i32);
                out.get_executors = Some(self.get_executors());
            }
            _ => {
                out.r#type = Some(response::Type::GetState as i32);
                out.get_state = Some(self.get_state());
            }
        }
        out
    }

    pub(crate) fn get_state(&self) -> response::GetState {
        let usage = self.usage();
        response::GetState {
            get_tasks: Some(self.get_tasks()),
            get_executors: Some(self.get_executors()),
            get_frameworks: Some(self.frameworks_with(&usage)),
            get_agents: Some(self.agents_with(&usage)),
        }
    }

    /// Every task, borrowed, split as GET_TASKS splits them.
    pub(crate) fn task_lists(&self) -> TaskLists<'_> {
        let mut out = TaskLists::default();
        for framework in self.frameworks.iter().chain(&self.completed_frameworks) {
            framework.split_tasks(&mut out);
        }
        out
    }

    /// Each framework's tasks, in the order of
    /// [`StateSnapshot::frameworks_with`]: frameworks, then completed
    /// ones.
    pub(crate) fn tasks_by_framework(&self) -> Vec<FrameworkTasks<'_>> {
        self.frameworks
            .iter()
            .chain(&self.completed_frameworks)
            .map(|f| FrameworkTasks {
                shards: f.tasks.tasks.shards(),
                history: &f.completed_tasks,
            })
            .collect()
    }

    pub(crate) fn get_tasks(&self) -> response::GetTasks {
        let lists = self.task_lists();
        let copy = |list: &[&TaskEntry]| list.iter().map(|t| t.task().clone()).collect();
        response::GetTasks {
            tasks: copy(&lists.live),
            unreachable_tasks: copy(&lists.unreachable),
            completed_tasks: copy(&lists.completed),
            ..Default::default()
        }
    }

    /// What live tasks (of frameworks not removed) and the executors the
    /// master knows of use, by agent and by framework: from each
    /// framework's sums by agent, which the master keeps as tasks change.
    pub(crate) fn usage(&self) -> Usage<'_> {
        let mut usage = Usage {
            by_agent: HashMap::with_capacity(self.agents.len()),
            ..Usage::default()
        };
        for f in &self.frameworks {
            let id = f.info.id.as_ref().map_or("", |i| i.value.as_str());
            let mut framework = Resources::new();
            for (agent, r) in f.tasks.used.iter() {
                framework += r;
                add(&mut usage.by_agent, agent, Cow::Borrowed(r));
            }
            usage.by_framework.insert(id, framework);
        }
        #[cfg(debug_assertions)]
        self.check_usage(&usage);
        for a in self.agents.values() {
            for r in a.executor_resources() {
                add(&mut usage.by_agent, a.id(), Cow::Owned(r));
            }
        }
        for offer in &self.offers {
            add(
                &mut usage.offered_by_agent,
                &offer.agent_id,
                Cow::Borrowed(&offer.resources),
            );
        }
        usage
    }

    /// Debug builds (every test) check the sums the master keeps against
    /// adding up every live task again.
    #[cfg(debug_assertions)]
    fn check_usage(&self, usage: &Usage<'_>) {
        let mut by_agent: HashMap<&AgentId, Resources> = HashMap::new();
        for f in &self.frameworks {
            let id = f.info.id.as_ref().map_or("", |i| i.value.as_str());
            let mut framework = Resources::new();
            for task in f
                .tasks
                .tasks
                .values()
                .filter(|t| !crate::agents::is_terminal(t.state))
            {
                if let Some(r) = task.resources() {
                    framework += &r;
                    *by_agent.entry(&task.agent_id).or_default() += &r;
                }
            }
            let kept = usage.by_framework.get(id).cloned().unwrap_or_default();
            assert!(
                kept == framework,
                "framework {id}: kept {kept}, tasks use {framework}"
            );
        }
        for (agent, used) in &by_agent {
            let kept = usage
                .by_agent
                .get(agent)
                .map_or_else(Resources::new, |r| r.clone().into_owned());
            assert!(
                kept == *used,
                "agent {}: kept {kept}, tasks use {used}",
                agent.value
            );
        }
        for (agent, kept) in &usage.by_agent {
            assert!(
                by_agent.contains_key(agent) || kept.is_empty(),
                "agent {}: kept {kept}, no live task",
                agent.value
            );
        }
    }

    pub(crate) fn get_executors(&self) -> response::GetExecutors {
        response::GetExecutors {
            executors: self
                .agents
                .values()
                .flat_map(|a| {
                    a.executors
                        .iter()
                        .map(|e| response::get_executors::Executor {
                            executor_info: ExecutorInfo::clone(e),
                            agent_id: a.id().clone(),
                        })
                })
                .collect(),
            orphan_executors: Vec::new(),
        }
    }

    /// The frameworks, each with its outstanding offers and what its
    /// live tasks use, borrowed.
    pub(crate) fn framework_rows<'a>(&'a self, usage: &'a Usage<'a>) -> FrameworkRows<'a> {
        let mut offers: HashMap<&FrameworkId, Vec<(&OfferId, &OutstandingOffer)>> = HashMap::new();
        for offer in &self.offers {
            offers
                .entry(&offer.framework_id)
                .or_default()
                .push((&offer.id, &**offer));
        }
        let mut row = |f: &'a FrameworkSnapshot| {
            let id = f.info.id.as_ref();
            let used = id
                .and_then(|id| usage.by_framework.get(id.value.as_str()))
                .unwrap_or(&NO_RESOURCES);
            f.row(
                id.and_then(|id| offers.remove(id)).unwrap_or_default(),
                used,
            )
        };
        FrameworkRows {
            frameworks: self.frameworks.iter().map(&mut row).collect(),
            completed: self.completed_frameworks.iter().map(&mut row).collect(),
        }
    }

    pub(crate) fn get_frameworks(&self) -> response::GetFrameworks {
        self.frameworks_with(&self.usage())
    }

    pub(crate) fn frameworks_with(&self, usage: &Usage<'_>) -> response::GetFrameworks {
        let rows = self.framework_rows(usage);
        let hostnames: HashMap<&AgentId, &str> = if self.offers.is_empty() {
            HashMap::new()
        } else {
            self.agents
                .values()
                .map(|a| (a.id(), a.info.hostname.as_str()))
                .collect()
        };
        response::GetFrameworks {
            frameworks: rows.frameworks.iter().map(|f| f.view(&hostnames)).collect(),
            completed_frameworks: rows.completed.iter().map(|f| f.view(&hostnames)).collect(),
            ..Default::default()
        }
    }

    pub(crate) fn get_agents(&self) -> response::GetAgents {
        self.agents_with(&self.usage())
    }

    pub(crate) fn agents_with(&self, usage: &Usage<'_>) -> response::GetAgents {
        response::GetAgents {
            agents: self
                .agents
                .values()
                .filter(|a| !a.unreachable)
                .map(|a| {
                    let row = a.row(usage);
                    a.view(row.used, row.offered)
                })
                .collect(),
            recovered_agents: self.recovered_agents.values().cloned().collect(),
        }
    }

    /// The reachable agents, each with what it uses and what is offered
    /// of it.
    pub(crate) fn agent_rows<'a>(
        &'a self,
        usage: &'a Usage<'a>,
    ) -> impl Iterator<Item = AgentRow<'a>> + 'a {
        self.agents
            .values()
            .filter(|a| !a.unreachable)
            .map(move |a| a.row(usage))
    }

    /// How many reachable agents are active (connected), and how many
    /// are reachable.
    pub(crate) fn agent_counts(&self) -> (usize, usize) {
        let reachable = || self.agents.values().filter(|a| !a.unreachable);
        (
            reachable().filter(|a| a.active).count(),
            reachable().count(),
        )
    }

    /// Agents known from the registry that have not registered again.
    pub(crate) fn recovered_agents(&self) -> impl Iterator<Item = &AgentInfo> + '_ {
        self.recovered_agents.values()
    }
}
