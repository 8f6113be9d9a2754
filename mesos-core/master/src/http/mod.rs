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
use crate::ha::Role;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
pub(crate) use mesos_http::server::{
    error, read_call, receiver_stream, record_stream, record_stream_of, stream_id,
};
use mesos_proto::v1::MasterInfo;
use tokio::sync::{mpsc, oneshot, watch};

/// What every handler holds: the way to the master actor, while this
/// master leads.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    role: watch::Receiver<Role>,
    started: std::time::Instant,
}

impl Http {
    pub(crate) fn new(role: watch::Receiver<Role>) -> Http {
        Http {
            role,
            started: std::time::Instant::now(),
        }
    }

    /// The actor's mailbox while leading; otherwise the known leader.
    pub(crate) fn leading(&self) -> Result<mpsc::Sender<Command>, Option<Box<MasterInfo>>> {
        match &*self.role.borrow() {
            Role::Leading(commands) => Ok(commands.clone()),
            Role::Standby(leader) => Err(leader.clone()),
        }
    }

    /// How long this master has run.
    pub(crate) fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }
}

/// The master's routes; `standby` adds the redirecting layer a master
/// that may not lead (one elected through ZooKeeper) needs.
pub(crate) fn router(http: Http, max_body: usize, standby: bool) -> Router {
    let router = Router::new()
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
        .layer(DefaultBodyLimit::max(max_body));
    let router = if standby {
        router.layer(middleware::from_fn_with_state(http.clone(), follow_leader))
    } else {
        router
    };
    router.with_state(http)
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
    let commands = http
        .leading()
        .map_err(|_| CallError::Unavailable("This master is not the leader".into()))?;
    mesos_http::server::ask(&commands, make)
        .await
        .ok_or_else(|| CallError::Unavailable("The master is shutting down".into()))
}

/// Endpoints a standby serves itself; it redirects every other request.
const STANDBY_SERVES: &[&str] = &[
    "/health",
    "/master/health",
    "/version",
    "/master/version",
    "/metrics/snapshot",
    "/metrics",
];

/// On a standby master: 307 to the leader (`Location:
/// //host:port/path?query`), or 503 when no leader is known, as Mesos'
/// standbys answer. `/redirect` points at the leader itself.
async fn follow_leader(State(http): State<Http>, request: Request, next: Next) -> Response {
    let Err(leader) = http.leading() else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    if STANDBY_SERVES.contains(&path) {
        return next.run(request).await;
    }
    let Some(leader) = leader else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "No leader elected".to_string(),
        );
    };
    let target = if path.ends_with("/redirect") {
        ""
    } else {
        request.uri().path_and_query().map_or(path, |p| p.as_str())
    };
    redirect_to(&leader, target)
}

/// `307 Temporary Redirect` to `//<hostname>:<port><target>` of `info`.
pub(crate) fn redirect_to(info: &MasterInfo, target: &str) -> Response {
    let host = info
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| std::net::Ipv4Addr::from(info.ip.to_le_bytes()).to_string());
    let location = format!("//{host}:{}{target}", info.port);
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, location)],
    )
        .into_response()
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
