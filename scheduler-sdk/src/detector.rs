//! Where the masters are: `host:port`, a list, or `zk://...`.

use crate::SchedulerError;

/// The masters a scheduler may talk to, as Mesos tools accept them.
///
/// ```
/// use mesos_scheduler::Masters;
///
/// let one: Masters = "127.0.0.1:5050".parse().unwrap();
/// assert_eq!(one.candidates(), ["127.0.0.1:5050"]);
///
/// let list: Masters = "m1:5050,http://m2:5050/".parse().unwrap();
/// assert_eq!(list.candidates(), ["m1:5050", "m2:5050"]);
///
/// let zk: Masters = "zk://z1:2181,z2:2181/mesos".parse().unwrap();
/// assert!(matches!(zk, Masters::ZooKeeper { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Masters {
    /// Masters by address (`host:port`); a non-leading one redirects to
    /// the leader.
    List(Vec<String>),
    /// ZooKeeper servers and the path under which masters contend (their
    /// `json.info_*` znodes).
    ZooKeeper {
        /// `host:port` of each ZooKeeper server.
        servers: Vec<String>,
        /// The znode path, such as `/mesos`.
        path: String,
    },
}

impl Masters {
    /// The masters to try, in order (empty for ZooKeeper: ask it).
    pub fn candidates(&self) -> &[String] {
        match self {
            Masters::List(list) => list,
            Masters::ZooKeeper { .. } => &[],
        }
    }
}

impl std::fmt::Display for Masters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Masters::List(list) => f.write_str(&list.join(",")),
            Masters::ZooKeeper { servers, path } => write!(f, "zk://{}{path}", servers.join(",")),
        }
    }
}

impl std::str::FromStr for Masters {
    type Err = SchedulerError;

    fn from_str(text: &str) -> Result<Masters, SchedulerError> {
        let invalid = |reason: &str| SchedulerError::InvalidMasters {
            given: text.to_string(),
            reason: reason.to_string(),
        };
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("zk://") {
            let (hosts, path) = rest.split_once('/').ok_or_else(|| {
                invalid("a zk:// address needs a path, as in zk://host:2181/mesos")
            })?;
            let servers: Vec<String> = hosts
                .split(',')
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .collect();
            if servers.is_empty() {
                return Err(invalid("no ZooKeeper server before the path"));
            }
            let path = format!("/{}", path.trim_end_matches('/'));
            if path == "/" {
                return Err(invalid("the ZooKeeper path is empty"));
            }
            return Ok(Masters::ZooKeeper { servers, path });
        }
        let mut list = Vec::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let host = item
                .strip_prefix("http://")
                .unwrap_or(item)
                .trim_end_matches('/');
            if host.contains('/') || host.starts_with("https://") {
                return Err(invalid(&format!(
                    "`{item}` is not host:port (https is not supported yet)"
                )));
            }
            let (name, port) = host
                .rsplit_once(':')
                .ok_or_else(|| invalid(&format!("`{item}` has no port; expected host:port")))?;
            if name.is_empty() || port.parse::<u16>().is_err() {
                return Err(invalid(&format!("`{item}` is not host:port")));
            }
            list.push(host.to_string());
        }
        if list.is_empty() {
            return Err(invalid("no master given; expected host:port"));
        }
        Ok(Masters::List(list))
    }
}

/// The URL a `Location` header of a redirect names: Mesos sends
/// `//host:port/path`; absolute URLs and paths on `base` are also taken.
///
/// ```
/// use mesos_scheduler::detector::resolve_location;
///
/// assert_eq!(
///     resolve_location("http://m1:5050/api/v1/scheduler", "//m2:5050/api/v1/scheduler"),
///     "http://m2:5050/api/v1/scheduler"
/// );
/// ```
pub fn resolve_location(base: &str, location: &str) -> String {
    if let Some(rest) = location.strip_prefix("//") {
        format!("http://{rest}")
    } else if location.starts_with("http://") || location.starts_with("https://") {
        location.to_string()
    } else {
        let origin_end = base
            .find("://")
            .and_then(|i| base[i + 3..].find('/').map(|j| i + 3 + j))
            .unwrap_or(base.len());
        format!(
            "{}/{}",
            &base[..origin_end],
            location.trim_start_matches('/')
        )
    }
}

/// The `host:port` of a URL (`http://host:port/path`).
pub(crate) fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_addresses_name_the_problem() {
        for (text, needle) in [
            ("", "no master"),
            ("m1", "has no port"),
            ("m1:x", "not host:port"),
            ("zk://z1:2181", "needs a path"),
            ("zk:///mesos", "no ZooKeeper server"),
            ("https://m1:5050", "https"),
        ] {
            let err = text.parse::<Masters>().unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn locations_resolve_against_the_base() {
        assert_eq!(
            resolve_location(
                "http://m1:5050/api/v1/scheduler",
                "/master/api/v1/scheduler"
            ),
            "http://m1:5050/master/api/v1/scheduler"
        );
        assert_eq!(
            resolve_location("http://m1:5050/x", "http://m3:1/y"),
            "http://m3:1/y"
        );
        assert_eq!(authority("http://m1:5050/api"), "m1:5050");
    }

    #[test]
    fn zk_paths_are_normalised() {
        let zk: Masters = "zk://z1:2181,z2:2181/mesos/".parse().unwrap();
        assert_eq!(
            zk,
            Masters::ZooKeeper {
                servers: vec!["z1:2181".into(), "z2:2181".into()],
                path: "/mesos".into()
            }
        );
        assert_eq!(zk.to_string(), "zk://z1:2181,z2:2181/mesos");
    }
}
