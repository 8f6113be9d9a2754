//! The agent's nested container calls as an executor makes them over
//! `POST /api/v1` (protobuf): LAUNCH_CONTAINER, WAIT_CONTAINER,
//! KILL_CONTAINER, REMOVE_CONTAINER. The default executor runs each task
//! in a container of its own under the executor's this way, as Mesos'
//! default executor does.

use crate::containerizer::Termination;
use crate::containerizer::process::Signal;
use mesos_http::client::{Client, HttpError, read_body};
use mesos_proto::prost::Message;
use mesos_proto::v1::agent::{Call, Response, call};
use mesos_proto::v1::{ContainerId, TaskInfo, task_status};
use std::time::Duration;

const PROTOBUF: &str = "application/x-protobuf";

/// How long a WAIT keeps being retried while the agent cannot be reached
/// (it may be restarting).
const UNREACHABLE_FOR: Duration = Duration::from_secs(15 * 60);

/// Calls the agent makes for the containers under `parent`.
#[derive(Debug, Clone)]
pub(crate) struct Containers {
    client: Client,
    url: String,
    parent: ContainerId,
}

impl Containers {
    /// Calls to the agent at `endpoint` (`host:port`) for containers under
    /// the executor's container `parent`.
    pub(crate) fn new(endpoint: &str, parent: ContainerId) -> Containers {
        Containers {
            client: Client::default(),
            url: format!("http://{endpoint}/api/v1"),
            parent,
        }
    }

    /// A new container id under the executor's.
    pub(crate) fn child(&self) -> ContainerId {
        ContainerId::nested(self.parent.clone(), uuid::Uuid::new_v4().to_string())
    }

    async fn call(&self, call: Call) -> Result<Option<Response>, HttpError> {
        let headers = [("Content-Type", PROTOBUF), ("Accept", PROTOBUF)];
        let resp = self
            .client
            .post_ok(&self.url, &headers, call.encode_to_vec())
            .await?;
        let body = read_body(resp, &self.url).await?;
        if body.is_empty() {
            return Ok(None);
        }
        Response::decode(body.as_slice())
            .map(Some)
            .map_err(|e| HttpError::Request {
                url: self.url.clone(),
                message: format!("undecodable answer from the agent: {e}"),
            })
    }

    /// Launches `task`'s command in container `id`, with the task's
    /// resources as its limits and `MESOS_TASK_ID` set.
    pub(crate) async fn launch(&self, id: &ContainerId, task: &TaskInfo) -> Result<(), String> {
        let mut command = task.command.clone().unwrap_or_default();
        command
            .environment
            .get_or_insert_with(Default::default)
            .variables
            .push(mesos_proto::v1::environment::Variable {
                name: "MESOS_TASK_ID".into(),
                value: Some(task.task_id.to_string()),
                ..Default::default()
            });
        let call = Call {
            r#type: Some(call::Type::LaunchContainer as i32),
            launch_container: Some(call::LaunchContainer {
                container_id: id.clone(),
                command: Some(command),
                resources: task.resources.clone(),
                container: task.container.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.call(call)
            .await
            .map(drop)
            .map_err(|e| format!("Failed to launch the task's container: {e}"))
    }

    /// Waits for container `id` to end; while the agent cannot be reached
    /// (restarting), asks again.
    pub(crate) async fn wait(&self, id: &ContainerId) -> Termination {
        let call = Call {
            r#type: Some(call::Type::WaitContainer as i32),
            wait_container: Some(call::WaitContainer {
                container_id: id.clone(),
            }),
            ..Default::default()
        };
        let give_up = tokio::time::Instant::now() + UNREACHABLE_FOR;
        loop {
            match self.call(call.clone()).await {
                Ok(Some(resp)) => {
                    if let Some(wait) = resp.wait_container {
                        return termination(wait.exit_status, wait.reason, wait.message);
                    }
                    return lost(id, "the agent's answer to WAIT_CONTAINER is empty");
                }
                Ok(None) => return lost(id, "the agent's answer to WAIT_CONTAINER is empty"),
                Err(HttpError::Status { status, body, .. }) if status < 500 => {
                    return lost(id, &format!("the agent answered {status}: {body}"));
                }
                Err(e) => {
                    if tokio::time::Instant::now() > give_up {
                        return lost(id, &format!("the agent cannot be reached: {e}"));
                    }
                    tracing::debug!("WAIT_CONTAINER {id}: {e}; asking again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Sends `signal` to every process of container `id`.
    pub(crate) async fn kill(&self, id: &ContainerId, signal: Signal) -> Result<(), String> {
        let call = Call {
            r#type: Some(call::Type::KillContainer as i32),
            kill_container: Some(call::KillContainer {
                container_id: id.clone(),
                signal: Some(signal.as_raw()),
            }),
            ..Default::default()
        };
        self.call(call).await.map(drop).map_err(|e| e.to_string())
    }

    /// Forgets container `id` (it has ended).
    pub(crate) async fn remove(&self, id: &ContainerId) {
        let call = Call {
            r#type: Some(call::Type::RemoveContainer as i32),
            remove_container: Some(call::RemoveContainer {
                container_id: id.clone(),
            }),
            ..Default::default()
        };
        if let Err(e) = self.call(call).await {
            tracing::debug!("REMOVE_CONTAINER {id}: {e}");
        }
    }
}

/// A termination from WAIT_CONTAINER's answer: `exit_status` is a wait
/// status; a memory limitation comes as its reason and message.
fn termination(
    exit_status: Option<i32>,
    reason: Option<i32>,
    message: Option<String>,
) -> Termination {
    let (exit_code, signal) = match exit_status {
        Some(ws) if ws & 0x7f == 0 => (Some((ws >> 8) & 0xff), None),
        Some(ws) => (None, Some(ws & 0x7f)),
        None => (None, None),
    };
    let memory = reason == Some(task_status::Reason::ContainerLimitationMemory as i32);
    Termination {
        exit_code,
        signal,
        limitation: memory.then(|| message.unwrap_or_else(|| "Memory limit exceeded".into())),
    }
}

fn lost(id: &ContainerId, why: &str) -> Termination {
    tracing::error!("container {id} is lost: {why}");
    Termination {
        exit_code: None,
        signal: None,
        limitation: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses_become_terminations() {
        let t = termination(Some(3 << 8), None, None);
        assert_eq!((t.exit_code, t.signal), (Some(3), None));
        let t = termination(Some(9), None, None);
        assert_eq!((t.exit_code, t.signal), (None, Some(9)));
        let t = termination(
            Some(9),
            Some(task_status::Reason::ContainerLimitationMemory as i32),
            Some("Memory limit exceeded: Requested: 64MB".into()),
        );
        assert_eq!(
            t.limitation.as_deref(),
            Some("Memory limit exceeded: Requested: 64MB")
        );
        for t in [
            Termination {
                exit_code: Some(1),
                signal: None,
                limitation: None,
            },
            Termination {
                exit_code: None,
                signal: Some(15),
                limitation: None,
            },
        ] {
            assert_eq!(termination(Some(t.wait_status()), None, None), t);
        }
    }
}
