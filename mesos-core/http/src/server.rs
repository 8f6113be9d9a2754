//! What every v1 API endpoint of an axum server does the same way.
//!
//! ```
//! use axum::http::{HeaderMap, Method, header};
//! use mesos_http::server::negotiate;
//! use mesos_proto::media::MediaType;
//!
//! let mut headers = HeaderMap::new();
//! headers.insert(header::CONTENT_TYPE, "application/x-protobuf".parse().unwrap());
//! let (request, response) = negotiate(&Method::POST, &headers).unwrap();
//! assert_eq!((request, response), (MediaType::Protobuf, MediaType::Json));
//! assert_eq!(negotiate(&Method::GET, &headers).unwrap_err().0, 405);
//! ```

use crate::STREAM_ID;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mesos_proto::media::MediaType;
use tokio::sync::mpsc;

/// A plain-text error response, as Mesos answers refused requests.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.into(),
    )
        .into_response()
}

/// The checks every v1 API endpoint makes: POST, a known `Content-Type`,
/// an acceptable `Accept` (JSON when absent). Returns (request type,
/// response type), or the status and message to refuse with.
pub fn negotiate(
    method: &Method,
    headers: &HeaderMap,
) -> Result<(MediaType, MediaType), (StatusCode, String)> {
    if method != Method::POST {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Expecting a 'POST' request, received '{method}'"),
        ));
    }
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return Err((
            StatusCode::BAD_REQUEST,
            "Expecting 'Content-Type' to be present".into(),
        ));
    };
    let request = content_type
        .to_str()
        .ok()
        .and_then(MediaType::from_content_type)
        .ok_or_else(|| {
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Expecting 'Content-Type' of application/json or application/x-protobuf".into(),
            )
        })?;
    let response = match headers.get(header::ACCEPT) {
        None => MediaType::Json,
        Some(accept) => accept
            .to_str()
            .ok()
            .and_then(MediaType::from_accept)
            .ok_or_else(|| {
                (
                    StatusCode::NOT_ACCEPTABLE,
                    "Expecting 'Accept' to allow application/json or application/x-protobuf".into(),
                )
            })?,
    };
    Ok((request, response))
}

/// Negotiates a v1 API request and decodes its body as a `T` call.
/// Returns the call and the media type to answer in, or the status and
/// message to refuse with.
pub fn read_call<T>(
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(T, MediaType), (StatusCode, String)>
where
    T: mesos_proto::prost::Message + Default + mesos_proto::json::MesosJson,
{
    let (request, response) = negotiate(method, headers)?;
    let call = request.decode(body).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            format!("Failed to parse body into Call protobuf: {e}"),
        )
    })?;
    Ok((call, response))
}

/// The request's `Mesos-Stream-Id`, if it has one.
pub fn stream_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(STREAM_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A 200 response streaming `events`, each encoded and RecordIO-framed,
/// with the subscription's `Mesos-Stream-Id` when given. The stream ends
/// when every sender of `events` is dropped.
pub fn record_stream<T: Send + 'static>(
    events: mpsc::Receiver<T>,
    encode: impl Fn(&T) -> Vec<u8> + Send + Sync + 'static,
    media: MediaType,
    stream_id: Option<&str>,
) -> Response {
    record_stream_of(receiver_stream(events), encode, media, stream_id)
}

/// A channel's receiver as a stream, ending when every sender is dropped.
pub fn receiver_stream<T: Send + 'static>(
    events: mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::unfold(events, |mut events| async move {
        let event = events.recv().await?;
        Some((event, events))
    })
}

/// [`record_stream`] of any stream of events: for example a first event
/// built by the handler followed by a queue's.
pub fn record_stream_of<T: Send + 'static>(
    events: impl futures_util::Stream<Item = T> + Send + 'static,
    encode: impl Fn(&T) -> Vec<u8> + Send + Sync + 'static,
    media: MediaType,
    stream_id: Option<&str>,
) -> Response {
    use futures_util::StreamExt;
    let body = events.map(move |event| {
        let mut frame = Vec::new();
        mesos_proto::recordio::encode(&encode(&event), &mut frame);
        Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(frame))
    });
    let mut response = Response::new(axum::body::Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.as_str()),
    );
    if let Some(value) = stream_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        headers.insert(STREAM_ID, value);
    }
    response
}

/// A query string's `key=value` pairs, percent-decoded (`+` is a space);
/// a later repeat of a key wins.
///
/// ```
/// let q = mesos_http::server::query_pairs(Some("path=%2Ftmp%2Fa+b&offset=-1&flag"));
/// assert_eq!(q["path"], "/tmp/a b");
/// assert_eq!(q["offset"], "-1");
/// assert_eq!(q["flag"], "");
/// ```
pub fn query_pairs(raw: Option<&str>) -> std::collections::BTreeMap<String, String> {
    raw.unwrap_or_default()
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Sends a request made by `make` (around a reply channel) to an actor
/// and waits for the reply; `None` when the actor is gone (shutting
/// down), which handlers answer with 503.
pub async fn ask<C, T>(
    actor: &mpsc::Sender<C>,
    make: impl FnOnce(tokio::sync::oneshot::Sender<T>) -> C,
) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    actor.send(make(tx)).await.ok()?;
    rx.await.ok()
}
