//! The wire vectors (`tests/vectors/`, a copy of `shared/wire/vectors/`):
//! each `NAME.bin` decodes to the message in `NAME.json`, and each encodes
//! back to the same bytes and the same JSON.

use mesos_proto::dynamic;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn index() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(vectors_dir().join("index.json")).unwrap();
    let map: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
    map.into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap().to_string()))
        .collect()
}

/// JSON equality where numbers compare by value (`2048.0` == `2048`).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn every_vector_decodes_and_reencodes_exactly() {
    let index = index();
    assert_eq!(index.len(), 28, "the vector set has 28 pairs");
    for (name, type_name) in index {
        let ty = dynamic::message_type(&type_name)
            .unwrap_or_else(|| panic!("{name}: no message type {type_name}"));
        let bin = std::fs::read(vectors_dir().join(format!("{name}.bin"))).unwrap();
        let json_text = std::fs::read(vectors_dir().join(format!("{name}.json"))).unwrap();
        let expected: Value = serde_json::from_slice(&json_text).unwrap();

        // protobuf -> JSON gives the vector's JSON.
        let ours = ty.protobuf_to_json(&bin).unwrap();
        let ours: Value = serde_json::from_slice(&ours).unwrap();
        assert!(
            same_json(&ours, &expected),
            "{name}: JSON differs\n ours: {ours}\n want: {expected}"
        );

        // JSON -> protobuf gives the vector's bytes, exactly.
        let bytes = ty.json_to_protobuf(&json_text).unwrap();
        assert_eq!(bytes, bin, "{name}: protobuf bytes differ");

        // JSON -> JSON gives the same JSON.
        let again = ty.protobuf_to_json(&bytes).unwrap();
        let again: Value = serde_json::from_slice(&again).unwrap();
        assert!(
            same_json(&again, &expected),
            "{name}: JSON re-encoding differs"
        );

        // protobuf -> protobuf is the identity on these bytes.
        assert_eq!(ty.normalize_protobuf(&bin).unwrap(), bin, "{name}");
    }
}

#[test]
fn vectors_copy_matches_shared_when_present() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/wire/vectors");
    if !shared.exists() {
        return;
    }
    for entry in std::fs::read_dir(&shared).unwrap() {
        let entry = entry.unwrap();
        let ours = std::fs::read(vectors_dir().join(entry.file_name())).unwrap_or_default();
        assert_eq!(
            ours,
            std::fs::read(entry.path()).unwrap(),
            "tests/vectors/{} differs from shared/wire/vectors",
            entry.file_name().to_string_lossy()
        );
    }
}
