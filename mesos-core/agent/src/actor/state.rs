//! The agent's legacy `/state` document, in Mesos' shape.

use super::executors::{ExecutorRun, LiveTask};
use super::{Actor, Framework};
use crate::config::AgentConfig;
use mesos_proto::duration::format_duration;
use mesos_proto::json::JsonWriter;
use mesos_proto::json::legacy::{attributes, resources, task};
use mesos_proto::v1::{AgentInfo, Task, TaskState};

pub(super) fn live_task(run: &ExecutorRun, agent: &AgentInfo, t: &LiveTask) -> Task {
    Task {
        name: t.info.name.clone(),
        task_id: t.info.task_id.clone(),
        framework_id: run.framework_id.clone(),
        executor_id: (!run.generated).then(|| run.info.executor_id.clone()),
        agent_id: agent.id.clone().unwrap_or_default(),
        state: t.state,
        resources: t.info.resources.clone(),
        statuses: t.latest.clone().into_iter().collect(),
        labels: t.info.labels.clone(),
        ..Default::default()
    }
}

/// One executor run as `/state` shows it (also kept, frozen, once the run
/// completes).
pub(crate) fn executor_json(run: &ExecutorRun) -> Vec<u8> {
    executor_json_for(run, &AgentInfo::default())
}

fn executor_json_for(run: &ExecutorRun, agent: &AgentInfo) -> Vec<u8> {
    let mut w = JsonWriter::new();
    w.begin_object();
    w.field("id", &run.info.executor_id.value);
    w.field("name", &run.info.name.clone().unwrap_or_default());
    w.field("source", &run.info.source.clone().unwrap_or_default());
    w.field("framework_id", &run.framework_id.value);
    w.field("container", &run.container_id.value);
    w.field("directory", &run.directory.to_string_lossy().into_owned());
    w.key("resources");
    resources(&mut w, &run.info.resources);
    let write_tasks = |w: &mut JsonWriter, name: &str, tasks: &mut dyn Iterator<Item = Task>| {
        w.key(name);
        w.begin_array();
        for t in tasks {
            w.element();
            task(w, &t);
        }
        w.end_array();
    };
    let queued = run.tasks_for_master(agent).into_iter().filter(|t| {
        t.state == TaskState::TaskStaging as i32 && !run.tasks.contains_key(&t.task_id)
    });
    write_tasks(
        &mut w,
        "tasks",
        &mut run.tasks.values().map(|t| live_task(run, agent, t)),
    );
    write_tasks(&mut w, "queued_tasks", &mut queued.into_iter());
    write_tasks(
        &mut w,
        "completed_tasks",
        &mut run.completed.iter().map(|t| live_task(run, agent, t)),
    );
    w.end_object();
    w.into_inner()
}

fn framework_json(w: &mut JsonWriter, framework: &Framework, agent: &AgentInfo) {
    let info = &framework.info;
    w.begin_object();
    w.field("id", &info.id.clone().unwrap_or_default().value);
    w.field("name", &info.name);
    w.field("user", &info.user);
    w.field("hostname", &info.hostname.clone().unwrap_or_default());
    w.field("failover_timeout", &info.failover_timeout.unwrap_or(0.0));
    w.field("checkpoint", &info.checkpoint.unwrap_or(false));
    w.field("role", &info.role.clone().unwrap_or_else(|| "*".into()));
    w.key("executors");
    w.begin_array();
    for run in framework.executors.values() {
        w.element();
        w.raw(&executor_json_for(run, agent));
    }
    w.end_array();
    w.key("completed_executors");
    w.begin_array();
    for done in &framework.completed_executors {
        w.element();
        w.raw(done);
    }
    w.end_array();
    w.end_object();
}

fn flags_json(w: &mut JsonWriter, config: &AgentConfig) {
    w.begin_object();
    w.field("master", &config.master);
    w.field("port", &config.port.to_string());
    w.field("work_dir", &config.work_dir.to_string_lossy().into_owned());
    w.field("attributes", &config.attributes);
    w.field("isolation", &config.isolation);
    w.field(
        "executor_registration_timeout",
        &format_duration(config.executor_registration_timeout),
    );
    w.field(
        "executor_shutdown_grace_period",
        &format_duration(config.executor_shutdown_grace_period),
    );
    w.field(
        "recovery_timeout",
        &format_duration(config.recovery_timeout),
    );
    w.field("gc_delay", &format_duration(config.gc_delay));
    if let Some(r) = &config.resources {
        w.field("resources", r);
    }
    w.end_object();
}

impl Actor {
    /// `/state`: who the agent is and everything running on it.
    pub(crate) fn state_json(&self) -> Vec<u8> {
        let mut w = JsonWriter::new();
        w.begin_object();
        w.field("version", &mesos_proto_version());
        w.field("start_time", &self.start_time);
        w.field("id", &self.info.id.clone().unwrap_or_default().value);
        w.field("pid", &format!("slave(1)@{}", self.addr));
        w.field("hostname", &self.info.hostname);
        // The master registered with (the leader, with ZooKeeper), by
        // host; absent while there is none, as in Mesos.
        let master = self
            .master_url
            .strip_prefix("http://")
            .and_then(|rest| rest.split('/').next())
            .filter(|_| self.stream_id.is_some());
        if let Some(master) = master {
            let host = master.rsplit_once(':').map_or(master, |(host, _)| host);
            w.field("master_hostname", &host.to_string());
        }
        w.key("resources");
        resources(&mut w, &self.resources);
        w.key("attributes");
        attributes(&mut w, &self.info.attributes);
        w.key("flags");
        flags_json(&mut w, &self.config);
        w.key("frameworks");
        w.begin_array();
        for framework in self.frameworks.values() {
            w.element();
            framework_json(&mut w, framework, &self.info);
        }
        w.end_array();
        w.key("completed_frameworks");
        w.begin_array();
        w.end_array();
        w.end_object();
        w.into_inner()
    }
}

fn mesos_proto_version() -> String {
    crate::MESOS_VERSION.to_string()
}

impl Actor {
    /// `/monitor/statistics`: each live executor's usage, as Mesos shows
    /// it (`ResourceStatistics` field names).
    pub(crate) fn statistics_json(&self) -> Vec<u8> {
        let mut w = JsonWriter::new();
        w.begin_array();
        for framework in self.frameworks.values() {
            for run in framework.executors.values() {
                let usage = self.containerizer.usage(&run.container_id);
                let resources = super::executors::run_resources(run);
                w.element();
                w.begin_object();
                w.field("executor_id", &run.info.executor_id.value);
                w.field("executor_name", &run.info.name.clone().unwrap_or_default());
                w.field("framework_id", &run.framework_id.value);
                w.field("source", &run.info.source.clone().unwrap_or_default());
                w.key("statistics");
                w.begin_object();
                w.field("timestamp", &super::now_secs());
                if let Some(cpus) = resources.cpus() {
                    w.field("cpus_limit", &cpus);
                }
                if let Some(u) = usage {
                    w.field("cpus_user_time_secs", &u.cpus_user_time_secs);
                    w.field("cpus_system_time_secs", &u.cpus_system_time_secs);
                    w.field("mem_total_bytes", &u.mem_total_bytes);
                    w.field("mem_rss_bytes", &u.mem_rss_bytes);
                    if let Some(limit) = u.mem_limit_bytes {
                        w.field("mem_limit_bytes", &limit);
                    }
                    w.field("processes", &u.processes);
                } else if let Some(mem) = resources.mem() {
                    w.field("mem_limit_bytes", &((mem * 1024.0 * 1024.0) as u64));
                }
                w.end_object();
                w.end_object();
            }
        }
        w.end_array();
        w.into_inner()
    }
}
