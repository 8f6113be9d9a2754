//! [`ZooKeeperStore`]: the store's keys as znodes.

use super::{mkdir, unavailable};
use crate::{Entry, Expect, MAX_VALUE_SIZE, Op, StateError, Store, validate_key};
use std::collections::HashMap;
use zookeeper_client::{self as zk, Acls, CreateMode, MultiWriteError, MultiWriteResult};

/// A [`Store`] kept in ZooKeeper: each key is one persistent znode under
/// a root path (the key with `%` and `/` percent-encoded, so every key is
/// one child and listing a prefix is one request). Versions are
/// ZooKeeper's data versions plus one; batches ([`Store::apply`]) are one
/// ZooKeeper `multi`.
///
/// A store may be *fenced* by a znode ([`ZooKeeperStore::fenced_by`]):
/// every write then also checks that this znode still exists, in the same
/// `multi`, so a master that lost its leadership (its ephemeral election
/// znode is gone with its session) cannot write anything after its
/// successor took over; such writes fail with [`StateError::Fenced`].
///
/// A whole batch must fit in one ZooKeeper packet (`jute.maxbuffer`,
/// 1 MiB by default); the registry's batches are far smaller.
#[derive(Debug, Clone)]
pub struct ZooKeeperStore {
    client: zk::Client,
    root: String,
    fence: Option<(String, i32)>,
}

/// What one op of a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Put(u64),
    Deleted(bool),
}

/// How one op is carried out in the `multi`.
#[derive(Debug)]
enum Planned {
    /// The op is the `multi`'s op at this index.
    At(usize),
    /// Nothing to send: a delete (any version) of a missing key.
    Nothing,
}

/// How many keys one `multiRead` asks for: registry entries are small,
/// so a batch stays far under ZooKeeper's 1 MiB packet.
const READ_BATCH: usize = 256;

/// How many times a batch is retried when a key it expected "any version"
/// of was created or deleted by someone else in between.
const RACE_RETRIES: usize = 8;

impl ZooKeeperStore {
    /// A store under `root` (created if missing) on an open session.
    pub async fn open(client: zk::Client, root: &str) -> Result<ZooKeeperStore, StateError> {
        let root = root.trim_end_matches('/').to_string();
        mkdir(&client, &root).await?;
        Ok(ZooKeeperStore {
            client,
            root,
            fence: None,
        })
    }

    /// Makes every write check that the znode at `path` still exists at
    /// data version `version` (0 for a znode never written since created).
    pub fn fenced_by(mut self, path: impl Into<String>, version: i32) -> ZooKeeperStore {
        self.fence = Some((path.into(), version));
        self
    }

    /// The root znode.
    pub fn root(&self) -> &str {
        &self.root
    }

    fn znode(&self, key: &str) -> String {
        format!("{}/{}", self.root, escape(key))
    }

    async fn version_of(&self, key: &str) -> Result<Option<u64>, StateError> {
        let path = self.znode(key);
        match self.client.check_stat(&path).await {
            Ok(stat) => Ok(stat.map(|s| s.version as u64 + 1)),
            Err(e) => Err(unavailable(&path, e)),
        }
    }

    async fn conflict(&self, key: &str, expected: Expect) -> StateError {
        match self.version_of(key).await {
            Ok(found) => StateError::Conflict {
                key: key.to_string(),
                expected,
                found,
            },
            Err(e) => e,
        }
    }

    /// Runs a batch; see [`Store::apply`].
    async fn run(&self, ops: &[Op]) -> Result<Vec<Outcome>, StateError> {
        for op in ops {
            validate_key(op.key())?;
            if let Op::Put { key, value, .. } = op
                && value.len() > MAX_VALUE_SIZE
            {
                return Err(StateError::TooLarge {
                    key: key.clone(),
                    size: value.len(),
                });
            }
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_run(ops).await? {
                Ok(outcomes) => return Ok(outcomes),
                Err(raced) if attempt < RACE_RETRIES => {
                    tracing::debug!(
                        key = raced,
                        "ZooKeeper batch raced with another writer; retrying"
                    );
                }
                Err(raced) => {
                    return Err(StateError::Unavailable {
                        reason: format!("`{raced}` kept changing under a write of any version"),
                    });
                }
            }
        }
    }

    /// One attempt at a batch: `Ok(Err(key))` when a key written with
    /// `Expect::Any` appeared or vanished in between (try again).
    async fn try_run<'o>(
        &self,
        ops: &'o [Op],
    ) -> Result<Result<Vec<Outcome>, &'o str>, StateError> {
        // Whether each key exists at this point of the batch.
        let mut exists: HashMap<&str, bool> = HashMap::new();
        for op in ops {
            let loose = matches!(
                op,
                Op::Put {
                    expect: Expect::Any,
                    ..
                } | Op::Delete {
                    expect: Expect::Any,
                    ..
                }
            );
            if loose && !exists.contains_key(op.key()) {
                exists.insert(op.key(), self.version_of(op.key()).await?.is_some());
            }
        }
        let persistent = CreateMode::Persistent.with_acls(Acls::anyone_all());
        let mut multi = self.client.new_multi_writer();
        let mut sent = 0usize;
        let bad = |e: zk::Error| StateError::Unavailable {
            reason: format!("cannot build a ZooKeeper request: {e}"),
        };
        if let Some((path, version)) = &self.fence {
            multi.add_check_version(path, *version).map_err(bad)?;
            sent += 1;
        }
        let mut plan = Vec::with_capacity(ops.len());
        for op in ops {
            let key = op.key();
            let path = self.znode(key);
            let planned = match op {
                Op::Put { value, expect, .. } => {
                    match expect {
                        Expect::Absent => multi.add_create(&path, value, &persistent),
                        Expect::Version(v) => match zk_version(*v) {
                            Some(v) => multi.add_set_data(&path, value, Some(v)),
                            None => return Err(self.conflict(key, *expect).await),
                        },
                        Expect::Any if exists.get(key) == Some(&true) => {
                            multi.add_set_data(&path, value, None)
                        }
                        Expect::Any => multi.add_create(&path, value, &persistent),
                    }
                    .map_err(bad)?;
                    exists.insert(key, true);
                    Planned::At(sent)
                }
                Op::Delete { expect, .. } => {
                    let planned = match expect {
                        Expect::Absent => return Err(self.conflict(key, *expect).await),
                        Expect::Version(v) => match zk_version(*v) {
                            Some(v) => {
                                multi.add_delete(&path, Some(v)).map_err(bad)?;
                                Planned::At(sent)
                            }
                            None => return Err(self.conflict(key, *expect).await),
                        },
                        Expect::Any if exists.get(key) == Some(&true) => {
                            multi.add_delete(&path, None).map_err(bad)?;
                            Planned::At(sent)
                        }
                        Expect::Any => Planned::Nothing,
                    };
                    exists.insert(key, false);
                    planned
                }
            };
            if matches!(planned, Planned::At(_)) {
                sent += 1;
            }
            plan.push(planned);
        }
        if sent == 0 {
            return Ok(Ok(vec![Outcome::Deleted(false); ops.len()]));
        }
        let results = match multi.commit().await {
            Ok(results) => results,
            Err(MultiWriteError::OperationFailed { index, source }) => {
                if self.fence.is_some() && index == 0 {
                    let path = self.fence.as_ref().map(|f| f.0.clone()).unwrap_or_default();
                    return Err(StateError::Fenced { path });
                }
                let Some(i) = plan
                    .iter()
                    .position(|p| matches!(p, Planned::At(at) if *at == index))
                else {
                    return Err(unavailable(&self.root, source));
                };
                let op = &ops[i];
                let expect = match op {
                    Op::Put { expect, .. } | Op::Delete { expect, .. } => *expect,
                };
                return match source {
                    zk::Error::NodeExists | zk::Error::NoNode if expect == Expect::Any => {
                        Ok(Err(op.key()))
                    }
                    zk::Error::NodeExists | zk::Error::NoNode | zk::Error::BadVersion => {
                        Err(self.conflict(op.key(), expect).await)
                    }
                    e => Err(unavailable(&self.znode(op.key()), e)),
                };
            }
            Err(MultiWriteError::RequestFailed { source }) => {
                return Err(unavailable(&self.root, source));
            }
        };
        let mut outcomes = Vec::with_capacity(ops.len());
        for planned in plan {
            outcomes.push(match planned {
                Planned::Nothing => Outcome::Deleted(false),
                Planned::At(at) => match results.get(at) {
                    Some(MultiWriteResult::Create { .. }) => Outcome::Put(1),
                    Some(MultiWriteResult::SetData { stat }) => {
                        Outcome::Put(stat.version as u64 + 1)
                    }
                    Some(MultiWriteResult::Delete) => Outcome::Deleted(true),
                    other => {
                        return Err(StateError::Unavailable {
                            reason: format!("unexpected ZooKeeper multi result {other:?}"),
                        });
                    }
                },
            });
        }
        Ok(Ok(outcomes))
    }
}

/// Our version `v` (ZooKeeper's plus one) as ZooKeeper's, if it can be one.
fn zk_version(v: u64) -> Option<i32> {
    v.checked_sub(1).and_then(|v| i32::try_from(v).ok())
}

impl Store for ZooKeeperStore {
    async fn get(&self, key: &str) -> Result<Option<Entry>, StateError> {
        validate_key(key)?;
        let path = self.znode(key);
        match self.client.get_data(&path).await {
            Ok((value, stat)) => Ok(Some(Entry {
                value,
                version: stat.version as u64 + 1,
            })),
            Err(zk::Error::NoNode) => Ok(None),
            Err(e) => Err(unavailable(&path, e)),
        }
    }

    async fn put(&self, key: &str, value: Vec<u8>, expect: Expect) -> Result<u64, StateError> {
        let op = Op::Put {
            key: key.to_string(),
            value,
            expect,
        };
        match self.run(std::slice::from_ref(&op)).await?.first() {
            Some(Outcome::Put(v)) => Ok(*v),
            other => Err(StateError::Unavailable {
                reason: format!("unexpected outcome of a put: {other:?}"),
            }),
        }
    }

    async fn delete(&self, key: &str, expect: Expect) -> Result<bool, StateError> {
        let op = Op::Delete {
            key: key.to_string(),
            expect,
        };
        Ok(self.run(std::slice::from_ref(&op)).await?.first() == Some(&Outcome::Deleted(true)))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        let children = match self.client.list_children(&self.root).await {
            Ok(children) => children,
            Err(zk::Error::NoNode) => return Ok(Vec::new()),
            Err(e) => return Err(unavailable(&self.root, e)),
        };
        let mut keys: Vec<String> = children
            .iter()
            .filter_map(|name| {
                let key = unescape(name);
                if key.is_none() {
                    tracing::debug!(name, root = %self.root, "ignoring a znode that is not a store key");
                }
                key
            })
            .filter(|k| k.starts_with(prefix))
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// Reads in batches of 256 keys, one `multiRead` each.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Entry>>, StateError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(READ_BATCH) {
            let mut reader = self.client.new_multi_reader();
            for key in chunk {
                validate_key(key)?;
                reader
                    .add_get_data(&self.znode(key))
                    .map_err(|e| unavailable(&self.znode(key), e))?;
            }
            let results = reader
                .commit()
                .await
                .map_err(|e| unavailable(&self.root, e))?;
            if results.len() != chunk.len() {
                return Err(StateError::Unavailable {
                    reason: format!(
                        "ZooKeeper answered {} reads of {}",
                        results.len(),
                        chunk.len()
                    ),
                });
            }
            for (key, result) in chunk.iter().zip(results) {
                out.push(match result {
                    zk::MultiReadResult::Data { data, stat } => Some(Entry {
                        value: data,
                        version: stat.version as u64 + 1,
                    }),
                    zk::MultiReadResult::Error {
                        err: zk::Error::NoNode,
                    } => None,
                    zk::MultiReadResult::Error { err } => {
                        return Err(unavailable(&self.znode(key), err));
                    }
                    other => {
                        return Err(StateError::Unavailable {
                            reason: format!("unexpected ZooKeeper read result {other:?}"),
                        });
                    }
                });
            }
        }
        Ok(out)
    }

    async fn apply(&self, ops: Vec<Op>) -> Result<Vec<Option<u64>>, StateError> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .run(&ops)
            .await?
            .into_iter()
            .map(|o| match o {
                Outcome::Put(v) => Some(v),
                Outcome::Deleted(_) => None,
            })
            .collect())
    }
}

/// A key as one znode name: `%`, `/`, controls and non-ASCII bytes
/// percent-encoded (ZooKeeper refuses some Unicode ranges in names).
fn escape(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b == b'%' || b == b'/' || !(0x20..0x7f).contains(&b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// The key a znode name stands for, if it is one of ours.
fn unescape(name: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(name.len());
    let mut it = name.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hex = [it.next()?, it.next()?];
            bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes)
        .ok()
        .filter(|k| validate_key(k).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_escape_to_one_name_and_back() {
        for key in ["registry/agents/S1", "a%2Fb", "ünï/cödé", "x y/z\u{7f}"] {
            let name = escape(key);
            assert!(!name.contains('/'), "{name}");
            assert!(name.is_ascii());
            assert_eq!(unescape(&name).as_deref(), Some(key));
        }
        assert_eq!(escape("registry/agents"), "registry%2Fagents");
        assert_eq!(
            unescape("json.info_0000000001").as_deref(),
            Some("json.info_0000000001")
        );
        assert_eq!(unescape("bad%2"), None);
        assert_eq!(unescape("bad%zz"), None);
        assert_eq!(unescape("%2Fleading"), None);
    }

    #[test]
    fn versions_map_onto_zookeepers() {
        assert_eq!(zk_version(1), Some(0));
        assert_eq!(zk_version(0), None);
        assert_eq!(zk_version(u64::MAX), None);
    }
}
