//! `rollout status` and `rollout timeline`: what a rollout did, replayed
//! from the journal (which they still read when it does not verify, with a
//! warning), with what each ring holds now and what approving would change.

use super::{Outcome, done, resolve_id, state_of, target_for};
use crate::cli::Format;
use crate::exit::Exit;
use crate::report::status::Approval;
use crate::rollout::journal::JournalStore;
use crate::rollout::state::{RingPhase, RolloutState};
use crate::store::etcd::State;

/// What approving the waiting ring would change: the effective-value diff of
/// its classes, from what the ring holds now to the rollout's revision, and
/// where the delivery goes.
fn approval_diff(
    root: &std::path::Path,
    store: &State,
    state: &RolloutState,
) -> anyhow::Result<Option<Approval>> {
    let Some(ring) = state
        .rings
        .iter()
        .find(|r| r.state == RingPhase::AwaitingApproval)
    else {
        return Ok(None);
    };
    let snapshot = crate::config::snapshot::Snapshot::open(root, Some(&state.revision))?;
    let target = target_for(root, store, &snapshot.manifest, &state.id)?;
    let holds = target.current(&ring.name)?;
    let first_delivery = holds.is_none();
    let mut report = match holds {
        Some(current) => {
            crate::diff::classes::diff(root, &current, Some(&state.revision), None, false)?
        }
        // A first delivery: everything the ring's classes will get is new.
        None => {
            let nothing = crate::config::snapshot::Snapshot::empty("nothing delivered yet")?;
            let changed = [crate::config::manifest::MANIFEST_FILE.to_owned()].into();
            crate::diff::classes::diff_snapshots(&nothing, &snapshot, &changed, None, false)?
        }
    };
    // A set: a ring of thousands of classes is looked up once per class.
    let members: std::collections::HashSet<&String> = snapshot
        .manifest
        .host_classes
        .values()
        .filter(|c| c.facts.get("ring") == Some(&ring.name))
        .map(|c| &c.name)
        .collect();
    report.classes.retain(|c| members.contains(&c.class));
    report.summary.classes_total = members.len();
    report.summary.classes_changed = report.classes.len();
    report.summary.changes = report.classes.iter().map(|c| c.changes.len()).sum();
    Ok(Some(Approval {
        ring: ring.name.clone(),
        diff: report,
        target: target.describe_ring(&ring.name),
        first_delivery,
    }))
}

pub(super) fn status(
    root: &std::path::Path,
    store: &State,
    id: Option<&str>,
    format: Format,
    full: bool,
) -> anyhow::Result<Outcome> {
    let journal = store.journal();
    let id = resolve_id(journal, id)?;
    let mut state = state_of(journal, &id)?;
    let approval = approval_diff(root, store, &state)?;
    // What held each ring's soak clock (convergence, idle rounds).
    let entries = journal.entries()?;
    for ring in &mut state.rings {
        ring.soak_clock = crate::rollout::soakclock::status(&entries, &id, &ring.name);
    }
    // What each ring really holds now (a later rollout or a rollback may
    // have moved it), when the delivery target answers.
    if let Ok(snapshot) = crate::config::snapshot::Snapshot::open(root, Some(&state.revision))
        && let Ok(target) = target_for(root, store, &snapshot.manifest, &state.id)
    {
        for ring in &mut state.rings {
            if let Ok(now) = target.current(&ring.name) {
                ring.current = now;
            }
        }
    }
    let comparisons = crate::rollout::compare::latest_comparisons(&entries, &id);
    let stdout = match format {
        Format::Json if comparisons.is_empty() => {
            crate::report::status::json(&state, approval.as_ref())?
        }
        Format::Json => {
            let mut json: serde_json::Value =
                serde_json::from_str(&crate::report::status::json(&state, approval.as_ref())?)?;
            json["comparisons"] = serde_json::to_value(&comparisons)?;
            format!("{}\n", serde_json::to_string_pretty(&json)?)
        }
        _ => {
            crate::report::status::human(&state, approval.as_ref(), full)
                + &crate::report::status::comparisons_human(&comparisons)
        }
    };
    let stdout = with_debrief(journal, &id, format, stdout)?;
    Ok(Outcome {
        stdout,
        exit: Exit::Clean,
    })
}

/// The status with the debrief of a halt: impact began, time to detect and
/// to mitigate (JSON: a `debrief` member).
fn with_debrief(
    journal: &dyn JournalStore,
    id: &str,
    format: Format,
    stdout: String,
) -> anyhow::Result<String> {
    let entries = journal.entries()?;
    let debrief =
        crate::rollout::timeline::debrief(&crate::rollout::timeline::events(&entries, id));
    Ok(match format {
        Format::Json => {
            let mut json: serde_json::Value = serde_json::from_str(&stdout)?;
            let figures = crate::report::status::debrief_json(&debrief);
            if !figures.is_null() {
                json["debrief"] = figures;
            }
            format!("{}\n", serde_json::to_string_pretty(&json)?)
        }
        _ => stdout + &crate::report::status::debrief_human(&debrief),
    })
}

pub(super) fn timeline(
    journal: &dyn JournalStore,
    id: &str,
    format: Format,
) -> anyhow::Result<Outcome> {
    let entries = journal.entries()?;
    let events = crate::rollout::timeline::events(&entries, id);
    let debrief = crate::rollout::timeline::debrief(&events);
    let stdout = match format {
        Format::Html => crate::report::timeline_html::render_timeline(id, &events, &debrief),
        Format::Json => crate::report::timeline_json::render(id, &events, &debrief)?,
        _ => crate::report::timeline_markdown::render(id, &events, &debrief),
    };
    done(stdout)
}
