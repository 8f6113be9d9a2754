//! The master side of the master/agent protocol: registration, status
//! updates, heartbeats and disconnection.

use crate::actor::{Agent, AgentSubscription, CallError, MasterActor};
use mesos_proto::agent_protocol::{
    AgentCall, AgentEvent, PROTOCOL_VERSION, agent_call, agent_event,
};
use mesos_proto::resources::Resources;
use mesos_proto::v1::scheduler::{Event, event};
use mesos_proto::v1::{AgentId, FrameworkId, TaskState};
use std::collections::BTreeMap;
use tokio::sync::mpsc;

/// True for the states a task never leaves.
pub(crate) fn is_terminal(state: i32) -> bool {
    matches!(
        TaskState::try_from(state),
        Ok(TaskState::TaskFinished
            | TaskState::TaskFailed
            | TaskState::TaskKilled
            | TaskState::TaskError
            | TaskState::TaskLost
            | TaskState::TaskDropped
            | TaskState::TaskGone
            | TaskState::TaskGoneByOperator)
    )
}

fn agent_event(ty: agent_event::Type) -> AgentEvent {
    AgentEvent {
        r#type: ty as i32,
        ..Default::default()
    }
}

impl MasterActor {
    /// REGISTER: a new agent, or one coming back with its tasks.
    pub(crate) fn register_agent(
        &mut self,
        register: agent_call::Register,
    ) -> Result<AgentSubscription, CallError> {
        if register.protocol_version != PROTOCOL_VERSION {
            return Err(CallError::BadRequest(format!(
                "agent speaks protocol version {}, this master {PROTOCOL_VERSION}",
                register.protocol_version
            )));
        }
        let total = Resources::from_resources(register.resources)
            .map_err(|e| CallError::BadRequest(format!("agent resources: {e}")))?;
        let mut info = register.agent_info;
        let id = match info.id.clone() {
            Some(id) => id,
            None => {
                let id = AgentId::new(format!("{}-S{}", self.info.id, self.next_agent));
                self.next_agent += 1;
                id
            }
        };
        info.id = Some(id.clone());
        info.resources = total.clone().into_vec();

        // A re-registration replaces the old stream and the old view.
        let was_unreachable = self.agents.get(&id).is_some_and(|a| a.unreachable);
        if self.agents.contains_key(&id) {
            self.remove_agent_from_allocation(&id);
        }

        // What the agent's running tasks use counts as allocated. Back from
        // unreachable, tasks of frameworks that are not PARTITION_AWARE were
        // already reported lost: they are shut down, as Mesos does.
        let mut used: BTreeMap<FrameworkId, Resources> = BTreeMap::new();
        let mut shutdown = std::collections::BTreeSet::new();
        for mut task in register.tasks {
            if is_terminal(task.state) {
                continue;
            }
            let partition_aware = self.frameworks.get(&task.framework_id).is_some_and(|f| {
                f.has(mesos_proto::v1::framework_info::capability::Type::PartitionAware)
            });
            if was_unreachable && !partition_aware {
                shutdown.insert(task.framework_id.clone());
                continue;
            }
            let task_resources = Resources::from_resources(task.resources.clone())
                .map_err(|e| CallError::BadRequest(format!("task {}: {e}", task.task_id)))?;
            *used.entry(task.framework_id.clone()).or_default() += &task_resources;
            task.agent_id = id.clone();
            if let Some(framework) = self.frameworks.get_mut(&task.framework_id) {
                framework.tasks.insert(task.task_id.clone(), task);
            }
        }
        self.allocator.add_agent(id.clone(), total.clone(), used);

        let (tx, rx) = mpsc::channel(self.config.event_queue);
        let stream_id = uuid::Uuid::new_v4().to_string();
        let mut registered = agent_event(agent_event::Type::Registered);
        registered.registered = Some(agent_event::Registered {
            agent_id: id.clone(),
            heartbeat_interval_seconds: self.config.heartbeat_interval.as_secs_f64(),
            master_info: Some(self.info.clone()),
        });
        let _ = tx.try_send(registered);
        tracing::info!(agent = %id, hostname = %info.hostname, resources = %total, "agent registered");
        for framework_id in shutdown {
            let mut event = agent_event(agent_event::Type::ShutdownFramework);
            event.shutdown_framework = Some(agent_event::ShutdownFramework { framework_id });
            let _ = tx.try_send(event);
        }
        self.agents.insert(
            id,
            Agent {
                info,
                total,
                stream_id: Some(stream_id.clone()),
                events: Some(tx),
                last_seen: tokio::time::Instant::now(),
                unreachable: false,
            },
        );
        Ok(AgentSubscription {
            stream_id,
            events: rx,
        })
    }

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
        if let Some(agent) = self.agents.get_mut(&id) {
            agent.last_seen = tokio::time::Instant::now();
        }
        match agent_call::Type::try_from(call.r#type) {
            Ok(agent_call::Type::Update) => {
                let update = call.update.ok_or_else(|| {
                    CallError::BadRequest("Expecting 'update' to be present".into())
                })?;
                self.status_update(&id, update);
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
        if let Some(framework) = self.frameworks.get_mut(&framework_id) {
            if let Some(task) = framework.tasks.get_mut(&status.task_id) {
                let was_terminal = is_terminal(task.state);
                task.state = status.state;
                task.statuses = vec![status.clone()];
                if is_terminal(status.state) && !was_terminal {
                    released = Resources::from_resources(task.resources.clone()).ok();
                }
            }
        }
        if let Some(resources) = released {
            let now = self.now();
            self.allocator
                .recover_resources(&framework_id, agent_id, &resources, None, now);
        }
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
        if tx.try_send(event).is_err() {
            self.disconnect_agent(agent_id);
        }
    }

    /// HEARTBEAT to every agent; closed streams disconnect their agents.
    pub(crate) fn agent_heartbeat(&mut self) {
        let ids: Vec<AgentId> = self.agents.keys().cloned().collect();
        for id in ids {
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
        if let Some(agent) = self.agents.get_mut(id) {
            agent.events = None;
            agent.stream_id = None;
            tracing::info!(agent = %id, "agent disconnected");
        }
        self.remove_agent_from_allocation(id);
    }

    /// Marks agents unreachable that have been silent for
    /// `agent_ping_timeout * max_agent_ping_timeouts`.
    pub(crate) fn check_agents(&mut self, now: tokio::time::Instant) {
        let limit = self
            .config
            .agent_ping_timeout
            .saturating_mul(self.config.max_agent_ping_timeouts.max(1));
        let silent: Vec<AgentId> = self
            .agents
            .iter()
            .filter(|(_, a)| !a.unreachable && now.duration_since(a.last_seen) > limit)
            .map(|(id, _)| id.clone())
            .collect();
        for id in silent {
            self.mark_unreachable(&id);
        }
    }

    /// The agent is unreachable: its tasks become TASK_UNREACHABLE for
    /// PARTITION_AWARE frameworks and TASK_LOST for others, and every
    /// framework hears of the agent's FAILURE.
    fn mark_unreachable(&mut self, id: &AgentId) {
        tracing::warn!(agent = %id, "agent unreachable");
        if let Some(agent) = self.agents.get_mut(id) {
            agent.unreachable = true;
        }
        self.disconnect_agent(id);
        let message = format!("Agent {id} is unreachable");
        let framework_ids: Vec<FrameworkId> = self.frameworks.keys().cloned().collect();
        for framework_id in framework_ids {
            let state = self.lost_or(&framework_id, TaskState::TaskUnreachable);
            let tasks: Vec<mesos_proto::v1::Task> = self
                .frameworks
                .get_mut(&framework_id)
                .map(|f| {
                    let ids: Vec<_> = f
                        .tasks
                        .iter()
                        .filter(|(_, t)| t.agent_id == *id && !is_terminal(t.state))
                        .map(|(k, _)| k.clone())
                        .collect();
                    ids.into_iter()
                        .filter_map(|k| {
                            let task = f.tasks.get_mut(&k)?;
                            task.state = state as i32;
                            Some(task.clone())
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
                self.master_update(
                    &framework_id,
                    &info,
                    state,
                    mesos_proto::v1::task_status::Reason::AgentRemoved,
                    &message,
                );
            }
            if let Some(f) = self.frameworks.get_mut(&framework_id) {
                // Lost tasks are terminal and need no acknowledgement.
                f.tasks.retain(|_, t| t.state != TaskState::TaskLost as i32);
            }
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

    fn remove_agent_from_allocation(&mut self, id: &AgentId) {
        self.rescind_offers_on(id);
        self.allocator.remove_agent(id);
    }
}
