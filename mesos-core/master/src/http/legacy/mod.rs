//! The pre-v1 endpoints tools still read: `/state`, `/state-summary`,
//! `/tasks`, `/frameworks`, `/slaves`, `/roles`, `/flags`,
//! `/metrics/snapshot`, `/metrics` (Prometheus) and `/redirect`.
//!
//! They are rendered from the v1 operator views the actor builds
//! (GET_STATE and friends), so the actor only copies state; the JSON is
//! written here, on the request's task, in Mesos' legacy shapes: resources
//! as `{"cpus": 4, "ports": "[31000-32000]"}`, attributes as plain values,
//! times in seconds, `slave` where v1 says `agent`.

mod model;

use super::{Http, ask, error};
use crate::actor::Command;
use crate::config::MESOS_VERSION;
use crate::operator::OperatorAnswer;
use crate::snapshot::{FrameworkTasks, StateSnapshot, agent_pid};
use crate::task_entry::TaskEntry;
use crate::task_table::ShardJson;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use mesos_proto::json::JsonWriter;
use mesos_proto::v1::Task;
use mesos_proto::v1::master::{Call, Response as MasterResponse, call};
use model::{attributes, counts_and_ids, flags_object, frameworks, resources_field, slaves, tasks};
use std::collections::HashMap;

/// Asks the actor for an operator call's answer.
async fn ask_view(http: &Http, ty: call::Type) -> Result<OperatorAnswer, Response> {
    let call = Call {
        r#type: Some(ty as i32),
        ..Default::default()
    };
    match ask(http, |reply| Command::Operator {
        call: Box::new(call),
        reply,
    })
    .await
    {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) | Err(e) => Err(e.into_response()),
    }
}

/// Asks the actor for an operator view.
async fn view(http: &Http, ty: call::Type) -> Result<MasterResponse, Response> {
    ask_view(http, ty)
        .await?
        .into_response()
        .await
        .ok_or_else(|| error(StatusCode::INTERNAL_SERVER_ERROR, "empty view"))
}

fn json(w: JsonWriter) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], w.into_inner()).into_response()
}

/// Writes a JSON answer on a reader thread, whole: summing a large
/// cluster's usage takes long enough to hold up the other tasks of a
/// runtime worker. ([`render_streamed`] for answers that list tasks.)
async fn render(write: impl FnOnce(&mut JsonWriter) + Send + 'static) -> Response {
    let written = crate::readers::run(move || {
        let mut w = JsonWriter::with_buffer(Vec::with_capacity(64 * 1024));
        write(&mut w);
        w
    })
    .await;
    match written {
        Ok(w) => json(w),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "rendering failed"),
    }
}

/// Bytes a streamed answer sends at a time.
const STREAM_CHUNK: usize = 1 << 20;

/// Room in a piece's buffer: a piece ends at the first array element
/// after [`STREAM_CHUNK`] bytes, so it can run over a little.
const PIECE_ROOM: usize = STREAM_CHUNK + STREAM_CHUNK / 4;

/// Buffers of sent pieces, for the next ones: a `/state` of 100,000
/// tasks is 45 pieces, and writing each into memory the process had
/// given back meant the kernel zeroing 45 MB of fresh pages per answer.
static PIECES: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

/// Buffers [`PIECES`] keeps at most (the pieces one answer has in
/// flight, and some).
const PIECES_KEPT: usize = 8;

/// A buffer to write a piece in, recycled if one is free.
fn piece_buffer() -> Vec<u8> {
    PIECES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop()
        .unwrap_or_else(|| Vec::with_capacity(PIECE_ROOM))
}

/// A piece of a streamed answer on its way out; its buffer goes back to
/// [`PIECES`] once sent.
struct Piece(Vec<u8>);

impl AsRef<[u8]> for Piece {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Piece {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.0);
        // One that grew far past a piece is not kept.
        if (PIECE_ROOM..=2 * PIECE_ROOM).contains(&buf.capacity()) {
            buf.clear();
            let mut free = PIECES.lock().unwrap_or_else(|p| p.into_inner());
            if free.len() < PIECES_KEPT {
                free.push(buf);
            }
        }
    }
}

/// Writes a JSON answer on a reader thread and sends it as it is
/// written, a piece of about [`STREAM_CHUNK`] at a time (chunked, with no
/// `Content-Length`): a `/state` of 100,000 tasks is 45 MB, and sending
/// it while the rest is written overlaps the two. At most a few pieces
/// wait for a slow reader; one that goes away stops nothing but the
/// sending. Should writing fail half way (a panic), the status has
/// gone already: the body then ends with an error, so the connection is
/// cut without the last chunk and the client sees a broken answer, not
/// a short one that looks whole.
async fn render_streamed(write: impl FnOnce(&mut JsonWriter) + Send + 'static) -> Response {
    use futures_util::StreamExt;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Piece>>(4);
    let started = crate::readers::spawn(move || {
        let pieces = tx.clone();
        let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let mut w = JsonWriter::streaming(piece_buffer(), STREAM_CHUNK, move |piece| {
                let _ = pieces.blocking_send(Ok(Piece(piece)));
                piece_buffer()
            });
            write(&mut w);
            Piece(w.into_inner())
        }));
        let last = written.map_err(|_| {
            tracing::error!("writing a streamed answer failed half way; cutting it off");
            std::io::Error::other("writing the answer failed")
        });
        let _ = tx.blocking_send(last);
    })
    .await;
    if let Err(e) = started {
        return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    }
    let body = mesos_http::server::receiver_stream(rx)
        .map(|piece| piece.map(axum::body::Bytes::from_owner));
    (
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

/// A snapshot of the master's state, to render from off its loop.
async fn snapshot(http: &Http) -> Result<Box<StateSnapshot>, Response> {
    ask_view(http, call::Type::GetState)
        .await?
        .snapshot
        .map(|(_, snapshot)| snapshot)
        .ok_or_else(|| error(StatusCode::INTERNAL_SERVER_ERROR, "no snapshot"))
}

/// `/state` (and `/master/state`, `/state.json`): the whole cluster.
pub(crate) async fn state(State(http): State<Http>) -> Response {
    let started = std::time::Instant::now();
    let (state, master, flags) = match tokio::try_join!(
        snapshot(&http),
        view(&http, call::Type::GetMaster),
        view(&http, call::Type::GetFlags),
    ) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let viewed = started.elapsed();
    render_streamed(move |w| {
        with_tasks_joined(&state, |tasks| write_state(w, &state, tasks, master, flags));
        tracing::debug!(
            view_ms = viewed.as_secs_f64() * 1e3,
            written_ms = started.elapsed().as_secs_f64() * 1e3,
            "/state"
        );
    })
    .await
}

/// Runs `write` with each framework's tasks while helper threads join
/// the JSON of their shards behind it ([`ShardJson::join_behind`]).
/// `"recovered_slaves"`: the registry's agents that have not registered
/// again since the master started, as Mesos shows them (id, hostname,
/// port, attributes and domain; not their resources).
fn recovered_slaves(w: &mut JsonWriter, state: &StateSnapshot) {
    w.key("recovered_slaves");
    w.begin_array();
    for agent in state.recovered_agents() {
        w.element();
        w.begin_object();
        w.str_field("id", agent.id.as_ref().map_or("", |id| id.value.as_str()));
        w.field("hostname", &agent.hostname);
        w.field("port", &agent.port.unwrap_or(5051));
        w.key("attributes");
        attributes(w, &agent.attributes);
        if let Some(domain) = &agent.domain {
            w.field("domain", domain);
        }
        w.end_object();
    }
    w.end_array();
}

fn with_tasks_joined(state: &StateSnapshot, write: impl FnOnce(&[FrameworkTasks<'_>])) {
    let tasks = state.tasks_by_framework();
    std::thread::scope(|scope| {
        ShardJson::join_behind(
            scope,
            tasks.iter().flat_map(|t| t.shards.iter().map(|s| &**s)),
        );
        write(&tasks);
    });
}

/// The body of `/state`.
fn write_state(
    w: &mut JsonWriter,
    state: &StateSnapshot,
    tasks: &[FrameworkTasks<'_>],
    master: MasterResponse,
    flags: MasterResponse,
) {
    let usage = state.usage();
    let master = master.get_master.unwrap_or_default();
    let info = master.master_info.unwrap_or_default();
    w.begin_object();
    w.field("version", &MESOS_VERSION.to_string());
    w.field("git_tag", &env!("CARGO_PKG_VERSION").to_string());
    w.field("build_user", &"mesos-rs".to_string());
    w.field("start_time", &master.start_time.unwrap_or(0.0));
    w.field("elected_time", &master.elected_time.unwrap_or(0.0));
    w.field("id", &info.id);
    let pid = info.pid.clone().unwrap_or_default();
    w.field("pid", &pid);
    w.field("hostname", &info.hostname.clone().unwrap_or_default());
    let (active, reachable) = state.agent_counts();
    w.field("activated_slaves", &(active as f64));
    w.field("deactivated_slaves", &((reachable - active) as f64));
    w.field("leader", &pid);
    w.field("leader_info", &info);
    w.key("flags");
    flags_object(w, &flags);
    slaves(w, state.agent_rows(&usage));
    recovered_slaves(w, state);
    frameworks(
        w,
        &state.framework_rows(&usage),
        &state.get_executors(),
        tasks,
    );
    w.key("orphan_tasks");
    w.begin_array();
    w.end_array();
    w.end_object();
}

/// `/state-summary`: agents and frameworks with task counts, no tasks.
pub(crate) async fn state_summary(State(http): State<Http>) -> Response {
    let (state, master) =
        match tokio::try_join!(snapshot(&http), view(&http, call::Type::GetMaster),) {
            Ok(v) => v,
            Err(r) => return r,
        };
    render(move |w| {
        let info = master
            .get_master
            .and_then(|m| m.master_info)
            .unwrap_or_default();
        let usage = state.usage();
        let lists = state.task_lists();
        let mut by_agent: HashMap<&str, Vec<&Task>> = HashMap::new();
        let mut by_framework: HashMap<&str, Vec<&Task>> = HashMap::new();
        for t in lists
            .live
            .iter()
            .chain(&lists.unreachable)
            .chain(&lists.completed)
            .copied()
        {
            by_agent.entry(&t.agent_id.value).or_default().push(t);
            by_framework
                .entry(&t.framework_id.value)
                .or_default()
                .push(t);
        }
        let none = Vec::new();
        w.begin_object();
        w.field("hostname", &info.hostname.clone().unwrap_or_default());
        w.key("slaves");
        w.begin_array();
        for a in state.agent_rows(&usage) {
            let id = a.info.id.clone().unwrap_or_default();
            w.element();
            w.begin_object();
            w.field("id", &id.value);
            w.field("hostname", &a.info.hostname);
            w.field("pid", &agent_pid(a.info));
            w.field("registered_time", &a.registered_time);
            resources_field(w, "resources", &a.info.resources);
            resources_field(w, "used_resources", a.used.as_slice());
            resources_field(w, "offered_resources", a.offered.as_slice());
            w.key("attributes");
            attributes(w, &a.info.attributes);
            w.field("active", &a.active);
            w.key("version");
            w.string(MESOS_VERSION);
            counts_and_ids(
                w,
                by_agent.get(id.value.as_str()).unwrap_or(&none),
                &|t: &Task| t.framework_id.value.clone(),
                "framework_ids",
            );
            w.end_object();
        }
        w.end_array();
        w.key("frameworks");
        w.begin_array();
        for f in &state.framework_rows(&usage).frameworks {
            let id = f.info.id.clone().unwrap_or_default();
            w.element();
            w.begin_object();
            w.field("id", &id.value);
            w.field("name", &f.info.name);
            w.field("active", &f.connected);
            w.field("webui_url", &f.info.webui_url.clone().unwrap_or_default());
            resources_field(w, "used_resources", f.used.as_slice());
            resources_field(w, "offered_resources", f.offered.as_slice());
            counts_and_ids(
                w,
                by_framework.get(id.value.as_str()).unwrap_or(&none),
                &|t: &Task| t.agent_id.value.clone(),
                "slave_ids",
            );
            w.end_object();
        }
        w.end_array();
        w.end_object();
    })
    .await
}

use mesos_http::server::query_pairs as query;

/// `/tasks?limit=&offset=&order=`: tasks by start time; `limit` defaults
/// to 100 and `-1` means all; `order` is `des` (default) or `asc`.
pub(crate) async fn tasks_endpoint(State(http): State<Http>, RawQuery(raw): RawQuery) -> Response {
    let q = query(raw.as_deref());
    let limit: i64 = match q.get("limit").map(|v| v.parse::<i64>()) {
        None => 100,
        Some(Ok(n)) if n >= -1 => n,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "Failed to parse 'limit': expected an integer of -1 or more",
            );
        }
    };
    let offset: usize = match q.get("offset").map(|v| v.parse::<usize>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "Failed to parse 'offset': expected a non-negative integer",
            );
        }
    };
    let ascending = match q.get("order").map(String::as_str) {
        None | Some("des") => false,
        Some("asc") => true,
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("Failed to parse 'order': '{other}' is not 'asc' or 'des'"),
            );
        }
    };
    let state = match snapshot(&http).await {
        Ok(snapshot) => snapshot,
        Err(r) => return r,
    };
    render_streamed(move |w| {
        let t = state.task_lists();
        let mut all: Vec<&TaskEntry> = t
            .live
            .iter()
            .chain(&t.unreachable)
            .chain(&t.completed)
            .copied()
            .collect();
        let started = |t: &Task| t.statuses.first().and_then(|s| s.timestamp).unwrap_or(0.0);
        all.sort_by(|a, b| {
            started(a)
                .total_cmp(&started(b))
                .then_with(|| a.task_id.value.cmp(&b.task_id.value))
        });
        if !ascending {
            all.reverse();
        }
        let take = if limit < 0 {
            usize::MAX
        } else {
            limit as usize
        };
        let page: Vec<&TaskEntry> = all.into_iter().skip(offset).take(take).collect();
        w.begin_object();
        tasks(w, "tasks", &page);
        w.end_object();
    })
    .await
}

/// `/frameworks`.
pub(crate) async fn frameworks_endpoint(State(http): State<Http>) -> Response {
    let state = match snapshot(&http).await {
        Ok(snapshot) => snapshot,
        Err(r) => return r,
    };
    render_streamed(move |w| {
        with_tasks_joined(&state, |tasks| {
            w.begin_object();
            let usage = state.usage();
            frameworks(
                w,
                &state.framework_rows(&usage),
                &state.get_executors(),
                tasks,
            );
            w.end_object();
        });
    })
    .await
}

/// `/slaves`.
pub(crate) async fn slaves_endpoint(State(http): State<Http>) -> Response {
    let state = match snapshot(&http).await {
        Ok(snapshot) => snapshot,
        Err(r) => return r,
    };
    render_streamed(move |w| {
        let usage = state.usage();
        w.begin_object();
        slaves(w, state.agent_rows(&usage));
        recovered_slaves(w, &state);
        w.end_object();
    })
    .await
}

/// `/roles`.
pub(crate) async fn roles_endpoint(State(http): State<Http>) -> Response {
    let roles = match view(&http, call::Type::GetRoles).await {
        Ok(r) => r.get_roles.unwrap_or_default().roles,
        Err(r) => return r,
    };
    let mut w = JsonWriter::new();
    w.begin_object();
    w.key("roles");
    w.begin_array();
    for role in &roles {
        w.element();
        w.begin_object();
        w.field("name", &role.name);
        w.field("weight", &role.weight);
        let ids: Vec<String> = role.frameworks.iter().map(|f| f.value.clone()).collect();
        w.key("frameworks");
        w.list(&ids);
        resources_field(&mut w, "resources", &role.resources);
        w.end_object();
    }
    w.end_array();
    w.end_object();
    json(w)
}

/// `/flags`.
pub(crate) async fn flags_endpoint(State(http): State<Http>) -> Response {
    let flags = match view(&http, call::Type::GetFlags).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut w = JsonWriter::new();
    w.begin_object();
    w.key("flags");
    flags_object(&mut w, &flags);
    w.end_object();
    json(w)
}

async fn metrics(http: &Http) -> Result<Vec<mesos_proto::v1::Metric>, Response> {
    if http.leading().is_err() {
        // A standby's own few metrics: monitoring finds the leader by
        // `master/elected`.
        return Ok(mesos_proto::v1::Metric::list([
            ("master/elected".to_string(), 0.0),
            (
                "master/uptime_secs".to_string(),
                http.uptime().as_secs_f64(),
            ),
        ]));
    }
    Ok(view(http, call::Type::GetMetrics)
        .await?
        .get_metrics
        .unwrap_or_default()
        .metrics)
}

/// `/metrics/snapshot`: `{"master/elected": 1, ...}`.
pub(crate) async fn metrics_snapshot(State(http): State<Http>) -> Response {
    let metrics = match metrics(&http).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let mut w = JsonWriter::new();
    w.begin_object();
    for m in &metrics {
        w.field(&m.name, &m.value.unwrap_or(0.0));
    }
    w.end_object();
    json(w)
}

/// A metric name as Prometheus allows it: `master/tasks_running` ->
/// `master_tasks_running`.
pub(crate) fn prometheus_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// `/metrics`: the same metrics in Prometheus' text format.
pub(crate) async fn metrics_prometheus(State(http): State<Http>) -> Response {
    let metrics = match metrics(&http).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let mut out = String::new();
    for m in &metrics {
        let name = prometheus_name(&m.name);
        let v = m.value.unwrap_or(0.0);
        out.push_str(&format!("# TYPE {name} gauge\n{name} {v}\n"));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// `/redirect`: 307 to the leading master (this one, until HA).
pub(crate) async fn redirect(State(http): State<Http>) -> Response {
    match view(&http, call::Type::GetMaster).await {
        Ok(r) => super::redirect_to(
            &r.get_master.and_then(|m| m.master_info).unwrap_or_default(),
            "",
        ),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    /// An answer written whole arrives whole, in several pieces; one
    /// whose writing fails half way ends in an error, not in a short body
    /// that looks complete.
    #[tokio::test]
    async fn a_streamed_answer_is_whole_or_broken() {
        let big = vec![b'1'; super::STREAM_CHUNK + 10];
        let whole = big.clone();
        let answer = super::render_streamed(move |w| {
            w.begin_array();
            w.element();
            w.raw(&whole);
            w.end_array();
        })
        .await;
        let body = axum::body::to_bytes(answer.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(body.len(), big.len() + 2);
        assert_eq!(body.first(), Some(&b'['));
        assert_eq!(body.last(), Some(&b']'));

        let answer = super::render_streamed(move |w| {
            w.begin_array();
            w.element();
            w.raw(&big);
            panic!("a bug half way through");
        })
        .await;
        let read = axum::body::to_bytes(answer.into_body(), usize::MAX).await;
        assert!(read.is_err(), "a broken answer must not end cleanly");
    }

    /// Sent pieces' buffers are written again by later answers, which
    /// must come out exactly as written.
    #[tokio::test]
    async fn recycled_pieces_carry_exactly_what_was_written() {
        let answer = async |seed: u8| {
            super::render_streamed(move |w| {
                w.begin_array();
                for i in 0..5 * super::STREAM_CHUNK / 1000 {
                    w.element();
                    w.raw(&vec![b'0' + (seed + (i % 7) as u8) % 10; 1000]);
                }
                w.end_array();
            })
            .await
        };
        let expected = |seed: u8| {
            let items: Vec<Vec<u8>> = (0..5 * super::STREAM_CHUNK / 1000)
                .map(|i| vec![b'0' + (seed + (i % 7) as u8) % 10; 1000])
                .collect();
            [&b"["[..], &items.join(&b","[..]), b"]"].concat()
        };
        for seed in [1, 2, 3] {
            let body = axum::body::to_bytes(answer(seed).await.into_body(), usize::MAX)
                .await
                .unwrap();
            assert!(body == expected(seed), "answer {seed} differs");
            let kept = super::PIECES.lock().unwrap().len();
            assert!(
                (1..=super::PIECES_KEPT).contains(&kept),
                "{kept} buffers kept"
            );
        }
    }

    #[test]
    fn prometheus_names() {
        assert_eq!(
            super::prometheus_name("master/tasks_running"),
            "master_tasks_running"
        );
        assert_eq!(
            super::prometheus_name("allocator/mesos/roles/a.b/shares/dominant"),
            "allocator_mesos_roles_a_b_shares_dominant"
        );
    }
}
