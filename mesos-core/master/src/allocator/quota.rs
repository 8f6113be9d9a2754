//! Quota: guarantees a role is allocated before fair sharing, and limits
//! it is never allocated beyond.
//!
//! As in Mesos 1.9+, an allocation cycle has two stages. First, roles
//! with unsatisfied guarantees are offered, in DRF order, up to what they
//! still lack of each guaranteed resource. Then every role shares the rest
//! by DRF, except for *headroom*: enough unallocated resources stay back
//! to cover every guarantee still unmet (for example because its
//! frameworks declined), so fair sharing never eats into a guarantee.
//! Limits cap a role, with its subroles, in both stages; an offer that
//! would cross one is cut down ([`Resources::cap_scalars`]).
//!
//! ```
//! use mesos_master::allocator::{Allocator, AllocatorConfig, FrameworkOptions, Quota};
//! use mesos_proto::v1::{AgentId, FrameworkId};
//! use std::time::Duration;
//!
//! let mut allocator = Allocator::new(AllocatorConfig::default());
//! allocator.set_quota("batch", Quota::parse("", "cpus:1").unwrap());
//! allocator.add_agent(AgentId::new("a1"), "cpus:4;mem:1024".parse().unwrap(), []);
//! allocator.add_framework(FrameworkId::new("f"), FrameworkOptions::with_roles(["batch"]));
//! let offers = allocator.allocate(Duration::ZERO);
//! // The limit cuts the offer to one cpu.
//! assert_eq!(offers[0].resources.cpus(), Some(1.0));
//! ```

use super::Allocator;
use super::sorter::Quantities;
use mesos_proto::resources::{Resources, Scalar};

/// A role's quota: guarantees and limits, by scalar resource name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quota {
    /// Allocated to the role before fair sharing, if it wants them.
    pub guarantees: Quantities,
    /// Never allocated beyond, counting subroles.
    pub limits: Quantities,
}

impl Quota {
    /// A quota from two `--resources`-style texts of scalars
    /// (`cpus:2;mem:1024`), guarantees then limits; either may be empty.
    pub fn parse(guarantees: &str, limits: &str) -> Result<Quota, String> {
        let q = |text: &str| -> Result<Quantities, String> {
            if text.trim().is_empty() {
                return Ok(Quantities::new());
            }
            text.parse::<Resources>()
                .map(|r| r.scalar_quantities())
                .map_err(|e| e.to_string())
        };
        Ok(Quota {
            guarantees: q(guarantees)?,
            limits: q(limits)?,
        })
    }

    /// No guarantees and no limits: the default, the same as no quota.
    pub fn is_empty(&self) -> bool {
        self.guarantees.is_empty() && self.limits.is_empty()
    }
}

/// The smaller of two caps, per name.
pub(super) fn merge_min(into: &mut Quantities, other: &Quantities) {
    for (name, v) in other {
        into.entry(name.clone())
            .and_modify(|c| {
                if *v < *c {
                    *c = *v;
                }
            })
            .or_insert(*v);
    }
}

fn ancestors_and_self(role: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(role), |r| r.rsplit_once('/').map(|(p, _)| p))
}

impl Allocator {
    /// Sets a role's quota; an empty one removes it.
    pub fn set_quota(&mut self, role: &str, quota: Quota) {
        if quota.is_empty() {
            self.quotas.remove(role);
        } else {
            self.role_idx(role);
            self.quotas.insert(role.to_string(), quota);
        }
        // Memos judged under the old quota may be wrong now.
        for agent in &mut self.agents {
            agent.blocked = None;
        }
        self.visits.all();
    }

    /// The role's quota, if it has one.
    pub fn quota(&self, role: &str) -> Option<&Quota> {
        self.quotas.get(role)
    }

    /// What the role and its subroles are allocated.
    pub fn consumed(&self, role: &str) -> Quantities {
        self.roles.subtree_allocation(role)
    }

    /// What the role still lacks of its guarantees (only names it lacks).
    pub(super) fn unsatisfied(&self, role: &str) -> Quantities {
        let Some(q) = self.quotas.get(role) else {
            return Quantities::new();
        };
        let consumed = self.consumed(role);
        q.guarantees
            .iter()
            .filter_map(|(name, g)| {
                let have = consumed.get(name).copied().unwrap_or_default();
                let lack = g.saturating_sub(have);
                (!lack.is_zero()).then(|| (name.clone(), lack))
            })
            .collect()
    }

    /// How much more the role may be allocated before it or an ancestor
    /// reaches a limit; empty when nothing limits it.
    pub(super) fn limit_room(&self, role: &str) -> Quantities {
        let mut room = Quantities::new();
        for r in ancestors_and_self(role) {
            if let Some(q) = self.quotas.get(r).filter(|q| !q.limits.is_empty()) {
                let consumed = self.consumed(r);
                let left: Quantities = q
                    .limits
                    .iter()
                    .map(|(name, l)| {
                        let have = consumed.get(name).copied().unwrap_or_default();
                        (name.clone(), l.saturating_sub(have))
                    })
                    .collect();
                merge_min(&mut room, &left);
            }
        }
        room
    }

    /// Unallocated resources beyond what unmet guarantees need: what fair
    /// sharing may hand out. Only names some guarantee needs are listed.
    pub(super) fn spare_headroom(&self) -> Quantities {
        let mut required = Quantities::new();
        for role in self.quotas.keys() {
            // A guarantee of an ancestor covers its subroles'.
            let covered = ancestors_and_self(role)
                .skip(1)
                .any(|a| self.quotas.get(a).is_some_and(|q| !q.guarantees.is_empty()));
            if covered {
                continue;
            }
            for (name, lack) in self.unsatisfied(role) {
                *required.entry(name).or_default() += lack;
            }
        }
        let mut available = Quantities::new();
        for agent in &self.agents {
            let free = agent.available.unreserved();
            for (name, v) in free.scalar_quantities() {
                if required.contains_key(&name) {
                    *available.entry(name).or_default() += v;
                }
            }
        }
        required
            .into_iter()
            .map(|(name, need)| {
                let have = available.get(&name).copied().unwrap_or_default();
                (name, have.saturating_sub(need))
            })
            .collect()
    }

    /// What may be offered to `role` out of `offerable` in the fair stage:
    /// within the role's limits and the spare headroom.
    pub(super) fn fair_cap(
        &self,
        role: &str,
        offerable: Resources,
        spare: Option<&Quantities>,
    ) -> Resources {
        let mut caps = self.limit_room(role);
        if let Some(spare) = spare {
            merge_min(&mut caps, spare);
        }
        if caps.is_empty() {
            offerable
        } else {
            offerable.cap_scalars(&caps)
        }
    }
}

/// Subtracts what was offered from the spare headroom.
pub(super) fn spend(spare: &mut Quantities, offered: &Resources) {
    for (name, v) in offered.unreserved().scalar_quantities() {
        if let Some(s) = spare.get_mut(&name) {
            *s = s.saturating_sub(v);
        }
    }
}

/// True when `offerable` holds some of a resource in `wanted`.
pub(super) fn holds_any(offerable: &Resources, wanted: &Quantities) -> bool {
    wanted
        .keys()
        .any(|name| offerable.scalar(name).is_some_and(|s| s > Scalar::ZERO))
}
