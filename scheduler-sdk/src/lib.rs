//! Write Apache Mesos frameworks in Rust.
//!
//! A low-level client (a `Clone` handle plus a `Stream` of events) under a high-level async `Scheduler` trait and driver that handles leader detection, redirects, heartbeats, reconnects, failover and acknowledgements.
//!
//! **Status:** a skeleton. The issue that builds this crate fills it in; until
//! then it exports nothing but this documentation.
