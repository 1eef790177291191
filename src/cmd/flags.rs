//! `ringmaster flags list|stale`: the flag inventory and its hygiene.

use crate::report::escape::terminal;
use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::PathBuf;

use comfy_table::{Table, presets};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{Globals, Outcome, pick_format, repo_root};
use crate::cli::{FlagsArgs, FlagsCommand, Format};
use crate::config::snapshot::Snapshot;
use crate::exit::{Exit, Failure};
use crate::flags::coderefs::{self, Reference};
use crate::flags::{Flag, today, uniform_since};

#[derive(Debug, Serialize)]
pub(crate) struct FlagRow {
    pub name: String,
    pub file: String,
    pub owner: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub default: Value,
    pub rings: Map<String, Value>,
    pub tenants: Map<String, Value>,
    pub expires: Option<String>,
    pub days_left: Option<i32>,
}

#[derive(Debug, Serialize)]
pub(crate) struct StaleFlag {
    pub name: String,
    pub reasons: Vec<&'static str>,
    pub owner: Option<String>,
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uniform_since: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct StaleReport {
    pub stale: Vec<StaleFlag>,
    pub undefined: Vec<Reference>,
}

fn rows(flags: &[Flag]) -> Vec<FlagRow> {
    let today = today();
    let mut rows: Vec<FlagRow> = flags
        .iter()
        .map(|f| {
            let map = |list: &[crate::flags::Targeted]| {
                list.iter()
                    .map(|t| (t.target.clone(), t.value.to_json()))
                    .collect()
            };
            FlagRow {
                name: f.name.clone(),
                file: f.file.clone(),
                owner: f.owner.clone(),
                kind: f.kind.map(|k| k.as_str().to_owned()),
                default: f
                    .default
                    .as_ref()
                    .map_or(Value::Null, |d| d.value.to_json()),
                rings: map(&f.rings),
                tenants: map(&f.tenants),
                expires: f.expires.map(|(d, _)| d.to_string()),
                days_left: f.expires.map(|(d, _)| (d - today).get_days()),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

fn short(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(crate) fn run(globals: &Globals, args: &FlagsArgs) -> anyhow::Result<Outcome> {
    let format = pick_format(globals, &[Format::Human, Format::Json], Format::Human)?;
    let root = repo_root(globals)?;
    let snapshot = Snapshot::open(&root, None)?;
    if snapshot.manifest.flags_dir.is_none() {
        return Err(Failure::usage(
            "ringmaster.yaml has no `flags:` directory; add `flags: flags/` to use flags",
        ));
    }
    let stdout = match args.command.as_ref().unwrap_or(&FlagsCommand::List) {
        FlagsCommand::List => list(&snapshot, format),
        FlagsCommand::Stale { code, uniform_days } => {
            let code: Vec<PathBuf> = code.iter().map(|d| globals.cwd.join(d)).collect();
            let mut report = stale(&snapshot, &root, &code, *uniform_days)?;
            // Show paths as the user would type them: relative to where they stand.
            let cwd = format!("{}/", globals.cwd.display());
            for r in &mut report.undefined {
                if let Some(rel) = r.file.strip_prefix(&cwd) {
                    r.file = rel.to_owned();
                }
            }
            match format {
                Format::Json => json(&report),
                _ => stale_human(&report),
            }
        }
    };
    Ok(Outcome {
        stdout,
        exit: Exit::Clean,
    })
}

fn json<T: Serialize>(value: &T) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_default();
    s.push('\n');
    s
}

fn list(snapshot: &Snapshot, format: Format) -> String {
    let rows = rows(&snapshot.flags);
    if format == Format::Json {
        return json(&serde_json::json!({ "flags": rows }));
    }
    // Columns: one per ring that some class belongs to, in the rings' order
    // when ring files exist, else by name.
    let rings: BTreeSet<&str> = snapshot
        .manifest
        .host_classes
        .values()
        .filter_map(|c| c.facts.get("ring").map(String::as_str))
        .collect();
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    let mut header = vec![
        "flag".to_string(),
        "owner".into(),
        "type".into(),
        "default".into(),
    ];
    header.extend(rings.iter().map(|r| r.to_string()));
    header.extend(["tenants".into(), "expires".into(), "days left".into()]);
    table.set_header(header);
    for r in &rows {
        let mut line = vec![
            r.name.clone(),
            r.owner.clone().unwrap_or_else(|| "(none)".into()),
            r.kind.clone().unwrap_or_default(),
            short(&r.default),
        ];
        for ring in &rings {
            line.push(r.rings.get(*ring).map_or_else(|| "·".to_string(), short));
        }
        line.push(
            r.tenants
                .iter()
                .map(|(t, v)| format!("{t}={}", short(v)))
                .collect::<Vec<_>>()
                .join(" "),
        );
        line.push(r.expires.clone().unwrap_or_default());
        line.push(r.days_left.map(|d| d.to_string()).unwrap_or_default());
        // Names, owners and values come from flag files: escaped cell by cell.
        table.add_row(line.into_iter().map(|cell| terminal(&cell).into_owned()));
    }
    let mut out = table.to_string();
    let _ = writeln!(out, "\n{} flags (· = the default applies)", rows.len());
    out
}

/// Expired, uniform for longer than the threshold, and (with code
/// directories) unreferenced flags; plus references to undefined flags.
pub(crate) fn stale(
    snapshot: &Snapshot,
    root: &std::path::Path,
    code: &[PathBuf],
    uniform_days: u32,
) -> anyhow::Result<StaleReport> {
    let today = today();
    let scan = if code.is_empty() {
        None
    } else {
        let names: BTreeSet<String> = snapshot.flags.iter().map(|f| f.name.clone()).collect();
        let (patterns, problems) = coderefs::manifest_patterns(&snapshot.manifest.raw);
        if let Some((_, pos, why)) = problems.first() {
            return Err(Failure::usage(format!(
                "ringmaster.yaml:{pos}: {why}; see `ringmaster check`"
            )));
        }
        Some(
            coderefs::scan(code, &names, &patterns)
                .map_err(|e| Failure::usage(format!("{e:#}")))?,
        )
    };
    let now = jiff::Timestamp::now();
    let mut stale = Vec::new();
    for flag in &snapshot.flags {
        let mut reasons = Vec::new();
        if flag.expires.is_some_and(|(d, _)| d < today) {
            reasons.push("expired");
        }
        let mut since_text = None;
        if let Some(value) = flag.uniform_value(snapshot.manifest.host_classes.values())
            && let Some(since) =
                uniform_since(root, &flag.file, &value, &snapshot.manifest.host_classes)?
        {
            let days = (now.as_second() - since.as_second()) / 86_400;
            if days >= i64::from(uniform_days) {
                reasons.push("uniform");
                since_text = Some(since.to_string());
            }
        }
        if let Some(scan) = &scan
            && !scan.referenced.contains_key(&flag.name)
        {
            reasons.push("unreferenced");
        }
        if !reasons.is_empty() {
            stale.push(StaleFlag {
                name: flag.name.clone(),
                reasons,
                owner: flag.owner.clone(),
                file: flag.file.clone(),
                uniform_since: since_text,
            });
        }
    }
    stale.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(StaleReport {
        stale,
        undefined: scan.map(|s| s.undefined).unwrap_or_default(),
    })
}

fn stale_human(report: &StaleReport) -> String {
    let mut out = String::new();
    if report.stale.is_empty() {
        out.push_str("no stale flags\n");
    }
    for s in &report.stale {
        let _ = writeln!(
            out,
            "{:<24} {:<28} owner {}  ({})",
            terminal(&s.name),
            s.reasons.join(", "),
            terminal(s.owner.as_deref().unwrap_or("(none)")),
            terminal(&s.file)
        );
    }
    for u in &report.undefined {
        let _ = writeln!(
            out,
            "{}:{}: `{}` is used in code but no flag file defines it",
            terminal(&u.file),
            u.line,
            terminal(&u.name)
        );
    }
    out
}
