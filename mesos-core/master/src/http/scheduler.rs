//! `POST /api/v1/scheduler`.

use super::{Http, ask, error, negotiate};
use crate::actor::Command;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mesos_proto::media::MediaType;
use mesos_proto::recordio;
use mesos_proto::v1::scheduler::{Call, Event, call};

/// The header naming a subscription's stream.
pub(crate) const STREAM_ID: &str = "Mesos-Stream-Id";

pub(crate) async fn handle(
    State(http): State<Http>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (request, response) = match negotiate(&method, &headers) {
        Ok(types) => types,
        Err((status, message)) => return error(status, message),
    };
    let call: Call = match request.decode(&body) {
        Ok(call) => call,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("Failed to parse body into Call protobuf: {e}"),
            );
        }
    };
    let stream_id = headers
        .get(STREAM_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);

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
            Ok(Ok(sub)) => stream(response, sub.stream_id, sub.events),
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
        Ok(Ok(())) if update_framework => StatusCode::OK.into_response(),
        Ok(Ok(())) => StatusCode::ACCEPTED.into_response(),
        Ok(Err(e)) | Err(e) => e.into_response(),
    }
}

/// The SUBSCRIBE response: 200, chunked, RecordIO-framed events.
fn stream(
    media: MediaType,
    stream_id: String,
    events: tokio::sync::mpsc::Receiver<Event>,
) -> Response {
    let body = futures_util::stream::unfold(events, move |mut events| async move {
        let event = events.recv().await?;
        let mut frame = Vec::new();
        recordio::encode(&media.encode(&event), &mut frame);
        Some((
            Ok::<_, std::convert::Infallible>(Bytes::from(frame)),
            events,
        ))
    });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.as_str()),
    );
    if let Ok(value) = HeaderValue::from_str(&stream_id) {
        headers.insert(STREAM_ID, value);
    }
    response
}
