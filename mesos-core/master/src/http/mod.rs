//! The master's HTTP endpoints, routed in one place.
//!
//! Handlers are small: they check the request the way Mesos does (method,
//! `Content-Type`, `Accept`, body), turn it into a [`Command`] for the
//! master actor and its answer into a response.

mod agent;
mod legacy;
mod operator;
mod scheduler;

use crate::actor::{CallError, Command};
use crate::config::MESOS_VERSION;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use mesos_proto::media::MediaType;
use tokio::sync::{mpsc, oneshot};

/// What every handler holds: the way to the master actor.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    pub(crate) commands: mpsc::Sender<Command>,
}

pub(crate) fn router(http: Http, max_body: usize) -> Router {
    Router::new()
        .route("/api/v1/scheduler", any(scheduler::handle))
        .route("/master/api/v1/scheduler", any(scheduler::handle))
        .route("/api/v1/agent", any(agent::handle))
        .route("/api/v1", any(operator::handle))
        .route("/master/api/v1", any(operator::handle))
        .route("/version", get(version))
        .route("/master/version", get(version))
        .route("/health", get(health))
        .route("/master/health", get(health))
        .route("/state", get(legacy::state))
        .route("/master/state", get(legacy::state))
        .route("/state.json", get(legacy::state))
        .route("/master/state.json", get(legacy::state))
        .route("/state-summary", get(legacy::state_summary))
        .route("/master/state-summary", get(legacy::state_summary))
        .route("/tasks", get(legacy::tasks_endpoint))
        .route("/master/tasks", get(legacy::tasks_endpoint))
        .route("/tasks.json", get(legacy::tasks_endpoint))
        .route("/frameworks", get(legacy::frameworks_endpoint))
        .route("/master/frameworks", get(legacy::frameworks_endpoint))
        .route("/slaves", get(legacy::slaves_endpoint))
        .route("/master/slaves", get(legacy::slaves_endpoint))
        .route("/roles", get(legacy::roles_endpoint))
        .route("/master/roles", get(legacy::roles_endpoint))
        .route("/roles.json", get(legacy::roles_endpoint))
        .route("/flags", get(legacy::flags_endpoint))
        .route("/master/flags", get(legacy::flags_endpoint))
        .route("/metrics/snapshot", get(legacy::metrics_snapshot))
        .route("/metrics", get(legacy::metrics_prometheus))
        .route("/redirect", get(legacy::redirect))
        .route("/master/redirect", get(legacy::redirect))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(http)
}

/// A plain-text error response, as Mesos answers refused requests.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.into(),
    )
        .into_response()
}

impl IntoResponse for CallError {
    fn into_response(self) -> Response {
        let status = match &self {
            CallError::BadRequest(_) => StatusCode::BAD_REQUEST,
            CallError::Forbidden(_) => StatusCode::FORBIDDEN,
            CallError::NotFound(_) => StatusCode::NOT_FOUND,
            CallError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            CallError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        error(status, self.to_string())
    }
}

/// The checks every v1 API endpoint makes: POST, a known `Content-Type`,
/// an acceptable `Accept`. Returns (request type, response type), or the
/// status and message to refuse with.
pub(crate) fn negotiate(
    method: &Method,
    headers: &HeaderMap,
) -> Result<(MediaType, MediaType), (StatusCode, String)> {
    if method != Method::POST {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Expecting a 'POST' request, received '{method}'"),
        ));
    }
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return Err((
            StatusCode::BAD_REQUEST,
            "Expecting 'Content-Type' to be present".into(),
        ));
    };
    let request = content_type
        .to_str()
        .ok()
        .and_then(MediaType::from_content_type)
        .ok_or_else(|| {
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Expecting 'Content-Type' of application/json or application/x-protobuf".into(),
            )
        })?;
    let response = match headers.get(header::ACCEPT) {
        None => MediaType::Json,
        Some(accept) => accept
            .to_str()
            .ok()
            .and_then(MediaType::from_accept)
            .ok_or_else(|| {
                (
                    StatusCode::NOT_ACCEPTABLE,
                    "Expecting 'Accept' to allow application/json or application/x-protobuf".into(),
                )
            })?,
    };
    Ok((request, response))
}

/// A 200 response streaming `events`, each encoded and RecordIO-framed,
/// with the subscription's `Mesos-Stream-Id`.
pub(crate) fn record_stream<T: Send + 'static>(
    events: mpsc::Receiver<T>,
    encode: impl Fn(&T) -> Vec<u8> + Send + Sync + 'static,
    media: MediaType,
    stream_id: Option<&str>,
) -> Response {
    let encode = std::sync::Arc::new(encode);
    let body = futures_util::stream::unfold(events, move |mut events| {
        let encode = std::sync::Arc::clone(&encode);
        async move {
            let event = events.recv().await?;
            let mut frame = Vec::new();
            mesos_proto::recordio::encode(&encode(&event), &mut frame);
            Some((
                Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(frame)),
                events,
            ))
        }
    });
    let mut response = Response::new(axum::body::Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(media.as_str()),
    );
    if let Some(value) = stream_id.and_then(|id| axum::http::HeaderValue::from_str(id).ok()) {
        headers.insert(scheduler::STREAM_ID, value);
    }
    response
}

/// Negotiates a v1 API request and decodes its body as a `T` call.
/// Returns the call and the media type to answer in, or the status and
/// message to refuse with.
pub(crate) fn read_call<T>(
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(T, MediaType), (StatusCode, String)>
where
    T: mesos_proto::prost::Message + Default + mesos_proto::json::MesosJson,
{
    let (request, response) = negotiate(method, headers)?;
    let call = request.decode(body).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            format!("Failed to parse body into Call protobuf: {e}"),
        )
    })?;
    Ok((call, response))
}

/// The request's `Mesos-Stream-Id`, if it has one.
pub(crate) fn stream_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(scheduler::STREAM_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Sends a command and waits for its answer; 503 if the master is gone.
pub(crate) async fn ask<T>(
    http: &Http,
    make: impl FnOnce(oneshot::Sender<T>) -> Command,
) -> Result<T, CallError> {
    let (tx, rx) = oneshot::channel();
    let gone = || CallError::Unavailable("The master is shutting down".into());
    http.commands.send(make(tx)).await.map_err(|_| gone())?;
    rx.await.map_err(|_| gone())
}

/// `/version`: Mesos' version document; `version` is plain `1.11.0`.
async fn version() -> Response {
    let body = format!(
        r#"{{"version":"{MESOS_VERSION}","build_user":"mesos-rs","git_tag":"{}"}}"#,
        env!("CARGO_PKG_VERSION")
    );
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `/health`: 200 while the master runs.
async fn health() -> StatusCode {
    StatusCode::OK
}
