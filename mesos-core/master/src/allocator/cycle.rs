//! One allocation cycle: which framework gets each agent's resources.
//!
//! Agents found blocked (nothing offerable to anyone) keep a memo and are
//! skipped while nothing that could unblock them changed; when frameworks
//! change, a blocked agent is re-judged against those frameworks only.

use super::sorter::DrfSorter;
use super::{Allocation, Allocator, Blocked, Choice, RoleOffer, TARGETED_LIMIT, filter_key, quota};
use mesos_proto::resources::Resources;
use mesos_proto::v1::FrameworkId;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

impl Allocator {
    /// What framework `idx` may be offered in `role` from what agent `ai`
    /// can give the role, if anything. A filter that says no lowers
    /// `until` to its expiry.
    fn eligible(
        &self,
        ai: usize,
        idx: u32,
        role: &RoleOffer<'_>,
        now: Duration,
        until: &mut Duration,
    ) -> Option<Resources> {
        let offerable_role = role.offerable;
        let agent = &self.agents[ai];
        let framework = self.frameworks[idx as usize].as_ref()?;
        let options = &framework.options;
        let role_idx = role.idx?;
        if !framework.active
            || !framework.offer_roles.contains(&role_idx)
            || (agent.has_gpus && self.config.filter_gpu_resources && !options.gpu_resources)
        {
            return None;
        }
        let narrowed;
        // What the agent offers the role is fixed by its epoch, unless
        // narrowed for this framework: only then is the filter's answer
        // not cached.
        let (offerable, epoch) = if agent.has_revocable && !options.revocable_resources {
            narrowed = offerable_role.non_revocable();
            if !self.allocatable(&narrowed) {
                return None;
            }
            (&narrowed, None)
        } else {
            (offerable_role, Some(agent.epoch))
        };
        if let Some(f) = agent.filters.get(&filter_key(idx, role_idx)) {
            if f.filters(offerable, now, epoch) {
                *until = (*until).min(f.expires);
                return None;
            }
        }
        Some(offerable.clone())
    }

    /// The first framework, in DRF order, that may have `offerable_role`
    /// (what agent `ai` can give to `role`).
    fn choose(
        &self,
        ai: usize,
        role: &str,
        order: &[u32],
        offerable_role: &Resources,
        now: Duration,
        until: &mut Duration,
    ) -> Option<Choice> {
        let role = RoleOffer {
            idx: self.role_index.get(role).copied(),
            offerable: offerable_role,
        };
        order.iter().find_map(|&idx| {
            self.eligible(ai, idx, &role, now, until)
                .map(|offerable| Choice {
                    framework: idx,
                    offerable,
                })
        })
    }

    /// For an agent found blocked at frameworks epoch `since`: true when it
    /// still is, judging only the frameworks changed since then (the others
    /// are blocked for the reasons they were). `None` when the change log no
    /// longer reaches back that far.
    fn still_blocked(
        &self,
        ai: usize,
        since: u64,
        now: Duration,
        until: &mut Duration,
    ) -> Option<bool> {
        if since < self.changes_start {
            return None;
        }
        let agent = &self.agents[ai];
        let available = &agent.total - &agent.used;
        let first = self.changes.partition_point(|(epoch, _)| *epoch <= since);
        // Past a few changed frameworks, one full look (per role, not per
        // framework) is cheaper.
        if self.changes.len() - first > TARGETED_LIMIT {
            return None;
        }
        let mut seen: Vec<u32> = Vec::new();
        for &(_, idx) in self.changes.range(first..) {
            if seen.contains(&idx) {
                continue;
            }
            seen.push(idx);
            let Some(framework) = self.frameworks[idx as usize].as_ref() else {
                continue;
            };
            for role in &framework.options.roles {
                let offerable_role = available.allocatable_to(role);
                if !self.allocatable(&offerable_role) {
                    continue;
                }
                let role = RoleOffer {
                    idx: self.role_index.get(role.as_str()).copied(),
                    offerable: &offerable_role,
                };
                if self.eligible(ai, idx, &role, now, until).is_some() {
                    return Some(false);
                }
            }
        }
        Some(true)
    }

    /// Records an offer of `offerable` on agent `ai` to framework `fw` in
    /// `role`, into `out`.
    fn commit(
        &mut self,
        ai: usize,
        fw: u32,
        role: &str,
        offerable: &Resources,
        out: &mut BTreeMap<(u32, usize), Resources>,
    ) {
        let allocated = offerable.allocate(role);
        let agent = &mut self.agents[ai];
        agent.used += offerable;
        *agent.allocated.entry(fw).or_default() += &allocated;
        agent.epoch += 1;
        let key = self.frameworks[fw as usize]
            .as_ref()
            .map(|f| f.id.clone())
            .unwrap_or_default();
        self.track_allocation(&key, &allocated);
        *out.entry((fw, ai)).or_default() += &allocated;
    }

    /// The role's frameworks' indices, fairest claim first.
    fn framework_order(&self, role: &str) -> Vec<u32> {
        self.framework_sorters
            .get(role)
            .map(DrfSorter::sort)
            .unwrap_or_default()
            .iter()
            .filter_map(|id| self.framework_index.get(id.as_str()).copied())
            .collect()
    }

    /// Stage one: roles with unmet guarantees, in DRF order, are offered
    /// what they lack of each guaranteed resource (and whatever else the
    /// agent has for them), within their limits.
    fn allocate_guarantees(
        &mut self,
        order: &[usize],
        now: Duration,
        out: &mut BTreeMap<(u32, usize), Resources>,
    ) {
        for &ai in order {
            let roles: Vec<String> = self
                .roles
                .sort()
                .into_iter()
                .filter(|r| self.quotas.get(r).is_some_and(|q| !q.guarantees.is_empty()))
                .collect();
            for role in roles {
                let lack = self.unsatisfied(&role);
                if lack.is_empty() {
                    continue;
                }
                let mut caps = lack.clone();
                quota::merge_min(&mut caps, &self.limit_room(&role));
                let agent = &self.agents[ai];
                let offerable = (&agent.total - &agent.used)
                    .allocatable_to(&role)
                    .cap_scalars(&caps);
                if !quota::holds_any(&offerable, &lack) || !self.allocatable(&offerable) {
                    continue;
                }
                let fw_order = self.framework_order(&role);
                let mut until = Duration::MAX;
                if let Some(choice) = self.choose(ai, &role, &fw_order, &offerable, now, &mut until)
                {
                    self.commit(ai, choice.framework, &role, &choice.offerable, out);
                }
            }
        }
    }

    /// One allocation cycle at time `now`: what to offer to whom.
    pub fn allocate(&mut self, now: Duration) -> Vec<Allocation> {
        let mut out: BTreeMap<(u32, usize), Resources> = BTreeMap::new();
        let mut role_order: Option<Vec<String>> = None;
        let mut framework_orders: HashMap<String, Vec<u32>> = HashMap::new();

        let mut order: Vec<usize> = (0..self.agents.len()).collect();
        for i in (1..order.len()).rev() {
            let j = (self.next_random() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }

        // With quota, memos are not trusted: an agent's offerability then
        // also depends on other agents (headroom) and on allocations
        // elsewhere (limits).
        let quota = !self.quotas.is_empty();
        let mut spare = None;
        if quota {
            self.allocate_guarantees(&order, now, &mut out);
            spare = Some(self.spare_headroom());
        }

        for ai in order {
            let agent = &self.agents[ai];
            if let Some(b) = agent.blocked.filter(|_| !quota) {
                if b.epoch == agent.epoch && now < b.until {
                    if b.frameworks_epoch == self.frameworks_epoch {
                        continue;
                    }
                    let mut until = b.until;
                    if self.still_blocked(ai, b.frameworks_epoch, now, &mut until) == Some(true) {
                        self.agents[ai].blocked = Some(Blocked {
                            frameworks_epoch: self.frameworks_epoch,
                            until,
                            ..b
                        });
                        continue;
                    }
                }
            }
            let agent = &self.agents[ai];
            let mut available = &agent.total - &agent.used;
            let mut until = Duration::MAX;
            let mut offered = false;
            if self.allocatable(&available) {
                let roles = role_order.get_or_insert_with(|| self.roles.sort()).clone();
                for role in roles {
                    let mut offerable_role = available.allocatable_to(&role);
                    if quota {
                        offerable_role = self.fair_cap(&role, offerable_role, spare.as_ref());
                    }
                    if !self.allocatable(&offerable_role) {
                        continue;
                    }
                    let fw_order = framework_orders
                        .entry(role.clone())
                        .or_insert_with(|| self.framework_order(&role));
                    let choice = self.choose(ai, &role, fw_order, &offerable_role, now, &mut until);
                    let Some(Choice {
                        framework,
                        offerable,
                    }) = choice
                    else {
                        continue;
                    };
                    self.commit(ai, framework, &role, &offerable, &mut out);
                    if let Some(spare) = spare.as_mut() {
                        quota::spend(spare, &offerable);
                    }
                    available -= &offerable;
                    offered = true;
                    role_order = None;
                    framework_orders.remove(&role);
                    if available.is_empty() {
                        break;
                    }
                }
            }
            let agent = &mut self.agents[ai];
            agent.blocked = (!offered).then_some(Blocked {
                epoch: agent.epoch,
                frameworks_epoch: self.frameworks_epoch,
                until,
            });
        }
        out.into_iter()
            .filter_map(|((fw, ai), resources)| {
                let framework = self.frameworks[fw as usize].as_ref()?;
                Some(Allocation {
                    framework_id: FrameworkId::new(framework.id.clone()),
                    agent_id: self.agents[ai].id.clone(),
                    resources,
                })
            })
            .collect()
    }
}
