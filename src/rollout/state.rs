//! Rollout state as a pure fold over journal events (SPEC §6).
//!
//! Nothing else holds rollout state: the driver appends an [`Event`] to the
//! journal *before* acting on it, and anyone (status, timeline, a driver
//! restarted after a crash) replays the journal through [`RolloutState::apply`]
//! to learn where things stand. `apply` refuses transitions SPEC §6 does not
//! allow, so a corrupt or hand-edited journal is caught on replay instead of
//! driving a ring into a state it cannot be in.
//!
//! This module decides nothing and performs nothing: no clock, no I/O.

use serde::{Deserialize, Serialize};

pub use crate::rollout::event::{Event, Halt};
use crate::rollout::journal::Entry;

/// A ring's place in a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RingPhase {
    Pending,
    AwaitingApproval,
    Delivering,
    Soaking,
    Promoted,
    Halted,
    RolledBack,
}

/// The rollout as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RolloutPhase {
    Running,
    Halted,
    Complete,
    Abandoned,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RingState {
    pub name: String,
    pub state: RingPhase,
    /// The revision this rollout delivers to the ring, once delivery began.
    pub revision: Option<String>,
    /// What the ring held before: what a rollback restores.
    pub previous: Option<String>,
    pub approved_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub halt: Option<Halt>,
    /// The revision the ring holds now, as far as this rollout knows: its
    /// revision once delivered, the previous one once rolled back (`status`
    /// asks the delivery target). `null` when unknown or nothing.
    #[serde(default)]
    pub current: Option<String>,
    /// A rollback was journaled but not yet confirmed delivered: a driver
    /// restarted after a crash finishes it.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub rolling_back: bool,
    /// What held the ring's soak clock (convergence, idle rounds): filled
    /// in from the journal by `status`, never by the fold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak_clock: Option<crate::rollout::soakclock::SoakClockStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutState {
    pub id: String,
    pub revision: String,
    pub author: String,
    pub state: RolloutPhase,
    pub rings: Vec<RingState>,
}

/// An event the current state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{event} is not allowed while {context}")]
pub struct IllegalTransition {
    pub event: String,
    pub context: String,
}

fn illegal(event: &Event, context: impl Into<String>) -> IllegalTransition {
    IllegalTransition {
        event: format!("`{}`", event.kind()),
        context: context.into(),
    }
}

impl RolloutState {
    /// The state after a `started` event.
    pub fn start(id: &str, event: &Event) -> Result<RolloutState, IllegalTransition> {
        let Event::Started {
            revision,
            author,
            rings,
        } = event
        else {
            return Err(illegal(event, "no rollout has started"));
        };
        Ok(RolloutState {
            id: id.to_owned(),
            revision: revision.clone(),
            author: author.clone(),
            state: RolloutPhase::Running,
            rings: rings
                .iter()
                .map(|name| RingState {
                    name: name.clone(),
                    state: RingPhase::Pending,
                    revision: None,
                    previous: None,
                    approved_by: None,
                    halt: None,
                    current: None,
                    rolling_back: false,
                    soak_clock: None,
                })
                .collect(),
        })
    }

    /// Replays a rollout's events, first to last.
    pub fn replay<'a>(
        id: &str,
        events: impl IntoIterator<Item = &'a Event>,
    ) -> Result<Option<RolloutState>, IllegalTransition> {
        let mut state: Option<RolloutState> = None;
        for event in events {
            state = Some(match state {
                None => RolloutState::start(id, event)?,
                Some(mut s) => {
                    s.apply(event)?;
                    s
                }
            });
        }
        Ok(state)
    }

    /// The next ring not yet promoted, in order.
    pub fn current_ring(&self) -> Option<&RingState> {
        self.rings.iter().find(|r| r.state != RingPhase::Promoted)
    }

    fn ring_mut(&mut self, name: &str, event: &Event) -> Result<usize, IllegalTransition> {
        let index = self
            .rings
            .iter()
            .position(|r| r.name == name)
            .ok_or_else(|| illegal(event, format!("the rollout has no ring `{name}`")))?;
        Ok(index)
    }

    /// Applies one event, or says why it cannot happen now.
    pub fn apply(&mut self, event: &Event) -> Result<(), IllegalTransition> {
        use RingPhase as P;
        // A completed rollout's ring may still be rolled back (the most
        // common emergency action after a release): the rollout is halted
        // again with that ring restoring its previous revision.
        let rolls_back_a_finished_ring = self.state == RolloutPhase::Complete
            && matches!(event, Event::RollingBack { ring }
                if self.rings.iter().any(|r| r.name == *ring && r.state == P::Promoted && r.revision.is_some()));
        // A webhook's answer is a fact about the message, not the rollout:
        // it may come after the rollout completed or was abandoned.
        if matches!(event, Event::Notified { .. }) {
            return Ok(());
        }
        if rolls_back_a_finished_ring {
            self.state = RolloutPhase::Halted;
        }
        if matches!(self.state, RolloutPhase::Complete | RolloutPhase::Abandoned) {
            return Err(illegal(
                event,
                format!("the rollout is {:?}", self.state).to_lowercase(),
            ));
        }
        match event {
            Event::Started { .. } => return Err(illegal(event, "the rollout has already started")),
            Event::Completed => {
                if self.rings.iter().any(|r| r.state != P::Promoted) {
                    return Err(illegal(event, "a ring is not promoted yet"));
                }
                self.state = RolloutPhase::Complete;
            }
            Event::Abandoned { .. } => self.state = RolloutPhase::Abandoned,
            Event::Notified { .. } => {}
            Event::Frozen { .. } | Event::Unfrozen => {
                return Err(illegal(
                    event,
                    "inside a rollout: a freeze is journaled for the whole repo",
                ));
            }
            // Evidence about a halt, found after it: changes nothing.
            Event::Impact { ring, .. } => {
                self.ring_mut(ring, event)?;
            }
            Event::AwaitingApproval { ring }
            | Event::Approved { ring, .. }
            | Event::Delivering { ring, .. }
            | Event::Delivered { ring }
            | Event::Promoted { ring }
            | Event::Halted { ring, .. }
            | Event::RollingBack { ring }
            | Event::RolledBack { ring }
            | Event::Resumed { ring }
            | Event::Evaluated { ring, .. }
            | Event::Converging { ring, .. }
            | Event::Converged { ring, .. } => {
                let i = self.ring_mut(ring, event)?;
                let earlier_promoted = self.rings[..i].iter().all(|r| r.state == P::Promoted);
                let phase = self.rings[i].state;
                let running = self.state == RolloutPhase::Running;
                let next = match (event, phase) {
                    (Event::AwaitingApproval { .. }, P::Pending) if running && earlier_promoted => {
                        P::AwaitingApproval
                    }
                    (Event::Approved { by, .. }, P::AwaitingApproval) => {
                        self.rings[i].approved_by = Some(by.clone());
                        P::AwaitingApproval
                    }
                    (
                        Event::Delivering {
                            revision, previous, ..
                        },
                        P::Pending | P::AwaitingApproval,
                    ) if running && earlier_promoted => {
                        if phase == P::AwaitingApproval && self.rings[i].approved_by.is_none() {
                            return Err(illegal(event, format!("ring `{ring}` awaits approval")));
                        }
                        self.rings[i].revision = Some(revision.clone());
                        self.rings[i].previous = previous.clone();
                        P::Delivering
                    }
                    // A crash between intent and effect re-journals the intent.
                    (Event::Delivering { revision, .. }, P::Delivering)
                        if self.rings[i].revision.as_ref() == Some(revision) =>
                    {
                        P::Delivering
                    }
                    (Event::Delivered { .. }, P::Delivering) => {
                        self.rings[i].current = self.rings[i].revision.clone();
                        P::Soaking
                    }
                    (Event::Evaluated { .. }, P::Soaking) => P::Soaking,
                    (Event::Converging { .. } | Event::Converged { .. }, P::Soaking) => P::Soaking,
                    (Event::Promoted { .. }, P::Soaking) if running => P::Promoted,
                    (
                        Event::Halted { halt, .. },
                        P::Delivering | P::Soaking | P::AwaitingApproval,
                    ) => {
                        self.rings[i].halt = Some(halt.clone());
                        self.rings[i].rolling_back = halt.rollback;
                        self.state = RolloutPhase::Halted;
                        P::Halted
                    }
                    (
                        Event::RollingBack { .. },
                        P::Halted | P::Soaking | P::Delivering | P::Promoted,
                    ) => {
                        self.state = RolloutPhase::Halted;
                        self.rings[i].rolling_back = true;
                        P::Halted
                    }
                    (Event::RolledBack { .. }, P::Halted) => {
                        self.rings[i].rolling_back = false;
                        self.rings[i].current = self.rings[i].previous.clone();
                        P::RolledBack
                    }
                    (Event::Resumed { .. }, P::Halted | P::RolledBack) => {
                        self.rings[i].halt = None;
                        self.state = RolloutPhase::Running;
                        // A resumed ring starts again: approval, delivery, a fresh soak.
                        self.rings[i].approved_by = None;
                        P::Pending
                    }
                    _ => {
                        let why = if !earlier_promoted {
                            format!("an earlier ring than `{ring}` is not promoted")
                        } else if !running {
                            "the rollout is halted".to_string()
                        } else {
                            format!(
                                "ring `{ring}` is {}",
                                serde_json::to_value(phase)
                                    .ok()
                                    .and_then(|v| v.as_str().map(str::to_owned))
                                    .unwrap_or_default()
                            )
                        };
                        return Err(illegal(event, why));
                    }
                };
                self.rings[i].state = next;
            }
        }
        Ok(())
    }
}

/// The rollout ids in the journal, in the order they started.
pub fn rollout_ids(entries: &[Entry]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for e in entries {
        if !e.body.rollout.is_empty() && !ids.contains(&e.body.rollout) {
            ids.push(e.body.rollout.clone());
        }
    }
    ids
}

/// The repo-wide freeze, from the journal: `Some(reason)` while frozen.
pub fn frozen(entries: &[Entry]) -> Option<String> {
    let mut reason = None;
    for e in entries.iter().filter(|e| e.body.rollout.is_empty()) {
        // Other repo-wide entries (none today) are not a freeze's business.
        match serde_json::from_value::<Event>(e.body.event.clone()) {
            Ok(Event::Frozen { reason: why }) => reason = Some(why),
            Ok(Event::Unfrozen) => reason = None,
            _ => {}
        }
    }
    reason
}

/// Replays one rollout from the journal.
pub fn replay(entries: &[Entry], id: &str) -> anyhow::Result<RolloutState> {
    let events: Vec<Event> = entries
        .iter()
        .filter(|e| e.body.rollout == id)
        .map(|e| {
            serde_json::from_value(e.body.event.clone()).map_err(|err| {
                anyhow::anyhow!("journal entry {} is not a rollout event: {err}", e.body.seq)
            })
        })
        .collect::<anyhow::Result<_>>()?;
    RolloutState::replay(id, &events)
        .map_err(|e| {
            anyhow::anyhow!(
                "the journal of {id} does not replay: {e}; run `ringmaster audit verify`"
            )
        })?
        .ok_or_else(|| anyhow::anyhow!("no rollout `{id}` in the journal"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freeze_is_never_one_rollout_s_event() {
        let mut s = started();
        for event in [
            Event::Frozen {
                reason: "close".into(),
            },
            Event::Unfrozen,
        ] {
            let err = s.apply(&event).expect_err("refused");
            assert_eq!(err.event, format!("`{}`", event.kind()));
        }
        assert_eq!(s, started());
    }

    fn started() -> RolloutState {
        RolloutState::start(
            "r-1",
            &Event::Started {
                revision: "abc".into(),
                author: "dev@example.com".into(),
                rings: vec!["dogfood".into(), "single".into(), "multi".into()],
            },
        )
        .unwrap()
    }

    fn deliver(ring: &str) -> Event {
        Event::Delivering {
            ring: ring.into(),
            revision: "abc".into(),
            previous: Some("old".into()),
        }
    }

    fn delivered(ring: &str) -> Event {
        Event::Delivered { ring: ring.into() }
    }

    fn promoted(ring: &str) -> Event {
        Event::Promoted { ring: ring.into() }
    }

    fn halt(ring: &str) -> Event {
        Event::Halted {
            ring: ring.into(),
            halt: Halt {
                gate: Some("error-ratio".into()),
                value: Some(0.094),
                threshold: Some(0.01),
                reason: "breach".into(),
                at: "2026-11-22T10:04:31Z".into(),
                rollback: false,
            },
        }
    }

    fn phases(s: &RolloutState) -> Vec<RingPhase> {
        s.rings.iter().map(|r| r.state).collect()
    }

    #[test]
    fn a_clean_rollout_goes_ring_by_ring_to_complete() {
        let mut s = started();
        for ring in ["dogfood", "single", "multi"] {
            s.apply(&deliver(ring)).unwrap();
            assert_eq!(s.current_ring().unwrap().state, RingPhase::Delivering);
            s.apply(&delivered(ring)).unwrap();
            s.apply(&promoted(ring)).unwrap();
        }
        s.apply(&Event::Completed).unwrap();
        assert_eq!(s.state, RolloutPhase::Complete);
        assert_eq!(s.rings[2].previous.as_deref(), Some("old"));
        assert!(
            s.apply(&deliver("dogfood")).is_err(),
            "nothing happens after completion"
        );
    }

    #[test]
    fn a_completed_rollouts_promoted_ring_can_be_rolled_back_and_nothing_else_happens() {
        let mut s = started();
        for ring in ["dogfood", "single", "multi"] {
            s.apply(&deliver(ring)).unwrap();
            s.apply(&delivered(ring)).unwrap();
            s.apply(&promoted(ring)).unwrap();
        }
        s.apply(&Event::Completed).unwrap();
        assert!(
            s.apply(&halt("single")).is_err(),
            "no halt after completion"
        );
        assert!(
            s.apply(&Event::RollingBack {
                ring: "nope".into()
            })
            .is_err(),
            "an unknown ring stays illegal"
        );
        assert_eq!(s.state, RolloutPhase::Complete);
        s.apply(&Event::RollingBack {
            ring: "single".into(),
        })
        .unwrap();
        assert_eq!(s.state, RolloutPhase::Halted);
        assert!(s.rings[1].rolling_back);
        s.apply(&Event::RolledBack {
            ring: "single".into(),
        })
        .unwrap();
        assert_eq!(phases(&s)[1], RingPhase::RolledBack);
        assert_eq!(s.rings[1].current.as_deref(), Some("old"));
        assert_eq!(s.rings[2].current.as_deref(), Some("abc"));
    }

    #[test]
    fn rings_go_in_order() {
        let mut s = started();
        let err = s.apply(&deliver("single")).unwrap_err();
        assert!(err.to_string().contains("earlier ring"), "{err}");
        assert!(s.apply(&Event::Completed).is_err());
        assert!(s.apply(&promoted("dogfood")).is_err(), "not soaking yet");
        assert!(
            s.apply(&deliver("nope"))
                .unwrap_err()
                .to_string()
                .contains("no ring `nope`")
        );
    }

    #[test]
    fn approval_gates_delivery() {
        let mut s = started();
        s.apply(&Event::AwaitingApproval {
            ring: "dogfood".into(),
        })
        .unwrap();
        let err = s.apply(&deliver("dogfood")).unwrap_err();
        assert!(err.to_string().contains("awaits approval"), "{err}");
        s.apply(&Event::Approved {
            ring: "dogfood".into(),
            by: "rm@example.com".into(),
        })
        .unwrap();
        s.apply(&deliver("dogfood")).unwrap();
        assert_eq!(s.rings[0].approved_by.as_deref(), Some("rm@example.com"));
    }

    #[test]
    fn a_breach_halts_and_rolls_back_then_resume_starts_the_ring_again() {
        let mut s = started();
        s.apply(&deliver("dogfood")).unwrap();
        s.apply(&delivered("dogfood")).unwrap();
        s.apply(&halt("dogfood")).unwrap();
        assert_eq!(s.state, RolloutPhase::Halted);
        assert!(
            s.apply(&promoted("dogfood")).is_err(),
            "no promotion while halted"
        );
        assert!(
            s.apply(&deliver("dogfood")).is_err(),
            "no delivery while halted"
        );
        s.apply(&Event::RollingBack {
            ring: "dogfood".into(),
        })
        .unwrap();
        s.apply(&Event::RolledBack {
            ring: "dogfood".into(),
        })
        .unwrap();
        assert_eq!(phases(&s)[0], RingPhase::RolledBack);
        assert_eq!(
            s.rings[0].halt.as_ref().unwrap().gate.as_deref(),
            Some("error-ratio")
        );
        s.apply(&Event::Resumed {
            ring: "dogfood".into(),
        })
        .unwrap();
        assert_eq!(s.state, RolloutPhase::Running);
        assert_eq!(
            phases(&s),
            [RingPhase::Pending, RingPhase::Pending, RingPhase::Pending]
        );
    }

    #[test]
    fn a_crash_between_intent_and_effect_can_re_journal_the_intent() {
        let mut s = started();
        s.apply(&deliver("dogfood")).unwrap();
        s.apply(&deliver("dogfood")).unwrap();
        let other = Event::Delivering {
            ring: "dogfood".into(),
            revision: "zzz".into(),
            previous: None,
        };
        assert!(
            s.apply(&other).is_err(),
            "a different revision mid-delivery is not a retry"
        );
    }

    #[test]
    fn replay_round_trips_through_the_journal_format() {
        let events = [
            Event::Started {
                revision: "abc".into(),
                author: "dev".into(),
                rings: vec!["dogfood".into()],
            },
            deliver("dogfood"),
            delivered("dogfood"),
            promoted("dogfood"),
            Event::Completed,
        ];
        let json: Vec<serde_json::Value> = events
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        assert_eq!(json[1]["kind"], "delivering");
        let back: Vec<Event> = json
            .into_iter()
            .map(|v| serde_json::from_value(v).unwrap())
            .collect();
        let state = RolloutState::replay("r-1", &back).unwrap().unwrap();
        assert_eq!(state.state, RolloutPhase::Complete);
        let status = serde_json::to_value(&state).unwrap();
        assert_eq!(status["rings"][0]["state"], "promoted");
        assert_eq!(status["rings"][0]["previous"], "old");
    }
}
