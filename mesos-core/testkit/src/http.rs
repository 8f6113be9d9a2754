//! A small HTTP client for tests: POST a body, read a RecordIO stream.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mesos_proto::recordio::{Decoder, RecordIoError};
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

/// A shared HTTP/1 client.
#[derive(Debug, Clone)]
pub struct TestClient {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for TestClient {
    fn default() -> Self {
        TestClient {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }
}

impl TestClient {
    /// POSTs `body` to `url` with the given headers.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Response<Incoming>, TestkitError> {
        let mut req = Request::builder().method("POST").uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| TestkitError::Http(e.to_string()))?;
        self.client
            .request(req)
            .await
            .map_err(|e| TestkitError::Http(e.to_string()))
    }

    /// GETs `url`: the status, headers and whole body.
    pub async fn get(&self, url: &str) -> Result<(u16, hyper::HeaderMap, Vec<u8>), TestkitError> {
        let req = Request::builder()
            .method("GET")
            .uri(url)
            .body(Full::new(Bytes::new()))
            .map_err(|e| TestkitError::Http(e.to_string()))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| TestkitError::Http(e.to_string()))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| TestkitError::Http(e.to_string()))?
            .to_bytes()
            .to_vec();
        Ok((status, headers, body))
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
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| TestkitError::Http(e.to_string()))?
            .to_bytes();
        if body.is_empty() {
            return Ok(None);
        }
        mesos_proto::v1::master::Response::decode(body.as_ref())
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
        let resp = self.post(url, headers, body).await?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        Err(TestkitError::Status { status, body })
    }
}

/// The records of a RecordIO response body, one at a time.
#[derive(Debug)]
pub struct RecordStream {
    body: Incoming,
    decoder: Decoder,
}

impl RecordStream {
    /// Reads `body` as a RecordIO stream.
    pub fn new(body: Incoming) -> RecordStream {
        RecordStream {
            body,
            decoder: Decoder::new(64 << 20),
        }
    }

    /// The next record; `Ok(None)` at the end of the stream; an error if
    /// none arrives within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<Vec<u8>>, TestkitError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(record) = self.decoder.next_record()? {
                return Ok(Some(record));
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .map_err(|_| TestkitError::Timeout("a stream record"))?;
            match frame {
                None => return Ok(None),
                Some(Err(e)) => return Err(TestkitError::Http(e.to_string())),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.decoder.feed(&data);
                    }
                }
            }
        }
    }
}
