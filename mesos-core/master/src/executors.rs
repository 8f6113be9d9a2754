//! Executors as the master sees them: framework messages both ways, a
//! scheduler's SHUTDOWN of one executor, and an executor's exit (its
//! resources go back to the pool, its framework hears a FAILURE).
//!
//! Framework messages are best effort, as in Mesos: one whose agent or
//! framework is not connected is dropped and counted invalid.

use crate::actor::{Agent, MasterActor};
use mesos_proto::agent_protocol::{AgentEvent, agent_call, agent_event};
use mesos_proto::v1::scheduler::{Event, call, event};
use mesos_proto::v1::{AgentId, FrameworkId};

impl MasterActor {
    /// A scheduler's MESSAGE for one of its executors.
    pub(crate) fn framework_message(&mut self, framework_id: &FrameworkId, message: call::Message) {
        let connected = self
            .agents
            .get(&message.agent_id)
            .is_some_and(|a| !a.unreachable && a.connected());
        if !connected {
            tracing::warn!(
                framework = %framework_id,
                agent = %message.agent_id,
                "framework message for executor {} dropped: the agent is not connected",
                message.executor_id
            );
            self.metrics.invalid_framework_to_executor_messages += 1;
            return;
        }
        self.metrics.valid_framework_to_executor_messages += 1;
        let event = AgentEvent {
            r#type: agent_event::Type::Message as i32,
            message: Some(agent_event::Message {
                framework_id: framework_id.clone(),
                executor_id: message.executor_id,
                data: message.data,
            }),
            ..Default::default()
        };
        self.send_agent(&message.agent_id, event);
    }

    /// A scheduler's SHUTDOWN of one of its executors: the agent kills
    /// the executor's tasks and then the executor.
    pub(crate) fn shutdown_executor(
        &mut self,
        framework_id: &FrameworkId,
        shutdown: call::Shutdown,
    ) {
        if !self
            .agents
            .get(&shutdown.agent_id)
            .is_some_and(Agent::connected)
        {
            tracing::warn!(
                framework = %framework_id,
                agent = %shutdown.agent_id,
                "shutdown of executor {} dropped: the agent is not connected",
                shutdown.executor_id
            );
            return;
        }
        self.metrics.shutdown_executors += 1;
        let event = AgentEvent {
            r#type: agent_event::Type::ShutdownExecutor as i32,
            shutdown_executor: Some(agent_event::ShutdownExecutor {
                framework_id: framework_id.clone(),
                executor_id: shutdown.executor_id,
            }),
            ..Default::default()
        };
        self.send_agent(&shutdown.agent_id, event);
    }

    /// An executor's framework message, from its agent, for the scheduler.
    pub(crate) fn executor_message(&mut self, agent_id: &AgentId, message: agent_call::Message) {
        let framework_id = message.framework_id;
        if !self
            .frameworks
            .get(&framework_id)
            .is_some_and(|f| f.connected())
        {
            tracing::warn!(
                framework = %framework_id,
                agent = %agent_id,
                "message from executor {} dropped: the framework is not connected",
                message.executor_id
            );
            self.metrics.invalid_executor_to_framework_messages += 1;
            return;
        }
        self.metrics.valid_executor_to_framework_messages += 1;
        self.send(
            &framework_id,
            Event {
                r#type: Some(event::Type::Message as i32),
                message: Some(event::Message {
                    agent_id: agent_id.clone(),
                    executor_id: message.executor_id,
                    data: message.data,
                }),
                ..Default::default()
            },
        );
    }

    /// An executor ended: its resources go back to the pool and its
    /// framework gets a FAILURE naming it, with its wait status.
    pub(crate) fn exited_executor(
        &mut self,
        agent_id: &AgentId,
        exited: agent_call::ExitedExecutor,
    ) {
        self.metrics.exited_executors += 1;
        let framework_id = exited.framework_id;
        let removed = self.agents.get_mut(agent_id).and_then(|mut a| {
            a.executors
                .remove(&(framework_id.clone(), exited.executor_id.clone()))
        });
        tracing::info!(
            framework = %framework_id,
            agent = %agent_id,
            "executor {} exited with status {}",
            exited.executor_id,
            exited.status
        );
        if let Some(executor) = removed {
            match self.with_allocation_info(&framework_id, executor.resources.clone()) {
                Ok(resources) if !resources.is_empty() => {
                    let now = self.now();
                    self.allocator.recover_resources(
                        &framework_id,
                        agent_id,
                        &resources,
                        None,
                        now,
                    );
                    self.allocation_pending = true;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("executor {}: {e}", exited.executor_id),
            }
        }
        self.send(
            &framework_id,
            Event {
                r#type: Some(event::Type::Failure as i32),
                failure: Some(event::Failure {
                    agent_id: Some(agent_id.clone()),
                    executor_id: Some(exited.executor_id),
                    status: Some(exited.status),
                }),
                ..Default::default()
            },
        );
    }
}
