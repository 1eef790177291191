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

use crate::config::document::{Node, Value, shown};
use crate::diag::{Diagnostic, Pos, Rule};
use crate::metrics::{Grid, MetricsSource, RangeSeries};
use crate::rollout::gates::{Gate, GateKind, Verdict};
use crate::rollout::journal::Entry;
use crate::rollout::rings::Ring;

/// `alpha` when the gate does not set it.
pub const DEFAULT_ALPHA: f64 = 0.05;
/// `min_samples` when the gate does not set it, and its range.
pub const DEFAULT_MIN_SAMPLES: u32 = 10;
pub const MIN_MIN_SAMPLES: i64 = 3;
pub const MAX_MIN_SAMPLES: i64 = 10_000;
/// The most samples a judgement reads per series (the latest ones): a soak
/// of days at 1 s stays one range query Prometheus answers.
pub const MAX_SAMPLES: i64 = 10_000;

/// Which way is worse for the gate's metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worse {
    /// Error ratios, latencies (the default).
    Higher,
    /// Success ratios, throughput.
    Lower,
}

/// A compare gate, as its ring file states it and as its ring's place in
/// the ring order resolves it.
#[derive(Debug, Clone, PartialEq)]
pub struct Compare {
    /// The template, with `{ring}` and/or `{selector}`.
    pub query: String,
    /// The label `{selector}` matches ring names with (default `ring`).
    pub label: String,
    /// The baseline as a label matcher (`ring="prod", zone="eu"`); `None`:
    /// the later rings.
    pub selector: Option<String>,
    /// How much worse, relatively, the ring may be (0.2: 20 %).
    pub margin: f64,
    pub worse: Worse,
    pub alpha: f64,
    pub min_samples: u32,
    /// Where the gate's `compare` mapping is, for findings.
    pub pos: Pos,
    /// The ring under test (filled in by [`resolve`]).
    pub ring: String,
    /// The rings after it in the ring order: they still hold the previous
    /// revision while this ring soaks (filled in by [`resolve`]).
    pub later: Vec<String>,
    /// The rounds a soak of the ring tests (soak / interval, at least 1;
    /// filled in by [`resolve`]): `alpha` is spent evenly over them.
    pub looks: u32,
}

/// What a judged compare gate reports beside its verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    /// The baseline's median over the same samples' time.
    pub baseline: f64,
    /// The one-sided Mann–Whitney p-value that the ring is worse.
    pub p_value: f64,
}

impl Compare {
    /// The significance level of one round: `alpha` over the soak's rounds
    /// (Bonferroni). Each round tests the soak's samples again; without the
    /// split, a healthy ring soaked over 30 rounds would breach about three
    /// times as often as `alpha` says.
    pub fn round_alpha(&self) -> f64 {
        self.alpha / f64::from(self.looks.max(1))
    }

    /// The query for the ring under test.
    pub fn ring_query(&self) -> String {
        self.fill(&self.ring, &format!("{}=~\"{}\"", self.label, self.ring))
    }

    /// The query for the baseline; `None` when there is none (the last
    /// ring, no `baseline` selector).
    pub fn baseline_query(&self) -> Option<String> {
        if let Some(selector) = &self.selector {
            return Some(self.fill("", selector));
        }
        if self.later.is_empty() {
            return None;
        }
        let names = self.later.join("|");
        Some(self.fill(&names, &format!("{}=~\"{names}\"", self.label)))
    }

    fn fill(&self, names: &str, selector: &str) -> String {
        self.query
            .replace("{selector}", selector)
            .replace("{ring}", names)
    }

    /// Why there is no baseline, for the evaluation's reason.
    pub fn no_baseline(&self) -> String {
        format!(
            "no baseline: ring `{}` is the last ring, and the gate sets no `baseline` selector",
            self.ring
        )
    }
}

/// Gives every compare gate its ring and the rings after it (`rings` in
/// promotion order).
pub(crate) fn resolve(rings: &mut [Ring]) {
    let names: Vec<String> = rings.iter().map(|r| r.name.clone()).collect();
    for (i, ring) in rings.iter_mut().enumerate() {
        for gate in &mut ring.gates {
            if let GateKind::Compare(c) = &mut gate.kind {
                c.ring = ring.name.clone();
                c.looks = u32::try_from(ring.soak.as_millis() / ring.interval.as_millis().max(1))
                    .unwrap_or(u32::MAX)
                    .max(1);
                c.later = names[i + 1..]
                    .iter()
                    .filter(|n| **n != ring.name)
                    .cloned()
                    .collect();
            }
        }
    }
}

fn number(node: &Node) -> Option<f64> {
    match node.value {
        Value::Int(i) => Some(i as f64),
        Value::Float(f) => Some(f),
        _ => None,
    }
}

/// Reads a gate's `compare` mapping (already checked by the schema and
/// [`findings`]); `None` when it has no query or margin.
pub(crate) fn parse(node: &Node) -> Option<Compare> {
    let text = |k: &str| {
        node.get(k)
            .and_then(|e| e.value.value.as_str())
            .map(str::to_owned)
    };
    Some(Compare {
        query: text("query")?,
        label: text("label").unwrap_or_else(|| "ring".into()),
        selector: text("baseline"),
        margin: node.get("margin").and_then(|e| number(&e.value))?,
        worse: match text("direction").as_deref() {
            Some("lower-is-worse") => Worse::Lower,
            _ => Worse::Higher,
        },
        alpha: node
            .get("alpha")
            .and_then(|e| number(&e.value))
            .unwrap_or(DEFAULT_ALPHA),
        min_samples: node
            .get("min_samples")
            .and_then(|e| match e.value.value {
                Value::Int(n) => u32::try_from(n).ok(),
                _ => None,
            })
            .unwrap_or(DEFAULT_MIN_SAMPLES),
        pos: node.pos,
        ring: String::new(),
        later: Vec::new(),
        looks: 1,
    })
}

/// Every value of a ring file's compare gates that the schema cannot judge:
/// a margin that is negative or not finite, an `alpha` outside (0, 1),
/// `min_samples` out of range, a query with nothing to substitute (ring and
/// baseline would be the same series), `{ring}` beside a `baseline` selector.
pub(crate) fn findings(file: &str, ring: &Node) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let Some(Value::Seq(items)) = ring.get("gates").map(|e| &e.value.value) else {
        return found;
    };
    let mut bad = |node: &Node, path: String, msg: String, help: &str| {
        found.push(
            Diagnostic::new(Rule::Schema, file, node.pos, msg)
                .with_path(path)
                .with_help(help),
        );
    };
    for (i, item) in items.iter().enumerate() {
        let Some(compare) = item.get("compare").map(|e| &e.value) else {
            continue;
        };
        if let Some(e) = compare.get("margin")
            && !number(&e.value).is_some_and(|m| m.is_finite() && m >= 0.0)
        {
            bad(
                &e.value,
                format!("/gates/{i}/compare/margin"),
                format!(
                    "`margin` is {}: it must be a finite number, 0 or more",
                    shown(&e.value.value)
                ),
                "write how much worse than the baseline the ring may be, as a ratio: `margin: 0.2` is 20 %",
            );
        }
        if let Some(e) = compare.get("alpha")
            && !number(&e.value).is_some_and(|a| a > 0.0 && a < 1.0)
        {
            bad(
                &e.value,
                format!("/gates/{i}/compare/alpha"),
                format!(
                    "`alpha` is {}: it must be strictly between 0 and 1",
                    shown(&e.value.value)
                ),
                "write the significance level of the test, e.g. `alpha: 0.05` (the default)",
            );
        }
        if let Some(e) = compare.get("min_samples")
            && !matches!(e.value.value, Value::Int(n) if (MIN_MIN_SAMPLES..=MAX_MIN_SAMPLES).contains(&n))
        {
            bad(
                &e.value,
                format!("/gates/{i}/compare/min_samples"),
                format!(
                    "`min_samples` is {}: it must be a whole number from {MIN_MIN_SAMPLES} to {MAX_MIN_SAMPLES}",
                    shown(&e.value.value)
                ),
                "the samples each series needs before the gate judges; the default is 10",
            );
        }
        if let Some(e) = compare.get("query")
            && let Some(q) = e.value.value.as_str()
        {
            let has_selector = compare.get("baseline").is_some();
            if !q.contains("{ring}") && !q.contains("{selector}") {
                bad(
                    &e.value,
                    format!("/gates/{i}/compare/query"),
                    "the compare query has neither `{ring}` nor `{selector}`: the ring and the baseline would be the same series".into(),
                    "select the ring in the query, e.g. `sum(rate(errors_total{ring=~\"{ring}\"}[1m]))`",
                );
            } else if has_selector && q.contains("{ring}") {
                bad(
                    &e.value,
                    format!("/gates/{i}/compare/query"),
                    "the compare query uses `{ring}`, but the gate's `baseline` is a label selector, not ring names".into(),
                    "write `{selector}` where the ring's labels go, e.g. `errors_total{{selector}}`",
                );
            }
        }
    }
    found
}

/// The `check` finding for compare gates with nothing to compare with: the
/// last ring's, when they set no `baseline` selector (`rings` in order).
pub(crate) fn no_baseline_findings(rings: &[Ring]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for ring in rings {
        for gate in &ring.gates {
            if let GateKind::Compare(c) = &gate.kind
                && c.baseline_query().is_none()
            {
                out.push(
                    Diagnostic::new(
                        Rule::RingNoBaseline,
                        &ring.file,
                        c.pos,
                        format!(
                            "compare gate `{}` of ring `{}` has no baseline: no ring comes after it, and the gate sets no `baseline` selector",
                            gate.name, ring.name
                        ),
                    )
                    .with_help("add `baseline: 'ring=\"<label values>\"'` (a label selector for the classes that keep the previous revision), or use a threshold gate in the last ring"),
                );
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Statistics

/// The median of finite samples (`NaN` for none).
pub fn median(samples: &[f64]) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// Midranks (from 1) of `values` and the tie term Σ(t³ − t) over groups of
/// equal values.
fn ranks(values: &[f64]) -> (Vec<f64>, f64) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
    let mut rank = vec![0.0; values.len()];
    let mut ties = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        // Positions i..=j share the mean of ranks i+1..=j+1.
        let mid = (i + j) as f64 / 2.0 + 1.0;
        for k in &order[i..=j] {
            rank[*k] = mid;
        }
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        i = j + 1;
    }
    (rank, ties)
}

/// The Mann–Whitney U of `x`: the pairs (x, y) with x > y, ties counting half.
pub fn mann_whitney_u(x: &[f64], y: &[f64]) -> f64 {
    let combined: Vec<f64> = x.iter().chain(y).copied().collect();
    let (rank, _) = ranks(&combined);
    let n1 = x.len() as f64;
    rank[..x.len()].iter().sum::<f64>() - n1 * (n1 + 1.0) / 2.0
}

/// Both samples together at most this many for the exact distribution.
const EXACT_MAX: usize = 40;

/// The one-sided p-value that `x` is stochastically greater than `y`: exact
/// when there are no ties and at most 40 samples in all, else the normal
/// approximation with tie and continuity correction (as
/// `scipy.stats.mannwhitneyu(x, y, alternative="greater")`). 1 when either
/// sample is empty or every value is equal.
pub fn p_greater(x: &[f64], y: &[f64]) -> f64 {
    if x.is_empty() || y.is_empty() {
        return 1.0;
    }
    let combined: Vec<f64> = x.iter().chain(y).copied().collect();
    let (_, ties) = ranks(&combined);
    let u = mann_whitney_u(x, y);
    if ties == 0.0 && combined.len() <= EXACT_MAX {
        return p_greater_exact(u, x.len(), y.len());
    }
    p_greater_normal(u, x.len(), y.len(), ties)
}

/// P(U ≥ u) under the null hypothesis, without ties: the count of
/// arrangements over all C(n1 + n2, n1) of them.
fn p_greater_exact(u: f64, n1: usize, n2: usize) -> f64 {
    // counts[m][n][k]: orderings of m x's and n y's with U = k. The largest
    // value is an x (it beats all n y's) or a y (it beats nothing).
    let mut counts: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); n2 + 1]; n1 + 1];
    for m in 0..=n1 {
        for n in 0..=n2 {
            counts[m][n] = if m == 0 || n == 0 {
                vec![1.0]
            } else {
                let mut c = vec![0.0; m * n + 1];
                for (k, v) in counts[m - 1][n].iter().enumerate() {
                    c[k + n] += v;
                }
                for (k, v) in counts[m][n - 1].iter().enumerate() {
                    c[k] += v;
                }
                c
            };
        }
    }
    let dist = &counts[n1][n2];
    let total: f64 = dist.iter().sum();
    let from = u.ceil().max(0.0) as usize;
    dist.iter().skip(from).sum::<f64>() / total
}

/// P(U ≥ u) by the normal approximation, with the tie-corrected variance
/// and a continuity correction of ½.
fn p_greater_normal(u: f64, n1: usize, n2: usize, ties: f64) -> f64 {
    let (a, b) = (n1 as f64, n2 as f64);
    let n = a + b;
    let mean = a * b / 2.0;
    let var = a * b / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    if var <= 0.0 || !var.is_finite() {
        return 1.0;
    }
    let z = (u - mean - 0.5) / var.sqrt();
    normal_sf(z)
}

/// P(Z > z) for a standard normal Z.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function (Numerical Recipes' `erfcc`: relative
/// error below 1.2e-7 everywhere, plenty for a p-value).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
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
                let (v, e) = judge_series(c, ring, base, from, to, step_ms);
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

/// When ring `ring` of rollout `id` was last delivered: its soak's start.
pub fn soak_started(entries: &[Entry], id: &str, ring: &str) -> Option<jiff::Timestamp> {
    entries
        .iter()
        .rev()
        .filter(|e| e.body.rollout == id)
        .find(|e| {
            e.body.event.get("kind").and_then(|k| k.as_str()) == Some("delivered")
                && e.body.event.get("ring").and_then(|r| r.as_str()) == Some(ring)
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

/// How far back a judgement outside a soak (`gates check`, a backtest step)
/// reads: the ring's soak, and at least `min_samples` intervals.
pub fn lookback(c: &Compare, soak: Duration, step: Duration) -> Duration {
    soak.max(step.saturating_mul(c.min_samples))
}

#[cfg(test)]
mod tests;
