//! A task as the master keeps it, with what the state views derive from
//! it remembered until the task changes.
//!
//! `/state` and its kin are read over and over (dashboards, load
//! balancers and service discovery poll them every few seconds) while
//! most tasks stay as they were. So each task remembers the part of its
//! legacy JSON that status updates leave alone (id, name, resources,
//! labels, container: most of it). A status update keeps it; any other
//! change forgets it. A snapshot sharing the entry keeps what was
//! computed. Its resources in normal form (what usage sums add up) are
//! not kept: they are needed twice in a task's life, when it starts and
//! when it ends, and kept they took 1.1 KB a task.
//!
//! The master writes that JSON when it adds the task, while the task it
//! just built is in the cache: written later by a reader, after a launch
//! of 100,000 tasks, each task's strings were a cache miss apiece and
//! the first `/state` spent most of its time on them.

use mesos_proto::json::{JsonWriter, legacy};
use mesos_proto::resources::Resources;
use mesos_proto::v1::Task;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, OnceLock};

/// A [`Task`] with its remembered JSON, computed at most once per version
/// of the task. It dereferences to the task; changing the task through
/// [`DerefMut`] forgets what was derived.
#[derive(Debug, Default)]
pub(crate) struct TaskEntry {
    task: Task,
    /// The members of the task's legacy JSON (`/state`, `/tasks`) that
    /// status updates leave as they are, without braces. Shared by
    /// copies, which a status update makes.
    fixed: OnceLock<Arc<[u8]>>,
}

impl TaskEntry {
    /// Keeps `task`, nothing derived yet.
    pub(crate) fn new(task: Task) -> TaskEntry {
        TaskEntry {
            task,
            ..TaskEntry::default()
        }
    }

    /// The task itself.
    pub(crate) fn task(&self) -> &Task {
        &self.task
    }

    /// The task's resources in normal form; `None` if they do not
    /// validate (the master validated them at launch, so only a task an
    /// agent reported can lack them).
    pub(crate) fn resources(&self) -> Option<Resources> {
        Resources::from_resources(self.task.resources.clone()).ok()
    }

    /// Writes the task as the legacy endpoints show it: what it
    /// remembers (computed now if it does not yet), then its state and
    /// statuses.
    pub(crate) fn write_legacy(&self, w: &mut JsonWriter) {
        w.begin_object();
        w.raw(self.fixed_members());
        legacy::task_status_members(w, &self.task);
        w.end_object();
    }

    /// The task's whole legacy JSON, for tests to compare.
    #[cfg(test)]
    pub(crate) fn legacy_json(&self) -> Vec<u8> {
        let mut w = JsonWriter::new();
        self.write_legacy(&mut w);
        w.into_inner()
    }

    /// The members of its legacy JSON that status updates leave alone,
    /// computed the first time.
    pub(crate) fn fixed_members(&self) -> &[u8] {
        self.fixed.get_or_init(|| fixed_members(&self.task).into())
    }

    /// About how many bytes [`TaskEntry::write_legacy`] writes, to size
    /// buffers.
    pub(crate) fn legacy_size(&self) -> usize {
        self.fixed.get().map_or(512, |f| f.len()) + 48 + 64 * self.task.statuses.len()
    }
}

/// What [`TaskEntry::fixed_members`] remembers.
fn fixed_members(task: &Task) -> Vec<u8> {
    let mut w = JsonWriter::with_buffer(Vec::with_capacity(512));
    w.begin_object();
    legacy::task_fixed_members(&mut w, task);
    let mut bytes = w.into_inner();
    bytes.remove(0);
    bytes
}

impl TaskEntry {
    /// Changes the task's state and statuses through `change`, which must
    /// leave the rest as it is (debug builds check): what was derived is
    /// kept.
    pub(crate) fn change_status<R>(&mut self, change: impl FnOnce(&mut Task) -> R) -> R {
        #[cfg(debug_assertions)]
        let before = (self.task.resources.clone(), fixed_members(&self.task));
        let out = change(&mut self.task);
        #[cfg(debug_assertions)]
        assert!(
            before == (self.task.resources.clone(), fixed_members(&self.task)),
            "a status change changed more of task {} than its state and statuses",
            self.task.task_id.value
        );
        out
    }
}

impl Clone for TaskEntry {
    /// A copy, to be changed (`Arc::make_mut`): it shares the remembered
    /// JSON, which a status update keeps.
    fn clone(&self) -> TaskEntry {
        let fixed = OnceLock::new();
        if let Some(f) = self.fixed.get() {
            let _ = fixed.set(Arc::clone(f));
        }
        TaskEntry {
            task: self.task.clone(),
            fixed,
        }
    }
}

impl Deref for TaskEntry {
    type Target = Task;

    fn deref(&self) -> &Task {
        &self.task
    }
}

impl DerefMut for TaskEntry {
    /// The task, to change: what was derived from it is forgotten.
    fn deref_mut(&mut self) -> &mut Task {
        self.fixed.take();
        &mut self.task
    }
}

impl From<Task> for TaskEntry {
    fn from(task: Task) -> TaskEntry {
        TaskEntry::new(task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::v1::{Resource, TaskState, value};

    fn task() -> Task {
        let mut t = Task {
            name: "web".into(),
            state: TaskState::TaskRunning as i32,
            ..Default::default()
        };
        t.task_id.value = "t1".into();
        t.resources = vec![Resource {
            name: "cpus".into(),
            r#type: value::Type::Scalar as i32,
            scalar: Some(value::Scalar { value: 1.5 }),
            ..Default::default()
        }];
        t
    }

    fn json(e: &TaskEntry) -> String {
        String::from_utf8(e.legacy_json()).unwrap()
    }

    #[test]
    fn derived_forms_match_the_task() {
        let e = TaskEntry::new(task());
        let mut w = JsonWriter::new();
        mesos_proto::json::legacy::task(&mut w, &task());
        assert_eq!(json(&e), String::from_utf8(w.into_inner()).unwrap());
        let cpus: Resources = "cpus:1.5".parse().unwrap();
        assert_eq!(e.resources(), Some(cpus));
    }

    #[test]
    fn a_change_forgets_what_was_derived() {
        let mut e = TaskEntry::new(task());
        assert!(json(&e).contains("\"TASK_RUNNING\""));
        assert!(e.resources().is_some());
        e.state = TaskState::TaskFinished as i32;
        e.resources[0].scalar = Some(value::Scalar { value: 3.0 });
        assert!(json(&e).contains("\"TASK_FINISHED\""), "{}", json(&e));
        assert!(!json(&e).contains("\"TASK_RUNNING\""));
        let cpus: Resources = "cpus:3".parse().unwrap();
        assert_eq!(e.resources(), Some(cpus));
    }

    #[test]
    fn a_shared_entry_changed_copy_on_write_keeps_the_old_version() {
        let mut mine = std::sync::Arc::new(TaskEntry::new(task()));
        let snapshot = std::sync::Arc::clone(&mine);
        assert!(json(&snapshot).contains("TASK_RUNNING"));
        std::sync::Arc::make_mut(&mut mine).state = TaskState::TaskKilled as i32;
        assert!(json(&mine).contains("TASK_KILLED"));
        assert!(json(&snapshot).contains("TASK_RUNNING"));
    }

    #[test]
    fn a_status_change_keeps_the_fixed_members_and_writes_the_new_state() {
        let mut mine = std::sync::Arc::new(TaskEntry::new(task()));
        let fixed = mine.fixed_members().as_ptr();
        let snapshot = std::sync::Arc::clone(&mine);
        std::sync::Arc::make_mut(&mut mine).change_status(|t| {
            t.state = TaskState::TaskFinished as i32;
            t.statuses.push(mesos_proto::v1::TaskStatus {
                state: TaskState::TaskFinished as i32,
                timestamp: Some(2.5),
                ..Default::default()
            });
        });
        assert_eq!(
            mine.fixed_members().as_ptr(),
            fixed,
            "shared, not written again"
        );
        let changed: serde_json::Value = serde_json::from_str(&json(&mine)).unwrap();
        assert_eq!(changed["state"], "TASK_FINISHED");
        assert_eq!(changed["statuses"][0]["timestamp"], 2.5);
        assert_eq!(changed["name"], "web");
        assert!(json(&snapshot).contains("TASK_RUNNING"));
        let mut w = JsonWriter::new();
        mesos_proto::json::legacy::task(&mut w, mine.task());
        assert_eq!(json(&mine), String::from_utf8(w.into_inner()).unwrap());
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "more of task t1 than its state and statuses")]
    fn a_status_change_that_renames_the_task_is_caught() {
        let mut e = TaskEntry::new(task());
        e.change_status(|t| t.name = "other".into());
    }

    #[test]
    fn invalid_resources_are_none_not_a_panic() {
        let mut t = task();
        t.resources[0].scalar = Some(value::Scalar { value: -1.0 });
        let e = TaskEntry::new(t);
        assert_eq!(e.resources(), None);
        assert!(json(&e).contains("\"cpus\""));
    }
}
