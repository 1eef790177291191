//! The repo boundary where it depends on the files, not only on the
//! manifest's text: a path the manifest reads from that goes through a
//! symbolic link to outside the repo (see `boundary` for the text-only part).

use crate::config::boundary::{read_paths, shown};
use crate::config::manifest::{MANIFEST_FILE, Manifest};
use crate::diag::{Diagnostic, Pos, Rule};
use crate::source::Source;

/// The boundary errors that depend on the files: a path the manifest reads
/// from (a layer a class expands to, a schema, `flags:`, `rings:`,
/// `metrics.file`) that goes through a symbolic link to outside the repo.
pub fn link_errors(manifest: &Manifest, source: &dyn Source) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let error = |pointer: String, pos: Pos, what: String| {
        Diagnostic::new(Rule::Manifest, MANIFEST_FILE, pos, what)
            .with_path(pointer)
            .with_help("replace the symbolic link with the file itself, or a link to a file inside the repo")
    };
    let message = |field: &str, path: &str| {
        format!(
            "`{field}` path `{}` leads outside the repository through a symbolic link; ringmaster never reads files outside the repo",
            shown(path)
        )
    };
    for (pointer, field, path, pos) in read_paths(&manifest.raw) {
        if source.resolves_outside(path) {
            out.push(error(pointer, pos, message(field, path)));
        }
    }
    // Only a link can lead a template's expansion outside (`..` and absolute
    // paths are refused earlier): without one, no class needs expanding.
    let templates = if source.has_links() {
        &manifest.hierarchy[..]
    } else {
        &[]
    };
    for (i, template) in templates.iter().enumerate() {
        let mut seen = std::collections::BTreeSet::new();
        let escaping = manifest
            .host_classes
            .values()
            .flat_map(|c| template.expand(c).unwrap_or_default())
            .filter(|p| seen.insert(p.clone()))
            .find(|p| source.resolves_outside(p));
        if let Some(path) = escaping {
            out.push(error(
                format!("/hierarchy/{i}"),
                template.template.pos,
                format!(
                    "layer `{}` of template `{}` leads outside the repository through a symbolic link; ringmaster never reads files outside the repo",
                    shown(&path),
                    shown(&template.template.value)
                ),
            ));
        }
    }
    // Links out that sit where ringmaster looks for files: each is named at
    // the manifest line that makes ringmaster look there.
    for link in source.links_outside() {
        let named_by = if manifest.own_schema_for(&link).is_some() {
            let in_dir = |d: &crate::config::manifest::Spanned<String>| {
                link.starts_with(&format!("{}/", d.value.trim_end_matches('/')))
            };
            if manifest.flags_dir.as_ref().is_some_and(in_dir) {
                manifest
                    .flags_dir
                    .as_ref()
                    .map(|d| ("flags", "/flags".to_owned(), d.pos))
            } else {
                manifest
                    .rings_dir
                    .as_ref()
                    .map(|d| ("rings", "/rings".to_owned(), d.pos))
            }
        } else if let Some(i) = manifest.hierarchy.iter().position(|t| {
            t.matcher.as_ref().is_some_and(|g| g.is_match(&link))
                || t.within.as_ref().is_some_and(|g| g.is_match(&link))
        }) {
            Some((
                "hierarchy",
                format!("/hierarchy/{i}"),
                manifest.hierarchy[i].template.pos,
            ))
        } else {
            manifest
                .schemas
                .iter()
                .position(|m| m.matcher.as_ref().is_some_and(|g| g.is_match(&link)))
                .map(|i| {
                    (
                        "schemas",
                        format!("/schemas/{i}/files"),
                        manifest.schemas[i].files.pos,
                    )
                })
        };
        if let Some((field, pointer, pos)) = named_by
            && !out
                .iter()
                .any(|d| d.path.as_deref() == Some(pointer.as_str()))
        {
            out.push(error(
                pointer,
                pos,
                format!(
                    "`{}` (covered by `{field}`) is a symbolic link that leads outside the repository; ringmaster never reads files outside the repo",
                    shown(&link)
                ),
            ));
        }
    }
    out.sort_by_key(|d| d.pos);
    out.dedup();
    out
}
