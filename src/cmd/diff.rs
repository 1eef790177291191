//! `ringmaster diff`: effective-value changes per host class between two
//! revisions, read from git objects. Only classes a change can reach are
//! rendered: changed files map to the classes whose hierarchy includes them.

use crate::cli::{DiffArgs, Format};
use crate::cmd::{Globals, Outcome, pick_format, repo_root};
use crate::diff::classes::diff;
use crate::exit::Exit;
use crate::report::diff::{human, markdown, summary_line};

pub(crate) fn run(globals: &Globals, args: &DiffArgs) -> anyhow::Result<Outcome> {
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
