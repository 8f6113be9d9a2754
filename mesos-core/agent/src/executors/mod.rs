//! The executors the agent ships, written with `mesos-executor` and run
//! as `mesos executor <name>`.

pub mod command;
