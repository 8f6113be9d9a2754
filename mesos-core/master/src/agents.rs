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
        if self.agents.contains_key(&id) {
            self.remove_agent_from_allocation(&id);
        }

        // What the agent's running tasks use counts as allocated.
        let mut used: BTreeMap<FrameworkId, Resources> = BTreeMap::new();
        for mut task in register.tasks {
            if is_terminal(task.state) {
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
        self.agents.insert(
            id,
            Agent {
                info,
                total,
                stream_id: Some(stream_id.clone()),
                events: Some(tx),
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

    fn remove_agent_from_allocation(&mut self, id: &AgentId) {
        self.rescind_offers_on(id);
        self.allocator.remove_agent(id);
    }
}
