//! Messages by name: decode, re-encode and convert any v1 message knowing
//! only its fully qualified name (`mesos.v1.scheduler.Event`).
//!
//! Useful for tools that relay or inspect traffic, and for tests that walk
//! every message of the API.
//!
//! ```
//! use mesos_proto::dynamic;
//!
//! let event = dynamic::message_type("mesos.v1.scheduler.Event").unwrap();
//! let bytes = event.json_to_protobuf(br#"{"type":"HEARTBEAT"}"#).unwrap();
//! assert_eq!(bytes, [0x08, 0x08]);
//! assert_eq!(event.protobuf_to_json(&bytes).unwrap(), br#"{"type":"HEARTBEAT"}"#);
//! ```

use crate::json::{JsonError, MesosJson};

/// Why a conversion failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// The protobuf bytes do not decode as the message.
    #[error("invalid protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// The JSON does not read as the message.
    #[error("invalid JSON: {0}")]
    Json(#[from] JsonError),
}

type Convert = fn(&[u8]) -> Result<Vec<u8>, ConvertError>;

/// One message type of the v1 API.
#[derive(Debug)]
pub struct MessageType {
    full_name: &'static str,
    protobuf_to_json: Convert,
    json_to_protobuf: Convert,
    normalize: Convert,
}

fn protobuf_to_json<T: prost::Message + Default + MesosJson>(
    bytes: &[u8],
) -> Result<Vec<u8>, ConvertError> {
    Ok(crate::json::to_vec(&T::decode(bytes)?))
}

fn json_to_protobuf<T: prost::Message + MesosJson>(json: &[u8]) -> Result<Vec<u8>, ConvertError> {
    Ok(crate::json::from_slice::<T>(json)?.encode_to_vec())
}

fn normalize<T: prost::Message + Default>(bytes: &[u8]) -> Result<Vec<u8>, ConvertError> {
    Ok(T::decode(bytes)?.encode_to_vec())
}

impl MessageType {
    pub(crate) const fn of<T: prost::Message + Default + MesosJson>(
        full_name: &'static str,
    ) -> MessageType {
        MessageType {
            full_name,
            protobuf_to_json: protobuf_to_json::<T>,
            json_to_protobuf: json_to_protobuf::<T>,
            normalize: normalize::<T>,
        }
    }

    /// The fully qualified name, e.g. `mesos.v1.Offer`.
    pub fn full_name(&self) -> &'static str {
        self.full_name
    }

    /// Decodes protobuf bytes and writes them as Mesos JSON.
    pub fn protobuf_to_json(&self, bytes: &[u8]) -> Result<Vec<u8>, ConvertError> {
        (self.protobuf_to_json)(bytes)
    }

    /// Reads Mesos JSON and encodes it as protobuf.
    pub fn json_to_protobuf(&self, json: &[u8]) -> Result<Vec<u8>, ConvertError> {
        (self.json_to_protobuf)(json)
    }

    /// Decodes and re-encodes protobuf bytes: fields in number order,
    /// unknown fields dropped.
    pub fn normalize_protobuf(&self, bytes: &[u8]) -> Result<Vec<u8>, ConvertError> {
        (self.normalize)(bytes)
    }
}

/// Every message type of the v1 API, sorted by full name.
pub fn message_types() -> &'static [MessageType] {
    crate::generated::registry::MESSAGE_TYPES
}

/// The message type called `full_name`, if the v1 API has one.
pub fn message_type(full_name: &str) -> Option<&'static MessageType> {
    let types = message_types();
    types
        .binary_search_by(|t| t.full_name.cmp(full_name))
        .ok()
        .map(|i| &types[i])
}
