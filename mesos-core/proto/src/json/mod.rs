//! Mesos JSON: the JSON form the Mesos HTTP APIs speak.
//!
//! It is not proto3's canonical JSON. Field names are the proto names
//! (`framework_id`), enums are written by name, 64-bit integers are JSON
//! **numbers** (Mesos rejects quoted port ranges), `bytes` are base64, maps
//! are objects, and only fields that are set are written.
//!
//! Input is read leniently, as Mesos does: unknown fields are ignored, enums
//! may be given by number, integers may be quoted, `null` means "not set".
//! Every error names the path of the offending value:
//!
//! ```
//! use mesos_proto::v1::scheduler::Event;
//!
//! let bad = r#"{"type":"OFFERS","offers":{"offers":[{"id":{"value":"o1"},
//!     "framework_id":{"value":"f"},"agent_id":{"value":"a"},"hostname":"h",
//!     "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":"lots"}}]}]}}"#;
//! let err = mesos_proto::json::from_str::<Event>(bad).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "offers.offers[0].resources[0].scalar.value: expected number, found \"lots\""
//! );
//! ```

pub mod legacy;
mod reader;
mod writer;

pub use reader::{JsonReader, MAX_DEPTH};
pub use writer::JsonWriter;

/// A value with a Mesos JSON form: every v1 message, and the scalar types
/// their fields hold.
pub trait MesosJson: Sized {
    /// Appends this value's JSON to `w`.
    fn write_json(&self, w: &mut JsonWriter);
    /// Reads one value from `r`.
    fn read_json(r: &mut JsonReader<'_>) -> Result<Self, JsonError>;
}

/// A proto enum's names, as JSON reads and writes them.
pub trait JsonEnum {
    /// The name of `value`, if the enum defines it.
    fn json_name(value: i32) -> Option<&'static str>;
    /// The number of the value called `name`, if the enum defines it.
    fn from_json_name(name: &str) -> Option<i32>;
}

/// Malformed or mistyped JSON: the path of the offending value and what is
/// wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct JsonError {
    path: String,
    message: String,
    offset: usize,
}

impl JsonError {
    pub(crate) fn new(path: String, message: String, offset: usize) -> JsonError {
        JsonError {
            path,
            message,
            offset,
        }
    }

    /// The path of the offending value (`offers[3].resources[0]`), empty for
    /// the top-level value.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The byte offset in the input where reading stopped.
    pub fn offset(&self) -> usize {
        self.offset
    }

    fn render(&self) -> String {
        if self.path.is_empty() {
            self.message.clone()
        } else {
            format!("{}: {}", self.path, self.message)
        }
    }
}

/// Encodes a message as Mesos JSON.
///
/// ```
/// use mesos_proto::v1::{FrameworkId, TaskId, TaskState, TaskStatus};
///
/// let status = TaskStatus {
///     task_id: TaskId { value: "t1".into() },
///     state: TaskState::TaskRunning as i32,
///     ..Default::default()
/// };
/// assert_eq!(
///     mesos_proto::json::to_string(&status),
///     r#"{"task_id":{"value":"t1"},"state":"TASK_RUNNING"}"#
/// );
/// # let _ = FrameworkId::default();
/// ```
pub fn to_vec<T: MesosJson>(value: &T) -> Vec<u8> {
    let mut w = JsonWriter::new();
    value.write_json(&mut w);
    w.into_inner()
}

/// Encodes a message as a Mesos JSON string.
pub fn to_string<T: MesosJson>(value: &T) -> String {
    // The writer emits only valid UTF-8: string fields are `String`s, the
    // rest is ASCII.
    String::from_utf8(to_vec(value)).unwrap_or_default()
}

/// Decodes a message from Mesos JSON bytes.
pub fn from_slice<T: MesosJson>(json: &[u8]) -> Result<T, JsonError> {
    let text = std::str::from_utf8(json).map_err(|e| {
        JsonError::new(
            String::new(),
            format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            e.valid_up_to(),
        )
    })?;
    from_str(text)
}

/// Decodes a message from a Mesos JSON string.
pub fn from_str<T: MesosJson>(json: &str) -> Result<T, JsonError> {
    let mut r = JsonReader::new(json);
    let value = T::read_json(&mut r)?;
    r.finish()?;
    Ok(value)
}

/// True when `value` is its type's default: proto3 fields are written only
/// when they are not.
pub(crate) fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

macro_rules! scalar {
    ($ty:ty, $write:ident, $read:ident) => {
        impl MesosJson for $ty {
            fn write_json(&self, w: &mut JsonWriter) {
                w.$write((*self).into());
            }
            fn read_json(r: &mut JsonReader<'_>) -> Result<Self, JsonError> {
                r.$read()
            }
        }
    };
}

scalar!(i32, i64, read_i32);
scalar!(i64, i64, read_i64);
scalar!(u32, u64, read_u32);
scalar!(u64, u64, read_u64);
scalar!(f64, f64, read_f64);
scalar!(bool, bool, read_bool);

impl MesosJson for String {
    fn write_json(&self, w: &mut JsonWriter) {
        w.string(self);
    }
    fn read_json(r: &mut JsonReader<'_>) -> Result<Self, JsonError> {
        r.read_string()
    }
}

impl<T: MesosJson> MesosJson for Box<T> {
    fn write_json(&self, w: &mut JsonWriter) {
        (**self).write_json(w);
    }
    fn read_json(r: &mut JsonReader<'_>) -> Result<Self, JsonError> {
        T::read_json(r).map(Box::new)
    }
}
