//! Baseline gates (`compare:` in a ring's gates): the ring under test judged
//! against the rings that still hold the previous revision, at the same
//! moments, as Kayenta and LaunchDarkly's guarded rollouts do.
//!
//! The gate's query is a template: `{ring}` becomes a regex of ring names
//! (the ring under test, or the baseline rings `beta|prod`) for
//! `ring=~"{ring}"`, and `{selector}` a whole label matcher (`ring=~"beta"`,
//! or the gate's own `baseline` selector). Both series are read over the
//! soak so far with one range query each, at the ring's interval: the
//! judgement needs no state of its own, survives a crash, and a backtest
//! judges a compare gate exactly as a soak does.
//!
//! The judgement (see [`judge`]): fewer than `min_samples` samples in either
//! series is *pending* (neither healthy nor inconclusive: the round counts
//! toward neither the soak nor `inconclusive_limit`); otherwise a breach needs
//! both an effect (the ring's median worse than the baseline's median by more
//! than `margin`, relative) and significance (a one-sided Mann–Whitney U test
//! in the direction of "worse", p < `alpha`).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::metrics::{Grid, MetricsSource, RangeSeries};
use crate::model::stats::{median, p_greater};
pub use crate::rollout::baseline::{Compare, Worse};
use crate::rollout::gates::{Gate, GateKind, Verdict};
use crate::rollout::journal::Entry;
use crate::rollout::rings::Ring;

/// The most samples a judgement reads per series (the latest ones): a soak
/// of days at 1 s stays one range query Prometheus answers.
pub const MAX_SAMPLES: i64 = 10_000;

/// What a judged compare gate reports beside its verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    /// The baseline's median over the same samples' time.
    pub baseline: f64,
    /// The one-sided Mann–Whitney p-value that the ring is worse.
    pub p_value: f64,
}

// ---------------------------------------------------------------------------
// The decision

/// Judges the ring's samples against the baseline's (both finite). See the
/// module documentation for the rule.
pub fn judge(c: &Compare, ring: &[f64], baseline: &[f64]) -> (Verdict, Option<Evidence>) {
    let need = c.min_samples as usize;
    if ring.len() < need || baseline.len() < need {
        return (
            Verdict::Pending {
                reason: format!(
                    "{} ring and {} baseline samples so far; the gate judges from {need} each",
                    ring.len(),
                    baseline.len()
                ),
            },
            None,
        );
    }
    let value = median(ring);
    let base = median(baseline);
    let (threshold, p_value, worse) = match c.worse {
        Worse::Higher => {
            let t = base + base.abs() * c.margin;
            (t, p_greater(ring, baseline), value > t)
        }
        Worse::Lower => {
            let t = base - base.abs() * c.margin;
            (t, p_greater(baseline, ring), value < t)
        }
    };
    let evidence = Some(Evidence {
        baseline: base,
        p_value,
    });
    if worse && p_value < c.round_alpha() {
        (Verdict::Breach { value, threshold }, evidence)
    } else {
        (Verdict::Healthy { value, threshold }, evidence)
    }
}

/// What a halt by a compare gate says: the ring's and the baseline's
/// medians, the limit the margin sets, the test's p-value and the level it
/// was held to.
pub fn breach_text(gate: &Gate, value: f64, threshold: f64, e: Evidence) -> String {
    use crate::model::number::short;
    let level = match &gate.kind {
        GateKind::Compare(c) if c.looks > 1 => format!(
            " < {} (alpha {} over {} rounds)",
            p_text(c.round_alpha()),
            short(c.alpha),
            c.looks
        ),
        GateKind::Compare(c) => format!(" < {}", short(c.alpha)),
        _ => String::new(),
    };
    format!(
        "gate `{}` breached: ring {} against baseline {} (limit with the margin {}), p = {}{level}",
        gate.name,
        short(value),
        short(e.baseline),
        short(threshold),
        p_text(e.p_value)
    )
}

/// A p-value as people read it: `0.0123`, `<0.0001`.
pub fn p_text(p: f64) -> String {
    if p < 0.0001 {
        "<0.0001".into()
    } else {
        format!("{p:.4}")
    }
}

/// The finite samples of `series` in `[from, to]` (Unix ms).
fn window(series: &BTreeMap<i64, f64>, from: i64, to: i64) -> Vec<f64> {
    series
        .range(from..=to)
        .map(|(_, v)| *v)
        .filter(|v| v.is_finite())
        .collect()
}

/// Judges a compare gate over the samples in `[from, to]` of its two range
/// series. A series with no sample in the last two steps before `to` is
/// inconclusive, as a threshold gate with no data is: a ring that stopped
/// reporting is not judged on its old samples.
pub fn judge_series(
    c: &Compare,
    ring: &RangeSeries,
    baseline: Option<&RangeSeries>,
    from: i64,
    to: i64,
    step_ms: i64,
) -> (Verdict, Option<Evidence>) {
    let inconclusive = |reason: String| (Verdict::Inconclusive { reason }, None);
    let Some(baseline) = baseline else {
        return inconclusive(c.no_baseline());
    };
    let mut samples = Vec::new();
    for (series, query) in [
        (ring, c.ring_query()),
        (baseline, c.baseline_query().unwrap_or_default()),
    ] {
        match series {
            Err(e) => return inconclusive(format!("`{query}` failed: {e}")),
            // The last two steps: a sample one step old is not stale yet
            // (a range's last point may fall just before `to`).
            Ok(s)
                if s.range(to.saturating_sub(2 * step_ms) + 1..=to)
                    .next()
                    .is_none() =>
            {
                return inconclusive(format!("no data for `{query}`"));
            }
            Ok(s) => samples.push(window(s, from, to)),
        }
    }
    judge(c, &samples[0], &samples[1])
}

/// A round of a ring's gates at `at`: the threshold and burn-rate gates
/// asked at `at` in one batch, the compare gates over their soak since
/// `since` at `step` (one range query per series, all in one batch).
/// Verdicts and evidence in the gates' order.
pub fn evaluate_round(
    gates: &[Gate],
    source: &dyn MetricsSource,
    at: jiff::Timestamp,
    since: jiff::Timestamp,
    step: Duration,
) -> (Vec<Verdict>, Vec<Option<Evidence>>) {
    let instant: Vec<Gate> = gates
        .iter()
        .filter(|g| !matches!(g.kind, GateKind::Compare(_)))
        .cloned()
        .collect();
    let mut instant_verdicts =
        crate::rollout::gates::evaluate_all(&instant, source, at).into_iter();
    let mut queries: Vec<String> = Vec::new();
    for g in gates {
        if let GateKind::Compare(c) = &g.kind {
            queries.push(c.ring_query());
            queries.extend(c.baseline_query());
        }
    }
    let step_ms = i64::try_from(step.as_millis()).unwrap_or(i64::MAX).max(1);
    let to = at.as_millisecond();
    let from = since
        .as_millisecond()
        .min(to)
        .max(to.saturating_sub(step_ms.saturating_mul(MAX_SAMPLES - 1)));
    let answers: Vec<RangeSeries> = if queries.is_empty() {
        Vec::new()
    } else {
        let start = jiff::Timestamp::from_millisecond(from).unwrap_or(at);
        source.query_range_many(
            &queries,
            &Grid {
                start,
                end: at,
                step,
            },
        )
    };
    let series: BTreeMap<&str, &RangeSeries> =
        queries.iter().map(String::as_str).zip(&answers).collect();
    // Compare gates with a `min_traffic` floor: their traffic now, in one batch.
    let floors: Vec<String> = gates
        .iter()
        .filter(|g| matches!(g.kind, GateKind::Compare(_)))
        .filter_map(|g| g.min_traffic.as_ref().map(|f| f.query.clone()))
        .collect();
    let traffic: BTreeMap<&str, crate::metrics::Answer> = if floors.is_empty() {
        BTreeMap::new()
    } else {
        floors
            .iter()
            .map(String::as_str)
            .zip(source.query_many(&floors, at))
            .collect()
    };
    let missing: RangeSeries = Err("the source gave no answer".into());
    let mut verdicts = Vec::with_capacity(gates.len());
    let mut evidence = Vec::with_capacity(gates.len());
    for g in gates {
        match &g.kind {
            GateKind::Compare(c) => {
                let ring = series
                    .get(c.ring_query().as_str())
                    .copied()
                    .unwrap_or(&missing);
                let base = c
                    .baseline_query()
                    .map(|q| series.get(q.as_str()).copied().unwrap_or(&missing));
                let (mut v, e) = judge_series(c, ring, base, from, to, step_ms);
                if let Some(floor) = &g.min_traffic {
                    let answer = traffic
                        .get(floor.query.as_str())
                        .cloned()
                        .unwrap_or_else(|| Err(format!("`{}` was not asked", floor.query)));
                    v = floor.apply(v, answer);
                }
                verdicts.push(v);
                evidence.push(e);
            }
            _ => {
                verdicts.push(instant_verdicts.next().unwrap_or(Verdict::Inconclusive {
                    reason: "the gate was not evaluated".into(),
                }));
                evidence.push(None);
            }
        }
    }
    (verdicts, evidence)
}

/// When the soak of ring `ring` of rollout `id` started: its last delivery,
/// or, for a ring with a `converged` query, when its hosts had picked that
/// delivery up (before, the ring's samples measure the previous revision).
pub fn soak_started(entries: &[Entry], id: &str, ring: &str) -> Option<jiff::Timestamp> {
    entries
        .iter()
        .rev()
        .filter(|e| e.body.rollout == id)
        .find(|e| {
            matches!(
                e.body.event.get("kind").and_then(|k| k.as_str()),
                Some("delivered" | "converged")
            ) && e.body.event.get("ring").and_then(|r| r.as_str()) == Some(ring)
        })
        .and_then(|e| e.body.at.parse().ok())
}

/// For a backtest of `ring` over `grid`: its compare gates' queries and the
/// grid moved back by the longest lookback (whole steps, so the points stay
/// on the grid); `None` without compare gates.
pub fn backtest_grid(ring: &Ring, grid: &Grid) -> Option<(Vec<String>, Grid)> {
    let mut queries = Vec::new();
    let mut back = Duration::ZERO;
    for g in &ring.gates {
        if let GateKind::Compare(c) = &g.kind {
            queries.push(c.ring_query());
            queries.extend(c.baseline_query());
            back = back.max(lookback(c, ring.soak, grid.step));
        }
    }
    if queries.is_empty() {
        return None;
    }
    let step_ms = grid.step_ms();
    let back_ms = i64::try_from(back.as_millis())
        .unwrap_or(i64::MAX)
        .min(step_ms.saturating_mul(MAX_SAMPLES));
    let steps = back_ms.saturating_add(step_ms - 1) / step_ms;
    let start = jiff::Timestamp::from_millisecond(
        grid.start
            .as_millisecond()
            .saturating_sub(steps.saturating_mul(step_ms)),
    )
    .unwrap_or(grid.start);
    Some((queries, Grid { start, ..*grid }))
}

/// A compare gate's latest evaluation in a rollout, for `rollout status`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Latest {
    pub ring: String,
    pub gate: String,
    pub at: String,
    pub verdict: String,
    pub value: Option<f64>,
    pub baseline: Option<f64>,
    pub p_value: Option<f64>,
    pub reason: Option<String>,
}

/// The latest evaluation of each compare gate (an evaluation with a
/// p-value, or a pending one) of rollout `id`, in order of first appearance.
pub fn latest_comparisons(entries: &[Entry], id: &str) -> Vec<Latest> {
    let mut out: Vec<Latest> = Vec::new();
    for e in entries.iter().filter(|e| e.body.rollout == id) {
        let ev = &e.body.event;
        let text = |k: &str| ev.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
        let verdict = text("verdict");
        if text("kind") != "evaluated" || (ev.get("p_value").is_none() && verdict != "pending") {
            continue;
        }
        let latest = Latest {
            ring: text("ring"),
            gate: text("gate"),
            at: e.body.at.clone(),
            verdict,
            value: ev.get("value").and_then(|v| v.as_f64()),
            baseline: ev.get("baseline").and_then(|v| v.as_f64()),
            p_value: ev.get("p_value").and_then(|v| v.as_f64()),
            reason: ev.get("reason").and_then(|v| v.as_str()).map(str::to_owned),
        };
        match out
            .iter_mut()
            .find(|l| l.ring == latest.ring && l.gate == latest.gate)
        {
            Some(slot) => *slot = latest,
            None => out.push(latest),
        }
    }
    out
}

/// The debrief's probe for a compare gate's halt: the ring's own series
/// against the limit the halt breached (the baseline's median and the
/// margin), so "impact began" is when the ring's metric crossed it. `None`
/// for other gates, or a halt without a limit.
pub fn onset_probe(gate: &Gate, threshold: Option<f64>) -> Option<Gate> {
    let GateKind::Compare(c) = &gate.kind else {
        return None;
    };
    let limit = threshold.filter(|t| t.is_finite())?;
    let (max, min) = match c.worse {
        Worse::Higher => (Some(limit), None),
        Worse::Lower => (None, Some(limit)),
    };
    Some(Gate {
        name: gate.name.clone(),
        kind: GateKind::Threshold {
            query: c.ring_query(),
            max,
            min,
        },
        shadow: gate.shadow,
        min_traffic: None,
    })
}

/// How far back a judgement outside a soak (`gates check`, a backtest step)
/// reads: the ring's soak, and at least `min_samples` intervals.
pub fn lookback(c: &Compare, soak: Duration, step: Duration) -> Duration {
    soak.max(step.saturating_mul(c.min_samples))
}

#[cfg(test)]
mod tests;
