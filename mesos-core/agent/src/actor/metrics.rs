//! The agent's metrics under Mesos' names (`/metrics/snapshot`): counters
//! kept as things happen, gauges computed from the state when asked.

use super::executors::{Phase, run_resources};
use super::{Actor, now_secs};
use mesos_proto::json::JsonWriter;
use mesos_proto::resources::Resources;
use mesos_proto::v1::TaskState;
use std::collections::BTreeMap;

/// Counters (Mesos' `slave/*` counters).
#[derive(Debug, Default, Clone)]
pub(crate) struct Counters {
    pub(crate) tasks_finished: u64,
    pub(crate) tasks_failed: u64,
    pub(crate) tasks_killed: u64,
    pub(crate) tasks_lost: u64,
    pub(crate) tasks_gone: u64,
    pub(crate) executors_terminated: u64,
    pub(crate) valid_status_updates: u64,
    pub(crate) invalid_status_updates: u64,
    pub(crate) valid_framework_messages: u64,
    pub(crate) invalid_framework_messages: u64,
    pub(crate) container_launch_errors: u64,
    pub(crate) recovery_errors: u64,
    /// How long the last recovery took.
    pub(crate) recovery_time_secs: Option<f64>,
}

impl Counters {
    /// Counts a terminal state the agent passes on.
    pub(crate) fn task_ended(&mut self, state: i32) {
        match TaskState::try_from(state) {
            Ok(TaskState::TaskFinished) => self.tasks_finished += 1,
            Ok(TaskState::TaskFailed | TaskState::TaskError) => self.tasks_failed += 1,
            Ok(TaskState::TaskKilled) => self.tasks_killed += 1,
            Ok(TaskState::TaskLost | TaskState::TaskDropped | TaskState::TaskUnreachable) => {
                self.tasks_lost += 1
            }
            Ok(TaskState::TaskGone | TaskState::TaskGoneByOperator) => self.tasks_gone += 1,
            _ => {}
        }
    }
}

impl Actor {
    /// Every metric, by Mesos' name.
    pub(crate) fn metrics_snapshot(&self) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        let mut put = |name: &str, value: f64| {
            m.insert(format!("slave/{name}"), value);
        };
        let c = &self.counters;
        put("uptime_secs", now_secs() - self.start_time);
        put(
            "registered",
            if self.stream_id.is_some() { 1.0 } else { 0.0 },
        );
        put("recovery_errors", c.recovery_errors as f64);
        if let Some(t) = c.recovery_time_secs {
            put("recovery_time_secs", t);
        }
        let (mut staging, mut starting, mut running, mut killing) = (0, 0, 0, 0);
        let (mut registering, mut executors_running, mut terminating) = (0, 0, 0);
        let mut used = Resources::default();
        let mut active = 0;
        for framework in self.frameworks.values() {
            if !framework.executors.is_empty() {
                active += 1;
            }
            for run in framework.executors.values() {
                match run.phase {
                    Phase::Fetching | Phase::Launching | Phase::Reconnecting => registering += 1,
                    Phase::Running => executors_running += 1,
                    Phase::Terminating => terminating += 1,
                }
                used += &run_resources(run);
                for task in run.tasks_for_master(&self.info) {
                    match TaskState::try_from(task.state) {
                        Ok(TaskState::TaskStaging) => staging += 1,
                        Ok(TaskState::TaskStarting) => starting += 1,
                        Ok(TaskState::TaskRunning) => running += 1,
                        Ok(TaskState::TaskKilling) => killing += 1,
                        _ => {}
                    }
                }
            }
        }
        put("frameworks_active", f64::from(active));
        put("tasks_staging", f64::from(staging));
        put("tasks_starting", f64::from(starting));
        put("tasks_running", f64::from(running));
        put("tasks_killing", f64::from(killing));
        put("tasks_finished", c.tasks_finished as f64);
        put("tasks_failed", c.tasks_failed as f64);
        put("tasks_killed", c.tasks_killed as f64);
        put("tasks_lost", c.tasks_lost as f64);
        put("tasks_gone", c.tasks_gone as f64);
        put("executors_registering", f64::from(registering));
        put("executors_running", f64::from(executors_running));
        put("executors_terminating", f64::from(terminating));
        put("executors_terminated", c.executors_terminated as f64);
        put("executors_preempted", 0.0);
        put("valid_status_updates", c.valid_status_updates as f64);
        put("invalid_status_updates", c.invalid_status_updates as f64);
        put(
            "valid_framework_messages",
            c.valid_framework_messages as f64,
        );
        put(
            "invalid_framework_messages",
            c.invalid_framework_messages as f64,
        );
        put("container_launch_errors", c.container_launch_errors as f64);
        put(
            "executor_directory_max_allowed_age_secs",
            self.config.gc_delay.as_secs_f64(),
        );
        // Not a Mesos metric: task update streams waiting for the
        // framework's acknowledgement.
        put("status_updates_pending", self.updates.len() as f64);
        let total = Resources::from_resources(self.resources.clone()).unwrap_or_default();
        for name in ["cpus", "mem", "disk", "gpus"] {
            let t = total.scalar(name).map_or(0.0, |s| s.to_f64());
            let u = used.scalar(name).map_or(0.0, |s| s.to_f64());
            put(&format!("{name}_total"), t);
            put(&format!("{name}_used"), u);
            put(
                &format!("{name}_percent"),
                if t > 0.0 { u / t } else { 0.0 },
            );
        }
        m
    }

    /// `/metrics/snapshot`: the metrics as one JSON object.
    pub(crate) fn metrics_json(&self) -> Vec<u8> {
        let mut w = JsonWriter::new();
        w.begin_object();
        for (name, value) in self.metrics_snapshot() {
            w.field(&name, &value);
        }
        w.end_object();
        w.into_inner()
    }
}
