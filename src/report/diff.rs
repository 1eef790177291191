//! The class diff as text: human, and markdown for a pull-request comment.
//! Renders a [`DiffReport`]; computes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::diff::classes::DiffReport;
use crate::diff::{ClassStatus, Op, group};
use crate::report::describe_value;
use crate::report::escape;

pub(crate) fn short(sha: &str) -> &str {
    if sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        &sha[..10]
    } else {
        sha
    }
}

pub(crate) fn summary_line(r: &DiffReport) -> String {
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

pub(crate) fn value_text(v: &Option<serde_json::Value>) -> String {
    v.as_ref().map(describe_value).unwrap_or_default()
}

pub(crate) fn op_mark(op: Op) -> &'static str {
    match op {
        Op::Added => "+",
        Op::Removed => "-",
        Op::Changed => "~",
    }
}

/// Class names come from the manifest: escaped for the terminal here, and
/// again for markdown by its caller.
pub(crate) fn class_list(names: &[&str], limit: usize) -> String {
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

pub(crate) fn markdown(r: &DiffReport) -> String {
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
