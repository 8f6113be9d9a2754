//! Builders for the messages every framework writes: [`TaskBuilder`],
//! [`CommandBuilder`], [`ExecutorBuilder`].
//!
//! ```
//! use mesos_proto::v1::AgentId;
//! use mesos_scheduler::builders::{CommandBuilder, TaskBuilder};
//! use std::time::Duration;
//!
//! let agent = AgentId { value: "a1".into() };
//! let task = TaskBuilder::new("web-1", &agent)
//!     .name("web")
//!     .command(CommandBuilder::shell("python3 -m http.server $PORT0").env("PORT0", "31000"))
//!     .kill_grace_period(Duration::from_secs(10))
//!     .label("owner", "team-a")
//!     .build();
//! assert_eq!(task.task_id.value, "web-1");
//! assert_eq!(task.command.unwrap().shell, Some(true));
//! assert_eq!(task.kill_policy.unwrap().grace_period.unwrap().nanoseconds, 10_000_000_000);
//! ```

use mesos_proto::v1::{
    AgentId, CommandInfo, ContainerInfo, DurationInfo, Environment, ExecutorId, ExecutorInfo,
    FrameworkId, KillPolicy, Label, Labels, Resource, TaskId, TaskInfo, command_info, environment,
    executor_info,
};
use std::time::Duration;

/// Builds a [`CommandInfo`].
#[derive(Debug, Clone)]
pub struct CommandBuilder {
    info: CommandInfo,
}

impl CommandBuilder {
    /// `/bin/sh -c <line>`.
    pub fn shell(line: &str) -> CommandBuilder {
        CommandBuilder {
            info: CommandInfo {
                shell: Some(true),
                value: Some(line.to_string()),
                ..Default::default()
            },
        }
    }

    /// `program` run directly with `args` (`argv[0]` included, as Mesos
    /// expects).
    pub fn exec<S: AsRef<str>>(program: &str, args: impl IntoIterator<Item = S>) -> CommandBuilder {
        CommandBuilder {
            info: CommandInfo {
                shell: Some(false),
                value: Some(program.to_string()),
                arguments: args.into_iter().map(|a| a.as_ref().to_string()).collect(),
                ..Default::default()
            },
        }
    }

    /// An environment variable.
    pub fn env(mut self, name: &str, value: &str) -> CommandBuilder {
        self.info
            .environment
            .get_or_insert_with(Environment::default)
            .variables
            .push(environment::Variable {
                name: name.to_string(),
                r#type: Some(environment::variable::Type::Value as i32),
                value: Some(value.to_string()),
                secret: None,
            });
        self
    }

    /// A URI the fetcher downloads into the sandbox first.
    pub fn uri(mut self, uri: &str, executable: bool, extract: bool) -> CommandBuilder {
        self.info.uris.push(command_info::Uri {
            value: uri.to_string(),
            executable: Some(executable),
            extract: Some(extract),
            ..Default::default()
        });
        self
    }

    /// Run as `user`.
    pub fn user(mut self, user: &str) -> CommandBuilder {
        self.info.user = Some(user.to_string());
        self
    }

    /// The command.
    pub fn build(self) -> CommandInfo {
        self.info
    }
}

impl From<CommandBuilder> for CommandInfo {
    fn from(b: CommandBuilder) -> CommandInfo {
        b.build()
    }
}

/// Builds a [`TaskInfo`].
#[derive(Debug, Clone)]
pub struct TaskBuilder {
    info: TaskInfo,
}

impl TaskBuilder {
    /// Task `id` on `agent` (named after its id until [`TaskBuilder::name`]).
    pub fn new(id: &str, agent: &AgentId) -> TaskBuilder {
        TaskBuilder {
            info: TaskInfo {
                name: id.to_string(),
                task_id: TaskId {
                    value: id.to_string(),
                },
                agent_id: agent.clone(),
                ..Default::default()
            },
        }
    }

    /// The task's name.
    pub fn name(mut self, name: &str) -> TaskBuilder {
        self.info.name = name.to_string();
        self
    }

    /// A shell command run by the agent's command executor.
    pub fn shell(self, line: &str) -> TaskBuilder {
        self.command(CommandBuilder::shell(line))
    }

    /// A command run by the agent's command executor.
    pub fn command(mut self, command: impl Into<CommandInfo>) -> TaskBuilder {
        self.info.command = Some(command.into());
        self
    }

    /// Run by this executor instead (then the command, if any, is the
    /// executor's business).
    pub fn executor(mut self, executor: ExecutorInfo) -> TaskBuilder {
        self.info.executor = Some(executor);
        self
    }

    /// The task's resources (from [`crate::offers::OfferResources::take`]).
    pub fn resources(mut self, resources: Vec<Resource>) -> TaskBuilder {
        self.info.resources = resources;
        self
    }

    /// The task's container (image, volumes, rlimits, ...).
    pub fn container(mut self, container: ContainerInfo) -> TaskBuilder {
        self.info.container = Some(container);
        self
    }

    /// How long between SIGTERM and SIGKILL when the task is killed.
    pub fn kill_grace_period(mut self, grace: Duration) -> TaskBuilder {
        self.info.kill_policy = Some(KillPolicy {
            grace_period: Some(duration_info(grace)),
        });
        self
    }

    /// A label.
    pub fn label(mut self, key: &str, value: &str) -> TaskBuilder {
        self.info
            .labels
            .get_or_insert_with(Labels::default)
            .labels
            .push(Label {
                key: key.to_string(),
                value: Some(value.to_string()),
            });
        self
    }

    /// Opaque data for the executor.
    pub fn data(mut self, data: Vec<u8>) -> TaskBuilder {
        self.info.data = Some(data);
        self
    }

    /// The task.
    pub fn build(self) -> TaskInfo {
        self.info
    }
}

/// Builds an [`ExecutorInfo`]: a custom executor run by a command, or the
/// agent's default executor (for task groups).
///
/// ```
/// use mesos_proto::v1::FrameworkId;
/// use mesos_scheduler::builders::{CommandBuilder, ExecutorBuilder};
///
/// let fw = FrameworkId { value: "f1".into() };
/// let custom = ExecutorBuilder::custom("echo", CommandBuilder::exec("/usr/bin/echo-executor", ["echo-executor"]))
///     .framework(&fw)
///     .build();
/// assert_eq!(custom.r#type, Some(2)); // CUSTOM
/// let default = ExecutorBuilder::default_executor("group-1").framework(&fw).build();
/// assert!(default.command.is_none());
/// ```
#[derive(Debug, Clone)]
pub struct ExecutorBuilder {
    info: ExecutorInfo,
}

impl ExecutorBuilder {
    /// A CUSTOM executor `id` started by `command`.
    pub fn custom(id: &str, command: impl Into<CommandInfo>) -> ExecutorBuilder {
        ExecutorBuilder {
            info: ExecutorInfo {
                r#type: Some(executor_info::Type::Custom as i32),
                executor_id: ExecutorId {
                    value: id.to_string(),
                },
                command: Some(command.into()),
                ..Default::default()
            },
        }
    }

    /// The agent's DEFAULT executor, `id`, for task groups.
    pub fn default_executor(id: &str) -> ExecutorBuilder {
        ExecutorBuilder {
            info: ExecutorInfo {
                r#type: Some(executor_info::Type::Default as i32),
                executor_id: ExecutorId {
                    value: id.to_string(),
                },
                ..Default::default()
            },
        }
    }

    /// The framework (required by Mesos for LAUNCH_GROUP).
    pub fn framework(mut self, framework: &FrameworkId) -> ExecutorBuilder {
        self.info.framework_id = Some(framework.clone());
        self
    }

    /// The executor's own resources.
    pub fn resources(mut self, resources: Vec<Resource>) -> ExecutorBuilder {
        self.info.resources = resources;
        self
    }

    /// A name.
    pub fn name(mut self, name: &str) -> ExecutorBuilder {
        self.info.name = Some(name.to_string());
        self
    }

    /// The executor.
    pub fn build(self) -> ExecutorInfo {
        self.info
    }
}

/// A [`DurationInfo`] of `d`.
pub fn duration_info(d: Duration) -> DurationInfo {
    DurationInfo {
        nanoseconds: i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
    }
}
