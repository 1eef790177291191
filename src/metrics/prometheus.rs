//! Prometheus as a metrics source (SPEC §3.4): the HTTP query API,
//! `/api/v1/query` for live gates and `/api/v1/query_range` for backtests.
//!
//! A gate needs one clean number. Anything else is inconclusive, with
//! Prometheus's own words where it gave some: an error answer (its `error`
//! text, e.g. `parse error ...`), an empty vector (no data), more than one
//! series (the query is not aggregated), NaN or ±Inf (checked by the gate).
//!
//! Queries go as POST forms (no URL length limit for long PromQL); the gates
//! of one round, and the chunks of a long range, run concurrently on the
//! [`HttpClient`]'s runtime. Credentials come only from the environment:
//! `RINGMASTER_PROMETHEUS_BEARER_TOKEN`, or `RINGMASTER_PROMETHEUS_USERNAME`
//! and `RINGMASTER_PROMETHEUS_PASSWORD`; a private CA from
//! `RINGMASTER_PROMETHEUS_CA_FILE`.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt as _;

use crate::config::adapters::Located;
use crate::metrics::{Grid, MetricsSource, Preflight, RangeSeries};
use crate::net::http::{Auth, HttpClient, HttpError, HttpOptions};

/// Prometheus refuses a range query of more than 11,000 points per series;
/// longer ranges are cut into chunks of this many steps.
const MAX_POINTS: i64 = 10_000;

/// Instant queries in flight at once: a round of 50 gates costs one or two
/// round trips to a distant Prometheus, not 50, while a ring with hundreds
/// of queries cannot open hundreds of connections. (Prometheus queues what
/// exceeds its own `--query.max-concurrency` instead of refusing it.)
const INSTANT_CONCURRENCY: usize = 64;

/// Range-query chunks in flight at once: enough to hide latency, few enough
/// not to swamp a shared Prometheus.
const RANGE_CONCURRENCY: usize = 8;

/// One range chunk's samples: (Unix milliseconds, value).
type Samples = Result<Vec<(i64, f64)>, QueryProblem>;

pub(crate) struct PrometheusSource {
    /// The base URL as messages show it: no query, no credentials.
    base: String,
    query_url: reqwest::Url,
    range_url: reqwest::Url,
    client: HttpClient,
    /// For `query_range`: a month of a burn-rate window can take Prometheus
    /// far longer to answer than a live gate may wait. Made on first use:
    /// a live soak never pays for a second client.
    range_client: std::cell::OnceCell<HttpClient>,
    range_options: HttpOptions,
}

/// How long one range-query chunk may take.
const RANGE_TIMEOUT: Duration = Duration::from_secs(120);

/// Why one query has no number: unreachable (nothing answered after the
/// retries), rejected (Prometheus said why), or an answer that is not one
/// number.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum QueryProblem {
    Unreachable(String),
    Rejected(String),
    Unusable(String),
}

impl std::fmt::Display for QueryProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryProblem::Unreachable(s)
            | QueryProblem::Rejected(s)
            | QueryProblem::Unusable(s) => f.write_str(s),
        }
    }
}

/// The source `metrics.url` names.
pub(crate) fn from_config(url: Option<&Located>) -> anyhow::Result<Box<dyn MetricsSource>> {
    let url = url.ok_or_else(|| {
        crate::exit::Failure::usage(
            "`metrics: {kind: prometheus}` in ringmaster.yaml needs a `url` (or pass --prometheus URL)",
        )
    })?;
    from_url(&url.value, "ringmaster.yaml `metrics.url`")
}

/// The source at `url`, which came `from` a flag or the manifest (named in
/// the message when the URL cannot be used).
pub(crate) fn from_url(url: &str, from: &str) -> anyhow::Result<Box<dyn MetricsSource>> {
    // The URL is checked (and every message about it redacted) where it is
    // joined with the API path; its query may hold a token.
    crate::net::http::api_url(url, "api/v1/query").map_err(|why| {
        let hint = if why.contains("credentials") {
            ": set RINGMASTER_PROMETHEUS_USERNAME and RINGMASTER_PROMETHEUS_PASSWORD (or RINGMASTER_PROMETHEUS_BEARER_TOKEN) in the environment"
        } else {
            ""
        };
        crate::exit::Failure::usage(format!("{from}: the Prometheus URL {why}{hint}"))
    })?;
    Ok(Box::new(PrometheusSource::new(
        url,
        Duration::from_secs(10),
    )?))
}

impl PrometheusSource {
    /// A source for the Prometheus at `url` (its base, e.g.
    /// `http://127.0.0.1:9090`), with credentials from the environment.
    pub(crate) fn new(url: &str, timeout: Duration) -> anyhow::Result<PrometheusSource> {
        let api = |path: &str| {
            crate::net::http::api_url(url, path)
                .map_err(|why| crate::exit::Failure::usage(format!("the Prometheus URL {why}")))
        };
        let (query_url, range_url) = (api("api/v1/query")?, api("api/v1/query_range")?);
        let options = HttpOptions {
            timeout,
            auth: Auth::from_env("RINGMASTER_PROMETHEUS"),
            ca_file: std::env::var_os("RINGMASTER_PROMETHEUS_CA_FILE")
                .filter(|v| !v.is_empty())
                .map(Into::into),
            ..HttpOptions::default()
        };
        let range_options = HttpOptions {
            timeout: timeout.max(RANGE_TIMEOUT),
            ..options.clone()
        };
        Ok(PrometheusSource {
            base: crate::net::http::redact_url(url),
            query_url,
            range_url,
            client: HttpClient::new(options)?,
            range_client: std::cell::OnceCell::new(),
            range_options,
        })
    }

    async fn instant(&self, query: &str, at: jiff::Timestamp) -> Result<Option<f64>, QueryProblem> {
        let time = seconds(at);
        let answer = self
            .client
            .post_form(
                self.query_url.as_str(),
                &[("query", query), ("time", &time)],
            )
            .await;
        parse_instant(&answer.map_err(|e| problem(&self.base, e))?)
    }

    async fn range_chunk(
        &self,
        client: &HttpClient,
        query: &str,
        start: jiff::Timestamp,
        end: jiff::Timestamp,
        step: Duration,
    ) -> Result<Vec<(i64, f64)>, QueryProblem> {
        let (start, end, step) = (seconds(start), seconds(end), step.as_secs_f64().to_string());
        let answer = client
            .post_form(
                self.range_url.as_str(),
                &[
                    ("query", query),
                    ("start", &start),
                    ("end", &end),
                    ("step", &step),
                ],
            )
            .await;
        parse_range(&answer.map_err(|e| problem(&self.base, e))?)
    }
}

/// Unix seconds with milliseconds, as Prometheus takes `time`, `start`, `end`.
fn seconds(t: jiff::Timestamp) -> String {
    let ms = t.as_millisecond();
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// An HTTP failure in a person's words, Prometheus's own `error` first.
fn problem(base: &str, e: HttpError) -> QueryProblem {
    if let Some(body) = e.json_body() {
        let text = body.get("error").and_then(|v| v.as_str());
        let kind = body.get("errorType").and_then(|v| v.as_str());
        if let Some(text) = text {
            return QueryProblem::Rejected(match kind {
                Some(kind) => format!("Prometheus rejected the query ({kind}): {text}"),
                None => format!("Prometheus rejected the query: {text}"),
            });
        }
    }
    match e {
        HttpError::Unreachable { attempts, last, .. } => QueryProblem::Unreachable(format!(
            "Prometheus at {base} is unreachable after {attempts} tries: {last}"
        )),
        HttpError::Status { status, body, .. } => {
            let hint = match status {
                401 | 403 => {
                    "; set RINGMASTER_PROMETHEUS_BEARER_TOKEN, or RINGMASTER_PROMETHEUS_USERNAME and RINGMASTER_PROMETHEUS_PASSWORD"
                }
                404 => "; is the URL the base of a Prometheus-compatible API?",
                _ => "",
            };
            QueryProblem::Rejected(format!(
                "Prometheus at {base} answered {status}: {}{hint}",
                body.trim()
            ))
        }
        other => QueryProblem::Unusable(other.to_string()),
    }
}

/// The `error` of an answer whose `status` is not `success`.
fn answer_error(answer: &serde_json::Value) -> Option<String> {
    if answer.get("status").and_then(|s| s.as_str()) == Some("success") {
        return None;
    }
    Some(match answer.get("error").and_then(|e| e.as_str()) {
        Some(text) => format!("Prometheus answered an error: {text}"),
        None => "Prometheus answered neither success nor an error".into(),
    })
}

/// `[<unix seconds>, "<value>"]` → (milliseconds, value). Prometheus writes
/// values as strings, `NaN` and `+Inf` included.
fn sample(pair: &serde_json::Value) -> Option<(i64, f64)> {
    let pair = pair.as_array()?;
    let t = pair.first()?.as_f64()?;
    let v = pair.get(1)?.as_str()?;
    let v = match v {
        "NaN" => f64::NAN,
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    Some(((t * 1000.0).round() as i64, v))
}

/// Labels of a result series, for a message about too many series.
fn labels(series: &serde_json::Value) -> String {
    let Some(metric) = series.get("metric").and_then(|m| m.as_object()) else {
        return "{}".into();
    };
    let inner: Vec<String> = metric
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.as_str().unwrap_or_default()))
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn too_many(result: &[serde_json::Value]) -> QueryProblem {
    let shown: Vec<String> = result.iter().take(3).map(labels).collect();
    QueryProblem::Unusable(format!(
        "the query returned {} series ({}{}); a gate needs exactly one: aggregate it, e.g. with sum(...)",
        result.len(),
        shown.join(", "),
        if result.len() > 3 { ", …" } else { "" }
    ))
}

/// An answer's `data` and its `resultType` (empty when missing), or the
/// error Prometheus answered instead.
fn answer_data(
    answer: &serde_json::Value,
) -> Result<(Option<&serde_json::Value>, &str), QueryProblem> {
    if let Some(e) = answer_error(answer) {
        return Err(QueryProblem::Rejected(e));
    }
    let data = answer.get("data");
    let kind = data
        .and_then(|d| d.get("resultType"))
        .and_then(|k| k.as_str())
        .unwrap_or("");
    Ok((data, kind))
}

/// One number from an instant query's answer; `None` for an empty vector.
pub(crate) fn parse_instant(answer: &serde_json::Value) -> Result<Option<f64>, QueryProblem> {
    let (data, kind) = answer_data(answer)?;
    let result = data.and_then(|d| d.get("result"));
    let bad = |what: &str| QueryProblem::Unusable(format!("Prometheus answered {what}"));
    match kind {
        "scalar" => result
            .and_then(sample)
            .map(|(_, v)| Some(v))
            .ok_or_else(|| bad("a malformed scalar")),
        "vector" => {
            let series = result
                .and_then(|r| r.as_array())
                .ok_or_else(|| bad("a vector without a result"))?;
            match series.as_slice() {
                [] => Ok(None),
                [one] => one
                    .get("value")
                    .and_then(sample)
                    .map(|(_, v)| Some(v))
                    .ok_or_else(|| bad("a malformed sample")),
                many => Err(too_many(many)),
            }
        }
        other => Err(bad(&format!(
            "a result of type `{other}`; a gate query must return a scalar or one series"
        ))),
    }
}

/// The samples of a range query's answer: none for an empty matrix.
pub(crate) fn parse_range(answer: &serde_json::Value) -> Result<Vec<(i64, f64)>, QueryProblem> {
    let (data, kind) = answer_data(answer)?;
    let bad = |what: &str| QueryProblem::Unusable(format!("Prometheus answered {what}"));
    if kind != "matrix" {
        return Err(bad(&format!("a result of type `{kind}` to a range query")));
    }
    let series = data
        .and_then(|d| d.get("result"))
        .and_then(|r| r.as_array())
        .ok_or_else(|| bad("a matrix without a result"))?;
    match series.as_slice() {
        [] => Ok(Vec::new()),
        [one] => one
            .get("values")
            .and_then(|v| v.as_array())
            .ok_or_else(|| bad("a series without values"))?
            .iter()
            .map(|p| sample(p).ok_or_else(|| bad("a malformed sample")))
            .collect(),
        many => Err(too_many(many)),
    }
}

impl MetricsSource for PrometheusSource {
    fn query(&self, query: &str, at: jiff::Timestamp) -> Result<Option<f64>, String> {
        self.client
            .block_on(self.instant(query, at))
            .map_err(|e| e.to_string())
    }

    fn query_many(
        &self,
        queries: &[String],
        at: jiff::Timestamp,
    ) -> Vec<Result<Option<f64>, String>> {
        self.client
            .block_on(
                futures_util::stream::iter(queries.iter().map(|q| self.instant(q, at)))
                    .buffered(INSTANT_CONCURRENCY)
                    .collect::<Vec<_>>(),
            )
            .into_iter()
            .map(|r| r.map_err(|e| e.to_string()))
            .collect()
    }

    fn preflight(&self, queries: &[String], at: jiff::Timestamp) -> Result<(), Preflight> {
        // A trivial query first: an unreachable Prometheus is one clear message,
        // not one per gate.
        self.client
            .block_on(self.instant("vector(1)", at))
            .map_err(|e| match e {
                QueryProblem::Unreachable(s) => Preflight::Unreachable(s),
                other => Preflight::Unreachable(format!(
                    "Prometheus at {} does not answer a trivial query: {other}",
                    self.base
                )),
            })?;
        let answers = self.client.block_on(
            futures_util::stream::iter(queries.iter().map(|q| self.instant(q, at)))
                .buffered(INSTANT_CONCURRENCY)
                .collect::<Vec<_>>(),
        );
        for (query, answer) in queries.iter().zip(answers) {
            match answer {
                Err(QueryProblem::Unreachable(s)) => return Err(Preflight::Unreachable(s)),
                Err(QueryProblem::Rejected(s)) => {
                    return Err(Preflight::Rejected {
                        query: query.clone(),
                        error: s,
                    });
                }
                // No data yet or several series: the soak's evaluations say so
                // and fail closed; the ring may simply have no traffic before
                // its delivery.
                _ => {}
            }
        }
        Ok(())
    }

    fn query_range_many(&self, queries: &[String], grid: &Grid) -> Vec<RangeSeries> {
        let Grid { start, end, step } = *grid;
        let step_ms = grid.step_ms();
        let total = (end.as_millisecond() - start.as_millisecond()).max(0);
        let chunk_ms = step_ms.saturating_mul(MAX_POINTS);
        let mut chunks = Vec::new();
        let mut from = start.as_millisecond();
        loop {
            let to = (from + chunk_ms - step_ms).min(start.as_millisecond() + total);
            chunks.push((from, to));
            if to >= start.as_millisecond() + total {
                break;
            }
            from = to + step_ms;
        }
        let jobs: Vec<(usize, i64, i64)> = (0..queries.len())
            .flat_map(|q| chunks.iter().map(move |(a, b)| (q, *a, *b)))
            .collect();
        let ts = |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap_or(start);
        if self.range_client.get().is_none() {
            match HttpClient::new(self.range_options.clone()) {
                Ok(c) => {
                    let _ = self.range_client.set(c);
                }
                Err(e) => return queries.iter().map(|_| Err(format!("{e:#}"))).collect(),
            }
        }
        let Some(client) = self.range_client.get() else {
            return Vec::new();
        };
        let results: Vec<(usize, Samples)> = client.block_on(
            futures_util::stream::iter(jobs.into_iter().map(|(q, a, b)| {
                let query = &queries[q];
                async move { (q, self.range_chunk(client, query, ts(a), ts(b), step).await) }
            }))
            .buffered(RANGE_CONCURRENCY)
            .collect(),
        );
        let mut out: Vec<RangeSeries> = queries.iter().map(|_| Ok(BTreeMap::new())).collect();
        for (q, result) in results {
            match (result, &mut out[q]) {
                (Ok(samples), Ok(series)) => series.extend(samples),
                (Err(e), slot @ Ok(_)) => *slot = Err(e.to_string()),
                (_, Err(_)) => {}
            }
        }
        out
    }

    fn describe(&self) -> String {
        format!("Prometheus at {}", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vector(series: &[(&str, &str)]) -> serde_json::Value {
        json!({"status": "success", "data": {"resultType": "vector", "result":
            series.iter().map(|(ring, v)| json!({"metric": {"ring": ring}, "value": [1_800_000_000.5, v]})).collect::<Vec<_>>()}})
    }

    #[test]
    fn an_instant_answer_is_one_number_or_inconclusive() {
        assert_eq!(parse_instant(&vector(&[])), Ok(None));
        assert_eq!(parse_instant(&vector(&[("a", "0.25")])), Ok(Some(0.25)));
        let two = parse_instant(&vector(&[("a", "1"), ("b", "2")])).unwrap_err();
        assert!(
            matches!(&two, QueryProblem::Unusable(m) if m.contains("2 series") && m.contains("ring=\"b\"") && m.contains("sum(")),
            "{two:?}"
        );
        let nan = parse_instant(&vector(&[("a", "NaN")])).unwrap().unwrap();
        assert!(nan.is_nan());
        let inf = parse_instant(&vector(&[("a", "+Inf")])).unwrap().unwrap();
        assert!(inf.is_infinite());
        let scalar = json!({"status": "success", "data": {"resultType": "scalar", "result": [1_800_000_000, "3"]}});
        assert_eq!(parse_instant(&scalar), Ok(Some(3.0)));
        let error = json!({"status": "error", "errorType": "bad_data", "error": "1:5: parse error: unexpected right parenthesis ')'"});
        let e = parse_instant(&error).unwrap_err();
        assert!(
            e.to_string()
                .contains("parse error: unexpected right parenthesis"),
            "{e}"
        );
        let matrix = json!({"status": "success", "data": {"resultType": "matrix", "result": []}});
        assert!(matches!(
            parse_instant(&matrix),
            Err(QueryProblem::Unusable(_))
        ));
        let junk = json!({"status": "success", "data": {"resultType": "vector", "result": [{"value": ["x"]}]}});
        assert!(parse_instant(&junk).is_err());
    }

    #[test]
    fn a_range_answer_is_one_series_of_samples() {
        let one = json!({"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {}, "values": [[1_800_000_000, "1"], [1_800_000_060, "2.5"]]}]}});
        assert_eq!(
            parse_range(&one),
            Ok(vec![(1_800_000_000_000, 1.0), (1_800_000_060_000, 2.5)])
        );
        let empty = json!({"status": "success", "data": {"resultType": "matrix", "result": []}});
        assert_eq!(parse_range(&empty), Ok(vec![]));
        let two = json!({"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"a": "1"}, "values": []}, {"metric": {"a": "2"}, "values": []}]}});
        assert!(parse_range(&two).is_err());
    }

    #[test]
    fn rejected_queries_quote_prometheus() {
        let e = HttpError::Status {
            url: "u".into(),
            status: 400,
            body: r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:4: parse error: unclosed left parenthesis"}"#.into(),
        };
        let p = problem("http://p", e);
        assert!(
            matches!(&p, QueryProblem::Rejected(m) if m.contains("(bad_data)") && m.contains("unclosed left parenthesis")),
            "{p:?}"
        );
        let unauth = problem(
            "http://p",
            HttpError::Status {
                url: "u".into(),
                status: 401,
                body: "Unauthorized".into(),
            },
        );
        assert!(
            unauth
                .to_string()
                .contains("RINGMASTER_PROMETHEUS_BEARER_TOKEN")
        );
        assert_eq!(
            seconds(jiff::Timestamp::from_millisecond(1_500).unwrap()),
            "1.500"
        );
    }
}
