//! The executors the agent ships, written with `mesos-executor` and run
//! as `mesos executor <name>`: `command` (one command task) and `default`
//! (task groups).

pub mod command;
mod containers;
pub mod default;
pub mod health;

use crate::containerizer::process::{self, Signal};
use mesos_executor::ExecutorDriver;
use mesos_proto::v1::KillPolicy;
use std::time::Duration;

/// The kill grace period when neither the task nor the kill names one.
const DEFAULT_GRACE: Duration = Duration::from_secs(3);
/// How long an executor waits for its last update's acknowledgement
/// before it exits anyway (the agent has the update by then).
const ACK_WAIT: Duration = Duration::from_secs(60);

/// Whether the framework wants TASK_KILLING before TASK_KILLED.
fn task_killing(subscribed: &mesos_proto::v1::executor::event::Subscribed) -> bool {
    use mesos_proto::v1::framework_info::capability::Type as Capability;
    subscribed
        .framework_info
        .capabilities
        .iter()
        .any(|c| c.r#type == Some(Capability::TaskKillingState as i32))
}

/// The grace period a kill policy names.
fn grace_of(policy: Option<&KillPolicy>) -> Option<Duration> {
    policy
        .and_then(|p| p.grace_period.as_ref())
        .and_then(|d| u64::try_from(d.nanoseconds).ok())
        .map(Duration::from_nanos)
}

/// The grace period of a kill: the kill's own policy, else the task's,
/// else 3 s.
fn kill_grace(kill: Option<&KillPolicy>, task: Option<&KillPolicy>) -> Duration {
    grace_of(kill)
        .or_else(|| grace_of(task))
        .unwrap_or(DEFAULT_GRACE)
}

/// SIGTERM to the process group now, SIGKILL after `grace` unless
/// `exited` says it is gone by then.
fn kill_with_grace(pgid: u32, grace: Duration, exited: impl Fn() -> bool + Send + 'static) {
    let _ = process::signal_group(pgid, Signal::TERM);
    tokio::spawn(async move {
        tokio::time::sleep(grace).await;
        if !exited() {
            let _ = process::signal_group(pgid, Signal::KILL);
        }
    });
}

/// How long an executor told to shut down gives its tasks: the agent's
/// grace period less a second for the last updates.
fn shutdown_grace(driver: &ExecutorDriver) -> Duration {
    driver
        .config()
        .shutdown_grace_period
        .saturating_sub(Duration::from_secs(1))
        .max(Duration::from_millis(100))
}

/// A task's terminal update from how its command ended: TASK_KILLED when
/// the executor killed it, else TASK_FINISHED on exit 0 or TASK_FAILED;
/// `healthy: false` when it was killed for its health.
fn terminal_status(
    task_id: mesos_proto::v1::TaskId,
    termination: &crate::containerizer::Termination,
    killed: bool,
    unhealthy: bool,
) -> mesos_proto::v1::TaskStatus {
    use mesos_proto::v1::TaskState;
    if let Some(limitation) = &termination.limitation {
        return mesos_proto::v1::TaskStatus {
            task_id,
            state: TaskState::TaskFailed as i32,
            message: Some(limitation.clone()),
            reason: Some(mesos_proto::v1::task_status::Reason::ContainerLimitationMemory as i32),
            healthy: unhealthy.then_some(false),
            ..Default::default()
        };
    }
    let state = if killed {
        TaskState::TaskKilled
    } else if termination.success() {
        TaskState::TaskFinished
    } else {
        TaskState::TaskFailed
    };
    mesos_proto::v1::TaskStatus {
        task_id,
        state: state as i32,
        message: Some(termination.describe("Command")),
        healthy: unhealthy.then_some(false),
        ..Default::default()
    }
}

/// Stops the driver once the last update is acknowledged (or a while has
/// passed).
fn finish(driver: ExecutorDriver) {
    tokio::spawn(async move {
        driver.wait_acknowledged(ACK_WAIT).await;
        driver.stop();
    });
}
