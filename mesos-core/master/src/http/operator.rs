//! `POST /api/v1`: the operator API. Health and version are answered here;
//! every other call goes to the master actor. Calls not built yet are
//! refused with 501 and a message saying so.

use super::{Http, ask, error, read_call, receiver_stream, record_stream_of};
use crate::actor::{CallError, Command};
use crate::config::MESOS_VERSION;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
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
        Some(
            call::Type::ReserveResources
            | call::Type::UnreserveResources
            | call::Type::CreateVolumes
            | call::Type::DestroyVolumes
            | call::Type::GrowVolume
            | call::Type::ShrinkVolume,
        ) => {
            return error(
                StatusCode::NOT_IMPLEMENTED,
                "Reservations and volumes are not supported yet by this master",
            );
        }
        Some(
            call::Type::GetMaintenanceStatus
            | call::Type::GetMaintenanceSchedule
            | call::Type::UpdateMaintenanceSchedule
            | call::Type::StartMaintenance
            | call::Type::StopMaintenance
            | call::Type::DrainAgent
            | call::Type::DeactivateAgent
            | call::Type::ReactivateAgent,
        ) => {
            return error(
                StatusCode::NOT_IMPLEMENTED,
                "Maintenance is not supported yet by this master",
            );
        }
        Some(call::Type::Subscribe) => {
            let subscription = match ask(&http, |reply| Command::OperatorSubscribe { reply }).await
            {
                Ok(subscription) => subscription,
                Err(e) => return e.into_response(),
            };
            let (subscribed, events) = subscription.start().await;
            let stream = futures_util::stream::once(async { Box::new(subscribed) })
                .chain(receiver_stream(events));
            return record_stream_of(stream, move |e| media.encode(&**e), media, None);
        }
        Some(_) => {
            let mut answer = match ask(&http, |reply| Command::Operator {
                call: Box::new(call),
                reply,
            })
            .await
            {
                Ok(Ok(answer)) => answer,
                Ok(Err(e)) | Err(e) => return e.into_response(),
            };
            if let Some(committed) = answer.committed.take() {
                if !committed.wait().await {
                    return CallError::Unavailable("The master is shutting down".into())
                        .into_response();
                }
            }
            match answer.into_response().await {
                Some(response) => out = response,
                None => return StatusCode::OK.into_response(),
            }
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
