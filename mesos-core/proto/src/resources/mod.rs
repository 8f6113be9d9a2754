//! The Resources algebra, as Mesos defines it.
//!
//! [`Resources`] is a collection of `Resource`s kept in normal form: every
//! element valid and non-empty, in the post-refinement reservation format,
//! with no two elements that could be added into one. Scalars are computed
//! in fixed point at 0.001 ([`Scalar`]), ranges are merged and split, sets
//! are unions. It parses the agent's `--resources` text form and its JSON
//! form.
//!
//! ```
//! use mesos_proto::resources::Resources;
//!
//! let total: Resources = "cpus:4;mem:1024;ports:[31000-32000];disk(prod):10".parse().unwrap();
//! let task: Resources = "cpus:1.5;mem:256;ports:[31000-31001]".parse().unwrap();
//! assert!(total.contains(&task));
//!
//! let left = &total - &task;
//! assert_eq!(left.cpus(), Some(2.5));
//! assert_eq!(left.to_string(), "cpus:2.5; mem:768; ports:[31002-32000]; disk(reservations: [(STATIC,prod)]):10");
//! assert_eq!(&left + &task, total);
//! ```

mod parse;
mod validate;
pub mod value;

pub use parse::{ParseError, parse_attributes};
pub use validate::{is_strict_subrole, validate_role};
pub use value::Scalar;

use crate::v1::Resource;
use crate::v1::resource::disk_info::source::Type as DiskSourceType;
use crate::v1::resource::{AllocationInfo, ReservationInfo};
use crate::v1::value::Type as ValueType;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};

/// A `Resource` that cannot be part of a [`Resources`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid resource: {0}")]
pub struct InvalidResource(pub String);

/// A collection of resources in Mesos' normal form. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    items: Vec<Resource>,
}

/// The role a resource is reserved to: the top of its reservation stack,
/// or `*` when unreserved.
pub fn reservation_role(r: &Resource) -> &str {
    r.reservations
        .last()
        .and_then(|x| x.role.as_deref())
        .unwrap_or("*")
}

fn same_identity(left: &Resource, right: &Resource) -> bool {
    left.name == right.name
        && left.r#type == right.r#type
        && left.allocation_info == right.allocation_info
        && left.reservations == right.reservations
        && left.disk == right.disk
        && left.revocable.is_some() == right.revocable.is_some()
        && left.provider_id == right.provider_id
        && left.shared.is_some() == right.shared.is_some()
}

/// Mesos' `addable`: the two can become one resource.
fn addable(left: &Resource, right: &Resource) -> bool {
    // Shared resources are counted copies; volumes and exclusive disks are
    // atomic: none of them merge.
    !is_atomic(left) && !is_atomic(right) && same_identity(left, right)
}

/// Shared resources, persistent volumes and exclusive disks: never merged,
/// taken whole or not at all.
fn is_atomic(r: &Resource) -> bool {
    r.shared.is_some()
        || r.disk.as_ref().is_some_and(|disk| {
            disk.persistence.is_some()
                || disk.source.as_ref().is_some_and(|s| {
                    matches!(
                        DiskSourceType::try_from(s.r#type),
                        Ok(DiskSourceType::Mount | DiskSourceType::Block)
                    ) || (s.r#type == DiskSourceType::Raw as i32 && s.id.is_some())
                })
        })
}

/// Mesos' `subtractable`: `right` can be taken out of `left`.
fn subtractable(left: &Resource, right: &Resource) -> bool {
    same_identity(left, right) && (!is_atomic(left) || left == right)
}

/// `left += right`, for addable resources.
fn add_value(left: &mut Resource, right: &Resource) {
    if let (Some(l), Some(r)) = (&mut left.scalar, &right.scalar) {
        l.value = (Scalar::from_f64(l.value) + Scalar::from_f64(r.value)).to_f64();
    } else if let (Some(l), Some(r)) = (&mut left.ranges, &right.ranges) {
        value::ranges_add(&mut l.range, &r.range);
    } else if let (Some(l), Some(r)) = (&mut left.set, &right.set) {
        value::set_add(&mut l.item, &r.item);
    }
}

/// `left -= right` (saturating), for subtractable resources.
fn sub_value(left: &mut Resource, right: &Resource) {
    if left.shared.is_some() || left.disk.as_ref().is_some_and(|d| d.persistence.is_some()) {
        // Atomic: the whole resource goes.
        left.scalar = left.scalar.map(|_| crate::v1::value::Scalar { value: 0.0 });
        return;
    }
    if let (Some(l), Some(r)) = (&mut left.scalar, &right.scalar) {
        l.value = Scalar::from_f64(l.value)
            .saturating_sub(Scalar::from_f64(r.value))
            .to_f64();
    } else if let (Some(l), Some(r)) = (&mut left.ranges, &right.ranges) {
        value::ranges_sub(&mut l.range, &r.range);
    } else if let (Some(l), Some(r)) = (&mut left.set, &right.set) {
        value::set_sub(&mut l.item, &r.item);
    }
}

/// `left` holds at least `right`.
fn contains_one(left: &Resource, right: &Resource) -> bool {
    if !subtractable(left, right) {
        return false;
    }
    match (&left.scalar, &left.ranges, &left.set) {
        (Some(l), _, _) => right
            .scalar
            .is_some_and(|r| Scalar::from_f64(r.value) <= Scalar::from_f64(l.value)),
        (_, Some(l), _) => right
            .ranges
            .as_ref()
            .is_some_and(|r| value::ranges_contain(&l.range, &r.range)),
        (_, _, Some(l)) => right
            .set
            .as_ref()
            .is_some_and(|r| value::set_contains(&l.item, &r.item)),
        _ => false,
    }
}

impl Resources {
    /// No resources (usable in a `static`).
    pub const fn new() -> Resources {
        Resources { items: Vec::new() }
    }

    /// Validates and normalizes resources from the wire. Empty resources are
    /// dropped; invalid ones are an error naming the resource and the
    /// problem.
    pub fn from_resources(
        resources: impl IntoIterator<Item = Resource>,
    ) -> Result<Resources, InvalidResource> {
        let mut out = Resources::new();
        for r in resources {
            if let Some(r) = validate::normalize(r).map_err(InvalidResource)? {
                out.add_normalized(r);
            }
        }
        Ok(out)
    }

    /// Parses the agent's `--resources`: the text form
    /// (`cpus:4;mem:1024;ports:[31000-32000];disk(role):10;names:{a,b}`) or a
    /// JSON array of `Resource` objects. Resources without a role in the
    /// text form are reserved to `default_role` unless it is `*`.
    pub fn parse(text: &str, default_role: &str) -> Result<Resources, ParseError> {
        parse::parse_resources(text, default_role)
    }

    fn add_normalized(&mut self, r: Resource) {
        if let Some(existing) = self.items.iter_mut().find(|e| addable(e, &r)) {
            add_value(existing, &r);
        } else {
            self.items.push(r);
        }
    }

    /// [`Self::add_normalized`] of a borrowed resource: copied only when
    /// it is not merged into one already here.
    fn add_normalized_ref(&mut self, r: &Resource) {
        if let Some(existing) = self.items.iter_mut().find(|e| addable(e, r)) {
            add_value(existing, r);
        } else {
            self.items.push(r.clone());
        }
    }

    fn sub_normalized(&mut self, r: &Resource) {
        if let Some(i) = self.items.iter().position(|e| subtractable(e, r)) {
            sub_value(&mut self.items[i], r);
            if validate::is_empty(&self.items[i]) {
                self.items.remove(i);
            }
        }
    }

    /// The resources, in normal form.
    pub fn iter(&self) -> std::slice::Iter<'_, Resource> {
        self.items.iter()
    }

    /// The resources as a slice, in normal form.
    pub fn as_slice(&self) -> &[Resource] {
        &self.items
    }

    /// The resources as wire messages.
    pub fn into_vec(self) -> Vec<Resource> {
        self.items
    }

    /// How many resources (in normal form) there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// True when these resources hold all of `that`.
    pub fn contains(&self, that: &Resources) -> bool {
        // In normal form, two non-atomic resources of `that` never match
        // the same resource of `self` (they would have been merged), so
        // each can be checked alone. Atomic ones may repeat: count them.
        if !that.items.iter().any(is_atomic) {
            return that
                .items
                .iter()
                .all(|r| self.items.iter().any(|e| contains_one(e, r)));
        }
        let mut remaining = self.clone();
        for r in &that.items {
            if !remaining.items.iter().any(|e| contains_one(e, r)) {
                return false;
            }
            remaining.sub_normalized(r);
        }
        true
    }

    /// True when these resources hold `that` resource. An invalid resource
    /// is contained nowhere.
    pub fn contains_resource(&self, that: &Resource) -> bool {
        match validate::normalize(that.clone()) {
            Ok(Some(r)) => self.items.iter().any(|e| contains_one(e, &r)),
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// The resources for which `keep` is true.
    pub fn filter(&self, mut keep: impl FnMut(&Resource) -> bool) -> Resources {
        Resources {
            items: self.items.iter().filter(|r| keep(r)).cloned().collect(),
        }
    }

    /// Resources reserved to exactly `role`, or all reserved resources when
    /// `role` is `None`.
    pub fn reserved(&self, role: Option<&str>) -> Resources {
        self.filter(|r| {
            !r.reservations.is_empty() && role.is_none_or(|role| reservation_role(r) == role)
        })
    }

    /// Unreserved resources.
    pub fn unreserved(&self) -> Resources {
        self.filter(|r| r.reservations.is_empty())
    }

    /// What may be allocated to `role`: unreserved resources and those
    /// reserved to `role` or to one of its ancestors.
    pub fn allocatable_to(&self, role: &str) -> Resources {
        self.filter(|r| {
            let reserved = reservation_role(r);
            r.reservations.is_empty() || reserved == role || is_strict_subrole(role, reserved)
        })
    }

    /// Revocable resources.
    pub fn revocable(&self) -> Resources {
        self.filter(|r| r.revocable.is_some())
    }

    /// Non-revocable resources.
    pub fn non_revocable(&self) -> Resources {
        self.filter(|r| r.revocable.is_none())
    }

    /// Persistent volumes.
    pub fn persistent_volumes(&self) -> Resources {
        self.filter(|r| r.disk.as_ref().is_some_and(|d| d.persistence.is_some()))
    }

    /// Resources with the given name.
    pub fn named(&self, name: &str) -> Resources {
        self.filter(|r| r.name == name)
    }

    fn map(&self, mut f: impl FnMut(&mut Resource)) -> Resources {
        let mut out = Resources::new();
        for r in &self.items {
            let mut r = r.clone();
            f(&mut r);
            out.add_normalized(r);
        }
        out
    }

    /// These resources with each scalar named in `caps` cut down to at
    /// most that much in total (earlier resources of a name first);
    /// other resources are kept whole, and a scalar cut to nothing is
    /// dropped. How quota limits and headroom shrink an offer.
    ///
    /// ```
    /// use mesos_proto::resources::{Resources, Scalar};
    /// use std::collections::BTreeMap;
    ///
    /// let r: Resources = "cpus:4;mem:1024;ports:[31000-31009]".parse().unwrap();
    /// let caps = BTreeMap::from([("cpus".to_string(), Scalar::from_f64(1.5))]);
    /// assert_eq!(r.cap_scalars(&caps).to_string(), "cpus:1.5; mem:1024; ports:[31000-31009]");
    /// ```
    pub fn cap_scalars(&self, caps: &BTreeMap<String, Scalar>) -> Resources {
        let mut left = caps.clone();
        let mut out = Resources::new();
        for r in &self.items {
            let mut r = r.clone();
            if let (Some(s), Some(cap)) = (r.scalar.as_mut(), left.get_mut(&r.name)) {
                let have = Scalar::from_f64(s.value);
                let take = if have <= *cap { have } else { *cap };
                *cap = cap.saturating_sub(take);
                if take.is_zero() {
                    continue;
                }
                s.value = take.to_f64();
            }
            out.add_normalized(r);
        }
        out
    }

    /// The same resources allocated to `role` (sets `allocation_info`).
    pub fn allocate(&self, role: &str) -> Resources {
        self.map(|r| {
            r.allocation_info = Some(AllocationInfo {
                role: Some(role.to_string()),
            });
        })
    }

    /// The same resources without allocation info.
    pub fn unallocate(&self) -> Resources {
        self.map(|r| r.allocation_info = None)
    }

    /// The resources grouped by the role they are allocated to; resources
    /// without allocation info are left out.
    pub fn allocations(&self) -> BTreeMap<String, Resources> {
        let mut out: BTreeMap<String, Resources> = BTreeMap::new();
        for r in &self.items {
            if let Some(role) = r.allocation_info.as_ref().and_then(|a| a.role.clone()) {
                out.entry(role).or_default().add_normalized(r.clone());
            }
        }
        out
    }

    /// The same resources with `reservation` pushed on each stack (a
    /// refinement). Fails if the result is not a valid reservation stack.
    pub fn push_reservation(
        &self,
        reservation: &ReservationInfo,
    ) -> Result<Resources, InvalidResource> {
        Resources::from_resources(self.items.iter().cloned().map(|mut r| {
            r.reservations.push(reservation.clone());
            r
        }))
    }

    /// The same resources with the top reservation popped.
    pub fn pop_reservation(&self) -> Resources {
        self.map(|r| {
            r.reservations.pop();
        })
    }

    /// The same resources with every reservation removed.
    pub fn to_unreserved(&self) -> Resources {
        self.map(|r| r.reservations.clear())
    }

    /// The same quantities with reservations and allocation info removed,
    /// merged wherever that makes resources addable: what the resources
    /// amount to, whoever they belong to.
    pub fn flatten(&self) -> Resources {
        self.map(|r| {
            r.reservations.clear();
            r.allocation_info = None;
        })
    }

    /// The total of the scalar resource `name` (fixed point).
    pub fn scalar(&self, name: &str) -> Option<Scalar> {
        let mut found = false;
        let total = self
            .items
            .iter()
            .filter(|r| r.name == name)
            .filter_map(|r| r.scalar)
            .inspect(|_| found = true)
            .map(|s| Scalar::from_f64(s.value))
            .sum();
        found.then_some(total)
    }

    /// The totals of every scalar resource, by name (fixed point): the
    /// quantities DRF compares.
    pub fn scalar_quantities(&self) -> BTreeMap<String, Scalar> {
        let mut out: BTreeMap<String, Scalar> = BTreeMap::new();
        for r in &self.items {
            if let Some(s) = r.scalar {
                *out.entry(r.name.clone()).or_default() += Scalar::from_f64(s.value);
            }
        }
        out
    }

    /// Total `cpus`.
    pub fn cpus(&self) -> Option<f64> {
        self.scalar("cpus").map(Scalar::to_f64)
    }

    /// Total `mem` (MB).
    pub fn mem(&self) -> Option<f64> {
        self.scalar("mem").map(Scalar::to_f64)
    }

    /// Total `disk` (MB).
    pub fn disk(&self) -> Option<f64> {
        self.scalar("disk").map(Scalar::to_f64)
    }

    /// Total `gpus`.
    pub fn gpus(&self) -> Option<f64> {
        self.scalar("gpus").map(Scalar::to_f64)
    }

    /// The union of every `ports` range, coalesced.
    pub fn ports(&self) -> Vec<crate::v1::value::Range> {
        let mut out = Vec::new();
        for r in self.items.iter().filter(|r| r.name == "ports") {
            if let Some(ranges) = &r.ranges {
                value::ranges_add(&mut out, &ranges.range);
            }
        }
        out
    }
}

impl std::str::FromStr for Resources {
    type Err = ParseError;
    /// Parses `--resources` with the default role `*`.
    fn from_str(s: &str) -> Result<Resources, ParseError> {
        Resources::parse(s, "*")
    }
}

impl TryFrom<Vec<Resource>> for Resources {
    type Error = InvalidResource;
    fn try_from(resources: Vec<Resource>) -> Result<Resources, InvalidResource> {
        Resources::from_resources(resources)
    }
}

impl From<Resources> for Vec<Resource> {
    fn from(resources: Resources) -> Vec<Resource> {
        resources.items
    }
}

impl<'a> IntoIterator for &'a Resources {
    type Item = &'a Resource;
    type IntoIter = std::slice::Iter<'a, Resource>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

/// Equality as multisets: each contains the other.
impl PartialEq for Resources {
    fn eq(&self, other: &Resources) -> bool {
        self.contains(other) && other.contains(self)
    }
}

impl AddAssign<&Resources> for Resources {
    fn add_assign(&mut self, rhs: &Resources) {
        for r in &rhs.items {
            self.add_normalized_ref(r);
        }
    }
}

impl SubAssign<&Resources> for Resources {
    /// Saturating: subtracting more than is there leaves nothing of it.
    fn sub_assign(&mut self, rhs: &Resources) {
        for r in &rhs.items {
            self.sub_normalized(r);
        }
    }
}

impl Add for &Resources {
    type Output = Resources;
    fn add(self, rhs: &Resources) -> Resources {
        let mut out = self.clone();
        out += rhs;
        out
    }
}

impl Sub for &Resources {
    type Output = Resources;
    fn sub(self, rhs: &Resources) -> Resources {
        let mut out = self.clone();
        out -= rhs;
        out
    }
}

/// Writes one resource as Mesos prints it, e.g.
/// `cpus(allocated: prod)(reservations: [(STATIC,prod)]):4`.
pub fn fmt_resource(f: &mut fmt::Formatter<'_>, r: &Resource) -> fmt::Result {
    use crate::v1::resource::reservation_info::Type as ReservationType;
    f.write_str(&r.name)?;
    if let Some(role) = r.allocation_info.as_ref().and_then(|a| a.role.as_deref()) {
        write!(f, "(allocated: {role})")?;
    }
    if !r.reservations.is_empty() {
        f.write_str("(reservations: [")?;
        for (i, res) in r.reservations.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let ty = res
                .r#type
                .and_then(|t| ReservationType::try_from(t).ok())
                .map_or("UNKNOWN", |t| t.as_str_name());
            write!(f, "({ty},{}", res.role.as_deref().unwrap_or(""))?;
            if let Some(principal) = &res.principal {
                write!(f, ",{principal}")?;
            }
            f.write_str(")")?;
        }
        f.write_str("])")?;
    }
    if let Some(disk) = &r.disk {
        f.write_str("[")?;
        if let Some(p) = &disk.persistence {
            f.write_str(&p.id)?;
        }
        if let Some(v) = &disk.volume {
            write!(f, ":{}", v.container_path)?;
        }
        f.write_str("]")?;
    }
    if r.revocable.is_some() {
        f.write_str("{REV}")?;
    }
    if r.shared.is_some() {
        f.write_str("<SHARED>")?;
    }
    f.write_str(":")?;
    match ValueType::try_from(r.r#type) {
        Ok(ValueType::Scalar) => {
            let v = r.scalar.map_or(0.0, |s| s.value);
            write!(f, "{}", Scalar::from_f64(v))
        }
        Ok(ValueType::Ranges) => value::fmt_ranges(f, &r.ranges.clone().unwrap_or_default()),
        Ok(ValueType::Set) => value::fmt_set(f, &r.set.clone().unwrap_or_default()),
        _ => f.write_str("?"),
    }
}

impl fmt::Display for Resources {
    /// Mesos' form: `cpus:4; mem:1024; ports:[31000-32000]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            fmt_resource(f, r)?;
        }
        Ok(())
    }
}
