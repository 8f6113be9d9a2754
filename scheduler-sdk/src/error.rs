//! What can go wrong talking to a master.

use std::time::Duration;

/// Why a call, a subscription or a driver failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchedulerError {
    /// The masters' address does not parse.
    #[error("invalid master address `{given}`: {reason}")]
    InvalidMasters {
        /// What was given.
        given: String,
        /// Why it does not parse.
        reason: String,
    },
    /// No master could be reached or none leads.
    #[error("cannot reach a leading master at {masters}: {last_error}")]
    NoMaster {
        /// The masters tried.
        masters: String,
        /// The last failure.
        last_error: String,
    },
    /// The master refused the call (a 4xx status other than a redirect,
    /// or a 5xx other than 503): the call is wrong, retrying will not help.
    #[error("the master refused the call ({status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The master's reason.
        message: String,
    },
    /// The master this session talks to no longer leads (it answered 307):
    /// subscribe again to the leader before making calls.
    #[error("the master no longer leads (redirected to {location}); subscribe again")]
    LeaderChanged {
        /// Where the old master points.
        location: String,
    },
    /// The master answered 503 (no leader, or not ready) for every retry.
    #[error("the master at {url} is unavailable (503): {message}")]
    Unavailable {
        /// Where the call went.
        url: String,
        /// The master's reason.
        message: String,
    },
    /// The connection failed or broke.
    #[error(transparent)]
    Http(#[from] mesos_http::client::HttpError),
    /// The master sent something that does not decode.
    #[error("cannot decode the master's {what}: {reason}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// No event (not even a heartbeat) arrived in this long.
    #[error("no event from the master for {0:?}: heartbeats missed")]
    HeartbeatMissed(Duration),
    /// The master closed the event stream.
    #[error("the master closed the event stream")]
    StreamEnded,
    /// The master sent an ERROR event: the framework was removed (torn
    /// down, or its failover timeout passed) and must not resubscribe.
    #[error("the master removed the framework: {0}")]
    Removed(String),
    /// The driver is not subscribed right now (it is reconnecting, or
    /// stopped).
    #[error("not subscribed to a master (the driver is reconnecting or stopped)")]
    Disconnected,
    /// The framework id store failed.
    #[error("framework id store {path}: {source}")]
    Store {
        /// The store's file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
}

impl SchedulerError {
    /// Whether a new subscription may succeed where this failed (a lost
    /// connection, a leader change, missed heartbeats), as opposed to a
    /// refusal or a removal that will fail again.
    ///
    /// ```
    /// use mesos_scheduler::SchedulerError;
    ///
    /// assert!(SchedulerError::StreamEnded.is_transient());
    /// assert!(!SchedulerError::Removed("torn down".into()).is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        match self {
            SchedulerError::NoMaster { .. }
            | SchedulerError::LeaderChanged { .. }
            | SchedulerError::Unavailable { .. }
            | SchedulerError::Http(_)
            | SchedulerError::HeartbeatMissed(_)
            | SchedulerError::StreamEnded
            | SchedulerError::Disconnected => true,
            SchedulerError::InvalidMasters { .. }
            | SchedulerError::Refused { .. }
            | SchedulerError::Decode { .. }
            | SchedulerError::Removed(_)
            | SchedulerError::Store { .. } => false,
        }
    }
}
