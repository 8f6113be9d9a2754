//! The master's handling of scheduler calls (the v1 scheduler API).

use crate::actor::{CallError, Framework, MasterActor, Subscription, roles_of};
use crate::agents::is_terminal;
use mesos_proto::agent_protocol::{AgentEvent, agent_event};
use mesos_proto::resources::validate_role;
use mesos_proto::v1::scheduler::{self, Event, call, event};
use mesos_proto::v1::{
    AgentId, FrameworkId, FrameworkInfo, OperationState, OperationStatus, TaskId, TaskState,
    TaskStatus, framework_info, task_status,
};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::sync::mpsc;

type Cap = framework_info::capability::Type;

/// Checks a FrameworkInfo as Mesos does on SUBSCRIBE and UPDATE_FRAMEWORK.
fn validate_framework_info(info: &FrameworkInfo) -> Result<(), CallError> {
    let bad = |m: String| Err(CallError::BadRequest(m));
    if info.role.is_some() && !info.roles.is_empty() {
        return bad("'FrameworkInfo.role' and 'FrameworkInfo.roles' cannot both be set".into());
    }
    let multi_role = info
        .capabilities
        .iter()
        .any(|c| c.r#type == Some(Cap::MultiRole as i32));
    if !info.roles.is_empty() && !multi_role {
        return bad("'FrameworkInfo.roles' requires the MULTI_ROLE capability".into());
    }
    let mut seen = BTreeSet::new();
    for role in roles_of(info) {
        validate_role(&role).or_else(|e| bad(format!("invalid role in FrameworkInfo: {e}")))?;
        if !seen.insert(role.clone()) {
            return bad(format!("'FrameworkInfo.roles' lists `{role}` twice"));
        }
    }
    if info
        .failover_timeout
        .is_some_and(|t| !t.is_finite() || t < 0.0)
    {
        return bad("'FrameworkInfo.failover_timeout' must be a non-negative number".into());
    }
    Ok(())
}

fn event(ty: event::Type) -> Event {
    Event {
        r#type: Some(ty as i32),
        ..Default::default()
    }
}

impl MasterActor {
    /// SUBSCRIBE: a new framework, a failover or a reconnect.
    pub(crate) fn subscribe(
        &mut self,
        call_framework_id: Option<FrameworkId>,
        subscribe: call::Subscribe,
    ) -> Result<Subscription, CallError> {
        let mut info = subscribe.framework_info;
        validate_framework_info(&info)?;
        if let (Some(call_id), Some(info_id)) = (&call_framework_id, &info.id) {
            if call_id != info_id {
                return Err(CallError::BadRequest(
                    "'framework_id' differs from 'subscribe.framework_info.id'".into(),
                ));
            }
        }
        let id = match info.id.clone().or(call_framework_id) {
            Some(id) if self.removed_frameworks.contains(&id) => {
                return Err(CallError::Forbidden(format!(
                    "Framework {id} has been removed (torn down); subscribe without an id to register anew"
                )));
            }
            Some(id) => id,
            None => self.new_framework_id(),
        };
        info.id = Some(id.clone());

        let (tx, rx) = mpsc::channel(self.config.event_queue);
        let stream_id = uuid::Uuid::new_v4().to_string();
        let capabilities: BTreeSet<i32> =
            info.capabilities.iter().filter_map(|c| c.r#type).collect();

        // A newer subscription ends the older one (failover).
        let added = !self.frameworks.contains_key(&id);
        if let Some(old) = self.frameworks.get_mut(&id) {
            if let Some(old_tx) = old.events.take() {
                let mut error = event(event::Type::Error);
                error.error = Some(event::Error {
                    message: "Framework failed over".into(),
                });
                let _ = old_tx.try_send(Box::new(error));
            }
            old.info = info;
            old.capabilities = capabilities;
            old.stream_id = Some(stream_id.clone());
            old.events = Some(tx);
            old.failover_deadline = None;
            let now = unix_now();
            if old.registered_time.is_none() {
                old.registered_time = Some(now);
            } else {
                old.reregistered_time = Some(now);
            }
            let options = Self::allocator_options(old);
            self.allocator.update_framework(&id, options);
            self.allocator.activate_framework(&id);
            tracing::info!(framework = %id, "framework failed over");
        } else {
            let mut framework = Framework::new(info);
            framework.stream_id = Some(stream_id.clone());
            framework.events = Some(tx);
            framework.registered_time = Some(unix_now());
            self.allocator
                .add_framework(id.clone(), Self::allocator_options(&framework));
            tracing::info!(framework = %id, name = %framework.info.name, "framework subscribed");
            self.frameworks.insert(id.clone(), framework);
        }

        let committed = self
            .frameworks
            .get(&id)
            .map(|framework| self.registry.put_framework(&framework.info, None));
        self.allocation_pending = true;
        self.publish_framework(&id, added);
        let mut subscribed = event(event::Type::Subscribed);
        subscribed.subscribed = Some(event::Subscribed {
            framework_id: id.clone(),
            heartbeat_interval_seconds: Some(self.config.heartbeat_interval.as_secs_f64()),
            master_info: Some(self.info.clone()),
        });
        self.send(&id, subscribed);
        // Roles suppressed at subscription.
        if !subscribe.suppressed_roles.is_empty() {
            self.allocator.suppress(&id, &subscribe.suppressed_roles);
        }
        Ok(Subscription {
            stream_id,
            events: rx,
            committed,
        })
    }

    /// Any call but SUBSCRIBE, from the framework named in it, on the stream
    /// named by the request. Most calls answer nothing (202 Accepted);
    /// RECONCILE_OPERATIONS answers with a `Response` (200 OK).
    pub(crate) fn call(
        &mut self,
        stream_id: Option<String>,
        call: scheduler::Call,
    ) -> Result<Option<scheduler::Response>, CallError> {
        use scheduler::call::Type;
        let Some(id) = call.framework_id.clone() else {
            return Err(CallError::BadRequest(
                "Expecting 'framework_id' to be present".into(),
            ));
        };
        let Some(framework) = self.frameworks.get(&id) else {
            return Err(CallError::Forbidden(format!(
                "Framework {id} is not subscribed"
            )));
        };
        let Some(current) = framework
            .stream_id
            .as_deref()
            .filter(|_| framework.connected())
        else {
            return Err(CallError::Forbidden(format!(
                "Framework {id} is not subscribed"
            )));
        };
        let Some(stream_id) = stream_id else {
            return Err(CallError::BadRequest(
                "All non-subscribe calls should include the 'Mesos-Stream-Id' header".into(),
            ));
        };
        if stream_id != current {
            return Err(CallError::BadRequest(format!(
                "The stream ID '{stream_id}' included in this request didn't match the stream ID currently associated with framework ID {id}"
            )));
        }
        let ty = call.r#type.and_then(|t| Type::try_from(t).ok());
        let done = match ty {
            Some(Type::Teardown) => {
                self.teardown(&id);
                Ok(())
            }
            Some(Type::Suppress) => {
                let roles = call.suppress.map(|s| s.roles).unwrap_or_default();
                self.allocator.suppress(&id, &roles);
                Ok(())
            }
            Some(Type::Revive) => {
                let roles = call.revive.map(|r| r.roles).unwrap_or_default();
                self.allocator.revive(&id, &roles);
                self.allocation_pending = true;
                Ok(())
            }
            Some(Type::Decline) => {
                let decline = call.decline.ok_or_else(|| missing("decline"))?;
                self.decline(&id, decline);
                Ok(())
            }
            Some(Type::Accept) => {
                let accept = call.accept.ok_or_else(|| missing("accept"))?;
                self.accept(&id, accept)
            }
            Some(Type::Reconcile) => {
                let reconcile = call.reconcile.ok_or_else(|| missing("reconcile"))?;
                self.reconcile(&id, reconcile);
                Ok(())
            }
            Some(Type::Kill) => {
                let kill = call.kill.ok_or_else(|| missing("kill"))?;
                self.kill(&id, kill);
                Ok(())
            }
            Some(Type::Acknowledge) => {
                let ack = call.acknowledge.ok_or_else(|| missing("acknowledge"))?;
                if ack.uuid.len() != 16 {
                    return Err(CallError::BadRequest(format!(
                        "'acknowledge.uuid' must be 16 bytes, found {}",
                        ack.uuid.len()
                    )));
                }
                self.acknowledge(&id, ack);
                Ok(())
            }
            Some(Type::UpdateFramework) => {
                let update = call
                    .update_framework
                    .ok_or_else(|| missing("update_framework"))?;
                let mut info = update.framework_info;
                validate_framework_info(&info)?;
                if info.id.as_ref().is_some_and(|i| *i != id) {
                    return Err(CallError::BadRequest(
                        "'update_framework.framework_info.id' differs from 'framework_id'".into(),
                    ));
                }
                info.id = Some(id.clone());
                if let Some(framework) = self.frameworks.get_mut(&id) {
                    framework.capabilities =
                        info.capabilities.iter().filter_map(|c| c.r#type).collect();
                    framework.info = info;
                    let _ = self.registry.put_framework(&framework.info, None);
                    let options = Self::allocator_options(framework);
                    self.allocator.update_framework(&id, options);
                    self.allocator.revive(&id, &[]);
                    self.allocator.suppress(&id, &update.suppressed_roles);
                    self.allocation_pending = true;
                }
                self.publish_framework(&id, false);
                Ok(())
            }
            Some(Type::Message) => {
                let message = call.message.ok_or_else(|| missing("message"))?;
                self.framework_message(&id, message);
                Ok(())
            }
            Some(Type::Shutdown) => {
                let shutdown = call.shutdown.ok_or_else(|| missing("shutdown"))?;
                self.shutdown_executor(&id, shutdown);
                Ok(())
            }
            // Mesos' allocator ignores resource requests too.
            Some(Type::Request) => Ok(()),
            Some(Type::AcceptInverseOffers | Type::DeclineInverseOffers) => Ok(()),
            Some(Type::AcknowledgeOperationStatus) => {
                let ack = call
                    .acknowledge_operation_status
                    .ok_or_else(|| missing("acknowledge_operation_status"))?;
                if ack.uuid.len() != 16 {
                    return Err(CallError::BadRequest(format!(
                        "'acknowledge_operation_status.uuid' must be 16 bytes, found {}",
                        ack.uuid.len()
                    )));
                }
                // As in Mesos, an acknowledgement of an operation status the
                // master does not know is dropped (and counted), not
                // refused. No update with a uuid is sent yet: operations
                // with ids are not accepted yet.
                self.metrics
                    .invalid_operation_status_update_acknowledgements += 1;
                tracing::warn!(
                    framework = %id,
                    operation = %ack.operation_id.value,
                    "dropping an acknowledgement for an unknown operation status"
                );
                Ok(())
            }
            Some(Type::Subscribe) => Err(CallError::BadRequest(
                "SUBSCRIBE must not carry 'Mesos-Stream-Id'".into(),
            )),
            Some(Type::ReconcileOperations) => {
                let reconcile = call
                    .reconcile_operations
                    .ok_or_else(|| missing("reconcile_operations"))?;
                return Ok(Some(self.reconcile_operations(reconcile)));
            }
            Some(Type::Unknown) | None => Err(CallError::BadRequest(
                "Expecting 'type' to be present".into(),
            )),
        };
        done.map(|()| None)
    }

    /// RECONCILE: the latest state of each task asked about (all the
    /// framework's tasks when none are named), with REASON_RECONCILIATION;
    /// unknown tasks are answered as unknown.
    fn reconcile(&mut self, id: &FrameworkId, reconcile: call::Reconcile) {
        let Some(framework) = self.frameworks.get(id) else {
            return;
        };
        let ids: Vec<(TaskId, Option<AgentId>)> = if reconcile.tasks.is_empty() {
            framework.tasks.keys().map(|t| (t.clone(), None)).collect()
        } else {
            reconcile
                .tasks
                .into_iter()
                .map(|t| (t.task_id, t.agent_id))
                .collect()
        };
        for (task_id, agent_id) in ids {
            let known = self
                .frameworks
                .get(id)
                .and_then(|f| f.tasks.get(&task_id))
                .cloned();
            match known {
                Some(task) => {
                    let mut status = task.statuses.last().cloned().unwrap_or(TaskStatus {
                        task_id: task.task_id.clone(),
                        state: task.state,
                        agent_id: Some(task.agent_id.clone()),
                        ..Default::default()
                    });
                    status.state = task.state;
                    status.uuid = None;
                    status.reason = Some(task_status::Reason::Reconciliation as i32);
                    status.source = Some(task_status::Source::Master as i32);
                    status.message = Some("Reconciliation: latest task state".into());
                    self.send_update(id, status);
                }
                None => {
                    let (state, message) = match self.agent_standing(agent_id.as_ref()) {
                        // It may still come back with the task: no answer
                        // yet (the framework retries), as in Mesos.
                        AgentStanding::Recovering => continue,
                        AgentStanding::Unreachable => (
                            TaskState::TaskUnreachable,
                            "Reconciliation: task is unknown, its agent is unreachable",
                        ),
                        AgentStanding::Gone => (
                            TaskState::TaskGoneByOperator,
                            "Reconciliation: task is unknown, its agent is gone",
                        ),
                        AgentStanding::Registered | AgentStanding::Unknown => {
                            (TaskState::TaskUnknown, "Reconciliation: task is unknown")
                        }
                    };
                    self.send_reconciliation(id, task_id, agent_id, state, message);
                }
            }
        }
    }

    /// Where an agent stands, for answers about what the master does not
    /// know of on it.
    fn agent_standing(&self, agent_id: Option<&AgentId>) -> AgentStanding {
        let Some(agent_id) = agent_id else {
            return AgentStanding::Unknown;
        };
        if self.gone_agents.contains_key(agent_id) {
            AgentStanding::Gone
        } else if self.recovered_agents.contains_key(agent_id) {
            AgentStanding::Recovering
        } else {
            match self.agents.get(agent_id) {
                Some(agent) if agent.unreachable => AgentStanding::Unreachable,
                Some(_) => AgentStanding::Registered,
                None => AgentStanding::Unknown,
            }
        }
    }

    /// RECONCILE_OPERATIONS, answered at once (as since Mesos 1.8) with
    /// the latest status of each operation. The master keeps no operations
    /// yet (operations with ids are not accepted), so an implicit
    /// reconciliation (no operations listed) lists none and an explicit one
    /// answers each operation from its agent's standing, as Mesos does for
    /// operations it does not know: OPERATION_RECOVERING while the agent
    /// may still re-register, OPERATION_UNREACHABLE,
    /// OPERATION_GONE_BY_OPERATOR, otherwise OPERATION_UNKNOWN. The
    /// statuses carry no uuid: nothing to acknowledge.
    fn reconcile_operations(&self, reconcile: call::ReconcileOperations) -> scheduler::Response {
        let mut statuses = Vec::new();
        for operation in reconcile.operations {
            let (state, message) = match self.agent_standing(operation.agent_id.as_ref()) {
                AgentStanding::Recovering => (
                    OperationState::OperationRecovering,
                    "Reconciliation: the operation's agent has not re-registered yet",
                ),
                AgentStanding::Unreachable => (
                    OperationState::OperationUnreachable,
                    "Reconciliation: the operation's agent is unreachable",
                ),
                AgentStanding::Gone => (
                    OperationState::OperationGoneByOperator,
                    "Reconciliation: the operation's agent is gone",
                ),
                AgentStanding::Registered | AgentStanding::Unknown => (
                    OperationState::OperationUnknown,
                    "Reconciliation: operation is unknown",
                ),
            };
            statuses.push(OperationStatus {
                operation_id: Some(operation.operation_id),
                state: state as i32,
                message: Some(message.to_string()),
                agent_id: operation.agent_id,
                resource_provider_id: operation.resource_provider_id,
                ..Default::default()
            });
        }
        scheduler::Response {
            r#type: Some(scheduler::response::Type::ReconcileOperations as i32),
            reconcile_operations: Some(scheduler::response::ReconcileOperations {
                operation_statuses: statuses,
            }),
        }
    }

    /// KILL: sent to the task's agent; an unknown task is answered with
    /// its reconciled state.
    fn kill(&mut self, id: &FrameworkId, kill: call::Kill) {
        let task = self
            .frameworks
            .get(id)
            .and_then(|f| f.tasks.get(&kill.task_id))
            .cloned();
        match task {
            Some(task) if !is_terminal(task.state) => {
                self.send_agent(
                    &task.agent_id,
                    AgentEvent {
                        r#type: agent_event::Type::KillTask as i32,
                        kill_task: Some(agent_event::KillTask {
                            framework_id: id.clone(),
                            task_id: kill.task_id,
                            kill_policy: kill.kill_policy,
                        }),
                        ..Default::default()
                    },
                );
            }
            Some(_) => {}
            None => self.send_reconciliation(
                id,
                kill.task_id,
                None,
                TaskState::TaskUnknown,
                "killed task is unknown",
            ),
        }
    }

    /// ACKNOWLEDGE: routed to the agent, whose status update manager
    /// stops retrying. A terminal task acknowledged is forgotten.
    fn acknowledge(&mut self, id: &FrameworkId, ack: call::Acknowledge) {
        let terminal = self
            .frameworks
            .get(id)
            .and_then(|f| f.tasks.get(&ack.task_id))
            .is_some_and(|t| {
                is_terminal(t.state)
                    && t.statuses
                        .last()
                        .is_some_and(|s| s.uuid.as_deref() == Some(ack.uuid.as_slice()))
            });
        if terminal {
            let limit = self.config.max_completed_tasks_per_framework;
            if let Some(f) = self.frameworks.get_mut(id) {
                if let Some(task) = f.tasks.remove(&ack.task_id) {
                    f.complete(task, limit);
                }
            }
        }
        self.send_agent(
            &ack.agent_id,
            AgentEvent {
                r#type: agent_event::Type::Acknowledge as i32,
                acknowledge: Some(agent_event::Acknowledge {
                    framework_id: id.clone(),
                    task_id: ack.task_id,
                    uuid: ack.uuid,
                }),
                ..Default::default()
            },
        );
    }

    /// TASK_LOST for frameworks that are not PARTITION_AWARE, else `aware`.
    pub(crate) fn lost_or(&self, id: &FrameworkId, aware: TaskState) -> TaskState {
        let partition_aware = self
            .frameworks
            .get(id)
            .is_some_and(|f| f.has(Cap::PartitionAware));
        if partition_aware {
            aware
        } else {
            TaskState::TaskLost
        }
    }

    /// The master's answer for a task it does not know: `aware` for
    /// PARTITION_AWARE frameworks, TASK_LOST for others, with
    /// REASON_RECONCILIATION.
    fn send_reconciliation(
        &mut self,
        id: &FrameworkId,
        task_id: TaskId,
        agent_id: Option<AgentId>,
        aware: TaskState,
        message: &str,
    ) {
        let state = self.lost_or(id, aware);
        self.send_update(
            id,
            TaskStatus {
                task_id,
                state: state as i32,
                agent_id,
                reason: Some(task_status::Reason::Reconciliation as i32),
                source: Some(task_status::Source::Master as i32),
                message: Some(message.to_string()),
                ..Default::default()
            },
        );
    }

    /// Sends an UPDATE. Master-generated updates carry no uuid: they need
    /// no acknowledgement.
    fn send_update(&mut self, id: &FrameworkId, mut status: TaskStatus) {
        status.timestamp = Some(unix_now());
        self.publish_task_updated(id, &status);
        let mut update = event(event::Type::Update);
        update.update = Some(event::Update { status });
        self.send(id, update);
    }
}

/// Where an agent stands, for answers about tasks and operations the
/// master does not know of on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AgentStanding {
    /// Registered and reachable.
    Registered,
    /// In the registry, not re-registered since the master started.
    Recovering,
    /// Unreachable (missed its pings or its re-registration deadline).
    Unreachable,
    /// Marked gone by an operator.
    Gone,
    /// Never heard of, or not named.
    Unknown,
}

fn missing(field: &str) -> CallError {
    CallError::BadRequest(format!("Expecting '{field}' to be present"))
}

pub(crate) fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}
