//! The release manager's hands: approve, halt, resume, rollback, freeze and
//! unfreeze. `rollout::policy` decides whether each is allowed and which
//! ring it acts on; this journals the event (once the state fold accepts
//! it) and says what was done.

use super::drive::drive;
use super::{Outcome, append_transition, done, now, short, state_of, target_for};
use crate::exit::Failure;
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
    let target = policy::ring_to_roll_back(&state, ring).map_err(refused)?;
    if state.state == RolloutPhase::Complete {
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
