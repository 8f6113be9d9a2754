//! The Mesos master as a library.
//!
//! Pools agents' resources and offers them to frameworks by Dominant
//! Resource Fairness; serves the v1 scheduler and operator APIs and the
//! legacy endpoints.
//!
//! **Status:** in progress. Built so far: [`allocator::sorter`], the
//! hierarchical DRF sorter.

pub mod allocator;
