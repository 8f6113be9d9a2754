//! The two encodings of the Mesos HTTP APIs, and their negotiation.
//!
//! Requests say what they carry in `Content-Type` and what they want back
//! in `Accept`: `application/json` (the default) or
//! `application/x-protobuf`.
//!
//! ```
//! use mesos_proto::media::MediaType;
//! use mesos_proto::v1::scheduler::{Event, event};
//!
//! let accept = MediaType::from_accept("application/x-protobuf, application/json;q=0.5");
//! assert_eq!(accept, Some(MediaType::Protobuf));
//! let event = Event { r#type: Some(event::Type::Heartbeat as i32), ..Default::default() };
//! let bytes = MediaType::Json.encode(&event);
//! assert_eq!(bytes, br#"{"type":"HEARTBEAT"}"#);
//! assert_eq!(MediaType::Json.decode::<Event>(&bytes).unwrap(), event);
//! ```

use crate::json::{JsonError, MesosJson};

/// `application/json` or `application/x-protobuf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// Mesos JSON (see [`crate::json`]).
    Json,
    /// Protobuf binary.
    Protobuf,
}

/// A body that does not decode as the expected message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Invalid JSON for the message.
    #[error("{0}")]
    Json(#[from] JsonError),
    /// Invalid protobuf for the message.
    #[error("{0}")]
    Protobuf(#[from] prost::DecodeError),
}

impl MediaType {
    /// The MIME type.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Json => "application/json",
            MediaType::Protobuf => "application/x-protobuf",
        }
    }

    /// The media type of a `Content-Type` value, ignoring parameters such
    /// as `charset`; `None` for anything else.
    pub fn from_content_type(value: &str) -> Option<MediaType> {
        let essence = value.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("application/json") {
            Some(MediaType::Json)
        } else if essence.eq_ignore_ascii_case("application/x-protobuf") {
            Some(MediaType::Protobuf)
        } else {
            None
        }
    }

    /// The preferred media type an `Accept` value allows: the first listed
    /// with a non-zero quality among ours (`*/*` and `application/*` mean
    /// JSON). `None` when it allows neither.
    pub fn from_accept(value: &str) -> Option<MediaType> {
        let mut best: Option<(f32, MediaType)> = None;
        for item in value.split(',') {
            let mut parts = item.split(';');
            let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let ty = match essence.as_str() {
                "application/json" | "*/*" | "application/*" => MediaType::Json,
                "application/x-protobuf" => MediaType::Protobuf,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, ty));
            }
        }
        best.map(|(_, ty)| ty)
    }

    /// Encodes a message.
    pub fn encode<T: prost::Message + MesosJson>(self, message: &T) -> Vec<u8> {
        match self {
            MediaType::Json => crate::json::to_vec(message),
            MediaType::Protobuf => message.encode_to_vec(),
        }
    }

    /// Decodes a message.
    pub fn decode<T: prost::Message + Default + MesosJson>(
        self,
        bytes: &[u8],
    ) -> Result<T, DecodeError> {
        match self {
            MediaType::Json => Ok(crate::json::from_slice(bytes)?),
            MediaType::Protobuf => Ok(T::decode(bytes)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MediaType;

    #[test]
    fn negotiation() {
        assert_eq!(
            MediaType::from_content_type("application/json; charset=utf-8"),
            Some(MediaType::Json)
        );
        assert_eq!(
            MediaType::from_content_type("Application/X-Protobuf"),
            Some(MediaType::Protobuf)
        );
        assert_eq!(MediaType::from_content_type("text/plain"), None);
        assert_eq!(MediaType::from_accept("*/*"), Some(MediaType::Json));
        assert_eq!(MediaType::from_accept("text/html"), None);
        assert_eq!(
            MediaType::from_accept("application/json;q=0, application/x-protobuf"),
            Some(MediaType::Protobuf)
        );
        assert_eq!(
            MediaType::from_accept("application/json;q=0.2, application/x-protobuf;q=0.9"),
            Some(MediaType::Protobuf)
        );
    }
}
