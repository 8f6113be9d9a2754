//! The agent's side of the v1 operator API (`POST /api/v1`): the calls
//! answered from the actor's state. Health, version and the files calls
//! are answered by the HTTP layer.

use super::Actor;
use super::state::live_task;
use mesos_proto::duration::format_duration;
use mesos_proto::resources::Resources;
use mesos_proto::v1::agent::{Response, call, response};
use mesos_proto::v1::{Flag, Metric, ResourceStatistics, TaskState};

impl Actor {
    /// The answer to an operator call of type `ty` (one of the state
    /// calls); `None` for a type answered elsewhere.
    pub(crate) fn operator(&self, ty: call::Type) -> Option<Response> {
        let mut out = Response::default();
        match ty {
            call::Type::GetFlags => {
                out.r#type = Some(response::Type::GetFlags as i32);
                out.get_flags = Some(response::GetFlags {
                    flags: self.flags(),
                });
            }
            call::Type::GetMetrics => {
                out.r#type = Some(response::Type::GetMetrics as i32);
                out.get_metrics = Some(response::GetMetrics {
                    metrics: Metric::list(self.metrics_snapshot()),
                });
            }
            call::Type::GetState => {
                out.r#type = Some(response::Type::GetState as i32);
                out.get_state = Some(response::GetState {
                    get_tasks: Some(self.get_tasks()),
                    get_executors: Some(self.get_executors()),
                    get_frameworks: Some(self.get_frameworks()),
                });
            }
            call::Type::GetContainers => {
                out.r#type = Some(response::Type::GetContainers as i32);
                out.get_containers = Some(self.get_containers());
            }
            call::Type::GetFrameworks => {
                out.r#type = Some(response::Type::GetFrameworks as i32);
                out.get_frameworks = Some(self.get_frameworks());
            }
            call::Type::GetExecutors => {
                out.r#type = Some(response::Type::GetExecutors as i32);
                out.get_executors = Some(self.get_executors());
            }
            call::Type::GetTasks => {
                out.r#type = Some(response::Type::GetTasks as i32);
                out.get_tasks = Some(self.get_tasks());
            }
            call::Type::GetAgent => {
                let mut info = self.info.clone();
                info.resources.clone_from(&self.resources);
                out.r#type = Some(response::Type::GetAgent as i32);
                out.get_agent = Some(response::GetAgent {
                    agent_info: Some(info),
                    ..Default::default()
                });
            }
            _ => return None,
        }
        Some(out)
    }

    /// The agent's flags, with Mesos' names.
    fn flags(&self) -> Vec<Flag> {
        let c = &self.config;
        let mut flags = vec![
            ("master", c.master.clone()),
            ("ip", c.ip.to_string()),
            ("port", self.addr.port().to_string()),
            ("work_dir", c.work_dir.display().to_string()),
            ("attributes", c.attributes.clone()),
            ("isolation", c.isolation.clone()),
            ("cgroups_root", c.cgroups_root.clone()),
            ("cgroups_enable_cfs", c.cgroups_enable_cfs.to_string()),
            (
                "executor_registration_timeout",
                format_duration(c.executor_registration_timeout),
            ),
            (
                "executor_shutdown_grace_period",
                format_duration(c.executor_shutdown_grace_period),
            ),
            (
                "recover",
                match c.recover {
                    crate::RecoverMode::Reconnect => "reconnect".into(),
                    crate::RecoverMode::Cleanup => "cleanup".into(),
                },
            ),
            ("recovery_timeout", format_duration(c.recovery_timeout)),
            ("gc_delay", format_duration(c.gc_delay)),
            ("fetcher_cache_size", c.fetcher_cache_size.to_string()),
        ];
        if let Some(r) = &c.resources {
            flags.push(("resources", r.clone()));
        }
        if let Some(h) = &c.hostname {
            flags.push(("hostname", h.clone()));
        }
        if let Some(d) = &c.fetcher_cache_dir {
            flags.push(("fetcher_cache_dir", d.display().to_string()));
        }
        flags.sort();
        flags
            .into_iter()
            .map(|(name, value)| Flag {
                name: name.into(),
                value: Some(value),
            })
            .collect()
    }

    fn get_tasks(&self) -> response::GetTasks {
        let mut out = response::GetTasks::default();
        for framework in self.frameworks.values() {
            for run in framework.executors.values() {
                for task in run.tasks.values() {
                    let task = live_task(run, &self.info, task);
                    if mesos_proto::is_terminal(task.state) {
                        out.terminated_tasks.push(task);
                    } else {
                        out.launched_tasks.push(task);
                    }
                }
                out.queued_tasks
                    .extend(run.tasks_for_master(&self.info).into_iter().filter(|t| {
                        t.state == TaskState::TaskStaging as i32
                            && !run.tasks.contains_key(&t.task_id)
                    }));
                out.completed_tasks
                    .extend(run.completed.iter().map(|t| live_task(run, &self.info, t)));
            }
        }
        out
    }

    fn get_executors(&self) -> response::GetExecutors {
        response::GetExecutors {
            executors: self
                .frameworks
                .values()
                .flat_map(|f| f.executors.values())
                .map(|run| response::get_executors::Executor {
                    executor_info: run.info.clone(),
                })
                .collect(),
            completed_executors: Vec::new(),
        }
    }

    fn get_frameworks(&self) -> response::GetFrameworks {
        response::GetFrameworks {
            frameworks: self
                .frameworks
                .values()
                .map(|f| response::get_frameworks::Framework {
                    framework_info: f.info.clone(),
                })
                .collect(),
            completed_frameworks: Vec::new(),
        }
    }

    fn get_containers(&self) -> response::GetContainers {
        let mut containers = Vec::new();
        for framework in self.frameworks.values() {
            for run in framework.executors.values() {
                let limits: Resources = super::executors::run_resources(run);
                let mut stats = ResourceStatistics {
                    timestamp: super::now_secs(),
                    cpus_limit: limits.cpus(),
                    mem_limit_bytes: limits.mem().map(|m| (m * 1024.0 * 1024.0) as u64),
                    ..Default::default()
                };
                if let Some(u) = self.containerizer.usage(&run.container_id) {
                    stats.cpus_user_time_secs = Some(u.cpus_user_time_secs);
                    stats.cpus_system_time_secs = Some(u.cpus_system_time_secs);
                    stats.mem_total_bytes = Some(u.mem_total_bytes);
                    stats.mem_rss_bytes = Some(u.mem_rss_bytes);
                    stats.mem_limit_bytes = u.mem_limit_bytes.or(stats.mem_limit_bytes);
                    stats.processes = Some(u.processes);
                }
                containers.push(response::get_containers::Container {
                    framework_id: Some(run.framework_id.clone()),
                    executor_id: Some(run.info.executor_id.clone()),
                    executor_name: run.info.name.clone(),
                    container_id: run.container_id.clone(),
                    container_status: None,
                    resource_statistics: Some(stats),
                });
            }
        }
        response::GetContainers { containers }
    }
}
