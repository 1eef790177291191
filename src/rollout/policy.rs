//! What people may do to rollouts: who may approve a ring (a listed
//! approver, never the author of the revision, SPEC §6) and which older
//! rollouts a new start abandons. Pure: the command loads the journal and
//! the ring files, this decides, the command journals the result.

use crate::rollout::event::Event;
use crate::rollout::journal::Entry;
use crate::rollout::rings::Ring;
use crate::rollout::state::{RingPhase, RolloutPhase, RolloutState, replay, rollout_ids};

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
}
