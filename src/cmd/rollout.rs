//! `ringmaster rollout start|status`: open a rollout of a revision and see
//! where it stands. Every fact goes to the journal first; status is a replay.
//!
//! Driving a rollout (`run`, approvals, halts, rollbacks) is not built yet;
//! the pieces it will use are `journal`, `rollout` (the state fold),
//! `deliver` and `lock`.

use std::fmt::Write;
use std::sync::Arc;

use anyhow::Context;

use super::{Globals, Outcome, pick_format, repo_root};
use crate::check::{CheckError, Selection, check};
use crate::cli::{Format, RolloutCommand};
use crate::diag::Severity;
use crate::exit::{Exit, Failure};
use crate::journal::{Entry, Journal};
use crate::rollout::{Event, RolloutState};
use crate::source::{GitRevision, Source, open_repository};

/// Who is acting: `--as`, then the CI's user (GitHub, GitLab), then git's
/// `user.email`, then the login name. Recorded with every event.
pub fn identity(explicit: Option<&str>, root: &std::path::Path) -> String {
    if let Some(name) = explicit.filter(|s| !s.trim().is_empty()) {
        return name.to_owned();
    }
    for var in [
        "GITHUB_ACTOR",
        "GITLAB_USER_LOGIN",
        "BUILDKITE_BUILD_CREATOR_EMAIL",
    ] {
        if let Ok(v) = std::env::var(var)
            && !v.trim().is_empty()
        {
            return v;
        }
    }
    if let Ok(repo) = open_repository(root)
        && let Ok(config) = repo.config()
        && let Ok(email) = config.get_string("user.email")
    {
        return email;
    }
    std::env::var("USER").unwrap_or_else(|_| "unknown".into())
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

fn events_of(entries: &[Entry], id: &str) -> anyhow::Result<Vec<Event>> {
    entries
        .iter()
        .filter(|e| e.body.rollout == id)
        .map(|e| {
            serde_json::from_value::<Event>(e.body.event.clone())
                .with_context(|| format!("journal entry {} is not a rollout event", e.body.seq))
        })
        .collect()
}

fn rollout_ids(entries: &[Entry]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for e in entries {
        if !e.body.rollout.is_empty() && !ids.contains(&e.body.rollout) {
            ids.push(e.body.rollout.clone());
        }
    }
    ids
}

pub fn run(globals: &Globals, command: &RolloutCommand) -> anyhow::Result<Outcome> {
    let root = repo_root(globals)?;
    let repo = open_repository(&root)?;
    let journal = Journal::at(repo.path());
    match command {
        RolloutCommand::Start { rev, actor } => {
            let format = pick_format(globals, &[Format::Human, Format::Json], Format::Human)?;
            start(&root, &journal, rev, actor.as_deref(), format)
        }
        RolloutCommand::Status { id } => {
            let format = pick_format(globals, &[Format::Human, Format::Json], Format::Human)?;
            status(&journal, id.as_deref(), format)
        }
    }
}

fn start(
    root: &std::path::Path,
    journal: &Journal,
    rev: &str,
    actor: Option<&str>,
    format: Format,
) -> anyhow::Result<Outcome> {
    let git = GitRevision::open(root, rev).map_err(|e| Failure::usage(format!("{e:#}")))?;
    let revision = git.commit().to_string();
    let author = {
        let repo = open_repository(root)?;
        let commit = repo.find_commit(git.commit())?;
        let sig = commit.author();
        sig.email().or(sig.name()).unwrap_or("unknown").to_owned()
    };
    let source: Arc<dyn Source> = Arc::new(git);
    // A revision that fails `check` never starts a rollout.
    let report = match check(&source, &Selection::All) {
        Ok(r) => r,
        Err(CheckError::Manifest(e)) => {
            return Err(Failure::usage(format!(
                "ringmaster.yaml at {rev} cannot be read: {e}"
            )));
        }
        Err(CheckError::Other(e)) => return Err(e),
    };
    let errors = report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if errors > 0 {
        let first = report
            .diagnostics
            .iter()
            .find(|d| d.severity == Severity::Error)
            .map(|d| format!("; first: {}:{}: {}", d.file, d.pos, d.message))
            .unwrap_or_default();
        return Err(crate::exit::Failure {
            exit: Exit::Findings,
            message: format!(
                "revision {rev} ({}) fails check with {errors} error{}{first}; see `ringmaster check --head {rev}`",
                &revision[..10],
                if errors == 1 { "" } else { "s" }
            ),
        }
        .into());
    }
    let loaded = crate::manifest::Manifest::load(source.as_ref())
        .map_err(|e| Failure::usage(e.to_string()))?;
    let rings = crate::rings::load_rings(&loaded.manifest, source.as_ref())?;
    if rings.is_empty() {
        return Err(Failure::usage(format!(
            "ringmaster.yaml at {rev} defines no rings: add `rings: rings/` and ring files (`ringmaster init` has defaults)"
        )));
    }
    let entries = journal.entries()?;
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .strftime("%Y%m%d")
        .to_string();
    let prefix = format!("r-{today}-");
    let n = rollout_ids(&entries)
        .iter()
        .filter(|id| id.starts_with(&prefix))
        .count()
        + 1;
    let id = format!("{prefix}{n:04}");
    let actor = identity(actor, root);
    let event = Event::Started {
        revision: revision.clone(),
        author,
        rings: rings.iter().map(|r| r.name.clone()).collect(),
    };
    journal.append(&now(), &actor, &id, serde_json::to_value(&event)?)?;
    let stdout = match format {
        Format::Json => format!("{}\n", serde_json::json!({"id": id, "revision": revision})),
        _ => format!(
            "started {id}: revision {} through {}\n",
            &revision[..10],
            rings
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(" → ")
        ),
    };
    Ok(Outcome {
        stdout,
        exit: Exit::Clean,
    })
}

fn status(journal: &Journal, id: Option<&str>, format: Format) -> anyhow::Result<Outcome> {
    let entries = journal.entries()?;
    let ids = rollout_ids(&entries);
    let id = match id {
        Some(id) if ids.iter().any(|i| i == id) => id.to_owned(),
        Some(id) => return Err(Failure::usage(format!("no rollout `{id}` in the journal"))),
        None => ids.last().cloned().ok_or_else(|| {
            Failure::usage("no rollout has been started here; `ringmaster rollout start` opens one")
        })?,
    };
    let events = events_of(&entries, &id)?;
    let state = RolloutState::replay(&id, &events)
        .map_err(|e| {
            Failure::usage(format!(
                "the journal of {id} does not replay: {e}; run `ringmaster audit verify`"
            ))
        })?
        .ok_or_else(|| Failure::usage(format!("rollout {id} has no start event")))?;
    let stdout = match format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&state)?),
        _ => {
            let mut out = format!(
                "{} {:?}: revision {} by {}\n",
                state.id,
                state.state,
                &state.revision[..state.revision.len().min(10)],
                state.author
            )
            .to_lowercase();
            for ring in &state.rings {
                let phase = serde_json::to_value(ring.state)?;
                let _ = writeln!(
                    out,
                    "  {:<16} {:<18} {}",
                    ring.name,
                    phase.as_str().unwrap_or_default(),
                    ring.revision
                        .as_deref()
                        .map_or("", |r| &r[..r.len().min(10)])
                );
            }
            out
        }
    };
    Ok(Outcome {
        stdout,
        exit: Exit::Clean,
    })
}
