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
  ringmaster check --base origin/main   # plus the change's rules: dual-change, secret, wide-change
  ringmaster check --format sarif > ringmaster.sarif")]
    Check(CheckArgs),

    /// Print one host class's effective config (its layers merged).
    #[command(after_help = "Examples:
  ringmaster render --class api-acme
  ringmaster render --class api-acme --provenance      # every leaf with file:line
  ringmaster render --class api-acme --rev main --format json")]
    Render(RenderArgs),

    /// Walk the layers for one key: which set it, which overrode or knocked it out, and the final value.
    #[command(after_help = "Example:
  ringmaster explain --class api-acme server.max_connections")]
    Explain(ExplainArgs),

    /// Show how effective values change per host class between two revisions (read from git objects).
    #[command(after_help = "Examples:
  ringmaster diff                                  # HEAD → working tree
  ringmaster diff --base origin/main --head HEAD --format markdown
  ringmaster diff --class 'api-*' --text           # unified diff of the rendered YAML")]
    Diff(DiffArgs),

    /// The flag inventory (`list`, the default) and its hygiene (`stale`).
    #[command(after_help = "Examples:
  ringmaster flags                              # the table: owner, type, value per ring, expiry
  ringmaster flags stale --code src --code web  # expired, uniform, unreferenced; undefined in code
  ringmaster flags stale --format json")]
    Flags(FlagsArgs),

    /// Scaffold a new config repo (manifest, a layer, a schema, a flag and the default rings).
    #[command(after_help = "Example:
  git init my-config && ringmaster init my-config && ringmaster --repo my-config check")]
    Init {
        /// Where to create it (default: --repo, else the current directory).
        dir: Option<PathBuf>,
    },

    /// Open a rollout of a revision and see where it stands (driving it is not built yet).
    #[command(after_help = "Examples:
  ringmaster rollout start --rev HEAD      # refuses a revision that fails check; prints its id
  ringmaster rollout status                # the latest rollout, replayed from the journal")]
    Rollout {
        #[command(subcommand)]
        command: RolloutCommand,
    },

    /// SLO gates: replay a ring's gates over past metrics (`backtest`), or evaluate them now (`check`).
    #[command(after_help = "Examples:
  ringmaster gates backtest --ring dogfood --start -30d --end now --step 1m
  ringmaster gates backtest --ring dogfood --start 2026-11-01T00:00:00Z --end 2026-11-02T00:00:00Z --format json
  ringmaster gates check --ring dogfood --prometheus http://127.0.0.1:9090")]
    Gates {
        #[command(subcommand)]
        command: GatesCommand,
    },

    /// Audit the rollout journal.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Open a rollout of a revision through the rings; prints its id.
    Start {
        /// The revision to roll out.
        #[arg(long, value_name = "REV", default_value = "HEAD")]
        rev: String,
        /// Act as this person (default: the CI's user, then git's user.email).
        #[arg(long = "as", value_name = "NAME")]
        actor: Option<String>,
    },
    /// Where a rollout stands (default: the latest), replayed from the journal.
    Status {
        /// The rollout id (r-YYYYMMDD-NNNN).
        id: Option<String>,
    },
    /// Drive a rollout (default: the latest): approval wait, deliver, soak under the gates, promote, next ring.
    Run {
        id: Option<String>,
        #[arg(long = "as", value_name = "NAME")]
        actor: Option<String>,
        /// Evaluate gates against the Prometheus at this URL instead of the manifest's `metrics`.
        #[arg(long, value_name = "URL")]
        prometheus: Option<String>,
    },
    /// Approve a ring that awaits approval (listed approvers only, never the revision's author).
    Approve {
        id: String,
        #[arg(long)]
        ring: String,
        #[arg(long = "as", value_name = "NAME")]
        actor: Option<String>,
    },
    /// Halt a rollout at its current ring.
    Halt {
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long = "as", value_name = "NAME")]
        actor: Option<String>,
    },
    /// Roll a ring back to the revision it held before this rollout (default: the ring in progress).
    Rollback {
        id: String,
        #[arg(long)]
        ring: Option<String>,
        #[arg(long = "as", value_name = "NAME")]
        actor: Option<String>,
    },
    /// Resume a halted rollout: its halted ring starts again.
    Resume {
        id: String,
        #[arg(long = "as", value_name = "NAME")]
        actor: Option<String>,
    },
    /// Stop the line: no ring of any rollout starts until `unfreeze`.
    Freeze {
        #[arg(long)]
        reason: String,
        #[arg(long = "as", value_name = "NAME")]
        actor: Option<String>,
    },
    /// Lift a freeze.
    Unfreeze {
        #[arg(long = "as", value_name = "NAME")]
        actor: Option<String>,
    },
    /// Every event of a rollout with times, actors and the debrief figures.
    Timeline { id: Option<String> },
}

#[derive(Debug, Subcommand)]
pub enum GatesCommand {
    /// Replay a ring's gates over past metrics: when would they have halted, how often, how long healthy?
    Backtest {
        /// The ring whose gates to replay.
        #[arg(long)]
        ring: String,
        /// From: RFC 3339, a date, `now`, or before now (`-30d`, `now-2h`).
        #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
        start: String,
        /// To (same forms as --start).
        #[arg(
            long,
            value_name = "TIME",
            allow_hyphen_values = true,
            default_value = "now"
        )]
        end: String,
        /// Evaluate every this long (default: the ring's interval).
        #[arg(long, value_name = "DURATION")]
        step: Option<String>,
        /// Read the ring file at this revision (default: the working tree).
        #[arg(long, value_name = "REV")]
        rev: Option<String>,
        /// Query the Prometheus at this URL instead of the manifest's `metrics`.
        #[arg(long, value_name = "URL")]
        prometheus: Option<String>,
    },
    /// Evaluate gates once, now: each verdict with its value and threshold (exit 1 when an enforcing gate would halt a soak).
    Check {
        /// The ring (default: every ring).
        #[arg(long)]
        ring: Option<String>,
        /// Read the ring files at this revision (default: the working tree).
        #[arg(long, value_name = "REV")]
        rev: Option<String>,
        /// Query the Prometheus at this URL instead of the manifest's `metrics`.
        #[arg(long, value_name = "URL")]
        prometheus: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the journal's hash chain: name every edited, reordered, removed or truncated entry.
    Verify,
}

#[derive(Debug, Args)]
pub struct FlagsArgs {
    #[command(subcommand)]
    pub command: Option<FlagsCommand>,
}

#[derive(Debug, Subcommand)]
pub enum FlagsCommand {
    /// Every flag: owner, type, value per ring and tenant, expiry and days left.
    List,
    /// Flags to clean up: expired, uniform for long, or unreferenced in code.
    Stale {
        /// Code directories to search for flag names (respects .gitignore); repeatable.
        #[arg(long, value_name = "DIR")]
        code: Vec<PathBuf>,
        /// A flag with the same value everywhere for this many days is stale.
        #[arg(long, value_name = "DAYS", default_value_t = 30)]
        uniform_days: u32,
    },
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The host class.
    #[arg(long)]
    pub class: String,
    /// Read the repo at this git revision instead of the working tree.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// Annotate every leaf with the file:line that set it.
    #[arg(long)]
    pub provenance: bool,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The host class.
    #[arg(long)]
    pub class: String,
    /// The key, as a dotted path: server.max_connections.
    #[arg(value_name = "KEY.PATH")]
    pub key: String,
    /// Read the repo at this git revision instead of the working tree.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The old side.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub base: String,
    /// The new side (default: the working tree).
    #[arg(long, value_name = "REV")]
    pub head: Option<String>,
    /// Only host classes whose name matches this glob.
    #[arg(long, value_name = "GLOB")]
    pub class: Option<String>,
    /// A unified diff of each changed class's rendered YAML.
    #[arg(long)]
    pub text: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files to check; paths the manifest does not cover are skipped.
    #[arg(value_name = "PATH", conflicts_with = "staged")]
    pub paths: Vec<PathBuf>,

    /// Check the files staged in the git index, as `git commit` would record them.
    #[arg(long, conflicts_with_all = ["base", "head"])]
    pub staged: bool,

    /// Also run the rules on the change from REV (dual-change, secret, wide-change).
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,

    /// Check this revision instead of the working tree (with --base: the change's new side).
    #[arg(long, value_name = "REV", conflicts_with = "paths")]
    pub head: Option<String>,

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
