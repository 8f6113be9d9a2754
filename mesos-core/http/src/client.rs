//! A small HTTP/1 client for the v1 APIs: POST a call, read a RecordIO
//! stream.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mesos_http::client::HttpError> {
//! use mesos_http::client::{Client, RecordStream};
//! use std::time::Duration;
//!
//! let client = Client::default();
//! let resp = client
//!     .post_ok(
//!         "http://127.0.0.1:5050/api/v1/scheduler",
//!         &[("Content-Type", "application/json")],
//!         br#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}"#.to_vec(),
//!     )
//!     .await?;
//! let mut events = RecordStream::new(resp.into_body());
//! let first = events.next(Duration::from_secs(5)).await?;
//! # let _ = first; Ok(()) }
//! ```

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mesos_proto::recordio::{Decoder, RecordIoError};
use std::time::Duration;

/// The largest record a [`RecordStream`] accepts by default (64 MiB).
pub const DEFAULT_MAX_RECORD: usize = 64 << 20;

/// What went wrong talking to a server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The request could not be made or its body not read (connection
    /// refused, reset, a bad URL).
    #[error("HTTP request to {url} failed: {message}")]
    Request {
        /// Where it went.
        url: String,
        /// Why it failed.
        message: String,
    },
    /// The server answered with a status that is not a success.
    #[error("HTTP {status} from {url}: {body}")]
    Status {
        /// Where it went.
        url: String,
        /// The status.
        status: u16,
        /// The body, as text.
        body: String,
    },
    /// A stream did not frame properly.
    #[error("bad RecordIO stream: {0}")]
    Stream(#[from] RecordIoError),
    /// No record arrived in time.
    #[error("no stream record within {0:?}")]
    Timeout(Duration),
}

/// A shared HTTP/1 client (a connection pool); cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    inner: HyperClient<HttpConnector, Full<Bytes>>,
}

impl Default for Client {
    fn default() -> Self {
        Client {
            inner: HyperClient::builder(TokioExecutor::new()).build_http(),
        }
    }
}

impl Client {
    /// A client that keeps at most `idle` unused connections per host (the
    /// default keeps every one for 90 s): for one client shared by
    /// thousands of callers, whose bursts would otherwise leave thousands
    /// of idle sockets open.
    pub fn with_max_idle_per_host(idle: usize) -> Client {
        Client {
            inner: HyperClient::builder(TokioExecutor::new())
                .pool_max_idle_per_host(idle)
                .build_http(),
        }
    }
}

/// The error with its causes (hyper's own message is only "client error
/// (Connect)"; the cause says "Connection refused").
fn request_error(url: &str, e: impl std::error::Error) -> HttpError {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    HttpError::Request {
        url: url.to_string(),
        message,
    }
}

impl Client {
    /// Sends a request with `method`, `headers` and `body` to `url`.
    pub async fn request(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Response<Incoming>, HttpError> {
        let mut req = Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| request_error(url, e))?;
        self.inner
            .request(req)
            .await
            .map_err(|e| request_error(url, e))
    }

    /// POSTs `body` to `url` with `headers`; any status is returned.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Response<Incoming>, HttpError> {
        self.request("POST", url, headers, body).await
    }

    /// POSTs and requires a 2xx answer; any other status is
    /// [`HttpError::Status`] with the body the server gave as its reason.
    pub async fn post_ok(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Response<Incoming>, HttpError> {
        let resp = self.post(url, headers, body).await?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let body = read_body(resp, url).await.unwrap_or_default();
        Err(HttpError::Status {
            url: url.to_string(),
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    /// GETs `url`: the status, headers and whole body.
    pub async fn get(&self, url: &str) -> Result<(u16, hyper::HeaderMap, Vec<u8>), HttpError> {
        let resp = self.request("GET", url, &[], Vec::new()).await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = read_body(resp, url).await?;
        Ok((status, headers, body))
    }
}

/// The `Mesos-Stream-Id` a SUBSCRIBE answer names (empty when none).
pub fn stream_id<B>(resp: &Response<B>) -> String {
    resp.headers()
        .get(crate::STREAM_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Reads a whole response body into one buffer, sized up front from
/// `Content-Length` (up to 64 MiB; a larger body grows it as it comes),
/// so a large body (a `/state` of 100,000 tasks) is copied once.
pub async fn read_body(resp: Response<Incoming>, url: &str) -> Result<Vec<u8>, HttpError> {
    const MAX_PRESIZE: usize = 64 << 20;
    let expected = resp
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut out = Vec::with_capacity(expected.min(MAX_PRESIZE));
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(|e| request_error(url, e))?.into_data() {
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// The records of a RecordIO response body, one at a time.
#[derive(Debug)]
pub struct RecordStream {
    body: Incoming,
    decoder: Decoder,
    /// The body has ended (seen by [`RecordStream::ready`]).
    ended: bool,
}

impl RecordStream {
    /// Reads `body` as a RecordIO stream with records of at most
    /// [`DEFAULT_MAX_RECORD`] bytes.
    pub fn new(body: Incoming) -> RecordStream {
        RecordStream::with_max_record(body, DEFAULT_MAX_RECORD)
    }

    /// Reads `body` as a RecordIO stream with records of at most `max`
    /// bytes: a larger one is an error, not an allocation.
    pub fn with_max_record(body: Incoming, max: usize) -> RecordStream {
        RecordStream {
            body,
            decoder: Decoder::new(max),
            ended: false,
        }
    }

    /// The next record if it has arrived already, without waiting:
    /// `Ok(None)` when none has (or the stream ended: [`RecordStream::next`]
    /// then says so). For a reader that handles what came together before
    /// acting on it, say sending one call for several events.
    pub fn ready(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        use hyper::body::Body;
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let Some(record) = self.decoder.next_record()? {
                return Ok(Some(record));
            }
            if self.ended {
                return Ok(None);
            }
            // A look without waiting: whoever waits next (`next`)
            // registers a real waker.
            match std::pin::Pin::new(&mut self.body).poll_frame(&mut cx) {
                std::task::Poll::Pending => return Ok(None),
                std::task::Poll::Ready(None) => self.ended = true,
                std::task::Poll::Ready(Some(Err(e))) => {
                    return Err(request_error("the stream", e));
                }
                std::task::Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.decoder.feed(&data);
                    }
                }
            }
        }
    }

    /// The next record; `Ok(None)` at the end of the stream;
    /// [`HttpError::Timeout`] if none arrives within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<Vec<u8>>, HttpError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if self.ended {
                self.decoder.finish()?;
                return Ok(None);
            }
            if let Some(record) = self.decoder.next_record()? {
                return Ok(Some(record));
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .map_err(|_| HttpError::Timeout(wait))?;
            match frame {
                None => {
                    self.decoder.finish()?;
                    return Ok(None);
                }
                Some(Err(e)) => return Err(request_error("the stream", e)),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.decoder.feed(&data);
                    }
                }
            }
        }
    }
}
