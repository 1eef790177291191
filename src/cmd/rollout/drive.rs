//! `rollout run`: wires a `controller::Driver` to the rollout's rings, its
//! delivery target and metrics source (from the manifest at the rollout's
//! revision), a clock, and progress on stderr (`progress`); the driver decides nothing
//! here, `rollout::step` does.

use rayon::prelude::*;

use super::{Outcome, now, target_for};
use crate::config::effective::{RoundLayers, files_for};
use crate::controller::{
    Clock, DeliverRounds, Driver, RunEnd, SimulatedClock, SoakRound, SystemClock, replay,
};
use crate::deliver::{Delivered, DeliveryError};
use crate::exit::{Exit, Failure};
use crate::rollout::journal::{Entry, JournalStore, Stamp};
use crate::store::etcd::State;

/// Classes rendered at a time for a delivery.
const CLASSES_PER_ROUND: usize = 256;

pub(super) fn drive(
    root: &std::path::Path,
    store: &State,
    id: &str,
    actor: &str,
    prometheus: Option<&str>,
) -> anyhow::Result<Outcome> {
    let journal = store.journal();
    // Held until the driver returns; in etcd, every write is fenced by it.
    let _lock = store.lock(actor, &now())?;
    let entries = journal.entries()?;
    let state = replay(&entries, id).map_err(|e| Failure::usage(format!("{e:#}")))?;
    let started = entries
        .iter()
        .find(|e| e.body.rollout == id)
        .and_then(|e| e.body.at.parse::<jiff::Timestamp>().ok())
        .unwrap_or_else(jiff::Timestamp::now);
    let snapshot = crate::config::snapshot::Snapshot::open(root, Some(&state.revision))?;
    let rings = crate::rollout::rings::load_rings(&snapshot.manifest, snapshot.source.as_ref())?;
    let target = target_for(root, store, &snapshot.manifest, id)?;
    let metrics = crate::metrics::from_config(
        &snapshot.manifest.metrics,
        snapshot.source.as_ref(),
        started,
        prometheus,
    )?;
    // RINGMASTER_CLOCK=simulated: time moves only while the driver waits
    // (demos, tests); it resumes from the latest time in this rollout's
    // entries. (Latest, not last: an approval typed between two runs is
    // stamped with the wall clock, which a simulated soak has overtaken.)
    let simulated = std::env::var("RINGMASTER_CLOCK").is_ok_and(|v| v == "simulated");
    let last = entries
        .iter()
        .filter(|e| e.body.rollout == id)
        .filter_map(|e| e.body.at.parse::<jiff::Timestamp>().ok())
        .max()
        .unwrap_or(started);
    let clock: Box<dyn Clock> = if simulated {
        Box::new(SimulatedClock::starting_at(last.max(started)))
    } else {
        Box::new(SystemClock)
    };
    let render = |ring: &str,
                  revision: &str,
                  deliver: &mut DeliverRounds<'_>|
     -> Result<Delivered, DeliveryError> {
        let snap = crate::config::snapshot::Snapshot::open(root, Some(revision))?;
        let classes: Vec<_> = snap
            .manifest
            .host_classes
            .values()
            .filter(|c| c.facts.get("ring").map(String::as_str) == Some(ring))
            .collect();
        // A round of classes at a time, in parallel within it, rendered as
        // the delivery pulls it: a target that writes each round before the
        // next holds one round's texts, and a layer file is kept only while
        // a later round uses it.
        let rounds: Vec<_> = classes.chunks(CLASSES_PER_ROUND).collect();
        let round_files = || {
            rounds
                .iter()
                .map(|round| files_for(&snap.manifest, round.iter().copied()))
        };
        let mut files = RoundLayers::new(round_files());
        let mut rendered = rounds.iter().zip(round_files()).enumerate().map(
            |(index, (round, round_files))| -> anyhow::Result<Vec<(String, String)>> {
                let layers = files.round(
                    index,
                    round_files,
                    snap.source.as_ref(),
                    &snap.manifest.limits,
                    &|_| None,
                )?;
                // The first class (in ring order) that fails is the error.
                let texts: Vec<anyhow::Result<(String, String)>> = round
                    .par_iter()
                    .map(|c| {
                        let config = snap
                            .merge(c, &layers)
                            .map_err(|u| anyhow::anyhow!("{u} (at {revision})"))?;
                        Ok((
                            c.name.clone(),
                            crate::report::yaml::effective(&config, false),
                        ))
                    })
                    .collect();
                texts.into_iter().collect()
            },
        );
        deliver(&mut rendered)
    };
    // A live status line on a terminal; one line per state change in CI
    // logs and pipes (`progress::RunOutput`).
    let interactive =
        std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("CI").is_none();
    let output = super::progress::RunOutput::new(interactive);
    let progress = |line: &str| output.change(clock.now(), line);
    let soak_progress = |round: &SoakRound<'_>| output.round(round);
    // The crash tests kill the real binary right after its n-th journal
    // append: what they check is how the real stores (the file journal's
    // head, git refs, etcd and its lease lock) come through a dead process,
    // which no double inside the library can stand in for. The driver's own
    // crash-resume decisions are unit-tested on `rollout::step`.
    let abort_after = std::env::var("RINGMASTER_ABORT_AFTER")
        .ok()
        .and_then(|v| v.parse().ok());
    // Webhooks and deploy markers, sent in the background after each event
    // is journaled; their results are journaled through it too.
    let announcer =
        crate::notify::Announcer::new(journal, &snapshot.manifest, Some(&state.revision), actor);
    let crashing = abort_after.map(|n| AbortAfterAppends::new(&announcer, n));
    let journal: &dyn JournalStore = match &crashing {
        Some(crashing) => crashing,
        None => &announcer,
    };
    let mut driver = Driver::new(
        id.to_owned(),
        journal,
        &rings,
        target.as_ref(),
        metrics.as_ref(),
        clock.as_ref(),
        actor.to_owned(),
        &render,
        &progress,
    );
    if output.shows_rounds() {
        driver.soak_progress = Some(&soak_progress);
    }
    let end = driver.run();
    output.finish();
    announcer.finish(crate::notify::RUN_END_WAIT);
    let end = end?;
    let (line, exit) = match &end {
        RunEnd::Complete => (format!("{id}: complete\n"), Exit::Clean),
        RunEnd::Halted { ring, reason } => (
            format!("{id}: halted at ring {ring}: {reason}\n"),
            Exit::Findings,
        ),
        RunEnd::AwaitingApproval { ring } => (
            format!(
                "{id}: ring {ring} awaits approval: `ringmaster rollout approve {id} --ring {ring}` (what it delivers: `ringmaster rollout status {id}`)\n"
            ),
            Exit::WaitingForPerson,
        ),
        RunEnd::Frozen { reason } => (
            format!("{id}: the line is frozen ({reason})\n"),
            Exit::WaitingForPerson,
        ),
    };
    Ok(Outcome { stdout: line, exit })
}

/// A journal that aborts the process right after the `n`-th event appended
/// through it (`RINGMASTER_ABORT_AFTER`, a test hook; see `drive`).
struct AbortAfterAppends<'a> {
    journal: &'a dyn JournalStore,
    after: u64,
    appended: std::cell::Cell<u64>,
}

impl<'a> AbortAfterAppends<'a> {
    fn new(journal: &'a dyn JournalStore, after: u64) -> AbortAfterAppends<'a> {
        AbortAfterAppends {
            journal,
            after,
            appended: std::cell::Cell::new(0),
        }
    }

    fn count(&self, events: u64) {
        let before = self.appended.get();
        self.appended.set(before + events);
        if self.after > before && self.after <= before + events {
            std::process::abort();
        }
    }
}

impl JournalStore for AbortAfterAppends<'_> {
    fn entries(&self) -> anyhow::Result<Vec<Entry>> {
        self.journal.entries()
    }
    fn append_all(
        &self,
        stamp: Stamp<'_>,
        events: Vec<serde_json::Value>,
    ) -> anyhow::Result<Vec<Entry>> {
        let n = events.len() as u64;
        let entries = self.journal.append_all(stamp, events)?;
        self.count(n);
        Ok(entries)
    }
    fn verify(&self) -> anyhow::Result<Vec<crate::rollout::journal::Tamper>> {
        self.journal.verify()
    }
    fn describe(&self) -> String {
        self.journal.describe()
    }
    fn stored(&self) -> anyhow::Result<usize> {
        self.journal.stored()
    }
    fn interrupted(&self) -> anyhow::Result<Option<String>> {
        self.journal.interrupted()
    }
    fn finish_interrupted(&self) -> anyhow::Result<Option<String>> {
        self.journal.finish_interrupted()
    }
}
