//! The Mesos agent as a library.
//!
//! Runs tasks in isolated containers (POSIX and Linux cgroups), fetches URIs, keeps sandboxes, reports status updates reliably and recovers executors after a restart.
//!
//! **Status:** a skeleton. The issue that builds this crate fills it in; until
//! then it exports nothing but this documentation.
