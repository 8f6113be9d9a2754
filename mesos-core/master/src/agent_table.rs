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

use crate::actor::Agent;
use crate::cow_map::{CowMap, SharedShards};
use crate::snapshot::AgentSnapshot;
use mesos_proto::v1::{AgentId, FrameworkId};
use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

/// Agents by id, with their views for snapshots.
#[derive(Debug, Default)]
pub(crate) struct AgentTable {
    agents: BTreeMap<AgentId, Agent>,
    views: CowMap<AgentId, AgentSnapshot>,
}

impl Deref for AgentTable {
    type Target = BTreeMap<AgentId, Agent>;

    fn deref(&self) -> &Self::Target {
        &self.agents
    }
}

impl AgentTable {
    /// Adds (or replaces) an agent.
    pub(crate) fn insert(&mut self, id: AgentId, agent: Agent) -> Option<Agent> {
        self.views.insert(id.clone(), AgentSnapshot::of(&agent));
        self.agents.insert(id, agent)
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

    /// Forgets the executors of a framework on every agent.
    pub(crate) fn forget_executors_of(&mut self, framework_id: &FrameworkId) {
        for (id, agent) in &mut self.agents {
            let before = agent.executors.len();
            agent.executors.retain(|(f, _), _| f != framework_id);
            if agent.executors.len() != before {
                refresh(&mut self.views, id, agent);
            }
        }
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
