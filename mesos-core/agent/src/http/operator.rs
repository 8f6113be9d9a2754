//! `POST /api/v1`: the agent's v1 operator API. Health, version and the
//! files calls are answered here (files with the same sandbox-only rules
//! as `/files/*`); the state calls go to the actor. Calls not built yet
//! are refused with 501 and a message naming them.

use super::files::{list_dir, read_range, resolve};
use super::{Http, ask};
use crate::actor::Input;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mesos_http::server::{error, read_call};
use mesos_proto::v1::agent::{Call, Response as AgentResponse, call, response};
use mesos_proto::v1::{FileInfo, TimeInfo, VersionInfo};
use std::os::unix::fs::MetadataExt;

pub(super) async fn handle(
    State(http): State<Http>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (call, media) = match read_call::<Call>(&method, &headers, &body) {
        Ok(read) => read,
        Err((status, message)) => return error(status, message),
    };
    let Some(ty) = call.r#type.and_then(|t| call::Type::try_from(t).ok()) else {
        return error(StatusCode::BAD_REQUEST, "Expecting 'type' to be present");
    };
    let mut out = AgentResponse::default();
    match ty {
        call::Type::GetHealth => {
            out.r#type = Some(response::Type::GetHealth as i32);
            out.get_health = Some(response::GetHealth { healthy: true });
        }
        call::Type::GetVersion => {
            out.r#type = Some(response::Type::GetVersion as i32);
            out.get_version = Some(response::GetVersion {
                version_info: VersionInfo {
                    version: crate::MESOS_VERSION.to_string(),
                    build_user: Some("mesos-rs".into()),
                    git_tag: Some(env!("CARGO_PKG_VERSION").into()),
                    ..Default::default()
                },
            });
        }
        call::Type::ListFiles => {
            let Some(list) = call.list_files else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Expecting 'list_files' to be present",
                );
            };
            let path = match resolve(&http, Some(&list.path)) {
                Ok(p) => p,
                Err((status, message)) => return error(status, message),
            };
            let base = list.path.trim_end_matches('/').to_string();
            let listed = tokio::task::spawn_blocking(move || list_dir(&path)).await;
            let entries = match listed {
                Ok(Ok(entries)) => entries,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotADirectory => {
                    return error(StatusCode::BAD_REQUEST, "Cannot list a file");
                }
                Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            };
            out.r#type = Some(response::Type::ListFiles as i32);
            out.list_files = Some(response::ListFiles {
                file_infos: entries
                    .into_iter()
                    .map(|(name, meta)| FileInfo {
                        path: format!("{base}/{name}"),
                        nlink: i32::try_from(meta.nlink()).ok(),
                        size: Some(meta.len()),
                        mtime: Some(TimeInfo {
                            nanoseconds: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
                        }),
                        mode: Some(meta.mode()),
                        uid: Some(meta.uid().to_string()),
                        gid: Some(meta.gid().to_string()),
                    })
                    .collect(),
            });
        }
        call::Type::ReadFile => {
            let Some(read) = call.read_file else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Expecting 'read_file' to be present",
                );
            };
            let path = match resolve(&http, Some(&read.path)) {
                Ok(p) => p,
                Err((status, message)) => return error(status, message),
            };
            let (offset, length) = (read.offset, read.length);
            let result =
                tokio::task::spawn_blocking(move || read_range(&path, offset, length)).await;
            let (data, size) = match result {
                Ok(Ok(Some(read))) => read,
                Ok(Ok(None)) => return error(StatusCode::BAD_REQUEST, "Cannot read a directory"),
                Ok(Err(e)) => {
                    return error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("Failed to read file: {e}"),
                    );
                }
                Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            };
            out.r#type = Some(response::Type::ReadFile as i32);
            out.read_file = Some(response::ReadFile { size, data });
        }
        call::Type::LaunchContainer
        | call::Type::LaunchNestedContainer
        | call::Type::WaitContainer
        | call::Type::WaitNestedContainer
        | call::Type::KillContainer
        | call::Type::KillNestedContainer
        | call::Type::RemoveContainer
        | call::Type::RemoveNestedContainer => {
            match ask(&http, |reply| Input::Nested(Box::new(call), reply)).await {
                Ok(Ok(Some(answer))) => out = answer,
                Ok(Ok(None)) => return StatusCode::OK.into_response(),
                Ok(Err(e)) | Err(e) => return e.into_response(),
            }
        }
        other => match ask(&http, |reply| Input::Operator(other, reply)).await {
            Ok(Some(answer)) => out = answer,
            Ok(None) => {
                return error(
                    StatusCode::NOT_IMPLEMENTED,
                    format!("{} is not supported yet by this agent", other.as_str_name()),
                );
            }
            Err(e) => return e.into_response(),
        },
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, media.as_str())],
        media.encode(&out),
    )
        .into_response()
}
