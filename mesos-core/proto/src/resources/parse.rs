//! The agent's `--resources` and `--attributes` forms.

use super::value::{TextValue, parse_text_value, validate_scalar};
use super::{InvalidResource, Resources};
use crate::json::{JsonError, JsonReader};
use crate::v1::resource::ReservationInfo;
use crate::v1::resource::reservation_info::Type as ReservationType;
use crate::v1::value::{self, Type as ValueType};
use crate::v1::{Attribute, Resource, Value};

/// Unparsable `--resources` or `--attributes`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// A `name:value` item of the text form is malformed.
    #[error("invalid {what} `{item}`: {reason}")]
    Item {
        /// `resource` or `attribute`.
        what: &'static str,
        /// The offending item.
        item: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The JSON form does not read as an array of `Resource`.
    #[error("invalid resources JSON: {0}")]
    Json(#[from] JsonError),
    /// A resource parsed but is not valid.
    #[error(transparent)]
    Invalid(#[from] InvalidResource),
}

fn item_error(what: &'static str, item: &str, reason: impl Into<String>) -> ParseError {
    ParseError::Item {
        what,
        item: item.trim().to_string(),
        reason: reason.into(),
    }
}

pub(super) fn parse_resources(text: &str, default_role: &str) -> Result<Resources, ParseError> {
    let trimmed = text.trim();
    if trimmed.starts_with('[') {
        let mut r = JsonReader::new(trimmed);
        let list: Vec<Resource> = r.read_list()?;
        r.finish()?;
        return Ok(Resources::from_resources(list)?);
    }
    let mut resources = Vec::new();
    for item in text.split([';', '\n']).filter(|t| !t.trim().is_empty()) {
        resources.push(parse_resource_item(item, default_role)?);
    }
    Ok(Resources::from_resources(resources)?)
}

/// A value of the text grammar as a `Value`, scalars checked as input.
fn parse_value(text: &str) -> Result<Value, String> {
    let mut v = Value::default();
    match parse_text_value(text)? {
        TextValue::Scalar(x) => {
            validate_scalar(x).map_err(|e| format!("invalid scalar: {e}"))?;
            v.r#type = ValueType::Scalar as i32;
            v.scalar = Some(value::Scalar { value: x });
        }
        TextValue::Ranges(range) => {
            v.r#type = ValueType::Ranges as i32;
            v.ranges = Some(value::Ranges { range });
        }
        TextValue::Set(item) => {
            v.r#type = ValueType::Set as i32;
            v.set = Some(value::Set { item });
        }
        TextValue::Text(value) => {
            v.r#type = ValueType::Text as i32;
            v.text = Some(value::Text { value });
        }
    }
    Ok(v)
}

fn parse_resource_item(item: &str, default_role: &str) -> Result<Resource, ParseError> {
    let err = |reason: &str| item_error("resource", item, reason);
    let mut parts = item.split(':').filter(|p| !p.is_empty());
    let (Some(key), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(err("expected `name:value` with exactly one `:`"));
    };
    let (name, role) = match key.find('(') {
        None => (key.trim(), default_role.trim()),
        Some(open) => {
            let close = key
                .find(')')
                .filter(|close| *close > open && key[close + 1..].trim().is_empty())
                .ok_or_else(|| err("mismatched parentheses"))?;
            (key[..open].trim(), key[open + 1..close].trim())
        }
    };
    if name.is_empty() {
        return Err(err("empty resource name"));
    }
    let v = parse_value(value).map_err(|e| err(&e))?;
    if let Some(text) = v.text {
        return Err(err(&format!(
            "`{}` is not a scalar, ranges (`[b-e]`) or set (`{{a,b}}`)",
            text.value
        )));
    }
    let mut r = Resource {
        name: name.to_string(),
        r#type: v.r#type,
        scalar: v.scalar,
        ranges: v.ranges,
        set: v.set,
        ..Default::default()
    };
    if role != "*" {
        super::validate_role(role).map_err(|e| err(&e))?;
        r.reservations.push(ReservationInfo {
            r#type: Some(ReservationType::Static as i32),
            role: Some(role.to_string()),
            ..Default::default()
        });
    }
    Ok(r)
}

/// Parses the agent's `--attributes` (`rack:2;zone:a;ports:[1-10]`): a
/// number is a SCALAR, `[b-e]` RANGES, anything else TEXT; sets are not
/// attributes.
///
/// ```
/// use mesos_proto::resources::parse_attributes;
/// use mesos_proto::v1::value::Type;
///
/// let attrs = parse_attributes("rack:2;zone:us-east-1a").unwrap();
/// assert_eq!(attrs[0].r#type, Type::Scalar as i32);
/// assert_eq!(attrs[1].text.as_ref().unwrap().value, "us-east-1a");
/// ```
pub fn parse_attributes(text: &str) -> Result<Vec<Attribute>, ParseError> {
    let mut out = Vec::new();
    for item in text.split([';', '\n']).filter(|t| !t.trim().is_empty()) {
        let err = |reason: &str| item_error("attribute", item, reason);
        let (name, value) = item
            .split_once(':')
            .filter(|(n, v)| !n.trim().is_empty() && !v.trim().is_empty())
            .ok_or_else(|| err("expected `name:value`"))?;
        let v = parse_value(value).map_err(|e| err(&e))?;
        if v.set.is_some() {
            return Err(err("sets are not valid attribute values"));
        }
        let a = Attribute {
            name: name.trim().to_string(),
            r#type: v.r#type,
            scalar: v.scalar,
            ranges: v.ranges,
            text: v.text,
            ..Default::default()
        };
        out.push(a);
    }
    Ok(out)
}
