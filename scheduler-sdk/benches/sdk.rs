//! The scheduler SDK's own costs, beside their floors:
//!
//! - `events/*`: an OFFERS event with 100 offers of 5 resources, framed in
//!   RecordIO, decoded as the client's event stream does it (frame, then
//!   decode), per codec; floor: plain `prost::Message::decode`.
//! - `calls/*`: one REVIVE through [`mesos_scheduler::Session`] to our
//!   master on loopback (HTTP/1 keep-alive, 202), per codec; floor: only
//!   encoding the call.
//!
//! ```text
//! cargo bench -p mesos-scheduler --bench sdk
//! ```

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mesos_proto::media::MediaType;
use mesos_proto::prost::Message;
use mesos_proto::recordio::Decoder;
use mesos_proto::v1::scheduler::{Call, Event, call, event};
use mesos_proto::v1::value::{Range, Ranges, Scalar, Type};
use mesos_proto::v1::{AgentId, FrameworkId, FrameworkInfo, Offer, OfferId, Resource};
use std::hint::black_box;

fn scalar(name: &str, value: f64) -> Resource {
    Resource {
        name: name.into(),
        r#type: Type::Scalar as i32,
        scalar: Some(Scalar { value }),
        ..Default::default()
    }
}

fn offers_event(n: usize) -> Event {
    let offers = (0..n)
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
                        range: vec![Range {
                            begin: 31000,
                            end: 32000,
                        }],
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

fn events(c: &mut Criterion) {
    let event = offers_event(100);
    let mut group = c.benchmark_group("events");
    group.throughput(Throughput::Elements(1));
    for media in [MediaType::Protobuf, MediaType::Json] {
        let mut framed = Vec::new();
        mesos_proto::recordio::encode(&media.encode(&event), &mut framed);
        let name = format!(
            "offers_100/{}",
            if media == MediaType::Json {
                "json"
            } else {
                "protobuf"
            }
        );
        group.bench_function(&name, |b| {
            b.iter(|| {
                let mut decoder = Decoder::new(64 << 20);
                decoder.feed(black_box(&framed));
                let record = decoder.next_record().unwrap().unwrap();
                mesos_scheduler::client::decode_event(media, &record).unwrap()
            })
        });
    }
    let plain = event.encode_to_vec();
    group.bench_function("offers_100/prost_floor", |b| {
        b.iter(|| Event::decode(black_box(plain.as_slice())).unwrap())
    });
    group.finish();
}

fn calls(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let master = rt
        .block_on(mesos_master::Master::start(mesos_master::MasterConfig {
            port: 0,
            ..Default::default()
        }))
        .unwrap();
    let mut group = c.benchmark_group("calls");
    group.throughput(Throughput::Elements(1));
    for media in [MediaType::Protobuf, MediaType::Json] {
        let client = mesos_scheduler::Client::new(master.addr().to_string().parse().unwrap())
            .with_media(media);
        let info = FrameworkInfo {
            user: "bench".into(),
            name: "bench".into(),
            ..Default::default()
        };
        let (session, _events) = rt.block_on(client.subscribe(info)).unwrap();
        let name = format!(
            "revive/{}",
            if media == MediaType::Json {
                "json"
            } else {
                "protobuf"
            }
        );
        group.bench_function(&name, |b| {
            b.iter(|| rt.block_on(session.revive(vec![])).unwrap())
        });
    }
    let call = Call {
        r#type: Some(call::Type::Revive as i32),
        framework_id: Some(FrameworkId::new(
            "5c1f3b0e-2a8d-4c55-9e1b-7f64a8a1b2c3-0000",
        )),
        revive: Some(call::Revive { roles: vec![] }),
        ..Default::default()
    };
    group.bench_function("revive/encode_floor", |b| {
        b.iter(|| black_box(&call).encode_to_vec())
    });
    group.finish();
    rt.block_on(master.stop());
}

criterion_group!(benches, events, calls);
criterion_main!(benches);
