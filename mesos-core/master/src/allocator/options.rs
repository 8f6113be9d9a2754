//! What the allocator is told: its settings and each framework's
//! options.

#[cfg(doc)]
use super::Allocator;
use super::sorter::Quantities;
use mesos_proto::resources::Scalar;
use std::collections::BTreeSet;

/// Allocator settings (the master's allocation flags).
#[derive(Debug, Clone)]
pub struct AllocatorConfig {
    /// An offer must hold at least one of these sets of quantities
    /// (`--min_allocatable_resources`, default `cpus:0.01|mem:32`). Empty:
    /// anything non-empty may be offered.
    pub min_allocatable: Vec<Quantities>,
    /// Frameworks without GPU_RESOURCES get no offers from agents that
    /// have GPUs (`--filter_gpu_resources`, default true).
    pub filter_gpu_resources: bool,
    /// Seed of the agent shuffle.
    pub seed: u64,
    /// At most this many agents are offered by one call of
    /// [`Allocator::allocate`]; the agents it did not get to wait for the
    /// next call ([`Allocator::has_more`]). The caller can then do other
    /// work between the parts of a large cycle. `None` (the default): one
    /// call hands out everything, as Mesos' allocator does.
    pub max_agents_offered: Option<usize>,
    /// At most this many agents are looked at by one call of
    /// [`Allocator::allocate`], offered or not; the rest wait for the next
    /// call, as with [`AllocatorConfig::max_agents_offered`]. A framework
    /// that subscribes or revives makes the next cycle look at every
    /// agent that was blocked (about 1 us each: 40 ms at 50,000 agents);
    /// this splits that work. `None` (the default): no limit.
    pub max_agents_visited: Option<usize>,
}

impl Default for AllocatorConfig {
    fn default() -> Self {
        let q = |name: &str, v: f64| Quantities::from([(name.to_string(), Scalar::from_f64(v))]);
        AllocatorConfig {
            min_allocatable: vec![q("cpus", 0.01), q("mem", 32.0)],
            filter_gpu_resources: true,
            seed: 0x006d_6573_6f73,
            max_agents_offered: None,
            max_agents_visited: None,
        }
    }
}

/// What the allocator needs to know of a framework.
#[derive(Debug, Clone, Default)]
pub struct FrameworkOptions {
    /// The roles it subscribed with.
    pub roles: BTreeSet<String>,
    /// Roles it has suppressed offers for.
    pub suppressed_roles: BTreeSet<String>,
    /// It has the GPU_RESOURCES capability.
    pub gpu_resources: bool,
    /// It has the REVOCABLE_RESOURCES capability.
    pub revocable_resources: bool,
}

impl FrameworkOptions {
    /// Options with these roles and nothing else.
    pub fn with_roles<S: Into<String>>(roles: impl IntoIterator<Item = S>) -> FrameworkOptions {
        FrameworkOptions {
            roles: roles.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }
}
