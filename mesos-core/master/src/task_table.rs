//! A framework's tasks, with what its live tasks use on each agent kept
//! up to date as tasks come, change and go, as Mesos' master keeps each
//! agent's `usedResources`. Views then add up one sum per agent instead
//! of every task's resources: at 100,000 tasks that was half of
//! rendering `/state`.

use crate::agents::is_terminal;
use crate::cow_map::{CowMap, SharedShards};
use crate::task_entry::TaskEntry;
use mesos_proto::resources::Resources;
use mesos_proto::v1::{AgentId, Task, TaskId};
use std::sync::Arc;

/// A framework's tasks by id, and what the live ones (not terminal) use
/// by agent. Both maps are shared with state snapshots shard by shard.
#[derive(Debug, Clone, Default)]
pub(crate) struct TaskTable {
    tasks: CowMap<TaskId, Arc<TaskEntry>>,
    used: CowMap<AgentId, Resources>,
}

/// What a snapshot keeps of a [`TaskTable`].
#[derive(Debug, Clone)]
pub(crate) struct SharedTasks {
    pub(crate) tasks: SharedShards<TaskId, Arc<TaskEntry>>,
    pub(crate) used: SharedShards<AgentId, Resources>,
}

impl TaskTable {
    pub(crate) fn get(&self, id: &TaskId) -> Option<&Arc<TaskEntry>> {
        self.tasks.get(id)
    }

    pub(crate) fn contains_key(&self, id: &TaskId) -> bool {
        self.tasks.contains_key(id)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&TaskId, &Arc<TaskEntry>)> + '_ {
        self.tasks.iter()
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &TaskId> + '_ {
        self.tasks.keys()
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Arc<TaskEntry>> + '_ {
        self.tasks.values()
    }

    /// What the live tasks use on `agent` (nothing: `None`).
    pub(crate) fn used_on(&self, agent: &AgentId) -> Option<&Resources> {
        self.used.get(agent)
    }

    /// Adds or replaces the task with `task`'s id.
    pub(crate) fn insert(&mut self, task: impl Into<TaskEntry>) -> Option<Arc<TaskEntry>> {
        let task = Arc::new(task.into());
        self.charge(&task);
        let old = self.tasks.insert(task.task_id.clone(), task);
        if let Some(old) = &old {
            self.release(old);
        }
        old
    }

    /// Changes a task's state and statuses (copying it first if a
    /// snapshot shares it), and what it counts for if it became terminal
    /// or live; `None` if there is no such task. `change` must leave the
    /// task's resources and agent as they are
    /// ([`TaskEntry::change_status`]; a task that moves is inserted
    /// again).
    pub(crate) fn update<R>(
        &mut self,
        id: &TaskId,
        change: impl FnOnce(&mut Task) -> R,
    ) -> Option<(R, Arc<TaskEntry>)> {
        let entry = self.tasks.get_mut(id)?;
        let task: &mut TaskEntry = Arc::make_mut(entry);
        let was_live = !is_terminal(task.state);
        let out = task.change_status(change);
        let after = Arc::clone(entry);
        match (was_live, !is_terminal(after.state)) {
            (true, false) => {
                if let Some(r) = after.resources() {
                    release(&mut self.used, &after.agent_id, r);
                }
            }
            (false, true) => self.charge(&after),
            _ => {}
        }
        Some((out, after))
    }

    pub(crate) fn remove(&mut self, id: &TaskId) -> Option<Arc<TaskEntry>> {
        let old = self.tasks.remove(id)?;
        self.release(&old);
        Some(old)
    }

    /// Every task, leaving the table empty.
    pub(crate) fn take_all(&mut self) -> Vec<Arc<TaskEntry>> {
        std::mem::take(self)
            .tasks
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    pub(crate) fn share(&self) -> SharedTasks {
        SharedTasks {
            tasks: self.tasks.share(),
            used: self.used.share(),
        }
    }

    /// What `task` uses, if it counts: live, with valid resources.
    fn counted(task: &TaskEntry) -> Option<&Resources> {
        (!is_terminal(task.state))
            .then(|| task.resources())
            .flatten()
    }

    fn charge(&mut self, task: &TaskEntry) {
        let Some(r) = Self::counted(task) else {
            return;
        };
        match self.used.get_mut(&task.agent_id) {
            Some(used) => *used += r,
            None => {
                self.used.insert(task.agent_id.clone(), r.clone());
            }
        }
    }

    fn release(&mut self, task: &TaskEntry) {
        if let Some(r) = Self::counted(task) {
            release(&mut self.used, &task.agent_id, r);
        }
    }
}

/// Takes `r` off what is used on `agent`, forgetting an agent left with
/// nothing.
fn release(used: &mut CowMap<AgentId, Resources>, agent: &AgentId, r: &Resources) {
    let Some(on_agent) = used.get_mut(agent) else {
        return;
    };
    *on_agent -= r;
    if on_agent.is_empty() {
        used.remove(agent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::v1::TaskState;

    fn task(id: &str, agent: &str, resources: &str) -> Task {
        let mut t = Task {
            state: TaskState::TaskStaging as i32,
            resources: resources.parse::<Resources>().unwrap().into_vec(),
            ..Default::default()
        };
        t.task_id.value = id.into();
        t.agent_id.value = agent.into();
        t
    }

    fn agent(id: &str) -> AgentId {
        AgentId { value: id.into() }
    }

    fn used(table: &TaskTable, a: &str) -> Option<Resources> {
        table.used_on(&agent(a)).cloned()
    }

    fn res(s: &str) -> Resources {
        s.parse().unwrap()
    }

    #[test]
    fn usage_follows_tasks_in_and_out_of_terminal_states() {
        let mut t = TaskTable::default();
        t.insert(task("t1", "a1", "cpus:1;mem:128"));
        t.insert(task("t2", "a1", "cpus:0.5;mem:64"));
        t.insert(task("t3", "a2", "cpus:2"));
        assert_eq!(used(&t, "a1"), Some(res("cpus:1.5;mem:192")));
        assert_eq!(used(&t, "a2"), Some(res("cpus:2")));

        let (_, entry) = t
            .update(&TaskId { value: "t1".into() }, |task| {
                task.state = TaskState::TaskFinished as i32;
            })
            .unwrap();
        assert_eq!(entry.state, TaskState::TaskFinished as i32);
        assert_eq!(used(&t, "a1"), Some(res("cpus:0.5;mem:64")));
        // Terminal tasks count for nothing when they go either.
        t.remove(&TaskId { value: "t1".into() });
        assert_eq!(used(&t, "a1"), Some(res("cpus:0.5;mem:64")));

        // Replacing a task counts the new one instead of the old.
        t.insert(task("t2", "a1", "cpus:0.25"));
        assert_eq!(used(&t, "a1"), Some(res("cpus:0.25")));
        // An agent whose tasks are all gone has no entry.
        t.remove(&TaskId { value: "t2".into() });
        assert_eq!(used(&t, "a1"), None);
        assert!(t.update(&TaskId { value: "t9".into() }, |_| ()).is_none());
        assert_eq!(t.take_all().len(), 1);
        assert_eq!(used(&t, "a2"), None);
    }

    #[test]
    fn a_snapshot_keeps_the_usage_it_saw() {
        let mut t = TaskTable::default();
        for i in 0..2000 {
            t.insert(task(&format!("t{i}"), &format!("a{}", i % 100), "cpus:1"));
        }
        let seen = t.share();
        t.update(&TaskId { value: "t0".into() }, |task| {
            task.state = TaskState::TaskLost as i32;
        });
        let seen_a0 = seen
            .used
            .iter()
            .find(|(a, _)| a.value == "a0")
            .map(|(_, r)| r.clone());
        assert_eq!(seen_a0, Some(res("cpus:20")));
        assert_eq!(used(&t, "a0"), Some(res("cpus:19")));
    }
}
