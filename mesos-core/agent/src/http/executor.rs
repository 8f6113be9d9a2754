//! `POST /api/v1/executor`: the v1 executor API.

use super::{Http, ask};
use crate::actor::Input;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use mesos_http::server::{error, read_call, record_stream};
use mesos_proto::v1::executor::{Call, call};

pub(super) async fn handle(
    State(http): State<Http>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (call, media) = match read_call::<Call>(&method, &headers, &body) {
        Ok(ok) => ok,
        Err((status, message)) => return error(status, message),
    };
    if call.executor_id.value.is_empty() || call.framework_id.value.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "Expecting 'executor_id' and 'framework_id' to be present",
        );
    }
    if call.r#type == Some(call::Type::Subscribe as i32) {
        return match ask(&http, |tx| Input::Subscribe(Box::new(call), tx)).await {
            Ok(Ok(events)) => record_stream(events, move |e| media.encode(e), media, None),
            Ok(Err(e)) | Err(e) => e.into_response(),
        };
    }
    match ask(&http, |tx| Input::ExecutorCall(Box::new(call), tx)).await {
        Ok(Ok(())) => StatusCode::ACCEPTED.into_response(),
        Ok(Err(e)) | Err(e) => e.into_response(),
    }
}
