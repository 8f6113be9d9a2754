//! Which agents an allocation cycle needs to look at.
//!
//! An agent a cycle found blocked keeps a memo ([`super::Blocked`]) that
//! stays true while its epoch and the frameworks' epoch stay the same,
//! until its first blocking filter expires. A cycle need not look at such
//! an agent at all: on a large cluster where most agents are full or
//! declined, looking at each only to find its memo still holds was most
//! of a periodic cycle (10,000 agents: 2-5 ms in a live master, whose
//! caches the rest of its work keeps cold).
//!
//! So the allocator tells [`Visits`] which agents changed, and which memo
//! runs out when; a cycle visits those, or every agent when the
//! frameworks changed, quota is set, or agents moved. Visiting an agent
//! whose memo still holds costs a memo check and changes nothing, so a
//! stale entry here is harmless; a missing one would not be, which debug
//! builds check on every cycle.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

/// The agents the next allocation cycle must visit, by index.
#[derive(Debug)]
pub(super) struct Visits {
    /// Agents changed since the last cycle, or not blocked after it
    /// (duplicates allowed).
    pending: Vec<usize>,
    /// When a blocked agent's memo runs out (earliest first). An entry may
    /// be stale (its memo was replaced); it then costs one visit.
    wakeups: BinaryHeap<Reverse<(Duration, usize)>>,
    /// Every agent next time (memos were cleared, or agents moved).
    all: bool,
    /// The frameworks' epoch the last cycle judged memos at.
    frameworks_epoch: u64,
    /// Agents the last cycle visited.
    last: usize,
    /// The last cycle stopped early, leaving agents in `pending`.
    deferred: bool,
}

impl Default for Visits {
    fn default() -> Visits {
        Visits {
            pending: Vec::new(),
            wakeups: BinaryHeap::new(),
            all: true,
            frameworks_epoch: 0,
            last: 0,
            deferred: false,
        }
    }
}

impl Visits {
    /// Agent `ai` changed: what it offers, or the filters on it.
    pub(super) fn changed(&mut self, ai: usize) {
        self.pending.push(ai);
    }

    /// Every agent next cycle.
    pub(super) fn all(&mut self) {
        self.all = true;
    }

    /// Agent `ai`, as a cycle left it: blocked until `until` (`None`: not
    /// blocked, so it must be looked at again).
    pub(super) fn left(&mut self, ai: usize, blocked_until: Option<Duration>) {
        match blocked_until {
            None => self.pending.push(ai),
            Some(Duration::MAX) => {}
            Some(until) => self.wakeups.push(Reverse((until, ai))),
        }
    }

    /// The agents (of `agents`) a cycle at `now` must visit, in index
    /// order: every one when `everything` (quota) or the frameworks
    /// changed since the last cycle.
    pub(super) fn take(
        &mut self,
        agents: usize,
        now: Duration,
        frameworks_epoch: u64,
        everything: bool,
    ) -> Vec<usize> {
        let all = std::mem::take(&mut self.all)
            || everything
            || frameworks_epoch != self.frameworks_epoch;
        self.frameworks_epoch = frameworks_epoch;
        self.deferred = false;
        let mut due = std::mem::take(&mut self.pending);
        while let Some(&Reverse((until, ai))) = self.wakeups.peek() {
            if until > now {
                break;
            }
            self.wakeups.pop();
            due.push(ai);
        }
        let visit = if all {
            (0..agents).collect()
        } else {
            due.retain(|&ai| ai < agents);
            due.sort_unstable();
            due.dedup();
            due
        };
        self.last = visit.len();
        visit
    }

    /// Whether the wakeups have grown past what the agents' memos need
    /// (stale entries pile up when memos are replaced before they run
    /// out); [`Visits::rebuild`] then starts them over.
    pub(super) fn overgrown(&self, agents: usize) -> bool {
        self.wakeups.len() > 2 * agents + 1024
    }

    /// Starts the wakeups over from the memos' `(index, until)`.
    pub(super) fn rebuild(&mut self, memos: impl Iterator<Item = (usize, Duration)>) {
        self.wakeups = memos
            .filter(|(_, until)| *until != Duration::MAX)
            .map(|(ai, until)| Reverse((until, ai)))
            .collect();
    }

    /// Agents the last cycle visited.
    pub(super) fn last(&self) -> usize {
        self.last
    }

    /// The cycle stopped early: `rest` (not looked at) go to the next one.
    pub(super) fn defer(&mut self, rest: impl Iterator<Item = usize>) {
        let before = self.pending.len();
        self.pending.extend(rest);
        self.last -= self.pending.len() - before;
        self.deferred = true;
    }

    /// Whether the last cycle stopped early.
    pub(super) fn deferred(&self) -> bool {
        self.deferred
    }
}
