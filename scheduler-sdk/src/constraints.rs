//! Placement constraints on one offer's agent: its attributes and
//! hostname. (Constraints across tasks, such as Marathon's UNIQUE or
//! GROUP_BY, need the framework's own task list and live with it.)

use crate::offers::attribute;
use mesos_proto::v1::Offer;

/// A condition an offer's agent must meet. The attribute name `hostname`
/// means the agent's hostname, as in Marathon.
///
/// ```
/// use mesos_proto::resources::parse_attributes;
/// use mesos_proto::v1::Offer;
/// use mesos_scheduler::constraints::Constraint;
///
/// let offer = Offer {
///     hostname: "node-3".into(),
///     attributes: parse_attributes("rack:r2;zone:a;ssd:true").unwrap(),
///     ..Default::default()
/// };
/// assert!(Constraint::Equals("rack".into(), "r2".into()).matches(&offer));
/// assert!(Constraint::In("zone".into(), vec!["a".into(), "b".into()]).matches(&offer));
/// assert!(Constraint::NotEquals("hostname".into(), "node-1".into()).matches(&offer));
/// assert!(!Constraint::Exists("gpu".into()).matches(&offer));
/// assert!(Constraint::all(&[Constraint::Exists("ssd".into())], &offer));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Constraint {
    /// The attribute has this value.
    Equals(String, String),
    /// The attribute is missing or has another value.
    NotEquals(String, String),
    /// The attribute has one of these values.
    In(String, Vec<String>),
    /// The attribute is present.
    Exists(String),
    /// The attribute is absent.
    NotExists(String),
}

impl Constraint {
    /// Whether `offer`'s agent meets the constraint.
    pub fn matches(&self, offer: &Offer) -> bool {
        let value = |name: &str| {
            if name == "hostname" {
                Some(offer.hostname.clone())
            } else {
                attribute(offer, name)
            }
        };
        match self {
            Constraint::Equals(name, v) => value(name).as_deref() == Some(v.as_str()),
            Constraint::NotEquals(name, v) => value(name).as_deref() != Some(v.as_str()),
            Constraint::In(name, vs) => value(name).is_some_and(|x| vs.contains(&x)),
            Constraint::Exists(name) => value(name).is_some(),
            Constraint::NotExists(name) => value(name).is_none(),
        }
    }

    /// Whether `offer` meets every one of `constraints`.
    pub fn all(constraints: &[Constraint], offer: &Offer) -> bool {
        constraints.iter().all(|c| c.matches(offer))
    }
}
