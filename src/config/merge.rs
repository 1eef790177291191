//! The one place merge rules live: the manifest's `merge:` section as a
//! typed [`MergePolicy`], and the engine that merges one layer's mapping into
//! the effective tree under it, recording at every node which strategy
//! applied and which layers contributed.
//!
//! Strategies (later layers have higher priority):
//! - `deep` (the default, SPEC §3.2): maps merge key by key at every depth,
//!   lists follow `lists` (`replace` by default), scalars replace.
//! - `hash`: the two maps merge one level; each key's value is replaced whole.
//! - `first`: the most specific layer's value wins whole (Hiera's default
//!   lookup, Ansible's `hash_behaviour=replace`).
//! - `unique`: arrays and scalars merged into one flattened array without
//!   duplicates, higher priority first (Hiera's `unique`).
//!
//! `!unset` and the knockout prefix remove keys; `nulls: delete` makes an
//! override's null remove the key (Helm).

use std::cmp::Ordering;
use std::collections::HashSet;
use std::sync::Arc;

use regex::{Regex, RegexBuilder};

use std::fmt;

use crate::config::document::{Entry, Node, Value};
use crate::diag::{Diagnostic, Pos, Rule};
use crate::model::keypath::{KeyPath, pointer_of};

/// How the values of one key from several layers combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Strategy {
    First,
    Hash,
    #[default]
    Deep,
    Unique,
}

impl Strategy {
    const ALL: [Strategy; 4] = [
        Strategy::First,
        Strategy::Hash,
        Strategy::Deep,
        Strategy::Unique,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::First => "first",
            Strategy::Hash => "hash",
            Strategy::Deep => "deep",
            Strategy::Unique => "unique",
        }
    }

    fn parse(text: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|s| s.name() == text)
    }
}

/// How two lists combine under `deep`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lists {
    #[default]
    Replace,
    /// The earlier list, then the later one's items (Ansible's `list_merge=append`).
    Append,
    /// Both, duplicates removed, higher priority first (Hiera's deep merge).
    Unique,
}

impl Lists {
    const ALL: [(&'static str, Lists); 3] = [
        ("replace", Lists::Replace),
        ("append", Lists::Append),
        ("unique", Lists::Unique),
    ];

    fn parse(text: &str) -> Option<Lists> {
        Lists::ALL
            .into_iter()
            .find_map(|(n, l)| (n == text).then_some(l))
    }
}

/// What a `null` in a later layer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Nulls {
    /// The null is the value (YAML's reading).
    #[default]
    Keep,
    /// The null removes the key it overrides (Helm).
    Delete,
}

/// The rule in force at one key: the strategy and its array options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mode {
    pub strategy: Strategy,
    pub lists: Lists,
    pub sort_merged_arrays: bool,
    pub merge_hash_arrays: bool,
}

impl Mode {
    /// The mode the children of a key get when no rule names them: only
    /// `deep` reaches below the key it applies to.
    fn below(self) -> Mode {
        match self.strategy {
            Strategy::Deep => self,
            _ => Mode {
                strategy: Strategy::First,
                ..self
            },
        }
    }
}

#[derive(Debug, Clone)]
pub enum KeySelector {
    /// An exact key path, as segments.
    Exact(Vec<String>),
    /// A regex over the dotted form of the key path.
    Match(Regex),
}

/// One entry of `merge.keys`.
#[derive(Debug, Clone)]
pub struct KeyRule {
    pub selector: KeySelector,
    pub mode: Mode,
    pub pos: Pos,
}

/// The manifest's `merge:` section. The default is today's merge: `deep`,
/// lists replace, nulls kept, no knockout prefix, no per-key rules.
#[derive(Debug, Clone, Default)]
pub struct MergePolicy {
    pub default: Mode,
    pub nulls: Nulls,
    pub knockout_prefix: Option<String>,
    pub keys: Vec<KeyRule>,
    /// `lookup_options: data`: Hiera's own lookup, each top-level key merged
    /// as the data's `lookup_options` say (see [`hiera_lookup`]);
    /// the rest of this policy does not apply then.
    pub lookup_options_from_data: bool,
}

/// Regexes come from the repo: bounded so none can take unbounded memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl MergePolicy {
    /// The policy the manifest's `merge:` section describes. Invalid entries
    /// are left out here; [`manifest_errors`] refuses the manifest for them.
    pub fn from_manifest(root: &Node) -> MergePolicy {
        parse(root, "", &mut Vec::new())
    }

    /// The mode in force at a key path, as the engine finds it: a rule
    /// naming the path, else what its parent passes down.
    pub fn mode_for<S: AsRef<str>>(&self, segments: &[S]) -> Mode {
        let mut mode = self.default;
        let mut path: Vec<&str> = Vec::with_capacity(segments.len());
        for (i, s) in segments.iter().enumerate() {
            path.push(s.as_ref());
            let inherited = if i == 0 { self.default } else { mode.below() };
            mode = self.rule_at(&path).unwrap_or(inherited);
        }
        mode
    }

    /// Whether a later mapping at this key merges into the earlier one.
    pub fn merges_maps(mode: Mode) -> bool {
        matches!(mode.strategy, Strategy::Deep | Strategy::Hash)
    }

    /// Whether a later list at this key adds to the earlier one.
    pub fn merges_lists(mode: Mode) -> bool {
        mode.strategy == Strategy::Unique
            || (mode.strategy == Strategy::Deep && mode.lists != Lists::Replace)
    }

    /// The mode at `path` when a rule names it.
    fn rule_at(&self, path: &[&str]) -> Option<Mode> {
        if self.keys.is_empty() {
            return None;
        }
        let mut dotted: Option<String> = None;
        self.keys.iter().find_map(|rule| {
            let hit = match &rule.selector {
                KeySelector::Exact(segments) => {
                    segments.len() == path.len() && segments.iter().zip(path).all(|(a, b)| a == b)
                }
                KeySelector::Match(re) => re.is_match(dotted.get_or_insert_with(|| path.join("."))),
            };
            hit.then_some(rule.mode)
        })
    }
}

/// The `manifest` findings for a `merge:` section: unknown strategies and
/// options, regexes that do not compile, empty key paths. Any of them
/// refuses the manifest (exit 2).
pub fn manifest_errors(root: &Node, manifest_file: &str) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    parse(root, manifest_file, &mut errors);
    errors
}

fn parse(root: &Node, manifest_file: &str, errors: &mut Vec<Diagnostic>) -> MergePolicy {
    let mut policy = MergePolicy::default();
    let Some(section) = root.get("merge") else {
        return policy;
    };
    let section = &section.value;
    let mut error = |pos: Pos, pointer: String, message: String, help: &str| {
        errors.push(
            Diagnostic::new(Rule::Manifest, manifest_file, pos, message)
                .with_path(pointer)
                .with_help(help),
        );
    };
    let mode =
        |node: &Node, base: Mode, at: &str, error: &mut dyn FnMut(Pos, String, String, &str)| {
            let mut mode = base;
            if let Some(e) = node.get("strategy").or_else(|| node.get("default"))
                && let Some(text) = e.value.value.as_str()
            {
                match Strategy::parse(text) {
                    Some(s) => mode.strategy = s,
                    None => error(
                        e.value.pos,
                        format!("{at}/{}", e.key),
                        format!(
                            "unknown merge strategy `{text}`{}",
                            did_you_mean(text, Strategy::ALL.iter().map(|s| s.name()))
                        ),
                        "write one of first, hash, deep, unique",
                    ),
                }
            }
            if let Some(e) = node.get("lists")
                && let Some(text) = e.value.value.as_str()
            {
                match Lists::parse(text) {
                    Some(l) => mode.lists = l,
                    None => error(
                        e.value.pos,
                        format!("{at}/lists"),
                        format!(
                            "unknown list merge `{text}`{}",
                            did_you_mean(text, Lists::ALL.iter().map(|(n, _)| *n))
                        ),
                        "write one of replace, append, unique",
                    ),
                }
            }
            for (key, slot) in [
                ("sort_merged_arrays", &mut mode.sort_merged_arrays),
                ("merge_hash_arrays", &mut mode.merge_hash_arrays),
            ] {
                if let Some(Value::Bool(b)) = node.get(key).map(|e| &e.value.value) {
                    *slot = *b;
                }
            }
            mode
        };
    policy.default = mode(section, Mode::default(), "/merge", &mut error);
    if let Some(e) = section.get("lookup_options")
        && let Some(text) = e.value.value.as_str()
    {
        match text {
            "data" => policy.lookup_options_from_data = true,
            "manifest" => {}
            _ => error(
                e.value.pos,
                "/merge/lookup_options".into(),
                format!("unknown lookup_options source `{text}`"),
                "write `data` (Hiera's lookup_options read from the data files) or leave the line out",
            ),
        }
    }
    if let Some(e) = section.get("nulls")
        && let Some(text) = e.value.value.as_str()
    {
        match text {
            "keep" => policy.nulls = Nulls::Keep,
            "delete" => policy.nulls = Nulls::Delete,
            _ => error(
                e.value.pos,
                "/merge/nulls".into(),
                format!(
                    "unknown null handling `{text}`{}",
                    did_you_mean(text, ["keep", "delete"].into_iter())
                ),
                "write keep or delete",
            ),
        }
    }
    if let Some(e) = section.get("knockout_prefix")
        && let Some(text) = e.value.value.as_str()
    {
        if text.is_empty() {
            error(
                e.value.pos,
                "/merge/knockout_prefix".into(),
                "the knockout prefix is empty, so every key would knock itself out".into(),
                "write a prefix such as \"--\", or remove the line",
            );
        } else {
            policy.knockout_prefix = Some(text.to_owned());
        }
    }
    if let Some(e) = section.get("keys")
        && let Value::Seq(items) = &e.value.value
    {
        for (i, item) in items.iter().enumerate() {
            let at = format!("/merge/keys/{i}");
            let selector = match (item.get("key"), item.get("match")) {
                (Some(k), None) => match k.value.value.as_str().map(key_segments) {
                    Some(Ok(segments)) => Some(KeySelector::Exact(segments)),
                    why => {
                        let message = match why {
                            Some(Err(Some(why))) => format!(
                                "`{}` is not a key path: {why}",
                                k.value.value.as_str().unwrap_or_default()
                            ),
                            _ => "the key path is empty".into(),
                        };
                        error(
                            k.value.pos,
                            format!("{at}/key"),
                            message,
                            "write a key path, e.g. /server/port, server.port or sysctl.\"net.ipv4.ip_forward\" (a key with dots, quoted)",
                        );
                        None
                    }
                },
                (None, Some(m)) => {
                    let text = m.value.value.as_str().unwrap_or_default();
                    match RegexBuilder::new(text).size_limit(REGEX_SIZE_LIMIT).build() {
                        Ok(re) => Some(KeySelector::Match(re)),
                        Err(err) => {
                            let why = err.to_string();
                            let why = why.lines().last().unwrap_or("invalid").trim();
                            error(
                                m.value.pos,
                                format!("{at}/match"),
                                format!("`{text}` is not a valid regex: {why}"),
                                "write a regex over the dotted key path, e.g. '^profile::.*::plugins$'",
                            );
                            None
                        }
                    }
                }
                _ => {
                    error(
                        item.pos,
                        at.clone(),
                        "a merge rule needs exactly one of `key` (an exact key path) or `match` (a regex)".into(),
                        "write `key: /a/b` or `match: '^a\\..*'`",
                    );
                    None
                }
            };
            let rule_mode = mode(item, policy.default, &at, &mut error);
            if let Some(selector) = selector {
                policy.keys.push(KeyRule {
                    selector,
                    mode: rule_mode,
                    pos: item.pos,
                });
            }
        }
    }
    policy
}

fn did_you_mean<'a>(text: &str, choices: impl Iterator<Item = &'a str>) -> String {
    crate::model::suggest::closest(text, choices)
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}

/// `/a/b~1c` (JSON Pointer), `a.b` or `a."b.c"` (dotted, a key holding a
/// dot quoted: the form explain and diff print) → segments. `Err(None)`: the
/// path is empty; `Err(Some(why))`: it is no key path.
fn key_segments(text: &str) -> Result<Vec<String>, Option<String>> {
    if text.is_empty() {
        return Err(None);
    }
    let path = KeyPath::parse(text).map_err(|e| Some(e.reason))?;
    if path.segments().iter().all(String::is_empty) {
        return Err(None);
    }
    Ok(path.segments().to_vec())
}

/// Merges layers into one effective tree, collecting findings.
pub(crate) struct Merger<'a> {
    class: &'a str,
    policy: &'a MergePolicy,
    /// The key path being merged, as segments borrowed from the layers.
    path: Vec<&'a str>,
    pub(crate) findings: Vec<Diagnostic>,
    /// Whether a mapping merged from several layers records each of them.
    /// Only `explain` and `render --provenance` show that; `check` and `diff`
    /// merge every class and skip it (it cost `diff` ~9% of its time).
    pub(crate) map_contributors: bool,
}

/// Number and string are the types users confuse; map ↔ scalar and
/// list ↔ scalar are structural. Null is compatible with everything: it
/// means "no value here".
fn same_kind(a: &Value, b: &Value) -> bool {
    use Value::*;
    matches!(
        (a, b),
        (Null, _)
            | (_, Null)
            | (Bool(_), Bool(_))
            | (Int(_) | Float(_), Int(_) | Float(_))
            | (Str(_), Str(_))
            | (Seq(_), Seq(_))
    )
}

impl<'a> Merger<'a> {
    pub(crate) fn new(class: &'a str, policy: &'a MergePolicy) -> Merger<'a> {
        Merger {
            class,
            policy,
            path: Vec::new(),
            findings: Vec::new(),
            map_contributors: true,
        }
    }

    /// Merges one layer's top-level mapping into `root`.
    pub(crate) fn merge_layer(
        &mut self,
        root: &mut Vec<(String, EffNode)>,
        entries: &'a [Entry],
        file: &Arc<str>,
        layer: usize,
        first: bool,
    ) {
        self.path.clear();
        let mode = self.policy.default;
        self.merge_map(root, entries, file, layer, first, mode);
    }

    fn mode_at(&self, inherited: Mode) -> Mode {
        self.policy.rule_at(&self.path).unwrap_or(inherited)
    }

    /// The knocked-out key when `key` carries the knockout prefix.
    fn knockout<'k>(&self, key: &'k str, parent: Mode) -> Option<&'k str> {
        let prefix = self.policy.knockout_prefix.as_deref()?;
        if parent.strategy != Strategy::Deep {
            return None;
        }
        key.strip_prefix(prefix).filter(|k| !k.is_empty())
    }

    /// The path as findings print it: quoted where a key holds a dot, so it
    /// reads back as the same keys.
    fn dotted(&self) -> String {
        crate::config::KeyPath::new(self.path.iter().map(|s| (*s).to_owned()).collect()).to_string()
    }

    fn merge_map(
        &mut self,
        target: &mut Vec<(String, EffNode)>,
        entries: &'a [Entry],
        file: &Arc<str>,
        layer: usize,
        first: bool,
        inherited: Mode,
    ) {
        for entry in entries {
            let origin = Origin {
                file: file.clone(),
                key_pos: entry.key_pos,
                value_pos: entry.value.pos,
                layer,
            };
            // `--key` knocks out `key`, as `key: !unset` does.
            let knocked = self.knockout(&entry.key, inherited);
            let key: &'a str = match knocked {
                Some(k) => k,
                None => &entry.key,
            };
            self.path.push(key);
            let mode = self.mode_at(inherited);
            let existing = target.iter().position(|(k, _)| k == key);
            let removes = knocked.is_some()
                || entry.value.value == Value::Unset
                || (self.policy.nulls == Nulls::Delete
                    && entry.value.value == Value::Null
                    && existing.is_some());
            match (existing, removes) {
                (None, true) => {
                    let path = self.dotted();
                    let how = if knocked.is_some() {
                        format!("with `{}`", entry.key)
                    } else {
                        "with !unset".to_owned()
                    };
                    self.finding(
                        Rule::UnknownOverride,
                        file,
                        entry.key_pos,
                        format!("`{path}` is knocked out {how}, but no earlier layer sets it"),
                        "remove the knockout, or check the key's spelling",
                    );
                }
                (Some(i), true) => {
                    target.remove(i);
                }
                (None, false) => {
                    if !first {
                        let path = self.dotted();
                        self.finding(
                            Rule::UnknownOverride,
                            file,
                            entry.key_pos,
                            format!("`{path}` is set here but no earlier layer defines it, so it overrides nothing"),
                            "check the key's spelling, or define a default for it in an earlier layer",
                        );
                    }
                    let node = self.fresh(&entry.value, origin, file, layer, mode);
                    target.push((key.to_owned(), node));
                }
                (Some(i), false) => {
                    let slot = &mut target[i].1;
                    self.merge_into(slot, &entry.value, origin, file, layer, first, mode);
                }
            }
            self.path.pop();
        }
    }

    /// A later layer's value for a key an earlier layer set.
    #[allow(clippy::too_many_arguments)]
    fn merge_into(
        &mut self,
        slot: &mut EffNode,
        new: &'a Node,
        origin: Origin,
        file: &Arc<str>,
        layer: usize,
        first: bool,
        mode: Mode,
    ) {
        let merges_maps = matches!(mode.strategy, Strategy::Deep | Strategy::Hash);
        match (&mut slot.value, &new.value) {
            (EffValue::Map(children), Value::Map(new_entries)) if merges_maps => {
                if self.map_contributors {
                    slot.trace.add(&slot.origin, origin);
                }
                slot.trace.set_strategy(mode.strategy);
                self.merge_map(children, new_entries, file, layer, first, mode.below());
            }
            (EffValue::Map(_), Value::Map(_)) => {
                // `first` and `unique` take the later mapping whole.
                *slot = self.fresh(new, origin, file, layer, mode);
            }
            (EffValue::Leaf(old), new_value) if !matches!(new_value, Value::Map(_)) => {
                if !same_kind(&old.value, new_value) && mode.strategy != Strategy::Unique {
                    let (old_kind, old_origin) = (old.value.kind_name(), slot.origin.clone());
                    self.type_change(file, new, old_kind, &old_origin);
                }
                let combined = match (mode.strategy, &old.value, new_value) {
                    (Strategy::Unique, _, _) => Some(self.unique(old, new)),
                    // Under today's default (`lists: replace`, nothing to knock
                    // out or merge by index) `lists` would give the later list
                    // as is: `fresh` does that without copying the earlier one,
                    // on the path every list override of `diff` takes.
                    (Strategy::Deep, Value::Seq(old_items), Value::Seq(new_items))
                        if mode.lists != Lists::Replace
                            || mode.merge_hash_arrays
                            || self.policy.knockout_prefix.is_some() =>
                    {
                        Some(self.lists(old_items, new_items, new.pos, mode))
                    }
                    _ => None,
                };
                match combined {
                    Some(node) => {
                        // Under `lists: replace` (knockouts only) the earlier
                        // list is gone: it contributes nothing.
                        let keeps_old = mode.strategy == Strategy::Unique
                            || mode.lists != Lists::Replace
                            || mode.merge_hash_arrays;
                        if keeps_old {
                            let old_origin = slot.origin.clone();
                            slot.trace.add(&old_origin, origin.clone());
                            slot.trace.set_strategy(mode.strategy);
                        } else {
                            slot.trace = Trace::of(mode.strategy);
                        }
                        slot.value = EffValue::Leaf(node);
                        slot.origin = origin;
                    }
                    None => *slot = self.fresh(new, origin, file, layer, mode),
                }
            }
            (old, _) => {
                let old_kind = match old {
                    EffValue::Map(_) => "mapping",
                    EffValue::Leaf(n) => n.value.kind_name(),
                };
                let old_origin = slot.origin.clone();
                // Null holds no type: filling it with a mapping, or
                // emptying a mapping to null, is no change of type.
                let null_old = matches!(
                    old,
                    EffValue::Leaf(Node {
                        value: Value::Null,
                        ..
                    })
                );
                if !null_old && new.value != Value::Null {
                    self.type_change(file, new, old_kind, &old_origin);
                }
                *slot = self.fresh(new, origin, file, layer, mode);
            }
        }
    }

    /// A value no earlier layer had: maps become effective maps, `!unset`
    /// (and knockouts) inside them are dropped (there is nothing to knock out).
    fn fresh(
        &mut self,
        node: &'a Node,
        origin: Origin,
        file: &Arc<str>,
        layer: usize,
        mode: Mode,
    ) -> EffNode {
        match &node.value {
            Value::Map(entries) => {
                let mut children = Vec::new();
                let below = mode.below();
                for e in entries {
                    if e.value.value == Value::Unset || self.knockout(&e.key, mode).is_some() {
                        continue;
                    }
                    let child_origin = Origin {
                        file: file.clone(),
                        key_pos: e.key_pos,
                        value_pos: e.value.pos,
                        layer,
                    };
                    self.path.push(&e.key);
                    let child_mode = self.mode_at(below);
                    let child = self.fresh(&e.value, child_origin, file, layer, child_mode);
                    self.path.pop();
                    children.push((e.key.clone(), child));
                }
                EffNode {
                    value: EffValue::Map(children),
                    origin,
                    trace: Trace::of(mode.strategy),
                }
            }
            // Hiera's `unique` reads every value as an array, even a lone scalar.
            Value::Null | Value::Unset => EffNode {
                value: EffValue::Leaf(strip_unset(node)),
                origin,
                trace: Trace::of(mode.strategy),
            },
            _ if mode.strategy == Strategy::Unique => {
                let empty = Node {
                    value: Value::Seq(Vec::new()),
                    pos: node.pos,
                };
                EffNode {
                    value: EffValue::Leaf(self.unique(&empty, node)),
                    origin,
                    trace: Trace::of(mode.strategy),
                }
            }
            Value::Seq(items)
                if mode.strategy == Strategy::Deep
                    && (mode.sort_merged_arrays || self.policy.knockout_prefix.is_some()) =>
            {
                EffNode {
                    // Nothing to merge with: knockout items go, the list stays as
                    // written (no dedup), sorted when asked.
                    value: EffValue::Leaf(self.lists(
                        &[],
                        items,
                        node.pos,
                        Mode {
                            lists: Lists::Append,
                            ..mode
                        },
                    )),
                    origin,
                    trace: Trace::of(mode.strategy),
                }
            }
            _ => EffNode {
                value: EffValue::Leaf(strip_unset(node)),
                origin,
                trace: Trace::of(mode.strategy),
            },
        }
    }

    /// Hiera's `unique`: both values as flattened arrays (a scalar is a
    /// one-element array), higher priority (the later layer) first,
    /// duplicates removed.
    fn unique(&self, old: &Node, new: &Node) -> Node {
        let mut items = Vec::new();
        flatten(new, &mut items);
        flatten(old, &mut items);
        let mut seen = HashSet::new();
        items.retain(|n| seen.insert(n.to_json().to_string()));
        Node {
            value: Value::Seq(items),
            pos: new.pos,
        }
    }

    /// Two lists under `deep`: knockouts, hash arrays, then `lists`.
    fn lists(&self, old: &[Node], new: &[Node], pos: Pos, mode: Mode) -> Node {
        let prefix = self.policy.knockout_prefix.as_deref();
        let knocked: Vec<&str> = new
            .iter()
            .filter_map(|n| n.value.as_str()?.strip_prefix(prefix?))
            .collect();
        let keep = |n: &&Node| {
            !n.value
                .as_str()
                .is_some_and(|s| knocked.contains(&s) || prefix.is_some_and(|p| s.starts_with(p)))
        };
        let old: Vec<Node> = old.iter().filter(keep).cloned().collect();
        let new: Vec<Node> = new
            .iter()
            .filter(|n| !prefix.is_some_and(|p| n.value.as_str().is_some_and(|s| s.starts_with(p))))
            .cloned()
            .collect();
        let all_maps = |items: &[Node]| {
            !items.is_empty() && items.iter().all(|n| matches!(n.value, Value::Map(_)))
        };
        let mut items = if mode.merge_hash_arrays && all_maps(&old) && all_maps(&new) {
            // Hashes at the same index deep-merge; the longer list's rest follows.
            let len = old.len().max(new.len());
            (0..len)
                .filter_map(|i| match (old.get(i), new.get(i)) {
                    (Some(o), Some(n)) => Some(deep_node(o, n)),
                    (o, n) => n.or(o).cloned(),
                })
                .collect()
        } else {
            match mode.lists {
                Lists::Replace => new,
                Lists::Append => old.into_iter().chain(new).collect(),
                Lists::Unique => {
                    let mut seen = HashSet::new();
                    new.into_iter()
                        .chain(old)
                        .filter(|n| seen.insert(n.to_json().to_string()))
                        .collect()
                }
            }
        };
        if mode.sort_merged_arrays {
            items.sort_by(compare_nodes);
        }
        Node {
            value: Value::Seq(items),
            pos,
        }
    }

    fn type_change(&mut self, file: &Arc<str>, node: &Node, old_kind: &str, old: &Origin) {
        let path = self.dotted();
        let d = Diagnostic::new(
            Rule::TypeChange,
            &**file,
            node.pos,
            format!(
                "`{path}` changes type from {old_kind} to {}",
                node.value.kind_name()
            ),
        )
        .with_path(pointer_of(&self.path))
        .with_class(self.class)
        .with_related(&*old.file, old.value_pos, "the inherited value is set here")
        .with_help("keep the inherited type, or knock the key out with !unset first and set it in a later layer");
        self.findings.push(d);
    }

    fn finding(&mut self, rule: Rule, file: &Arc<str>, pos: Pos, message: String, help: &str) {
        self.findings.push(
            Diagnostic::new(rule, &**file, pos, message)
                .with_path(pointer_of(&self.path))
                .with_class(self.class)
                .with_help(help),
        );
    }
}

// Hiera's own lookup (`merge: {lookup_options: data}`, written by
// `ringmaster import hiera`). Checked against Puppet 7.23's
// `Puppet::Pops::MergeStrategy` and the `deep_merge` gem it calls:
// - every top-level key is looked up on its own; its strategy comes from the
//   `lookup_options` key of the data itself, looked up with a `hash` merge
//   (the most specific level wins per key), the exact key's entry first,
//   else the first regex (a key starting with `^`) that matches;
// - `first` (the default): the most specific level's value, whole;
// - `hash`: the levels' mappings merged one level deep, the more specific
//   key winning, in the least specific level's key order;
// - `unique`: every value flattened into one array, more specific first,
//   duplicates removed (a lone scalar becomes a one-item array);
// - `deep`: folded from the most specific level down as
//   `DeepMerge.deep_merge!(so_far, lower)`: mappings merge at every depth,
//   arrays become `lower | so_far` (lower items first, no duplicates), a null
//   keeps the lower value, `knockout_prefix` removes array items (`--x`)
//   and turns a knocked scalar into "" (a `--key` mapping key is no knockout
//   there), `sort_merged_arrays` sorts each array it merged,
//   `merge_hash_arrays` merges arrays of mappings item by item.
// `lookup_options` itself is no lookup key: it never reaches the result.

/// One `lookup_options` entry's `merge`.
#[derive(Debug, Clone, Default)]
pub(crate) struct HieraMerge {
    strategy: Strategy,
    knockout_prefix: Option<String>,
    sort_merged_arrays: bool,
    merge_hash_arrays: bool,
}

/// One layer as the Hiera lookup reads it.
pub struct HieraLayer<'a> {
    pub entries: &'a [Entry],
    pub file: Arc<str>,
    pub layer: usize,
}

/// The key Hiera reads its own merge options from.
pub(crate) const LOOKUP_OPTIONS: &str = "lookup_options";

/// Every key of `layers` (least specific first) as Puppet's `lookup` returns
/// it for this class, with the values as written (no `%{}` resolved; see
/// `interpolate`, which resolves each level's tokens before the merge).
pub(crate) fn hiera_lookup(
    class: &str,
    root: &mut Vec<(String, EffNode)>,
    layers: &[HieraLayer<'_>],
    findings: &mut Vec<Diagnostic>,
) {
    let lookup = HieraLookup::new(class, layers, findings);
    for key in lookup.keys() {
        let how = lookup.rule(key);
        let found = lookup.level_values(key, &how);
        if let Some(value) = lookup.merge(key, found, &how, findings) {
            root.push((key.to_owned(), value));
        }
    }
}

/// One class's Hiera data: its levels, each indexed by key, and the merge
/// rules its `lookup_options` give.
pub(crate) struct HieraLookup<'x> {
    class: String,
    layers: &'x [HieraLayer<'x>],
    /// Each level's keys indexed once (the last of a duplicate wins), so a
    /// class costs one pass over its data whatever the number of keys.
    index: Vec<std::collections::HashMap<&'x str, &'x Entry>>,
    exact: std::collections::HashMap<String, HieraMerge>,
    patterns: Vec<(Regex, HieraMerge)>,
}

impl<'x> HieraLookup<'x> {
    pub(crate) fn new(
        class: &str,
        layers: &'x [HieraLayer<'x>],
        findings: &mut Vec<Diagnostic>,
    ) -> HieraLookup<'x> {
        let (exact, patterns) = hiera_options(class, layers, findings);
        HieraLookup {
            class: class.to_owned(),
            layers,
            index: layers
                .iter()
                .map(|l| l.entries.iter().map(|e| (e.key.as_str(), e)).collect())
                .collect(),
            exact: exact.into_iter().collect(),
            patterns,
        }
    }

    /// The lookup keys, least specific level's first.
    pub(crate) fn keys(&self) -> Vec<&'x str> {
        let mut keys: Vec<&'x str> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for l in self.layers {
            for e in l.entries {
                if e.key != LOOKUP_OPTIONS && seen.insert(&e.key) {
                    keys.push(&e.key);
                }
            }
        }
        keys
    }

    /// The merge for `key`: the exact entry, else the first matching regex,
    /// else `first`.
    pub(crate) fn rule(&self, key: &str) -> HieraMerge {
        self.exact
            .get(key)
            .or_else(|| {
                self.patterns
                    .iter()
                    .find(|(re, _)| re.is_match(key))
                    .map(|(_, m)| m)
            })
            .cloned()
            .unwrap_or_else(|| HieraMerge {
                strategy: Strategy::First,
                ..HieraMerge::default()
            })
    }

    /// `key`'s value in each level that has it, most specific first (as
    /// Puppet walks them); only the first under `first`.
    pub(crate) fn level_values(&self, key: &str, how: &HieraMerge) -> Vec<EffNode> {
        let wanted = if how.strategy == Strategy::First {
            1
        } else {
            usize::MAX
        };
        self.layers
            .iter()
            .zip(&self.index)
            .rev()
            .filter_map(|(l, index)| {
                let e = index.get(key)?;
                Some(eff_of(&e.value, origin_of(l, e.key_pos, e.value.pos)))
            })
            .take(wanted)
            .collect()
    }

    /// One key's value from its levels' values, most specific first.
    pub(crate) fn merge(
        &self,
        key: &str,
        found: Vec<EffNode>,
        how: &HieraMerge,
        findings: &mut Vec<Diagnostic>,
    ) -> Option<EffNode> {
        // Every level that has the key, least specific first, for the trace.
        let origins: Vec<Origin> = found.iter().rev().map(|n| n.origin.clone()).collect();
        let whole_trace = |strategy: Strategy| {
            let mut trace = Trace::of(strategy);
            for pair in origins.windows(2) {
                trace.add(&pair[0], pair[1].clone());
            }
            trace
        };
        let mut found = found.into_iter();
        let first = found.next()?;
        match how.strategy {
            Strategy::First => Some(first),
            Strategy::Hash => {
                let mut acc = first;
                for lower in found {
                    acc = match (lower.value, acc.value) {
                        (EffValue::Map(mut base), EffValue::Map(over)) => {
                            for (k, v) in over {
                                match base.iter_mut().find(|(b, _)| *b == k) {
                                    Some(slot) => slot.1 = v,
                                    None => base.push((k, v)),
                                }
                            }
                            let mut trace = Trace::of(Strategy::Hash);
                            trace.add(&lower.origin, acc.origin);
                            EffNode {
                                value: EffValue::Map(base),
                                origin: lower.origin,
                                trace,
                            }
                        }
                        (_, value) => {
                            findings.push(self.type_finding(key, &acc.origin, "hash", "a mapping"));
                            return Some(EffNode { value, ..acc });
                        }
                    };
                }
                if origins.len() > 1 {
                    acc.trace = whole_trace(Strategy::Hash);
                }
                Some(acc)
            }
            Strategy::Unique => {
                let mut items = Vec::new();
                let origin = first.origin.clone();
                let mut contributors = Vec::new();
                // One value is only wrapped (`{}` → `[{}]`); a mapping among
                // several fails Puppet's type check.
                let several = found.len() != 0;
                for node in std::iter::once(first).chain(found) {
                    if several && matches!(node.value, EffValue::Map(_)) {
                        findings.push(self.type_finding(
                            key,
                            &node.origin,
                            "unique",
                            "a scalar or an array",
                        ));
                        continue;
                    }
                    flatten(&to_node(&node), &mut items);
                    contributors.push(node.origin);
                }
                let mut seen = HashSet::new();
                items.retain(|n| seen.insert(n.to_json().to_string()));
                let mut trace = Trace::of(Strategy::Unique);
                contributors.reverse();
                for (i, o) in contributors.iter().enumerate().skip(1) {
                    trace.add(&contributors[i - 1], o.clone());
                }
                Some(EffNode {
                    value: EffValue::Leaf(Node {
                        value: Value::Seq(items),
                        pos: origin.value_pos,
                    }),
                    origin,
                    trace,
                })
            }
            Strategy::Deep => {
                let mut acc = first;
                for lower in found {
                    acc = deep_merge(acc, lower, how);
                }
                if origins.len() > 1 {
                    acc.trace = whole_trace(Strategy::Deep);
                }
                Some(acc)
            }
        }
    }

    fn type_finding(&self, key: &str, origin: &Origin, strategy: &str, wanted: &str) -> Diagnostic {
        Diagnostic::new(
            Rule::TypeChange,
            &*origin.file,
            origin.value_pos,
            format!("`{key}` is merged with `{strategy}`, which needs {wanted} in every level; Puppet's lookup fails here"),
        )
        .with_path(pointer_of(&[key]))
        .with_class(&self.class)
        .with_help("change the value, or the key's lookup_options")
    }
}

/// `lookup_options` merged across the levels (`hash`), split into exact
/// keys and regexes in the merged hash's order.
#[allow(clippy::type_complexity)]
fn hiera_options(
    class: &str,
    layers: &[HieraLayer<'_>],
    findings: &mut Vec<Diagnostic>,
) -> (Vec<(String, HieraMerge)>, Vec<(Regex, HieraMerge)>) {
    let mut merged: Vec<(&str, &Node, &Arc<str>)> = Vec::new();
    for l in layers {
        let Some(e) = l.entries.iter().rev().find(|e| e.key == LOOKUP_OPTIONS) else {
            continue;
        };
        let Value::Map(options) = &e.value.value else {
            continue;
        };
        for o in options {
            match merged.iter_mut().find(|(k, _, _)| *k == o.key) {
                Some(slot) => *slot = (&o.key, &o.value, &l.file),
                None => merged.push((&o.key, &o.value, &l.file)),
            }
        }
    }
    let mut exact = Vec::new();
    let mut patterns = Vec::new();
    for (key, node, file) in merged {
        let how = hiera_merge_of(node);
        if key.starts_with('^') {
            match RegexBuilder::new(key).size_limit(REGEX_SIZE_LIMIT).build() {
                Ok(re) => patterns.push((re, how)),
                Err(_) => findings.push(
                    Diagnostic::new(
                        Rule::Manifest,
                        &**file,
                        node.pos,
                        format!("lookup_options key `{key}` is not a regex ringmaster can read"),
                    )
                    .with_class(class)
                    .with_help(
                        "write the regex in the common subset of Ruby and Rust regex syntax",
                    ),
                ),
            }
        } else {
            exact.push((key.to_owned(), how));
        }
    }
    (exact, patterns)
}

fn origin_of(l: &HieraLayer<'_>, key_pos: Pos, value_pos: Pos) -> Origin {
    Origin {
        file: l.file.clone(),
        key_pos,
        value_pos,
        layer: l.layer,
    }
}

/// A `lookup_options` entry's `merge`: a strategy name or a hash of options.
fn hiera_merge_of(options: &Node) -> HieraMerge {
    let mut how = HieraMerge {
        strategy: Strategy::First,
        ..HieraMerge::default()
    };
    let Some(merge) = options.get("merge") else {
        return how;
    };
    let strategy = match &merge.value.value {
        Value::Str(s) => Some(s.as_str()),
        Value::Map(_) => {
            let m = &merge.value;
            how.knockout_prefix = m
                .get("knockout_prefix")
                .and_then(|e| e.value.value.as_str())
                .filter(|p| !p.is_empty())
                .map(str::to_owned);
            how.sort_merged_arrays = m
                .get("sort_merged_arrays")
                .is_some_and(|e| e.value.value == Value::Bool(true));
            how.merge_hash_arrays = m
                .get("merge_hash_arrays")
                .is_some_and(|e| e.value.value == Value::Bool(true));
            m.get("strategy").and_then(|e| e.value.value.as_str())
        }
        _ => None,
    };
    how.strategy = match strategy {
        Some("deep") => Strategy::Deep,
        Some("hash") => Strategy::Hash,
        Some("unique") => Strategy::Unique,
        _ => Strategy::First,
    };
    how
}

/// A layer's value as an effective node, every part from `origin`'s file.
pub(crate) fn eff_of(node: &Node, origin: Origin) -> EffNode {
    let value = match &node.value {
        Value::Map(entries) => EffValue::Map(
            entries
                .iter()
                .map(|e| {
                    let child = Origin {
                        key_pos: e.key_pos,
                        value_pos: e.value.pos,
                        ..origin.clone()
                    };
                    (e.key.clone(), eff_of(&e.value, child))
                })
                .collect(),
        ),
        _ => EffValue::Leaf(strip_unset(node)),
    };
    EffNode {
        value,
        origin,
        trace: Trace::default(),
    }
}

/// An effective node as a plain value.
fn to_node(node: &EffNode) -> Node {
    match &node.value {
        EffValue::Leaf(n) => n.clone(),
        EffValue::Map(children) => Node {
            value: Value::Map(
                children
                    .iter()
                    .map(|(k, v)| Entry {
                        key: k.clone(),
                        key_pos: v.origin.key_pos,
                        value: to_node(v),
                    })
                    .collect(),
            ),
            pos: node.origin.value_pos,
        },
    }
}

/// Ruby's truthiness: `deep_merge` treats a nil or false destination as absent.
fn falsy(node: &EffNode) -> bool {
    matches!(
        &node.value,
        EffValue::Leaf(Node {
            value: Value::Null | Value::Bool(false) | Value::Unset,
            ..
        })
    )
}

fn leaf(value: Value, origin: &Origin) -> EffNode {
    EffNode {
        value: EffValue::Leaf(Node {
            value,
            pos: origin.value_pos,
        }),
        origin: origin.clone(),
        trace: Trace::default(),
    }
}

/// `DeepMerge.deep_merge!(source, dest, options)` with
/// `preserve_unmergeables: false`, as Puppet's `deep` calls it: `source`
/// is the more specific value.
fn deep_merge(source: EffNode, dest: EffNode, how: &HieraMerge) -> EffNode {
    let prefix = how.knockout_prefix.as_deref();
    if let EffValue::Leaf(Node {
        value: Value::Null | Value::Unset,
        ..
    }) = &source.value
    {
        return dest;
    }
    if falsy(&dest) {
        return source;
    }
    match source.value {
        EffValue::Map(children) => {
            let EffValue::Map(mut base) = dest.value else {
                if children.is_empty() {
                    return dest;
                }
                return EffNode {
                    value: EffValue::Map(children),
                    ..source
                };
            };
            for (k, v) in children {
                match base.iter().position(|(b, _)| *b == k) {
                    Some(i) if !falsy(&base[i].1) => {
                        let old = std::mem::replace(&mut base[i].1, leaf(Value::Null, &v.origin));
                        base[i].1 = deep_merge(v, old, how);
                    }
                    at => {
                        let merged = deep_merge(v.clone(), v, how);
                        match at {
                            Some(i) => base[i].1 = merged,
                            None => base.push((k, merged)),
                        }
                    }
                }
            }
            let mut trace = dest.trace;
            trace.add(&dest.origin, source.origin);
            trace.set_strategy(Strategy::Deep);
            EffNode {
                value: EffValue::Map(base),
                origin: dest.origin,
                trace,
            }
        }
        EffValue::Leaf(src) => {
            let src_origin = source.origin.clone();
            let Value::Seq(mut items) = src.value else {
                // A scalar overwrites; a knocked-out one leaves "".
                let knocked =
                    prefix.is_some_and(|p| src.value.as_str().is_some_and(|s| s.starts_with(p)));
                if knocked {
                    return leaf(Value::Str(String::new()), &source.origin);
                }
                return EffNode {
                    value: EffValue::Leaf(src),
                    ..source
                };
            };
            let is_prefix = |n: &Node| prefix.is_some_and(|p| n.value.as_str() == Some(p));
            let mut dest = dest;
            if items.iter().any(is_prefix) {
                items.retain(|n| !is_prefix(n));
                // A lone prefix empties the lower value: a lower array merges
                // on from [] (sorted when asked); anything else the array
                // overwrites below, as it would have anyway.
                if let EffValue::Leaf(Node {
                    value: Value::Seq(old),
                    ..
                }) = &mut dest.value
                {
                    old.clear();
                }
            }
            let EffValue::Leaf(Node {
                value: Value::Seq(mut old),
                pos,
            }) = dest.value
            else {
                // Not two arrays: the source array overwrites, without its
                // knockout items. deep_merge's `overwrite_unmergeables` means
                // to leave "" when it removed some, but it removes them from
                // the source array in place (`delete_if`) and then compares
                // that array with itself, so Puppet returns the array (a
                // knocked-out string, copied by `gsub`, does become "").
                // Seen with Puppet 7: the hiera `corners` fixture, key k2.
                if let Some(p) = prefix {
                    items.retain(|n| !n.value.as_str().is_some_and(|s| s.starts_with(p)));
                }
                // (No dedup: the array is copied, not merged.)
                return leaf(Value::Seq(items), &src_origin);
            };
            if let Some(p) = prefix {
                items.retain(|n| match n.value.as_str().and_then(|s| s.strip_prefix(p)) {
                    Some(target) => {
                        let ko = n.value.as_str().unwrap_or_default().to_owned();
                        old.retain(|o| o.value.as_str().is_none_or(|s| s != target && s != ko));
                        false
                    }
                    None => true,
                });
            }
            let all_maps = |v: &[Node]| v.iter().all(|n| matches!(n.value, Value::Map(_)));
            let mut merged = if how.merge_hash_arrays && all_maps(&items) && all_maps(&old) {
                let mut list: Vec<Node> = old
                    .iter()
                    .enumerate()
                    .map(|(i, o)| {
                        let o_eff = eff_of(o, dest.origin.clone());
                        let s_eff = match items.get(i) {
                            Some(s) => eff_of(s, src_origin.clone()),
                            None => eff_of(
                                &Node {
                                    value: Value::Map(Vec::new()),
                                    pos: o.pos,
                                },
                                src_origin.clone(),
                            ),
                        };
                        to_node(&deep_merge(s_eff, o_eff, how))
                    })
                    .collect();
                list.extend(items.iter().skip(old.len()).cloned());
                list
            } else {
                let mut seen = HashSet::new();
                old.into_iter()
                    .chain(items)
                    .filter(|n| seen.insert(n.to_json().to_string()))
                    .collect()
            };
            if how.sort_merged_arrays {
                merged.sort_by(compare_nodes);
            }
            let mut trace = Trace::of(Strategy::Deep);
            trace.add(&dest.origin, src_origin);
            EffNode {
                value: EffValue::Leaf(Node {
                    value: Value::Seq(merged),
                    pos,
                }),
                origin: dest.origin,
                trace,
            }
        }
    }
}

/// Nested arrays flattened, as Hiera's `unique` does; `!unset` items read as null.
fn flatten(node: &Node, out: &mut Vec<Node>) {
    match &node.value {
        Value::Seq(items) => items.iter().for_each(|i| flatten(i, out)),
        _ => out.push(strip_unset(node)),
    }
}

/// Two mappings inside arrays (`merge_hash_arrays`): the later one's keys win,
/// mappings under the same key merge.
fn deep_node(old: &Node, new: &Node) -> Node {
    match (&old.value, &new.value) {
        (Value::Map(a), Value::Map(b)) => {
            let mut entries = a.clone();
            for e in b {
                match entries.iter_mut().find(|x| x.key == e.key) {
                    Some(x) => x.value = deep_node(&x.value, &e.value),
                    None => entries.push(e.clone()),
                }
            }
            Node {
                value: Value::Map(entries),
                pos: new.pos,
            }
        }
        _ => new.clone(),
    }
}

/// `sort_merged_arrays`: null, booleans, numbers, strings, then anything
/// else by its JSON text.
fn compare_nodes(a: &Node, b: &Node) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null | Value::Unset => 0,
            Value::Bool(_) => 1,
            Value::Int(_) | Value::Float(_) | Value::BigInt(_) => 2,
            Value::Str(_) => 3,
            _ => 4,
        }
    }
    let number = |v: &Value| match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    };
    rank(&a.value)
        .cmp(&rank(&b.value))
        .then_with(|| match (&a.value, &b.value) {
            (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
            (Value::Str(x), Value::Str(y)) => x.cmp(y),
            _ => match (number(&a.value), number(&b.value)) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                _ => a.to_json().to_string().cmp(&b.to_json().to_string()),
            },
        })
}

/// A list may hold `!unset` items; they mean nothing there, so they read as null.
fn strip_unset(node: &Node) -> Node {
    match &node.value {
        Value::Unset => Node {
            value: Value::Null,
            pos: node.pos,
        },
        _ => node.clone(),
    }
}

// The effective tree's nodes, with the trace the engine records in them.

/// Where a value was set.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub file: Arc<str>,
    pub key_pos: Pos,
    pub value_pos: Pos,
    /// Index of the hierarchy layer that set it.
    pub layer: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key's line: for a block list or map the value starts below it.
        // A variable an Ansible inventory sets is at its line in the
        // inventory file (the layer `inventory/hosts#vars/group/web`).
        let file = match self
            .file
            .split_once(crate::config::adopt::inventory::VARS_MARK)
        {
            Some((inventory, _)) => inventory,
            None => &self.file,
        };
        write!(f, "{}:{}", file, self.key_pos.line)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EffNode {
    pub value: EffValue,
    /// The layer that set this value; for a merged mapping, the first layer
    /// that set it (every contributor is in `trace`).
    pub origin: Origin,
    pub trace: Trace,
}

/// How a value came to be: the strategy that applied at it and, when more
/// than one layer's value is part of it, every contributing layer.
/// Today's merge (`deep`, one contributor: `origin`) is `None`, so the
/// common case costs one word per node and no allocation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trace(Option<Box<TraceData>>);

#[derive(Debug, Clone, PartialEq, Default)]
struct TraceData {
    strategy: Strategy,
    /// In layer order; empty when `origin` is the only contributor.
    contributors: Vec<Origin>,
}

impl Trace {
    pub(crate) fn of(strategy: Strategy) -> Trace {
        match strategy {
            Strategy::Deep => Trace(None),
            _ => Trace(Some(Box::new(TraceData {
                strategy,
                contributors: Vec::new(),
            }))),
        }
    }

    /// The strategy that applied at the value.
    pub fn strategy(&self) -> Strategy {
        self.0.as_ref().map_or(Strategy::Deep, |t| t.strategy)
    }

    pub(crate) fn set_strategy(&mut self, strategy: Strategy) {
        if strategy != self.strategy() {
            self.0.get_or_insert_with(Box::default).strategy = strategy;
        }
    }

    /// `later` merged into a value that `earlier` set.
    pub(crate) fn add(&mut self, earlier: &Origin, later: Origin) {
        let data = self.0.get_or_insert_with(Box::default);
        if data.contributors.is_empty() {
            data.contributors.push(earlier.clone());
        }
        data.contributors.push(later);
    }
}

impl EffNode {
    /// Every layer whose value is part of this one, in layer order.
    pub fn contributors(&self) -> &[Origin] {
        match &self.trace.0 {
            Some(t) if !t.contributors.is_empty() => &t.contributors,
            _ => std::slice::from_ref(&self.origin),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum EffValue {
    /// A scalar or a list: lists replace as a whole, so they are leaves.
    Leaf(Node),
    Map(Vec<(String, EffNode)>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::document::{Limits, parse};
    use proptest::prelude::{
        Just, ProptestConfig, any, prop_assert, prop_assert_eq, prop_oneof, proptest,
    };
    use proptest::strategy::Strategy as _;
    use serde_json::Value as Json;

    // The reference merge, written over JSON without the engine's types: a
    // node's value and the layers (0-based) whose values are in it.
    #[derive(Debug, Clone)]
    enum RValue {
        Map(Vec<(String, RNode)>),
        Leaf(Json),
    }

    #[derive(Debug, Clone)]
    struct RNode {
        value: RValue,
        layers: Vec<usize>,
    }

    fn below(mode: Mode) -> Mode {
        if mode.strategy == Strategy::Deep {
            mode
        } else {
            Mode {
                strategy: Strategy::First,
                ..mode
            }
        }
    }

    fn rule(policy: &MergePolicy, path: &[String], inherited: Mode) -> Mode {
        for r in &policy.keys {
            if let KeySelector::Exact(segments) = &r.selector
                && segments == path
            {
                return r.mode;
            }
        }
        inherited
    }

    /// `--k` under a deep parent, with a knockout prefix: the key it removes.
    fn knocked<'k>(policy: &MergePolicy, key: &'k str, parent: Mode) -> Option<&'k str> {
        let prefix = policy.knockout_prefix.as_deref()?;
        let target = key.strip_prefix(prefix)?;
        (parent.strategy == Strategy::Deep && !target.is_empty()).then_some(target)
    }

    fn flat(v: &Json, out: &mut Vec<Json>) {
        match v {
            Json::Array(items) => items.iter().for_each(|i| flat(i, out)),
            other => out.push(other.clone()),
        }
    }

    fn dedup(items: Vec<Json>) -> Vec<Json> {
        let mut out: Vec<Json> = Vec::new();
        for i in items {
            if !out.contains(&i) {
                out.push(i);
            }
        }
        out
    }

    fn fresh(
        v: &Json,
        layer: usize,
        mode: Mode,
        policy: &MergePolicy,
        path: &mut Vec<String>,
    ) -> RNode {
        let value = match v {
            Json::Object(map) => RValue::Map(
                map.iter()
                    .filter(|(k, _)| knocked(policy, k, mode).is_none())
                    .map(|(k, v)| {
                        path.push(k.clone());
                        let m = rule(policy, path, below(mode));
                        let child = fresh(v, layer, m, policy, path);
                        path.pop();
                        (k.clone(), child)
                    })
                    .collect(),
            ),
            Json::Null => RValue::Leaf(Json::Null),
            _ if mode.strategy == Strategy::Unique => {
                let mut items = Vec::new();
                flat(v, &mut items);
                RValue::Leaf(Json::Array(dedup(items)))
            }
            other => RValue::Leaf(other.clone()),
        };
        RNode {
            value,
            layers: vec![layer],
        }
    }

    fn reference_map(
        acc: &mut Vec<(String, RNode)>,
        new: &serde_json::Map<String, Json>,
        layer: usize,
        inherited: Mode,
        policy: &MergePolicy,
        path: &mut Vec<String>,
    ) {
        for (k, v) in new {
            if let Some(target) = knocked(policy, k, inherited) {
                acc.retain(|(key, _)| key != target);
                continue;
            }
            path.push(k.clone());
            let mode = rule(policy, path, inherited);
            let at = acc.iter().position(|(key, _)| key == k);
            match at {
                Some(i) if v.is_null() && policy.nulls == Nulls::Delete => {
                    acc.remove(i);
                }
                None => acc.push((k.clone(), fresh(v, layer, mode, policy, path))),
                Some(i) => {
                    let old = &mut acc[i].1;
                    let merges_maps = matches!(mode.strategy, Strategy::Deep | Strategy::Hash);
                    match (&mut old.value, v) {
                        (RValue::Map(children), Json::Object(m)) if merges_maps => {
                            reference_map(children, m, layer, below(mode), policy, path);
                            old.layers.push(layer);
                        }
                        (RValue::Leaf(o), n)
                            if mode.strategy == Strategy::Unique && !n.is_object() =>
                        {
                            let mut items = Vec::new();
                            flat(n, &mut items);
                            flat(o, &mut items);
                            *o = Json::Array(dedup(items));
                            old.layers.push(layer);
                        }
                        (RValue::Leaf(Json::Array(o)), Json::Array(n))
                            if mode.strategy == Strategy::Deep && mode.lists != Lists::Replace =>
                        {
                            let joined = match mode.lists {
                                Lists::Append => o.iter().chain(n).cloned().collect(),
                                _ => dedup(n.iter().chain(o.iter()).cloned().collect()),
                            };
                            *o = joined;
                            old.layers.push(layer);
                        }
                        _ => *old = fresh(v, layer, mode, policy, path),
                    }
                }
            }
            path.pop();
        }
    }

    fn tree_json(tree: &[(String, EffNode)]) -> Json {
        Json::Object(tree.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
    }

    fn to_json(children: &[(String, RNode)]) -> Json {
        Json::Object(
            children
                .iter()
                .map(|(k, n)| {
                    let v = match &n.value {
                        RValue::Map(c) => to_json(c),
                        RValue::Leaf(j) => j.clone(),
                    };
                    (k.clone(), v)
                })
                .collect(),
        )
    }

    /// Every node's contributing layers, engine against reference.
    fn same_trace(
        eff: &[(String, EffNode)],
        reference: &[(String, RNode)],
        at: &str,
    ) -> Result<(), String> {
        for ((k, e), (_, r)) in eff.iter().zip(reference) {
            let here = format!("{at}/{k}");
            let layers: Vec<usize> = e.contributors().iter().map(|o| o.layer).collect();
            if layers != r.layers {
                return Err(format!(
                    "{here}: engine says {layers:?}, reference {:?}",
                    r.layers
                ));
            }
            if let (EffValue::Map(a), RValue::Map(b)) = (&e.value, &r.value) {
                same_trace(a, b, &here)?;
            }
        }
        Ok(())
    }

    fn key() -> impl proptest::strategy::Strategy<Value = &'static str> {
        prop_oneof![Just("a"), Just("c.d"), Just("a"), Just("c.d"), Just("--a")]
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Json> {
        let leaf = prop_oneof![
            (0i64..4).prop_map(Json::from),
            Just(Json::Null),
            proptest::collection::vec((0i64..4).prop_map(Json::from), 1..4).prop_map(Json::Array),
            proptest::collection::vec((0i64..4).prop_map(Json::from), 1..4).prop_map(Json::Array),
        ];
        leaf.prop_recursive(3, 16, 3, |inner| {
            proptest::collection::vec((key(), inner), 0..3).prop_map(|entries| {
                Json::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect(),
                )
            })
        })
    }

    fn layer() -> impl proptest::strategy::Strategy<Value = serde_json::Map<String, Json>> {
        proptest::collection::vec((key(), json_value()), 0..3).prop_map(|entries| {
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect()
        })
    }

    fn mode() -> impl proptest::strategy::Strategy<Value = Mode> {
        (
            prop_oneof![
                Just(Strategy::First),
                Just(Strategy::Hash),
                Just(Strategy::Deep),
                Just(Strategy::Unique)
            ],
            prop_oneof![
                Just(Lists::Replace),
                Just(Lists::Append),
                Just(Lists::Unique)
            ],
        )
            .prop_map(|(strategy, lists)| Mode {
                strategy,
                lists,
                ..Mode::default()
            })
    }

    /// A rule names a key holding dots in the quoted form explain and diff
    /// print, as a JSON Pointer does; the dotted form splits at every dot.
    #[test]
    fn a_rule_key_path_reads_the_quoted_form_and_pointers() {
        let sysctl = || vec!["sysctl".to_owned(), "net.ipv4.ip_forward".to_owned()];
        assert_eq!(key_segments("sysctl.\"net.ipv4.ip_forward\""), Ok(sysctl()));
        assert_eq!(key_segments("/sysctl/net.ipv4.ip_forward"), Ok(sysctl()));
        assert_eq!(
            key_segments("a.b"),
            Ok(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(
            key_segments("/~1etc/m~0n"),
            Ok(vec!["/etc".to_owned(), "m~n".to_owned()])
        );
        assert_eq!(key_segments(""), Err(None));
        assert_eq!(key_segments("/"), Err(None));
        assert!(matches!(key_segments("a.\"b"), Err(Some(_))));
    }

    /// The manifest's `merge:` section read whole: every option, exact and
    /// regex rules that inherit the default's options, and the mode each
    /// key path gets from them.
    #[test]
    fn the_merge_section_reads_every_option_and_rule() {
        let root = crate::config::document::parse_fixture(
            "merge:\n  default: hash\n  lists: append\n  sort_merged_arrays: true\n  nulls: delete\n  knockout_prefix: '--'\n  keys:\n    - {key: /a/b, strategy: first}\n    - {key: c, strategy: unique, lists: unique, sort_merged_arrays: false}\n    - {match: '^d\\..*x$', strategy: deep, lists: replace, merge_hash_arrays: true}\n",
        );
        assert!(manifest_errors(&root, "ringmaster.yaml").is_empty());
        let policy = MergePolicy::from_manifest(&root);
        let mode = |strategy, lists, sort_merged_arrays, merge_hash_arrays| Mode {
            strategy,
            lists,
            sort_merged_arrays,
            merge_hash_arrays,
        };
        let default = mode(Strategy::Hash, Lists::Append, true, false);
        assert_eq!(policy.default, default);
        assert_eq!(policy.nulls, Nulls::Delete);
        assert_eq!(policy.knockout_prefix.as_deref(), Some("--"));
        assert!(!policy.lookup_options_from_data);
        let rules: Vec<(String, Mode)> = policy
            .keys
            .iter()
            .map(|r| {
                let selector = match &r.selector {
                    KeySelector::Exact(segments) => segments.join("/"),
                    KeySelector::Match(re) => format!("~{re}"),
                };
                (selector, r.mode)
            })
            .collect();
        let first = mode(Strategy::First, Lists::Append, true, false);
        let unique = mode(Strategy::Unique, Lists::Unique, false, false);
        let deep = mode(Strategy::Deep, Lists::Replace, true, true);
        assert_eq!(
            rules,
            [
                ("a/b".to_owned(), first),
                ("c".to_owned(), unique),
                ("~^d\\..*x$".to_owned(), deep),
            ]
        );
        // A rule names its path; below a key only `deep` passes itself down,
        // anything else becomes `first` with the same options.
        let cases: [(&[&str], Mode); 8] = [
            (&[], default),
            (&["a"], default),
            (&["a", "b"], first),
            (&["a", "x"], first),
            (&["c"], unique),
            (
                &["c", "y"],
                mode(Strategy::First, Lists::Unique, false, false),
            ),
            (&["d", "ax"], deep),
            (&["d", "ax", "y", "z"], deep),
        ];
        for (path, expected) in cases {
            assert_eq!(policy.mode_for(path), expected, "{path:?}");
        }
        // No section: today's merge.
        let none =
            MergePolicy::from_manifest(&crate::config::document::parse_fixture("classes: []\n"));
        assert_eq!(none.default, Mode::default());
        assert_eq!(none.default.strategy, Strategy::Deep);
        assert_eq!(none.nulls, Nulls::Keep);
        assert!(none.keys.is_empty() && none.knockout_prefix.is_none());
        assert_eq!(none.mode_for(&["a", "b"]), Mode::default());
        let data = crate::config::document::parse_fixture("merge: {lookup_options: data}\n");
        assert!(MergePolicy::from_manifest(&data).lookup_options_from_data);
        let manifest = crate::config::document::parse_fixture(
            "merge: {lookup_options: manifest, nulls: keep}\n",
        );
        assert!(!MergePolicy::from_manifest(&manifest).lookup_options_from_data);
        assert!(manifest_errors(&manifest, "m.yaml").is_empty());
    }

    /// Each strategy and list merge is read by its own name and no other.
    #[test]
    fn every_strategy_and_list_merge_is_read_by_its_name() {
        let read = |section: &str| {
            let root = crate::config::document::parse_fixture(&format!("merge: {section}\n"));
            (
                MergePolicy::from_manifest(&root).default,
                manifest_errors(&root, "m.yaml").len(),
            )
        };
        for (name, strategy) in [
            ("first", Strategy::First),
            ("hash", Strategy::Hash),
            ("deep", Strategy::Deep),
            ("unique", Strategy::Unique),
        ] {
            assert_eq!(strategy.name(), name);
            let (mode, errors) = read(&format!("{{strategy: {name}}}"));
            assert_eq!((mode.strategy, errors), (strategy, 0), "{name}");
        }
        for (name, lists) in [
            ("replace", Lists::Replace),
            ("append", Lists::Append),
            ("unique", Lists::Unique),
        ] {
            let (mode, errors) = read(&format!("{{lists: {name}}}"));
            assert_eq!((mode.lists, errors), (lists, 0), "{name}");
        }
        for bad in [
            "{strategy: Deep}",
            "{strategy: ''}",
            "{lists: Append}",
            "{lists: ''}",
        ] {
            let (mode, errors) = read(bad);
            assert_eq!((mode, errors), (Mode::default(), 1), "{bad}");
        }
    }

    /// Every invalid entry of `merge:` is a finding at its JSON Pointer,
    /// naming the closest valid word, and is left out of the policy.
    #[test]
    fn every_invalid_merge_entry_is_a_finding_at_its_place() {
        let root = crate::config::document::parse_fixture(
            "merge:\n  default: deeep\n  lists: apend\n  nulls: drop\n  knockout_prefix: ''\n  lookup_options: hiera\n  keys:\n    - {key: a, match: b}\n    - {key: ''}\n    - {match: '('}\n    - {key: x, strategy: frist}\n    - {key: 'a.\"b'}\n",
        );
        let found: Vec<(String, String)> = manifest_errors(&root, "ringmaster.yaml")
            .into_iter()
            .map(|d| (d.path.unwrap_or_default(), d.message))
            .collect();
        let pointers: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/merge/default",
                "/merge/lists",
                "/merge/lookup_options",
                "/merge/nulls",
                "/merge/knockout_prefix",
                "/merge/keys/0",
                "/merge/keys/1/key",
                "/merge/keys/2/match",
                "/merge/keys/3/strategy",
                "/merge/keys/4/key",
            ]
        );
        // What each message says, in the order of the pointers above.
        for (i, says) in [
            (0, "did you mean `deep`"),
            (1, "did you mean `append`"),
            (3, "unknown null handling `drop`"),
            (6, "the key path is empty"),
            (8, "did you mean `first`"),
            (9, "is not a key path: "),
        ] {
            assert!(found[i].1.contains(says), "{}", found[i].1);
        }
        let policy = MergePolicy::from_manifest(&root);
        assert_eq!(policy.default, Mode::default());
        assert_eq!(policy.nulls, Nulls::Keep);
        assert!(policy.knockout_prefix.is_none());
        // Only the rule whose path read survives, with the default's mode.
        assert_eq!(policy.keys.len(), 1);
        assert!(matches!(&policy.keys[0].selector, KeySelector::Exact(s) if s == &["x"]));
        assert_eq!(policy.keys[0].mode, Mode::default());
    }

    /// Maps merge under `deep` and `hash`; lists add up under `unique`, and
    /// under `deep` unless lists replace.
    #[test]
    fn which_modes_merge_maps_and_lists() {
        for strategy in Strategy::ALL {
            for (_, lists) in Lists::ALL {
                let mode = Mode {
                    strategy,
                    lists,
                    ..Mode::default()
                };
                assert_eq!(
                    MergePolicy::merges_maps(mode),
                    matches!(strategy, Strategy::Deep | Strategy::Hash),
                    "{mode:?}"
                );
                assert_eq!(
                    MergePolicy::merges_lists(mode),
                    strategy == Strategy::Unique
                        || (strategy == Strategy::Deep && lists != Lists::Replace),
                    "{mode:?}"
                );
            }
        }
    }

    /// Two layers merged under `policy` for class `c`: the effective tree
    /// and the findings.
    fn merged(
        policy: &MergePolicy,
        layers: [&str; 2],
    ) -> (Vec<(String, EffNode)>, Vec<Diagnostic>) {
        let parsed: Vec<_> = layers
            .iter()
            .enumerate()
            .map(|(i, t)| parse(&format!("l{i}.yaml"), t.as_bytes(), &Limits::default()))
            .collect();
        let mut root = Vec::new();
        let mut merger = Merger::new("c", policy);
        for (i, p) in parsed.iter().enumerate() {
            let Some(Node {
                value: Value::Map(entries),
                ..
            }) = p.single()
            else {
                panic!("layer {i} is no mapping");
            };
            merger.merge_layer(
                &mut root,
                entries,
                &Arc::from(format!("l{i}.yaml")),
                i,
                i == 0,
            );
        }
        (root, merger.findings)
    }

    /// Lists under `deep`, as Hiera's deep merge and Ansible's combine
    /// treat them (the cases of tests/it/merge_strategies.rs, with their
    /// sources there, and the corners between them): each list option,
    /// knockout items, sorting, arrays of mappings merged by index, and a
    /// list only one layer sets.
    #[test]
    fn deep_merges_lists_as_each_option_says() {
        let policy = |lists, sort_merged_arrays, merge_hash_arrays, knockout: bool| MergePolicy {
            default: Mode {
                strategy: Strategy::Deep,
                lists,
                sort_merged_arrays,
                merge_hash_arrays,
            },
            knockout_prefix: knockout.then(|| "--".to_owned()),
            ..MergePolicy::default()
        };
        use Lists::{Append, Replace, Unique};
        let mut cases: Vec<(MergePolicy, [&str; 2], Json)> = vec![
            (
                policy(Unique, false, false, false),
                ["x: [4, 5, '6']\n", "x: [1, 2, 3]\n"],
                serde_json::json!({"x": [1, 2, 3, 4, 5, "6"]}),
            ),
            (
                policy(Append, false, false, false),
                ["p: [curl, git]\n", "p: [nginx, git]\n"],
                serde_json::json!({"p": ["curl", "git", "nginx", "git"]}),
            ),
            (
                policy(Replace, false, false, false),
                ["p: [curl, git]\n", "p: [nginx]\n"],
                serde_json::json!({"p": ["nginx"]}),
            ),
            // Sorted after merging; a list only one layer sets is sorted,
            // and loses its knockout items, but keeps its duplicates.
            (
                policy(Unique, true, false, false),
                ["p: [git, blue]\n", "p: [ansi, git]\n"],
                serde_json::json!({"p": ["ansi", "blue", "git"]}),
            ),
            // Sorted by kind (null, booleans, numbers, strings, the rest),
            // then by value.
            (
                policy(Unique, true, false, false),
                [
                    "p: [b, 2, false, a b]\n",
                    "p: [true, ~, a, 9.5, {k: v}, 10]\n",
                ],
                serde_json::json!({"p": [null, false, true, 2, 9.5, 10, "a", "a b", "b", {"k": "v"}]}),
            ),
            (
                policy(Replace, true, false, false),
                ["p: [c, a, c]\n", "{}\n"],
                serde_json::json!({"p": ["a", "c", "c"]}),
            ),
            (
                policy(Replace, false, false, true),
                ["p: [c, '--a', c]\n", "{}\n"],
                serde_json::json!({"p": ["c", "c"]}),
            ),
            (
                policy(Replace, false, false, false),
                ["p: [c, '--a', c]\n", "{}\n"],
                serde_json::json!({"p": ["c", "--a", "c"]}),
            ),
            // Arrays of mappings merge item by item; the longer one's rest
            // follows. Only when both are all mappings.
            (
                policy(Replace, false, true, false),
                [
                    "m: [{path: /a, ro: true}, {path: /b}]\n",
                    "m: [{ro: false}]\n",
                ],
                serde_json::json!({"m": [{"path": "/a", "ro": false}, {"path": "/b"}]}),
            ),
            (
                policy(Replace, false, true, false),
                ["m: [{o: {x: 1, y: 1}}]\n", "m: [{o: {y: 2}}]\n"],
                serde_json::json!({"m": [{"o": {"x": 1, "y": 2}}]}),
            ),
            (
                policy(Replace, false, true, false),
                ["m: [{path: /a}]\n", "m: [{ro: false}, x]\n"],
                serde_json::json!({"m": [{"ro": false}, "x"]}),
            ),
        ];
        // Knockout items: gone from the earlier list, never added.
        for (lists, expected) in [
            (Unique, serde_json::json!(["d", "a", "c"])),
            (Append, serde_json::json!(["a", "c", "d"])),
            (Replace, serde_json::json!(["d"])),
        ] {
            cases.push((
                policy(lists, false, false, true),
                ["g: [a, b, c]\n", "g: ['--b', d]\n"],
                serde_json::json!({ "g": expected }),
            ));
        }
        for (policy, layers, expected) in cases {
            let (tree, findings) = merged(&policy, layers);
            assert_eq!(
                tree_json(&tree),
                expected,
                "{layers:?} under {:?}",
                policy.default
            );
            assert!(findings.is_empty(), "{layers:?}: {findings:?}");
        }
        // Only `deep` touches a list: under `first` it stays as written,
        // whatever the sorting and knockout options say.
        let mut first = policy(Unique, true, false, true);
        first.default.strategy = Strategy::First;
        let (tree, _) = merged(&first, ["p: [c, '--a', b]\n", "{}\n"]);
        assert_eq!(
            tree_json(&tree),
            serde_json::json!({"p": ["c", "--a", "b"]})
        );
        let (tree, _) = merged(&first, ["p: [c, b]\n", "p: [z, '--y', x]\n"]);
        assert_eq!(
            tree_json(&tree),
            serde_json::json!({"p": ["z", "--y", "x"]})
        );
    }

    /// Each merged value records the strategy that made it (what explain
    /// and `render --provenance` print): a rule's, else the default's.
    #[test]
    fn a_merged_value_records_its_strategy() {
        let root = crate::config::document::parse_fixture(
            "merge:\n  keys:\n    - {key: f, strategy: first}\n    - {key: h, strategy: hash}\n    - {key: u, strategy: unique}\n",
        );
        let policy = MergePolicy::from_manifest(&root);
        let (eff, _) = merged(
            &policy,
            [
                "f: {a: 1}\nh: {a: 1}\nu: [a]\nd: {a: 1}\n",
                "f: {b: 1}\nh: {b: 1}\nu: [b]\nd: {b: 1}\n",
            ],
        );
        let strategies: Vec<(&str, &str)> = eff
            .iter()
            .map(|(k, v)| (k.as_str(), v.trace.strategy().name()))
            .collect();
        assert_eq!(
            strategies,
            [
                ("f", "first"),
                ("h", "hash"),
                ("u", "unique"),
                ("d", "deep")
            ]
        );
    }

    /// What the merge reports, each finding naming its key path as
    /// explain prints it (a key holding a dot quoted): a type change, a key
    /// set with nothing to override, a knockout of a key no layer set.
    #[test]
    fn merge_findings_name_the_key_path() {
        let policy = MergePolicy {
            knockout_prefix: Some("--".into()),
            ..MergePolicy::default()
        };
        let layers = [
            "a: {b: 1, c: x}\nm: {k: 1}\nn: ~\ns: 1\nt: {k: 1}\n",
            "a: {b: two, new: 1, --gone: x, \"x.y\": !unset, c: y}\nm: ~\nn: {k: 1}\ns: {k: 1}\nt: 2\n",
        ];
        let (_, findings) = merged(&policy, layers);
        let found: Vec<(String, String)> = findings
            .iter()
            .map(|d| (d.path.clone().unwrap_or_default(), d.message.clone()))
            .collect();
        let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        // A mapping emptied to null, or null filled with a mapping, changes
        // no type; a scalar made a mapping and back does.
        assert_eq!(
            paths,
            ["/a/b", "/a/new", "/a/gone", "/a/x.y", "/s", "/t"],
            "{found:?}"
        );
        assert!(
            found[4].1.starts_with("`s` changes type from "),
            "{found:?}"
        );
        assert!(
            found[5].1.starts_with("`t` changes type from mapping"),
            "{found:?}"
        );
        assert!(
            found[0].1.starts_with("`a.b` changes type from "),
            "{found:?}"
        );
        assert!(
            found[1]
                .1
                .starts_with("`a.new` is set here but no earlier layer"),
            "{found:?}"
        );
        assert!(
            found[2]
                .1
                .starts_with("`a.gone` is knocked out with `--gone`, but no earlier layer"),
            "{found:?}"
        );
        assert!(
            found[3]
                .1
                .starts_with("`a.\"x.y\"` is knocked out with !unset, but no earlier layer"),
            "{found:?}"
        );
        assert!(findings.iter().all(|d| d.class.as_deref() == Some("c")));
    }

    /// Hiera's lookup of every key over `levels` (least specific first),
    /// and the findings.
    fn hiera_of(levels: &[(&str, &[u8])]) -> (Vec<(String, EffNode)>, Vec<Diagnostic>) {
        let parsed: Vec<_> = levels
            .iter()
            .map(|(file, bytes)| parse(file, bytes, &Limits::default()))
            .collect();
        let layers: Vec<HieraLayer<'_>> = parsed
            .iter()
            .zip(levels)
            .enumerate()
            .map(|(layer, (p, (file, _)))| {
                let Some(Node {
                    value: Value::Map(entries),
                    ..
                }) = p.single()
                else {
                    panic!("{file} is no mapping");
                };
                HieraLayer {
                    entries,
                    file: Arc::from(*file),
                    layer,
                }
            })
            .collect();
        let mut root = Vec::new();
        let mut findings = Vec::new();
        hiera_lookup("n1", &mut root, &layers, &mut findings);
        (root, findings)
    }

    /// The lookup of every key over a fixture's two levels (`common.yaml`,
    /// then the node's), checked against every key Puppet answered
    /// (`{"value": …}`): no findings, no key answered otherwise.
    fn lookup_as_puppet(common: &[u8], node: &[u8], puppet: &str) -> Vec<(String, EffNode)> {
        let (root, findings) =
            hiera_of(&[("data/common.yaml", common), ("data/nodes/n1.yaml", node)]);
        assert!(findings.is_empty(), "{findings:?}");
        let puppet: serde_json::Map<String, Json> =
            serde_json::from_str(puppet).expect("the expected answers are JSON");
        assert!(!puppet.is_empty(), "the expected answers lost their keys");
        let mut differ = Vec::new();
        for (key, answer) in &puppet {
            let ours = root
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.to_json());
            if ours.as_ref() != answer.get("value") {
                differ.push(format!("{key}: puppet {answer}, ringmaster {ours:?}"));
            }
        }
        assert!(differ.is_empty(), "{}", differ.join("\n"));
        root
    }

    /// A `lookup_options` entry's merge: a name, or a hash with its
    /// options; no `merge` is `first`, as in Puppet. (A name it does not
    /// know reads as `first` here too, where Puppet's lookup fails.)
    #[test]
    fn a_lookup_options_entry_reads_its_merge() {
        let read = |yaml: &str| {
            let how = hiera_merge_of(&crate::config::document::parse_fixture(yaml));
            (
                how.strategy,
                how.knockout_prefix,
                how.sort_merged_arrays,
                how.merge_hash_arrays,
            )
        };
        use Strategy::*;
        assert_eq!(read("{}\n"), (First, None, false, false));
        assert_eq!(read("merge: first\n"), (First, None, false, false));
        assert_eq!(read("merge: hash\n"), (Hash, None, false, false));
        assert_eq!(read("merge: unique\n"), (Unique, None, false, false));
        assert_eq!(read("merge: deep\n"), (Deep, None, false, false));
        assert_eq!(read("merge: Deep\n"), (First, None, false, false));
        assert_eq!(
            read(
                "merge: {strategy: deep, knockout_prefix: '--', sort_merged_arrays: true, merge_hash_arrays: true}\n"
            ),
            (Deep, Some("--".to_owned()), true, true)
        );
        assert_eq!(
            read("merge: {strategy: hash, knockout_prefix: '', sort_merged_arrays: 'yes'}\n"),
            (Hash, None, false, false)
        );
        assert_eq!(read("merge: {knockout_prefix: '--'}\n").0, First);
    }

    /// Over three levels every level a merged key takes from is named,
    /// least specific first, under `hash`, `deep` and `unique` alike.
    #[test]
    fn a_hiera_key_merged_over_three_levels_names_each() {
        let (root, findings) = hiera_of(&[
            (
                "common.yaml",
                b"lookup_options: {h: {merge: hash}, d: {merge: deep}, u: {merge: unique}}\nh: {a: 1}\nd: {a: 1}\nu: [a]\n",
            ),
            ("role.yaml", b"h: {b: 1}\nd: {b: 1}\nu: [b]\n"),
            ("node.yaml", b"h: {c: 1}\nd: {c: 1}\nu: [c]\n"),
        ]);
        assert!(findings.is_empty(), "{findings:?}");
        for (key, value, strategy) in [
            (
                "h",
                serde_json::json!({"a": 1, "b": 1, "c": 1}),
                Strategy::Hash,
            ),
            (
                "d",
                serde_json::json!({"a": 1, "b": 1, "c": 1}),
                Strategy::Deep,
            ),
            ("u", serde_json::json!(["c", "b", "a"]), Strategy::Unique),
        ] {
            let node = &root.iter().find(|(k, _)| k == key).expect(key).1;
            assert_eq!(node.to_json(), value, "{key}");
            assert_eq!(node.trace.strategy(), strategy, "{key}");
            let layers: Vec<usize> = node.contributors().iter().map(|o| o.layer).collect();
            assert_eq!(layers, [0, 1, 2], "{key}");
        }
    }

    /// The deep merge's corners (the `corners` import fixture), against what
    /// Puppet 7's `lookup()` returned (`tests/data/hiera-corners-n1.puppet.json`,
    /// see tests/data/README.md): a false or null lower value replaced
    /// whole, a null or empty higher one keeping the lower, `false` over a
    /// list, knockouts of a whole list, of a lower scalar and of nested items.
    #[test]
    fn hiera_deep_merge_corners_as_puppet_did() {
        lookup_as_puppet(
            include_bytes!("../../tests/data/import/hiera/corners/data/common.yaml"),
            include_bytes!("../../tests/data/import/hiera/corners/data/nodes/n1.yaml"),
            include_str!("../../tests/data/hiera-corners-n1.puppet.json"),
        );
    }

    /// Every strategy Hiera's `lookup_options` name, merged over node `n1`'s
    /// two levels of the `strategies` fixture, against what Puppet 7's
    /// `lookup()` returned for each key: `tests/data/hiera-strategies-n1.puppet.json`,
    /// written by `puppet apply` as `import_hiera`'s conformance test asks it
    /// (see tests/data/README.md). Keys holding `%{}` are left out there:
    /// they are resolved after the merge. The conformance test asks Puppet
    /// live; this one pins the merge alone, fast enough to run on every mutant.
    #[test]
    fn hiera_lookup_merges_every_strategy_as_puppet_did() {
        let root = lookup_as_puppet(
            include_bytes!("../../tests/data/import/hiera/strategies/data/common.yaml"),
            include_bytes!("../../tests/data/import/hiera/strategies/data/nodes/n1.yaml"),
            include_str!("../../tests/data/hiera-strategies-n1.puppet.json"),
        );
        // Provenance: a merged key names both levels, least specific
        // first; a key one level sets names that level, at its line; a
        // value inside a mapping names its own line and column.
        let layers_of = |key: &str| -> Vec<usize> {
            let node = &root.iter().find(|(k, _)| k == key).expect(key).1;
            node.contributors().iter().map(|o| o.layer).collect()
        };
        for key in ["h1", "u1", "d5"] {
            assert_eq!(layers_of(key), [0, 1], "{key}");
        }
        for key in ["d7", "exact_vs_regex"] {
            assert_eq!(layers_of(key), [1], "{key}");
        }
        let d5 = &root.iter().find(|(k, _)| k == "d5").expect("d5").1;
        let EffValue::Map(children) = &d5.value else {
            panic!("d5 is a mapping: {d5:?}");
        };
        let a = &children[0].1.origin;
        assert_eq!(
            (
                a.key_pos.line,
                a.key_pos.col,
                a.value_pos.line,
                a.value_pos.col
            ),
            (17, 6, 17, 9)
        );
        // The keys are the levels' keys, least specific level's first,
        // without `lookup_options`.
        let keys: Vec<&str> = root.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(&keys[..3], ["k1", "k2", "k3"]);
        assert_eq!(&keys[keys.len() - 3..], ["d7", "s7", "u7"]);
        assert!(!keys.contains(&LOOKUP_OPTIONS));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Random hierarchies under random policies: the engine computes the
        /// reference merge, and every node lists each layer in its value.
        #[test]
        fn engine_equals_the_reference_merge_and_traces_every_contributor(
            layers in proptest::collection::vec(layer(), 1..5),
            default in mode(),
            delete_nulls in any::<bool>(),
            knockout in any::<bool>(),
            rules in proptest::collection::vec(
                (prop_oneof![Just(vec!["a"]), Just(vec!["c.d"]), Just(vec!["a", "c.d"])], mode()),
                0..3,
            ),
        ) {
            let policy = MergePolicy {
                default,
                nulls: if delete_nulls { Nulls::Delete } else { Nulls::Keep },
                knockout_prefix: knockout.then(|| "--".to_owned()),
                lookup_options_from_data: false,
                keys: rules
                    .into_iter()
                    .map(|(path, mode)| KeyRule {
                        selector: KeySelector::Exact(path.into_iter().map(str::to_owned).collect()),
                        mode,
                        pos: Pos::START,
                    })
                    .collect(),
            };
            // JSON is YAML: each layer goes through the real parser.
            let parsed: Vec<_> = layers
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let text = Json::Object(l.clone()).to_string();
                    parse(&format!("l{i}.yaml"), text.as_bytes(), &Limits::default())
                })
                .collect();
            let mut root = Vec::new();
            let mut merger = Merger::new("c", &policy);
            for (i, p) in parsed.iter().enumerate() {
                let Some(Node { value: Value::Map(entries), .. }) = p.single() else {
                    prop_assert!(layers[i].is_empty());
                    continue;
                };
                let file: Arc<str> = Arc::from(format!("l{i}.yaml"));
                merger.merge_layer(&mut root, entries, &file, i, i == 0);
            }
            let mut reference = Vec::new();
            for (i, l) in layers.iter().enumerate() {
                reference_map(&mut reference, l, i, policy.default, &policy, &mut Vec::new());
            }
            let engine = Json::Object(root.iter().map(|(k, v)| (k.clone(), v.to_json())).collect());
            prop_assert_eq!(&engine, &to_json(&reference));
            if let Err(e) = same_trace(&root, &reference, "") {
                prop_assert!(false, "{}", e);
            }
        }
    }
}
