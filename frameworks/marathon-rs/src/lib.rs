//! Marathon for Rust: long-running services on Mesos.
//!
//! Compatible with Marathon's REST v2 API and built only on the public `mesos-scheduler` SDK.
//!
//! **Status:** a skeleton. The issue that builds this crate fills it in; until
//! then it exports nothing but this documentation.
