//! The Resources algebra: laws (property tests), fixed point without drift,
//! Mesos' text and JSON forms, reservations and errors.

use mesos_proto::resources::{Resources, Scalar, parse_attributes};
use mesos_proto::v1::Resource;
use mesos_proto::v1::resource::{AllocationInfo, ReservationInfo, reservation_info};
use mesos_proto::v1::value::{self, Type};
use proptest::prelude::*;

fn res(text: &str) -> Resources {
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

fn scalar(name: &str, v: f64) -> Resource {
    Resource {
        name: name.into(),
        r#type: Type::Scalar as i32,
        scalar: Some(value::Scalar { value: v }),
        ..Default::default()
    }
}

fn reserved(mut r: Resource, roles: &[&str]) -> Resource {
    for (i, role) in roles.iter().enumerate() {
        r.reservations.push(ReservationInfo {
            r#type: Some(if i == 0 {
                reservation_info::Type::Static as i32
            } else {
                reservation_info::Type::Dynamic as i32
            }),
            role: Some((*role).into()),
            principal: (i > 0).then(|| "ops".into()),
            ..Default::default()
        });
    }
    r
}

/// Random resources over a small universe, so that sums and differences
/// actually meet: a few names, roles, allocations, ranges and set items.
fn arb_resource() -> impl Strategy<Value = Resource> {
    let roles = prop_oneof![Just(vec![]), Just(vec!["a"]), Just(vec!["a", "a/b"]),];
    let alloc = prop_oneof![Just(None), Just(Some("a")), Just(Some("c"))];
    let kind = prop_oneof![
        (
            prop_oneof![Just("cpus"), Just("mem"), Just("disk")],
            0i64..50_000
        )
            .prop_map(|(n, milli)| scalar(n, milli as f64 / 1000.0)),
        proptest::collection::vec((0u64..200, 0u64..20), 1..4).prop_map(|rs| Resource {
            name: "ports".into(),
            r#type: Type::Ranges as i32,
            ranges: Some(value::Ranges {
                range: rs
                    .into_iter()
                    .map(|(b, len)| value::Range {
                        begin: b,
                        end: b + len
                    })
                    .collect(),
            }),
            ..Default::default()
        }),
        proptest::sample::subsequence(vec!["w", "x", "y", "z"], 1..4).prop_map(|items| Resource {
            name: "gpus_names".into(),
            r#type: Type::Set as i32,
            set: Some(value::Set {
                item: items.into_iter().map(String::from).collect(),
            }),
            ..Default::default()
        }),
    ];
    (kind, roles, alloc).prop_map(|(r, roles, alloc)| {
        let mut r = reserved(r, &roles);
        r.allocation_info = alloc.map(|role| AllocationInfo {
            role: Some(role.into()),
        });
        r
    })
}

fn arb_resources() -> impl Strategy<Value = Resources> {
    proptest::collection::vec(arb_resource(), 0..8)
        .prop_map(|v| Resources::from_resources(v).expect("generated resources are valid"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn add_then_subtract_is_identity(a in arb_resources(), b in arb_resources()) {
        // Ranges and sets are sets, not multisets (in Mesos too): the law
        // holds when b's ports and items are disjoint from a's, so take
        // a's out of b's non-scalar part first.
        let scalars = b.filter(|r| r.scalar.is_some());
        let others = &b.filter(|r| r.scalar.is_none()) - &a;
        let b = &scalars + &others;
        let sum = &a + &b;
        prop_assert_eq!(&(&sum - &b), &a, "a={} b={} a+b={}", a, b, sum);
    }

    #[test]
    fn a_sum_contains_its_parts(a in arb_resources(), b in arb_resources()) {
        let sum = &a + &b;
        prop_assert!(sum.contains(&a));
        prop_assert!(sum.contains(&b));
        prop_assert!(a.contains(&(&a - &b)));
    }

    #[test]
    fn addition_commutes(a in arb_resources(), b in arb_resources()) {
        prop_assert_eq!(&a + &b, &b + &a);
    }

    #[test]
    fn containment_is_exact(a in arb_resources(), b in arb_resources()) {
        // a contains b exactly when taking b out of a loses nothing of b.
        let contained = a.contains(&b);
        let rest = &a - &b;
        prop_assert_eq!(contained, &rest + &b == a);
    }

    #[test]
    fn normal_form_has_no_addable_pairs(a in arb_resources()) {
        // Re-normalizing the normal form changes nothing.
        let again = Resources::from_resources(a.clone().into_vec()).unwrap();
        prop_assert_eq!(again.len(), a.len());
    }

    #[test]
    fn text_form_round_trips(a in arb_resources()) {
        // Display is informative, not parsable when reservations are
        // refined; the unreserved, unallocated part round-trips.
        let plain = a.flatten();
        let text = plain.to_string();
        let parsed: Resources = text.parse().unwrap();
        prop_assert_eq!(parsed, plain);
    }
}

#[test]
fn a_million_operations_do_not_drift() {
    let start = res("cpus:0.1;mem:0.3;disk:1000.7");
    let deltas = [
        res("cpus:0.1"),
        res("cpus:0.7;mem:0.001"),
        res("disk:1.001;mem:33.3"),
    ];
    let mut x = start.clone();
    let mut ops = 0;
    for i in 0..250_000 {
        let d = &deltas[i % deltas.len()];
        x += d;
        x += d;
        x -= d;
        x -= d;
        ops += 4;
    }
    assert_eq!(ops, 1_000_000);
    assert_eq!(x, start);
    assert_eq!(x.cpus(), Some(0.1));
    assert_eq!(x.mem(), Some(0.3));
    assert_eq!(x.disk(), Some(1000.7));

    // The same sums in plain floating point do drift: the test above
    // would catch an implementation that used f64 arithmetic.
    let mut f = 0.1f64;
    for _ in 0..250_000 {
        f += 0.7;
        f -= 0.7;
    }
    assert_ne!(f, 0.1);
    let mut s = Scalar::from_f64(0.1);
    for _ in 0..250_000 {
        s += Scalar::from_f64(0.7);
        s -= Scalar::from_f64(0.7);
    }
    assert_eq!(s.to_f64(), 0.1);
}

#[test]
fn text_form_as_mesos_documents_it() {
    let r =
        res("cpus:24;mem:24576;disk:409600;ports:[21000-24000,30000-34000];bugs:{a,b,c};gpus:1");
    assert_eq!(r.cpus(), Some(24.0));
    assert_eq!(r.mem(), Some(24576.0));
    assert_eq!(r.disk(), Some(409600.0));
    assert_eq!(r.gpus(), Some(1.0));
    assert_eq!(
        r.ports(),
        vec![
            value::Range {
                begin: 21000,
                end: 24000
            },
            value::Range {
                begin: 30000,
                end: 34000
            }
        ]
    );
    let bugs = r.named("bugs");
    assert_eq!(
        bugs.as_slice()[0].set.as_ref().unwrap().item,
        ["a", "b", "c"]
    );

    // Roles in parentheses are static reservations; `*` is unreserved.
    let r = res("cpus(prod):4;cpus(*):2;mem(prod/web):10");
    assert_eq!(r.reserved(Some("prod")).cpus(), Some(4.0));
    assert_eq!(r.unreserved().cpus(), Some(2.0));
    assert_eq!(r.cpus(), Some(6.0));
    assert_eq!(r.len(), 3);
    // prod/web may use its own, its parent's and unreserved resources.
    assert_eq!(r.allocatable_to("prod/web").cpus(), Some(6.0));
    assert_eq!(r.allocatable_to("other").cpus(), Some(2.0));

    // A default role reserves everything not given a role.
    let r = Resources::parse("cpus:1;mem(*):5", "ops").unwrap();
    assert_eq!(r.reserved(Some("ops")).cpus(), Some(1.0));
    assert_eq!(r.unreserved().mem(), Some(5.0));

    // Fixed point at 0.001, as Mesos: 1.5123 cpus are 1.512 cpus.
    assert_eq!(res("cpus:1.5123").cpus(), Some(1.512));
    // Overlapping ranges coalesce; zero scalars vanish.
    assert_eq!(res("ports:[1-5,3-9,10-10]").to_string(), "ports:[1-10]");
    assert!(res("cpus:0;mem:0.0001").is_empty());
}

#[test]
fn json_form() {
    let r = res(r#"[
        {"name":"cpus","type":"SCALAR","scalar":{"value":4}},
        {"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":32000}]}},
        {"name":"cpus","type":"SCALAR","scalar":{"value":2},"role":"prod"}
    ]"#);
    assert_eq!(r.cpus(), Some(6.0));
    // The legacy `role` field becomes a static reservation.
    assert_eq!(r.reserved(Some("prod")).cpus(), Some(2.0));
    assert_eq!(r.as_slice()[2].role, None);
    assert_eq!(r.ports().len(), 1);
}

#[test]
fn subtraction_saturates_and_splits() {
    let r = res("cpus:1;ports:[1-100]");
    let left = &r - &res("cpus:5;ports:[50-60]");
    assert_eq!(left.to_string(), "ports:[1-49, 61-100]");
    assert!(!r.contains(&res("cpus:1.001")));
    assert!(r.contains(&res("cpus:1")));
    // Different reservations are different resources.
    assert!(!res("cpus(a):4").contains(&res("cpus:1")));
    assert!(!res("cpus:4").contains(&res("cpus(a):1")));
}

#[test]
fn reservations_refine_and_pop() {
    let base = Resources::from_resources([reserved(scalar("cpus", 4.0), &["a"])]).unwrap();
    let refined = base
        .push_reservation(&ReservationInfo {
            r#type: Some(reservation_info::Type::Dynamic as i32),
            role: Some("a/b".into()),
            principal: Some("ops".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(refined.reserved(Some("a/b")).cpus(), Some(4.0));
    assert_eq!(
        refined.to_string(),
        "cpus(reservations: [(STATIC,a),(DYNAMIC,a/b,ops)]):4"
    );
    assert_eq!(refined.pop_reservation(), base);
    assert_eq!(refined.to_unreserved(), res("cpus:4"));
    // A refinement must go to a descendant role.
    let err = base
        .push_reservation(&ReservationInfo {
            r#type: Some(reservation_info::Type::Dynamic as i32),
            role: Some("b".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert!(err.to_string().contains("not a descendant of `a`"), "{err}");
}

#[test]
fn allocation_info_groups_by_role() {
    let r = res("cpus:4;mem:100");
    let mut both = r.allocate("a");
    both += &res("cpus:1").allocate("b");
    let allocations = both.allocations();
    assert_eq!(allocations.len(), 2);
    assert_eq!(allocations["a"], r.allocate("a"));
    assert_eq!(allocations["b"].cpus(), Some(1.0));
    assert_eq!(both.unallocate(), res("cpus:5;mem:100"));
    assert_eq!(both.flatten(), res("cpus:5;mem:100"));
    assert_eq!(
        r.allocate("a").to_string(),
        "cpus(allocated: a):4; mem(allocated: a):100"
    );
}

#[test]
fn invalid_resources_are_refused_with_the_reason() {
    let cases = [
        ("cpus:-1", "negative values not supported"),
        ("cpus:nan", "is not a scalar, ranges"),
        ("cpus", "exactly one `:`"),
        ("cpus:1:2", "exactly one `:`"),
        ("cpus(prod:1", "mismatched parentheses"),
        ("cpus(a//b):1", "empty component"),
        ("ports:[5-1]", "begin > end"),
        ("ports:[1-2", "must end with `]`"),
        ("ports:[a-b]", "non-negative integers"),
        (":4", "exactly one `:`"),
        ("(a):4", "empty resource name"),
        ("disk:1e400", "infinite"),
    ];
    for (text, want) in cases {
        let err = text.parse::<Resources>().unwrap_err().to_string();
        assert!(
            err.contains(want),
            "{text:?}: {err:?} should mention {want:?}"
        );
    }
    // JSON errors carry the path.
    let err = r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":"x"}}]"#
        .parse::<Resources>()
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "invalid resources JSON: [0].scalar.value: expected number, found \"x\""
    );
    let err = r#"[{"name":"cpus","type":"RANGES","scalar":{"value":1}}]"#
        .parse::<Resources>()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("a RANGES resource must have `ranges`"),
        "{err}"
    );
    let err = r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"STATIC","role":"*"}]}]"#
        .parse::<Resources>()
        .unwrap_err()
        .to_string();
    assert!(err.contains("role `*` cannot be reserved"), "{err}");
}

#[test]
fn attributes() {
    let attrs = parse_attributes("rack:2;zone:us-east;ports:[1-10];os:centos5,full").unwrap();
    assert_eq!(attrs.len(), 4);
    assert_eq!(attrs[0].scalar.unwrap().value, 2.0);
    assert_eq!(attrs[1].text.as_ref().unwrap().value, "us-east");
    assert_eq!(attrs[2].ranges.as_ref().unwrap().range.len(), 1);
    assert_eq!(attrs[3].text.as_ref().unwrap().value, "centos5,full");
    for bad in ["rack", "rack:", ":2", "s:{a,b}"] {
        assert!(parse_attributes(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn atomic_resources_are_whole_and_counted() {
    use mesos_proto::v1::resource::DiskInfo;
    use mesos_proto::v1::resource::SharedInfo;
    use mesos_proto::v1::resource::disk_info::Persistence;
    use mesos_proto::v1::{Volume, volume};

    let volume = |id: &str, shared: bool| {
        let mut r = reserved(scalar("disk", 64.0), &["db"]);
        r.disk = Some(Box::new(DiskInfo {
            persistence: Some(Persistence {
                id: id.into(),
                principal: Some("ops".into()),
            }),
            volume: Some(Volume {
                container_path: "data".into(),
                mode: volume::Mode::Rw as i32,
                ..Default::default()
            }),
            ..Default::default()
        }));
        r.shared = shared.then_some(SharedInfo {});
        r
    };
    let one = Resources::from_resources([volume("v1", false)]).unwrap();
    let two = Resources::from_resources([volume("v1", false), volume("v2", false)]).unwrap();
    assert_eq!(two.len(), 2, "volumes never merge");
    assert!(two.contains(&one));
    assert!(!one.contains(&two));
    // A volume comes out whole or not at all.
    let half = Resources::from_resources([{
        let mut v = volume("v1", false);
        v.scalar = Some(value::Scalar { value: 32.0 });
        v
    }])
    .unwrap();
    assert!(!one.contains(&half));
    assert_eq!(&one - &half, one);
    assert!((&two - &one).persistent_volumes().len() == 1);

    // Shared copies are counted: two copies hold one, one does not hold two.
    let shared1 = Resources::from_resources([volume("s", true)]).unwrap();
    let shared2 = &shared1 + &shared1;
    assert_eq!(shared2.len(), 2);
    assert!(shared2.contains(&shared1));
    assert!(!shared1.contains(&shared2));
    assert_eq!(&shared2 - &shared1, shared1);

    // Only persistent volumes may be shared; volumes must be reserved.
    let mut bad = scalar("cpus", 1.0);
    bad.shared = Some(SharedInfo {});
    let err = Resources::from_resources([bad]).unwrap_err();
    assert!(
        err.to_string()
            .contains("only persistent volumes can be shared"),
        "{err}"
    );
    let mut unreserved = volume("v", false);
    unreserved.reservations.clear();
    assert!(Resources::from_resources([unreserved]).is_err());
}
