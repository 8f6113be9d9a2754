//! [`Recorder`]: a [`Scheduler`] for tests that launches the tasks it is
//! given as offers come and reports everything it sees on a channel.

use mesos_proto::v1::{Offer, TaskState, TaskStatus};
use mesos_scheduler::builders::TaskBuilder;
use mesos_scheduler::offers::{Needs, OfferResources};
use mesos_scheduler::{Scheduler, SchedulerDriver, SchedulerError};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::mpsc;

/// What a [`Recorder`] saw, in order.
#[derive(Debug)]
pub enum Note {
    /// SUBSCRIBED, with the framework id.
    Subscribed(String),
    /// A status update.
    Update(Box<TaskStatus>),
    /// The connection to the master was lost.
    Disconnected,
}

/// Launches each of its tasks (0.1 cpus and 32 MB each) from the offers
/// that fit, declines the rest, and sends a [`Note`] for every
/// subscription, update and disconnection.
///
/// ```no_run
/// # async fn run(driver: mesos_scheduler::SchedulerDriver) {
/// use mesos_testkit::recorder::{Recorder, wait_state};
/// let (recorder, mut notes) = Recorder::new([("hello", "echo hello")]);
/// let running = recorder.spawn(&driver);
/// let done = wait_state(&mut notes, mesos_proto::v1::TaskState::TaskFinished, 1).await;
/// # }
/// ```
#[derive(Debug)]
pub struct Recorder {
    pending: VecDeque<(String, String)>,
    notes: mpsc::UnboundedSender<Note>,
}

/// How long [`next_note`] waits.
pub const NOTE_WAIT: Duration = Duration::from_secs(60);

impl Recorder {
    /// A recorder that will launch `tasks` (name, shell command).
    pub fn new<N: Into<String>, C: Into<String>>(
        tasks: impl IntoIterator<Item = (N, C)>,
    ) -> (Recorder, mpsc::UnboundedReceiver<Note>) {
        let (notes, rx) = mpsc::unbounded_channel();
        let pending = tasks
            .into_iter()
            .map(|(n, c)| (n.into(), c.into()))
            .collect();
        (Recorder { pending, notes }, rx)
    }

    /// Runs `driver` with this recorder on a task of its own.
    pub fn spawn(
        mut self,
        driver: &SchedulerDriver,
    ) -> tokio::task::JoinHandle<Result<(), SchedulerError>> {
        let driver = driver.clone();
        tokio::spawn(async move { driver.run(&mut self).await })
    }
}

impl Scheduler for Recorder {
    async fn subscribed(
        &mut self,
        _: &SchedulerDriver,
        s: &mesos_proto::v1::scheduler::event::Subscribed,
    ) {
        let _ = self
            .notes
            .send(Note::Subscribed(s.framework_id.value.clone()));
    }

    async fn offers(&mut self, driver: &SchedulerDriver, offers: Vec<Offer>) {
        for offer in offers {
            let mut pool = OfferResources::new(&offer);
            let mut tasks = Vec::new();
            while let Some((name, command)) = self.pending.front() {
                let Some(resources) = pool.take(&Needs::new(0.1, 32.0)) else {
                    break;
                };
                tasks.push(
                    TaskBuilder::new(name, &offer.agent_id)
                        .shell(command)
                        .resources(resources)
                        .build(),
                );
                self.pending.pop_front();
            }
            let result = if tasks.is_empty() {
                driver.decline(vec![offer.id], None).await
            } else {
                driver.launch(vec![offer.id], tasks, None).await
            };
            if let Err(e) = result {
                tracing::warn!("test scheduler: accept or decline failed: {e}");
            }
        }
    }

    async fn update(&mut self, _: &SchedulerDriver, status: TaskStatus) {
        let _ = self.notes.send(Note::Update(Box::new(status)));
    }

    async fn disconnected(&mut self, _: &SchedulerDriver) {
        let _ = self.notes.send(Note::Disconnected);
    }
}

/// The next note; panics after [`NOTE_WAIT`] or when the driver ended.
pub async fn next_note(notes: &mut mpsc::UnboundedReceiver<Note>) -> Note {
    tokio::time::timeout(NOTE_WAIT, notes.recv())
        .await
        .unwrap_or_else(|_| panic!("no note within {NOTE_WAIT:?}"))
        .expect("the driver is running")
}

/// Waits until `n` distinct tasks reported `state`; their updates.
pub async fn wait_state(
    notes: &mut mpsc::UnboundedReceiver<Note>,
    state: TaskState,
    n: usize,
) -> Vec<TaskStatus> {
    let mut seen: Vec<TaskStatus> = Vec::new();
    while seen.len() < n {
        if let Note::Update(s) = next_note(notes).await
            && s.state() == state
            && !seen.iter().any(|x| x.task_id == s.task_id)
        {
            seen.push(*s);
        }
    }
    seen
}
