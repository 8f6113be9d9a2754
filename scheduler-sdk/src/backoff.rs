//! Truncated exponential backoff with jitter.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Delays that double from `min` up to `max`, each drawn at random from
/// the upper half of the current step ("equal jitter"), so that many
/// schedulers cut off at once do not come back at once.
///
/// ```
/// use mesos_scheduler::Backoff;
/// use std::time::Duration;
///
/// let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
/// let first = backoff.next_delay();
/// assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
/// for _ in 0..10 {
///     assert!(backoff.next_delay() <= Duration::from_secs(1));
/// }
/// backoff.reset();
/// assert!(backoff.next_delay() <= Duration::from_millis(100));
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    step: Duration,
}

impl Backoff {
    /// Delays from `min` (at least 1 ms) up to `max`.
    pub fn new(min: Duration, max: Duration) -> Backoff {
        let min = min.max(Duration::from_millis(1));
        Backoff {
            min,
            max: max.max(min),
            step: min,
        }
    }

    /// The next delay: a random point in the upper half of the current
    /// step; the step then doubles, up to the maximum.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.step;
        self.step = (self.step * 2).min(self.max);
        let half = step / 2;
        let nanos = half.as_nanos().max(1) as u64;
        half + Duration::from_nanos(random() % (nanos + 1))
    }

    /// Back to the first step (after a success).
    pub fn reset(&mut self) {
        self.step = self.min;
    }
}

/// A random number from the standard library's per-process random keys.
fn random() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    hasher.finish()
}
