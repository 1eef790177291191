//! Effective × effective → the changes a reviewer needs to see.
//!
//! Pure: takes two effective configs (either side may be missing when a
//! class was added or removed), never revisions. Lists compare as whole
//! values, as they merge.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::effective::{EffNode, EffectiveConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Added,
    Removed,
    Changed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub path: String,
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

fn leaf_map(config: Option<&EffectiveConfig>) -> BTreeMap<String, &EffNode> {
    config
        .map(|c| c.leaves().into_iter().collect())
        .unwrap_or_default()
}

/// The changes from `base` to `head`, sorted by path.
pub fn diff_configs(base: Option<&EffectiveConfig>, head: Option<&EffectiveConfig>) -> Vec<Change> {
    let old = leaf_map(base);
    let new = leaf_map(head);
    let mut changes = Vec::new();
    for (path, n) in &new {
        let new_json = n.to_json();
        match old.get(path) {
            None => changes.push(Change {
                path: path.clone(),
                op: Op::Added,
                old: None,
                new: Some(new_json),
                source: n.origin.to_string(),
            }),
            Some(o) => {
                let old_json = o.to_json();
                if old_json != new_json {
                    changes.push(Change {
                        path: path.clone(),
                        op: Op::Changed,
                        old: Some(old_json),
                        new: Some(new_json),
                        source: n.origin.to_string(),
                    });
                }
            }
        }
    }
    for (path, o) in &old {
        if !new.contains_key(path) {
            changes.push(Change {
                path: path.clone(),
                op: Op::Removed,
                old: Some(o.to_json()),
                new: None,
                source: o.origin.to_string(),
            });
        }
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
