//! How long each turn of the master's event loop holds it up, and how
//! much of that the loop's thread spent running.
//!
//! A turn is one wake of the loop: a batch of commands with its
//! allocation, or a timer's work. Its wall time is what callers wait;
//! its CPU time (the thread's own, `CLOCK_THREAD_CPUTIME_ID`) is the
//! work. The two differ when the thread waits for a core, which on a
//! busy machine tells a slow turn from a costly one.

use std::time::{Duration, Instant};

/// Turns longer than this count as holding the loop up (the master's
/// goal is that none does).
pub(crate) const SLOW: Duration = Duration::from_millis(10);

/// Turns longer than this are counted apart: they are failures, not
/// noise.
const VERY_SLOW: Duration = Duration::from_millis(100);

/// The calling thread's CPU time so far.
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// A turn being timed; [`TurnTimer::stop`] on the same thread ends it
/// (a turn never awaits, so it runs on one thread throughout).
pub(crate) struct TurnTimer {
    wall: Instant,
    cpu: Duration,
}

impl TurnTimer {
    /// Starts timing a turn on this thread.
    pub(crate) fn start() -> Self {
        TurnTimer {
            wall: Instant::now(),
            cpu: thread_cpu(),
        }
    }

    /// Wall time since the turn started.
    pub(crate) fn elapsed(&self) -> Duration {
        self.wall.elapsed()
    }

    /// The turn's wall and CPU time.
    pub(crate) fn stop(self) -> Turn {
        Turn {
            wall: self.wall.elapsed(),
            cpu: thread_cpu().saturating_sub(self.cpu),
        }
    }
}

/// One finished turn.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Turn {
    /// From the wake to the end of the work.
    pub(crate) wall: Duration,
    /// The loop thread's CPU time in that span.
    pub(crate) cpu: Duration,
}

impl Turn {
    /// Whether the turn held the loop up past [`SLOW`].
    pub(crate) fn slow(&self) -> bool {
        self.wall > SLOW
    }
}

/// Cumulative counts of turns, for the metrics endpoints.
#[derive(Debug, Default)]
pub(crate) struct TurnCounts {
    /// Every turn.
    pub(crate) turns: u64,
    /// Turns past 10 ms and past 100 ms of wall time.
    pub(crate) over_10ms: u64,
    pub(crate) over_100ms: u64,
    /// Turns whose work alone (the thread's CPU time) passed 10 ms: a
    /// slow turn not counted here waited for a core.
    pub(crate) over_10ms_on_cpu: u64,
    /// The longest turn so far and the longest CPU time of one, in
    /// milliseconds.
    pub(crate) longest_ms: f64,
    pub(crate) longest_cpu_ms: f64,
}

impl TurnCounts {
    /// Counts one turn.
    pub(crate) fn count(&mut self, turn: Turn) {
        self.turns += 1;
        self.over_10ms += u64::from(turn.wall > SLOW);
        self.over_100ms += u64::from(turn.wall > VERY_SLOW);
        self.over_10ms_on_cpu += u64::from(turn.cpu > SLOW);
        self.longest_ms = self.longest_ms.max(turn.wall.as_secs_f64() * 1e3);
        self.longest_cpu_ms = self.longest_cpu_ms.max(turn.cpu.as_secs_f64() * 1e3);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_turn_counts_on_cpu_and_a_sleeping_one_does_not() {
        let mut counts = TurnCounts::default();
        // Work: spin past 10 ms of this thread's own CPU time.
        let timer = TurnTimer::start();
        let spin_start = thread_cpu();
        let mut x = 0u64;
        while thread_cpu() - spin_start < Duration::from_millis(12) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let busy = timer.stop();
        assert!(busy.cpu > SLOW, "{busy:?}");
        counts.count(busy);
        // Waiting: 15 ms of wall time and next to no CPU.
        let timer = TurnTimer::start();
        std::thread::sleep(Duration::from_millis(15));
        let idle = timer.stop();
        assert!(idle.slow() && idle.cpu < SLOW, "{idle:?}");
        counts.count(idle);
        assert_eq!(counts.turns, 2);
        assert_eq!(counts.over_10ms, 2);
        assert_eq!(counts.over_10ms_on_cpu, 1);
        assert_eq!(counts.over_100ms, 0);
        assert!(counts.longest_cpu_ms >= 10.0 && counts.longest_ms >= 15.0);
    }
}
