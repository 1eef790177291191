//! `ringmaster rollout …`: open a rollout of a revision, drive it (`run`),
//! the release manager's hands (approve, halt, resume, rollback, freeze),
//! and what it did (`status`, `timeline` as markdown, JSON or HTML).
//!
//! Every fact goes to the journal first (a file under the git directory, or
//! etcd in shared mode: `State`); status is a replay. The driving itself is
//! `controller::Driver`, the decisions `rollout::policy` and `rollout::step`;
//! this module picks the journal, lock, delivery target and metrics source
//! from the manifest and the flags. A file per group of subcommands:
//! `start`, `drive` (`run`), `hands`, `status` (and `timeline`); what they
//! share is here.

mod drive;
mod hands;
mod progress;
mod start;
mod status;

use std::fmt::Write;

use super::{Globals, Outcome, pick_format, repo_root};
use crate::cli::{Format, RolloutCommand};
use crate::deliver::DeliveryTarget;
use crate::exit::{Exit, Failure};
use crate::model::revision::short;
use crate::rollout::journal::{JournalStore, Stamp};
use crate::rollout::policy;
use crate::rollout::state::{Event, RolloutState, replay};
use crate::source::open_repository;
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
            start::start(&root, &store, rev, Some(&who), *supersede, format)
        }
        RolloutCommand::Status { id, full } => {
            let format = pick_format(globals, &[Format::Human, Format::Json], Format::Human)?;
            status::status(&root, &store, id.as_deref(), format, *full)
        }
        RolloutCommand::Run {
            id,
            actor,
            prometheus,
        } => {
            let id = resolve_id(journal, id.as_deref())?;
            drive::drive(
                &root,
                &store,
                &id,
                &identity(actor.as_deref(), &root),
                prometheus.as_deref(),
            )
        }
        RolloutCommand::Approve { id, ring, actor } => {
            let who = identity(actor.as_deref(), &root);
            announced(&root, journal, Some(id), &who, |journal| {
                hands::approve(&root, journal, id, ring, &who)
            })
        }
        RolloutCommand::Halt { id, reason, actor } => {
            let who = identity(actor.as_deref(), &root);
            announced(&root, journal, Some(id), &who, |journal| {
                hands::halt(journal, id, reason, &who)
            })
        }
        RolloutCommand::Rollback { id, ring, actor } => hands::rollback(
            &root,
            &store,
            id,
            ring.as_deref(),
            &identity(actor.as_deref(), &root),
        ),
        RolloutCommand::Resume { id, actor } => {
            let who = identity(actor.as_deref(), &root);
            announced(&root, journal, Some(id), &who, |journal| {
                hands::resume(journal, id, &who)
            })
        }
        RolloutCommand::Freeze { reason, actor } => {
            let who = identity(actor.as_deref(), &root);
            announced(&root, journal, None, &who, |journal| {
                hands::freeze(journal, reason, &who)
            })
        }
        RolloutCommand::Unfreeze { actor } => {
            let who = identity(actor.as_deref(), &root);
            announced(&root, journal, None, &who, |journal| {
                hands::unfreeze(journal, &who)
            })
        }
        RolloutCommand::Timeline { id, output } => {
            let format = pick_format(
                globals,
                &[Format::Markdown, Format::Json, Format::Html],
                Format::Markdown,
            )?;
            let id = resolve_id(journal, id.as_deref())?;
            let outcome = status::timeline(journal, &id, format)?;
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

/// Runs a person's command with its events announced (`notify:` webhooks,
/// deploy markers) from the manifest at the rollout's revision, or the
/// working tree's for a repo-wide command; waits a short, bounded time for
/// the messages. A manifest that cannot be read announces nothing: the
/// command itself still acts.
fn announced(
    root: &std::path::Path,
    journal: &dyn JournalStore,
    rollout: Option<&str>,
    actor: &str,
    command: impl FnOnce(&dyn JournalStore) -> anyhow::Result<Outcome>,
) -> anyhow::Result<Outcome> {
    let revision = rollout.and_then(|id| state_of(journal, id).ok().map(|s| s.revision));
    let snapshot = match &revision {
        Some(revision) => crate::config::snapshot::Snapshot::open(root, Some(revision)),
        None => crate::config::snapshot::Snapshot::open(root, None),
    };
    let Ok(snapshot) = snapshot else {
        return command(journal);
    };
    let announcer =
        crate::notify::Announcer::new(journal, &snapshot.manifest, revision.as_deref(), actor);
    let outcome = command(&announcer);
    announcer.finish(crate::notify::COMMAND_WAIT);
    outcome
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

/// The rollout a command means (`policy::resolve_rollout`): an unknown id,
/// or none started, is exit 2.
fn resolve_id(journal: &dyn JournalStore, id: Option<&str>) -> anyhow::Result<String> {
    policy::resolve_rollout(&journal.entries()?, id).map_err(|e| Failure::usage(e.to_string()))
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
