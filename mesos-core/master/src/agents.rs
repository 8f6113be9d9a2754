//! The master side of the master/agent protocol: status updates,
//! heartbeats, disconnection and removal (registration is in
//! `registration`).

use crate::actor::{Agent, CallError, MasterActor};
use crate::registration::agent_event;
use crate::registry::AgentStanding;
use crate::scheduler::unix_now;
use crate::task_entry::TaskEntry;
use mesos_proto::agent_protocol::{AgentCall, AgentEvent, agent_call, agent_event};
use mesos_proto::v1::scheduler::{Event, event};
use mesos_proto::v1::{AgentId, FrameworkId, TaskState};
use std::ops::Bound::{Excluded, Unbounded};
use std::sync::Arc;

pub(crate) use mesos_proto::is_terminal;

impl MasterActor {
    /// Any agent call but REGISTER.
    pub(crate) fn agent_call(
        &mut self,
        stream_id: Option<String>,
        call: AgentCall,
    ) -> Result<(), CallError> {
        let Some(id) = call.agent_id.clone() else {
            return Err(CallError::BadRequest(
                "Expecting 'agent_id' to be present".into(),
            ));
        };
        let Some(agent) = self.agents.get(&id) else {
            return Err(CallError::Forbidden(format!(
                "Agent {id} is not registered"
            )));
        };
        if stream_id.is_none() || agent.stream_id != stream_id {
            return Err(CallError::BadRequest(format!(
                "The stream ID included in this request does not match agent {id}'s stream"
            )));
        }
        self.agents.seen(&id, tokio::time::Instant::now());
        match agent_call::Type::try_from(call.r#type) {
            Ok(agent_call::Type::Update) => {
                if call.update.is_none() && call.updates.is_empty() {
                    return Err(CallError::BadRequest(
                        "Expecting 'update' or 'updates' to be present".into(),
                    ));
                }
                tracing::debug!(
                    updates = call.updates.len() + usize::from(call.update.is_some()),
                    "agent UPDATE call"
                );
                for update in call.update.into_iter().chain(call.updates) {
                    self.status_update(&id, update);
                }
                Ok(())
            }
            Ok(agent_call::Type::Message) => {
                let message = call.message.ok_or_else(|| {
                    CallError::BadRequest("Expecting 'message' to be present".into())
                })?;
                self.executor_message(&id, message);
                Ok(())
            }
            Ok(agent_call::Type::ExitedExecutor) => {
                let exited = call.exited_executor.ok_or_else(|| {
                    CallError::BadRequest("Expecting 'exited_executor' to be present".into())
                })?;
                self.exited_executor(&id, exited);
                Ok(())
            }
            Ok(agent_call::Type::Heartbeat) => Ok(()),
            Ok(agent_call::Type::Register) => Err(CallError::BadRequest(
                "REGISTER must not carry 'Mesos-Stream-Id'".into(),
            )),
            _ => Err(CallError::BadRequest(
                "Expecting 'type' to be present".into(),
            )),
        }
    }

    /// A status update from an agent: recorded and forwarded, uuid intact,
    /// to the framework, which acknowledges it through the master.
    fn status_update(&mut self, agent_id: &AgentId, update: agent_call::Update) {
        let mut status = update.status;
        status.agent_id = Some(agent_id.clone());
        let framework_id = update.framework_id;
        let mut released = None;
        self.metrics.valid_status_updates += 1;
        if let Some(framework) = self.frameworks.get_mut(&framework_id) {
            let changed = framework.tasks.update(&status.task_id, |task| {
                let was_terminal = is_terminal(task.state);
                // As Mesos: a task that ended stays ended; its statuses
                // keep every state it went through (a repeat replaces the
                // last), without the large `data`.
                if !was_terminal {
                    task.state = status.state;
                }
                if task
                    .statuses
                    .last()
                    .is_some_and(|s| s.state == status.state)
                {
                    task.statuses.pop();
                }
                let mut kept = status.clone();
                kept.data = None;
                // Room for exactly one more: a task keeps a status or
                // three, and a vector's first growth makes room for four
                // (1.4 KB a task).
                task.statuses.reserve_exact(1);
                task.statuses.push(kept);
                is_terminal(status.state) && !was_terminal
            });
            if let Some((true, task)) = changed {
                released = task.resources();
                *self.metrics.terminal.entry(status.state).or_default() += 1;
            }
        }
        if let Some(resources) = released {
            let now = self.now();
            self.allocator
                .recover_resources(&framework_id, agent_id, &resources, None, now);
        }
        self.publish_task_updated(&framework_id, &status);
        // A framework that is not connected gets it when the agent retries.
        self.send(
            &framework_id,
            Event {
                r#type: Some(event::Type::Update as i32),
                update: Some(event::Update { status }),
                ..Default::default()
            },
        );
    }

    /// Sends an event to an agent; a closed or full stream disconnects it.
    pub(crate) fn send_agent(&mut self, agent_id: &AgentId, event: AgentEvent) {
        let Some(tx) = self.agents.get(agent_id).and_then(|a| a.events.clone()) else {
            return;
        };
        if tx.try_send(Box::new(event)).is_err() {
            self.disconnect_agent(agent_id);
        }
    }

    /// HEARTBEATs to agents in turn; closed streams disconnect their agents.
    ///
    /// Called every `tick`, it reaches the next share of the agents in
    /// turn, so each hears one about every heartbeat interval and 10,000
    /// agents do not cost one long turn of the event loop.
    pub(crate) fn agent_heartbeat(&mut self, tick: std::time::Duration) {
        let n = self.agents.len();
        if n == 0 {
            return;
        }
        // Each agent once per interval: a few agents with a long interval
        // are not heartbeated every tick.
        let due = self.heartbeats_due
            + n as f64 * tick.as_secs_f64() / self.config.heartbeat_interval.as_secs_f64();
        let share = (due.floor() as usize).min(n);
        self.heartbeats_due = if share == n { 0.0 } else { due - share as f64 };
        if share == 0 {
            return;
        }
        let after = self.heartbeat_cursor.take();
        let next = match &after {
            Some(last) => self
                .agents
                .range::<AgentId, _>((Excluded(last), Unbounded))
                .map(|(id, _)| id)
                .chain(self.agents.keys())
                .take(share)
                .cloned()
                .collect::<Vec<AgentId>>(),
            None => self.agents.keys().take(share).cloned().collect(),
        };
        self.heartbeat_cursor = next.last().cloned();
        for id in next {
            let connected = self.agents.get(&id).is_some_and(Agent::connected);
            if connected {
                self.send_agent(&id, agent_event(agent_event::Type::Heartbeat));
            } else if self.agents.get(&id).is_some_and(|a| a.events.is_some()) {
                self.disconnect_agent(&id);
            }
        }
    }

    /// An agent's stream is gone: its offers are rescinded and its
    /// resources leave the pool until it registers again. (Marking it
    /// unreachable after `--agent_ping_timeout` comes later.)
    pub(crate) fn disconnect_agent(&mut self, id: &AgentId) {
        if let Some(mut agent) = self.agents.get_mut(id) {
            agent.events = None;
            agent.stream_id = None;
            tracing::info!(agent = %id, "agent disconnected");
        }
        self.remove_agent_from_allocation(id);
    }

    /// The agent's event stream `stream_id` ended: if it is still the
    /// agent's, the agent is disconnected now, as Mesos does when an
    /// agent's connection closes (not at its next heartbeat).
    pub(crate) fn agent_stream_closed(&mut self, id: &AgentId, stream_id: &str) {
        if self
            .agents
            .get(id)
            .is_some_and(|a| a.stream_id.as_deref() == Some(stream_id))
        {
            tracing::info!(agent = %id, "agent's event stream closed");
            self.disconnect_agent(id);
        }
    }

    /// Marks agents unreachable that have been silent for
    /// `agent_ping_timeout * max_agent_ping_timeouts`.
    pub(crate) fn check_agents(&mut self, now: tokio::time::Instant) {
        let limit = self
            .config
            .agent_ping_timeout
            .saturating_mul(self.config.max_agent_ping_timeouts.max(1));
        let silent = self.agents.silent(now, limit);
        for id in silent {
            self.mark_unreachable(&id);
        }
    }

    /// The agent is unreachable: its tasks become TASK_UNREACHABLE for
    /// PARTITION_AWARE frameworks and TASK_LOST for others, and every
    /// framework hears of the agent's FAILURE.
    fn mark_unreachable(&mut self, id: &AgentId) {
        tracing::warn!(agent = %id, "agent unreachable");
        if let Some(mut agent) = self.agents.get_mut(id) {
            agent.unreachable = true;
            agent.unreachable_since = Some(unix_now());
            let _ =
                self.registry
                    .put_agent(&agent.info, AgentStanding::Unreachable, Some(unix_now()));
        }
        self.disconnect_agent(id);
        self.publish_agent_removed(id);
        self.agent_failed(
            id,
            TaskState::TaskUnreachable,
            &format!("Agent {id} is unreachable"),
        );
    }

    /// Agents of the registry that did not re-register within
    /// `--agent_reregister_timeout` of the master's start: unreachable.
    /// The master never knew their tasks, so no task updates are sent;
    /// reconciliation answers for them.
    pub(crate) fn expire_recovered_agents(&mut self) {
        let expired = std::mem::take(&mut self.recovered_agents);
        tracing::warn!(
            agents = expired.len(),
            "agents did not re-register within --agent_reregister_timeout; marking them unreachable"
        );
        let now = tokio::time::Instant::now();
        for (id, info) in expired {
            let _ = self
                .registry
                .put_agent(&info, AgentStanding::Unreachable, Some(unix_now()));
            self.agents
                .insert(id, Agent::unreachable(info, now, unix_now()));
        }
    }

    /// MARK_AGENT_GONE: the agent's tasks become TASK_GONE_BY_OPERATOR
    /// (TASK_LOST for frameworks not PARTITION_AWARE), its stream ends and
    /// it may never register again. The answer waits for what it returns:
    /// the registry's write of the agent as gone (none if it already was),
    /// so a master that crashes right after answering still knows it.
    pub(crate) fn mark_gone(
        &mut self,
        id: &AgentId,
    ) -> Result<Option<crate::registry::Committed>, CallError> {
        if self.gone_agents.contains_key(id) {
            return Ok(None);
        }
        let info = match (self.agents.get(id), self.recovered_agents.get(id)) {
            (Some(agent), _) => mesos_proto::v1::AgentInfo::clone(&agent.info),
            (None, Some(info)) => info.clone(),
            (None, None) => {
                return Err(CallError::NotFound(format!("Agent {id} is unknown")));
            }
        };
        tracing::warn!(agent = %id, "agent marked gone by the operator");
        let since = unix_now();
        let committed = self
            .registry
            .put_agent(&info, AgentStanding::Gone, Some(since));
        self.gone_agents.insert(id.clone(), since);
        self.recovered_agents.remove(id);
        let mut error = agent_event(agent_event::Type::Error);
        error.error = Some(format!("Agent {id} has been marked gone by an operator"));
        self.send_agent(id, error);
        self.disconnect_agent(id);
        self.agent_failed(
            id,
            TaskState::TaskGoneByOperator,
            &format!("Agent {id} has been marked gone"),
        );
        self.agents.remove(id);
        self.metrics.agent_removals += 1;
        self.publish_agent_removed(id);
        Ok(Some(committed))
    }

    /// The agent's non-terminal tasks become `aware` (TASK_LOST for
    /// frameworks that are not PARTITION_AWARE) and every framework hears
    /// of the agent's FAILURE.
    fn agent_failed(&mut self, id: &AgentId, aware: TaskState, message: &str) {
        let framework_ids: Vec<FrameworkId> = self.frameworks.keys().cloned().collect();
        for framework_id in framework_ids {
            self.end_agent_tasks(
                id,
                &framework_id,
                aware,
                mesos_proto::v1::task_status::Reason::AgentRemoved,
                message,
                |_| true,
            );
            self.send(
                &framework_id,
                Event {
                    r#type: Some(event::Type::Failure as i32),
                    failure: Some(event::Failure {
                        agent_id: Some(id.clone()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            );
        }
    }

    /// The framework's non-terminal tasks on agent `id` that `which`
    /// selects become `aware` (TASK_LOST for frameworks that are not
    /// PARTITION_AWARE); terminal ones go to the history.
    pub(crate) fn end_agent_tasks(
        &mut self,
        id: &AgentId,
        framework_id: &FrameworkId,
        aware: TaskState,
        reason: mesos_proto::v1::task_status::Reason,
        message: &str,
        which: impl Fn(&mesos_proto::v1::Task) -> bool,
    ) {
        let state = self.lost_or(framework_id, aware);
        let tasks: Vec<Arc<TaskEntry>> = self
            .frameworks
            .get_mut(framework_id)
            .map(|f| {
                let ids: Vec<_> = f
                    .tasks
                    .on(id)
                    .filter(|k| {
                        f.tasks
                            .get(k)
                            .is_some_and(|t| !is_terminal(t.state) && which(t))
                    })
                    .cloned()
                    .collect();
                ids.into_iter()
                    .filter_map(|k| {
                        let (_, task) = f.tasks.update(&k, |t| t.state = state as i32)?;
                        Some(task)
                    })
                    .collect()
            })
            .unwrap_or_default();
        for task in &tasks {
            let info = mesos_proto::v1::TaskInfo {
                name: task.name.clone(),
                task_id: task.task_id.clone(),
                agent_id: id.clone(),
                ..Default::default()
            };
            self.master_update(framework_id, &info, state, reason, message);
        }
        if is_terminal(state as i32) {
            *self.metrics.terminal.entry(state as i32).or_default() += tasks.len() as u64;
        }
        let limit = self.config.max_completed_tasks_per_framework;
        if let Some(f) = self.frameworks.get_mut(framework_id) {
            // Lost and gone tasks are terminal and need no
            // acknowledgement: they go to the history.
            for task in tasks.into_iter().filter(|t| is_terminal(t.state)) {
                if let Some(task) = f.tasks.remove(&task.task_id) {
                    f.complete(task, limit);
                }
            }
        }
    }

    /// Registry GC: unreachable and gone agents older than
    /// `--registry_max_agent_age`, or beyond `--registry_max_agent_count`
    /// (oldest first, each kind apart), are forgotten, in memory and in
    /// the registry. A pruned agent that comes back registers as if new to
    /// this master (Mesos does the same).
    pub(crate) fn registry_gc(&mut self) {
        let (now, age, count) = (
            unix_now(),
            self.config.registry_max_agent_age,
            self.config.registry_max_agent_count,
        );
        let unreachable: Vec<(AgentId, f64)> = self
            .agents
            .iter()
            .filter(|(_, a)| a.unreachable)
            .map(|(id, a)| (id.clone(), a.unreachable_since.unwrap_or(now)))
            .collect();
        let gone: Vec<(AgentId, f64)> = self
            .gone_agents
            .iter()
            .map(|(id, since)| (id.clone(), *since))
            .collect();
        let mut pruned = crate::registry::prune(unreachable, now, age, count);
        for id in &pruned {
            self.agents.remove(id);
        }
        let gone = crate::registry::prune(gone, now, age, count);
        for id in &gone {
            self.gone_agents.remove(id);
        }
        pruned.extend(gone);
        if !pruned.is_empty() {
            tracing::info!(
                agents = pruned.len(),
                "registry GC: forgetting unreachable and gone agents"
            );
            let _ = self.registry.remove_agents(&pruned);
        }
    }

    pub(crate) fn remove_agent_from_allocation(&mut self, id: &AgentId) {
        self.rescind_offers_on(id);
        self.forget_recoveries_on(id);
        self.allocator.remove_agent(id);
    }
}
