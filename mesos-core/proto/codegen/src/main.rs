//! Generates `mesos-proto`'s sources from the Mesos v1 wire spec.
//!
//! ```text
//! cargo run -p mesos-proto-codegen            # rewrite the generated files
//! cargo run -p mesos-proto-codegen -- --check # fail if any is stale
//! ```
//!
//! Steps: the spec (`spec/mesos-v1-wire-spec.json`) becomes `.proto` files
//! (`proto/`), which protox compiles in-process (no `protoc` anywhere) to a
//! descriptor set, from which prost-build writes the Rust types; this tool
//! then writes the Mesos JSON impls and the message registry beside them
//! (`src/generated/`). Everything it writes is checked in, so users of
//! `mesos-proto` compile none of this.

mod names;
mod proto_text;
mod rust_json;
mod spec;

use anyhow::{Context, Result, bail};
use prost::Message as _;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The generated files, by path relative to the `mesos-proto` crate root.
fn generate(crate_dir: &Path) -> Result<BTreeMap<PathBuf, Vec<u8>>> {
    let spec = spec::Spec::load(&crate_dir.join("spec/mesos-v1-wire-spec.json"))?;
    let mut files = BTreeMap::new();

    let scratch = std::env::temp_dir().join(format!("mesos-proto-codegen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let proto_dir = scratch.join("proto");
    let rust_dir = scratch.join("rust");
    std::fs::create_dir_all(&rust_dir)?;

    let mut proto_names = Vec::new();
    for file in &spec.files {
        let text = proto_text::render(file);
        let path = proto_dir.join(&file.file);
        std::fs::create_dir_all(path.parent().context("proto path has a parent")?)?;
        std::fs::write(&path, &text)?;
        files.insert(Path::new("proto").join(&file.file), text.into_bytes());
        proto_names.push(file.file.clone());
    }

    let fds = protox::Compiler::new([&proto_dir])?
        .include_imports(true)
        .include_source_info(false)
        .open_files(&proto_names)
        .map_err(|e| anyhow::anyhow!("protox: {e}"))?
        .file_descriptor_set();
    files.insert(
        PathBuf::from("src/generated/descriptor_set.bin"),
        fds.encode_to_vec(),
    );

    let mut config = prost_build::Config::new();
    config
        .out_dir(&rust_dir)
        .btree_map(["."])
        .compile_well_known_types()
        .enable_type_names()
        // prost infers Eq and Hash except through the recursive `parent` box;
        // the agent keys maps by container id.
        .type_attribute(".mesos.v1.ContainerID", "#[derive(Eq, Hash)]")
        // Ids key ordered maps (deterministic iteration in the master).
        .type_attribute(".mesos.v1.FrameworkID", "#[derive(PartialOrd, Ord)]")
        .type_attribute(".mesos.v1.AgentID", "#[derive(PartialOrd, Ord)]")
        .type_attribute(".mesos.v1.OfferID", "#[derive(PartialOrd, Ord)]")
        .type_attribute(".mesos.v1.TaskID", "#[derive(PartialOrd, Ord)]")
        .type_attribute(".mesos.v1.ExecutorID", "#[derive(PartialOrd, Ord)]")
        .type_attribute(".mesos.v1.OperationID", "#[derive(PartialOrd, Ord)]")
        .type_attribute(".mesos.v1.ResourceProviderID", "#[derive(PartialOrd, Ord)]")
        .type_attribute(".mesos.v1.ContainerID", "#[derive(PartialOrd, Ord)]")
        // DiskInfo is 888 bytes and rarely set; inline it would make every
        // Resource 1,160 bytes and decoding an offer 4x the prost floor.
        .boxed(".mesos.v1.Resource.disk")
        // A master keeps every task: inline, these three made each Task
        // 1,344 bytes (100 MB at 100,000 tasks) set or not.
        .boxed(".mesos.v1.Task.discovery")
        .boxed(".mesos.v1.Task.container")
        .boxed(".mesos.v1.Task.health_check");
    config
        .compile_fds(fds)
        .context("prost-build failed on the descriptor set")?;
    for entry in std::fs::read_dir(&rust_dir)? {
        let entry = entry?;
        let name = entry.file_name();
        files.insert(
            Path::new("src/generated").join(&name),
            std::fs::read(entry.path())?,
        );
    }

    files.insert(
        PathBuf::from("src/generated/json_impls.rs"),
        rust_json::render_impls(&spec).into_bytes(),
    );
    files.insert(
        PathBuf::from("src/generated/registry.rs"),
        rust_json::render_registry(&spec).into_bytes(),
    );
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(files)
}

fn main() -> Result<()> {
    let check = std::env::args().any(|a| a == "--check");
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("codegen lives inside mesos-proto")?
        .to_path_buf();
    let files = generate(&crate_dir)?;
    let mut stale = Vec::new();
    for (rel, contents) in &files {
        let path = crate_dir.join(rel);
        let current = std::fs::read(&path).ok();
        if current.as_deref() == Some(contents.as_slice()) {
            continue;
        }
        if check {
            stale.push(rel.display().to_string());
        } else {
            std::fs::create_dir_all(path.parent().context("has parent")?)?;
            std::fs::write(&path, contents)?;
            println!("wrote {}", rel.display());
        }
    }
    if !stale.is_empty() {
        bail!(
            "generated files are stale: {}; run `cargo run -p mesos-proto-codegen`",
            stale.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The checked-in sources are exactly what the generator makes now.
    #[test]
    fn generated_sources_are_fresh() {
        let crate_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf();
        let files = super::generate(&crate_dir).unwrap();
        for (rel, contents) in &files {
            let current = std::fs::read(crate_dir.join(rel)).unwrap_or_default();
            assert!(
                current == *contents,
                "{} is stale: run `cargo run -p mesos-proto-codegen`",
                rel.display()
            );
        }
    }
}
