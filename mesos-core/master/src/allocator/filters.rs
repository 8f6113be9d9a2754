//! Offer filters: a framework that declines resources on an agent is not
//! offered any subset of them there again until the filter expires.

use mesos_proto::resources::Resources;
use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
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
/// Kept small (24 bytes): a large cluster holds one per agent and
/// declining framework.
#[derive(Debug, Clone)]
pub(crate) struct OfferFilter {
    /// What was refused (without allocation info); shared, since one
    /// decline may filter many frameworks and filters never change.
    pub(crate) resources: Arc<Resources>,
    /// When the filter stops applying (allocator time), in nanoseconds.
    expires_nanos: u64,
    /// The agent epoch at which the refused resources were last found to
    /// cover what the agent offers the role ([`NO_EPOCH`]: never): while
    /// the epoch holds, the answer holds, and the containment check is
    /// skipped.
    covers_at: Cell<u64>,
}

impl OfferFilter {
    /// A filter refusing `resources` until `expires`.
    pub(crate) fn new(resources: Arc<Resources>, expires: Duration) -> OfferFilter {
        OfferFilter {
            resources,
            expires_nanos: u64::try_from(expires.as_nanos()).unwrap_or(u64::MAX),
            covers_at: Cell::new(NO_EPOCH),
        }
    }

    /// When the filter stops applying (allocator time).
    pub(crate) fn expires(&self) -> Duration {
        Duration::from_nanos(self.expires_nanos)
    }

    /// True when an offer of `resources` at `now` is filtered: the filter is
    /// live and the refused resources cover the offer. `epoch` identifies
    /// the offer's content (`None`: do not cache).
    pub(crate) fn filters(&self, resources: &Resources, now: Duration, epoch: Option<u64>) -> bool {
        if now >= self.expires() {
            return false;
        }
        if epoch.is_some_and(|e| self.covers_at.get() == e) {
            return true;
        }
        let covers = self.resources.contains(resources);
        if let Some(epoch) = epoch.filter(|_| covers) {
            self.covers_at.set(epoch);
        }
        covers
    }
}

/// Filters by `(framework index << 32) | role index`.
type FilterMap = HashMap<u64, OfferFilter, BuildHasherDefault<IdHasher>>;

/// The key of the filter for a framework (by index) in a role (by index).
pub(crate) fn filter_key(framework: u32, role: u32) -> u64 {
    (u64::from(framework) << 32) | u64::from(role)
}

/// A multiplicative hasher for the allocator's integer keys: SipHash's
/// resistance to chosen keys is not needed for indices we assign ourselves.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

/// Dense numbers for the (framework, role) pairs of live frameworks that
/// had a filter, so that an agent can remember which of its filters cover
/// its offer in one bit each. A removed framework's slots are used again,
/// so the numbers (and each agent's bits) stay as few as the pairs.
#[derive(Debug, Default)]
pub(crate) struct FilterSlots {
    slots: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
    free: Vec<u32>,
}

impl FilterSlots {
    /// The slot of a filter key, assigned on first use.
    pub(crate) fn assign(&mut self, key: u64) -> u32 {
        if let Some(slot) = self.slots.get(&key) {
            return *slot;
        }
        let slot = self
            .free
            .pop()
            .unwrap_or_else(|| (self.slots.len() + self.free.len()) as u32);
        self.slots.insert(key, slot);
        slot
    }

    /// The slot of a filter key, if it has one.
    pub(crate) fn get(&self, key: u64) -> Option<u32> {
        self.slots.get(&key).copied()
    }

    /// Frees the slots of a removed framework. Its filters must be gone
    /// from every agent first: removing them drops the agents' memos, so
    /// no bit of a freed slot survives to be misread.
    pub(crate) fn release_framework(&mut self, framework: u32) {
        let free = &mut self.free;
        self.slots.retain(|key, slot| {
            let keep = (key >> 32) as u32 != framework;
            if !keep {
                free.push(*slot);
            }
            keep
        });
    }
}

/// No epoch: a memo that holds nothing (agent epochs never get there).
const NO_EPOCH: u64 = u64::MAX;

/// One agent's offer filters, with a memo of which of them cover what the
/// agent offers at one agent epoch: one bit per filter slot, so a full look
/// over every framework reads a few cache lines per agent instead of one
/// filter per framework.
#[derive(Debug)]
pub(crate) struct AgentFilters {
    map: FilterMap,
    /// The agent epoch at which the bits in `covered` hold.
    cover_epoch: Cell<u64>,
    /// The first expiry among the filters whose bit is set.
    cover_until: Cell<Duration>,
    /// Bit per filter slot: that filter covers the offer at `cover_epoch`.
    /// Long enough for the slot of every filter in `map`.
    covered: Vec<Cell<u64>>,
}

impl Default for AgentFilters {
    fn default() -> Self {
        AgentFilters {
            map: FilterMap::default(),
            cover_epoch: Cell::new(NO_EPOCH),
            cover_until: Cell::new(Duration::ZERO),
            covered: Vec::new(),
        }
    }
}

/// The filters known to cover an agent's offer: bits by slot, and a time no
/// later than the first of them expires.
pub(crate) struct Cover<'a> {
    bits: &'a [Cell<u64>],
    /// Until when every set bit holds.
    pub(crate) until: Duration,
}

impl Cover<'_> {
    /// True when the filter of every slot in `mask` covers the offer.
    pub(crate) fn has_all(&self, mask: &[u64]) -> bool {
        mask.iter().enumerate().all(|(i, m)| {
            let bits = self.bits.get(i).map_or(0, Cell::get);
            m & !bits == 0
        })
    }

    /// True when the filter in `slot` covers the offer.
    pub(crate) fn has(&self, slot: u32) -> bool {
        self.bits
            .get((slot / 64) as usize)
            .is_some_and(|w| w.get() & (1 << (slot % 64)) != 0)
    }
}

impl AgentFilters {
    /// How many words of bits the memo holds.
    #[cfg(test)]
    pub(crate) fn words(&self) -> usize {
        self.covered.len()
    }

    /// The filter for a key.
    pub(crate) fn get(&self, key: u64) -> Option<&OfferFilter> {
        self.map.get(&key)
    }

    /// Installs (or replaces) the filter for a key whose slot is `slot`.
    pub(crate) fn insert(&mut self, key: u64, slot: u32, filter: OfferFilter) {
        self.map.insert(key, filter);
        let words = (slot / 64) as usize + 1;
        if self.covered.len() < words {
            self.covered.resize_with(words, || Cell::new(0));
        }
        self.cover_epoch.set(NO_EPOCH);
    }

    /// Keeps only the filters for which `keep` is true.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(u64, &OfferFilter) -> bool) {
        let before = self.map.len();
        self.map.retain(|k, f| keep(*k, f));
        if self.map.len() != before {
            self.cover_epoch.set(NO_EPOCH);
        }
    }

    /// The filters known to cover the agent's offer at `epoch` and `now`.
    pub(crate) fn cover(&self, epoch: u64, now: Duration) -> Option<Cover<'_>> {
        let until = self.cover_until.get();
        (self.cover_epoch.get() == epoch && now < until).then_some(Cover {
            bits: &self.covered,
            until,
        })
    }

    /// Remembers that the filter in `slot`, live until `expires`, covers
    /// the agent's offer at `epoch`. A memo of another epoch, or one past
    /// its first expiry at `now`, starts over (else one expired filter
    /// would keep the memo unusable until the agent's epoch changed).
    pub(crate) fn note_cover(&self, slot: u32, epoch: u64, expires: Duration, now: Duration) {
        if self.cover_epoch.get() != epoch || now >= self.cover_until.get() {
            self.covered.iter().for_each(|w| w.set(0));
            self.cover_epoch.set(epoch);
            self.cover_until.set(Duration::MAX);
        }
        if let Some(word) = self.covered.get((slot / 64) as usize) {
            word.set(word.get() | 1 << (slot % 64));
            self.cover_until.set(self.cover_until.get().min(expires));
        }
    }
}
