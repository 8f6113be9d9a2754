//! A map that state snapshots share: its entries live in shards, each
//! behind an `Arc`, so a snapshot copies one pointer per shard (about
//! one per 512 entries) and a change copies at most the one shard a
//! snapshot still holds.
//!
//! Shards are chosen by the key's hash; within a shard entries are in key
//! order, across shards they are not.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

/// Entries per shard before the shard count doubles.
const SHARD_TARGET: usize = 512;

/// A hash-sharded map of copy-on-write B-trees.
#[derive(Debug, Clone)]
pub(crate) struct CowMap<K, V> {
    shards: Vec<Arc<BTreeMap<K, V>>>,
    len: usize,
}

impl<K, V> Default for CowMap<K, V> {
    fn default() -> Self {
        CowMap {
            shards: vec![Arc::new(BTreeMap::new())],
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

impl<K: Ord + Hash + Clone, V: Clone> CowMap<K, V> {
    fn shard_of(&self, key: &K) -> usize {
        (hash_of(key) % self.shards.len() as u64) as usize
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.shards[self.shard_of(key)].get(key)
    }

    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// The entry to change; its shard is copied first if a snapshot holds
    /// it.
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let shard = self.shard_of(key);
        if !self.shards[shard].contains_key(key) {
            return None;
        }
        Arc::make_mut(&mut self.shards[shard]).get_mut(key)
    }

    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        let shard = self.shard_of(&key);
        let old = Arc::make_mut(&mut self.shards[shard]).insert(key, value);
        if old.is_none() {
            self.len += 1;
            if self.len > self.shards.len() * SHARD_TARGET {
                self.reshard(self.shards.len() * 2);
            }
        }
        old
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let shard = self.shard_of(key);
        if !self.shards[shard].contains_key(key) {
            return None;
        }
        let old = Arc::make_mut(&mut self.shards[shard]).remove(key);
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// Spreads the entries over `count` shards.
    fn reshard(&mut self, count: usize) {
        let old = std::mem::replace(
            &mut self.shards,
            (0..count).map(|_| Arc::new(BTreeMap::new())).collect(),
        );
        let mut shards: Vec<BTreeMap<K, V>> = (0..count).map(|_| BTreeMap::new()).collect();
        for shard in old {
            let entries = Arc::try_unwrap(shard).unwrap_or_else(|shared| (*shared).clone());
            for (k, v) in entries {
                shards[(hash_of(&k) % count as u64) as usize].insert(k, v);
            }
        }
        self.shards = shards.into_iter().map(Arc::new).collect();
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.shards.iter().flat_map(|s| s.iter())
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &K> + '_ {
        self.iter().map(|(k, _)| k)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// What a snapshot keeps: the shards, shared.
    pub(crate) fn share(&self) -> SharedShards<K, V> {
        SharedShards(self.shards.clone())
    }
}

/// A snapshot of a [`CowMap`]: its shards as they were.
#[derive(Debug, Clone)]
pub(crate) struct SharedShards<K, V>(Vec<Arc<BTreeMap<K, V>>>);

impl<K, V> SharedShards<K, V> {
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.0.iter().flat_map(|s| s.values())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.0.iter().flat_map(|s| s.iter())
    }
}

impl<K: Ord + Hash + Clone, V: Clone> IntoIterator for CowMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        let mut out = Vec::with_capacity(self.len);
        for shard in self.shards {
            let entries = Arc::try_unwrap(shard).unwrap_or_else(|shared| (*shared).clone());
            out.extend(entries);
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
}
