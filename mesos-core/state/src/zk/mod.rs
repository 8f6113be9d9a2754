//! ZooKeeper: the replicated [`Store`](crate::Store) backend, leader
//! election and leader detection, as Mesos uses ZooKeeper.
//!
//! Everything lives under the path of a `zk://` URL
//! (`zk://h1:2181,h2:2181/mesos`): masters contend with `json.info_<seq>`
//! ephemeral sequential znodes holding their `MasterInfo` as JSON (the
//! lowest sequence leads, so existing Mesos tools find the leader), and the
//! registry is kept under `<path>/registry`.
//!
//! One [`zookeeper_client::Client`] is one ZooKeeper session. Sessions end
//! for good when they expire; the holder of a [`Candidacy`] learns of it
//! from [`Candidacy::lost`] and starts over with a new session.
//!
//! ```
//! use mesos_state::zk::ZkUrl;
//! let url: ZkUrl = "zk://10.0.0.1:2181,10.0.0.2:2181/mesos".parse().unwrap();
//! assert_eq!(url.servers(), "10.0.0.1:2181,10.0.0.2:2181");
//! assert_eq!(url.path(), "/mesos");
//! assert!("zk://10.0.0.1:2181".parse::<ZkUrl>().is_err()); // no path
//! ```

mod election;
mod store;

pub use election::{
    Candidacy, LeaderDetector, MASTER_LABEL, follow_leader, leader, member_sequence,
    wait_for_leader,
};
pub use store::ZooKeeperStore;

pub use zookeeper_client as client;

use crate::StateError;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Mesos' default `--zk_session_timeout` (10 seconds).
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// A ZooKeeper URL as Mesos takes it: `zk://host:port[,host:port...]/path`,
/// optionally with digest credentials `zk://user:password@hosts/path`.
#[derive(Clone, PartialEq, Eq)]
pub struct ZkUrl {
    servers: String,
    path: String,
    credentials: Option<(String, String)>,
}

impl ZkUrl {
    /// The ensemble as a ZooKeeper connect string (`h1:2181,h2:2181`).
    pub fn servers(&self) -> &str {
        &self.servers
    }

    /// The znode under which everything lives (`/mesos`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The same ensemble with `child` appended to the path.
    ///
    /// ```
    /// # use mesos_state::zk::ZkUrl;
    /// let url: ZkUrl = "zk://127.0.0.1:2181/mesos".parse().unwrap();
    /// assert_eq!(url.join("registry").path(), "/mesos/registry");
    /// ```
    pub fn join(&self, child: &str) -> ZkUrl {
        ZkUrl {
            path: format!("{}/{}", self.path, child.trim_matches('/')),
            ..self.clone()
        }
    }
}

/// Why a `zk://` URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ZooKeeper URL {url:?}: {reason} (expected zk://host:port[,host:port...]/path)")]
pub struct ZkUrlError {
    url: String,
    reason: &'static str,
}

impl FromStr for ZkUrl {
    type Err = ZkUrlError;

    fn from_str(s: &str) -> Result<ZkUrl, ZkUrlError> {
        let fail = |reason| ZkUrlError {
            url: s.chars().take(200).collect(),
            reason,
        };
        let rest = s
            .trim()
            .strip_prefix("zk://")
            .ok_or(fail("not a zk:// URL"))?;
        let (authority, path) = rest
            .find('/')
            .map(|i| rest.split_at(i))
            .ok_or(fail("no znode path"))?;
        let path = path.trim_end_matches('/');
        if path.is_empty() {
            return Err(fail("no znode path"));
        }
        if path
            .split('/')
            .skip(1)
            .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(fail("the path has an empty, `.` or `..` component"));
        }
        let (credentials, servers) = match authority.rsplit_once('@') {
            Some((creds, servers)) => {
                let (user, password) = creds
                    .split_once(':')
                    .ok_or(fail("credentials must be user:password"))?;
                (Some((user.to_string(), password.to_string())), servers)
            }
            None => (None, authority),
        };
        if servers.is_empty() || servers.split(',').any(|h| h.trim().is_empty()) {
            return Err(fail("no ZooKeeper server"));
        }
        for server in servers.split(',') {
            if let Some((_, port)) = server.rsplit_once(':')
                && port.parse::<u16>().is_err()
            {
                return Err(fail("a server's port is not a number"));
            }
        }
        Ok(ZkUrl {
            servers: servers.to_string(),
            path: path.to_string(),
            credentials,
        })
    }
}

/// Shows the URL with the password hidden.
impl fmt::Display for ZkUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("zk://")?;
        if let Some((user, _)) = &self.credentials {
            write!(f, "{user}:***@")?;
        }
        write!(f, "{}{}", self.servers, self.path)
    }
}

impl fmt::Debug for ZkUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ZkUrl({self})")
    }
}

/// Opens a session with the ensemble of `url` and makes sure its path
/// exists. Gives up after `session_timeout` when no server answers.
pub async fn connect(
    url: &ZkUrl,
    session_timeout: Duration,
) -> Result<zookeeper_client::Client, StateError> {
    let mut connector = zookeeper_client::Client::connector()
        .with_session_timeout(session_timeout)
        .with_connection_timeout(session_timeout);
    if let Some((user, password)) = &url.credentials {
        connector = connector.with_auth("digest", format!("{user}:{password}").as_bytes());
    }
    let client = tokio::time::timeout(session_timeout, connector.connect(&url.servers))
        .await
        .map_err(|_| StateError::Unavailable {
            reason: format!(
                "no ZooKeeper server of {} answered within {session_timeout:?}",
                url.servers
            ),
        })?
        .map_err(|e| unavailable(url.servers(), e))?;
    mkdir(&client, url.path()).await?;
    Ok(client)
}

/// Creates `path` and its parents as persistent znodes if missing.
pub(crate) async fn mkdir(client: &zookeeper_client::Client, path: &str) -> Result<(), StateError> {
    use zookeeper_client::{Acls, CreateMode};
    client
        .mkdir(path, &CreateMode::Persistent.with_acls(Acls::anyone_all()))
        .await
        .map_err(|e| unavailable(path, e))
}

/// A ZooKeeper failure that is not a condition of the data (lost
/// connection, expired session, ...).
pub(crate) fn unavailable(what: &str, e: zookeeper_client::Error) -> StateError {
    StateError::Unavailable {
        reason: format!("ZooKeeper request on {what} failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_as_mesos_takes_them() {
        let url: ZkUrl = "zk://u:p@a:2181,b:2182/mesos/prod/".parse().unwrap();
        assert_eq!(url.servers(), "a:2181,b:2182");
        assert_eq!(url.path(), "/mesos/prod");
        assert_eq!(url.to_string(), "zk://u:***@a:2181,b:2182/mesos/prod");
        assert_eq!(url.credentials, Some(("u".into(), "p".into())));
        let plain: ZkUrl = "zk://zk1/mesos".parse().unwrap();
        assert_eq!(plain.servers(), "zk1");
        for bad in [
            "http://a:2181/mesos",
            "zk://a:2181",
            "zk://a:2181/",
            "zk:///mesos",
            "zk://a:2181,/mesos",
            "zk://a:x/mesos",
            "zk://a:2181/mesos//x",
            "zk://a:2181/mesos/../x",
            "zk://user@a:2181/mesos",
        ] {
            let err = bad.parse::<ZkUrl>().unwrap_err().to_string();
            assert!(err.contains("invalid ZooKeeper URL"), "{bad}: {err}");
        }
    }
}
