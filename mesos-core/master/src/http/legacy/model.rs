//! Mesos' legacy JSON model (`common/http.cpp` in Mesos): how resources,
//! attributes, tasks, frameworks and agents look in `/state` and the other
//! pre-v1 endpoints, written straight into a [`JsonWriter`].

use crate::actor::OutstandingOffer;
use crate::config::MESOS_VERSION;
use crate::snapshot::{AgentRow, FrameworkRow, FrameworkRows, FrameworkTasks, agent_pid};
use crate::task_entry::TaskEntry;
use crate::task_table::{Listed, ShardJson};
use mesos_proto::json::JsonWriter;
pub(super) use mesos_proto::json::legacy::{attributes, enum_name, resources_field};
use mesos_proto::v1::master::Response as MasterResponse;
use mesos_proto::v1::master::response;
use mesos_proto::v1::{AgentInfo, OfferId, Resource, Task, framework_info};
use std::collections::{BTreeMap, HashMap};

/// `name` and the tasks of `list`, each as its entry remembers it.
pub(super) fn tasks(w: &mut JsonWriter, name: &str, list: &[&TaskEntry]) {
    w.key(name);
    w.begin_array();
    for t in list {
        w.element();
        t.write_legacy(w);
    }
    w.end_array();
}

/// `name` and a framework's tasks listed as `list`, a run of JSON per
/// shard as the shard remembers it; the history ends the completed ones.
fn framework_tasks(w: &mut JsonWriter, name: &str, tasks: &FrameworkTasks<'_>, list: Listed) {
    w.key(name);
    w.begin_array();
    for shard in tasks.shards {
        let run = ShardJson::of_shard(shard).run(list);
        if !run.is_empty() {
            w.element();
            w.raw(run);
        }
    }
    if list == Listed::Completed {
        for t in tasks.history {
            w.element();
            t.write_legacy(w);
        }
    }
    w.end_array();
}

pub(super) fn offer(w: &mut JsonWriter, id: &OfferId, o: &OutstandingOffer) {
    w.begin_object();
    w.str_field("id", &id.value);
    w.str_field("framework_id", &o.framework_id.value);
    w.str_field("slave_id", &o.agent_id.value);
    resources_field(w, "resources", o.resources.as_slice());
    w.end_object();
}

pub(super) fn framework(
    w: &mut JsonWriter,
    f: &FrameworkRow<'_>,
    t: &FrameworkTasks<'_>,
    executors: &[&response::get_executors::Executor],
) {
    let info = f.info;
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
    w.field("active", &f.connected);
    w.field("connected", &f.connected);
    w.field("recovered", &f.registered_time.is_none());
    w.field("registered_time", &f.registered_time.unwrap_or(0.0));
    if let Some(t) = f.reregistered_time {
        w.field("reregistered_time", &t);
    }
    w.field("unregistered_time", &f.unregistered_time.unwrap_or(0.0));
    resources_field(w, "used_resources", f.used.as_slice());
    resources_field(w, "offered_resources", f.offered.as_slice());
    let allocated = f.allocated();
    resources_field(w, "resources", allocated.as_slice());
    resources_field(w, "allocated_resources", allocated.as_slice());
    framework_tasks(w, "tasks", t, Listed::Live);
    framework_tasks(w, "unreachable_tasks", t, Listed::Unreachable);
    framework_tasks(w, "completed_tasks", t, Listed::Completed);
    w.key("offers");
    w.begin_array();
    for (id, o) in &f.offers {
        w.element();
        offer(w, id, o);
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
    fs: &FrameworkRows<'_>,
    executors: &response::GetExecutors,
    tasks: &[FrameworkTasks<'_>],
) {
    let mut by_framework: HashMap<&str, Vec<&response::get_executors::Executor>> = HashMap::new();
    for e in &executors.executors {
        let id = e.executor_info.framework_id.as_ref();
        by_framework
            .entry(id.map_or("", |i| i.value.as_str()))
            .or_default()
            .push(e);
    }
    let none = FrameworkTasks {
        shards: &[],
        history: &[],
    };
    let mut lists = tasks.iter();
    for (name, list) in [
        ("frameworks", &fs.frameworks),
        ("completed_frameworks", &fs.completed),
    ] {
        w.key(name);
        w.begin_array();
        for f in list {
            let id = f.info.id.as_ref().map_or("", |i| i.value.as_str());
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
/// without copying it: what depends on its info only as its entry
/// remembers it ([`slave_members`]), then what changes as tasks and
/// offers come and go.
pub(super) fn slave(w: &mut JsonWriter, a: &AgentRow<'_>) {
    w.begin_object();
    w.raw(a.info.legacy_members(slave_members));
    w.field("registered_time", &a.registered_time);
    if let Some(t) = a.reregistered_time {
        w.field("reregistered_time", &t);
    }
    resources_field(w, "used_resources", a.used.as_slice());
    resources_field(w, "offered_resources", a.offered.as_slice());
    w.field("active", &a.active);
    w.field("deactivated", &false);
    w.key("used_resources_full");
    w.list(a.used.as_slice());
    w.key("offered_resources_full");
    w.list(a.offered.as_slice());
    w.end_object();
}

/// The members of an agent's legacy JSON that depend on its info only.
/// Its total is in normal form (the master keeps it so from
/// registration), so the unreserved part is a filter of it.
fn slave_members(w: &mut JsonWriter, info: &AgentInfo) {
    w.str_field("id", info.id.as_ref().map_or("", |i| i.value.as_str()));
    w.field("pid", &agent_pid(info));
    w.field("hostname", &info.hostname);
    w.field("port", &info.port.unwrap_or(5051));
    let total = &info.resources;
    resources_field(w, "resources", total);
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
    w.str_field("version", MESOS_VERSION);
    // The master keeps no agent capabilities yet.
    w.key("capabilities");
    w.begin_array();
    w.end_array();
    w.key("unreserved_resources_full");
    w.list(&unreserved);
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
