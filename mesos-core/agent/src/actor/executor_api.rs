//! The agent's side of the v1 executor API: an executor's SUBSCRIBE,
//! UPDATE, MESSAGE and HEARTBEAT, and acknowledgements passed back to it.

use super::executors::{EXECUTOR_QUEUE, LiveTask, Phase, deliver, event};
use super::{Actor, CallError, is_terminal};
use mesos_proto::agent_protocol::{AgentCall, agent_call, agent_event};
use mesos_proto::v1::executor::{Call as ExecutorCall, Event as ExecutorEvent, call, event};
use mesos_proto::v1::{
    ExecutorId, FrameworkId, TaskId, TaskInfo, TaskState, TaskStatus, task_status,
};
use tokio::sync::mpsc;

impl Actor {
    /// An executor's SUBSCRIBE: its event stream, SUBSCRIBED first, then
    /// what was queued for it.
    pub(crate) fn executor_subscribe(
        &mut self,
        call: ExecutorCall,
    ) -> Result<mpsc::Receiver<ExecutorEvent>, CallError> {
        let agent_info = self.info.clone();
        let framework_id = call.framework_id.clone();
        let framework_info = self
            .frameworks
            .get(&framework_id)
            .map(|f| f.info.clone())
            .ok_or_else(|| CallError::BadRequest(format!("Unknown framework {framework_id}")))?;
        let run = self
            .run_mut(&call.framework_id, &call.executor_id)
            .ok_or_else(|| {
                CallError::BadRequest(format!("Unknown executor {}", call.executor_id))
            })?;
        if run.phase == Phase::Terminating {
            return Err(CallError::BadRequest(format!(
                "Executor {} is terminating",
                call.executor_id
            )));
        }
        let (tx, rx) = mpsc::channel(EXECUTOR_QUEUE);
        run.stream = Some(tx);
        let mut subscribed = event(event::Type::Subscribed);
        subscribed.subscribed = Some(event::Subscribed {
            executor_info: run.info.clone(),
            framework_info,
            agent_info,
            container_id: Some(run.container_id.clone()),
        });
        run.send(subscribed);
        let subscribe = call.subscribe.unwrap_or_default();
        let listed: Vec<TaskId> = subscribe
            .unacknowledged_tasks
            .iter()
            .map(|t| t.task_id.clone())
            .collect();
        for task in subscribe.unacknowledged_tasks {
            run.tasks.entry(task.task_id.clone()).or_insert(LiveTask {
                info: task,
                state: TaskState::TaskStaging as i32,
                latest: None,
            });
        }
        if run.phase == Phase::Reconnecting {
            // Back after an agent restart. Tasks given to it that it does
            // not know of never reached it: give them again.
            tracing::info!("executor {} re-subscribed", call.executor_id);
            let unseen: Vec<TaskInfo> = run
                .tasks
                .values()
                .filter(|t| t.state == TaskState::TaskStaging as i32)
                .filter(|t| !listed.contains(&t.info.task_id))
                .map(|t| t.info.clone())
                .collect();
            for task in unseen {
                let mut launch = event(event::Type::Launch);
                launch.launch = Some(event::Launch { task });
                run.send(launch);
            }
            for (task_id, kill_policy) in std::mem::take(&mut run.pending_kills) {
                let mut kill = event(event::Type::Kill);
                kill.kill = Some(event::Kill {
                    task_id,
                    kill_policy,
                });
                run.send(kill);
            }
        }
        if matches!(run.phase, Phase::Launching | Phase::Reconnecting) {
            run.phase = Phase::Running;
            for work in std::mem::take(&mut run.queued) {
                deliver(run, work);
            }
        }
        for update in subscribe.unacknowledged_updates {
            // Replays of what the agent already has are ignored by uuid.
            let _ = self.executor_update(&call.framework_id, &call.executor_id, update.status);
        }
        Ok(rx)
    }

    /// An executor's UPDATE, MESSAGE or HEARTBEAT.
    pub(crate) fn executor_call(&mut self, call: ExecutorCall) -> Result<(), CallError> {
        match call.r#type.and_then(|t| call::Type::try_from(t).ok()) {
            Some(call::Type::Update) => {
                let update = call.update.ok_or_else(|| {
                    CallError::BadRequest("Expecting 'update' to be present".into())
                })?;
                let result =
                    self.executor_update(&call.framework_id, &call.executor_id, update.status);
                match result {
                    Ok(()) => self.counters.valid_status_updates += 1,
                    Err(_) => self.counters.invalid_status_updates += 1,
                }
                result
            }
            Some(call::Type::Message) => {
                let message = call.message.ok_or_else(|| {
                    CallError::BadRequest("Expecting 'message' to be present".into())
                })?;
                if self
                    .run_mut(&call.framework_id, &call.executor_id)
                    .is_none()
                {
                    return Err(CallError::BadRequest(format!(
                        "Unknown executor {} of framework {}",
                        call.executor_id, call.framework_id
                    )));
                }
                self.notify_master(
                    AgentCall {
                        r#type: agent_call::Type::Message as i32,
                        message: Some(agent_call::Message {
                            framework_id: call.framework_id,
                            executor_id: call.executor_id,
                            data: message.data,
                        }),
                        ..Default::default()
                    },
                    "framework message from an executor",
                );
                Ok(())
            }
            Some(call::Type::Heartbeat) => Ok(()),
            Some(call::Type::Subscribe) | Some(call::Type::Unknown) | None => Err(
                CallError::BadRequest("Expecting 'type' to be UPDATE, MESSAGE or HEARTBEAT".into()),
            ),
        }
    }

    fn executor_update(
        &mut self,
        framework_id: &FrameworkId,
        executor_id: &ExecutorId,
        mut status: TaskStatus,
    ) -> Result<(), CallError> {
        if status.state == TaskState::TaskStaging as i32 {
            return Err(CallError::BadRequest(
                "Received TASK_STAGING from executor which is not allowed".into(),
            ));
        }
        if status.uuid.as_ref().is_none_or(|u| u.is_empty()) {
            return Err(CallError::BadRequest(
                "Expecting 'uuid' to be present".into(),
            ));
        }
        let containerizer = std::sync::Arc::clone(&self.containerizer);
        let uuid = status.uuid.clone().unwrap_or_default();
        let acknowledged = self.updates.is_acknowledged(&status.task_id, &uuid);
        let run = self
            .run_mut(framework_id, executor_id)
            .ok_or_else(|| CallError::BadRequest(format!("Unknown executor {executor_id}")))?;
        if acknowledged
            || run
                .completed
                .iter()
                .any(|t| t.info.task_id == status.task_id)
        {
            // A replay of an update the framework already acknowledged
            // (the agent restarted before telling the executor): tell it
            // now so it stops replaying.
            let mut ack = event(event::Type::Acknowledged);
            ack.acknowledged = Some(event::Acknowledged {
                task_id: status.task_id,
                uuid,
            });
            run.send(ack);
            return Ok(());
        }
        let container_id = run.container_id.clone();
        let task = run.tasks.get_mut(&status.task_id).ok_or_else(|| {
            CallError::BadRequest(format!(
                "Task {} is not a task of executor {executor_id}",
                status.task_id
            ))
        })?;
        status.executor_id = Some(executor_id.clone());
        status
            .source
            .get_or_insert(task_status::Source::Executor as i32);
        if status.state == TaskState::TaskFailed as i32 {
            // The command died because its container hit a limit: say so,
            // as Mesos' isolators do.
            if let Some(limitation) = containerizer.limitation(&container_id) {
                status.reason = Some(task_status::Reason::ContainerLimitationMemory as i32);
                status.source = Some(task_status::Source::Agent as i32);
                status.message = Some(limitation);
            }
        }
        if !is_terminal(task.state) {
            task.state = status.state;
        }
        task.latest = Some(status.clone());
        self.queue_update(framework_id, status);
        Ok(())
    }

    /// A framework acknowledged an update: tell the executor; a task whose
    /// terminal update is acknowledged is complete.
    pub(crate) fn acknowledged(
        &mut self,
        framework_id: &FrameworkId,
        task_id: &TaskId,
        uuid: Vec<u8>,
    ) {
        let pending = !self.updates.pending(task_id).is_empty();
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let Some(run) = framework
            .executors
            .values_mut()
            .find(|r| r.tasks.contains_key(task_id))
        else {
            return;
        };
        let mut ack = event(event::Type::Acknowledged);
        ack.acknowledged = Some(event::Acknowledged {
            task_id: task_id.clone(),
            uuid,
        });
        run.send(ack);
        if !pending && run.tasks.get(task_id).is_some_and(|t| is_terminal(t.state)) {
            if let Some(task) = run.tasks.remove(task_id) {
                run.completed.push(task);
            }
        }
    }

    /// A scheduler's message for one of its executors: delivered if the
    /// executor is subscribed, dropped (and counted invalid) otherwise,
    /// as Mesos does.
    pub(crate) fn framework_message(&mut self, message: agent_event::Message) {
        let Some(run) = self.run_mut(&message.framework_id, &message.executor_id) else {
            tracing::warn!(
                "message for unknown executor {} of framework {} dropped",
                message.executor_id,
                message.framework_id
            );
            self.counters.invalid_framework_messages += 1;
            return;
        };
        if run.phase != Phase::Running {
            tracing::warn!(
                "message for executor {} dropped: the executor is not running",
                message.executor_id
            );
            self.counters.invalid_framework_messages += 1;
            return;
        }
        let mut out = event(event::Type::Message);
        out.message = Some(event::Message { data: message.data });
        run.send(out);
        self.counters.valid_framework_messages += 1;
    }
}
