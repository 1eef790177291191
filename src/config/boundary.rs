//! The repo boundary: every path `ringmaster.yaml` reads from, and every fact
//! value put into a hierarchy template, stays inside the config repo.
//!
//! On a pull request the repo's contents come from whoever opened it, so a
//! path that leads outside (`..`, an absolute path, a symbolic link whose
//! target lies outside, the `.git` directory) is a `manifest` error at the
//! manifest line that names it, and the target is never read: no message,
//! snippet, annotation or SARIF result can carry anything of it. Such a
//! manifest cannot be read (exit 2) by every command, from the working tree
//! and from any revision alike. The sources (`source/`) refuse such reads on
//! their own too; this module is what names the manifest line.
//!
//! Not covered on purpose: a `dir` delivery `path` (where agents read
//! from, usually outside the repo, and only used by a rollout of a reviewed
//! revision) and TLS files (the CI runner's own credentials).

use crate::config::document::{Node, Value};
use crate::diag::{Diagnostic, Pos, Rule};
use crate::model::keypath::pointer_of;
use crate::source::confine;

/// The longest file name most file systems accept (`NAME_MAX`).
const MAX_NAME_BYTES: usize = 255;

/// Paths the manifest reads from, as written: (pointer, field, value, pos).
type ReadPath<'a> = (String, &'static str, &'a str, Pos);

pub(crate) fn read_paths(root: &Node) -> Vec<ReadPath<'_>> {
    let mut out = Vec::new();
    fn push<'a>(out: &mut Vec<ReadPath<'a>>, pointer: String, field: &'static str, node: &'a Node) {
        if let Some(text) = node.value.as_str() {
            out.push((pointer, field, text, node.pos));
        }
    }
    let mut add = |pointer, field, node| push(&mut out, pointer, field, node);
    if let Some(Value::Seq(items)) = root.get("schemas").map(|e| &e.value.value) {
        for (i, item) in items.iter().enumerate() {
            if let Some(schema) = item.get("schema") {
                add(format!("/schemas/{i}/schema"), "schemas", &schema.value);
            }
        }
    }
    if let Some(schema) = root.get("effective").and_then(|e| e.value.get("schema")) {
        add(
            "/effective/schema".into(),
            "effective.schema",
            &schema.value,
        );
    }
    // The list form: one schema per class selector.
    if let Some(Value::Seq(items)) = root.get("effective").map(|e| &e.value.value) {
        for (i, item) in items.iter().enumerate() {
            if let Some(schema) = item.get("schema") {
                add(
                    format!("/effective/{i}/schema"),
                    "effective.schema",
                    &schema.value,
                );
            }
        }
    }
    for field in ["flags", "rings"] {
        if let Some(dir) = root.get(field) {
            add(format!("/{field}"), field, &dir.value);
        }
    }
    if let Some(file) = root.get("metrics").and_then(|e| e.value.get("file")) {
        add("/metrics/file".into(), "metrics.file", &file.value);
    }
    out
}

/// Why a path written in the manifest leads outside the repo, if it does.
pub(crate) fn path_problem(path: &str) -> Option<&'static str> {
    if path.contains('\0') {
        Some("holds a NUL byte")
    } else if path.starts_with('/') {
        Some("is an absolute path")
    } else if confine(path).is_err() {
        Some("climbs out of the repository with `..`")
    } else if confine(path).is_ok_and(|p| p.split('/').any(|s| s == ".git")) {
        Some("points into the `.git` directory")
    } else {
        None
    }
}

/// A hierarchy template with every `{fact}` replaced by a harmless name, so
/// its literal parts can be judged; and the facts it names.
fn template_shape(template: &str) -> (String, Vec<&str>) {
    let mut shape = String::new();
    let mut facts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| c + open) else {
            break;
        };
        shape.push_str(&rest[..open]);
        shape.push('f');
        facts.push(&rest[open + 1..close]);
        rest = &rest[close + 1..];
    }
    shape.push_str(rest);
    (shape, facts)
}

/// Why a fact value cannot be one path component, if it cannot.
pub(crate) fn fact_value_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        Some("is empty")
    } else if value.contains('\0') {
        Some("holds a NUL byte")
    } else if value.contains('/') {
        Some("holds `/`")
    } else if value == "." || value == ".." {
        Some("is `.` or `..`")
    } else if value.len() > MAX_NAME_BYTES {
        Some("is longer than 255 bytes")
    } else {
        None
    }
}

/// For messages: a name as typed, with control characters escaped and
/// bounded, so a hostile class name cannot drive a terminal.
pub(crate) fn shown(name: &str) -> String {
    let escaped: String = name.chars().flat_map(char::escape_debug).collect();
    if escaped.chars().count() > 60 {
        let head: String = escaped.chars().take(57).collect();
        format!("{head}...")
    } else {
        escaped
    }
}

/// The boundary errors visible in the manifest's text alone: read paths that
/// lead outside, and fact values that cannot form a path in the templates
/// that use them. Same verdict for every source, since only the manifest is
/// looked at.
pub(crate) fn manifest_errors(root: &Node, manifest_file: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let outside = |pointer: &str, pos: Pos, what: String| {
        Diagnostic::new(Rule::Manifest, manifest_file, pos, what)
            .with_path(pointer)
            .with_help("paths in ringmaster.yaml are relative to the repo root and stay inside it; move the file into the repo")
    };
    for (pointer, field, path, pos) in read_paths(root) {
        if let Some(problem) = path_problem(path) {
            out.push(outside(
                &pointer,
                pos,
                format!(
                    "`{field}` path `{}` {problem}; ringmaster never reads files outside the repo",
                    shown(path)
                ),
            ));
        }
    }
    let templates: Vec<(usize, &str, Pos)> = match root.get("hierarchy").map(|e| &e.value.value) {
        Some(Value::Seq(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, n)| Some((i, n.value.as_str()?, n.pos)))
            .collect(),
        _ => Vec::new(),
    };
    let classes = root
        .get("host_classes")
        .and_then(|e| e.value.value.as_map())
        .unwrap_or_default();
    let mut reported = std::collections::BTreeSet::new();
    // Every value of a fact counts: each item of a multi-valued fact and a
    // nested fact under its dotted name.
    let flat: Vec<Vec<crate::config::layers::FlatFact<'_>>> = classes
        .iter()
        .map(|c| crate::config::layers::flatten_facts(&c.value, false))
        .collect();
    for (i, template, pos) in templates {
        let (shape, facts) = template_shape(template);
        if let Some(problem) = path_problem(&shape) {
            out.push(outside(
                &format!("/hierarchy/{i}"),
                pos,
                format!(
                    "template `{}` {problem}; ringmaster never reads files outside the repo",
                    shown(template)
                ),
            ));
            continue;
        }
        for (class, flat) in classes.iter().zip(&flat) {
            for fact in &facts {
                let values: Vec<(&str, Pos)> = if *fact == "class" {
                    vec![(class.key.as_str(), class.key_pos)]
                } else {
                    flat.iter()
                        .filter(|f| f.name == *fact)
                        .map(|f| (f.value, f.pos))
                        .collect()
                };
                for (value, at) in values {
                    let Some(problem) = fact_value_problem(value) else {
                        continue;
                    };
                    // Pointers are built only for a value that is refused.
                    let class_pointer = format!("/host_classes{}", pointer_of(&[&class.key]));
                    let pointer = if *fact == "class" {
                        class_pointer.clone()
                    } else {
                        let below = crate::config::layers::flatten_facts(&class.value, true)
                            .into_iter()
                            .find(|f| f.name == *fact && f.pos == at)
                            .map(|f| f.pointer)
                            .unwrap_or_default();
                        format!("{class_pointer}{below}")
                    };
                    if !reported.insert((class.key.clone(), fact.to_string())) {
                        continue;
                    }
                    out.push(
                        Diagnostic::new(
                            Rule::Manifest,
                            manifest_file,
                            at,
                            format!(
                                "host class `{}`: the value of fact `{}` {problem}, so it cannot form a file name in template `{}`",
                                shown(&class.key),
                                shown(fact),
                                shown(template)
                            ),
                        )
                        .with_path(pointer)
                        .with_class(class.key.as_str())
                        .with_help("a fact used in a hierarchy template must be one file name: not empty, no `/` or NUL, not `.` or `..`, at most 255 bytes"),
                    );
                }
            }
        }
    }
    out.sort_by_key(|d| d.pos);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_the_repo_are_named() {
        assert_eq!(path_problem("schemas/a.json"), None);
        assert_eq!(path_problem("config/../schemas/a.json"), None);
        assert!(path_problem("../outside/x.yaml").is_some());
        assert!(path_problem("config/../../x.yaml").is_some());
        assert!(path_problem("/etc/passwd").is_some());
        assert!(path_problem(".git/config").is_some());
        assert!(path_problem("a\0b").is_some());
    }

    #[test]
    fn fact_values_must_be_one_file_name() {
        assert_eq!(fact_value_problem("eu-west"), None);
        for bad in ["", ".", "..", "a/b", "a\0b"] {
            assert!(fact_value_problem(bad).is_some(), "{bad:?}");
        }
        assert!(fact_value_problem(&"x".repeat(256)).is_some());
        assert_eq!(fact_value_problem(&"x".repeat(255)), None);
    }

    #[test]
    fn templates_are_judged_by_their_literal_parts() {
        assert_eq!(
            template_shape("config/{role}/{class}.yaml"),
            ("config/f/f.yaml".to_string(), vec!["role", "class"])
        );
        assert!(path_problem(&template_shape("../{role}.yaml").0).is_some());
    }
}
