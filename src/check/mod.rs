//! `ringmaster check`: every covered file is read, linted and schema-checked.
//!
//! Files are independent, so they are parsed and validated in parallel
//! (rayon); schemas are compiled once and shared. This module produces
//! findings and counts only: rendering belongs to `report/`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rayon::prelude::*;

use crate::diag::{Diagnostic, Pos, Rule};
use crate::document::{self, Parsed};
use crate::manifest::{LoadedManifest, MANIFEST_FILE, Manifest, ManifestError};
use crate::schema::{self, CompiledSchema, DocumentLocator};
use crate::source::Source;

/// What to check.
#[derive(Debug, Clone)]
pub enum Selection {
    /// Every covered file in the source.
    All,
    /// Only these repo-relative paths (those the manifest does not cover are skipped).
    Paths(Vec<String>),
}

/// The result of a check: findings plus what is needed to render them.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub diagnostics: Vec<Diagnostic>,
    /// Files checked (the manifest included).
    pub files: usize,
    pub classes: usize,
    /// Texts of files that have findings, for snippets.
    pub texts: BTreeMap<String, String>,
    /// Paths passed in that the manifest does not cover.
    pub skipped: Vec<String>,
}

/// Why a check could not run at all (as opposed to findings).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{0}")]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// File kinds `check` can read; other extensions are skipped.
pub fn is_config_file(path: &str) -> bool {
    crate::manifest::is_yaml(path) || path.ends_with(".json")
}

pub fn check(source: &Arc<dyn Source>, selection: &Selection) -> Result<CheckReport, CheckError> {
    let LoadedManifest {
        manifest,
        diagnostics: manifest_findings,
        text: manifest_text,
    } = Manifest::load(source.as_ref())?;

    let mut diagnostics = manifest_findings;
    diagnostics.extend(manifest.check_references(source.as_ref()));

    let (files, skipped) = select_files(&manifest, source.as_ref(), selection)?;

    // Compile only the schemas the selected files need.
    let needed: BTreeSet<&str> = files
        .iter()
        .flat_map(|f| manifest.schemas_for(f).map(|m| m.schema.value.as_str()))
        .chain(
            files
                .iter()
                .filter(|f| manifest.is_schema_file(f))
                .map(String::as_str),
        )
        .collect();
    let compiled: BTreeMap<String, CompiledSchema> = needed
        .par_iter()
        .filter_map(|path| match schema::compile(source, path) {
            Ok(s) => Some(Ok((path.to_string(), s))),
            Err(d) if d.is_empty() => None,
            Err(d) => Some(Err(d)),
        })
        .collect::<Vec<_>>()
        .into_iter()
        .filter_map(|r| match r {
            Ok(pair) => Some(pair),
            Err(d) => {
                diagnostics.extend(d);
                None
            }
        })
        .collect();

    let per_file: Vec<(String, Vec<Diagnostic>, Option<String>)> = files
        .par_iter()
        .map(|path| check_file(&manifest, source.as_ref(), &compiled, path))
        .collect();

    let mut report = CheckReport {
        files: files.len() + usize::from(!files.iter().any(|f| f == MANIFEST_FILE)),
        classes: manifest.host_classes.len(),
        skipped,
        ..CheckReport::default()
    };
    for (path, found, text) in per_file {
        if !found.is_empty()
            && let Some(text) = text
        {
            report.texts.insert(path, text);
        }
        diagnostics.extend(found);
    }
    let mut diagnostics = manifest.severities.apply(diagnostics);
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    diagnostics.dedup();
    if diagnostics.iter().any(|d| d.file == MANIFEST_FILE) {
        report.texts.insert(MANIFEST_FILE.to_owned(), manifest_text);
    }
    report.diagnostics = diagnostics;
    Ok(report)
}

/// The files to check, and the given paths that were skipped.
fn select_files(
    manifest: &Manifest,
    source: &dyn Source,
    selection: &Selection,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let covered = |p: &str| is_config_file(p) && manifest.covers(p);
    match selection {
        Selection::All => {
            let files = source.list()?.into_iter().filter(|p| covered(p)).collect();
            Ok((files, Vec::new()))
        }
        Selection::Paths(paths) => {
            let mut files = Vec::new();
            let mut skipped = Vec::new();
            for p in paths {
                if covered(p) {
                    files.push(p.clone());
                } else {
                    skipped.push(p.clone());
                }
            }
            files.sort();
            files.dedup();
            Ok((files, skipped))
        }
    }
}

/// Reads, parses and validates one file. Returns its findings and, when
/// there are any, its text for snippets.
fn check_file(
    manifest: &Manifest,
    source: &dyn Source,
    compiled: &BTreeMap<String, CompiledSchema>,
    path: &str,
) -> (String, Vec<Diagnostic>, Option<String>) {
    let bytes = match source.read(path) {
        Ok(Some(b)) => b,
        Ok(None) => {
            let d = Diagnostic::new(
                Rule::Manifest,
                path,
                Pos::START,
                format!("`{path}` does not exist in the {}", source.label()),
            )
            .with_help("pass paths of existing files");
            return (path.to_owned(), vec![d], None);
        }
        Err(e) => {
            let d = Diagnostic::new(
                Rule::Encoding,
                path,
                Pos::START,
                format!("cannot read the file: {e}"),
            );
            return (path.to_owned(), vec![d], None);
        }
    };
    let Parsed {
        text,
        docs,
        mut diagnostics,
    } = if path == MANIFEST_FILE {
        // Already parsed and reported by the manifest loader.
        return (path.to_owned(), Vec::new(), None);
    } else {
        document::parse(path, &bytes, &manifest.limits)
    };
    if manifest.is_layer_file(path) && docs.len() > 1 {
        diagnostics.push(
            Diagnostic::new(
                Rule::YamlSyntax,
                path,
                docs[1].pos,
                format!(
                    "a layer file holds one document; this one has {}",
                    docs.len()
                ),
            )
            .with_help("remove the `---` separators or split the file"),
        );
    }
    for doc in &docs {
        let locator = DocumentLocator {
            file: path,
            root: doc,
        };
        if let Some(own) = manifest.own_schema_for(path) {
            diagnostics.extend(schema::validate_own(own, path, doc));
        }
        let mut instance = None;
        for mapping in manifest.schemas_for(path) {
            if let Some(schema) = compiled.get(&mapping.schema.value) {
                let instance = instance.get_or_insert_with(|| doc.to_json());
                diagnostics.extend(schema.validate(instance, &locator));
            }
        }
    }
    (path.to_owned(), diagnostics, text)
}
