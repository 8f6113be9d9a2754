//! A task as the master keeps it, with what the state views derive from
//! it remembered until the task changes.
//!
//! `/state` and its kin are read over and over (dashboards, load
//! balancers and service discovery poll them every few seconds) while
//! most tasks stay as they were. So each task remembers its normalized
//! resources (what usage sums add up) and its legacy JSON (what `/state`
//! writes for it) once computed; any change to the task forgets both.
//! Computing happens on the reader's side, off the master's loop, and a
//! snapshot sharing the entry keeps what it computed.

use mesos_proto::json::JsonWriter;
use mesos_proto::resources::Resources;
use mesos_proto::v1::Task;
use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

/// A [`Task`] with its derived forms, computed at most once per version
/// of the task. It dereferences to the task; changing the task through
/// [`DerefMut`] forgets what was derived.
#[derive(Debug, Default)]
pub(crate) struct TaskEntry {
    task: Task,
    /// The task's resources in normal form; `None` if they do not
    /// validate (the master validated them at launch, so only a task an
    /// agent reported can lack them).
    normalized: OnceLock<Option<Resources>>,
    /// The task in Mesos' legacy JSON model (`/state`, `/tasks`).
    legacy: OnceLock<Box<[u8]>>,
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

    /// The task's resources in normal form, computed the first time.
    pub(crate) fn resources(&self) -> Option<&Resources> {
        self.normalized
            .get_or_init(|| Resources::from_resources(self.task.resources.clone()).ok())
            .as_ref()
    }

    /// The task as the legacy endpoints write it, computed the first time.
    pub(crate) fn legacy_json(&self) -> &[u8] {
        self.legacy.get_or_init(|| {
            let mut w = JsonWriter::with_buffer(Vec::with_capacity(512));
            mesos_proto::json::legacy::task(&mut w, &self.task);
            w.into_inner().into_boxed_slice()
        })
    }
}

impl TaskEntry {
    /// Changes the task's state and statuses through `change`, which must
    /// leave its resources and agent as they are (debug builds check):
    /// the normalized resources are kept, the legacy JSON forgotten.
    pub(crate) fn change_status<R>(&mut self, change: impl FnOnce(&mut Task) -> R) -> R {
        #[cfg(debug_assertions)]
        let before = (self.task.resources.clone(), self.task.agent_id.clone());
        self.legacy.take();
        let out = change(&mut self.task);
        #[cfg(debug_assertions)]
        assert!(
            before == (self.task.resources.clone(), self.task.agent_id.clone()),
            "a status change changed task {}'s resources or agent",
            self.task.task_id.value
        );
        out
    }
}

impl Clone for TaskEntry {
    /// A copy of the task only: it is copied to be changed
    /// (`Arc::make_mut`), which would forget the rest anyway.
    fn clone(&self) -> TaskEntry {
        TaskEntry::new(self.task.clone())
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
        self.normalized.take();
        self.legacy.take();
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
        String::from_utf8(e.legacy_json().to_vec()).unwrap()
    }

    #[test]
    fn derived_forms_match_the_task() {
        let e = TaskEntry::new(task());
        let mut w = JsonWriter::new();
        mesos_proto::json::legacy::task(&mut w, &task());
        assert_eq!(e.legacy_json(), w.into_inner().as_slice());
        let cpus: Resources = "cpus:1.5".parse().unwrap();
        assert_eq!(e.resources(), Some(&cpus));
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
        assert_eq!(e.resources(), Some(&cpus));
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
    fn invalid_resources_are_none_not_a_panic() {
        let mut t = task();
        t.resources[0].scalar = Some(value::Scalar { value: -1.0 });
        let e = TaskEntry::new(t);
        assert_eq!(e.resources(), None);
        assert!(json(&e).contains("\"cpus\""));
    }
}
