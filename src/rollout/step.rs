//! The driver's decisions, as a pure function: [`step`] takes where the
//! rollout stands (the replayed journal, the ring files, the freeze, the
//! soak's tally, the time) and what was just observed, and returns the
//! [`Action`]s to carry out. No I/O, no clock, no journal: the executor in
//! `controller` performs the actions and feeds their results back in as the
//! next [`Observation`].
//!
//! A pass starts from the journal ([`Observation::Pass`]) and ends with
//! [`Action::NextPass`] after each transition, so that a journal changed by
//! a person meanwhile (a halt, a freeze) is read before the next one. Inside
//! a soak the rounds follow each other without a re-read: evaluations change
//! no state.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::revision::short;
use crate::rollout::compare::Evidence;
use crate::rollout::event::{Event, Halt, Verdict as JournalVerdict, rfc3339};
use crate::rollout::gates::Verdict;
use crate::rollout::journal::Entry;
use crate::rollout::rings::Ring;
use crate::rollout::state::{RingPhase, RingState, RolloutPhase, RolloutState};

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    Complete,
    Halted { ring: String, reason: String },
    AwaitingApproval { ring: String },
    Frozen { reason: String },
}

/// The soak of the current ring so far: healthy rounds, inconclusive rounds
/// in a row, and the last round's number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Soak {
    pub healthy: u32,
    pub streak: u32,
    pub round: u64,
    /// While the last rounds were idle: when the first of them was evaluated.
    pub idle_since: Option<jiff::Timestamp>,
    /// When the ring's delivery was journaled: a convergence deadline counts
    /// from it.
    pub delivered_at: Option<jiff::Timestamp>,
    /// The ring's `converged` floor was reached after its delivery: the soak
    /// clock runs.
    pub converged: bool,
}

/// One round of a soak as the journal holds it.
#[derive(Debug, Clone, Copy)]
struct JournaledRound {
    /// Enforcing evaluations.
    evaluations: usize,
    all_healthy: bool,
    inconclusive: bool,
    idle: bool,
    at: Option<jiff::Timestamp>,
}

impl JournaledRound {
    /// Idle as [`round`] decides it: an enforcing gate idle, none inconclusive.
    fn idle(&self) -> bool {
        self.idle && !self.inconclusive
    }
}

impl Soak {
    /// What earlier runs of this soak (before a crash) established, from the
    /// journal: only complete rounds whose enforcing gates were all healthy
    /// count as healthy; an inconclusive round never does, and the
    /// inconclusive rounds at the end continue their streak.
    ///
    /// Idle rounds count neither as healthy nor toward the streak; those at
    /// the end give the idle time so far. The delivery's time and a
    /// journaled convergence come back too: a restarted driver neither
    /// restarts the convergence deadline nor waits for convergence again.
    pub fn resume(entries: &[Entry], id: &str, ring: &Ring) -> Soak {
        let gates_n = ring.gates.iter().filter(|g| !g.shadow).count();
        let mut rounds: BTreeMap<u64, JournaledRound> = BTreeMap::new();
        let mut since_delivery = Vec::new();
        let mut delivered_at = None;
        for e in entries.iter().filter(|e| e.body.rollout == id) {
            match serde_json::from_value::<Event>(e.body.event.clone()) {
                Ok(Event::Delivered { ring: r }) if r == ring.name => {
                    since_delivery.clear();
                    delivered_at = e.body.at.parse::<jiff::Timestamp>().ok();
                }
                Ok(ev @ (Event::Evaluated { .. } | Event::Converged { .. })) => {
                    since_delivery.push((ev, e.body.at.parse::<jiff::Timestamp>().ok()));
                }
                _ => {}
            }
        }
        let mut converged = false;
        for (ev, at) in since_delivery {
            match ev {
                Event::Evaluated {
                    ring: r,
                    round,
                    verdict,
                    enforce: true,
                    ..
                } if r == ring.name => {
                    let slot = rounds.entry(round).or_insert(JournaledRound {
                        evaluations: 0,
                        all_healthy: true,
                        inconclusive: false,
                        idle: false,
                        at,
                    });
                    slot.evaluations += 1;
                    slot.all_healthy &= verdict == JournalVerdict::Healthy;
                    slot.inconclusive |= verdict == JournalVerdict::Inconclusive;
                    slot.idle |= verdict == JournalVerdict::Idle;
                }
                Event::Converged { ring: r, .. } if r == ring.name => converged = true,
                _ => {}
            }
        }
        let complete = |r: &JournaledRound| r.evaluations == gates_n;
        Soak {
            healthy: rounds
                .values()
                .filter(|r| complete(r) && r.all_healthy)
                .count() as u32,
            streak: rounds
                .values()
                .rev()
                .filter(|r| !r.idle())
                .take_while(|r| r.inconclusive)
                .count() as u32,
            round: rounds.keys().next_back().copied().unwrap_or(0),
            idle_since: rounds
                .values()
                .rev()
                .take_while(|r| r.idle())
                .last()
                .and_then(|r| r.at),
            delivered_at,
            converged,
        }
    }
}

/// Where the rollout stands when [`step`] is asked.
#[derive(Debug, Clone, Copy)]
pub struct Situation<'a> {
    /// The rollout, replayed from the journal at the start of the pass.
    pub rollout: &'a RolloutState,
    /// The ring files at the rollout's revision.
    pub rings: &'a [Ring],
    /// The repo-wide freeze's reason, while frozen.
    pub frozen: Option<&'a str>,
    /// The current ring's soak so far.
    pub soak: Soak,
    pub now: jiff::Timestamp,
}

/// What the executor saw since the last step.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// A new pass: nothing but the journal.
    Pass,
    /// The ring's metrics source answered its preflight.
    Preflighted,
    /// What the ring's delivery target holds now.
    TargetHolds(Option<String>),
    /// The target took the delivery; `target` says where it wrote, and
    /// what (a target may report what the delivery changed).
    Delivered { target: String },
    /// The target refused it: it no longer holds what the journal expects.
    DeliveryConflict(String),
    /// A soak round's verdicts, in the gates' order, evaluated at `at`.
    Round {
        verdicts: Vec<Verdict>,
        at: jiff::Timestamp,
        /// Compare gates' baseline and p-value, in the gates' order (absent
        /// for other gates).
        evidence: Vec<Option<Evidence>>,
    },
    /// The interval between two rounds has passed.
    Slept,
    /// The ring's previous revision is restored (or the ring withdrawn).
    Restored,
    /// The answer to the ring's convergence query, asked at `at`.
    Convergence {
        answer: Result<Option<f64>, String>,
        at: jiff::Timestamp,
    },
    /// The rollback conflicted; the target now holds this.
    RestoreConflict { holds: Option<String> },
}

/// What the executor is to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Journal one event.
    Append(Event),
    /// Journal a soak round's evaluations in one write.
    AppendRound(Vec<Event>),
    /// A line for the person watching.
    Progress(String),
    /// A soak's progress: ring, healthy rounds, rounds needed.
    SoakProgress {
        ring: String,
        healthy: u32,
        needed: u32,
    },
    /// Keep this soak tally for the next step.
    Tally(Soak),
    /// Check that the ring's metrics source answers and accepts its queries
    /// (an error ends the run); observe [`Observation::Preflighted`].
    Preflight {
        ring: String,
    },
    /// Ask the target what the ring holds; observe [`Observation::TargetHolds`].
    AskTarget {
        ring: String,
    },
    /// Render the ring at `revision` and deliver it over `previous`.
    Deliver {
        ring: String,
        previous: Option<String>,
        revision: String,
    },
    /// Evaluate the ring's gates now; observe [`Observation::Round`].
    Evaluate {
        ring: String,
    },
    /// Ask the ring's convergence query (its revision filled in) now;
    /// observe [`Observation::Convergence`].
    CheckConvergence {
        ring: String,
        query: String,
    },
    Sleep(Duration),
    /// Put `previous` back on the ring over `revision` (withdraw when none).
    Restore {
        ring: String,
        revision: String,
        previous: Option<String>,
    },
    /// Re-read the journal and step again from [`Observation::Pass`].
    NextPass,
    Stop(RunEnd),
    Fail(Stuck),
}

/// Why the driver cannot go on: the journal and the ring files disagree, or
/// a ring's timing would make the soak loop spin.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Stuck {
    #[error("ring `{0}` of the rollout has no ring file at its revision")]
    NoRingFile(String),
    #[error(
        "{file}: ring `{ring}` has interval {interval:?} and soak {soak:?}: the interval must be from 1s to 10 years, the soak at most 10 years; see `ringmaster check`"
    )]
    Timing {
        file: String,
        ring: String,
        interval: Duration,
        soak: Duration,
    },
    #[error("ring `{ring}` is {phase:?} in a running rollout")]
    NotRunning { ring: String, phase: RingPhase },
    #[error("ring `{0}` was never delivered; nothing to roll back")]
    NeverDelivered(String),
    #[error("rollback of ring `{0}` conflicted")]
    RollbackConflicted(String),
    #[error("`{0:?}` does not answer anything the driver asked for")]
    Unexpected(Observation),
}

/// The driver's next actions.
pub fn step(s: &Situation<'_>, observation: Observation) -> Vec<Action> {
    // A rollback interrupted by a crash is finished first, frozen or not.
    if let Some(ring) = s.rollout.rings.iter().find(|r| r.rolling_back) {
        return roll_back(ring, observation);
    }
    if observation == Observation::Pass {
        match s.rollout.state {
            RolloutPhase::Complete => return vec![Action::Stop(RunEnd::Complete)],
            RolloutPhase::Abandoned => {
                return vec![Action::Stop(RunEnd::Halted {
                    ring: String::new(),
                    reason: "the rollout was abandoned".into(),
                })];
            }
            RolloutPhase::Halted => {
                let ring = s
                    .rollout
                    .rings
                    .iter()
                    .find(|r| matches!(r.state, RingPhase::Halted | RingPhase::RolledBack));
                return vec![Action::Stop(RunEnd::Halted {
                    ring: ring.map(|r| r.name.clone()).unwrap_or_default(),
                    reason: ring
                        .and_then(|r| r.halt.as_ref().map(|h| h.reason.clone()))
                        .unwrap_or_default(),
                })];
            }
            RolloutPhase::Running => {}
        }
    }
    let Some(current) = s.rollout.current_ring() else {
        return vec![
            Action::Append(Event::Completed),
            Action::Progress("rollout complete".into()),
            Action::NextPass,
        ];
    };
    let Some(ring) = s.rings.iter().find(|r| r.name == current.name) else {
        return vec![Action::Fail(Stuck::NoRingFile(current.name.clone()))];
    };
    match current.state {
        RingPhase::Pending | RingPhase::AwaitingApproval => {
            start_ring(s, current, ring, observation)
        }
        RingPhase::Delivering => deliver(s, ring, observation),
        RingPhase::Soaking => soak(s, ring, observation),
        RingPhase::Promoted | RingPhase::Halted | RingPhase::RolledBack => {
            vec![Action::Fail(Stuck::NotRunning {
                ring: ring.name.clone(),
                phase: current.state,
            })]
        }
    }
}

/// Before a ring gets a revision: not while frozen, not before its approval,
/// never a gated ring whose metrics do not answer; then the intent, naming
/// what the ring holds now (what a rollback restores).
fn start_ring(
    s: &Situation<'_>,
    current: &RingState,
    ring: &Ring,
    observation: Observation,
) -> Vec<Action> {
    match observation {
        Observation::Pass => {
            if let Some(reason) = s.frozen {
                return vec![Action::Stop(RunEnd::Frozen {
                    reason: reason.to_owned(),
                })];
            }
            if ring.approval_required && current.approved_by.is_none() {
                let mut out = Vec::new();
                if current.state == RingPhase::Pending {
                    out.push(Action::Append(Event::AwaitingApproval {
                        ring: ring.name.clone(),
                    }));
                    out.push(Action::Progress(format!(
                        "{}: awaiting approval",
                        ring.name
                    )));
                }
                out.push(Action::Stop(RunEnd::AwaitingApproval {
                    ring: ring.name.clone(),
                }));
                return out;
            }
            preflight_then(ring, || Action::AskTarget {
                ring: ring.name.clone(),
            })
        }
        Observation::Preflighted => vec![Action::AskTarget {
            ring: ring.name.clone(),
        }],
        Observation::TargetHolds(previous) => vec![
            Action::Append(Event::Delivering {
                ring: ring.name.clone(),
                revision: s.rollout.revision.clone(),
                previous,
            }),
            Action::NextPass,
        ],
        other => vec![Action::Fail(Stuck::Unexpected(other))],
    }
}

/// A ring with gates is preflighted first; one without goes straight on.
fn preflight_then(ring: &Ring, next: impl FnOnce() -> Action) -> Vec<Action> {
    if ring.gates.is_empty() {
        vec![next()]
    } else {
        vec![Action::Preflight {
            ring: ring.name.clone(),
        }]
    }
}

/// A journaled delivery intent, first or cut short by a crash: if the target
/// already holds the revision, deliver again (a no-op there) and soak (an
/// unreachable source then fails closed and rolls it back); if not, deliver
/// only what the gates can watch.
fn deliver(s: &Situation<'_>, ring: &Ring, observation: Observation) -> Vec<Action> {
    let state = s.rollout;
    let current = state.rings.iter().find(|r| r.name == ring.name);
    let delivery = || Action::Deliver {
        ring: ring.name.clone(),
        previous: current.and_then(|r| r.previous.clone()),
        revision: state.revision.clone(),
    };
    match observation {
        Observation::Pass => vec![Action::AskTarget {
            ring: ring.name.clone(),
        }],
        Observation::TargetHolds(holds) if holds.as_deref() == Some(state.revision.as_str()) => {
            vec![delivery()]
        }
        Observation::TargetHolds(_) => preflight_then(ring, delivery),
        Observation::Preflighted => vec![delivery()],
        Observation::Delivered { target } => vec![
            Action::Append(Event::Delivered {
                ring: ring.name.clone(),
            }),
            Action::Progress(format!(
                "{}: delivered {} to {target}",
                ring.name,
                short(&state.revision),
            )),
            Action::Progress(soaking_line(ring)),
            Action::NextPass,
        ],
        Observation::DeliveryConflict(reason) => vec![
            Action::Append(Event::Halted {
                ring: ring.name.clone(),
                halt: Halt {
                    gate: None,
                    value: None,
                    threshold: None,
                    reason,
                    at: rfc3339(s.now),
                    rollback: false,
                },
            }),
            Action::NextPass,
        ],
        other => vec![Action::Fail(Stuck::Unexpected(other))],
    }
}

/// Evaluates the ring's gates every interval until `soak` of healthy rounds
/// has passed (promote), a gate breaches, or evaluations stay inconclusive
/// `inconclusive_limit` times in a row (halt, failing closed).
fn soak(s: &Situation<'_>, ring: &Ring, observation: Observation) -> Vec<Action> {
    // `check` rejects such a ring file; a ring built any other way must not
    // make the soak spin, writing the journal as fast as it can.
    if ring.interval < crate::rollout::rings::MIN_INTERVAL
        || ring.interval > crate::model::duration::MAX_DURATION
        || ring.soak > crate::model::duration::MAX_DURATION
    {
        return vec![Action::Fail(Stuck::Timing {
            file: ring.file.clone(),
            ring: ring.name.clone(),
            interval: ring.interval,
            soak: ring.soak,
        })];
    }
    let tally = s.soak;
    match observation {
        // The soak clock starts once the ring's hosts run the delivery.
        Observation::Pass | Observation::Slept
            if !tally.converged && ring.soak_clock.converged.is_some() =>
        {
            let query = ring
                .soak_clock
                .converged
                .as_ref()
                .map_or_else(String::new, |c| {
                    crate::rollout::soakclock::converged_query(&c.query, &s.rollout.revision)
                });
            vec![Action::CheckConvergence {
                ring: ring.name.clone(),
                query,
            }]
        }
        Observation::Convergence { answer, at } => converge(s, ring, answer, at),
        Observation::Pass | Observation::Slept => {
            if ring.interval.saturating_mul(tally.healthy) >= ring.soak {
                return vec![
                    Action::Append(Event::Promoted {
                        ring: ring.name.clone(),
                    }),
                    Action::Progress(format!(
                        "{}: promoted after {} healthy evaluation{}",
                        ring.name,
                        tally.healthy,
                        if tally.healthy == 1 { "" } else { "s" }
                    )),
                    Action::NextPass,
                ];
            }
            vec![
                Action::Tally(Soak {
                    round: tally.round + 1,
                    ..tally
                }),
                Action::Evaluate {
                    ring: ring.name.clone(),
                },
            ]
        }
        Observation::Round {
            verdicts,
            at,
            evidence,
        } => round(s, ring, tally, &verdicts, &evidence, at),
        other => vec![Action::Fail(Stuck::Unexpected(other))],
    }
}

/// One convergence check: at the floor the soak clock starts (journaled, then
/// a new pass); below it the ring waits another interval, until the
/// deadline, when it halts like a breach. No number (no data, an error)
/// is below the floor: fail closed at the deadline.
fn converge(
    s: &Situation<'_>,
    ring: &Ring,
    answer: Result<Option<f64>, String>,
    at: jiff::Timestamp,
) -> Vec<Action> {
    let Some(floor) = ring.soak_clock.converged.as_ref() else {
        return vec![Action::Fail(Stuck::Unexpected(Observation::Convergence {
            answer,
            at,
        }))];
    };
    let (value, reason) = match answer {
        Ok(Some(v)) if v.is_finite() => (Some(v), None),
        Ok(Some(v)) => (None, Some(format!("the query returned {v}"))),
        Ok(None) => (None, Some("no data".to_owned())),
        Err(e) => (None, Some(e)),
    };
    let revision = short(&s.rollout.revision);
    if let Some(v) = value
        && v >= floor.min
    {
        return vec![
            Action::Append(Event::Converged {
                ring: ring.name.clone(),
                value: v,
                min: floor.min,
            }),
            Action::Progress(format!(
                "{}: converged: {} of its hosts report {revision} (floor {}); the soak clock starts",
                ring.name,
                crate::rollout::soakclock::figure(v),
                crate::rollout::soakclock::figure(floor.min)
            )),
            Action::NextPass,
        ];
    }
    let shown = match (value, &reason) {
        (Some(v), _) => format!(
            "{} of its hosts report {revision}",
            crate::rollout::soakclock::figure(v)
        ),
        (None, Some(why)) => format!("no number for its hosts on {revision} ({why})"),
        (None, None) => format!("no number for its hosts on {revision}"),
    };
    let check = Action::Append(Event::Converging {
        ring: ring.name.clone(),
        value,
        min: floor.min,
        reason,
    });
    let since = s.soak.delivered_at.unwrap_or(at);
    let waited = Duration::from_secs(u64::try_from((at - since).get_seconds()).unwrap_or(0));
    if waited >= floor.deadline {
        let halt = Halt {
            gate: None,
            value,
            threshold: Some(floor.min),
            reason: format!(
                "delivered but not picked up: {shown} {} after the delivery, below the `converged` floor {}",
                crate::rollout::soakclock::span(
                    i64::try_from(floor.deadline.as_secs()).unwrap_or(i64::MAX)
                ),
                crate::rollout::soakclock::figure(floor.min)
            ),
            at: rfc3339(at),
            rollback: ring.rollback_on_breach,
        };
        return vec![
            check,
            Action::Progress(format!("{}: halted: {}", ring.name, halt.reason)),
            Action::Append(Event::Halted {
                ring: ring.name.clone(),
                halt,
            }),
            Action::NextPass,
        ];
    }
    vec![
        check,
        Action::Progress(format!(
            "{}: waiting for its hosts to pick up the delivery: {shown} (floor {})",
            ring.name,
            crate::rollout::soakclock::figure(floor.min)
        )),
        Action::Sleep(ring.interval),
    ]
}

/// The first enforcing gate that was idle this round: (gate, traffic, floor).
fn idle_gate<'a>(ring: &'a Ring, verdicts: &[Verdict]) -> Option<(&'a str, f64, f64)> {
    ring.gates
        .iter()
        .zip(verdicts)
        .filter(|(g, _)| !g.shadow)
        .find_map(|(g, v)| match v {
            Verdict::Idle { traffic, floor, .. } => Some((g.name.as_str(), *traffic, *floor)),
            _ => None,
        })
}

/// The halt of a ring idle for its `max_idle`: like a breach (rolled back
/// per `on_breach`), or in place for a person (`on_idle: wait`).
fn idle_halt(
    s: &Situation<'_>,
    ring: &Ring,
    since: jiff::Timestamp,
    at: jiff::Timestamp,
    (gate, traffic, floor): (&str, f64, f64),
) -> Option<Halt> {
    let idle_s = (at - since).get_seconds();
    if Duration::from_secs(u64::try_from(idle_s).unwrap_or(0)) < ring.soak_clock.max_idle {
        return None;
    }
    let wait = ring.soak_clock.on_idle == crate::rollout::soakclock::OnIdle::Wait;
    let mut reason = format!(
        "idle for {} (traffic {} < {} on gate `{gate}`), `max_idle` is {}: too little traffic to judge the ring",
        crate::rollout::soakclock::span(idle_s),
        crate::rollout::soakclock::figure(traffic),
        crate::rollout::soakclock::figure(floor),
        crate::rollout::soakclock::span(
            i64::try_from(ring.soak_clock.max_idle.as_secs()).unwrap_or(i64::MAX)
        ),
    );
    if wait {
        reason.push_str(&format!(
            "; `on_idle: wait`: it keeps the revision and waits for a person: `ringmaster rollout resume {}` soaks it again, `ringmaster rollout rollback {}` restores the previous revision",
            s.rollout.id, s.rollout.id
        ));
    }
    // No gate breached: the halt names none (a debrief reads a named
    // gate's query as the breach's evidence); the reason names the gate.
    Some(Halt {
        gate: None,
        value: Some(traffic),
        threshold: Some(floor),
        reason,
        at: rfc3339(at),
        rollback: !wait && ring.rollback_on_breach,
    })
}

/// One round's verdicts: journaled together, then a halt, or the next round
/// after the interval.
fn round(
    s: &Situation<'_>,
    ring: &Ring,
    tally: Soak,
    verdicts: &[Verdict],
    evidence: &[Option<Evidence>],
    at: jiff::Timestamp,
) -> Vec<Action> {
    let mut breach: Option<Halt> = None;
    let mut inconclusive: Option<String> = None;
    // A compare gate short of samples: the round proves nothing either way.
    let mut pending = false;
    let mut evaluations = Vec::with_capacity(ring.gates.len());
    for (i, (gate, verdict)) in ring.gates.iter().zip(verdicts).enumerate() {
        let (value, threshold, reason) = verdict.parts();
        let evidence = evidence.get(i).copied().flatten();
        evaluations.push(Event::Evaluated {
            ring: ring.name.clone(),
            gate: gate.name.clone(),
            round: tally.round,
            verdict: JournalVerdict::from(verdict),
            value,
            threshold,
            enforce: !gate.shadow,
            reason,
            traffic: match verdict {
                Verdict::Idle { traffic, .. } => Some(*traffic),
                _ => None,
            },
            floor: match verdict {
                Verdict::Idle { floor, .. } => Some(*floor),
                _ => None,
            },
            baseline: evidence.map(|e| e.baseline),
            p_value: evidence.map(|e| e.p_value),
        });
        if gate.shadow {
            continue;
        }
        match verdict {
            Verdict::Breach { value, threshold } if breach.is_none() => {
                breach = Some(Halt {
                    gate: Some(gate.name.clone()),
                    value: Some(*value),
                    threshold: Some(*threshold),
                    reason: match evidence {
                        Some(e) => {
                            crate::rollout::compare::breach_text(gate, *value, *threshold, e)
                        }
                        None => gate.breach_text(*value, *threshold),
                    },
                    at: rfc3339(at),
                    rollback: ring.rollback_on_breach,
                });
            }
            Verdict::Inconclusive { reason } => {
                inconclusive = Some(format!("gate `{}`: {reason}", gate.name));
            }
            Verdict::Pending { .. } => pending = true,
            _ => {}
        }
    }
    // The round's evaluations, journaled together before any halt.
    let mut out = vec![Action::AppendRound(evaluations)];
    // An idle round (an enforcing gate below its traffic floor, none
    // inconclusive) counts neither as healthy nor toward the streak.
    let idle = idle_gate(ring, verdicts).filter(|_| inconclusive.is_none());
    let idle_since = idle.map(|_| tally.idle_since.unwrap_or(at));
    let streak = if inconclusive.is_some() {
        tally.streak + 1
    } else if idle.is_some() {
        tally.streak
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
            at: rfc3339(at),
            rollback: ring.rollback_on_breach,
        })
    });
    let halt = halt.or_else(|| idle_halt(s, ring, idle_since?, at, idle?));
    if let Some(halt) = halt {
        // A halt with `rollback` set leaves the ring rolling back; the next
        // pass finishes that before anything else.
        out.push(Action::Progress(format!(
            "{}: halted: {}",
            ring.name, halt.reason
        )));
        out.push(Action::Append(Event::Halted {
            ring: ring.name.clone(),
            halt,
        }));
        out.push(Action::NextPass);
        return out;
    }
    let healthy = tally.healthy + u32::from(inconclusive.is_none() && idle.is_none() && !pending);
    let needed = u32::try_from(ring.soak.as_secs().div_ceil(ring.interval.as_secs().max(1)))
        .unwrap_or(u32::MAX);
    // Going idle and leaving it are state changes of the soak clock: one
    // line each, never one per idle round.
    match (&idle, tally.idle_since) {
        (Some((gate, traffic, floor)), None) => out.push(Action::Progress(format!(
            "{}: idle (traffic {} < {} on gate `{gate}`): the soak clock waits",
            ring.name,
            crate::rollout::soakclock::figure(*traffic),
            crate::rollout::soakclock::figure(*floor)
        ))),
        (None, Some(_)) if inconclusive.is_none() => out.push(Action::Progress(format!(
            "{}: traffic is back: the soak clock runs ({healthy} of {needed} healthy rounds)",
            ring.name
        ))),
        _ => {}
    }
    out.extend([
        Action::Tally(Soak {
            healthy,
            streak,
            round: tally.round,
            idle_since,
            ..tally
        }),
        // A round is no state change: no Progress line (CI logs get one
        // line per change); a terminal shows it on its live status line.
        Action::SoakProgress {
            ring: ring.name.clone(),
            healthy,
            needed,
        },
        Action::Sleep(ring.interval),
    ]);
    out
}

/// The line a delivered ring's soak starts with: how long, and how many
/// healthy rounds at what interval it takes.
fn soaking_line(ring: &Ring) -> String {
    let needed = ring.soak.as_secs().div_ceil(ring.interval.as_secs().max(1));
    format!(
        "{}: soaking for {}: {needed} healthy round{}, one every {}",
        ring.name,
        crate::model::duration::text(ring.soak),
        if needed == 1 { "" } else { "s" },
        crate::model::duration::text(ring.interval),
    )
}

/// Finishes a journaled rollback: restore, then confirm.
fn roll_back(ring: &RingState, observation: Observation) -> Vec<Action> {
    let Some(revision) = ring.revision.clone() else {
        return vec![Action::Fail(Stuck::NeverDelivered(ring.name.clone()))];
    };
    let confirm = || {
        vec![
            Action::Append(Event::RolledBack {
                ring: ring.name.clone(),
            }),
            Action::Progress(format!(
                "{}: rolled back to {}",
                ring.name,
                ring.previous.as_deref().map_or("nothing", short)
            )),
            Action::NextPass,
        ]
    };
    match observation {
        Observation::Pass => vec![Action::Restore {
            ring: ring.name.clone(),
            revision,
            previous: ring.previous.clone(),
        }],
        Observation::Restored => confirm(),
        // Already restored by an earlier pass whose confirmation was lost, or
        // moved by hand: either way the target no longer holds this
        // rollout's revision.
        Observation::RestoreConflict { holds } if holds.as_deref() != Some(revision.as_str()) => {
            confirm()
        }
        Observation::RestoreConflict { .. } => {
            vec![Action::Fail(Stuck::RollbackConflicted(ring.name.clone()))]
        }
        other => vec![Action::Fail(Stuck::Unexpected(other))],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::gates::{Gate, GateKind};

    const REV: &str = "0123456789abcdef";
    const OLD: &str = "fedcba9876543210";

    fn t0() -> jiff::Timestamp {
        "2026-11-22T10:00:00Z".parse().expect("a time")
    }

    fn gate(name: &str, shadow: bool) -> Gate {
        Gate {
            name: name.into(),
            kind: GateKind::Threshold {
                query: format!("{name}_ratio"),
                max: Some(0.01),
                min: None,
            },
            shadow,
            min_traffic: None,
        }
    }

    /// `soak_rounds` healthy rounds of 30 s to promote, one enforcing gate.
    fn ring(name: &str, soak_rounds: u32) -> Ring {
        let mut ring = crate::rollout::policy::tests::ring(name, &[]);
        ring.soak = ring.interval * soak_rounds;
        ring.gates = vec![gate("errors", false)];
        ring
    }

    /// A rollout soaking ring `a` (`soak_rounds` long, then `edit`ed), the
    /// first of the rings `a` and `b`.
    fn soaking_a(soak_rounds: u32, edit: impl FnOnce(&mut Ring)) -> (RolloutState, [Ring; 2]) {
        let mut a = ring("a", soak_rounds);
        edit(&mut a);
        (rollout(&soaking("a")), [a, ring("b", 1)])
    }

    fn rollout(events: &[Event]) -> RolloutState {
        let mut all = vec![Event::Started {
            revision: REV.into(),
            author: "dev".into(),
            rings: vec!["a".into(), "b".into()],
        }];
        all.extend_from_slice(events);
        RolloutState::replay("r-1", &all)
            .expect("replays")
            .expect("started")
    }

    fn delivering(ring: &str) -> Event {
        Event::Delivering {
            ring: ring.into(),
            revision: REV.into(),
            previous: Some(OLD.into()),
        }
    }

    fn soaking(ring: &str) -> Vec<Event> {
        vec![delivering(ring), Event::Delivered { ring: ring.into() }]
    }

    fn situation<'a>(state: &'a RolloutState, rings: &'a [Ring]) -> Situation<'a> {
        Situation {
            rollout: state,
            rings,
            frozen: None,
            soak: Soak::default(),
            now: t0(),
        }
    }

    fn healthy() -> Verdict {
        Verdict::Healthy {
            value: 0.001,
            threshold: 0.01,
        }
    }

    fn breach() -> Verdict {
        Verdict::Breach {
            value: 0.09,
            threshold: 0.01,
        }
    }

    fn inconclusive() -> Verdict {
        Verdict::Inconclusive {
            reason: "connection refused".into(),
        }
    }

    fn observed_round(verdicts: Vec<Verdict>) -> Observation {
        Observation::Round {
            verdicts,
            at: t0(),
            evidence: Vec::new(),
        }
    }

    fn appended(actions: &[Action]) -> Vec<&Event> {
        actions
            .iter()
            .flat_map(|a| match a {
                Action::Append(e) => vec![e],
                Action::AppendRound(es) => es.iter().collect(),
                _ => vec![],
            })
            .collect()
    }

    fn halt_of(actions: &[Action]) -> Option<&Halt> {
        appended(actions).into_iter().find_map(|e| match e {
            Event::Halted { halt, .. } => Some(halt),
            _ => None,
        })
    }

    // ----------------------------------------------------------- starting a ring

    #[test]
    fn a_gated_ring_is_preflighted_then_its_intent_names_what_it_held() {
        let state = rollout(&[]);
        let rings = [ring("a", 1), ring("b", 1)];
        let s = situation(&state, &rings);
        assert_eq!(
            step(&s, Observation::Pass),
            [Action::Preflight { ring: "a".into() }]
        );
        assert_eq!(
            step(&s, Observation::Preflighted),
            [Action::AskTarget { ring: "a".into() }]
        );
        assert_eq!(
            step(&s, Observation::TargetHolds(Some(OLD.into()))),
            [Action::Append(delivering("a")), Action::NextPass]
        );
    }

    #[test]
    fn a_ring_without_gates_is_not_preflighted() {
        let state = rollout(&[]);
        let mut bare = ring("a", 1);
        bare.gates.clear();
        let rings = [bare];
        assert_eq!(
            step(&situation(&state, &rings), Observation::Pass),
            [Action::AskTarget { ring: "a".into() }]
        );
    }

    #[test]
    fn a_ring_needing_approval_waits_and_journals_the_wait_once() {
        let rings = [
            ring("a", 1),
            crate::rollout::policy::tests::ring("b", &["rm"]),
        ];
        let promoted = [soaking("a"), vec![Event::Promoted { ring: "a".into() }]].concat();
        let state = rollout(&promoted);
        let wait = Action::Stop(RunEnd::AwaitingApproval { ring: "b".into() });
        assert_eq!(
            step(&situation(&state, &rings), Observation::Pass),
            [
                Action::Append(Event::AwaitingApproval { ring: "b".into() }),
                Action::Progress("b: awaiting approval".into()),
                wait.clone()
            ]
        );
        let waiting = rollout(
            &[
                promoted.clone(),
                vec![Event::AwaitingApproval { ring: "b".into() }],
            ]
            .concat(),
        );
        assert_eq!(
            step(&situation(&waiting, &rings), Observation::Pass),
            [wait]
        );
        let approved = rollout(
            &[
                promoted,
                vec![
                    Event::AwaitingApproval { ring: "b".into() },
                    Event::Approved {
                        ring: "b".into(),
                        by: "rm".into(),
                    },
                ],
            ]
            .concat(),
        );
        // Approved and gate-less: straight on to the delivery.
        assert_eq!(
            step(&situation(&approved, &rings), Observation::Pass),
            [Action::AskTarget { ring: "b".into() }]
        );
    }

    #[test]
    fn a_freeze_stops_a_ring_from_starting_but_not_a_rollback_or_a_soak() {
        let rings = [ring("a", 2), ring("b", 1)];
        let pending = rollout(&[]);
        let mut s = situation(&pending, &rings);
        s.frozen = Some("quarterly close");
        assert_eq!(
            step(&s, Observation::Pass),
            [Action::Stop(RunEnd::Frozen {
                reason: "quarterly close".into()
            })]
        );
        let soak = rollout(&soaking("a"));
        let mut s = situation(&soak, &rings);
        s.frozen = Some("quarterly close");
        assert!(matches!(
            step(&s, Observation::Pass).as_slice(),
            [Action::Tally(_), Action::Evaluate { .. }]
        ));
        let rolling =
            rollout(&[soaking("a"), vec![Event::RollingBack { ring: "a".into() }]].concat());
        let mut s = situation(&rolling, &rings);
        s.frozen = Some("quarterly close");
        assert_eq!(
            step(&s, Observation::Pass),
            [Action::Restore {
                ring: "a".into(),
                revision: REV.into(),
                previous: Some(OLD.into())
            }]
        );
    }

    // ----------------------------------------------------------- delivering

    #[test]
    fn a_delivery_goes_out_and_is_confirmed() {
        let state = rollout(&[delivering("a")]);
        let rings = [ring("a", 1), ring("b", 1)];
        let s = situation(&state, &rings);
        let deliver = Action::Deliver {
            ring: "a".into(),
            previous: Some(OLD.into()),
            revision: REV.into(),
        };
        assert_eq!(
            step(&s, Observation::Pass),
            [Action::AskTarget { ring: "a".into() }]
        );
        // Not there yet: only what the gates can watch is delivered.
        assert_eq!(
            step(&s, Observation::TargetHolds(Some(OLD.into()))),
            [Action::Preflight { ring: "a".into() }]
        );
        assert_eq!(step(&s, Observation::Preflighted), [deliver]);
        assert_eq!(
            step(
                &s,
                Observation::Delivered {
                    target: "memory".into()
                }
            ),
            [
                Action::Append(Event::Delivered { ring: "a".into() }),
                Action::Progress("a: delivered 0123456789 to memory".into()),
                Action::Progress("a: soaking for 30s: 1 healthy round, one every 30s".into()),
                Action::NextPass
            ]
        );
    }

    #[test]
    fn a_delivery_cut_short_by_a_crash_after_the_target_moved_is_delivered_again_without_preflight()
    {
        let state = rollout(&[delivering("a")]);
        let rings = [ring("a", 1), ring("b", 1)];
        assert_eq!(
            step(
                &situation(&state, &rings),
                Observation::TargetHolds(Some(REV.into()))
            ),
            [Action::Deliver {
                ring: "a".into(),
                previous: Some(OLD.into()),
                revision: REV.into(),
            }]
        );
    }

    #[test]
    fn a_target_moved_behind_ringmasters_back_halts_the_ring_without_rollback() {
        let state = rollout(&[delivering("a")]);
        let rings = [ring("a", 1), ring("b", 1)];
        let actions = step(
            &situation(&state, &rings),
            Observation::DeliveryConflict("ring `a` holds x".into()),
        );
        let halt = halt_of(&actions).expect("a halt");
        assert_eq!(halt.reason, "ring `a` holds x");
        assert!(!halt.rollback);
        assert_eq!(halt.at, "2026-11-22T10:00:00Z");
        assert_eq!(actions.last(), Some(&Action::NextPass));
    }

    // ----------------------------------------------------------- soaking

    #[test]
    fn healthy_rounds_soak_then_promote() {
        let (state, rings) = soaking_a(2, |_| {});
        let mut s = situation(&state, &rings);
        assert_eq!(
            step(&s, Observation::Pass),
            [
                Action::Tally(Soak {
                    healthy: 0,
                    streak: 0,
                    round: 1,
                    ..Default::default()
                }),
                Action::Evaluate { ring: "a".into() }
            ]
        );
        s.soak.round = 1;
        let actions = step(&s, observed_round(vec![healthy()]));
        assert_eq!(
            actions,
            [
                Action::AppendRound(vec![Event::Evaluated {
                    ring: "a".into(),
                    gate: "errors".into(),
                    round: 1,
                    verdict: JournalVerdict::Healthy,
                    value: Some(0.001),
                    threshold: Some(0.01),
                    enforce: true,
                    reason: None,
                    traffic: None,
                    floor: None,
                    baseline: None,
                    p_value: None,
                }]),
                Action::Tally(Soak {
                    healthy: 1,
                    streak: 0,
                    round: 1,
                    ..Default::default()
                }),
                Action::SoakProgress {
                    ring: "a".into(),
                    healthy: 1,
                    needed: 2
                },
                Action::Sleep(Duration::from_secs(30)),
            ]
        );
        s.soak.healthy = 1;
        assert!(matches!(
            step(&s, Observation::Slept).as_slice(),
            [
                Action::Tally(Soak { round: 2, .. }),
                Action::Evaluate { .. }
            ]
        ));
        s.soak.healthy = 2;
        assert_eq!(
            step(&s, Observation::Slept),
            [
                Action::Append(Event::Promoted { ring: "a".into() }),
                Action::Progress("a: promoted after 2 healthy evaluations".into()),
                Action::NextPass
            ]
        );
    }

    #[test]
    fn a_breach_halts_at_once_and_rolls_back_only_when_the_ring_says_so() {
        for rollback in [false, true] {
            let (state, rings) = soaking_a(10, |a| {
                a.rollback_on_breach = rollback;
                a.gates.push(gate("latency", false));
            });
            let mut s = situation(&state, &rings);
            s.soak = Soak {
                healthy: 3,
                streak: 0,
                round: 4,
                ..Default::default()
            };
            let actions = step(&s, observed_round(vec![healthy(), breach()]));
            // Both evaluations are journaled, in one write, before the halt.
            assert!(matches!(&actions[0], Action::AppendRound(round) if round.len() == 2));
            assert_eq!(
                halt_of(&actions),
                Some(&Halt {
                    gate: Some("latency".into()),
                    value: Some(0.09),
                    threshold: Some(0.01),
                    reason: "gate `latency` breached: 0.09 against 0.01".into(),
                    at: "2026-11-22T10:00:00Z".into(),
                    rollback,
                })
            );
            assert_eq!(actions.last(), Some(&Action::NextPass));
            assert!(!actions.iter().any(|a| matches!(a, Action::Sleep(_))));
        }
    }

    #[test]
    fn a_shadow_gate_s_breach_is_journaled_and_never_halts() {
        let (state, rings) = soaking_a(10, |a| {
            a.gates = vec![gate("errors", false), gate("canary", true)];
        });
        let mut s = situation(&state, &rings);
        s.soak.round = 1;
        let actions = step(&s, observed_round(vec![healthy(), breach()]));
        assert_eq!(halt_of(&actions), None);
        assert!(appended(&actions).iter().any(|e| matches!(
            e,
            Event::Evaluated {
                verdict: JournalVerdict::Breach,
                enforce: false,
                ..
            }
        )));
        assert!(actions.contains(&Action::Tally(Soak {
            healthy: 1,
            streak: 0,
            round: 1,
            ..Default::default()
        })));
    }

    #[test]
    fn inconclusive_rounds_never_count_as_healthy_and_halt_at_the_limit() {
        let (state, rings) = soaking_a(10, |a| {
            a.inconclusive_limit = 3;
            a.rollback_on_breach = true;
        });
        let mut s = situation(&state, &rings);
        s.soak = Soak {
            healthy: 2,
            streak: 0,
            round: 3,
            ..Default::default()
        };
        for streak in 1..=2 {
            let actions = step(&s, observed_round(vec![inconclusive()]));
            let tally = Soak {
                healthy: 2,
                streak,
                round: s.soak.round,
                ..Default::default()
            };
            assert!(actions.contains(&Action::Tally(tally)), "{actions:?}");
            // An inconclusive round counts nothing and prints no line.
            assert!(
                !actions.iter().any(|a| matches!(a, Action::Progress(_))),
                "{actions:?}"
            );
            assert_eq!(halt_of(&actions), None);
            s.soak = Soak {
                round: s.soak.round + 1,
                ..tally
            };
        }
        let actions = step(&s, observed_round(vec![inconclusive()]));
        let halt = halt_of(&actions).expect("fails closed");
        assert_eq!(
            halt.reason,
            "3 evaluations in a row were inconclusive (gate `errors`: connection refused): failing closed"
        );
        assert_eq!(halt.gate, None);
        assert!(halt.rollback);
        // A healthy round in between starts the streak again.
        s.soak.streak = 2;
        let actions = step(&s, observed_round(vec![healthy()]));
        assert!(actions.contains(&Action::Tally(Soak {
            healthy: 3,
            streak: 0,
            round: s.soak.round,
            ..Default::default()
        })));
    }

    #[test]
    fn a_metrics_outage_is_inconclusive_evidence_kept_with_its_reason() {
        let (state, rings) = soaking_a(10, |_| {});
        let mut s = situation(&state, &rings);
        s.soak.round = 1;
        let actions = step(&s, observed_round(vec![inconclusive()]));
        assert_eq!(
            actions[0],
            Action::AppendRound(vec![Event::Evaluated {
                ring: "a".into(),
                gate: "errors".into(),
                round: 1,
                verdict: JournalVerdict::Inconclusive,
                value: None,
                threshold: None,
                enforce: true,
                reason: Some("connection refused".into()),
                traffic: None,
                floor: None,
                baseline: None,
                p_value: None,
            }])
        );
        // Before a delivery, an outage is the executor's preflight error:
        // the ring is never delivered (step only asks for the preflight).
        let pending = rollout(&[]);
        assert_eq!(
            step(&situation(&pending, &rings), Observation::Pass),
            [Action::Preflight { ring: "a".into() }]
        );
    }

    #[test]
    fn a_ring_whose_timing_would_spin_is_refused() {
        let (state, rings) = soaking_a(1, |a| a.interval = Duration::ZERO);
        assert!(matches!(
            step(&situation(&state, &rings), Observation::Pass).as_slice(),
            [Action::Fail(Stuck::Timing { .. })]
        ));
    }

    // ----------------------------------------------------------- ending

    #[test]
    fn every_ring_promoted_completes_the_rollout() {
        let events = [
            soaking("a"),
            vec![Event::Promoted { ring: "a".into() }],
            soaking("b"),
            vec![Event::Promoted { ring: "b".into() }],
        ]
        .concat();
        let state = rollout(&events);
        let rings = [ring("a", 1), ring("b", 1)];
        assert_eq!(
            step(&situation(&state, &rings), Observation::Pass),
            [
                Action::Append(Event::Completed),
                Action::Progress("rollout complete".into()),
                Action::NextPass
            ]
        );
        let done = rollout(&[events, vec![Event::Completed]].concat());
        assert_eq!(
            step(&situation(&done, &rings), Observation::Pass),
            [Action::Stop(RunEnd::Complete)]
        );
    }

    #[test]
    fn a_superseded_rollout_stops_its_driver() {
        let state = rollout(&[
            delivering("a"),
            Event::Abandoned {
                reason: "superseded by r-2".into(),
            },
        ]);
        let rings = [ring("a", 1), ring("b", 1)];
        assert_eq!(
            step(&situation(&state, &rings), Observation::Pass),
            [Action::Stop(RunEnd::Halted {
                ring: String::new(),
                reason: "the rollout was abandoned".into()
            })]
        );
    }

    #[test]
    fn a_halted_rollout_stops_naming_the_ring_and_why() {
        let state = rollout(
            &[
                soaking("a"),
                vec![Event::Halted {
                    ring: "a".into(),
                    halt: Halt {
                        gate: None,
                        value: None,
                        threshold: None,
                        reason: "by hand".into(),
                        at: "2026-11-22T10:00:00Z".into(),
                        rollback: false,
                    },
                }],
            ]
            .concat(),
        );
        let rings = [ring("a", 1), ring("b", 1)];
        assert_eq!(
            step(&situation(&state, &rings), Observation::Pass),
            [Action::Stop(RunEnd::Halted {
                ring: "a".into(),
                reason: "by hand".into()
            })]
        );
    }

    #[test]
    fn a_rollback_is_finished_and_confirmed_even_after_a_lost_confirmation() {
        let state =
            rollout(&[soaking("a"), vec![Event::RollingBack { ring: "a".into() }]].concat());
        let rings = [ring("a", 1), ring("b", 1)];
        let s = situation(&state, &rings);
        let confirmed = vec![
            Action::Append(Event::RolledBack { ring: "a".into() }),
            Action::Progress("a: rolled back to fedcba9876".into()),
            Action::NextPass,
        ];
        assert_eq!(step(&s, Observation::Restored), confirmed);
        // Restored by an earlier run whose confirmation was lost.
        assert_eq!(
            step(
                &s,
                Observation::RestoreConflict {
                    holds: Some(OLD.into())
                }
            ),
            confirmed
        );
        // Still holding the bad revision: the rollback really failed.
        assert_eq!(
            step(
                &s,
                Observation::RestoreConflict {
                    holds: Some(REV.into())
                }
            ),
            [Action::Fail(Stuck::RollbackConflicted("a".into()))]
        );
    }

    #[test]
    fn an_answer_nobody_asked_for_is_refused_not_acted_on() {
        let state = rollout(&[]);
        let rings = [ring("a", 1), ring("b", 1)];
        assert!(matches!(
            step(&situation(&state, &rings), Observation::Slept).as_slice(),
            [Action::Fail(Stuck::Unexpected(Observation::Slept))]
        ));
    }

    // ----------------------------------------------------------- crash resume

    fn entries(events: &[Event]) -> Vec<Entry> {
        let mut all = vec![Event::Started {
            revision: REV.into(),
            author: "dev".into(),
            rings: vec!["a".into(), "b".into()],
        }];
        all.extend_from_slice(events);
        crate::rollout::journal::chained_at(
            "r-1",
            all.iter().map(|e| {
                let event = serde_json::to_value(e).expect("serialises");
                ("2026-11-22T10:00:00Z".to_owned(), event)
            }),
        )
    }

    fn evaluated(gate: &str, round: u64, verdict: JournalVerdict, enforce: bool) -> Event {
        Event::Evaluated {
            ring: "a".into(),
            gate: gate.into(),
            round,
            verdict,
            value: None,
            threshold: None,
            enforce,
            reason: None,
            traffic: None,
            floor: None,
            baseline: None,
            p_value: None,
        }
    }

    #[test]
    fn a_resumed_soak_counts_only_whole_healthy_rounds_since_the_last_delivery() {
        use JournalVerdict::{Breach, Healthy, Inconclusive};
        let mut a = ring("a", 10);
        a.gates = vec![
            gate("errors", false),
            gate("latency", false),
            gate("canary", true),
        ];
        let mut events = soaking("a");
        // An earlier delivery's rounds do not count (a resumed ring).
        events.push(evaluated("errors", 1, Healthy, true));
        events.push(evaluated("latency", 1, Healthy, true));
        events.push(Event::Delivered { ring: "a".into() });
        events.extend([
            evaluated("errors", 1, Healthy, true),
            evaluated("latency", 1, Healthy, true),
            // A shadow gate's breach never spoils a round.
            evaluated("canary", 1, Breach, false),
            evaluated("errors", 2, Inconclusive, true),
            evaluated("latency", 2, Healthy, true),
            evaluated("errors", 3, Healthy, true),
            evaluated("latency", 3, Healthy, true),
            evaluated("errors", 4, Inconclusive, true),
            evaluated("latency", 4, Healthy, true),
            // Cut short by a crash: half a round, never healthy.
            evaluated("errors", 5, Healthy, true),
        ]);
        let entries = entries(&events);
        assert_eq!(
            Soak::resume(&entries, "r-1", &a),
            Soak {
                healthy: 2,
                streak: 0,
                round: 5,
                // Every entry of these tests is journaled at t0.
                delivered_at: Some(t0()),
                ..Default::default()
            }
        );
        // Other rollouts' entries are not this soak's.
        assert_eq!(Soak::resume(&entries, "r-2", &a), Soak::default());
    }

    #[test]
    fn a_resumed_soak_continues_its_inconclusive_streak() {
        let a = ring("a", 10);
        let mut events = soaking("a");
        events.extend([
            evaluated("errors", 1, JournalVerdict::Healthy, true),
            evaluated("errors", 2, JournalVerdict::Inconclusive, true),
            evaluated("errors", 3, JournalVerdict::Inconclusive, true),
        ]);
        let soak = Soak::resume(&entries(&events), "r-1", &a);
        assert_eq!(
            soak,
            Soak {
                healthy: 1,
                streak: 2,
                round: 3,
                // Every entry of these tests is journaled at t0.
                delivered_at: Some(t0()),
                ..Default::default()
            }
        );
        // One more inconclusive round after the restart reaches the limit of 3.
        let state = rollout(&soaking("a"));
        let rings = [a, ring("b", 1)];
        let mut s = situation(&state, &rings);
        s.soak = Soak { round: 4, ..soak };
        assert!(halt_of(&step(&s, observed_round(vec![inconclusive()]))).is_some());
    }

    // ------------------------------------------------ the soak clock's waits

    fn idle(traffic: f64) -> Verdict {
        Verdict::Idle {
            traffic,
            floor: 1.0,
            value: Some(0.5),
            threshold: Some(0.01),
        }
    }

    fn at_second(s: i64) -> jiff::Timestamp {
        t0().checked_add(jiff::SignedDuration::from_secs(s))
            .expect("a time")
    }

    fn tally_of(actions: &[Action]) -> Option<Soak> {
        actions.iter().find_map(|a| match a {
            Action::Tally(t) => Some(*t),
            _ => None,
        })
    }

    #[test]
    fn an_idle_round_counts_neither_as_healthy_nor_as_inconclusive() {
        let (state, rings) = soaking_a(3, |_| {});
        let mut s = situation(&state, &rings);
        s.soak = Soak {
            healthy: 1,
            streak: 1,
            round: 3,
            ..Default::default()
        };
        let actions = step(&s, observed_round(vec![idle(0.2)]));
        assert_eq!(halt_of(&actions), None);
        assert_eq!(
            tally_of(&actions),
            Some(Soak {
                healthy: 1,
                streak: 1,
                round: 3,
                idle_since: Some(t0()),
                ..Default::default()
            })
        );
        let journaled = appended(&actions);
        assert!(matches!(
            journaled[0],
            Event::Evaluated {
                verdict: JournalVerdict::Idle,
                traffic: Some(0.2),
                floor: Some(1.0),
                value: Some(0.5),
                ..
            }
        ));
        assert!(actions.contains(&Action::Sleep(rings[0].interval)));
        // A healthy round ends the idle run and the streak.
        s.soak = tally_of(&actions).expect("a tally");
        let after = tally_of(&step(&s, observed_round(vec![healthy()]))).expect("a tally");
        assert_eq!(
            (after.healthy, after.streak, after.idle_since),
            (2, 0, None)
        );
    }

    #[test]
    fn an_inconclusive_gate_beside_an_idle_one_makes_the_round_inconclusive() {
        let (state, rings) = soaking_a(3, |a| a.gates.push(gate("latency", false)));
        let mut s = situation(&state, &rings);
        s.soak.round = 1;
        let tally =
            tally_of(&step(&s, observed_round(vec![idle(0.2), inconclusive()]))).expect("a tally");
        assert_eq!(
            (tally.healthy, tally.streak, tally.idle_since),
            (0, 1, None)
        );
    }

    #[test]
    fn idle_for_max_idle_halts_like_a_breach_or_waits_in_place() {
        use crate::rollout::soakclock::OnIdle;
        for (on_idle, rollback) in [(OnIdle::Halt, true), (OnIdle::Wait, false)] {
            let (state, rings) = soaking_a(3, |a| {
                a.rollback_on_breach = true;
                a.soak_clock.max_idle = Duration::from_secs(60);
                a.soak_clock.on_idle = on_idle;
            });
            let mut s = situation(&state, &rings);
            s.soak = Soak {
                round: 3,
                idle_since: Some(t0()),
                ..Default::default()
            };
            let early = Observation::Round {
                verdicts: vec![idle(0.2)],
                at: at_second(59),
                evidence: Vec::new(),
            };
            assert_eq!(halt_of(&step(&s, early)), None, "{on_idle:?}");
            let late = Observation::Round {
                verdicts: vec![idle(0.2)],
                at: at_second(60),
                evidence: Vec::new(),
            };
            let actions = step(&s, late);
            let halt = halt_of(&actions).expect("halted");
            assert_eq!(halt.rollback, rollback, "{on_idle:?}");
            // No gate breached; the floor and the traffic below it are the figures.
            assert_eq!(
                (halt.gate.as_deref(), halt.value, halt.threshold),
                (None, Some(0.2), Some(1.0))
            );
            assert!(
                halt.reason.starts_with(
                    "idle for 1m (traffic 0.2 < 1 on gate `errors`), `max_idle` is 1m"
                ),
                "{}",
                halt.reason
            );
            assert_eq!(
                halt.reason.contains("ringmaster rollout resume r-1"),
                on_idle == OnIdle::Wait,
                "{}",
                halt.reason
            );
            // The idle round is journaled before the halt.
            assert!(matches!(
                appended(&actions)[0],
                Event::Evaluated {
                    verdict: JournalVerdict::Idle,
                    ..
                }
            ));
        }
    }

    fn entries_at(events: &[(i64, Event)]) -> Vec<Entry> {
        crate::rollout::journal::chained_at(
            "r-1",
            events.iter().map(|(second, e)| {
                let event = serde_json::to_value(e).expect("serialises");
                (rfc3339(at_second(*second)), event)
            }),
        )
    }

    #[test]
    fn a_resumed_soak_rebuilds_its_idle_time_and_skips_idle_rounds() {
        use JournalVerdict::{Healthy, Idle, Inconclusive};
        let a = ring("a", 10);
        let e = |round, verdict| evaluated("errors", round, verdict, true);
        let entries = entries_at(&[
            (0, delivering("a")),
            (0, Event::Delivered { ring: "a".into() }),
            (30, e(1, Healthy)),
            (60, e(2, Inconclusive)),
            (90, e(3, Idle)),
            (120, e(4, Inconclusive)),
            (150, e(5, Idle)),
            (180, e(6, Idle)),
        ]);
        assert_eq!(
            Soak::resume(&entries, "r-1", &a),
            Soak {
                healthy: 1,
                // Both inconclusive rounds: the idle ones between neither
                // break the streak nor add to it.
                streak: 2,
                round: 6,
                // The idle run at the end started at round 5.
                idle_since: Some(at_second(150)),
                delivered_at: Some(t0()),
                converged: false,
            }
        );
    }

    fn converging_ring(a: &mut Ring) {
        a.rollback_on_breach = true;
        a.soak_clock.converged = Some(crate::rollout::soakclock::Convergence {
            query: "avg(config_revision_info{revision=\"{revision}\"})".into(),
            min: 0.95,
            deadline: Duration::from_secs(120),
        });
    }

    #[test]
    fn the_soak_clock_starts_only_once_the_hosts_picked_the_revision_up() {
        let (state, rings) = soaking_a(3, converging_ring);
        let mut s = situation(&state, &rings);
        s.soak.delivered_at = Some(t0());
        assert_eq!(
            step(&s, Observation::Pass),
            [Action::CheckConvergence {
                ring: "a".into(),
                query: format!("avg(config_revision_info{{revision=\"{REV}\"}})"),
            }]
        );
        // Below the floor: journaled, then another interval.
        let below = step(
            &s,
            Observation::Convergence {
                answer: Ok(Some(0.5)),
                at: at_second(30),
            },
        );
        assert_eq!(
            appended(&below),
            [&Event::Converging {
                ring: "a".into(),
                value: Some(0.5),
                min: 0.95,
                reason: None,
            }]
        );
        assert!(below.contains(&Action::Sleep(rings[0].interval)));
        // No data is no convergence: wait, fail closed at the deadline.
        let none = step(
            &s,
            Observation::Convergence {
                answer: Ok(None),
                at: at_second(60),
            },
        );
        assert_eq!(halt_of(&none), None);
        assert!(none.contains(&Action::Sleep(rings[0].interval)));
        // At the floor: journaled, and the next pass starts the soak.
        let reached = step(
            &s,
            Observation::Convergence {
                answer: Ok(Some(0.96)),
                at: at_second(90),
            },
        );
        assert_eq!(
            appended(&reached),
            [&Event::Converged {
                ring: "a".into(),
                value: 0.96,
                min: 0.95,
            }]
        );
        assert_eq!(reached.last(), Some(&Action::NextPass));
        s.soak.converged = true;
        assert!(step(&s, Observation::Pass).contains(&Action::Evaluate { ring: "a".into() }));
    }

    #[test]
    fn hosts_that_never_pick_the_revision_up_halt_the_ring_at_the_deadline() {
        let (state, rings) = soaking_a(3, converging_ring);
        let mut s = situation(&state, &rings);
        s.soak.delivered_at = Some(t0());
        let actions = step(
            &s,
            Observation::Convergence {
                answer: Ok(Some(0.1)),
                at: at_second(120),
            },
        );
        let halt = halt_of(&actions).expect("halted");
        assert!(halt.rollback);
        assert_eq!((halt.value, halt.threshold), (Some(0.1), Some(0.95)));
        assert!(
            halt.reason.starts_with("delivered but not picked up: 0.1 of its hosts report 0123456789 2m after the delivery"),
            "{}",
            halt.reason
        );
        // The last check is journaled before the halt.
        assert!(matches!(appended(&actions)[0], Event::Converging { .. }));
        assert_eq!(actions.last(), Some(&Action::NextPass));
    }

    #[test]
    fn a_resumed_soak_keeps_its_delivery_time_and_its_convergence() {
        let mut a = ring("a", 10);
        converging_ring(&mut a);
        let mut events = vec![
            (0, delivering("a")),
            (5, Event::Delivered { ring: "a".into() }),
            (
                10,
                Event::Converging {
                    ring: "a".into(),
                    value: Some(0.2),
                    min: 0.95,
                    reason: None,
                },
            ),
        ];
        let before = Soak::resume(&entries_at(&events), "r-1", &a);
        assert_eq!(
            (before.delivered_at, before.converged),
            (Some(at_second(5)), false)
        );
        events.push((
            20,
            Event::Converged {
                ring: "a".into(),
                value: 1.0,
                min: 0.95,
            },
        ));
        let after = Soak::resume(&entries_at(&events), "r-1", &a);
        assert_eq!(
            (after.delivered_at, after.converged),
            (Some(at_second(5)), true)
        );
        // A new delivery (a resumed ring) waits for convergence again.
        events.push((30, Event::Delivered { ring: "a".into() }));
        let again = Soak::resume(&entries_at(&events), "r-1", &a);
        assert_eq!(
            (again.delivered_at, again.converged),
            (Some(at_second(30)), false)
        );
    }
}
