//! The snapshot's role and metric views (GET_ROLES, `/roles`,
//! GET_METRICS and `/metrics/snapshot`), from the same usage sums as the
//! state views.

use super::{StateSnapshot, Usage};
use crate::actor::roles_of;
use crate::agents::is_terminal;
use mesos_proto::resources::Resources;
use mesos_proto::v1::{Role, TaskState};
use std::collections::BTreeMap;

impl StateSnapshot {
    /// Every role with a framework, a weight, quota or an allocation.
    pub(crate) fn roles(&self) -> Vec<Role> {
        self.roles_with(&self.usage())
    }

    fn roles_with(&self, usage: &Usage<'_>) -> Vec<Role> {
        fn role<'a>(roles: &'a mut BTreeMap<String, Role>, name: &str) -> &'a mut Role {
            roles.entry(name.to_string()).or_insert_with(|| Role {
                name: name.to_string(),
                weight: 1.0,
                ..Default::default()
            })
        }
        let mut roles: BTreeMap<String, Role> = BTreeMap::new();
        for framework in &self.frameworks {
            let id = framework.info.id.clone().unwrap_or_default();
            for name in roles_of(&framework.info) {
                role(&mut roles, &name).frameworks.push(id.clone());
            }
        }
        for name in self.weights.keys().chain(&self.quota_roles) {
            role(&mut roles, name);
        }
        let mut allocated: BTreeMap<String, Resources> = BTreeMap::new();
        let offered = self.offers.iter().map(|o| &o.resources);
        for r in usage.by_agent.values().map(|r| &**r).chain(offered) {
            for (name, part) in r.allocations() {
                *allocated.entry(name).or_default() += &part;
            }
        }
        for (name, resources) in allocated {
            role(&mut roles, &name).resources = resources.into_vec();
        }
        for (name, weight) in &self.weights {
            if let Some(r) = roles.get_mut(name) {
                r.weight = *weight;
            }
        }
        roles.into_values().collect()
    }

    /// The metrics the loop counted, with those that need every task:
    /// live tasks by state, resources total, used and offered, and each
    /// role's dominant share.
    pub(crate) fn metrics(&self) -> BTreeMap<String, f64> {
        let mut m = self.metrics.clone();
        let mut set = |name: &str, v: f64| {
            m.insert(name.to_string(), v);
        };
        let frameworks = self.frameworks.len();
        let connected = self.frameworks.iter().filter(|f| f.connected).count();
        set("master/frameworks_active", connected as f64);
        set("master/frameworks_connected", connected as f64);
        set(
            "master/frameworks_disconnected",
            (frameworks - connected) as f64,
        );
        set(
            "master/frameworks_inactive",
            (frameworks - connected) as f64,
        );
        let reachable = self.agents.values().filter(|a| !a.unreachable).count();
        let active = self
            .agents
            .values()
            .filter(|a| !a.unreachable && a.active)
            .count();
        set("master/slaves_active", active as f64);
        set("master/slaves_connected", active as f64);
        set("master/slaves_disconnected", (reachable - active) as f64);
        set("master/slaves_inactive", 0.0);
        set(
            "master/slaves_unreachable",
            (self.agents.len() - reachable) as f64,
        );
        let mut live: BTreeMap<i32, usize> = BTreeMap::new();
        for task in self.frameworks.iter().flat_map(|f| f.tasks.tasks.values()) {
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
        // Resources: total of reachable agents, used by tasks and offers.
        let mut total = Resources::new();
        for a in self.agents.values().filter(|a| !a.unreachable) {
            if let Ok(r) = Resources::from_resources(a.info.resources.clone()) {
                total += &r;
            }
        }
        let usage = self.usage();
        let mut used = Resources::new();
        for r in usage.by_agent.values() {
            used += r;
        }
        let mut offered = Resources::new();
        for offer in &self.offers {
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
        for role in self.roles_with(&usage) {
            let share = self.role_shares.get(&role.name).copied().unwrap_or(0.0);
            set(
                &format!("allocator/mesos/roles/{}/shares/dominant", role.name),
                share,
            );
        }
        m
    }
}

/// `TASK_RUNNING` -> `tasks_running`.
pub(crate) fn metric_state(state: TaskState) -> String {
    format!(
        "tasks_{}",
        state
            .as_str_name()
            .trim_start_matches("TASK_")
            .to_ascii_lowercase()
    )
}
