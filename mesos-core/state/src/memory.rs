//! A store in memory: for tests and `--registry=in_memory`.

use crate::{Entries, Entry, Expect, Op, StateError, Store, validate_key};
use std::sync::Mutex;

/// A [`Store`] that forgets everything when dropped.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: Mutex<Entries>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Entries) -> T) -> T {
        // A panic while holding the lock cannot leave the map half-written
        // (a batch that fails is undone before the error returns), so a poisoned lock is
        // safe to use.
        let mut guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Entry>, StateError> {
        validate_key(key)?;
        Ok(self.with(|e| e.map.get(key).cloned()))
    }

    async fn put(&self, key: &str, value: Vec<u8>, expect: Expect) -> Result<u64, StateError> {
        self.with(|e| e.put(key, value, expect))
    }

    async fn delete(&self, key: &str, expect: Expect) -> Result<bool, StateError> {
        self.with(|e| e.delete(key, expect))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        Ok(self.with(|e| e.list(prefix)))
    }

    async fn apply(&self, ops: Vec<Op>) -> Result<Vec<Option<u64>>, StateError> {
        self.with(|e| e.apply(ops))
    }
}
