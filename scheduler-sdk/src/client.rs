//! The low-level client: subscribe, read events, make calls, with exactly
//! Mesos' HTTP rules and nothing more.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mesos_scheduler::SchedulerError> {
//! use mesos_proto::v1::FrameworkInfo;
//! use mesos_proto::v1::scheduler::event;
//! use mesos_scheduler::Client;
//!
//! let client = Client::new("127.0.0.1:5050".parse()?);
//! let info = FrameworkInfo { user: "root".into(), name: "demo".into(), ..Default::default() };
//! let (session, mut events) = client.subscribe(info).await?;
//! println!("framework {}", session.framework_id().value);
//! loop {
//!     let event = events.next().await?;
//!     if let Some(offers) = event.offers {
//!         let ids = offers.offers.into_iter().map(|o| o.id).collect();
//!         session.decline(ids, None).await?;
//!     }
//! }
//! # }
//! ```

use crate::detector::{Masters, authority, resolve_location};
use crate::{Backoff, SchedulerError};
use mesos_http::STREAM_ID;
use mesos_http::client::{HttpError, RecordStream, read_body};
use mesos_proto::media::MediaType;
use mesos_proto::v1::scheduler::{Call, Event, Response, call, event};
use mesos_proto::v1::{
    AgentId, ExecutorId, ExecutorInfo, Filters, FrameworkId, FrameworkInfo, KillPolicy, OfferId,
    OperationStatus, TaskGroupInfo, TaskId, TaskInfo, TaskStatus, offer,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The path of the scheduler API on a master.
pub const SCHEDULER_PATH: &str = "/api/v1/scheduler";

/// How long a call waits for the master's answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How many redirects one subscription follows before giving up.
const MAX_REDIRECTS: usize = 4;

/// A handle on the masters: subscribes and remembers the leader. Cheap to
/// clone.
#[derive(Debug, Clone)]
pub struct Client {
    http: mesos_http::client::Client,
    masters: Masters,
    media: MediaType,
    retries_503: u32,
    heartbeat_misses: u32,
    leader: Arc<Mutex<Option<String>>>,
    /// Follows the leader in ZooKeeper (started on first use).
    #[cfg(feature = "zookeeper")]
    detector: Arc<Mutex<Option<mesos_state::zk::LeaderDetector>>>,
}

/// How long a subscription waits for ZooKeeper to name a leader.
#[cfg(feature = "zookeeper")]
const LEADER_WAIT: Duration = Duration::from_secs(10);

impl Client {
    /// A client of `masters` speaking protobuf.
    pub fn new(masters: Masters) -> Client {
        Client {
            http: mesos_http::client::Client::default(),
            masters,
            media: MediaType::Protobuf,
            retries_503: 3,
            heartbeat_misses: 5,
            leader: Arc::new(Mutex::new(None)),
            #[cfg(feature = "zookeeper")]
            detector: Arc::new(Mutex::new(None)),
        }
    }

    /// Speak `media` (JSON or protobuf) for calls and events.
    pub fn with_media(mut self, media: MediaType) -> Client {
        self.media = media;
        self
    }

    /// Retry a call answered 503 this many times (with backoff) before
    /// failing with [`SchedulerError::Unavailable`] (default 3).
    pub fn with_retries_503(mut self, retries: u32) -> Client {
        self.retries_503 = retries;
        self
    }

    /// Declare the connection lost after this many heartbeat intervals
    /// without any event (default 5).
    pub fn with_heartbeat_misses(mut self, misses: u32) -> Client {
        self.heartbeat_misses = misses.max(1);
        self
    }

    /// The masters this client asks.
    pub fn masters(&self) -> &Masters {
        &self.masters
    }

    /// The media type of calls and events.
    pub fn media(&self) -> MediaType {
        self.media
    }

    /// The leader found by the last subscription (`host:port`).
    pub fn leader(&self) -> Option<String> {
        self.leader
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Subscribes with `info`; with `info.id` set this resubscribes (fails
    /// over) as that framework. Returns the session for calls and the
    /// event stream, whose first event (SUBSCRIBED) has been read: see
    /// [`Session::subscribed`].
    pub async fn subscribe(
        &self,
        info: FrameworkInfo,
    ) -> Result<(Session, Events), SchedulerError> {
        self.subscribe_with(call::Subscribe {
            framework_info: info,
            ..Default::default()
        })
        .await
    }

    /// Subscribes with a whole SUBSCRIBE call (suppressed roles, offer
    /// constraints).
    ///
    /// The known leader is tried first, then each master in turn; a 307
    /// is followed to the master it names (SUBSCRIBE may be re-sent: it
    /// starts a new stream), a 503 retried with backoff. No
    /// `Mesos-Stream-Id` is sent: the answer assigns one.
    pub async fn subscribe_with(
        &self,
        subscribe: call::Subscribe,
    ) -> Result<(Session, Events), SchedulerError> {
        let framework_id = subscribe.framework_info.id.clone();
        let call = Call {
            framework_id,
            r#type: Some(call::Type::Subscribe as i32),
            subscribe: Some(subscribe),
            ..Default::default()
        };
        let body = self.media.encode(&call);
        let candidates = match &self.masters {
            Masters::ZooKeeper { .. } => vec![self.detect_leader().await?],
            _ => {
                let mut candidates: Vec<String> = self.leader().into_iter().collect();
                for m in self.masters.candidates() {
                    if !candidates.contains(m) {
                        candidates.push(m.clone());
                    }
                }
                candidates
            }
        };
        let mut last_error = String::from("no master answered");
        for candidate in candidates {
            match self.subscribe_at(&candidate, &body).await {
                Ok(done) => return Ok(done),
                Err(e) if e.is_transient() => {
                    tracing::debug!(master = %candidate, error = %e, "subscription failed");
                    last_error = e.to_string();
                }
                Err(e) => return Err(e),
            }
        }
        Err(SchedulerError::NoMaster {
            masters: self.masters.to_string(),
            last_error,
        })
    }

    /// The leading master's `host:port` as ZooKeeper names it (its
    /// lowest `json.info_*` znode), waiting a little for one.
    #[cfg(feature = "zookeeper")]
    async fn detect_leader(&self) -> Result<String, SchedulerError> {
        let no_master = |last_error: String| SchedulerError::NoMaster {
            masters: self.masters.to_string(),
            last_error,
        };
        let mut leader = {
            let mut detector = self.detector.lock().unwrap_or_else(|e| e.into_inner());
            match &*detector {
                Some(d) => d.subscribe(),
                None => {
                    let url: mesos_state::zk::ZkUrl = self
                        .masters
                        .to_string()
                        .parse()
                        .map_err(|e: mesos_state::zk::ZkUrlError| no_master(e.to_string()))?;
                    let d = mesos_state::zk::LeaderDetector::start(
                        url,
                        mesos_state::zk::DEFAULT_SESSION_TIMEOUT,
                    );
                    let rx = d.subscribe();
                    *detector = Some(d);
                    rx
                }
            }
        };
        let data = mesos_state::zk::wait_for_leader(&mut leader, LEADER_WAIT)
            .await
            .ok_or_else(|| {
                no_master(format!(
                    "ZooKeeper named no leading master within {LEADER_WAIT:?}"
                ))
            })?;
        let info: mesos_proto::v1::MasterInfo = mesos_proto::json::from_slice(&data)
            .map_err(|e| no_master(format!("the leader's znode is not a MasterInfo: {e}")))?;
        Ok(info.authority())
    }

    #[cfg(not(feature = "zookeeper"))]
    async fn detect_leader(&self) -> Result<String, SchedulerError> {
        Err(SchedulerError::NoMaster {
            masters: self.masters.to_string(),
            last_error: "built without the `zookeeper` feature: give the masters as host:port"
                .into(),
        })
    }

    async fn subscribe_at(
        &self,
        master: &str,
        body: &[u8],
    ) -> Result<(Session, Events), SchedulerError> {
        let mut url = format!("http://{master}{SCHEDULER_PATH}");
        let mut redirects = 0;
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let mut unavailable = 0;
        loop {
            let headers = [
                ("Content-Type", self.media.as_str()),
                ("Accept", self.media.as_str()),
            ];
            let resp = self.http.post(&url, &headers, body.to_vec()).await?;
            let status = resp.status().as_u16();
            match status {
                200 => {
                    let stream_id = mesos_http::client::stream_id(&resp);
                    let mut events = Events {
                        stream: RecordStream::new(resp.into_body()),
                        media: self.media,
                        wait: Duration::from_secs(15 * u64::from(self.heartbeat_misses)),
                        heartbeat_misses: self.heartbeat_misses,
                    };
                    let first = events.next_within(Duration::from_secs(60)).await?;
                    let subscribed = match (first.subscribed, first.error) {
                        (Some(s), _) => s,
                        (None, Some(e)) => return Err(SchedulerError::Removed(e.message)),
                        (None, None) => {
                            return Err(SchedulerError::Decode {
                                what: "first event",
                                reason: format!("expected SUBSCRIBED, got type {:?}", first.r#type),
                            });
                        }
                    };
                    if let Some(seconds) = subscribed.heartbeat_interval_seconds {
                        if seconds.is_finite() && seconds > 0.0 {
                            events.wait =
                                Duration::from_secs_f64(seconds) * events.heartbeat_misses;
                        }
                    }
                    *self.leader.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(authority(&url).to_string());
                    let session = Session {
                        inner: Arc::new(SessionInner {
                            client: self.clone(),
                            url,
                            stream_id,
                            subscribed,
                        }),
                    };
                    return Ok((session, events));
                }
                307 => {
                    let location = location(&resp);
                    redirects += 1;
                    if location.is_empty() || redirects > MAX_REDIRECTS {
                        return Err(SchedulerError::NoMaster {
                            masters: self.masters.to_string(),
                            last_error: format!("too many redirects, last from {url}"),
                        });
                    }
                    url = resolve_location(&url, &location);
                    tracing::debug!(%url, "redirected to the leading master");
                }
                503 => {
                    let message = text(read_body(resp, &url).await.unwrap_or_default());
                    unavailable += 1;
                    if unavailable > self.retries_503 {
                        return Err(SchedulerError::Unavailable { url, message });
                    }
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                _ => {
                    let message = text(read_body(resp, &url).await.unwrap_or_default());
                    return Err(SchedulerError::Refused { status, message });
                }
            }
        }
    }
}

fn location(resp: &hyper::Response<hyper::body::Incoming>) -> String {
    resp.headers()
        .get("Location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn text(body: Vec<u8>) -> String {
    String::from_utf8_lossy(&body).trim().to_string()
}

/// Decodes one event record (the body of one RecordIO record) as
/// [`Events`] does.
///
/// ```
/// use mesos_proto::media::MediaType;
/// use mesos_scheduler::client::decode_event;
///
/// let event = decode_event(MediaType::Json, br#"{"type":"HEARTBEAT"}"#).unwrap();
/// assert_eq!(event.r#type, Some(mesos_proto::v1::scheduler::event::Type::Heartbeat as i32));
/// assert!(decode_event(MediaType::Json, b"{").is_err());
/// ```
pub fn decode_event(media: MediaType, record: &[u8]) -> Result<Event, SchedulerError> {
    media.decode(record).map_err(|e| SchedulerError::Decode {
        what: "event",
        reason: e.to_string(),
    })
}

/// The events of one subscription, SUBSCRIBED already taken.
#[derive(Debug)]
pub struct Events {
    stream: RecordStream,
    media: MediaType,
    wait: Duration,
    heartbeat_misses: u32,
}

impl Events {
    /// The next event (heartbeats included). Fails with
    /// [`SchedulerError::HeartbeatMissed`] when nothing arrives within
    /// the heartbeat interval times the allowed misses, and
    /// [`SchedulerError::StreamEnded`] when the master closes the stream.
    pub async fn next(&mut self) -> Result<Event, SchedulerError> {
        self.next_within(self.wait).await
    }

    async fn next_within(&mut self, wait: Duration) -> Result<Event, SchedulerError> {
        match self.stream.next(wait).await {
            Ok(Some(record)) => decode_event(self.media, &record),
            Ok(None) => Err(SchedulerError::StreamEnded),
            Err(HttpError::Timeout(d)) => Err(SchedulerError::HeartbeatMissed(d)),
            Err(e) => Err(e.into()),
        }
    }

    /// How long [`Events::next`] waits before declaring heartbeats missed.
    pub fn heartbeat_timeout(&self) -> Duration {
        self.wait
    }

    /// The events as a [`futures_util::Stream`], ending after the first
    /// error.
    pub fn into_stream(self) -> impl futures_util::Stream<Item = Result<Event, SchedulerError>> {
        futures_util::stream::unfold(Some(self), |state| async move {
            let mut events = state?;
            match events.next().await {
                Ok(event) => Some((Ok(event), Some(events))),
                Err(e) => Some((Err(e), None)),
            }
        })
    }
}

#[derive(Debug)]
struct SessionInner {
    client: Client,
    url: String,
    stream_id: String,
    subscribed: event::Subscribed,
}

/// One subscription's calls: every call carries its framework id and
/// stream id and goes to the master that answered the subscription.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
}

impl Session {
    /// The framework's id.
    pub fn framework_id(&self) -> &FrameworkId {
        &self.inner.subscribed.framework_id
    }

    /// The SUBSCRIBED event that opened this session.
    pub fn subscribed(&self) -> &event::Subscribed {
        &self.inner.subscribed
    }

    /// The `Mesos-Stream-Id` of this session.
    pub fn stream_id(&self) -> &str {
        &self.inner.stream_id
    }

    /// The URL calls go to.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Sends `call` (its framework id filled in when missing). A 202
    /// answers `None`; a 200 answers the decoded [`Response`]. A 307 is not
    /// followed: the stream id belongs to the old master, so it fails with
    /// [`SchedulerError::LeaderChanged`]. A 503 is retried with backoff.
    pub async fn call(&self, mut call: Call) -> Result<Option<Response>, SchedulerError> {
        if call.framework_id.is_none() {
            call.framework_id = Some(self.framework_id().clone());
        }
        let client = &self.inner.client;
        let body = client.media.encode(&call);
        let url = &self.inner.url;
        let headers = [
            ("Content-Type", client.media.as_str()),
            ("Accept", client.media.as_str()),
            (STREAM_ID, self.inner.stream_id.as_str()),
        ];
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let mut unavailable = 0;
        loop {
            // A master that dies mid-call must not hang the caller.
            let resp =
                tokio::time::timeout(CALL_TIMEOUT, client.http.post(url, &headers, body.clone()))
                    .await
                    .map_err(|_| HttpError::Timeout(CALL_TIMEOUT))??;
            let status = resp.status().as_u16();
            match status {
                202 => return Ok(None),
                200 => {
                    let body = read_body(resp, url).await?;
                    if body.is_empty() {
                        return Ok(None);
                    }
                    return client.media.decode(&body).map(Some).map_err(|e| {
                        SchedulerError::Decode {
                            what: "response",
                            reason: e.to_string(),
                        }
                    });
                }
                307 => {
                    return Err(SchedulerError::LeaderChanged {
                        location: location(&resp),
                    });
                }
                503 => {
                    let message = text(read_body(resp, url).await.unwrap_or_default());
                    unavailable += 1;
                    if unavailable > client.retries_503 {
                        return Err(SchedulerError::Unavailable {
                            url: url.clone(),
                            message,
                        });
                    }
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                _ => {
                    let message = text(read_body(resp, url).await.unwrap_or_default());
                    return Err(SchedulerError::Refused { status, message });
                }
            }
        }
    }

    async fn send(
        &self,
        ty: call::Type,
        fill: impl FnOnce(&mut Call),
    ) -> Result<(), SchedulerError> {
        let mut call = Call {
            r#type: Some(ty as i32),
            ..Default::default()
        };
        fill(&mut call);
        self.call(call).await.map(|_| ())
    }

    /// TEARDOWN: ends the framework, killing its tasks.
    pub async fn teardown(&self) -> Result<(), SchedulerError> {
        self.send(call::Type::Teardown, |_| {}).await
    }

    /// ACCEPT `offers` with `operations`; what is left is declined with
    /// `filters`.
    pub async fn accept(
        &self,
        offers: Vec<OfferId>,
        operations: Vec<offer::Operation>,
        filters: Option<Filters>,
    ) -> Result<(), SchedulerError> {
        self.send(call::Type::Accept, |c| {
            c.accept = Some(call::Accept {
                offer_ids: offers,
                operations,
                filters,
            })
        })
        .await
    }

    /// ACCEPT `offers` with one LAUNCH of `tasks`.
    pub async fn launch(
        &self,
        offers: Vec<OfferId>,
        tasks: Vec<TaskInfo>,
        filters: Option<Filters>,
    ) -> Result<(), SchedulerError> {
        self.accept(offers, vec![launch(tasks)], filters).await
    }

    /// ACCEPT `offers` with one LAUNCH_GROUP of `group` run by `executor`.
    pub async fn launch_group(
        &self,
        offers: Vec<OfferId>,
        executor: ExecutorInfo,
        group: TaskGroupInfo,
        filters: Option<Filters>,
    ) -> Result<(), SchedulerError> {
        self.accept(offers, vec![launch_group(executor, group)], filters)
            .await
    }

    /// DECLINE `offers`, not to be offered again for `filters`'
    /// `refuse_seconds` (Mesos' default: 5 s).
    pub async fn decline(
        &self,
        offers: Vec<OfferId>,
        filters: Option<Filters>,
    ) -> Result<(), SchedulerError> {
        self.send(call::Type::Decline, |c| {
            c.decline = Some(call::Decline {
                offer_ids: offers,
                filters,
            })
        })
        .await
    }

    /// ACCEPT_INVERSE_OFFERS.
    pub async fn accept_inverse_offers(
        &self,
        inverse_offers: Vec<OfferId>,
        filters: Option<Filters>,
    ) -> Result<(), SchedulerError> {
        self.send(call::Type::AcceptInverseOffers, |c| {
            c.accept_inverse_offers = Some(call::AcceptInverseOffers {
                inverse_offer_ids: inverse_offers,
                filters,
            })
        })
        .await
    }

    /// DECLINE_INVERSE_OFFERS.
    pub async fn decline_inverse_offers(
        &self,
        inverse_offers: Vec<OfferId>,
        filters: Option<Filters>,
    ) -> Result<(), SchedulerError> {
        self.send(call::Type::DeclineInverseOffers, |c| {
            c.decline_inverse_offers = Some(call::DeclineInverseOffers {
                inverse_offer_ids: inverse_offers,
                filters,
            })
        })
        .await
    }

    /// REVIVE: clears filters and resumes offers for `roles` (all of the
    /// framework's roles when empty).
    pub async fn revive(&self, roles: Vec<String>) -> Result<(), SchedulerError> {
        self.send(call::Type::Revive, |c| {
            c.revive = Some(call::Revive { roles })
        })
        .await
    }

    /// SUPPRESS: no more offers for `roles` (all when empty) until REVIVE.
    pub async fn suppress(&self, roles: Vec<String>) -> Result<(), SchedulerError> {
        self.send(call::Type::Suppress, |c| {
            c.suppress = Some(call::Suppress { roles })
        })
        .await
    }

    /// KILL a task.
    pub async fn kill(
        &self,
        task: TaskId,
        agent: Option<AgentId>,
        kill_policy: Option<KillPolicy>,
    ) -> Result<(), SchedulerError> {
        self.send(call::Type::Kill, |c| {
            c.kill = Some(call::Kill {
                task_id: task,
                agent_id: agent,
                kill_policy,
            })
        })
        .await
    }

    /// SHUTDOWN an executor.
    pub async fn shutdown(
        &self,
        executor: ExecutorId,
        agent: AgentId,
    ) -> Result<(), SchedulerError> {
        self.send(call::Type::Shutdown, |c| {
            c.shutdown = Some(call::Shutdown {
                executor_id: executor,
                agent_id: agent,
            })
        })
        .await
    }

    /// ACKNOWLEDGE a status update; statuses without a uuid (master
    /// generated, reconciliation answers) need none and send nothing.
    pub async fn acknowledge(&self, status: &TaskStatus) -> Result<(), SchedulerError> {
        let (Some(uuid), Some(agent)) = (&status.uuid, &status.agent_id) else {
            return Ok(());
        };
        let (uuid, agent, task) = (uuid.clone(), agent.clone(), status.task_id.clone());
        self.send(call::Type::Acknowledge, |c| {
            c.acknowledge = Some(call::Acknowledge {
                agent_id: agent,
                task_id: task,
                uuid,
            })
        })
        .await
    }

    /// ACKNOWLEDGE_OPERATION_STATUS; statuses without a uuid send nothing.
    pub async fn acknowledge_operation_status(
        &self,
        status: &OperationStatus,
    ) -> Result<(), SchedulerError> {
        let (Some(uuid), Some(operation)) = (&status.uuid, &status.operation_id) else {
            return Ok(());
        };
        let ack = call::AcknowledgeOperationStatus {
            agent_id: status.agent_id.clone(),
            resource_provider_id: status.resource_provider_id.clone(),
            uuid: uuid.value.clone(),
            operation_id: operation.clone(),
        };
        self.send(call::Type::AcknowledgeOperationStatus, |c| {
            c.acknowledge_operation_status = Some(ack)
        })
        .await
    }

    /// RECONCILE `tasks` (task, agent when known); an empty list asks for
    /// every task the master knows of this framework (implicit).
    pub async fn reconcile(
        &self,
        tasks: Vec<(TaskId, Option<AgentId>)>,
    ) -> Result<(), SchedulerError> {
        let tasks = tasks
            .into_iter()
            .map(|(task_id, agent_id)| call::reconcile::Task { task_id, agent_id })
            .collect();
        self.send(call::Type::Reconcile, |c| {
            c.reconcile = Some(call::Reconcile { tasks })
        })
        .await
    }

    /// RECONCILE_OPERATIONS; the master may answer with their statuses.
    pub async fn reconcile_operations(
        &self,
        operations: Vec<call::reconcile_operations::Operation>,
    ) -> Result<Option<Response>, SchedulerError> {
        self.call(Call {
            r#type: Some(call::Type::ReconcileOperations as i32),
            reconcile_operations: Some(call::ReconcileOperations { operations }),
            ..Default::default()
        })
        .await
    }

    /// MESSAGE: `data` to an executor (best effort, as in Mesos).
    pub async fn message(
        &self,
        agent: AgentId,
        executor: ExecutorId,
        data: Vec<u8>,
    ) -> Result<(), SchedulerError> {
        self.send(call::Type::Message, |c| {
            c.message = Some(call::Message {
                agent_id: agent,
                executor_id: executor,
                data,
            })
        })
        .await
    }

    /// REQUEST resources (Mesos' allocator ignores these).
    pub async fn request(
        &self,
        requests: Vec<mesos_proto::v1::Request>,
    ) -> Result<(), SchedulerError> {
        self.send(call::Type::Request, |c| {
            c.request = Some(call::Request { requests })
        })
        .await
    }

    /// UPDATE_FRAMEWORK: new roles, name, capabilities ..., and the roles
    /// to keep suppressed. The framework id in `info` must be this one's.
    pub async fn update_framework(
        &self,
        mut info: FrameworkInfo,
        suppressed_roles: Vec<String>,
    ) -> Result<(), SchedulerError> {
        if info.id.is_none() {
            info.id = Some(self.framework_id().clone());
        }
        self.send(call::Type::UpdateFramework, |c| {
            c.update_framework = Some(call::UpdateFramework {
                framework_info: info,
                suppressed_roles,
                offer_constraints: None,
            })
        })
        .await
    }
}

/// A LAUNCH operation of `tasks`.
pub fn launch(tasks: Vec<TaskInfo>) -> offer::Operation {
    offer::Operation {
        r#type: Some(offer::operation::Type::Launch as i32),
        launch: Some(offer::operation::Launch { task_infos: tasks }),
        ..Default::default()
    }
}

/// A LAUNCH_GROUP operation of `group` run by `executor`.
pub fn launch_group(executor: ExecutorInfo, group: TaskGroupInfo) -> offer::Operation {
    offer::Operation {
        r#type: Some(offer::operation::Type::LaunchGroup as i32),
        launch_group: Some(offer::operation::LaunchGroup {
            executor,
            task_group: group,
        }),
        ..Default::default()
    }
}

/// Filters declining for `seconds`.
///
/// ```
/// assert_eq!(mesos_scheduler::client::refuse(60.0).refuse_seconds, Some(60.0));
/// ```
pub fn refuse(seconds: f64) -> Filters {
    Filters {
        refuse_seconds: Some(seconds),
    }
}
