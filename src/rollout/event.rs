//! The journal's events (SPEC §6): every fact a rollout or a person records,
//! typed, and serialised exactly as the release that first wrote them did
//! (the journal hashes those bytes; tests/data/journal-compat pins them).
//!
//! Field order is part of the format: `serde_json` keeps it
//! (`preserve_order`), and the hash chain covers it.

use serde::{Deserialize, Serialize};

use crate::rollout::gates;

/// RFC 3339 in UTC to the second: what the journal, status and timelines show.
pub fn rfc3339(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// What the journal keeps of a gate's [`gates::Verdict`]: its kind. The
/// value, threshold and reason are fields of their own beside it in
/// [`Event::Evaluated`], in the order the journal has always had them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Healthy,
    Breach,
    Inconclusive,
    /// The gate's traffic was below its `min_traffic` floor: the round
    /// counts neither as healthy nor as inconclusive.
    Idle,
    /// A compare gate with too few samples yet (counts neither way).
    Pending,
}

impl From<&gates::Verdict> for Verdict {
    fn from(verdict: &gates::Verdict) -> Verdict {
        match verdict {
            gates::Verdict::Healthy { .. } => Verdict::Healthy,
            gates::Verdict::Breach { .. } => Verdict::Breach,
            gates::Verdict::Inconclusive { .. } => Verdict::Inconclusive,
            gates::Verdict::Idle { .. } => Verdict::Idle,
            gates::Verdict::Pending { .. } => Verdict::Pending,
        }
    }
}

impl Event {
    /// The `kind` tag the event is journaled with.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Started { .. } => "started",
            Event::AwaitingApproval { .. } => "awaiting-approval",
            Event::Approved { .. } => "approved",
            Event::Delivering { .. } => "delivering",
            Event::Delivered { .. } => "delivered",
            Event::Promoted { .. } => "promoted",
            Event::Halted { .. } => "halted",
            Event::RollingBack { .. } => "rolling-back",
            Event::RolledBack { .. } => "rolled-back",
            Event::Resumed { .. } => "resumed",
            Event::Evaluated { .. } => "evaluated",
            Event::Completed => "completed",
            Event::Abandoned { .. } => "abandoned",
            Event::Frozen { .. } => "frozen",
            Event::Unfrozen => "unfrozen",
            Event::Notified { .. } => "notified",
            Event::Converging { .. } => "converging",
            Event::Converged { .. } => "converged",
            Event::Impact { .. } => "impact",
        }
    }
}

/// Why a ring halted: a gate's breach, or a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Halt {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    pub reason: String,
    pub at: String,
    /// The halt carries its rollback: journaled in the same entry, so a
    /// driver killed right after the halt still restores the ring.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rollback: bool,
}

/// One journaled fact. Serialized with a `kind` tag into the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Event {
    Started {
        revision: String,
        author: String,
        rings: Vec<String>,
    },
    AwaitingApproval {
        ring: String,
    },
    Approved {
        ring: String,
        by: String,
    },
    /// Intent: the ring's target is about to move from `previous` to `revision`.
    Delivering {
        ring: String,
        revision: String,
        previous: Option<String>,
    },
    /// Effect: the target now holds `revision`; the soak begins.
    Delivered {
        ring: String,
    },
    Promoted {
        ring: String,
    },
    Halted {
        ring: String,
        halt: Halt,
    },
    /// Intent: the ring's target is about to go back to its previous revision.
    RollingBack {
        ring: String,
    },
    RolledBack {
        ring: String,
    },
    Resumed {
        ring: String,
    },
    /// One gate evaluation while the ring soaks; changes no state.
    Evaluated {
        ring: String,
        gate: String,
        /// Evaluation rounds number from 1 per soak; a crash mid-round leaves
        /// a partial round, which never counts as healthy.
        round: u64,
        verdict: Verdict,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        threshold: Option<f64>,
        /// `false` for a shadow gate.
        enforce: bool,
        /// Why an inconclusive evaluation has no verdict (the source's own
        /// words); absent otherwise, and in journals written before it existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// An idle evaluation's traffic and the gate's `min_traffic` floor
        /// it was below; absent otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        traffic: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        floor: Option<f64>,
        /// A compare gate's baseline median (`value` is the ring's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        baseline: Option<f64>,
        /// A compare gate's one-sided Mann–Whitney p-value that the ring is worse.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        p_value: Option<f64>,
    },
    Completed,
    Abandoned {
        reason: String,
    },
    /// Repo-wide (journaled with an empty rollout id): no ring starts until
    /// [`Event::Unfrozen`]. Never part of one rollout's events.
    Frozen {
        /// Absent only in journals edited by hand; read as "".
        #[serde(default)]
        reason: String,
    },
    Unfrozen,
    /// One attempt to tell a `notify:` webhook about an event; changes no
    /// state. Names the webhook, never its URL or headers.
    Notified {
        webhook: String,
        /// The notification's event (`halted`, `complete`, …).
        event: String,
        /// The ring the event was about, when it was about one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ring: Option<String>,
        attempt: u32,
        ok: bool,
        /// The HTTP status the webhook answered, when it answered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        /// Why the attempt failed, when no status says it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A convergence check after a delivery that is still below the ring's
    /// `converged` floor: the fraction of its hosts reporting the delivered
    /// revision (absent: no number, `reason` says why). Changes no state.
    Converging {
        ring: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<f64>,
        min: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The convergence check that reached the floor: the soak clock starts.
    Converged {
        ring: String,
        value: f64,
        min: f64,
    },
    /// After a halt by `gate`'s breach: when its metric crossed the threshold
    /// and stayed across until the halt, read from the metric's history
    /// (`rollout::onset`); changes no state. Journaled so a timeline is
    /// rebuilt from the journal alone.
    Impact {
        ring: String,
        gate: String,
        /// RFC 3339; absent when the onset is unknown.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        began: Option<String>,
        /// Already across at the start of the range read: it began at
        /// `began` or before.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        before_range: bool,
        /// The range read and its step, when one was read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step_s: Option<u64>,
        /// Why the onset is unknown.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unknown: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(json: serde_json::Value) -> Event {
        let event: Event = serde_json::from_value(json.clone()).expect("an event");
        assert_eq!(
            serde_json::to_string(&event).expect("serialises"),
            json.to_string()
        );
        assert_eq!(json["kind"], event.kind());
        event
    }

    #[test]
    fn every_event_keeps_its_journal_form_and_kind() {
        let halt = json!({"gate": "errors", "value": 2.0, "threshold": 1.0, "reason": "gate `errors` breached", "at": "2026-11-22T10:00:00Z", "rollback": true});
        for json in [
            json!({"kind": "started", "revision": "abc", "author": "dev@example.com", "rings": ["a", "b"]}),
            json!({"kind": "awaiting-approval", "ring": "a"}),
            json!({"kind": "approved", "ring": "a", "by": "rm"}),
            json!({"kind": "delivering", "ring": "a", "revision": "abc", "previous": null}),
            json!({"kind": "delivered", "ring": "a"}),
            json!({"kind": "promoted", "ring": "a"}),
            json!({"kind": "halted", "ring": "a", "halt": halt}),
            json!({"kind": "rolling-back", "ring": "a"}),
            json!({"kind": "rolled-back", "ring": "a"}),
            json!({"kind": "resumed", "ring": "a"}),
            json!({"kind": "evaluated", "ring": "a", "gate": "errors", "round": 3, "verdict": "breach", "value": 2.0, "threshold": 1.0, "enforce": true}),
            json!({"kind": "evaluated", "ring": "a", "gate": "vs", "round": 4, "verdict": "breach", "value": 2.0, "threshold": 1.2, "enforce": true, "baseline": 1.0, "p_value": 0.001}),
            json!({"kind": "evaluated", "ring": "a", "gate": "vs", "round": 1, "verdict": "pending", "enforce": true, "reason": "2 ring and 2 baseline samples so far; the gate judges from 10 each"}),
            json!({"kind": "completed"}),
            json!({"kind": "abandoned", "reason": "superseded"}),
            json!({"kind": "frozen", "reason": "quarterly close"}),
            json!({"kind": "unfrozen"}),
            json!({"kind": "notified", "webhook": "team", "event": "halted", "ring": "a", "attempt": 1, "ok": true, "status": 200}),
            json!({"kind": "notified", "webhook": "team", "event": "frozen", "attempt": 2, "ok": false, "error": "timed out"}),
            json!({"kind": "evaluated", "ring": "a", "gate": "errors", "round": 2, "verdict": "idle", "value": 0.5, "threshold": 0.01, "enforce": true, "traffic": 0.2, "floor": 1.0}),
            json!({"kind": "converging", "ring": "a", "value": 0.25, "min": 0.95}),
            json!({"kind": "converging", "ring": "a", "min": 0.95, "reason": "no data"}),
            json!({"kind": "converged", "ring": "a", "value": 1.0, "min": 0.95}),
            json!({"kind": "impact", "ring": "a", "gate": "errors", "began": "2026-11-22T09:58:31Z", "from": "2026-11-22T09:55:00Z", "to": "2026-11-22T10:00:01Z", "step_s": 1}),
            json!({"kind": "impact", "ring": "a", "gate": "errors", "unknown": "the range query failed: timeout"}),
        ] {
            round_trip(json);
        }
    }

    #[test]
    fn an_inconclusive_evaluation_keeps_its_reason_after_enforce() {
        let event = round_trip(
            json!({"kind": "evaluated", "ring": "a", "gate": "errors", "round": 1, "verdict": "inconclusive", "enforce": false, "reason": "no data"}),
        );
        assert!(matches!(
            event,
            Event::Evaluated {
                verdict: Verdict::Inconclusive,
                enforce: false,
                ..
            }
        ));
    }

    #[test]
    fn a_verdict_the_journal_never_had_is_not_an_event() {
        let bad = json!({"kind": "evaluated", "ring": "a", "gate": "g", "round": 1, "verdict": "fine", "enforce": true});
        assert!(serde_json::from_value::<Event>(bad).is_err());
    }

    #[test]
    fn a_freeze_without_a_reason_reads_as_an_empty_one() {
        let event: Event = serde_json::from_value(json!({"kind": "frozen"})).expect("an event");
        assert_eq!(
            event,
            Event::Frozen {
                reason: String::new()
            }
        );
    }

    #[test]
    fn the_journal_verdict_is_the_gate_verdict_s_kind() {
        let cases = [
            (
                gates::Verdict::Healthy {
                    value: 1.0,
                    threshold: 2.0,
                },
                Verdict::Healthy,
            ),
            (
                gates::Verdict::Breach {
                    value: 3.0,
                    threshold: 2.0,
                },
                Verdict::Breach,
            ),
            (
                gates::Verdict::Inconclusive {
                    reason: "down".into(),
                },
                Verdict::Inconclusive,
            ),
        ];
        for (gate, journal) in cases {
            assert_eq!(Verdict::from(&gate), journal);
            assert_eq!(
                serde_json::to_value(journal).expect("serialises"),
                gate.as_str()
            );
        }
    }
}
