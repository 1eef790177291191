//! `ringmaster diff`: effective-value changes per host class between two
//! revisions, read from git objects. Only classes a change can reach are
//! rendered: changed files map to the classes whose hierarchy includes them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;

use globset::Glob;
use rayon::prelude::*;
use serde::Serialize;

use super::render::describe_value;
use super::{Globals, Outcome, pick_format, repo_root};
use crate::cli::{DiffArgs, Format};
use crate::config::effective::{EffectiveConfig, LayerUse, Unrenderable, files_for, layer_files};
use crate::config::manifest::MANIFEST_FILE;
use crate::config::snapshot::Snapshot;
use crate::diff::{Change, ClassDiff, ClassStatus, Op, diff_configs, group};
use crate::exit::{Exit, Failure};
use crate::report::{escape, yaml};
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

/// The classes whose effective config the change can reach.
fn affected(base: &Snapshot, head: &Snapshot, changed: &BTreeSet<String>) -> BTreeSet<String> {
    let names: BTreeSet<&String> = base
        .manifest
        .host_classes
        .keys()
        .chain(head.manifest.host_classes.keys())
        .collect();
    let templates = |s: &Snapshot| {
        s.manifest
            .hierarchy
            .iter()
            .map(|t| t.template.value.clone())
            .collect::<Vec<_>>()
    };
    if changed.contains(MANIFEST_FILE) && templates(base) != templates(head) {
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
    let touches = |s: &Snapshot, name: &str| {
        s.manifest.host_classes.get(name).is_some_and(|c| {
            layer_files(&s.manifest, c)
                .iter()
                .any(|u| matches!(u, LayerUse::Absent(p) if changed.contains(p)))
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
                    b.facts != h.facts || touches(base, name) || touches(head, name)
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
        let key = change.path.rsplit('.').next().unwrap_or(&change.path);
        for value in [&mut change.old, &mut change.new].into_iter().flatten() {
            crate::check::secrets::redact_json(key, value);
        }
    }
}

fn render_side(
    snapshot: &Snapshot,
    names: &BTreeSet<String>,
) -> anyhow::Result<BTreeMap<String, Result<EffectiveConfig, Unrenderable>>> {
    let classes: Vec<_> = names
        .iter()
        .filter_map(|n| snapshot.manifest.host_classes.get(n))
        .collect();
    let layers = snapshot.layers_for(classes.iter().copied())?;
    Ok(classes
        .par_iter()
        .map(|c| (c.name.clone(), snapshot.merge(c, &layers)))
        .collect::<Vec<_>>()
        .into_iter()
        .collect())
}

pub fn diff(
    root: &Path,
    base_rev: &str,
    head_rev: Option<&str>,
    class_glob: Option<&str>,
    text: bool,
) -> anyhow::Result<DiffReport> {
    let base = Snapshot::open(root, Some(base_rev))?;
    let head = Snapshot::open(root, head_rev)?;
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
    let all: BTreeSet<&String> = base
        .manifest
        .host_classes
        .keys()
        .chain(head.manifest.host_classes.keys())
        .collect();
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
    let (old, new) = rayon::join(|| render_side(base, &names), || render_side(head, &names));
    let (old, new) = (old?, new?);
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
    for name in &names {
        let side = |map: &BTreeMap<String, Result<EffectiveConfig, Unrenderable>>,
                    label: &str,
                    errors: &mut Vec<String>| {
            match map.get(name) {
                None => Ok(None),
                Some(Ok(c)) => Ok(Some(c.clone())),
                Some(Err(u)) => {
                    errors.push(format!("{u} (at {label})"));
                    Err(())
                }
            }
        };
        let (Ok(o), Ok(n)) = (
            side(&old, &base.label, &mut report.errors),
            side(&new, &head.label, &mut report.errors),
        ) else {
            continue;
        };
        let mut changes = diff_configs(o.as_ref(), n.as_ref());
        mask_secrets(&mut changes);
        let status = match (&o, &n) {
            (None, Some(_)) => ClassStatus::Added,
            (Some(_), None) => ClassStatus::Removed,
            _ => ClassStatus::Changed,
        };
        if changes.is_empty() && status == ClassStatus::Changed {
            continue;
        }
        if text {
            // Masked before rendering, so the unified diff never holds a secret.
            let masked_yaml = |c: &EffectiveConfig| {
                let mut c = c.clone();
                crate::check::secrets::redact_config(&mut c);
                yaml::effective(&c, false)
            };
            let a = o.as_ref().map(masked_yaml).unwrap_or_default();
            let b = n.as_ref().map(masked_yaml).unwrap_or_default();
            let unified = similar::TextDiff::from_lines(&a, &b)
                .unified_diff()
                .context_radius(3)
                .header(
                    &format!("{name} ({})", base.label),
                    &format!("{name} ({})", head.label),
                )
                .to_string();
            report.texts.insert(name.clone(), unified);
        }
        report.summary.changes += changes.len();
        report.classes.push(ClassDiff {
            class: name.clone(),
            status,
            changes,
        });
    }
    report.summary.classes_changed = report.classes.len();
    Ok(report)
}

pub fn run(globals: &Globals, args: &DiffArgs) -> anyhow::Result<Outcome> {
    let format = pick_format(
        globals,
        &[Format::Human, Format::Json, Format::Markdown],
        Format::Human,
    )?;
    let root = repo_root(globals)?;
    let report = diff(
        &root,
        &args.base,
        args.head.as_deref(),
        args.class.as_deref(),
        args.text,
    )?;
    let stdout = match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&report).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Markdown => markdown(&report),
        _ if args.text => {
            report.texts.values().cloned().collect::<Vec<_>>().join("")
                + &summary_line(&report)
                + "\n"
        }
        _ => human(&report),
    };
    let exit = if report.errors.is_empty() {
        Exit::Clean
    } else {
        Exit::Findings
    };
    Ok(Outcome { stdout, exit })
}

fn short(sha: &str) -> &str {
    if sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        &sha[..10]
    } else {
        sha
    }
}

fn summary_line(r: &DiffReport) -> String {
    let s = &r.summary;
    format!(
        "changes {} value{} in {} of {} host class{}",
        s.changes,
        if s.changes == 1 { "" } else { "s" },
        s.classes_changed,
        s.classes_total,
        if s.classes_total == 1 { "" } else { "es" }
    )
}

fn value_text(v: &Option<serde_json::Value>) -> String {
    v.as_ref().map(describe_value).unwrap_or_default()
}

fn op_mark(op: Op) -> &'static str {
    match op {
        Op::Added => "+",
        Op::Removed => "-",
        Op::Changed => "~",
    }
}

/// Class names come from the manifest: escaped for the terminal here, and
/// again for markdown by its caller.
fn class_list(names: &[&str], limit: usize) -> String {
    let shown: Vec<_> = names
        .iter()
        .take(limit)
        .map(|n| escape::terminal(n))
        .collect();
    if names.len() <= limit {
        shown.join(", ")
    } else {
        format!("{} and {} more", shown.join(", "), names.len() - limit)
    }
}

fn status_note(status: ClassStatus) -> &'static str {
    match status {
        ClassStatus::Added => " (new host class)",
        ClassStatus::Removed => " (host class removed)",
        ClassStatus::Changed => "",
    }
}

pub(crate) fn human(r: &DiffReport) -> String {
    use anstyle::{AnsiColor, Style};
    let green = Style::new().fg_color(Some(AnsiColor::Green.into()));
    let red = Style::new().fg_color(Some(AnsiColor::Red.into()));
    let yellow = Style::new().fg_color(Some(AnsiColor::Yellow.into()));
    let bold = Style::new().bold();
    let dim = Style::new().dimmed();
    let mut out = String::new();
    for (names, changes, status) in group(&r.classes) {
        let _ = writeln!(
            out,
            "{bold}{}{bold:#} ({} host class{}){}",
            class_list(&names, 8),
            names.len(),
            if names.len() == 1 { "" } else { "es" },
            status_note(status)
        );
        let width = changes
            .iter()
            .map(|c| escape::terminal(&c.path).chars().count())
            .max()
            .unwrap_or(0);
        let vwidth = changes
            .iter()
            .map(|c| match c.op {
                Op::Changed => {
                    value_text(&c.old).chars().count() + value_text(&c.new).chars().count() + 3
                }
                Op::Added => value_text(&c.new).chars().count(),
                Op::Removed => value_text(&c.old).chars().count(),
            })
            .max()
            .unwrap_or(0);
        for c in changes {
            let (style, value) = match c.op {
                Op::Added => (green, value_text(&c.new)),
                Op::Removed => (red, value_text(&c.old)),
                Op::Changed => (
                    yellow,
                    format!("{} → {}", value_text(&c.old), value_text(&c.new)),
                ),
            };
            let _ = writeln!(
                out,
                "  {style}{} {:<width$}{style:#}  {:<vwidth$}  {dim}{}{dim:#}",
                op_mark(c.op),
                escape::terminal(&c.path),
                escape::terminal(&value),
                escape::terminal(&c.source),
            );
        }
        out.push('\n');
    }
    for e in &r.errors {
        let _ = writeln!(out, "error: {}", escape::terminal(e));
    }
    let _ = writeln!(
        out,
        "{} ({} → {})",
        summary_line(r),
        short(&r.base),
        short(&r.head)
    );
    out
}

/// One row per key: how many classes it changes in, and the change when it
/// is the same everywhere. Reads well at 1 000 classes, where groups do not.
fn by_key(out: &mut String, r: &DiffReport) {
    // key → (classes it changes in, distinct (before, after) pairs)
    type KeyStats = (usize, BTreeSet<(String, String)>);
    let mut keys: BTreeMap<&str, KeyStats> = BTreeMap::new();
    for class in &r.classes {
        for c in &class.changes {
            let entry = keys.entry(&c.path).or_default();
            entry.0 += 1;
            entry.1.insert((value_text(&c.old), value_text(&c.new)));
        }
    }
    let mut rows: Vec<_> = keys.into_iter().collect();
    rows.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    let _ = writeln!(out, "| key | host classes | change |\n|---|---:|---|");
    for (key, (count, values)) in rows.iter().take(30) {
        let change = match values.iter().next() {
            Some((old, new)) if values.len() == 1 => format!("{} → {}", md_code(old), md_code(new)),
            _ => format!("{} different changes", values.len()),
        };
        let _ = writeln!(out, "| {} | {count} | {change} |", md_code(key));
    }
    if rows.len() > 30 {
        let _ = writeln!(out, "\n…and {} more keys.", rows.len() - 30);
    }
    out.push('\n');
}

fn md_code(v: &str) -> String {
    escape::markdown_code(v)
}

fn markdown(r: &DiffReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### ringmaster: {}\n", summary_line(r));
    let _ = writeln!(
        out,
        "Effective values, `{}` → `{}`.\n",
        short(&r.base),
        short(&r.head)
    );
    if r.classes.is_empty() {
        let _ = writeln!(out, "No host class gets a different value.");
    }
    let groups = group(&r.classes);
    if groups.len() > 3 {
        by_key(&mut out, r);
    }
    // GitHub caps a comment at 65 536 characters; stop well before, and
    // point at the full data instead of being cut mid-table.
    const BUDGET: usize = 55_000;
    for (shown, (names, changes, status)) in groups.iter().enumerate() {
        if out.len() > BUDGET {
            let _ = writeln!(
                out,
                "…and {} more groups of host classes (`ringmaster diff --format json` has them all).\n",
                groups.len() - shown
            );
            break;
        }
        let (names, changes, status) = (names, *changes, *status);
        let title = format!(
            "{} — {} change{}{}",
            class_list(names, 6),
            changes.len(),
            if changes.len() == 1 { "" } else { "s" },
            status_note(status)
        );
        let _ = writeln!(
            out,
            "<details><summary><b>{}</b></summary>\n",
            escape::html_text(&title)
        );
        if names.len() > 6 {
            let all: Vec<_> = names.iter().map(|n| escape::markdown_text(n)).collect();
            let _ = writeln!(
                out,
                "All {} host classes: {}\n",
                names.len(),
                all.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "| | key | before | after | set in |\n|---|---|---|---|---|"
        );
        for c in changes.iter().take(200) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                op_mark(c.op),
                md_code(&c.path),
                md_code(&value_text(&c.old)),
                md_code(&value_text(&c.new)),
                md_code(&c.source)
            );
        }
        if changes.len() > 200 {
            let _ = writeln!(
                out,
                "\n…and {} more changes (see `ringmaster diff --format json`).",
                changes.len() - 200
            );
        }
        out.push_str("\n</details>\n\n");
    }
    for e in &r.errors {
        let _ = writeln!(out, "> **error:** {}\n", escape::markdown_text(e));
    }
    out
}

/// Re-exported for tests: the changes of one class.
pub fn changes_of<'a>(report: &'a DiffReport, class: &str) -> Option<&'a [Change]> {
    report
        .classes
        .iter()
        .find(|c| c.class == class)
        .map(|c| c.changes.as_slice())
}
