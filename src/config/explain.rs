//! `explain`'s engine: what each layer of a class did to one key (set,
//! overrode, knocked out, absent, no file, not applicable), and the flags
//! that decide it. Renderers are in `report::explain`.

use serde::Serialize;

use crate::config::document::{Node, Value};
use crate::config::effective::LayerUse;
use crate::config::merge::{MergePolicy, Nulls, Strategy};
use crate::config::snapshot::Snapshot;
use crate::diag::Pos;
use crate::exit::Failure;

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
    pub key: String,
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

/// What a layer document says about a dotted path.
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

fn find<'a>(doc: &'a Node, segments: &[&str], policy: &MergePolicy) -> Found<'a> {
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
            e.key == *segment || knockout.is_some_and(|p| e.key.strip_prefix(p) == Some(*segment))
        }) else {
            if let Some(pos) = parent_pos
                && !MergePolicy::merges_maps(policy.mode_for(&segments[..i]))
            {
                return Found::Replaced(pos, segments[..i].join("."));
            }
            return Found::Absent;
        };
        if entry.key != *segment {
            let parent = if i + 1 < segments.len() {
                format!(" with its parent `{}`", segments[..=i].join("."))
            } else {
                String::new()
            };
            return Found::Removed(entry.key_pos, format!("`{}`{parent}", entry.key));
        }
        parent_pos = Some(entry.key_pos);
        if entry.value.value == Value::Unset {
            let parent = (i + 1 < segments.len()).then(|| segments[..=i].join("."));
            return Found::KnockedOut(entry.key_pos, parent);
        }
        if i + 1 == segments.len() {
            return Found::Value(&entry.value, entry.key_pos);
        }
        node = &entry.value;
    }
    Found::Absent
}

pub fn explain(snapshot: &Snapshot, class_name: &str, key: &str) -> anyhow::Result<Explanation> {
    let class = snapshot.class(class_name)?;
    let config = snapshot.effective(class)?;
    let layers = snapshot.layers_for(std::iter::once(class))?;
    // A flag's name may hold dots (`checkout.v2`): `flags.<name>` is one leaf.
    let flag = key
        .strip_prefix("flags.")
        .and_then(|name| snapshot.flags.iter().find(|f| f.name == name));
    let segments: Vec<&str> = match flag {
        Some(f) => vec!["flags", f.name.as_str()],
        None => key.split('.').collect(),
    };
    if segments.iter().any(|s| s.is_empty()) {
        return Err(Failure::usage(format!(
            "`{key}` is not a key path; write it like server.max_connections"
        )));
    }
    let mut steps = Vec::new();
    let mut has_value = false;
    // Only a mapping over a mapping merges; over a scalar or null it overrides.
    let mut had_map = false;
    let mut had_list = false;
    let policy = &snapshot.manifest.merge;
    let mode = policy.mode_for(&segments);
    for (index, (template, layer_use)) in snapshot
        .manifest
        .hierarchy
        .iter()
        .zip(&config.layers)
        .enumerate()
    {
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
                let doc = layers.get(path).and_then(|p| p.single());
                match doc.map_or(Found::Absent, |d| find(d, &segments, policy)) {
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
    let node = match flag {
        Some(f) => config.get_segments(&["flags", f.name.as_str()]),
        None => config.get(key),
    };
    // Credential-looking values are masked in every format, at any depth.
    let last = segments.last().copied().unwrap_or(key);
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
        key: key.to_owned(),
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
