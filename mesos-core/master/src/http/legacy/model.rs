//! Mesos' legacy JSON model (`common/http.cpp` in Mesos): how resources,
//! attributes, tasks, frameworks and agents look in `/state` and the other
//! pre-v1 endpoints, written straight into a [`JsonWriter`].

use crate::config::MESOS_VERSION;
use crate::snapshot::{AgentRow, TaskLists, agent_pid};
use crate::task_entry::TaskEntry;
use mesos_proto::json::JsonWriter;
pub(super) use mesos_proto::json::legacy::{attributes, enum_name, resources_field, secs};
use mesos_proto::v1::master::Response as MasterResponse;
use mesos_proto::v1::master::response::{self, get_frameworks};
use mesos_proto::v1::{Offer, Resource, Task, framework_info};
use std::collections::{BTreeMap, HashMap};

/// `name` and the tasks of `list`, each as its entry remembers it.
pub(super) fn tasks(w: &mut JsonWriter, name: &str, list: &[&TaskEntry]) {
    w.key(name);
    w.begin_array();
    for t in list {
        w.element();
        w.raw(t.legacy_json());
    }
    w.end_array();
}

pub(super) fn offer(w: &mut JsonWriter, o: &Offer) {
    w.begin_object();
    w.field("id", &o.id.value);
    w.field("framework_id", &o.framework_id.value);
    w.field("slave_id", &o.agent_id.value);
    resources_field(w, "resources", &o.resources);
    w.end_object();
}

/// What a framework's tasks and executors use: allocated minus offered,
/// as Mesos' model computes it.
pub(super) fn framework_used(f: &get_frameworks::Framework) -> Vec<Resource> {
    let allocated =
        mesos_proto::resources::Resources::from_resources(f.allocated_resources.clone())
            .unwrap_or_default();
    let offered = mesos_proto::resources::Resources::from_resources(f.offered_resources.clone())
        .unwrap_or_default();
    (&allocated - &offered).into_vec()
}

pub(super) fn framework(
    w: &mut JsonWriter,
    f: &get_frameworks::Framework,
    t: &TaskLists<'_>,
    executors: &[&response::get_executors::Executor],
) {
    let info = &f.framework_info;
    w.begin_object();
    w.field(
        "id",
        &info
            .id
            .as_ref()
            .map(|i| i.value.clone())
            .unwrap_or_default(),
    );
    w.field("name", &info.name);
    w.field("user", &info.user);
    w.field("hostname", &info.hostname.clone().unwrap_or_default());
    w.field("webui_url", &info.webui_url.clone().unwrap_or_default());
    w.field("failover_timeout", &info.failover_timeout.unwrap_or(0.0));
    w.field("checkpoint", &info.checkpoint.unwrap_or(false));
    if let Some(p) = &info.principal {
        w.field("principal", p);
    }
    let multi_role = info
        .capabilities
        .iter()
        .any(|c| c.r#type == Some(framework_info::capability::Type::MultiRole as i32));
    if multi_role {
        w.key("roles");
        w.list(&info.roles);
    } else {
        w.field("role", &info.role.clone().unwrap_or_else(|| "*".into()));
    }
    let caps: Vec<String> = info
        .capabilities
        .iter()
        .filter_map(|c| c.r#type)
        .map(enum_name::<framework_info::capability::Type>)
        .collect();
    w.key("capabilities");
    w.list(&caps);
    w.field("active", &f.active);
    w.field("connected", &f.connected);
    w.field("recovered", &f.recovered);
    w.field(
        "registered_time",
        &f.registered_time.as_ref().map_or(0.0, secs),
    );
    if let Some(t) = &f.reregistered_time {
        w.field("reregistered_time", &secs(t));
    }
    w.field(
        "unregistered_time",
        &f.unregistered_time.as_ref().map_or(0.0, secs),
    );
    resources_field(w, "used_resources", &framework_used(f));
    resources_field(w, "offered_resources", &f.offered_resources);
    resources_field(w, "resources", &f.allocated_resources);
    resources_field(w, "allocated_resources", &f.allocated_resources);
    tasks(w, "tasks", &t.live);
    tasks(w, "unreachable_tasks", &t.unreachable);
    tasks(w, "completed_tasks", &t.completed);
    w.key("offers");
    w.begin_array();
    for o in &f.offers {
        w.element();
        offer(w, o);
    }
    w.end_array();
    w.key("executors");
    w.begin_array();
    for e in executors {
        w.element();
        w.begin_object();
        w.field("executor_id", &e.executor_info.executor_id.value);
        w.field("name", &e.executor_info.name.clone().unwrap_or_default());
        w.field(
            "framework_id",
            &e.executor_info
                .framework_id
                .as_ref()
                .map(|i| i.value.clone())
                .unwrap_or_default(),
        );
        w.field("slave_id", &e.agent_id.value);
        if let Some(c) = &e.executor_info.command {
            w.field("command", c);
        }
        resources_field(w, "resources", &e.executor_info.resources);
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

/// `frameworks` and `completed_frameworks` of `/state` and `/frameworks`,
/// from a snapshot's views and each framework's tasks (`tasks`, in the
/// views' order: frameworks, then completed ones), borrowed.
pub(super) fn frameworks(
    w: &mut JsonWriter,
    fs: &response::GetFrameworks,
    executors: &response::GetExecutors,
    tasks: &[TaskLists<'_>],
) {
    let mut by_framework: HashMap<&str, Vec<&response::get_executors::Executor>> = HashMap::new();
    for e in &executors.executors {
        let id = e.executor_info.framework_id.as_ref();
        by_framework
            .entry(id.map_or("", |i| i.value.as_str()))
            .or_default()
            .push(e);
    }
    let none = TaskLists::default();
    let mut lists = tasks.iter();
    for (name, list) in [
        ("frameworks", &fs.frameworks),
        ("completed_frameworks", &fs.completed_frameworks),
    ] {
        w.key(name);
        w.begin_array();
        for f in list {
            let id = f
                .framework_info
                .id
                .as_ref()
                .map_or("", |i| i.value.as_str());
            let execs = by_framework.get(id).map_or(&[][..], |e| e.as_slice());
            w.element();
            framework(w, f, lists.next().unwrap_or(&none), execs);
        }
        w.end_array();
    }
    w.key("unregistered_frameworks");
    w.begin_array();
    w.end_array();
}

/// One agent of `/state` and `/slaves`, written from the snapshot
/// without copying it. Its total is in normal form (the master keeps it
/// so from registration), so the unreserved part is a filter of it.
pub(super) fn slave(w: &mut JsonWriter, a: &AgentRow<'_>) {
    let info = a.info;
    w.begin_object();
    w.key("id");
    w.string(info.id.as_ref().map_or("", |i| i.value.as_str()));
    w.field("pid", &agent_pid(info));
    w.field("hostname", &info.hostname);
    w.field("port", &info.port.unwrap_or(5051));
    w.field("registered_time", &a.registered_time);
    if let Some(t) = a.reregistered_time {
        w.field("reregistered_time", &t);
    }
    let total = &info.resources;
    resources_field(w, "resources", total);
    resources_field(w, "used_resources", a.used.as_slice());
    resources_field(w, "offered_resources", a.offered.as_slice());
    let reserved = total.iter().any(|r| !r.reservations.is_empty());
    let unreserved: std::borrow::Cow<'_, [Resource]> = if reserved {
        total
            .iter()
            .filter(|r| r.reservations.is_empty())
            .cloned()
            .collect()
    } else {
        total.as_slice().into()
    };
    w.key("reserved_resources");
    w.begin_object();
    if reserved {
        let total =
            mesos_proto::resources::Resources::from_resources(total.clone()).unwrap_or_default();
        for (role, part) in reserved_by_role(&total) {
            resources_field(w, &role, part.as_slice());
        }
    }
    w.end_object();
    resources_field(w, "unreserved_resources", &unreserved);
    w.key("attributes");
    attributes(w, &info.attributes);
    w.field("active", &a.active);
    w.field("deactivated", &false);
    w.key("version");
    w.string(MESOS_VERSION);
    // The master keeps no agent capabilities yet.
    w.key("capabilities");
    w.begin_array();
    w.end_array();
    w.key("unreserved_resources_full");
    w.list(&unreserved);
    w.key("used_resources_full");
    w.list(a.used.as_slice());
    w.key("offered_resources_full");
    w.list(a.offered.as_slice());
    w.end_object();
}

pub(super) fn reserved_by_role(
    total: &mesos_proto::resources::Resources,
) -> BTreeMap<String, mesos_proto::resources::Resources> {
    let mut out: BTreeMap<String, mesos_proto::resources::Resources> = BTreeMap::new();
    for r in total.iter() {
        if let Some(role) = r.reservations.last().and_then(|x| x.role.clone()) {
            if let Ok(one) = mesos_proto::resources::Resources::from_resources([r.clone()]) {
                *out.entry(role).or_default() += &one;
            }
        }
    }
    out
}

pub(super) fn slaves<'a>(w: &mut JsonWriter, agents: impl Iterator<Item = AgentRow<'a>>) {
    w.key("slaves");
    w.begin_array();
    for a in agents {
        w.element();
        slave(w, &a);
    }
    w.end_array();
}

pub(super) fn flags_object(w: &mut JsonWriter, flags: &MasterResponse) {
    w.begin_object();
    for f in flags.get_flags.iter().flat_map(|f| &f.flags) {
        w.field(&f.name, &f.value.clone().unwrap_or_default());
    }
    w.end_object();
}

/// For the tasks `keep` selects: a member per task state with its count
/// (`"TASK_RUNNING": 3`), then `name` listing the distinct `other` ids.
pub(super) fn counts_and_ids(
    w: &mut JsonWriter,
    tasks: &[&Task],
    other: &dyn Fn(&Task) -> String,
    name: &str,
) {
    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
    let mut ids: Vec<String> = Vec::new();
    for t in tasks {
        *counts
            .entry(enum_name::<mesos_proto::v1::TaskState>(t.state))
            .or_insert(0.0) += 1.0;
        ids.push(other(t));
    }
    for (state, n) in counts {
        w.field(&state, &n);
    }
    ids.sort();
    ids.dedup();
    w.key(name);
    w.list(&ids);
}
