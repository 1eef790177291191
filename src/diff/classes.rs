//! Which host classes a change between two revisions reaches, and what it
//! does to each one's effective values: the report `diff`, the pull-request
//! comment and the approval view render. Only classes a change can reach are
//! rendered: changed files map to the classes whose hierarchy includes them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use globset::Glob;
use rayon::prelude::*;
use serde::Serialize;

use crate::config::effective::{
    EffectiveConfig, LayerUse, Layers, RoundLayers, TraceDepth, files_for, layer_files,
};
use crate::config::manifest::MANIFEST_FILE;
use crate::config::snapshot::Snapshot;
use crate::diff::{Change, ClassDiff, ClassStatus, diff_configs};
use crate::exit::Failure;
use crate::report::yaml;
use crate::source::{changed_paths, ignored_in_worktree};

#[derive(Debug, Serialize)]
pub struct DiffSummary {
    pub classes_total: usize,
    pub classes_changed: usize,
    pub changes: usize,
}

#[derive(Debug, Serialize)]
pub struct DiffReport {
    pub base: String,
    pub head: String,
    pub classes: Vec<ClassDiff>,
    pub summary: DiffSummary,
    /// Classes that could not be rendered on one side (a layer does not parse).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Unified diffs of the rendered YAML, per class (`--text`).
    #[serde(skip)]
    pub texts: BTreeMap<String, String>,
}

/// The host classes either side declares.
fn class_names<'a>(base: &'a Snapshot, head: &'a Snapshot) -> BTreeSet<&'a String> {
    base.manifest
        .host_classes
        .keys()
        .chain(head.manifest.host_classes.keys())
        .collect()
}

/// The classes whose effective config the change can reach.
fn affected(base: &Snapshot, head: &Snapshot, changed: &BTreeSet<String>) -> BTreeSet<String> {
    let names = class_names(base, head);
    let templates = |s: &Snapshot| {
        s.manifest
            .hierarchy
            .iter()
            .map(|t| t.template.value.clone())
            .collect::<Vec<_>>()
    };
    // The sections that decide how layers are read and merged reach every
    // class even when no layer file changed (`merge.default: deep` → `first`).
    let section = |s: &Snapshot, key: &str| s.manifest.raw.get(key).map(|e| e.value.to_json());
    let reads_differently = || {
        ["merge", "yaml", "interpolation", "limits"]
            .iter()
            .any(|key| section(base, key) != section(head, key))
    };
    if changed.contains(MANIFEST_FILE)
        && (templates(base) != templates(head) || reads_differently())
    {
        return names.into_iter().cloned().collect();
    }
    // An imported hierarchy is read from the tool's own files (hiera.yaml,
    // the inventory): a change there is a change to the manifest.
    let adopted = |s: &Snapshot| {
        let sources = crate::config::adopt::sources(&s.manifest.raw);
        changed
            .iter()
            .any(|p| crate::config::adopt::reaches(&sources, p))
    };
    if adopted(base) || adopted(head) {
        return names.into_iter().cloned().collect();
    }
    // A flag applies to every class (its value may differ by ring or tenant).
    let flag_changed = |s: &Snapshot| {
        s.manifest.flags_dir.as_ref().is_some_and(|d| {
            let prefix = format!("{}/", d.value.trim_end_matches('/'));
            changed.iter().any(|p| p.starts_with(&prefix))
        })
    };
    if flag_changed(base) || flag_changed(head) || base.flags.len() != head.flags.len() {
        return names.into_iter().cloned().collect();
    }
    // A layer under a linked directory is named under the link, while git
    // reports the change at the target: either name reaches the class.
    // Classes share most layer files: each is resolved once per side.
    let resolved = [
        std::cell::RefCell::new(std::collections::HashMap::<String, bool>::new()),
        std::cell::RefCell::new(std::collections::HashMap::<String, bool>::new()),
    ];
    let touches = |side: usize, s: &Snapshot, name: &str| {
        s.manifest.host_classes.get(name).is_some_and(|c| {
            layer_files(&s.manifest, c).iter().any(|u| {
                let LayerUse::Absent(p) = &u.state else {
                    return false;
                };
                if changed.contains(p) {
                    return true;
                }
                let mut memo = resolved[side].borrow_mut();
                *memo.entry(p.clone()).or_insert_with(|| {
                    s.source
                        .real_path(p)
                        .is_some_and(|r| r != *p && changed.contains(&r))
                })
            })
        })
    };
    names
        .into_iter()
        .filter(|name| {
            let (b, h) = (
                base.manifest.host_classes.get(*name),
                head.manifest.host_classes.get(*name),
            );
            match (b, h) {
                (Some(b), Some(h)) => {
                    b.facts != h.facts
                        || b.lists != h.lists
                        || touches(0, base, name)
                        || touches(1, head, name)
                }
                _ => true,
            }
        })
        .cloned()
        .collect()
}

/// A diff is posted as a PR comment and shown in approval requests: every
/// credential-looking value is masked, wherever it sits inside the value
/// (a list, a map in a list), before any format sees it.
fn mask_secrets(changes: &mut [Change]) {
    for change in changes {
        let key = change.key.last().unwrap_or(&change.path);
        for value in [&mut change.old, &mut change.new].into_iter().flatten() {
            crate::check::secrets::redact_json(key, value);
        }
    }
}

/// Classes merged and compared at a time: their effective configs (the
/// bulk of a diff's memory) are dropped before the next group is merged, so
/// peak memory does not grow with the number of classes.
const CLASSES_PER_ROUND: usize = 256;

/// One class's part of the report.
enum ClassOutcome {
    /// A side that does not render, said as the report says it.
    Unrenderable(Vec<String>),
    Unchanged,
    Changed(ClassDiff, Option<String>),
}

fn diff_class(
    base: &Snapshot,
    base_layers: &Layers,
    head: &Snapshot,
    head_layers: &Layers,
    name: &String,
    text: bool,
) -> ClassOutcome {
    let side = |s: &Snapshot, layers: &Layers, errors: &mut Vec<String>| match s
        .manifest
        .host_classes
        .get(name)
        .map(|c| s.merge(c, layers))
    {
        None => Ok(None),
        Some(Ok(c)) => Ok(Some(c)),
        Some(Err(u)) => {
            errors.push(format!("{u} (at {})", s.label));
            Err(())
        }
    };
    let mut errors = Vec::new();
    let (Ok(o), Ok(n)) = (
        side(base, base_layers, &mut errors),
        side(head, head_layers, &mut errors),
    ) else {
        return ClassOutcome::Unrenderable(errors);
    };
    let mut changes = diff_configs(o.as_ref(), n.as_ref());
    mask_secrets(&mut changes);
    let status = match (&o, &n) {
        (None, Some(_)) => ClassStatus::Added,
        (Some(_), None) => ClassStatus::Removed,
        _ => ClassStatus::Changed,
    };
    if changes.is_empty() && status == ClassStatus::Changed {
        return ClassOutcome::Unchanged;
    }
    let unified = text.then(|| {
        // Masked before rendering, so the unified diff never holds a secret.
        let masked_yaml = |c: EffectiveConfig| {
            let mut c = c;
            crate::check::secrets::redact_config(&mut c);
            yaml::effective(&c, false)
        };
        let a = o.map(masked_yaml).unwrap_or_default();
        let b = n.map(masked_yaml).unwrap_or_default();
        similar::TextDiff::from_lines(&a, &b)
            .unified_diff()
            .context_radius(3)
            .header(
                &format!("{name} ({})", base.label),
                &format!("{name} ({})", head.label),
            )
            .to_string()
    });
    ClassOutcome::Changed(
        ClassDiff {
            class: name.clone(),
            status,
            changes,
        },
        unified,
    )
}

/// The layer files each round of classes uses on one side.
fn round_files<'a>(
    snapshot: &'a Snapshot,
    rounds: &'a [&'a [&'a String]],
) -> impl Iterator<Item = BTreeSet<String>> + 'a {
    rounds.iter().map(|round| {
        files_for(
            &snapshot.manifest,
            round
                .iter()
                .filter_map(|n| snapshot.manifest.host_classes.get(*n)),
        )
    })
}

pub fn diff(
    root: &Path,
    base_rev: &str,
    head_rev: Option<&str>,
    class_glob: Option<&str>,
    text: bool,
) -> anyhow::Result<DiffReport> {
    // A change shows the layer that set each value: a merged mapping's other
    // contributors are not needed, and recording them for every class costs.
    let mut base = Snapshot::open(root, Some(base_rev))?;
    let mut head = Snapshot::open(root, head_rev)?;
    base.trace = TraceDepth::Leaves;
    head.trace = TraceDepth::Leaves;
    let changed = changed_between(root, base_rev, head_rev, &head)?;
    diff_snapshots(&base, &head, &changed, class_glob, text)
}

/// The config-relative files that differ between `base_rev` and `head_rev`
/// (`None`: the working tree, whose git-ignored layers count as changed).
pub fn changed_between(
    root: &Path,
    base_rev: &str,
    head_rev: Option<&str>,
    head: &Snapshot,
) -> anyhow::Result<BTreeSet<String>> {
    let mut changed =
        changed_paths(root, base_rev, head_rev).map_err(|e| Failure::usage(format!("{e:#}")))?;
    if head_rev.is_none() {
        // Layers git ignores (local overrides) are read by the working tree
        // but never show in git's diff: treat them as changed.
        let layers = files_for(&head.manifest, head.manifest.host_classes.values());
        changed.extend(ignored_in_worktree(root, &layers)?);
    }
    Ok(changed)
}

/// The diff of two opened snapshots, given the files that changed between them.
pub fn diff_snapshots(
    base: &Snapshot,
    head: &Snapshot,
    changed: &BTreeSet<String>,
    class_glob: Option<&str>,
    text: bool,
) -> anyhow::Result<DiffReport> {
    let mut names = affected(base, head, changed);
    let all = class_names(base, head);
    let mut classes_total = all.len();
    if let Some(pattern) = class_glob {
        let matcher = Glob::new(pattern)
            .map_err(|e| Failure::usage(format!("--class {pattern}: {}", e.kind())))?
            .compile_matcher();
        names.retain(|n| matcher.is_match(n));
        classes_total = all.iter().filter(|n| matcher.is_match(n.as_str())).count();
        if classes_total == 0 {
            return Err(Failure::usage(format!(
                "--class {pattern} matches no host class"
            )));
        }
    }
    let mut report = DiffReport {
        // A revision's commit; else what the base is ("nothing delivered yet").
        base: base.commit.clone().unwrap_or_else(|| base.label.clone()),
        head: head.commit.clone().unwrap_or_else(|| "working-tree".into()),
        classes: Vec::new(),
        summary: DiffSummary {
            classes_total,
            classes_changed: 0,
            changes: 0,
        },
        errors: Vec::new(),
        texts: BTreeMap::new(),
    };
    let names: Vec<&String> = names.iter().collect();
    let rounds: Vec<&[&String]> = names.chunks(CLASSES_PER_ROUND).collect();
    // Each round's layer files are read for it and dropped after the last
    // round that uses them. A file the change did not touch has the same
    // bytes on both sides and, with the manifest (so the limits and YAML
    // policy) unchanged, parses the same: head shares the base's parse
    // instead of parsing it again. Links are left out (git names a change
    // at a link's target, not at the path a layer is read from).
    let shareable =
        !changed.contains(MANIFEST_FILE) && !base.source.has_links() && !head.source.has_links();
    let mut base_files = RoundLayers::new(round_files(base, &rounds));
    let mut head_files = RoundLayers::new(round_files(head, &rounds));
    for (index, (round, (base_round, head_round))) in rounds
        .iter()
        .zip(round_files(base, &rounds).zip(round_files(head, &rounds)))
        .enumerate()
    {
        let base_layers = base_files.round(
            index,
            base_round,
            base.source.as_ref(),
            &base.manifest.limits,
            &|_| None,
        )?;
        let from_base = |p: &str| {
            let same = shareable
                && !changed.contains(p)
                && crate::config::adopt::inventory::vars_layer(p).is_none();
            same.then(|| base_layers.get(p).cloned()).flatten()
        };
        let head_layers = head_files.round(
            index,
            head_round,
            head.source.as_ref(),
            &head.manifest.limits,
            &from_base,
        )?;
        let outcomes: Vec<ClassOutcome> = round
            .par_iter()
            .map(|name| diff_class(base, &base_layers, head, &head_layers, name, text))
            .collect();
        for outcome in outcomes {
            match outcome {
                ClassOutcome::Unrenderable(errors) => report.errors.extend(errors),
                ClassOutcome::Unchanged => {}
                ClassOutcome::Changed(class, unified) => {
                    if let Some(unified) = unified {
                        report.texts.insert(class.class.clone(), unified);
                    }
                    report.summary.changes += class.changes.len();
                    report.classes.push(class);
                }
            }
        }
    }
    report.summary.classes_changed = report.classes.len();
    Ok(report)
}
