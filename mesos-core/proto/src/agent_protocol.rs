//! The master/agent protocol (ours, not Mesos' libprocess messages).
//!
//! The agent POSTs [`AgentCall`]s to the master's `/api/v1/agent`, in
//! protobuf. A `REGISTER` call is answered with a long-lived RecordIO stream
//! of [`AgentEvent`]s (like a scheduler's SUBSCRIBE) and a
//! `Mesos-Stream-Id`; every later call names that stream. Registration is
//! idempotent and carries the agent's tasks, so a restarted master or agent
//! converges. [`PROTOCOL_VERSION`] is checked at registration.
//!
//! The payloads are the v1 messages (`AgentInfo`, `TaskInfo`,
//! `TaskStatus`, ...), so nothing is translated on the way to frameworks.

use crate::v1::{
    AgentId, AgentInfo, ExecutorId, ExecutorInfo, FrameworkId, FrameworkInfo, KillPolicy,
    MasterInfo, Resource, Task, TaskGroupInfo, TaskId, TaskInfo, TaskStatus,
};

/// The protocol version this build speaks. A master takes agents from
/// [`OLDEST_PROTOCOL_VERSION`] up to its own and refuses the others
/// plainly, so an agent never talks to a master that would drop what it
/// sends. Version 2 added `UPDATE` calls carrying several updates
/// ([`AgentCall::updates`]).
pub const PROTOCOL_VERSION: u32 = 2;

/// The oldest agent protocol version a master of this build takes.
pub const OLDEST_PROTOCOL_VERSION: u32 = 1;

/// Status updates in one `UPDATE` call at most ([`update_calls`]).
pub const UPDATES_PER_CALL: usize = 256;

/// The `UPDATE` calls of agent `agent_id` carrying `updates` in order, at
/// most [`UPDATES_PER_CALL`] in each (none for no updates).
///
/// ```
/// use mesos_proto::agent_protocol::{agent_call, update_calls};
/// use mesos_proto::v1::{AgentId, FrameworkId, TaskStatus};
///
/// let update = agent_call::Update {
///     framework_id: FrameworkId::new("f"),
///     status: TaskStatus::default(),
/// };
/// let calls: Vec<_> = update_calls(Some(AgentId::new("a")), vec![update; 300]).collect();
/// assert_eq!(calls.len(), 2);
/// assert_eq!(calls[0].updates.len(), 256);
/// assert_eq!(calls[1].updates.len(), 44);
/// ```
pub fn update_calls(
    agent_id: Option<AgentId>,
    updates: Vec<agent_call::Update>,
) -> impl Iterator<Item = AgentCall> {
    let mut rest = updates;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let tail = rest.split_off(rest.len().min(UPDATES_PER_CALL));
        Some(AgentCall {
            r#type: agent_call::Type::Update as i32,
            agent_id: agent_id.clone(),
            updates: std::mem::replace(&mut rest, tail),
            ..Default::default()
        })
    })
}

/// A framework message between a scheduler and one of its executors, in
/// either direction (`MESSAGE` call and event).
#[derive(Clone, PartialEq, prost::Message)]
pub struct FrameworkMessage {
    /// The executor's framework.
    #[prost(message, required, tag = "1")]
    pub framework_id: FrameworkId,
    /// The executor (sender or addressee).
    #[prost(message, required, tag = "2")]
    pub executor_id: ExecutorId,
    /// The opaque payload.
    #[prost(bytes = "vec", tag = "3")]
    pub data: Vec<u8>,
}

/// A call from an agent to the master.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AgentCall {
    /// What the call is.
    #[prost(enumeration = "agent_call::Type", tag = "1")]
    pub r#type: i32,
    /// The agent's id, on every call but a first registration.
    #[prost(message, optional, tag = "2")]
    pub agent_id: Option<AgentId>,
    /// With `REGISTER`.
    #[prost(message, optional, tag = "3")]
    pub register: Option<agent_call::Register>,
    /// With `UPDATE`: one update (see also `updates`).
    #[prost(message, optional, tag = "4")]
    pub update: Option<agent_call::Update>,
    /// With `MESSAGE`.
    #[prost(message, optional, tag = "5")]
    pub message: Option<agent_call::Message>,
    /// With `EXITED_EXECUTOR`.
    #[prost(message, optional, tag = "6")]
    pub exited_executor: Option<agent_call::ExitedExecutor>,
    /// With `UPDATE`: more updates in the same call, handled in order
    /// after `update` (if set). An agent with updates of several tasks
    /// ready at once (tasks launched together, a task group) sends them in
    /// one call rather than a call each.
    #[prost(message, repeated, tag = "7")]
    pub updates: Vec<agent_call::Update>,
}

/// Parts of [`AgentCall`].
pub mod agent_call {
    use super::*;

    /// Agent call types.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Type {
        /// Unset: refused.
        Unknown = 0,
        /// Register or re-register; answered with the event stream.
        Register = 1,
        /// Task status updates (`update`, then `updates`), each to be
        /// acknowledged by its framework.
        Update = 2,
        /// The agent is alive.
        Heartbeat = 3,
        /// A framework message from an executor to its scheduler.
        Message = 4,
        /// An executor the master knows of (not a command executor the
        /// agent generated) ended.
        ExitedExecutor = 5,
    }

    /// Registration: who the agent is, what it has, what runs on it.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Register {
        /// The agent's [`super::PROTOCOL_VERSION`].
        #[prost(uint32, tag = "1")]
        pub protocol_version: u32,
        /// Hostname, port, attributes; `id` set when re-registering.
        #[prost(message, required, tag = "2")]
        pub agent_info: AgentInfo,
        /// Total resources.
        #[prost(message, repeated, tag = "3")]
        pub resources: Vec<Resource>,
        /// Tasks running on the agent (re-registration).
        #[prost(message, repeated, tag = "4")]
        pub tasks: Vec<Task>,
        /// Frameworks of those tasks.
        #[prost(message, repeated, tag = "5")]
        pub frameworks: Vec<FrameworkInfo>,
        /// Executors running on the agent.
        #[prost(message, repeated, tag = "6")]
        pub executors: Vec<ExecutorInfo>,
    }

    /// A status update from a task's executor, via the agent.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Update {
        /// The task's framework.
        #[prost(message, required, tag = "1")]
        pub framework_id: FrameworkId,
        /// The status, with the `uuid` the acknowledgement will name.
        #[prost(message, required, tag = "2")]
        pub status: TaskStatus,
    }

    /// A framework message from an executor; best effort, as in Mesos.
    pub type Message = super::FrameworkMessage;

    /// An executor ended; the master releases its resources and tells
    /// the framework (a `FAILURE` event naming the executor).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExitedExecutor {
        /// The executor's framework.
        #[prost(message, required, tag = "1")]
        pub framework_id: FrameworkId,
        /// The executor.
        #[prost(message, required, tag = "2")]
        pub executor_id: ExecutorId,
        /// Its wait status, as `waitpid(2)` gives it (exit code << 8,
        /// or the terminating signal), as Mesos reports it.
        #[prost(int32, tag = "3")]
        pub status: i32,
    }
}

/// An event from the master to an agent, on the agent's stream.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AgentEvent {
    /// What the event is.
    #[prost(enumeration = "agent_event::Type", tag = "1")]
    pub r#type: i32,
    /// With `REGISTERED`.
    #[prost(message, optional, tag = "2")]
    pub registered: Option<agent_event::Registered>,
    /// With `RUN_TASK`. Boxed, as is `run_task_group`: a `TaskInfo` is
    /// kilobytes, and every queued event would otherwise be that large
    /// (an agent's event queue allocates its slots in blocks).
    #[prost(message, optional, boxed, tag = "3")]
    pub run_task: Option<Box<agent_event::RunTask>>,
    /// With `RUN_TASK_GROUP`.
    #[prost(message, optional, boxed, tag = "4")]
    pub run_task_group: Option<Box<agent_event::RunTaskGroup>>,
    /// With `KILL_TASK`.
    #[prost(message, optional, tag = "5")]
    pub kill_task: Option<agent_event::KillTask>,
    /// With `ACKNOWLEDGE`.
    #[prost(message, optional, tag = "6")]
    pub acknowledge: Option<agent_event::Acknowledge>,
    /// With `SHUTDOWN_FRAMEWORK`.
    #[prost(message, optional, tag = "7")]
    pub shutdown_framework: Option<agent_event::ShutdownFramework>,
    /// With `ERROR`.
    #[prost(string, optional, tag = "8")]
    pub error: Option<String>,
    /// With `MESSAGE`.
    #[prost(message, optional, tag = "9")]
    pub message: Option<agent_event::Message>,
    /// With `SHUTDOWN_EXECUTOR`.
    #[prost(message, optional, tag = "10")]
    pub shutdown_executor: Option<agent_event::ShutdownExecutor>,
}

/// Parts of [`AgentEvent`].
pub mod agent_event {
    use super::*;

    /// Agent event types.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Type {
        /// Unset: ignored.
        Unknown = 0,
        /// The registration was accepted.
        Registered = 1,
        /// Launch a task.
        RunTask = 2,
        /// Launch a task group on the default executor.
        RunTaskGroup = 3,
        /// Kill a task.
        KillTask = 4,
        /// A framework acknowledged a status update.
        Acknowledge = 5,
        /// A framework is gone: kill its tasks and executors.
        ShutdownFramework = 6,
        /// The master is alive.
        Heartbeat = 7,
        /// The registration was refused; the stream ends.
        Error = 8,
        /// A framework message for an executor.
        Message = 9,
        /// A scheduler asked for one of its executors to shut down.
        ShutdownExecutor = 10,
    }

    /// The agent's id and how often the master will send heartbeats.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Registered {
        /// The agent's id (assigned on first registration).
        #[prost(message, required, tag = "1")]
        pub agent_id: AgentId,
        /// Seconds between HEARTBEAT events.
        #[prost(double, tag = "2")]
        pub heartbeat_interval_seconds: f64,
        /// Who the master is.
        #[prost(message, optional, tag = "3")]
        pub master_info: Option<MasterInfo>,
    }

    /// A task to launch.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RunTask {
        /// The task's framework.
        #[prost(message, required, tag = "1")]
        pub framework_info: FrameworkInfo,
        /// The task, with its resources allocated to the role.
        #[prost(message, required, tag = "2")]
        pub task: TaskInfo,
    }

    /// A task group to launch.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RunTaskGroup {
        /// The group's framework.
        #[prost(message, required, tag = "1")]
        pub framework_info: FrameworkInfo,
        /// The executor that runs the group.
        #[prost(message, required, tag = "2")]
        pub executor_info: ExecutorInfo,
        /// The tasks.
        #[prost(message, required, tag = "3")]
        pub task_group: TaskGroupInfo,
    }

    /// A task to kill.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct KillTask {
        /// The task's framework.
        #[prost(message, required, tag = "1")]
        pub framework_id: FrameworkId,
        /// The task.
        #[prost(message, required, tag = "2")]
        pub task_id: TaskId,
        /// Overrides the task's kill policy.
        #[prost(message, optional, tag = "3")]
        pub kill_policy: Option<KillPolicy>,
    }

    /// A framework acknowledged the update with `uuid`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Acknowledge {
        /// The task's framework.
        #[prost(message, required, tag = "1")]
        pub framework_id: FrameworkId,
        /// The task.
        #[prost(message, required, tag = "2")]
        pub task_id: TaskId,
        /// The acknowledged update's uuid.
        #[prost(bytes = "vec", tag = "3")]
        pub uuid: Vec<u8>,
    }

    /// A framework that is gone.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ShutdownFramework {
        /// The framework.
        #[prost(message, required, tag = "1")]
        pub framework_id: FrameworkId,
    }

    /// A framework message from a scheduler to one of its executors;
    /// best effort, as in Mesos.
    pub type Message = super::FrameworkMessage;

    /// An executor to shut down (its tasks are killed, then it is).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ShutdownExecutor {
        /// The executor's framework.
        #[prost(message, required, tag = "1")]
        pub framework_id: FrameworkId,
        /// The executor.
        #[prost(message, required, tag = "2")]
        pub executor_id: ExecutorId,
    }
}
