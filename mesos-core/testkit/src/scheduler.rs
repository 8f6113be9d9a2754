//! A raw v1 scheduler client for tests: subscribe, read events, make calls.
//! (Framework authors want `mesos-scheduler`; this speaks the wire directly
//! so tests see exactly what the master sends.)

use crate::http::{RecordStream, TestClient, TestkitError};
use mesos_proto::media::MediaType;
use mesos_proto::resources::Resources;
use mesos_proto::v1::offer::{Operation, operation};
use mesos_proto::v1::scheduler::{Call, Event, Response, call, event};
use mesos_proto::v1::{
    AgentId, CommandInfo, Filters, FrameworkId, FrameworkInfo, OfferId, OperationId,
    OperationStatus, TaskId, TaskInfo, TaskStatus,
};
use std::net::SocketAddr;
use std::time::Duration;

/// The PARTITION_AWARE capability when `on`, else none: a framework's
/// `capabilities`.
///
/// ```
/// let aware = mesos_testkit::partition_aware(true);
/// assert_eq!(aware.len(), 1);
/// assert!(mesos_testkit::partition_aware(false).is_empty());
/// ```
pub fn partition_aware(on: bool) -> Vec<mesos_proto::v1::framework_info::Capability> {
    use mesos_proto::v1::framework_info::{Capability, capability::Type};
    on.then_some(Capability {
        r#type: Some(Type::PartitionAware as i32),
    })
    .into_iter()
    .collect()
}

/// A command task `id` on `agent` that runs `sleep 1000` with `resources`
/// (the `--resources` text form).
///
/// # Panics
/// If `resources` does not parse: it is a test's literal.
pub fn sleep_task(id: &str, agent: &AgentId, resources: &str) -> TaskInfo {
    TaskInfo {
        name: id.into(),
        task_id: TaskId::new(id),
        agent_id: agent.clone(),
        resources: resources
            .parse::<Resources>()
            .unwrap_or_else(|e| panic!("test resources {resources:?}: {e}"))
            .into_vec(),
        command: Some(CommandInfo {
            value: Some("sleep 1000".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A subscribed framework, speaking the v1 scheduler API over HTTP.
#[derive(Debug)]
pub struct RawScheduler {
    client: TestClient,
    url: String,
    media: MediaType,
    stream_id: String,
    framework_id: FrameworkId,
    events: RecordStream,
}

impl RawScheduler {
    /// SUBSCRIBEs to the master at `master` and waits for SUBSCRIBED.
    pub async fn subscribe(
        master: SocketAddr,
        info: FrameworkInfo,
        media: MediaType,
    ) -> Result<RawScheduler, TestkitError> {
        // Benchmarks make calls by the thousand at once: they queue for
        // 256 connections, all kept open between bursts (more in flight
        // than idle would open and close a connection per call beyond the
        // idle limit: thousands per burst).
        let client = TestClient::bounded(256, 256);
        let url = format!("http://{master}/api/v1/scheduler");
        let call = Call {
            framework_id: info.id.clone(),
            r#type: Some(call::Type::Subscribe as i32),
            subscribe: Some(call::Subscribe {
                framework_info: info,
                ..Default::default()
            }),
            ..Default::default()
        };
        let headers = [("Content-Type", media.as_str()), ("Accept", media.as_str())];
        let resp = client.post_ok(&url, &headers, media.encode(&call)).await?;
        let stream_id = resp
            .headers()
            .get("Mesos-Stream-Id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let mut scheduler = RawScheduler {
            client,
            url,
            media,
            stream_id,
            framework_id: FrameworkId::default(),
            events: RecordStream::new(resp.into_body()),
        };
        let subscribed = scheduler
            .wait_for(Duration::from_secs(10), |e| e.subscribed.is_some())
            .await?;
        scheduler.framework_id = subscribed
            .subscribed
            .map(|s| s.framework_id)
            .unwrap_or_default();
        Ok(scheduler)
    }

    /// The framework id the master assigned.
    pub fn framework_id(&self) -> &FrameworkId {
        &self.framework_id
    }

    /// The next event (heartbeats included); `Ok(None)` when the stream
    /// ends.
    pub async fn next_event(&mut self, wait: Duration) -> Result<Option<Event>, TestkitError> {
        match self.events.next(wait).await? {
            Some(record) => self
                .media
                .decode(&record)
                .map(Some)
                .map_err(|e| TestkitError::Decode(e.to_string())),
            None => Ok(None),
        }
    }

    /// Skips events until one satisfies `want`, within `wait`.
    pub async fn wait_for(
        &mut self,
        wait: Duration,
        want: impl Fn(&Event) -> bool,
    ) -> Result<Event, TestkitError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_event(left).await? {
                Some(e) if want(&e) => return Ok(e),
                Some(_) => {}
                None => return Err(TestkitError::Timeout("an event (the stream ended)")),
            }
        }
    }

    /// Events other than heartbeats that arrive within `wait`.
    pub async fn drain(&mut self, wait: Duration) -> Vec<Event> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_event(left).await {
                Ok(Some(e)) if e.r#type == Some(event::Type::Heartbeat as i32) => {}
                Ok(Some(e)) => out.push(e),
                _ => return out,
            }
        }
    }

    /// A call of type `ty` from this framework, to fill in and send.
    pub fn call_of(&self, ty: call::Type) -> Call {
        Call {
            framework_id: Some(self.framework_id.clone()),
            r#type: Some(ty as i32),
            ..Default::default()
        }
    }

    /// Sends a call on this subscription; returns the HTTP status and body.
    pub async fn call(&self, call: &Call) -> Result<(u16, String), TestkitError> {
        self.caller().call(call).await
    }

    /// Sends a call answered with a `Response` (RECONCILE_OPERATIONS).
    pub async fn respond(&self, call: &Call) -> Result<Response, TestkitError> {
        self.caller().respond(call).await
    }

    /// An ACCEPT of `offers` launching `tasks`, declining what is left for
    /// `refuse_seconds` when given.
    pub fn launch_call(
        &self,
        offers: &[&OfferId],
        tasks: Vec<TaskInfo>,
        refuse_seconds: Option<f64>,
    ) -> Call {
        let mut c = self.call_of(call::Type::Accept);
        c.accept = Some(call::Accept {
            offer_ids: offers.iter().map(|o| (*o).clone()).collect(),
            operations: vec![Operation {
                r#type: Some(operation::Type::Launch as i32),
                launch: Some(operation::Launch { task_infos: tasks }),
                ..Default::default()
            }],
            filters: refuse_seconds.map(|r| Filters {
                refuse_seconds: Some(r),
            }),
        });
        c
    }

    /// A KILL of `task` on `agent`.
    pub fn kill_call(&self, task: &str, agent: &AgentId) -> Call {
        let mut c = self.call_of(call::Type::Kill);
        c.kill = Some(call::Kill {
            task_id: TaskId::new(task),
            agent_id: Some(agent.clone()),
            kill_policy: None,
        });
        c
    }

    /// An ACCEPT of `offers` launching `tasks` as one task group on
    /// `executor` (LAUNCH_GROUP).
    pub fn launch_group_call(
        &self,
        offers: &[&OfferId],
        executor: mesos_proto::v1::ExecutorInfo,
        tasks: Vec<TaskInfo>,
    ) -> Call {
        let mut c = self.call_of(call::Type::Accept);
        c.accept = Some(call::Accept {
            offer_ids: offers.iter().map(|o| (*o).clone()).collect(),
            operations: vec![Operation {
                r#type: Some(operation::Type::LaunchGroup as i32),
                launch_group: Some(operation::LaunchGroup {
                    executor,
                    task_group: mesos_proto::v1::TaskGroupInfo { tasks },
                }),
                ..Default::default()
            }],
            filters: None,
        });
        c
    }

    /// Acknowledges a status update (it must carry its uuid and agent);
    /// returns the HTTP status.
    pub async fn acknowledge(&self, status: &TaskStatus) -> Result<u16, TestkitError> {
        let mut c = self.call_of(call::Type::Acknowledge);
        c.acknowledge = Some(call::Acknowledge {
            agent_id: status.agent_id.clone().unwrap_or_default(),
            task_id: status.task_id.clone(),
            uuid: status.uuid.clone().unwrap_or_default(),
        });
        Ok(self.call(&c).await?.0)
    }

    /// RECONCILE `tasks` (task id, agent when known); none asks for every
    /// task (implicit). The answers arrive as UPDATE events; returns the
    /// HTTP status.
    pub async fn reconcile(&self, tasks: &[(&str, Option<&AgentId>)]) -> Result<u16, TestkitError> {
        let mut call = self.call_of(call::Type::Reconcile);
        call.reconcile = Some(call::Reconcile {
            tasks: tasks
                .iter()
                .map(|(task, agent)| call::reconcile::Task {
                    task_id: TaskId::new(*task),
                    agent_id: agent.cloned(),
                })
                .collect(),
        });
        Ok(self.call(&call).await?.0)
    }

    /// RECONCILE_OPERATIONS of `operations` (operation id, agent when
    /// known): the statuses of the master's response.
    pub async fn reconcile_operations(
        &self,
        operations: &[(&str, Option<&AgentId>)],
    ) -> Result<Vec<OperationStatus>, TestkitError> {
        let mut call = self.call_of(call::Type::ReconcileOperations);
        call.reconcile_operations = Some(call::ReconcileOperations {
            operations: operations
                .iter()
                .map(|(id, agent)| call::reconcile_operations::Operation {
                    operation_id: OperationId::new(*id),
                    agent_id: agent.cloned(),
                    resource_provider_id: None,
                })
                .collect(),
        });
        let response = self.respond(&call).await?;
        Ok(response
            .reconcile_operations
            .map(|r| r.operation_statuses)
            .unwrap_or_default())
    }

    /// The next UPDATE's status, within `wait`.
    pub async fn next_update(&mut self, wait: Duration) -> Result<TaskStatus, TestkitError> {
        let e = self.wait_for(wait, |e| e.update.is_some()).await?;
        e.update
            .map(|u| u.status)
            .ok_or(TestkitError::Timeout("UPDATE"))
    }

    /// A handle that makes calls on this subscription from other tasks,
    /// concurrently.
    pub fn caller(&self) -> Caller {
        Caller {
            client: self.client.clone(),
            url: self.url.clone(),
            media: self.media,
            stream_id: self.stream_id.clone(),
        }
    }
}

/// Makes calls on a [`RawScheduler`]'s subscription; cheap to clone.
#[derive(Debug, Clone)]
pub struct Caller {
    client: TestClient,
    url: String,
    media: MediaType,
    stream_id: String,
}

impl Caller {
    /// Sends a call; returns the HTTP status and body.
    pub async fn call(&self, call: &Call) -> Result<(u16, String), TestkitError> {
        let (status, body) = self.post(call).await?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    /// Sends a call that the master answers with a `Response` (200 OK);
    /// any other status is an error carrying the body.
    pub async fn respond(&self, call: &Call) -> Result<Response, TestkitError> {
        let (status, body) = self.post(call).await?;
        if status != 200 {
            return Err(TestkitError::Status {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        self.media
            .decode(&body)
            .map_err(|e| TestkitError::Decode(e.to_string()))
    }

    async fn post(&self, call: &Call) -> Result<(u16, Vec<u8>), TestkitError> {
        let headers = [
            ("Content-Type", self.media.as_str()),
            ("Accept", self.media.as_str()),
            ("Mesos-Stream-Id", self.stream_id.as_str()),
        ];
        let resp = self
            .client
            .post(&self.url, &headers, self.media.encode(call))
            .await?;
        let status = resp.status().as_u16();
        let body = mesos_http::client::read_body(resp, &self.url)
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        Ok((status, body))
    }
}
