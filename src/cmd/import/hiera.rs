//! `ringmaster import hiera`: see `config::adopt::hiera` for how the
//! manifest it writes is read.
//!
//! The manifest names `hiera.yaml` (read at every revision) and holds the
//! nodes' facts as host classes, since the nodes file may live anywhere:
//! each node's facts as given (a boolean or a number as its text, as Puppet
//! interpolates it), plus what Puppet sets itself: `trusted.certname`,
//! `trusted.hostname` and `trusted.domain` from the node name (a `trusted`
//! the nodes file gives is left out with a warning: Puppet never reads it
//! from facts), `clientcert` (the node name) and `environment`
//! (`production` unless the facts say).

use std::path::Path;

use serde_json::{Map, Value as Json};

use super::{ImportedManifest, inside_repo};
use crate::cmd::Globals;
use crate::config::document::{self, Limits, Node, Value};
use crate::exit::Failure;

pub(super) fn manifest(
    globals: &Globals,
    dir: &Path,
    config: Option<&Path>,
    nodes: &Path,
) -> anyhow::Result<ImportedManifest> {
    // `--config` is relative to the current directory, or else to DIR
    // (`--into repo --config puppet/hiera.yaml` names repo/puppet/hiera.yaml).
    let config_path = match config {
        Some(c) if !globals.cwd.join(c).exists() && dir.join(c).exists() => dir.join(c),
        Some(c) => globals.cwd.join(c),
        None => dir.join("hiera.yaml"),
    };
    let config_rel = inside_repo(globals, dir, &config_path, "hiera config")?;
    let nodes_path = globals.cwd.join(nodes);
    let nodes_bytes = std::fs::read(&nodes_path)
        .map_err(|e| Failure::usage(format!("nodes file {}: {e}", nodes_path.display())))?;
    let mut warnings = String::new();
    let classes = node_classes(
        &nodes_path.display().to_string(),
        nodes_bytes,
        &mut warnings,
    )?;

    // Read hiera.yaml now as `check` will, so an unreadable one fails the
    // import and levels ringmaster leaves out are named.
    let config_bytes = std::fs::read(&config_path)
        .map_err(|e| Failure::usage(format!("hiera config {}: {e}", config_path.display())))?;
    let mut known = crate::config::adopt::hiera::KnownFacts::default();
    known.names.insert("class".to_owned());
    for facts in classes.values() {
        fact_names(facts, "", &mut known);
    }
    match crate::config::adopt::hiera::read_config(&config_rel, config_bytes, &known) {
        Ok(read) => {
            for d in &read.skipped {
                warnings.push_str(&format!(
                    "warning: {}:{}: {}\n",
                    d.file, d.pos.line, d.message
                ));
            }
            if !warnings.is_empty() {
                let _ = std::io::Write::write_all(
                    &mut std::io::stderr(),
                    crate::report::escape::terminal_lines(&warnings).as_bytes(),
                );
            }
        }
        Err(found) => {
            let text = found
                .iter()
                .map(|d| {
                    let help = d
                        .help
                        .as_deref()
                        .map(|h| format!(" ({h})"))
                        .unwrap_or_default();
                    format!("{}:{}: {}{help}", d.file, d.pos.line, d.message)
                })
                .collect::<Vec<_>>()
                .join("\n");
            return Err(Failure::usage(text));
        }
    }

    let mut text = format!(
        "# Written by `ringmaster import hiera`. The hierarchy, merge rules\n\
         # (lookup_options in the data) and interpolation are read from\n\
         # {config_rel} at every revision; the host classes are the nodes'\n\
         # facts, with what Puppet adds (trusted, clientcert, environment).\n\
         # Run the import again (--force) after the nodes change.\n\
         version: 1\n\
         hiera:\n  config: {}\n\
         host_classes:\n",
        Json::String(config_rel.clone())
    );
    if classes.is_empty() {
        text.push_str("  {}\n");
    }
    for (name, facts) in &classes {
        text.push_str(&format!(
            "  {}: {}\n",
            Json::String(name.clone()),
            Json::Object(facts.clone())
        ));
    }
    Ok(ImportedManifest {
        tool: "Hiera",
        text,
        classes: classes.keys().cloned().collect(),
        reads: vec![config_rel],
    })
}

/// Dotted names of every fact, as templates name them, and which are lists.
fn fact_names(
    facts: &Map<String, Json>,
    prefix: &str,
    out: &mut crate::config::adopt::hiera::KnownFacts,
) {
    for (k, v) in facts {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Json::Object(m) => fact_names(m, &name, out),
            Json::Array(_) => {
                out.lists.insert(name.clone());
            }
            _ => {}
        }
        out.names.insert(name);
    }
}

/// The nodes file (a YAML map of node name → facts) as host classes in
/// name order, each with Puppet's own facts added.
fn node_classes(
    file: &str,
    bytes: Vec<u8>,
    warnings: &mut String,
) -> anyhow::Result<std::collections::BTreeMap<String, Map<String, Json>>> {
    let parsed = document::parse_with(
        file,
        bytes,
        &Limits::default(),
        document::ParseOptions::TOOLS,
    );
    if let Some(d) = parsed
        .diagnostics
        .iter()
        .find(|d| d.severity == crate::diag::Severity::Error)
    {
        return Err(Failure::usage(format!(
            "{file}:{}: {}",
            d.pos.line, d.message
        )));
    }
    let mut out = std::collections::BTreeMap::new();
    let entries = match parsed.single().map(|n| &n.value) {
        Some(Value::Map(entries)) => entries.as_slice(),
        Some(Value::Null) | None => &[],
        Some(_) => {
            return Err(Failure::usage(format!(
                "{file}: the nodes file must be a mapping of node name → facts"
            )));
        }
    };
    let name_ok = |n: &str| {
        n.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    };
    for entry in entries {
        let node = entry.key.as_str();
        if !name_ok(node) {
            return Err(Failure::usage(format!(
                "{file}:{}: node name `{}` is not a certname ringmaster can use as a class name (letters, digits, `.`, `_`, `-`, starting with a letter or digit)",
                entry.key_pos.line,
                crate::config::boundary::shown(node)
            )));
        }
        let mut facts = Map::new();
        match &entry.value.value {
            Value::Map(given) => {
                for e in given {
                    if let Some(v) = fact_value(&e.value) {
                        facts.insert(e.key.clone(), v);
                    }
                }
            }
            Value::Null => {}
            _ => {
                return Err(Failure::usage(format!(
                    "{file}:{}: the facts of `{node}` must be a mapping",
                    entry.value.pos.line
                )));
            }
        }
        let (hostname, domain) = node.split_once('.').unwrap_or((node, ""));
        // `trusted` comes from the node's certificate, never from its facts:
        // Puppet 7.23 ignores a fact named `trusted` (`extensions.pp_role`
        // included), under `puppet apply` and `puppet lookup` alike.
        if facts.remove("trusted").is_some() {
            warnings.push_str(&format!(
                "warning: {file}:{}: the `trusted` given for `{}` is left out: Puppet sets trusted data from the node's certificate, never from its facts\n",
                entry.key_pos.line,
                crate::config::boundary::shown(node)
            ));
        }
        let mut trusted = Map::new();
        trusted.insert("certname".into(), Json::String(node.to_owned()));
        trusted.insert("hostname".into(), Json::String(hostname.to_owned()));
        if !domain.is_empty() {
            trusted.insert("domain".into(), Json::String(domain.to_owned()));
        }
        facts.insert("trusted".into(), Json::Object(trusted));
        facts.insert("clientcert".into(), Json::String(node.to_owned()));
        facts
            .entry("environment")
            .or_insert_with(|| Json::String("production".into()));
        out.insert(node.to_owned(), facts);
    }
    Ok(out)
}

/// A fact as the manifest holds it: strings, lists of strings and maps;
/// a boolean or a number as the text Puppet interpolates. `None` for null
/// and "" (Puppet interpolates them as "", as it does a fact that is not set).
fn fact_value(node: &Node) -> Option<Json> {
    match &node.value {
        Value::Map(entries) => Some(Json::Object(
            entries
                .iter()
                .filter_map(|e| Some((e.key.clone(), fact_value(&e.value)?)))
                .collect(),
        )),
        Value::Seq(items) => Some(Json::Array(
            items
                .iter()
                .filter_map(|n| match fact_value(n)? {
                    s @ Json::String(_) => Some(s),
                    _ => None,
                })
                .collect(),
        )),
        // An empty fact reads as one that is not set (Puppet interpolates
        // both as ""); ringmaster never puts an empty value into a path.
        Value::Null | Value::Unset => None,
        Value::Str(s) if s.is_empty() => None,
        Value::Str(s) => Some(Json::String(s.clone())),
        Value::Bool(b) => Some(Json::String(b.to_string())),
        Value::Int(n) => Some(Json::String(n.to_string())),
        Value::BigInt(n) => Some(Json::String(n.clone())),
        Value::Float(f) => Some(Json::String(crate::config::interpolate::ruby_float(*f))),
    }
}
