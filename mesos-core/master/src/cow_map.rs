//! A map that state snapshots share: its entries live in shards, each
//! behind an `Arc`, so a snapshot copies one pointer per shard (about
//! one per 512 entries) and a change copies at most the one shard a
//! snapshot still holds.
//!
//! Shards are chosen by the key's hash; within a shard entries are in key
//! order, across shards they are not. The map grows one shard at a time
//! (linear hashing): when it passes its target size, the next shard in
//! turn is split in two. Doubling every shard at once held the event loop
//! up for about 20 ms at 65,536 tasks.
//!
//! Each shard can also remember something derived from its entries (`D`,
//! such as the JSON of the tasks in it), computed at most once by a
//! reader of a snapshot and forgotten when the shard changes: a reader
//! then redoes only the shards that changed since it last looked.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, OnceLock};

/// Entries per shard, on average, before a shard is split.
const SHARD_TARGET: usize = 512;

/// A hash-sharded map of copy-on-write B-trees, each shard with what is
/// derived from it (`D`, nothing by default).
#[derive(Debug)]
pub(crate) struct CowMap<K, V, D = ()> {
    shards: Vec<Arc<Shard<K, V, D>>>,
    len: usize,
}

impl<K, V, D> Clone for CowMap<K, V, D> {
    /// Shares every shard, with what was derived from it.
    fn clone(&self) -> Self {
        CowMap {
            shards: self.shards.clone(),
            len: self.len,
        }
    }
}

/// One shard: its entries, and what was derived from them since they
/// last changed.
#[derive(Debug)]
pub(crate) struct Shard<K, V, D> {
    entries: BTreeMap<K, V>,
    derived: OnceLock<D>,
}

impl<K, V, D> Shard<K, V, D> {
    fn new(entries: BTreeMap<K, V>) -> Self {
        Shard {
            entries,
            derived: OnceLock::new(),
        }
    }

    /// Its entries, in key order.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> &BTreeMap<K, V> {
        &self.entries
    }

    /// What `derive` makes of the entries, computed the first time only
    /// (a second caller at the same time waits for the first).
    pub(crate) fn derived(&self, derive: impl FnOnce(&BTreeMap<K, V>) -> D) -> &D {
        self.derived.get_or_init(|| derive(&self.entries))
    }

    /// Whether what is derived is computed already.
    pub(crate) fn is_derived(&self) -> bool {
        self.derived.get().is_some()
    }
}

impl<K: Clone, V: Clone, D> Clone for Shard<K, V, D> {
    /// The entries only: a shard is copied to be changed, which would
    /// forget what was derived anyway.
    fn clone(&self) -> Self {
        Shard::new(self.entries.clone())
    }
}

impl<K, V, D> Default for CowMap<K, V, D> {
    fn default() -> Self {
        CowMap {
            shards: vec![Arc::new(Shard::new(BTreeMap::new()))],
            len: 0,
        }
    }
}

/// The same hash in every process and run: the shard of a key does not
/// depend on a random seed.
fn hash_of<K: Hash>(key: &K) -> u64 {
    std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
        .hash_one(key)
}

impl<K: Ord + Hash + Clone, V: Clone, D> CowMap<K, V, D> {
    /// The shard of `key`: with `n` shards, `base` the largest power of
    /// two up to `n`, the first `n - base` shards have been split (their
    /// keys spread over them and the shards from `base` on, by the hash
    /// modulo `2 * base`); the others take the hash modulo `base`.
    fn shard_of(&self, key: &K) -> usize {
        let n = self.shards.len();
        let base = split_base(n);
        let hash = hash_of(key);
        let i = (hash % base as u64) as usize;
        if i < n - base {
            (hash % (2 * base) as u64) as usize
        } else {
            i
        }
    }

    /// Shard `i`'s entries, to change: the shard is copied first if a
    /// snapshot holds it, and forgets what was derived from it.
    fn entries_mut(&mut self, i: usize) -> &mut BTreeMap<K, V> {
        let shard = Arc::make_mut(&mut self.shards[i]);
        shard.derived.take();
        &mut shard.entries
    }

    /// How many entries it has.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether it has none.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.shards[self.shard_of(key)].entries.get(key)
    }

    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// The entry to change; its shard is copied first if a snapshot holds
    /// it.
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let shard = self.shard_of(key);
        if !self.shards[shard].entries.contains_key(key) {
            return None;
        }
        self.entries_mut(shard).get_mut(key)
    }

    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        let shard = self.shard_of(&key);
        let old = self.entries_mut(shard).insert(key, value);
        if old.is_none() {
            self.len += 1;
            if self.len > self.shards.len() * SHARD_TARGET {
                self.split_next();
            }
        }
        old
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let shard = self.shard_of(key);
        if !self.shards[shard].entries.contains_key(key) {
            return None;
        }
        let old = self.entries_mut(shard).remove(key);
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// Adds a shard: the next shard in turn gives it the keys that now
    /// belong there (about half of its own).
    fn split_next(&mut self) {
        let n = self.shards.len();
        let base = split_base(n);
        let split = n - base;
        let old = std::mem::replace(
            &mut self.shards[split],
            Arc::new(Shard::new(BTreeMap::new())),
        );
        let (mut stay, mut moved) = (BTreeMap::new(), BTreeMap::new());
        for (k, v) in into_entries(old) {
            if (hash_of(&k) % (2 * base) as u64) as usize == split {
                stay.insert(k, v);
            } else {
                moved.insert(k, v);
            }
        }
        self.shards[split] = Arc::new(Shard::new(stay));
        self.shards.push(Arc::new(Shard::new(moved)));
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.shards.iter().flat_map(|s| s.entries.iter())
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &K> + '_ {
        self.iter().map(|(k, _)| k)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// The values in the reverse of [`CowMap::values`]' order.
    pub(crate) fn values_rev(&self) -> impl Iterator<Item = &V> + '_ {
        self.shards
            .iter()
            .rev()
            .flat_map(|s| s.entries.values().rev())
    }

    /// What a snapshot keeps: the shards, shared.
    pub(crate) fn share(&self) -> SharedShards<K, V, D> {
        SharedShards(self.shards.clone())
    }

    /// The shards, to be dropped one at a time
    /// ([`Reclaim`](crate::reclaim::Reclaim)) rather than all at once.
    pub(crate) fn into_shards(self) -> Vec<Arc<Shard<K, V, D>>> {
        self.shards
    }
}

/// A shard's entries, taken from it if nothing else holds it, else
/// copied.
/// The largest power of two up to `n` (at least 1).
fn split_base(n: usize) -> usize {
    1 << (usize::BITS - 1 - n.max(1).leading_zeros())
}

fn into_entries<K: Clone, V: Clone, D>(shard: Arc<Shard<K, V, D>>) -> BTreeMap<K, V> {
    Arc::try_unwrap(shard).map_or_else(|shared| shared.entries.clone(), |s| s.entries)
}

/// A snapshot of a [`CowMap`]: its shards as they were.
#[derive(Debug)]
pub(crate) struct SharedShards<K, V, D = ()>(Vec<Arc<Shard<K, V, D>>>);

impl<K, V, D> Clone for SharedShards<K, V, D> {
    fn clone(&self) -> Self {
        SharedShards(self.0.clone())
    }
}

impl<K, V, D> SharedShards<K, V, D> {
    /// How many entries the shards hold.
    pub(crate) fn len(&self) -> usize {
        self.0.iter().map(|s| s.entries.len()).sum()
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.0.iter().flat_map(|s| s.entries.values())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.0.iter().flat_map(|s| s.entries.iter())
    }

    /// The shards, each with what is derived from it.
    pub(crate) fn shards(&self) -> &[Arc<Shard<K, V, D>>] {
        &self.0
    }
}

impl<K: Ord + Hash + Clone, V: Clone, D> IntoIterator for CowMap<K, V, D> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        let mut out = Vec::with_capacity(self.len);
        for shard in self.shards {
            out.extend(into_entries(shard));
        }
        out.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_a_map_across_reshards() {
        let mut m: CowMap<u32, u32> = CowMap::default();
        let mut reference = BTreeMap::new();
        for i in 0..5000u32 {
            assert_eq!(m.insert(i, i * 2), reference.insert(i, i * 2));
        }
        assert!(m.shards.len() >= 8, "grew to {} shards", m.shards.len());
        for i in (0..5000u32).step_by(3) {
            assert_eq!(m.remove(&i), reference.remove(&i));
        }
        assert_eq!(m.remove(&1_000_000), None);
        *m.get_mut(&1).unwrap() = 7;
        *reference.get_mut(&1).unwrap() = 7;
        assert_eq!(m.get_mut(&3), None);
        assert_eq!(m.len(), reference.len());
        let mut all: Vec<(u32, u32)> = m.iter().map(|(k, v)| (*k, *v)).collect();
        all.sort();
        assert_eq!(all, reference.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn growing_splits_one_shard_at_a_time() {
        let mut m: CowMap<u32, u32> = CowMap::default();
        let mut next = 0u32;
        for _ in 0..5 {
            // Up to the size at which the next insert splits a shard.
            while m.len() < m.shards.len() * SHARD_TARGET {
                m.insert(next, next);
                next += 1;
            }
            let seen = m.share();
            m.insert(next, next);
            next += 1;
            assert_eq!(m.shards.len(), seen.0.len() + 1, "one shard more");
            // The inserted key's shard, the one split and the new one.
            let changed = m
                .shards
                .iter()
                .zip(&seen.0)
                .filter(|(a, b)| !Arc::ptr_eq(a, b))
                .count();
            assert!(changed <= 2, "{changed} of {} shards changed", seen.0.len());
            for k in 0..next {
                assert_eq!(m.get(&k), Some(&k), "key {k} after a split");
            }
        }
    }

    #[test]
    fn a_snapshot_keeps_what_it_saw() {
        let mut m: CowMap<u32, String> = CowMap::default();
        for i in 0..2000u32 {
            m.insert(i, format!("v{i}"));
        }
        let seen = m.share();
        *m.get_mut(&5).unwrap() = "changed".into();
        m.remove(&6);
        m.insert(9999, "new".into());
        let mut values: Vec<&String> = seen.values().collect();
        values.sort();
        assert_eq!(values.len(), 2000);
        assert!(values.iter().any(|v| *v == "v5"));
        assert!(values.iter().any(|v| *v == "v6"));
        assert!(!values.iter().any(|v| *v == "changed" || *v == "new"));
        assert_eq!(m.get(&5).map(String::as_str), Some("changed"));
        // Only the shards that changed were copied.
        let copied = m
            .shards
            .iter()
            .zip(&seen.0)
            .filter(|(a, b)| !Arc::ptr_eq(a, b))
            .count();
        assert!(copied <= 3, "{copied} of {} shards copied", m.shards.len());
    }

    #[test]
    fn what_is_derived_is_kept_until_its_shard_changes() {
        let mut m: CowMap<u32, u32, u64> = CowMap::default();
        for i in 0..2000u32 {
            m.insert(i, i);
        }
        let sum = |e: &BTreeMap<u32, u32>| e.values().map(|v| u64::from(*v)).sum::<u64>();
        let seen = m.share();
        let before: Vec<u64> = seen.shards().iter().map(|s| *s.derived(sum)).collect();
        // The map shares the shards, so it has them derived too.
        assert!(m.shards.iter().all(|s| s.is_derived()));
        *m.get_mut(&5).unwrap() = 1_000_005;
        let changed = m.shard_of(&5);
        for (i, shard) in m.shards.iter().enumerate() {
            assert_eq!(shard.is_derived(), i != changed, "shard {i}");
        }
        assert_eq!(*m.shards[changed].derived(sum), before[changed] + 1_000_000);
        // The snapshot keeps what it derived from what it saw.
        assert_eq!(*seen.shards()[changed].derived(|_| 0), before[changed]);
        // Cloning the map shares what was derived; a change to every
        // shard (and the splits on the way) forgets it.
        assert!(m.clone().shards.iter().all(|s| s.is_derived()));
        for i in 2000..5000u32 {
            m.insert(i, i);
        }
        assert!(m.shards.iter().all(|s| !s.is_derived()));
    }
}
