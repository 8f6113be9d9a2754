//! The master's handling of scheduler calls (the v1 scheduler API).

use crate::actor::{CallError, Framework, MasterActor, Subscription, roles_of};
use crate::allocator::filters::refuse_duration;
use mesos_proto::resources::validate_role;
use mesos_proto::v1::scheduler::{self, Event, call, event};
use mesos_proto::v1::{
    FrameworkId, FrameworkInfo, TaskId, TaskState, TaskStatus, framework_info, task_status,
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
        let capabilities = info.capabilities.iter().filter_map(|c| c.r#type).collect();

        // A newer subscription ends the older one (failover).
        if let Some(old) = self.frameworks.get_mut(&id) {
            if let Some(old_tx) = old.events.take() {
                let mut error = event(event::Type::Error);
                error.error = Some(event::Error {
                    message: "Framework failed over".into(),
                });
                let _ = old_tx.try_send(error);
            }
            old.info = info;
            old.capabilities = capabilities;
            old.stream_id = Some(stream_id.clone());
            old.events = Some(tx);
            let options = Self::allocator_options(old);
            self.allocator.update_framework(&id, options);
            self.allocator.activate_framework(&id);
            tracing::info!(framework = %id, "framework failed over");
        } else {
            let framework = Framework {
                info,
                stream_id: Some(stream_id.clone()),
                events: Some(tx),
                capabilities,
            };
            self.allocator
                .add_framework(id.clone(), Self::allocator_options(&framework));
            tracing::info!(framework = %id, name = %framework.info.name, "framework subscribed");
            self.frameworks.insert(id.clone(), framework);
        }

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
        })
    }

    /// Any call but SUBSCRIBE, from the framework named in it, on the stream
    /// named by the request.
    pub(crate) fn call(
        &mut self,
        stream_id: Option<String>,
        call: scheduler::Call,
    ) -> Result<(), CallError> {
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
        match ty {
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
                Ok(())
            }
            Some(Type::Decline) => {
                let decline = call.decline.ok_or_else(|| missing("decline"))?;
                // No offers are outstanding until agents register, so every
                // offer id is unknown here; Mesos ignores those too.
                let _filter = refuse_duration(decline.filters.and_then(|f| f.refuse_seconds));
                Ok(())
            }
            Some(Type::Accept) => {
                let accept = call.accept.ok_or_else(|| missing("accept"))?;
                self.accept_invalid_offers(&id, accept);
                Ok(())
            }
            Some(Type::Reconcile) => {
                let reconcile = call.reconcile.ok_or_else(|| missing("reconcile"))?;
                for task in reconcile.tasks {
                    self.send_reconciliation(&id, task.task_id, None);
                }
                Ok(())
            }
            Some(Type::Kill) => {
                let kill = call.kill.ok_or_else(|| missing("kill"))?;
                // The task is unknown: answer with its reconciled state.
                self.send_reconciliation(&id, kill.task_id, Some("killed task is unknown"));
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
                // Acknowledgements for unknown tasks are dropped, as Mesos.
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
                    let options = Self::allocator_options(framework);
                    self.allocator.update_framework(&id, options);
                    self.allocator.revive(&id, &[]);
                    self.allocator.suppress(&id, &update.suppressed_roles);
                }
                Ok(())
            }
            Some(Type::Message | Type::Shutdown | Type::Request) => {
                // Addressed to agents and executors the master does not know
                // yet; Mesos drops those too.
                Ok(())
            }
            Some(Type::AcceptInverseOffers | Type::DeclineInverseOffers) => Ok(()),
            Some(Type::AcknowledgeOperationStatus | Type::ReconcileOperations) => {
                Err(CallError::BadRequest(format!(
                    "{} is not supported yet: offer operations arrive with a later release",
                    ty.map_or("call", |t| t.as_str_name())
                )))
            }
            Some(Type::Subscribe) => Err(CallError::BadRequest(
                "SUBSCRIBE must not carry 'Mesos-Stream-Id'".into(),
            )),
            Some(Type::Unknown) | None => Err(CallError::BadRequest(
                "Expecting 'type' to be present".into(),
            )),
        }
    }

    /// TEARDOWN: the framework is removed for good.
    pub(crate) fn teardown(&mut self, id: &FrameworkId) {
        if let Some(framework) = self.frameworks.remove(id) {
            drop(framework.events);
            self.allocator.remove_framework(id);
            self.removed_frameworks.insert(id.clone());
            tracing::info!(framework = %id, "framework torn down");
        }
    }

    /// ACCEPT naming offers the master does not have: each task to launch
    /// is answered TASK_DROPPED (partition-aware) or TASK_LOST, with
    /// REASON_INVALID_OFFERS, as Mesos does.
    fn accept_invalid_offers(&mut self, id: &FrameworkId, accept: call::Accept) {
        use mesos_proto::v1::offer::operation::Type as Op;
        let offers: Vec<String> = accept.offer_ids.iter().map(|o| o.value.clone()).collect();
        let message = format!("Offer(s) {} are no longer valid", offers.join(", "));
        let mut tasks = Vec::new();
        for op in accept.operations {
            match op.r#type.and_then(|t| Op::try_from(t).ok()) {
                Some(Op::Launch) => {
                    tasks.extend(op.launch.into_iter().flat_map(|l| l.task_infos));
                }
                Some(Op::LaunchGroup) => {
                    tasks.extend(op.launch_group.into_iter().flat_map(|l| l.task_group.tasks));
                }
                _ => {}
            }
        }
        for task in tasks {
            let state = self.lost_or(id, TaskState::TaskDropped);
            self.send_update(
                id,
                TaskStatus {
                    task_id: task.task_id,
                    state: state as i32,
                    reason: Some(task_status::Reason::InvalidOffers as i32),
                    source: Some(task_status::Source::Master as i32),
                    message: Some(message.clone()),
                    agent_id: Some(task.agent_id),
                    ..Default::default()
                },
            );
        }
    }

    /// TASK_LOST for frameworks that are not PARTITION_AWARE, else `aware`.
    fn lost_or(&self, id: &FrameworkId, aware: TaskState) -> TaskState {
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

    /// The master's answer for a task it does not know: TASK_UNKNOWN for
    /// PARTITION_AWARE frameworks, TASK_LOST for others, with
    /// REASON_RECONCILIATION.
    fn send_reconciliation(&mut self, id: &FrameworkId, task_id: TaskId, message: Option<&str>) {
        let state = self.lost_or(id, TaskState::TaskUnknown);
        self.send_update(
            id,
            TaskStatus {
                task_id,
                state: state as i32,
                reason: Some(task_status::Reason::Reconciliation as i32),
                source: Some(task_status::Source::Master as i32),
                message: Some(
                    message
                        .unwrap_or("Reconciliation: task is unknown")
                        .to_string(),
                ),
                ..Default::default()
            },
        );
    }

    /// Sends an UPDATE. Master-generated updates carry no uuid: they need
    /// no acknowledgement.
    fn send_update(&mut self, id: &FrameworkId, mut status: TaskStatus) {
        status.timestamp = Some(unix_now());
        let mut update = event(event::Type::Update);
        update.update = Some(event::Update { status });
        self.send(id, update);
    }
}

fn missing(field: &str) -> CallError {
    CallError::BadRequest(format!("Expecting '{field}' to be present"))
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}
