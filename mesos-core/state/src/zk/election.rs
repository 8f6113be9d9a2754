//! Leader election and detection over a ZooKeeper group, as Mesos does
//! it: each contender owns an ephemeral sequential znode
//! `<group>/json.info_<seq>` holding its `MasterInfo` as JSON, and the
//! member with the lowest sequence leads.

use super::{ZkUrl, connect, mkdir, unavailable};
use crate::StateError;
use std::time::Duration;
use tokio::sync::watch;
use zookeeper_client::{self as zk, Acls, CreateMode, SessionState};

/// The label of the znodes Mesos masters contend with (`json.info_<seq>`).
pub const MASTER_LABEL: &str = "json.info";

/// The sequence of a group member's znode name: `json.info_0000000007` (or
/// an older Mesos' protobuf `info_0000000007`) is 7; other names are not
/// members.
///
/// ```
/// use mesos_state::zk::member_sequence;
/// assert_eq!(member_sequence("json.info_0000000007"), Some(7));
/// assert_eq!(member_sequence("info_0000000003"), Some(3));
/// assert_eq!(member_sequence("log_replicas"), None);
/// ```
pub fn member_sequence(name: &str) -> Option<u64> {
    let digits = name
        .strip_prefix("json.info_")
        .or_else(|| name.strip_prefix("info_"))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The members of a group, lowest sequence (the leader) first.
fn members(children: &[String]) -> Vec<(u64, &str)> {
    let mut members: Vec<(u64, &str)> = children
        .iter()
        .filter_map(|c| member_sequence(c).map(|s| (s, c.as_str())))
        .collect();
    members.sort();
    members
}

/// The leader of the group at `group`: the name and data of its
/// lowest-sequence `json.info_` member, if any.
pub async fn leader(
    client: &zk::Client,
    group: &str,
) -> Result<Option<(String, Vec<u8>)>, StateError> {
    loop {
        let children = match client.list_children(group).await {
            Ok(children) => children,
            Err(zk::Error::NoNode) => return Ok(None),
            Err(e) => return Err(unavailable(group, e)),
        };
        let Some((_, name)) = members(&children)
            .into_iter()
            .find(|(_, name)| name.starts_with("json.info_"))
        else {
            return Ok(None);
        };
        match client.get_data(&format!("{group}/{name}")).await {
            Ok((data, _)) => return Ok(Some((name.to_string(), data))),
            // It left between the listing and the read: look again.
            Err(zk::Error::NoNode) => continue,
            Err(e) => return Err(unavailable(group, e)),
        }
    }
}

/// One contender's membership of a group ([`Candidacy::contend`]). It
/// lasts as long as the ZooKeeper session that created it: drop the
/// session's client to withdraw (ZooKeeper deletes the znode).
#[derive(Debug, Clone)]
pub struct Candidacy {
    client: zk::Client,
    group: String,
    name: String,
    sequence: u64,
}

impl Candidacy {
    /// Joins the group at `group` (created if missing) with `data`
    /// (a `MasterInfo` as JSON, for masters).
    pub async fn contend(
        client: &zk::Client,
        group: &str,
        data: &[u8],
    ) -> Result<Candidacy, StateError> {
        let group = group.trim_end_matches('/').to_string();
        mkdir(client, &group).await?;
        let prefix = format!("{group}/{MASTER_LABEL}_");
        let (_, sequence) = client
            .create(
                &prefix,
                data,
                &CreateMode::EphemeralSequential.with_acls(Acls::anyone_all()),
            )
            .await
            .map_err(|e| unavailable(&prefix, e))?;
        let sequence = u64::try_from(sequence.into_i64()).map_err(|_| StateError::Unavailable {
            reason: "ZooKeeper returned a negative sequence".into(),
        })?;
        Ok(Candidacy {
            client: client.clone(),
            name: format!("{MASTER_LABEL}_{sequence:010}"),
            group,
            sequence,
        })
    }

    /// The full path of this contender's znode.
    pub fn path(&self) -> String {
        format!("{}/{}", self.group, self.name)
    }

    /// The sequence ZooKeeper gave this contender.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// Waits until this contender leads (its znode has the lowest
    /// sequence of the group). Fails if the candidacy is lost first.
    pub async fn elected(&self) -> Result<(), StateError> {
        loop {
            let (children, _, watcher) = self
                .client
                .get_and_watch_children(&self.group)
                .await
                .map_err(|e| unavailable(&self.group, e))?;
            let members = members(&children);
            if !members.iter().any(|(_, n)| *n == self.name) {
                return Err(StateError::Unavailable {
                    reason: format!("the candidacy {} is gone", self.path()),
                });
            }
            if members.first().map(|(_, n)| *n) == Some(self.name.as_str()) {
                return Ok(());
            }
            tokio::select! {
                _ = watcher.changed() => {}
                reason = self.lost() => {
                    return Err(StateError::Unavailable { reason });
                }
            }
        }
    }

    /// Waits until the candidacy is lost, and says why: the session was
    /// disconnected (the leader must step down at once: it can no longer
    /// know whether its session lives), expired or closed, or the znode
    /// was deleted.
    pub async fn lost(&self) -> String {
        let mut states = self.client.state_watcher();
        let mut state = states.state();
        loop {
            if !matches!(
                state,
                SessionState::SyncConnected | SessionState::ConnectedReadOnly
            ) {
                return format!("ZooKeeper session {state}");
            }
            // The request waits while disconnected: the session's state
            // must be heard meanwhile, or a cut-off leader would learn it
            // only when its session expires.
            let path = self.path();
            let watcher = tokio::select! {
                found = self.client.check_and_watch_stat(&path) => match found {
                    Ok((Some(_), watcher)) => watcher,
                    Ok((None, _)) => return format!("the candidacy {path} was deleted"),
                    Err(e) => return format!("ZooKeeper request failed: {e}"),
                },
                s = states.changed() => {
                    state = s;
                    continue;
                }
            };
            tokio::select! {
                s = states.changed() => state = s,
                _ = watcher.changed() => {}
            }
        }
    }
}

/// Follows the leader of a group from outside it, across leader changes,
/// disconnections and expired sessions (a new session is opened, with
/// backoff). Holds the leader's data: `None` while there is none or none
/// is known. The detection runs in a task of the current Tokio runtime,
/// stopped when the detector is dropped.
#[derive(Debug)]
pub struct LeaderDetector {
    leader: watch::Receiver<Option<Vec<u8>>>,
    task: tokio::task::JoinHandle<()>,
}

impl LeaderDetector {
    /// Starts detecting the leader of the group at `url`'s path.
    pub fn start(url: ZkUrl, session_timeout: Duration) -> LeaderDetector {
        let (tx, leader) = watch::channel(None);
        let task = tokio::spawn(detect(url, session_timeout, tx));
        LeaderDetector { leader, task }
    }

    /// The leader's data as last seen.
    pub fn current(&self) -> Option<Vec<u8>> {
        self.leader.borrow().clone()
    }

    /// Waits up to `within` for a leader to be known.
    pub async fn leader(&mut self, within: Duration) -> Option<Vec<u8>> {
        wait_for_leader(&mut self.leader, within).await
    }

    /// Waits for the leader to change (to another, or to none).
    pub async fn changed(&mut self) -> Option<Vec<u8>> {
        if self.leader.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        self.leader.borrow_and_update().clone()
    }

    /// A receiver of every change, for holders that select on it.
    pub fn subscribe(&self) -> watch::Receiver<Option<Vec<u8>>> {
        self.leader.clone()
    }
}

/// Waits up to `within` until `leader` (from
/// [`LeaderDetector::subscribe`]) names a leader; its data.
pub async fn wait_for_leader(
    leader: &mut watch::Receiver<Option<Vec<u8>>>,
    within: Duration,
) -> Option<Vec<u8>> {
    match tokio::time::timeout(within, leader.wait_for(Option::is_some)).await {
        Ok(Ok(found)) => found.clone(),
        _ => None,
    }
}

impl Drop for LeaderDetector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn detect(url: ZkUrl, session_timeout: Duration, tx: watch::Sender<Option<Vec<u8>>>) {
    let mut backoff = Duration::from_millis(250);
    loop {
        let client = match connect(&url, session_timeout).await {
            Ok(client) => client,
            Err(e) => {
                tracing::warn!(%url, "leader detection: {e}; retrying in {backoff:?}");
                tx.send_if_modified(|l| l.take().is_some());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(250);
        let publish = |found: Option<Vec<u8>>| {
            tx.send_if_modified(|l| {
                let changed = *l != found;
                *l = found;
                changed
            });
        };
        tokio::select! {
            _ = tx.closed() => return,
            () = follow_leader(&client, url.path(), publish) => {}
        }
        tracing::info!(%url, "leader detection: the ZooKeeper session ended; reconnecting");
        tx.send_if_modified(|l| l.take().is_some());
    }
}

/// Follows the leader of the group at `group` on `client`'s session:
/// calls `publish` with the leader's data (`None`: no leader) at once and
/// after every change of the group, until the session ends (expired,
/// closed, or refused).
pub async fn follow_leader(
    client: &zk::Client,
    group: &str,
    mut publish: impl FnMut(Option<Vec<u8>>),
) {
    let mut states = client.state_watcher();
    loop {
        if matches!(
            states.state(),
            SessionState::Expired | SessionState::Closed | SessionState::AuthFailed
        ) {
            return;
        }
        match client.get_and_watch_children(group).await {
            Ok((_, _, watcher)) => {
                publish(
                    leader(client, group)
                        .await
                        .ok()
                        .flatten()
                        .map(|(_, data)| data),
                );
                watcher.changed().await;
            }
            Err(e) => {
                // No group yet, or a failed request: look again after a
                // pause, or on a session change.
                tracing::debug!(group, "following the leader: {e}");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = states.changed() => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_sequence_leads() {
        let children: Vec<String> = [
            "json.info_0000000012",
            "log_replicas",
            "json.info_0000000003",
            "info_0000000009",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let m = members(&children);
        assert_eq!(
            m.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            vec![3, 9, 12]
        );
        assert_eq!(member_sequence("json.info_"), None);
        assert_eq!(member_sequence("json.info_12a"), None);
    }
}
