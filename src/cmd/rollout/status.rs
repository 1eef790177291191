//! `rollout status` and `rollout timeline`: what a rollout did, replayed
//! from the journal (which they still read when it does not verify, with a
//! warning), with what each ring holds now and what approving would change.

use std::fmt::Write;

use super::{Outcome, done, resolve_id, short, state_of, target_for};
use crate::cli::Format;
use crate::exit::Exit;
use crate::rollout::journal::JournalStore;
use crate::rollout::state::{RingPhase, RolloutState};
use crate::store::etcd::State;

/// What approving the waiting ring would change: the effective-value diff of
/// its classes, from what the ring holds now to the rollout's revision.
fn approval_diff(
    root: &std::path::Path,
    store: &State,
    state: &RolloutState,
) -> anyhow::Result<Option<(String, crate::diff::classes::DiffReport)>> {
    let Some(ring) = state
        .rings
        .iter()
        .find(|r| r.state == RingPhase::AwaitingApproval)
    else {
        return Ok(None);
    };
    let snapshot = crate::config::snapshot::Snapshot::open(root, Some(&state.revision))?;
    let target = target_for(root, store, &snapshot.manifest, &state.id)?;
    let mut report = match target.current(&ring.name)? {
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
    let members: Vec<&String> = snapshot
        .manifest
        .host_classes
        .values()
        .filter(|c| c.facts.get("ring") == Some(&ring.name))
        .map(|c| &c.name)
        .collect();
    report.classes.retain(|c| members.contains(&&c.class));
    report.summary.classes_total = members.len();
    report.summary.classes_changed = report.classes.len();
    report.summary.changes = report.classes.iter().map(|c| c.changes.len()).sum();
    Ok(Some((ring.name.clone(), report)))
}

pub(super) fn status(
    root: &std::path::Path,
    store: &State,
    id: Option<&str>,
    format: Format,
) -> anyhow::Result<Outcome> {
    let journal = store.journal();
    let id = resolve_id(journal, id)?;
    let mut state = state_of(journal, &id)?;
    let approval = approval_diff(root, store, &state)?;
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
    let stdout = match format {
        Format::Json => {
            let mut json = serde_json::to_value(&state)?;
            // A rolled-back ring's `revision` is what it was restored to (null
            // when withdrawn), not the revision that was rolled back, which
            // stays the rollout's own top-level `revision`.
            for (i, ring) in state.rings.iter().enumerate() {
                if ring.state == RingPhase::RolledBack {
                    json["rings"][i]["revision"] = serde_json::json!(ring.previous);
                }
            }
            if let Some((ring, diff)) = &approval {
                json["approval"] = serde_json::json!({"ring": ring, "diff": diff});
            }
            format!("{}\n", serde_json::to_string_pretty(&json)?)
        }
        _ => {
            use crate::report::escape::terminal;
            let mut out = format!(
                "{} {:?}: revision {} by {}\n",
                terminal(&state.id),
                state.state,
                terminal(state.revision.get(..10).unwrap_or(&state.revision)),
                terminal(&state.author)
            )
            .to_lowercase();
            for ring in &state.rings {
                let phase = serde_json::to_value(ring.state)?;
                // The revision the ring holds now; the rollout's own when it
                // differs (a rolled-back ring).
                let holds = ring.current.as_deref().or(ring.revision.as_deref());
                let differs = match (ring.revision.as_deref(), holds) {
                    (Some(rollout), Some(now)) if rollout != now => {
                        format!(" (this rollout's: {})", short(rollout))
                    }
                    (Some(rollout), None) => {
                        format!(" (nothing; this rollout's: {})", short(rollout))
                    }
                    _ => String::new(),
                };
                let _ = writeln!(
                    out,
                    "  {:<16} {:<18} {}{differs}",
                    terminal(&ring.name),
                    phase.as_str().unwrap_or_default(),
                    holds.map_or("", short)
                );
                if let Some(halt) = &ring.halt {
                    let _ = writeln!(
                        out,
                        "    halted at {}: {}",
                        terminal(&halt.at),
                        terminal(&halt.reason)
                    );
                }
            }
            if let Some((ring, diff)) = &approval {
                let _ = writeln!(
                    out,
                    "\nring {} awaits approval; approving it changes, for its host classes:\n",
                    terminal(ring)
                );
                out.push_str(&crate::report::diff::human(diff));
            }
            out
        }
    };
    Ok(Outcome {
        stdout,
        exit: Exit::Clean,
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
        Format::Html => {
            use crate::report::timeline_html::{Debrief, JournalEvent, render};
            let rows: Vec<JournalEvent<'_>> = events
                .iter()
                .map(|e| JournalEvent {
                    seq: e.seq,
                    at: &e.at,
                    actor: &e.actor,
                    event: &e.event,
                })
                .collect();
            let figures = Debrief {
                time_to_detect_s: debrief.time_to_detect_s,
                time_to_mitigate_s: debrief.time_to_mitigate_s,
            };
            render(id, &rows, figures)
        }
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "id": id,
                "events": events,
                "time_to_detect_s": debrief.time_to_detect_s,
                "time_to_mitigate_s": debrief.time_to_mitigate_s,
                "delivery_to_halt_s": debrief.delivery_to_halt_s,
            }))?
        ),
        _ => crate::report::timeline_markdown::render(id, &events, &debrief),
    };
    done(stdout)
}
