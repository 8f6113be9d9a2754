//! prost's naming rules, so generated impls name the types prost generated.

use heck::{ToSnakeCase, ToUpperCamelCase};

/// prost's field and module identifier for a proto name.
pub(crate) fn to_snake(s: &str) -> String {
    let mut ident = s.to_snake_case();
    match ident.as_str() {
        "as" | "break" | "const" | "continue" | "else" | "enum" | "false" | "fn" | "for" | "if"
        | "impl" | "in" | "let" | "loop" | "match" | "mod" | "move" | "mut" | "pub" | "ref"
        | "return" | "static" | "struct" | "trait" | "true" | "type" | "unsafe" | "use"
        | "where" | "while" | "dyn" | "abstract" | "become" | "box" | "do" | "final" | "macro"
        | "override" | "priv" | "typeof" | "unsized" | "virtual" | "yield" | "async" | "await"
        | "try" | "gen" => ident.insert_str(0, "r#"),
        "self" | "super" | "extern" | "crate" => ident.push('_'),
        _ => {}
    }
    ident
}

/// prost's type identifier for a proto name.
pub(crate) fn to_upper_camel(s: &str) -> String {
    let mut ident = s.to_upper_camel_case();
    if ident == "Self" {
        ident.push('_');
    }
    ident
}

/// The Rust path (from the crate root) of a fully qualified proto type name,
/// given the package it is declared in.
pub(crate) fn rust_path(root: &str, package: &str, full_name: &str) -> String {
    let rest = full_name
        .strip_prefix(package)
        .and_then(|r| r.strip_prefix('.'))
        .unwrap_or(full_name);
    let mut path = String::from(root);
    for segment in package.split('.') {
        path.push_str("::");
        path.push_str(&to_snake(segment));
    }
    let parts: Vec<&str> = rest.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        path.push_str("::");
        if i + 1 == parts.len() {
            path.push_str(&to_upper_camel(part));
        } else {
            path.push_str(&to_snake(part));
        }
    }
    path
}
