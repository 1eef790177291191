//! `explain`'s engine: what each layer of a class did to one key (set,
//! overrode, knocked out, absent, no file, not applicable), and the flags
//! that decide it. Renderers are in `report::explain`.

use serde::Serialize;

use crate::config::document::{Node, Value};
use crate::config::effective::LayerUse;
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
    pub source: Option<String>,
}

/// What a layer document says about a dotted path.
enum Found<'a> {
    Value(&'a Node, Pos),
    KnockedOut(Pos, Option<String>),
    Absent,
}

fn find<'a>(doc: &'a Node, segments: &[&str]) -> Found<'a> {
    let mut node = doc;
    for (i, segment) in segments.iter().enumerate() {
        let Value::Map(entries) = &node.value else {
            return Found::Absent;
        };
        let Some(entry) = entries.iter().find(|e| e.key == *segment) else {
            return Found::Absent;
        };
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
                let doc = layers.get(path).and_then(|p| p.single());
                match doc.map_or(Found::Absent, |d| find(d, &segments)) {
                    Found::Absent => {}
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
                    }
                    Found::Value(node, key_pos) => {
                        step.line = Some(key_pos.line);
                        step.column = Some(key_pos.col);
                        step.value = Some(node.to_json());
                        let is_map = matches!(node.value, Value::Map(_));
                        step.action = match (is_map && had_map, has_value) {
                            (true, true) => Action::Merged,
                            (_, true) => Action::Overrode,
                            (_, false) => Action::Set,
                        };
                        has_value = true;
                        had_map = is_map;
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
    Ok(Explanation {
        class: class.name.clone(),
        key: key.to_owned(),
        layers: steps,
        final_value,
        source: node.map(|n| format!("{}:{}", n.origin.file, n.origin.key_pos.line)),
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
