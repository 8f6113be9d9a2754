//! An agent's REGISTER: a new agent, or one coming back with its executors
//! and tasks.
//!
//! An agent that comes back may carry thousands of tasks. What can be
//! done without the master's state is done before the call reaches the
//! event loop, by [`Registration::prepare`] on the HTTP handler's thread:
//! validating and summing resources, and building each task as the
//! master keeps it (with its legacy JSON). The event loop then compares
//! each reported task with the one it has, and a task it already has as
//! reported (an agent whose connection broke) is left as it is, with the
//! statuses the master recorded. Agents carrying 10,000 tasks held the
//! loop for 40-50 ms before this; see `docs/benchmarks.md`.

use crate::actor::{Agent, AgentSubscription, CallError, MasterActor};
use crate::agents::is_terminal;
use crate::registry::AgentStanding;
use crate::scheduler::unix_now;
use crate::task_entry::TaskEntry;
use mesos_proto::agent_protocol::{
    AgentEvent, OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION, agent_call, agent_event,
};
use mesos_proto::resources::Resources;
use mesos_proto::v1::framework_info::capability::Type as Cap;
use mesos_proto::v1::task_status::Reason;
use mesos_proto::v1::{AgentId, ExecutorInfo, FrameworkId, TaskId, TaskState};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use tokio::sync::mpsc;

/// A REGISTER checked and taken apart off the event loop.
#[derive(Debug)]
pub(crate) struct Registration {
    /// The call, its tasks and executors taken out.
    register: agent_call::Register,
    /// The agent's resources.
    total: Resources,
    /// Its live tasks, as the master keeps tasks, with their resources.
    tasks: Vec<(Arc<TaskEntry>, Resources)>,
    /// The tasks it reported ended (their updates not yet acknowledged).
    ended: Vec<(FrameworkId, TaskId)>,
    /// Its executors.
    executors: Vec<ExecutorInfo>,
    /// What each framework's live tasks and executors use on the agent.
    used: BTreeMap<FrameworkId, Resources>,
}

impl Registration {
    /// Checks the call (protocol version, every resource) and prepares
    /// what the event loop takes in; a bad call is an error naming what
    /// is wrong.
    pub(crate) fn prepare(mut register: agent_call::Register) -> Result<Self, CallError> {
        if !(OLDEST_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&register.protocol_version) {
            return Err(CallError::BadRequest(format!(
                "agent speaks protocol version {}, this master {OLDEST_PROTOCOL_VERSION} to \
                 {PROTOCOL_VERSION}",
                register.protocol_version
            )));
        }
        let total = Resources::from_resources(std::mem::take(&mut register.resources))
            .map_err(|e| CallError::BadRequest(format!("agent resources: {e}")))?;
        let agent_id = register.agent_info.id.clone().unwrap_or_default();
        let mut used: BTreeMap<FrameworkId, Resources> = BTreeMap::new();
        let mut tasks = Vec::with_capacity(register.tasks.len());
        let mut ended = Vec::new();
        for mut task in std::mem::take(&mut register.tasks) {
            if is_terminal(task.state) {
                ended.push((task.framework_id, task.task_id));
                continue;
            }
            let resources = Resources::from_resources(task.resources.clone())
                .map_err(|e| CallError::BadRequest(format!("task {}: {e}", task.task_id)))?;
            *used.entry(task.framework_id.clone()).or_default() += &resources;
            task.agent_id = agent_id.clone();
            let entry = TaskEntry::new(task);
            // Here, while the task is in this thread's cache.
            entry.fixed_members();
            tasks.push((Arc::new(entry), resources));
        }
        let executors = std::mem::take(&mut register.executors);
        for executor in &executors {
            let Some(framework_id) = &executor.framework_id else {
                continue;
            };
            let resources = Resources::from_resources(executor.resources.clone()).map_err(|e| {
                CallError::BadRequest(format!("executor {}: {e}", executor.executor_id))
            })?;
            *used.entry(framework_id.clone()).or_default() += &resources;
        }
        Ok(Registration {
            register,
            total,
            tasks,
            ended,
            executors,
            used,
        })
    }
}

/// What a registration brought that the master did not keep (the tasks
/// it already had as reported, say): dropped by the HTTP handler, not in
/// the event loop, where dropping 10,000 tasks took milliseconds.
#[derive(Debug, Default)]
pub(crate) struct Unused {
    tasks: Vec<Arc<TaskEntry>>,
    resources: Vec<Resources>,
}

/// Whether the master's `known` task is the one an agent reports as
/// `reported`: same place, same state, same resources. The master keeps
/// its own then (with every status it recorded).
fn same(known: &TaskEntry, reported: &TaskEntry) -> bool {
    !is_terminal(known.state)
        && known.state == reported.state
        && known.agent_id == reported.agent_id
        && known.framework_id == reported.framework_id
        && known.executor_id == reported.executor_id
        && known.resources == reported.resources
}

impl MasterActor {
    /// Takes in the live tasks an agent reported on (re-)registering as
    /// `id`: those the master has as reported stay as they are, the
    /// others are put in. Of an agent `known` and reachable, tasks the
    /// agent did not report (it restarted without them) end
    /// TASK_DROPPED (TASK_LOST for frameworks not PARTITION_AWARE).
    /// Returns the frameworks whose tasks the agent must shut down
    /// (unknown to the master, or not PARTITION_AWARE on an agent back
    /// from unreachable) and what was not kept.
    fn take_in_tasks(
        &mut self,
        id: &AgentId,
        known: bool,
        was_unreachable: bool,
        tasks: Vec<(Arc<TaskEntry>, Resources)>,
        ended: &[(FrameworkId, TaskId)],
    ) -> (BTreeSet<FrameworkId>, Unused) {
        // Which tasks the master has as reported, and how many reported
        // tasks it has on this agent: runs of one framework's tasks,
        // each framework looked up once a run.
        let mut kept = vec![false; tasks.len()];
        let mut found: Vec<(&FrameworkId, usize)> = Vec::new();
        let mut framework: Option<&crate::actor::Framework> = None;
        let reported = tasks
            .iter()
            .map(|(t, _)| (&t.framework_id, &t.task_id))
            .chain(ended.iter().map(|(f, t)| (f, t)));
        for (i, (framework_id, task_id)) in reported.enumerate() {
            if found.last().is_none_or(|(f, _)| *f != framework_id) {
                framework = self.frameworks.get(framework_id);
                found.push((framework_id, 0));
            }
            let Some(have) = framework.and_then(|f| f.tasks.get(task_id)) else {
                continue;
            };
            if have.agent_id == *id {
                if let Some((_, n)) = found.last_mut() {
                    *n += 1;
                }
            }
            if let Some((task, _)) = tasks.get(i) {
                kept[i] = same(have, task);
            }
        }

        // Tasks the agent no longer has (it restarted without recovering
        // them: their framework does not checkpoint) are lost; a
        // framework whose every task on the agent was reported has none.
        if known && !was_unreachable {
            let mut reported_on: BTreeMap<&FrameworkId, usize> = BTreeMap::new();
            for (f, n) in found {
                *reported_on.entry(f).or_default() += n;
            }
            let missing: Vec<FrameworkId> = self
                .frameworks
                .iter()
                .filter(|(f, fw)| fw.tasks.count_on(id) != reported_on.get(f).copied().unwrap_or(0))
                .map(|(f, _)| f.clone())
                .collect();
            for framework_id in missing {
                let ids: HashSet<&TaskId> = tasks
                    .iter()
                    .filter(|(t, _)| t.framework_id == framework_id)
                    .map(|(t, _)| &t.task_id)
                    .collect();
                self.end_agent_tasks(
                    id,
                    &framework_id,
                    TaskState::TaskDropped,
                    Reason::AgentRestarted,
                    &format!("Task is unknown to agent {id}, which restarted"),
                    |t| !ids.contains(&t.task_id),
                );
            }
        }

        // The agent's running tasks are the master's again. Back from
        // unreachable, tasks of frameworks that are not PARTITION_AWARE
        // were already reported lost: they are shut down, as Mesos does;
        // so are those of frameworks the master no longer has (torn down,
        // or past their failover timeout, possibly while the master was
        // down).
        let mut shutdown = BTreeSet::new();
        let mut unused = Unused {
            tasks: Vec::with_capacity(tasks.len()),
            resources: Vec::with_capacity(tasks.len()),
        };
        for ((mut task, resources), kept) in tasks.into_iter().zip(kept) {
            let take_in = !kept
                && match self.frameworks.get(&task.framework_id) {
                    Some(f) => !was_unreachable || f.has(Cap::PartitionAware),
                    None => false,
                };
            if !kept && !take_in {
                shutdown.insert(task.framework_id.clone());
            }
            match self.frameworks.get_mut(&task.framework_id) {
                Some(framework) if take_in => {
                    if task.agent_id != *id {
                        // A new agent's id is the master's to give.
                        Arc::make_mut(&mut task).agent_id = id.clone();
                    }
                    if let Some(old) = framework.tasks.insert_prepared(task, &resources) {
                        unused.tasks.push(old);
                    }
                }
                _ => unused.tasks.push(task),
            }
            unused.resources.push(resources);
        }
        (shutdown, unused)
    }

    /// REGISTER: a new agent, or one coming back with its tasks.
    pub(crate) fn register_agent(
        &mut self,
        registration: Registration,
    ) -> Result<AgentSubscription, CallError> {
        let Registration {
            register,
            total,
            tasks,
            ended,
            executors,
            mut used,
        } = registration;
        let mut info = register.agent_info;
        let info_had_id = info.id.is_some();
        let id = match info.id.clone() {
            Some(id) => id,
            None => {
                let id = AgentId::new(format!("{}-S{}", self.info.id, self.next_agent));
                self.next_agent += 1;
                id
            }
        };
        if self.gone_agents.contains_key(&id) {
            return Err(CallError::Forbidden(format!(
                "Agent {id} has been marked gone and may not register again; \
                 restart it with a fresh work directory to join as a new agent"
            )));
        }
        info.id = Some(id.clone());
        info.resources = total.clone().into_vec();
        self.recovered_agents.remove(&id);

        // A re-registration replaces the old stream and the old view.
        let was_unreachable = self.agents.get(&id).is_some_and(|a| a.unreachable);
        let reregistering = info_had_id;
        let registered_time = self
            .agents
            .get(&id)
            .map_or_else(unix_now, |a| a.registered_time);
        let known = self.agents.contains_key(&id);
        if known {
            self.remove_agent_from_allocation(&id);
        }
        let (shutdown, unused) = self.take_in_tasks(&id, known, was_unreachable, tasks, &ended);
        // What the running tasks and executors use counts as allocated.
        used.retain(|f, _| self.frameworks.contains_key(f) && !shutdown.contains(f));
        self.allocator.add_agent(id.clone(), total.clone(), used);

        let (tx, rx) = mpsc::channel(self.config.event_queue);
        let stream_id = uuid::Uuid::new_v4().to_string();
        let mut registered = agent_event(agent_event::Type::Registered);
        registered.registered = Some(agent_event::Registered {
            agent_id: id.clone(),
            heartbeat_interval_seconds: self.config.heartbeat_interval.as_secs_f64(),
            master_info: Some(self.info.clone()),
        });
        let _ = tx.try_send(Box::new(registered));
        tracing::info!(agent = %id, hostname = %info.hostname, resources = %total, "agent registered");
        let committed = self
            .registry
            .put_agent(&info, AgentStanding::Admitted, None);
        for framework_id in shutdown.iter().cloned() {
            let mut event = agent_event(agent_event::Type::ShutdownFramework);
            event.shutdown_framework = Some(agent_event::ShutdownFramework { framework_id });
            let _ = tx.try_send(Box::new(event));
        }
        let executors = executors
            .into_iter()
            .filter_map(|e| {
                let framework_id = e.framework_id.clone()?;
                (!shutdown.contains(&framework_id))
                    .then(|| ((framework_id, e.executor_id.clone()), Arc::new(e)))
            })
            .collect();
        self.allocation_pending = true;
        if reregistering {
            self.metrics.agent_reregistrations += 1;
        } else {
            self.metrics.agent_registrations += 1;
        }
        let agent_id = id.clone();
        self.agents.insert(
            id,
            Agent {
                info: Arc::new(info.into()),
                stream_id: Some(stream_id.clone()),
                events: Some(tx),
                last_seen: tokio::time::Instant::now(),
                unreachable: false,
                unreachable_since: None,
                executors,
                registered_time,
                reregistered_time: reregistering.then(unix_now),
                inserted: 0,
            },
        );
        self.publish_agent_added(&agent_id);
        Ok(AgentSubscription {
            agent_id,
            stream_id,
            events: rx,
            committed,
            unused,
        })
    }
}

/// An event of `ty` with nothing else set.
pub(crate) fn agent_event(ty: agent_event::Type) -> AgentEvent {
    AgentEvent {
        r#type: ty as i32,
        ..Default::default()
    }
}
