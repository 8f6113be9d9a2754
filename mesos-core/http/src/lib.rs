//! HTTP plumbing shared by the Mesos servers (master, agent) and clients
//! (SDKs, agent-to-master link, tests).
//!
//! - [`client`] (feature `client`, default): a small HTTP/1 client and
//!   [`client::RecordStream`], which reads a RecordIO response body one
//!   record at a time.
//! - [`server`] (feature `server`): what every v1 API endpoint does the
//!   same way on an axum server: method, `Content-Type` and `Accept`
//!   negotiation, decoding calls, streaming RecordIO responses.

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "server")]
pub mod server;

/// The header naming an event stream (`SUBSCRIBE` answers it; later calls
/// send it back).
pub const STREAM_ID: &str = "Mesos-Stream-Id";
