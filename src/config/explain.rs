//! `explain`'s engine: what each layer of a class did to one key (set,
//! overrode, knocked out, absent, no file, not applicable), and the flags
//! that decide it. Renderers are in `report::explain`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::config::document::{Node, Value};
use crate::config::effective::{EffNode, EffValue, LayerUse};
use crate::config::merge::{MergePolicy, Nulls, Strategy};
use crate::config::snapshot::Snapshot;
use crate::config::{KeyPath, Written};
use crate::diag::Pos;
use crate::exit::Failure;
use crate::model::suggest::closest;

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// First value for the key.
    Set,
    /// Replaced an earlier value.
    Overrode,
    /// Merged keys into an inherited mapping.
    Merged,
    /// `!unset` removed the key (or a parent of it).
    KnockedOut,
    /// The knockout prefix (`--key`) or an overriding null (`nulls: delete`)
    /// removed the key.
    Removed,
    /// The layer replaced a parent whole (`first`, or below `hash`) and the
    /// key is not in its value.
    Replaced,
    /// The file exists but does not mention the key.
    Absent,
    /// The template expands to a file that does not exist.
    NoFile,
    /// The class lacks a fact the template needs.
    NotApplicable,
}

#[derive(Debug, Serialize)]
pub struct Step {
    pub layer: usize,
    pub template: String,
    pub file: Option<String>,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Explanation {
    pub class: String,
    /// The key path in its dotted form (quoted where a key holds a dot).
    pub key: String,
    /// The same path as a JSON Pointer (SPEC §8).
    pub pointer: String,
    pub layers: Vec<Step>,
    #[serde(rename = "final")]
    pub final_value: Option<serde_json::Value>,
    /// `file:line` of every contributing layer, joined by `, `.
    pub source: Option<String>,
    /// The merge strategy that applies at the key (`first`, `hash`, `deep`, `unique`).
    pub strategy: &'static str,
    /// Every layer whose value is part of the final value, in layer order.
    pub contributors: Vec<Contributor>,
}

#[derive(Debug, Serialize)]
pub struct Contributor {
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// 1-based, as the steps number layers.
    pub layer: usize,
}

/// What a layer document says about a key path.
enum Found<'a> {
    Value(&'a Node, Pos),
    KnockedOut(Pos, Option<String>),
    /// The layer sets a parent that does not merge (`first`, or below
    /// `hash`), without this key: the parent is replaced whole.
    Replaced(Pos, String),
    /// Removed by the knockout prefix: the note says how.
    Removed(Pos, String),
    Absent,
}

fn find<'a>(doc: &'a Node, path: &KeyPath, policy: &MergePolicy) -> Found<'a> {
    let segments = path.segments();
    let mut node = doc;
    let mut parent_pos = None;
    for (i, segment) in segments.iter().enumerate() {
        let Value::Map(entries) = &node.value else {
            return Found::Absent;
        };
        let knockout = policy.knockout_prefix.as_deref().and_then(|prefix| {
            let below_deep = i == 0 || policy.mode_for(&segments[..i]).strategy == Strategy::Deep;
            let top_deep = i > 0 || policy.default.strategy == Strategy::Deep;
            (below_deep && top_deep).then_some(prefix)
        });
        let Some(entry) = entries.iter().find(|e| {
            e.key == *segment
                || knockout.is_some_and(|p| e.key.strip_prefix(p) == Some(segment.as_str()))
        }) else {
            if let Some(pos) = parent_pos
                && !MergePolicy::merges_maps(policy.mode_for(&segments[..i]))
            {
                return Found::Replaced(pos, path.prefix(i).to_string());
            }
            return Found::Absent;
        };
        if entry.key != *segment {
            let parent = if i + 1 < segments.len() {
                format!(" with its parent `{}`", path.prefix(i + 1))
            } else {
                String::new()
            };
            return Found::Removed(entry.key_pos, format!("`{}`{parent}", entry.key));
        }
        parent_pos = Some(entry.key_pos);
        if entry.value.value == Value::Unset {
            let parent = (i + 1 < segments.len()).then(|| path.prefix(i + 1).to_string());
            return Found::KnockedOut(entry.key_pos, parent);
        }
        if i + 1 == segments.len() {
            return Found::Value(&entry.value, entry.key_pos);
        }
        node = &entry.value;
    }
    Found::Absent
}

/// Every key path a layer document sets or knocks out, at every depth.
fn document_paths(node: &Node, prefix: &KeyPath, out: &mut BTreeSet<KeyPath>) {
    if let Value::Map(entries) = &node.value {
        for entry in entries {
            let path = prefix.child(&entry.key);
            document_paths(&entry.value, &path, out);
            out.insert(path);
        }
    }
}

/// Every key path of the effective config, at every depth.
fn effective_paths(children: &[(String, EffNode)], prefix: &KeyPath, out: &mut BTreeSet<KeyPath>) {
    for (key, node) in children {
        let path = prefix.child(key);
        if let EffValue::Map(grand) = &node.value {
            effective_paths(grand, &path, out);
        }
        out.insert(path);
    }
}

/// The key path `key` names among the class's known paths. A path written
/// with dots only may name a key that holds dots (`flags.checkout.v2`):
/// when its plain split is unknown, the one known path that prints the same
/// without quotes is meant. Unknown or ambiguous is exit 2.
fn resolve(key: &str, class: &str, known: &BTreeSet<KeyPath>) -> anyhow::Result<KeyPath> {
    let (typed, written) =
        KeyPath::parse_written(key).map_err(|e| Failure::usage(e.to_string()))?;
    if known.contains(&typed) {
        return Ok(typed);
    }
    if written == Written::Plain {
        let matching: Vec<&KeyPath> = known.iter().filter(|k| k.plain() == key).collect();
        match matching.as_slice() {
            [one] => return Ok((*one).clone()),
            [] => {}
            several => {
                let forms: Vec<String> = several.iter().map(|k| format!("`{k}`")).collect();
                return Err(Failure::usage(format!(
                    "`{key}` names more than one key of host class `{class}`: {}; write the one you mean with quotes around a key that holds dots",
                    forms.join(" or ")
                )));
            }
        }
    }
    // Suggest in the form the user wrote.
    let forms: Vec<(String, String)> = known
        .iter()
        .map(|k| match written {
            Written::Pointer => (k.pointer(), k.pointer()),
            Written::Plain => (k.plain(), k.to_string()),
            Written::Quoted => (k.to_string(), k.to_string()),
        })
        .collect();
    let hint = closest(key, forms.iter().map(|(compare, _)| compare.as_str()))
        .and_then(|c| forms.iter().find(|(compare, _)| compare == c))
        .map(|(_, shown)| format!("; did you mean `{shown}`?"))
        .unwrap_or_default();
    Err(Failure::usage(format!(
        "`{key}` is not a key of host class `{class}`: no layer it uses sets it or knocks it out{hint}"
    )))
}

pub fn explain(snapshot: &Snapshot, class_name: &str, key: &str) -> anyhow::Result<Explanation> {
    let class = snapshot.class(class_name)?;
    let config = snapshot.effective(class)?;
    let layers = snapshot.layers_for(std::iter::once(class))?;
    // Each layer as the merge read it: with Hiera, its fact tokens resolved
    // (keys included), so a key `'%{fqdn}'` is explained under its name.
    let prepared: BTreeMap<&str, Node> = config
        .layers
        .iter()
        .filter_map(|u| match &u.state {
            LayerUse::Applied(path) => {
                let doc = layers.get(path).and_then(|p| p.single())?;
                crate::config::interpolate::facts_in_layer(&snapshot.manifest, class, doc)
                    .map(|d| (path.as_str(), d))
            }
            _ => None,
        })
        .collect();
    let layer_doc = |path: &str| {
        prepared
            .get(path)
            .or_else(|| layers.get(path).and_then(|p| p.single()))
    };
    let mut known = BTreeSet::new();
    for layer_use in &config.layers {
        if let LayerUse::Applied(path) = &layer_use.state
            && let Some(doc) = layer_doc(path)
        {
            document_paths(doc, &KeyPath::default(), &mut known);
        }
    }
    effective_paths(&config.root, &KeyPath::default(), &mut known);
    // A flag is explained from its file even where it gives the class no value.
    for f in &snapshot.flags {
        known.insert(KeyPath::new(vec!["flags".into(), f.name.clone()]));
    }
    let key_path = resolve(key, &class.name, &known)?;
    let flag = match key_path.segments() {
        [top, name] if top == "flags" => snapshot.flags.iter().find(|f| f.name == *name),
        _ => None,
    };
    let mut steps = Vec::new();
    let mut has_value = false;
    // Only a mapping over a mapping merges; over a scalar or null it overrides.
    let mut had_map = false;
    let mut had_list = false;
    let policy = &snapshot.manifest.merge;
    let segments = key_path.segments();
    let mode = policy.mode_for(segments);
    for (index, layer) in config.layers.iter().enumerate() {
        let (Some(template), layer_use) = (
            snapshot.manifest.hierarchy.get(layer.template),
            &layer.state,
        ) else {
            continue;
        };
        let mut step = Step {
            layer: index + 1,
            template: template.template.value.clone(),
            file: None,
            action: Action::Absent,
            value: None,
            line: None,
            column: None,
            note: None,
        };
        match layer_use {
            LayerUse::NoFact(facts) => {
                step.action = Action::NotApplicable;
                step.note = Some(format!("the class has no `{}` fact", facts.join("`, `")));
            }
            LayerUse::Absent(path) => {
                step.action = Action::NoFile;
                step.file = Some(path.clone());
            }
            LayerUse::Applied(path) => {
                step.file = Some(path.clone());
                let doc = layer_doc(path);
                match doc.map_or(Found::Absent, |d| find(d, &key_path, policy)) {
                    Found::Absent => {}
                    Found::Removed(pos, note) => {
                        step.line = Some(pos.line);
                        step.column = Some(pos.col);
                        if has_value {
                            step.action = Action::Removed;
                            step.note = Some(note);
                        } else {
                            step.note = Some(format!("{note} here, but nothing to knock out"));
                        }
                        has_value = false;
                        had_map = false;
                        had_list = false;
                    }
                    Found::Replaced(pos, parent) => {
                        step.line = Some(pos.line);
                        step.column = Some(pos.col);
                        if has_value {
                            step.action = Action::Replaced;
                        }
                        step.note = Some(format!(
                            "sets its parent `{parent}` whole ({}), without it",
                            policy
                                .mode_for(&segments[..segments.len() - 1])
                                .strategy
                                .name()
                        ));
                        has_value = false;
                        had_map = false;
                        had_list = false;
                    }
                    Found::KnockedOut(pos, parent) => {
                        step.line = Some(pos.line);
                        step.column = Some(pos.col);
                        if has_value || parent.is_some() {
                            step.action = Action::KnockedOut;
                            step.note = parent.map(|p| format!("with its parent `{p}`"));
                        } else {
                            step.note = Some("!unset here, but nothing to knock out".into());
                        }
                        has_value = false;
                        had_map = false;
                        had_list = false;
                    }
                    Found::Value(node, key_pos)
                        if has_value
                            && node.value == Value::Null
                            && policy.nulls == Nulls::Delete =>
                    {
                        step.line = Some(key_pos.line);
                        step.column = Some(key_pos.col);
                        step.action = Action::Removed;
                        step.note = Some("null, with merge.nulls: delete".into());
                        has_value = false;
                        had_map = false;
                    }
                    Found::Value(node, key_pos) => {
                        step.line = Some(key_pos.line);
                        step.column = Some(key_pos.col);
                        step.value = Some(node.to_json());
                        let is_map = matches!(node.value, Value::Map(_));
                        let is_list = matches!(node.value, Value::Seq(_))
                            || (mode.strategy == Strategy::Unique && node.value != Value::Null);
                        let merges = (is_map && had_map && MergePolicy::merges_maps(mode))
                            || (is_list && had_list && MergePolicy::merges_lists(mode));
                        step.action = match (merges, has_value) {
                            (true, true) => Action::Merged,
                            (_, true) => Action::Overrode,
                            (_, false) => Action::Set,
                        };
                        has_value = true;
                        had_map = is_map;
                        had_list = is_list;
                    }
                }
            }
        }
        steps.push(step);
    }
    if let Some(flag) = flag {
        flag_steps(&mut steps, flag, class);
    }
    let node = config.get(&key_path);
    // Credential-looking values are masked in every format, at any depth.
    let last = key_path.last().unwrap_or(key);
    let mut final_value = node.map(|n| n.to_json());
    for value in steps
        .iter_mut()
        .filter_map(|s| s.value.as_mut())
        .chain(final_value.as_mut())
    {
        crate::check::secrets::redact_json(last, value);
    }
    // A merged value comes from every layer that contributed to it.
    let contributors: Vec<Contributor> = node
        .map(|n| {
            n.contributors()
                .iter()
                .map(|o| Contributor {
                    file: o.file.to_string(),
                    line: o.key_pos.line,
                    column: o.key_pos.col,
                    layer: o.layer + 1,
                })
                .collect()
        })
        .unwrap_or_default();
    let source = node.map(|_| {
        contributors
            .iter()
            .map(|c| format!("{}:{}", c.file, c.line))
            .collect::<Vec<_>>()
            .join(", ")
    });
    Ok(Explanation {
        class: class.name.clone(),
        key: key_path.to_string(),
        pointer: key_path.pointer(),
        layers: steps,
        final_value,
        source,
        strategy: node.map_or(mode.strategy, |n| n.trace.strategy()).name(),
        contributors,
    })
}

/// A flag's value comes from its file, not the hierarchy: default, then the
/// class's ring, then its tenant.
fn flag_steps(
    steps: &mut Vec<Step>,
    flag: &crate::flags::Flag,
    class: &crate::config::manifest::HostClass,
) {
    let first_layer = steps.len() + 1;
    let mut has_value = false;
    let candidates = [
        ("default".to_string(), flag.default.as_ref()),
        (
            format!(
                "rings.{}",
                class.facts.get("ring").map_or("(no ring)", String::as_str)
            ),
            class
                .facts
                .get("ring")
                .and_then(|r| flag.rings.iter().find(|t| t.target == *r)),
        ),
        (
            format!(
                "tenants.{}",
                class
                    .facts
                    .get("tenant")
                    .map_or("(no tenant)", String::as_str)
            ),
            class
                .facts
                .get("tenant")
                .and_then(|t| flag.tenants.iter().find(|x| x.target == *t)),
        ),
    ];
    for (layer, (what, found)) in (first_layer..).zip(candidates) {
        let mut step = Step {
            layer,
            template: format!("{} {what}", flag.file),
            file: Some(flag.file.clone()),
            action: Action::Absent,
            value: None,
            line: None,
            column: None,
            note: Some(format!("flag `{what}`")),
        };
        if let Some(t) = found {
            step.line = Some(t.key_pos.line);
            step.column = Some(t.key_pos.col);
            step.value = Some(t.value.to_json());
            step.action = if has_value {
                Action::Overrode
            } else {
                Action::Set
            };
            has_value = true;
        }
        steps.push(step);
    }
}
