//! An agent's info as the master keeps it, with the part of its legacy
//! JSON that depends on nothing else remembered.
//!
//! `/state` and `/slaves` write every agent on every read; most of each
//! (its id, host, total resources split by reservation, attributes) only
//! changes when the agent registers again, which replaces the entry.

use mesos_proto::json::JsonWriter;
use mesos_proto::v1::AgentInfo;
use std::ops::Deref;
use std::sync::OnceLock;

/// An [`AgentInfo`] that is never changed in place (a new one replaces
/// it), with JSON written from it remembered. It dereferences to the
/// info.
#[derive(Debug, Default)]
pub(crate) struct AgentEntry {
    info: AgentInfo,
    /// Members of the agent's legacy JSON object that depend on its info
    /// only, without the braces.
    legacy: OnceLock<Box<[u8]>>,
}

impl AgentEntry {
    /// The members `write` writes for this agent (into an object it has
    /// begun), written the first time only: every caller passes the same
    /// writer.
    pub(crate) fn legacy_members(&self, write: impl FnOnce(&mut JsonWriter, &AgentInfo)) -> &[u8] {
        self.legacy.get_or_init(|| {
            let mut w = JsonWriter::with_buffer(Vec::with_capacity(1024));
            w.begin_object();
            write(&mut w, &self.info);
            let mut bytes = w.into_inner();
            bytes.remove(0);
            bytes.into_boxed_slice()
        })
    }
}

impl Deref for AgentEntry {
    type Target = AgentInfo;

    fn deref(&self) -> &AgentInfo {
        &self.info
    }
}

impl From<AgentInfo> for AgentEntry {
    fn from(info: AgentInfo) -> AgentEntry {
        AgentEntry {
            info,
            legacy: OnceLock::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_written_once_without_braces() {
        let mut info = AgentInfo {
            hostname: "h1".into(),
            ..Default::default()
        };
        info.port = Some(5051);
        let entry = AgentEntry::from(info);
        let write = |w: &mut JsonWriter, info: &AgentInfo| {
            w.field("hostname", &info.hostname);
            w.field("port", &info.port.unwrap_or(0));
        };
        assert_eq!(
            entry.legacy_members(write),
            br#""hostname":"h1","port":5051"#
        );
        // Remembered: a second writer is not called.
        assert_eq!(
            entry.legacy_members(|_, _| panic!("written again")),
            br#""hostname":"h1","port":5051"#
        );
        assert_eq!(entry.hostname, "h1");
    }
}
