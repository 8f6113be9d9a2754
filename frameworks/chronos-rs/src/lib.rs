//! Chronos for Rust: scheduled and dependent jobs on Mesos.
//!
//! ISO 8601 and cron schedules with dependencies, compatible with Chronos' REST API, built only on the public `mesos-scheduler` SDK.
//!
//! **Status:** a skeleton. The issue that builds this crate fills it in; until
//! then it exports nothing but this documentation.
