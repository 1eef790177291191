//! Hierarchies read from another tool's own files at load time.
//!
//! A manifest written by `ringmaster import hiera|ansible` names the tool's
//! files (`hiera: {config: hiera.yaml}`, `ansible: {inventory: …}`) instead
//! of a `hierarchy:`. When the manifest is loaded — from the working tree or
//! from any git revision, through the same `Source` — those files are read
//! and expanded here into the sections the rest of ringmaster already
//! understands (`hierarchy`, `host_classes`, `merge`, `interpolation`,
//! `limits.yaml`), so check, render, explain, diff and rollouts need no
//! tool-specific code, and a change to `hiera.yaml` or the inventory shows
//! in `diff` like any other change.

pub mod ansible;
pub mod hiera;
pub(crate) mod inventory;
mod pylit;

use crate::config::document::Node;
use crate::diag::Diagnostic;
use crate::source::Source;

/// Expands a `hiera:` or `ansible:` section of `root` in place. Problems
/// with the tool's files are errors that keep the manifest from loading
/// (exit 2), at the file and line they come from.
pub fn expand(root: &mut Node, source: &dyn Source, errors: &mut Vec<Diagnostic>) {
    if root.get("hiera").is_some() {
        hiera::expand(root, source, errors);
    }
    if root.get("ansible").is_some() {
        ansible::expand(root, source, errors);
    }
}

/// The tool files a manifest's hierarchy and classes were expanded from
/// (`hiera.config`, `ansible.inventory`; an inventory may be a directory):
/// a change to one can reach every class, as a change to the manifest can.
pub fn sources(raw: &Node) -> Vec<String> {
    [("hiera", "config"), ("ansible", "inventory")]
        .iter()
        .filter_map(|(section, key)| {
            let path = raw.get(section)?.value.get(key)?.value.value.as_str()?;
            Some(crate::source::normalize_owned(path.to_owned()))
        })
        .collect()
}

/// Whether `changed` (a repo-relative path) is one of `sources` or lies
/// inside one.
pub fn reaches(sources: &[String], changed: &str) -> bool {
    sources.iter().any(|s| {
        changed == s
            || changed
                .strip_prefix(s.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::document::parse_fixture;

    #[test]
    fn sources_are_the_sections_paths_and_reach_files_inside_a_directory() {
        let raw = parse_fixture(
            "version: 1\nhiera: {config: ./hiera.yaml}\nansible: {inventory: inv/}\n",
        );
        let sources = sources(&raw);
        assert_eq!(sources, ["hiera.yaml", "inv"]);
        assert!(reaches(&sources, "hiera.yaml"));
        assert!(reaches(&sources, "inv/hosts.ini"));
        assert!(!reaches(&sources, "inventory/hosts.ini"));
        assert!(!reaches(&sources, "hiera.yaml.bak"));
        assert!(sources_of_plain_manifest_are_none());
    }

    fn sources_of_plain_manifest_are_none() -> bool {
        sources(&parse_fixture("version: 1\nhierarchy: [a.yaml]\n")).is_empty()
    }
}
