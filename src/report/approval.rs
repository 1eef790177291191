//! The approval view (`rollout status` of a ring that waits for approval):
//! what approving delivers, summarised so that a release manager reads it.
//! A change is a per-key table (key, old → new, which host classes), the
//! widest keys first, cut after [`KEYS_SHOWN`]; a first delivery, where every
//! value is new, is a count per host class. `--full` prints every value
//! (the class diff as `ringmaster diff` prints it). Rendering only.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::diff::classes::DiffReport;
use crate::report::diff::{class_list, op_mark, short, summary_line, value_text};
use crate::report::escape::terminal;

/// Keys the summary lists before "…and N more keys".
pub(crate) const KEYS_SHOWN: usize = 20;
/// Host classes a first delivery's count table lists.
const CLASSES_SHOWN: usize = 20;

/// What approving a waiting ring delivers.
pub struct Approval {
    pub ring: String,
    /// The class diff, from what the ring holds now to the rollout's revision.
    pub diff: DiffReport,
    /// Where approving delivers (`git ref refs/rings/single`).
    pub target: String,
    /// The ring holds nothing yet: every value is new.
    pub first_delivery: bool,
}

/// The approval section of `rollout status`; `full`: every value.
pub(crate) fn human(approval: &Approval, id: &str, full: bool) -> String {
    let mut out = format!(
        "\nring {} awaits approval; approving it delivers to {}",
        terminal(&approval.ring),
        terminal(&approval.target)
    );
    if full {
        out.push_str(" and changes, for its host classes:\n\n");
        out.push_str(&crate::report::diff::human(&approval.diff));
        return out;
    }
    out.push_str(".\n");
    if approval.first_delivery {
        first_delivery(&mut out, &approval.diff);
    } else {
        by_key(&mut out, &approval.diff);
    }
    for e in &approval.diff.errors {
        let _ = writeln!(out, "error: {}", terminal(e));
    }
    let _ = writeln!(
        out,
        "every value: `ringmaster rollout status {} --full`",
        terminal(id)
    );
    out
}

/// Nothing delivered before: how many values each host class gets.
fn first_delivery(out: &mut String, r: &DiffReport) {
    let keys: BTreeSet<&str> = r
        .classes
        .iter()
        .flat_map(|c| c.changes.iter().map(|ch| ch.path.as_str()))
        .collect();
    let values: usize = r.classes.iter().map(|c| c.changes.len()).sum();
    let _ = writeln!(
        out,
        "First delivery (nothing delivered to it before): {} host class{}, {values} value{} ({} distinct key{}).\n",
        r.summary.classes_total,
        plural(r.summary.classes_total, "es"),
        plural(values, "s"),
        keys.len(),
        plural(keys.len(), "s"),
    );
    let names: Vec<String> = r
        .classes
        .iter()
        .map(|c| terminal(&c.class).into_owned())
        .collect();
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .chain(["host class".len()])
        .max()
        .unwrap_or(0);
    let _ = writeln!(out, "  {:<width$}  values", "host class");
    for (name, class) in names.iter().zip(&r.classes).take(CLASSES_SHOWN) {
        let _ = writeln!(out, "  {name:<width$}  {:>6}", class.changes.len());
    }
    if r.classes.len() > CLASSES_SHOWN {
        let more = r.classes.len() - CLASSES_SHOWN;
        let _ = writeln!(out, "  …and {more} more host class{}", plural(more, "es"));
    }
    out.push('\n');
}

/// One key across the ring's classes: the classes it changes in, the
/// distinct (old, new) pairs, and its op when every class agrees.
#[derive(Default)]
struct KeyRow<'a> {
    classes: Vec<&'a str>,
    changes: BTreeSet<(String, String)>,
    ops: BTreeSet<&'static str>,
}

/// A change: one row per key, the keys that reach the most classes first.
fn by_key(out: &mut String, r: &DiffReport) {
    let mut keys: BTreeMap<&str, KeyRow<'_>> = BTreeMap::new();
    for class in &r.classes {
        for c in &class.changes {
            let row = keys.entry(&c.path).or_default();
            row.classes.push(&class.class);
            row.changes.insert((value_text(&c.old), value_text(&c.new)));
            row.ops.insert(op_mark(c.op));
        }
    }
    let _ = writeln!(
        out,
        "It {} ({} → {}).\n",
        summary_line(r),
        short(&r.base),
        short(&r.head)
    );
    if keys.is_empty() {
        return;
    }
    let mut rows: Vec<(&str, KeyRow<'_>)> = keys.into_iter().collect();
    rows.sort_by(|a, b| b.1.classes.len().cmp(&a.1.classes.len()).then(a.0.cmp(b.0)));
    let total = r.summary.classes_total;
    let cells: Vec<[String; 4]> = rows
        .iter()
        .take(KEYS_SHOWN)
        .map(|(key, row)| {
            let mark = match row.ops.len() {
                1 => row.ops.iter().next().copied().unwrap_or("~"),
                _ => "~",
            };
            let change = match row.changes.iter().next() {
                Some((old, new)) if row.changes.len() == 1 => {
                    match (old.is_empty(), new.is_empty()) {
                        (true, _) => new.clone(),
                        (_, true) => format!("{old} (removed)"),
                        _ => format!("{old} → {new}"),
                    }
                }
                _ => format!("{} different changes", row.changes.len()),
            };
            let classes = if row.classes.len() == total && total > 1 {
                format!("all {total}")
            } else {
                format!("{}: {}", row.classes.len(), class_list(&row.classes, 3))
            };
            [
                mark.to_owned(),
                terminal(key).into_owned(),
                terminal(&change).into_owned(),
                classes,
            ]
        })
        .collect();
    let width = |i: usize, title: &str| {
        cells
            .iter()
            .map(|c| c[i].chars().count())
            .chain([title.chars().count()])
            .max()
            .unwrap_or(0)
    };
    let (kw, cw) = (width(1, "key"), width(2, "change"));
    let _ = writeln!(out, "    {:<kw$}  {:<cw$}  host classes", "key", "change");
    for [mark, key, change, classes] in &cells {
        let _ = writeln!(out, "  {mark} {key:<kw$}  {change:<cw$}  {classes}");
    }
    if rows.len() > KEYS_SHOWN {
        let more = rows.len() - KEYS_SHOWN;
        let _ = writeln!(out, "  …and {more} more key{}", plural(more, "s"));
    }
    out.push('\n');
}

fn plural(n: usize, suffix: &'static str) -> &'static str {
    if n == 1 { "" } else { suffix }
}
