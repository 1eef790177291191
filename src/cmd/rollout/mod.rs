//! `ringmaster rollout …`: open a rollout of a revision, drive it (`run`),
//! the release manager's hands (approve, halt, resume, rollback, freeze),
//! and what it did (`status`, `timeline` as markdown, JSON or HTML).
//!
//! Every fact goes to the journal first (a file under the git directory, or
//! etcd in shared mode: `State`); status is a replay. The driving itself is
//! `engine::Driver`; this module picks its journal, lock, delivery target
//! and metrics source from the manifest and the flags.

use std::fmt::Write;
use std::sync::Arc;

use super::{Globals, Outcome, pick_format, repo_root};
use crate::check::{CheckError, Selection, check};
use crate::cli::{Format, RolloutCommand};
use crate::controller::{Clock, Driver, RunEnd, SimulatedClock, SystemClock, frozen, replay};
use crate::deliver::DeliveryTarget;
use crate::diag::Severity;
use crate::exit::{Exit, Failure};
use crate::rollout::journal::{Entry, JournalStore, Stamp};
use crate::rollout::policy::{self, ApprovalRefused};
use crate::rollout::state::{Event, Halt, RingPhase, RolloutPhase, RolloutState, rollout_ids};
use crate::source::{GitRevision, Source, open_repository};
use crate::store::etcd::State;

/// Who is acting: `--as`, then the CI's user (GitHub, GitLab), then git's
/// `user.email`, then the login name. Recorded with every event.
pub(crate) fn identity(explicit: Option<&str>, root: &std::path::Path) -> String {
    if let Some(name) = explicit.filter(|s| !s.trim().is_empty()) {
        return name.to_owned();
    }
    for var in [
        "GITHUB_ACTOR",
        "GITLAB_USER_LOGIN",
        "BUILDKITE_BUILD_CREATOR_EMAIL",
    ] {
        if let Ok(v) = std::env::var(var)
            && !v.trim().is_empty()
        {
            return v;
        }
    }
    if let Ok(repo) = open_repository(root)
        && let Ok(config) = repo.config()
        && let Ok(email) = config.get_string("user.email")
    {
        return email;
    }
    std::env::var("USER").unwrap_or_else(|_| "unknown".into())
}

fn now() -> String {
    crate::controller::rfc3339(jiff::Timestamp::now())
}

pub(crate) fn run(globals: &Globals, command: &RolloutCommand) -> anyhow::Result<Outcome> {
    run_in(globals, command)
        .map_err(crate::store::etcd::operational)
        .map_err(crate::exit::io_is_operational)
}

fn run_in(globals: &Globals, command: &RolloutCommand) -> anyhow::Result<Outcome> {
    let root = repo_root(globals)?;
    let repo = open_repository(&root)?;
    // The journal and lock: under the git directory shared by every linked
    // worktree (`git worktree add` shares `refs/rings/*` too, so two
    // checkouts must see one journal and one lock), or in etcd (shared mode).
    let store = State::open(&globals.etcd, &root, repo.commondir())?;
    let journal = store.journal();
    let reads_only = matches!(
        command,
        RolloutCommand::Status { .. } | RolloutCommand::Timeline { .. }
    );
    if reads_only {
        warn_unless_intact(journal);
    } else {
        // Nothing acts on (or appends to) a journal that does not verify.
        crate::rollout::journal::require_intact(journal)?;
    }
    match command {
        RolloutCommand::Start {
            rev,
            actor,
            supersede,
        } => {
            let format = pick_format(globals, &[Format::Human, Format::Json], Format::Human)?;
            let who = identity(actor.as_deref(), &root);
            // The driver lock serialises a start (and what it supersedes)
            // with a running driver and with other starts: two people
            // superseding at once must not both abandon one rollout.
            let _lock = store.lock(&who, &now())?;
            start(&root, &store, rev, Some(&who), *supersede, format)
        }
        RolloutCommand::Status { id } => {
            let format = pick_format(globals, &[Format::Human, Format::Json], Format::Human)?;
            status(&root, &store, id.as_deref(), format)
        }
        RolloutCommand::Run {
            id,
            actor,
            prometheus,
        } => {
            let id = resolve_id(journal, id.as_deref())?;
            drive(
                &root,
                &store,
                &id,
                &identity(actor.as_deref(), &root),
                prometheus.as_deref(),
            )
        }
        RolloutCommand::Approve { id, ring, actor } => {
            approve(&root, journal, id, ring, &identity(actor.as_deref(), &root))
        }
        RolloutCommand::Halt { id, reason, actor } => {
            let actor = identity(actor.as_deref(), &root);
            let state = state_of(journal, id)?;
            let ring = state
                .rings
                .iter()
                .find(|r| {
                    matches!(
                        r.state,
                        RingPhase::AwaitingApproval | RingPhase::Delivering | RingPhase::Soaking
                    )
                })
                .ok_or_else(|| Failure::usage(format!("{id} has no ring in progress to halt")))?;
            let event = Event::Halted {
                ring: ring.name.clone(),
                halt: Halt {
                    gate: None,
                    value: None,
                    threshold: None,
                    reason: reason.clone(),
                    at: now(),
                    rollback: false,
                },
            };
            let ring = ring.name.clone();
            append_transition(journal, &state, &actor, &event)?;
            done(format!("halted {id} at ring {ring} ({reason})\n"))
        }
        RolloutCommand::Rollback { id, ring, actor } => {
            let actor = identity(actor.as_deref(), &root);
            let state = state_of(journal, id)?;
            let target = match ring {
                Some(name) => state
                    .rings
                    .iter()
                    .find(|r| r.name == *name)
                    .ok_or_else(|| Failure::usage(format!("{id} has no ring `{name}`")))?,
                None => state
                    .rings
                    .iter()
                    .rev()
                    .find(|r| r.revision.is_some() && r.state != RingPhase::RolledBack)
                    .ok_or_else(|| {
                        Failure::usage(format!("{id} has delivered no ring to roll back"))
                    })?,
            };
            if state.state == RolloutPhase::Complete {
                refuse_if_moved_since(&root, &store, &state, &target.name)?;
            }
            let event = Event::RollingBack {
                ring: target.name.clone(),
            };
            append_transition(journal, &state, &actor, &event)?;
            // The driver finishes a journaled rollback before anything else.
            let outcome = drive(&root, &store, id, &actor, None)?;
            let after = state_of(journal, id)?;
            let rolled = after
                .rings
                .iter()
                .find(|r| r.name == target.name && r.state == RingPhase::RolledBack);
            match rolled {
                Some(ring) => done(format!(
                    "rolled back ring {} of {id} to {} (by {actor}); `ringmaster rollout resume {id}` delivers it again\n",
                    ring.name,
                    ring.previous.as_deref().map_or("nothing", short)
                )),
                None => Ok(outcome),
            }
        }
        RolloutCommand::Resume { id, actor } => {
            let actor = identity(actor.as_deref(), &root);
            let state = state_of(journal, id)?;
            let ring = state
                .rings
                .iter()
                .find(|r| matches!(r.state, RingPhase::Halted | RingPhase::RolledBack))
                .ok_or_else(|| Failure::usage(format!("{id} is not halted")))?;
            if ring.rolling_back {
                return Err(Failure::usage(format!(
                    "ring {} is still rolling back; `ringmaster rollout run {id}` finishes it first",
                    ring.name
                )));
            }
            let event = Event::Resumed {
                ring: ring.name.clone(),
            };
            let ring = ring.name.clone();
            append_transition(journal, &state, &actor, &event)?;
            done(format!("resumed {id}: ring {ring} starts again\n"))
        }
        RolloutCommand::Freeze { reason, actor } => {
            let actor = identity(actor.as_deref(), &root);
            let event = Event::Frozen {
                reason: reason.clone(),
            };
            journal.append(
                Stamp::new(&now(), &actor, ""),
                serde_json::to_value(&event)?,
            )?;
            done(format!(
                "frozen by {actor}: no ring starts until `ringmaster rollout unfreeze`\n"
            ))
        }
        RolloutCommand::Unfreeze { actor } => {
            let actor = identity(actor.as_deref(), &root);
            if frozen(&journal.entries()?).is_none() {
                return Err(Failure::usage("the line is not frozen"));
            }
            journal.append(
                Stamp::new(&now(), &actor, ""),
                serde_json::to_value(&Event::Unfrozen)?,
            )?;
            done(format!("unfrozen by {actor}\n"))
        }
        RolloutCommand::Timeline { id, output } => {
            let format = pick_format(
                globals,
                &[Format::Markdown, Format::Json, Format::Html],
                Format::Markdown,
            )?;
            let id = resolve_id(journal, id.as_deref())?;
            let outcome = timeline(journal, &id, format)?;
            match output {
                Some(path) => {
                    let path = globals.cwd.join(path);
                    super::write_atomically(&path, outcome.stdout.as_bytes())?;
                    done(format!(
                        "wrote the timeline of {id} to {}\n",
                        path.display()
                    ))
                }
                None => Ok(outcome),
            }
        }
    }
}

/// A completed rollout's ring is rolled back only while it still holds that
/// rollout's revision: after a later rollout moved it, restoring this one's
/// `previous` would undo the later one behind its back.
fn refuse_if_moved_since(
    root: &std::path::Path,
    store: &State,
    state: &RolloutState,
    ring: &str,
) -> anyhow::Result<()> {
    let snapshot = crate::config::snapshot::Snapshot::open(root, Some(&state.revision))?;
    let target = target_for(root, store, &snapshot.manifest, &state.id)?;
    let holds = target.current(ring)?;
    if holds.as_deref() == Some(state.revision.as_str()) {
        return Ok(());
    }
    let later = store
        .journal()
        .entries()?
        .iter()
        .rev()
        .find(|e| {
            e.body.rollout != state.id
                && matches!(
                    serde_json::from_value::<Event>(e.body.event.clone()),
                    Ok(Event::Delivering { ring: r, .. }) if r == ring
                )
        })
        .map(|e| format!(" (delivered by {})", e.body.rollout))
        .unwrap_or_default();
    Err(Failure::usage(format!(
        "ring {ring} no longer holds {}'s revision {}: it holds {}{later}; roll back the rollout that delivered it instead",
        state.id,
        short(&state.revision),
        holds.as_deref().map_or("nothing", short)
    )))
}

/// Status and timeline still read a broken journal (to debug it), with a
/// warning on stderr that nothing will act on it.
fn warn_unless_intact(journal: &dyn JournalStore) {
    let mut note = String::new();
    if let Ok(Some(interrupted)) = journal.interrupted() {
        note = format!("note: {}: {interrupted}\n", journal.describe());
    }
    let problems = match journal.verify() {
        Ok(problems) => problems,
        Err(e) => {
            // Say it rather than show state as if the journal were sound.
            let _ = writeln!(
                note,
                "warning: the journal cannot be verified: {e:#}; no state-changing command acts on it"
            );
            Vec::new()
        }
    };
    if let Some(first) = problems.first() {
        let _ = writeln!(
            note,
            "warning: {}: {}; the journal does not verify (`ringmaster audit verify`): what follows may be forged, and no state-changing command acts on it",
            crate::rollout::journal::tamper_place(&journal.describe(), first),
            first.problem
        );
    }
    let _ = std::io::Write::write_all(&mut std::io::stderr(), note.as_bytes());
}

/// A rollout's state replayed from the journal; an unknown id or a journal
/// that does not replay is exit 2.
fn state_of(journal: &dyn JournalStore, id: &str) -> anyhow::Result<RolloutState> {
    replay(&journal.entries()?, id).map_err(|e| Failure::usage(format!("{e:#}")))
}

/// Journals a person's event once the state fold accepts it, so the journal
/// never holds a transition its own replay would refuse (a resume of an
/// abandoned rollout, a halt of a finished ring).
fn append_transition(
    journal: &dyn JournalStore,
    state: &RolloutState,
    actor: &str,
    event: &Event,
) -> anyhow::Result<()> {
    let mut probe = state.clone();
    probe
        .apply(event)
        .map_err(|e| Failure::usage(format!("{}: {e}", state.id)))?;
    journal.append(
        Stamp::new(&now(), actor, &state.id),
        serde_json::to_value(event)?,
    )?;
    Ok(())
}

fn done(stdout: String) -> anyhow::Result<Outcome> {
    Ok(Outcome {
        stdout,
        exit: Exit::Clean,
    })
}

fn resolve_id(journal: &dyn JournalStore, id: Option<&str>) -> anyhow::Result<String> {
    let entries = journal.entries()?;
    let ids = rollout_ids(&entries);
    match id {
        Some(id) if ids.iter().any(|i| i == id) => Ok(id.to_owned()),
        Some(id) => Err(Failure::usage(format!("no rollout `{id}` in the journal"))),
        None => ids.last().cloned().ok_or_else(|| {
            Failure::usage("no rollout has been started here; `ringmaster rollout start` opens one")
        }),
    }
}

/// The delivery target the manifest names (default: git refs), recording
/// its deliveries as `rollout`'s.
fn target_for(
    root: &std::path::Path,
    store: &State,
    manifest: &crate::config::manifest::Manifest,
    rollout: &str,
) -> anyhow::Result<Box<dyn DeliveryTarget>> {
    crate::deliver::from_config(
        &manifest.deliver,
        &crate::deliver::Context {
            root,
            rollout,
            state: store,
        },
    )
}

fn drive(
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
    let render = |ring: &str, revision: &str| -> anyhow::Result<Vec<(String, String)>> {
        let snap = crate::config::snapshot::Snapshot::open(root, Some(revision))?;
        let classes: Vec<_> = snap
            .manifest
            .host_classes
            .values()
            .filter(|c| c.facts.get("ring").map(String::as_str) == Some(ring))
            .collect();
        let layers = snap.layers_for(classes.iter().copied())?;
        classes
            .iter()
            .map(|c| {
                let config = snap
                    .merge(c, &layers)
                    .map_err(|u| anyhow::anyhow!("{u} (at {revision})"))?;
                Ok((
                    c.name.clone(),
                    crate::report::yaml::effective(&config, false),
                ))
            })
            .collect()
    };
    // A progress bar per soak on a terminal; plain lines in CI and pipes.
    let interactive =
        std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("CI").is_none();
    let bar: std::cell::RefCell<Option<(String, indicatif::ProgressBar)>> = Default::default();
    let progress = |line: &str| {
        if let Some((_, b)) = bar.borrow().as_ref() {
            // The bar shows the rounds; the other lines print above it.
            if !line.contains(": round ") {
                b.println(line);
            }
            return;
        }
        let mut err = std::io::stderr();
        let _ = std::io::Write::write_all(&mut err, format!("{line}\n").as_bytes());
    };
    let soak_progress = |ring: &str, healthy: u32, needed: u32| {
        let mut slot = bar.borrow_mut();
        if slot.as_ref().is_none_or(|(r, _)| r != ring) {
            if let Some((_, old)) = slot.take() {
                old.finish();
            }
            let b = indicatif::ProgressBar::new(u64::from(needed));
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix:>14} soak [{bar:30}] {pos}/{len} healthy rounds",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b.set_prefix(ring.to_owned());
            *slot = Some((ring.to_owned(), b));
        }
        if let Some((_, b)) = slot.as_ref() {
            b.set_position(u64::from(healthy));
        }
    };
    // The crash tests kill the real binary right after its n-th journal
    // append: what they check is how the real stores (the file journal's
    // head, git refs, etcd and its lease lock) come through a dead process,
    // which no double inside the library can stand in for. The driver's own
    // crash-resume decisions are unit-tested on `rollout::step`.
    let abort_after = std::env::var("RINGMASTER_ABORT_AFTER")
        .ok()
        .and_then(|v| v.parse().ok());
    let crashing = abort_after.map(|n| AbortAfterAppends::new(journal, n));
    let journal: &dyn JournalStore = match &crashing {
        Some(crashing) => crashing,
        None => journal,
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
    if interactive {
        driver.soak_progress = Some(&soak_progress);
    }
    let end = driver.run();
    if let Some((_, b)) = bar.borrow_mut().take() {
        b.finish();
    }
    let end = end?;
    let (line, exit) = match &end {
        RunEnd::Complete => (format!("{id}: complete\n"), Exit::Clean),
        RunEnd::Halted { ring, reason } => (
            format!("{id}: halted at ring {ring}: {reason}\n"),
            Exit::Findings,
        ),
        RunEnd::AwaitingApproval { ring } => (
            format!(
                "{id}: ring {ring} awaits approval: `ringmaster rollout approve {id} --ring {ring}`\n"
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

fn approve(
    root: &std::path::Path,
    journal: &dyn JournalStore,
    id: &str,
    ring_name: &str,
    actor: &str,
) -> anyhow::Result<Outcome> {
    let state = state_of(journal, id)?;
    let refused = |e: ApprovalRefused| Failure::usage(e.to_string());
    policy::awaiting_approval(&state, ring_name).map_err(refused)?;
    let snapshot = crate::config::snapshot::Snapshot::open(root, Some(&state.revision))?;
    let rings = crate::rollout::rings::load_rings(&snapshot.manifest, snapshot.source.as_ref())?;
    let def = rings
        .iter()
        .find(|r| r.name == ring_name)
        .ok_or_else(|| Failure::usage(format!("ring `{ring_name}` has no ring file")))?;
    let event = policy::approve(&state, def, actor).map_err(refused)?;
    append_transition(journal, &state, actor, &event)?;
    done(format!("{actor} approved ring {ring_name} of {id}\n"))
}

fn timeline(journal: &dyn JournalStore, id: &str, format: Format) -> anyhow::Result<Outcome> {
    let entries = journal.entries()?;
    let events = crate::rollout::timeline::events(&entries, id);
    let debrief = crate::rollout::timeline::debrief(&events);
    let stdout = match format {
        Format::Html => {
            use crate::report::timeline_html::{Debrief, JournalEvent, render};
            let rows: Vec<JournalEvent<'_>> = events
                .iter()
                .map(|e| JournalEvent {
                    seq: e.seq,
                    at: &e.at,
                    actor: &e.actor,
                    event: &e.event,
                })
                .collect();
            let figures = Debrief {
                time_to_detect_s: debrief.time_to_detect_s,
                time_to_mitigate_s: debrief.time_to_mitigate_s,
            };
            render(id, &rows, figures)
        }
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "id": id,
                "events": events,
                "time_to_detect_s": debrief.time_to_detect_s,
                "time_to_mitigate_s": debrief.time_to_mitigate_s,
                "delivery_to_halt_s": debrief.delivery_to_halt_s,
            }))?
        ),
        _ => crate::report::timeline_markdown::render(id, &events, &debrief),
    };
    done(stdout)
}

fn start(
    root: &std::path::Path,
    store: &State,
    rev: &str,
    actor: Option<&str>,
    supersede: bool,
    format: Format,
) -> anyhow::Result<Outcome> {
    let git = GitRevision::open(root, rev).map_err(|e| Failure::usage(format!("{e:#}")))?;
    let revision = git.commit().to_string();
    let author = {
        let repo = open_repository(root)?;
        let commit = repo.find_commit(git.commit())?;
        let sig = commit.author();
        sig.email().or(sig.name()).unwrap_or("unknown").to_owned()
    };
    let source: Arc<dyn Source> = Arc::new(git);
    // A revision that fails `check` never starts a rollout.
    let report = match check(&source, &Selection::All) {
        Ok(r) => r,
        Err(CheckError::Manifest(e)) => {
            return Err(Failure::usage(format!(
                "ringmaster.yaml at {rev} cannot be read: {e}"
            )));
        }
        Err(CheckError::Other(e)) => return Err(e),
    };
    let errors = report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if errors > 0 {
        let first = report
            .diagnostics
            .iter()
            .find(|d| d.severity == Severity::Error)
            .map(|d| format!("; first: {}:{}: {}", d.file, d.pos, d.message))
            .unwrap_or_default();
        return Err(crate::exit::Failure {
            exit: Exit::Findings,
            message: format!(
                "revision {rev} ({}) fails check with {errors} error{}{first}; see `ringmaster check --head {rev}`",
                &revision[..10],
                if errors == 1 { "" } else { "s" }
            ),
        }
        .into());
    }
    let loaded = crate::config::manifest::Manifest::load(source.as_ref())
        .map_err(|e| Failure::usage(e.to_string()))?;
    let rings = crate::rollout::rings::load_rings(&loaded.manifest, source.as_ref())?;
    if rings.is_empty() {
        return Err(Failure::usage(format!(
            "ringmaster.yaml at {rev} defines no rings: add `rings: rings/` and ring files (`ringmaster init` has defaults)"
        )));
    }
    let journal = store.journal();
    let entries = journal.entries()?;
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .strftime("%Y%m%d")
        .to_string();
    let prefix = format!("r-{today}-");
    // The highest number used today, in the journal or on the delivery
    // target: a journal started afresh (moved away) never reuses an id that
    // deliveries were made under.
    let recorded = target_for(root, store, &loaded.manifest, "")
        .and_then(|t| t.used_rollouts())
        .unwrap_or_default();
    let n = rollout_ids(&entries)
        .iter()
        .chain(&recorded)
        .filter_map(|id| id.strip_prefix(&prefix)?.parse::<u64>().ok())
        .max()
        .unwrap_or(0)
        + 1;
    let id = format!("{prefix}{n:04}");
    let actor = identity(actor, root);
    let superseded = policy::superseded_by_start(&entries, supersede)
        .map_err(|e| Failure::usage(e.to_string()))?;
    for older in &superseded {
        let event = Event::Abandoned {
            reason: format!("superseded by {id} (revision {})", &revision[..10]),
        };
        journal.append(
            Stamp::new(&now(), &actor, older),
            serde_json::to_value(&event)?,
        )?;
    }
    let event = Event::Started {
        revision: revision.clone(),
        author,
        rings: rings.iter().map(|r| r.name.clone()).collect(),
    };
    journal.append(
        Stamp::new(&now(), &actor, &id),
        serde_json::to_value(&event)?,
    )?;
    let stdout = match format {
        Format::Json => format!(
            "{}\n",
            serde_json::json!({"id": id, "revision": revision, "superseded": superseded})
        ),
        _ => {
            let mut text = String::new();
            for older in &superseded {
                let _ = writeln!(text, "abandoned {older}: superseded by {id}");
            }
            let _ = writeln!(
                text,
                "started {id}: revision {} through {}",
                &revision[..10],
                rings
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" → ")
            );
            text
        }
    };
    Ok(Outcome {
        stdout,
        exit: Exit::Clean,
    })
}

fn short(revision: &str) -> &str {
    revision.get(..10).unwrap_or(revision)
}

/// What approving the waiting ring would change: the effective-value diff of
/// its classes, from what the ring holds now to the rollout's revision.
fn approval_diff(
    root: &std::path::Path,
    store: &State,
    state: &RolloutState,
) -> anyhow::Result<Option<(String, crate::diff::classes::DiffReport)>> {
    let Some(ring) = state
        .rings
        .iter()
        .find(|r| r.state == RingPhase::AwaitingApproval)
    else {
        return Ok(None);
    };
    let snapshot = crate::config::snapshot::Snapshot::open(root, Some(&state.revision))?;
    let target = target_for(root, store, &snapshot.manifest, &state.id)?;
    let mut report = match target.current(&ring.name)? {
        Some(current) => {
            crate::diff::classes::diff(root, &current, Some(&state.revision), None, false)?
        }
        // A first delivery: everything the ring's classes will get is new.
        None => {
            let nothing = crate::config::snapshot::Snapshot::empty("nothing delivered yet")?;
            let changed = [crate::config::manifest::MANIFEST_FILE.to_owned()].into();
            crate::diff::classes::diff_snapshots(&nothing, &snapshot, &changed, None, false)?
        }
    };
    let members: Vec<&String> = snapshot
        .manifest
        .host_classes
        .values()
        .filter(|c| c.facts.get("ring") == Some(&ring.name))
        .map(|c| &c.name)
        .collect();
    report.classes.retain(|c| members.contains(&&c.class));
    report.summary.classes_total = members.len();
    report.summary.classes_changed = report.classes.len();
    report.summary.changes = report.classes.iter().map(|c| c.changes.len()).sum();
    Ok(Some((ring.name.clone(), report)))
}

fn status(
    root: &std::path::Path,
    store: &State,
    id: Option<&str>,
    format: Format,
) -> anyhow::Result<Outcome> {
    let journal = store.journal();
    let id = resolve_id(journal, id)?;
    let mut state = state_of(journal, &id)?;
    let approval = approval_diff(root, store, &state)?;
    // What each ring really holds now (a later rollout or a rollback may
    // have moved it), when the delivery target answers.
    if let Ok(snapshot) = crate::config::snapshot::Snapshot::open(root, Some(&state.revision))
        && let Ok(target) = target_for(root, store, &snapshot.manifest, &state.id)
    {
        for ring in &mut state.rings {
            if let Ok(now) = target.current(&ring.name) {
                ring.current = now;
            }
        }
    }
    let stdout = match format {
        Format::Json => {
            let mut json = serde_json::to_value(&state)?;
            // A rolled-back ring's `revision` is what it was restored to (null
            // when withdrawn), not the revision that was rolled back, which
            // stays the rollout's own top-level `revision`.
            for (i, ring) in state.rings.iter().enumerate() {
                if ring.state == RingPhase::RolledBack {
                    json["rings"][i]["revision"] = serde_json::json!(ring.previous);
                }
            }
            if let Some((ring, diff)) = &approval {
                json["approval"] = serde_json::json!({"ring": ring, "diff": diff});
            }
            format!("{}\n", serde_json::to_string_pretty(&json)?)
        }
        _ => {
            use crate::report::escape::terminal;
            let mut out = format!(
                "{} {:?}: revision {} by {}\n",
                terminal(&state.id),
                state.state,
                terminal(state.revision.get(..10).unwrap_or(&state.revision)),
                terminal(&state.author)
            )
            .to_lowercase();
            for ring in &state.rings {
                let phase = serde_json::to_value(ring.state)?;
                // The revision the ring holds now; the rollout's own when it
                // differs (a rolled-back ring).
                let holds = ring.current.as_deref().or(ring.revision.as_deref());
                let differs = match (ring.revision.as_deref(), holds) {
                    (Some(rollout), Some(now)) if rollout != now => {
                        format!(" (this rollout's: {})", short(rollout))
                    }
                    (Some(rollout), None) => {
                        format!(" (nothing; this rollout's: {})", short(rollout))
                    }
                    _ => String::new(),
                };
                let _ = writeln!(
                    out,
                    "  {:<16} {:<18} {}{differs}",
                    terminal(&ring.name),
                    phase.as_str().unwrap_or_default(),
                    holds.map_or("", short)
                );
                if let Some(halt) = &ring.halt {
                    let _ = writeln!(
                        out,
                        "    halted at {}: {}",
                        terminal(&halt.at),
                        terminal(&halt.reason)
                    );
                }
            }
            if let Some((ring, diff)) = &approval {
                let _ = writeln!(
                    out,
                    "\nring {} awaits approval; approving it changes, for its host classes:\n",
                    terminal(ring)
                );
                out.push_str(&crate::report::diff::human(diff));
            }
            out
        }
    };
    Ok(Outcome {
        stdout,
        exit: Exit::Clean,
    })
}
