//! `ringmaster audit verify`: check the journal's hash chain.

use std::fmt::Write;

use serde::Serialize;

use super::{Globals, Outcome, pick_format, repo_root};
use crate::cli::Format;
use crate::exit::Exit;
use crate::rollout::journal::Tamper;
use crate::source::open_repository;

#[derive(Debug, Serialize)]
struct Report {
    journal: String,
    entries: usize,
    intact: bool,
    problems: Vec<Tamper>,
    /// A write cut short (crash, full disk): not tampering; the next
    /// state-changing command finishes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    interrupted: Option<String>,
}

pub(crate) fn verify(globals: &Globals) -> anyhow::Result<Outcome> {
    let format = pick_format(globals, &[Format::Human, Format::Json], Format::Human)?;
    let root = repo_root(globals)?;
    let repo = open_repository(&root)?;
    // The file journal (in the common git directory of linked worktrees), or
    // the etcd one in shared mode.
    let store = crate::store::etcd::State::open(&globals.etcd, &root, repo.commondir())?;
    let journal = store.journal();
    let problems = journal
        .verify()
        .map_err(crate::store::etcd::operational)
        .map_err(crate::exit::io_is_operational)?;
    let entries = journal
        .stored()
        .map_err(crate::store::etcd::operational)
        .map_err(crate::exit::io_is_operational)?;
    let interrupted = journal
        .interrupted()
        .map_err(crate::store::etcd::operational)
        .map_err(crate::exit::io_is_operational)?;
    let report = Report {
        journal: journal.describe(),
        entries,
        intact: problems.is_empty(),
        problems,
        interrupted,
    };
    let stdout = match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&report)?;
            s.push('\n');
            s
        }
        _ => {
            let mut s = String::new();
            for p in &report.problems {
                let seq = p
                    .seq
                    .map(|n| format!("entry {n}"))
                    .unwrap_or_else(|| "journal".into());
                match &p.key {
                    Some(key) => {
                        let _ = writeln!(s, "{key}: {seq}: {}", p.problem);
                    }
                    None => {
                        let _ = writeln!(s, "{}:{}: {seq}: {}", report.journal, p.line, p.problem);
                    }
                }
            }
            if let Some(interrupted) = &report.interrupted {
                let _ = writeln!(s, "{}: {interrupted}", report.journal);
            }
            let _ = writeln!(
                s,
                "{}: {} entries, {}",
                report.journal,
                report.entries,
                if report.intact { "intact" } else { "TAMPERED" }
            );
            s
        }
    };
    Ok(Outcome {
        stdout,
        exit: if report.intact {
            Exit::Clean
        } else {
            Exit::Findings
        },
    })
}
