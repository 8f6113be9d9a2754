//! Random instances of every message of the spec round-trip through
//! protobuf and through Mesos JSON.
//!
//! A generator walks our compiled descriptors and writes random protobuf
//! bytes for each message type (required fields always, optional and
//! repeated fields at random, at most one member of each oneof, maps,
//! unknown enum numbers now and then, any finite double, full-range 64-bit
//! integers, strings with quotes, escapes, control characters and emoji).
//! The typed message decoded from those bytes must re-encode identically,
//! and its JSON must be valid JSON that reads back to the same bytes.

use mesos_proto::dynamic;
use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FileDescriptorSet};
use std::collections::HashMap;

/// splitmix64: small, seeded, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

struct Schema {
    messages: HashMap<String, DescriptorProto>,
    enums: HashMap<String, Vec<i32>>,
}

impl Schema {
    fn load() -> Schema {
        let fds = FileDescriptorSet::decode(mesos_proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut schema = Schema {
            messages: HashMap::new(),
            enums: HashMap::new(),
        };
        for file in &fds.file {
            let scope = format!(".{}", file.package());
            for e in &file.enum_type {
                schema.add_enum(&scope, e);
            }
            for m in &file.message_type {
                schema.add_message(&scope, m);
            }
        }
        schema
    }

    fn add_enum(&mut self, scope: &str, e: &prost_types::EnumDescriptorProto) {
        let values = e.value.iter().map(|v| v.number()).collect();
        self.enums.insert(format!("{scope}.{}", e.name()), values);
    }

    fn add_message(&mut self, scope: &str, m: &DescriptorProto) {
        let name = format!("{scope}.{}", m.name());
        for e in &m.enum_type {
            self.add_enum(&name, e);
        }
        for nested in &m.nested_type {
            self.add_message(&name, nested);
        }
        self.messages.insert(name, m.clone());
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn tag(out: &mut Vec<u8>, number: i32, wire_type: u8) {
    varint(out, ((number as u64) << 3) | u64::from(wire_type));
}

fn random_string(rng: &mut Rng) -> String {
    const POOL: &[char] = &[
        'a', 'z', 'Q', '0', '9', ' ', '-', '_', '/', '"', '\\', '\n', '\t', '\u{1}', '\u{1f}',
        '\u{7f}', 'é', '✓', '中', '😀', '\u{2028}',
    ];
    let len = rng.below(9) as usize;
    (0..len)
        .map(|_| POOL[rng.below(POOL.len() as u64) as usize])
        .collect()
}

fn random_f64(rng: &mut Rng) -> f64 {
    match rng.below(5) {
        0 => 0.0,
        1 => (rng.below(2_000_000) as f64 - 1_000_000.0) / 1000.0,
        2 => -0.0,
        _ => loop {
            let v = f64::from_bits(rng.next());
            if v.is_finite() {
                break v;
            }
        },
    }
}

/// Writes one random value of `field` (without its tag) into `out`.
fn value(
    schema: &Schema,
    rng: &mut Rng,
    field: &prost_types::FieldDescriptorProto,
    depth: usize,
    out: &mut Vec<u8>,
) {
    match field.r#type() {
        Type::Double => out.extend_from_slice(&random_f64(rng).to_bits().to_le_bytes()),
        Type::Int64 | Type::Uint64 => varint(out, rng.next()),
        Type::Int32 => varint(out, i64::from(rng.next() as i32) as u64),
        Type::Uint32 => varint(out, u64::from(rng.next() as u32)),
        Type::Bool => varint(out, rng.below(2)),
        Type::Enum => {
            let values = &schema.enums[field.type_name()];
            let v = if rng.chance(90) {
                values[rng.below(values.len() as u64) as usize]
            } else {
                1000 + rng.below(1000) as i32
            };
            varint(out, i64::from(v) as u64);
        }
        Type::String => {
            let s = random_string(rng);
            varint(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        Type::Bytes => {
            let len = rng.below(9) as usize;
            varint(out, len as u64);
            out.extend((0..len).map(|_| rng.next() as u8));
        }
        Type::Message => {
            let body = message(schema, rng, field.type_name(), depth + 1);
            varint(out, body.len() as u64);
            out.extend_from_slice(&body);
        }
        other => panic!("type {other:?} is not in the Mesos v1 spec"),
    }
}

fn wire_type(ty: Type) -> u8 {
    match ty {
        Type::Double => 1,
        Type::String | Type::Bytes | Type::Message => 2,
        _ => 0,
    }
}

/// Random protobuf bytes for the message `name` (`.mesos.v1.Offer`).
fn message(schema: &Schema, rng: &mut Rng, name: &str, depth: usize) -> Vec<u8> {
    let m = &schema.messages[name];
    let mut out = Vec::new();
    // Deeper down, fewer optional fields, so instances stay finite.
    let percent = match depth {
        0 | 1 => 60,
        2 | 3 => 30,
        4 => 10,
        _ => 0,
    };
    let mut oneof_done = vec![false; m.oneof_decl.len()];
    for field in &m.field {
        if let Some(i) = field.oneof_index {
            let i = i as usize;
            if oneof_done[i] || !rng.chance(percent) {
                continue;
            }
            oneof_done[i] = true;
        }
        let count = match field.label() {
            Label::Required => 1,
            Label::Optional => usize::from(rng.chance(percent)),
            Label::Repeated if rng.chance(percent) => 1 + rng.below(3) as usize,
            Label::Repeated => 0,
        };
        for _ in 0..count {
            tag(&mut out, field.number(), wire_type(field.r#type()));
            value(schema, rng, field, depth, &mut out);
        }
    }
    out
}

#[test]
fn random_instances_of_every_message_round_trip() {
    let schema = Schema::load();
    let mut rng = Rng(0x5EED_2026);
    let mut checked = 0;
    for ty in dynamic::message_types() {
        let name = format!(".{}", ty.full_name());
        for round in 0..25 {
            let bytes = message(&schema, &mut rng, &name, usize::from(round % 5 == 4));
            let canonical = ty
                .normalize_protobuf(&bytes)
                .unwrap_or_else(|e| panic!("{name}: our own bytes do not decode: {e}"));
            assert_eq!(
                ty.normalize_protobuf(&canonical).unwrap(),
                canonical,
                "{name}: protobuf re-encoding is not stable"
            );
            let json = ty.protobuf_to_json(&canonical).unwrap();
            serde_json::from_slice::<serde_json::Value>(&json).unwrap_or_else(|e| {
                panic!(
                    "{name}: we wrote invalid JSON ({e}): {}",
                    String::from_utf8_lossy(&json)
                )
            });
            let back = ty.json_to_protobuf(&json).unwrap_or_else(|e| {
                panic!(
                    "{name}: our JSON does not read back: {e}\n{}",
                    String::from_utf8_lossy(&json)
                )
            });
            assert_eq!(
                back,
                canonical,
                "{name}: JSON round trip changed the message\n{}",
                String::from_utf8_lossy(&json)
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 352 * 25);
}

#[test]
fn generated_instances_are_substantial() {
    // Guards the test above against a generator that makes only empty
    // messages: an Offer carries fields, nested messages and escapes.
    let schema = Schema::load();
    let mut rng = Rng(7);
    let ty = dynamic::message_type("mesos.v1.scheduler.Event").unwrap();
    let mut total = 0;
    let mut escapes = 0;
    for _ in 0..50 {
        let bytes = message(&schema, &mut rng, ".mesos.v1.scheduler.Event", 0);
        let json = String::from_utf8(ty.protobuf_to_json(&bytes).unwrap()).unwrap();
        total += json.len();
        escapes += json.matches("\\u00").count() + json.matches("\\\"").count();
    }
    assert!(total > 50 * 200, "average JSON only {} bytes", total / 50);
    assert!(escapes > 10, "strings never needed escaping ({escapes})");
}
