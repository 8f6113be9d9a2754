//! Durable, versioned key-value storage for Mesos masters and frameworks.
//!
//! A [`Store`] holds small values under `/`-separated keys
//! (`registry/agents/S1`). Every write names the version it expects
//! ([`Expect`]), so concurrent writers cannot lose each other's updates:
//! the semantics of ZooKeeper's versioned `setData`, which the ZooKeeper
//! backend maps onto directly. The master's registry, Marathon and Chronos
//! keep their state here.
//!
//! Backends: [`MemoryStore`] (tests, `--registry=in_memory`),
//! [`FileStore`] (one file, written atomically; the default of `mesos
//! local` and `--registry=local`) and, with the default `zookeeper`
//! feature, [`zk::ZooKeeperStore`] (`--registry=replicated`), beside
//! ZooKeeper leader election and detection ([`zk`]).
//!
//! ```
//! use mesos_state::{Expect, MemoryStore, Store, StateError};
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     let mut f = std::pin::pin!(f);
//! #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//! #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
//! # }
//! # block_on(async {
//! let store = MemoryStore::new();
//! let v1 = store.put("registry/weights", b"web=3".to_vec(), Expect::Absent).await?;
//! // A writer holding an old version is refused instead of overwriting.
//! store.put("registry/weights", b"web=2".to_vec(), Expect::Version(v1)).await?;
//! let stale = store.put("registry/weights", b"web=9".to_vec(), Expect::Version(v1)).await;
//! assert!(matches!(stale, Err(StateError::Conflict { .. })));
//! assert_eq!(store.get("registry/weights").await?.unwrap().value, b"web=2");
//! # Ok::<(), StateError>(())
//! # }).unwrap();
//! ```

mod crc;
mod file;
mod memory;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "zookeeper")]
pub mod zk;

pub use file::FileStore;
pub use memory::MemoryStore;

use std::fmt;
use std::future::Future;
use std::path::PathBuf;

/// The largest value a store accepts: what fits in one request under
/// ZooKeeper's default packet limit (`jute.maxbuffer`, 1 MiB) with room
/// for the key and the request's framing, so every backend behaves alike.
pub const MAX_VALUE_SIZE: usize = 1000 * 1024;

/// The longest key a store accepts.
pub const MAX_KEY_LEN: usize = 1024;

/// What a write expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Whatever is there (or nothing).
    Any,
    /// Nothing: create only.
    Absent,
    /// Exactly this version.
    Version(u64),
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Any => f.write_str("any version"),
            Expect::Absent => f.write_str("no entry"),
            Expect::Version(v) => write!(f, "version {v}"),
        }
    }
}

/// A stored value and its version (1 when created, +1 per write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The bytes stored.
    pub value: Vec<u8>,
    /// The version of these bytes.
    pub version: u64,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The entry is not at the version the write expected.
    #[error("version conflict on `{key}`: expected {expected}, found {}", found.map_or("no entry".to_string(), |v| format!("version {v}")))]
    Conflict {
        /// The key written.
        key: String,
        /// What the write expected.
        expected: Expect,
        /// The version found, if any.
        found: Option<u64>,
    },
    /// The key is not a valid key.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The key given.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The value is over [`MAX_VALUE_SIZE`].
    #[error("value for `{key}` is {size} bytes, over the limit of {MAX_VALUE_SIZE}")]
    TooLarge {
        /// The key written.
        key: String,
        /// The value's size.
        size: usize,
    },
    /// Reading or writing the backing file failed.
    #[error("state store I/O failed on {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The backend cannot be reached (a ZooKeeper connection lost, a
    /// session expired); the write may or may not have happened.
    #[error("state store unavailable: {reason}")]
    Unavailable {
        /// What failed.
        reason: String,
    },
    /// A fenced write ([`zk::ZooKeeperStore::fenced_by`]) was refused:
    /// the writer no longer holds the znode it is fenced by.
    #[error(
        "write refused: this writer no longer holds `{path}` (its session or leadership is gone)"
    )]
    Fenced {
        /// The fencing znode.
        path: String,
    },
    /// The backing file is not a store file or is damaged; nothing was
    /// overwritten.
    #[error("state file {} is corrupt: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A versioned key-value store. Keys are `/`-separated paths of non-empty
/// components, at most [`MAX_KEY_LEN`] bytes; values at most
/// [`MAX_VALUE_SIZE`] bytes.
pub trait Store: Send + Sync + fmt::Debug {
    /// The entry under `key`, if any.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Entry>, StateError>> + Send;

    /// Writes `value` under `key` if the entry is as `expect`ed; returns
    /// the new version. Durable when it returns.
    fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expect: Expect,
    ) -> impl Future<Output = Result<u64, StateError>> + Send;

    /// Deletes `key` if the entry is as `expect`ed; returns whether there
    /// was one. `Expect::Absent` is refused as meaningless.
    fn delete(
        &self,
        key: &str,
        expect: Expect,
    ) -> impl Future<Output = Result<bool, StateError>> + Send;

    /// Every key that starts with `prefix`, sorted.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, StateError>> + Send;

    /// The entries under `keys`, in order (`None` where there is none).
    /// Backends that can read many keys in one request (ZooKeeper's
    /// `multiRead`) override this; the default reads them one by one.
    fn get_many(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<Option<Entry>>, StateError>> + Send {
        async move {
            let mut out = Vec::with_capacity(keys.len());
            for key in keys {
                out.push(self.get(key).await?);
            }
            Ok(out)
        }
    }

    /// Applies `ops` atomically, in order: all of them or none (ZooKeeper's
    /// `multi`). Returns, per op, the new version of a put and `None` for a
    /// delete. One durable write for the whole batch, so a writer that
    /// batches its changes pays one sync, not one per key.
    fn apply(
        &self,
        ops: Vec<Op>,
    ) -> impl Future<Output = Result<Vec<Option<u64>>, StateError>> + Send;
}

/// One change of an atomic batch ([`Store::apply`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Writes a value, as [`Store::put`].
    Put {
        /// The key.
        key: String,
        /// The bytes.
        value: Vec<u8>,
        /// What the write expects to find.
        expect: Expect,
    },
    /// Deletes a key, as [`Store::delete`].
    Delete {
        /// The key.
        key: String,
        /// What the delete expects to find.
        expect: Expect,
    },
}

impl Op {
    /// The key the op changes.
    pub fn key(&self) -> &str {
        match self {
            Op::Put { key, .. } | Op::Delete { key, .. } => key,
        }
    }
}

impl<S: Store> Store for std::sync::Arc<S> {
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Entry>, StateError>> + Send {
        (**self).get(key)
    }

    fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expect: Expect,
    ) -> impl Future<Output = Result<u64, StateError>> + Send {
        (**self).put(key, value, expect)
    }

    fn delete(
        &self,
        key: &str,
        expect: Expect,
    ) -> impl Future<Output = Result<bool, StateError>> + Send {
        (**self).delete(key, expect)
    }

    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, StateError>> + Send {
        (**self).list(prefix)
    }

    fn get_many(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<Option<Entry>>, StateError>> + Send {
        (**self).get_many(keys)
    }

    fn apply(
        &self,
        ops: Vec<Op>,
    ) -> impl Future<Output = Result<Vec<Option<u64>>, StateError>> + Send {
        (**self).apply(ops)
    }
}

/// Any of the backends, chosen at run time (the [`Store`] trait is not
/// object safe: its methods return `impl Future`).
#[derive(Debug)]
#[non_exhaustive]
pub enum AnyStore {
    /// [`MemoryStore`].
    Memory(MemoryStore),
    /// [`FileStore`].
    File(FileStore),
    /// [`zk::ZooKeeperStore`].
    #[cfg(feature = "zookeeper")]
    ZooKeeper(zk::ZooKeeperStore),
}

impl Store for AnyStore {
    async fn get(&self, key: &str) -> Result<Option<Entry>, StateError> {
        match self {
            AnyStore::Memory(s) => s.get(key).await,
            AnyStore::File(s) => s.get(key).await,
            #[cfg(feature = "zookeeper")]
            AnyStore::ZooKeeper(s) => s.get(key).await,
        }
    }

    async fn put(&self, key: &str, value: Vec<u8>, expect: Expect) -> Result<u64, StateError> {
        match self {
            AnyStore::Memory(s) => s.put(key, value, expect).await,
            AnyStore::File(s) => s.put(key, value, expect).await,
            #[cfg(feature = "zookeeper")]
            AnyStore::ZooKeeper(s) => s.put(key, value, expect).await,
        }
    }

    async fn delete(&self, key: &str, expect: Expect) -> Result<bool, StateError> {
        match self {
            AnyStore::Memory(s) => s.delete(key, expect).await,
            AnyStore::File(s) => s.delete(key, expect).await,
            #[cfg(feature = "zookeeper")]
            AnyStore::ZooKeeper(s) => s.delete(key, expect).await,
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        match self {
            AnyStore::Memory(s) => s.list(prefix).await,
            AnyStore::File(s) => s.list(prefix).await,
            #[cfg(feature = "zookeeper")]
            AnyStore::ZooKeeper(s) => s.list(prefix).await,
        }
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Entry>>, StateError> {
        match self {
            AnyStore::Memory(s) => s.get_many(keys).await,
            AnyStore::File(s) => s.get_many(keys).await,
            #[cfg(feature = "zookeeper")]
            AnyStore::ZooKeeper(s) => s.get_many(keys).await,
        }
    }

    async fn apply(&self, ops: Vec<Op>) -> Result<Vec<Option<u64>>, StateError> {
        match self {
            AnyStore::Memory(s) => s.apply(ops).await,
            AnyStore::File(s) => s.apply(ops).await,
            #[cfg(feature = "zookeeper")]
            AnyStore::ZooKeeper(s) => s.apply(ops).await,
        }
    }
}

/// Checks a key: non-empty `/`-separated components, no NUL, bounded.
pub fn validate_key(key: &str) -> Result<(), StateError> {
    let reason = if key.is_empty() {
        "empty"
    } else if key.len() > MAX_KEY_LEN {
        "longer than 1024 bytes"
    } else if key.split('/').any(str::is_empty) {
        "has an empty component (leading, trailing or double `/`)"
    } else if key.contains('\0') {
        "contains NUL"
    } else if key.split('/').any(|c| c == "." || c == "..") {
        "has a `.` or `..` component"
    } else {
        return Ok(());
    };
    Err(StateError::InvalidKey {
        key: key.chars().take(80).collect(),
        reason,
    })
}

/// The map every backend keeps, with the write rules in one place.
#[derive(Debug, Default, Clone)]
pub(crate) struct Entries {
    pub(crate) map: std::collections::BTreeMap<String, Entry>,
}

impl Entries {
    /// Applies a put to the map; returns the new version.
    pub(crate) fn put(
        &mut self,
        key: &str,
        value: Vec<u8>,
        expect: Expect,
    ) -> Result<u64, StateError> {
        validate_key(key)?;
        if value.len() > MAX_VALUE_SIZE {
            return Err(StateError::TooLarge {
                key: key.to_string(),
                size: value.len(),
            });
        }
        let found = self.map.get(key).map(|e| e.version);
        let ok = match (expect, found) {
            (Expect::Any, _) | (Expect::Absent, None) => true,
            (Expect::Version(v), Some(f)) => v == f,
            _ => false,
        };
        if !ok {
            return Err(StateError::Conflict {
                key: key.to_string(),
                expected: expect,
                found,
            });
        }
        let version = found.map_or(1, |v| v + 1);
        self.map.insert(key.to_string(), Entry { value, version });
        Ok(version)
    }

    /// Applies a delete to the map; returns whether there was an entry.
    pub(crate) fn delete(&mut self, key: &str, expect: Expect) -> Result<bool, StateError> {
        validate_key(key)?;
        let found = self.map.get(key).map(|e| e.version);
        let ok = match (expect, found) {
            (Expect::Any, _) => true,
            (Expect::Version(v), Some(f)) => v == f,
            _ => false,
        };
        if !ok {
            return Err(StateError::Conflict {
                key: key.to_string(),
                expected: expect,
                found,
            });
        }
        Ok(self.map.remove(key).is_some())
    }

    /// Applies a batch: every op or, on the first failure, none.
    pub(crate) fn apply(&mut self, ops: Vec<Op>) -> Result<Vec<Option<u64>>, StateError> {
        let mut undo: Vec<(String, Option<Entry>)> = Vec::with_capacity(ops.len());
        let mut out = Vec::with_capacity(ops.len());
        for op in ops {
            let key = op.key().to_string();
            let before = self.map.get(&key).cloned();
            let done = match op {
                Op::Put { key, value, expect } => self.put(&key, value, expect).map(Some),
                Op::Delete { key, expect } => self.delete(&key, expect).map(|_| None),
            };
            match done {
                Ok(v) => {
                    undo.push((key, before));
                    out.push(v);
                }
                Err(e) => {
                    self.undo(undo);
                    return Err(e);
                }
            }
        }
        Ok(out)
    }

    /// Restores entries saved before changes, newest first.
    pub(crate) fn undo(&mut self, saved: Vec<(String, Option<Entry>)>) {
        for (key, before) in saved.into_iter().rev() {
            match before {
                Some(entry) => self.map.insert(key, entry),
                None => self.map.remove(&key),
            };
        }
    }

    pub(crate) fn list(&self, prefix: &str) -> Vec<String> {
        self.map
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect()
    }
}
