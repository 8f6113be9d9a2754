//! The agent's side of the master/agent protocol
//! ([`mesos_proto::agent_protocol`]): register, then read the master's
//! event stream; updates and heartbeats go as calls naming the stream.

use mesos_http::STREAM_ID;
use mesos_http::client::{Client, HttpError, RecordStream};
use mesos_proto::agent_protocol::{
    AgentCall, AgentEvent, PROTOCOL_VERSION, agent_call, agent_event,
};
use mesos_proto::prost::Message;
use mesos_proto::v1::{
    AgentId, AgentInfo, ExecutorInfo, FrameworkInfo, MasterInfo, Resource, Task,
};
use mesos_state::zk::{LeaderDetector, ZkUrl, ZkUrlError};
use std::time::Duration;
use tokio::sync::watch;

const PROTOBUF: &str = "application/x-protobuf";

/// What the agent tells the master when it (re-)registers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Registration {
    pub(crate) info: AgentInfo,
    pub(crate) resources: Vec<Resource>,
    pub(crate) tasks: Vec<Task>,
    pub(crate) frameworks: Vec<FrameworkInfo>,
    pub(crate) executors: Vec<ExecutorInfo>,
}

/// A registration the master accepted.
#[derive(Debug)]
pub(crate) struct Accepted {
    /// The master's agent API URL this registration went to.
    pub(crate) url: String,
    pub(crate) stream_id: String,
    pub(crate) agent_id: AgentId,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) events: RecordStream,
}

/// How a registration failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RegisterError {
    /// The master refused the agent for good (it was marked gone).
    #[error("the master refused this agent: {0}")]
    Refused(String),
    /// The master could not be reached or answered oddly; try again.
    #[error(transparent)]
    Transient(#[from] HttpError),
    /// The first event was not REGISTERED.
    #[error("unexpected answer to REGISTER: {0}")]
    Protocol(String),
    /// No leading master is known (ZooKeeper detection); try again.
    #[error("{0}")]
    NoLeader(String),
}

/// Where the agent finds its master: `--master=host:port`, or the leader
/// elected in ZooKeeper (`--master=zk://host:2181/mesos`).
#[derive(Debug)]
pub(crate) enum MasterSource {
    /// A fixed `host:port`.
    Fixed(String),
    /// The leader's `MasterInfo` as detected in ZooKeeper.
    Detected(LeaderDetector),
}

impl MasterSource {
    /// Reads `--master`. Needs a Tokio runtime for ZooKeeper detection.
    pub(crate) fn from_flag(master: &str) -> Result<MasterSource, String> {
        if master.trim().starts_with("zk://") {
            let url: ZkUrl = master.parse().map_err(|e: ZkUrlError| e.to_string())?;
            Ok(MasterSource::Detected(LeaderDetector::start(
                url,
                mesos_state::zk::DEFAULT_SESSION_TIMEOUT,
            )))
        } else {
            Ok(MasterSource::Fixed(master.trim().to_string()))
        }
    }

    /// The leader's data as it changes (ZooKeeper detection only).
    pub(crate) fn leader_changes(&self) -> Option<watch::Receiver<Option<Vec<u8>>>> {
        match self {
            MasterSource::Fixed(_) => None,
            MasterSource::Detected(d) => Some(d.subscribe()),
        }
    }

    /// A way to resolve the agent API URL later, off the actor.
    pub(crate) fn resolver(&self) -> Resolver {
        match self {
            MasterSource::Fixed(master) => Resolver::Fixed(agent_api(master)),
            MasterSource::Detected(d) => Resolver::Detected(d.subscribe()),
        }
    }
}

/// Resolves the master's agent API URL ([`MasterSource::resolver`]).
#[derive(Debug)]
pub(crate) enum Resolver {
    Fixed(String),
    Detected(watch::Receiver<Option<Vec<u8>>>),
}

/// How long a registration waits for ZooKeeper to name a leader.
const LEADER_WAIT: Duration = Duration::from_secs(10);

impl Resolver {
    pub(crate) async fn url(self) -> Result<String, RegisterError> {
        match self {
            Resolver::Fixed(url) => Ok(url),
            Resolver::Detected(mut leader) => {
                let data = mesos_state::zk::wait_for_leader(&mut leader, LEADER_WAIT)
                    .await
                    .ok_or_else(|| {
                        RegisterError::NoLeader(format!(
                            "no leading master in ZooKeeper within {LEADER_WAIT:?}"
                        ))
                    })?;
                leader_url(&data).map_err(RegisterError::NoLeader)
            }
        }
    }
}

/// The agent API URL of the master whose `MasterInfo` JSON is `data`.
pub(crate) fn leader_url(data: &[u8]) -> Result<String, String> {
    let info: MasterInfo = mesos_proto::json::from_slice(data)
        .map_err(|e| format!("the leader's ZooKeeper entry is not a MasterInfo: {e}"))?;
    Ok(agent_api(&info.authority()))
}

fn agent_api(master: &str) -> String {
    format!("http://{master}/api/v1/agent")
}

/// REGISTER (re-register when `registration.info.id` is set).
pub(crate) async fn register(
    client: &Client,
    url: &str,
    registration: Registration,
) -> Result<Accepted, RegisterError> {
    let call = AgentCall {
        r#type: agent_call::Type::Register as i32,
        agent_id: registration.info.id.clone(),
        register: Some(agent_call::Register {
            protocol_version: PROTOCOL_VERSION,
            agent_info: registration.info,
            resources: registration.resources,
            tasks: registration.tasks,
            frameworks: registration.frameworks,
            executors: registration.executors,
        }),
        ..Default::default()
    };
    let resp = match client
        .post_ok(url, &[("Content-Type", PROTOBUF)], call.encode_to_vec())
        .await
    {
        Ok(resp) => resp,
        Err(HttpError::Status {
            status: 403, body, ..
        }) => return Err(RegisterError::Refused(body)),
        Err(e) => return Err(e.into()),
    };
    let stream_id = mesos_http::client::stream_id(&resp);
    let mut events = RecordStream::new(resp.into_body());
    let first = events
        .next(Duration::from_secs(30))
        .await?
        .ok_or_else(|| RegisterError::Protocol("the stream ended".into()))?;
    let first =
        AgentEvent::decode(first.as_slice()).map_err(|e| RegisterError::Protocol(e.to_string()))?;
    if first.r#type == agent_event::Type::Error as i32 {
        return Err(RegisterError::Refused(first.error.unwrap_or_default()));
    }
    let registered = first
        .registered
        .ok_or_else(|| RegisterError::Protocol("the first event is not REGISTERED".into()))?;
    Ok(Accepted {
        url: url.to_string(),
        stream_id,
        agent_id: registered.agent_id,
        heartbeat_interval: Duration::try_from_secs_f64(registered.heartbeat_interval_seconds)
            .unwrap_or(Duration::from_secs(15)),
        events,
    })
}

/// POSTs `call` on the stream `stream_id`.
pub(crate) async fn send(
    client: &Client,
    url: &str,
    stream_id: &str,
    call: &AgentCall,
) -> Result<(), HttpError> {
    let headers = [("Content-Type", PROTOBUF), (STREAM_ID, stream_id)];
    client
        .post_ok(url, &headers, call.encode_to_vec())
        .await
        .map(drop)
}
