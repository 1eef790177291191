//! `gates backtest`: a ring's gates replayed over past metrics. "Would these
//! gates have caught last month's incident, and how often would they have
//! halted for nothing?"
//!
//! Every query of every gate is fetched once as a range (`query_range`), then
//! each step is judged exactly as a live soak round judges it, with the same
//! [`crate::rollout::gates::Gate::judge`]: a step where a query has no sample is inconclusive. The
//! ring-level verdict replays the soak loop's halting rule: the first breach
//! of an enforcing gate, or `inconclusive_limit` inconclusive evaluations in a
//! row (counted in intervals of the ring, converted to steps).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::metrics::{Grid, MetricsSource, RangeSeries};
use crate::rollout::gates::{GateKind, Verdict, distinct_queries};
use crate::rollout::rings::Ring;

/// More steps than this is a mistake (a 1 s step over a year), not a backtest.
pub const MAX_STEPS: i64 = 500_000;

/// A stretch of consecutive healthy steps: first and last step's time.
#[derive(Debug, Clone, PartialEq)]
pub struct Stretch {
    pub start: jiff::Timestamp,
    pub end: jiff::Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GateResult {
    pub name: String,
    pub shadow: bool,
    /// The first breaching step, with the value and threshold there.
    pub first_breach: Option<(jiff::Timestamp, f64, f64)>,
    pub breaching_steps: u64,
    pub inconclusive_steps: u64,
    pub healthy_steps: u64,
    pub longest_healthy: Option<Stretch>,
    /// When this gate alone would have halted the ring: its first breach, or
    /// `inconclusive_limit` intervals of inconclusive steps in a row. `None`
    /// for a shadow gate.
    pub would_halt: Option<jiff::Timestamp>,
    /// The first inconclusive step's reason (the source's own words).
    pub first_inconclusive: Option<(jiff::Timestamp, String)>,
}

/// The ring as a whole: when the soak loop would have halted it.
#[derive(Debug, Clone, PartialEq)]
pub struct RingHalt {
    pub at: jiff::Timestamp,
    pub gate: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Backtest {
    pub ring: String,
    pub start: jiff::Timestamp,
    pub end: jiff::Timestamp,
    pub step: Duration,
    pub steps: u64,
    pub gates: Vec<GateResult>,
    pub would_halt: Option<RingHalt>,
}

/// Inconclusive steps in a row that make `inconclusive_limit` evaluations at
/// the ring's interval.
fn inconclusive_steps_to_halt(ring: &Ring, step: Duration) -> u64 {
    let span = ring.interval.saturating_mul(ring.inconclusive_limit.max(1));
    let step_ms = step.as_millis().max(1);
    u64::try_from(span.as_millis().div_ceil(step_ms))
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Why a backtest has no report.
#[derive(Debug, Clone, PartialEq)]
pub enum BacktestError {
    /// The range or step makes no sense.
    Invalid(String),
    /// The source could not answer a query over the range (unreachable,
    /// overloaded, or refusing the range): no history to judge.
    Source { query: String, error: String },
}

impl std::fmt::Display for BacktestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BacktestError::Invalid(why) => f.write_str(why),
            BacktestError::Source { query, error } => write!(
                f,
                "no history for `{query}`: {error} (if the source refused the size of the range, a shorter range or a longer --step asks less of it)"
            ),
        }
    }
}

/// Replays `ring`'s gates at each point of `grid`.
pub fn backtest(
    ring: &Ring,
    source: &dyn MetricsSource,
    grid: Grid,
) -> Result<Backtest, BacktestError> {
    let Grid { start, end, step } = grid;
    let invalid = |why: String| BacktestError::Invalid(why);
    if step.is_zero() {
        return Err(invalid("the step must be longer than zero".into()));
    }
    if end < start {
        return Err(invalid("the end is before the start".into()));
    }
    let step_ms = grid.step_ms();
    let steps = (end.as_millisecond() - start.as_millisecond()) / step_ms + 1;
    if steps > MAX_STEPS {
        return Err(invalid(format!(
            "{steps} steps is more than {MAX_STEPS}: use a longer --step or a shorter range"
        )));
    }
    let queries = distinct_queries(&ring.gates);
    let mut series: BTreeMap<&str, RangeSeries> = queries
        .iter()
        .map(String::as_str)
        .zip(source.query_range_many(&queries, &grid))
        .collect();
    // Compare gates judge a soak's worth of samples before each step: their
    // series start that much earlier, on the same grid.
    if let Some((compared, early)) = crate::rollout::compare::backtest_grid(ring, &grid) {
        for (q, s) in compared
            .iter()
            .zip(source.query_range_many(&compared, &early))
        {
            if let Some(key) = queries.iter().find(|k| *k == q) {
                series.insert(key.as_str(), s);
            }
        }
    }
    // A query that failed as a whole is not history that lacks data.
    if let Some((query, Err(error))) = series.iter().find(|(_, s)| s.is_err()) {
        return Err(BacktestError::Source {
            query: (*query).to_owned(),
            error: error.clone(),
        });
    }
    let mut gates: Vec<GateResult> = ring
        .gates
        .iter()
        .map(|g| GateResult {
            name: g.name.clone(),
            shadow: g.shadow,
            first_breach: None,
            breaching_steps: 0,
            inconclusive_steps: 0,
            healthy_steps: 0,
            longest_healthy: None,
            would_halt: None,
            first_inconclusive: None,
        })
        .collect();
    let halt_after = inconclusive_steps_to_halt(ring, step);
    let half = step_ms / 2;
    // Per gate: the current healthy stretch's start and the inconclusive streak.
    let mut healthy_since: Vec<Option<jiff::Timestamp>> = vec![None; gates.len()];
    let mut last_healthy: Vec<Option<jiff::Timestamp>> = vec![None; gates.len()];
    let mut streaks = vec![0u64; gates.len()];
    let mut ring_streak = 0u64;
    let mut ring_halt: Option<RingHalt> = None;
    for k in 0..steps {
        let ms = start.as_millisecond() + k * step_ms;
        let at = jiff::Timestamp::from_millisecond(ms).map_err(|e| invalid(e.to_string()))?;
        let answer = |q: &str| -> crate::metrics::Answer {
            match series.get(q) {
                // The sample of this step's slot: exactly at `ms` from
                // Prometheus, shifted by a query frontend that aligns ranges.
                Some(Ok(samples)) => Ok(samples
                    .range(ms - half..ms + (step_ms - half))
                    .next()
                    .map(|(_, v)| *v)),
                Some(Err(e)) => Err(e.clone()),
                None => Err(format!("`{q}` was not asked")),
            }
        };
        let mut round_breach: Option<(String, String)> = None;
        let mut round_inconclusive: Option<String> = None;
        for (i, gate) in ring.gates.iter().enumerate() {
            let verdict = match &gate.kind {
                // A compare gate judges the samples of the soak that would
                // have ended here (the ring's soak, at least `min_samples`
                // steps), as a live soak judges its samples so far.
                GateKind::Compare(c) => {
                    let back = crate::rollout::compare::lookback(c, ring.soak, step);
                    let back_ms = i64::try_from(back.as_millis()).unwrap_or(i64::MAX);
                    let missing: RangeSeries = Err(format!("`{}` was not asked", c.ring_query()));
                    let get = |q: &str| series.get(q).unwrap_or(&missing);
                    let base = c.baseline_query();
                    crate::rollout::compare::judge_series(
                        c,
                        get(&c.ring_query()),
                        base.as_deref().map(get),
                        ms.saturating_sub(back_ms),
                        ms + (step_ms - half) - 1,
                        step_ms,
                    )
                    .0
                }
                _ => gate.judge(&answer),
            };
            let result = &mut gates[i];
            let healthy = matches!(verdict, Verdict::Healthy { .. });
            if healthy {
                result.healthy_steps += 1;
                healthy_since[i].get_or_insert(at);
                last_healthy[i] = Some(at);
                streaks[i] = 0;
            } else {
                close_stretch(result, &mut healthy_since[i], last_healthy[i]);
            }
            match verdict {
                // A backtest judges the gate's own query; traffic floors
                // apply in a live round only.
                Verdict::Healthy { .. } | Verdict::Idle { .. } => {}
                // Too few samples yet: neither healthy nor inconclusive.
                Verdict::Pending { .. } => streaks[i] = 0,
                Verdict::Breach { value, threshold } => {
                    result.breaching_steps += 1;
                    streaks[i] = 0;
                    if result.first_breach.is_none() {
                        result.first_breach = Some((at, value, threshold));
                    }
                    if !gate.shadow {
                        result.would_halt.get_or_insert(at);
                        round_breach.get_or_insert_with(|| {
                            (gate.name.clone(), gate.breach_text(value, threshold))
                        });
                    }
                }
                Verdict::Inconclusive { reason } => {
                    result.inconclusive_steps += 1;
                    streaks[i] += 1;
                    if !gate.shadow && streaks[i] >= halt_after {
                        result.would_halt.get_or_insert(at);
                    }
                    if !gate.shadow {
                        round_inconclusive.get_or_insert(format!("gate `{}`: {reason}", gate.name));
                    }
                    result.first_inconclusive.get_or_insert((at, reason));
                }
            }
        }
        if ring_halt.is_none() {
            if let Some((gate, reason)) = round_breach {
                ring_halt = Some(RingHalt {
                    at,
                    gate: Some(gate),
                    reason,
                });
            } else if let Some(reason) = round_inconclusive {
                ring_streak += 1;
                if ring_streak >= halt_after {
                    ring_halt = Some(RingHalt {
                        at,
                        gate: None,
                        reason: format!(
                            "{ring_streak} steps in a row were inconclusive ({reason}): failing closed"
                        ),
                    });
                }
            } else {
                ring_streak = 0;
            }
        }
    }
    for (i, result) in gates.iter_mut().enumerate() {
        close_stretch(result, &mut healthy_since[i], last_healthy[i]);
    }
    Ok(Backtest {
        ring: ring.name.clone(),
        start,
        end,
        step,
        steps: steps as u64,
        gates,
        would_halt: ring_halt,
    })
}

/// Ends the current healthy stretch (if any), keeping it when it is the longest.
fn close_stretch(
    result: &mut GateResult,
    since: &mut Option<jiff::Timestamp>,
    last: Option<jiff::Timestamp>,
) {
    let (Some(start), Some(end)) = (since.take(), last) else {
        return;
    };
    let longer = result.longest_healthy.as_ref().is_none_or(|s| {
        end.as_millisecond() - start.as_millisecond()
            > s.end.as_millisecond() - s.start.as_millisecond()
    });
    if longer {
        result.longest_healthy = Some(Stretch { start, end });
    }
}

/// Parses a backtest time: RFC 3339 (`2026-11-01T00:00:00Z`), a date
/// (`2026-11-01`, midnight UTC), `now`, or a time before now (`-30d`, `now-2h`).
pub fn parse_time(text: &str, now: jiff::Timestamp) -> Result<jiff::Timestamp, String> {
    let t = text.trim();
    if t == "now" {
        return Ok(now);
    }
    if let Some(ago) = t.strip_prefix("now-").or_else(|| t.strip_prefix('-')) {
        let d = crate::model::duration::parse_duration(ago)
            .ok_or_else(|| format!("`{text}`: `{ago}` is not a duration like 30d, 2h or 90m"))?;
        let d = jiff::SignedDuration::try_from(d).map_err(|e| format!("`{text}`: {e}"))?;
        return now.checked_sub(d).map_err(|e| format!("`{text}`: {e}"));
    }
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Ok(ts);
    }
    if let Ok(date) = t.parse::<jiff::civil::Date>() {
        return date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| format!("`{text}`: {e}"));
    }
    Err(format!(
        "`{text}` is not a time: use RFC 3339 (2026-11-01T00:00:00Z), a date (2026-11-01), now, or -30d"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::number::short;
    use crate::rollout::gates::{BurnWindow, Gate, GateKind};

    /// A source whose every query has the same samples: `value(k)` at step k.
    struct Steps {
        start: i64,
        step: i64,
        values: Vec<Option<f64>>,
    }

    impl MetricsSource for Steps {
        fn query(&self, _: &str, at: jiff::Timestamp) -> Result<Option<f64>, String> {
            let k = (at.as_millisecond() - self.start) / self.step;
            Ok(self.values.get(k as usize).copied().flatten())
        }
    }

    fn ring(gates: Vec<Gate>, limit: u32) -> Ring {
        Ring {
            name: "r".into(),
            file: "rings/r.yaml".into(),
            name_pos: crate::diag::Pos::new(1, 1),
            order: 1,
            soak: Duration::from_secs(60),
            interval: Duration::from_secs(60),
            approval_required: false,
            approvers: vec![],
            inconclusive_limit: limit,
            soak_clock: Default::default(),
            rollback_on_breach: true,
            gates,
        }
    }

    /// `steps` steps of `secs` seconds after `t0`.
    fn grid(t0: jiff::Timestamp, secs: u64, steps: i64) -> Grid {
        Grid {
            start: t0,
            end: t0 + jiff::SignedDuration::from_secs(steps * secs as i64),
            step: Duration::from_secs(secs),
        }
    }

    fn threshold(max: f64) -> Gate {
        Gate {
            name: "err".into(),
            kind: GateKind::Threshold {
                query: "q".into(),
                max: Some(max),
                min: None,
            },
            shadow: false,
            min_traffic: None,
        }
    }

    #[test]
    fn breaches_stretches_and_the_halt_step() {
        let t0 = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let values = vec![
            Some(0.0),
            Some(0.0),
            Some(0.0),
            None,
            Some(0.0),
            Some(0.5),
            Some(0.5),
            Some(0.0),
        ];
        let source = Steps {
            start: t0.as_millisecond(),
            step: 60_000,
            values,
        };
        let r = backtest(&ring(vec![threshold(0.1)], 3), &source, grid(t0, 60, 7)).unwrap();
        assert_eq!(r.steps, 8);
        let g = &r.gates[0];
        assert_eq!(g.breaching_steps, 2);
        assert_eq!(g.inconclusive_steps, 1);
        assert_eq!(g.healthy_steps, 5);
        let at = |k: i64| t0 + jiff::SignedDuration::from_secs(k * 60);
        assert_eq!(g.first_breach, Some((at(5), 0.5, 0.1)));
        assert_eq!(
            g.longest_healthy,
            Some(Stretch {
                start: at(0),
                end: at(2)
            })
        );
        assert_eq!(g.would_halt, Some(at(5)));
        assert_eq!(r.would_halt.as_ref().map(|h| h.at), Some(at(5)));
        assert!(g.first_inconclusive.as_ref().unwrap().1.contains("no data"));
    }

    #[test]
    fn inconclusive_steps_halt_after_the_limit_in_intervals() {
        let t0 = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        // 30 s steps, 60 s interval, limit 2: four missing steps in a row halt.
        let source = Steps {
            start: t0.as_millisecond(),
            step: 30_000,
            values: vec![Some(0.0), None, None, None, None, None],
        };
        let mut gate = threshold(0.1);
        gate.kind = GateKind::BurnRate {
            objective: 0.999,
            errors: "e[{window}]".into(),
            total: "t[{window}]".into(),
            windows: vec![BurnWindow {
                long: Duration::from_secs(3600),
                short: Duration::from_secs(300),
                factor: 14.4,
            }],
        };
        let r = backtest(&ring(vec![gate], 2), &source, grid(t0, 30, 5)).unwrap();
        let halt = r.would_halt.unwrap();
        assert_eq!(halt.at, t0 + jiff::SignedDuration::from_secs(3 * 30));
        assert!(halt.reason.contains("inconclusive"), "{}", halt.reason);
        // Step 0: zero errors over zero total is no traffic: inconclusive too.
        assert_eq!(r.gates[0].inconclusive_steps, 6);
    }

    /// A source whose range queries fail as a whole.
    struct Refusing;

    impl MetricsSource for Refusing {
        fn query(&self, _: &str, _: jiff::Timestamp) -> Result<Option<f64>, String> {
            Err("query processing would load too many samples into memory".into())
        }
    }

    #[test]
    fn a_range_the_source_cannot_answer_is_an_error_not_inconclusive_history() {
        let t0 = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let ten_minutes = grid(t0, 60, 10);
        let err = backtest(&ring(vec![threshold(0.1)], 3), &Refusing, ten_minutes).unwrap_err();
        assert!(
            matches!(&err, BacktestError::Source { query, error } if query == "q" && error.contains("too many samples")),
            "{err:?}"
        );
        assert!(err.to_string().contains("longer --step"), "{err}");
        let backwards = Grid {
            start: ten_minutes.end,
            end: t0,
            ..ten_minutes
        };
        let bad = backtest(&ring(vec![], 3), &Refusing, backwards);
        assert!(matches!(bad, Err(BacktestError::Invalid(_))));
    }

    /// Samples 10 s after each step, as an aligning query frontend returns them.
    struct Shifted;

    impl MetricsSource for Shifted {
        fn query(&self, _: &str, _: jiff::Timestamp) -> Result<Option<f64>, String> {
            Ok(None)
        }
        fn query_range_many(&self, queries: &[String], grid: &Grid) -> Vec<RangeSeries> {
            let points: BTreeMap<i64, f64> = grid.points().map(|t| (t + 10_000, 0.5)).collect();
            queries.iter().map(|_| Ok(points.clone())).collect()
        }
    }

    #[test]
    fn samples_off_the_grid_by_less_than_half_a_step_still_count() {
        let t0 = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let r = backtest(&ring(vec![threshold(0.1)], 3), &Shifted, grid(t0, 60, 5)).unwrap();
        assert_eq!(r.gates[0].breaching_steps, 6);
        assert_eq!(r.gates[0].inconclusive_steps, 0);
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(short(0.09), "0.09");
        assert_eq!(short(19.999999999), "20");
        assert_eq!(short(0.000123456), "0.0001235");
        assert_eq!(short(14.4), "14.4");
        assert_eq!(short(0.0), "0");
    }

    #[test]
    fn times_parse() {
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        assert_eq!(parse_time("now", now), Ok(now));
        assert_eq!(
            parse_time("-1h", now),
            Ok(jiff::Timestamp::from_second(1_800_000_000 - 3600).unwrap())
        );
        assert_eq!(
            parse_time("now-2m", now).unwrap().as_second(),
            1_800_000_000 - 120
        );
        assert_eq!(
            parse_time("2026-11-01T00:00:00Z", now).unwrap().as_second(),
            1_793_491_200
        );
        assert_eq!(
            parse_time("2026-11-01", now).unwrap().as_second(),
            1_793_491_200
        );
        for bad in ["yesterday", "-3x", "2026-13-01"] {
            assert!(parse_time(bad, now).is_err(), "{bad}");
        }
    }
}
