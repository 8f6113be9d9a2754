//! Removing a framework: its shares at once, its agents in batches.
//!
//! A framework's allocation is counted twice: by the sorters (its share
//! and its roles' shares) and on each agent that holds some of it. The
//! sorters already know the sum, so they forget it at once, whatever the
//! number of agents. The agents are released by [`Allocator::release_removed`],
//! a batch at a time: at 10,000 agents the whole walk (each agent's
//! filters, its allocation given back, its free resources computed again)
//! took about 50 ms, too long for one turn of the master's event loop.
//!
//! Until an agent's turn comes, what the removed framework held there is
//! neither offered nor counted in any share: the agent offers a little
//! less for a few turns, and nothing is ever offered twice.

use super::Allocator;
use mesos_proto::v1::FrameworkId;

/// A removed framework still holding resources on some agents.
#[derive(Debug)]
pub(super) struct Release {
    /// Its index, not used again by another framework.
    framework: u32,
    /// The agents before this index are released.
    next: usize,
}

impl Allocator {
    /// Removes a framework and releases everything allocated to it, on
    /// every agent, now.
    ///
    /// ```
    /// use mesos_master::allocator::{Allocator, AllocatorConfig, FrameworkOptions};
    /// use mesos_proto::v1::{AgentId, FrameworkId};
    /// use std::time::Duration;
    ///
    /// let mut allocator = Allocator::new(AllocatorConfig::default());
    /// allocator.add_agent(AgentId::new("a1"), "cpus:4;mem:1024".parse().unwrap(), []);
    /// let (f1, f2) = (FrameworkId::new("f1"), FrameworkId::new("f2"));
    /// allocator.add_framework(f1.clone(), FrameworkOptions::with_roles(["web"]));
    /// assert_eq!(allocator.allocate(Duration::ZERO)[0].framework_id, f1);
    ///
    /// allocator.add_framework(f2.clone(), FrameworkOptions::with_roles(["web"]));
    /// allocator.remove_framework(&f1);
    /// assert_eq!(allocator.allocate(Duration::ZERO)[0].framework_id, f2);
    /// ```
    pub fn remove_framework(&mut self, id: &FrameworkId) {
        self.remove_framework_in_batches(id);
        while self.release_removed(usize::MAX) {}
    }

    /// Removes a framework from every share now, and leaves what it holds
    /// on agents to [`Allocator::release_removed`], which frees a batch of
    /// agents per call: call it until it returns `false`. Meanwhile those
    /// resources are offered to no one.
    ///
    /// ```
    /// use mesos_master::allocator::{Allocator, AllocatorConfig, FrameworkOptions};
    /// use mesos_proto::v1::{AgentId, FrameworkId};
    /// use std::time::Duration;
    ///
    /// let mut allocator = Allocator::new(AllocatorConfig::default());
    /// for a in ["a1", "a2"] {
    ///     allocator.add_agent(AgentId::new(a), "cpus:4;mem:1024".parse().unwrap(), []);
    /// }
    /// let (f1, f2) = (FrameworkId::new("f1"), FrameworkId::new("f2"));
    /// allocator.add_framework(f1.clone(), FrameworkOptions::with_roles(["web"]));
    /// assert_eq!(allocator.allocate(Duration::ZERO).len(), 2);
    /// allocator.add_framework(f2.clone(), FrameworkOptions::with_roles(["web"]));
    ///
    /// allocator.remove_framework_in_batches(&f1);
    /// assert!(allocator.is_releasing());
    /// assert!(allocator.release_removed(1)); // one agent freed, one left
    /// assert_eq!(allocator.allocate(Duration::ZERO).len(), 1);
    /// assert!(!allocator.release_removed(1));
    /// assert_eq!(allocator.allocate(Duration::ZERO).len(), 1);
    /// ```
    pub fn remove_framework_in_batches(&mut self, id: &FrameworkId) {
        let Some(idx) = self.framework_index.remove(id.as_str()) else {
            return;
        };
        let key = id.as_str();
        self.frameworks[idx as usize] = None;
        // Each role's framework sorter holds the framework's allocation in
        // that role (every agent's, summed): the role gives that back, and
        // a role left without frameworks leaves the role sorter.
        let roles: Vec<String> = self.framework_sorters.keys().cloned().collect();
        for role in roles {
            let Some(sorter) = self.framework_sorters.get_mut(&role) else {
                continue;
            };
            if !sorter.contains(key) {
                continue;
            }
            let held = sorter.allocation(key);
            sorter.remove_client(key);
            let empty = sorter.sort().is_empty();
            self.roles.unallocated(&role, &held);
            if empty {
                self.framework_sorters.remove(&role);
                self.roles.remove_client(&role);
            }
        }
        self.releasing.push_back(Release {
            framework: idx,
            next: 0,
        });
    }

    /// Releases what removed frameworks still hold on up to `max_agents`
    /// agents (at least one, if any is left); returns whether some are
    /// still to be released.
    pub fn release_removed(&mut self, max_agents: usize) -> bool {
        let mut budget = max_agents.max(1);
        while let Some(release) = self.releasing.front_mut() {
            let (framework, from) = (release.framework, release.next);
            let to = from.saturating_add(budget).min(self.agents.len());
            release.next = to;
            budget -= to.saturating_sub(from);
            for ai in from..to {
                self.release_on(ai, framework);
            }
            if to < self.agents.len() {
                return true;
            }
            // Its filters are gone from every agent: its slots may serve
            // another framework.
            self.filter_slots.release_framework(framework);
            self.releasing.pop_front();
            if budget == 0 {
                break;
            }
        }
        !self.releasing.is_empty()
    }

    /// Whether removed frameworks still hold resources on some agents.
    pub fn is_releasing(&self) -> bool {
        !self.releasing.is_empty()
    }

    /// How many removed frameworks still hold resources on some agents.
    pub fn releasing(&self) -> usize {
        self.releasing.len()
    }

    /// Gives back what a removed framework holds on agent `ai` and drops
    /// its filters there.
    fn release_on(&mut self, ai: usize, framework: u32) {
        let agent = &mut self.agents[ai];
        agent.filters.retain(|k, _| (k >> 32) as u32 != framework);
        if let Some(released) = agent.allocated.remove(&framework) {
            agent.give_back(&released.unallocate());
            self.visits.changed(ai);
        }
    }

    /// An agent took another's index (`remove_agent` swaps the last one
    /// in): whatever removed frameworks hold on it is released now, as
    /// the batches may already have passed its new index.
    pub(super) fn release_moved(&mut self, ai: usize) {
        let pending: Vec<u32> = self.releasing.iter().map(|r| r.framework).collect();
        for framework in pending {
            self.release_on(ai, framework);
        }
    }
}
