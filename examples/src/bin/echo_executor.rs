//! A custom executor written with `mesos-executor`: each task's `data` is
//! written to `<sandbox>/<task id>.out`, then the task finishes with a
//! message saying how many bytes it echoed. A framework message comes back
//! to the scheduler prefixed with `echo: `. It runs many tasks, one after
//! another or at once, and exits when the agent shuts it down.
//!
//! A framework uses it by naming it in its tasks' `ExecutorInfo`:
//!
//! ```text
//! cargo build -p mesos-examples --bin echo-executor
//! # ExecutorInfo.command.value = "<target>/debug/echo-executor", shell = false
//! ```
//!
//! The agent starts it with the environment Mesos gives executors
//! (`MESOS_AGENT_ENDPOINT`, `MESOS_FRAMEWORK_ID`, `MESOS_EXECUTOR_ID`,
//! `MESOS_SANDBOX`, ...); run by hand, it says which variable is missing.

use mesos_executor::{Executor, ExecutorConfig, ExecutorDriver};
use mesos_proto::v1::{KillPolicy, TaskId, TaskInfo, TaskState};

struct Echo;

impl Executor for Echo {
    async fn launch(&mut self, driver: &ExecutorDriver, task: TaskInfo) {
        driver.update(&task.task_id, TaskState::TaskRunning, None);
        let data = task.data.unwrap_or_default();
        let path = driver
            .config()
            .sandbox
            .join(format!("{}.out", task.task_id));
        match std::fs::write(&path, &data) {
            Ok(()) => driver.update(
                &task.task_id,
                TaskState::TaskFinished,
                Some(format!("echoed {} bytes", data.len())),
            ),
            Err(e) => driver.update(
                &task.task_id,
                TaskState::TaskFailed,
                Some(format!("cannot write {}: {e}", path.display())),
            ),
        }
    }

    async fn kill(&mut self, driver: &ExecutorDriver, task: TaskId, _: Option<KillPolicy>) {
        // Tasks finish at once; a kill can only be for one already done.
        driver.update(&task, TaskState::TaskKilled, None);
    }

    async fn message(&mut self, driver: &ExecutorDriver, data: Vec<u8>) {
        driver.send_message([b"echo: ".as_slice(), &data].concat());
    }

    async fn shutdown(&mut self, driver: &ExecutorDriver) {
        driver
            .wait_acknowledged(std::time::Duration::from_secs(1))
            .await;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let config = match ExecutorConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("echo-executor: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match mesos_executor::run(Echo, config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo-executor: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
