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
    let empty: &[(String, EffNode)] = &[];
    let mut walk = TreeDiff {
        path: Vec::new(),
        changes: Vec::new(),
    };
    let walked = walk.maps(
        base.map_or(empty, |c| &c.root),
        head.map_or(empty, |c| &c.root),
    );
    let mut changes = match walked {
        Ok(()) => walk.changes,
        Err(DuplicateKey) => diff_by_leaf_paths(base, head),
    };
    changes.sort_by(|a, b| a.path.cmp(&b.path).then(a.op.cmp(&b.op)));
    changes
}

/// A mapping holds a key twice (keys made by interpolation can meet): the
/// tree walk cannot pair such leaves as pairing by path does.
struct DuplicateKey;

/// The leaves of both trees paired by walking them side by side: a key
/// path is built only for a leaf that changed, and a leaf's value is
/// compared without building its JSON. It pairs the leaves pairing by key
/// path would (a path is its keys, one per level), so the changes are the
/// same ones.
struct TreeDiff<'a> {
    path: Vec<&'a str>,
    changes: Vec<Change>,
}

/// A node's children when it is a mapping with keys; a leaf (or an empty
/// mapping, which is a leaf too) has none.
fn inner(node: &EffNode) -> Option<&[(String, EffNode)]> {
    match &node.value {
        EffValue::Map(children) if !children.is_empty() => Some(children),
        _ => None,
    }
}

/// The keys of a mapping, sorted, with their places; a key twice is an error.
fn sorted_keys(children: &[(String, EffNode)]) -> Result<Vec<(&str, usize)>, DuplicateKey> {
    let mut keys: Vec<(&str, usize)> = children
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (k.as_str(), i))
        .collect();
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(DuplicateKey);
    }
    Ok(keys)
}

impl<'a> TreeDiff<'a> {
    fn push(&mut self, op: Op, old: Option<&EffNode>, new: Option<&EffNode>, source: &EffNode) {
        let key = KeyPath::new(self.path.iter().map(|s| (*s).to_owned()).collect());
        self.changes.push(change(
            &key.to_string(),
            &key,
            op,
            old.map(EffNode::to_json),
            new.map(EffNode::to_json),
            source,
        ));
    }

    fn maps(
        &mut self,
        base: &'a [(String, EffNode)],
        head: &'a [(String, EffNode)],
    ) -> Result<(), DuplicateKey> {
        let base_keys = sorted_keys(base)?;
        let mut paired = vec![false; base.len()];
        for (key, n) in head {
            self.path.push(key);
            let found = base_keys
                .binary_search_by(|(k, _)| (*k).cmp(key.as_str()))
                .ok()
                .map(|at| base_keys[at].1);
            match found {
                None => self.every_leaf(n, Op::Added)?,
                Some(i) => {
                    if std::mem::replace(&mut paired[i], true) {
                        // Head holds this key twice.
                        return Err(DuplicateKey);
                    }
                    self.nodes(&base[i].1, n)?;
                }
            }
            self.path.pop();
        }
        for ((key, o), paired) in base.iter().zip(paired) {
            if !paired {
                self.path.push(key);
                self.every_leaf(o, Op::Removed)?;
                self.path.pop();
            }
        }
        Ok(())
    }

    fn nodes(&mut self, o: &'a EffNode, n: &'a EffNode) -> Result<(), DuplicateKey> {
        match (inner(o), inner(n)) {
            (Some(base), Some(head)) => self.maps(base, head),
            (None, None) => {
                if !same_value(o, n) {
                    self.push(Op::Changed, Some(o), Some(n), n);
                }
                Ok(())
            }
            // A leaf on one side, a mapping with keys on the other: no leaf
            // path of one is a leaf path of the other.
            _ => {
                self.every_leaf(o, Op::Removed)?;
                self.every_leaf(n, Op::Added)
            }
        }
    }

    /// Every leaf under `node` (the node itself when it is a leaf) as added
    /// or removed.
    fn every_leaf(&mut self, node: &'a EffNode, op: Op) -> Result<(), DuplicateKey> {
        let Some(children) = inner(node) else {
            match op {
                Op::Removed => self.push(op, Some(node), None, node),
                _ => self.push(op, None, Some(node), node),
            }
            return Ok(());
        };
        // Pairing by path keeps one removed leaf per path.
        if op == Op::Removed {
            sorted_keys(children)?;
        }
        for (key, child) in children {
            self.path.push(key);
            self.every_leaf(child, op)?;
            self.path.pop();
        }
        Ok(())
    }
}

/// Leaves paired by key path: the reading the tree walk follows, used as
/// it is when a mapping holds a key twice.
fn diff_by_leaf_paths(
    base: Option<&EffectiveConfig>,
    head: Option<&EffectiveConfig>,
) -> Vec<Change> {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::config::document::{Node, Value};
    use crate::config::effective::{Origin, Trace};
    use crate::diag::Pos;

    fn node(value: EffValue, line: u32) -> EffNode {
        EffNode {
            value,
            origin: Origin {
                file: Arc::from("f.yaml"),
                key_pos: Pos::new(line, 1),
                value_pos: Pos::new(line, 3),
                layer: 0,
            },
            trace: Trace::default(),
        }
    }

    /// Trees over few keys and values, so the two sides share most paths and
    /// a leaf on one side often meets a mapping on the other; duplicate keys
    /// only when asked.
    fn tree(depth: u32, duplicates: bool) -> BoxedStrategy<EffNode> {
        let leaf = (0..3i64, 1..4u32)
            .prop_map(|(v, line)| {
                node(
                    EffValue::Leaf(Node {
                        value: Value::Int(v),
                        pos: Pos::new(line, 3),
                    }),
                    line,
                )
            })
            .boxed();
        let empty = Just(node(EffValue::Map(Vec::new()), 1)).boxed();
        if depth == 0 {
            return prop_oneof![3 => leaf, 1 => empty].boxed();
        }
        let map = children(depth - 1, duplicates)
            .prop_map(|c| node(EffValue::Map(c), 1))
            .boxed();
        prop_oneof![2 => leaf, 1 => empty, 3 => map].boxed()
    }

    fn children(depth: u32, duplicates: bool) -> BoxedStrategy<Vec<(String, EffNode)>> {
        prop::collection::vec(
            (
                prop::sample::select(vec!["a", "b", "c.d"]),
                tree(depth, duplicates),
            ),
            0..4,
        )
        .prop_map(move |mut entries| {
            if !duplicates {
                let mut seen = std::collections::HashSet::new();
                entries.retain(|(k, _)| seen.insert(*k));
            }
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect()
        })
        .boxed()
    }

    fn config(root: Vec<(String, EffNode)>) -> EffectiveConfig {
        EffectiveConfig {
            class: "c".into(),
            root,
            layers: Vec::new(),
        }
    }

    fn by_leaf_paths(
        base: Option<&EffectiveConfig>,
        head: Option<&EffectiveConfig>,
    ) -> Vec<Change> {
        let mut changes = diff_by_leaf_paths(base, head);
        changes.sort_by(|a, b| a.path.cmp(&b.path).then(a.op.cmp(&b.op)));
        changes
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Walking both trees side by side finds the changes pairing every
        /// leaf by its key path finds, with or without a side, and with keys
        /// held twice (where the walk gives way to the pairing).
        #[test]
        fn the_tree_walk_finds_what_pairing_leaves_by_path_finds(
            base in children(3, false),
            head in children(3, false),
            dup_base in children(2, true),
            dup_head in children(2, true),
        ) {
            let (base, head) = (config(base), config(head));
            prop_assert_eq!(diff_configs(Some(&base), Some(&head)), by_leaf_paths(Some(&base), Some(&head)));
            prop_assert_eq!(diff_configs(None, Some(&head)), by_leaf_paths(None, Some(&head)));
            prop_assert_eq!(diff_configs(Some(&base), None), by_leaf_paths(Some(&base), None));
            let (base, head) = (config(dup_base), config(dup_head));
            prop_assert_eq!(diff_configs(Some(&base), Some(&head)), by_leaf_paths(Some(&base), Some(&head)));
        }
    }
}
