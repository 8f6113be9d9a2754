//! The framework that pairs with the `echo-executor` example: launches
//! one task on it, sends it a framework message, prints the reply
//! (`echo: ...`), then kills the task and exits.
//!
//! ```text
//! cargo run --release -- local                  # in one terminal
//! cargo build -p mesos-examples --bin echo-executor
//! cargo run -p mesos-examples --bin echo-framework -- 127.0.0.1:5050 target/debug/echo-executor
//! ```

use mesos_proto::v1::{AgentId, ExecutorId, FrameworkInfo, Offer, TaskState, TaskStatus};
use mesos_scheduler::builders::{CommandBuilder, ExecutorBuilder, TaskBuilder};
use mesos_scheduler::offers::{Needs, OfferResources};
use mesos_scheduler::reconcile::is_terminal;
use mesos_scheduler::{Scheduler, SchedulerConfig, SchedulerDriver};

struct EchoFramework {
    executor_path: String,
    launched: bool,
    reply: Option<String>,
}

impl Scheduler for EchoFramework {
    async fn offers(&mut self, driver: &SchedulerDriver, offers: Vec<Offer>) {
        for offer in offers {
            let mut pool = OfferResources::new(&offer);
            let picked = if self.launched {
                None
            } else {
                pool.take(&Needs::new(0.1, 32.0))
                    .zip(pool.take(&Needs::new(0.1, 32.0)))
            };
            let Some((task_resources, executor_resources)) = picked else {
                let _ = driver.decline(vec![offer.id], None).await;
                continue;
            };
            let framework = driver.framework_id().unwrap_or_default();
            let executor = ExecutorBuilder::custom(
                "echo",
                CommandBuilder::exec(&self.executor_path, [self.executor_path.as_str()]),
            )
            .framework(&framework)
            .resources(executor_resources)
            .build();
            let task = TaskBuilder::new("echo-1", &offer.agent_id)
                .executor(executor)
                .data(b"hello".to_vec())
                .resources(task_resources)
                .build();
            self.launched = driver
                .launch(vec![offer.id], vec![task], None)
                .await
                .is_ok();
        }
    }

    async fn update(&mut self, driver: &SchedulerDriver, status: TaskStatus) {
        println!("{}: {}", status.task_id.value, status.state().as_str_name());
        if status.state() == TaskState::TaskRunning {
            if let Some(agent) = status.agent_id.clone() {
                let executor = ExecutorId {
                    value: "echo".into(),
                };
                if let Err(e) = driver.message(agent, executor, b"ping".to_vec()).await {
                    eprintln!("echo-framework: {e}");
                }
            }
        }
        if is_terminal(status.state) && self.reply.is_some() {
            let _ = driver.teardown().await;
        }
    }

    async fn message(
        &mut self,
        driver: &SchedulerDriver,
        agent: AgentId,
        _: ExecutorId,
        data: Vec<u8>,
    ) {
        let reply = String::from_utf8_lossy(&data).into_owned();
        println!("reply: {reply}");
        self.reply = Some(reply);
        // The echo executor's task finishes by itself; the executor stays
        // until the framework goes.
        let _ = driver
            .shutdown(
                ExecutorId {
                    value: "echo".into(),
                },
                agent,
            )
            .await;
        let _ = driver.teardown().await;
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let master = args.first().map_or("127.0.0.1:5050", String::as_str);
    let executor_path = args
        .get(1)
        .ok_or("usage: echo-framework MASTER PATH_TO_ECHO_EXECUTOR")?
        .clone();
    let info = FrameworkInfo {
        user: "root".into(),
        name: "echo-framework".into(),
        ..Default::default()
    };
    let driver = SchedulerDriver::new(SchedulerConfig::new(master, info)?);
    let mut framework = EchoFramework {
        executor_path,
        launched: false,
        reply: None,
    };
    driver.run(&mut framework).await?;
    match framework.reply {
        Some(_) => Ok(()),
        None => Err("no reply from the executor".into()),
    }
}
