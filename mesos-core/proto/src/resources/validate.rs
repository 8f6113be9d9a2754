//! Validation and normalization of a single `Resource`, as Mesos checks
//! resources that arrive from flags, frameworks and operators.

use super::value::{self, Scalar};
use crate::v1::Resource;
use crate::v1::resource::ReservationInfo;
use crate::v1::resource::reservation_info::Type as ReservationType;
use crate::v1::value::Type as ValueType;

/// Checks a role name as Mesos does: `*`, or `/`-separated components that
/// are not empty, `.` or `..`, do not start with `-` and hold no whitespace.
///
/// ```
/// use mesos_proto::resources::validate_role;
///
/// assert!(validate_role("prod/web").is_ok());
/// assert!(validate_role("*").is_ok());
/// assert_eq!(
///     validate_role("prod//web").unwrap_err(),
///     "role `prod//web` has an empty component"
/// );
/// ```
pub fn validate_role(role: &str) -> Result<(), String> {
    if role == "*" {
        return Ok(());
    }
    if role.is_empty() {
        return Err("role name is empty".into());
    }
    for component in role.split('/') {
        let problem = if component.is_empty() {
            "has an empty component"
        } else if component == "." || component == ".." {
            "has a `.` or `..` component"
        } else if component == "*" {
            "has a `*` component"
        } else if component.starts_with('-') {
            "has a component starting with `-`"
        } else if component
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            "holds whitespace or a control character"
        } else {
            continue;
        };
        return Err(format!("role `{role}` {problem}"));
    }
    Ok(())
}

/// True when `role` is a strict descendant of `ancestor` (`a/b/c` of `a`).
pub fn is_strict_subrole(role: &str, ancestor: &str) -> bool {
    role.len() > ancestor.len() + 1
        && role.starts_with(ancestor)
        && role.as_bytes()[ancestor.len()] == b'/'
}

/// Validates `r` and brings it to the form the algebra works on: the
/// post-refinement reservation format (legacy `role`/`reservation` turned
/// into a `reservations` stack), scalars rounded to Mesos' fixed point,
/// ranges coalesced, set items unique. Returns `Ok(None)` for an empty
/// resource, which a collection drops.
pub(crate) fn normalize(mut r: Resource) -> Result<Option<Resource>, String> {
    if r.name.is_empty() {
        return Err("resource has an empty name".into());
    }
    let name = r.name.clone();
    let fail = |what: String| format!("resource `{name}`: {what}");

    match ValueType::try_from(r.r#type) {
        Ok(ValueType::Scalar) => {
            let (Some(scalar), None, None) = (&mut r.scalar, &r.ranges, &r.set) else {
                return Err(fail(
                    "a SCALAR resource must have `scalar` and no `ranges` or `set`".into(),
                ));
            };
            if let Err(e) = value::validate_scalar(scalar.value) {
                return Err(fail(format!("invalid scalar {}: {e}", scalar.value)));
            }
            scalar.value = Scalar::from_f64(scalar.value).to_f64();
        }
        Ok(ValueType::Ranges) => {
            let (None, Some(ranges), None) = (&r.scalar, &mut r.ranges, &r.set) else {
                return Err(fail(
                    "a RANGES resource must have `ranges` and no `scalar` or `set`".into(),
                ));
            };
            if let Some(bad) = ranges.range.iter().find(|x| x.begin > x.end) {
                return Err(fail(format!(
                    "invalid range {}-{}: begin > end",
                    bad.begin, bad.end
                )));
            }
            value::coalesce(&mut ranges.range);
        }
        Ok(ValueType::Set) => {
            let (None, None, Some(set)) = (&r.scalar, &r.ranges, &mut r.set) else {
                return Err(fail(
                    "a SET resource must have `set` and no `scalar` or `ranges`".into(),
                ));
            };
            let mut unique: Vec<String> = Vec::with_capacity(set.item.len());
            value::set_add(&mut unique, &set.item);
            set.item = unique;
        }
        Ok(ValueType::Text) => return Err(fail("TEXT is not a resource type".into())),
        Err(_) => return Err(fail(format!("unknown value type {}", r.r#type))),
    }

    // Legacy (pre-refinement) format: `role` plus optional `reservation`.
    let legacy_role = r.role.take();
    let legacy_reservation = r.reservation.take();
    if let Some(role) = legacy_role.filter(|role| role != "*") {
        match r.reservations.last() {
            Some(top) if top.role.as_deref() == Some(role.as_str()) => {}
            Some(top) => {
                return Err(fail(format!(
                    "`role` {role:?} disagrees with the reservations' role {:?}",
                    top.role.as_deref().unwrap_or("")
                )));
            }
            None => {
                let mut reservation = legacy_reservation.unwrap_or_default();
                reservation.r#type = Some(
                    if reservation.principal.is_some() || reservation.labels.is_some() {
                        ReservationType::Dynamic as i32
                    } else {
                        ReservationType::Static as i32
                    },
                );
                reservation.role = Some(role);
                r.reservations.push(reservation);
            }
        }
    }
    validate_reservations(&r.reservations).map_err(fail)?;

    if let Some(allocation) = &r.allocation_info {
        if let Some(role) = &allocation.role {
            validate_role(role).map_err(fail)?;
        }
    }
    if let Some(disk) = &r.disk {
        if disk.persistence.is_some() && disk.volume.is_none() {
            return Err(fail("a persistent volume must have `volume`".into()));
        }
        if disk.persistence.is_some() && r.reservations.is_empty() {
            return Err(fail("a persistent volume must be reserved".into()));
        }
    }
    if r.shared.is_some()
        && r.disk
            .as_ref()
            .and_then(|d| d.persistence.as_ref())
            .is_none()
    {
        return Err(fail("only persistent volumes can be shared".into()));
    }

    if is_empty(&r) { Ok(None) } else { Ok(Some(r)) }
}

fn validate_reservations(stack: &[ReservationInfo]) -> Result<(), String> {
    let mut previous: Option<&str> = None;
    for (i, reservation) in stack.iter().enumerate() {
        let Some(role) = reservation.role.as_deref() else {
            return Err("a reservation has no `role`".into());
        };
        if role == "*" {
            return Err("role `*` cannot be reserved".into());
        }
        validate_role(role)?;
        match reservation.r#type.map(ReservationType::try_from) {
            Some(Ok(ReservationType::Static)) if i > 0 => {
                return Err("a STATIC reservation must be at the bottom of the stack".into());
            }
            Some(Ok(ReservationType::Static | ReservationType::Dynamic)) => {}
            _ => return Err(format!("reservation for `{role}` has no valid `type`")),
        }
        if let Some(parent) = previous {
            if !is_strict_subrole(role, parent) {
                return Err(format!(
                    "refined reservation role `{role}` is not a descendant of `{parent}`"
                ));
            }
        }
        previous = Some(role);
    }
    Ok(())
}

/// True when the resource holds nothing: a zero scalar, no ranges, an
/// empty set.
pub(crate) fn is_empty(r: &Resource) -> bool {
    match (&r.scalar, &r.ranges, &r.set) {
        (Some(s), _, _) => Scalar::from_f64(s.value).is_zero(),
        (_, Some(ranges), _) => ranges.range.is_empty(),
        (_, _, Some(set)) => set.item.is_empty(),
        _ => true,
    }
}
