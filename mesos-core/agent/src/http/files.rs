//! The files API (`/files/read`, `/files/browse`, `/files/download`):
//! only what lies inside the agent's sandboxes is served.
//!
//! A path is either a sandbox's real directory (the `directory` of an
//! executor in `/state`) and what is under it, or Mesos' virtual form
//! `/frameworks/<fw>/executors/<ex>/runs/<run|latest>/...`. A path with a
//! `..` component is refused (400); one that resolves, through symlinks,
//! outside the sandboxes is refused (403); a missing one is 404.

use super::Http;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use mesos_http::server::{error, query_pairs};
use mesos_proto::json::JsonWriter;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// The most a `/files/read` answers at once when no `length` is given;
/// clients page with `offset`.
const MAX_READ: u64 = 4 << 20;

pub(super) type Refusal = (StatusCode, String);

/// Resolves a requested path to a file or directory inside the sandboxes.
pub(super) fn resolve(http: &Http, requested: Option<&String>) -> Result<PathBuf, Refusal> {
    let requested = requested.filter(|p| !p.is_empty()).ok_or((
        StatusCode::BAD_REQUEST,
        "Expecting 'path=value' in query".to_string(),
    ))?;
    let path = Path::new(requested);
    if path.components().any(|c| c == Component::ParentDir) {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("path {requested} must not contain '..'"),
        ));
    }
    let sandboxes = http.work_dir.join("slaves");
    let full = if path.starts_with("/frameworks") {
        let agent = http
            .agent_id
            .borrow()
            .clone()
            .ok_or((StatusCode::NOT_FOUND, format!("{requested} does not exist")))?;
        let rest = path.strip_prefix("/").unwrap_or(path);
        sandboxes.join(agent.as_str()).join(rest)
    } else if path.is_absolute() {
        path.to_path_buf()
    } else {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("path {requested} must be absolute"),
        ));
    };
    let not_found = || (StatusCode::NOT_FOUND, format!("{requested} does not exist"));
    let real = full.canonicalize().map_err(|_| not_found())?;
    let root = sandboxes.canonicalize().map_err(|_| not_found())?;
    if !real.starts_with(&root) {
        return Err((
            StatusCode::FORBIDDEN,
            format!("{requested} is outside the agent's sandboxes"),
        ));
    }
    Ok(real)
}

fn refuse((status, message): Refusal) -> Response {
    error(status, message)
}

fn json(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `/files/read?path=&offset=&length=`: `{"data": ..., "offset": ...}`;
/// `offset=-1` answers the file's size with no data.
pub(super) async fn read(State(http): State<Http>, RawQuery(raw): RawQuery) -> Response {
    let q = query_pairs(raw.as_deref());
    let path = match resolve(&http, q.get("path")) {
        Ok(p) => p,
        Err(r) => return refuse(r),
    };
    let number = |name: &str| -> Result<Option<i64>, Refusal> {
        q.get(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    (
                        StatusCode::BAD_REQUEST,
                        format!("Failed to parse {name}: expected an integer, got '{v}'"),
                    )
                })
            })
            .transpose()
    };
    let (offset, length) = match (number("offset"), number("length")) {
        (Ok(o), Ok(l)) => (o.unwrap_or(0), l),
        (Err(r), _) | (_, Err(r)) => return refuse(r),
    };
    if offset < -1 {
        return error(
            StatusCode::BAD_REQUEST,
            format!("Negative offset provided: {offset}"),
        );
    }
    if length.is_some_and(|l| l < 0) {
        return error(
            StatusCode::BAD_REQUEST,
            "Negative length provided".to_string(),
        );
    }
    let result = tokio::task::spawn_blocking(move || {
        if offset == -1 {
            return read_range(&path, u64::MAX, Some(0))
                .map(|r| r.map(|(_, size)| (Vec::new(), size)));
        }
        let offset = offset as u64;
        read_range(&path, offset, length.map(|l| l as u64))
            .map(|r| r.map(|(data, size)| (data, offset.min(size))))
    })
    .await;
    match result {
        Ok(Ok(Some((data, offset)))) => {
            let mut w = JsonWriter::new();
            w.begin_object();
            w.field("data", &String::from_utf8_lossy(&data).into_owned());
            w.field("offset", &offset);
            w.end_object();
            json(w.into_inner())
        }
        Ok(Ok(None)) => error(StatusCode::BAD_REQUEST, "Cannot read a directory"),
        Ok(Err(e)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Failed to read file: {e}"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Up to `length` bytes (at most 4 MiB) of the file at `path` from
/// `offset` (past the end: none), and the file's size; `None` for a
/// directory.
pub(super) fn read_range(
    path: &Path,
    offset: u64,
    length: Option<u64>,
) -> std::io::Result<Option<(Vec<u8>, u64)>> {
    if path.is_dir() {
        return Ok(None);
    }
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let offset = offset.min(size);
    let want = length.unwrap_or(MAX_READ).min(MAX_READ).min(size - offset);
    file.seek(SeekFrom::Start(offset))?;
    let mut data = Vec::with_capacity(want as usize);
    file.take(want).read_to_end(&mut data)?;
    Ok(Some((data, size)))
}

/// A directory's entries (not following links), by name.
pub(super) fn list_dir(path: &Path) -> std::io::Result<Vec<(String, std::fs::Metadata)>> {
    let mut entries: Vec<(String, std::fs::Metadata)> = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let meta = std::fs::symlink_metadata(entry.path())?;
        entries.push((entry.file_name().to_string_lossy().into_owned(), meta));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

/// `/files/browse?path=`: the entries of a directory, in Mesos' shape.
pub(super) async fn browse(State(http): State<Http>, RawQuery(raw): RawQuery) -> Response {
    let q = query_pairs(raw.as_deref());
    let requested = q.get("path").cloned().unwrap_or_default();
    let path = match resolve(&http, q.get("path")) {
        Ok(p) => p,
        Err(r) => return refuse(r),
    };
    let result = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let entries = list_dir(&path)?;
        let base = requested.trim_end_matches('/');
        let mut w = JsonWriter::new();
        w.begin_array();
        for (name, meta) in entries {
            w.element();
            w.begin_object();
            w.field("path", &format!("{base}/{name}"));
            w.field("nlink", &meta.nlink());
            w.field("size", &meta.len());
            w.field("mtime", &meta.mtime());
            w.field(
                "mode",
                &mode_string(meta.mode(), meta.is_dir(), meta.file_type().is_symlink()),
            );
            w.field("uid", &meta.uid().to_string());
            w.field("gid", &meta.gid().to_string());
            w.end_object();
        }
        w.end_array();
        Ok(w.into_inner())
    })
    .await;
    match result {
        Ok(Ok(body)) => json(body),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotADirectory => {
            error(StatusCode::BAD_REQUEST, "Cannot browse a file")
        }
        Ok(Err(e)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Failed to browse: {e}"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `/files/download?path=`: the file's bytes.
pub(super) async fn download(State(http): State<Http>, RawQuery(raw): RawQuery) -> Response {
    let q = query_pairs(raw.as_deref());
    let path = match resolve(&http, q.get("path")) {
        Ok(p) => p,
        Err(r) => return refuse(r),
    };
    if path.is_dir() {
        return error(StatusCode::BAD_REQUEST, "Cannot download a directory");
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().replace('"', ""))
        .unwrap_or_default();
    match tokio::fs::read(&path).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Failed to read file: {e}"),
        ),
    }
}

/// `drwxr-xr-x`, as `ls -l` and Mesos print modes.
fn mode_string(mode: u32, dir: bool, link: bool) -> String {
    let kind = if link {
        'l'
    } else if dir {
        'd'
    } else {
        '-'
    };
    let mut s = String::with_capacity(10);
    s.push(kind);
    for shift in [6u32, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}
