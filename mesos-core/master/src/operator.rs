//! The master's side of the operator API (`POST /api/v1`): state views
//! and the calls that change weights, quota, frameworks and agents.

use crate::actor::{CallError, MasterActor};
use crate::allocator::Quota;
use crate::config::MESOS_VERSION;
use crate::scheduler::unix_now;
use crate::snapshot::{StateSnapshot, metric_state};
use mesos_proto::resources::{Scalar, validate_role};
use mesos_proto::v1::master::{Call, Response, call, response};
use mesos_proto::v1::quota::{QuotaConfig, QuotaStatus};
use mesos_proto::v1::{Flag, TaskState, TimeInfo, WeightInfo};
use std::collections::BTreeMap;

/// What an operator call answers: a response body (none for calls that
/// answer a bare 200) or a snapshot to build a state view from, and, for
/// calls that change the registry, when the change is durable.
#[derive(Debug, Default)]
pub(crate) struct OperatorAnswer {
    pub(crate) response: Option<Response>,
    pub(crate) committed: Option<crate::registry::Committed>,
    /// A state view to build, off the event loop, from this snapshot.
    pub(crate) snapshot: Option<(call::Type, Box<StateSnapshot>)>,
}

impl OperatorAnswer {
    /// The response body. A state view is built here, on the caller's
    /// side, on a reader thread ([`crate::readers`]): at 100,000 tasks it
    /// takes long enough to hold up the other tasks of a runtime worker.
    pub(crate) async fn into_response(self) -> Option<Response> {
        match self.snapshot {
            Some((ty, snapshot)) => crate::readers::run(move || snapshot.response(ty))
                .await
                .ok(),
            None => self.response,
        }
    }
}

pub(crate) fn time_info(unix_seconds: f64) -> TimeInfo {
    TimeInfo {
        nanoseconds: (unix_seconds * 1e9) as i64,
    }
}

fn answer(ty: response::Type, fill: impl FnOnce(&mut Response)) -> OperatorAnswer {
    let mut out = Response {
        r#type: Some(ty as i32),
        ..Default::default()
    };
    fill(&mut out);
    OperatorAnswer {
        response: Some(out),
        ..Default::default()
    }
}

fn missing(field: &str) -> CallError {
    CallError::BadRequest(format!("Expecting '{field}' to be present"))
}

impl MasterActor {
    /// Any operator call that needs the master's state.
    pub(crate) fn operator_call(&mut self, call: Call) -> Result<OperatorAnswer, CallError> {
        use call::Type;
        let ty = call.r#type.and_then(|t| Type::try_from(t).ok());
        Ok(match ty {
            Some(Type::GetMaster) => answer(response::Type::GetMaster, |r| {
                r.get_master = Some(response::GetMaster {
                    master_info: Some(self.info.clone()),
                    start_time: Some(self.start_time),
                    elected_time: Some(self.start_time),
                });
            }),
            Some(
                ty @ (Type::GetFrameworks
                | Type::GetAgents
                | Type::GetTasks
                | Type::GetExecutors
                | Type::GetState),
            ) => OperatorAnswer {
                snapshot: Some((ty, Box::new(self.snapshot()))),
                ..Default::default()
            },
            Some(Type::GetRoles) => OperatorAnswer {
                snapshot: Some((Type::GetRoles, Box::new(self.snapshot()))),
                ..Default::default()
            },
            Some(Type::GetWeights) => answer(response::Type::GetWeights, |r| {
                r.get_weights = Some(response::GetWeights {
                    weight_infos: self
                        .weights
                        .iter()
                        .map(|(role, weight)| WeightInfo {
                            weight: *weight,
                            role: Some(role.clone()),
                        })
                        .collect(),
                });
            }),
            Some(Type::GetQuota) => answer(response::Type::GetQuota, |r| {
                r.get_quota = Some(response::GetQuota {
                    status: QuotaStatus {
                        infos: Vec::new(),
                        configs: self.quotas.values().cloned().collect(),
                    },
                });
            }),
            Some(Type::GetFlags) => answer(response::Type::GetFlags, |r| {
                r.get_flags = Some(response::GetFlags {
                    flags: self.flags(),
                });
            }),
            Some(Type::GetMetrics) => OperatorAnswer {
                snapshot: Some((
                    Type::GetMetrics,
                    Box::new(self.snapshot().with_metrics(self.metrics_snapshot())),
                )),
                ..Default::default()
            },
            Some(Type::UpdateWeights) => {
                let update = call
                    .update_weights
                    .ok_or_else(|| missing("update_weights"))?;
                self.update_weights(update.weight_infos)?
            }
            Some(Type::UpdateQuota) => {
                let update = call.update_quota.ok_or_else(|| missing("update_quota"))?;
                self.update_quota(update.quota_configs)?
            }
            Some(Type::Teardown) => {
                let teardown = call.teardown.ok_or_else(|| missing("teardown"))?;
                let id = teardown.framework_id;
                if !self.frameworks.contains_key(&id) {
                    return Err(CallError::BadRequest(format!(
                        "No framework found with specified ID '{id}'"
                    )));
                }
                self.teardown(&id);
                OperatorAnswer::default()
            }
            Some(Type::MarkAgentGone) => {
                let gone = call
                    .mark_agent_gone
                    .ok_or_else(|| missing("mark_agent_gone"))?;
                OperatorAnswer {
                    committed: self.mark_gone(&gone.agent_id)?,
                    ..Default::default()
                }
            }
            Some(other) => {
                return Err(CallError::NotImplemented(format!(
                    "{} is not supported yet by this master",
                    other.as_str_name()
                )));
            }
            None => return Err(missing("type")),
        })
    }

    /// The master's settings, under Mesos' flag names.
    pub(crate) fn flags(&self) -> Vec<Flag> {
        let c = &self.config;
        let secs = |d: std::time::Duration| format!("{}secs", d.as_secs_f64());
        let registry = match &c.registry {
            crate::config::RegistryConfig::InMemory => "in_memory",
            crate::config::RegistryConfig::Local { .. } => "local",
            crate::config::RegistryConfig::Store(_) => "custom",
            crate::config::RegistryConfig::Replicated => "replicated",
        };
        let mut flags = vec![
            ("ip", c.ip.to_string()),
            ("port", self.info.port.to_string()),
            ("hostname", self.info.hostname.clone().unwrap_or_default()),
            ("allocation_interval", secs(c.allocation_interval)),
            ("agent_ping_timeout", secs(c.agent_ping_timeout)),
            (
                "max_agent_ping_timeouts",
                c.max_agent_ping_timeouts.to_string(),
            ),
            ("agent_reregister_timeout", secs(c.agent_reregister_timeout)),
            ("registry", registry.to_string()),
            ("zk_session_timeout", secs(c.zk_session_timeout)),
            (
                "max_completed_frameworks",
                c.max_completed_frameworks.to_string(),
            ),
            (
                "max_completed_tasks_per_framework",
                c.max_completed_tasks_per_framework.to_string(),
            ),
            ("version", MESOS_VERSION.to_string()),
        ];
        if let crate::config::RegistryConfig::Local { work_dir } = &c.registry {
            flags.push(("work_dir", work_dir.display().to_string()));
        }
        if let Some(zk) = &c.zk {
            flags.push(("zk", zk.to_string()));
        }
        if let Some(t) = c.offer_timeout {
            flags.push(("offer_timeout", secs(t)));
        }
        if !c.weights.is_empty() {
            let text: Vec<String> = c.weights.iter().map(|(r, w)| format!("{r}={w}")).collect();
            flags.push(("weights", text.join(",")));
        }
        flags.sort();
        flags
            .into_iter()
            .map(|(name, value)| Flag {
                name: name.to_string(),
                value: Some(value),
            })
            .collect()
    }

    /// UPDATE_WEIGHTS: every role valid, every weight positive, then all
    /// applied; answered once the registry has them.
    fn update_weights(&mut self, infos: Vec<WeightInfo>) -> Result<OperatorAnswer, CallError> {
        let mut updates = Vec::new();
        for info in infos {
            let role = info
                .role
                .ok_or_else(|| CallError::BadRequest("A weight is missing its 'role'".into()))?;
            validate_role(&role)
                .map_err(|e| CallError::BadRequest(format!("Invalid role '{role}': {e}")))?;
            if !(info.weight.is_finite() && info.weight > 0.0) {
                return Err(CallError::BadRequest(format!(
                    "Invalid weight '{}' for role '{role}': weights must be positive",
                    info.weight
                )));
            }
            updates.push((role, info.weight));
        }
        self.allocation_pending = true;
        for (role, weight) in &updates {
            self.allocator.set_weight(role, *weight);
            if (*weight - 1.0).abs() < f64::EPSILON {
                self.weights.remove(role);
            } else {
                self.weights.insert(role.clone(), *weight);
            }
        }
        Ok(OperatorAnswer {
            committed: Some(self.registry.put_weights(&updates)),
            ..Default::default()
        })
    }

    /// UPDATE_QUOTA: each config's role valid, guarantees within limits,
    /// quantities non-negative; applied together; answered once durable.
    fn update_quota(&mut self, configs: Vec<QuotaConfig>) -> Result<OperatorAnswer, CallError> {
        for q in &configs {
            validate_role(&q.role)
                .map_err(|e| CallError::BadRequest(format!("Invalid role '{}': {e}", q.role)))?;
            if q.role == "*" {
                return Err(CallError::BadRequest(
                    "Invalid QuotaConfig: cannot set quota on the default role '*'".into(),
                ));
            }
            for (name, s) in q.guarantees.iter().chain(q.limits.iter()) {
                if !(s.value.is_finite() && s.value >= 0.0) {
                    return Err(CallError::BadRequest(format!(
                        "Invalid QuotaConfig for role '{}': '{name}' must be a non-negative number",
                        q.role
                    )));
                }
            }
            for (name, guarantee) in &q.guarantees {
                if let Some(limit) = q.limits.get(name) {
                    if guarantee.value > limit.value {
                        return Err(CallError::BadRequest(format!(
                            "Invalid QuotaConfig for role '{}': guarantee {} of '{name}' is above its limit {}",
                            q.role, guarantee.value, limit.value
                        )));
                    }
                }
            }
        }
        self.allocation_pending = true;
        for q in &configs {
            self.apply_quota(q);
            if q.guarantees.is_empty() && q.limits.is_empty() {
                self.quotas.remove(&q.role);
            } else {
                self.quotas.insert(q.role.clone(), q.clone());
            }
        }
        Ok(OperatorAnswer {
            committed: Some(self.registry.put_quotas(&configs)),
            ..Default::default()
        })
    }

    /// Hands a quota config to the allocator.
    pub(crate) fn apply_quota(&mut self, q: &QuotaConfig) {
        let quantities = |m: &BTreeMap<String, mesos_proto::v1::value::Scalar>| {
            m.iter()
                .map(|(k, v)| (k.clone(), Scalar::from_f64(v.value)))
                .collect()
        };
        self.allocator.set_quota(
            &q.role,
            Quota {
                guarantees: quantities(&q.guarantees),
                limits: quantities(&q.limits),
            },
        );
    }

    /// Mesos' metric names and values (`/metrics/snapshot`, GET_METRICS)
    /// that the loop keeps or counts cheaply; the rest is added off the
    /// loop by [`StateSnapshot::with_metrics`].
    pub(crate) fn metrics_snapshot(&self) -> BTreeMap<String, f64> {
        let mut m: BTreeMap<String, f64> = BTreeMap::new();
        let mut set = |name: &str, v: f64| {
            m.insert(name.to_string(), v);
        };
        set("master/elected", 1.0);
        set("master/uptime_secs", unix_now() - self.start_time);
        set("master/outstanding_offers", self.offers.len() as f64);
        let c = &self.metrics;
        set("master/slave_registrations", c.agent_registrations as f64);
        set(
            "master/slave_reregistrations",
            c.agent_reregistrations as f64,
        );
        set("master/slave_removals", c.agent_removals as f64);
        set("master/valid_status_updates", c.valid_status_updates as f64);
        set(
            "master/invalid_status_updates",
            c.invalid_status_updates as f64,
        );
        set("master/valid_operation_status_update_acknowledgements", 0.0);
        set(
            "master/invalid_operation_status_update_acknowledgements",
            c.invalid_operation_status_update_acknowledgements as f64,
        );
        set("master/messages_decline_offers", c.declines as f64);
        set("master/messages_launch_tasks", c.accepts as f64);
        let (valid, invalid) = (
            c.valid_framework_to_executor_messages,
            c.invalid_framework_to_executor_messages,
        );
        set("master/valid_framework_to_executor_messages", valid as f64);
        set(
            "master/invalid_framework_to_executor_messages",
            invalid as f64,
        );
        set(
            "master/messages_framework_to_executor",
            (valid + invalid) as f64,
        );
        let (valid, invalid) = (
            c.valid_executor_to_framework_messages,
            c.invalid_executor_to_framework_messages,
        );
        set("master/valid_executor_to_framework_messages", valid as f64);
        set(
            "master/invalid_executor_to_framework_messages",
            invalid as f64,
        );
        set(
            "master/messages_executor_to_framework",
            (valid + invalid) as f64,
        );
        set("master/messages_exited_executor", c.exited_executors as f64);
        set(
            "master/messages_shutdown_executor",
            c.shutdown_executors as f64,
        );
        set("allocator/mesos/allocation_runs", c.allocation_runs as f64);
        set("allocator/mesos/allocation_run_ms", c.last_allocation_ms);
        // Ours: how long the event loop is held up at a time.
        let t = &c.turns;
        set("master/event_loop/turns", t.turns as f64);
        set("master/event_loop/turns_over_10ms", t.over_10ms as f64);
        set("master/event_loop/turns_over_100ms", t.over_100ms as f64);
        set(
            "master/event_loop/turns_over_10ms_on_cpu",
            t.over_10ms_on_cpu as f64,
        );
        set("master/event_loop/longest_turn_ms", t.longest_ms);
        set("master/event_loop/longest_turn_cpu_ms", t.longest_cpu_ms);
        set(
            "master/event_loop/reclaim_pending",
            self.reclaim.pending() as f64,
        );
        set(
            "master/event_loop/teardown_pending",
            self.teardowns_pending() as f64,
        );
        // Withdrawn offers whose resources are not back yet.
        set(
            "master/event_loop/recover_pending",
            self.recovering.len() as f64,
        );
        for state in [
            TaskState::TaskFinished,
            TaskState::TaskFailed,
            TaskState::TaskKilled,
            TaskState::TaskLost,
            TaskState::TaskError,
            TaskState::TaskDropped,
            TaskState::TaskGone,
            TaskState::TaskGoneByOperator,
        ] {
            let n = c.terminal.get(&(state as i32)).copied().unwrap_or(0);
            set(&format!("master/{}", metric_state(state)), n as f64);
        }
        set("master/tasks_unknown", 0.0);
        // Task gauges, resources and role shares: off the loop, from a
        // snapshot (`StateSnapshot::metrics`).
        m
    }
}
