//! Health checks (`HealthCheck`) and general checks (`CheckInfo`) as the
//! built-in executors run them, with Mesos' semantics: the first probe
//! after `delay_seconds` (default 15), then every `interval_seconds`
//! (10); a probe that takes longer than `timeout_seconds` (20; 0 means no
//! limit) fails. A COMMAND probe passes on exit 0, an HTTP one on a status
//! in 200..=399 from `http://127.0.0.1:<port><path>`, a TCP one when the
//! port accepts a connection.
//!
//! Health: failures within `grace_period_seconds` (10) of the launch are
//! ignored until the first success; after that every failure is reported
//! (`healthy: false`), a success after failures (or the first one) is
//! reported (`healthy: true`), and `consecutive_failures` (3) failures in
//! a row ask for the task to be killed. Checks only report their result
//! (`check_status`) whenever it changes.
//!
//! ```
//! use mesos_agent::executors::health::{Health, Policy, Verdict};
//! use std::time::Duration;
//!
//! let policy = Policy { grace: Duration::from_secs(10), consecutive_failures: 2, ..Policy::default() };
//! let mut health = Health::new(policy);
//! // Failing inside the grace period: ignored.
//! assert_eq!(health.observe(false, Duration::from_secs(5)), None);
//! assert_eq!(health.observe(true, Duration::from_secs(6)), Some(Verdict { healthy: true, kill: false }));
//! assert_eq!(health.observe(false, Duration::from_secs(7)), Some(Verdict { healthy: false, kill: false }));
//! assert_eq!(health.observe(false, Duration::from_secs(8)), Some(Verdict { healthy: false, kill: true }));
//! ```

use crate::containerizer::process::{self, Signal};
use mesos_proto::v1::{
    CheckInfo, CheckStatusInfo, CommandInfo, HealthCheck, check_info, check_status_info,
    health_check,
};
use std::path::Path;
use std::time::Duration;

/// When and how often to probe, and what counts as unhealthy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Before the first probe.
    pub delay: Duration,
    /// Between probes.
    pub interval: Duration,
    /// A probe's limit; `None`: no limit.
    pub timeout: Option<Duration>,
    /// After launch, failures are ignored until the first success.
    pub grace: Duration,
    /// Failures in a row that kill the task.
    pub consecutive_failures: u32,
}

impl Default for Policy {
    /// Mesos' defaults.
    fn default() -> Policy {
        Policy {
            delay: Duration::from_secs(15),
            interval: Duration::from_secs(10),
            timeout: Some(Duration::from_secs(20)),
            grace: Duration::from_secs(10),
            consecutive_failures: 3,
        }
    }
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.max(0.0)).unwrap_or_default()
}

fn timeout(s: f64) -> Option<Duration> {
    (s > 0.0).then(|| secs(s))
}

impl Policy {
    /// A health check's policy.
    pub fn of_health(check: &HealthCheck) -> Policy {
        Policy {
            delay: secs(check.delay_seconds()),
            interval: secs(check.interval_seconds()),
            timeout: timeout(check.timeout_seconds()),
            grace: secs(check.grace_period_seconds()),
            consecutive_failures: check.consecutive_failures(),
        }
    }

    /// A check's policy (checks never kill).
    pub fn of_check(check: &CheckInfo) -> Policy {
        Policy {
            delay: secs(check.delay_seconds()),
            interval: secs(check.interval_seconds()),
            timeout: timeout(check.timeout_seconds()),
            grace: Duration::ZERO,
            consecutive_failures: u32::MAX,
        }
    }
}

/// What a health result means for the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Report `healthy` as this.
    pub healthy: bool,
    /// Kill the task.
    pub kill: bool,
}

/// The health of one task, judged from probe results (pure).
#[derive(Debug, Clone)]
pub struct Health {
    policy: Policy,
    failures: u32,
    succeeded: bool,
}

impl Health {
    /// A task not probed yet.
    pub fn new(policy: Policy) -> Health {
        Health {
            policy,
            failures: 0,
            succeeded: false,
        }
    }

    /// A probe passed (`ok`) or failed, `since_launch` after the task was
    /// launched: what to report, if anything.
    pub fn observe(&mut self, ok: bool, since_launch: Duration) -> Option<Verdict> {
        if ok {
            let report = self.failures > 0 || !self.succeeded;
            self.failures = 0;
            self.succeeded = true;
            return report.then_some(Verdict {
                healthy: true,
                kill: false,
            });
        }
        if !self.succeeded && since_launch < self.policy.grace {
            return None;
        }
        self.failures += 1;
        Some(Verdict {
            healthy: false,
            kill: self.failures >= self.policy.consecutive_failures,
        })
    }
}

/// What to probe.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// Run a command in the task's sandbox.
    Command(CommandInfo),
    /// GET `http://127.0.0.1:<port><path>`.
    Http {
        /// The port.
        port: u32,
        /// The path (default `/`).
        path: String,
    },
    /// Connect to `127.0.0.1:<port>`.
    Tcp {
        /// The port.
        port: u32,
    },
}

impl Probe {
    /// A health check's probe (`type`, or the one field that is set).
    pub fn of_health(check: &HealthCheck) -> Option<Probe> {
        use health_check::Type;
        let ty = check.r#type.and_then(|t| Type::try_from(t).ok());
        match ty {
            Some(Type::Http) => check.http.as_ref().map(|h| Probe::Http {
                port: h.port,
                path: h.path.clone().unwrap_or_else(|| "/".into()),
            }),
            Some(Type::Tcp) => check.tcp.as_ref().map(|t| Probe::Tcp { port: t.port }),
            _ => check
                .command
                .clone()
                .map(Probe::Command)
                .or_else(|| {
                    check.http.as_ref().map(|h| Probe::Http {
                        port: h.port,
                        path: h.path.clone().unwrap_or_else(|| "/".into()),
                    })
                })
                .or_else(|| check.tcp.as_ref().map(|t| Probe::Tcp { port: t.port })),
        }
    }

    /// A check's probe.
    pub fn of_check(check: &CheckInfo) -> Option<Probe> {
        use check_info::Type;
        match check.r#type.and_then(|t| Type::try_from(t).ok()) {
            Some(Type::Command) => check
                .command
                .as_ref()
                .map(|c| Probe::Command(c.command.clone())),
            Some(Type::Http) => check.http.as_ref().map(|h| Probe::Http {
                port: h.port,
                path: h.path.clone().unwrap_or_else(|| "/".into()),
            }),
            Some(Type::Tcp) => check.tcp.as_ref().map(|t| Probe::Tcp { port: t.port }),
            _ => None,
        }
    }

    /// The check's type, as `CheckStatusInfo` names it.
    fn check_type(&self) -> check_info::Type {
        match self {
            Probe::Command(_) => check_info::Type::Command,
            Probe::Http { .. } => check_info::Type::Http,
            Probe::Tcp { .. } => check_info::Type::Tcp,
        }
    }

    /// Runs the probe once in `sandbox`, within `limit`: its outcome as a
    /// check status (fields left empty when it timed out or could not
    /// run).
    pub async fn run(&self, sandbox: &Path, limit: Option<Duration>) -> CheckStatusInfo {
        let mut status = CheckStatusInfo {
            r#type: Some(self.check_type() as i32),
            ..Default::default()
        };
        let limit = limit.unwrap_or(Duration::from_secs(365 * 86400));
        match self {
            Probe::Command(command) => {
                let exit_code = run_command(command, sandbox, limit).await;
                status.command = Some(check_status_info::Command { exit_code });
            }
            Probe::Http { port, path } => {
                let url = format!("http://127.0.0.1:{port}{path}");
                let client = mesos_http::client::Client::default();
                let status_code = tokio::time::timeout(limit, client.get(&url))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .map(|(status, _, _)| u32::from(status));
                status.http = Some(check_status_info::Http { status_code });
            }
            Probe::Tcp { port } => {
                let addr = format!("127.0.0.1:{port}");
                let succeeded = matches!(
                    tokio::time::timeout(limit, tokio::net::TcpStream::connect(&addr)).await,
                    Ok(Ok(_))
                );
                status.tcp = Some(check_status_info::Tcp {
                    succeeded: Some(succeeded),
                });
            }
        }
        status
    }
}

/// Whether a probe's outcome counts as healthy.
pub fn passed(status: &CheckStatusInfo) -> bool {
    if let Some(c) = &status.command {
        return c.exit_code == Some(0);
    }
    if let Some(h) = &status.http {
        return h.status_code.is_some_and(|s| (200..400).contains(&s));
    }
    status
        .tcp
        .as_ref()
        .is_some_and(|t| t.succeeded == Some(true))
}

/// Runs a command probe; its exit code, `None` on timeout (it is killed)
/// or when it could not start.
async fn run_command(command: &CommandInfo, sandbox: &Path, limit: Duration) -> Option<i32> {
    let mut child = process::command(command, &[], sandbox, false)
        .and_then(|mut c| {
            c.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            c.spawn()
        })
        .ok()?;
    let pgid = child.id();
    match tokio::time::timeout(limit, child.wait()).await {
        Ok(Ok(status)) => status.code(),
        _ => {
            if let Some(pgid) = pgid {
                let _ = process::signal_group(pgid, Signal::KILL);
            }
            let _ = child.wait().await;
            None
        }
    }
}

/// Probes until aborted: after `policy.delay`, every `policy.interval`,
/// handing each outcome and the time since `launched` to `report`.
pub async fn probe_loop(
    probe: Probe,
    policy: Policy,
    sandbox: std::path::PathBuf,
    launched: tokio::time::Instant,
    mut report: impl FnMut(CheckStatusInfo, Duration) + Send,
) {
    tokio::time::sleep(policy.delay).await;
    loop {
        let outcome = probe.run(&sandbox, policy.timeout).await;
        report(outcome, launched.elapsed());
        tokio::time::sleep(policy.interval).await;
    }
}

/// Starts `task`'s health check and check, if it has them: `on_health`
/// hears each health verdict, `on_check` each changed check status. The
/// handles stop them (abort) when the task ends.
pub(crate) fn watch_task(
    task: &mesos_proto::v1::TaskInfo,
    sandbox: std::path::PathBuf,
    mut on_health: impl FnMut(Verdict) + Send + 'static,
    mut on_check: impl FnMut(CheckStatusInfo) + Send + 'static,
) -> Vec<tokio::task::JoinHandle<()>> {
    let launched = tokio::time::Instant::now();
    let mut handles = Vec::new();
    if let Some(check) = &task.health_check {
        if let Some(probe) = Probe::of_health(check) {
            let policy = Policy::of_health(check);
            let mut health = Health::new(policy);
            handles.push(tokio::spawn(probe_loop(
                probe,
                policy,
                sandbox.clone(),
                launched,
                move |outcome, since| {
                    if let Some(verdict) = health.observe(passed(&outcome), since) {
                        on_health(verdict);
                    }
                },
            )));
        }
    }
    if let Some(check) = &task.check {
        if let Some(probe) = Probe::of_check(check) {
            let mut last: Option<CheckStatusInfo> = None;
            handles.push(tokio::spawn(probe_loop(
                probe,
                Policy::of_check(check),
                sandbox,
                launched,
                move |outcome, _| {
                    if last.as_ref() != Some(&outcome) {
                        last = Some(outcome);
                        on_check(outcome);
                    }
                },
            )));
        }
    }
    handles
}

/// TASK_RUNNING carrying a health verdict, as Mesos' executors send it.
pub(crate) fn health_update(
    task_id: &mesos_proto::v1::TaskId,
    healthy: bool,
) -> mesos_proto::v1::TaskStatus {
    mesos_proto::v1::TaskStatus {
        task_id: task_id.clone(),
        state: mesos_proto::v1::TaskState::TaskRunning as i32,
        healthy: Some(healthy),
        reason: Some(mesos_proto::v1::task_status::Reason::TaskHealthCheckStatusUpdated as i32),
        ..Default::default()
    }
}

/// TASK_RUNNING carrying a changed check status.
pub(crate) fn check_update(
    task_id: &mesos_proto::v1::TaskId,
    check_status: CheckStatusInfo,
) -> mesos_proto::v1::TaskStatus {
    mesos_proto::v1::TaskStatus {
        task_id: task_id.clone(),
        state: mesos_proto::v1::TaskState::TaskRunning as i32,
        check_status: Some(check_status),
        reason: Some(mesos_proto::v1::task_status::Reason::TaskCheckStatusUpdated as i32),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_applies_only_until_the_first_success() {
        let mut h = Health::new(Policy {
            grace: Duration::from_secs(10),
            consecutive_failures: 3,
            ..Policy::default()
        });
        let t = Duration::from_secs;
        assert_eq!(h.observe(false, t(1)), None);
        assert_eq!(h.observe(false, t(9)), None);
        // Past the grace period failures count.
        let v = h.observe(false, t(11)).unwrap();
        assert!(!v.healthy && !v.kill);
        let v = h.observe(true, t(12)).unwrap();
        assert!(v.healthy);
        // Healthy again: no report for more successes.
        assert_eq!(h.observe(true, t(13)), None);
        // Three in a row kill.
        assert!(!h.observe(false, t(14)).unwrap().kill);
        assert!(!h.observe(false, t(15)).unwrap().kill);
        assert!(h.observe(false, t(16)).unwrap().kill);
    }

    #[test]
    fn a_first_success_inside_the_grace_period_ends_it() {
        let mut h = Health::new(Policy {
            grace: Duration::from_secs(100),
            consecutive_failures: 1,
            ..Policy::default()
        });
        assert!(h.observe(true, Duration::from_secs(1)).unwrap().healthy);
        assert!(h.observe(false, Duration::from_secs(2)).unwrap().kill);
    }

    #[test]
    fn policies_and_probes_follow_mesos_defaults() {
        let check = HealthCheck {
            r#type: Some(health_check::Type::Tcp as i32),
            tcp: Some(health_check::TcpCheckInfo {
                port: 8080,
                ..Default::default()
            }),
            timeout_seconds: Some(0.0),
            ..Default::default()
        };
        let p = Policy::of_health(&check);
        assert_eq!(p.delay, Duration::from_secs(15));
        assert_eq!(p.interval, Duration::from_secs(10));
        assert_eq!(p.timeout, None);
        assert_eq!(p.grace, Duration::from_secs(10));
        assert_eq!(p.consecutive_failures, 3);
        assert_eq!(Probe::of_health(&check), Some(Probe::Tcp { port: 8080 }));
        let http = CheckStatusInfo {
            http: Some(check_status_info::Http {
                status_code: Some(302),
            }),
            ..Default::default()
        };
        assert!(passed(&http));
        let timed_out = CheckStatusInfo {
            command: Some(check_status_info::Command { exit_code: None }),
            ..Default::default()
        };
        assert!(!passed(&timed_out));
    }

    #[tokio::test]
    async fn probes_run_for_real() {
        let dir = tempfile::tempdir().unwrap();
        let ok = Probe::Command(CommandInfo {
            value: Some("exit 0".into()),
            ..Default::default()
        });
        assert!(passed(&ok.run(dir.path(), None).await));
        let slow = Probe::Command(CommandInfo {
            value: Some("sleep 30".into()),
            ..Default::default()
        });
        let out = slow.run(dir.path(), Some(Duration::from_millis(100))).await;
        assert_eq!(out.command.unwrap().exit_code, None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = u32::from(listener.local_addr().unwrap().port());
        assert!(passed(&Probe::Tcp { port }.run(dir.path(), None).await));
        drop(listener);
        assert!(!passed(&Probe::Tcp { port }.run(dir.path(), None).await));
    }
}
