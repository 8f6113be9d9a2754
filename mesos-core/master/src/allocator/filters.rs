//! Offer filters: a framework that declines resources on an agent is not
//! offered any subset of them there again until the filter expires.

use mesos_proto::resources::Resources;
use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

/// Mesos' default `refuse_seconds` (`Filters.refuse_seconds`).
pub const DEFAULT_REFUSE: Duration = Duration::from_secs(5);

/// The longest filter honoured; longer requests are capped.
pub const MAX_REFUSE: Duration = Duration::from_secs(365 * 24 * 3600);

/// How long to filter, from a call's `Filters.refuse_seconds` as Mesos
/// reads it: absent means the default (5 s); negative, NaN or infinite means
/// the default; zero means no filter; longer than a year is capped.
///
/// ```
/// use mesos_master::allocator::filters::refuse_duration;
/// use std::time::Duration;
///
/// assert_eq!(refuse_duration(None), Some(Duration::from_secs(5)));
/// assert_eq!(refuse_duration(Some(-1.0)), Some(Duration::from_secs(5)));
/// assert_eq!(refuse_duration(Some(0.0)), None);
/// assert_eq!(refuse_duration(Some(0.5)), Some(Duration::from_millis(500)));
/// ```
pub fn refuse_duration(refuse_seconds: Option<f64>) -> Option<Duration> {
    let seconds = match refuse_seconds {
        None => return Some(DEFAULT_REFUSE),
        Some(s) if !s.is_finite() || s < 0.0 => return Some(DEFAULT_REFUSE),
        Some(s) => s,
    };
    if seconds == 0.0 {
        return None;
    }
    Some(Duration::try_from_secs_f64(seconds).map_or(MAX_REFUSE, |d| d.min(MAX_REFUSE)))
}

/// A refused-resources filter on one agent for one framework and role.
#[derive(Debug, Clone)]
pub(crate) struct OfferFilter {
    /// What was refused (without allocation info); shared, since one
    /// decline may filter many frameworks and filters never change.
    pub(crate) resources: Arc<Resources>,
    /// When the filter stops applying (allocator time).
    pub(crate) expires: Duration,
    /// The agent epoch at which the refused resources were last found to
    /// cover what the agent offers the role: while the epoch holds, the
    /// answer holds, and the containment check is skipped.
    pub(crate) covers_at: Cell<Option<u64>>,
}

impl OfferFilter {
    /// A filter refusing `resources` until `expires`.
    pub(crate) fn new(resources: Arc<Resources>, expires: Duration) -> OfferFilter {
        OfferFilter {
            resources,
            expires,
            covers_at: Cell::new(None),
        }
    }

    /// True when an offer of `resources` at `now` is filtered: the filter is
    /// live and the refused resources cover the offer. `epoch` identifies
    /// the offer's content (`None`: do not cache).
    pub(crate) fn filters(&self, resources: &Resources, now: Duration, epoch: Option<u64>) -> bool {
        if now >= self.expires {
            return false;
        }
        if epoch.is_some() && self.covers_at.get() == epoch {
            return true;
        }
        let covers = self.resources.contains(resources);
        if covers && epoch.is_some() {
            self.covers_at.set(epoch);
        }
        covers
    }
}
