//! Memory the event loop let go of, freed a little at a time between
//! turns instead of in the turn that let go of it.
//!
//! Freeing is not free: tearing down a framework with 100,000 tasks
//! freed a few million allocations (each task's protobuf, statuses and
//! JSON, the task table's shards) and held the loop up for most of a
//! second, nearly all of it in the allocator. The loop now hands such
//! things to a [`Reclaim`] queue, and drops them in later turns of about
//! a millisecond each ([`TURN`]), between commands, as it splits a large
//! allocation cycle.
//!
//! What is queued is already out of the master's state: nothing reads
//! it again, so when it is dropped changes nothing but the memory.

use std::any::Any;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long one turn of reclaiming may go on before it leaves the rest
/// to the next (it always drops at least one item).
pub(crate) const TURN: Duration = Duration::from_millis(1);

/// Items that take longer than this to drop are logged (at debug).
const SLOW_ITEM: Duration = Duration::from_millis(5);

/// Things to drop later, oldest first.
#[derive(Default)]
pub(crate) struct Reclaim {
    /// Each item with its type's name, for the log.
    queue: VecDeque<(Box<dyn Any + Send>, &'static str)>,
}

impl std::fmt::Debug for Reclaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reclaim")
            .field("pending", &self.queue.len())
            .finish()
    }
}

impl Reclaim {
    /// Queues `item` to be dropped in a later turn. An item is dropped
    /// whole, so a large structure is best queued in parts (a task
    /// table's shards, a few dozen tasks at a time).
    pub(crate) fn defer(&mut self, item: impl Any + Send) {
        let kind = std::any::type_name_of_val(&item);
        self.queue.push_back((Box::new(item), kind));
    }

    /// Queues `items` in groups of `per_item`.
    pub(crate) fn defer_in_groups<T: Send + 'static>(
        &mut self,
        items: impl IntoIterator<Item = T>,
        per_item: usize,
    ) {
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let group: Vec<T> = items.by_ref().take(per_item.max(1)).collect();
            self.defer(group);
        }
    }

    /// Whether anything waits to be dropped.
    pub(crate) fn is_pending(&self) -> bool {
        !self.queue.is_empty()
    }

    /// How many items wait.
    pub(crate) fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Drops queued items, oldest first, until `budget` has passed (at
    /// least one, if any waits); returns how many it dropped.
    pub(crate) fn run(&mut self, budget: Duration) -> usize {
        let started = Instant::now();
        let mut dropped = 0;
        while let Some((item, kind)) = self.queue.pop_front() {
            let before = Instant::now();
            drop(item);
            settle_frees();
            let took = before.elapsed();
            if took > SLOW_ITEM {
                tracing::debug!(
                    item = kind,
                    ms = took.as_secs_f64() * 1e3,
                    left = self.queue.len(),
                    "slow to drop"
                );
            }
            dropped += 1;
            if started.elapsed() >= budget {
                break;
            }
        }
        dropped
    }
}

/// Has the allocator tidy what was just freed, while it is little.
///
/// glibc's malloc keeps small freed blocks in "fast bins" and merges
/// them only when a larger block is asked for. A task table freed a
/// shard at a time left millions of them there, and whichever request
/// came next (a `/metrics` answer, an offer) paid for merging them all:
/// turns of 60 to 140 ms long after the TEARDOWN. Asking for a block
/// past the small sizes after each item merges that item's blocks alone.
/// Elsewhere it is one allocation and one free.
fn settle_frees() {
    drop(std::hint::black_box(Vec::<u8>::with_capacity(
        SETTLE_REQUEST,
    )));
}

/// Above glibc's per-thread cache (1,032 bytes) and its small bins.
const SETTLE_REQUEST: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn items_are_dropped_in_turns_oldest_first() {
        let mut reclaim = Reclaim::default();
        assert!(!reclaim.is_pending());
        assert_eq!(reclaim.run(TURN), 0);
        let first = Arc::new(1);
        let rest = Arc::new(2);
        reclaim.defer(Arc::clone(&first));
        reclaim.defer_in_groups((0..5).map(|_| Arc::clone(&rest)), 2);
        // One item, then groups of 2, 2 and 1.
        assert_eq!(reclaim.pending(), 4);
        assert_eq!(Arc::strong_count(&first), 2);
        // A zero budget still drops one item, the oldest.
        assert_eq!(reclaim.run(Duration::ZERO), 1);
        assert_eq!(Arc::strong_count(&first), 1);
        assert_eq!(Arc::strong_count(&rest), 6);
        assert_eq!(reclaim.run(Duration::ZERO), 1);
        assert_eq!(Arc::strong_count(&rest), 4);
        assert!(reclaim.is_pending());
        // A budget long enough takes the rest.
        assert_eq!(reclaim.run(Duration::from_secs(60)), 2);
        assert_eq!(Arc::strong_count(&rest), 1);
        assert!(!reclaim.is_pending());
    }
}
