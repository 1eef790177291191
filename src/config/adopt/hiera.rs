//! The `hiera:` section of the manifest (see `config::adopt`).
//!
//! ```yaml
//! hiera:
//!   config: hiera.yaml      # repo-relative; read at every revision
//! ```
//!
//! A Hiera 5 `hiera.yaml` becomes the native sections:
//! - `hierarchy`: the levels reversed (Hiera lists the most specific first,
//!   ringmaster last), each level's `path`, `paths`, `glob`, `globs` and
//!   `mapped_paths` under its `datadir` (relative to `hiera.yaml`'s
//!   directory; `data` by default), `%{facts.a.b}`, `%{::x}`, `%{x}`,
//!   `%{trusted.certname}`, `%{scope('x')}` rewritten as `{a.b}`, `{x}`…;
//! - `merge: {lookup_options: data}`: each key merged as the data's own
//!   `lookup_options` say (`config::merge`, `Merger::hiera_lookup`);
//! - `interpolation: hiera`;
//! - `yaml: {version: "1.1", duplicate_keys: last-wins, reader: psych}`, as
//!   Puppet reads.
//!
//! `yaml_data`, `json_data` and `eyaml_lookup_key` levels are read as YAML
//! (an `ENC[…]` value stays as written: ringmaster holds no key). A level
//! ringmaster cannot read (`hocon_data`, a custom function, `uri`) is left
//! out, and `ringmaster import hiera` warns about it by name. A hierarchy
//! path naming a fact no host class has is left out too: Puppet reads it as
//! an empty string, which names no data file.
//!
//! The `hiera:` section replaces `hierarchy`, `merge`, `interpolation` and
//! `yaml`: writing one of them beside it is refused.

use crate::config::document::{self, Entry, Limits, Node, Value};
use crate::config::manifest::MANIFEST_FILE;
use crate::diag::{Diagnostic, Pos, Rule};
use crate::source::Source;

/// The sections the `hiera:` section supplies.
const SUPPLIED: [&str; 4] = ["hierarchy", "merge", "interpolation", "yaml"];

/// The facts the host classes have (dotted names), and which of them are
/// lists for some class.
#[derive(Debug, Default)]
pub(crate) struct KnownFacts {
    pub names: std::collections::BTreeSet<String>,
    pub lists: std::collections::BTreeSet<String>,
}

/// What a `hiera.yaml` says, as ringmaster reads it.
#[derive(Debug, Default)]
pub(crate) struct HieraConfig {
    /// Templates, least specific first.
    pub templates: Vec<String>,
    /// Levels left out, with why (for the importer's warnings).
    pub skipped: Vec<Diagnostic>,
}

pub fn expand(root: &mut Node, source: &dyn Source, errors: &mut Vec<Diagnostic>) {
    let Some(section) = root.get("hiera") else {
        return;
    };
    let pos = section.value.pos;
    for key in SUPPLIED {
        if let Some(e) = root.get(key) {
            errors.push(
                Diagnostic::new(
                    Rule::Manifest,
                    MANIFEST_FILE,
                    e.key_pos,
                    format!("`{key}` is set beside `hiera:`, which supplies it from hiera.yaml"),
                )
                .with_path(format!("/{key}"))
                .with_help(format!(
                    "remove `{key}:`; change hiera.yaml instead (or remove `hiera:` to write the hierarchy by hand)"
                )),
            );
        }
    }
    let Some(config) = section
        .value
        .get("config")
        .and_then(|e| e.value.value.as_str())
        .map(str::to_owned)
    else {
        errors.push(
            Diagnostic::new(
                Rule::Manifest,
                MANIFEST_FILE,
                pos,
                "`hiera:` needs `config:`, the repo-relative path of hiera.yaml",
            )
            .with_path("/hiera")
            .with_help("write `hiera: {config: hiera.yaml}`"),
        );
        return;
    };
    if !errors.is_empty() {
        return;
    }
    if let Some(why) = crate::config::boundary::path_problem(&config) {
        errors.push(
            Diagnostic::new(
                Rule::Manifest,
                MANIFEST_FILE,
                pos,
                format!("`hiera.config` {why}"),
            )
            .with_path("/hiera/config")
            .with_help("name a hiera.yaml inside the repo"),
        );
        return;
    }
    let bytes = match source.read(&config) {
        Ok(Some(b)) => b,
        Ok(None) => {
            errors.push(
                Diagnostic::new(
                    Rule::Manifest,
                    MANIFEST_FILE,
                    pos,
                    format!(
                        "{config} (named by `hiera.config`) is not in the {}",
                        source.label()
                    ),
                )
                .with_path("/hiera/config")
                .with_help("restore the file, or fix the path"),
            );
            return;
        }
        Err(e) => {
            errors.push(
                Diagnostic::new(
                    Rule::Manifest,
                    MANIFEST_FILE,
                    pos,
                    format!("cannot read {config}: {e}"),
                )
                .with_path("/hiera/config"),
            );
            return;
        }
    };
    let known = known_facts(root);
    let parsed = match read_config(&config, bytes, &known) {
        Ok(parsed) => parsed,
        Err(mut found) => {
            errors.append(&mut found);
            return;
        }
    };
    let at = |value: Value| Node { value, pos };
    let entry = |key: &str, value: Value| Entry {
        key: key.to_owned(),
        key_pos: pos,
        value: at(value),
    };
    let Value::Map(entries) = &mut root.value else {
        return;
    };
    entries.push(entry(
        "hierarchy",
        Value::Seq(
            parsed
                .templates
                .into_iter()
                .map(|t| at(Value::Str(t)))
                .collect(),
        ),
    ));
    entries.push(entry(
        "merge",
        Value::Map(vec![entry("lookup_options", Value::Str("data".into()))]),
    ));
    entries.push(entry("interpolation", Value::Str("hiera".into())));
    entries.push(entry(
        "yaml",
        Value::Map(vec![
            entry("version", Value::Str("1.1".into())),
            entry("duplicate_keys", Value::Str("last-wins".into())),
            entry("reader", Value::Str("psych".into())),
        ]),
    ));
}

/// Every fact name (dotted) some host class has, plus `class`.
fn known_facts(root: &Node) -> KnownFacts {
    let mut known = KnownFacts::default();
    known.names.insert("class".to_owned());
    if let Some(Value::Map(classes)) = root.get("host_classes").map(|e| &e.value.value) {
        for class in classes {
            for fact in crate::config::layers::flatten_facts(&class.value, false) {
                if fact.listed {
                    known.lists.insert(fact.name.clone());
                }
                known.names.insert(fact.name);
            }
        }
    }
    known
}

/// Reads a `hiera.yaml` (repo-relative path `file`) into templates.
/// `known`: the facts the host classes have (a path naming another one is
/// left out). `Err`: what keeps it from being read (version 3, a
/// malformed level).
pub(crate) fn read_config(
    file: &str,
    bytes: Vec<u8>,
    known: &KnownFacts,
) -> Result<HieraConfig, Vec<Diagnostic>> {
    let parsed = document::parse_with(
        file,
        bytes,
        &Limits::default(),
        document::ParseOptions::TOOLS,
    );
    let errors: Vec<Diagnostic> = parsed
        .diagnostics
        .iter()
        .filter(|d| d.severity == crate::diag::Severity::Error)
        .cloned()
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    let error = |pos: Pos, pointer: &str, message: String, help: &str| {
        Diagnostic::new(Rule::Manifest, file, pos, message)
            .with_path(pointer)
            .with_help(help)
    };
    let Some(doc) = parsed.single() else {
        return Err(vec![error(
            Pos::START,
            "",
            format!("{file} is empty"),
            "write a Hiera 5 config: `version: 5` and a `hierarchy:`",
        )]);
    };
    let version = doc.get("version").map(|e| &e.value.value);
    if !matches!(version, Some(Value::Int(5))) {
        let pos = doc.get("version").map_or(doc.pos, |e| e.value.pos);
        return Err(vec![error(
            pos,
            "/version",
            format!("{file} is not a Hiera 5 config (`version: 5`); ringmaster reads Hiera 5 only"),
            "convert it to Hiera 5 (Puppet's \"Migrating to Hiera 5\" page), then import again",
        )]);
    }
    let dir = match file.rfind('/') {
        Some(i) => &file[..i],
        None => "",
    };
    let defaults = doc.get("defaults").map(|e| &e.value);
    let default_datadir = defaults
        .and_then(|d| d.get("datadir"))
        .and_then(|e| e.value.value.as_str())
        .unwrap_or("data");
    let default_backend = defaults.and_then(backend);
    let mut out = HieraConfig::default();
    let mut problems = Vec::new();
    let levels = match doc.get("hierarchy").map(|e| &e.value.value) {
        Some(Value::Seq(levels)) => levels.as_slice(),
        _ => &[],
    };
    // Collected most specific first, reversed at the end.
    let mut templates: Vec<String> = Vec::new();
    for (i, level) in levels.iter().enumerate() {
        let pointer = format!("/hierarchy/{i}");
        let name = level
            .get("name")
            .and_then(|e| e.value.value.as_str())
            .unwrap_or("(unnamed)")
            .to_owned();
        let skip = |why: String, help: &str| {
            let mut d = Diagnostic::new(
                Rule::Manifest,
                file,
                level.pos,
                format!("hierarchy level `{name}` is left out: {why}"),
            )
            .with_path(pointer.clone())
            .with_help(help);
            d.severity = crate::diag::Severity::Warning;
            d
        };
        match backend(level).or(default_backend.clone()) {
            Some(Backend::Readable) | None => {}
            Some(Backend::Other(what)) => {
                out.skipped.push(skip(
                    format!("ringmaster cannot read `{what}` data"),
                    "ringmaster reads yaml_data, json_data and eyaml_lookup_key levels; its values will be missing from render",
                ));
                continue;
            }
        }
        if level.get("uri").is_some() || level.get("uris").is_some() {
            out.skipped.push(skip(
                "`uri`/`uris` name no data file".into(),
                "ringmaster reads levels with path, paths, glob, globs or mapped_paths",
            ));
            continue;
        }
        let datadir = level
            .get("datadir")
            .and_then(|e| e.value.value.as_str())
            .unwrap_or(default_datadir);
        let base = join(dir, datadir);
        let strings = |key: &str| -> Vec<String> {
            match level.get(key).map(|e| &e.value.value) {
                Some(Value::Str(s)) => vec![s.clone()],
                Some(Value::Seq(items)) => items
                    .iter()
                    .filter_map(|n| n.value.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            }
        };
        // (path, whether it comes from mapped_paths)
        let mut paths: Vec<(String, bool)> = ["path", "paths", "glob", "globs"]
            .iter()
            .flat_map(|k| strings(k))
            .map(|p| (p, false))
            .collect();
        // `mapped_paths: [list_fact, var, template]`: the template once per
        // value of the fact, `%{var}` standing for the value.
        if let Some(Value::Seq(m)) = level.get("mapped_paths").map(|e| &e.value.value) {
            let parts: Vec<&str> = m.iter().filter_map(|n| n.value.as_str()).collect();
            match parts.as_slice() {
                [fact, var, template] => {
                    let fact = fact_name(fact);
                    paths.push((
                        template.replace(&format!("%{{{var}}}"), &format!("%{{{fact}}}")),
                        true,
                    ));
                }
                _ => problems.push(error(
                    level.pos,
                    &pointer,
                    format!(
                        "hierarchy level `{name}`: mapped_paths must be [fact, variable, template]"
                    ),
                    "write e.g. mapped_paths: [services, tmp, \"service/%{tmp}.yaml\"]",
                )),
            }
        }
        if paths.is_empty() {
            // Puppet 7.23 refuses a yaml_data level without a path.
            out.skipped.push(skip(
                "it names no path, paths, glob, globs or mapped_paths (Puppet refuses it too)"
                    .into(),
                "give the level a path",
            ));
            continue;
        }
        let mut level_templates = Vec::new();
        for (path, mapped) in paths {
            let joined = join(&base, &path);
            if let Some(why) = crate::config::boundary::path_problem(&joined) {
                out.skipped.push(skip(
                    format!("`{joined}` {why}; ringmaster reads data inside the repo only"),
                    "move the data into the repo, or accept that render leaves its values out",
                ));
                continue;
            }
            match template_of(&joined) {
                Ok((template, facts)) => {
                    if facts.iter().any(|f| !known.names.contains(f)) {
                        continue;
                    }
                    // Outside mapped_paths Puppet puts a list into a path as
                    // text (`groups/["a", "b"].yaml`), which names no file.
                    if let Some(list) = facts.iter().find(|f| !mapped && known.lists.contains(*f)) {
                        out.skipped.push(skip(
                            format!("`{path}` uses `{list}`, a list for some node, which Puppet puts into the path as text"),
                            "use mapped_paths to read one file per value",
                        ));
                        continue;
                    }
                    level_templates.push(template);
                }
                Err(why) => out.skipped.push(skip(
                    why,
                    "ringmaster resolves facts in paths: %{facts.x}, %{::x}, %{x}, %{trusted.x}",
                )),
            }
        }
        templates.extend(level_templates);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    templates.reverse();
    out.templates = templates;
    Ok(out)
}

#[derive(Debug, Clone)]
enum Backend {
    Readable,
    Other(String),
}

/// The level's (or the defaults') data provider.
fn backend(node: &Node) -> Option<Backend> {
    for key in ["data_hash", "lookup_key", "data_dig", "hiera3_backend"] {
        if let Some(e) = node.get(key) {
            let name = e.value.value.as_str().unwrap_or("").to_owned();
            let readable = matches!(
                (key, name.as_str()),
                ("data_hash", "yaml_data" | "json_data") | ("lookup_key", "eyaml_lookup_key")
            );
            return Some(if readable {
                Backend::Readable
            } else {
                Backend::Other(format!("{key}: {name}"))
            });
        }
    }
    None
}

/// `a` then `b`, as a normalized relative path (`b` absolute → as is: the
/// level is left out).
fn join(a: &str, b: &str) -> String {
    let joined = if a.is_empty() || b.starts_with('/') {
        b.to_owned()
    } else {
        format!("{}/{b}", a.trim_end_matches('/'))
    };
    let absolute = joined.starts_with('/');
    let normal = crate::source::normalize_owned(joined);
    if absolute {
        format!("/{normal}")
    } else {
        normal
    }
}

/// A Hiera variable as a ringmaster fact name: `facts.a.b`, `::a`, `a` → `a.b`/`a`.
fn fact_name(text: &str) -> String {
    let t = text.trim().trim_start_matches("::");
    t.strip_prefix("facts.").unwrap_or(t).to_owned()
}

/// A Hiera path as a ringmaster template and the facts it names.
fn template_of(path: &str) -> Result<(String, Vec<String>), String> {
    let mut out = String::new();
    let mut facts = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find("%{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("`{path}` has an unclosed `%{{`"))?;
        let inner = after[..close].trim();
        let var = if let Some(arg) = inner
            .strip_prefix("scope(")
            .and_then(|a| a.strip_suffix(')'))
        {
            arg.trim().trim_matches(|c| c == '\'' || c == '"')
        } else if inner.contains('(') {
            return Err(format!(
                "`%{{{inner}}}` in `{path}` is a function call, not a fact"
            ));
        } else {
            inner
        };
        let fact = fact_name(var);
        if fact.is_empty() || fact.contains(['{', '}', '/']) {
            return Err(format!("`%{{{inner}}}` in `{path}` names no fact"));
        }
        out.push('{');
        out.push_str(&fact);
        out.push('}');
        facts.push(fact);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    if out.contains(['{', '}']) && out.matches('{').count() != facts.len() {
        return Err(format!(
            "`{path}` holds `{{`, which ringmaster's templates reserve for facts"
        ));
    }
    Ok((out, facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_templates() {
        assert_eq!(
            template_of("data/os/%{facts.os.family}/%{::role}-%{ trusted.certname }.yaml")
                .map(|t| t.0),
            Ok("data/os/{os.family}/{role}-{trusted.certname}.yaml".to_owned())
        );
        assert!(template_of("data/%{lookup('x')}.yaml").is_err());
        assert_eq!(join("", "data"), "data");
        assert_eq!(join("hiera", "data"), "hiera/data");
        assert_eq!(join("data", "/etc/local.yaml"), "/etc/local.yaml");
        assert_eq!(join("/srv/data", "x.yaml"), "/srv/data/x.yaml");
    }
}
