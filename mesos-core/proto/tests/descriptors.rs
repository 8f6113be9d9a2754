//! Our compiled descriptors (`mesos_proto::FILE_DESCRIPTOR_SET`, what prost
//! generated the types from) agree with the wire spec on every file,
//! message, field and enum value: names, numbers, labels, types, type names,
//! defaults and oneofs, with nothing missing and nothing extra.

use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorSet};
use serde_json::Value;
use std::path::Path;

fn spec() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("spec/mesos-v1-wire-spec.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn label_name(label: Label) -> &'static str {
    match label {
        Label::Optional => "optional",
        Label::Required => "required",
        Label::Repeated => "repeated",
    }
}

fn type_name(ty: Type) -> &'static str {
    match ty {
        Type::Double => "double",
        Type::Float => "float",
        Type::Int64 => "int64",
        Type::Uint64 => "uint64",
        Type::Int32 => "int32",
        Type::Fixed64 => "fixed64",
        Type::Fixed32 => "fixed32",
        Type::Bool => "bool",
        Type::String => "string",
        Type::Group => "group",
        Type::Message => "message",
        Type::Bytes => "bytes",
        Type::Uint32 => "uint32",
        Type::Enum => "enum",
        Type::Sfixed32 => "sfixed32",
        Type::Sfixed64 => "sfixed64",
        Type::Sint32 => "sint32",
        Type::Sint64 => "sint64",
    }
}

fn check_enum(scope: &str, spec: &Value, ours: &EnumDescriptorProto, counts: &mut Counts) {
    let name = format!("{scope}.{}", ours.name());
    let values = spec["values"].as_array().unwrap();
    assert_eq!(values.len(), ours.value.len(), "{name}: value count");
    for (sv, ov) in values.iter().zip(&ours.value) {
        assert_eq!(sv[0].as_str().unwrap(), ov.name(), "{name}: value name");
        assert_eq!(
            sv[1].as_i64().unwrap(),
            i64::from(ov.number()),
            "{name}.{}",
            ov.name()
        );
        counts.values += 1;
    }
    counts.enums += 1;
}

#[derive(Default, Debug)]
struct Counts {
    messages: usize,
    fields: usize,
    enums: usize,
    values: usize,
}

fn check_message(scope: &str, spec: &Value, ours: &DescriptorProto, counts: &mut Counts) {
    let name = format!("{scope}.{}", spec["name"].as_str().unwrap());
    assert_eq!(spec["name"].as_str().unwrap(), ours.name(), "{name}: name");
    let fields = spec["fields"].as_array().unwrap();
    assert_eq!(fields.len(), ours.field.len(), "{name}: field count");
    for (sf, of) in fields.iter().zip(&ours.field) {
        let fname = format!("{name}.{}", of.name());
        assert_eq!(
            sf["name"].as_str().unwrap(),
            of.name(),
            "{name}: field order"
        );
        assert_eq!(
            sf["number"].as_i64().unwrap(),
            i64::from(of.number()),
            "{fname}: number"
        );
        assert_eq!(
            sf["label"].as_str().unwrap(),
            label_name(of.label()),
            "{fname}: label"
        );
        assert_eq!(
            sf["type"].as_str().unwrap(),
            type_name(of.r#type()),
            "{fname}: type"
        );
        let want_type = sf["type_name"].as_str().map(|t| format!(".{t}"));
        assert_eq!(
            want_type.as_deref(),
            of.type_name.as_deref(),
            "{fname}: type_name"
        );
        assert_eq!(
            sf["default"].as_str(),
            of.default_value.as_deref(),
            "{fname}: default"
        );
        let oneof = of
            .oneof_index
            .map(|i| ours.oneof_decl[i as usize].name().to_string());
        assert_eq!(sf["oneof"].as_str(), oneof.as_deref(), "{fname}: oneof");
        assert!(
            !of.options.as_ref().is_some_and(|o| o.packed()),
            "{fname}: packed"
        );
        counts.fields += 1;
    }

    let enums = spec["enums"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    assert_eq!(enums.len(), ours.enum_type.len(), "{name}: enum count");
    for (se, oe) in enums.iter().zip(&ours.enum_type) {
        assert_eq!(
            se["name"].as_str().unwrap(),
            oe.name(),
            "{name}: enum order"
        );
        check_enum(&name, se, oe, counts);
    }

    // Nested messages: the spec keeps map entries apart; descriptors mark them.
    let nested = spec["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let entries = spec["map_entries"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let (ours_entries, ours_nested): (Vec<_>, Vec<_>) = ours
        .nested_type
        .iter()
        .partition(|m| m.options.as_ref().is_some_and(|o| o.map_entry()));
    assert_eq!(
        nested.len(),
        ours_nested.len(),
        "{name}: nested message count"
    );
    assert_eq!(entries.len(), ours_entries.len(), "{name}: map entry count");
    for (sm, om) in nested.iter().zip(ours_nested) {
        check_message(&name, sm, om, counts);
    }
    for (sm, om) in entries.iter().zip(ours_entries) {
        check_message(&name, sm, om, counts);
    }
    counts.messages += 1;
}

#[test]
fn descriptors_match_the_wire_spec() {
    let spec = spec();
    let fds = FileDescriptorSet::decode(mesos_proto::FILE_DESCRIPTOR_SET).unwrap();
    let files = spec["files"].as_array().unwrap();
    assert_eq!(files.len(), fds.file.len(), "file count");
    let mut counts = Counts::default();
    for sfile in files {
        let fname = sfile["file"].as_str().unwrap();
        let ofile = fds
            .file
            .iter()
            .find(|f| f.name() == fname)
            .unwrap_or_else(|| panic!("no descriptor for {fname}"));
        let package = sfile["package"].as_str().unwrap();
        assert_eq!(package, ofile.package(), "{fname}: package");
        // Descriptors leave `syntax` empty for proto2.
        let syntax = match ofile.syntax() {
            "" => "proto2",
            s => s,
        };
        assert_eq!(sfile["syntax"].as_str().unwrap(), syntax, "{fname}: syntax");
        let imports: Vec<&str> = sfile["imports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_str().unwrap())
            .collect();
        assert_eq!(imports, ofile.dependency, "{fname}: imports");
        let messages = sfile["messages"].as_array().unwrap();
        assert_eq!(
            messages.len(),
            ofile.message_type.len(),
            "{fname}: message count"
        );
        for (sm, om) in messages.iter().zip(&ofile.message_type) {
            check_message(package, sm, om, &mut counts);
        }
        let enums = sfile["enums"].as_array().unwrap();
        assert_eq!(enums.len(), ofile.enum_type.len(), "{fname}: enum count");
        for (se, oe) in enums.iter().zip(&ofile.enum_type) {
            assert_eq!(se["name"].as_str().unwrap(), oe.name());
            check_enum(package, se, oe, &mut counts);
        }
    }
    // The spec's totals (352 messages and 11 map entries): a guard against
    // a walk that silently checks nothing.
    assert_eq!(
        (counts.messages, counts.fields, counts.enums, counts.values),
        (363, 1230, 53, 442)
    );
}

#[test]
fn every_spec_message_has_a_rust_type() {
    let spec = spec();
    fn walk(scope: &str, messages: &[Value], out: &mut Vec<String>) {
        for m in messages {
            let name = format!("{scope}.{}", m["name"].as_str().unwrap());
            let nested = m["messages"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            walk(&name, nested, out);
            out.push(name);
        }
    }
    let mut names = Vec::new();
    for f in spec["files"].as_array().unwrap() {
        walk(
            f["package"].as_str().unwrap(),
            f["messages"].as_array().unwrap(),
            &mut names,
        );
    }
    assert_eq!(names.len(), mesos_proto::dynamic::message_types().len());
    for name in names {
        let ty = mesos_proto::dynamic::message_type(&name)
            .unwrap_or_else(|| panic!("no Rust type for {name}"));
        assert_eq!(ty.full_name(), name);
    }
}

#[test]
fn spec_copy_matches_shared_when_present() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = dir.join("../../../shared/wire/mesos-v1-wire-spec.json");
    if let Ok(theirs) = std::fs::read(shared) {
        let ours = std::fs::read(dir.join("spec/mesos-v1-wire-spec.json")).unwrap();
        assert!(
            ours == theirs,
            "spec/ differs from shared/wire: copy it again and regenerate"
        );
    }
}
