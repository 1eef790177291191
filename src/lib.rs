//! ringmaster: config as code. Validate config and feature-flag files and the
//! effective merged config of every host class, diff them by effect between
//! revisions, and roll them out ring by ring.
//!
//! The library never prints; `main.rs` does. Module map:
//! - `document`: bytes → spanned tree (YAML 1.2 and JSON)
//! - `manifest`: `ringmaster.yaml` → validated model
//! - `schema`: JSON Schema validation reported at file:line:col
//! - `check`: the `check` engine; `diag`: findings; `report/`: renderers
//! - `source/`: working tree, git index, git revisions
//! - `cmd/`: one function per command; `cli`: the clap definition; `exit`: exit codes
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub(crate) mod check;
pub mod cli;
pub(crate) mod cmd;
pub mod config;
pub(crate) mod controller;
pub mod deliver;
pub mod diag;
pub mod diff;
pub mod exit;
pub(crate) mod flags;
pub(crate) mod metrics;
pub(crate) mod model;
pub(crate) mod net;
pub(crate) mod notify;
pub mod report;
pub mod rollout;
pub mod source;
pub mod store;

use cli::{Cli, Command};
use cmd::{Globals, Outcome};

/// Runs a parsed command line.
pub fn run(cli: &Cli, cwd: std::path::PathBuf) -> anyhow::Result<Outcome> {
    let globals = Globals {
        repo: cli.repo.clone(),
        format: cli.format,
        quiet: cli.quiet,
        verbose: cli.verbose,
        cwd,
        etcd: cli.etcd.clone(),
    };
    match &cli.command {
        Command::Check(args) => cmd::check::run(&globals, args),
        Command::Render(args) => cmd::render::run(&globals, args),
        Command::Explain(args) => cmd::explain::run(&globals, args),
        Command::Diff(args) => cmd::diff::run(&globals, args),
        Command::Flags(args) => cmd::flags::run(&globals, args),
        Command::Init { dir } => cmd::init::run(&globals, dir.as_deref()),
        Command::Import { command } => cmd::import::run(&globals, command),
        Command::Rollout { command } => cmd::rollout::run(&globals, command),
        Command::Gates { command } => cmd::gates::run(&globals, command),
        Command::Audit {
            command: cli::AuditCommand::Verify,
        } => cmd::audit::verify(&globals),
        Command::Completions { shell } => Ok(cmd::docs::completions(*shell)),
        Command::Man { dir } => cmd::docs::man(&globals, dir.as_deref()),
    }
}
