//! Mesos' legacy JSON model (`common/http.cpp` in Mesos): how resources,
//! attributes, task statuses and tasks look in `/state` and the other
//! pre-v1 endpoints of master and agent, written into a [`JsonWriter`].
//!
//! ```
//! use mesos_proto::json::JsonWriter;
//! use mesos_proto::json::legacy::resources;
//!
//! let list: mesos_proto::resources::Resources = "cpus:2;mem:128;ports:[1-3]".parse().unwrap();
//! let mut w = JsonWriter::new();
//! resources(&mut w, list.as_slice());
//! assert_eq!(
//!     String::from_utf8(w.into_inner()).unwrap(),
//!     r#"{"cpus":2.0,"disk":0.0,"gpus":0.0,"mem":128.0,"ports":"[1-3]"}"#
//! );
//! ```

use crate::json::{JsonEnum, JsonWriter};
use crate::v1::value::Type as ValueType;
use crate::v1::{Attribute, Resource, Task, TaskStatus, TimeInfo};
use std::collections::BTreeMap;

/// Seconds of a `TimeInfo`, as a float.
pub fn secs(t: &TimeInfo) -> f64 {
    t.nanoseconds as f64 / 1e9
}

/// Ranges as Mesos prints them: `[1-3, 5-5]`.
pub fn ranges_text(ranges: &[crate::v1::value::Range]) -> String {
    let parts: Vec<String> = ranges
        .iter()
        .map(|r| format!("{}-{}", r.begin, r.end))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// A field `name` holding [`resources`] of `list`.
pub fn resources_field(w: &mut JsonWriter, name: &str, list: &[Resource]) {
    w.key(name);
    resources(w, list);
}

/// Mesos' resources model: scalars summed by name, ranges and sets as
/// text; `cpus`, `gpus`, `mem` and `disk` always present.
pub fn resources(w: &mut JsonWriter, list: &[Resource]) {
    // The four always shown, in name order, on the stack; any other
    // scalar in a map (rare).
    let mut common = [("cpus", 0.0), ("disk", 0.0), ("gpus", 0.0), ("mem", 0.0)];
    let mut scalars: BTreeMap<&str, f64> = BTreeMap::new();
    let mut ranges: BTreeMap<&str, Vec<crate::v1::value::Range>> = BTreeMap::new();
    let mut sets: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for r in list {
        match ValueType::try_from(r.r#type) {
            Ok(ValueType::Scalar) => {
                let v = r.scalar.map_or(0.0, |s| s.value);
                match common.iter_mut().find(|(n, _)| *n == r.name) {
                    Some((_, sum)) => *sum += v,
                    None => *scalars.entry(&r.name).or_default() += v,
                }
            }
            Ok(ValueType::Ranges) => {
                if let Some(x) = &r.ranges {
                    crate::resources::value::ranges_add(
                        ranges.entry(&r.name).or_default(),
                        &x.range,
                    );
                }
            }
            Ok(ValueType::Set) => {
                if let Some(x) = &r.set {
                    sets.entry(&r.name)
                        .or_default()
                        .extend(x.item.iter().cloned());
                }
            }
            _ => {}
        }
    }
    w.begin_object();
    let mut scalars = scalars.into_iter().peekable();
    for (name, v) in common {
        while let Some((other, v)) = scalars.next_if(|(other, _)| *other < name) {
            scalar_field(w, other, v);
        }
        scalar_field(w, name, v);
    }
    for (name, v) in scalars {
        scalar_field(w, name, v);
    }
    for (name, r) in ranges {
        w.field(name, &ranges_text(&r));
    }
    for (name, mut items) in sets {
        items.sort();
        items.dedup();
        w.field(name, &format!("{{{}}}", items.join(", ")));
    }
    w.end_object();
}

/// A scalar in fixed point, as Mesos rounds them.
fn scalar_field(w: &mut JsonWriter, name: &str, v: f64) {
    w.field(name, &((v * 1000.0).round() / 1000.0));
}

/// An enum member by its JSON name (its number if unknown), without
/// allocating.
fn enum_field<E: JsonEnum>(w: &mut JsonWriter, name: &str, value: i32) {
    match E::json_name(value) {
        Some(n) => w.str_field(name, n),
        None => w.field(name, &value.to_string()),
    }
}

/// Attributes as an object of name to value.
pub fn attributes(w: &mut JsonWriter, list: &[Attribute]) {
    w.begin_object();
    for a in list {
        match ValueType::try_from(a.r#type) {
            Ok(ValueType::Scalar) => w.field(&a.name, &a.scalar.map_or(0.0, |s| s.value)),
            Ok(ValueType::Ranges) => {
                let r = a
                    .ranges
                    .as_ref()
                    .map(|r| r.range.clone())
                    .unwrap_or_default();
                w.field(&a.name, &ranges_text(&r));
            }
            Ok(ValueType::Set) => {
                let items = a
                    .set
                    .as_ref()
                    .map(|s| s.item.join(", "))
                    .unwrap_or_default();
                w.field(&a.name, &format!("{{{items}}}"));
            }
            _ => w.field(
                &a.name,
                &a.text.as_ref().map(|t| t.value.clone()).unwrap_or_default(),
            ),
        }
    }
    w.end_object();
}

/// The JSON name of an enum value (its number if unknown).
pub fn enum_name<E: JsonEnum>(value: i32) -> String {
    E::json_name(value).map_or_else(|| value.to_string(), str::to_string)
}

/// A task status as `/state` shows it.
pub fn status(w: &mut JsonWriter, s: &TaskStatus) {
    w.begin_object();
    enum_field::<crate::v1::TaskState>(w, "state", s.state);
    w.field("timestamp", &s.timestamp.unwrap_or(0.0));
    if let Some(h) = s.healthy {
        w.field("healthy", &h);
    }
    if let Some(labels) = &s.labels {
        w.key("labels");
        w.list(&labels.labels);
    }
    if let Some(c) = &s.container_status {
        w.field("container_status", c);
    }
    w.end_object();
}

/// A task as `/state` shows it: [`task_fixed_members`], then
/// [`task_status_members`].
///
/// ```
/// use mesos_proto::json::{JsonWriter, legacy};
/// use mesos_proto::v1::{Task, TaskState};
/// let mut t = Task { name: "web".into(), state: TaskState::TaskRunning as i32, ..Default::default() };
/// t.task_id.value = "web.1".into();
/// let mut whole = JsonWriter::new();
/// legacy::task(&mut whole, &t);
///
/// // The same, from members written apart (as a master remembers them).
/// let mut fixed = JsonWriter::new();
/// fixed.begin_object();
/// legacy::task_fixed_members(&mut fixed, &t);
/// let mut parts = JsonWriter::new();
/// parts.begin_object();
/// parts.raw(&fixed.into_inner()[1..]);
/// legacy::task_status_members(&mut parts, &t);
/// parts.end_object();
/// assert_eq!(whole.into_inner(), parts.into_inner());
/// ```
pub fn task(w: &mut JsonWriter, t: &Task) {
    w.begin_object();
    task_fixed_members(w, t);
    task_status_members(w, t);
    w.end_object();
}

/// The members of a task's legacy JSON that its status updates leave as
/// they are (all but `state` and `statuses`), into an object begun.
pub fn task_fixed_members(w: &mut JsonWriter, t: &Task) {
    w.str_field("id", &t.task_id.value);
    w.str_field("name", &t.name);
    w.str_field("framework_id", &t.framework_id.value);
    w.str_field(
        "executor_id",
        t.executor_id.as_ref().map_or("", |e| e.value.as_str()),
    );
    w.str_field("slave_id", &t.agent_id.value);
    resources_field(w, "resources", &t.resources);
    if let Some(role) = t
        .resources
        .iter()
        .find_map(|r| r.allocation_info.as_ref().and_then(|a| a.role.as_deref()))
    {
        w.str_field("role", role);
    }
    if let Some(user) = &t.user {
        w.str_field("user", user);
    }
    if let Some(labels) = &t.labels {
        w.key("labels");
        w.list(&labels.labels);
    }
    if let Some(d) = &t.discovery {
        w.field("discovery", d);
    }
    if let Some(c) = &t.container {
        w.field("container", c);
    }
}

/// The members of a task's legacy JSON that its status updates change
/// (`state` and `statuses`), into an object begun.
pub fn task_status_members(w: &mut JsonWriter, t: &Task) {
    enum_field::<crate::v1::TaskState>(w, "state", t.state);
    w.key("statuses");
    w.begin_array();
    for s in &t.statuses {
        w.element();
        status(w, s);
    }
    w.end_array();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_in_name_order_with_the_four_always_there() {
        let list: crate::resources::Resources = "zz:4;cpus:1;foo:2;a:3;cpus:0.5".parse().unwrap();
        let mut w = JsonWriter::new();
        resources(&mut w, list.as_slice());
        assert_eq!(
            String::from_utf8(w.into_inner()).unwrap(),
            r#"{"a":3.0,"cpus":1.5,"disk":0.0,"foo":2.0,"gpus":0.0,"mem":0.0,"zz":4.0}"#
        );
    }
}
