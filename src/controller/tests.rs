//! The executor against test doubles: a journal in memory (that can "crash"
//! right after its n-th append), `deliver::MemoryTarget` (the real targets'
//! compare-and-set, in memory) and a scripted metrics source.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};

use super::*;
use crate::deliver::MemoryTarget;
use crate::rollout::gates::{Gate, GateKind};
use crate::rollout::journal::{Entry, Stamp, Tamper, chain};

const REV: &str = "0123456789abcdef0123456789abcdef01234567";
const OLD: &str = "fedcba9876543210fedcba9876543210fedcba98";

/// A journal in memory; after `crash_after` appends it stores the entry and
/// then fails, as a driver killed right after a durable append would.
#[derive(Default)]
struct MemoryJournal {
    entries: RefCell<Vec<Entry>>,
    crash_after: Cell<Option<usize>>,
}

impl MemoryJournal {
    fn kinds(&self) -> Vec<String> {
        self.entries
            .borrow()
            .iter()
            .map(|e| {
                format!(
                    "{}:{}",
                    e.body.event["kind"].as_str().unwrap_or(""),
                    e.body.event["ring"].as_str().unwrap_or("")
                )
            })
            .collect()
    }
}

impl JournalStore for MemoryJournal {
    fn entries(&self) -> anyhow::Result<Vec<Entry>> {
        Ok(self.entries.borrow().clone())
    }
    fn append_all(
        &self,
        stamp: Stamp<'_>,
        events: Vec<serde_json::Value>,
    ) -> anyhow::Result<Vec<Entry>> {
        let mut entries = self.entries.borrow_mut();
        let last = entries.last().map(|e| (e.body.seq, e.hash.clone()));
        let mut appended = Vec::new();
        // One by one: a crash may cut a batch short.
        for entry in chain(last, stamp, events) {
            entries.push(entry.clone());
            if self.crash_after.get() == Some(entries.len()) {
                anyhow::bail!("crashed after entry {}", entries.len());
            }
            appended.push(entry);
        }
        Ok(appended)
    }
    fn verify(&self) -> anyhow::Result<Vec<Tamper>> {
        Ok(Vec::new())
    }
    fn describe(&self) -> String {
        "memory".into()
    }
    fn stored(&self) -> anyhow::Result<usize> {
        Ok(self.entries.borrow().len())
    }
    fn interrupted(&self) -> anyhow::Result<Option<String>> {
        Ok(None)
    }
    fn finish_interrupted(&self) -> anyhow::Result<Option<String>> {
        Ok(None)
    }
}

/// What a scripted query answers, call after call.
type Script = VecDeque<Result<Option<f64>, String>>;

/// Answers each query from its script, one value per call; the last value
/// repeats. `None` in a script is "no data"; `Err` an outage.
#[derive(Default)]
struct ScriptedMetrics {
    scripts: RefCell<BTreeMap<String, Script>>,
    down: Cell<bool>,
    /// Range queries (the impact's onset) fail.
    range_down: Cell<bool>,
}

impl ScriptedMetrics {
    fn script(self, query: &str, answers: &[Result<Option<f64>, &str>]) -> Self {
        self.scripts.borrow_mut().insert(
            query.into(),
            answers.iter().map(|a| a.map_err(str::to_owned)).collect(),
        );
        self
    }
}

impl MetricsSource for ScriptedMetrics {
    fn query(&self, query: &str, _: jiff::Timestamp) -> Result<Option<f64>, String> {
        let mut scripts = self.scripts.borrow_mut();
        let script = scripts
            .get_mut(query)
            .ok_or_else(|| format!("no script for {query}"))?;
        match script.len() {
            0 => Ok(None),
            1 => script[0].clone(),
            _ => script.pop_front().unwrap_or(Ok(None)),
        }
    }
    fn query_range_many(
        &self,
        queries: &[String],
        grid: &crate::metrics::Grid,
    ) -> Vec<crate::metrics::RangeSeries> {
        if self.range_down.get() {
            return queries.iter().map(|_| Err("timed out".into())).collect();
        }
        crate::metrics::sampled_point_by_point(self, queries, grid)
    }
    fn preflight(&self, _: &[String], _: jiff::Timestamp) -> Result<(), Preflight> {
        if self.down.get() {
            return Err(Preflight::Unreachable("connection refused".into()));
        }
        Ok(())
    }
}

fn ring(name: &str, rounds: u32, limit: u32) -> Ring {
    let mut ring = crate::rollout::policy::tests::ring(name, &[]);
    ring.soak = ring.interval * rounds;
    ring.inconclusive_limit = limit;
    ring.rollback_on_breach = true;
    ring.gates = vec![Gate {
        name: "errors".into(),
        kind: GateKind::Threshold {
            query: format!("errors_{name}"),
            max: Some(0.01),
            min: None,
        },
        shadow: false,
        min_traffic: None,
    }];
    ring
}

struct Rig {
    journal: MemoryJournal,
    target: MemoryTarget,
    metrics: ScriptedMetrics,
    rings: Vec<Ring>,
    clock: SimulatedClock,
    lines: RefCell<Vec<String>>,
}

impl Rig {
    fn new(rings: Vec<Ring>, metrics: ScriptedMetrics) -> Rig {
        let rig = Rig {
            journal: MemoryJournal::default(),
            target: MemoryTarget::default(),
            metrics,
            clock: SimulatedClock::starting_at("2026-11-22T10:00:00Z".parse().expect("a time")),
            lines: RefCell::default(),
            rings,
        };
        for r in &rig.rings {
            rig.target.set(&r.name, Some(OLD));
        }
        let started = Event::Started {
            revision: REV.into(),
            author: "dev".into(),
            rings: rig.rings.iter().map(|r| r.name.clone()).collect(),
        };
        rig.journal
            .append(
                Stamp::new("2026-11-22T10:00:00Z", "ci", "r-1"),
                serde_json::to_value(started).expect("json"),
            )
            .expect("starts");
        rig
    }

    fn run(&self) -> anyhow::Result<RunEnd> {
        let render = |_: &str, _: &str, deliver: &mut super::DeliverRounds<'_>| {
            deliver(&mut std::iter::empty())
        };
        let progress = |line: &str| self.lines.borrow_mut().push(line.to_owned());
        Driver::new(
            "r-1".into(),
            &self.journal,
            &self.rings,
            &self.target,
            &self.metrics,
            &self.clock,
            "ci".into(),
            &render,
            &progress,
        )
        .run()
    }
}

#[test]
fn a_healthy_rollout_delivers_soaks_and_promotes_every_ring_once() {
    let metrics = ScriptedMetrics::default()
        .script("errors_a", &[Ok(Some(0.001))])
        .script("errors_b", &[Ok(Some(0.001))]);
    let rig = Rig::new(vec![ring("a", 2, 3), ring("b", 1, 3)], metrics);
    assert_eq!(rig.run().expect("runs"), RunEnd::Complete);
    assert_eq!(
        rig.journal.kinds(),
        [
            "started:",
            "delivering:a",
            "delivered:a",
            "evaluated:a",
            "evaluated:a",
            "promoted:a",
            "delivering:b",
            "delivered:b",
            "evaluated:b",
            "promoted:b",
            "completed:"
        ]
    );
    assert_eq!(
        rig.target.current("b").expect("answers").as_deref(),
        Some(REV)
    );
    // The soak slept its intervals on the simulated clock: 2 × 30 s + 30 s.
    assert_eq!(
        rfc3339(rig.clock.now()),
        "2026-11-22T10:01:30Z",
        "{:?}",
        rig.lines
    );
    assert_eq!(rig.run().expect("runs again"), RunEnd::Complete);
    assert_eq!(rig.journal.kinds().len(), 11, "a second run adds nothing");
}

#[test]
fn a_breach_halts_and_rolls_the_ring_back_to_what_it_held() {
    let metrics = ScriptedMetrics::default().script("errors_a", &[Ok(Some(0.001)), Ok(Some(0.09))]);
    let rig = Rig::new(vec![ring("a", 5, 3), ring("b", 1, 3)], metrics);
    let end = rig.run().expect("runs");
    assert_eq!(
        end,
        RunEnd::Halted {
            ring: "a".into(),
            reason: "gate `errors` breached: 0.09 against 0.01".into()
        }
    );
    assert_eq!(
        rig.target.current("a").expect("answers").as_deref(),
        Some(OLD)
    );
    assert_eq!(
        rig.target.current("b").expect("answers").as_deref(),
        Some(OLD)
    );
    assert_eq!(
        rig.journal.kinds()[3..],
        [
            "evaluated:a",
            "evaluated:a",
            "halted:a",
            "rolled-back:a",
            "impact:a"
        ],
        "the impact's onset is read after the rollback, never before it"
    );
    // Read once: a second run finds it journaled.
    assert!(matches!(rig.run(), Ok(RunEnd::Halted { .. })));
    assert_eq!(rig.journal.kinds().len(), 8);
}

#[test]
fn an_unreadable_history_journals_the_onset_unknown_and_the_debrief_falls_back() {
    let metrics = ScriptedMetrics::default().script("errors_a", &[Ok(Some(0.001)), Ok(Some(0.09))]);
    metrics.range_down.set(true);
    let rig = Rig::new(vec![ring("a", 5, 3), ring("b", 1, 3)], metrics);
    assert!(matches!(rig.run(), Ok(RunEnd::Halted { .. })));
    assert_eq!(
        rig.target.current("a").expect("answers").as_deref(),
        Some(OLD),
        "rolled back regardless"
    );
    let entries = rig.journal.entries().expect("entries");
    let last = &entries.last().expect("an entry").body.event;
    assert_eq!(last["kind"], "impact");
    assert_eq!(last["unknown"], "the range query failed: timed out");
    assert!(
        rig.lines
            .borrow()
            .contains(&"a: impact onset unknown (the range query failed: timed out)".to_owned()),
        "{:?}",
        rig.lines
    );
    let timeline = crate::rollout::timeline::events(&entries, "r-1");
    let debrief = crate::rollout::timeline::debrief(&timeline);
    assert_eq!(debrief.time_to_detect_s, Some(0), "first breach → halt");
    assert_eq!(
        debrief.detect_basis(),
        "first breaching sample → halt; impact onset unknown (the range query failed: timed out)"
    );
}

#[test]
fn a_metrics_outage_before_delivery_delivers_nothing() {
    let metrics = ScriptedMetrics::default().script("errors_a", &[Ok(Some(0.001))]);
    metrics.down.set(true);
    let rig = Rig::new(vec![ring("a", 1, 3)], metrics);
    let err = rig.run().expect_err("refused");
    assert!(
        format!("{err:#}").contains("not delivered, not promoted"),
        "{err:#}"
    );
    assert_eq!(rig.journal.kinds(), ["started:"]);
    assert_eq!(rig.target.moves(), 0);
}

#[test]
fn a_metrics_outage_while_soaking_fails_closed_at_the_limit() {
    let metrics = ScriptedMetrics::default().script(
        "errors_a",
        &[
            Ok(Some(0.001)),
            Err("connection refused"),
            Ok(None),
            Err("timeout"),
        ],
    );
    let rig = Rig::new(vec![ring("a", 10, 3)], metrics);
    let RunEnd::Halted { reason, .. } = rig.run().expect("runs") else {
        panic!("not halted");
    };
    assert_eq!(
        reason,
        "3 evaluations in a row were inconclusive (gate `errors`: `errors_a` failed: timeout): failing closed"
    );
    assert_eq!(
        rig.target.current("a").expect("answers").as_deref(),
        Some(OLD)
    );
}

/// The driver "killed" right after each journal append in turn, then run
/// again: every run ends complete, each ring delivered and promoted once.
#[test]
fn a_driver_stopped_after_any_append_resumes_to_the_same_end() {
    let rings = || vec![ring("a", 2, 3), ring("b", 1, 3)];
    let metrics = || {
        ScriptedMetrics::default()
            .script("errors_a", &[Ok(Some(0.001))])
            .script("errors_b", &[Ok(Some(0.001))])
    };
    let clean = Rig::new(rings(), metrics());
    clean.run().expect("runs");
    for (n, rig) in crashed_after_each_append(&clean, || Rig::new(rings(), metrics())) {
        assert_eq!(rig.target.moves(), 2, "step {n}: one move per ring");
    }
}

/// For every journal append `n` of `clean`'s run: a fresh rig stopped right
/// after its `n`-th append, then run again, must end complete with the same
/// journal as the uninterrupted run. Returns each resumed rig.
fn crashed_after_each_append(clean: &Rig, fresh: impl Fn() -> Rig) -> Vec<(usize, Rig)> {
    (2..=clean.journal.kinds().len())
        .map(|n| {
            let rig = fresh();
            rig.journal.crash_after.set(Some(n));
            assert!(rig.run().is_err(), "step {n}: meant to stop");
            rig.journal.crash_after.set(None);
            assert_eq!(rig.run().expect("resumes"), RunEnd::Complete, "step {n}");
            assert_eq!(rig.journal.kinds(), clean.journal.kinds(), "step {n}");
            (n, rig)
        })
        .collect()
}

/// The soak after a restart keeps its evidence: an inconclusive round before
/// the crash is not healthy time, and the streak goes on.
#[test]
fn a_restarted_soak_does_not_count_inconclusive_rounds_as_healthy() {
    let rig = Rig::new(
        vec![ring("a", 2, 5)],
        ScriptedMetrics::default().script("errors_a", &[Err("down"), Ok(Some(0.001))]),
    );
    // Stop right after the first (inconclusive) round is journaled.
    rig.journal.crash_after.set(Some(4));
    assert!(rig.run().is_err());
    assert_eq!(
        rig.journal.kinds().last().map(String::as_str),
        Some("evaluated:a")
    );
    rig.journal.crash_after.set(None);
    assert_eq!(rig.run().expect("resumes"), RunEnd::Complete);
    let rounds: Vec<(u64, String)> = rig
        .journal
        .entries()
        .expect("entries")
        .iter()
        .filter(|e| e.body.event["kind"] == "evaluated")
        .map(|e| {
            (
                e.body.event["round"].as_u64().unwrap_or(0),
                e.body.event["verdict"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    // Two healthy rounds after the inconclusive one, numbered on from it.
    assert_eq!(
        rounds,
        [
            (1, "inconclusive".to_owned()),
            (2, "healthy".to_owned()),
            (3, "healthy".to_owned())
        ]
    );
}

/// A ring that waits for its hosts, then for traffic: the driver "killed"
/// after any append resumes to the same journal, neither re-waiting for a
/// convergence it journaled nor counting an idle round as healthy.
#[test]
fn a_driver_stopped_while_the_soak_clock_waits_resumes_to_the_same_end() {
    let rings = || {
        let mut a = ring("a", 2, 1);
        a.gates[0].min_traffic = Some(crate::rollout::gates::TrafficFloor {
            query: "traffic_a".into(),
            min: 1.0,
        });
        a.soak_clock.converged = Some(crate::rollout::soakclock::Convergence {
            query: "on_revision{revision=\"{revision_short}\"}".into(),
            min: 0.9,
            deadline: Duration::from_secs(600),
        });
        vec![a]
    };
    let metrics = || {
        ScriptedMetrics::default()
            .script("errors_a", &[Ok(Some(0.001))])
            .script("traffic_a", &[Ok(Some(0.2)), Ok(Some(0.2)), Ok(Some(5.0))])
            .script(
                "on_revision{revision=\"0123456789\"}",
                &[Ok(None), Ok(Some(0.5)), Ok(Some(1.0))],
            )
    };
    let clean = Rig::new(rings(), metrics());
    assert_eq!(clean.run().expect("runs"), RunEnd::Complete);
    assert_eq!(
        clean.journal.kinds(),
        [
            "started:",
            "delivering:a",
            "delivered:a",
            "converging:a",
            "converging:a",
            "converged:a",
            // Idle twice: not inconclusive (the limit is 1), not healthy.
            "evaluated:a",
            "evaluated:a",
            "evaluated:a",
            "evaluated:a",
            "promoted:a",
            "completed:"
        ]
    );
    crashed_after_each_append(&clean, || Rig::new(rings(), metrics()));
}
