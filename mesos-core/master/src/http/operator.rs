//! `POST /api/v1`: the operator API. Calls not built yet are refused with
//! a message saying so.

use super::{Http, ask, error, read_call};
use crate::actor::Command;
use crate::config::MESOS_VERSION;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mesos_proto::v1::VersionInfo;
use mesos_proto::v1::master::{Call, Response as MasterResponse, call, response};

pub(crate) async fn handle(
    State(http): State<Http>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (call, media): (Call, _) = match read_call(&method, &headers, &body) {
        Ok(read) => read,
        Err((status, message)) => return error(status, message),
    };
    let ty = call.r#type.and_then(|t| call::Type::try_from(t).ok());
    let mut out = MasterResponse::default();
    match ty {
        Some(call::Type::GetHealth) => {
            out.r#type = Some(response::Type::GetHealth as i32);
            out.get_health = Some(response::GetHealth { healthy: true });
        }
        Some(call::Type::GetVersion) => {
            out.r#type = Some(response::Type::GetVersion as i32);
            out.get_version = Some(response::GetVersion {
                version_info: VersionInfo {
                    version: MESOS_VERSION.to_string(),
                    build_user: Some("mesos-rs".into()),
                    git_tag: Some(env!("CARGO_PKG_VERSION").into()),
                    ..Default::default()
                },
            });
        }
        Some(call::Type::GetMaster) => {
            let (info, start_time) =
                match ask(&http, |reply| Command::GetMasterInfo { reply }).await {
                    Ok(answer) => answer,
                    Err(e) => return e.into_response(),
                };
            out.r#type = Some(response::Type::GetMaster as i32);
            out.get_master = Some(response::GetMaster {
                master_info: Some(info),
                start_time: Some(start_time),
                elected_time: Some(start_time),
            });
        }
        Some(call::Type::GetFrameworks) => {
            let views = match ask(&http, |reply| Command::GetFrameworks { reply }).await {
                Ok(views) => views,
                Err(e) => return e.into_response(),
            };
            out.r#type = Some(response::Type::GetFrameworks as i32);
            out.get_frameworks = Some(response::GetFrameworks {
                frameworks: views
                    .into_iter()
                    .map(|v| response::get_frameworks::Framework {
                        framework_info: v.info,
                        active: v.active,
                        connected: v.connected,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            });
        }
        Some(call::Type::GetAgents) => {
            let agents = match ask(&http, |reply| Command::GetAgents { reply }).await {
                Ok(agents) => agents,
                Err(e) => return e.into_response(),
            };
            out.r#type = Some(response::Type::GetAgents as i32);
            out.get_agents = Some(response::GetAgents {
                agents,
                ..Default::default()
            });
        }
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "{} is not supported yet by this master",
                    other.as_str_name()
                ),
            );
        }
        None => return error(StatusCode::BAD_REQUEST, "Expecting 'type' to be present"),
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, media.as_str())],
        media.encode(&out),
    )
        .into_response()
}
