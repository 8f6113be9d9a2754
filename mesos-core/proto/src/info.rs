//! Conveniences on messages: the `*Info` ones and metrics.

use crate::v1::{MasterInfo, Metric};
use std::net::Ipv4Addr;

impl Metric {
    /// Metrics from names and values, as GET_METRICS answers them.
    ///
    /// ```
    /// use mesos_proto::v1::Metric;
    /// let list = Metric::list([("master/elected".to_string(), 1.0)]);
    /// assert_eq!(list[0].name, "master/elected");
    /// assert_eq!(list[0].value, Some(1.0));
    /// ```
    pub fn list(values: impl IntoIterator<Item = (String, f64)>) -> Vec<Metric> {
        values
            .into_iter()
            .map(|(name, value)| Metric {
                name,
                value: Some(value),
            })
            .collect()
    }
}

impl MasterInfo {
    /// The `host:port` at which the master serves HTTP, as Mesos' own
    /// clients reach it: the IP of `address` (else of `pid`, else the
    /// packed `ip` field), falling back to the hostname.
    ///
    /// ```
    /// use mesos_proto::v1::{Address, MasterInfo};
    /// let info = MasterInfo {
    ///     port: 5050,
    ///     address: Some(Address { ip: Some("10.0.0.7".into()), port: 5050, hostname: None }),
    ///     ..Default::default()
    /// };
    /// assert_eq!(info.authority(), "10.0.0.7:5050");
    /// ```
    pub fn authority(&self) -> String {
        let from_address = self.address.as_ref().and_then(|a| {
            let host =
                a.ip.clone()
                    .filter(|ip| !ip.is_empty())
                    .or_else(|| a.hostname.clone())?;
            let port = u16::try_from(a.port).ok().filter(|p| *p != 0)?;
            Some((host, port))
        });
        if let Some((host, port)) = from_address {
            return join(&host, port);
        }
        let port = u16::try_from(self.port).unwrap_or(5050);
        let from_pid = self
            .pid
            .as_deref()
            .and_then(|pid| pid.split_once('@'))
            .and_then(|(_, addr)| addr.rsplit_once(':'))
            .map(|(ip, _)| ip.to_string());
        let host = from_pid
            .or_else(|| (self.ip != 0).then(|| Ipv4Addr::from(self.ip.to_le_bytes()).to_string()))
            .or_else(|| self.hostname.clone())
            .unwrap_or_else(|| "localhost".into());
        join(&host, port)
    }
}

/// `host:port`, with brackets around an IPv6 address.
fn join(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use crate::v1::MasterInfo;

    #[test]
    fn the_authority_comes_from_the_best_field_there_is() {
        let mut info = MasterInfo {
            port: 5050,
            ip: u32::from_le_bytes([10, 1, 2, 3]),
            hostname: Some("m1".into()),
            ..Default::default()
        };
        assert_eq!(info.authority(), "10.1.2.3:5050");
        info.pid = Some("master@10.9.9.9:5050".into());
        assert_eq!(info.authority(), "10.9.9.9:5050");
        info.ip = 0;
        info.pid = None;
        assert_eq!(info.authority(), "m1:5050");
        info.address = Some(crate::v1::Address {
            ip: Some("::1".into()),
            hostname: None,
            port: 5051,
        });
        assert_eq!(info.authority(), "[::1]:5051");
    }
}
