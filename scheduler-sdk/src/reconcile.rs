//! When to reconcile, as Mesos' reconciliation guide says: after every
//! (re)subscription ask about every task not known to be terminal
//! (explicit), again with backoff for those not answered yet, then ask
//! for everything (implicit); and implicitly every so often after that.
//! Pure: the driver feeds it updates and the time, and does what it says.

use mesos_proto::v1::{AgentId, TaskId, TaskStatus};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What to ask the master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconcile {
    /// RECONCILE naming these tasks.
    Explicit(Vec<(TaskId, Option<AgentId>)>),
    /// RECONCILE with no task: every task of the framework.
    Implicit,
}

/// The reconciliation schedule of one framework.
///
/// ```
/// use mesos_proto::v1::{TaskId, TaskState, TaskStatus};
/// use mesos_scheduler::reconcile::{Reconcile, Reconciler};
/// use std::time::{Duration, Instant};
///
/// let mut r = Reconciler::new(Some(Duration::from_secs(900)));
/// let task = TaskId { value: "t1".into() };
/// r.launched(task.clone(), None);
/// let now = Instant::now();
/// r.subscribed(now);
/// assert_eq!(r.poll(now), Some(Reconcile::Explicit(vec![(task.clone(), None)])));
/// // The answer arrives: time for the implicit round.
/// r.update(&TaskStatus { task_id: task, state: TaskState::TaskRunning as i32, ..Default::default() });
/// assert_eq!(r.poll(now), Some(Reconcile::Implicit));
/// assert_eq!(r.poll(now), None);
/// assert_eq!(r.poll(now + Duration::from_secs(901)), Some(Reconcile::Implicit));
/// ```
#[derive(Debug, Clone)]
pub struct Reconciler {
    /// Tasks not known to be terminal, with their agent.
    tasks: BTreeMap<TaskId, Option<AgentId>>,
    /// Tasks asked about and not answered since the subscription.
    pending: BTreeMap<TaskId, Option<AgentId>>,
    phase: Phase,
    retry: Duration,
    next: Option<Instant>,
    interval: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not subscribed.
    Idle,
    /// Explicit rounds until every task answered.
    Explicit,
    /// The implicit round is due.
    Implicit,
    /// Done; periodic implicit rounds.
    Periodic,
}

/// The first retry of an unanswered explicit round; doubles up to
/// [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_secs(2);
/// The longest wait between explicit rounds.
const MAX_RETRY: Duration = Duration::from_secs(60);

impl Reconciler {
    /// A schedule with an implicit round every `interval` (none when
    /// `None`) once the first rounds are done.
    pub fn new(interval: Option<Duration>) -> Reconciler {
        Reconciler {
            tasks: BTreeMap::new(),
            pending: BTreeMap::new(),
            phase: Phase::Idle,
            retry: FIRST_RETRY,
            next: None,
            interval,
        }
    }

    /// A task was launched (its state unknown until an update).
    pub fn launched(&mut self, task: TaskId, agent: Option<AgentId>) {
        self.tasks.insert(task, agent);
    }

    /// A status update arrived.
    pub fn update(&mut self, status: &TaskStatus) {
        self.pending.remove(&status.task_id);
        if is_terminal(status.state) {
            self.tasks.remove(&status.task_id);
        } else {
            let agent = status
                .agent_id
                .clone()
                .or_else(|| self.tasks.get(&status.task_id).cloned().flatten());
            self.tasks.insert(status.task_id.clone(), agent);
        }
    }

    /// The tasks not known to be terminal.
    pub fn tasks(&self) -> impl Iterator<Item = (&TaskId, &Option<AgentId>)> {
        self.tasks.iter()
    }

    /// A (re)subscription: start over with an explicit round.
    pub fn subscribed(&mut self, now: Instant) {
        self.pending = self.tasks.clone();
        self.phase = Phase::Explicit;
        self.retry = FIRST_RETRY;
        self.next = Some(now);
    }

    /// The subscription was lost: nothing to do until the next.
    pub fn disconnected(&mut self) {
        self.phase = Phase::Idle;
        self.next = None;
    }

    /// When [`Reconciler::poll`] next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Idle => None,
            _ => self.next,
        }
    }

    /// What to ask now, if anything.
    pub fn poll(&mut self, now: Instant) -> Option<Reconcile> {
        if self.phase == Phase::Explicit && self.pending.is_empty() {
            self.phase = Phase::Implicit;
            self.next = Some(now);
        }
        if self.next.is_none_or(|t| now < t) {
            return None;
        }
        match self.phase {
            Phase::Idle => None,
            Phase::Explicit => {
                self.next = Some(now + self.retry);
                self.retry = (self.retry * 2).min(MAX_RETRY);
                Some(Reconcile::Explicit(
                    self.pending
                        .iter()
                        .map(|(t, a)| (t.clone(), a.clone()))
                        .collect(),
                ))
            }
            Phase::Implicit | Phase::Periodic => {
                self.phase = Phase::Periodic;
                self.next = self.interval.map(|i| now + i);
                Some(Reconcile::Implicit)
            }
        }
    }
}

/// Whether `state` (a `TaskState` number) is terminal (Mesos' list,
/// TASK_GONE_BY_OPERATOR included).
pub use mesos_proto::is_terminal;

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::v1::TaskState;

    fn status(task: &str, state: TaskState) -> TaskStatus {
        TaskStatus {
            task_id: TaskId { value: task.into() },
            state: state as i32,
            agent_id: Some(AgentId { value: "a1".into() }),
            ..Default::default()
        }
    }

    #[test]
    fn unanswered_tasks_are_asked_again_with_backoff() {
        let mut r = Reconciler::new(None);
        r.update(&status("t1", TaskState::TaskRunning));
        r.update(&status("t2", TaskState::TaskStaging));
        r.update(&status("t3", TaskState::TaskFinished));
        let t0 = Instant::now();
        r.subscribed(t0);
        let Some(Reconcile::Explicit(first)) = r.poll(t0) else {
            panic!("expected an explicit round")
        };
        assert_eq!(first.len(), 2, "terminal t3 is not asked about");
        assert_eq!(first[0].1.as_ref().unwrap().value, "a1");
        r.update(&status("t1", TaskState::TaskRunning));
        assert_eq!(r.poll(t0 + Duration::from_secs(1)), None);
        let Some(Reconcile::Explicit(second)) = r.poll(t0 + FIRST_RETRY) else {
            panic!("expected a retry")
        };
        assert_eq!(
            second,
            vec![(
                TaskId { value: "t2".into() },
                Some(AgentId { value: "a1".into() })
            )]
        );
        // The retry doubles.
        assert_eq!(r.next_deadline(), Some(t0 + FIRST_RETRY + FIRST_RETRY * 2));
        r.update(&status("t2", TaskState::TaskLost));
        assert_eq!(r.poll(t0 + FIRST_RETRY), Some(Reconcile::Implicit));
        assert_eq!(
            r.poll(t0 + Duration::from_secs(10_000)),
            None,
            "no periodic rounds"
        );
        assert_eq!(r.tasks().count(), 1);
    }

    #[test]
    fn nothing_happens_while_disconnected() {
        let mut r = Reconciler::new(Some(Duration::from_secs(1)));
        let t0 = Instant::now();
        assert_eq!(r.poll(t0), None);
        r.subscribed(t0);
        assert_eq!(
            r.poll(t0),
            Some(Reconcile::Implicit),
            "no tasks: straight to implicit"
        );
        r.disconnected();
        assert_eq!(r.next_deadline(), None);
        assert_eq!(r.poll(t0 + Duration::from_secs(5)), None);
    }
}
