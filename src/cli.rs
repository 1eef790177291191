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
    after_long_help = format!("{ROOT_EXAMPLES}\n\n{EXIT_CODES_HELP}"),
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

    #[command(flatten)]
    pub etcd: EtcdArgs,
}

/// Shared mode: the journal and lock in etcd (overrides the manifest's
/// `state:`), and how to reach etcd. The password comes only from the
/// environment (`RINGMASTER_ETCD_PASSWORD`), never from a flag that `ps` shows.
/// The ids start with `etcd_`: a global flag's id must not collide with any
/// subcommand's argument (`explain` has a `key`).
#[derive(Debug, Clone, Default, Args)]
pub struct EtcdArgs {
    /// Keep the journal and the driver lock in etcd at these endpoints (comma-separated).
    #[arg(
        long = "etcd",
        global = true,
        value_name = "URL[,URL]",
        env = "RINGMASTER_ETCD_ENDPOINTS",
        value_delimiter = ',',
        help_heading = "Shared mode (etcd)"
    )]
    pub etcd_endpoints: Vec<String>,
    /// The key prefix of the journal and lock in etcd (default: the manifest's `state.prefix`, else /ringmaster).
    #[arg(
        long = "etcd-prefix",
        global = true,
        value_name = "PREFIX",
        env = "RINGMASTER_ETCD_PREFIX",
        help_heading = "Shared mode (etcd)"
    )]
    pub etcd_prefix: Option<String>,
    /// PEM file of the CA that signs etcd's certificate.
    #[arg(
        long = "etcd-cacert",
        global = true,
        value_name = "FILE",
        env = "RINGMASTER_ETCD_CACERT",
        help_heading = "Shared mode (etcd)"
    )]
    pub etcd_cacert: Option<PathBuf>,
    /// PEM client certificate for etcd (with --etcd-key).
    #[arg(
        long = "etcd-cert",
        global = true,
        value_name = "FILE",
        env = "RINGMASTER_ETCD_CERT",
        requires = "etcd_key",
        help_heading = "Shared mode (etcd)"
    )]
    pub etcd_cert: Option<PathBuf>,
    /// PEM private key of the client certificate.
    #[arg(
        long = "etcd-key",
        global = true,
        value_name = "FILE",
        env = "RINGMASTER_ETCD_KEY",
        requires = "etcd_cert",
        help_heading = "Shared mode (etcd)"
    )]
    pub etcd_key: Option<PathBuf>,
    /// etcd user (password: RINGMASTER_ETCD_PASSWORD).
    #[arg(
        long = "etcd-user",
        global = true,
        value_name = "NAME",
        env = "RINGMASTER_ETCD_USERNAME",
        help_heading = "Shared mode (etcd)"
    )]
    pub etcd_user: Option<String>,
}

/// Shown by `ringmaster --help`: the everyday commands.
const ROOT_EXAMPLES: &str = "\
Examples:
  ringmaster check                                # validate the config repo you are in
  ringmaster diff --base origin/main --format markdown
  ringmaster rollout start && ringmaster rollout run
  ringmaster completions bash > ~/.local/share/bash-completion/completions/ringmaster";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
    Sarif,
    Github,
    Markdown,
    Yaml,
    /// One self-contained HTML page (`rollout timeline` only).
    Html,
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
  ringmaster render --class api-acme --rev main --format json
  ringmaster render --all > classes.jsonl                # every class, one JSON line each")]
    Render(RenderArgs),

    /// Walk the layers for one key: which set it, which overrode or knocked it out, and the final value.
    #[command(after_help = "Examples:
  ringmaster explain --class api-acme server.max_connections
  ringmaster explain --class api-acme 'sysctl.\"net.ipv4.ip_forward\"'   # a key holding dots, quoted
  ringmaster explain --class api-acme /sysctl/net.ipv4.ip_forward        # the same as a JSON Pointer")]
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

    /// Adopt an existing Hiera, Ansible or Helm repo: write a ringmaster.yaml whose render equals the real tool's values.
    #[command(after_help = "Examples:
  ringmaster import hiera --nodes nodes.yaml                 # hiera.yaml here; one class per node
  ringmaster import ansible --inventory inventory/hosts.ini  # one class per host
  ringmaster import helm --chart charts/web --values prod.yaml --class prod")]
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },

    /// Roll a revision out ring by ring under the gates: start, run, approve, halt, rollback, timeline.
    #[command(after_help = "Examples:
  ringmaster rollout start --rev HEAD      # refuses a revision that fails check; prints its id
  ringmaster rollout run                   # deliver, soak under the gates, promote, next ring
  ringmaster rollout status                # the latest rollout, replayed from the journal
  ringmaster rollout timeline --format html --output report.html")]
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
    #[command(after_help = "Example:
  ringmaster audit verify   # exit 1 names the first edited, reordered or removed entry")]
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },

    /// Print a shell completion script generated from this command line.
    #[command(after_help = "Examples:
  ringmaster completions bash > ~/.local/share/bash-completion/completions/ringmaster
  ringmaster completions zsh > \"${fpath[1]}/_ringmaster\"
  ringmaster completions fish > ~/.config/fish/completions/ringmaster.fish")]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff), or write one page per command with --dir.
    #[command(after_help = "Examples:
  ringmaster man | man -l -
  ringmaster man --dir /usr/local/share/man/man1   # ringmaster.1, ringmaster-check.1, …")]
    Man {
        /// Write ringmaster.1 and one page per subcommand (ringmaster-rollout-run.1, …) here.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Open a rollout of a revision through the rings; prints its id.
    ///
    /// One rollout moves at a time: while another is running this is refused,
    /// unless --supersede abandons it (its rings keep what they hold; the new
    /// rollout delivers over them with compare-and-set). An older halted
    /// rollout is marked superseded so it can never be resumed over the new one.
    #[command(after_help = "Examples:
  ringmaster rollout start --rev HEAD --as alice@example.com
  ringmaster rollout start --supersede      # abandon the running rollout, start this revision")]
    Start {
        /// The revision to roll out.
        #[arg(long, value_name = "REV", default_value = "HEAD")]
        rev: String,
        /// Abandon a rollout that is still running instead of refusing.
        #[arg(long)]
        supersede: bool,
        /// Act as this person (default: the CI's user, then git's user.email).
        #[arg(long = "as", value_name = "NAME")]
        actor: Option<String>,
    },
    /// Where a rollout stands (default: the latest), replayed from the journal.
    #[command(after_help = "Example:
  ringmaster rollout status r-20261122-0002 --format json
  ringmaster rollout status --full   # every value approving the waiting ring delivers")]
    Status {
        /// The rollout id (r-YYYYMMDD-NNNN).
        id: Option<String>,
        /// Print every value approving the waiting ring delivers, not the
        /// summary (per-key table; a count per host class on a first delivery).
        #[arg(long)]
        full: bool,
    },
    /// Drive a rollout (default: the latest): approval wait, deliver, soak under the gates, promote, next ring.
    #[command(after_help = "Example:
  RINGMASTER_CLOCK=simulated ringmaster rollout run   # exit 4: waiting for an approval")]
    Run {
        /// The rollout id (r-YYYYMMDD-NNNN), default: the latest.
        id: Option<String>,
        /// Act as this person (default: the CI's user, then git's user.email).
        #[arg(long = "as", value_name = "NAME")]
        actor: Option<String>,
        /// Evaluate gates against the Prometheus at this URL instead of the manifest's `metrics`.
        #[arg(long, value_name = "URL")]
        prometheus: Option<String>,
    },
    /// Approve a ring that awaits approval (listed approvers only, never the revision's author).
    #[command(after_help = "Example:
  ringmaster rollout approve r-20261122-0002 --ring single-tenant --as release-managers")]
    Approve {
        /// The rollout id (r-YYYYMMDD-NNNN).
        id: String,
        /// The ring to approve.
        #[arg(long)]
        ring: String,
        /// Act as this person (default: the CI's user, then git's user.email).
        #[arg(long = "as", value_name = "NAME")]
        actor: Option<String>,
    },
    /// Halt a rollout at its current ring.
    #[command(after_help = "Example:
  ringmaster rollout halt r-20261122-0002 --reason \"checkout latency in EU\"")]
    Halt {
        /// The rollout id (r-YYYYMMDD-NNNN).
        id: String,
        /// Why: journaled and shown in status and the timeline.
        #[arg(long)]
        reason: String,
        /// Act as this person (default: the CI's user, then git's user.email).
        #[arg(long = "as", value_name = "NAME")]
        actor: Option<String>,
    },
    /// Roll a ring back to the revision it held before this rollout (default: the ring in progress; on a finished rollout, every ring, widest first).
    #[command(after_help = "Examples:
  ringmaster rollout rollback r-20261122-0002 --ring dogfood
  ringmaster rollout rollback r-20261122-0002   # a finished rollout: every ring back, widest first")]
    Rollback {
        /// The rollout id (r-YYYYMMDD-NNNN).
        id: String,
        /// The ring to roll back (default: the ring in progress; on a finished rollout, every ring that still holds its revision, widest first).
        #[arg(long)]
        ring: Option<String>,
        /// Act as this person (default: the CI's user, then git's user.email).
        #[arg(long = "as", value_name = "NAME")]
        actor: Option<String>,
    },
    /// Resume a halted rollout: its halted ring starts again.
    #[command(after_help = "Example:
  ringmaster rollout resume r-20261122-0002 && ringmaster rollout run")]
    Resume {
        /// The rollout id (r-YYYYMMDD-NNNN).
        id: String,
        /// Act as this person (default: the CI's user, then git's user.email).
        #[arg(long = "as", value_name = "NAME")]
        actor: Option<String>,
    },
    /// Stop the line: no ring of any rollout starts until `unfreeze`.
    #[command(after_help = "Example:
  ringmaster rollout freeze --reason \"Black Friday\"")]
    Freeze {
        /// Why: journaled and shown in status and the timeline.
        #[arg(long)]
        reason: String,
        /// Act as this person (default: the CI's user, then git's user.email).
        #[arg(long = "as", value_name = "NAME")]
        actor: Option<String>,
    },
    /// Lift a freeze.
    #[command(after_help = "Example:
  ringmaster rollout unfreeze --as release-managers")]
    Unfreeze {
        /// Act as this person (default: the CI's user, then git's user.email).
        #[arg(long = "as", value_name = "NAME")]
        actor: Option<String>,
    },
    /// Every event of a rollout with times, actors and the debrief figures (markdown, json, or an HTML page with a chart per gate).
    #[command(after_help = "Examples:
  ringmaster rollout timeline                       # the latest rollout, as markdown
  ringmaster rollout timeline r-20261122-0002 --format html --output report.html")]
    Timeline {
        /// The rollout id (r-YYYYMMDD-NNNN), default: the latest.
        id: Option<String>,
        /// Write to this file (atomically) instead of stdout.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum GatesCommand {
    /// Replay a ring's gates over past metrics: when would they have halted, how often, how long healthy?
    #[command(after_help = "Examples:
  ringmaster gates backtest --ring dogfood --start -30d            # the last 30 days at the ring's interval
  ringmaster gates backtest --ring dogfood --start 2026-11-01T00:00:00Z --end 2026-11-02T00:00:00Z --step 1m --format json")]
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
    #[command(after_help = "Examples:
  ringmaster gates check                                  # every ring's gates against the manifest's metrics
  ringmaster gates check --ring dogfood --prometheus http://127.0.0.1:9090 --format json")]
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
pub enum ImportCommand {
    /// A Hiera 5 hierarchy (hiera.yaml) and a nodes file (node name → facts): one class per node.
    #[command(after_help = "Example:
  ringmaster import hiera --nodes nodes.yaml && ringmaster render --class web01.example.com --format json")]
    Hiera {
        /// The Hiera 5 config (default: DIR/hiera.yaml).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// A YAML map of node name → facts (nested maps allowed); `trusted.certname` is the node name.
        #[arg(long, value_name = "FILE")]
        nodes: PathBuf,
        #[command(flatten)]
        target: ImportTarget,
    },
    /// An Ansible inventory (INI or YAML file, or a directory of them) with group_vars/ and host_vars/ beside it: one class per host.
    #[command(after_help = "Example:
  ringmaster import ansible --inventory inventory/ && ringmaster render --class web1 --format json")]
    Ansible {
        /// The inventory file or directory.
        #[arg(long, value_name = "PATH")]
        inventory: PathBuf,
        #[command(flatten)]
        target: ImportTarget,
    },
    /// A Helm chart: its values.yaml, then the value files in order; null deletes; values.schema.json checks each class.
    #[command(after_help = "Examples:
  ringmaster import helm --chart charts/web --values prod.yaml --class prod
  ringmaster import helm --chart charts/web --values common.yaml --class prod=prod.yaml --class staging=staging.yaml
Every --values file applies to every class; `--class NAME=FILE[,FILE]` adds files for NAME only, after them.")]
    Helm {
        /// The chart directory (holds Chart.yaml and values.yaml).
        #[arg(long, value_name = "DIR")]
        chart: PathBuf,
        /// Value files, in the order `helm -f` takes them (later wins).
        #[arg(long, value_name = "FILE", num_args = 1..)]
        values: Vec<PathBuf>,
        /// A class to render (default: the chart's name); `NAME=FILE[,FILE]` adds value files for it alone.
        #[arg(long, value_name = "NAME")]
        class: Vec<String>,
        #[command(flatten)]
        target: ImportTarget,
    },
}

/// Where an import writes its manifest.
#[derive(Debug, Args)]
pub struct ImportTarget {
    /// The repo to write ringmaster.yaml into (default: --repo, else the current directory).
    #[arg(long, value_name = "DIR")]
    pub into: Option<PathBuf>,
    /// Replace an existing ringmaster.yaml.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the journal's hash chain: name every edited, reordered, removed or truncated entry.
    #[command(after_help = "Example:
  ringmaster audit verify --format json")]
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
    #[command(after_help = "Example:
  ringmaster flags list --format json")]
    List,
    /// Flags to clean up: expired, uniform for long, or unreferenced in code.
    #[command(after_help = "Example:
  ringmaster flags stale --code src --uniform-days 60")]
    Stale {
        /// Code directories to search for flag names (respects .gitignore); repeatable.
        /// Flag calls are found with the built-in SDK patterns, or with the regexes of
        /// `flag_references:` in ringmaster.yaml.
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
    #[arg(long, required_unless_present = "all")]
    pub class: Option<String>,
    /// Every host class, in name order: one JSON object per line, `{"class": …, "config": …}`.
    #[arg(long, conflicts_with_all = ["class", "provenance"])]
    pub all: bool,
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
    /// The key: a dotted path (server.max_connections), with a key that holds dots quoted
    /// (sysctl."net.ipv4.ip_forward"), or a JSON Pointer (/sysctl/net.ipv4.ip_forward).
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

    /// Check every file afresh: neither read nor write the cache of per-file
    /// results in the git directory (also: RINGMASTER_NO_CACHE=1).
    #[arg(long)]
    pub no_cache: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
