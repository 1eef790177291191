//! `ringmaster explain`: walk the layers for one key and say what each did.

use super::{Globals, Outcome, pick_format, repo_root};
use crate::cli::{ExplainArgs, Format};
use crate::config::explain::explain;
use crate::config::snapshot::Snapshot;
use crate::exit::Exit;
use crate::report::explain::human;

pub(crate) fn run(globals: &Globals, args: &ExplainArgs) -> anyhow::Result<Outcome> {
    let format = pick_format(globals, &[Format::Human, Format::Json], Format::Human)?;
    let root = repo_root(globals)?;
    let snapshot = Snapshot::open(&root, args.rev.as_deref())?;
    let explanation = explain(&snapshot, &args.class, &args.key)?;
    let stdout = match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&explanation).unwrap_or_default();
            s.push('\n');
            s
        }
        _ => human(&explanation),
    };
    Ok(Outcome {
        stdout,
        exit: Exit::Clean,
    })
}
