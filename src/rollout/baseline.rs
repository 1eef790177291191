//! A baseline gate's definition (`compare:` in a ring's gates), as its ring
//! file states it: the query template, the baseline, the margin and the
//! test's parameters, with the `check` findings of its values. Judging it
//! is [`crate::rollout::compare`]'s.

use crate::config::document::{Node, Value, shown};
use crate::diag::{Diagnostic, Pos, Rule};

/// `alpha` when the gate does not set it.
pub const DEFAULT_ALPHA: f64 = 0.05;
/// `min_samples` when the gate does not set it, and its range.
pub const DEFAULT_MIN_SAMPLES: u32 = 10;
pub const MIN_MIN_SAMPLES: i64 = 3;
pub const MAX_MIN_SAMPLES: i64 = 10_000;
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
