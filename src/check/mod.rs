//! `ringmaster check`: every covered file is read, linted and schema-checked.
//! With `--base`, the change's own rules run too (`change.rs`).
//!
//! Files are independent, so they are parsed and validated in parallel
//! (rayon); schemas are compiled once and shared. This module produces
//! findings and counts only: rendering belongs to `report/`.

pub(crate) mod secrets;

pub(crate) mod change;

pub(crate) mod cache;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rayon::prelude::*;

use crate::config::document::{self, Node, Parsed};
use crate::config::effective::{
    EffectiveConfig, EffectiveLocator, LayerUse, Layers, TraceDepth, collapse_class_findings,
    files_for, layer_files, load_layers,
};
use crate::config::interpolate::merge_interpolated;
use crate::config::manifest::{HostClass, LoadedManifest, MANIFEST_FILE, Manifest, ManifestError};
use crate::config::schema::{self, DocumentLocator, PreparedSchema};
use crate::config::scopes;
use crate::diag::{Diagnostic, Pos, Rule};
use crate::flags;
use crate::source::{Capped, Source};

/// What to check.
#[derive(Debug, Clone)]
pub(crate) enum Selection {
    /// Every covered file in the source.
    All,
    /// Only these repo-relative paths (those the manifest does not cover are skipped).
    Paths(Vec<String>),
}

/// The result of a check: findings plus what is needed to render them.
#[derive(Debug, Default)]
pub(crate) struct CheckReport {
    pub diagnostics: Vec<Diagnostic>,
    /// Files checked (the manifest included).
    pub files: usize,
    pub classes: usize,
    /// Texts of files that have findings, for snippets.
    pub texts: BTreeMap<String, String>,
    /// Paths passed in that the manifest does not cover.
    pub skipped: Vec<String>,
    /// The manifest's severity overrides, for findings added after the check.
    pub severities: crate::diag::SeverityOverrides,
    /// With a cache: (files answered from it, files looked up).
    pub cache: Option<(usize, usize)>,
}

/// Why a check could not run at all (as opposed to findings).
#[derive(Debug, thiserror::Error)]
pub(crate) enum CheckError {
    #[error("{0}")]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Drops the `unknown-override` findings the manifest scopes out
/// (`unknown_override.ignore`) and those under an open map (see `scopes`).
fn drop_expected_unknown_overrides(
    manifest: &Manifest,
    config: &EffectiveConfig,
    parsed: &Layers,
    found: &mut Vec<Diagnostic>,
) {
    if !found.iter().any(|d| d.rule == Rule::UnknownOverride) {
        return;
    }
    let applied: Vec<(&str, &Node)> = config
        .layers
        .iter()
        .filter_map(|u| match &u.state {
            LayerUse::Applied(file) => Some((file.as_str(), parsed.get(file)?.single()?)),
            _ => None,
        })
        .collect();
    found
        .retain(|d| !(manifest.unknown_override.ignores(d) || scopes::under_open_map(d, &applied)));
}

/// File kinds `check` can read; other extensions are skipped.
pub(crate) fn is_config_file(path: &str) -> bool {
    crate::config::manifest::is_yaml(path) || path.ends_with(".json")
}

pub(crate) fn check(
    source: &Arc<dyn Source>,
    selection: &Selection,
) -> Result<CheckReport, CheckError> {
    check_cached(source, selection, None)
}

/// [`check`], with each file's findings read from and written to `cache`.
pub(crate) fn check_cached(
    source: &Arc<dyn Source>,
    selection: &Selection,
    cache: Option<&cache::Cache>,
) -> Result<CheckReport, CheckError> {
    // The link checks below scan the tree for links when only some files
    // are checked: the scan (directory reads) runs while the manifest loads,
    // or, with the cache, a memo of the last scan that found no link answers
    // when no directory changed since. A whole-tree check walks the tree
    // instead (below).
    let loaded = std::thread::scope(|scope| {
        if !matches!(selection, Selection::All) {
            // Beside the cache's packs, not among them.
            scope.spawn(|| source.start_link_scan(cache.and_then(|c| c.dir().parent())));
        }
        Manifest::load_memo(
            source.as_ref(),
            cache.map(|c| c as &dyn crate::config::manifest::OwnSchemaMemo),
        )
    });
    let LoadedManifest {
        manifest,
        diagnostics: manifest_findings,
        text: manifest_text,
    } = loaded?;
    // A whole-tree check walks the tree anyway: walked first, the link
    // checks read that walk instead of scanning the tree for links. (A
    // failed walk is not kept: the file selection below reports it.)
    if matches!(selection, Selection::All) {
        let _ = source.list();
    }
    let escaping = crate::config::links::link_errors(&manifest, source.as_ref());
    if !escaping.is_empty() {
        return Err(CheckError::Manifest(ManifestError {
            diagnostics: escaping,
            text: Some(manifest_text),
        }));
    }

    let mut diagnostics = manifest_findings;
    diagnostics.extend(manifest.check_references(source.as_ref()));

    let (files, skipped) = select_files(&manifest, source.as_ref(), selection)?;

    // The classes whose effective config the selection can change: all of
    // them for a whole-repo check or a manifest/effective-schema change,
    // else those whose hierarchy includes a selected file.
    let whole = matches!(selection, Selection::All)
        || files.iter().any(|f| {
            f == MANIFEST_FILE || manifest.effective_schemas.iter().any(|s| s.schema == *f)
        });
    let classes: Vec<&HostClass> = manifest
        .host_classes
        .values()
        .filter(|c| {
            whole
                || layer_files(&manifest, c).iter().any(
                    |u| matches!(&u.state, LayerUse::Absent(p) if files.binary_search(p).is_ok()),
                )
        })
        .collect();

    // Compile only the schemas the selected files and classes need (a
    // schema the cache knows compiles waits for its first validation).
    let needed: BTreeSet<&str> = files
        .iter()
        .flat_map(|f| manifest.schemas_for(f).map(|m| m.schema.value.as_str()))
        .chain(
            files
                .iter()
                .filter(|f| manifest.is_schema_file(f))
                .map(String::as_str),
        )
        .chain(
            classes
                .iter()
                .filter_map(|c| manifest.effective_schema_for(&c.name))
                .map(|s| s.schema.as_str()),
        )
        .collect();
    let compiled: BTreeMap<String, PreparedSchema> = needed
        .par_iter()
        .map(|path| {
            let memo = cache.map(|c| c as &dyn schema::CompileMemo);
            (path.to_string(), schema::prepare(source, path, memo))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .filter_map(|(path, result)| match result {
            Ok(s) => Some((path, s)),
            Err(d) => {
                diagnostics.extend(d);
                None
            }
        })
        .collect();

    // Each selected file is read, parsed and checked in one pass, then
    // dropped unless a class needs it as a layer or its text is needed for
    // snippets: memory stays flat on big repos.
    let all_layers = files_for(&manifest, classes.iter().copied());
    let run_key = cache.map(|_| {
        let mut key = cache::RunKey::new(cache::BUILD, &manifest_text);
        // A `hiera:`/`ansible:` manifest is more than its text: what its
        // tool's files expanded to decides layers, classes and merge rules.
        if !crate::config::adopt::sources(&manifest.raw).is_empty() {
            key.expanded(&format!("{:?}", manifest.raw));
        }
        key
    });
    // The index's blob ids stand in for reading and hashing only for the
    // files a whole-tree walk listed: a path given on the command line may
    // go through a link the index knows nothing of.
    let from_index = matches!(selection, Selection::All);

    // A class whose inputs are all unchanged takes its findings from the
    // cache; only the classes missing from it are merged, and only their
    // layers are parsed.
    let class_lookup = match (cache, &run_key) {
        (Some(cache), Some(run)) => Some(lookup_classes(
            cache,
            run,
            &ClassInputs {
                manifest: &manifest,
                source: source.as_ref(),
                compiled: &compiled,
                files: &files,
                from_index,
            },
            &classes,
            &all_layers,
        )),
        _ => None,
    };
    let layer_set = match &class_lookup {
        Some(lookup) => files_for(
            &manifest,
            classes
                .iter()
                .zip(&lookup.cached)
                .filter(|(_, cached)| cached.is_none())
                .map(|(c, _)| *c),
        ),
        None => all_layers.clone(),
    };
    // Layers a cached class finding points at: their text is kept for
    // snippets, as the parse would have kept it.
    let texts_needed: BTreeSet<&str> = class_lookup
        .iter()
        .flat_map(|l| l.cached.iter().flatten().flatten())
        .map(|d| d.file.as_str())
        .filter(|f| all_layers.contains(*f))
        .collect();
    type FileResult<'a> = (&'a String, Vec<Diagnostic>, Option<Arc<Parsed>>);
    let per_file: Vec<FileResult<'_>> = files
        .par_iter()
        .filter(|path| *path != MANIFEST_FILE)
        .map(|path| {
            // Unchanged since git last looked at it (its stat data say so):
            // the answer is the cache's, without reading the file. A layer
            // is read below (its class needs the tree), as is a file with
            // findings (its text is needed for snippets).
            if let (Some(cache), Some(run), true) = (cache, &run_key, from_index)
                && !layer_set.contains(path)
                && !texts_needed.contains(path.as_str())
                && let Some((blob, size)) = source.known_blob(path)
                && document::too_large(path, size, &manifest.limits).is_none()
                && let Some(found) = cache.peek(&run.blob_key(
                    path,
                    &blob,
                    schema_digests(&manifest, &compiled, path),
                ))
                && found.is_empty()
            {
                cache.count_unread();
                return (path, found, None);
            }
            // Refused by size before it is read: memory stays bounded.
            let read = source.read_capped(path, manifest.limits.max_file_bytes);
            if let Ok(Some(Capped::Over(size))) = read
                && let Some(d) = document::too_large(path, size, &manifest.limits)
            {
                let parsed = Parsed {
                    diagnostics: vec![d.clone()],
                    ..Parsed::default()
                };
                return (path, vec![d], Some(Arc::new(parsed)));
            }
            let bytes = match read {
                Ok(Some(Capped::Bytes(bytes))) => Some(bytes),
                Ok(Some(Capped::Over(_)) | None) => None,
                Err(e) => {
                    let d = Diagnostic::new(
                        Rule::Encoding,
                        path.as_str(),
                        Pos::START,
                        format!("cannot read the file: {e}"),
                    );
                    return (path, vec![d], None);
                }
            };
            let key = match (&run_key, &bytes) {
                (Some(run), Some(bytes)) => {
                    Some(run.file_key(path, bytes, schema_digests(&manifest, &compiled, path)))
                }
                _ => None,
            };
            if let (Some(cache), Some(key), Some(bytes)) = (cache, &key, &bytes)
                && let Some(found) = cache.get(key)
            {
                // A layer is still parsed (its class needs the tree); a file
                // with findings keeps its text for snippets, as below.
                let kept = if layer_set.contains(path) {
                    Some(Arc::new(document::parse_owned(
                        path,
                        bytes.clone(),
                        &manifest.limits,
                    )))
                } else if !found.is_empty() || texts_needed.contains(path.as_str()) {
                    Some(Arc::new(Parsed {
                        text: document::decode_text(path, bytes.clone(), &manifest.limits),
                        ..Parsed::default()
                    }))
                } else {
                    None
                };
                return (path, found, kept);
            }
            let parsed =
                bytes.map(|bytes| Arc::new(document::parse_owned(path, bytes, &manifest.limits)));
            let found = check_file(
                &manifest,
                source.as_ref(),
                &compiled,
                path,
                parsed.as_deref(),
            );
            if let (Some(cache), Some(key)) = (cache, &key) {
                cache.put(key, &found);
            }
            let keep = layer_set.contains(path)
                || !found.is_empty()
                || texts_needed.contains(path.as_str());
            (path, found, parsed.filter(|_| keep))
        })
        .collect();
    let mut parsed = Layers::new();
    for (path, found, kept) in per_file {
        diagnostics.extend(found);
        if let Some(p) = kept {
            parsed.insert(path.clone(), p);
        }
    }
    let rest: BTreeSet<String> = layer_set
        .into_iter()
        .filter(|p| !parsed.contains_key(p))
        .collect();
    parsed
        .extend(load_layers(source.as_ref(), &rest, &manifest.limits).map_err(CheckError::Other)?);
    for path in &texts_needed {
        if !parsed.contains_key(*path)
            && let Ok(Some(bytes)) = source.read(path)
        {
            let text = document::decode_text(path, bytes, &manifest.limits);
            parsed.insert(
                (*path).to_owned(),
                Arc::new(Parsed {
                    text,
                    ..Parsed::default()
                }),
            );
        }
    }

    // Which layer files exist, for `unused_layers`: those parsed, and those
    // a cached class did not need parsed (a blob id says they exist).
    let (cached_classes, class_keys, present) = match class_lookup {
        Some(l) => (l.cached, l.keys, l.present),
        None => (
            vec![None; classes.len()],
            vec![None; classes.len()],
            BTreeSet::new(),
        ),
    };
    let per_class: Vec<Vec<Diagnostic>> = classes
        .par_iter()
        .zip(cached_classes.into_par_iter())
        .zip(class_keys.par_iter())
        .map(|((class, cached), key)| {
            if let Some(found) = cached {
                return found;
            }
            let found = class_findings(&manifest, class, &parsed, &compiled);
            if let (Some(cache), Some(key)) = (cache, key) {
                cache.put(key, &found);
            }
            found
        })
        .collect();
    if let Some(cache) = cache {
        cache.flush();
    }
    diagnostics.extend(collapse_class_findings(
        per_class.into_iter().flatten().collect(),
    ));
    if matches!(selection, Selection::All) {
        diagnostics.extend(unused_layers(&manifest, &parsed, &present));
    }
    diagnostics.extend(flag_findings(&manifest, source.as_ref(), &files, whole)?);
    if whole
        || files
            .iter()
            .any(|f| manifest.own_schema_for(f) == Some(schema::OwnSchema::Ring))
    {
        let set = crate::rollout::rings::load_ring_set(&manifest, source.as_ref())?;
        if manifest.rings_dir.is_some() {
            diagnostics.extend(crate::rollout::rings::check_rings(
                &set.rings,
                &set.invalid,
                &manifest.host_classes,
            ));
        }
    }

    let mut report = CheckReport {
        files: files.len() + usize::from(!files.iter().any(|f| f == MANIFEST_FILE)),
        classes: classes.len(),
        skipped,
        severities: manifest.severities.clone(),
        cache: cache.map(cache::Cache::stats),
        ..CheckReport::default()
    };
    // An effective-config schema error at the very place a layer's own schema
    // already flags says nothing new: keep the file-level one.
    let file_level: BTreeSet<(String, Pos, String)> = diagnostics
        .iter()
        .filter(|d| d.rule == Rule::Schema && d.class.is_none())
        .map(|d| (d.file.clone(), d.pos, d.message.clone()))
        .collect();
    diagnostics.retain(|d| {
        !(d.rule == Rule::Schema
            && d.class.is_some()
            && file_level.contains(&(d.file.clone(), d.pos, d.message.clone())))
    });
    let mut diagnostics = manifest.severities.apply(diagnostics);
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    diagnostics.dedup();
    for d in &diagnostics {
        if report.texts.contains_key(&d.file) {
            continue;
        }
        let text = if d.file == MANIFEST_FILE {
            Some(manifest_text.clone())
        } else {
            parsed
                .get(&d.file)
                .and_then(|p| p.text.clone())
                .or_else(|| {
                    // Files checked by a later pass (flags) are re-read for their
                    // snippet; never one over the size limit.
                    let size = source.size(&d.file).ok()??;
                    if size > manifest.limits.max_file_bytes {
                        return None;
                    }
                    let bytes = source.read(&d.file).ok()??;
                    String::from_utf8(bytes).ok()
                })
        };
        if let Some(text) = text {
            report.texts.insert(d.file.clone(), text);
        }
    }
    report.diagnostics = diagnostics;
    Ok(report)
}

/// The flag rules. Duplicate names need every flag, so all are loaded; with
/// a path selection only findings on the selected flag files are kept.
fn flag_findings(
    manifest: &Manifest,
    source: &dyn Source,
    files: &[String],
    whole: bool,
) -> anyhow::Result<Vec<Diagnostic>> {
    let selected = |f: &str| whole || files.binary_search_by(|p| p.as_str().cmp(f)).is_ok();
    let flag_files = flags::flag_files(manifest, source)?;
    if !flag_files.iter().any(|f| selected(f)) {
        return Ok(Vec::new());
    }
    let (flags, _) = flags::load_flags(manifest, source)?;
    Ok(
        flags::check_flags(&flags, &manifest.host_classes, flags::today())
            .into_iter()
            .filter(|d| selected(&d.file))
            .collect(),
    )
}

/// A class's findings: its layers merged, then checked against its
/// effective schema. `None` when a layer does not parse (the layer's own
/// parse finding says what is wrong with it).
fn class_findings(
    manifest: &Manifest,
    class: &HostClass,
    parsed: &Layers,
    compiled: &BTreeMap<String, PreparedSchema>,
) -> Vec<Diagnostic> {
    match merge_interpolated(manifest, class, parsed, TraceDepth::Leaves) {
        Err(_) => Vec::new(),
        Ok((config, mut found)) => {
            drop_expected_unknown_overrides(manifest, &config, parsed, &mut found);
            let effective_schema = manifest
                .effective_schema_for(&class.name)
                .and_then(|s| compiled.get(&s.schema));
            if let Some(schema) = effective_schema {
                found.extend(
                    schema.validate(&config.to_json(), &EffectiveLocator { config: &config }),
                );
            }
            found
        }
    }
}

/// What a class's cache key is made of, besides the run's key.
struct ClassInputs<'a> {
    manifest: &'a Manifest,
    source: &'a dyn Source,
    compiled: &'a BTreeMap<String, PreparedSchema>,
    /// The files selected (sorted): the index vouches only for these.
    files: &'a [String],
    from_index: bool,
}

/// The cache's answer for each class, in order.
struct ClassLookup {
    /// Its findings when the cache has them.
    cached: Vec<Option<Vec<Diagnostic>>>,
    /// Its key (`None`: a layer could not be identified, never cached).
    keys: Vec<Option<cache::Key>>,
    /// The layer files that exist (a blob id was found for them).
    present: BTreeSet<String>,
}

/// Looks every class up in the cache by the blob ids of its layers.
fn lookup_classes(
    cache: &cache::Cache,
    run: &cache::RunKey,
    inputs: &ClassInputs<'_>,
    classes: &[&HostClass],
    layers: &BTreeSet<String>,
) -> ClassLookup {
    let ClassInputs {
        manifest,
        source,
        compiled,
        files,
        from_index,
    } = *inputs;
    // Each layer's blob id, `Ok(None)` when it does not exist, `Err` when it
    // cannot be known here (unreadable, too large: the class is merged).
    let blobs: BTreeMap<&str, Result<Option<[u8; 20]>, ()>> = layers
        .par_iter()
        .map(|path| {
            if from_index
                && files.binary_search(path).is_ok()
                && let Some((blob, size)) = source.known_blob(path)
                && document::too_large(path, size, &manifest.limits).is_none()
            {
                return (path.as_str(), Ok(Some(blob)));
            }
            let blob = match source.size(path) {
                Ok(None) => Ok(None),
                Ok(Some(size)) if document::too_large(path, size, &manifest.limits).is_some() => {
                    Err(())
                }
                Ok(Some(_)) => match source.read(path) {
                    Ok(Some(bytes)) => Ok(Some(cache::blob_id(&bytes))),
                    Ok(None) => Ok(None),
                    Err(_) => Err(()),
                },
                Err(_) => Err(()),
            };
            (path.as_str(), blob)
        })
        .collect();
    let keys: Vec<Option<cache::Key>> = classes
        .par_iter()
        .map(|class| {
            let expanded = layer_files(manifest, class);
            let mut ids = Vec::new();
            for layer in &expanded {
                if let LayerUse::Absent(path) = &layer.state {
                    // A glob that matched nothing names no file.
                    let blob = blobs.get(path.as_str()).cloned().unwrap_or(Ok(None)).ok()?;
                    ids.push((path.as_str(), blob));
                }
            }
            let schema = manifest
                .effective_schema_for(&class.name)
                .map(|s| (s.schema.as_str(), compiled.get(&s.schema).map(|c| c.digest)));
            Some(run.class_key(
                &class.name,
                &format!("{class:?}\n{expanded:?}"),
                ids.into_iter(),
                schema,
            ))
        })
        .collect();
    let cached = keys
        .iter()
        .map(|key| key.as_ref().and_then(|k| cache.get_class(k)))
        .collect();
    let present = blobs
        .into_iter()
        .filter(|(_, blob)| matches!(blob, Ok(Some(_))))
        .map(|(path, _)| path.to_owned())
        .collect();
    ClassLookup {
        cached,
        keys,
        present,
    }
}

/// Hierarchy templates that no class's expansion finds a file for.
/// `present`: layer files known to exist that were not parsed.
fn unused_layers(
    manifest: &Manifest,
    parsed: &Layers,
    present: &BTreeSet<String>,
) -> Vec<Diagnostic> {
    if manifest.host_classes.is_empty() {
        return Vec::new();
    }
    let used: BTreeSet<usize> = manifest
        .host_classes
        .values()
        .flat_map(|c| layer_files(manifest, c))
        .filter(|l| {
            matches!(&l.state, LayerUse::Absent(p) if parsed.contains_key(p) || present.contains(p))
        })
        .map(|l| l.template)
        .collect();
    manifest
        .hierarchy
        .iter()
        .enumerate()
        .filter(|(i, _)| !used.contains(i))
        .map(|(_, t)| {
            Diagnostic::new(
                Rule::UnusedLayer,
                MANIFEST_FILE,
                t.template.pos,
                format!(
                    "layer `{}` matches no file for any host class",
                    t.template.value
                ),
            )
            .with_help("remove the template, or add the files it should find")
        })
        .collect()
}

/// The files to check, and the given paths that were skipped.
fn select_files(
    manifest: &Manifest,
    source: &dyn Source,
    selection: &Selection,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    // A layer file may have no extension (Ansible's `group_vars/all`).
    let covered = |p: &str| {
        (is_config_file(p)
            || manifest.is_layer_file(p) && crate::config::layers::has_no_extension(p))
            && manifest.covers(p)
    };
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

/// The schemas mapped to `path`, each with its digest (`None`: it did not
/// compile), for its cache key.
fn schema_digests<'a>(
    manifest: &'a Manifest,
    compiled: &'a BTreeMap<String, PreparedSchema>,
    path: &'a str,
) -> impl Iterator<Item = (&'a str, Option<[u8; 32]>)> + 'a {
    manifest.schemas_for(path).map(move |m| {
        let schema = m.schema.value.as_str();
        (schema, compiled.get(schema).map(|c| c.digest))
    })
}

/// Validates one parsed file; `None` when it does not exist in the source.
fn check_file(
    manifest: &Manifest,
    source: &dyn Source,
    compiled: &BTreeMap<String, PreparedSchema>,
    path: &str,
    parsed: Option<&Parsed>,
) -> Vec<Diagnostic> {
    let Some(parsed) = parsed else {
        return vec![
            Diagnostic::new(
                Rule::Manifest,
                path,
                Pos::START,
                format!("`{path}` does not exist in the {}", source.label()),
            )
            .with_help("pass paths of existing files"),
        ];
    };
    let mut diagnostics = parsed.diagnostics.clone();
    let docs = &parsed.docs;
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
    for doc in docs {
        let locator = DocumentLocator {
            file: path,
            root: doc,
        };
        if let Some(own) = manifest.own_schema_for(path) {
            let mut found = schema::validate_own(own, path, doc);
            if own == schema::OwnSchema::Ring {
                // A value finding says what is wrong with the value as it
                // was written (`.nan`, `3.0`); the schema, which sees it as
                // JSON, would say `null is not of type "number"`.
                let values = crate::rollout::rings::ring_value_findings(path, doc);
                found.retain(|d| !values.iter().any(|v| v.path == d.path));
                found.extend(values);
            }
            diagnostics.extend(found);
        }
        let mut instance = None;
        for mapping in manifest.schemas_for(path) {
            if let Some(schema) = compiled.get(&mapping.schema.value) {
                // Most files are valid: said without building their JSON.
                if schema.valid_as_parsed(doc) {
                    continue;
                }
                let instance = instance.get_or_insert_with(|| doc.to_json());
                diagnostics.extend(schema.validate(instance, &locator));
            }
        }
    }
    diagnostics
}
