//! The status update manager, as pure logic: per task, updates leave in
//! order, the head is resent with backoff until the framework acknowledges
//! it, and only then does the next one go.
//!
//! ```
//! use mesos_agent::status_update::StatusUpdateManager;
//! use mesos_proto::v1::{FrameworkId, TaskId, TaskState, TaskStatus};
//! use std::time::{Duration, Instant};
//!
//! let mut sum = StatusUpdateManager::new(Duration::from_secs(10), Duration::from_secs(600));
//! let now = Instant::now();
//! let status = |state: TaskState, uuid: u8| TaskStatus {
//!     task_id: TaskId::new("t"),
//!     state: state as i32,
//!     uuid: Some(vec![uuid]),
//!     ..Default::default()
//! };
//! let f = FrameworkId::new("f");
//! // The first update is the head: send it now.
//! assert!(sum.update(&f, status(TaskState::TaskRunning, 1), now).unwrap().is_some());
//! // The second waits behind it.
//! assert!(sum.update(&f, status(TaskState::TaskFinished, 2), now).unwrap().is_none());
//! // Unacknowledged after 10 s: resent.
//! assert_eq!(sum.due(now + Duration::from_secs(10)).len(), 1);
//! // Acknowledged: the next one goes.
//! let next = sum.acknowledge(&TaskId::new("t"), &[1], now).unwrap().unwrap();
//! assert_eq!(next.1.state, TaskState::TaskFinished as i32);
//! ```

use mesos_proto::v1::{FrameworkId, TaskId, TaskStatus};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Why an update or acknowledgement was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// A status update needs a uuid the acknowledgement can name.
    #[error("status update for task {0} has no uuid")]
    NoUuid(TaskId),
    /// Nothing is pending for the task.
    #[error("no status update pending for task {0}")]
    UnknownTask(TaskId),
    /// The acknowledgement names an update that is not the head (a
    /// duplicate or a stale one).
    #[error("acknowledgement for task {0} does not match its pending update")]
    Mismatch(TaskId),
}

#[derive(Debug)]
struct Stream {
    framework_id: FrameworkId,
    pending: VecDeque<TaskStatus>,
    /// uuids seen (the newest [`MAX_SEEN`]), so a replayed update is not
    /// queued twice, even after it was acknowledged.
    seen: VecDeque<Vec<u8>>,
    next_send: Instant,
    backoff: Duration,
}

/// uuids remembered per task stream to drop replays.
const MAX_SEEN: usize = 1024;

/// Per-task update streams. Time is an input, so this is deterministic.
#[derive(Debug)]
pub struct StatusUpdateManager {
    streams: BTreeMap<TaskId, Stream>,
    initial: Duration,
    max: Duration,
}

/// An update to send to the master: its framework and the status.
pub type Outgoing = (FrameworkId, TaskStatus);

impl StatusUpdateManager {
    /// Resends start after `initial` and double up to `max` (Mesos: 10 s
    /// and 10 min).
    pub fn new(initial: Duration, max: Duration) -> StatusUpdateManager {
        StatusUpdateManager {
            streams: BTreeMap::new(),
            initial,
            max,
        }
    }

    /// Queues `status`. Returns it to send now if it is its task's head.
    /// An update whose uuid was seen before is ignored (an executor
    /// replaying what it was not sure arrived).
    pub fn update(
        &mut self,
        framework_id: &FrameworkId,
        status: TaskStatus,
        now: Instant,
    ) -> Result<Option<Outgoing>, UpdateError> {
        let uuid = status
            .uuid
            .clone()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| UpdateError::NoUuid(status.task_id.clone()))?;
        let stream = self
            .streams
            .entry(status.task_id.clone())
            .or_insert_with(|| Stream {
                framework_id: framework_id.clone(),
                pending: VecDeque::new(),
                seen: VecDeque::new(),
                next_send: now,
                backoff: self.initial,
            });
        if stream.seen.contains(&uuid) {
            return Ok(None);
        }
        if stream.seen.len() == MAX_SEEN {
            stream.seen.pop_front();
        }
        stream.seen.push_back(uuid);
        stream.pending.push_back(status);
        if stream.pending.len() == 1 {
            stream.next_send = now + self.initial;
            stream.backoff = self.initial;
            return Ok(stream
                .pending
                .front()
                .map(|s| (stream.framework_id.clone(), s.clone())));
        }
        Ok(None)
    }

    /// The framework acknowledged `uuid` of `task_id`: the head leaves and
    /// the next update, if any, is returned to send now. The stream closes
    /// when its terminal update is acknowledged (as in Mesos); until then
    /// it remembers the uuids it saw, so replays stay dropped.
    pub fn acknowledge(
        &mut self,
        task_id: &TaskId,
        uuid: &[u8],
        now: Instant,
    ) -> Result<Option<Outgoing>, UpdateError> {
        let stream = self
            .streams
            .get_mut(task_id)
            .ok_or_else(|| UpdateError::UnknownTask(task_id.clone()))?;
        if stream.pending.front().and_then(|s| s.uuid.as_deref()) != Some(uuid) {
            return Err(UpdateError::Mismatch(task_id.clone()));
        }
        let acked = stream.pending.pop_front();
        let Some(next) = stream.pending.front() else {
            if acked.is_some_and(|s| mesos_proto::is_terminal(s.state)) {
                self.streams.remove(task_id);
            }
            return Ok(None);
        };
        let out = (stream.framework_id.clone(), next.clone());
        stream.next_send = now + self.initial;
        stream.backoff = self.initial;
        Ok(Some(out))
    }

    /// Heads whose resend time has come; each one's wait doubles (up to
    /// the maximum).
    pub fn due(&mut self, now: Instant) -> Vec<Outgoing> {
        let mut out = Vec::new();
        for stream in self.streams.values_mut() {
            if stream.next_send <= now {
                if let Some(head) = stream.pending.front() {
                    out.push((stream.framework_id.clone(), head.clone()));
                    stream.backoff = (stream.backoff * 2).min(self.max);
                    stream.next_send = now + stream.backoff;
                }
            }
        }
        out
    }

    /// Every head, to send at once (after re-registering with a master),
    /// with the backoff restarted.
    pub fn heads(&mut self, now: Instant) -> Vec<Outgoing> {
        let mut out = Vec::new();
        for stream in self.streams.values_mut() {
            if let Some(head) = stream.pending.front() {
                out.push((stream.framework_id.clone(), head.clone()));
                stream.backoff = self.initial;
                stream.next_send = now + self.initial;
            }
        }
        out
    }

    /// Drops every stream of `framework_id` (the framework is gone).
    pub fn forget_framework(&mut self, framework_id: &FrameworkId) {
        self.streams.retain(|_, s| s.framework_id != *framework_id);
    }

    /// Updates waiting for acknowledgement, per task (head first).
    pub fn pending(&self, task_id: &TaskId) -> Vec<&TaskStatus> {
        self.streams
            .get(task_id)
            .map(|s| s.pending.iter().collect())
            .unwrap_or_default()
    }

    /// How many tasks have updates pending.
    pub fn len(&self) -> usize {
        self.streams
            .values()
            .filter(|s| !s.pending.is_empty())
            .count()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `task_id`'s stream has seen the update `uuid` (pending or
    /// acknowledged).
    pub fn knows(&self, task_id: &TaskId, uuid: &[u8]) -> bool {
        self.streams
            .get(task_id)
            .is_some_and(|s| s.seen.iter().any(|u| u == uuid))
    }

    /// Whether the framework acknowledged the update `uuid` of `task_id`
    /// (seen, no longer pending).
    pub fn is_acknowledged(&self, task_id: &TaskId, uuid: &[u8]) -> bool {
        self.knows(task_id, uuid)
            && self
                .streams
                .get(task_id)
                .is_some_and(|s| !s.pending.iter().any(|p| p.uuid.as_deref() == Some(uuid)))
    }

    /// Whether `task_id` has an open stream (its terminal update is not
    /// acknowledged yet).
    pub fn has_stream(&self, task_id: &TaskId) -> bool {
        self.streams.contains_key(task_id)
    }

    /// Every task with updates waiting: its framework and its newest
    /// update.
    pub fn unacknowledged(&self) -> impl Iterator<Item = (&FrameworkId, &TaskStatus)> {
        self.streams
            .values()
            .filter_map(|s| Some((&s.framework_id, s.pending.back()?)))
    }

    /// Closes `task_id`'s stream (its task is gone for good).
    pub fn forget_task(&mut self, task_id: &TaskId) {
        self.streams.remove(task_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::v1::TaskState;

    fn status(task: &str, state: TaskState, uuid: u8) -> TaskStatus {
        TaskStatus {
            task_id: TaskId::new(task),
            state: state as i32,
            uuid: Some(vec![uuid]),
            ..Default::default()
        }
    }

    #[test]
    fn backoff_doubles_to_the_maximum() {
        let mut sum = StatusUpdateManager::new(Duration::from_secs(10), Duration::from_secs(30));
        let t0 = Instant::now();
        let f = FrameworkId::new("f");
        sum.update(&f, status("t", TaskState::TaskRunning, 1), t0)
            .unwrap();
        assert!(sum.due(t0 + Duration::from_secs(9)).is_empty());
        assert_eq!(sum.due(t0 + Duration::from_secs(10)).len(), 1);
        // Next wait is 20 s, then 30 s (capped), then 30 s.
        assert!(sum.due(t0 + Duration::from_secs(29)).is_empty());
        assert_eq!(sum.due(t0 + Duration::from_secs(30)).len(), 1);
        assert!(sum.due(t0 + Duration::from_secs(59)).is_empty());
        assert_eq!(sum.due(t0 + Duration::from_secs(60)).len(), 1);
        assert_eq!(sum.due(t0 + Duration::from_secs(90)).len(), 1);
    }

    #[test]
    fn duplicates_and_mismatched_acks_are_refused() {
        let mut sum = StatusUpdateManager::new(Duration::from_secs(1), Duration::from_secs(1));
        let now = Instant::now();
        let f = FrameworkId::new("f");
        assert!(
            sum.update(&f, status("t", TaskState::TaskRunning, 1), now)
                .unwrap()
                .is_some()
        );
        assert!(
            sum.update(&f, status("t", TaskState::TaskRunning, 1), now)
                .unwrap()
                .is_none()
        );
        assert_eq!(sum.pending(&TaskId::new("t")).len(), 1);
        assert_eq!(
            sum.acknowledge(&TaskId::new("t"), &[9], now),
            Err(UpdateError::Mismatch(TaskId::new("t")))
        );
        assert_eq!(
            sum.acknowledge(&TaskId::new("u"), &[1], now),
            Err(UpdateError::UnknownTask(TaskId::new("u")))
        );
        let mut no_uuid = status("t", TaskState::TaskRunning, 2);
        no_uuid.uuid = None;
        assert!(matches!(
            sum.update(&f, no_uuid, now),
            Err(UpdateError::NoUuid(_))
        ));
        assert_eq!(sum.acknowledge(&TaskId::new("t"), &[1], now), Ok(None));
        assert!(sum.is_empty());
        // A replay of the acknowledged update (an executor that never saw
        // the acknowledgement) is still recognised.
        assert!(
            sum.update(&f, status("t", TaskState::TaskRunning, 1), now)
                .unwrap()
                .is_none()
        );
        assert!(sum.is_empty());
        // The terminal update's acknowledgement closes the stream.
        sum.update(&f, status("t", TaskState::TaskFinished, 2), now)
            .unwrap();
        assert_eq!(sum.acknowledge(&TaskId::new("t"), &[2], now), Ok(None));
        assert_eq!(
            sum.acknowledge(&TaskId::new("t"), &[2], now),
            Err(UpdateError::UnknownTask(TaskId::new("t")))
        );
    }

    #[test]
    fn heads_are_all_resent_and_frameworks_forgotten() {
        let mut sum = StatusUpdateManager::new(Duration::from_secs(10), Duration::from_secs(600));
        let now = Instant::now();
        sum.update(
            &FrameworkId::new("f"),
            status("a", TaskState::TaskRunning, 1),
            now,
        )
        .unwrap();
        sum.update(
            &FrameworkId::new("g"),
            status("b", TaskState::TaskRunning, 2),
            now,
        )
        .unwrap();
        sum.update(
            &FrameworkId::new("g"),
            status("b", TaskState::TaskFailed, 3),
            now,
        )
        .unwrap();
        let heads = sum.heads(now);
        assert_eq!(heads.len(), 2);
        assert_eq!(heads[1].1.state, TaskState::TaskRunning as i32);
        sum.forget_framework(&FrameworkId::new("g"));
        assert_eq!(sum.len(), 1);
    }
}
