//! `POST /api/v1/agent`: our master/agent protocol (protobuf only).

use super::{Http, ask, error, receiver_stream, record_stream_of, stream_id};
use crate::actor::Command;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mesos_proto::agent_protocol::{AgentCall, AgentEvent, agent_call};
use mesos_proto::media::MediaType;
use mesos_proto::prost::Message;
use mesos_proto::v1::AgentId;
use tokio::sync::mpsc;

pub(crate) async fn handle(
    State(http): State<Http>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Expecting a 'POST' request, received '{method}'"),
        );
    }
    let protobuf = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(MediaType::from_content_type)
        == Some(MediaType::Protobuf);
    if !protobuf {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The agent protocol expects 'Content-Type: application/x-protobuf'",
        );
    }
    let call = match AgentCall::decode(body.as_ref()) {
        Ok(call) => call,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("Failed to parse body into AgentCall: {e}"),
            );
        }
    };
    let stream_id = stream_id(&headers);
    if call.r#type == agent_call::Type::Register as i32 {
        if stream_id.is_some() {
            return error(
                StatusCode::BAD_REQUEST,
                "REGISTER must not include the 'Mesos-Stream-Id' header",
            );
        }
        let Some(register) = call.register else {
            return error(
                StatusCode::BAD_REQUEST,
                "Expecting 'register' to be present",
            );
        };
        // Checked and taken apart here, off the event loop: an agent
        // may bring thousands of tasks.
        let registration = match crate::registration::Registration::prepare(register) {
            Ok(prepared) => {
                ask(&http, |reply| Command::RegisterAgent {
                    register: Box::new(prepared),
                    reply,
                })
                .await
            }
            Err(e) => return e.into_response(),
        };
        return match registration {
            Ok(Ok(mut sub)) => {
                drop(std::mem::take(&mut sub.unused));
                // Registered only once the registry says so.
                if !sub.committed.wait().await {
                    return crate::actor::CallError::Unavailable(
                        "The master is shutting down".into(),
                    )
                    .into_response();
                }
                let closed = StreamClosed {
                    commands: http.leading().ok(),
                    agent_id: Some(sub.agent_id),
                    stream_id: sub.stream_id.clone(),
                };
                record_stream_of(
                    events_until_closed(sub.events, closed),
                    Message::encode_to_vec,
                    MediaType::Protobuf,
                    Some(&sub.stream_id),
                )
            }
            Ok(Err(e)) | Err(e) => e.into_response(),
        };
    }
    match ask(&http, |reply| Command::AgentCall {
        stream_id,
        call: Box::new(call),
        reply,
    })
    .await
    {
        Ok(Ok(())) => StatusCode::ACCEPTED.into_response(),
        Ok(Err(e)) | Err(e) => e.into_response(),
    }
}

/// Tells the master that an agent's event stream ended when dropped: the
/// HTTP body holding it is dropped when the agent's connection closes.
/// (If the master's queue is full, the master finds out at the agent's
/// next heartbeat instead.)
struct StreamClosed {
    commands: Option<mpsc::Sender<Command>>,
    agent_id: Option<AgentId>,
    stream_id: String,
}

impl Drop for StreamClosed {
    fn drop(&mut self) {
        if let (Some(commands), Some(agent_id)) = (self.commands.take(), self.agent_id.take()) {
            let _ = commands.try_send(Command::AgentStreamClosed {
                agent_id,
                stream_id: std::mem::take(&mut self.stream_id),
            });
        }
    }
}

/// The agent's events; `closed` goes with the stream, so it is dropped
/// when the master ends the stream or the body is dropped.
fn events_until_closed(
    events: mpsc::Receiver<Box<AgentEvent>>,
    closed: StreamClosed,
) -> impl futures_util::Stream<Item = AgentEvent> + Send + 'static {
    use futures_util::StreamExt;
    receiver_stream(events).map(move |event| {
        let _held = &closed;
        *event
    })
}
