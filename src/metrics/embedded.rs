//! `metrics: {kind: embedded, file: …}`: series written out in a repo file.

use crate::config::adapters::Located;
use crate::config::document::{Node, Value};
use crate::diag::Severity;
use crate::exit::Failure;
use crate::metrics::MetricsSource;
use crate::source::Source;

/// Metrics written out in a file: the embedded source for demos and tests.
///
/// ```yaml
/// series:                 # query → [[seconds after `start`, value], …]
///   'sum(rate(errors[5m]))': [[0, 0.001], [600, 0.2]]
/// ```
/// A query's value at a time is its last sample at or before it.
pub(crate) struct EmbeddedMetrics {
    start: jiff::Timestamp,
    series: Vec<(String, Vec<(i64, f64)>)>,
}

impl EmbeddedMetrics {
    pub(crate) fn parse(doc: &Node, start: jiff::Timestamp) -> EmbeddedMetrics {
        let mut series = Vec::new();
        if let Some(entries) = doc.get("series").and_then(|e| e.value.value.as_map()) {
            for entry in entries {
                let Value::Seq(samples) = &entry.value.value else {
                    continue;
                };
                let mut points: Vec<(i64, f64)> = samples
                    .iter()
                    .filter_map(|s| match &s.value {
                        // A time that is not a finite number of seconds is no sample.
                        Value::Seq(pair) if pair.len() == 2 => match pair[0].value {
                            Value::Int(t) => Some((t, number(&pair[1])?)),
                            // Exact in f64, so the cast only drops the fraction.
                            Value::Float(t) if t.is_finite() && t.abs() < 9e15 => {
                                Some((t as i64, number(&pair[1])?))
                            }
                            _ => None,
                        },
                        _ => None,
                    })
                    .collect();
                points.sort_by_key(|p| p.0);
                series.push((entry.key.clone(), points));
            }
        }
        EmbeddedMetrics { start, series }
    }
}

impl MetricsSource for EmbeddedMetrics {
    fn query(&self, query: &str, at: jiff::Timestamp) -> Result<Option<f64>, String> {
        let offset = at.as_second() - self.start.as_second();
        Ok(self
            .series
            .iter()
            .find(|(q, _)| q == query)
            .and_then(|(_, points)| points.iter().rev().find(|(t, _)| *t <= offset))
            .map(|(_, v)| *v))
    }
}

fn number(node: &Node) -> Option<f64> {
    match node.value {
        Value::Int(i) => Some(i as f64),
        Value::Float(f) => Some(f),
        _ => None,
    }
}

/// The source `metrics.file` names, read from the rollout's revision.
pub(crate) fn from_config(
    file: Option<&Located>,
    source: &dyn Source,
    start: jiff::Timestamp,
) -> anyhow::Result<Box<dyn MetricsSource>> {
    let file = file
        .map(|f| f.value.as_str())
        .ok_or_else(|| Failure::usage("`metrics: {kind: embedded}` needs a `file`"))?;
    let bytes = source
        .read(file)?
        .ok_or_else(|| Failure::usage(format!("metrics file `{file}` does not exist")))?;
    let parsed =
        crate::config::document::parse(file, &bytes, &crate::config::document::Limits::default());
    let doc = parsed
        .single()
        .filter(|_| {
            parsed
                .diagnostics
                .iter()
                .all(|d| d.severity != Severity::Error)
        })
        .ok_or_else(|| Failure::usage(format!("metrics file `{file}` does not parse")))?;
    Ok(Box::new(EmbeddedMetrics::parse(doc, start)))
}
