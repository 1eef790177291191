//! When the impact began, from the metric's own history: after a gate's
//! breach halted a ring (and its rollback, if any, is done), the breached
//! gate's query is read as a range over [delivery − lookback, halt] and the
//! start of the last unbroken run of breaching samples before the halt is
//! "impact began". The debrief then measures detection from there, not from
//! the first breaching evaluation (which only says when the tool looked).
//!
//! Pure: [`pending`] decides whether a halt still needs its onset and what
//! to ask; the controller fetches the range; [`impact`] turns the answer into
//! the journaled [`Event::Impact`], so a timeline is rebuilt from the journal
//! alone, never by asking the metrics source again.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::metrics::{Grid, RangeSeries};
use crate::rollout::event::{Event, rfc3339};
use crate::rollout::gates::{BurnWindow, Gate, GateKind, Verdict};
use crate::rollout::journal::Entry;
use crate::rollout::rings::Ring;

/// The most points one range query asks for: Prometheus refuses more than
/// 11 000 per series, and its source cuts ranges into chunks of 10 000, so
/// this is one request per query.
pub const MAX_POINTS: i64 = 10_000;

/// How far before the delivery the history is read at least: enough to see
/// a metric that was already across before this revision arrived.
pub const MIN_LOOKBACK: Duration = Duration::from_secs(60);

/// What to read for one halted ring.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub ring: String,
    /// The gate that breached, as its ring file names it.
    pub gate: String,
    /// What is judged at each step: the gate itself for a threshold gate;
    /// for a burn-rate gate, its shortest window against that pair's factor.
    pub probe: Gate,
    pub queries: Vec<String>,
    pub grid: Grid,
    /// The halt's time: the run of breaching steps must reach it.
    pub halt: jiff::Timestamp,
}

/// What the driver does about a halt's onset.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Read the history and judge it ([`impact`]).
    Fetch(Request),
    /// Nothing to read (the gate is gone from the ring file, the journal
    /// lacks the delivery): journal why the onset is unknown.
    Journal(Event),
}

/// The step of the range: 1 s (finer than any scrape interval, so the onset
/// is as precise as the data), or the shortest whole-second step that keeps
/// the range within [`MAX_POINTS`].
pub fn range_step(from: jiff::Timestamp, to: jiff::Timestamp) -> Duration {
    let span = (to.as_second() - from.as_second()).max(0);
    let secs = (span + MAX_POINTS - 2) / (MAX_POINTS - 1);
    Duration::from_secs(u64::try_from(secs.max(1)).unwrap_or(1))
}

/// The gate judged over the history: a threshold gate as it is; a burn-rate
/// gate by the burn rate over its shortest window against that window's
/// pair's factor (the long windows exist to avoid flapping alerts and lag
/// the onset by design; the shortest one follows the metric most closely).
pub fn probe(gate: &Gate) -> Gate {
    match &gate.kind {
        // A compare gate's probe needs its halt's limit: see
        // `compare::onset_probe`; without one every step is inconclusive.
        GateKind::Threshold { .. } | GateKind::Compare(_) => gate.clone(),
        GateKind::BurnRate {
            objective,
            errors,
            total,
            windows,
        } => {
            let shortest = windows
                .iter()
                .flat_map(|w| [(w.short, w.factor), (w.long, w.factor)])
                .min_by_key(|(d, _)| *d);
            let windows = shortest
                .map(|(d, factor)| {
                    vec![BurnWindow {
                        long: d,
                        short: d,
                        factor,
                    }]
                })
                .unwrap_or_default();
            Gate {
                name: gate.name.clone(),
                kind: GateKind::BurnRate {
                    objective: *objective,
                    errors: errors.clone(),
                    total: total.clone(),
                    windows,
                },
                shadow: gate.shadow,
                // The onset judges the metric alone, whatever the traffic.
                min_traffic: None,
            }
        }
    }
}

fn typed(e: &Entry) -> Option<Event> {
    serde_json::from_value(e.body.event.clone()).ok()
}

fn time(s: &str) -> Option<jiff::Timestamp> {
    s.parse().ok()
}

/// The onset rollout `id`'s latest breach halt still needs, if any: a halt
/// by a gate with no `impact` journaled after it. `now` bounds the range
/// (never ask about the future).
pub fn pending(entries: &[Entry], id: &str, rings: &[Ring], now: jiff::Timestamp) -> Option<Next> {
    let mine: Vec<(&Entry, Event)> = entries
        .iter()
        .filter(|e| e.body.rollout == id)
        .filter_map(|e| Some((e, typed(e)?)))
        .collect();
    let (halt_index, ring, halt) =
        mine.iter()
            .enumerate()
            .rev()
            .find_map(|(i, (_, ev))| match ev {
                Event::Halted { ring, halt } => Some((i, ring.clone(), halt.clone())),
                _ => None,
            })?;
    let gate_name = halt.gate.clone()?;
    let journaled = mine[halt_index..]
        .iter()
        .any(|(_, ev)| matches!(ev, Event::Impact { ring: r, .. } if *r == ring));
    if journaled {
        return None;
    }
    let halt_at = time(&halt.at).or_else(|| time(&mine[halt_index].0.body.at))?;
    let unknown = |why: String| {
        Some(Next::Journal(Event::Impact {
            ring: ring.clone(),
            gate: gate_name.clone(),
            began: None,
            before_range: false,
            from: None,
            to: None,
            step_s: None,
            unknown: Some(why),
        }))
    };
    let Some(delivered) = mine[..halt_index]
        .iter()
        .rev()
        .find(|(_, ev)| matches!(ev, Event::Delivered { ring: r } if *r == ring))
        .and_then(|(e, _)| time(&e.body.at))
    else {
        return unknown(format!(
            "the journal has no delivery of ring {ring} before its halt"
        ));
    };
    let Some(gate) = rings
        .iter()
        .find(|r| r.name == ring)
        .and_then(|r| r.gates.iter().find(|g| g.name == gate_name))
    else {
        return unknown(format!(
            "ring {ring} has no gate `{gate_name}` at the rollout's revision"
        ));
    };
    let probe =
        crate::rollout::compare::onset_probe(gate, halt.threshold).unwrap_or_else(|| probe(gate));
    let interval = rings
        .iter()
        .find(|r| r.name == ring)
        .map_or(Duration::ZERO, |r| r.interval);
    let window = match &probe.kind {
        GateKind::BurnRate { windows, .. } => windows.first().map_or(Duration::ZERO, |w| w.short),
        GateKind::Threshold { .. } | GateKind::Compare(_) => Duration::ZERO,
    };
    let lookback = MIN_LOOKBACK.max(interval).max(window);
    let lookback = jiff::SignedDuration::try_from(lookback).unwrap_or(jiff::SignedDuration::ZERO);
    // Whole seconds, so the steps fall on the seconds the journal shows;
    // the range ends one second after the halt's (truncated) second, which
    // covers the evaluation that halted.
    let whole = |t: jiff::Timestamp| jiff::Timestamp::from_second(t.as_second()).unwrap_or(t);
    let to = whole(halt_at)
        .checked_add(jiff::SignedDuration::from_secs(1))
        .unwrap_or(halt_at)
        .min(now.max(halt_at));
    let from = whole(delivered.checked_sub(lookback).unwrap_or(delivered));
    let step = range_step(from, to);
    // The grid ends on `to`: its start is `to` less whole steps.
    let steps = (to.as_second() - from.as_second()) / step.as_secs().max(1) as i64;
    let start = to
        .checked_sub(jiff::SignedDuration::from_secs(
            steps * step.as_secs().max(1) as i64,
        ))
        .unwrap_or(from);
    Some(Next::Fetch(Request {
        ring,
        gate: gate_name,
        queries: crate::rollout::gates::distinct_queries(std::slice::from_ref(&probe)),
        probe,
        grid: Grid {
            start,
            end: to,
            step,
        },
        halt: halt_at,
    }))
}

/// Steps in a row that may fail to breach at the end of the range before
/// the run counts as ended before the halt: the halt's evaluation and the
/// range's last step fall in the same second, a scrape may land between.
const END_SLACK_STEPS: usize = 2;

/// The `impact` event for `request`, from the range answers (one per query,
/// in `request.queries` order).
pub fn impact(request: &Request, answers: Vec<RangeSeries>) -> Event {
    let grid = request.grid;
    let mut event = Event::Impact {
        ring: request.ring.clone(),
        gate: request.gate.clone(),
        began: None,
        before_range: false,
        from: Some(rfc3339(grid.start)),
        to: Some(rfc3339(grid.end)),
        step_s: Some(grid.step.as_secs()),
        unknown: None,
    };
    let Event::Impact {
        began,
        before_range,
        unknown,
        ..
    } = &mut event
    else {
        return event;
    };
    let mut series: BTreeMap<&str, BTreeMap<i64, f64>> = BTreeMap::new();
    for (query, answer) in request.queries.iter().zip(answers) {
        match answer {
            Ok(samples) => {
                series.insert(query, samples);
            }
            Err(why) => {
                *unknown = Some(format!("the range query failed: {why}"));
                return event;
            }
        }
    }
    let step_ms = grid.step_ms();
    let half = step_ms / 2;
    let points: Vec<i64> = grid.points().collect();
    let breaching: Vec<bool> = points
        .iter()
        .map(|&ms| {
            let answer = |q: &str| -> crate::metrics::Answer {
                Ok(series.get(q).and_then(|s| {
                    s.range(ms - half..ms + (step_ms - half))
                        .next()
                        .map(|(_, v)| *v)
                }))
            };
            matches!(request.probe.judge(&answer), Verdict::Breach { .. })
        })
        .collect();
    let Some(last) = breaching.iter().rposition(|b| *b) else {
        *unknown = Some(format!(
            "the history of gate `{}` from {} to {} never crossed its threshold",
            request.gate,
            rfc3339(grid.start),
            rfc3339(grid.end)
        ));
        return event;
    };
    if last + END_SLACK_STEPS < points.len().saturating_sub(1) {
        *unknown = Some(format!(
            "the history of gate `{}` was back within its threshold from {} to the halt",
            request.gate,
            points
                .get(last + 1)
                .and_then(|ms| jiff::Timestamp::from_millisecond(*ms).ok())
                .map_or_else(String::new, rfc3339)
        ));
        return event;
    }
    let first = breaching[..=last]
        .iter()
        .rposition(|b| !*b)
        .map_or(0, |i| i + 1);
    *before_range = first == 0;
    // The crossing happened in the step before this point. A crossing in
    // the halt's own second reads as that second: the journal keeps whole
    // seconds, and the impact cannot begin after the halt that saw it.
    *began = jiff::Timestamp::from_millisecond(points[first])
        .ok()
        .map(|t| rfc3339(t.min(request.halt)));
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::state::Halt;

    fn t(s: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    fn threshold_gate() -> Gate {
        Gate {
            name: "errors".into(),
            kind: GateKind::Threshold {
                query: "ratio".into(),
                max: Some(0.05),
                min: None,
            },
            shadow: false,
            min_traffic: None,
        }
    }

    fn ring() -> Ring {
        let mut ring = crate::rollout::policy::tests::ring("a", &[]);
        ring.interval = Duration::from_secs(10);
        ring.gates = vec![threshold_gate()];
        ring
    }

    fn entries(events: &[(i64, Event)]) -> Vec<Entry> {
        let mut all = vec![(
            0,
            Event::Started {
                revision: "abc".into(),
                author: "dev".into(),
                rings: vec!["a".into()],
            },
        )];
        all.extend_from_slice(events);
        crate::rollout::journal::chained_at(
            "r-1",
            all.iter().map(|(s, e)| {
                let event = serde_json::to_value(e).expect("serialises");
                (rfc3339(t(*s)), event)
            }),
        )
    }

    fn halted(at: i64, gate: Option<&str>) -> Event {
        Event::Halted {
            ring: "a".into(),
            halt: Halt {
                gate: gate.map(str::to_owned),
                value: Some(0.5),
                threshold: Some(0.05),
                reason: "breach".into(),
                at: rfc3339(t(at)),
                rollback: true,
            },
        }
    }

    fn delivered_then_halted(halt_at: i64) -> Vec<Entry> {
        entries(&[
            (
                100,
                Event::Delivering {
                    ring: "a".into(),
                    revision: "abc".into(),
                    previous: None,
                },
            ),
            (100, Event::Delivered { ring: "a".into() }),
            (halt_at, halted(halt_at, Some("errors"))),
        ])
    }

    fn request(entries: &[Entry]) -> Request {
        match pending(entries, "r-1", &[ring()], t(1_000_000)) {
            Some(Next::Fetch(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn series(points: &[(i64, f64)]) -> RangeSeries {
        Ok(points
            .iter()
            .map(|(s, v)| (t(*s).as_millisecond(), *v))
            .collect())
    }

    fn began(event: &Event) -> (Option<String>, bool, Option<String>) {
        match event {
            Event::Impact {
                began,
                before_range,
                unknown,
                ..
            } => (began.clone(), *before_range, unknown.clone()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_range_runs_from_a_minute_before_the_delivery_to_the_halt_at_one_second() {
        let r = request(&delivered_then_halted(160));
        assert_eq!(r.grid.start, t(40));
        assert_eq!(r.grid.end, t(161));
        assert_eq!(r.grid.step, Duration::from_secs(1));
        assert_eq!(r.queries, ["ratio"]);
        assert_eq!(r.gate, "errors");
    }

    #[test]
    fn a_long_range_keeps_within_the_point_limit_and_ends_on_the_halt() {
        assert_eq!(range_step(t(0), t(9_999)), Duration::from_secs(1));
        assert_eq!(range_step(t(0), t(10_000)), Duration::from_secs(2));
        let day = 86_400;
        let step = range_step(t(0), t(day));
        assert!((day / step.as_secs() as i64) < MAX_POINTS, "{step:?}");
        let r = request(&delivered_then_halted(day));
        assert_eq!(r.grid.end, t(day + 1));
        assert!(r.grid.points().count() as i64 <= MAX_POINTS);
        assert_eq!(
            (r.grid.end.as_second() - r.grid.start.as_second()) % r.grid.step.as_secs() as i64,
            0
        );
    }

    #[test]
    fn impact_began_where_the_metric_crossed_and_stayed_across_until_the_halt() {
        let r = request(&delivered_then_halted(160));
        // Healthy, a blip across at 110, healthy, across from 131 on.
        let mut points: Vec<(i64, f64)> = (40..=161).map(|s| (s, 0.01)).collect();
        for (s, v) in points.iter_mut() {
            if *s == 110 || *s >= 131 {
                *v = 0.3;
            }
        }
        let event = impact(&r, vec![series(&points)]);
        assert_eq!(began(&event), (Some(rfc3339(t(131))), false, None));
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["kind"], "impact");
        assert_eq!(json["step_s"], 1);
        assert_eq!(json["from"], rfc3339(t(40)));
    }

    #[test]
    fn a_crossing_in_the_halt_s_own_second_began_at_the_halt() {
        let r = request(&delivered_then_halted(160));
        let points: Vec<(i64, f64)> = (40..=161)
            .map(|s| (s, if s == 161 { 0.3 } else { 0.01 }))
            .collect();
        assert_eq!(
            began(&impact(&r, vec![series(&points)])),
            (Some(rfc3339(t(160))), false, None)
        );
    }

    #[test]
    fn a_metric_across_from_the_start_of_the_range_began_before_it() {
        let r = request(&delivered_then_halted(160));
        let points: Vec<(i64, f64)> = (40..=161).map(|s| (s, 0.3)).collect();
        assert_eq!(
            began(&impact(&r, vec![series(&points)])),
            (Some(rfc3339(t(40))), true, None)
        );
    }

    #[test]
    fn an_unanswered_or_empty_history_leaves_the_onset_unknown_and_says_why() {
        let r = request(&delivered_then_halted(160));
        let failed = impact(&r, vec![Err("connection refused".into())]);
        assert_eq!(
            began(&failed).2.as_deref(),
            Some("the range query failed: connection refused")
        );
        let none = impact(&r, vec![series(&[])]);
        assert!(
            began(&none)
                .2
                .unwrap()
                .contains("never crossed its threshold"),
            "{none:?}"
        );
        // Back within the threshold well before the halt: not a run to the halt.
        let early: Vec<(i64, f64)> = (40..=161)
            .map(|s| (s, if (120..130).contains(&s) { 0.3 } else { 0.01 }))
            .collect();
        assert!(
            began(&impact(&r, vec![series(&early)]))
                .2
                .unwrap()
                .contains("back within its threshold"),
        );
    }

    #[test]
    fn only_a_gate_s_breach_without_a_journaled_impact_needs_one() {
        // A halt by hand (no gate) has no onset to find.
        let by_hand = entries(&[
            (
                100,
                Event::Delivering {
                    ring: "a".into(),
                    revision: "abc".into(),
                    previous: None,
                },
            ),
            (100, Event::Delivered { ring: "a".into() }),
            (150, halted(150, None)),
        ]);
        assert_eq!(pending(&by_hand, "r-1", &[ring()], t(200)), None);
        // Journaled once: never asked again.
        let mut done = delivered_then_halted(160);
        let r = request(&done);
        let event = impact(&r, vec![series(&[])]);
        done.extend(entries(&[(170, event)]).into_iter().skip(1));
        assert_eq!(pending(&done, "r-1", &[ring()], t(200)), None);
        // A gate the ring file no longer has: unknown, journaled as such.
        let mut renamed = ring();
        renamed.gates[0].name = "other".into();
        assert!(matches!(
            pending(&delivered_then_halted(160), "r-1", &[renamed], t(200)),
            Some(Next::Journal(Event::Impact {
                unknown: Some(_),
                ..
            }))
        ));
    }

    #[test]
    fn a_burn_rate_gate_is_judged_on_its_shortest_window() {
        let gate = Gate {
            name: "avail".into(),
            kind: GateKind::BurnRate {
                objective: 0.99,
                errors: "e[{window}]".into(),
                total: "t[{window}]".into(),
                windows: vec![
                    BurnWindow {
                        long: Duration::from_secs(3600),
                        short: Duration::from_secs(300),
                        factor: 14.4,
                    },
                    BurnWindow {
                        long: Duration::from_secs(21_600),
                        short: Duration::from_secs(1800),
                        factor: 6.0,
                    },
                ],
            },
            shadow: false,
            min_traffic: None,
        };
        let p = probe(&gate);
        assert_eq!(p.queries(), ["e[5m]", "t[5m]"]);
        let GateKind::BurnRate { windows, .. } = &p.kind else {
            panic!()
        };
        assert_eq!(windows[0].factor, 14.4);
        // Burning at 20 (20% errors against a 1% budget) from 131 on.
        let mut a = ring();
        a.gates = vec![Gate {
            name: "errors".into(),
            ..gate
        }];
        let Some(Next::Fetch(r)) = pending(&delivered_then_halted(160), "r-1", &[a], t(1_000))
        else {
            panic!("a fetch")
        };
        assert_eq!(r.queries, ["e[5m]", "t[5m]"]);
        // The lookback is the 5 min window, longer than a minute.
        assert_eq!(r.grid.start, t(100 - 300));
        let errors: Vec<(i64, f64)> = (-200..=161)
            .map(|s| (s, if s >= 131 { 20.0 } else { 0.1 }))
            .collect();
        let total: Vec<(i64, f64)> = (-200..=161).map(|s| (s, 100.0)).collect();
        assert_eq!(
            began(&impact(&r, vec![series(&errors), series(&total)])),
            (Some(rfc3339(t(131))), false, None)
        );
    }
}
