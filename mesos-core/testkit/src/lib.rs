//! In-process Mesos clusters and simulated agents.
//!
//! For our own tests and benchmarks and for framework authors' tests.
//!
//! **Status:** a skeleton. The issue that builds this crate fills it in; until
//! then it exports nothing but this documentation.
