//! `ringmaster render`: one class's effective config.

use std::io::Write;

use rayon::prelude::*;
use serde_json::{Map, Value, json};

use super::{Globals, Outcome, pick_format, repo_root};
use crate::cli::{Format, RenderArgs};
use crate::config::effective::{EffectiveConfig, RoundLayers, files_for};
use crate::config::merge::Strategy;
use crate::config::snapshot::Snapshot;
use crate::exit::{Exit, Failure};
use crate::report::yaml;

pub(crate) fn run(globals: &Globals, args: &RenderArgs) -> anyhow::Result<Outcome> {
    if args.all {
        return all(globals, args);
    }
    let format = pick_format(
        globals,
        &[Format::Yaml, Format::Json, Format::Human],
        Format::Yaml,
    )?;
    let root = repo_root(globals)?;
    let snapshot = Snapshot::open(&root, args.rev.as_deref())?;
    let class = snapshot.class(args.class.as_deref().unwrap_or_default())?;
    let config = snapshot.effective(class)?;
    let stdout = match format {
        Format::Json if args.provenance => pretty(&provenance_json(&config)),
        Format::Json => pretty(&config.to_json()),
        _ => yaml::effective(&config, args.provenance),
    };
    Ok(Outcome {
        stdout,
        exit: Exit::Clean,
    })
}

/// Classes merged at a time by `render --all`.
const CLASSES_PER_ROUND: usize = 256;

/// `render --all`: every class in name order, one JSON object per line,
/// `config` exactly what `render --class X --format json` prints. A class
/// whose layers do not parse is said on stderr, as `render --class` says
/// it, and the run ends with its exit code (2) after the other classes.
fn all(globals: &Globals, args: &RenderArgs) -> anyhow::Result<Outcome> {
    pick_format(globals, &[Format::Json], Format::Json)?;
    let root = repo_root(globals)?;
    let snapshot = Snapshot::open(&root, args.rev.as_deref())?;
    let classes: Vec<_> = snapshot.manifest.host_classes.values().collect();
    // Merged a round of classes at a time and written a line at a time, so
    // memory holds one round's configs however many classes there are; a
    // round's layer files are read for it and kept only while a later
    // round uses them.
    let rounds: Vec<_> = classes.chunks(CLASSES_PER_ROUND).collect();
    let round_files = || {
        rounds
            .iter()
            .map(|round| files_for(&snapshot.manifest, round.iter().copied()))
    };
    let mut files = RoundLayers::new(round_files());
    let mut out = std::io::stdout().lock();
    let mut errors = String::new();
    for (index, (round, round_files)) in rounds.iter().zip(round_files()).enumerate() {
        let layers = files.round(
            index,
            round_files,
            snapshot.source.as_ref(),
            &snapshot.manifest.limits,
            &|_| None,
        )?;
        let lines: Vec<Result<String, String>> = round
            .par_iter()
            .map(|class| match snapshot.merge(class, &layers) {
                Ok(config) => {
                    let line = json!({"class": class.name, "config": config.to_json()});
                    let mut line = serde_json::to_string(&line).unwrap_or_default();
                    line.push('\n');
                    Ok(line)
                }
                Err(u) => Err(format!("{u} (in the {})", snapshot.label)),
            })
            .collect();
        for line in lines {
            match line {
                Ok(line) => {
                    if let Err(e) = out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
                        // A closed pipe (`| head`) is the reader's choice, not a failure.
                        if e.kind() == std::io::ErrorKind::BrokenPipe {
                            return Ok(Outcome {
                                stdout: String::new(),
                                exit: Exit::Clean,
                            });
                        }
                        return Err(Failure::operational(format!("cannot write output: {e}")));
                    }
                }
                Err(message) => {
                    errors.push_str("error: ");
                    errors.push_str(&crate::report::escape::terminal_lines(&message));
                    errors.push('\n');
                }
            }
        }
    }
    let stdout = String::new();
    let exit = if errors.is_empty() {
        Exit::Clean
    } else {
        let _ = std::io::Write::write_all(&mut std::io::stderr(), errors.as_bytes());
        Exit::Usage
    };
    Ok(Outcome { stdout, exit })
}

fn pretty(value: &Value) -> String {
    let mut out = serde_json::to_string_pretty(value).unwrap_or_default();
    out.push('\n');
    out
}

/// `render --provenance --format json`: every leaf by dotted path (quoted
/// where a key holds a dot), with its JSON Pointer, its value and where it
/// was set.
pub(crate) fn provenance_json(config: &EffectiveConfig) -> Value {
    let mut leaves = Map::new();
    for (path, node) in config.leaves() {
        let mut leaf = json!({
            "pointer": path.pointer(),
            "value": node.to_json(),
            "file": &*node.origin.file,
            "line": node.origin.key_pos.line,
            "column": node.origin.key_pos.col,
            // 1-based, as `explain` numbers layers.
            "layer": node.origin.layer + 1,
        });
        // A merged value names every layer in it; a plain one stays as it was.
        let contributors = node.contributors();
        if (contributors.len() > 1 || node.trace.strategy() != Strategy::Deep)
            && let Some(fields) = leaf.as_object_mut()
        {
            fields.insert("strategy".into(), json!(node.trace.strategy().name()));
            fields.insert(
                "contributors".into(),
                contributors
                    .iter()
                    .map(|o| {
                        json!({
                            "file": &*o.file,
                            "line": o.key_pos.line,
                            "column": o.key_pos.col,
                            "layer": o.layer + 1,
                        })
                    })
                    .collect(),
            );
        }
        leaves.insert(path.to_string(), leaf);
    }
    json!({"class": config.class, "leaves": leaves})
}
