//! `rollout start`: a revision that passes `check` opens a rollout, after
//! abandoning what it supersedes (`policy::superseded_by_start` decides).

use std::fmt::Write;
use std::sync::Arc;

use super::{Outcome, identity, now, target_for};
use crate::check::{CheckError, Selection, check};
use crate::cli::Format;
use crate::exit::{Exit, Failure};
use crate::rollout::journal::Stamp;
use crate::rollout::policy;
use crate::rollout::state::{Event, rollout_ids};
use crate::source::{GitRevision, Source, open_repository};
use crate::store::etcd::State;

pub(super) fn start(
    root: &std::path::Path,
    store: &State,
    rev: &str,
    actor: Option<&str>,
    supersede: bool,
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
    policy::refuse_failing_check(rev, &revision, &report.diagnostics).map_err(|e| {
        anyhow::Error::from(Failure {
            exit: Exit::Findings,
            message: e.to_string(),
        })
    })?;
    let loaded = crate::config::manifest::Manifest::load(source.as_ref())
        .map_err(|e| Failure::usage(e.to_string()))?;
    let rings = crate::rollout::rings::load_rings(&loaded.manifest, source.as_ref())?;
    policy::refuse_without_rings(rev, &rings).map_err(|e| Failure::usage(e.to_string()))?;
    let announcer = crate::notify::Announcer::new(
        store.journal(),
        &loaded.manifest,
        Some(&revision),
        &identity(actor, root),
    );
    let journal: &dyn crate::rollout::journal::JournalStore = &announcer;
    let entries = journal.entries()?;
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .strftime("%Y%m%d")
        .to_string();
    // The ids used so far, in the journal and on the delivery target (a
    // journal moved away and started afresh still sees the target's).
    let recorded = target_for(root, store, &loaded.manifest, "")
        .and_then(|t| t.used_rollouts())
        .unwrap_or_default();
    let id = policy::next_rollout_id(rollout_ids(&entries).iter().chain(&recorded), &today);
    let actor = identity(actor, root);
    let superseded = policy::superseded_by_start(&entries, supersede)
        .map_err(|e| Failure::usage(e.to_string()))?;
    for older in &superseded {
        let event = Event::Abandoned {
            reason: format!("superseded by {id} (revision {})", &revision[..10]),
        };
        journal.append(
            Stamp::new(&now(), &actor, older),
            serde_json::to_value(&event)?,
        )?;
    }
    let event = Event::Started {
        revision: revision.clone(),
        author,
        rings: rings.iter().map(|r| r.name.clone()).collect(),
    };
    journal.append(
        Stamp::new(&now(), &actor, &id),
        serde_json::to_value(&event)?,
    )?;
    announcer.finish(crate::notify::COMMAND_WAIT);
    let stdout = match format {
        Format::Json => format!(
            "{}\n",
            serde_json::json!({"id": id, "revision": revision, "superseded": superseded})
        ),
        _ => {
            let mut text = String::new();
            for older in &superseded {
                let _ = writeln!(text, "abandoned {older}: superseded by {id}");
            }
            let _ = writeln!(
                text,
                "started {id}: revision {} through {}",
                &revision[..10],
                rings
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" → ")
            );
            text
        }
    };
    Ok(Outcome {
        stdout,
        exit: Exit::Clean,
    })
}
