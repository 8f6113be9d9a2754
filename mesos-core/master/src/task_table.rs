//! A framework's tasks, with what its live tasks use on each agent kept
//! up to date as tasks come, change and go, as Mesos' master keeps each
//! agent's `usedResources`. Views then add up one sum per agent instead
//! of every task's resources: at 100,000 tasks that was half of
//! rendering `/state`.
//!
//! Each shard of tasks (about 512) also remembers their legacy JSON, as
//! `/state` lists them ([`ShardJson`]), until one of them changes: a
//! repeated `/state` copies a few hundred runs of bytes instead of
//! sorting and copying every task.

use crate::agents::is_terminal;
use crate::cow_map::{CowMap, Shard, SharedShards};
use crate::reclaim::Reclaim;
use crate::task_entry::TaskEntry;
use mesos_proto::json::JsonWriter;
use mesos_proto::resources::Resources;
use mesos_proto::v1::{AgentId, Task, TaskId, TaskState};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A framework's tasks by id, and what the live ones (not terminal) use
/// by agent. Both maps are shared with state snapshots shard by shard.
/// It also keeps the ids of the tasks on each agent, and counts the live
/// ones, so that neither removing the framework nor an agent going away
/// walks all its tasks (at 100,000 tasks a walk took milliseconds, for
/// each of the agents lost at once).
#[derive(Debug, Default)]
pub(crate) struct TaskTable {
    tasks: CowMap<TaskId, Arc<TaskEntry>, ShardJson>,
    used: CowMap<AgentId, Resources>,
    /// Tasks in any state, by agent (no entry: none).
    on_agent: BTreeMap<AgentId, BTreeSet<TaskId>>,
    /// Tasks not terminal.
    live: usize,
}

/// A shard of a framework's tasks, as a snapshot shares it.
pub(crate) type TaskShard = Shard<TaskId, Arc<TaskEntry>, ShardJson>;

/// What a snapshot keeps of a [`TaskTable`].
#[derive(Debug, Clone)]
pub(crate) struct SharedTasks {
    pub(crate) tasks: SharedShards<TaskId, Arc<TaskEntry>, ShardJson>,
    pub(crate) used: SharedShards<AgentId, Resources>,
}

/// The lists a task is shown in by the state views (GET_TASKS, `/state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listed {
    /// Not terminal: `tasks`.
    Live = 0,
    /// `unreachable_tasks`.
    Unreachable = 1,
    /// Terminal: `completed_tasks`.
    Completed = 2,
}

impl Listed {
    /// Where a task in `state` is listed.
    pub(crate) fn of(state: i32) -> Listed {
        if state == TaskState::TaskUnreachable as i32 {
            Listed::Unreachable
        } else if is_terminal(state) {
            Listed::Completed
        } else {
            Listed::Live
        }
    }
}

/// The legacy JSON of a shard's tasks by [`Listed`]: each a run of task
/// objects separated by commas, in the shard's order, to write into an
/// array as they are.
#[derive(Debug, Default)]
pub(crate) struct ShardJson {
    live: Vec<u8>,
    unreachable: Vec<u8>,
    completed: Vec<u8>,
}

impl ShardJson {
    /// Writes each task's JSON (from what it remembers) into the run of
    /// its list, each run allocated about at its size.
    fn of(tasks: &BTreeMap<TaskId, Arc<TaskEntry>>) -> ShardJson {
        // Bytes by list, with a comma each, about.
        let mut sizes = [0usize; 3];
        for task in tasks.values() {
            sizes[Listed::of(task.state) as usize] += task.legacy_size() + 1;
        }
        let [live, unreachable, completed] = sizes.map(Vec::with_capacity);
        let mut out = ShardJson {
            live,
            unreachable,
            completed,
        };
        for task in tasks.values() {
            let run = out.run_mut(Listed::of(task.state));
            if !run.is_empty() {
                run.push(b',');
            }
            let mut w = JsonWriter::with_buffer(std::mem::take(run));
            task.write_legacy(&mut w);
            *run = w.into_inner();
        }
        out
    }

    fn run_mut(&mut self, list: Listed) -> &mut Vec<u8> {
        match list {
            Listed::Live => &mut self.live,
            Listed::Unreachable => &mut self.unreachable,
            Listed::Completed => &mut self.completed,
        }
    }

    /// The tasks of `list`, comma separated (empty if none).
    pub(crate) fn run(&self, list: Listed) -> &[u8] {
        match list {
            Listed::Live => &self.live,
            Listed::Unreachable => &self.unreachable,
            Listed::Completed => &self.completed,
        }
    }

    /// The JSON of `shard`'s tasks, joined the first time it is asked
    /// for since the shard last changed.
    pub(crate) fn of_shard(shard: &TaskShard) -> &ShardJson {
        shard.derived(ShardJson::of)
    }

    /// Joins the JSON of those of `shards` that have none yet on helper
    /// threads of `scope`, from the last shard back, while the caller
    /// writes from the first on: after many tasks changed (the first
    /// `/state` after a launch), writing their JSON is most of the work
    /// and spreads over the cores. A shard one thread is joining the
    /// other waits for rather than joining it again. With fewer than
    /// [`ShardJson::HELP_FROM`] such shards, or one core, no thread is
    /// started.
    pub(crate) fn join_behind<'scope>(
        scope: &'scope std::thread::Scope<'scope, '_>,
        shards: impl Iterator<Item = &'scope TaskShard>,
    ) {
        let todo: Vec<&TaskShard> = shards.filter(|s| !s.is_derived()).collect();
        let helpers = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .saturating_sub(1)
            .min(Self::MAX_HELPERS);
        if todo.len() < Self::HELP_FROM || helpers == 0 {
            return;
        }
        let todo = Arc::new(todo);
        // Shards taken from the back, one at a time.
        let left = Arc::new(std::sync::atomic::AtomicUsize::new(todo.len()));
        for _ in 0..helpers {
            let (todo, left) = (Arc::clone(&todo), Arc::clone(&left));
            scope.spawn(move || {
                use std::sync::atomic::Ordering;
                while let Ok(i) =
                    left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                {
                    let shard = todo[i - 1];
                    if shard.is_derived() {
                        // The writer got here: the rest is done too.
                        break;
                    }
                    ShardJson::of_shard(shard);
                }
            });
        }
    }

    /// Shards without JSON it takes for [`ShardJson::join_behind`] to
    /// start helpers (about 8,000 tasks).
    const HELP_FROM: usize = 16;

    /// Helper threads at most.
    const MAX_HELPERS: usize = 3;
}

impl TaskTable {
    pub(crate) fn get(&self, id: &TaskId) -> Option<&Arc<TaskEntry>> {
        self.tasks.get(id)
    }

    pub(crate) fn contains_key(&self, id: &TaskId) -> bool {
        self.tasks.contains_key(id)
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

    /// The agents with any of the tasks (terminal ones too), in id order.
    pub(crate) fn agents(&self) -> impl Iterator<Item = &AgentId> + '_ {
        self.on_agent.keys()
    }

    /// The ids of the tasks on `agent` (terminal ones too), in id order.
    pub(crate) fn on(&self, agent: &AgentId) -> impl Iterator<Item = &TaskId> + '_ {
        self.on_agent.get(agent).into_iter().flatten()
    }

    /// How many of its tasks are on `agent`.
    pub(crate) fn count_on(&self, agent: &AgentId) -> usize {
        self.on_agent.get(agent).map_or(0, BTreeSet::len)
    }

    /// How many tasks are not terminal.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// The last `n` tasks in the table's order (as [`TaskTable::values`]
    /// lists them), in that order, without walking the others.
    pub(crate) fn last(&self, n: usize) -> Vec<Arc<TaskEntry>> {
        let mut last: Vec<Arc<TaskEntry>> = self.tasks.values_rev().take(n).cloned().collect();
        last.reverse();
        last
    }

    /// Adds or replaces the task with `task`'s id.
    pub(crate) fn insert(&mut self, task: impl Into<TaskEntry>) -> Option<Arc<TaskEntry>> {
        let task = Arc::new(task.into());
        // Now, while the task just built is in the cache (see
        // `task_entry`).
        task.fixed_members();
        self.charge(&task);
        self.put(task)
    }

    /// Puts a task in, charged already, in place of any task of its id.
    fn put(&mut self, task: Arc<TaskEntry>) -> Option<Arc<TaskEntry>> {
        let old = self.tasks.insert(task.task_id.clone(), Arc::clone(&task));
        if let Some(old) = &old {
            self.release(old);
            self.uncount(old);
        }
        self.count(&task);
        old
    }

    /// As [`TaskTable::insert`], for a task built (its legacy JSON
    /// written) off the event loop, whose resources in normal form are
    /// `resources`.
    pub(crate) fn insert_prepared(
        &mut self,
        task: Arc<TaskEntry>,
        resources: &Resources,
    ) -> Option<Arc<TaskEntry>> {
        if !is_terminal(task.state) {
            self.charge_with(&task.agent_id, resources);
        }
        self.put(task)
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
                self.live -= 1;
                if let Some(r) = after.resources() {
                    self.release_use(&after.agent_id, &r);
                }
            }
            (false, true) => {
                self.live += 1;
                self.charge(&after);
            }
            _ => {}
        }
        Some((out, after))
    }

    pub(crate) fn remove(&mut self, id: &TaskId) -> Option<Arc<TaskEntry>> {
        let old = self.tasks.remove(id)?;
        self.release(&old);
        self.uncount(&old);
        Some(old)
    }

    /// Hands the table to `reclaim` a shard at a time (at 100,000 tasks,
    /// dropping it whole held the event loop up for most of a second);
    /// returns the ids of its tasks by agent.
    pub(crate) fn reclaim(self, reclaim: &mut Reclaim) -> BTreeMap<AgentId, BTreeSet<TaskId>> {
        for shard in self.tasks.into_shards() {
            reclaim.defer(shard);
        }
        for shard in self.used.into_shards() {
            reclaim.defer(shard);
        }
        self.on_agent
    }

    pub(crate) fn share(&self) -> SharedTasks {
        SharedTasks {
            tasks: self.tasks.share(),
            used: self.used.share(),
        }
    }

    /// What `task` uses, if it counts: live, with valid resources.
    fn counted(task: &TaskEntry) -> Option<Resources> {
        (!is_terminal(task.state))
            .then(|| task.resources())
            .flatten()
    }

    /// Counts a task coming in.
    fn count(&mut self, task: &TaskEntry) {
        self.live += usize::from(!is_terminal(task.state));
        let id = task.task_id.clone();
        match self.on_agent.get_mut(&task.agent_id) {
            Some(ids) => {
                ids.insert(id);
            }
            None => {
                self.on_agent
                    .insert(task.agent_id.clone(), BTreeSet::from([id]));
            }
        }
    }

    /// Counts a task going out.
    fn uncount(&mut self, task: &TaskEntry) {
        self.live -= usize::from(!is_terminal(task.state));
        if let Some(ids) = self.on_agent.get_mut(&task.agent_id) {
            ids.remove(&task.task_id);
            if ids.is_empty() {
                self.on_agent.remove(&task.agent_id);
            }
        }
    }

    fn charge(&mut self, task: &TaskEntry) {
        if let Some(r) = Self::counted(task) {
            self.charge_with(&task.agent_id, &r);
        }
    }

    /// Adds `r` to what is used on `agent`.
    fn charge_with(&mut self, agent: &AgentId, r: &Resources) {
        match self.used.get_mut(agent) {
            Some(used) => *used += r,
            None => {
                self.used.insert(agent.clone(), r.clone());
            }
        }
    }

    fn release(&mut self, task: &TaskEntry) {
        if let Some(r) = Self::counted(task) {
            self.release_use(&task.agent_id, &r);
        }
    }

    /// Takes `r` off what is used on `agent`, forgetting an agent left
    /// with nothing.
    fn release_use(&mut self, agent: &AgentId, r: &Resources) {
        let Some(on_agent) = self.used.get_mut(agent) else {
            return;
        };
        *on_agent -= r;
        if on_agent.is_empty() {
            self.used.remove(agent);
        }
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
        assert_eq!((agents(&t), t.live()), (vec!["a1", "a2"], 3));
        assert_eq!((on(&t, "a1"), on(&t, "a2")), (vec!["t1", "t2"], vec!["t3"]));
        // The same task again on the same agent: listed once.
        t.insert(task("t3", "a2", "cpus:2"));
        assert_eq!((on(&t, "a2"), t.live()), (vec!["t3"], 3));

        let (_, entry) = t
            .update(&TaskId { value: "t1".into() }, |task| {
                task.state = TaskState::TaskFinished as i32;
            })
            .unwrap();
        assert_eq!(entry.state, TaskState::TaskFinished as i32);
        assert_eq!(used(&t, "a1"), Some(res("cpus:0.5;mem:64")));
        // A terminal task still has its agent, and is not live.
        assert_eq!((agents(&t), t.live()), (vec!["a1", "a2"], 2));
        // Back to live (an unreachable task's agent returning, say).
        t.update(&id("t1"), |task| task.state = TaskState::TaskRunning as i32);
        assert_eq!(t.live(), 3);
        assert_eq!(used(&t, "a1"), Some(res("cpus:1.5;mem:192")));
        t.update(&id("t1"), |task| task.state = TaskState::TaskKilled as i32);
        assert_eq!(t.live(), 2);
        // Terminal tasks count for nothing when they go either.
        t.remove(&TaskId { value: "t1".into() });
        assert_eq!(used(&t, "a1"), Some(res("cpus:0.5;mem:64")));
        assert_eq!((agents(&t), t.live()), (vec!["a1", "a2"], 2));

        // Replacing a task counts the new one instead of the old.
        t.insert(task("t2", "a1", "cpus:0.25"));
        assert_eq!(used(&t, "a1"), Some(res("cpus:0.25")));
        assert_eq!((agents(&t), t.live()), (vec!["a1", "a2"], 2));
        assert_eq!(on(&t, "a1"), ["t2"]);
        // Replaced by a task on another agent: counted there instead.
        t.insert(task("t2", "a3", "cpus:0.25"));
        assert_eq!((agents(&t), t.live()), (vec!["a2", "a3"], 2));
        assert_eq!((on(&t, "a1"), on(&t, "a3")), (vec![], vec!["t2"]));
        t.insert(task("t2", "a1", "cpus:0.25"));
        assert_eq!(on(&t, "a1"), ["t2"]);
        // An agent whose tasks are all gone has no entry.
        t.remove(&TaskId { value: "t2".into() });
        assert_eq!(used(&t, "a1"), None);
        assert_eq!((agents(&t), t.live()), (vec!["a2"], 1));
        assert!(t.update(&TaskId { value: "t9".into() }, |_| ()).is_none());
        assert_eq!(t.keys().count(), 1);
        let mut reclaim = Reclaim::default();
        let kept = Arc::clone(t.get(&TaskId { value: "t3".into() }).unwrap());
        let on_agent = std::mem::take(&mut t).reclaim(&mut reclaim);
        // The ids by agent come back whole: TEARDOWN tells those agents.
        assert_eq!(
            on_agent.into_iter().collect::<Vec<_>>(),
            [(AgentId::new("a2"), BTreeSet::from([id("t3")]))]
        );
        assert_eq!(used(&t, "a2"), None);
        assert!(reclaim.is_pending());
        assert_eq!(Arc::strong_count(&kept), 2);
        reclaim.run(std::time::Duration::from_secs(60));
        assert_eq!(Arc::strong_count(&kept), 1);
    }

    fn id(s: &str) -> TaskId {
        TaskId { value: s.into() }
    }

    fn agents(t: &TaskTable) -> Vec<&str> {
        t.agents().map(|a| a.value.as_str()).collect()
    }

    fn on<'a>(t: &'a TaskTable, agent: &str) -> Vec<&'a str> {
        t.on(&AgentId::new(agent))
            .map(|id| id.value.as_str())
            .collect()
    }

    #[test]
    fn the_last_tasks_are_the_end_of_the_tables_order() {
        let mut t = TaskTable::default();
        // Enough tasks for several shards.
        for i in 0..3000 {
            t.insert(task(&format!("t{i}"), "a1", "cpus:1"));
        }
        let all: Vec<&TaskId> = t.values().map(|task| &task.task_id).collect();
        for n in [0, 1, 700, 3000, 5000] {
            let last = t.last(n);
            let ids: Vec<&TaskId> = last.iter().map(|task| &task.task_id).collect();
            assert_eq!(ids, all[all.len().saturating_sub(n)..], "last {n}");
        }
    }

    fn run(shard: &TaskShard, list: Listed) -> String {
        String::from_utf8(ShardJson::of_shard(shard).run(list).to_vec()).unwrap()
    }

    #[test]
    fn shard_json_lists_tasks_by_state_and_follows_changes() {
        let mut t = TaskTable::default();
        for (name, state) in [
            ("a", TaskState::TaskRunning),
            ("b", TaskState::TaskUnreachable),
            ("c", TaskState::TaskFinished),
            ("d", TaskState::TaskStaging),
        ] {
            let mut task = task(name, "a1", "cpus:1");
            task.state = state as i32;
            t.insert(task);
        }
        let seen = t.share();
        let shard = &seen.tasks.shards()[0];
        let json = |list| -> Vec<String> {
            serde_json::from_str::<Vec<serde_json::Value>>(&format!("[{}]", run(shard, list)))
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(json(Listed::Live), ["a", "d"]);
        assert_eq!(json(Listed::Unreachable), ["b"]);
        assert_eq!(json(Listed::Completed), ["c"]);

        t.update(&id("d"), |task| task.state = TaskState::TaskFailed as i32);
        let now = t.share();
        let shard = &now.tasks.shards()[0];
        assert!(!run(shard, Listed::Live).contains("\"d\""));
        assert!(run(shard, Listed::Completed).contains("TASK_FAILED"));
        // The earlier snapshot still lists what it saw.
        assert!(run(&seen.tasks.shards()[0], Listed::Live).contains("\"d\""));
        let t = TaskTable::default();
        assert_eq!(run(&t.share().tasks.shards()[0], Listed::Live), "");
    }

    #[test]
    fn helpers_join_shards_behind_the_writer_as_it_would_alone() {
        let mut t = TaskTable::default();
        // More than `HELP_FROM` shards.
        let n = (ShardJson::HELP_FROM + 1) * 512 + 1;
        for i in 0..n {
            t.insert(task(&format!("t{i}"), &format!("a{}", i % 7), "cpus:1"));
        }
        let seen = t.share();
        let shards = seen.tasks.shards();
        assert!(
            shards.len() > ShardJson::HELP_FROM,
            "{} shards",
            shards.len()
        );
        let written: Vec<String> = std::thread::scope(|scope| {
            ShardJson::join_behind(scope, shards.iter().map(|s| &**s));
            shards.iter().map(|s| run(s, Listed::Live)).collect()
        });
        for (shard, written) in shards.iter().zip(&written) {
            let alone: Vec<Vec<u8>> = shard.entries().values().map(|t| t.legacy_json()).collect();
            assert_eq!(written.as_bytes(), alone.join(&b","[..]).as_slice());
        }
        let listed: usize = written
            .iter()
            .map(|run| {
                serde_json::from_str::<Vec<serde_json::Value>>(&format!("[{run}]"))
                    .unwrap()
                    .len()
            })
            .sum();
        assert_eq!(listed, n);
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
