//! The allocator: pure, deterministic decisions about who is offered what.
//!
//! The master feeds in agents, frameworks, roles, weights, declines and the
//! time; [`Allocator::allocate`] answers which resources of which agent to
//! offer to which framework. No clock, no I/O, no randomness but a seeded
//! shuffle of agents (as Mesos shuffles them each cycle), so a run is
//! reproducible and the allocator benchmarks alone.
//!
//! The algorithm is Mesos' hierarchical DRF: for every agent, roles in
//! increasing weighted dominant share ([`sorter::DrfSorter`]), then the
//! role's frameworks in increasing share; the first framework that is
//! active, has not suppressed the role, is not filtered on that agent
//! ([`filters`]) and would receive at least the minimum allocatable
//! resources gets everything on the agent allocatable to the role.
//!
//! ```
//! use mesos_master::allocator::{Allocator, AllocatorConfig, FrameworkOptions};
//! use mesos_proto::v1::{AgentId, FrameworkId};
//! use std::time::Duration;
//!
//! let mut allocator = Allocator::new(AllocatorConfig::default());
//! let agent = AgentId::new("a1");
//! allocator.add_agent(agent.clone(), "cpus:4;mem:1024".parse().unwrap(), []);
//! let fw = FrameworkId::new("f1");
//! allocator.add_framework(fw.clone(), FrameworkOptions::with_roles(["web"]));
//!
//! let offers = allocator.allocate(Duration::ZERO);
//! assert_eq!(offers.len(), 1);
//! assert_eq!(offers[0].resources.cpus(), Some(4.0));
//!
//! // Declined for 5 s: not offered again before then, but after.
//! allocator.recover_resources(&fw, &agent, &offers[0].resources, Some(Duration::from_secs(5)), Duration::ZERO);
//! assert!(allocator.allocate(Duration::from_secs(1)).is_empty());
//! assert_eq!(allocator.allocate(Duration::from_secs(5)).len(), 1);
//! ```

mod cycle;
pub mod filters;
mod options;
mod quota;
mod release;
pub mod sorter;
mod visits;

pub use options::{AllocatorConfig, FrameworkOptions};
pub use quota::Quota;

use filters::{AgentFilters, FilterSlots, OfferFilter, filter_key};
use mesos_proto::resources::{Resources, Scalar};
use mesos_proto::v1::value::Type as ValueType;
use mesos_proto::v1::{AgentId, FrameworkId};
use sorter::{DrfSorter, Quantities};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// How many framework changes the allocator remembers for targeted
/// re-evaluation of blocked agents; older memos fall back to a full look.
const CHANGE_LOG: usize = 4096;

/// How many framework changes a blocked agent is re-judged by alone.
const TARGETED_LIMIT: usize = 32;

/// Resources of one agent to offer to one framework. The resources carry
/// `allocation_info` with the role they are allocated to.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    /// Who the offer is for.
    pub framework_id: FrameworkId,
    /// Whose resources they are.
    pub agent_id: AgentId,
    /// What is offered, allocated to roles.
    pub resources: Resources,
}

#[derive(Debug)]
struct Agent {
    id: AgentId,
    total: Resources,
    /// Everything allocated, without allocation info.
    used: Resources,
    /// `total - used`, kept up to date by [`Agent::take`] and
    /// [`Agent::give_back`].
    available: Resources,
    /// Allocations by framework index, with allocation info.
    allocated: BTreeMap<u32, Resources>,
    /// Offer filters by (framework index, role index).
    filters: AgentFilters,
    has_gpus: bool,
    has_revocable: bool,
    /// Some of its resources are reserved: what it offers differs by role.
    has_reservations: bool,
    /// Bumped whenever what this agent could offer changes.
    epoch: u64,
    /// Set when a cycle found nothing to offer here.
    blocked: Option<Blocked>,
}

impl Agent {
    /// Marks `resources` (without allocation info) as allocated.
    fn take(&mut self, resources: &Resources) {
        self.used += resources;
        self.available = &self.total - &self.used;
        self.epoch += 1;
    }

    /// Marks `resources` (without allocation info) as free again.
    fn give_back(&mut self, resources: &Resources) {
        self.used -= resources;
        self.available = &self.total - &self.used;
        self.epoch += 1;
    }
}

/// A memo: nothing on this agent can be offered while its epoch and the
/// frameworks' epoch stay the same, until `until` (the first blocking
/// filter to expire).
#[derive(Debug, Clone, Copy)]
struct Blocked {
    epoch: u64,
    frameworks_epoch: u64,
    until: Duration,
}

#[derive(Debug)]
struct Framework {
    id: String,
    options: FrameworkOptions,
    active: bool,
    /// `options.roles` minus `options.suppressed_roles`, as role indices:
    /// the roles it may be offered resources for.
    offer_roles: Vec<u32>,
}

/// The hierarchical DRF allocator. See the module docs.
#[derive(Debug)]
pub struct Allocator {
    config: AllocatorConfig,
    agents: Vec<Agent>,
    agent_index: HashMap<AgentId, usize>,
    frameworks: Vec<Option<Framework>>,
    framework_index: HashMap<String, u32>,
    role_index: HashMap<String, u32>,
    /// Roles, hierarchically.
    roles: DrfSorter,
    /// Frameworks within each role.
    framework_sorters: BTreeMap<String, DrfSorter>,
    /// Quota by role.
    quotas: BTreeMap<String, Quota>,
    total: Quantities,
    /// Bumped whenever a framework change could unblock an agent.
    frameworks_epoch: u64,
    /// Slots of the (framework, role) pairs that ever had a filter.
    filter_slots: FilterSlots,
    /// Recent framework changes: (epoch, framework index).
    changes: VecDeque<(u64, u32)>,
    /// Every change after this epoch is in `changes`.
    changes_start: u64,
    /// The agents the next cycle must look at.
    visits: visits::Visits,
    /// Removed frameworks whose allocations on agents are still being
    /// released, a batch of agents at a time.
    releasing: VecDeque<release::Release>,
    rng: u64,
}

/// Adds the scalar quantities in `resources` to `into`, by the role they
/// are allocated to (resources without one are left out), as
/// `allocations()` then `scalar_quantities()` would, without copying
/// them.
fn add_allocated_quantities(resources: &Resources, into: &mut BTreeMap<String, Quantities>) {
    for r in resources.iter() {
        let (Some(role), Some(scalar)) = (
            r.allocation_info.as_ref().and_then(|a| a.role.as_ref()),
            r.scalar,
        ) else {
            continue;
        };
        let q = match into.get_mut(role) {
            Some(q) => q,
            None => into.entry(role.clone()).or_default(),
        };
        let v = Scalar::from_f64(scalar.value);
        match q.get_mut(&r.name) {
            Some(sum) => *sum += v,
            None => {
                q.insert(r.name.clone(), v);
            }
        }
    }
}

fn quantity(resources: &Resources, name: &str) -> Scalar {
    resources
        .iter()
        .filter(|r| r.name == name)
        .map(|r| match ValueType::try_from(r.r#type) {
            Ok(ValueType::Scalar) => Scalar::from_f64(r.scalar.map_or(0.0, |s| s.value)),
            Ok(ValueType::Ranges) => {
                let count = r
                    .ranges
                    .as_ref()
                    .map_or(0, |x| mesos_proto::resources::value::ranges_len(&x.range));
                Scalar::from_milli(i64::try_from(count).unwrap_or(i64::MAX / 1000) * 1000)
            }
            Ok(ValueType::Set) => {
                Scalar::from_milli(r.set.as_ref().map_or(0, |s| s.item.len() as i64) * 1000)
            }
            _ => Scalar::ZERO,
        })
        .sum()
}

/// What an agent can give one role in this cycle.
struct RoleOffer<'a> {
    offerable: &'a Resources,
    /// `offerable` is all the agent has for the role at its epoch (not
    /// capped by quota), so filter answers about it may be remembered.
    cacheable: bool,
}

/// A framework that may be offered resources in one role this cycle:
/// active and not suppressed there. What `eligible` needs of it, copied out
/// so that a look over many agents reads one compact list.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    framework: u32,
    filter_key: u64,
    filter_slot: Option<u32>,
    gpu_resources: bool,
    revocable_resources: bool,
    /// Its share in the role's sorter when the candidates were listed (0
    /// where that does not matter).
    share: f64,
}

/// A role in a cycle's role order.
#[derive(Debug)]
struct RoleEntry {
    name: String,
    idx: Option<u32>,
    /// Its weighted dominant share when placed.
    share: f64,
}

/// A role's candidates in DRF order, with their filter slots as bit masks:
/// on an agent whose cover memo holds, "every candidate is filtered" is a
/// few word operations instead of a look at each candidate.
#[derive(Debug, Default)]
struct Candidates {
    list: Vec<Candidate>,
    /// The filter slots of every candidate; `None` when one has no slot
    /// (no filter anywhere, so never known to be filtered).
    slots: Option<Vec<u64>>,
    /// The same for the candidates with GPU_RESOURCES: the only ones that
    /// count on an agent with GPUs when GPU offers are filtered.
    gpu_slots: Option<Vec<u64>>,
}

impl Candidates {
    fn new(list: Vec<Candidate>) -> Candidates {
        let mask = |gpu_only: bool| -> Option<Vec<u64>> {
            let mut mask = Vec::new();
            for c in list.iter().filter(|c| !gpu_only || c.gpu_resources) {
                let slot = c.filter_slot? as usize;
                if mask.len() <= slot / 64 {
                    mask.resize(slot / 64 + 1, 0);
                }
                mask[slot / 64] |= 1 << (slot % 64);
            }
            Some(mask)
        };
        Candidates {
            slots: mask(false),
            gpu_slots: mask(true),
            list,
        }
    }
}

/// The framework chosen for an agent's resources in one role.
struct Choice {
    framework: u32,
    offerable: Resources,
}

impl Allocator {
    /// An allocator with no agents and no frameworks.
    pub fn new(config: AllocatorConfig) -> Allocator {
        let rng = config.seed;
        Allocator {
            config,
            agents: Vec::new(),
            agent_index: HashMap::new(),
            frameworks: Vec::new(),
            framework_index: HashMap::new(),
            role_index: HashMap::new(),
            roles: DrfSorter::new(),
            framework_sorters: BTreeMap::new(),
            quotas: BTreeMap::new(),
            total: Quantities::new(),
            frameworks_epoch: 0,
            filter_slots: FilterSlots::default(),
            changes: VecDeque::new(),
            changes_start: 0,
            visits: visits::Visits::default(),
            releasing: VecDeque::new(),
            rng,
        }
    }

    fn role_idx(&mut self, role: &str) -> u32 {
        if let Some(idx) = self.role_index.get(role) {
            return *idx;
        }
        let idx = self.role_index.len() as u32;
        self.role_index.insert(role.to_string(), idx);
        idx
    }

    fn framework(&self, id: &FrameworkId) -> Option<(u32, &Framework)> {
        let idx = *self.framework_index.get(id.as_str())?;
        self.frameworks[idx as usize].as_ref().map(|f| (idx, f))
    }

    fn framework_mut(&mut self, id: &FrameworkId) -> Option<&mut Framework> {
        let idx = *self.framework_index.get(id.as_str())?;
        self.framework_changed(idx);
        self.frameworks[idx as usize].as_mut()
    }

    fn refresh_offer_roles(&mut self, idx: u32) {
        let Some(f) = self.frameworks[idx as usize].as_ref() else {
            return;
        };
        let roles: Vec<String> = f
            .options
            .roles
            .iter()
            .filter(|r| !f.options.suppressed_roles.contains(*r))
            .cloned()
            .collect();
        let offer_roles = roles.iter().map(|r| self.role_idx(r)).collect();
        if let Some(f) = self.frameworks[idx as usize].as_mut() {
            f.offer_roles = offer_roles;
        }
    }

    /// Notes that a framework changed in a way that may let it take an
    /// agent it could not take before.
    fn framework_changed(&mut self, idx: u32) {
        self.frameworks_epoch += 1;
        self.changes.push_back((self.frameworks_epoch, idx));
        if self.changes.len() > CHANGE_LOG {
            if let Some((epoch, _)) = self.changes.pop_front() {
                self.changes_start = epoch;
            }
        }
    }

    fn framework_sorter(&mut self, role: &str) -> &mut DrfSorter {
        if !self.framework_sorters.contains_key(role) {
            let mut s = DrfSorter::new();
            s.add_total(&self.total);
            self.framework_sorters.insert(role.to_string(), s);
        }
        self.framework_sorters
            .get_mut(role)
            .expect("inserted above when missing")
    }

    fn track(&mut self, framework: &str, role: &str) {
        self.role_idx(role);
        self.roles.add_client(role);
        self.framework_sorter(role).add_client(framework);
    }

    /// Records resources (with allocation info) as allocated to a framework.
    fn track_allocation(&mut self, framework: &str, allocated: &Resources) {
        for (role, resources) in allocated.allocations() {
            let q = resources.scalar_quantities();
            self.track(framework, &role);
            self.roles.allocated(&role, &q);
            self.framework_sorter(&role).allocated(framework, &q);
        }
    }

    /// Takes what `released` holds, by role, off a framework's allocation
    /// (and its roles').
    fn untrack_allocation(&mut self, framework: &str, released: &Resources) {
        let mut by_role = BTreeMap::new();
        add_allocated_quantities(released, &mut by_role);
        for (role, q) in &by_role {
            self.roles.unallocated(role, q);
            if let Some(s) = self.framework_sorters.get_mut(role) {
                s.unallocated(framework, q);
            }
        }
    }

    fn framework_idx_or_insert(&mut self, id: &str) -> u32 {
        if let Some(idx) = self.framework_index.get(id) {
            return *idx;
        }
        let idx = self.frameworks.len() as u32;
        self.frameworks.push(None);
        self.framework_index.insert(id.to_string(), idx);
        idx
    }

    /// Adds a framework, active. Resources it already uses arrive with
    /// their agents ([`Allocator::add_agent`]).
    pub fn add_framework(&mut self, id: FrameworkId, options: FrameworkOptions) {
        let key = id.into_string();
        for role in &options.roles {
            self.track(&key, role);
        }
        let idx = self.framework_idx_or_insert(&key);
        self.frameworks[idx as usize] = Some(Framework {
            id: key,
            options,
            active: true,
            offer_roles: Vec::new(),
        });
        self.refresh_offer_roles(idx);
        self.framework_changed(idx);
    }

    /// Changes a framework's roles, suppressed roles or capabilities.
    pub fn update_framework(&mut self, id: &FrameworkId, options: FrameworkOptions) {
        for role in &options.roles {
            self.track(id.as_str(), role);
        }
        if let Some(f) = self.framework_mut(id) {
            f.options = options;
        }
        if let Some(&idx) = self.framework_index.get(id.as_str()) {
            self.refresh_offer_roles(idx);
        }
    }

    /// Stops offering to a framework (disconnected) without forgetting it.
    pub fn deactivate_framework(&mut self, id: &FrameworkId) {
        if let Some(f) = self.framework_mut(id) {
            f.active = false;
        }
    }

    /// Offers to a framework again.
    pub fn activate_framework(&mut self, id: &FrameworkId) {
        if let Some(f) = self.framework_mut(id) {
            f.active = true;
        }
    }

    /// Suppresses offers to a framework for `roles` (all its roles when
    /// empty).
    pub fn suppress(&mut self, id: &FrameworkId, roles: &[String]) {
        if let Some(f) = self.framework_mut(id) {
            let roles: Vec<String> = if roles.is_empty() {
                f.options.roles.iter().cloned().collect()
            } else {
                roles.to_vec()
            };
            f.options.suppressed_roles.extend(roles);
        }
        if let Some(&idx) = self.framework_index.get(id.as_str()) {
            self.refresh_offer_roles(idx);
        }
    }

    /// Revives offers to a framework for `roles` (all its roles when
    /// empty): unsuppresses them and removes its filters for them.
    pub fn revive(&mut self, id: &FrameworkId, roles: &[String]) {
        let Some((idx, f)) = self.framework(id) else {
            return;
        };
        let roles: BTreeSet<String> = if roles.is_empty() {
            f.options.roles.clone()
        } else {
            roles.iter().cloned().collect()
        };
        let role_idxs: BTreeSet<u32> = roles
            .iter()
            .filter_map(|r| self.role_index.get(r).copied())
            .collect();
        if let Some(f) = self.framework_mut(id) {
            f.options.suppressed_roles.retain(|r| !roles.contains(r));
        }
        self.refresh_offer_roles(idx);
        for agent in &mut self.agents {
            agent
                .filters
                .retain(|k, _| (k >> 32) as u32 != idx || !role_idxs.contains(&(k as u32)));
        }
    }

    /// Sets a role's weight (default 1).
    pub fn set_weight(&mut self, role: &str, weight: f64) {
        self.roles.set_weight(role, weight);
    }

    /// Adds an agent with its total resources and what frameworks already
    /// use on it (with allocation info), as on re-registration.
    pub fn add_agent(
        &mut self,
        id: AgentId,
        total: Resources,
        used: impl IntoIterator<Item = (FrameworkId, Resources)>,
    ) {
        if self.agent_index.contains_key(&id) {
            self.remove_agent(&id);
        }
        let q = total.scalar_quantities();
        for (name, v) in &q {
            *self.total.entry(name.clone()).or_default() += *v;
        }
        self.roles.add_total(&q);
        for s in self.framework_sorters.values_mut() {
            s.add_total(&q);
        }
        let mut agent = Agent {
            id: id.clone(),
            has_gpus: total.gpus().is_some_and(|g| g > 0.0),
            has_revocable: !total.revocable().is_empty(),
            has_reservations: total.iter().any(|r| !r.reservations.is_empty()),
            total,
            used: Resources::new(),
            available: Resources::new(),
            allocated: BTreeMap::new(),
            filters: AgentFilters::default(),
            epoch: 0,
            blocked: None,
        };
        let mut tracked = Vec::new();
        for (framework, resources) in used {
            let idx = self.framework_idx_or_insert(framework.as_str());
            agent.used += &resources.unallocate();
            *agent.allocated.entry(idx).or_default() += &resources;
            tracked.push((framework, resources));
        }
        agent.available = &agent.total - &agent.used;
        self.agent_index.insert(id, self.agents.len());
        self.visits.changed(self.agents.len());
        self.agents.push(agent);
        for (framework, resources) in tracked {
            self.track_allocation(framework.as_str(), &resources);
        }
    }

    /// Removes an agent and everything allocated on it.
    pub fn remove_agent(&mut self, id: &AgentId) {
        let Some(i) = self.agent_index.remove(id) else {
            return;
        };
        let agent = self.agents.swap_remove(i);
        // Indices moved: the next cycle looks at every agent, and the moved
        // one's memo runs out at its new index.
        self.visits.all();
        if let Some(moved) = self.agents.get(i) {
            self.agent_index.insert(moved.id.clone(), i);
            self.visits.left(i, moved.blocked.map(|b| b.until));
            self.release_moved(i);
        }
        for (framework, resources) in &agent.allocated {
            if let Some(f) = self.frameworks[*framework as usize].as_ref() {
                let key = f.id.clone();
                self.untrack_allocation(&key, resources);
            }
        }
        let q = agent.total.scalar_quantities();
        for (name, v) in &q {
            if let Some(t) = self.total.get_mut(name) {
                *t = t.saturating_sub(*v);
            }
        }
        self.roles.remove_total(&q);
        for s in self.framework_sorters.values_mut() {
            s.remove_total(&q);
        }
    }

    /// Gives back resources allocated to a framework on an agent (declined,
    /// unused by an ACCEPT, or freed by a finished task). With `filter`,
    /// the framework is not offered them again there for that long.
    pub fn recover_resources(
        &mut self,
        framework: &FrameworkId,
        agent_id: &AgentId,
        resources: &Resources,
        filter: Option<Duration>,
        now: Duration,
    ) {
        let (Some(&fw), Some(&ai)) = (
            self.framework_index.get(framework.as_str()),
            self.agent_index.get(agent_id),
        ) else {
            return;
        };
        let mut filters = Vec::new();
        let agent = &mut self.agents[ai];
        let Some(held) = agent.allocated.get_mut(&fw) else {
            return;
        };
        // Only what is really held comes back. Most often that is all of
        // it (a whole offer declined or given back): no arithmetic then.
        let released = if *held == *resources {
            std::mem::take(held)
        } else {
            let released = &*held - &(&*held - resources);
            *held -= &released;
            released
        };
        if held.is_empty() {
            agent.allocated.remove(&fw);
        }
        agent.give_back(&released.unallocate());
        self.visits.changed(ai);
        if let Some(duration) = filter {
            for (role, refused) in released.allocations() {
                filters.push((role, Arc::new(refused.unallocate()), now + duration));
            }
        }
        for (role, resources, expires) in filters {
            let role = self.role_idx(&role);
            self.insert_filter(
                ai,
                filter_key(fw, role),
                OfferFilter::new(resources, expires),
            );
        }
        self.untrack_allocation(framework.as_str(), &released);
    }

    /// Installs a refusal filter directly, as a decline with
    /// `refuse_seconds` would: `framework` is not offered any subset of
    /// `resources` (without allocation info) in `role` on `agent` before
    /// `expires`. For restoring state and for benchmarks.
    pub fn add_offer_filter(
        &mut self,
        framework: &FrameworkId,
        agent: &AgentId,
        role: &str,
        resources: impl Into<Arc<Resources>>,
        expires: Duration,
    ) {
        let resources = resources.into();
        let (Some(&fw), Some(&ai)) = (
            self.framework_index.get(framework.as_str()),
            self.agent_index.get(agent),
        ) else {
            return;
        };
        let role = self.role_idx(role);
        self.insert_filter(
            ai,
            filter_key(fw, role),
            OfferFilter::new(resources, expires),
        );
    }

    fn insert_filter(&mut self, ai: usize, key: u64, filter: OfferFilter) {
        let slot = self.filter_slots.assign(key);
        let agent = &mut self.agents[ai];
        agent.filters.insert(key, slot, filter);
        // A replaced filter may refuse less than before.
        agent.epoch += 1;
        self.visits.changed(ai);
    }

    /// What is allocated on an agent to a framework.
    pub fn allocated(&self, framework: &FrameworkId, agent: &AgentId) -> Resources {
        let (Some(fw), Some(ai)) = (
            self.framework_index.get(framework.as_str()),
            self.agent_index.get(agent),
        ) else {
            return Resources::new();
        };
        self.agents[*ai]
            .allocated
            .get(fw)
            .cloned()
            .unwrap_or_default()
    }

    /// True when the last [`Allocator::allocate`] stopped at
    /// [`AllocatorConfig::max_agents_offered`] or
    /// [`AllocatorConfig::max_agents_visited`] with agents left to look
    /// at: call it again soon.
    pub fn has_more(&self) -> bool {
        self.visits.deferred()
    }

    /// How many agents the last [`Allocator::allocate`] looked at: those
    /// that changed, whose filters ran out, or all of them after a
    /// framework changed.
    pub fn last_visited(&self) -> usize {
        self.visits.last()
    }

    /// A role's weighted dominant share of the cluster.
    pub fn role_share(&self, role: &str) -> f64 {
        self.roles.share(role)
    }

    /// Every role the allocator tracks, with its weighted dominant share.
    pub fn role_shares(&self) -> BTreeMap<String, f64> {
        self.roles
            .sort()
            .into_iter()
            .map(|role| {
                let share = self.roles.share(&role);
                (role, share)
            })
            .collect()
    }

    fn allocatable(&self, resources: &Resources) -> bool {
        if resources.is_empty() {
            return false;
        }
        self.config.min_allocatable.is_empty()
            || self
                .config
                .min_allocatable
                .iter()
                .any(|min| min.iter().all(|(name, v)| quantity(resources, name) >= *v))
    }

    fn next_random(&mut self) -> u64 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Drops expired filters; call now and then to bound memory.
    pub fn expire_filters(&mut self, now: Duration) {
        for agent in &mut self.agents {
            agent.filters.retain(|_, f| now < f.expires());
        }
    }
}

#[cfg(test)]
mod tests;
