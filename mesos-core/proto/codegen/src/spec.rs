//! The wire spec's data model (`spec/mesos-v1-wire-spec.json`).

use serde::Deserialize;

/// The whole fact sheet: one entry per `.proto` file.
#[derive(Debug, Deserialize)]
pub(crate) struct Spec {
    pub(crate) files: Vec<File>,
}

/// One `.proto` file.
#[derive(Debug, Deserialize)]
pub(crate) struct File {
    pub(crate) file: String,
    pub(crate) syntax: String,
    pub(crate) package: String,
    pub(crate) imports: Vec<String>,
    pub(crate) messages: Vec<Message>,
    pub(crate) enums: Vec<Enum>,
}

/// A message with its nested types.
#[derive(Debug, Deserialize)]
pub(crate) struct Message {
    pub(crate) name: String,
    pub(crate) fields: Vec<Field>,
    #[serde(default)]
    pub(crate) messages: Vec<Message>,
    #[serde(default)]
    pub(crate) enums: Vec<Enum>,
    #[serde(default)]
    pub(crate) map_entries: Vec<Message>,
}

/// A field.
#[derive(Debug, Deserialize)]
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) number: i32,
    pub(crate) label: String,
    #[serde(rename = "type")]
    pub(crate) ty: String,
    pub(crate) type_name: Option<String>,
    pub(crate) default: Option<String>,
    pub(crate) oneof: Option<String>,
}

/// An enum and its values, in declaration order.
#[derive(Debug, Deserialize)]
pub(crate) struct Enum {
    pub(crate) name: String,
    pub(crate) values: Vec<(String, i32)>,
}

impl Spec {
    pub(crate) fn load(path: &std::path::Path) -> anyhow::Result<Spec> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        Ok(serde_json::from_str(&text)?)
    }
}

impl Message {
    /// The map entry type a field refers to, if the field is a map.
    pub(crate) fn map_entry(&self, field: &Field) -> Option<&Message> {
        if field.label != "repeated" || field.ty != "message" {
            return None;
        }
        let type_name = field.type_name.as_deref()?;
        let short = type_name.rsplit('.').next()?;
        self.map_entries.iter().find(|e| e.name == short)
    }
}
