//! Metrics sources: where gate queries get their numbers. The trait and the
//! factory live here; each source is one file (as Argo Rollouts'
//! `metricproviders/<vendor>/`). A new source is a new file, a variant of
//! `config::adapters::MetricsConfig` and one arm in [`from_config`].

pub(crate) mod embedded;
pub(crate) mod none;
pub(crate) mod prometheus;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::adapters::MetricsConfig;
use crate::source::Source;

/// One query's samples over a range, keyed by Unix milliseconds; `Err` when
/// the query failed as a whole.
pub(crate) type RangeSeries = Result<BTreeMap<i64, f64>, String>;

/// The times a backtest asks about: `start`, `start + step`, … up to `end`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    pub start: jiff::Timestamp,
    pub end: jiff::Timestamp,
    pub step: Duration,
}

impl Grid {
    /// The step in milliseconds: positive (a step under 1 ms counts as
    /// 1 ms) and never wrapped, however long.
    pub fn step_ms(&self) -> i64 {
        i64::try_from(self.step.as_millis())
            .unwrap_or(i64::MAX)
            .max(1)
    }

    /// Each point, in Unix milliseconds.
    pub fn points(&self) -> impl Iterator<Item = i64> {
        let step = usize::try_from(self.step_ms()).unwrap_or(usize::MAX);
        (self.start.as_millisecond()..=self.end.as_millisecond()).step_by(step)
    }
}

/// Why a metrics source is not fit to gate a ring, found before delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Preflight {
    /// Nothing answered after the retries: deliver nothing (exit 3).
    Unreachable(String),
    /// The source refused a gate's query: the ring file is wrong (exit 2).
    Rejected { query: String, error: String },
    /// There is no source to ask: the manifest is incomplete (exit 2).
    Unconfigured(String),
}

/// Where gate queries get their numbers.
pub trait MetricsSource {
    /// The query's value at `at`; `Ok(None)` when there is no data.
    fn query(&self, query: &str, at: jiff::Timestamp) -> Result<Option<f64>, String>;

    /// Several queries at one time, in order. A networked source overrides
    /// this to ask them concurrently: a round of 50 gates costs one round trip.
    fn query_many(
        &self,
        queries: &[String],
        at: jiff::Timestamp,
    ) -> Vec<Result<Option<f64>, String>> {
        queries.iter().map(|q| self.query(q, at)).collect()
    }

    /// Checked before a gated ring is delivered: the source answers and
    /// accepts the ring's queries. Sources that cannot fail say yes.
    fn preflight(&self, _queries: &[String], _at: jiff::Timestamp) -> Result<(), Preflight> {
        Ok(())
    }

    /// Each query's samples at the points of `grid` (backtests).
    fn query_range_many(&self, queries: &[String], grid: &Grid) -> Vec<RangeSeries> {
        sampled_point_by_point(self, queries, grid)
    }

    /// The source, for messages.
    fn describe(&self) -> String {
        "the metrics source".into()
    }
}

/// Each query asked at every point of `grid`, one instant query at a time:
/// the range query of a source that has no range API of its own.
pub(crate) fn sampled_point_by_point<S: MetricsSource + ?Sized>(
    source: &S,
    queries: &[String],
    grid: &Grid,
) -> Vec<RangeSeries> {
    queries
        .iter()
        .map(|q| {
            let mut series = BTreeMap::new();
            for t in grid.points() {
                let at = jiff::Timestamp::from_millisecond(t).map_err(|e| e.to_string())?;
                if let Some(v) = source.query(q, at)? {
                    series.insert(t, v);
                }
            }
            Ok(series)
        })
        .collect()
}

/// The value of a query, as a gate sees it: one number, no data, or an error.
pub(crate) type Answer = Result<Option<f64>, String>;

/// The metrics source: `--prometheus URL` (`flag`), else what the manifest
/// names; none is [`none::NoMetrics`], which no gated ring is delivered
/// under. `start` is when the rollout started (embedded series count from it).
pub(crate) fn from_config(
    config: &MetricsConfig,
    source: &dyn Source,
    start: jiff::Timestamp,
    flag: Option<&str>,
) -> anyhow::Result<Box<dyn MetricsSource>> {
    if let Some(url) = flag {
        return prometheus::from_url(url, "--prometheus");
    }
    match config {
        MetricsConfig::None => Ok(Box::new(none::NoMetrics)),
        MetricsConfig::Embedded { file } => embedded::from_config(file.as_ref(), source, start),
        MetricsConfig::Prometheus { url } => prometheus::from_config(url.as_ref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::adapters::Located;
    use crate::diag::Pos;
    use crate::source::MemorySource;

    fn at(s: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    fn located(value: &str) -> Option<Located> {
        Some(Located {
            value: value.into(),
            pos: Pos::START,
        })
    }

    fn build(
        config: &MetricsConfig,
        files: &[(&str, &str)],
        flag: Option<&str>,
    ) -> anyhow::Result<Box<dyn MetricsSource>> {
        from_config(config, &MemorySource::new(files), at(0), flag)
    }

    fn error(result: anyhow::Result<Box<dyn MetricsSource>>) -> String {
        match result {
            Ok(source) => panic!("built {}", source.describe()),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn no_section_builds_the_source_that_refuses_every_gate() {
        let source = build(&MetricsConfig::None, &[], None).unwrap();
        assert!(matches!(
            source.preflight(&["q".into()], at(0)),
            Err(Preflight::Unconfigured(_))
        ));
        assert!(source.query("q", at(0)).is_err());
    }

    #[test]
    fn embedded_builds_the_series_of_its_file_counted_from_the_start() {
        let config = MetricsConfig::Embedded {
            file: located("m.yaml"),
        };
        let files = [("m.yaml", "series:\n  errors: [[0, 1.5], [60, 2]]\n")];
        let source = build(&config, &files, None).unwrap();
        assert_eq!(source.query("errors", at(30)), Ok(Some(1.5)));
        assert_eq!(source.query("errors", at(60)), Ok(Some(2.0)));
        assert_eq!(source.query("other", at(60)), Ok(None));
    }

    #[test]
    fn prometheus_builds_a_source_at_its_url_and_the_flag_wins_over_the_manifest() {
        let config = MetricsConfig::Prometheus {
            url: located("http://127.0.0.1:9/prom/"),
        };
        let source = build(&config, &[], None).unwrap();
        assert_eq!(source.describe(), "Prometheus at http://127.0.0.1:9/prom");
        let flagged = build(&MetricsConfig::None, &[], Some("http://127.0.0.1:8/")).unwrap();
        assert_eq!(flagged.describe(), "Prometheus at http://127.0.0.1:8");
        let over = build(&config, &[], Some("http://127.0.0.1:8/")).unwrap();
        assert_eq!(over.describe(), "Prometheus at http://127.0.0.1:8");
    }

    #[test]
    fn bad_metrics_config_gives_the_messages_it_gave_in_the_command() {
        let missing = MetricsConfig::Embedded {
            file: located("m.yaml"),
        };
        let unparsable: &[(&str, &str)] = &[("m.yaml", "series: [\n")];
        for (config, files, message) in [
            (
                &MetricsConfig::Embedded { file: None },
                &[][..],
                "`metrics: {kind: embedded}` needs a `file`",
            ),
            (&missing, &[], "metrics file `m.yaml` does not exist"),
            (&missing, unparsable, "metrics file `m.yaml` does not parse"),
            (
                &MetricsConfig::Prometheus { url: None },
                &[],
                "`metrics: {kind: prometheus}` in ringmaster.yaml needs a `url` (or pass --prometheus URL)",
            ),
        ] {
            assert_eq!(error(build(config, files, None)), message);
        }
        let with_credentials = MetricsConfig::Prometheus {
            url: located("http://u:p@127.0.0.1:9/"),
        };
        let err = error(build(&with_credentials, &[], None));
        assert!(
            err.starts_with("ringmaster.yaml `metrics.url`: the Prometheus URL ")
                && err.ends_with("(or RINGMASTER_PROMETHEUS_BEARER_TOKEN) in the environment")
                && !err.contains("u:p@"),
            "{err}"
        );
        let err = error(build(&MetricsConfig::None, &[], Some("http://x/#frag")));
        assert!(
            err.starts_with("--prometheus: the Prometheus URL "),
            "{err}"
        );
    }
}
