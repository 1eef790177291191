//! A rollout's timeline and debrief, from the journal: the entries a reader
//! of one rollout sees (its own and the repo-wide freezes), and how fast a
//! bad change was caught and undone. Renderers (markdown, JSON, HTML) live
//! in `report/`; this module only computes.

use serde::Serialize;

use crate::rollout::event::{Event, Verdict};
use crate::rollout::journal::Entry;

/// One journal entry as the timeline shows it. The event stays the JSON
/// that was journaled, so the timeline shows what the journal holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEvent {
    pub seq: u64,
    pub at: String,
    pub actor: String,
    pub event: serde_json::Value,
}

impl TimelineEvent {
    /// The `kind` tag ("" when the entry has none).
    pub fn kind(&self) -> &str {
        self.event
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or("")
    }

    fn typed(&self) -> Option<Event> {
        serde_json::from_value(self.event.clone()).ok()
    }

    fn at(&self) -> Option<jiff::Timestamp> {
        self.at.parse().ok()
    }
}

/// The entries of rollout `id`, and the repo-wide ones (freezes) between them.
pub fn events(entries: &[Entry], id: &str) -> Vec<TimelineEvent> {
    entries
        .iter()
        .filter(|e| e.body.rollout == id || e.body.rollout.is_empty())
        .map(|e| TimelineEvent {
            seq: e.body.seq,
            at: e.body.at.clone(),
            actor: e.body.actor.clone(),
            event: e.body.event.clone(),
        })
        .collect()
}

/// A run of identical healthy evaluations (same ring, gate, enforcement
/// and threshold, with nothing else journaled between them but the other
/// gates' healthy evaluations of the same rounds), folded into one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Fold {
    pub ring: String,
    pub gate: String,
    pub enforce: bool,
    pub threshold: Option<f64>,
    pub count: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub first_at: String,
    pub last_at: String,
    pub first_round: u64,
    pub last_round: u64,
    pub min: f64,
    pub max: f64,
    /// The actor of every entry, or `None` when they differ.
    pub actor: Option<String>,
}

/// A row of a folded timeline: an entry as it is, or a fold of many.
#[derive(Debug, Clone, PartialEq)]
pub enum Row<'a, T> {
    Entry(&'a T),
    Fold(Fold),
}

/// What [`fold_rows`] reads of an entry: seq, time, actor, event.
pub type EntryParts<'a> = (u64, &'a str, &'a str, &'a serde_json::Value);

/// The rows of a timeline with each run of healthy evaluations folded: a
/// one-hour soak at 30 s with two gates is two rows, not 240. Breaches,
/// inconclusive rounds and every other event stay rows of their own, in
/// order; a run of one stays the entry it is. (JSON keeps every entry.)
pub fn fold_rows<'a, T>(
    items: &'a [T],
    parts: impl Fn(&'a T) -> EntryParts<'a>,
) -> Vec<Row<'a, T>> {
    let mut rows = Vec::new();
    // The current block: its ring, and per gate key its entries' folds.
    let mut block: Vec<(Fold, &'a T)> = Vec::new();
    let flush = |block: &mut Vec<(Fold, &'a T)>, rows: &mut Vec<Row<'a, T>>| {
        for (fold, first) in block.drain(..) {
            rows.push(if fold.count == 1 {
                Row::Entry(first)
            } else {
                Row::Fold(fold)
            });
        }
    };
    for item in items {
        let (seq, at, actor, event) = parts(item);
        let healthy = (|| {
            (event.get("kind")?.as_str()? == "evaluated"
                && event.get("verdict")?.as_str()? == "healthy")
                .then_some(())?;
            Some((
                event.get("ring")?.as_str()?,
                event.get("gate")?.as_str()?,
                event.get("enforce")?.as_bool()?,
                event.get("threshold").and_then(serde_json::Value::as_f64),
                event.get("value")?.as_f64()?,
                event.get("round")?.as_u64()?,
            ))
        })();
        let Some((ring, gate, enforce, threshold, value, round)) = healthy else {
            flush(&mut block, &mut rows);
            rows.push(Row::Entry(item));
            continue;
        };
        if block.first().is_some_and(|(f, _)| f.ring != ring) {
            flush(&mut block, &mut rows);
        }
        let same = |f: &Fold| {
            f.gate == gate
                && f.enforce == enforce
                && f.threshold.map(f64::to_bits) == threshold.map(f64::to_bits)
        };
        match block.iter_mut().find(|(f, _)| same(f)) {
            Some((f, _)) => {
                f.count += 1;
                f.last_seq = seq;
                f.last_at = at.to_owned();
                f.last_round = round;
                f.min = f.min.min(value);
                f.max = f.max.max(value);
                if f.actor.as_deref() != Some(actor) {
                    f.actor = None;
                }
            }
            None => block.push((
                Fold {
                    ring: ring.to_owned(),
                    gate: gate.to_owned(),
                    enforce,
                    threshold,
                    count: 1,
                    first_seq: seq,
                    last_seq: seq,
                    first_at: at.to_owned(),
                    last_at: at.to_owned(),
                    first_round: round,
                    last_round: round,
                    min: value,
                    max: value,
                    actor: Some(actor.to_owned()),
                },
                item,
            )),
        }
    }
    flush(&mut block, &mut rows);
    rows
}

/// The goals the debrief figures are measured against, in minutes (every
/// renderer says "within" or "over" against these).
pub const DETECT_GOAL_MIN: i64 = 5;
pub const MITIGATE_GOAL_MIN: i64 = 60;

/// The debrief figures, in seconds; `None` when the rollout has no such span.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Debrief {
    /// Impact began → halt, when the metric's history said when it began
    /// (`impact`); else first breaching sample → halt.
    pub time_to_detect_s: Option<i64>,
    /// Halt → rollback delivered.
    pub time_to_mitigate_s: Option<i64>,
    /// The halted ring's last delivery before the halt → halt: how long bad
    /// config was live there.
    pub delivery_to_halt_s: Option<i64>,
    /// What the journal says about the first halt's impact onset, if the
    /// driver looked (only after a gate's breach).
    pub impact: Option<Impact>,
}

/// When the halted ring's breached metric crossed its threshold and stayed
/// across until the halt, as journaled (`impact`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Impact {
    pub gate: String,
    /// RFC 3339; `None` when unknown.
    pub began: Option<String>,
    /// Already across where the history read began: at `began` or earlier.
    pub before_range: bool,
    /// Why the onset is unknown (then time to detect counts from the first
    /// breaching evaluation).
    pub unknown: Option<String>,
}

impl Debrief {
    /// Time to detect counts from the impact's onset (not from the first
    /// breaching evaluation).
    pub fn detect_from_impact(&self) -> bool {
        self.impact.as_ref().is_some_and(|i| i.began.is_some())
    }

    /// What time to detect measures, for every renderer.
    pub fn detect_basis(&self) -> String {
        match &self.impact {
            Some(Impact {
                began: Some(_),
                before_range,
                ..
            }) => format!(
                "impact began{} → halt",
                if *before_range { " (or earlier)" } else { "" }
            ),
            Some(Impact {
                unknown: Some(why), ..
            }) => format!("first breaching sample → halt; impact onset unknown ({why})"),
            _ => "first breaching sample → halt".into(),
        }
    }
}

/// The debrief of a timeline: its first breaching evaluation, first halt and
/// first confirmed rollback.
pub fn debrief(events: &[TimelineEvent]) -> Debrief {
    let typed: Vec<(&TimelineEvent, Event)> = events
        .iter()
        .filter_map(|e| Some((e, e.typed()?)))
        .collect();
    let first_breach = typed
        .iter()
        .find(|(_, ev)| {
            matches!(
                ev,
                Event::Evaluated {
                    verdict: Verdict::Breach,
                    ..
                }
            )
        })
        .and_then(|(e, _)| e.at());
    let halted = typed
        .iter()
        .find(|(_, ev)| matches!(ev, Event::Halted { .. }));
    let halt = halted.and_then(|(e, _)| e.at());
    let rolled = typed
        .iter()
        .find(|(_, ev)| matches!(ev, Event::RolledBack { .. }))
        .and_then(|(e, _)| e.at());
    let delivered = halted.and_then(|(h, halted)| {
        let Event::Halted { ring: halted, .. } = halted else {
            return None;
        };
        typed
            .iter()
            .rfind(|(e, ev)| {
                e.seq < h.seq && matches!(ev, Event::Delivered { ring } if ring == halted)
            })
            .and_then(|(e, _)| e.at())
    });
    let secs = |a: Option<jiff::Timestamp>, b: Option<jiff::Timestamp>| match (a, b) {
        (Some(a), Some(b)) => Some(b.as_second() - a.as_second()),
        _ => None,
    };
    let impact = halted.and_then(|(h, halted)| {
        let Event::Halted { ring: halted, .. } = halted else {
            return None;
        };
        typed.iter().find_map(|(e, ev)| match ev {
            Event::Impact {
                ring,
                gate,
                began,
                before_range,
                unknown,
                ..
            } if e.seq > h.seq && ring == halted => Some(Impact {
                gate: gate.clone(),
                began: began.clone(),
                before_range: *before_range,
                unknown: unknown.clone(),
            }),
            _ => None,
        })
    });
    let began = impact
        .as_ref()
        .and_then(|i| i.began.as_deref())
        .and_then(|b| b.parse::<jiff::Timestamp>().ok());
    Debrief {
        time_to_detect_s: secs(began.or(first_breach), halt),
        time_to_mitigate_s: secs(halt, rolled),
        delivery_to_halt_s: secs(delivered, halt),
        impact,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(seq: u64, minute_second: &str, event: serde_json::Value) -> TimelineEvent {
        TimelineEvent {
            seq,
            at: format!("2026-11-22T10:{minute_second}Z"),
            actor: "ci".into(),
            event,
        }
    }

    fn evaluated(ring: &str, verdict: &str) -> serde_json::Value {
        json!({"kind": "evaluated", "ring": ring, "gate": "errors", "round": 1, "verdict": verdict, "value": 1.0, "threshold": 0.5, "enforce": true})
    }

    fn halted(ring: &str) -> serde_json::Value {
        json!({"kind": "halted", "ring": ring, "halt": {"gate": "errors", "reason": "breached", "at": "2026-11-22T10:00:00Z", "rollback": true}})
    }

    #[test]
    fn a_breach_halted_and_rolled_back_gives_every_figure() {
        let events = [
            at(1, "00:00", json!({"kind": "delivered", "ring": "a"})),
            at(2, "00:30", evaluated("a", "healthy")),
            at(3, "01:00", evaluated("a", "breach")),
            at(4, "01:05", halted("a")),
            at(5, "03:10", json!({"kind": "rolled-back", "ring": "a"})),
        ];
        assert_eq!(
            debrief(&events),
            Debrief {
                time_to_detect_s: Some(5),
                time_to_mitigate_s: Some(125),
                delivery_to_halt_s: Some(65),
                impact: None,
            }
        );
    }

    #[test]
    fn time_to_detect_counts_from_the_journaled_impact_and_falls_back_when_unknown() {
        let mut events = vec![
            at(1, "00:00", json!({"kind": "delivered", "ring": "a"})),
            at(2, "01:00", evaluated("a", "breach")),
            at(3, "01:05", halted("a")),
            at(4, "01:06", json!({"kind": "rolled-back", "ring": "a"})),
            at(
                5,
                "01:07",
                json!({"kind": "impact", "ring": "a", "gate": "errors", "began": "2026-11-22T10:00:35Z", "from": "2026-11-22T09:59:00Z", "to": "2026-11-22T10:01:06Z", "step_s": 1}),
            ),
        ];
        let d = debrief(&events);
        assert_eq!(d.time_to_detect_s, Some(30));
        assert_eq!(d.time_to_mitigate_s, Some(1));
        assert!(d.detect_from_impact());
        assert_eq!(d.detect_basis(), "impact began → halt");
        events[4] = at(
            5,
            "01:07",
            json!({"kind": "impact", "ring": "a", "gate": "errors", "unknown": "the range query failed: timeout"}),
        );
        let d = debrief(&events);
        assert_eq!(d.time_to_detect_s, Some(5), "first breach → halt");
        assert_eq!(
            d.detect_basis(),
            "first breaching sample → halt; impact onset unknown (the range query failed: timeout)"
        );
    }

    #[test]
    fn runs_of_healthy_evaluations_fold_per_gate_and_anything_else_breaks_them() {
        let eval = |gate: &str, round: u64, verdict: &str, value: f64| json!({"kind": "evaluated", "ring": "a", "gate": gate, "round": round, "verdict": verdict, "value": value, "threshold": 0.5, "enforce": true});
        let mut events = vec![at(1, "00:00", json!({"kind": "delivered", "ring": "a"}))];
        for round in 1..=120u64 {
            let seq = 1 + 2 * round;
            let v = 0.1 + (round % 7) as f64 / 100.0;
            events.push(at(seq - 1, "00:30", eval("errors", round, "healthy", v)));
            events.push(at(seq, "00:30", eval("latency", round, "healthy", v * 2.0)));
        }
        events.push(at(500, "01:00", eval("errors", 121, "breach", 0.9)));
        events.push(at(501, "01:00", eval("latency", 121, "healthy", 0.2)));
        events.push(at(502, "01:05", halted("a")));
        let rows = fold_rows(&events, |e| {
            (e.seq, e.at.as_str(), e.actor.as_str(), &e.event)
        });
        let shape: Vec<String> = rows
            .iter()
            .map(|r| match r {
                Row::Entry(e) => e.kind().to_owned(),
                Row::Fold(f) => format!(
                    "{}×{} rounds {}–{} [{}, {}]",
                    f.gate, f.count, f.first_round, f.last_round, f.min, f.max
                ),
            })
            .collect();
        assert_eq!(
            shape,
            [
                "delivered",
                "errors×120 rounds 1–120 [0.1, 0.16]",
                "latency×120 rounds 1–120 [0.2, 0.32]",
                "evaluated",
                // A run of one is the entry itself.
                "evaluated",
                "halted"
            ]
        );
        let Row::Fold(f) = &rows[1] else { panic!() };
        assert_eq!((f.first_seq, f.last_seq), (2, 240));
        assert_eq!(f.actor.as_deref(), Some("ci"));
    }

    #[test]
    fn a_healthy_rollout_has_no_figures() {
        let events = [
            at(1, "00:00", json!({"kind": "delivered", "ring": "a"})),
            at(2, "00:30", evaluated("a", "healthy")),
            at(3, "00:30", json!({"kind": "promoted", "ring": "a"})),
        ];
        assert_eq!(debrief(&events), Debrief::default());
    }

    #[test]
    fn the_exposure_counts_from_the_halted_ring_s_last_delivery_before_the_halt() {
        let events = [
            at(1, "00:00", json!({"kind": "delivered", "ring": "a"})),
            at(2, "02:00", json!({"kind": "delivered", "ring": "b"})),
            at(3, "03:00", json!({"kind": "delivered", "ring": "a"})),
            at(4, "04:00", halted("a")),
            // After the halt: never the delivery that exposed it.
            at(5, "05:00", json!({"kind": "delivered", "ring": "a"})),
        ];
        let d = debrief(&events);
        assert_eq!(d.delivery_to_halt_s, Some(60));
        // A halt by a person: no breaching sample, no rollback.
        assert_eq!(d.time_to_detect_s, None);
        assert_eq!(d.time_to_mitigate_s, None);
    }

    #[test]
    fn a_halt_by_hand_after_a_shadow_breach_still_times_detection_from_the_breach() {
        let mut shadow = evaluated("a", "breach");
        shadow["enforce"] = json!(false);
        let events = [
            at(1, "00:00", shadow),
            at(2, "00:10", evaluated("a", "breach")),
            at(3, "00:40", halted("a")),
        ];
        // The first breaching sample of any gate: shadow gates are evidence too.
        assert_eq!(debrief(&events).time_to_detect_s, Some(40));
    }

    #[test]
    fn a_timeline_holds_its_rollout_and_the_freezes_only() {
        let entry = |seq: u64, rollout: &str, event: serde_json::Value| {
            let body = crate::rollout::journal::Body {
                seq,
                at: "2026-11-22T10:00:00Z".into(),
                actor: "ci".into(),
                rollout: rollout.into(),
                event,
                prev: String::new(),
            };
            Entry {
                hash: crate::rollout::journal::hash_body(&body),
                body,
            }
        };
        let entries = [
            entry(1, "r-1", json!({"kind": "completed"})),
            entry(2, "", json!({"kind": "frozen", "reason": "close"})),
            entry(3, "r-2", json!({"kind": "completed"})),
        ];
        let seqs: Vec<u64> = events(&entries, "r-2").iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [2, 3]);
        assert_eq!(events(&entries, "r-2")[0].kind(), "frozen");
    }
}
