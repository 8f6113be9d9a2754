//! Encode and decode of an OFFERS event carrying 1,000 offers of 5
//! resources each, as protobuf and as Mesos JSON, beside the floor: plain
//! structs of the same shape through prost and serde_json.
//!
//! ```text
//! cargo bench -p mesos-proto --bench wire
//! ```

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mesos_proto::v1::scheduler::{Event, event};
use mesos_proto::v1::value::{Range, Ranges, Scalar, Type};
use mesos_proto::v1::{AgentId, FrameworkId, Offer, OfferId, Resource};
use prost::Message;
use std::hint::black_box;

const OFFERS: usize = 1000;

fn scalar(name: &str, value: f64) -> Resource {
    Resource {
        name: name.into(),
        r#type: Type::Scalar as i32,
        scalar: Some(Scalar { value }),
        ..Default::default()
    }
}

fn offers_event() -> Event {
    let offers = (0..OFFERS)
        .map(|i| Offer {
            id: OfferId::new(format!("5c1f3b0e-2a8d-4c55-9e1b-7f64a8a1b2c3-O{i}")),
            framework_id: FrameworkId::new("5c1f3b0e-2a8d-4c55-9e1b-7f64a8a1b2c3-0000"),
            agent_id: AgentId::new(format!("5c1f3b0e-2a8d-4c55-9e1b-7f64a8a1b2c3-S{i}")),
            hostname: format!("agent-{i}.example.com"),
            resources: vec![
                scalar("cpus", 7.5),
                scalar("mem", 30_720.0),
                scalar("disk", 409_600.0),
                scalar("gpus", 1.0),
                Resource {
                    name: "ports".into(),
                    r#type: Type::Ranges as i32,
                    ranges: Some(Ranges {
                        range: vec![
                            Range {
                                begin: 31000,
                                end: 31500,
                            },
                            Range {
                                begin: 31600,
                                end: 32000,
                            },
                        ],
                    }),
                    ..Default::default()
                },
            ],
            ..Default::default()
        })
        .collect();
    Event {
        r#type: Some(event::Type::Offers as i32),
        offers: Some(event::Offers { offers }),
        ..Default::default()
    }
}

/// The floor: the same data in plain structs, with no Mesos rules.
mod plain {
    use serde::{Deserialize, Serialize};

    #[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
    pub(crate) struct Range {
        #[prost(uint64, tag = "1")]
        pub(crate) begin: u64,
        #[prost(uint64, tag = "2")]
        pub(crate) end: u64,
    }

    #[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
    pub(crate) struct Resource {
        #[prost(string, tag = "1")]
        pub(crate) name: String,
        #[prost(int32, tag = "2")]
        pub(crate) r#type: i32,
        #[prost(double, optional, tag = "3")]
        pub(crate) scalar: Option<f64>,
        #[prost(message, repeated, tag = "4")]
        pub(crate) ranges: Vec<Range>,
    }

    #[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
    pub(crate) struct Offer {
        #[prost(string, tag = "1")]
        pub(crate) id: String,
        #[prost(string, tag = "2")]
        pub(crate) framework_id: String,
        #[prost(string, tag = "3")]
        pub(crate) agent_id: String,
        #[prost(string, tag = "4")]
        pub(crate) hostname: String,
        #[prost(message, repeated, tag = "5")]
        pub(crate) resources: Vec<Resource>,
    }

    #[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
    pub(crate) struct Event {
        #[prost(int32, tag = "1")]
        pub(crate) r#type: i32,
        #[prost(message, repeated, tag = "2")]
        pub(crate) offers: Vec<Offer>,
    }

    pub(crate) fn from(e: &super::Event) -> Event {
        Event {
            r#type: e.r#type.unwrap_or_default(),
            offers: e
                .offers
                .as_ref()
                .map(|o| &o.offers[..])
                .unwrap_or_default()
                .iter()
                .map(|o| Offer {
                    id: o.id.value.clone(),
                    framework_id: o.framework_id.value.clone(),
                    agent_id: o.agent_id.value.clone(),
                    hostname: o.hostname.clone(),
                    resources: o
                        .resources
                        .iter()
                        .map(|r| Resource {
                            name: r.name.clone(),
                            r#type: r.r#type,
                            scalar: r.scalar.map(|s| s.value),
                            ranges: r
                                .ranges
                                .iter()
                                .flat_map(|rs| &rs.range)
                                .map(|x| Range {
                                    begin: x.begin,
                                    end: x.end,
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

fn wire(c: &mut Criterion) {
    let event = offers_event();
    let proto = event.encode_to_vec();
    let json = mesos_proto::json::to_vec(&event);
    let floor = plain::from(&event);
    let floor_proto = floor.encode_to_vec();
    let floor_json = serde_json::to_vec(&floor).unwrap();
    eprintln!(
        "sizes: mesos protobuf {} B, mesos JSON {} B, plain protobuf {} B, plain JSON {} B",
        proto.len(),
        json.len(),
        floor_proto.len(),
        floor_json.len()
    );

    let mut g = c.benchmark_group("offers_1000x5");
    g.throughput(Throughput::Elements(OFFERS as u64));
    g.bench_function("protobuf_encode", |b| {
        b.iter(|| black_box(&event).encode_to_vec())
    });
    g.bench_function("protobuf_decode", |b| {
        b.iter(|| Event::decode(black_box(proto.as_slice())).unwrap())
    });
    g.bench_function("json_encode", |b| {
        b.iter(|| mesos_proto::json::to_vec(black_box(&event)))
    });
    g.bench_function("json_decode", |b| {
        b.iter(|| mesos_proto::json::from_slice::<Event>(black_box(&json)).unwrap())
    });
    g.bench_function("floor_prost_encode", |b| {
        b.iter(|| black_box(&floor).encode_to_vec())
    });
    g.bench_function("floor_prost_decode", |b| {
        b.iter(|| plain::Event::decode(black_box(floor_proto.as_slice())).unwrap())
    });
    g.bench_function("floor_serde_json_encode", |b| {
        b.iter(|| serde_json::to_vec(black_box(&floor)).unwrap())
    });
    g.bench_function("floor_serde_json_decode", |b| {
        b.iter(|| serde_json::from_slice::<plain::Event>(black_box(&floor_json)).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(4));
    targets = wire
}
criterion_main!(benches);
