//! `ringmaster render`: one class's effective config.

use serde_json::{Map, Value, json};

use super::{Globals, Outcome, pick_format, repo_root};
use crate::cli::{Format, RenderArgs};
use crate::config::effective::EffectiveConfig;
use crate::config::merge::Strategy;
use crate::config::snapshot::Snapshot;
use crate::exit::Exit;
use crate::report::yaml;

pub(crate) fn run(globals: &Globals, args: &RenderArgs) -> anyhow::Result<Outcome> {
    let format = pick_format(
        globals,
        &[Format::Yaml, Format::Json, Format::Human],
        Format::Yaml,
    )?;
    let root = repo_root(globals)?;
    let snapshot = Snapshot::open(&root, args.rev.as_deref())?;
    let class = snapshot.class(&args.class)?;
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

fn pretty(value: &Value) -> String {
    let mut out = serde_json::to_string_pretty(value).unwrap_or_default();
    out.push('\n');
    out
}

/// `render --provenance --format json`: every leaf by dotted path, with its
/// value and where it was set.
pub(crate) fn provenance_json(config: &EffectiveConfig) -> Value {
    let mut leaves = Map::new();
    for (path, node) in config.leaves() {
        let mut leaf = json!({
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
        leaves.insert(path, leaf);
    }
    json!({"class": config.class, "leaves": leaves})
}
