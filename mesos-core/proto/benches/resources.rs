//! The Resources algebra on an agent's resources: add, subtract, contains.
//!
//! ```text
//! cargo bench -p mesos-proto --bench resources
//! ```

use criterion::{Criterion, criterion_group, criterion_main};
use mesos_proto::resources::Resources;
use std::hint::black_box;

fn res(text: &str) -> Resources {
    text.parse().unwrap()
}

fn algebra(c: &mut Criterion) {
    // A typical agent: unreserved and reserved scalars, fragmented ports.
    let agent = res("cpus:32;mem:262144;disk:1048576;gpus:4;\
         ports:[31000-31099,31200-31299,31400-31499,31600-31699,31800-32000];\
         cpus(prod):8;mem(prod):65536;cpus(prod/web):2;mem(prod/web):4096;disk(db):100000");
    let task = res("cpus:0.5;mem:512;disk:1024;ports:[31050-31051]");

    // A large collection: 200 roles with reservations.
    let mut wide = Resources::new();
    for i in 0..200 {
        wide += &res(&format!("cpus(role{i}):1;mem(role{i}):1024"));
    }
    let wide_part = res("cpus(role150):0.5;mem(role199):512");

    let mut g = c.benchmark_group("resources");
    g.bench_function("add_task_to_agent", |b| {
        b.iter(|| black_box(&agent) + black_box(&task))
    });
    g.bench_function("subtract_task_from_agent", |b| {
        b.iter(|| black_box(&agent) - black_box(&task))
    });
    g.bench_function("agent_contains_task", |b| {
        b.iter(|| black_box(&agent).contains(black_box(&task)))
    });
    g.bench_function("add_subtract_cycle", |b| {
        b.iter(|| {
            let mut x = agent.clone();
            x -= black_box(&task);
            x += black_box(&task);
            x
        })
    });
    g.bench_function("contains_400_resources", |b| {
        b.iter(|| black_box(&wide).contains(black_box(&wide_part)))
    });
    g.bench_function("parse_agent_flag", |b| {
        b.iter(|| {
            res(black_box(
                "cpus:32;mem:262144;disk:1048576;ports:[31000-32000];cpus(prod):8;mem(prod):65536",
            ))
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = algebra
}
criterion_main!(benches);
