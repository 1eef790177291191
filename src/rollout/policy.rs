//! What people may do to rollouts: who may approve a ring (a listed
//! approver, never the author of the revision, SPEC §6), which older
//! rollouts a new start abandons and the id it gets, which rollout a command
//! without an id means, which ring a halt, resume or rollback acts on, when
//! a rollback is refused, and when an unfreeze is. Pure: the command loads
//! the journal, the ring files and what the delivery target holds, this
//! decides, the command journals the result.

use crate::diag::{Diagnostic, Severity};
use crate::model::revision::short;
use crate::rollout::event::Event;
use crate::rollout::journal::Entry;
use crate::rollout::rings::Ring;
use crate::rollout::state::{
    RingPhase, RingState, RolloutPhase, RolloutState, frozen, replay, rollout_ids,
};

/// Why an approval is refused; the text is what the person is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalRefused {
    #[error("{id} has no ring `{ring}`")]
    NoSuchRing { id: String, ring: String },
    #[error("ring {ring} of {id} is not awaiting approval")]
    NotAwaiting { id: String, ring: String },
    #[error("{actor} wrote revision {revision}: the author never approves their own change")]
    Author { actor: String, revision: String },
    #[error("{actor} is not an approver of ring {ring} (approvers: {approvers})")]
    NotAnApprover {
        actor: String,
        ring: String,
        approvers: String,
    },
}

/// The ring of `state` named `ring`, if it waits for an approval now.
pub fn awaiting_approval(state: &RolloutState, ring: &str) -> Result<(), ApprovalRefused> {
    let found =
        state
            .rings
            .iter()
            .find(|r| r.name == ring)
            .ok_or_else(|| ApprovalRefused::NoSuchRing {
                id: state.id.clone(),
                ring: ring.to_owned(),
            })?;
    if found.state != RingPhase::AwaitingApproval {
        return Err(ApprovalRefused::NotAwaiting {
            id: state.id.clone(),
            ring: ring.to_owned(),
        });
    }
    Ok(())
}

/// The event that records `actor`'s approval of `ring` (its definition at
/// the rollout's revision), or why `actor` may not give it. The author check
/// comes first: an author who is also a listed approver is still refused.
pub fn approve(state: &RolloutState, ring: &Ring, actor: &str) -> Result<Event, ApprovalRefused> {
    awaiting_approval(state, &ring.name)?;
    if actor == state.author {
        return Err(ApprovalRefused::Author {
            actor: actor.to_owned(),
            revision: state
                .revision
                .get(..10)
                .unwrap_or(&state.revision)
                .to_owned(),
        });
    }
    if !ring.approvers.iter().any(|a| a == actor) {
        return Err(ApprovalRefused::NotAnApprover {
            actor: actor.to_owned(),
            ring: ring.name.clone(),
            approvers: ring.approvers.join(", "),
        });
    }
    Ok(Event::Approved {
        ring: ring.name.clone(),
        by: actor.to_owned(),
    })
}

/// Why a new rollout must not start yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartRefused {
    #[error(
        "{older} is rolling ring {ring} back; finish that first with `ringmaster rollout run {older}`"
    )]
    RollingBack { older: String, ring: String },
    #[error(
        "{older} (revision {revision}) is still running; drive it to the end (`ringmaster rollout run {older}`), halt it, or pass --supersede to abandon it"
    )]
    StillRunning { older: String, revision: String },
    #[error(
        "revision {rev} ({revision}) fails check with {errors} error{}; first: {first}; see `ringmaster check --head {rev}`",
        if *.errors == 1 { "" } else { "s" }
    )]
    FailsCheck {
        rev: String,
        revision: String,
        errors: usize,
        /// The first error, as `file:line:col: message`.
        first: String,
    },
    #[error(
        "ringmaster.yaml at {rev} defines no rings: add `rings: rings/` and ring files (`ringmaster init` has defaults)"
    )]
    NoRings { rev: String },
}

/// A revision that fails `check` (any error-severity finding) never starts
/// a rollout; the refusal counts the errors and shows the first.
pub fn refuse_failing_check(
    rev: &str,
    revision: &str,
    diagnostics: &[Diagnostic],
) -> Result<(), StartRefused> {
    let mut errors = diagnostics.iter().filter(|d| d.severity == Severity::Error);
    let Some(first) = errors.next() else {
        return Ok(());
    };
    Err(StartRefused::FailsCheck {
        rev: rev.to_owned(),
        revision: short(revision).to_owned(),
        errors: 1 + errors.count(),
        first: format!("{}:{}: {}", first.file, first.pos, first.message),
    })
}

/// A manifest without rings has nothing to roll out to.
pub fn refuse_without_rings(rev: &str, rings: &[Ring]) -> Result<(), StartRefused> {
    if rings.is_empty() {
        return Err(StartRefused::NoRings {
            rev: rev.to_owned(),
        });
    }
    Ok(())
}

/// The older rollouts a new start abandons, or why it must not start.
///
/// Two rollouts moving at once would deliver over each other ring by ring,
/// so a running one is refused unless `--supersede`. A halted one is
/// abandoned quietly (resuming it later would undo the newer rollout), but
/// never one whose rollback is unfinished: abandoning it would leave a ring
/// on the revision that breached.
pub fn superseded_by_start(
    entries: &[Entry],
    supersede: bool,
) -> Result<Vec<String>, StartRefused> {
    let mut out = Vec::new();
    for older in rollout_ids(entries) {
        let Ok(state) = replay(entries, &older) else {
            continue;
        };
        if let Some(ring) = state.rings.iter().find(|r| r.rolling_back) {
            return Err(StartRefused::RollingBack {
                ring: ring.name.clone(),
                older,
            });
        }
        match state.state {
            RolloutPhase::Running if !supersede => {
                return Err(StartRefused::StillRunning {
                    revision: state
                        .revision
                        .get(..10)
                        .unwrap_or(&state.revision)
                        .to_owned(),
                    older,
                });
            }
            RolloutPhase::Running | RolloutPhase::Halted => out.push(older),
            RolloutPhase::Complete | RolloutPhase::Abandoned => {}
        }
    }
    Ok(out)
}

/// The id a rollout opened on `today` (`YYYYMMDD`) gets: one above the
/// highest number used that day among `used` (the journal's rollouts and the
/// delivery target's), so a journal started afresh never reuses an id that
/// deliveries were made under.
pub fn next_rollout_id<'a>(used: impl IntoIterator<Item = &'a String>, today: &str) -> String {
    let prefix = format!("r-{today}-");
    let n = used
        .into_iter()
        .filter_map(|id| id.strip_prefix(&prefix)?.parse::<u64>().ok())
        .max()
        .unwrap_or(0)
        + 1;
    format!("{prefix}{n:04}")
}

/// Why a person's command on a rollout is refused; the text is what they
/// are told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("no rollout `{id}` in the journal")]
    NoSuchRollout { id: String },
    #[error("no rollout has been started here; `ringmaster rollout start` opens one")]
    NoRollout,
    #[error("{id} has no ring in progress to halt")]
    NothingToHalt { id: String },
    #[error("{id} has no ring `{ring}`")]
    NoSuchRing { id: String, ring: String },
    #[error("{id} has delivered no ring to roll back")]
    NothingDelivered { id: String },
    #[error("{id} is not halted")]
    NotHalted { id: String },
    #[error("ring {ring} is still rolling back; `ringmaster rollout run {id}` finishes it first")]
    StillRollingBack { id: String, ring: String },
    #[error(
        "ring {ring} no longer holds {id}'s revision {revision}: it holds {holds}{}; roll back the rollout that delivered it instead",
        .delivered_by.as_ref().map(|by| format!(" (delivered by {by})")).unwrap_or_default()
    )]
    MovedSince {
        id: String,
        ring: String,
        revision: String,
        holds: String,
        delivered_by: Option<String>,
    },
    #[error("the line is not frozen")]
    NotFrozen,
}

/// The rollout a command means: the one named, which must be in the
/// journal, or without a name the latest started.
pub fn resolve_rollout(entries: &[Entry], id: Option<&str>) -> Result<String, Refused> {
    let ids = rollout_ids(entries);
    match id {
        Some(id) if ids.iter().any(|i| i == id) => Ok(id.to_owned()),
        Some(id) => Err(Refused::NoSuchRollout { id: id.to_owned() }),
        None => ids.last().cloned().ok_or(Refused::NoRollout),
    }
}

/// The ring a halt stops: the first one in progress (waiting for approval,
/// delivering or soaking).
pub fn ring_to_halt(state: &RolloutState) -> Result<&RingState, Refused> {
    state
        .rings
        .iter()
        .find(|r| {
            matches!(
                r.state,
                RingPhase::AwaitingApproval | RingPhase::Delivering | RingPhase::Soaking
            )
        })
        .ok_or_else(|| Refused::NothingToHalt {
            id: state.id.clone(),
        })
}

/// The ring a rollback restores: the one named, or without a name the last
/// ring this rollout delivered that is not rolled back already.
pub fn ring_to_roll_back<'a>(
    state: &'a RolloutState,
    ring: Option<&str>,
) -> Result<&'a RingState, Refused> {
    match ring {
        Some(name) => {
            state
                .rings
                .iter()
                .find(|r| r.name == name)
                .ok_or_else(|| Refused::NoSuchRing {
                    id: state.id.clone(),
                    ring: name.to_owned(),
                })
        }
        None => state
            .rings
            .iter()
            .rev()
            .find(|r| r.revision.is_some() && r.state != RingPhase::RolledBack)
            .ok_or_else(|| Refused::NothingDelivered {
                id: state.id.clone(),
            }),
    }
}

/// The ring a resume starts again: the halted (or rolled-back) one, unless
/// its rollback is unfinished (the driver finishes that first).
pub fn ring_to_resume(state: &RolloutState) -> Result<&RingState, Refused> {
    let ring = state
        .rings
        .iter()
        .find(|r| matches!(r.state, RingPhase::Halted | RingPhase::RolledBack))
        .ok_or_else(|| Refused::NotHalted {
            id: state.id.clone(),
        })?;
    if ring.rolling_back {
        return Err(Refused::StillRollingBack {
            id: state.id.clone(),
            ring: ring.name.clone(),
        });
    }
    Ok(ring)
}

/// A completed rollout's ring is rolled back only while it still holds that
/// rollout's revision (`holds`: what the delivery target says it holds now):
/// after a later rollout moved it, restoring this one's `previous` would undo
/// the later one behind its back. The refusal names the rollout that last
/// delivered to the ring, from `entries`.
pub fn refuse_if_moved_since(
    state: &RolloutState,
    ring: &str,
    holds: Option<&str>,
    entries: &[Entry],
) -> Result<(), Refused> {
    if holds == Some(state.revision.as_str()) {
        return Ok(());
    }
    let delivered_by = entries
        .iter()
        .rev()
        .find(|e| {
            e.body.rollout != state.id
                && matches!(
                    serde_json::from_value::<Event>(e.body.event.clone()),
                    Ok(Event::Delivering { ring: r, .. }) if r == ring
                )
        })
        .map(|e| e.body.rollout.clone());
    Err(Refused::MovedSince {
        id: state.id.clone(),
        ring: ring.to_owned(),
        revision: short(&state.revision).to_owned(),
        holds: holds.map_or("nothing", short).to_owned(),
        delivered_by,
    })
}

/// The rings an emergency rollback of a finished rollout restores, widest
/// first (reverse ring order): every ring still holding this rollout's
/// revision as far as the journal knows. `None` unless the rollout finished:
/// complete, or complete and partly rolled back since (every ring promoted
/// or rolled back, none mid-rollback).
pub fn rings_to_roll_back_after_completion(state: &RolloutState) -> Option<Vec<&RingState>> {
    let finished = state.state == RolloutPhase::Complete
        || (state.state == RolloutPhase::Halted
            && state.rings.iter().all(|r| {
                !r.rolling_back && matches!(r.state, RingPhase::Promoted | RingPhase::RolledBack)
            }));
    if !finished {
        return None;
    }
    let rings: Vec<&RingState> = state
        .rings
        .iter()
        .rev()
        .filter(|r| r.state == RingPhase::Promoted && r.revision.is_some())
        .collect();
    (!rings.is_empty()).then_some(rings)
}

/// An unfreeze needs a freeze to lift.
pub fn may_unfreeze(entries: &[Entry]) -> Result<(), Refused> {
    match frozen(entries) {
        Some(_) => Ok(()),
        None => Err(Refused::NotFrozen),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;

    /// A ring definition for tests: one 30 s round to promote, no gates.
    pub(crate) fn ring(name: &str, approvers: &[&str]) -> Ring {
        Ring {
            name: name.into(),
            file: format!("rings/{name}.yaml"),
            name_pos: Default::default(),
            order: 1,
            soak: Duration::from_secs(30),
            interval: Duration::from_secs(30),
            approval_required: !approvers.is_empty(),
            approvers: approvers.iter().map(|a| (*a).to_owned()).collect(),
            inconclusive_limit: 3,
            rollback_on_breach: false,
            gates: Vec::new(),
            soak_clock: Default::default(),
        }
    }

    fn waiting_for(ring: &str) -> RolloutState {
        let mut state = RolloutState::start(
            "r-1",
            &Event::Started {
                revision: "0123456789abcdef".into(),
                author: "dev@example.com".into(),
                rings: vec![ring.into(), "later".into()],
            },
        )
        .expect("starts");
        state
            .apply(&Event::AwaitingApproval { ring: ring.into() })
            .expect("waits");
        state
    }

    #[test]
    fn a_listed_approver_who_is_not_the_author_approves() {
        let state = waiting_for("prod");
        let event = approve(&state, &ring("prod", &["rm@example.com"]), "rm@example.com");
        assert_eq!(
            event,
            Ok(Event::Approved {
                ring: "prod".into(),
                by: "rm@example.com".into()
            })
        );
        // The fold accepts what the policy allowed.
        let mut after = state.clone();
        after.apply(&event.expect("approved")).expect("applies");
        assert_eq!(
            after.rings[0].approved_by.as_deref(),
            Some("rm@example.com")
        );
    }

    #[test]
    fn the_author_never_approves_even_when_listed_as_an_approver() {
        let state = waiting_for("prod");
        let listed = ring("prod", &["dev@example.com", "rm@example.com"]);
        assert_eq!(
            approve(&state, &listed, "dev@example.com"),
            Err(ApprovalRefused::Author {
                actor: "dev@example.com".into(),
                revision: "0123456789".into()
            })
        );
    }

    #[test]
    fn someone_not_listed_never_approves() {
        let state = waiting_for("prod");
        let refused = approve(&state, &ring("prod", &["a", "b"]), "mallory");
        assert_eq!(
            refused.map_err(|e| e.to_string()),
            Err("mallory is not an approver of ring prod (approvers: a, b)".into())
        );
        // Names are compared exactly: no prefix, no case folding.
        assert!(approve(&state, &ring("prod", &["a", "b"]), "A").is_err());
        assert!(approve(&state, &ring("prod", &["ab"]), "a").is_err());
    }

    #[test]
    fn only_a_ring_that_waits_is_approved() {
        let state = waiting_for("prod");
        assert_eq!(
            approve(&state, &ring("later", &["rm"]), "rm"),
            Err(ApprovalRefused::NotAwaiting {
                id: "r-1".into(),
                ring: "later".into()
            })
        );
        assert_eq!(
            awaiting_approval(&state, "nowhere").map_err(|e| e.to_string()),
            Err("r-1 has no ring `nowhere`".into())
        );
        assert_eq!(awaiting_approval(&state, "prod"), Ok(()));
    }

    fn journal(rollouts: &[(&str, Vec<Event>)]) -> Vec<Entry> {
        let mut out = Vec::new();
        for (id, events) in rollouts {
            for event in events {
                let body = crate::rollout::journal::Body {
                    seq: out.len() as u64 + 1,
                    at: "2026-11-22T10:00:00Z".into(),
                    actor: "ci".into(),
                    rollout: (*id).into(),
                    event: serde_json::to_value(event).expect("serialises"),
                    prev: String::new(),
                };
                out.push(Entry {
                    hash: crate::rollout::journal::hash_body(&body),
                    body,
                });
            }
        }
        out
    }

    fn started() -> Event {
        Event::Started {
            revision: "0123456789abcdef".into(),
            author: "dev".into(),
            rings: vec!["a".into()],
        }
    }

    fn halted(rollback: bool) -> Event {
        Event::Halted {
            ring: "a".into(),
            halt: crate::rollout::event::Halt {
                gate: None,
                value: None,
                threshold: None,
                reason: "breach".into(),
                at: "2026-11-22T10:00:00Z".into(),
                rollback,
            },
        }
    }

    fn delivering() -> Event {
        Event::Delivering {
            ring: "a".into(),
            revision: "0123456789abcdef".into(),
            previous: None,
        }
    }

    #[test]
    fn a_running_rollout_is_superseded_only_when_asked() {
        let entries = journal(&[("r-1", vec![started()])]);
        assert_eq!(
            superseded_by_start(&entries, false).map_err(|e| e.to_string()),
            Err("r-1 (revision 0123456789) is still running; drive it to the end (`ringmaster rollout run r-1`), halt it, or pass --supersede to abandon it".into())
        );
        assert_eq!(superseded_by_start(&entries, true), Ok(vec!["r-1".into()]));
    }

    #[test]
    fn a_halted_rollout_is_abandoned_quietly_and_finished_ones_are_left_alone() {
        let entries = journal(&[
            ("r-1", vec![started(), delivering(), halted(false)]),
            (
                "r-2",
                vec![started(), Event::Abandoned { reason: "x".into() }],
            ),
        ]);
        assert_eq!(superseded_by_start(&entries, false), Ok(vec!["r-1".into()]));
    }

    #[test]
    fn nothing_supersedes_a_rollout_whose_rollback_is_unfinished() {
        let entries = journal(&[("r-1", vec![started(), delivering(), halted(true)])]);
        for supersede in [false, true] {
            assert_eq!(
                superseded_by_start(&entries, supersede),
                Err(StartRefused::RollingBack {
                    older: "r-1".into(),
                    ring: "a".into()
                })
            );
        }
    }

    fn state_of(id: &str, entries: &[Entry]) -> RolloutState {
        replay(entries, id).expect("replays")
    }

    fn soaking() -> Event {
        Event::Delivered { ring: "a".into() }
    }

    #[test]
    fn the_next_rollout_id_is_one_above_the_highest_used_that_day() {
        let used: Vec<String> = ["r-20261122-0001", "r-20261122-0007", "r-20261121-0042", "x"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(next_rollout_id(&used, "20261122"), "r-20261122-0008");
        // Another day's numbers do not count; the first of a day is 0001.
        assert_eq!(next_rollout_id(&used, "20261123"), "r-20261123-0001");
        assert_eq!(next_rollout_id(&Vec::new(), "20261123"), "r-20261123-0001");
    }

    #[test]
    fn a_command_without_an_id_means_the_latest_rollout_and_an_unknown_id_is_refused() {
        let entries = journal(&[("r-1", vec![started()]), ("r-2", vec![started()])]);
        assert_eq!(resolve_rollout(&entries, None), Ok("r-2".into()));
        assert_eq!(resolve_rollout(&entries, Some("r-1")), Ok("r-1".into()));
        assert_eq!(
            resolve_rollout(&entries, Some("r-9")).map_err(|e| e.to_string()),
            Err("no rollout `r-9` in the journal".into())
        );
        // A repo-wide entry (a freeze) is not a rollout.
        let only_frozen = journal(&[("", vec![Event::Frozen { reason: "x".into() }])]);
        assert_eq!(
            resolve_rollout(&only_frozen, None).map_err(|e| e.to_string()),
            Err("no rollout has been started here; `ringmaster rollout start` opens one".into())
        );
    }

    #[test]
    fn a_halt_stops_the_ring_in_progress_and_is_refused_without_one() {
        let entries = journal(&[("r-1", vec![started(), delivering()])]);
        let state = state_of("r-1", &entries);
        assert_eq!(ring_to_halt(&state).map(|r| r.name.as_str()), Ok("a"));
        let entries = journal(&[("r-1", vec![started(), delivering(), soaking()])]);
        assert_eq!(
            ring_to_halt(&state_of("r-1", &entries)).map(|r| r.name.as_str()),
            Ok("a")
        );
        // Not started yet (pending) or already halted: nothing in progress.
        for events in [
            vec![started()],
            vec![started(), delivering(), halted(false)],
        ] {
            let entries = journal(&[("r-1", events)]);
            assert_eq!(
                ring_to_halt(&state_of("r-1", &entries)).map_err(|e| e.to_string()),
                Err("r-1 has no ring in progress to halt".into())
            );
        }
    }

    #[test]
    fn a_rollback_acts_on_the_named_ring_or_the_last_delivered_one() {
        let entries = journal(&[("r-1", vec![started(), delivering(), soaking()])]);
        let state = state_of("r-1", &entries);
        assert_eq!(
            ring_to_roll_back(&state, None).map(|r| r.name.as_str()),
            Ok("a")
        );
        assert_eq!(
            ring_to_roll_back(&state, Some("a")).map(|r| r.name.as_str()),
            Ok("a")
        );
        assert_eq!(
            ring_to_roll_back(&state, Some("b")).map_err(|e| e.to_string()),
            Err("r-1 has no ring `b`".into())
        );
        // Nothing delivered yet: nothing to roll back unless named.
        let entries = journal(&[("r-1", vec![started()])]);
        assert_eq!(
            ring_to_roll_back(&state_of("r-1", &entries), None).map_err(|e| e.to_string()),
            Err("r-1 has delivered no ring to roll back".into())
        );
    }

    #[test]
    fn a_resume_starts_the_halted_ring_but_not_one_still_rolling_back() {
        let entries = journal(&[("r-1", vec![started(), delivering(), halted(false)])]);
        assert_eq!(
            ring_to_resume(&state_of("r-1", &entries)).map(|r| r.name.as_str()),
            Ok("a")
        );
        let entries = journal(&[("r-1", vec![started(), delivering(), halted(true)])]);
        assert_eq!(
            ring_to_resume(&state_of("r-1", &entries)).map_err(|e| e.to_string()),
            Err(
                "ring a is still rolling back; `ringmaster rollout run r-1` finishes it first"
                    .into()
            )
        );
        let entries = journal(&[("r-1", vec![started(), delivering()])]);
        assert_eq!(
            ring_to_resume(&state_of("r-1", &entries)).map_err(|e| e.to_string()),
            Err("r-1 is not halted".into())
        );
    }

    #[test]
    fn a_rollback_is_refused_once_a_later_rollout_moved_the_ring() {
        let later = Event::Delivering {
            ring: "a".into(),
            revision: "fedcba9876543210".into(),
            previous: Some("0123456789abcdef".into()),
        };
        let entries = journal(&[
            ("r-1", vec![started(), delivering(), soaking()]),
            ("r-2", vec![started(), later]),
        ]);
        let state = state_of("r-1", &entries);
        // Still holding this rollout's revision: allowed.
        assert_eq!(
            refuse_if_moved_since(&state, "a", Some("0123456789abcdef"), &entries),
            Ok(())
        );
        assert_eq!(
            refuse_if_moved_since(&state, "a", Some("fedcba9876543210"), &entries)
                .map_err(|e| e.to_string()),
            Err("ring a no longer holds r-1's revision 0123456789: it holds fedcba9876 (delivered by r-2); roll back the rollout that delivered it instead".into())
        );
        // Emptied behind its back, and no later rollout delivered to it.
        let alone = journal(&[("r-1", vec![started(), delivering(), soaking()])]);
        assert_eq!(
            refuse_if_moved_since(&state, "a", None, &alone).map_err(|e| e.to_string()),
            Err("ring a no longer holds r-1's revision 0123456789: it holds nothing; roll back the rollout that delivered it instead".into())
        );
    }

    #[test]
    fn an_emergency_rollback_takes_a_finished_rollout_s_rings_widest_first() {
        let mut state = RolloutState::start(
            "r-1",
            &Event::Started {
                revision: "abc".into(),
                author: "dev".into(),
                rings: vec!["a".into(), "b".into(), "c".into()],
            },
        )
        .expect("starts");
        let names = |s: &RolloutState| {
            rings_to_roll_back_after_completion(s)
                .map(|rings| rings.iter().map(|r| r.name.clone()).collect::<Vec<_>>())
        };
        for ring in ["a", "b", "c"] {
            assert_eq!(names(&state), None, "not finished yet");
            for event in [
                Event::Delivering {
                    ring: ring.into(),
                    revision: "abc".into(),
                    previous: Some("old".into()),
                },
                Event::Delivered { ring: ring.into() },
                Event::Promoted { ring: ring.into() },
            ] {
                state.apply(&event).expect("applies");
            }
        }
        state.apply(&Event::Completed).expect("completes");
        assert_eq!(names(&state).unwrap(), ["c", "b", "a"]);
        // Partly rolled back since: the rest, still widest first.
        state
            .apply(&Event::RollingBack { ring: "c".into() })
            .expect("rolls back");
        assert_eq!(names(&state), None, "not while c is mid-rollback");
        state
            .apply(&Event::RolledBack { ring: "c".into() })
            .expect("rolled back");
        assert_eq!(names(&state).unwrap(), ["b", "a"]);
    }

    #[test]
    fn an_unfreeze_needs_a_freeze_in_force() {
        let frozen = journal(&[("", vec![Event::Frozen { reason: "x".into() }])]);
        assert_eq!(may_unfreeze(&frozen), Ok(()));
        let lifted = journal(&[(
            "",
            vec![Event::Frozen { reason: "x".into() }, Event::Unfrozen],
        )]);
        assert_eq!(
            may_unfreeze(&lifted).map_err(|e| e.to_string()),
            Err("the line is not frozen".into())
        );
        assert_eq!(may_unfreeze(&[]), Err(Refused::NotFrozen));
    }

    fn finding(severity: Severity, line: u32, message: &str) -> Diagnostic {
        let mut d = Diagnostic::new(
            crate::diag::Rule::Schema,
            "hosts/web.yaml",
            crate::diag::Pos::new(line, 3),
            message,
        );
        d.severity = severity;
        d
    }

    #[test]
    fn a_revision_that_fails_check_never_starts_and_the_refusal_shows_the_first_error() {
        let revision = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(refuse_failing_check("HEAD", revision, &[]), Ok(()));
        let warning = finding(Severity::Warning, 1, "only a warning");
        assert_eq!(
            refuse_failing_check("HEAD", revision, std::slice::from_ref(&warning)),
            Ok(())
        );
        let refused = refuse_failing_check(
            "HEAD",
            revision,
            &[warning.clone(), finding(Severity::Error, 4, "bad")],
        );
        assert_eq!(
            refused.map_err(|e| e.to_string()),
            Err("revision HEAD (0123456789) fails check with 1 error; first: hosts/web.yaml:4:3: bad; see `ringmaster check --head HEAD`".into())
        );
        let two = [
            finding(Severity::Error, 2, "first"),
            warning,
            finding(Severity::Error, 9, "second"),
        ];
        assert_eq!(
            refuse_failing_check("main", revision, &two).map_err(|e| e.to_string()),
            Err("revision main (0123456789) fails check with 2 errors; first: hosts/web.yaml:2:3: first; see `ringmaster check --head main`".into())
        );
    }

    #[test]
    fn a_manifest_without_rings_never_starts() {
        assert_eq!(refuse_without_rings("HEAD", &[ring("a", &[])]), Ok(()));
        assert_eq!(
            refuse_without_rings("HEAD", &[]).map_err(|e| e.to_string()),
            Err("ringmaster.yaml at HEAD defines no rings: add `rings: rings/` and ring files (`ringmaster init` has defaults)".into())
        );
    }
}
