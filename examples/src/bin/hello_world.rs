//! The hello-world framework: launches N `echo` tasks (default 3), prints
//! every state change, and exits 0 when all have finished (1 if one fails).
//!
//! ```text
//! cargo run --release -- local                  # in one terminal
//! cargo run -p mesos-examples --bin hello-world -- 127.0.0.1:5050 3
//! ```

use mesos_proto::v1::{FrameworkInfo, Offer, TaskState, TaskStatus};
use mesos_scheduler::builders::TaskBuilder;
use mesos_scheduler::offers::{Needs, OfferResources};
use mesos_scheduler::reconcile::is_terminal;
use mesos_scheduler::{Scheduler, SchedulerConfig, SchedulerDriver};
use std::collections::BTreeSet;

struct Hello {
    wanted: usize,
    launched: usize,
    done: BTreeSet<String>,
    failed: bool,
}

impl Scheduler for Hello {
    async fn offers(&mut self, driver: &SchedulerDriver, offers: Vec<Offer>) {
        for offer in offers {
            let mut pool = OfferResources::new(&offer);
            let mut tasks = Vec::new();
            while self.launched < self.wanted {
                let Some(resources) = pool.take(&Needs::new(0.1, 32.0)) else {
                    break;
                };
                self.launched += 1;
                let id = format!("hello-{}", self.launched);
                tasks.push(
                    TaskBuilder::new(&id, &offer.agent_id)
                        .shell(&format!("echo hello from {id}"))
                        .resources(resources)
                        .build(),
                );
            }
            let result = if tasks.is_empty() {
                driver.decline(vec![offer.id], None).await
            } else {
                driver.launch(vec![offer.id], tasks, None).await
            };
            if let Err(e) = result {
                eprintln!("hello-world: {e}");
            }
        }
        if self.launched == self.wanted {
            // Nothing more to launch: no more offers, please.
            let _ = driver.suppress(vec![]).await;
        }
    }

    async fn update(&mut self, driver: &SchedulerDriver, status: TaskStatus) {
        println!("{}: {}", status.task_id.value, status.state().as_str_name());
        if is_terminal(status.state) {
            self.failed |= status.state() != TaskState::TaskFinished;
            self.done.insert(status.task_id.value);
        }
        if self.done.len() == self.wanted {
            let _ = driver.teardown().await;
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let master = args.first().map_or("127.0.0.1:5050", String::as_str);
    let wanted = args.get(1).map_or(Ok(3), |n| n.parse())?;
    let info = FrameworkInfo {
        user: "root".into(),
        name: "hello-world".into(),
        ..Default::default()
    };
    let driver = SchedulerDriver::new(SchedulerConfig::new(master, info)?);
    let mut hello = Hello {
        wanted,
        launched: 0,
        done: BTreeSet::new(),
        failed: false,
    };
    driver.run(&mut hello).await?;
    if hello.failed {
        std::process::exit(1);
    }
    Ok(())
}
