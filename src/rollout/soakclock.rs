//! When a ring's soak clock runs (issue 16): not before the ring's hosts
//! picked the delivery up (`converged`), and not while its traffic is too low
//! to judge it (a gate's `min_traffic`, the ring's `max_idle` and `on_idle`).
//!
//! This module reads and checks the ring-level keys and summarises, from the
//! journal, what status shows of both waits. The decisions themselves are
//! `step`'s; a gate's traffic floor is `gates`' (it is part of a gate).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::document::shown;
use crate::config::document::{Node, Value};
use crate::diag::{Diagnostic, Rule};
use crate::model::duration::duration;
use crate::rollout::event::{Event, Verdict};
use crate::rollout::journal::Entry;

/// `max_idle` when a ring file does not set it.
pub(crate) const DEFAULT_MAX_IDLE: Duration = Duration::from_secs(3600);

/// What happens when a ring has been idle for `max_idle`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnIdle {
    /// Halt like a breach: rolled back when the ring's `on_breach` says so.
    #[default]
    Halt,
    /// Halt without a rollback and wait for a person: `rollout resume`
    /// soaks the ring again, `rollout rollback` restores the previous revision.
    Wait,
}

/// A ring's `converged`: the fraction of its hosts reporting the delivered
/// revision must reach `min` within `deadline` of the delivery before the
/// soak clock starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Convergence {
    pub query: String,
    pub min: f64,
    pub deadline: Duration,
}

/// The ring-level keys of the soak clock.
#[derive(Debug, Clone, PartialEq)]
pub struct SoakClock {
    pub max_idle: Duration,
    pub on_idle: OnIdle,
    pub converged: Option<Convergence>,
}

impl Default for SoakClock {
    fn default() -> SoakClock {
        SoakClock {
            max_idle: DEFAULT_MAX_IDLE,
            on_idle: OnIdle::Halt,
            converged: None,
        }
    }
}

/// The convergence query for one delivery: `{revision}` is the full revision
/// id, `{revision_short}` its first ten characters.
pub fn converged_query(query: &str, revision: &str) -> String {
    query
        .replace("{revision_short}", crate::model::revision::short(revision))
        .replace("{revision}", revision)
}

fn number(node: &Node) -> Option<f64> {
    match node.value {
        Value::Int(i) => Some(i as f64),
        Value::Float(f) => Some(f),
        _ => None,
    }
}

/// A duration value of at least `min`, or why not.
fn duration_value(node: &Node, min: Duration) -> Result<Duration, String> {
    let Some(text) = node.value.as_str() else {
        return Err(format!("is {}, not a duration", shown(&node.value)));
    };
    match duration(text) {
        Ok(d) if d > crate::model::duration::MAX_DURATION => {
            Err(format!("`{text}` is longer than 10 years"))
        }
        Ok(d) if d < min => Err(format!(
            "`{text}` is shorter than the minimum {}s",
            min.as_secs()
        )),
        Ok(d) => Ok(d),
        Err(why) => Err(format!("`{text}` {why}")),
    }
}

/// Reads the ring's soak-clock keys; `None` when one is invalid (the
/// findings of [`findings`] say which).
pub(crate) fn parse(root: &Node) -> Option<SoakClock> {
    let max_idle = match root.get("max_idle") {
        None => DEFAULT_MAX_IDLE,
        Some(e) => duration_value(&e.value, Duration::from_secs(1)).ok()?,
    };
    let on_idle = match root.get("on_idle").map(|e| e.value.value.as_str()) {
        None => OnIdle::Halt,
        Some(Some("halt")) => OnIdle::Halt,
        Some(Some("wait")) => OnIdle::Wait,
        Some(_) => return None,
    };
    let converged = match root.get("converged").map(|e| &e.value) {
        None => None,
        Some(c) => Some(Convergence {
            query: c.get("query")?.value.value.as_str()?.to_owned(),
            min: number(&c.get("min")?.value).filter(|m| (0.0..=1.0).contains(m))?,
            deadline: duration_value(&c.get("deadline")?.value, Duration::from_secs(1)).ok()?,
        }),
    };
    Some(SoakClock {
        max_idle,
        on_idle,
        converged,
    })
}

/// Every soak-clock value of a ring document that is out of range or of the
/// wrong kind (a missing key or a wrong shape is the schema's to report).
pub(crate) fn findings(file: &str, root: &Node) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let mut bad = |node: &Node, path: &str, msg: String, help: &str| {
        found.push(
            Diagnostic::new(Rule::Schema, file, node.pos, msg)
                .with_path(path)
                .with_help(help),
        );
    };
    if let Some(e) = root.get("max_idle")
        && let Err(why) = duration_value(&e.value, Duration::from_secs(1))
    {
        bad(
            &e.value,
            "/max_idle",
            format!("`max_idle` {why}"),
            "write how long the ring may wait for traffic, at least `1s`, e.g. `max_idle: 30m`",
        );
    }
    if let Some(e) = root.get("on_idle")
        && !matches!(e.value.value.as_str(), Some("halt" | "wait"))
    {
        bad(
            &e.value,
            "/on_idle",
            format!(
                "`on_idle` is {}: it must be `halt` or `wait`",
                shown(&e.value.value)
            ),
            "`halt` halts the ring like a breach (rolled back per `on_breach`); `wait` halts it in place for a person to resume or roll back",
        );
    }
    let Some(c) = root.get("converged").map(|e| &e.value) else {
        return found;
    };
    if let Some(e) = c.get("min")
        && !number(&e.value).is_some_and(|m| (0.0..=1.0).contains(&m))
    {
        bad(
            &e.value,
            "/converged/min",
            format!(
                "`min` is {}: it must be a fraction of the ring's hosts from 0 to 1",
                shown(&e.value.value)
            ),
            "write the fraction of hosts that must report the revision, e.g. `min: 0.95`",
        );
    }
    if let Some(e) = c.get("deadline")
        && let Err(why) = duration_value(&e.value, Duration::from_secs(1))
    {
        bad(
            &e.value,
            "/converged/deadline",
            format!("`deadline` {why}"),
            "write how long after the delivery the hosts may take, e.g. `deadline: 10m`",
        );
    }
    found
}

/// What a ring document's soak-clock keys allow but probably do not mean:
/// a `converged` query that names no revision reports the fraction of hosts
/// on *any* revision, so it cannot tell the delivered one from the previous.
pub(crate) fn warnings(file: &str, root: &Node) -> Vec<Diagnostic> {
    let query = root
        .get("converged")
        .and_then(|c| c.value.get("query"))
        .map(|e| &e.value);
    match query {
        Some(q)
            if q.value
                .as_str()
                .is_some_and(|s| !s.contains("{revision}") && !s.contains("{revision_short}")) =>
        {
            vec![
                Diagnostic::new(
                    Rule::ConvergenceRevision,
                    file,
                    q.pos,
                    "the `converged` query does not contain `{revision}`: it cannot tell the delivered revision from the previous one",
                )
                .with_path("/converged/query")
                .with_help("select the revision the hosts report, e.g. `avg(config_revision_info{ring=\"canary\",revision=\"{revision}\"})`"),
            ]
        }
        _ => Vec::new(),
    }
}

/// The ring's convergence after its last delivery, as status shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConvergenceStatus {
    /// The floor was reached: the soak clock runs.
    pub converged: bool,
    /// Delivery → the last check.
    pub seconds: i64,
    pub min: f64,
    /// Every check's value in order (`null`: no data).
    pub values: Vec<Option<f64>>,
}

/// The idle rounds in a row that end the ring's soak so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdleStatus {
    /// The first idle round of the run → its last.
    pub seconds: i64,
    pub rounds: u32,
    pub gate: String,
    pub traffic: f64,
    pub floor: f64,
}

/// What held (or holds) a ring's soak clock, from the journal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SoakClockStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convergence: Option<ConvergenceStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<IdleStatus>,
}

/// `1h 2m`, `4m`, `12s`.
pub fn span(seconds: i64) -> String {
    let s = seconds.max(0);
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

/// `0.25`, `1`, `0.3333`.
pub fn figure(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

impl SoakClockStatus {
    /// The lines `rollout status` prints under the ring.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(c) = &self.convergence {
            // The curve: every check, repeats folded (`no data ×20`), the
            // middle elided past a dozen.
            let mut runs: Vec<(String, usize)> = Vec::new();
            for v in &c.values {
                let v = v.map_or_else(|| "no data".to_owned(), figure);
                match runs.last_mut() {
                    Some((last, n)) if *last == v => *n += 1,
                    _ => runs.push((v, 1)),
                }
            }
            let shown: Vec<String> = runs
                .into_iter()
                .map(|(v, n)| if n > 1 { format!("{v} ×{n}") } else { v })
                .collect();
            let curve = if shown.len() > 12 {
                format!(
                    "{} → … → {}",
                    shown[..2].join(" → "),
                    shown[shown.len() - 9..].join(" → ")
                )
            } else {
                shown.join(" → ")
            };
            out.push(if c.converged {
                format!(
                    "converged after {}: {curve} of its hosts on the revision (floor {}); then the soak clock started",
                    span(c.seconds),
                    figure(c.min)
                )
            } else {
                format!(
                    "not converged {} after delivery: {curve} of its hosts on the revision (floor {}); the soak clock waits",
                    span(c.seconds),
                    figure(c.min)
                )
            });
        }
        if let Some(i) = &self.idle {
            out.push(format!(
                "idle for {} ({} rounds; traffic {} < {} on gate `{}`): the soak clock waits",
                span(i.seconds),
                i.rounds,
                figure(i.traffic),
                figure(i.floor),
                i.gate
            ));
        }
        out
    }
}

/// What held ring `ring`'s soak clock since its last delivery in rollout
/// `id`: the convergence checks, and the idle rounds in a row that end its
/// soak so far. `None` when neither happened.
pub fn status(entries: &[Entry], id: &str, ring: &str) -> Option<SoakClockStatus> {
    let mut delivered_at: Option<jiff::Timestamp> = None;
    let mut since: Vec<(Event, Option<jiff::Timestamp>)> = Vec::new();
    for e in entries.iter().filter(|e| e.body.rollout == id) {
        let at = e.body.at.parse::<jiff::Timestamp>().ok();
        match serde_json::from_value::<Event>(e.body.event.clone()) {
            Ok(Event::Delivered { ring: r }) if r == ring => {
                since.clear();
                delivered_at = at;
            }
            Ok(
                ev @ (Event::Evaluated { .. } | Event::Converging { .. } | Event::Converged { .. }),
            ) => since.push((ev, at)),
            _ => {}
        }
    }
    let secs = |a: Option<jiff::Timestamp>, b: Option<jiff::Timestamp>| match (a, b) {
        (Some(a), Some(b)) => b.as_second() - a.as_second(),
        _ => 0,
    };
    let mut convergence: Option<ConvergenceStatus> = None;
    // round → (at, any enforcing idle (gate, traffic, floor), any inconclusive)
    type Round = (Option<jiff::Timestamp>, Option<(String, f64, f64)>, bool);
    let mut rounds: std::collections::BTreeMap<u64, Round> = Default::default();
    for (ev, at) in since {
        match ev {
            Event::Converging {
                ring: r,
                value,
                min,
                ..
            } if r == ring => {
                let c = convergence.get_or_insert(ConvergenceStatus {
                    converged: false,
                    seconds: 0,
                    min,
                    values: Vec::new(),
                });
                c.values.push(value);
                c.seconds = secs(delivered_at, at);
            }
            Event::Converged {
                ring: r,
                value,
                min,
            } if r == ring => {
                let c = convergence.get_or_insert(ConvergenceStatus {
                    converged: true,
                    seconds: 0,
                    min,
                    values: Vec::new(),
                });
                c.values.push(Some(value));
                c.converged = true;
                c.min = min;
                c.seconds = secs(delivered_at, at);
            }
            Event::Evaluated {
                ring: r,
                gate,
                round,
                verdict,
                enforce: true,
                traffic,
                floor,
                ..
            } if r == ring => {
                let slot = rounds.entry(round).or_insert((at, None, false));
                if verdict == Verdict::Idle && slot.1.is_none() {
                    slot.1 = Some((gate, traffic.unwrap_or(0.0), floor.unwrap_or(0.0)));
                }
                slot.2 |= verdict == Verdict::Inconclusive;
            }
            _ => {}
        }
    }
    let idle_run: Vec<&Round> = rounds
        .values()
        .rev()
        .take_while(|(_, idle, inconclusive)| idle.is_some() && !inconclusive)
        .collect();
    let idle = match (idle_run.first(), idle_run.last()) {
        (Some((last_at, Some((gate, traffic, floor)), _)), Some((first_at, _, _))) => {
            Some(IdleStatus {
                seconds: secs(*first_at, *last_at),
                rounds: idle_run.len() as u32,
                gate: gate.clone(),
                traffic: *traffic,
                floor: *floor,
            })
        }
        _ => None,
    };
    (convergence.is_some() || idle.is_some()).then_some(SoakClockStatus { convergence, idle })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::document::{self, Limits};

    fn root(text: &str) -> document::Parsed {
        document::parse("rings/a.yaml", text.as_bytes(), &Limits::default())
    }

    #[test]
    fn the_revision_is_substituted_full_and_short() {
        assert_eq!(
            converged_query(
                "avg(x{revision=\"{revision}\",short=\"{revision_short}\"})",
                "0123456789abcdef"
            ),
            "avg(x{revision=\"0123456789abcdef\",short=\"0123456789\"})"
        );
    }

    #[test]
    fn soak_clock_keys_parse_with_defaults() {
        let p = root("name: a\norder: 1\nsoak: 1m\n");
        assert_eq!(
            parse(p.single().expect("a doc")),
            Some(SoakClock::default())
        );
        let p = root(
            "name: a\norder: 1\nsoak: 1m\nmax_idle: 10m\non_idle: wait\nconverged: {query: 'avg(r{revision=\"{revision}\"})', min: 0.95, deadline: 5m}\n",
        );
        let doc = p.single().expect("a doc");
        let clock = parse(doc).expect("valid");
        assert_eq!(clock.max_idle, Duration::from_secs(600));
        assert_eq!(clock.on_idle, OnIdle::Wait);
        assert_eq!(
            clock.converged.map(|c| (c.min, c.deadline)),
            Some((0.95, Duration::from_secs(300)))
        );
        assert!(findings("rings/a.yaml", doc).is_empty());
        assert!(warnings("rings/a.yaml", doc).is_empty());
    }

    #[test]
    fn bad_soak_clock_values_are_findings_at_their_lines() {
        let p = root(
            "name: a\norder: 1\nsoak: 1m\nmax_idle: soon\non_idle: retry\nconverged:\n  query: 'avg(r)'\n  min: 1.5\n  deadline: 0s\n",
        );
        let doc = p.single().expect("a doc");
        assert_eq!(parse(doc), None);
        let found: Vec<(String, u32)> = findings("rings/a.yaml", doc)
            .iter()
            .map(|d| (d.path.clone().unwrap_or_default(), d.pos.line))
            .collect();
        assert_eq!(
            found,
            [
                ("/max_idle".to_owned(), 4),
                ("/on_idle".to_owned(), 5),
                ("/converged/min".to_owned(), 8),
                ("/converged/deadline".to_owned(), 9),
            ]
        );
        let warned = warnings("rings/a.yaml", doc);
        assert_eq!(warned.len(), 1);
        assert_eq!(warned[0].rule, Rule::ConvergenceRevision);
        assert_eq!(warned[0].pos.line, 7);
    }

    #[test]
    fn spans_read_as_people_write_them() {
        assert_eq!(span(12), "12s");
        assert_eq!(span(240), "4m");
        assert_eq!(span(250), "4m 10s");
        assert_eq!(span(3600 + 120), "1h 2m");
    }

    fn entry(seq: u64, second: i64, event: serde_json::Value) -> Entry {
        let at = jiff::Timestamp::from_second(1_795_000_000 + second).expect("a time");
        let body = crate::rollout::journal::Body {
            seq,
            at: crate::rollout::event::rfc3339(at),
            actor: "ci".into(),
            rollout: "r-1".into(),
            event,
            prev: String::new(),
        };
        Entry {
            hash: crate::rollout::journal::hash_body(&body),
            body,
        }
    }

    #[test]
    fn status_shows_the_convergence_curve_and_the_idle_run_at_the_end() {
        use serde_json::json;
        let idle = |round: u64| json!({"kind": "evaluated", "ring": "a", "gate": "errors", "round": round, "verdict": "idle", "value": 0.0, "threshold": 0.01, "enforce": true, "traffic": 0.2, "floor": 1.0});
        let mut entries = vec![
            entry(1, 0, json!({"kind": "delivered", "ring": "a"})),
            entry(
                2,
                0,
                json!({"kind": "converging", "ring": "a", "min": 0.9, "reason": "no data"}),
            ),
            entry(
                3,
                30,
                json!({"kind": "converging", "ring": "a", "min": 0.9, "reason": "no data"}),
            ),
            entry(
                4,
                60,
                json!({"kind": "converging", "ring": "a", "value": 0.5, "min": 0.9}),
            ),
            entry(
                5,
                90,
                json!({"kind": "converged", "ring": "a", "value": 0.95, "min": 0.9}),
            ),
            entry(
                6,
                120,
                json!({"kind": "evaluated", "ring": "a", "gate": "errors", "round": 1, "verdict": "healthy", "value": 0.0, "threshold": 0.01, "enforce": true}),
            ),
            entry(7, 150, idle(2)),
            entry(8, 180, idle(3)),
            entry(9, 390, idle(4)),
        ];
        let status = status(&entries, "r-1", "a").expect("a status");
        assert_eq!(
            status.lines(),
            [
                "converged after 1m 30s: no data ×2 → 0.5 → 0.95 of its hosts on the revision (floor 0.9); then the soak clock started",
                "idle for 4m (3 rounds; traffic 0.2 < 1 on gate `errors`): the soak clock waits",
            ]
        );
        // A healthy round ends the idle run; another ring has nothing.
        entries.push(entry(10, 420, json!({"kind": "evaluated", "ring": "a", "gate": "errors", "round": 5, "verdict": "healthy", "value": 0.0, "threshold": 0.01, "enforce": true})));
        let later = super::status(&entries, "r-1", "a").expect("a status");
        assert_eq!(later.idle, None);
        assert!(later.convergence.is_some());
        assert_eq!(super::status(&entries, "r-1", "b"), None);
    }
}
