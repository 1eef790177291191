//! The release manager's hands: approve, halt, resume, rollback, freeze and
//! unfreeze. `rollout::policy` decides whether each is allowed and which
//! ring it acts on; this journals the event (once the state fold accepts
//! it) and says what was done.

use super::drive::drive;
use super::{Outcome, append_transition, done, now, short, state_of, target_for};
use crate::exit::{Exit, Failure};
use crate::rollout::journal::{JournalStore, Stamp};
use crate::rollout::policy::{self, ApprovalRefused, Refused};
use crate::rollout::state::{Event, Halt, RingPhase, RolloutPhase};
use crate::store::etcd::State;

fn refused(e: Refused) -> anyhow::Error {
    Failure::usage(e.to_string())
}

pub(super) fn approve(
    root: &std::path::Path,
    journal: &dyn JournalStore,
    id: &str,
    ring_name: &str,
    actor: &str,
) -> anyhow::Result<Outcome> {
    let state = state_of(journal, id)?;
    let refused = |e: ApprovalRefused| Failure::usage(e.to_string());
    policy::awaiting_approval(&state, ring_name).map_err(refused)?;
    let snapshot = crate::config::snapshot::Snapshot::open(root, Some(&state.revision))?;
    let rings = crate::rollout::rings::load_rings(&snapshot.manifest, snapshot.source.as_ref())?;
    let def = rings
        .iter()
        .find(|r| r.name == ring_name)
        .ok_or_else(|| Failure::usage(format!("ring `{ring_name}` has no ring file")))?;
    let event = policy::approve(&state, def, actor).map_err(refused)?;
    append_transition(journal, &state, actor, &event)?;
    done(format!("{actor} approved ring {ring_name} of {id}\n"))
}

pub(super) fn halt(
    journal: &dyn JournalStore,
    id: &str,
    reason: &str,
    actor: &str,
) -> anyhow::Result<Outcome> {
    let state = state_of(journal, id)?;
    let ring = policy::ring_to_halt(&state).map_err(refused)?;
    let event = Event::Halted {
        ring: ring.name.clone(),
        halt: Halt {
            gate: None,
            value: None,
            threshold: None,
            reason: reason.to_owned(),
            at: now(),
            rollback: false,
        },
    };
    let ring = ring.name.clone();
    append_transition(journal, &state, actor, &event)?;
    done(format!("halted {id} at ring {ring} ({reason})\n"))
}

pub(super) fn rollback(
    root: &std::path::Path,
    store: &State,
    id: &str,
    ring: Option<&str>,
    actor: &str,
) -> anyhow::Result<Outcome> {
    let journal = store.journal();
    let state = state_of(journal, id)?;
    if ring.is_none()
        && let Some(rings) = policy::rings_to_roll_back_after_completion(&state)
    {
        let rings: Vec<String> = rings.iter().map(|r| r.name.clone()).collect();
        return roll_back_finished(root, store, id, &rings, actor);
    }
    let target = policy::ring_to_roll_back(&state, ring).map_err(refused)?;
    // A finished rollout (complete, or partly rolled back since): only
    // rings that still hold its revision.
    if state.state == RolloutPhase::Complete
        || policy::rings_to_roll_back_after_completion(&state).is_some()
    {
        let holds = holds_now(root, store, &state, &target.name)?;
        policy::refuse_if_moved_since(&state, &target.name, holds.as_deref(), &journal.entries()?)
            .map_err(refused)?;
    }
    let event = Event::RollingBack {
        ring: target.name.clone(),
    };
    append_transition(journal, &state, actor, &event)?;
    // The driver finishes a journaled rollback before anything else.
    let outcome = drive(root, store, id, actor, None)?;
    let after = state_of(journal, id)?;
    let rolled = after
        .rings
        .iter()
        .find(|r| r.name == target.name && r.state == RingPhase::RolledBack);
    match rolled {
        Some(ring) => done(format!(
            "rolled back ring {} of {id} to {} (by {actor}); `ringmaster rollout resume {id}` delivers it again\n",
            ring.name,
            ring.previous.as_deref().map_or("nothing", short)
        )),
        None => Ok(outcome),
    }
}

/// What became of one ring in an emergency rollback.
enum Restore {
    Restored(String),
    Refused(String),
    Failed(String),
}

/// An emergency rollback of a finished rollout: each ring back to its
/// previous revision, widest first, each journaled with the actor. A ring a
/// later rollout moved since is refused (restoring would undo that one) and
/// the others still go back; the report names both. A rollback that fails
/// stops the rest: the driver must finish it before any other.
fn roll_back_finished(
    root: &std::path::Path,
    store: &State,
    id: &str,
    rings: &[String],
    actor: &str,
) -> anyhow::Result<Outcome> {
    let mut out = format!("emergency rollback of {id} by {actor}, widest ring first:\n");
    let (mut restored, mut refusals, mut failed) = (Vec::new(), Vec::new(), None);
    for name in rings {
        if let Some(stuck) = &failed {
            out.push_str(&format!(
                "  {name}: not attempted: ring {stuck}'s rollback must finish first (`ringmaster rollout run {id}`)\n"
            ));
            continue;
        }
        let result = roll_back_one(root, store, id, name, actor)
            .unwrap_or_else(|e| Restore::Failed(format!("{e:#}")));
        match result {
            Restore::Restored(previous) => {
                out.push_str(&format!("  {name}: rolled back to {previous}\n"));
                restored.push(name.as_str());
            }
            Restore::Refused(why) => {
                out.push_str(&format!("  {name}: refused: {why}\n"));
                refusals.push(name.as_str());
            }
            Restore::Failed(why) => {
                out.push_str(&format!("  {name}: FAILED: {why}\n"));
                failed = Some(name.clone());
            }
        }
    }
    out.push_str(&format!(
        "restored {} of {} rings{}{}\n",
        restored.len(),
        rings.len(),
        if refusals.is_empty() {
            String::new()
        } else {
            format!("; refused: {}", refusals.join(", "))
        },
        failed
            .as_ref()
            .map(|f| format!("; failed: {f}"))
            .unwrap_or_default()
    ));
    let exit = if failed.is_some() {
        Exit::Operational
    } else if !refusals.is_empty() {
        Exit::Usage
    } else {
        Exit::Clean
    };
    Ok(Outcome { stdout: out, exit })
}

/// Rolls one ring of a finished rollout back, unless a later rollout moved it.
fn roll_back_one(
    root: &std::path::Path,
    store: &State,
    id: &str,
    name: &str,
    actor: &str,
) -> anyhow::Result<Restore> {
    let journal = store.journal();
    let state = state_of(journal, id)?;
    let holds = holds_now(root, store, &state, name)?;
    if let Err(why) =
        policy::refuse_if_moved_since(&state, name, holds.as_deref(), &journal.entries()?)
    {
        return Ok(Restore::Refused(why.to_string()));
    }
    append_transition(
        journal,
        &state,
        actor,
        &Event::RollingBack {
            ring: name.to_owned(),
        },
    )?;
    let outcome = drive(root, store, id, actor, None)?;
    let after = state_of(journal, id)?;
    Ok(
        match after
            .rings
            .iter()
            .find(|r| r.name == name && r.state == RingPhase::RolledBack)
        {
            Some(ring) => {
                Restore::Restored(ring.previous.as_deref().map_or("nothing", short).to_owned())
            }
            None => Restore::Failed(format!(
                "the rollback did not finish: {}",
                outcome.stdout.trim()
            )),
        },
    )
}

/// What the delivery target says `ring` holds now, read with the manifest
/// at the rollout's revision.
fn holds_now(
    root: &std::path::Path,
    store: &State,
    state: &crate::rollout::state::RolloutState,
    ring: &str,
) -> anyhow::Result<Option<String>> {
    let snapshot = crate::config::snapshot::Snapshot::open(root, Some(&state.revision))?;
    let target = target_for(root, store, &snapshot.manifest, &state.id)?;
    target.current(ring)
}

pub(super) fn resume(journal: &dyn JournalStore, id: &str, actor: &str) -> anyhow::Result<Outcome> {
    let state = state_of(journal, id)?;
    let ring = policy::ring_to_resume(&state).map_err(refused)?;
    let event = Event::Resumed {
        ring: ring.name.clone(),
    };
    let ring = ring.name.clone();
    append_transition(journal, &state, actor, &event)?;
    done(format!("resumed {id}: ring {ring} starts again\n"))
}

pub(super) fn freeze(
    journal: &dyn JournalStore,
    reason: &str,
    actor: &str,
) -> anyhow::Result<Outcome> {
    let event = Event::Frozen {
        reason: reason.to_owned(),
    };
    journal.append(Stamp::new(&now(), actor, ""), serde_json::to_value(&event)?)?;
    done(format!(
        "frozen by {actor}: no ring starts until `ringmaster rollout unfreeze`\n"
    ))
}

pub(super) fn unfreeze(journal: &dyn JournalStore, actor: &str) -> anyhow::Result<Outcome> {
    policy::may_unfreeze(&journal.entries()?).map_err(refused)?;
    journal.append(
        Stamp::new(&now(), actor, ""),
        serde_json::to_value(&Event::Unfrozen)?,
    )?;
    done(format!("unfrozen by {actor}\n"))
}
