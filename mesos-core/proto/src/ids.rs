//! The id messages (`FrameworkID`, `AgentID`, `OfferID`, `TaskID`,
//! `ExecutorID`, `ContainerID`, `OperationID`, `ResourceProviderID`) as typed
//! ids: the wire type *is* the typed id, so there is nothing to convert
//! between the API and the protocol.
//!
//! Each has `new`, `as_str`, `Display`, `FromStr`, `From<&str>`,
//! `From<String>`, `Borrow<str>` (look up a `HashMap<TaskId, _>` by `&str`)
//! and, with the `serde` feature, serde as a plain string. A nested
//! [`ContainerId`] displays and parses as `parent.child`, as Mesos prints it.
//!
//! ```
//! use mesos_proto::v1::{ContainerId, TaskId};
//! use std::collections::HashMap;
//!
//! let task: TaskId = "web.1".parse().unwrap();
//! assert_eq!(task.to_string(), "web.1");
//! let mut tasks = HashMap::new();
//! tasks.insert(task, "running");
//! assert_eq!(tasks.get("web.1"), Some(&"running"));
//!
//! let nested: ContainerId = "c1.c2".parse().unwrap();
//! assert_eq!(nested.value, "c2");
//! assert_eq!(nested.parent.as_deref().map(|p| p.value.as_str()), Some("c1"));
//! assert_eq!(nested.to_string(), "c1.c2");
//! ```

use crate::v1::{
    AgentId, ContainerId, ExecutorId, FrameworkId, OfferId, OperationId, ResourceProviderId, TaskId,
};
use std::fmt;

/// An id string that cannot be an id: empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct InvalidId {
    kind: &'static str,
    reason: &'static str,
}

macro_rules! typed_id {
    ($ty:ident, $kind:literal) => {
        impl $ty {
            /// An id with this value.
            pub fn new(value: impl Into<String>) -> Self {
                $ty {
                    value: value.into(),
                }
            }

            /// The id's value.
            pub fn as_str(&self) -> &str {
                &self.value
            }

            /// The id's value, owned.
            pub fn into_string(self) -> String {
                self.value
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.value)
            }
        }

        impl std::str::FromStr for $ty {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                if s.is_empty() {
                    return Err(InvalidId {
                        kind: $kind,
                        reason: "empty",
                    });
                }
                Ok($ty::new(s))
            }
        }

        impl From<String> for $ty {
            fn from(value: String) -> Self {
                $ty { value }
            }
        }

        impl From<&str> for $ty {
            fn from(value: &str) -> Self {
                $ty::new(value)
            }
        }

        impl From<$ty> for String {
            fn from(id: $ty) -> String {
                id.value
            }
        }

        impl std::borrow::Borrow<str> for $ty {
            fn borrow(&self) -> &str {
                &self.value
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.value
            }
        }

        #[cfg(feature = "serde")]
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.value)
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = String::deserialize(d)?;
                value.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

typed_id!(FrameworkId, "framework id");
typed_id!(AgentId, "agent id");
typed_id!(OfferId, "offer id");
typed_id!(TaskId, "task id");
typed_id!(ExecutorId, "executor id");
typed_id!(OperationId, "operation id");
typed_id!(ResourceProviderId, "resource provider id");

impl ContainerId {
    /// A top-level container id.
    pub fn new(value: impl Into<String>) -> Self {
        ContainerId {
            value: value.into(),
            parent: None,
        }
    }

    /// A nested container id under `parent`.
    pub fn nested(parent: ContainerId, value: impl Into<String>) -> Self {
        ContainerId {
            value: value.into(),
            parent: Some(Box::new(parent)),
        }
    }

    /// This container's own id value (without its parents).
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The outermost ancestor (itself when not nested).
    pub fn root(&self) -> &ContainerId {
        let mut id = self;
        while let Some(parent) = id.parent.as_deref() {
            id = parent;
        }
        id
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = &self.parent {
            write!(f, "{parent}.")?;
        }
        f.write_str(&self.value)
    }
}

impl std::str::FromStr for ContainerId {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        let mut id: Option<ContainerId> = None;
        for part in s.split('.') {
            if part.is_empty() {
                return Err(InvalidId {
                    kind: "container id",
                    reason: "empty component",
                });
            }
            id = Some(match id {
                None => ContainerId::new(part),
                Some(parent) => ContainerId::nested(parent, part),
            });
        }
        id.ok_or(InvalidId {
            kind: "container id",
            reason: "empty",
        })
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for ContainerId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for ContainerId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = String::deserialize(d)?;
        value.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_ids_are_refused() {
        assert_eq!(
            "".parse::<TaskId>().unwrap_err().to_string(),
            "invalid task id: empty"
        );
        assert!("a..b".parse::<ContainerId>().is_err());
        assert!("".parse::<ContainerId>().is_err());
    }

    #[test]
    fn conversions_round_trip() {
        let id = FrameworkId::from("f-1");
        assert_eq!(id.as_str(), "f-1");
        assert_eq!(String::from(id.clone()), "f-1");
        assert_eq!(FrameworkId::from("f-1".to_string()), id);
        let c = ContainerId::nested(ContainerId::nested(ContainerId::new("a"), "b"), "c");
        assert_eq!(c.to_string(), "a.b.c");
        assert_eq!(c.root().value, "a");
        assert_eq!(c.to_string().parse::<ContainerId>().unwrap(), c);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_as_plain_strings() {
        let id: TaskId = serde_json::from_str("\"t-1\"").unwrap();
        assert_eq!(id.as_str(), "t-1");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"t-1\"");
        let c: ContainerId = serde_json::from_str("\"a.b\"").unwrap();
        assert_eq!(c.parent.as_deref().map(ContainerId::as_str), Some("a"));
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"a.b\"");
        let err = serde_json::from_str::<AgentId>("\"\"").unwrap_err();
        assert!(err.to_string().contains("invalid agent id: empty"), "{err}");
    }
}
