//! The rollout driver: the thin, effectful shell around the pure state fold.
//!
//! Each pass replays the journal, decides the next step from the state, and
//! journals the step *before* doing it (intent), then its effect. A driver
//! killed at any point re-reads the journal and picks up where it stopped:
//! a delivery journaled but not confirmed is delivered again, which the
//! targets' compare-and-set turns into a no-op when it had already happened;
//! a rollback journaled but not confirmed is finished.
//!
//! Time comes from a [`Clock`] and numbers from a [`MetricsSource`], so the
//! same driver runs against the wall clock and Prometheus, or a simulated
//! clock and embedded metrics (the README's demo, the tests).

use std::cell::Cell;
use std::time::Duration;

use anyhow::anyhow;

use crate::deliver::{DeliveryError, DeliveryTarget, Rendered};
use crate::exit::Failure;
use crate::rollout::event::Verdict as JournalVerdict;
use crate::rollout::gates::{MetricsSource, Preflight, Verdict};
use crate::rollout::journal::{Entry, JournalStore};
use crate::rollout::rings::Ring;
use crate::rollout::state::{Event, Halt, RingPhase, RingState, RolloutPhase, RolloutState};

/// RFC 3339 in UTC to the second: what the journal, status and timelines show.
pub fn rfc3339(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub trait Clock {
    fn now(&self) -> jiff::Timestamp;
    fn sleep(&self, d: Duration);
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// Time that moves only when the driver waits: a soak of an hour takes no time.
pub struct SimulatedClock {
    now: Cell<jiff::Timestamp>,
}

impl SimulatedClock {
    pub fn starting_at(t: jiff::Timestamp) -> SimulatedClock {
        SimulatedClock { now: Cell::new(t) }
    }
}

impl Clock for SimulatedClock {
    fn now(&self) -> jiff::Timestamp {
        self.now.get()
    }
    fn sleep(&self, d: Duration) {
        let next = self
            .now
            .get()
            // Saturating, never zero: a sleep that does not move the clock
            // would make the soak loop spin.
            .checked_add(jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX))
            .unwrap_or(jiff::Timestamp::MAX);
        self.now.set(next);
    }
}

/// A source for repos without a metrics section: every query is
/// inconclusive, so gated rings fail closed.
pub struct NoMetrics;

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

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    Complete,
    Halted { ring: String, reason: String },
    AwaitingApproval { ring: String },
    Frozen { reason: String },
}

/// Reports a soak's progress: ring, healthy rounds so far, rounds needed.
pub type SoakProgress<'a> = dyn Fn(&str, u32, u32) + 'a;

/// Renders a ring's configs at a revision: (class, YAML) for every class in the ring.
pub type RenderRing<'a> = dyn Fn(&str, &str) -> anyhow::Result<Vec<(String, String)>> + 'a;

pub struct Driver<'a> {
    pub id: String,
    pub journal: &'a dyn JournalStore,
    pub rings: &'a [Ring],
    pub target: &'a dyn DeliveryTarget,
    pub metrics: &'a dyn MetricsSource,
    pub clock: &'a dyn Clock,
    pub actor: String,
    pub render: &'a RenderRing<'a>,
    /// Test hook: abort the process after this many journal appends.
    pub abort_after: Option<u64>,
    pub progress: &'a dyn Fn(&str),
    /// Called after each soak round: ring, healthy rounds, rounds needed.
    pub soak_progress: Option<&'a SoakProgress<'a>>,
    appended: Cell<u64>,
}

/// The repo-wide freeze, from the journal: `Some(reason)` while frozen.
pub fn frozen(entries: &[Entry]) -> Option<String> {
    let mut reason = None;
    for e in entries.iter().filter(|e| e.body.rollout.is_empty()) {
        // Other repo-wide entries (none today) are not a freeze's business.
        match serde_json::from_value::<Event>(e.body.event.clone()) {
            Ok(Event::Frozen { reason: why }) => reason = Some(why),
            Ok(Event::Unfrozen) => reason = None,
            _ => {}
        }
    }
    reason
}

/// Replays one rollout from the journal.
pub fn replay(entries: &[Entry], id: &str) -> anyhow::Result<RolloutState> {
    let events: Vec<Event> = entries
        .iter()
        .filter(|e| e.body.rollout == id)
        .map(|e| {
            serde_json::from_value(e.body.event.clone()).map_err(|err| {
                anyhow!("journal entry {} is not a rollout event: {err}", e.body.seq)
            })
        })
        .collect::<anyhow::Result<_>>()?;
    RolloutState::replay(id, &events)
        .map_err(|e| {
            anyhow!("the journal of {id} does not replay: {e}; run `ringmaster audit verify`")
        })?
        .ok_or_else(|| anyhow!("no rollout `{id}` in the journal"))
}

impl<'a> Driver<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        journal: &'a dyn JournalStore,
        rings: &'a [Ring],
        target: &'a dyn DeliveryTarget,
        metrics: &'a dyn MetricsSource,
        clock: &'a dyn Clock,
        actor: String,
        render: &'a RenderRing<'a>,
        progress: &'a dyn Fn(&str),
    ) -> Driver<'a> {
        Driver {
            id,
            journal,
            rings,
            target,
            metrics,
            clock,
            actor,
            render,
            abort_after: None,
            progress,
            soak_progress: None,
            appended: Cell::new(0),
        }
    }

    fn append(&self, event: &Event) -> anyhow::Result<()> {
        self.journal.append(
            &rfc3339(self.clock.now()),
            &self.actor,
            &self.id,
            serde_json::to_value(event)?,
        )?;
        let n = self.appended.get() + 1;
        self.appended.set(n);
        if self.abort_after == Some(n) {
            // The crash-safety tests kill the driver right after each append.
            std::process::abort();
        }
        Ok(())
    }

    /// Appends events in one journal write (a round's evaluations).
    fn append_all(&self, events: &[Event]) -> anyhow::Result<()> {
        let values = events
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()?;
        self.journal
            .append_all(&rfc3339(self.clock.now()), &self.actor, &self.id, values)?;
        let before = self.appended.get();
        let n = before + events.len() as u64;
        self.appended.set(n);
        if self.abort_after.is_some_and(|a| a > before && a <= n) {
            std::process::abort();
        }
        Ok(())
    }

    fn ring(&self, name: &str) -> anyhow::Result<&Ring> {
        self.rings
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| anyhow!("ring `{name}` of the rollout has no ring file at its revision"))
    }

    /// Drives the rollout until it completes, halts, or waits for a person.
    pub fn run(&self) -> anyhow::Result<RunEnd> {
        loop {
            // Every pass re-verifies: a journal edited while the driver waits
            // is refused before anything more is delivered or appended.
            let entries = crate::rollout::journal::intact_entries(self.journal)?;
            let state = replay(&entries, &self.id)?;
            // A rollback interrupted by a crash is finished first, frozen or not.
            if let Some(ring) = state.rings.iter().find(|r| r.rolling_back) {
                self.finish_rollback(ring)?;
                continue;
            }
            match state.state {
                RolloutPhase::Complete => return Ok(RunEnd::Complete),
                RolloutPhase::Abandoned => {
                    return Ok(RunEnd::Halted {
                        ring: String::new(),
                        reason: "the rollout was abandoned".into(),
                    });
                }
                RolloutPhase::Halted => {
                    let ring = state
                        .rings
                        .iter()
                        .find(|r| matches!(r.state, RingPhase::Halted | RingPhase::RolledBack));
                    return Ok(RunEnd::Halted {
                        ring: ring.map(|r| r.name.clone()).unwrap_or_default(),
                        reason: ring
                            .and_then(|r| r.halt.as_ref().map(|h| h.reason.clone()))
                            .unwrap_or_default(),
                    });
                }
                RolloutPhase::Running => {}
            }
            let Some(current) = state.current_ring().cloned() else {
                self.append(&Event::Completed)?;
                (self.progress)("rollout complete");
                continue;
            };
            let ring = self.ring(&current.name)?;
            match current.state {
                RingPhase::Pending | RingPhase::AwaitingApproval => {
                    if let Some(reason) = frozen(&entries) {
                        return Ok(RunEnd::Frozen { reason });
                    }
                    if ring.approval_required && current.approved_by.is_none() {
                        if current.state == RingPhase::Pending {
                            self.append(&Event::AwaitingApproval {
                                ring: ring.name.clone(),
                            })?;
                        }
                        return Ok(RunEnd::AwaitingApproval {
                            ring: ring.name.clone(),
                        });
                    }
                    self.preflight(ring)?;
                    let previous = self.target.current(&ring.name)?;
                    self.append(&Event::Delivering {
                        ring: ring.name.clone(),
                        revision: state.revision.clone(),
                        previous,
                    })?;
                }
                RingPhase::Delivering => {
                    // A delivery cut short by a crash: if the target already
                    // holds the revision, confirm it and soak (an unreachable
                    // source then fails closed and rolls it back); if not,
                    // deliver only what the gates can watch.
                    if self.target.current(&ring.name)?.as_deref() != Some(state.revision.as_str())
                    {
                        self.preflight(ring)?;
                    }
                    self.deliver(&state, &current)?
                }
                RingPhase::Soaking => self.soak(&entries, ring)?,
                RingPhase::Promoted | RingPhase::Halted | RingPhase::RolledBack => {
                    return Err(anyhow!(
                        "ring `{}` is {:?} in a running rollout",
                        ring.name,
                        current.state
                    ));
                }
            }
        }
    }

    /// Before a gated ring gets a revision: its metrics source must answer
    /// (else exit 3, nothing delivered) and accept the ring's queries (else
    /// exit 2, naming the ring file and gate). A ring no gate can watch is
    /// never delivered.
    fn preflight(&self, ring: &Ring) -> anyhow::Result<()> {
        if ring.gates.is_empty() {
            return Ok(());
        }
        let queries = crate::rollout::gates::distinct_queries(&ring.gates);
        match self.metrics.preflight(&queries, self.clock.now()) {
            Ok(()) => Ok(()),
            Err(Preflight::Unreachable(why)) => Err(Failure::operational(format!(
                "ring {} not delivered, not promoted: its gates cannot be evaluated: {why}; check that {} is up and reachable from here (or pass --prometheus URL), then run `ringmaster rollout run {}` again",
                ring.name,
                self.metrics.describe(),
                self.id
            ))),
            Err(Preflight::Unconfigured(why)) => Err(Failure::usage(format!(
                "ring {} has gates, but {why}; ring {} not delivered",
                ring.name, ring.name
            ))),
            Err(Preflight::Rejected { query, error }) => {
                let gate = crate::rollout::gates::gate_asking(&ring.gates, &query);
                Err(Failure::usage(format!(
                    "{}: gate `{gate}`: {error}\n  query: {query}\nring {} not delivered; fix the query, commit, and start a new rollout",
                    ring.file, ring.name
                )))
            }
        }
    }

    fn deliver(&self, state: &RolloutState, ring: &RingState) -> anyhow::Result<()> {
        let configs = (self.render)(&ring.name, &state.revision)?;
        match self.target.deliver(
            &ring.name,
            ring.previous.as_deref(),
            &state.revision,
            &configs,
        ) {
            Ok(_) => {
                self.append(&Event::Delivered {
                    ring: ring.name.clone(),
                })?;
                (self.progress)(&format!(
                    "{}: delivered {} to {}",
                    ring.name,
                    &state.revision[..state.revision.len().min(10)],
                    self.target.describe()
                ));
                Ok(())
            }
            Err(err @ DeliveryError::Conflict { .. }) => {
                let err = err.to_string();
                self.append(&Event::Halted {
                    ring: ring.name.clone(),
                    halt: Halt {
                        gate: None,
                        value: None,
                        threshold: None,
                        reason: err,
                        at: rfc3339(self.clock.now()),
                        rollback: false,
                    },
                })
            }
            Err(DeliveryError::Other(e)) => Err(e),
        }
    }

    /// Evaluates the ring's gates every interval until `soak` of healthy
    /// rounds has passed (promote) or a gate breaches, or evaluations stay
    /// inconclusive `inconclusive_limit` times in a row (halt).
    fn soak(&self, entries: &[Entry], ring: &Ring) -> anyhow::Result<()> {
        // `check` rejects such a ring file; a ring built any other way must
        // not make the loop below spin, writing the journal as fast as it can.
        if ring.interval < crate::rollout::rings::MIN_INTERVAL
            || ring.interval > crate::model::duration::MAX_DURATION
            || ring.soak > crate::model::duration::MAX_DURATION
        {
            return Err(Failure::usage(format!(
                "{}: ring `{}` has interval {:?} and soak {:?}: the interval must be from 1s to 10 years, the soak at most 10 years; see `ringmaster check`",
                ring.file, ring.name, ring.interval, ring.soak
            )));
        }
        let gates_n = ring.gates.iter().filter(|g| !g.shadow).count();
        // What earlier passes of this soak (before a crash) established.
        let mut rounds: std::collections::BTreeMap<u64, (usize, bool, bool)> = Default::default();
        let mut since_delivery = Vec::new();
        for e in entries.iter().filter(|e| e.body.rollout == self.id) {
            match serde_json::from_value::<Event>(e.body.event.clone()) {
                Ok(Event::Delivered { ring: r }) if r == ring.name => since_delivery.clear(),
                Ok(ev @ Event::Evaluated { .. }) => since_delivery.push(ev),
                _ => {}
            }
        }
        for ev in since_delivery {
            if let Event::Evaluated {
                ring: r,
                round,
                verdict,
                enforce,
                ..
            } = ev
                && r == ring.name
                && enforce
            {
                let slot = rounds.entry(round).or_insert((0, true, false));
                slot.0 += 1;
                slot.1 &= verdict == JournalVerdict::Healthy;
                slot.2 |= verdict == JournalVerdict::Inconclusive;
            }
        }
        let complete = |(n, _, _): &(usize, bool, bool)| *n == gates_n;
        let mut healthy = rounds.values().filter(|r| complete(r) && r.1).count() as u32;
        let mut streak = rounds.values().rev().take_while(|r| r.2).count() as u32;
        let mut round = rounds.keys().next_back().copied().unwrap_or(0);
        loop {
            if ring.interval.saturating_mul(healthy) >= ring.soak {
                self.append(&Event::Promoted {
                    ring: ring.name.clone(),
                })?;
                (self.progress)(&format!(
                    "{}: promoted after {healthy} healthy evaluations",
                    ring.name
                ));
                return Ok(());
            }
            round += 1;
            let now = self.clock.now();
            let mut breach: Option<Halt> = None;
            let mut inconclusive: Option<String> = None;
            // Every gate of the round in one batch: a networked source asks
            // all queries at once.
            let verdicts = crate::rollout::gates::evaluate_all(&ring.gates, self.metrics, now);
            let mut evaluations = Vec::with_capacity(ring.gates.len());
            for (gate, verdict) in ring.gates.iter().zip(verdicts) {
                let (value, threshold, reason) = verdict.parts();
                evaluations.push(Event::Evaluated {
                    ring: ring.name.clone(),
                    gate: gate.name.clone(),
                    round,
                    verdict: JournalVerdict::from(&verdict),
                    value,
                    threshold,
                    enforce: !gate.shadow,
                    reason,
                });
                if gate.shadow {
                    continue;
                }
                match verdict {
                    Verdict::Breach { value, threshold } if breach.is_none() => {
                        breach = Some(Halt {
                            gate: Some(gate.name.clone()),
                            value: Some(value),
                            threshold: Some(threshold),
                            reason: gate.breach_text(value, threshold),
                            at: rfc3339(now),
                            rollback: ring.rollback_on_breach,
                        });
                    }
                    Verdict::Inconclusive { reason } => {
                        inconclusive = Some(format!("gate `{}`: {reason}", gate.name));
                    }
                    _ => {}
                }
            }
            // The round's evaluations, journaled together before any halt.
            self.append_all(&evaluations)?;
            streak = if inconclusive.is_some() {
                streak + 1
            } else {
                0
            };
            let halt = breach.or_else(|| {
                (streak >= ring.inconclusive_limit).then(|| Halt {
                    gate: None,
                    value: None,
                    threshold: None,
                    reason: format!(
                        "{streak} evaluations in a row were inconclusive ({}): failing closed",
                        inconclusive.clone().unwrap_or_default()
                    ),
                    at: rfc3339(now),
                    rollback: ring.rollback_on_breach,
                })
            });
            if let Some(halt) = halt {
                (self.progress)(&format!("{}: halted: {}", ring.name, halt.reason));
                self.append(&Event::Halted {
                    ring: ring.name.clone(),
                    halt,
                })?;
                // A halt with `rollback` set leaves the ring rolling back;
                // the run loop finishes that before anything else.
                return Ok(());
            }
            if inconclusive.is_none() {
                healthy += 1;
            }
            if let Some(report) = self.soak_progress {
                let needed =
                    u32::try_from(ring.soak.as_secs().div_ceil(ring.interval.as_secs().max(1)))
                        .unwrap_or(u32::MAX);
                report(&ring.name, healthy, needed);
            }
            (self.progress)(&format!(
                "{}: round {round}: {}",
                ring.name,
                if inconclusive.is_some() {
                    "inconclusive"
                } else {
                    "healthy"
                }
            ));
            self.clock.sleep(ring.interval);
        }
    }

    /// Restores the ring's previous revision (or withdraws it when it had none).
    pub fn finish_rollback(&self, ring: &RingState) -> anyhow::Result<()> {
        let Some(revision) = ring.revision.as_deref() else {
            return Err(anyhow!(
                "ring `{}` was never delivered; nothing to roll back",
                ring.name
            ));
        };
        let result = match ring.previous.as_deref() {
            Some(previous) => {
                let configs: Vec<(String, String)> = (self.render)(&ring.name, previous)?;
                let configs: &Rendered = &configs;
                self.target
                    .deliver(&ring.name, Some(revision), previous, configs)
            }
            None => self.target.withdraw(&ring.name, revision),
        };
        match result {
            Ok(_) => {}
            Err(DeliveryError::Conflict { .. }) => {
                // Already restored by an earlier pass whose confirmation was
                // lost, or moved by hand: either way the target no longer holds
                // this rollout's revision.
                let now_holds = self.target.current(&ring.name)?;
                if now_holds.as_deref() == Some(revision) {
                    return Err(anyhow!("rollback of ring `{}` conflicted", ring.name));
                }
            }
            Err(DeliveryError::Other(e)) => return Err(e),
        }
        self.append(&Event::RolledBack {
            ring: ring.name.clone(),
        })?;
        (self.progress)(&format!(
            "{}: rolled back to {}",
            ring.name,
            ring.previous
                .as_deref()
                .map_or("nothing", |p| &p[..p.len().min(10)])
        ));
        Ok(())
    }
}

#[cfg(test)]
mod journal_compat;
