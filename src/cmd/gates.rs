//! `ringmaster gates backtest|check`: a ring's gates over past metrics, or
//! evaluated once now. The logic lives in `backtest` and `gates`; this file
//! resolves the ring and the metrics source and renders the answer.

use std::fmt::Write;
use std::time::Duration;

use super::{Globals, Outcome, pick_format, repo_root};
use crate::cli::{Format, GatesCommand};
use crate::config::adapters::MetricsConfig;
use crate::controller::rfc3339;
use crate::exit::{Exit, Failure};
use crate::metrics::{Grid, MetricsSource, Preflight};
use crate::model::duration::text as duration_text;
use crate::model::number::short;
use crate::rollout::backtest::{Backtest, BacktestError, parse_time};
use crate::rollout::compare;
use crate::rollout::gates::{GateKind, Verdict, distinct_queries};
use crate::rollout::rings::Ring;

pub(crate) fn run(globals: &Globals, command: &GatesCommand) -> anyhow::Result<Outcome> {
    let format = pick_format(globals, &[Format::Human, Format::Json], Format::Human)?;
    let root = repo_root(globals)?;
    match command {
        GatesCommand::Backtest {
            ring,
            start,
            end,
            step,
            rev,
            prometheus,
        } => {
            let now = jiff::Timestamp::now();
            let start =
                parse_time(start, now).map_err(|e| Failure::usage(format!("--start {e}")))?;
            let end = parse_time(end, now).map_err(|e| Failure::usage(format!("--end {e}")))?;
            if end <= start {
                return Err(Failure::usage(format!(
                    "--end {} is not after --start {}",
                    rfc3339(end),
                    rfc3339(start)
                )));
            }
            let (rings, metrics) = load(&root, rev.as_deref(), prometheus.as_deref(), start)?;
            let ring = find_ring(&rings, ring)?;
            let step = match step {
                Some(s) => crate::model::duration::parse_duration(s)
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        Failure::usage(format!("--step `{s}` is not a duration like 30s, 1m or 5m"))
                    })?,
                None => ring.interval,
            };
            preflight(ring, metrics.as_ref(), end)?;
            let report = crate::rollout::backtest::backtest(
                ring,
                metrics.as_ref(),
                Grid { start, end, step },
            )
            .map_err(|e| match e {
                BacktestError::Invalid(_) => Failure::usage(e.to_string()),
                BacktestError::Source { .. } => Failure::operational(format!("{}: {e}", ring.file)),
            })?;
            let stdout = match format {
                Format::Json => format!(
                    "{}\n",
                    serde_json::to_string_pretty(&backtest_json(&report, metrics.as_ref()))?
                ),
                // Gate names and reasons come from ring files and metrics.
                _ => crate::report::escape::terminal_lines(&backtest_human(
                    &report,
                    metrics.as_ref(),
                )),
            };
            Ok(Outcome {
                stdout,
                exit: Exit::Clean,
            })
        }
        GatesCommand::Check {
            ring,
            rev,
            prometheus,
        } => {
            let now = jiff::Timestamp::now();
            let (rings, metrics) = load(&root, rev.as_deref(), prometheus.as_deref(), now)?;
            let chosen: Vec<&Ring> = match ring {
                Some(name) => vec![find_ring(&rings, name)?],
                None => rings.iter().filter(|r| !r.gates.is_empty()).collect(),
            };
            let mut json_rings = Vec::new();
            let mut human = String::new();
            let mut failing = 0;
            for ring in chosen {
                preflight(ring, metrics.as_ref(), now)?;
                // Compare gates judge the last soak's samples (at least
                // `min_samples` intervals), as a soak ending now would.
                let back = ring
                    .gates
                    .iter()
                    .filter_map(|g| match &g.kind {
                        GateKind::Compare(c) => {
                            Some(compare::lookback(c, ring.soak, ring.interval))
                        }
                        _ => None,
                    })
                    .max()
                    .unwrap_or_default();
                let since = jiff::SignedDuration::try_from(back)
                    .ok()
                    .and_then(|b| now.checked_sub(b).ok())
                    .unwrap_or(now);
                let (verdicts, evidence) = compare::evaluate_round(
                    &ring.gates,
                    metrics.as_ref(),
                    now,
                    since,
                    ring.interval,
                );
                let _ = writeln!(human, "ring {} at {}:", ring.name, rfc3339(now));
                let mut gates = Vec::new();
                for ((gate, verdict), evidence) in ring.gates.iter().zip(&verdicts).zip(&evidence) {
                    // Below its traffic floor a gate waits (the soak clock
                    // does); it halts nothing until the ring's `max_idle`.
                    // Pending (too few samples to compare) halts nothing either.
                    if !gate.shadow
                        && !matches!(
                            verdict,
                            Verdict::Healthy { .. }
                                | Verdict::Idle { .. }
                                | Verdict::Pending { .. }
                        )
                    {
                        failing += 1;
                    }
                    let mode = if gate.shadow { "shadow" } else { "enforce" };
                    let (value, threshold, reason) = verdict.parts();
                    let floor = match verdict {
                        Verdict::Idle { traffic, floor, .. } => Some((*traffic, *floor)),
                        _ => None,
                    };
                    let mut detail = match (value, threshold, &reason) {
                        (Some(v), Some(t), _) => format!("value {} against {}", short(v), short(t)),
                        (Some(v), None, _) => format!("value {}", short(v)),
                        (_, _, Some(r)) => r.clone(),
                        _ => String::new(),
                    };
                    if let Some(e) = evidence {
                        let _ = write!(
                            detail,
                            " (baseline {}, p = {})",
                            short(e.baseline),
                            compare::p_text(e.p_value)
                        );
                    }
                    let detail = match floor {
                        Some((traffic, min)) => format!(
                            "traffic {} below the floor {}: not judged ({detail})",
                            short(traffic),
                            short(min)
                        ),
                        None => detail,
                    };
                    let _ = writeln!(
                        human,
                        "  {:<20} {:<8} {:<13} {detail}",
                        gate.name,
                        mode,
                        verdict.as_str()
                    );
                    gates.push(serde_json::json!({
                        "name": gate.name, "mode": mode, "verdict": verdict.as_str(),
                        "value": value, "threshold": threshold, "reason": reason,
                    }));
                    if let (Some((traffic, min)), Some(last)) = (floor, gates.last_mut()) {
                        last["traffic"] = serde_json::json!(traffic);
                        last["floor"] = serde_json::json!(min);
                    }
                    if let (Some(e), Some(last)) = (evidence, gates.last_mut()) {
                        last["baseline"] = serde_json::json!(e.baseline);
                        last["p_value"] = serde_json::json!(e.p_value);
                    }
                }
                json_rings.push(
                    serde_json::json!({"ring": ring.name, "at": rfc3339(now), "gates": gates}),
                );
            }
            let stdout = match format {
                Format::Json => format!(
                    "{}\n",
                    serde_json::to_string_pretty(&serde_json::json!({"rings": json_rings}))?
                ),
                _ => crate::report::escape::terminal_lines(&human),
            };
            Ok(Outcome {
                stdout,
                // An enforcing gate that breaches or cannot say would halt a soak.
                exit: if failing > 0 {
                    Exit::Findings
                } else {
                    Exit::Clean
                },
            })
        }
    }
}

type Loaded = (Vec<Ring>, Box<dyn MetricsSource>);

fn load(
    root: &std::path::Path,
    rev: Option<&str>,
    prometheus: Option<&str>,
    origin: jiff::Timestamp,
) -> anyhow::Result<Loaded> {
    let snapshot = crate::config::snapshot::Snapshot::open(root, rev)?;
    let rings = crate::rollout::rings::load_rings(&snapshot.manifest, snapshot.source.as_ref())?;
    if prometheus.is_none() && snapshot.manifest.metrics == MetricsConfig::None {
        return Err(Failure::usage(
            "no metrics source: add `metrics: {kind: prometheus, url: http://...}` to ringmaster.yaml, or pass --prometheus URL",
        ));
    }
    let metrics = crate::metrics::from_config(
        &snapshot.manifest.metrics,
        snapshot.source.as_ref(),
        origin,
        prometheus,
    )?;
    Ok((rings, metrics))
}

fn find_ring<'a>(rings: &'a [Ring], name: &str) -> anyhow::Result<&'a Ring> {
    rings.iter().find(|r| r.name == name).ok_or_else(|| {
        let known: Vec<&str> = rings.iter().map(|r| r.name.as_str()).collect();
        Failure::usage(format!(
            "no ring `{name}` (rings: {}); a ring file with errors is left out, see `ringmaster check`",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ))
    })
}

/// The source answers and accepts the ring's queries; else exit 3
/// (unreachable) or 2 (a query it rejects, with its words, file and gate).
fn preflight(ring: &Ring, metrics: &dyn MetricsSource, at: jiff::Timestamp) -> anyhow::Result<()> {
    match metrics.preflight(&distinct_queries(&ring.gates), at) {
        Ok(()) => Ok(()),
        Err(Preflight::Unreachable(why)) => Err(Failure::operational(format!(
            "{why}; check that it is up and reachable from here, or pass --prometheus URL"
        ))),
        Err(Preflight::Unconfigured(why)) => Err(Failure::usage(why)),
        Err(Preflight::Rejected { query, error }) => {
            let gate = crate::rollout::gates::gate_asking(&ring.gates, &query);
            Err(Failure::usage(format!(
                "{}: gate `{gate}`: {error}\n  query: {query}",
                ring.file
            )))
        }
    }
}

fn span(a: jiff::Timestamp, b: jiff::Timestamp) -> Duration {
    Duration::from_millis((b.as_millisecond() - a.as_millisecond()).max(0) as u64)
}

fn backtest_json(r: &Backtest, metrics: &dyn MetricsSource) -> serde_json::Value {
    let gates: Vec<serde_json::Value> = r
        .gates
        .iter()
        .map(|g| {
            serde_json::json!({
                "name": g.name,
                "mode": if g.shadow { "shadow" } else { "enforce" },
                "first_breach": g.first_breach.map(|(t, _, _)| rfc3339(t)),
                "first_breach_value": g.first_breach.map(|(_, v, _)| v),
                "first_breach_threshold": g.first_breach.map(|(_, _, t)| t),
                "breaching_steps": g.breaching_steps,
                "inconclusive_steps": g.inconclusive_steps,
                "healthy_steps": g.healthy_steps,
                "longest_healthy": g.longest_healthy.as_ref().map(|s| serde_json::json!({
                    "start": rfc3339(s.start), "end": rfc3339(s.end),
                    "duration_s": span(s.start, s.end).as_secs(),
                })),
                "would_halt": g.would_halt.map(rfc3339),
                "first_inconclusive": g.first_inconclusive.as_ref().map(|(t, reason)| serde_json::json!({
                    "at": rfc3339(*t), "reason": reason,
                })),
            })
        })
        .collect();
    serde_json::json!({
        "ring": r.ring,
        "source": metrics.describe(),
        "start": rfc3339(r.start),
        "end": rfc3339(r.end),
        "step": duration_text(r.step),
        "steps": r.steps,
        "gates": gates,
        "would_halt": r.would_halt.as_ref().map(|h| serde_json::json!({
            "at": rfc3339(h.at), "gate": h.gate, "reason": h.reason,
        })),
    })
}

fn backtest_human(r: &Backtest, metrics: &dyn MetricsSource) -> String {
    let mut out = format!(
        "ring {}: {} → {} every {} ({} steps), {}\n\n",
        r.ring,
        rfc3339(r.start),
        rfc3339(r.end),
        duration_text(r.step),
        r.steps,
        metrics.describe()
    );
    let _ = writeln!(
        out,
        "{:<20} {:<8} {:<21} {:>9} {:>12}  longest healthy stretch",
        "gate", "mode", "first breach", "breaching", "inconclusive"
    );
    for g in &r.gates {
        let first = g
            .first_breach
            .map_or_else(|| "never".to_owned(), |(t, _, _)| rfc3339(t));
        let stretch = g.longest_healthy.as_ref().map_or_else(
            || "none".to_owned(),
            |s| {
                format!(
                    "{} ({} → {})",
                    duration_text(span(s.start, s.end)),
                    rfc3339(s.start),
                    rfc3339(s.end)
                )
            },
        );
        let _ = writeln!(
            out,
            "{:<20} {:<8} {:<21} {:>9} {:>12}  {stretch}",
            g.name,
            if g.shadow { "shadow" } else { "enforce" },
            first,
            g.breaching_steps,
            g.inconclusive_steps
        );
    }
    out.push('\n');
    for g in &r.gates {
        if let Some((t, reason)) = &g.first_inconclusive {
            let _ = writeln!(
                out,
                "gate `{}` first inconclusive at {}: {reason}",
                g.name,
                rfc3339(*t)
            );
        }
    }
    match &r.would_halt {
        Some(h) => {
            let _ = writeln!(out, "would have halted at {}: {}", rfc3339(h.at), h.reason);
        }
        None => {
            let _ = writeln!(
                out,
                "would not have halted: no enforcing gate breached, and inconclusive steps never reached inconclusive_limit in a row"
            );
        }
    }
    out
}
