//! Durable, versioned key-value storage and leader election.
//!
//! Backends: an embedded file store (the default, used by `mesos local`) and ZooKeeper for production. The master's registry, Marathon and Chronos keep their state here.
//!
//! **Status:** a skeleton. The issue that builds this crate fills it in; until
//! then it exports nothing but this documentation.
