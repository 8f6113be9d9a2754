//! The Mesos master as a library.
//!
//! Pools agents' resources and offers them to frameworks by Dominant Resource Fairness; serves the v1 scheduler and operator APIs and the legacy endpoints.
//!
//! **Status:** a skeleton. The issue that builds this crate fills it in; until
//! then it exports nothing but this documentation.
