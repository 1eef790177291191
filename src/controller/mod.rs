//! The rollout driver: the thin, effectful shell around the pure state fold
//! and the pure decisions of [`crate::rollout::step`].
//!
//! Each pass replays the journal, asks `step` what to do, and carries out
//! its actions: journal appends, deliveries, metric queries, sleeping, each
//! result fed back to `step`. A step is journaled *before* it is done
//! (intent), then its effect. A driver
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

use crate::deliver::{Delivered, DeliveryError, DeliveryTarget, Rounds};
use crate::exit::Failure;
use crate::metrics::{MetricsSource, Preflight};
use crate::rollout::journal::{JournalStore, Stamp};
use crate::rollout::rings::Ring;
use crate::rollout::state::{Event, RingPhase};
use crate::rollout::step::{Action, Observation, Situation, Soak, Stuck, step};

pub(crate) use crate::rollout::event::rfc3339;
pub(crate) use crate::rollout::state::{frozen, replay};
pub(crate) use crate::rollout::step::RunEnd;

pub(crate) trait Clock {
    fn now(&self) -> jiff::Timestamp;
    fn sleep(&self, d: Duration);
}

/// The wall clock.
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// Time that moves only when the driver waits: a soak of an hour takes no time.
pub(crate) struct SimulatedClock {
    now: Cell<jiff::Timestamp>,
}

impl SimulatedClock {
    pub(crate) fn starting_at(t: jiff::Timestamp) -> SimulatedClock {
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

/// A soak round just judged, for a live status line.
pub(crate) struct SoakRound<'r> {
    pub ring: &'r str,
    /// Healthy rounds so far, and how many the soak needs.
    pub healthy: u32,
    pub needed: u32,
    /// Each gate's name and verdict in this round, in the ring's order.
    pub verdicts: &'r [(String, crate::rollout::gates::Verdict)],
}

/// Reports each soak round (a terminal's live status line).
pub(crate) type SoakProgress<'a> = dyn Fn(&SoakRound<'_>) + 'a;

/// Hands a ring's configs at a revision to a delivery: (class, YAML) for
/// every class in the ring, rendered a round at a time as the delivery pulls
/// them (`deliver::Rounds`), so a ring's texts are never all held at once.
pub(crate) type RenderRing<'a> =
    dyn Fn(&str, &str, &mut DeliverRounds<'_>) -> Result<Delivered, DeliveryError> + 'a;

/// A delivery of the rounds [`RenderRing`] renders.
pub(crate) type DeliverRounds<'a> =
    dyn FnMut(&mut Rounds<'_>) -> Result<Delivered, DeliveryError> + 'a;

pub(crate) struct Driver<'a> {
    pub id: String,
    pub journal: &'a dyn JournalStore,
    pub rings: &'a [Ring],
    pub target: &'a dyn DeliveryTarget,
    pub metrics: &'a dyn MetricsSource,
    pub clock: &'a dyn Clock,
    pub actor: String,
    pub render: &'a RenderRing<'a>,
    pub progress: &'a dyn Fn(&str),
    /// Called after each soak round.
    pub soak_progress: Option<&'a SoakProgress<'a>>,
    /// The last round's verdicts, for `soak_progress`.
    last_round: std::cell::RefCell<Vec<(String, crate::rollout::gates::Verdict)>>,
}

impl<'a> Driver<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
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
            progress,
            soak_progress: None,
            last_round: Default::default(),
        }
    }

    fn append(&self, event: &Event) -> anyhow::Result<()> {
        self.append_all(std::slice::from_ref(event))
    }

    /// Appends events in one journal write (a round's evaluations).
    fn append_all(&self, events: &[Event]) -> anyhow::Result<()> {
        let values = events
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()?;
        let at = rfc3339(self.clock.now());
        self.journal
            .append_all(Stamp::new(&at, &self.actor, &self.id), values)?;
        Ok(())
    }

    /// Whether `event` may still be journaled on the journal as it is now.
    fn still_legal(&self, event: &Event) -> anyhow::Result<bool> {
        let entries = crate::rollout::journal::intact_entries(self.journal)?;
        let mut state = replay(&entries, &self.id)?;
        Ok(state.apply(event).is_ok())
    }

    fn ring(&self, name: &str) -> anyhow::Result<&Ring> {
        self.rings
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| anyhow!(Stuck::NoRingFile(name.to_owned())))
    }

    /// Drives the rollout until it completes, halts, or waits for a person.
    pub(crate) fn run(&self) -> anyhow::Result<RunEnd> {
        // The soak's tally across the pass a slept interval starts: the
        // journal is read again, but a ring still soaking goes on counting
        // where it was (a gateless ring journals no rounds to count from).
        let mut slept: Option<(String, Soak)> = None;
        'pass: loop {
            // Every pass re-verifies: a journal edited while the driver waits
            // is refused before anything more is delivered or appended.
            let entries = crate::rollout::journal::intact_entries(self.journal)?;
            let state = replay(&entries, &self.id)?;
            let frozen = frozen(&entries);
            let mut observation = Observation::Pass;
            let slept_in = slept.take();
            let mut soak = match state.current_ring() {
                Some(current) if current.state == RingPhase::Soaking => match slept_in {
                    Some((ring, tally)) if ring == current.name => {
                        observation = Observation::Slept;
                        tally
                    }
                    _ => self
                        .rings
                        .iter()
                        .find(|r| r.name == current.name)
                        .map(|ring| Soak::resume(&entries, &self.id, ring))
                        .unwrap_or_default(),
                },
                _ => Soak::default(),
            };
            // The current ring's soak start: compare gates read their
            // samples from it (now, when the journal has no delivery).
            let soak_start = state.current_ring().and_then(|current| {
                crate::rollout::compare::soak_started(&entries, &self.id, &current.name)
            });
            loop {
                let situation = Situation {
                    rollout: &state,
                    rings: self.rings,
                    frozen: frozen.as_deref(),
                    soak,
                    now: self.clock.now(),
                };
                let mut next = None;
                for action in step(&situation, observation) {
                    match action {
                        Action::Append(event) => {
                            // A person may have halted, rolled back or
                            // abandoned the rollout since this pass read the
                            // journal (their commands never wait for the
                            // driver's lock): a transition that is no longer
                            // legal is not journaled; the next pass reads
                            // what happened instead.
                            if !self.still_legal(&event)? {
                                continue 'pass;
                            }
                            self.append(&event)?
                        }
                        Action::AppendRound(events) => self.append_all(&events)?,
                        Action::Progress(line) => (self.progress)(&line),
                        Action::SoakProgress {
                            ring,
                            healthy,
                            needed,
                        } => {
                            if let Some(report) = self.soak_progress {
                                report(&SoakRound {
                                    ring: &ring,
                                    healthy,
                                    needed,
                                    verdicts: &self.last_round.borrow(),
                                });
                            }
                        }
                        Action::Tally(tally) => soak = tally,
                        Action::Preflight { ring } => {
                            self.preflight(self.ring(&ring)?)?;
                            next = Some(Observation::Preflighted);
                        }
                        Action::AskTarget { ring } => {
                            next = Some(Observation::TargetHolds(self.target.current(&ring)?));
                        }
                        Action::Deliver {
                            ring,
                            previous,
                            revision,
                        } => {
                            next = Some(self.deliver(&ring, previous.as_deref(), &revision)?);
                        }
                        Action::Evaluate { ring } => {
                            // Every gate of the round in one batch: a
                            // networked source asks all queries at once.
                            let at = self.clock.now();
                            let ring = self.ring(&ring)?;
                            let (verdicts, evidence) = crate::rollout::compare::evaluate_round(
                                &ring.gates,
                                self.metrics,
                                at,
                                soak_start.unwrap_or(at),
                                ring.interval,
                            );
                            if self.soak_progress.is_some() {
                                *self.last_round.borrow_mut() = ring
                                    .gates
                                    .iter()
                                    .map(|g| g.name.clone())
                                    .zip(verdicts.iter().cloned())
                                    .collect();
                            }
                            next = Some(Observation::Round {
                                verdicts,
                                at,
                                evidence,
                            });
                        }
                        Action::CheckConvergence { ring: _, query } => {
                            let at = self.clock.now();
                            let answer = self
                                .metrics
                                .query_many(std::slice::from_ref(&query), at)
                                .into_iter()
                                .next()
                                .unwrap_or_else(|| Err("the metrics source gave no answer".into()));
                            next = Some(Observation::Convergence { answer, at });
                        }
                        Action::Sleep(interval) => {
                            self.clock.sleep(interval);
                            // Each round starts a pass: the journal is read
                            // again, so a halt by hand stops the soak within
                            // one interval.
                            if let Some(current) = state.current_ring() {
                                slept = Some((current.name.clone(), soak));
                            }
                            continue 'pass;
                        }
                        Action::Restore {
                            ring,
                            revision,
                            previous,
                        } => {
                            next = Some(self.restore(&ring, &revision, previous.as_deref())?);
                        }
                        Action::NextPass => continue 'pass,
                        Action::Stop(end) => {
                            // Only a halted rollout: an abandoned one takes
                            // no more events.
                            if state.state == crate::rollout::state::RolloutPhase::Halted {
                                self.find_impact(&entries)?;
                            }
                            return Ok(end);
                        }
                        Action::Fail(stuck @ Stuck::Timing { .. }) => {
                            return Err(Failure::usage(stuck.to_string()));
                        }
                        Action::Fail(stuck) => return Err(anyhow!(stuck)),
                    }
                }
                observation = next.ok_or_else(|| {
                    anyhow!("the rollout step left the driver nothing to do; run it again")
                })?;
            }
        }
    }

    /// After a breach halt, and after its rollback (a halted run stops only
    /// once that is done, so this never delays it): reads the breached
    /// gate's history and journals when the impact began, or why that is
    /// unknown. Journaled once per halt; a failed read is journaled too.
    fn find_impact(&self, entries: &[crate::rollout::journal::Entry]) -> anyhow::Result<()> {
        use crate::rollout::onset::{Next, impact, pending};
        let event = match pending(entries, &self.id, self.rings, self.clock.now()) {
            None => return Ok(()),
            Some(Next::Journal(event)) => event,
            Some(Next::Fetch(request)) => {
                let answers = self
                    .metrics
                    .query_range_many(&request.queries, &request.grid);
                impact(&request, answers)
            }
        };
        if let Event::Impact {
            ring,
            began,
            unknown,
            ..
        } = &event
        {
            (self.progress)(&match (began, unknown) {
                (Some(began), _) => {
                    format!("{ring}: impact began {began} (from the metric's history)")
                }
                (None, why) => format!(
                    "{ring}: impact onset unknown ({})",
                    why.as_deref().unwrap_or("no reason given")
                ),
            });
        }
        self.append(&event)
    }

    /// Before a gated ring gets a revision: its metrics source must answer
    /// (else exit 3, nothing delivered) and accept the ring's queries (else
    /// exit 2, naming the ring file and gate). A ring no gate can watch is
    /// never delivered.
    fn preflight(&self, ring: &Ring) -> anyhow::Result<()> {
        if ring.gates.is_empty() {
            return Ok(());
        }
        let queries = crate::rollout::gates::all_queries(&ring.gates);
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

    fn deliver(
        &self,
        ring: &str,
        previous: Option<&str>,
        revision: &str,
    ) -> anyhow::Result<Observation> {
        let delivered = (self.render)(ring, revision, &mut |configs: &mut Rounds<'_>| {
            self.target
                .deliver_rounds(ring, previous, revision, configs)
        });
        match delivered {
            // Asked after the delivery: a target may describe what it wrote.
            Ok(_) => Ok(Observation::Delivered {
                target: self.target.describe_ring(ring),
            }),
            Err(err @ DeliveryError::Conflict { .. }) => {
                Ok(Observation::DeliveryConflict(err.to_string()))
            }
            Err(DeliveryError::Other(e)) => Err(e),
        }
    }

    /// Restores the ring's previous revision (or withdraws it when it had none).
    fn restore(
        &self,
        ring: &str,
        revision: &str,
        previous: Option<&str>,
    ) -> anyhow::Result<Observation> {
        let result = match previous {
            Some(previous) => (self.render)(ring, previous, &mut |configs: &mut Rounds<'_>| {
                self.target
                    .deliver_rounds(ring, Some(revision), previous, configs)
            }),
            None => self.target.withdraw(ring, revision),
        };
        match result {
            Ok(_) => Ok(Observation::Restored),
            Err(DeliveryError::Conflict { .. }) => Ok(Observation::RestoreConflict {
                holds: self.target.current(ring)?,
            }),
            Err(DeliveryError::Other(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod journal_compat;

#[cfg(test)]
mod tests;
