//! The operator API's SUBSCRIBE stream: the whole state once, then every
//! change as it happens (TASK_ADDED, TASK_UPDATED, AGENT_ADDED,
//! AGENT_REMOVED, FRAMEWORK_ADDED, FRAMEWORK_UPDATED, FRAMEWORK_REMOVED)
//! and HEARTBEATs.
//!
//! Nothing is built when no one listens; a subscriber whose queue is full
//! (too slow) or closed is dropped.

use crate::actor::MasterActor;
use crate::snapshot::{FrameworkSnapshot, StateSnapshot};
use mesos_proto::v1::master::{Event, event};
use mesos_proto::v1::{AgentId, FrameworkId, FrameworkInfo, Task, TaskStatus};
use tokio::sync::mpsc;

/// A new operator API subscription.
#[derive(Debug)]
pub(crate) struct OperatorSubscription {
    state: Box<StateSnapshot>,
    heartbeat_interval: std::time::Duration,
    /// Every change after the snapshot.
    events: mpsc::Receiver<Box<Event>>,
}

impl OperatorSubscription {
    /// The SUBSCRIBED event (the whole state, built off the loop on a
    /// reader thread) and the queue of the events that follow it.
    pub(crate) async fn start(self) -> (Event, mpsc::Receiver<Box<Event>>) {
        let state = self.state;
        let get_state = crate::readers::run(move || state.get_state())
            .await
            .unwrap_or_default();
        let mut subscribed = of(event::Type::Subscribed);
        subscribed.subscribed = Some(event::Subscribed {
            get_state: Some(get_state),
            heartbeat_interval_seconds: Some(self.heartbeat_interval.as_secs_f64()),
        });
        (subscribed, self.events)
    }
}

fn of(ty: event::Type) -> Event {
    Event {
        r#type: Some(ty as i32),
        ..Default::default()
    }
}

impl MasterActor {
    /// A new subscriber: the state now, from which its SUBSCRIBED event is
    /// built off the loop, and the queue of every change after it.
    pub(crate) fn operator_subscribe(&mut self) -> OperatorSubscription {
        let (tx, rx) = mpsc::channel(self.config.event_queue);
        self.operator_subscribers.push(tx);
        OperatorSubscription {
            state: Box::new(self.snapshot()),
            heartbeat_interval: self.config.heartbeat_interval,
            events: rx,
        }
    }

    /// True when someone listens (events are only built then).
    pub(crate) fn observed(&self) -> bool {
        !self.operator_subscribers.is_empty()
    }

    fn publish(&mut self, event: Event) {
        self.operator_subscribers
            .retain(|tx| tx.try_send(Box::new(event.clone())).is_ok());
    }

    /// HEARTBEAT to every subscriber.
    pub(crate) fn publish_heartbeat(&mut self) {
        if self.observed() {
            self.publish(of(event::Type::Heartbeat));
        }
    }

    /// TASK_ADDED.
    pub(crate) fn publish_task_added(&mut self, task: &Task) {
        if self.observed() {
            let mut e = of(event::Type::TaskAdded);
            e.task_added = Some(event::TaskAdded { task: task.clone() });
            self.publish(e);
        }
    }

    /// TASK_UPDATED: the status and the task's latest state.
    pub(crate) fn publish_task_updated(&mut self, framework_id: &FrameworkId, status: &TaskStatus) {
        if self.observed() {
            let mut e = of(event::Type::TaskUpdated);
            e.task_updated = Some(event::TaskUpdated {
                framework_id: framework_id.clone(),
                status: status.clone(),
                state: status.state,
            });
            self.publish(e);
        }
    }

    /// AGENT_ADDED, for a (re-)registered agent.
    pub(crate) fn publish_agent_added(&mut self, id: &AgentId) {
        if self.observed() {
            if let Some(agent) = self.agent_view(id) {
                let mut e = of(event::Type::AgentAdded);
                e.agent_added = Some(event::AgentAdded { agent });
                self.publish(e);
            }
        }
    }

    /// AGENT_REMOVED: unreachable or gone.
    pub(crate) fn publish_agent_removed(&mut self, id: &AgentId) {
        if self.observed() {
            let mut e = of(event::Type::AgentRemoved);
            e.agent_removed = Some(event::AgentRemoved {
                agent_id: id.clone(),
            });
            self.publish(e);
        }
    }

    /// FRAMEWORK_ADDED (first subscription) or FRAMEWORK_UPDATED.
    pub(crate) fn publish_framework(&mut self, id: &FrameworkId, added: bool) {
        if !self.observed() {
            return;
        }
        let Some(framework) = self.frameworks.get(id) else {
            return;
        };
        let framework = FrameworkSnapshot::of(framework);
        let view = framework.view();
        let e = if added {
            let mut e = of(event::Type::FrameworkAdded);
            e.framework_added = Some(event::FrameworkAdded { framework: view });
            e
        } else {
            let mut e = of(event::Type::FrameworkUpdated);
            e.framework_updated = Some(event::FrameworkUpdated { framework: view });
            e
        };
        self.publish(e);
    }

    /// FRAMEWORK_REMOVED.
    pub(crate) fn publish_framework_removed(&mut self, info: &FrameworkInfo) {
        if self.observed() {
            let mut e = of(event::Type::FrameworkRemoved);
            e.framework_removed = Some(event::FrameworkRemoved {
                framework_info: info.clone(),
            });
            self.publish(e);
        }
    }
}
