//! A raw v1 scheduler client for tests: subscribe, read events, make calls.
//! (Framework authors want `mesos-scheduler`; this speaks the wire directly
//! so tests see exactly what the master sends.)

use crate::http::{RecordStream, TestClient, TestkitError};
use mesos_proto::media::MediaType;
use mesos_proto::v1::scheduler::{Call, Event, call, event};
use mesos_proto::v1::{FrameworkId, FrameworkInfo};
use std::net::SocketAddr;
use std::time::Duration;

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
        let client = TestClient::default();
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
        use http_body_util::BodyExt;
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        Ok((status, body))
    }
}
