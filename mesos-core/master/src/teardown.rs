//! TEARDOWN: a framework removed for good, in one short turn and a few
//! more.
//!
//! A framework with 100,000 tasks on 10,000 agents is a lot to let go
//! of. Done in one turn it held the event loop up for most of a second;
//! the parts that grow with the framework now run in later turns, two
//! milliseconds at a time ([`TURN`]), between commands:
//!
//! - its task table is dropped a shard at a time
//!   ([`Reclaim`](crate::reclaim::Reclaim));
//! - its agents are told to shut it down ([`AGENTS_PER_CHUNK`] at a time);
//! - its last `--max_completed_tasks_per_framework` tasks are written to
//!   its history as TASK_KILLED ([`HISTORY_PER_CHUNK`] at a time, oldest
//!   first);
//! - the allocator gives its resources back on each agent
//!   ([`Allocator::release_removed`](crate::allocator::Allocator::release_removed)).
//!
//! Everything else happens in the TEARDOWN's own turn, with the first
//! chunk of each part: the framework is gone from the frameworks and
//! shares, its live tasks are counted as killed, and it is listed among
//! the completed frameworks. A small framework is done in that turn. For
//! a large one, until the rest is done, an agent may still run its tasks
//! for a few milliseconds, its history lacks its newest killed tasks, and
//! its resources are offered to no one.

use crate::actor::MasterActor;
use crate::agents::is_terminal;
use crate::task_entry::TaskEntry;
use mesos_proto::agent_protocol::{AgentEvent, agent_event};
use mesos_proto::v1::{AgentId, FrameworkId, TaskId, TaskState};
use std::collections::{BTreeSet, btree_map};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Completed tasks dropped together in one item of the reclaim queue
/// (a few dozen tasks: well under its turn).
const RECLAIMED_TASKS_PER_GROUP: usize = 64;

/// Agents told to shut a framework down between two looks at the clock
/// (about 2 us each).
const AGENTS_PER_CHUNK: usize = 256;

/// History tasks marked killed between two looks at the clock (each is
/// copied, as snapshots share it: about 20 us each at 100,000 tasks).
const HISTORY_PER_CHUNK: usize = 32;

/// Agents the allocator releases a removed framework on between two
/// looks at the clock (about 5 us each).
const RELEASE_PER_CHUNK: usize = 128;

/// How long a turn carries teardowns on, the TEARDOWN's own included.
pub(crate) const TURN: Duration = Duration::from_millis(2);

/// A torn down framework's parts still to do.
#[derive(Debug)]
pub(crate) struct Teardown {
    framework: FrameworkId,
    /// Agents not yet told to shut it down: those with its tasks, then
    /// those with only its executors.
    agents: std::iter::Chain<
        btree_map::IntoKeys<AgentId, BTreeSet<TaskId>>,
        std::vec::IntoIter<AgentId>,
    >,
    /// Tasks not yet in its history, oldest first.
    history: std::vec::IntoIter<Arc<TaskEntry>>,
}

impl MasterActor {
    /// TEARDOWN: the framework is removed for good (see the module docs
    /// for what is left to later turns).
    pub(crate) fn teardown(&mut self, id: &FrameworkId) {
        let started = Instant::now();
        let Some(mut framework) = self.frameworks.remove(id) else {
            return;
        };
        framework.events = None;
        framework.stream_id = None;
        framework.unregistered_time = Some(crate::scheduler::unix_now());
        let tasks = std::mem::take(&mut framework.tasks);
        debug_assert_eq!(
            tasks.agents().collect::<std::collections::BTreeSet<_>>(),
            tasks
                .values()
                .map(|t| &t.agent_id)
                .collect::<std::collections::BTreeSet<_>>()
        );
        debug_assert_eq!(
            tasks.live(),
            tasks.values().filter(|t| !is_terminal(t.state)).count()
        );
        let live = tasks.live() as u64;
        let history = tasks.last(self.config.max_completed_tasks_per_framework);
        // Agents with its tasks, then those with only its executors
        // (which outlive finished tasks).
        let task_agents = tasks.reclaim(&mut self.reclaim);
        let executor_agents: Vec<AgentId> = self
            .agents
            .forget_executors_of(id)
            .into_iter()
            .filter(|a| !task_agents.contains_key(a))
            .collect();
        self.forget_offers_of(id);
        self.allocator.remove_framework_in_batches(id);
        self.removed_frameworks.insert(id.clone());
        // Its tasks are killed with it: history keeps them as such.
        if live > 0 {
            *self
                .metrics
                .terminal
                .entry(TaskState::TaskKilled as i32)
                .or_default() += live;
        }
        self.publish_framework_removed(&framework.info);
        self.completed_frameworks.push_back(framework);
        while self.completed_frameworks.len() > self.config.max_completed_frameworks {
            if let Some(old) = self.completed_frameworks.pop_front() {
                self.reclaim
                    .defer_in_groups(old.completed_tasks, RECLAIMED_TASKS_PER_GROUP);
            }
        }
        let _ = self.registry.remove_framework(id);
        self.teardowns.push_back(Teardown {
            framework: id.clone(),
            agents: task_agents.into_keys().chain(executor_agents),
            history: history.into_iter(),
        });
        self.continue_teardowns(TURN.saturating_sub(started.elapsed()));
        tracing::info!(
            framework = %id,
            killed = live,
            left_for_later = self.teardowns_pending(),
            ms = started.elapsed().as_secs_f64() * 1e3,
            "framework torn down"
        );
    }

    /// How many teardowns have parts left for later turns, counting
    /// those left to the allocator's release apart.
    pub(crate) fn teardowns_pending(&self) -> usize {
        self.teardowns.len() + self.allocator.releasing()
    }

    /// Carries the teardowns' parts on until `budget` has passed (a
    /// chunk at least, if any is left): agents told and history written,
    /// oldest teardown first, then the allocator's release.
    pub(crate) fn continue_teardowns(&mut self, budget: Duration) {
        let started = Instant::now();
        while let Some(mut teardown) = self.teardowns.pop_front() {
            while self.teardown_chunk(&mut teardown) {
                if started.elapsed() >= budget {
                    self.teardowns.push_front(teardown);
                    return;
                }
            }
        }
        while self.allocator.is_releasing() {
            if !self.allocator.release_removed(RELEASE_PER_CHUNK) {
                // What it held is free: offer it.
                self.allocation_pending = true;
            }
            if started.elapsed() >= budget {
                return;
            }
        }
    }

    /// One chunk of a teardown's history and agents; false when there was
    /// nothing left to do.
    fn teardown_chunk(&mut self, teardown: &mut Teardown) -> bool {
        let mut did = false;
        let limit = self.config.max_completed_tasks_per_framework;
        let mut target = self
            .completed_frameworks
            .iter_mut()
            .find(|f| f.info.id.as_ref() == Some(&teardown.framework));
        for mut task in teardown.history.by_ref().take(HISTORY_PER_CHUNK) {
            did = true;
            match target.as_mut() {
                Some(framework) => {
                    if !is_terminal(task.state) {
                        Arc::make_mut(&mut task).state = TaskState::TaskKilled as i32;
                    }
                    framework.complete(task, limit);
                }
                // Pushed out of the completed frameworks already.
                None => self.reclaim.defer(task),
            }
        }
        for agent in teardown.agents.by_ref().take(AGENTS_PER_CHUNK) {
            did = true;
            self.send_agent(
                &agent,
                AgentEvent {
                    r#type: agent_event::Type::ShutdownFramework as i32,
                    shutdown_framework: Some(agent_event::ShutdownFramework {
                        framework_id: teardown.framework.clone(),
                    }),
                    ..Default::default()
                },
            );
        }
        did
    }
}
