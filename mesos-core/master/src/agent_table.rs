//! The master's agents, each with what state snapshots show of it kept
//! beside it.
//!
//! A snapshot at 10,000 agents used to visit every agent (several cache
//! misses each: the agent, its info's reference count, its stream) inside
//! the event loop. Here each agent's [`AgentSnapshot`] lives in a
//! [`CowMap`], brought up to date whenever the agent is changed through
//! the table, so a snapshot shares its shards (one pointer per 512
//! agents) and a later change copies at most one shard.
//!
//! Reads go through `Deref` to the map of agents; every change goes
//! through [`AgentTable::get_mut`] (whose guard brings the agent's view up
//! to date when dropped), [`AgentTable::insert`], [`AgentTable::remove`],
//! [`AgentTable::seen`] (last contact only, which no view shows) or
//! [`AgentTable::forget_executors_of`].
//!
//! The table also finds the agents silent for too long
//! ([`AgentTable::silent`]) without visiting the others: each reachable
//! agent has one deadline in a heap, made from when it was last heard
//! from. A deadline that comes due is checked against the agent's latest
//! contact and pushed back if it was heard from since, so an agent
//! heard from every few seconds costs one heap entry per timeout, and a
//! check that finds nobody silent looks at the heap's top only. (The
//! master used to walk all agents every 100 ms: 10,000 entries, several
//! cache misses each.)

use crate::actor::Agent;
use crate::cow_map::{CowMap, SharedShards};
use crate::snapshot::AgentSnapshot;
use mesos_proto::v1::{AgentId, FrameworkId};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::ops::{Deref, DerefMut};
use std::time::Duration;
use tokio::time::Instant;

/// Agents by id, with their views for snapshots.
#[derive(Debug, Default)]
pub(crate) struct AgentTable {
    agents: BTreeMap<AgentId, Agent>,
    views: CowMap<AgentId, AgentSnapshot>,
    /// One entry per reachable agent: when it had last been heard from
    /// when the entry was made, and which insertion of it the entry is
    /// for ([`Agent::inserted`]). The earliest first.
    contacts: BinaryHeap<Reverse<(Instant, u64, AgentId)>>,
    /// Insertions so far.
    insertions: u64,
}

impl Deref for AgentTable {
    type Target = BTreeMap<AgentId, Agent>;

    fn deref(&self) -> &Self::Target {
        &self.agents
    }
}

impl AgentTable {
    /// Adds (or replaces) an agent.
    pub(crate) fn insert(&mut self, id: AgentId, mut agent: Agent) -> Option<Agent> {
        self.insertions += 1;
        agent.inserted = self.insertions;
        if !agent.unreachable {
            self.contacts
                .push(Reverse((agent.last_seen, agent.inserted, id.clone())));
        }
        self.views.insert(id.clone(), AgentSnapshot::of(&agent));
        self.agents.insert(id, agent)
    }

    /// The reachable agents not heard from for longer than `limit` at
    /// `now`, in id order. Each stays listed until it is marked
    /// unreachable, removed or replaced: the caller must do one of these.
    pub(crate) fn silent(&mut self, now: Instant, limit: Duration) -> Vec<AgentId> {
        let mut silent = Vec::new();
        while let Some(Reverse((seen, _, _))) = self.contacts.peek() {
            if now.duration_since(*seen) <= limit {
                break;
            }
            let Some(Reverse((_, inserted, id))) = self.contacts.pop() else {
                break;
            };
            // An entry of an agent removed, replaced or marked
            // unreachable since is dropped: the agent has none now, or
            // another.
            let Some(agent) = self.agents.get(&id) else {
                continue;
            };
            if agent.inserted != inserted || agent.unreachable {
                continue;
            }
            if now.duration_since(agent.last_seen) > limit {
                silent.push(id);
            } else {
                self.contacts.push(Reverse((agent.last_seen, inserted, id)));
            }
        }
        // Listed again next time unless the caller acted on them.
        for id in &silent {
            let agent = &self.agents[id];
            self.contacts
                .push(Reverse((agent.last_seen, agent.inserted, id.clone())));
        }
        silent.sort();
        #[cfg(debug_assertions)]
        {
            let walked: Vec<AgentId> = self
                .agents
                .iter()
                .filter(|(_, a)| !a.unreachable && now.duration_since(a.last_seen) > limit)
                .map(|(id, _)| id.clone())
                .collect();
            assert_eq!(silent, walked, "the deadlines find every silent agent");
        }
        silent
    }

    /// Forgets an agent.
    pub(crate) fn remove(&mut self, id: &AgentId) -> Option<Agent> {
        self.views.remove(id);
        self.agents.remove(id)
    }

    /// The agent to change; its view is brought up to date when the
    /// guard is dropped.
    pub(crate) fn get_mut<'a>(&'a mut self, id: &'a AgentId) -> Option<AgentMut<'a>> {
        let agent = self.agents.get_mut(id)?;
        Some(AgentMut {
            id,
            agent,
            views: &mut self.views,
        })
    }

    /// Notes that the agent was heard from at `now` (which no view shows).
    pub(crate) fn seen(&mut self, id: &AgentId, now: tokio::time::Instant) {
        if let Some(agent) = self.agents.get_mut(id) {
            agent.last_seen = now;
        }
    }

    /// Forgets the executors of a framework on every agent; returns the
    /// agents that had some.
    pub(crate) fn forget_executors_of(&mut self, framework_id: &FrameworkId) -> Vec<AgentId> {
        let mut had = Vec::new();
        for (id, agent) in &mut self.agents {
            let before = agent.executors.len();
            agent.executors.retain(|(f, _), _| f != framework_id);
            if agent.executors.len() != before {
                refresh(&mut self.views, id, agent);
                had.push(id.clone());
            }
        }
        had
    }

    /// Every agent's view, shared: what a snapshot keeps.
    pub(crate) fn views(&self) -> SharedShards<AgentId, AgentSnapshot> {
        #[cfg(debug_assertions)]
        self.check_views();
        self.views.share()
    }

    /// Debug builds (every test) check that each view is what its agent
    /// shows now: a change that bypassed the table would be caught here.
    #[cfg(debug_assertions)]
    fn check_views(&self) {
        let views: BTreeMap<&AgentId, &AgentSnapshot> = self.views.iter().collect();
        assert_eq!(views.len(), self.agents.len(), "one view per agent");
        for (id, agent) in &self.agents {
            let view = views.get(id).expect("every agent has a view");
            assert!(
                view.same_as(&AgentSnapshot::of(agent)),
                "the view of agent {id} is out of date"
            );
        }
    }
}

/// An agent being changed: dereferences to it, and brings its view up
/// to date when dropped.
#[derive(Debug)]
pub(crate) struct AgentMut<'a> {
    id: &'a AgentId,
    agent: &'a mut Agent,
    views: &'a mut CowMap<AgentId, AgentSnapshot>,
}

impl Deref for AgentMut<'_> {
    type Target = Agent;

    fn deref(&self) -> &Agent {
        self.agent
    }
}

impl DerefMut for AgentMut<'_> {
    fn deref_mut(&mut self) -> &mut Agent {
        self.agent
    }
}

impl Drop for AgentMut<'_> {
    fn drop(&mut self) {
        refresh(self.views, self.id, self.agent);
    }
}

/// Brings the view of agent `id` up to date. An unchanged view is left
/// alone: a snapshot may share its shard, which a change would copy.
fn refresh(views: &mut CowMap<AgentId, AgentSnapshot>, id: &AgentId, agent: &Agent) {
    let view = AgentSnapshot::of(agent);
    if !views.get(id).is_some_and(|v| v.same_as(&view)) {
        views.insert(id.clone(), view);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::v1::AgentInfo;

    fn agent(name: &str, seen: Instant) -> Agent {
        let mut agent = Agent::unreachable(
            AgentInfo {
                hostname: name.into(),
                ..Default::default()
            },
            seen,
            0.0,
        );
        agent.unreachable = false;
        agent.unreachable_since = None;
        agent
    }

    fn names(ids: Vec<AgentId>) -> Vec<String> {
        ids.into_iter().map(|id| id.value).collect()
    }

    #[test]
    fn only_agents_silent_past_the_limit_are_found_and_each_keeps_one_deadline() {
        let limit = Duration::from_secs(10);
        let t0 = Instant::now();
        let (a, b) = (AgentId::new("a"), AgentId::new("b"));
        let mut table = AgentTable::default();
        table.insert(b.clone(), agent("b", t0));
        table.insert(a.clone(), agent("a", t0));
        assert!(table.silent(t0 + limit, limit).is_empty(), "not past it");
        // Both silent, listed in id order, and again until acted on.
        let late = t0 + limit + Duration::from_secs(1);
        assert_eq!(names(table.silent(late, limit)), ["a", "b"]);
        assert_eq!(names(table.silent(late, limit)), ["a", "b"]);
        assert_eq!(table.contacts.len(), 2);
        // Heard from: no longer silent, its deadline moves.
        table.seen(&a, t0 + Duration::from_secs(5));
        assert_eq!(names(table.silent(late, limit)), ["b"]);
        let both_silent = t0 + Duration::from_secs(16);
        assert_eq!(names(table.silent(both_silent, limit)), ["a", "b"]);
        // Marked unreachable: never listed, and its deadline goes.
        table.get_mut(&b).expect("b is known").unreachable = true;
        assert_eq!(names(table.silent(both_silent, limit)), ["a"]);
        assert_eq!(table.contacts.len(), 1);
        // Replaced (registered again) several times: one deadline, the
        // newest agent's.
        for i in 1..=3 {
            table.insert(a.clone(), agent("a", late + Duration::from_secs(i)));
        }
        assert!(table.silent(late + limit, limit).is_empty());
        let later = late + limit + Duration::from_secs(4);
        assert_eq!(names(table.silent(later, limit)), ["a"]);
        assert_eq!(
            table.contacts.len(),
            1,
            "the replaced agents' deadlines were dropped"
        );
        // Removed: gone from the checks.
        table.remove(&a);
        assert!(table.silent(later, limit).is_empty());
        assert!(table.contacts.is_empty());
    }
}
