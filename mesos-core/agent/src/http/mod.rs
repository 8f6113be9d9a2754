//! The agent's HTTP endpoints: the executor API, `/state`, the files
//! API, `/health` and `/version`.

mod executor;
mod files;
mod operator;

use crate::actor::{CallError, Input};
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use mesos_http::server::error;
use mesos_proto::v1::AgentId;
use std::path::PathBuf;
use tokio::sync::{mpsc, oneshot, watch};

/// What every handler holds.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    pub(crate) inputs: mpsc::Sender<Input>,
    pub(crate) work_dir: PathBuf,
    pub(crate) agent_id: watch::Receiver<Option<AgentId>>,
}

pub(crate) fn router(http: Http, max_body: usize) -> Router {
    Router::new()
        .route("/api/v1/executor", any(executor::handle))
        .route("/api/v1", any(operator::handle))
        .route("/slave(1)/api/v1", any(operator::handle))
        .route("/state", get(state))
        .route("/state.json", get(state))
        .route("/slave(1)/state", get(state))
        .route("/slave(1)/state.json", get(state))
        .route("/files/read", get(files::read))
        .route("/files/read.json", get(files::read))
        .route("/files/browse", get(files::browse))
        .route("/files/browse.json", get(files::browse))
        .route("/files/download", get(files::download))
        .route("/files/download.json", get(files::download))
        .route("/monitor/statistics", get(statistics))
        .route("/monitor/statistics.json", get(statistics))
        .route("/metrics/snapshot", get(metrics))
        .route("/health", get(health))
        .route("/version", get(version))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(http)
}

impl IntoResponse for CallError {
    fn into_response(self) -> Response {
        let status = match &self {
            CallError::BadRequest(_) => StatusCode::BAD_REQUEST,
            CallError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            CallError::NotFound(_) => StatusCode::NOT_FOUND,
            CallError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        error(status, self.to_string())
    }
}

/// Sends an input and waits for its answer; 503 if the agent is gone.
pub(crate) async fn ask<T>(
    http: &Http,
    make: impl FnOnce(oneshot::Sender<T>) -> Input,
) -> Result<T, CallError> {
    mesos_http::server::ask(&http.inputs, make)
        .await
        .ok_or_else(|| CallError::Unavailable("The agent is shutting down".into()))
}

/// A JSON document the actor writes.
async fn json_answer(
    http: &Http,
    make: impl FnOnce(oneshot::Sender<Vec<u8>>) -> Input,
) -> Response {
    match ask(http, make).await {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn state(State(http): State<Http>) -> Response {
    json_answer(&http, Input::State).await
}

async fn statistics(State(http): State<Http>) -> Response {
    json_answer(&http, Input::Statistics).await
}

async fn metrics(State(http): State<Http>) -> Response {
    json_answer(&http, Input::Metrics).await
}

async fn health() -> StatusCode {
    StatusCode::OK
}

async fn version() -> Response {
    let body = format!(
        r#"{{"version":"{}","build_user":"mesos-rs","git_tag":"{}"}}"#,
        crate::MESOS_VERSION,
        env!("CARGO_PKG_VERSION")
    );
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
