//! SLO gates (SPEC §3.4): a ring's gates, evaluated against a metrics source.
//!
//! A threshold gate breaches when its query's value is above `max` (or below
//! `min`). A burn-rate gate substitutes each window into its `errors` and
//! `total` queries, computes burn rate = (errors / total) / (1 - objective),
//! and breaches when both the long and the short window of a pair exceed the
//! pair's factor (the SRE workbook's multiwindow, multi-burn-rate alert).
//! Anything that is not a clean number — an error, no data, a zero total —
//! is *inconclusive*: the caller counts those and fails closed.

use std::collections::HashMap;
use std::time::Duration;

use crate::config::document::shown;
use crate::config::document::{Node, Value};
use crate::diag::{Diagnostic, Rule};
use crate::metrics::{Answer, MetricsSource};
use crate::model::duration::{duration, parse_duration};

#[derive(Debug, Clone, PartialEq)]
pub struct BurnWindow {
    pub long: Duration,
    pub short: Duration,
    pub factor: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GateKind {
    Threshold {
        query: String,
        max: Option<f64>,
        min: Option<f64>,
    },
    BurnRate {
        objective: f64,
        errors: String,
        total: String,
        windows: Vec<BurnWindow>,
    },
    /// A baseline gate: see [`crate::rollout::compare`].
    Compare(Box<crate::rollout::baseline::Compare>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    pub name: String,
    pub kind: GateKind,
    /// `mode: shadow`: evaluated and journaled, never halts.
    pub shadow: bool,
    /// Below this traffic the gate's value says nothing: its evaluation is
    /// idle (the soak clock waits) instead of a verdict.
    pub min_traffic: Option<TrafficFloor>,
}

/// A gate's `min_traffic`: a query for the ring's traffic (e.g. requests per
/// second) and the floor below which the gate is not judged.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficFloor {
    pub query: String,
    pub min: f64,
}

/// One evaluation's outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Healthy {
        value: f64,
        threshold: f64,
    },
    Breach {
        value: f64,
        threshold: f64,
    },
    Inconclusive {
        reason: String,
    },
    /// The gate's traffic was below its floor: no verdict, the soak clock
    /// waits. The gate's own value and threshold, when it had them.
    Idle {
        traffic: f64,
        floor: f64,
        value: Option<f64>,
        threshold: Option<f64>,
    },
    /// A compare gate with too few samples yet: the round counts toward
    /// neither the soak nor the inconclusive limit.
    Pending {
        reason: String,
    },
}

impl Verdict {
    /// What the journal records of it: value, threshold (none when the gate
    /// has no finite one) and, for an inconclusive one, why.
    pub fn parts(&self) -> (Option<f64>, Option<f64>, Option<String>) {
        match self {
            Verdict::Healthy { value, threshold } | Verdict::Breach { value, threshold } => (
                Some(*value),
                threshold.is_finite().then_some(*threshold),
                None,
            ),
            Verdict::Inconclusive { reason } | Verdict::Pending { reason } => {
                (None, None, Some(reason.clone()))
            }
            Verdict::Idle {
                value, threshold, ..
            } => (*value, *threshold, None),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Healthy { .. } => "healthy",
            Verdict::Breach { .. } => "breach",
            Verdict::Inconclusive { .. } => "inconclusive",
            Verdict::Idle { .. } => "idle",
            Verdict::Pending { .. } => "pending",
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

/// The shortest burn-rate window: Prometheus ranges are whole seconds.
const MIN_WINDOW: Duration = Duration::from_secs(1);

/// Every gate value of a ring document that is out of range or of the wrong
/// kind: thresholds that are not finite numbers (`.nan` never breaches), a
/// `min` above `max`, objectives outside (0, 1), factors that are not
/// positive, windows that are not durations of whole seconds. A gate the
/// schema rejects outright (no name, no query) is the schema's to report.
pub(crate) fn gate_findings(file: &str, ring: &Node) -> Vec<Diagnostic> {
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
    let finite = |node: &Node| number(node).filter(|n| n.is_finite());
    for (i, item) in items.iter().enumerate() {
        let mut bounds = Vec::new();
        for key in ["max", "min"] {
            let Some(e) = item.get(key) else { continue };
            match finite(&e.value) {
                Some(n) => bounds.push(n),
                None => bad(
                    &e.value,
                    format!("/gates/{i}/{key}"),
                    format!(
                        "`{key}` is {}: a threshold must be a finite number",
                        shown(&e.value.value)
                    ),
                    "write the number the gate's value must not cross, e.g. `max: 0.01`",
                ),
            }
        }
        if let (Some(max), Some(min)) = (item.get("max"), item.get("min"))
            && let (Some(hi), Some(lo)) = (finite(&max.value), finite(&min.value))
            && lo > hi
        {
            bad(
                &min.value,
                format!("/gates/{i}/min"),
                format!("`min` {lo} is above `max` {hi}: every value breaches this gate"),
                "swap them, or fix the one that is wrong",
            );
        }
        if let Some(e) = item.get("mode")
            && !matches!(e.value.value.as_str(), Some("enforce" | "shadow"))
        {
            bad(
                &e.value,
                format!("/gates/{i}/mode"),
                format!(
                    "`mode` is {}: it must be `enforce` or `shadow`",
                    shown(&e.value.value)
                ),
                "`enforce` (the default) halts the ring on a breach; `shadow` only records",
            );
        }
        let Some(burn) = item.get("burn_rate").map(|e| &e.value) else {
            continue;
        };
        if let Some(e) = burn.get("objective")
            && !finite(&e.value).is_some_and(|o| o > 0.0 && o < 1.0)
        {
            bad(
                &e.value,
                format!("/gates/{i}/burn_rate/objective"),
                format!(
                    "`objective` is {}: it must be a ratio strictly between 0 and 1",
                    shown(&e.value.value)
                ),
                "write the SLO as a ratio, e.g. `objective: 0.999`",
            );
        }
        let Some(Value::Seq(windows)) = burn.get("windows").map(|e| &e.value.value) else {
            continue;
        };
        for (j, w) in windows.iter().enumerate() {
            let mut lengths = Vec::new();
            for key in ["long", "short"] {
                let Some(e) = w.get(key) else { continue };
                let path = format!("/gates/{i}/burn_rate/windows/{j}/{key}");
                let why = match e.value.value.as_str().map(duration) {
                    Some(Ok(d)) if d >= MIN_WINDOW && d.subsec_nanos() == 0 => {
                        lengths.push(d);
                        continue;
                    }
                    Some(Ok(_)) => "is not a whole number of seconds (at least 1s)".to_owned(),
                    Some(Err(why)) => why,
                    None => "is not a duration".to_owned(),
                };
                bad(
                    &e.value,
                    path,
                    format!("`{key}` {} {why}", shown(&e.value.value)),
                    "write a window such as `1h` or `5m`",
                );
            }
            if let [long, short] = lengths[..]
                && short > long
            {
                bad(
                    &w.get("short").map_or(w, |e| &e.value).clone(),
                    format!("/gates/{i}/burn_rate/windows/{j}/short"),
                    "the `short` window is longer than the `long` one".into(),
                    "swap them: the short window is the one that resets quickly",
                );
            }
            if let Some(e) = w.get("factor")
                && !finite(&e.value).is_some_and(|f| f > 0.0)
            {
                bad(
                    &e.value,
                    format!("/gates/{i}/burn_rate/windows/{j}/factor"),
                    format!(
                        "`factor` is {}: it must be a positive finite number",
                        shown(&e.value.value)
                    ),
                    "write the burn rate both windows must exceed, e.g. `factor: 14.4`",
                );
            }
        }
    }
    found.extend(min_traffic_findings(file, items));
    found
}

/// A gate's `min_traffic` floor that is not a finite number of at least 0.
fn min_traffic_findings(file: &str, items: &[Node]) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(e) = item.get("min_traffic").and_then(|t| t.value.get("min")) else {
            continue;
        };
        if !number(&e.value).is_some_and(|n| n.is_finite() && n >= 0.0) {
            found.push(
                Diagnostic::new(
                    Rule::Schema,
                    file,
                    e.value.pos,
                    format!(
                        "`min_traffic.min` is {}: the traffic floor must be a finite number of at least 0",
                        shown(&e.value.value)
                    ),
                )
                .with_path(format!("/gates/{i}/min_traffic/min"))
                .with_help("write the traffic below which the gate is not judged, e.g. `min: 1` (requests per second)"),
            );
        }
    }
    found
}

/// A gate's `min_traffic`, when it has a valid one.
fn parse_min_traffic(item: &Node) -> Option<TrafficFloor> {
    let floor = &item.get("min_traffic")?.value;
    Some(TrafficFloor {
        query: floor.get("query")?.value.value.as_str()?.to_owned(),
        min: number(&floor.get("min")?.value).filter(|n| n.is_finite() && *n >= 0.0)?,
    })
}

/// Reads the gates of a ring document (already checked against the ring schema).
pub fn parse_gates(ring: &Node) -> Vec<Gate> {
    let Some(Value::Seq(items)) = ring.get("gates").map(|e| &e.value.value) else {
        return Vec::new();
    };
    let mut gates = Vec::new();
    for item in items {
        let Some(name) = item.get("name").and_then(|e| e.value.value.as_str()) else {
            continue;
        };
        let shadow = item
            .get("mode")
            .and_then(|e| e.value.value.as_str())
            .is_some_and(|m| m == "shadow");
        let kind = if let Some(query) = item.get("query").and_then(|e| e.value.value.as_str()) {
            GateKind::Threshold {
                query: query.to_owned(),
                max: item.get("max").and_then(|e| number(&e.value)),
                min: item.get("min").and_then(|e| number(&e.value)),
            }
        } else if let Some(burn) = item.get("burn_rate").map(|e| &e.value) {
            let text = |k: &str| {
                burn.get(k)
                    .and_then(|e| e.value.value.as_str())
                    .map(str::to_owned)
            };
            let windows = match burn.get("windows").map(|e| &e.value.value) {
                Some(Value::Seq(ws)) => ws
                    .iter()
                    .filter_map(|w| {
                        Some(BurnWindow {
                            long: parse_duration(w.get("long")?.value.value.as_str()?)?,
                            short: parse_duration(w.get("short")?.value.value.as_str()?)?,
                            factor: number(&w.get("factor")?.value)?,
                        })
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let (Some(errors), Some(total), Some(objective)) = (
                text("errors"),
                text("total"),
                burn.get("objective").and_then(|e| number(&e.value)),
            ) else {
                continue;
            };
            GateKind::BurnRate {
                objective,
                errors,
                total,
                windows,
            }
        } else if let Some(compare) = item
            .get("compare")
            .and_then(|e| crate::rollout::baseline::parse(&e.value))
        {
            GateKind::Compare(Box::new(compare))
        } else {
            continue;
        };
        gates.push(Gate {
            name: name.to_owned(),
            kind,
            shadow,
            min_traffic: parse_min_traffic(item),
        });
    }
    gates
}

/// `5m`, `1h`, `90s`: how Prometheus writes a range.
fn prometheus_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

fn clean(value: Answer, query: &str) -> Result<f64, String> {
    match value {
        Err(e) => Err(format!("`{query}` failed: {e}")),
        Ok(None) => Err(format!("no data for `{query}`")),
        Ok(Some(v)) if !v.is_finite() => Err(format!("`{query}` returned {v}")),
        Ok(Some(v)) => Ok(v),
    }
}

/// Evaluates every gate at `at` with one batch of queries (each distinct
/// query asked once): verdicts in the gates' order.
pub fn evaluate_all(
    gates: &[Gate],
    source: &dyn MetricsSource,
    at: jiff::Timestamp,
) -> Vec<Verdict> {
    let queries = all_queries(gates);
    let answers: HashMap<&str, Answer> = queries
        .iter()
        .map(String::as_str)
        .zip(source.query_many(&queries, at))
        .collect();
    let answer = |q: &str| {
        answers
            .get(q)
            .cloned()
            .unwrap_or_else(|| Err(format!("`{q}` was not asked")))
    };
    gates
        .iter()
        .map(|g| match &g.min_traffic {
            Some(floor) => floor.apply(g.judge(&answer), answer(&floor.query)),
            None => g.judge(&answer),
        })
        .collect()
}

/// The gates' queries and their traffic queries, each once: what a round
/// asks, and what a preflight checks.
pub fn all_queries(gates: &[Gate]) -> Vec<String> {
    let mut out = distinct_queries(gates);
    for floor in gates.iter().filter_map(|g| g.min_traffic.as_ref()) {
        if !out.contains(&floor.query) {
            out.push(floor.query.clone());
        }
    }
    out
}

impl TrafficFloor {
    /// The verdict once the traffic is known: below the floor the gate is
    /// idle whatever its value; with the traffic unknown a healthy verdict
    /// is inconclusive (fail closed: it may be healthy for lack of traffic),
    /// a breach stays a breach.
    pub fn apply(&self, verdict: Verdict, traffic: Answer) -> Verdict {
        match clean(traffic, &self.query) {
            Ok(traffic) if traffic < self.min => {
                let (value, threshold, _) = verdict.parts();
                Verdict::Idle {
                    traffic,
                    floor: self.min,
                    value,
                    threshold,
                }
            }
            Ok(_) => verdict,
            Err(reason) => match verdict {
                Verdict::Healthy { .. } => Verdict::Inconclusive {
                    reason: format!("traffic unknown: {reason}"),
                },
                other => other,
            },
        }
    }
}

/// Every query the gates ask, each once, in first-use order.
pub fn distinct_queries(gates: &[Gate]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for q in gates.iter().flat_map(Gate::queries) {
        if !out.contains(&q) {
            out.push(q);
        }
    }
    out
}

/// The name of the first gate that asks `query` (`?` when none does): a
/// rejected query is reported by the gate a person wrote, not by PromQL.
pub fn gate_asking<'a>(gates: &'a [Gate], query: &str) -> &'a str {
    gates
        .iter()
        .find(|g| {
            g.queries().iter().any(|q| q == query)
                || g.min_traffic.as_ref().is_some_and(|f| f.query == query)
        })
        .map_or("?", |g| g.name.as_str())
}

impl Gate {
    /// The queries this gate asks: its query, or each window's errors and total.
    pub fn queries(&self) -> Vec<String> {
        match &self.kind {
            GateKind::Threshold { query, .. } => vec![query.clone()],
            GateKind::BurnRate {
                errors,
                total,
                windows,
                ..
            } => {
                let mut out = Vec::new();
                for w in windows {
                    for d in [w.long, w.short] {
                        let d = prometheus_duration(d);
                        for q in [
                            errors.replace("{window}", &d),
                            total.replace("{window}", &d),
                        ] {
                            if !out.contains(&q) {
                                out.push(q);
                            }
                        }
                    }
                }
                out
            }
            GateKind::Compare(c) => {
                let mut out = vec![c.ring_query()];
                out.extend(c.baseline_query());
                out
            }
        }
    }

    /// What a halt says about a breach: the value and the threshold, as a
    /// burn rate against its factor for a burn-rate gate.
    pub fn breach_text(&self, value: f64, threshold: f64) -> String {
        let (v, t) = (
            crate::model::number::short(value),
            crate::model::number::short(threshold),
        );
        match self.kind {
            GateKind::Threshold { .. } => format!("gate `{}` breached: {v} against {t}", self.name),
            GateKind::BurnRate { .. } => format!(
                "gate `{}` breached: burn rate {v} against factor {t}",
                self.name
            ),
            GateKind::Compare(_) => format!(
                "gate `{}` breached: ring median {v} against {t} (the baseline's median and the margin)",
                self.name
            ),
        }
    }

    /// Evaluates the gate at `at`.
    pub fn evaluate(&self, source: &dyn MetricsSource, at: jiff::Timestamp) -> Verdict {
        self.judge(&|q| source.query(q, at))
    }

    /// The verdict from the answers to [`Gate::queries`].
    pub fn judge(&self, answer: &dyn Fn(&str) -> Answer) -> Verdict {
        match &self.kind {
            GateKind::Threshold { query, max, min } => {
                let value = match clean(answer(query), query) {
                    Ok(v) => v,
                    Err(reason) => return Verdict::Inconclusive { reason },
                };
                if let Some(max) = max
                    && value > *max
                {
                    return Verdict::Breach {
                        value,
                        threshold: *max,
                    };
                }
                if let Some(min) = min
                    && value < *min
                {
                    return Verdict::Breach {
                        value,
                        threshold: *min,
                    };
                }
                Verdict::Healthy {
                    value,
                    threshold: max.or(*min).unwrap_or(f64::NAN),
                }
            }
            GateKind::BurnRate {
                objective,
                errors,
                total,
                windows,
            } => {
                let budget = 1.0 - objective;
                if budget <= 0.0 {
                    return Verdict::Inconclusive {
                        reason: "objective leaves no error budget".into(),
                    };
                }
                let burn = |window: Duration| -> Result<f64, String> {
                    let w = prometheus_duration(window);
                    let (eq, tq) = (
                        errors.replace("{window}", &w),
                        total.replace("{window}", &w),
                    );
                    let e = clean(answer(&eq), &eq)?;
                    let t = clean(answer(&tq), &tq)?;
                    if t == 0.0 {
                        // No traffic is not health: fail closed.
                        return Err(format!("no traffic in `{tq}`"));
                    }
                    Ok((e / t) / budget)
                };
                let mut worst: Option<(f64, f64)> = None;
                for w in windows {
                    let (long, short) = match (burn(w.long), burn(w.short)) {
                        (Ok(l), Ok(s)) => (l, s),
                        (Err(reason), _) | (_, Err(reason)) => {
                            return Verdict::Inconclusive { reason };
                        }
                    };
                    let value = long.min(short);
                    if long > w.factor && short > w.factor {
                        return Verdict::Breach {
                            value,
                            threshold: w.factor,
                        };
                    }
                    if worst.is_none_or(|(v, _)| value > v) {
                        worst = Some((value, w.factor));
                    }
                }
                match worst {
                    Some((value, threshold)) => Verdict::Healthy { value, threshold },
                    None => Verdict::Inconclusive {
                        reason: "the gate has no windows".into(),
                    },
                }
            }
            // Judged over a soak's samples (`compare::evaluate_round`), never
            // from one instant's answers.
            GateKind::Compare(_) => Verdict::Inconclusive {
                reason: "a compare gate is judged over the soak's samples, not one instant".into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::document::parse_fixture;
    use crate::metrics::embedded::EmbeddedMetrics;

    /// The gate lints at their boundaries: each case is one gate, and the
    /// JSON Pointers of its findings (none: the gate is fine). A value
    /// exactly at a limit is on the side the message promises.
    #[test]
    fn gate_lints_draw_their_lines_exactly_at_the_limits() {
        let burn = |objective: &str, long: &str, short: &str, factor: &str| {
            format!(
                "{{name: b, query: q, burn_rate: {{objective: {objective}, \
                 windows: [{{long: {long}, short: {short}, factor: {factor}}}]}}}}"
            )
        };
        let w = "/gates/0/burn_rate/windows/0";
        let cases: Vec<(String, Vec<String>)> = vec![
            ("{name: g, query: q, max: 1, min: 1}".into(), vec![]),
            (
                "{name: g, query: q, max: 1, min: 1.5}".into(),
                vec!["/gates/0/min".into()],
            ),
            (
                "{name: g, query: q, max: .inf}".into(),
                vec!["/gates/0/max".into()],
            ),
            (burn("0.5", "1h", "5m", "14.4"), vec![]),
            (
                burn("0", "1h", "5m", "14.4"),
                vec!["/gates/0/burn_rate/objective".into()],
            ),
            (
                burn("1", "1h", "5m", "14.4"),
                vec!["/gates/0/burn_rate/objective".into()],
            ),
            (
                burn("1.5", "1h", "5m", "14.4"),
                vec!["/gates/0/burn_rate/objective".into()],
            ),
            // The shortest window (1s), equal windows, the smallest factor.
            (burn("0.999", "1s", "1s", "0.001"), vec![]),
            (
                burn("0.999", "1h", "1500ms", "1"),
                vec![format!("{w}/short")],
            ),
            (burn("0.999", "1h", "2h", "1"), vec![format!("{w}/short")]),
            (burn("0.999", "1h", "5m", "0"), vec![format!("{w}/factor")]),
            (burn("0.999", "1h", "5m", "-1"), vec![format!("{w}/factor")]),
            (
                "{name: g, query: q, max: 1, min_traffic: {query: t, min: 0}}".into(),
                vec![],
            ),
            (
                "{name: g, query: q, max: 1, min_traffic: {query: t, min: -0.5}}".into(),
                vec!["/gates/0/min_traffic/min".into()],
            ),
        ];
        for (gate, expected) in cases {
            let ring = parse_fixture(&format!("name: r\norder: 1\ngates: [{gate}]\n"));
            let found: Vec<String> = gate_findings("r.yaml", &ring)
                .into_iter()
                .filter_map(|d| d.path)
                .collect();
            assert_eq!(found, expected, "{gate}");
        }
        // A floor of 0 is a floor; a negative one is not read as one.
        let floor = |min: &str| {
            let ring = parse_fixture(&format!(
                "gates: [{{name: g, query: q, max: 1, min_traffic: {{query: t, min: {min}}}}}]\n"
            ));
            parse_gates(&ring)
                .first()
                .and_then(|g| g.min_traffic.as_ref().map(|f| (f.query.clone(), f.min)))
        };
        assert_eq!(floor("0"), Some(("t".to_owned(), 0.0)));
        assert_eq!(floor("2.5"), Some(("t".to_owned(), 2.5)));
        assert_eq!(floor("-1"), None);
    }

    fn at(s: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    #[test]
    fn threshold_gates_breach_above_max_and_below_min_and_fail_closed() {
        let ring = parse_fixture(
            "gates:\n  - {name: err, query: e, max: 0.01}\n  - {name: rps, query: r, min: 10, mode: shadow}\n",
        );
        let gates = parse_gates(&ring);
        assert_eq!(gates.len(), 2);
        assert!(gates[1].shadow);
        let metrics = EmbeddedMetrics::parse(
            &parse_fixture("series:\n  e: [[0, 0.001], [60, 0.5]]\n  r: [[0, 50], [60, 5]]\n"),
            at(0),
        );
        assert_eq!(gates[0].evaluate(&metrics, at(30)).as_str(), "healthy");
        assert_eq!(
            gates[0].evaluate(&metrics, at(61)),
            Verdict::Breach {
                value: 0.5,
                threshold: 0.01
            }
        );
        assert_eq!(gates[1].evaluate(&metrics, at(61)).as_str(), "breach");
        // Before the first sample: no data, inconclusive.
        assert_eq!(gates[0].evaluate(&metrics, at(-1)).as_str(), "inconclusive");
    }

    #[test]
    fn burn_rate_needs_both_windows_over_the_factor() {
        let ring = parse_fixture(
            "gates:\n  - name: avail\n    burn_rate:\n      objective: 0.999\n      errors: 'err[{window}]'\n      total: 'all[{window}]'\n      windows:\n        - {long: 1h, short: 5m, factor: 14.4}\n",
        );
        let gate = &parse_gates(&ring)[0];
        // Error ratio 2% → burn 20 on both windows: breach.
        let both = EmbeddedMetrics::parse(
            &parse_fixture(
                "series:\n  'err[1h]': [[0, 2]]\n  'all[1h]': [[0, 100]]\n  'err[5m]': [[0, 2]]\n  'all[5m]': [[0, 100]]\n",
            ),
            at(0),
        );
        assert!(
            matches!(gate.evaluate(&both, at(0)), Verdict::Breach { threshold, .. } if threshold == 14.4)
        );
        assert_eq!(
            gate.breach_text(19.999999, 14.4),
            "gate `avail` breached: burn rate 20 against factor 14.4"
        );
        // Short window recovered: healthy (the alert resets quickly).
        let recovered = EmbeddedMetrics::parse(
            &parse_fixture(
                "series:\n  'err[1h]': [[0, 2]]\n  'all[1h]': [[0, 100]]\n  'err[5m]': [[0, 0]]\n  'all[5m]': [[0, 100]]\n",
            ),
            at(0),
        );
        assert_eq!(gate.evaluate(&recovered, at(0)).as_str(), "healthy");
        // No traffic is inconclusive, not healthy.
        let idle = EmbeddedMetrics::parse(
            &parse_fixture(
                "series:\n  'err[1h]': [[0, 0]]\n  'all[1h]': [[0, 0]]\n  'err[5m]': [[0, 0]]\n  'all[5m]': [[0, 0]]\n",
            ),
            at(0),
        );
        assert_eq!(gate.evaluate(&idle, at(0)).as_str(), "inconclusive");
    }

    /// The pair's factor is the limit, not 1 (the budget spent exactly on
    /// time): a burn between the two is healthy, and so is one at the factor.
    #[test]
    fn burn_rate_compares_with_the_factor_not_with_one() {
        let ring = parse_fixture(
            "gates:\n  - name: avail\n    burn_rate:\n      objective: 0.5\n      errors: 'err[{window}]'\n      total: 'all[{window}]'\n      windows:\n        - {long: 1h, short: 5m, factor: 4}\n",
        );
        let gate = &parse_gates(&ring)[0];
        // With objective 0.5 the budget is 0.5: an error ratio r burns at 2r.
        let burning = |ratio: f64| {
            EmbeddedMetrics::parse(
                &parse_fixture(&format!(
                    "series:\n  'err[1h]': [[0, {ratio}]]\n  'all[1h]': [[0, 1]]\n  'err[5m]': [[0, {ratio}]]\n  'all[5m]': [[0, 1]]\n"
                )),
                at(0),
            )
        };
        let verdict = |ratio: f64| gate.evaluate(&burning(ratio), at(0));
        assert_eq!(
            verdict(1.0),
            Verdict::Healthy {
                value: 2.0,
                threshold: 4.0
            }
        );
        assert_eq!(verdict(2.0).as_str(), "healthy");
        assert_eq!(
            verdict(2.5),
            Verdict::Breach {
                value: 5.0,
                threshold: 4.0
            }
        );
    }

    /// A burn rate exactly at the factor is within it, in either window:
    /// one window at the factor and the other over it is healthy, and so
    /// is each window's order swapped.
    #[test]
    fn a_burn_rate_at_the_factor_in_one_window_is_healthy() {
        let ring = parse_fixture(
            "gates:\n  - name: avail\n    burn_rate:\n      objective: 0.5\n      errors: 'err[{window}]'\n      total: 'all[{window}]'\n      windows:\n        - {long: 1h, short: 5m, factor: 4}\n",
        );
        let gate = &parse_gates(&ring)[0];
        // Objective 0.5: an error ratio r burns at 2r, so 2.0 burns at exactly 4.
        let burning = |long: f64, short: f64| {
            EmbeddedMetrics::parse(
                &parse_fixture(&format!(
                    "series:\n  'err[1h]': [[0, {long}]]\n  'all[1h]': [[0, 1]]\n  'err[5m]': [[0, {short}]]\n  'all[5m]': [[0, 1]]\n"
                )),
                at(0),
            )
        };
        let at_factor = Verdict::Healthy {
            value: 4.0,
            threshold: 4.0,
        };
        assert_eq!(gate.evaluate(&burning(2.0, 3.0), at(0)), at_factor);
        assert_eq!(gate.evaluate(&burning(3.0, 2.0), at(0)), at_factor);
        assert_eq!(
            gate.evaluate(&burning(2.5, 3.0), at(0)),
            Verdict::Breach {
                value: 5.0,
                threshold: 4.0
            }
        );
    }

    /// A healthy burn-rate gate reports its worst window (the highest burn,
    /// with that window's factor), wherever that window is in the list.
    #[test]
    fn a_healthy_burn_rate_reports_its_worst_window() {
        let gate_with = |windows: &str| {
            let ring = parse_fixture(&format!(
                "gates:\n  - name: avail\n    burn_rate:\n      objective: 0.5\n      errors: 'err[{{window}}]'\n      total: 'all[{{window}}]'\n      windows: {windows}\n"
            ));
            parse_gates(&ring).remove(0)
        };
        // Burns: 1 on the (1h, 5m) pair, 2 on the (6h, 30m) pair.
        let metrics = EmbeddedMetrics::parse(
            &parse_fixture(
                "series:\n  'err[1h]': [[0, 0.5]]\n  'all[1h]': [[0, 1]]\n  'err[5m]': [[0, 0.5]]\n  'all[5m]': [[0, 1]]\n  'err[6h]': [[0, 1]]\n  'all[6h]': [[0, 1]]\n  'err[30m]': [[0, 1]]\n  'all[30m]': [[0, 1]]\n",
            ),
            at(0),
        );
        let worst = Verdict::Healthy {
            value: 2.0,
            threshold: 6.0,
        };
        let fast = "{long: 1h, short: 5m, factor: 14.4}";
        let slow = "{long: 6h, short: 30m, factor: 6}";
        assert_eq!(
            gate_with(&format!("[{fast}, {slow}]")).evaluate(&metrics, at(0)),
            worst
        );
        assert_eq!(
            gate_with(&format!("[{slow}, {fast}]")).evaluate(&metrics, at(0)),
            worst
        );
        // Equal burns: the first window listed is reported.
        let twin = "{long: 6h, short: 30m, factor: 10}";
        assert_eq!(
            gate_with(&format!("[{slow}, {twin}]")).evaluate(&metrics, at(0)),
            worst
        );
    }

    /// Traffic exactly at `min_traffic` is enough traffic: the gate's own
    /// verdict stands; only traffic below the floor makes the gate idle.
    #[test]
    fn traffic_at_the_floor_is_judged() {
        let floor = TrafficFloor {
            query: "t".into(),
            min: 10.0,
        };
        let breach = Verdict::Breach {
            value: 0.5,
            threshold: 0.1,
        };
        assert_eq!(floor.apply(breach.clone(), Ok(Some(10.0))), breach);
        assert_eq!(
            floor.apply(breach, Ok(Some(9.5))),
            Verdict::Idle {
                traffic: 9.5,
                floor: 10.0,
                value: Some(0.5),
                threshold: Some(0.1),
            }
        );
    }

    /// A query is reported by the gate that asks it, as its query or as its
    /// traffic floor's; a query no gate asks by `?`.
    #[test]
    fn a_query_is_reported_by_the_gate_asking_it() {
        let ring = parse_fixture(
            "gates:\n  - {name: errors, query: e, max: 1}\n  - {name: latency, query: l, max: 2, min_traffic: {query: t, min: 5}}\n",
        );
        let gates = parse_gates(&ring);
        assert_eq!(gate_asking(&gates, "e"), "errors");
        assert_eq!(gate_asking(&gates, "l"), "latency");
        assert_eq!(gate_asking(&gates, "t"), "latency");
        assert_eq!(gate_asking(&gates, "x"), "?");
    }

    /// `max` and `min` may be reached: only a value beyond them breaches.
    #[test]
    fn a_value_at_the_threshold_is_healthy() {
        let ring = parse_fixture(
            "gates:\n  - {name: err, query: e, max: 0.25}\n  - {name: rps, query: r, min: 10}\n",
        );
        let gates = parse_gates(&ring);
        let metrics = EmbeddedMetrics::parse(
            &parse_fixture("series:\n  e: [[0, 0.25], [60, 0.5]]\n  r: [[0, 10], [60, 9.5]]\n"),
            at(0),
        );
        assert_eq!(gates[0].evaluate(&metrics, at(0)).as_str(), "healthy");
        assert_eq!(gates[1].evaluate(&metrics, at(0)).as_str(), "healthy");
        assert_eq!(gates[0].evaluate(&metrics, at(60)).as_str(), "breach");
        assert_eq!(gates[1].evaluate(&metrics, at(60)).as_str(), "breach");
    }
}
