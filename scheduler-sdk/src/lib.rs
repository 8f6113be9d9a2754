//! Write Apache Mesos frameworks in Rust.
//!
//! Two layers, as in kube-rs:
//!
//! - [`Client`] and [`Session`] (module [`client`]): the v1 scheduler API
//!   as it is. Subscribe, read typed [`Events`], make typed calls; Mesos'
//!   HTTP rules (no `Mesos-Stream-Id` on SUBSCRIBE, the stream's on every
//!   other call; 307 followed for SUBSCRIBE only; 503 retried with
//!   backoff) and nothing more.
//! - [`SchedulerDriver`] running a [`Scheduler`]: finds the leader,
//!   subscribes and fails over with a stored framework id, detects missed
//!   heartbeats, reconnects with backoff and jitter, acknowledges updates
//!   and reconciles as Mesos' guide says.
//!
//! Helpers for what every framework does: [`offers`] (matching task needs
//! against offers, picking ports), [`constraints`] (attributes, hostname),
//! [`builders`] (tasks, commands,
//! executors), [`reconcile`], [`FrameworkIdStore`].
//!
//! The SDK works against our master and against Apache Mesos (1.x).
//! ZooKeeper detection (`zk://`) parses but is not supported yet: give the
//! masters as `host:port,host:port` (a non-leading master redirects).
//!
//! # Quick start
//!
//! A framework that runs `echo hello` once, then stops:
//!
//! ```no_run
//! use mesos_proto::v1::{FrameworkInfo, Offer, TaskStatus};
//! use mesos_scheduler::builders::TaskBuilder;
//! use mesos_scheduler::offers::{Needs, OfferResources};
//! use mesos_scheduler::{Scheduler, SchedulerConfig, SchedulerDriver};
//!
//! struct Hello {
//!     launched: bool,
//! }
//!
//! impl Scheduler for Hello {
//!     async fn offers(&mut self, driver: &SchedulerDriver, offers: Vec<Offer>) {
//!         for offer in offers {
//!             let mut pool = OfferResources::new(&offer);
//!             let needs = Needs::new(0.1, 32.0);
//!             match (self.launched, pool.take(&needs)) {
//!                 (false, Some(resources)) => {
//!                     let task = TaskBuilder::new("hello", &offer.agent_id)
//!                         .shell("echo hello")
//!                         .resources(resources)
//!                         .build();
//!                     self.launched = driver.launch(vec![offer.id], vec![task], None).await.is_ok();
//!                 }
//!                 _ => {
//!                     let _ = driver.decline(vec![offer.id], None).await;
//!                 }
//!             }
//!         }
//!     }
//!
//!     async fn update(&mut self, driver: &SchedulerDriver, status: TaskStatus) {
//!         println!("hello: {:?}", status.state());
//!         if mesos_scheduler::reconcile::is_terminal(status.state) {
//!             driver.stop();
//!         }
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), mesos_scheduler::SchedulerError> {
//!     let info = FrameworkInfo { user: "root".into(), name: "hello".into(), ..Default::default() };
//!     let driver = SchedulerDriver::new(SchedulerConfig::new("127.0.0.1:5050", info)?);
//!     driver.run(&mut Hello { launched: false }).await
//! }
//! ```

mod backoff;
pub mod builders;
pub mod client;
pub mod constraints;
pub mod detector;
mod driver;
mod error;
pub mod offers;
pub mod reconcile;
mod store;

pub use backoff::Backoff;
pub use client::{Client, Events, Session};
pub use detector::Masters;
pub use driver::{Acknowledgements, Scheduler, SchedulerConfig, SchedulerDriver};
pub use error::SchedulerError;
pub use store::{FileFrameworkIdStore, FrameworkIdStore, MemoryFrameworkIdStore};
