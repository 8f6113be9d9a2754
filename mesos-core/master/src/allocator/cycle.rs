//! One allocation cycle: which framework gets each agent's resources.
//!
//! Agents found blocked (nothing offerable to anyone) keep a memo and are
//! skipped while nothing that could unblock them changed; when frameworks
//! change, a blocked agent is re-judged against those frameworks only.

use super::sorter::{DrfSorter, drf_order, reposition};
use super::{
    Allocation, Allocator, Blocked, Candidate, Candidates, Choice, RoleEntry, RoleOffer,
    TARGETED_LIMIT, filter_key, quota,
};
use mesos_proto::resources::Resources;
use mesos_proto::v1::FrameworkId;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

impl Allocator {
    /// The candidate for framework `idx` in role `role_idx`, if it may be
    /// offered resources in that role at all.
    fn candidate(&self, idx: u32, role_idx: u32) -> Option<Candidate> {
        let framework = self.frameworks[idx as usize].as_ref()?;
        if !framework.active || !framework.offer_roles.contains(&role_idx) {
            return None;
        }
        let filter_key = filter_key(idx, role_idx);
        Some(Candidate {
            framework: idx,
            filter_key,
            filter_slot: self.filter_slots.get(filter_key),
            gpu_resources: framework.options.gpu_resources,
            revocable_resources: framework.options.revocable_resources,
            share: 0.0,
        })
    }

    /// The role's candidates, fairest claim first.
    fn candidates(&self, role: &str) -> Candidates {
        let Some(&role_idx) = self.role_index.get(role) else {
            return Candidates::default();
        };
        let sorter = self.framework_sorters.get(role);
        let share = |idx: u32| sorter.map_or(0.0, |s| s.share(self.framework_id(idx)));
        Candidates::new(
            self.framework_order(role)
                .into_iter()
                .filter_map(|idx| {
                    let candidate = self.candidate(idx, role_idx)?;
                    Some(Candidate {
                        share: share(idx),
                        ..candidate
                    })
                })
                .collect(),
        )
    }

    /// A framework's id by index ("" once removed).
    fn framework_id(&self, idx: u32) -> &str {
        self.frameworks[idx as usize]
            .as_ref()
            .map_or("", |f| f.id.as_str())
    }

    /// After framework `fw` was offered resources in `role`: moves it to
    /// where its new share puts it among the role's candidates, which is
    /// where a new sort would (no other framework's share changed). False
    /// when that cannot be told this way (a hierarchical sorter); the
    /// candidates must then be listed again.
    fn resort_candidates(&self, candidates: &mut Candidates, role: &str, fw: u32) -> bool {
        let Some(sorter) = self.framework_sorters.get(role) else {
            return false;
        };
        if !sorter.is_flat() {
            return false;
        }
        let Some(at) = candidates.list.iter().position(|c| c.framework == fw) else {
            return true;
        };
        candidates.list[at].share = sorter.share(self.framework_id(fw));
        reposition(&mut candidates.list, at, |a, b| {
            let key = |c: &Candidate| (c.share, self.framework_id(c.framework));
            drf_order(key(a), key(b))
        });
        #[cfg(debug_assertions)]
        {
            let fresh = self.candidates(role);
            let order = |c: &Candidates| c.list.iter().map(|c| c.framework).collect::<Vec<_>>();
            assert_eq!(order(candidates), order(&fresh), "{role}: resorted");
        }
        true
    }

    /// After `role` was offered resources: moves it to where its new share
    /// puts it in `order`, as [`Allocator::resort_candidates`] does for
    /// frameworks. False when the roles are hierarchical.
    fn resort_roles(&self, order: &mut Vec<RoleEntry>, role: &str) -> bool {
        if !self.roles.is_flat() {
            return false;
        }
        let Some(at) = order.iter().position(|r| r.name == role) else {
            return false;
        };
        order[at].share = self.roles.share(role);
        reposition(order, at, |a, b| {
            drf_order((a.share, &a.name), (b.share, &b.name))
        });
        true
    }

    /// What `candidate` may be offered from what agent `ai` can give the
    /// role, if anything. A filter that says no lowers `until` to its
    /// expiry (or to an earlier time).
    fn eligible(
        &self,
        ai: usize,
        candidate: &Candidate,
        role: &RoleOffer<'_>,
        now: Duration,
        until: &mut Duration,
    ) -> Option<Resources> {
        let agent = &self.agents[ai];
        if agent.has_gpus && self.config.filter_gpu_resources && !candidate.gpu_resources {
            return None;
        }
        let narrowed;
        // What the agent offers the role is fixed by its epoch, unless
        // narrowed for this framework or capped by quota: only then is the
        // filter's answer not remembered.
        let (offerable, epoch) = if agent.has_revocable && !candidate.revocable_resources {
            narrowed = role.offerable.non_revocable();
            if !self.allocatable(&narrowed) {
                return None;
            }
            (&narrowed, None)
        } else {
            (role.offerable, role.cacheable.then_some(agent.epoch))
        };
        let memo = epoch.zip(candidate.filter_slot);
        if let Some((epoch, slot)) = memo {
            if let Some(cover) = agent.filters.cover(epoch, now).filter(|c| c.has(slot)) {
                *until = (*until).min(cover.until);
                return None;
            }
        }
        if let Some(f) = agent.filters.get(candidate.filter_key) {
            if f.filters(offerable, now, epoch) {
                *until = (*until).min(f.expires());
                if let Some((epoch, slot)) = memo {
                    agent.filters.note_cover(slot, epoch, f.expires(), now);
                }
                return None;
            }
        }
        Some(offerable.clone())
    }

    /// The first of `candidates` (in DRF order) that may have what agent
    /// `ai` can give their role.
    fn choose(
        &self,
        ai: usize,
        candidates: &Candidates,
        role: &RoleOffer<'_>,
        now: Duration,
        until: &mut Duration,
    ) -> Option<Choice> {
        let agent = &self.agents[ai];
        let no_gpus = agent.has_gpus && self.config.filter_gpu_resources;
        let cover = role
            .cacheable
            .then(|| agent.filters.cover(agent.epoch, now))
            .flatten();
        // Every candidate that counts known to be filtered: no need to
        // look at each (unless some see less of a revocable agent).
        if let Some(cover) = cover.as_ref().filter(|_| !agent.has_revocable) {
            let mask = if no_gpus {
                &candidates.gpu_slots
            } else {
                &candidates.slots
            };
            if let Some(mask) = mask.as_deref().filter(|m| cover.has_all(m)) {
                if mask.iter().any(|w| *w != 0) {
                    *until = (*until).min(cover.until);
                }
                return None;
            }
        }
        for candidate in &candidates.list {
            // The common answers first, without a call: no GPU offers for
            // this framework, or its filter is known to cover the offer.
            if no_gpus && !candidate.gpu_resources {
                continue;
            }
            if let (Some(cover), Some(slot)) = (&cover, candidate.filter_slot) {
                let narrowed = agent.has_revocable && !candidate.revocable_resources;
                if !narrowed && cover.has(slot) {
                    *until = (*until).min(cover.until);
                    continue;
                }
            }
            if let Some(offerable) = self.eligible(ai, candidate, role, now, until) {
                return Some(Choice {
                    framework: candidate.framework,
                    offerable,
                });
            }
        }
        None
    }

    /// What agent `ai`, with `available` unallocated, can give `role`.
    fn offerable_to<'a>(
        &self,
        ai: usize,
        available: &'a Resources,
        role: &str,
    ) -> Cow<'a, Resources> {
        if self.agents[ai].has_reservations {
            Cow::Owned(available.allocatable_to(role))
        } else {
            Cow::Borrowed(available)
        }
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
        let available = &agent.available;
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
                let Some(candidate) = self
                    .role_index
                    .get(role.as_str())
                    .and_then(|&role_idx| self.candidate(idx, role_idx))
                else {
                    continue;
                };
                let offerable_role = self.offerable_to(ai, available, role);
                if !self.allocatable(&offerable_role) {
                    continue;
                }
                let role = RoleOffer {
                    offerable: &offerable_role,
                    cacheable: true,
                };
                if self.eligible(ai, &candidate, &role, now, until).is_some() {
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
        agent.take(offerable);
        *agent.allocated.entry(fw).or_default() += &allocated;
        let key = self.frameworks[fw as usize]
            .as_ref()
            .map(|f| f.id.clone())
            .unwrap_or_default();
        self.track_allocation(&key, &allocated);
        *out.entry((fw, ai)).or_default() += &allocated;
    }

    /// Roles, with their indices, lowest weighted share first.
    fn role_order(&self) -> Vec<RoleEntry> {
        self.roles
            .sort()
            .into_iter()
            .map(|name| RoleEntry {
                idx: self.role_index.get(&name).copied(),
                share: self.roles.share(&name),
                name,
            })
            .collect()
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
                let offerable = agent.available.allocatable_to(&role).cap_scalars(&caps);
                if !quota::holds_any(&offerable, &lack) || !self.allocatable(&offerable) {
                    continue;
                }
                let candidates = self.candidates(&role);
                let offer = RoleOffer {
                    offerable: &offerable,
                    cacheable: false,
                };
                let mut until = Duration::MAX;
                if let Some(choice) = self.choose(ai, &candidates, &offer, now, &mut until) {
                    self.commit(ai, choice.framework, &role, &choice.offerable, out);
                }
            }
        }
    }

    /// Debug builds: every agent a cycle at `now` skips (not in `visit`)
    /// has a memo that holds, so skipping it decides nothing differently.
    #[cfg(debug_assertions)]
    fn check_visits(&self, visit: &[usize], now: Duration) {
        let mut visited = vec![false; self.agents.len()];
        for &ai in visit {
            visited[ai] = true;
        }
        for (ai, agent) in self.agents.iter().enumerate() {
            if visited[ai] {
                continue;
            }
            let holds = agent.blocked.is_some_and(|b| {
                b.epoch == agent.epoch
                    && b.frameworks_epoch == self.frameworks_epoch
                    && now < b.until
            });
            assert!(holds, "agent {} skipped with {:?}", agent.id, agent.blocked);
        }
    }

    /// One allocation cycle at time `now`: what to offer to whom.
    pub fn allocate(&mut self, now: Duration) -> Vec<Allocation> {
        let mut out: BTreeMap<(u32, usize), Resources> = BTreeMap::new();
        let mut role_order: Option<Vec<RoleEntry>> = None;
        // Candidates by role index, while their order holds.
        let mut framework_orders: Vec<Option<Candidates>> = Vec::new();

        // With quota, memos are not trusted: an agent's offerability then
        // also depends on other agents (headroom) and on allocations
        // elsewhere (limits).
        let quota = !self.quotas.is_empty();
        let mut order = self
            .visits
            .take(self.agents.len(), now, self.frameworks_epoch, quota);
        #[cfg(debug_assertions)]
        self.check_visits(&order, now);
        for i in (1..order.len()).rev() {
            let j = (self.next_random() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let mut spare = None;
        if quota {
            self.allocate_guarantees(&order, now, &mut out);
            spare = Some(self.spare_headroom());
        }

        // With quota every call looks at every agent (no memos), so a cycle
        // is not split: its parts would each cost a whole one.
        let limit = |limit: Option<usize>| match limit {
            Some(limit) if !quota => limit.max(1),
            _ => usize::MAX,
        };
        let (offer_limit, visit_limit) = (
            limit(self.config.max_agents_offered),
            limit(self.config.max_agents_visited),
        );
        let mut agents_offered = 0;
        let mut order = order.into_iter().enumerate();
        while let Some((visited, ai)) = order.next() {
            if agents_offered >= offer_limit || visited >= visit_limit {
                self.visits
                    .defer(std::iter::once(ai).chain(order.map(|(_, ai)| ai)));
                break;
            }
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
                        if until < b.until {
                            self.visits.left(ai, Some(until));
                        }
                        continue;
                    }
                }
            }
            let mut until = Duration::MAX;
            let mut offered = false;
            if self.allocatable(&self.agents[ai].available) {
                let mut roles = role_order.take().unwrap_or_else(|| self.role_order());
                let mut offered_roles: Vec<String> = Vec::new();
                for RoleEntry {
                    name: role,
                    idx: role_idx,
                    ..
                } in &roles
                {
                    let Some(role_idx) = role_idx.map(|i| i as usize) else {
                        continue;
                    };
                    let mut offerable_role =
                        self.offerable_to(ai, &self.agents[ai].available, role);
                    if quota {
                        let capped =
                            self.fair_cap(role, offerable_role.into_owned(), spare.as_ref());
                        offerable_role = Cow::Owned(capped);
                    }
                    // All the agent has was found allocatable above.
                    if matches!(offerable_role, Cow::Owned(_)) && !self.allocatable(&offerable_role)
                    {
                        continue;
                    }
                    if framework_orders.len() <= role_idx {
                        framework_orders.resize_with(role_idx + 1, || None);
                    }
                    let candidates =
                        framework_orders[role_idx].get_or_insert_with(|| self.candidates(role));
                    let offer = RoleOffer {
                        offerable: &offerable_role,
                        cacheable: !quota,
                    };
                    let choice = self.choose(ai, candidates, &offer, now, &mut until);
                    drop(offerable_role);
                    let Some(Choice {
                        framework,
                        offerable,
                    }) = choice
                    else {
                        continue;
                    };
                    self.commit(ai, framework, role, &offerable, &mut out);
                    if let Some(spare) = spare.as_mut() {
                        quota::spend(spare, &offerable);
                    }
                    offered = true;
                    offered_roles.push(role.clone());
                    let resorted = framework_orders[role_idx]
                        .as_mut()
                        .is_some_and(|c| self.resort_candidates(c, role, framework));
                    if !resorted {
                        framework_orders[role_idx] = None;
                    }
                    if self.agents[ai].available.is_empty() {
                        break;
                    }
                }
                // Roles offered to move back in the order; the others kept
                // their shares.
                let kept = offered_roles
                    .iter()
                    .all(|role| self.resort_roles(&mut roles, role));
                if kept {
                    #[cfg(debug_assertions)]
                    {
                        let names =
                            |o: &[RoleEntry]| o.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
                        assert_eq!(names(&roles), names(&self.role_order()), "roles resorted");
                    }
                    role_order = Some(roles);
                }
            }
            agents_offered += usize::from(offered);
            let agent = &mut self.agents[ai];
            agent.blocked = (!offered).then_some(Blocked {
                epoch: agent.epoch,
                frameworks_epoch: self.frameworks_epoch,
                until,
            });
            if !quota {
                self.visits.left(ai, (!offered).then_some(until));
            }
        }
        if self.visits.overgrown(self.agents.len()) {
            let memos = self.agents.iter().enumerate();
            self.visits
                .rebuild(memos.filter_map(|(ai, a)| Some((ai, a.blocked?.until))));
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
