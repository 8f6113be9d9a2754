//! Allocation cycles with every framework declining, as Mesos' DeclineOffers
//! benchmark (`HierarchicalAllocator_BENCHMARK_Test.DeclineOffers`).
//!
//! ```text
//! cargo bench -p mesos-master --bench allocator
//! MESOS_BENCH_LARGE=1 cargo bench -p mesos-master --bench allocator -- decline_offers
//! ```
//!
//! Every framework has declined every agent with a long filter, so a cycle
//! offers nothing. `steady`: nothing changed since the last cycle.
//! `one_changed`: one framework changed (say, re-subscribed) just before the
//! cycle. `all_changed`: every framework disconnected and reconnected before
//! the cycle, so every agent is checked against every framework's filter
//! (the worst case, and what Mesos does every cycle). `allocate_all`: one
//! cycle that hands out every agent of a fresh cluster.
//!
//! `MESOS_BENCH_LARGE=1` adds the sizes up to 50,000 agents x 5,000
//! frameworks (250 M filters: 13.4 GB peak RSS, 4.5 minutes to set up). A
//! size is set up only when a benchmark of it is selected.

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use mesos_master::allocator::{Allocator, AllocatorConfig, FrameworkOptions};
use mesos_proto::resources::Resources;
use mesos_proto::v1::{AgentId, FrameworkId};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

const AGENT: &str = "cpus:16;mem:65536;disk:1000000;ports:[31000-32000]";
const ROLES: usize = 10;

fn cluster(agents: usize, frameworks: usize) -> (Allocator, Vec<AgentId>, Vec<FrameworkId>) {
    let mut a = Allocator::new(AllocatorConfig::default());
    let total: Resources = AGENT.parse().unwrap();
    let agent_ids: Vec<AgentId> = (0..agents)
        .map(|i| AgentId::new(format!("agent-{i}")))
        .collect();
    let fw_ids: Vec<FrameworkId> = (0..frameworks)
        .map(|j| FrameworkId::new(format!("fw-{j}")))
        .collect();
    for id in &agent_ids {
        a.add_agent(id.clone(), total.clone(), []);
    }
    for (j, id) in fw_ids.iter().enumerate() {
        a.add_framework(
            id.clone(),
            FrameworkOptions::with_roles([format!("role-{}", j % ROLES)]),
        );
    }
    (a, agent_ids, fw_ids)
}

fn declined(agents: usize, frameworks: usize) -> (Allocator, Vec<FrameworkId>) {
    let (mut a, agent_ids, fw_ids) = cluster(agents, frameworks);
    let refused = Arc::new(AGENT.parse::<Resources>().unwrap());
    let forever = Duration::from_secs(365 * 24 * 3600);
    let roles: Vec<String> = (0..ROLES).map(|r| format!("role-{r}")).collect();
    for agent in &agent_ids {
        for (j, fw) in fw_ids.iter().enumerate() {
            a.add_offer_filter(fw, agent, &roles[j % ROLES], Arc::clone(&refused), forever);
        }
    }
    assert!(
        a.allocate(Duration::ZERO).is_empty(),
        "everything is declined"
    );
    (a, fw_ids)
}

const SIZES: &[(usize, usize)] = &[(1_000, 100), (1_000, 1_000), (10_000, 100), (10_000, 1_000)];

/// With `MESOS_BENCH_LARGE` set: the rest of the 1k/10k/50k x 100/1k/5k
/// curve, and Mesos' other anchor (10,000 x 3,000).
const LARGE_SIZES: &[(usize, usize)] = &[
    (1_000, 5_000),
    (10_000, 3_000),
    (10_000, 5_000),
    (50_000, 100),
    (50_000, 1_000),
    (50_000, 5_000),
];

fn decline_sizes() -> Vec<(usize, usize)> {
    let mut sizes = SIZES.to_vec();
    if std::env::var_os("MESOS_BENCH_LARGE").is_some() {
        sizes.extend_from_slice(LARGE_SIZES);
    }
    sizes
}

fn decline_offers(c: &mut Criterion) {
    let mut g = c.benchmark_group("decline_offers");
    g.sample_size(10);
    for (agents, frameworks) in decline_sizes() {
        // Set up on first use: a closure runs only when its benchmark is
        // selected, so filtered-out sizes cost nothing.
        let mut state: Option<(Allocator, Vec<FrameworkId>)> = None;
        let mut setup = || declined(agents, frameworks);
        let id = format!("{agents}x{frameworks}");
        g.bench_function(BenchmarkId::new("steady", &id), |b| {
            let (a, _) = state.get_or_insert_with(&mut setup);
            b.iter(|| black_box(a.allocate(Duration::from_secs(1))))
        });
        g.bench_function(BenchmarkId::new("one_changed", &id), |b| {
            let (a, fw_ids) = state.get_or_insert_with(&mut setup);
            b.iter(|| {
                a.activate_framework(&fw_ids[0]);
                black_box(a.allocate(Duration::from_secs(1)))
            })
        });
        g.bench_function(BenchmarkId::new("all_changed", &id), |b| {
            let (a, fw_ids) = state.get_or_insert_with(&mut setup);
            b.iter(|| {
                // A real change (a disconnect and reconnect), so that
                // every agent must be judged against every framework.
                for fw in fw_ids.iter() {
                    a.deactivate_framework(fw);
                    a.activate_framework(fw);
                }
                let offers = a.allocate(Duration::from_secs(1));
                assert!(offers.is_empty());
                black_box(offers)
            })
        });
    }
    g.finish();
}

fn allocate_all(c: &mut Criterion) {
    let mut g = c.benchmark_group("allocate_all");
    g.sample_size(10);
    for &(agents, frameworks) in SIZES {
        let id = format!("{agents}x{frameworks}");
        g.bench_function(BenchmarkId::from_parameter(&id), |b| {
            b.iter_batched(
                || cluster(agents, frameworks).0,
                |mut a| {
                    let offers = a.allocate(Duration::ZERO);
                    assert_eq!(offers.len(), agents);
                    offers
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

/// Every offer of a cycle given back, as when the frameworks holding them
/// disconnect: the cost per offer of `recover_resources`.
fn recover_all(c: &mut Criterion) {
    let mut g = c.benchmark_group("recover_all");
    g.sample_size(10);
    for &(agents, frameworks) in &[(1_000, 10), (10_000, 10)] {
        let id = format!("{agents}x{frameworks}");
        g.bench_function(BenchmarkId::from_parameter(&id), |b| {
            b.iter_batched(
                || {
                    let mut a = cluster(agents, frameworks).0;
                    let offers = a.allocate(Duration::ZERO);
                    assert_eq!(offers.len(), agents);
                    (a, offers)
                },
                |(mut a, offers)| {
                    for o in &offers {
                        a.recover_resources(
                            &o.framework_id,
                            &o.agent_id,
                            &o.resources,
                            None,
                            Duration::ZERO,
                        );
                    }
                    (a, offers)
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = decline_offers, allocate_all, recover_all
}
criterion_main!(benches);
