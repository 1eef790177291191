//! Which effective schema checks which host class (`effective:`), and where
//! `unknown-override` is not worth saying (`unknown_override:`, open maps).
//!
//! `effective:` has two forms. The map form `{schema: path}` checks every
//! class against one schema (as before). The list form
//! `[{classes: glob, schema: path}, …]` checks each class against the FIRST
//! entry whose glob matches its name, like `schemas:`-style routing tables
//! read top to bottom (specific entries first, a `"*"` catch-all last); a
//! class no entry matches has no effective schema. First match rather than
//! every match: two schemas for one class would each reject what the other
//! allows (`additionalProperties: false`), so the user picks one.
//!
//! `unknown-override` is narrowed after the merge, as a filter over its
//! findings (each carries the file, the class and the key's pointer), so
//! the merge engine itself stays the one place merge rules live.

use globset::{GlobBuilder, GlobMatcher};

use crate::config::boundary::shown;
use crate::config::document::{Node, Value};
use crate::diag::{Diagnostic, Pos, Rule};
use crate::model::keypath::KeyPath;
use crate::source::normalize;

/// One effective schema and the classes it checks.
#[derive(Debug, Clone)]
pub struct EffectiveSchema {
    /// The class-name glob as written; `None` in the map form (every class).
    pub classes: Option<String>,
    /// `None` when the glob does not compile (then it matches no class).
    pub matcher: Option<GlobMatcher>,
    /// The schema's repo-relative path, normalized.
    pub schema: String,
    /// Where the schema path is written.
    pub pos: Pos,
    /// Where the schema path is written (`/effective/schema`,
    /// `/effective/1/schema`), for findings about it.
    pub pointer: String,
}

impl EffectiveSchema {
    pub fn applies_to(&self, class: &str) -> bool {
        match (&self.classes, &self.matcher) {
            (None, _) => true,
            (Some(_), Some(g)) => g.is_match(class),
            (Some(_), None) => false,
        }
    }
}

/// The `effective:` section, either form, in manifest order. A bad glob is
/// a `manifest` finding at its line.
pub(crate) fn effective_schemas(
    root: &Node,
    manifest_file: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<EffectiveSchema> {
    let Some(section) = root.get("effective") else {
        return Vec::new();
    };
    let written = |node: &Node| Some((node.value.as_str()?.to_owned(), node.pos));
    match &section.value.value {
        Value::Map(_) => section
            .value
            .get("schema")
            .and_then(|s| written(&s.value))
            .map(|(schema, pos)| EffectiveSchema {
                classes: None,
                matcher: None,
                schema: normalize(&schema),
                pos,
                pointer: "/effective/schema".into(),
            })
            .into_iter()
            .collect(),
        Value::Seq(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let (Some((classes, classes_pos)), Some((schema, pos))) = (
                    item.get("classes").and_then(|c| written(&c.value)),
                    item.get("schema").and_then(|s| written(&s.value)),
                ) else {
                    continue;
                };
                let matcher = match GlobBuilder::new(&classes).build() {
                    Ok(g) => Some(g.compile_matcher()),
                    Err(e) => {
                        diagnostics.push(
                            Diagnostic::new(
                                Rule::Manifest,
                                manifest_file,
                                classes_pos,
                                format!(
                                    "bad class glob `{}`: {}",
                                    shown(&classes),
                                    e.kind()
                                ),
                            )
                            .with_path(format!("/effective/{i}/classes"))
                            .with_help(
                                "a class glob matches host class names: `*` any run of characters, `?` one, `[ab]` a set, `{a,b}` alternatives",
                            ),
                        );
                        None
                    }
                };
                out.push(EffectiveSchema {
                    classes: Some(classes),
                    matcher,
                    schema: normalize(&schema),
                    pos,
                    pointer: format!("/effective/{i}/schema"),
                });
            }
            out
        }
        _ => Vec::new(),
    }
}

/// The `unknown_override.ignore` section: layer files and key prefixes
/// where a key no earlier layer defines is expected, not a typo.
#[derive(Debug, Clone, Default)]
pub struct UnknownOverrideScope {
    files: Vec<GlobMatcher>,
    /// Each prefix as key segments.
    keys: Vec<Vec<String>>,
}

impl UnknownOverrideScope {
    pub(crate) fn from_manifest(
        root: &Node,
        manifest_file: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Self {
        let mut scope = UnknownOverrideScope::default();
        let Some(Value::Seq(items)) = root
            .get("unknown_override")
            .and_then(|s| s.value.get("ignore"))
            .map(|e| &e.value.value)
        else {
            return scope;
        };
        let mut finding = |pos: Pos, pointer: String, message: String, help: &str| {
            diagnostics.push(
                Diagnostic::new(Rule::Manifest, manifest_file, pos, message)
                    .with_path(pointer)
                    .with_help(help),
            );
        };
        for (i, item) in items.iter().enumerate() {
            if let Some(files) = item.get("files")
                && let Some(pattern) = files.value.value.as_str()
            {
                match GlobBuilder::new(&normalize(pattern))
                    .literal_separator(true)
                    .build()
                {
                    Ok(g) => scope.files.push(g.compile_matcher()),
                    Err(e) => finding(
                        files.value.pos,
                        format!("/unknown_override/ignore/{i}/files"),
                        format!("bad glob `{}`: {}", shown(pattern), e.kind()),
                        "globs use `*` within a directory and `**` across directories",
                    ),
                }
            }
            if let Some(keys) = item.get("keys")
                && let Some(prefix) = keys.value.value.as_str()
            {
                match key_segments(prefix) {
                    Some(segments) => scope.keys.push(segments),
                    None => finding(
                        keys.value.pos,
                        format!("/unknown_override/ignore/{i}/keys"),
                        format!(
                            "bad key prefix `{}`: in a JSON Pointer `~` is written `~0` and `/` inside a key `~1`; in a dotted path a key holding a dot is quoted",
                            shown(prefix)
                        ),
                        "write a JSON Pointer (`/podAnnotations`) or a dotted path (`profile.settings`, `labels.\"app.kubernetes.io/name\"`)",
                    ),
                }
            }
        }
        scope
    }

    /// Whether the manifest says this finding's key is expected where it is
    /// set. Only `unknown-override` findings are ever ignored.
    pub(crate) fn ignores(&self, d: &Diagnostic) -> bool {
        if d.rule != Rule::UnknownOverride {
            return false;
        }
        if self.files.iter().any(|g| g.is_match(&d.file)) {
            return true;
        }
        let Some(path) = d.path.as_deref().and_then(key_segments) else {
            return false;
        };
        self.keys
            .iter()
            .any(|prefix| path.len() >= prefix.len() && path[..prefix.len()] == prefix[..])
    }
}

/// A key path as written in the manifest or a finding's pointer: a JSON
/// Pointer, or dotted with quoted keys, read as everywhere else.
pub(crate) fn key_segments(text: &str) -> Option<Vec<String>> {
    KeyPath::parse(text).ok().map(|p| p.segments().to_vec())
}

/// Whether an `unknown-override` finding sets a key inside an open map: a
/// map whose first setting, in the first layer that sets it, is empty
/// (`resources: {}`, `podAnnotations: {}`), declared for later layers to
/// fill, as Helm charts do. A knock-out (`!unset`) of a key nobody set is
/// still reported: it removes nothing. `applied` is the class's applied
/// layers in hierarchy order, as (file, document).
pub(crate) fn under_open_map(d: &Diagnostic, applied: &[(&str, &Node)]) -> bool {
    if d.rule != Rule::UnknownOverride {
        return false;
    }
    let Some(path) = d.path.as_deref().and_then(key_segments) else {
        return false;
    };
    let here = applied
        .iter()
        .find(|(file, _)| *file == d.file)
        .and_then(|(_, doc)| value_at(doc, &path));
    if here.is_none_or(|n| n.value == Value::Unset) {
        return false;
    }
    (1..path.len()).any(|depth| {
        applied
            .iter()
            .find_map(|(_, doc)| value_at(doc, &path[..depth]).filter(|n| n.value != Value::Unset))
            .is_some_and(|first| matches!(&first.value, Value::Map(m) if m.is_empty()))
    })
}

/// The value at `path` in a layer document, if the layer sets it.
fn value_at<'a>(doc: &'a Node, path: &[String]) -> Option<&'a Node> {
    path.iter()
        .try_fold(doc, |node, key| node.get(key).map(|e| &e.value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_prefixes_are_pointers_or_dotted() {
        assert_eq!(
            key_segments("/a/b~1c/d~0e"),
            Some(vec!["a".into(), "b/c".into(), "d~e".into()])
        );
        assert_eq!(
            key_segments("profile.settings"),
            Some(vec!["profile".into(), "settings".into()])
        );
        assert_eq!(
            key_segments(r#"labels."app.kubernetes.io/name""#),
            Some(vec!["labels".into(), "app.kubernetes.io/name".into()])
        );
        assert_eq!(key_segments("/a~2"), None);
        assert_eq!(key_segments("/a~"), None);
    }
}
