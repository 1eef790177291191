//! The command line, declared with clap derive. Phase one of argument
//! handling: what was typed, validated without I/O. Resolving it into a repo
//! and sources happens in `cmd/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::EXIT_CODES_HELP;

#[derive(Debug, Parser)]
#[command(
    name = "ringmaster",
    version,
    about = "Config as code: validate config and flags, diff their effect per host class, and roll them out ring by ring.",
    after_help = EXIT_CODES_HELP,
    propagate_version = true
)]
pub struct Cli {
    /// The config repo (default: the enclosing directory with ringmaster.yaml, within the git repository).
    #[arg(long, global = true, value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// Output format (each command accepts a subset).
    #[arg(long, global = true, value_enum)]
    pub format: Option<Format>,

    /// When to use colour; NO_COLOR is honoured with `auto`.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,

    /// Print less: only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Print more: skipped files, timings.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
    Sarif,
    Github,
    Markdown,
    Yaml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lint and schema-check config, flag and ring files (and, with a hierarchy, every class's effective config).
    #[command(after_help = "Examples:
  ringmaster check                      # the whole repo
  ringmaster check config/role/api.yaml # what pre-commit passes
  ringmaster check --staged             # the git index, for a plain git hook
  ringmaster check --format sarif > ringmaster.sarif")]
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files to check; paths the manifest does not cover are skipped.
    #[arg(value_name = "PATH", conflicts_with = "staged")]
    pub paths: Vec<PathBuf>,

    /// Check the files staged in the git index, as `git commit` would record them.
    #[arg(long)]
    pub staged: bool,

    /// List every rule with its default severity and exit.
    #[arg(long)]
    pub list_rules: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
