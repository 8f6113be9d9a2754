//! High availability: masters elect their leader through ZooKeeper, as
//! Mesos' do.
//!
//! Each master contends with an ephemeral sequential znode
//! `<zk path>/json.info_<seq>` holding its `MasterInfo` as JSON; the
//! lowest sequence leads. A standby follows the leader (its HTTP server
//! redirects to it). Once elected, a master recovers the registry (in
//! ZooKeeper with `--registry=replicated`, its writes fenced by its
//! candidacy znode), starts a master actor and serves; agents re-register
//! and frameworks resubscribe as after a restart. When its session is
//! disconnected or lost, it stops leading at once (the actor and every
//! stream end, so nobody mistakes it for the leader), closes the session
//! and contends again.

use crate::actor::{Command, MasterActor};
use crate::config::MasterConfig;
use crate::registry;
use mesos_proto::v1::MasterInfo;
use mesos_state::zk::{self, Candidacy, ZkUrl, ZooKeeperStore};
use mesos_state::{AnyStore, StateError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// What this master is doing, for its HTTP server.
#[derive(Debug, Clone)]
pub(crate) enum Role {
    /// Leading: commands go to this actor.
    Leading(mpsc::Sender<Command>),
    /// Not leading; the leader, if one is known.
    Standby(Option<Box<MasterInfo>>),
}

/// Aborts a task when dropped, so that a stopped contender takes its
/// master actor down with it.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Contends for leadership for as long as the master runs; leads while
/// elected. `store` is the registry store unless it is replicated (then
/// it is opened in ZooKeeper on each election).
pub(crate) async fn contend(
    config: MasterConfig,
    mut info: MasterInfo,
    url: ZkUrl,
    store: Option<Arc<AnyStore>>,
    role: watch::Sender<Role>,
) {
    let timeout = config.zk_session_timeout;
    let mut backoff = Duration::from_millis(250);
    loop {
        role.send_replace(Role::Standby(None));
        let term = match Term::begin(&url, timeout, &info).await {
            Ok(term) => term,
            Err(e) => {
                tracing::warn!(%url, "cannot contend for leadership: {e}; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        backoff = Duration::from_millis(250);
        tracing::info!(
            candidacy = %term.candidacy.path(),
            "contending for leadership in {url}"
        );
        let elected = tokio::select! {
            elected = term.candidacy.elected() => elected,
            () = follow_leader(&term.client, url.path(), &role) => Err(StateError::Unavailable {
                reason: "the ZooKeeper session ended".into(),
            }),
        };
        if let Err(e) = elected {
            tracing::warn!("candidacy lost before election: {e}; contending again");
            continue;
        }
        match lead(&config, &info, &url, &term, store.clone(), &role).await {
            Ok(reason) => tracing::error!("lost leadership: {reason}; contending again"),
            Err(e) => tracing::error!("cannot lead: {e}; withdrawing and contending again"),
        }
        role.send_replace(Role::Standby(None));
        // A new term is a new master to agents and frameworks.
        info.id = uuid::Uuid::new_v4().to_string();
        // Dropping the term closes the session: ZooKeeper deletes the
        // candidacy at once instead of after the session timeout.
    }
}

/// One ZooKeeper session and the candidacy made with it.
struct Term {
    client: zk::client::Client,
    candidacy: Candidacy,
}

impl Term {
    async fn begin(url: &ZkUrl, timeout: Duration, info: &MasterInfo) -> Result<Term, StateError> {
        let client = zk::connect(url, timeout).await?;
        let data = mesos_proto::json::to_vec(info);
        let candidacy = Candidacy::contend(&client, url.path(), &data).await?;
        Ok(Term { client, candidacy })
    }
}

/// Leads until the candidacy is lost (returns why) or the actor stops.
async fn lead(
    config: &MasterConfig,
    info: &MasterInfo,
    url: &ZkUrl,
    term: &Term,
    store: Option<Arc<AnyStore>>,
    role: &watch::Sender<Role>,
) -> Result<String, StateError> {
    tracing::info!(id = %info.id, "elected the leading master");
    let store = match store {
        Some(store) => store,
        None => {
            let registry =
                ZooKeeperStore::open(term.client.clone(), &format!("{}/registry", url.path()))
                    .await?
                    .fenced_by(term.candidacy.path(), 0);
            Arc::new(AnyStore::ZooKeeper(registry))
        }
    };
    let recovered = tokio::select! {
        recovered = registry::recover(&store) => recovered.map_err(|e| StateError::Unavailable {
            reason: e.to_string(),
        })?,
        reason = term.candidacy.lost() => return Ok(reason),
    };
    let (commands, rx) = mpsc::channel(1024);
    // Fenced: once this term ends its writer can change nothing.
    let (registry, _writer) = registry::Registry::start(store);
    let actor = crate::loop_thread::spawn(
        MasterActor::new(config.clone(), info.clone(), registry, recovered).run(rx),
    );
    let mut actor = match actor {
        Ok(actor) => AbortOnDrop(actor),
        Err(e) => return Ok(format!("cannot start the event loop's thread: {e}")),
    };
    role.send_replace(Role::Leading(commands));
    tokio::select! {
        reason = term.candidacy.lost() => Ok(reason),
        _ = &mut actor.0 => Ok("the master actor stopped".into()),
    }
}

/// Keeps `role` naming the current leader while not leading, until the
/// session ends.
async fn follow_leader(client: &zk::client::Client, group: &str, role: &watch::Sender<Role>) {
    zk::follow_leader(client, group, |data| {
        let leader =
            data.and_then(
                |data| match mesos_proto::json::from_slice::<MasterInfo>(&data) {
                    Ok(info) => Some(Box::new(info)),
                    Err(e) => {
                        tracing::warn!("the leader's znode does not hold a MasterInfo: {e}");
                        None
                    }
                },
            );
        role.send_if_modified(|r| match r {
            Role::Standby(current) if *current != leader => {
                *current = leader;
                true
            }
            _ => false,
        });
    })
    .await;
}
