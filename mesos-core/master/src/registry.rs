//! The registry: what a restarted (or newly elected) master must know.
//!
//! As in Mesos, the registry holds the agents the master admitted, those it
//! marked unreachable or gone, role weights and quota; unlike Mesos it also
//! keeps each framework's `FrameworkInfo` and failover deadline, so a
//! master restart does not restart a disconnected framework's failover
//! clock.
//!
//! Layout in the [`Store`], one small entry per thing (so the ZooKeeper
//! backend maps every entry onto a znode under its 1 MiB limit):
//!
//! | key                          | value (protobuf)            |
//! |------------------------------|-----------------------------|
//! | `registry/agents/<id>`       | [`StoredAgent`]             |
//! | `registry/frameworks/<id>`   | [`StoredFramework`]         |
//! | `registry/weights/<role>`    | `mesos.v1.WeightInfo`       |
//! | `registry/quota/<role>`      | `mesos.v1.quota.QuotaConfig`|
//!
//! The actor changes its in-memory state first and hands the change to
//! [`Registry`], whose writer task applies changes in order, coalescing
//! whatever queued while the previous write was in flight into one atomic
//! [`Store::apply`]. Callers that must not answer before the change is
//! durable (agent admission, UPDATE_WEIGHTS, UPDATE_QUOTA) wait on the
//! receiver each change returns.

use mesos_proto::prost::Message;
use mesos_proto::v1::quota::QuotaConfig;
use mesos_proto::v1::{AgentId, AgentInfo, FrameworkId, FrameworkInfo, WeightInfo};
use mesos_state::{AnyStore, Expect, Op, StateError, Store};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

const AGENTS: &str = "registry/agents/";
const FRAMEWORKS: &str = "registry/frameworks/";
const WEIGHTS: &str = "registry/weights/";
const QUOTA: &str = "registry/quota/";

/// The most bytes of values put in one [`Store::apply`]: ZooKeeper refuses
/// a `multi` request over its 1 MiB buffer.
const MAX_BATCH_BYTES: usize = 512 * 1024;

/// Where an admitted agent stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub(crate) enum AgentStanding {
    /// Registered (or expected to re-register after a master restart).
    Admitted = 0,
    /// Marked unreachable; it may come back.
    Unreachable = 1,
    /// Marked gone by an operator; it may not come back.
    Gone = 2,
}

/// An agent as the registry keeps it.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct StoredAgent {
    /// Its info, with its id.
    #[prost(message, required, tag = "1")]
    pub(crate) info: AgentInfo,
    /// Where it stands.
    #[prost(enumeration = "AgentStanding", tag = "2")]
    pub(crate) standing: i32,
    /// When it was marked unreachable or gone (Unix seconds).
    #[prost(double, optional, tag = "3")]
    pub(crate) since: Option<f64>,
}

/// A framework as the registry keeps it.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct StoredFramework {
    /// Its info, with its id.
    #[prost(message, required, tag = "1")]
    pub(crate) info: FrameworkInfo,
    /// While disconnected: when it is removed unless it subscribes again
    /// (Unix seconds). Unset while connected.
    #[prost(double, optional, tag = "2")]
    pub(crate) failover_deadline: Option<f64>,
}

/// What the store held when the master started.
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    pub(crate) agents: Vec<StoredAgent>,
    pub(crate) frameworks: Vec<StoredFramework>,
    pub(crate) weights: BTreeMap<String, f64>,
    pub(crate) quotas: Vec<QuotaConfig>,
}

/// Why recovery failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The store failed.
    #[error("registry store: {0}")]
    Store(#[from] StateError),
    /// An entry does not decode.
    #[error("registry entry `{key}` is damaged: {reason}")]
    Damaged {
        /// The entry's key.
        key: String,
        /// The decoder's complaint.
        reason: String,
    },
}

async fn read_all<M: Message + Default>(
    store: &AnyStore,
    prefix: &str,
) -> Result<Vec<(String, M)>, RegistryError> {
    let keys = store.list(prefix).await?;
    let entries = store.get_many(&keys).await?;
    let mut out = Vec::with_capacity(keys.len());
    for (key, entry) in keys.into_iter().zip(entries) {
        let Some(entry) = entry else {
            continue;
        };
        let value = M::decode(entry.value.as_slice()).map_err(|e| RegistryError::Damaged {
            key: key.clone(),
            reason: e.to_string(),
        })?;
        out.push((key[prefix.len()..].to_string(), value));
    }
    Ok(out)
}

/// Reads the registry.
pub(crate) async fn recover(store: &AnyStore) -> Result<Recovered, RegistryError> {
    Ok(Recovered {
        agents: read_all(store, AGENTS)
            .await?
            .into_iter()
            .map(|(_, a)| a)
            .collect(),
        frameworks: read_all(store, FRAMEWORKS)
            .await?
            .into_iter()
            .map(|(_, f)| f)
            .collect(),
        weights: read_all::<WeightInfo>(store, WEIGHTS)
            .await?
            .into_iter()
            .map(|(role, w)| (role, w.weight))
            .collect(),
        quotas: read_all(store, QUOTA)
            .await?
            .into_iter()
            .map(|(_, q)| q)
            .collect(),
    })
}

/// Which of `marked` (agents and when they were marked unreachable, or
/// gone; Unix seconds) the registry forgets at `now`, as Mesos' registry
/// GC does: those marked longer than `max_age` ago, then the oldest while
/// more than `max_count` remain.
///
/// ```text
/// prune([(a, 0), (b, 50), (c, 90)], now 100, max_age 60 s, max_count 1) = [a, b]
/// ```
pub(crate) fn prune(
    mut marked: Vec<(AgentId, f64)>,
    now: f64,
    max_age: Duration,
    max_count: usize,
) -> Vec<AgentId> {
    marked.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    let excess = marked.len().saturating_sub(max_count);
    marked
        .into_iter()
        .enumerate()
        .filter(|(i, (_, since))| *i < excess || now - since > max_age.as_secs_f64())
        .map(|(_, (id, _))| id)
        .collect()
}

/// A change queued for the writer, and who waits for it.
#[derive(Debug)]
struct Change {
    ops: Vec<Op>,
    done: Option<oneshot::Sender<()>>,
}

/// A queued registry change: [`Committed::wait`] returns once it is
/// durable (false if the writer is gone). Dropping it does not cancel the
/// change.
#[derive(Debug)]
pub(crate) struct Committed(oneshot::Receiver<()>);

impl Committed {
    /// Waits until the change is in the store.
    pub(crate) async fn wait(self) -> bool {
        self.0.await.is_ok()
    }
}

/// The master's handle on the registry: changes go to a writer task.
#[derive(Debug, Clone)]
pub(crate) struct Registry {
    changes: mpsc::UnboundedSender<Change>,
}

fn put(key: String, value: Vec<u8>) -> Op {
    Op::Put {
        key,
        value,
        expect: Expect::Any,
    }
}

fn delete(key: String) -> Op {
    Op::Delete {
        key,
        expect: Expect::Any,
    }
}

impl Registry {
    /// Starts the writer task on `store`. The task ends once every
    /// `Registry` handle is dropped and what they queued is written.
    pub(crate) fn start(store: Arc<AnyStore>) -> (Registry, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_loop(store, rx));
        (Registry { changes: tx }, writer)
    }

    /// Queues `ops`; the receiver fires once they are durable.
    fn change(&self, ops: Vec<Op>) -> Committed {
        let (tx, rx) = oneshot::channel();
        let _ = self.changes.send(Change {
            ops,
            done: Some(tx),
        });
        Committed(rx)
    }

    /// Records an agent's standing.
    pub(crate) fn put_agent(
        &self,
        info: &AgentInfo,
        standing: AgentStanding,
        since: Option<f64>,
    ) -> Committed {
        let id = info.id.clone().unwrap_or_default();
        let stored = StoredAgent {
            info: info.clone(),
            standing: standing as i32,
            since,
        };
        self.change(vec![put(format!("{AGENTS}{id}"), stored.encode_to_vec())])
    }

    /// Records a framework and, while it is disconnected, its deadline.
    pub(crate) fn put_framework(
        &self,
        info: &FrameworkInfo,
        failover_deadline: Option<f64>,
    ) -> Committed {
        let id = info.id.clone().unwrap_or_default();
        let stored = StoredFramework {
            info: info.clone(),
            failover_deadline,
        };
        self.change(vec![put(
            format!("{FRAMEWORKS}{id}"),
            stored.encode_to_vec(),
        )])
    }

    /// Forgets agents (pruned unreachable or gone ones).
    pub(crate) fn remove_agents(&self, ids: &[AgentId]) -> Committed {
        self.change(
            ids.iter()
                .map(|id| delete(format!("{AGENTS}{id}")))
                .collect(),
        )
    }

    /// Forgets a framework (torn down, or past its failover timeout).
    pub(crate) fn remove_framework(&self, id: &FrameworkId) -> Committed {
        self.change(vec![delete(format!("{FRAMEWORKS}{id}"))])
    }

    /// Records role weights (a weight of 1 is the default and is deleted).
    pub(crate) fn put_weights(&self, weights: &[(String, f64)]) -> Committed {
        let ops = weights
            .iter()
            .map(|(role, weight)| {
                let key = format!("{WEIGHTS}{role}");
                if (*weight - 1.0).abs() < f64::EPSILON {
                    delete(key)
                } else {
                    let info = WeightInfo {
                        weight: *weight,
                        role: Some(role.clone()),
                    };
                    put(key, info.encode_to_vec())
                }
            })
            .collect();
        self.change(ops)
    }

    /// Records quota configs; one with no guarantees and no limits is
    /// the default and is deleted.
    pub(crate) fn put_quotas(&self, configs: &[QuotaConfig]) -> Committed {
        let ops = configs
            .iter()
            .map(|q| {
                let key = format!("{QUOTA}{}", q.role);
                if q.guarantees.is_empty() && q.limits.is_empty() {
                    delete(key)
                } else {
                    put(key, q.encode_to_vec())
                }
            })
            .collect();
        self.change(ops)
    }
}

/// Applies changes in order, coalescing whatever queued meanwhile; a
/// failed write is retried (with backoff) until it succeeds, so no change
/// is lost or reordered. Mesos aborts the master instead; we keep serving
/// and say so loudly.
async fn write_loop(store: Arc<AnyStore>, mut changes: mpsc::UnboundedReceiver<Change>) {
    while let Some(first) = changes.recv().await {
        let mut pending = vec![first];
        while let Ok(more) = changes.try_recv() {
            pending.push(more);
        }
        // The last op per key wins; keys keep their first position.
        let mut order: Vec<String> = Vec::new();
        let mut latest: BTreeMap<String, Op> = BTreeMap::new();
        let mut waiting = Vec::new();
        for change in pending {
            for op in change.ops {
                let key = op.key().to_string();
                if latest.insert(key.clone(), op).is_none() {
                    order.push(key);
                }
            }
            waiting.extend(change.done);
        }
        let mut ops: Vec<Op> = order
            .into_iter()
            .filter_map(|k| latest.remove(&k))
            .collect();
        while !ops.is_empty() {
            let mut size = 0;
            let take = ops
                .iter()
                .take_while(|op| {
                    size += match op {
                        Op::Put { value, .. } => value.len() + op.key().len(),
                        Op::Delete { .. } => op.key().len(),
                    };
                    size <= MAX_BATCH_BYTES
                })
                .count()
                .max(1);
            let batch: Vec<Op> = ops.drain(..take).collect();
            let mut backoff = Duration::from_millis(100);
            loop {
                match store.apply(batch.clone()).await {
                    Ok(_) => break,
                    Err(e @ StateError::Fenced { .. }) => {
                        // This master lost its leadership: its successor
                        // owns the registry now. Nothing more is written.
                        tracing::error!("registry write refused ({e}); registry writes stop");
                        return;
                    }
                    Err(e) if changes.is_closed() => {
                        tracing::error!("registry write failed ({e}) after the master stopped");
                        return;
                    }
                    Err(e) => {
                        tracing::error!(
                            "registry write failed ({e}); retrying in {backoff:?}: changes wait"
                        );
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
        }
        for done in waiting {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::prune;
    use std::time::Duration;

    #[test]
    fn registry_gc_forgets_the_old_and_the_excess_oldest_first() {
        let marked = |v: &[(&str, f64)]| -> Vec<(AgentId, f64)> {
            v.iter().map(|(id, t)| (AgentId::new(*id), *t)).collect()
        };
        let ids = |v: Vec<AgentId>| v.into_iter().map(|a| a.value).collect::<Vec<_>>();
        let day = Duration::from_secs(86_400);
        // By age only.
        let got = prune(
            marked(&[("b", 50.0), ("a", 0.0), ("c", 90.0)]),
            100.0,
            Duration::from_secs(60),
            10,
        );
        assert_eq!(ids(got), ["a"]);
        // By count: the oldest go first.
        let got = prune(
            marked(&[("c", 90.0), ("a", 10.0), ("b", 50.0)]),
            100.0,
            day,
            1,
        );
        assert_eq!(ids(got), ["a", "b"]);
        // Within both limits: nothing.
        assert!(prune(marked(&[("a", 99.0)]), 100.0, day, 1).is_empty());
        assert!(prune(Vec::new(), 100.0, day, 0).is_empty());
    }

    use super::*;
    use mesos_proto::v1::AgentId;
    use mesos_state::MemoryStore;

    #[tokio::test]
    async fn changes_are_durable_when_acknowledged_and_recovered_in_full() {
        let store = Arc::new(AnyStore::Memory(MemoryStore::new()));
        let (registry, _writer) = Registry::start(Arc::clone(&store));
        let agent = AgentInfo {
            id: Some(AgentId::new("S1")),
            hostname: "h1".into(),
            ..Default::default()
        };
        let framework = FrameworkInfo {
            id: Some(FrameworkId::new("F1")),
            name: "f".into(),
            user: "u".into(),
            ..Default::default()
        };
        let _ = registry.put_agent(&agent, AgentStanding::Admitted, None);
        let _ = registry.put_framework(&framework, Some(10.0));
        let _ = registry.put_framework(&framework, Some(20.0));
        let _ = registry.put_weights(&[("a/b".into(), 3.0), ("c".into(), 2.0)]);
        let _ = registry.put_weights(&[("c".into(), 1.0)]);
        let quota = QuotaConfig {
            role: "a".into(),
            guarantees: BTreeMap::from([(
                "cpus".to_string(),
                mesos_proto::v1::value::Scalar { value: 2.0 },
            )]),
            limits: BTreeMap::new(),
        };
        registry
            .put_quotas(std::slice::from_ref(&quota))
            .wait()
            .await
            .then_some(())
            .unwrap();

        let recovered = recover(&store).await.unwrap();
        assert_eq!(recovered.agents.len(), 1);
        assert_eq!(recovered.agents[0].info, agent);
        assert_eq!(recovered.frameworks.len(), 1);
        assert_eq!(recovered.frameworks[0].failover_deadline, Some(20.0));
        assert_eq!(
            recovered.weights,
            BTreeMap::from([("a/b".to_string(), 3.0)])
        );
        assert_eq!(recovered.quotas, vec![quota]);

        registry
            .put_agent(&agent, AgentStanding::Gone, Some(5.0))
            .wait()
            .await
            .then_some(())
            .unwrap();
        let recovered = recover(&store).await.unwrap();
        assert_eq!(recovered.agents[0].standing, AgentStanding::Gone as i32);
        registry
            .remove_framework(&FrameworkId::new("F1"))
            .wait()
            .await
            .then_some(())
            .unwrap();
        let recovered = recover(&store).await.unwrap();
        assert!(recovered.frameworks.is_empty());
    }

    #[tokio::test]
    async fn a_damaged_entry_is_named() {
        let store = AnyStore::Memory(MemoryStore::new());
        store
            .put("registry/agents/S9", b"\xff\xff".to_vec(), Expect::Any)
            .await
            .unwrap();
        let err = recover(&store).await.unwrap_err().to_string();
        assert!(err.contains("registry/agents/S9"), "{err}");
    }
}
