//! A framework that survives its own restart: its id is kept in a file
//! and its `failover_timeout` is a week, so a restarted process fails over
//! to the task the first one launched instead of registering anew (and
//! the task keeps running meanwhile). `--teardown` ends it for good.
//!
//! ```text
//! cargo run --release -- local                  # in one terminal
//! cargo run -p mesos-examples --bin failover -- 127.0.0.1:5050 /tmp/failover.id
//! # Ctrl-C it and run it again: "failed over" with the same framework id
//! cargo run -p mesos-examples --bin failover -- 127.0.0.1:5050 /tmp/failover.id --teardown
//! ```

use mesos_proto::v1::scheduler::event;
use mesos_proto::v1::{FrameworkInfo, Offer, TaskState, TaskStatus};
use mesos_scheduler::builders::TaskBuilder;
use mesos_scheduler::offers::{Needs, OfferResources};
use mesos_scheduler::{FileFrameworkIdStore, Scheduler, SchedulerConfig, SchedulerDriver};

struct Failover {
    had_id: bool,
    teardown: bool,
}

impl Scheduler for Failover {
    async fn subscribed(&mut self, driver: &SchedulerDriver, s: &event::Subscribed) {
        let how = if self.had_id {
            "failed over"
        } else {
            "registered"
        };
        println!("{how} as framework {}", s.framework_id.value);
        if self.teardown {
            let _ = driver.teardown().await;
            println!("torn down");
        }
    }

    async fn offers(&mut self, driver: &SchedulerDriver, offers: Vec<Offer>) {
        for offer in offers {
            // One task, ever: launched by the first run only.
            let taken = (!self.had_id && driver.tasks().is_empty())
                .then(|| OfferResources::new(&offer).take(&Needs::new(0.1, 32.0)))
                .flatten();
            let result = match taken {
                Some(resources) => {
                    let task = TaskBuilder::new("long-running", &offer.agent_id)
                        .shell("sleep 3600")
                        .resources(resources)
                        .build();
                    driver.launch(vec![offer.id], vec![task], None).await
                }
                None => {
                    driver
                        .decline(vec![offer.id], Some(mesos_scheduler::client::refuse(600.0)))
                        .await
                }
            };
            if let Err(e) = result {
                eprintln!("failover: {e}");
            }
        }
    }

    async fn update(&mut self, _: &SchedulerDriver, status: TaskStatus) {
        let reason = status.reason().as_str_name();
        println!(
            "{}: {} ({reason})",
            status.task_id.value,
            status.state().as_str_name()
        );
        if status.state() == TaskState::TaskRunning {
            println!("running; Ctrl-C and start me again to fail over");
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let master = args.first().map_or("127.0.0.1:5050", String::as_str);
    let path = args.get(1).map_or("/tmp/failover.id", String::as_str);
    let teardown = args.iter().any(|a| a == "--teardown");
    let store = FileFrameworkIdStore::new(path);
    let had_id = mesos_scheduler::FrameworkIdStore::load(&store)?.is_some();
    let info = FrameworkInfo {
        user: "root".into(),
        name: "failover".into(),
        failover_timeout: Some(7.0 * 86400.0),
        ..Default::default()
    };
    let driver = SchedulerDriver::new(SchedulerConfig::new(master, info)?.with_store(store));
    let mut scheduler = Failover { had_id, teardown };
    tokio::select! {
        r = driver.run(&mut scheduler) => r?,
        _ = tokio::signal::ctrl_c() => println!("stopped; the task keeps running"),
    }
    Ok(())
}
