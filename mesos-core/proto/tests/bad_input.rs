//! Bad input gets an error that names the problem: never a panic, a hang
//! or a silently wrong value.

use mesos_proto::dynamic;
use mesos_proto::json::{self, JsonError};
use mesos_proto::v1::scheduler::{Event, event};
use mesos_proto::v1::value::Range;
use mesos_proto::v1::{TaskStatus, TimeInfo};
use prost::Message;

fn event_err(text: &str) -> String {
    json::from_str::<Event>(text).unwrap_err().to_string()
}

#[test]
fn malformed_json_names_the_place() {
    let cases = [
        ("", "expected object, found end of input"),
        (
            "{",
            "invalid JSON at line 1 column 2: expected a member name or `}`",
        ),
        (
            "{\"type\":}",
            "type: expected enum name or number, found `}`",
        ),
        (
            "{\"type\":\"HEARTBEAT\",}",
            "expected a member name after `,`",
        ),
        ("{\"type\" \"HEARTBEAT\"}", "expected `:` after member name"),
        ("{\"type\":\"HEARTBEAT\"} x", "trailing characters"),
        ("{\"type\":\"HEART", "unterminated string"),
        ("{\"type\":\"a\u{1}\"}", "control character in string"),
        ("{\"x\":01}", "malformed number"),
        ("{\"x\":-}", "malformed number"),
        ("{\"x\":1.}", "malformed number"),
        ("{\"x\":tru}", "expected a value"),
        ("{\"x\":\"\\q\"}", "invalid escape"),
        ("{\"x\":\"\\ud800\"}", "unpaired surrogate"),
        ("[]", "expected object, found array"),
        ("{\"offers\":[1]}", "offers: expected object, found array"),
    ];
    for (text, want) in cases {
        let err = event_err(text);
        assert!(
            err.contains(want),
            "{text:?}: {err:?} should mention {want:?}"
        );
    }
    // Line and column are counted.
    assert_eq!(
        event_err("{\n  \"type\": \"HEARTBEAT\"\n  \"x\": 1}"),
        "type: invalid JSON at line 3 column 3: expected `,` or `}`"
    );
}

#[test]
fn wrong_types_name_the_field_path() {
    let offers = |resource: &str| {
        format!(
            r#"{{"type":"OFFERS","offers":{{"offers":[{{"id":{{"value":"o"}},"framework_id":{{"value":"f"}},
            "agent_id":{{"value":"a"}},"hostname":"h","resources":[{resource}]}}]}}}}"#
        )
    };
    assert_eq!(
        event_err(&offers(
            r#"{"name":"cpus","type":"SCALAR","scalar":{"value":true}}"#
        )),
        "offers.offers[0].resources[0].scalar.value: expected number, found boolean"
    );
    assert_eq!(
        event_err(&offers(r#"{"name":"cpus","type":"NOPE"}"#)),
        "offers.offers[0].resources[0].type: unknown enum value \"NOPE\""
    );
    assert_eq!(
        event_err(&offers(r#"{"type":"SCALAR"}"#)),
        "offers.offers[0].resources[0]: missing required field `name`"
    );
    assert_eq!(
        event_err(r#"{"type":"OFFERS","offers":{"offers":[{"id":{}}]}}"#),
        "offers.offers[0].id: missing required field `value`"
    );
    assert_eq!(
        event_err(r#"{"type":"OFFERS","offers":{"offers":[{}]}}"#),
        "offers.offers[0]: missing required fields `id`, `framework_id`, `agent_id`, `hostname`"
    );
    assert_eq!(
        event_err(r#"{"type":5.5}"#),
        "type: expected int32, found 5.5"
    );
    assert_eq!(
        event_err(r#"{"type":"OFFERS","offers":"x"}"#),
        "offers: expected object, found string"
    );
    let err = json::from_str::<TaskStatus>(
        r#"{"task_id":{"value":"t"},"state":"TASK_RUNNING","data":"!!"}"#,
    )
    .unwrap_err();
    assert_eq!(err.path(), "data");
    assert!(err.message().starts_with("invalid base64"), "{err}");
}

#[test]
fn integers_are_range_checked_and_64_bit_exact() {
    let range = |text: &str| json::from_str::<Range>(text);
    assert_eq!(
        range(r#"{"begin":-1,"end":5}"#).unwrap_err().to_string(),
        "begin: -1 is out of range for uint64"
    );
    assert_eq!(
        range(r#"{"begin":18446744073709551616,"end":5}"#)
            .unwrap_err()
            .to_string(),
        "begin: 18446744073709551616 is out of range for uint64"
    );
    assert_eq!(
        range(r#"{"begin":1.5,"end":5}"#).unwrap_err().to_string(),
        "begin: expected uint64, found 1.5"
    );
    // Exact at the extremes, quoted or not, and written back as numbers
    // (Mesos rejects quoted port ranges).
    let max = range(r#"{"begin":"18446744073709551615","end":18446744073709551615}"#).unwrap();
    assert_eq!((max.begin, max.end), (u64::MAX, u64::MAX));
    assert_eq!(
        json::to_string(&max),
        r#"{"begin":18446744073709551615,"end":18446744073709551615}"#
    );
    let t: TimeInfo = json::from_str(r#"{"nanoseconds":"-9223372036854775808"}"#).unwrap();
    assert_eq!(t.nanoseconds, i64::MIN);
    assert_eq!(
        json::to_string(&t),
        r#"{"nanoseconds":-9223372036854775808}"#
    );
    // 1e3 is an integer; "12a" is not.
    assert_eq!(range(r#"{"begin":1e3,"end":2000}"#).unwrap().begin, 1000);
    assert!(json::from_str::<TimeInfo>(r#"{"nanoseconds":"12a"}"#).is_err());
}

#[test]
fn lenient_where_mesos_is_lenient() {
    // Unknown fields (of any shape) are ignored; enums by number; null is
    // "not set".
    let e: Event = json::from_str(
        r#"{"future":{"a":[1,2,{"b":null}],"c":"\u00e9"},"type":8,"subscribed":null}"#,
    )
    .unwrap();
    assert_eq!(e.r#type, Some(event::Type::Heartbeat as i32));
    assert!(e.subscribed.is_none());
    // Escaped member names still match.
    let e: Event = json::from_str(r#"{"\u0074ype":"HEARTBEAT"}"#).unwrap();
    assert_eq!(e.r#type, Some(event::Type::Heartbeat as i32));
}

#[test]
fn hostile_nesting_is_refused_without_overflowing_the_stack() {
    let depth = 100_000;
    let text = format!(r#"{{"x":{}{}}}"#, "[".repeat(depth), "]".repeat(depth));
    let err = event_err(&text);
    assert!(err.contains("nests deeper than 128"), "{err}");
    let text = format!("{}{}", r#"{"x":"#.repeat(depth), "}".repeat(depth));
    assert!(event_err(&text).contains("nests deeper than 128"));
}

#[test]
fn invalid_utf8_is_refused() {
    let err: JsonError = json::from_slice::<Event>(b"{\"type\":\"\xff\"}").unwrap_err();
    assert_eq!(err.to_string(), "invalid UTF-8 at byte 9");
}

#[test]
fn truncated_and_garbage_protobuf_are_errors() {
    let bin = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/vectors/scheduler_event_offers.bin"),
    )
    .unwrap();
    let mut errors = 0;
    for n in 0..bin.len() {
        // Never a panic; a cut inside a nested message is an error.
        if Event::decode(&bin[..n]).is_err() {
            errors += 1;
        }
    }
    assert!(Event::decode(&bin[..bin.len() - 1]).is_err());
    assert!(
        errors > bin.len() / 2,
        "only {errors} of {} truncations failed",
        bin.len()
    );

    let ty = dynamic::message_type("mesos.v1.scheduler.Event").unwrap();
    let err = ty.protobuf_to_json(&[0xff; 12]).unwrap_err().to_string();
    assert!(err.starts_with("invalid protobuf:"), "{err}");
    let err = ty
        .protobuf_to_json(&[0x1a, 0x05, 0x01])
        .unwrap_err()
        .to_string();
    assert!(err.contains("buffer underflow"), "{err}");

    // Random garbage never panics.
    let mut seed = 1u64;
    for _ in 0..20_000 {
        let len = (seed % 64) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let _ = ty.protobuf_to_json(&bytes);
        let _ = ty.json_to_protobuf(&bytes);
    }
}
