//! Write Apache Mesos executors in Rust.
//!
//! An async `Executor` trait and a driver speaking the v1 executor API; the built-in command and default executors are written with it.
//!
//! **Status:** a skeleton. The issue that builds this crate fills it in; until
//! then it exports nothing but this documentation.
