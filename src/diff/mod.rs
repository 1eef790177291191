//! Effective × effective → the changes a reviewer needs to see.
//!
//! Pure: takes two effective configs (either side may be missing when a
//! class was added or removed), never revisions. Lists compare as whole
//! values, as they merge.

pub mod classes;

use std::collections::HashMap;

use serde::Serialize;

use crate::config::KeyPath;
use crate::config::effective::{EffNode, EffValue, EffectiveConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Added,
    Removed,
    Changed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The key path in its dotted form (quoted where a key holds a dot).
    pub path: String,
    /// The same path as a JSON Pointer (SPEC §8).
    pub pointer: String,
    /// The path as keys, for code that must not re-parse `path`.
    #[serde(skip)]
    pub key: KeyPath,
    pub op: Op,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<serde_json::Value>,
    /// `file:line` of the value at head (at base for `removed`).
    pub source: String,
}

/// Whether a class exists on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassStatus {
    Changed,
    Added,
    Removed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassDiff {
    pub class: String,
    pub status: ClassStatus,
    pub changes: Vec<Change>,
}

/// Leaves keyed by their path. A path prints one way and reads back as
/// the same segments, so keying by segments pairs the leaves the printed
/// paths would; the text is printed only for the leaves that changed.
fn leaf_map(config: Option<&EffectiveConfig>) -> HashMap<KeyPath, &EffNode> {
    config
        .map(|c| c.leaves().into_iter().collect())
        .unwrap_or_default()
}

/// Whether a leaf's value is the same on both sides. Equal nodes (the same
/// value from the same place) give equal JSON, without building it: most
/// leaves of a changed class are untouched.
fn same_value(old: &EffNode, new: &EffNode) -> bool {
    let (EffValue::Leaf(o), EffValue::Leaf(n)) = (&old.value, &new.value) else {
        return old.to_json() == new.to_json();
    };
    o == n || o.to_json() == n.to_json()
}

fn change(
    path: &str,
    key: &KeyPath,
    op: Op,
    old: Option<serde_json::Value>,
    new: Option<serde_json::Value>,
    source: &EffNode,
) -> Change {
    Change {
        path: path.to_owned(),
        pointer: key.pointer(),
        key: key.clone(),
        op,
        old,
        new,
        source: source.origin.to_string(),
    }
}

/// The changes from `base` to `head`, sorted by path.
pub fn diff_configs(base: Option<&EffectiveConfig>, head: Option<&EffectiveConfig>) -> Vec<Change> {
    let mut old = leaf_map(base);
    let new: Vec<(KeyPath, &EffNode)> = head.map(|c| c.leaves()).unwrap_or_default();
    let mut changes = Vec::new();
    for (key, n) in &new {
        match old.remove(key) {
            None => changes.push(change(
                &key.to_string(),
                key,
                Op::Added,
                None,
                Some(n.to_json()),
                n,
            )),
            Some(o) => {
                if !same_value(o, n) {
                    changes.push(change(
                        &key.to_string(),
                        key,
                        Op::Changed,
                        Some(o.to_json()),
                        Some(n.to_json()),
                        n,
                    ));
                }
            }
        }
    }
    // What is left of the base is what head no longer has.
    for (key, o) in &old {
        changes.push(change(
            &key.to_string(),
            key,
            Op::Removed,
            Some(o.to_json()),
            None,
            o,
        ));
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path).then(a.op.cmp(&b.op)));
    changes
}

/// Classes with identical change sets, grouped, largest group first.
pub fn group(classes: &[ClassDiff]) -> Vec<(Vec<&str>, &[Change], ClassStatus)> {
    let mut groups: Vec<(Vec<&str>, &[Change], ClassStatus)> = Vec::new();
    for c in classes {
        match groups
            .iter_mut()
            .find(|(_, ch, st)| *ch == c.changes.as_slice() && *st == c.status)
        {
            Some(g) => g.0.push(&c.class),
            None => groups.push((vec![&c.class], &c.changes, c.status)),
        }
    }
    groups.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
    groups
}
