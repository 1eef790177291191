//! No `metrics:` section: every query is inconclusive.

use crate::metrics::{MetricsSource, Preflight};

/// A source for repos without a metrics section: every query is
/// inconclusive, so gated rings fail closed.
pub(crate) struct NoMetrics;

impl MetricsSource for NoMetrics {
    fn query(&self, _: &str, _: jiff::Timestamp) -> Result<Option<f64>, String> {
        Err("no metrics source is configured (`metrics:` in ringmaster.yaml)".into())
    }

    fn preflight(&self, _: &[String], _: jiff::Timestamp) -> Result<(), Preflight> {
        Err(Preflight::Unconfigured(
            "ringmaster.yaml has no `metrics:` section to evaluate them with; add `metrics: {kind: prometheus, url: http://...}` or pass --prometheus URL".into(),
        ))
    }
}
