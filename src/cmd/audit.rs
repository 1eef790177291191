//! `ringmaster audit verify`: check the journal's hash chain.

use std::fmt::Write;

use serde::Serialize;

use super::{Globals, Outcome, pick_format, repo_root};
use crate::cli::Format;
use crate::exit::Exit;
use crate::journal::{Journal, Tamper};
use crate::source::open_repository;

#[derive(Debug, Serialize)]
struct Report {
    journal: String,
    entries: usize,
    intact: bool,
    problems: Vec<Tamper>,
}

pub fn verify(globals: &Globals) -> anyhow::Result<Outcome> {
    let format = pick_format(globals, &[Format::Human, Format::Json], Format::Human)?;
    let root = repo_root(globals)?;
    let repo = open_repository(&root)?;
    let journal = Journal::at(repo.path());
    let problems = journal.verify()?;
    let entries = std::fs::read_to_string(journal.path())
        .map(|t| t.lines().filter(|l| !l.trim().is_empty()).count())
        .unwrap_or(0);
    let report = Report {
        journal: journal.path().display().to_string(),
        entries,
        intact: problems.is_empty(),
        problems,
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
                let _ = writeln!(s, "{}:{}: {seq}: {}", report.journal, p.line, p.problem);
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
