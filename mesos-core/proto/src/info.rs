//! Conveniences on messages: the `*Info` ones and metrics.

use crate::v1::{ExecutorInfo, FrameworkId, MasterInfo, Metric, Task, TaskInfo, TaskState};
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

impl Task {
    /// The task a master or agent keeps for `info`, in `state`, as Mesos
    /// makes it (`protobuf::createTask`): its ids, name, resources and
    /// limits, and what service discovery and the operator API show
    /// (labels, discovery, container, health check, kill policy); its
    /// user is its command's, else its executor's. `executor` is the one
    /// it runs under: its own, or its group's.
    ///
    /// ```
    /// use mesos_proto::v1::{CommandInfo, FrameworkId, Task, TaskInfo, TaskState};
    /// let info = TaskInfo {
    ///     name: "web".into(),
    ///     command: Some(CommandInfo { user: Some("nobody".into()), ..Default::default() }),
    ///     ..Default::default()
    /// };
    /// let task = Task::from_info(&info, &FrameworkId::default(), None, TaskState::TaskStaging);
    /// assert_eq!(task.name, "web");
    /// assert_eq!(task.user.as_deref(), Some("nobody"));
    /// assert_eq!(task.state, TaskState::TaskStaging as i32);
    /// ```
    pub fn from_info(
        info: &TaskInfo,
        framework_id: &FrameworkId,
        executor: Option<&ExecutorInfo>,
        state: TaskState,
    ) -> Task {
        let executor = executor.or(info.executor.as_ref());
        let user = [
            info.command.as_ref(),
            executor.and_then(|e| e.command.as_ref()),
        ]
        .into_iter()
        .flatten()
        .find_map(|c| c.user.clone());
        Task {
            name: info.name.clone(),
            task_id: info.task_id.clone(),
            framework_id: framework_id.clone(),
            executor_id: executor.map(|e| e.executor_id.clone()),
            agent_id: info.agent_id.clone(),
            state: state as i32,
            resources: info.resources.clone(),
            labels: info.labels.clone(),
            discovery: info.discovery.clone().map(Box::new),
            container: info.container.clone().map(Box::new),
            health_check: info.health_check.clone().map(Box::new),
            kill_policy: info.kill_policy,
            user,
            limits: info.limits.clone(),
            ..Default::default()
        }
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
