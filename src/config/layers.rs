//! Layer shapes real repos use: facts that are lists (`groups: [all, web]`)
//! or nested maps (`trusted: {certname: …}`), and hierarchy templates that
//! name a directory (Ansible's `group_vars/<group>/`) or a glob
//! (`group_vars/{groups}/*.yml`).
//!
//! What a directory or a glob holds is listed once, when the manifest is
//! loaded, through the [`Source`] (working tree or git revision alike), so
//! expanding a class's layers stays pure. Only files the source itself lists
//! are ever used: a symbolic link out of the repo is never listed, so it is
//! never read; a link to a directory inside the repo is entered (see `source/`).

use std::collections::BTreeMap;

use globset::GlobBuilder;

use crate::config::document::{Node, Value};
use crate::diag::Pos;
use crate::source::{Source, confine};

/// The most layers one template may expand to for one class (the product of
/// its multi-valued facts, before directories and globs are listed).
pub(crate) const MAX_EXPANSIONS: usize = 1024;

/// One fact value as the manifest writes it, flattened: `trusted.certname`
/// for `trusted: {certname: …}`, a list item with its index.
#[derive(Debug, Clone)]
pub(crate) struct FlatFact<'a> {
    /// The dotted name a template uses (`os.family`).
    pub name: String,
    /// The JSON Pointer below the class (`/os/family`, `/groups/1`).
    pub pointer: String,
    pub value: &'a str,
    pub pos: Pos,
    /// Whether the value is one item of a list.
    pub listed: bool,
}

/// Every string fact value under a class node, in document order. Values
/// that are neither strings, lists of strings nor maps are left out (the
/// manifest schema refuses them). `pointers`: also build each value's JSON
/// Pointer (for messages; the manifest has one fact per class and template
/// to flatten, so the common case skips them).
pub(crate) fn flatten_facts(class: &Node, pointers: bool) -> Vec<FlatFact<'_>> {
    fn walk<'a>(
        node: &'a Node,
        name: &str,
        pointer: &str,
        pointers: bool,
        out: &mut Vec<FlatFact<'a>>,
    ) {
        match &node.value {
            Value::Str(s) => out.push(FlatFact {
                name: name.to_owned(),
                pointer: pointer.to_owned(),
                value: s,
                pos: node.pos,
                listed: false,
            }),
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(s) = item.value.as_str() {
                        out.push(FlatFact {
                            name: name.to_owned(),
                            pointer: if pointers {
                                format!("{pointer}/{i}")
                            } else {
                                String::new()
                            },
                            value: s,
                            pos: item.pos,
                            listed: true,
                        });
                    }
                }
            }
            Value::Map(entries) => {
                for e in entries {
                    let mut child = String::with_capacity(name.len() + 1 + e.key.len());
                    if !name.is_empty() {
                        child.push_str(name);
                        child.push('.');
                    }
                    child.push_str(&e.key);
                    let child_pointer = if pointers {
                        format!("{pointer}/{}", e.key.replace('~', "~0").replace('/', "~1"))
                    } else {
                        String::new()
                    };
                    walk(&e.value, &child, &child_pointer, pointers, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if matches!(class.value, Value::Map(_)) {
        walk(class, "", "", pointers, &mut out);
    }
    out
}

/// Whether a template's literal text (outside `{fact}`) is a glob.
pub(crate) fn is_glob(template: &str) -> bool {
    let mut depth = 0usize;
    for c in template.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            '*' | '?' | '[' if depth == 0 => return true,
            _ => {}
        }
    }
    false
}

/// Ansible's host_group_vars rules for the files of a `group_vars/<g>/`
/// directory: no hidden (`.x`) or backup (`x~`) file or directory on the
/// way, and an extension of `.yml`, `.yaml`, `.json` or none at all.
pub(crate) fn is_vars_file(rel: &str) -> bool {
    visible(rel) && {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        match name.rfind('.') {
            None | Some(0) => true,
            Some(dot) => matches!(&name[dot + 1..], "yml" | "yaml" | "json"),
        }
    }
}

/// No segment is hidden (`.x`) or a backup (`x~`).
fn visible(rel: &str) -> bool {
    rel.split('/')
        .all(|s| !s.starts_with('.') && !s.ends_with('~'))
}

/// Whether a file name has no extension (Ansible's `group_vars/all`).
pub(crate) fn has_no_extension(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    !name.contains('.') || name.starts_with('.') && !name[1..].contains('.')
}

/// Whether a path (or a template) ends in a config file extension, so it
/// names a file, never a directory: asking the source would cost a lookup
/// per class for every existing hierarchy, for nothing.
pub(crate) fn names_a_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    [".yaml", ".yml", ".json"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// Ansible walks a vars directory level by level, each sorted by name: the
/// files of `b/` come before `b-x.yml`. Comparing paths segment by segment
/// gives that order.
fn by_segments(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}

/// The manifest's `interpolation:` setting (see `config::interpolate`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Interpolation {
    /// Values are taken as written (today's behaviour).
    #[default]
    None,
    /// Hiera 5's `%{...}` tokens are resolved after the merge.
    Hiera,
}

impl Interpolation {
    /// Reads `interpolation:`; the manifest schema admits only `none` and `hiera`.
    pub(crate) fn from_manifest(root: &Node) -> Interpolation {
        match root
            .get("interpolation")
            .and_then(|e| e.value.value.as_str())
        {
            Some("hiera") => Interpolation::Hiera,
            _ => Interpolation::None,
        }
    }
}

/// What each directory or glob a template expands to holds, listed once.
#[derive(Debug, Clone, Default)]
pub struct LayerListing {
    /// Expanded template path (a directory or a glob) → its files, in order.
    found: BTreeMap<String, Vec<String>>,
}

impl LayerListing {
    /// The files a template's expanded path stands for, when it names a
    /// directory or is a glob; `None` for a plain file path.
    pub fn files(&self, expanded: &str) -> Option<&[String]> {
        self.found.get(expanded).map(Vec::as_slice)
    }

    /// Whether `expanded` was listed already.
    pub(crate) fn has(&self, expanded: &str) -> bool {
        self.found.contains_key(expanded)
    }

    pub(crate) fn insert(&mut self, expanded: String, files: Vec<String>) {
        self.found.insert(expanded, files);
    }
}

/// The files one expanded path stands for: a glob's matches, the vars files
/// of a directory, or the `.yml`/`.yaml`/`.json` file named like it when no
/// such directory or file exists; `None` when it is a plain file path.
pub(crate) fn list_one(
    glob: bool,
    expanded: &str,
    source: &dyn Source,
) -> anyhow::Result<Option<Vec<String>>> {
    // An inventory directory's variables for a group or host: one layer per
    // inventory file (see `adopt::inventory`).
    if let Some(listed) = crate::config::adopt::inventory::list_vars_layers(expanded, source) {
        return listed.map(Some);
    }
    if glob {
        let Ok(pattern) = confine(expanded) else {
            return Ok(Some(Vec::new()));
        };
        // List only below the literal directories before the first glob.
        let base: Vec<&str> = pattern
            .split('/')
            .take_while(|s| !s.contains(['*', '?', '[', '{']))
            .collect();
        let base = base.join("/");
        let Ok(glob) = GlobBuilder::new(&pattern).literal_separator(true).build() else {
            return Ok(Some(Vec::new()));
        };
        let glob = glob.compile_matcher();
        let candidates = if base.is_empty() {
            source.list()?
        } else {
            source.list_dir(&base)?
        };
        let mut files: Vec<String> = candidates
            .into_iter()
            .filter(|p| glob.is_match(p) && visible(p.strip_prefix(&base).unwrap_or(p)))
            .collect();
        files.sort_by(|a, b| by_segments(a, b));
        files.dedup();
        return Ok(Some(files));
    }
    if names_a_file(expanded) {
        return Ok(None);
    }
    if !source.dir_exists(expanded)? {
        // Ansible's `find_vars_files`: `group_vars/all`, else the first of
        // `all.yml`, `all.yaml`, `all.json` that exists (most inventories
        // write `group_vars/all.yml`).
        if source.is_file(expanded)? {
            return Ok(None);
        }
        for ext in ["yml", "yaml", "json"] {
            let file = format!("{expanded}.{ext}");
            if source.is_file(&file)? {
                return Ok(Some(vec![file]));
            }
        }
        return Ok(None);
    }
    let prefix = format!("{expanded}/");
    let mut files: Vec<String> = source
        .list_dir(expanded)?
        .into_iter()
        .filter(|p| p.strip_prefix(&prefix).is_some_and(is_vars_file))
        .collect();
    files.sort_by(|a, b| by_segments(a, b));
    Ok(Some(files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vars_files_follow_ansibles_rules() {
        for ok in ["all", "a.yml", "a.yaml", "a.json", "sub/b.yml", "x.y.yml"] {
            assert!(is_vars_file(ok), "{ok}");
        }
        for no in ["README.md", ".hidden.yml", "a.yml~", ".git/x", "a.conf"] {
            assert!(!is_vars_file(no), "{no}");
        }
        assert!(has_no_extension("group_vars/all"));
        assert!(!has_no_extension("group_vars/all.yml"));
    }

    #[test]
    fn directories_sort_level_by_level() {
        let mut files = vec!["d/b-x.yml".to_string(), "d/b/z.yml".into(), "d/a".into()];
        files.sort_by(|a, b| by_segments(a, b));
        assert_eq!(files, ["d/a", "d/b/z.yml", "d/b-x.yml"]);
    }

    #[test]
    fn globs_are_found_outside_facts_only() {
        assert!(is_glob("group_vars/{groups}/*.yml"));
        assert!(!is_glob("group_vars/{groups}"));
        assert!(!is_glob("nodes/{trusted.certname}.yaml"));
    }
}
