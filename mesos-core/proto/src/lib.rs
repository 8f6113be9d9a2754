//! The Apache Mesos v1 wire format, in Rust.
//!
//! - [`v1`]: every message of the v1 API (scheduler, executor, master,
//!   agent, quota, maintenance, allocator, resource provider) as prost types,
//!   with the exact names, numbers and defaults of Mesos' `.proto` files.
//! - [`json`]: Mesos' JSON form of every message, both directions.
//! - [`dynamic`]: any message by its fully qualified name.
//! - [`duration`]: Mesos' text form of durations (`10secs`).
//! - [`agent_protocol`]: our master/agent protocol (protobuf).
//! - [`recordio`]: the framing of Mesos' event streams.
//! - [`media`]: `application/json` and `application/x-protobuf`, negotiated.
//! - [`ids`]: the id messages as typed ids (`TaskId: Display + FromStr`).
//! - [`resources`]: the Resources algebra (add, subtract, contains,
//!   reservations, fixed-point scalars) and `--resources`/`--attributes`.
//!
//! No async runtime and no I/O.
//!
//! ```
//! use mesos_proto::prost::Message;
//! use mesos_proto::v1::scheduler::{Event, event};
//!
//! let json = br#"{"type":"HEARTBEAT"}"#;
//! let event: Event = mesos_proto::json::from_slice(json).unwrap();
//! assert_eq!(event.r#type, Some(event::Type::Heartbeat as i32));
//! assert_eq!(Event::decode(event.encode_to_vec().as_slice()).unwrap(), event);
//! ```

pub mod agent_protocol;
pub mod duration;
pub mod dynamic;
mod generated;
pub mod ids;
mod info;
pub mod json;
pub mod media;
pub mod recordio;
pub mod resources;

pub use generated::google;
pub use generated::mesos::v1;
pub use prost;

/// The compiled descriptors of every `.proto` file of the v1 API (a
/// serialized `google.protobuf.FileDescriptorSet`), for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("generated/descriptor_set.bin");

/// Whether a task in `state` (a `TaskState` number) stays there for good.
///
/// ```
/// use mesos_proto::{is_terminal, v1::TaskState};
///
/// assert!(is_terminal(TaskState::TaskFinished as i32));
/// assert!(is_terminal(TaskState::TaskGoneByOperator as i32));
/// assert!(!is_terminal(TaskState::TaskKilling as i32));
/// assert!(!is_terminal(12345));
/// ```
pub fn is_terminal(state: i32) -> bool {
    use v1::TaskState;
    matches!(
        TaskState::try_from(state),
        Ok(TaskState::TaskFinished
            | TaskState::TaskFailed
            | TaskState::TaskKilled
            | TaskState::TaskError
            | TaskState::TaskLost
            | TaskState::TaskDropped
            | TaskState::TaskGone
            | TaskState::TaskGoneByOperator)
    )
}
