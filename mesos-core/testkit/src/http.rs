//! A small HTTP client for tests: POST a body, read a RecordIO stream.

use hyper::Response;
use hyper::body::Incoming;
use mesos_http::client::{Client, HttpError, read_body};
use mesos_proto::recordio::RecordIoError;
use std::time::Duration;

/// What went wrong talking to a test server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    /// The request failed.
    #[error("HTTP request failed: {0}")]
    Http(String),
    /// The server answered with an unexpected status.
    #[error("unexpected HTTP {status}: {body}")]
    Status {
        /// The status.
        status: u16,
        /// The body, as text.
        body: String,
    },
    /// A stream did not frame properly.
    #[error("bad stream: {0}")]
    Stream(#[from] RecordIoError),
    /// The scenario cannot run here as asked (a system limit, a bad size).
    #[error("{0}")]
    Setup(String),
    /// Something did not happen in time.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// A message did not decode.
    #[error("bad message: {0}")]
    Decode(String),
}

impl From<HttpError> for TestkitError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Status { status, body, .. } => TestkitError::Status { status, body },
            HttpError::Stream(e) => TestkitError::Stream(e),
            HttpError::Timeout(_) => TestkitError::Timeout("a stream record"),
            other => TestkitError::Http(other.to_string()),
        }
    }
}

/// A shared HTTP/1 client.
#[derive(Debug, Clone, Default)]
pub struct TestClient {
    client: Client,
    /// Bounds the requests in flight, when set.
    in_flight: Option<std::sync::Arc<tokio::sync::Semaphore>>,
}

impl TestClient {
    /// A client keeping at most `idle` unused connections per host and
    /// making at most `16 * idle` requests at once, for one client shared
    /// by thousands of simulated agents: a burst of calls waits for a
    /// connection instead of opening one each (and running out of open
    /// files).
    pub fn with_max_idle_per_host(idle: usize) -> TestClient {
        TestClient::bounded(idle, 16 * idle.max(1))
    }

    /// A client keeping at most `idle` unused connections per host and
    /// making at most `in_flight` requests at once.
    pub fn bounded(idle: usize, in_flight: usize) -> TestClient {
        TestClient {
            client: Client::with_max_idle_per_host(idle),
            in_flight: Some(std::sync::Arc::new(tokio::sync::Semaphore::new(
                in_flight.max(1),
            ))),
        }
    }

    /// A permit to make a request, if requests are bounded.
    async fn permit(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        match &self.in_flight {
            // The semaphore is never closed.
            Some(s) => s.acquire().await.ok(),
            None => None,
        }
    }

    /// POSTs `body` to `url` with the given headers.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Response<Incoming>, TestkitError> {
        let _permit = self.permit().await;
        Ok(self.client.post(url, headers, body).await?)
    }

    /// GETs `url`: the status, headers and whole body.
    pub async fn get(&self, url: &str) -> Result<(u16, hyper::HeaderMap, Vec<u8>), TestkitError> {
        let _permit = self.permit().await;
        Ok(self.client.get(url).await?)
    }

    /// GETs `url`, expecting 200 and a JSON body (`/state`, `/metrics/snapshot`).
    pub async fn get_json(&self, url: &str) -> Result<serde_json::Value, TestkitError> {
        let (status, _, body) = self.get(url).await?;
        if status != 200 {
            return Err(TestkitError::Status {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        serde_json::from_slice(&body).map_err(|e| TestkitError::Decode(format!("{url}: {e}")))
    }

    /// Makes an operator API call (`POST /api/v1`, protobuf) on the master
    /// at `master`: its response, or `None` for a bare 200.
    pub async fn operator(
        &self,
        master: std::net::SocketAddr,
        call: &mesos_proto::v1::master::Call,
    ) -> Result<Option<mesos_proto::v1::master::Response>, TestkitError> {
        use mesos_proto::prost::Message;
        let resp = self
            .post_ok(
                &format!("http://{master}/api/v1"),
                &[
                    ("Content-Type", "application/x-protobuf"),
                    ("Accept", "application/x-protobuf"),
                ],
                call.encode_to_vec(),
            )
            .await?;
        let body = read_body(resp, "/api/v1").await?;
        if body.is_empty() {
            return Ok(None);
        }
        mesos_proto::v1::master::Response::decode(body.as_slice())
            .map(Some)
            .map_err(|e| TestkitError::Decode(e.to_string()))
    }

    /// Makes an operator API call that has no arguments (GET_STATE,
    /// GET_AGENTS, ...) and returns its response.
    pub async fn operator_get(
        &self,
        master: std::net::SocketAddr,
        ty: mesos_proto::v1::master::call::Type,
    ) -> Result<mesos_proto::v1::master::Response, TestkitError> {
        let call = mesos_proto::v1::master::Call {
            r#type: Some(ty as i32),
            ..Default::default()
        };
        self.operator(master, &call)
            .await?
            .ok_or_else(|| TestkitError::Decode(format!("{} answered no body", ty.as_str_name())))
    }

    /// POSTs and requires a 2xx answer.
    pub async fn post_ok(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Response<Incoming>, TestkitError> {
        let _permit = self.permit().await;
        Ok(self.client.post_ok(url, headers, body).await?)
    }
}

/// The records of a RecordIO response body, one at a time.
#[derive(Debug)]
pub struct RecordStream(mesos_http::client::RecordStream);

impl RecordStream {
    /// Reads `body` as a RecordIO stream.
    pub fn new(body: Incoming) -> RecordStream {
        RecordStream(mesos_http::client::RecordStream::new(body))
    }

    /// The next record; `Ok(None)` at the end of the stream; an error if
    /// none arrives within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<Vec<u8>>, TestkitError> {
        Ok(self.0.next(wait).await?)
    }

    /// The next record if it has arrived already, without waiting
    /// ([`mesos_http::client::RecordStream::ready`]).
    pub fn ready(&mut self) -> Result<Option<Vec<u8>>, TestkitError> {
        Ok(self.0.ready()?)
    }
}
