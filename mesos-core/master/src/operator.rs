//! The master's side of the operator API (`POST /api/v1`): state views
//! and the calls that change weights, quota, frameworks and agents.

use crate::actor::{CallError, Framework, MasterActor};
use crate::agents::is_terminal;
use crate::allocator::Quota;
use crate::config::MESOS_VERSION;
use crate::scheduler::unix_now;
use mesos_proto::resources::{Resources, Scalar, validate_role};
use mesos_proto::v1::master::{Call, Response, call, response};
use mesos_proto::v1::quota::{QuotaConfig, QuotaStatus};
use mesos_proto::v1::{
    AgentId, Flag, FrameworkId, Metric, Offer, Role, Task, TaskState, TimeInfo, WeightInfo,
};
use std::collections::BTreeMap;

/// What an operator call answers: a response body (none for calls that
/// answer a bare 200) and, for calls that change the registry, when the
/// change is durable.
#[derive(Debug, Default)]
pub(crate) struct OperatorAnswer {
    pub(crate) response: Option<Response>,
    pub(crate) committed: Option<crate::registry::Committed>,
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
        committed: None,
    }
}

fn missing(field: &str) -> CallError {
    CallError::BadRequest(format!("Expecting '{field}' to be present"))
}

/// The non-terminal tasks among `tasks`, each with the resources it uses.
fn live_tasks<'a>(
    tasks: impl Iterator<Item = &'a Task> + 'a,
) -> impl Iterator<Item = (&'a Task, Resources)> + 'a {
    tasks
        .filter(|t| !is_terminal(t.state))
        .filter_map(|t| Some((t, Resources::from_resources(t.resources.clone()).ok()?)))
}

impl MasterActor {
    /// What live tasks and the executors the master knows of use, by
    /// agent.
    fn used_resources(&self) -> impl Iterator<Item = (&AgentId, Resources)> + '_ {
        let tasks = live_tasks(self.frameworks.values().flat_map(|f| f.tasks.values()))
            .map(|(t, r)| (&t.agent_id, r));
        let executors = self.agents.iter().flat_map(|(id, a)| {
            a.executors.values().filter_map(move |e| {
                Some((id, Resources::from_resources(e.resources.clone()).ok()?))
            })
        });
        tasks.chain(executors)
    }

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
            Some(Type::GetFrameworks) => answer(response::Type::GetFrameworks, |r| {
                r.get_frameworks = Some(self.get_frameworks());
            }),
            Some(Type::GetAgents) => answer(response::Type::GetAgents, |r| {
                r.get_agents = Some(self.get_agents());
            }),
            Some(Type::GetTasks) => answer(response::Type::GetTasks, |r| {
                r.get_tasks = Some(self.get_tasks());
            }),
            Some(Type::GetExecutors) => answer(response::Type::GetExecutors, |r| {
                r.get_executors = Some(self.get_executors());
            }),
            Some(Type::GetState) => answer(response::Type::GetState, |r| {
                r.get_state = Some(self.get_state());
            }),
            Some(Type::GetRoles) => answer(response::Type::GetRoles, |r| {
                r.get_roles = Some(response::GetRoles {
                    roles: self.roles(),
                });
            }),
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
            Some(Type::GetMetrics) => answer(response::Type::GetMetrics, |r| {
                r.get_metrics = Some(response::GetMetrics {
                    metrics: self
                        .metrics_snapshot()
                        .into_iter()
                        .map(|(name, value)| Metric {
                            name,
                            value: Some(value),
                        })
                        .collect(),
                });
            }),
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
                self.mark_gone(&gone.agent_id)?;
                OperatorAnswer::default()
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

    pub(crate) fn framework_view(
        &self,
        framework: &Framework,
        offers: &BTreeMap<FrameworkId, Vec<Offer>>,
    ) -> response::get_frameworks::Framework {
        let id = framework.info.id.clone().unwrap_or_default();
        let mut allocated = Resources::new();
        for (_, r) in live_tasks(framework.tasks.values()) {
            allocated += &r;
        }
        let offers = offers.get(&id).cloned().unwrap_or_default();
        let mut offered = Resources::new();
        for offer in &offers {
            if let Ok(r) = Resources::from_resources(offer.resources.clone()) {
                offered += &r;
            }
        }
        response::get_frameworks::Framework {
            framework_info: framework.info.clone(),
            active: framework.connected(),
            connected: framework.connected(),
            recovered: framework.registered_time.is_none(),
            registered_time: framework.registered_time.map(time_info),
            reregistered_time: framework.reregistered_time.map(time_info),
            unregistered_time: framework.unregistered_time.map(time_info),
            offers,
            allocated_resources: (&allocated + &offered).into_vec(),
            offered_resources: offered.into_vec(),
            ..Default::default()
        }
    }

    /// Outstanding offers as frameworks saw them, by framework.
    fn offers_by_framework(&self) -> BTreeMap<FrameworkId, Vec<Offer>> {
        let mut out: BTreeMap<FrameworkId, Vec<Offer>> = BTreeMap::new();
        for (id, offer) in &self.offers {
            let hostname = self
                .agents
                .get(&offer.agent_id)
                .map(|a| a.info.hostname.clone())
                .unwrap_or_default();
            out.entry(offer.framework_id.clone())
                .or_default()
                .push(Offer {
                    id: id.clone(),
                    framework_id: offer.framework_id.clone(),
                    agent_id: offer.agent_id.clone(),
                    hostname,
                    resources: offer.resources.clone().into_vec(),
                    ..Default::default()
                });
        }
        out
    }

    pub(crate) fn get_frameworks(&self) -> response::GetFrameworks {
        let offers = self.offers_by_framework();
        response::GetFrameworks {
            frameworks: self
                .frameworks
                .values()
                .map(|f| self.framework_view(f, &offers))
                .collect(),
            completed_frameworks: self
                .completed_frameworks
                .iter()
                .map(|f| self.framework_view(f, &offers))
                .collect(),
            ..Default::default()
        }
    }

    /// One agent as GET_AGENTS shows it (none if unknown or unreachable).
    pub(crate) fn agent_view(&self, id: &AgentId) -> Option<response::get_agents::Agent> {
        let a = self.agents.get(id).filter(|a| !a.unreachable)?;
        let mut offered = Resources::new();
        for offer in self.offers.values().filter(|o| o.agent_id == *id) {
            offered += &offer.resources;
        }
        let mut used = Resources::new();
        for (_, r) in self.used_resources().filter(|(agent, _)| *agent == id) {
            used += &r;
        }
        Some(self.agent_view_with(id, a, &used, &offered))
    }

    fn agent_view_with(
        &self,
        _id: &AgentId,
        a: &crate::actor::Agent,
        used: &Resources,
        offered: &Resources,
    ) -> response::get_agents::Agent {
        response::get_agents::Agent {
            agent_info: a.info.clone(),
            active: a.connected(),
            deactivated: Some(false),
            version: MESOS_VERSION.to_string(),
            pid: Some(format!(
                "slave(1)@{}:{}",
                a.info.hostname,
                a.info.port.unwrap_or(5051)
            )),
            registered_time: Some(time_info(a.registered_time)),
            reregistered_time: a.reregistered_time.map(time_info),
            total_resources: a.total.clone().into_vec(),
            allocated_resources: (used + offered).into_vec(),
            offered_resources: offered.clone().into_vec(),
            ..Default::default()
        }
    }

    pub(crate) fn get_agents(&self) -> response::GetAgents {
        let mut offered: BTreeMap<&AgentId, Resources> = BTreeMap::new();
        for offer in self.offers.values() {
            *offered.entry(&offer.agent_id).or_default() += &offer.resources;
        }
        let mut used: BTreeMap<&AgentId, Resources> = BTreeMap::new();
        for (agent, r) in self.used_resources() {
            *used.entry(agent).or_default() += &r;
        }
        let none = Resources::new();
        response::GetAgents {
            agents: self
                .agents
                .iter()
                .filter(|(_, a)| !a.unreachable)
                .map(|(id, a)| {
                    self.agent_view_with(
                        id,
                        a,
                        used.get(id).unwrap_or(&none),
                        offered.get(id).unwrap_or(&none),
                    )
                })
                .collect(),
            recovered_agents: self.recovered_agents.values().cloned().collect(),
        }
    }

    pub(crate) fn get_tasks(&self) -> response::GetTasks {
        let mut out = response::GetTasks::default();
        let all = self
            .frameworks
            .values()
            .chain(self.completed_frameworks.iter());
        for framework in all {
            for task in framework.tasks.values() {
                if task.state == TaskState::TaskUnreachable as i32 {
                    out.unreachable_tasks.push(task.clone());
                } else if is_terminal(task.state) {
                    out.completed_tasks.push(task.clone());
                } else {
                    out.tasks.push(task.clone());
                }
            }
            out.completed_tasks
                .extend(framework.completed_tasks.iter().cloned());
        }
        out
    }

    pub(crate) fn get_executors(&self) -> response::GetExecutors {
        response::GetExecutors {
            executors: self
                .agents
                .iter()
                .flat_map(|(id, a)| {
                    a.executors
                        .values()
                        .map(|e| response::get_executors::Executor {
                            executor_info: e.clone(),
                            agent_id: id.clone(),
                        })
                })
                .collect(),
            orphan_executors: Vec::new(),
        }
    }

    pub(crate) fn get_state(&self) -> response::GetState {
        response::GetState {
            get_tasks: Some(self.get_tasks()),
            get_executors: Some(self.get_executors()),
            get_frameworks: Some(self.get_frameworks()),
            get_agents: Some(self.get_agents()),
        }
    }

    /// Every role with a framework, a weight, quota or an allocation.
    pub(crate) fn roles(&self) -> Vec<Role> {
        let mut roles: BTreeMap<String, Role> = BTreeMap::new();
        let role = |roles: &mut BTreeMap<String, Role>, name: &str| {
            roles
                .entry(name.to_string())
                .or_insert_with(|| Role {
                    name: name.to_string(),
                    weight: 1.0,
                    ..Default::default()
                })
                .clone()
        };
        for (id, framework) in &self.frameworks {
            for name in framework.roles() {
                role(&mut roles, &name);
                if let Some(r) = roles.get_mut(&name) {
                    r.frameworks.push(id.clone());
                }
            }
        }
        for name in self.weights.keys().chain(self.quotas.keys()) {
            role(&mut roles, name);
        }
        let mut allocated: BTreeMap<String, Resources> = BTreeMap::new();
        for (_, r) in self.used_resources() {
            for (name, part) in r.allocations() {
                *allocated.entry(name).or_default() += &part;
            }
        }
        for offer in self.offers.values() {
            for (name, part) in offer.resources.allocations() {
                *allocated.entry(name).or_default() += &part;
            }
        }
        for (name, resources) in allocated {
            role(&mut roles, &name);
            if let Some(r) = roles.get_mut(&name) {
                r.resources = resources.into_vec();
            }
        }
        for (name, weight) in &self.weights {
            if let Some(r) = roles.get_mut(name) {
                r.weight = *weight;
            }
        }
        roles.into_values().collect()
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
            response: None,
            committed: Some(self.registry.put_weights(&updates)),
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
            response: None,
            committed: Some(self.registry.put_quotas(&configs)),
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

    /// Mesos' metric names and values (`/metrics/snapshot`, GET_METRICS).
    pub(crate) fn metrics_snapshot(&self) -> BTreeMap<String, f64> {
        let mut m: BTreeMap<String, f64> = BTreeMap::new();
        let mut set = |name: &str, v: f64| {
            m.insert(name.to_string(), v);
        };
        set("master/elected", 1.0);
        set("master/uptime_secs", unix_now() - self.start_time);
        let connected = self.frameworks.values().filter(|f| f.connected()).count();
        set("master/frameworks_active", connected as f64);
        set("master/frameworks_connected", connected as f64);
        set(
            "master/frameworks_disconnected",
            (self.frameworks.len() - connected) as f64,
        );
        set(
            "master/frameworks_inactive",
            (self.frameworks.len() - connected) as f64,
        );
        let reachable: Vec<_> = self.agents.values().filter(|a| !a.unreachable).collect();
        let active = reachable.iter().filter(|a| a.connected()).count();
        set("master/slaves_active", active as f64);
        set("master/slaves_connected", active as f64);
        set(
            "master/slaves_disconnected",
            (reachable.len() - active) as f64,
        );
        set("master/slaves_inactive", 0.0);
        set(
            "master/slaves_unreachable",
            (self.agents.len() - reachable.len()) as f64,
        );
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
        // Gauges of live tasks by state, counters of terminal ones.
        let mut live: BTreeMap<i32, usize> = BTreeMap::new();
        for task in self.frameworks.values().flat_map(|f| f.tasks.values()) {
            if !is_terminal(task.state) {
                *live.entry(task.state).or_default() += 1;
            }
        }
        for state in [
            TaskState::TaskStaging,
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskKilling,
            TaskState::TaskUnreachable,
        ] {
            let n = live.get(&(state as i32)).copied().unwrap_or(0);
            set(&format!("master/{}", metric_state(state)), n as f64);
        }
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
        // Resources: total of reachable agents, used by tasks and offers.
        let mut total = Resources::new();
        for a in &reachable {
            total += &a.total;
        }
        let mut used = Resources::new();
        for (_, r) in self.used_resources() {
            used += &r;
        }
        let mut offered = Resources::new();
        for offer in self.offers.values() {
            offered += &offer.resources;
        }
        for name in ["cpus", "mem", "disk", "gpus"] {
            let t = total.scalar(name).map_or(0.0, |s| s.to_f64());
            let u = used.scalar(name).map_or(0.0, |s| s.to_f64());
            let o = offered.scalar(name).map_or(0.0, |s| s.to_f64());
            set(&format!("master/{name}_total"), t);
            set(&format!("master/{name}_used"), u);
            set(
                &format!("master/{name}_percent"),
                if t > 0.0 { u / t } else { 0.0 },
            );
            set(&format!("allocator/mesos/resources/{name}/total"), t);
            set(
                &format!("allocator/mesos/resources/{name}/offered_or_allocated"),
                u + o,
            );
        }
        for role in self.roles() {
            set(
                &format!("allocator/mesos/roles/{}/shares/dominant", role.name),
                self.allocator.role_share(&role.name),
            );
        }
        m
    }
}

/// `TASK_RUNNING` -> `tasks_running`.
fn metric_state(state: TaskState) -> String {
    format!(
        "tasks_{}",
        state
            .as_str_name()
            .trim_start_matches("TASK_")
            .to_ascii_lowercase()
    )
}
