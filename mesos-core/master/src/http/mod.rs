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
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
pub(crate) use mesos_http::server::{error, read_call, record_stream, stream_id};
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

/// Sends a command and waits for its answer; 503 if the master is gone.
pub(crate) async fn ask<T>(
    http: &Http,
    make: impl FnOnce(oneshot::Sender<T>) -> Command,
) -> Result<T, CallError> {
    mesos_http::server::ask(&http.commands, make)
        .await
        .ok_or_else(|| CallError::Unavailable("The master is shutting down".into()))
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
