//! The allocator: pure, deterministic decisions about who is offered what.
//!
//! No clock and no I/O live here; the master feeds in agents, frameworks,
//! roles, filters and the time, and carries out what comes back.

pub mod sorter;
