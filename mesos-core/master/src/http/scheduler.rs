//! `POST /api/v1/scheduler`.

use super::{Http, ask, error, read_call, record_stream, stream_id};
use crate::actor::Command;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mesos_proto::v1::scheduler::{Call, call};

pub(crate) async fn handle(
    State(http): State<Http>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (call, response): (Call, _) = match read_call(&method, &headers, &body) {
        Ok(read) => read,
        Err((status, message)) => return error(status, message),
    };
    let stream_id = stream_id(&headers);

    if call.r#type == Some(call::Type::Subscribe as i32) {
        if stream_id.is_some() {
            return error(
                StatusCode::BAD_REQUEST,
                "Subscribe calls should not include the 'Mesos-Stream-Id' header",
            );
        }
        let Some(subscribe) = call.subscribe else {
            return error(
                StatusCode::BAD_REQUEST,
                "Expecting 'subscribe' to be present",
            );
        };
        let subscription = ask(&http, |reply| Command::Subscribe {
            call_framework_id: call.framework_id,
            subscribe: Box::new(subscribe),
            reply,
        })
        .await;
        return match subscription {
            Ok(Ok(sub)) => {
                if let Some(committed) = sub.committed
                    && !committed.wait().await
                {
                    return crate::actor::CallError::Unavailable(
                        "The master is shutting down".into(),
                    )
                    .into_response();
                }
                record_stream(
                    sub.events,
                    move |event| response.encode(&**event),
                    response,
                    Some(&sub.stream_id),
                )
            }
            Ok(Err(e)) | Err(e) => e.into_response(),
        };
    }

    let update_framework = call.r#type == Some(call::Type::UpdateFramework as i32);
    match ask(&http, |reply| Command::Call {
        stream_id,
        call: Box::new(call),
        reply,
    })
    .await
    {
        Ok(Ok(Some(answer))) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, response.as_str())],
            response.encode(&answer),
        )
            .into_response(),
        Ok(Ok(None)) if update_framework => StatusCode::OK.into_response(),
        Ok(Ok(None)) => StatusCode::ACCEPTED.into_response(),
        Ok(Err(e)) | Err(e) => e.into_response(),
    }
}
