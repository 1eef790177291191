//! Property tests over random hierarchies and random edits (library level):
//! - `merge_class` equals a straightforward reference merge written here;
//! - `diff_configs` of two merges equals the difference of the two reference merges;
//! - under random `merge:` policies (strategies, lists, nulls, knockout prefix,
//!   exact-key and regex rules) and keys with dots, slashes and `~`: the same
//!   two properties against a reference written from the documented meaning of
//!   each strategy, every leaf's contributors are the layers the reference says
//!   contributed, and `render` through the binary gives the reference merge.
//!
//! A small seeded generator keeps runs reproducible without extra crates;
//! a failure prints the seed and the layer texts.

use std::collections::BTreeMap;
use std::sync::Arc;

use ringmaster::config::KeyPath;
use ringmaster::config::document::{Limits, parse};
use ringmaster::config::effective::{Layers, merge_class};
use ringmaster::config::manifest::Manifest;
use ringmaster::config::merge;
use ringmaster::diff::{Op, diff_configs};
use ringmaster::source::MemorySource;
use serde_json::{Value, json};

use crate::support::{TestRepo, flatten};

/// xorshift64*: tiny, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A generated layer value: JSON plus a marker for `!unset`.
#[derive(Clone, Debug)]
enum Gen {
    Unset,
    Leaf(Value),
    Map(Vec<(String, Gen)>),
}

const KEYS: [&str; 5] = ["a", "b", "c", "d", "e"];

fn gen_value(rng: &mut Rng, depth: u32) -> Gen {
    match rng.below(if depth >= 3 { 6 } else { 9 }) {
        0 => Gen::Leaf(json!(rng.below(100))),
        1 => Gen::Leaf(json!(format!("s{}", rng.below(5)))),
        2 => Gen::Leaf(json!(rng.below(2) == 0)),
        3 => Gen::Leaf(json!([rng.below(3), rng.below(3)])),
        4 => Gen::Unset,
        5 => Gen::Leaf(Value::Null),
        _ => gen_map(rng, depth + 1),
    }
}

fn gen_map(rng: &mut Rng, depth: u32) -> Gen {
    let mut entries: Vec<(String, Gen)> = Vec::new();
    for _ in 0..rng.below(4) + 1 {
        let key = KEYS[rng.below(KEYS.len() as u64) as usize].to_string();
        if entries.iter().any(|(k, _)| *k == key) {
            continue;
        }
        entries.push((key, gen_value(rng, depth)));
    }
    Gen::Map(entries)
}

fn emit(out: &mut String, indent: usize, g: &Gen) {
    let Gen::Map(entries) = g else { return };
    for (k, v) in entries {
        out.push_str(&" ".repeat(indent));
        out.push_str(k);
        out.push(':');
        match v {
            Gen::Unset => out.push_str(" !unset\n"),
            Gen::Leaf(value) => out.push_str(&format!(" {value}\n")),
            Gen::Map(m) if m.is_empty() => out.push_str(" {}\n"),
            Gen::Map(_) => {
                out.push('\n');
                emit(out, indent + 2, v);
            }
        }
    }
}

/// The reference merge, written from SPEC §3.2 without looking at the code.
fn reference_merge(target: &mut serde_json::Map<String, Value>, layer: &Gen) {
    let Gen::Map(entries) = layer else { return };
    for (k, v) in entries {
        match v {
            Gen::Unset => {
                target.remove(k);
            }
            Gen::Leaf(value) => {
                target.insert(k.clone(), value.clone());
            }
            Gen::Map(_) => {
                if let Some(Value::Object(existing)) = target.get_mut(k) {
                    reference_merge(existing, v);
                } else {
                    let mut fresh = serde_json::Map::new();
                    reference_merge(&mut fresh, v);
                    target.insert(k.clone(), Value::Object(fresh));
                }
            }
        }
    }
}

const TEMPLATES: [&str; 4] = [
    "l0.yaml",
    "l1/{role}.yaml",
    "l2/{region}.yaml",
    "l3/{class}.yaml",
];

fn manifest() -> Manifest {
    let hierarchy: String = TEMPLATES.map(|t| format!("  - \"{t}\"\n")).concat();
    let text =
        format!("version: 1\nhierarchy:\n{hierarchy}host_classes:\n  c1: {{role: r, region: x}}\n");
    Manifest::load(&MemorySource::new(&[("ringmaster.yaml", &text)]))
        .expect("manifest loads")
        .manifest
}

const FILES: [&str; 4] = ["l0.yaml", "l1/r.yaml", "l2/x.yaml", "l3/c1.yaml"];

fn layers_of(gens: &[Gen]) -> (Layers, Vec<String>) {
    let mut layers = Layers::new();
    let mut texts = Vec::new();
    for (file, g) in FILES.iter().zip(gens) {
        let mut text = String::new();
        emit(&mut text, 0, g);
        if text.is_empty() {
            text.push_str("{}\n");
        }
        layers.insert(
            file.to_string(),
            Arc::new(parse(file, text.as_bytes(), &Limits::default())),
        );
        texts.push(text);
    }
    (layers, texts)
}

fn reference(gens: &[Gen]) -> Value {
    let mut root = serde_json::Map::new();
    for g in gens {
        reference_merge(&mut root, g);
    }
    Value::Object(root)
}

#[test]
fn merge_equals_reference_and_diff_equals_difference_of_renders() {
    let m = manifest();
    let class = &m.host_classes["c1"];
    for seed in 1..=400u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let base: Vec<Gen> = (0..4).map(|_| gen_map(&mut rng, 0)).collect();
        // A random edit: replace one layer with a fresh random one.
        let mut head = base.clone();
        let edited = rng.below(4) as usize;
        head[edited] = gen_map(&mut rng, 0);

        let (base_layers, base_texts) = layers_of(&base);
        let (head_layers, head_texts) = layers_of(&head);
        let (base_eff, _) = merge_class(&m, class, &base_layers).expect("renders");
        let (head_eff, _) = merge_class(&m, class, &head_layers).expect("renders");

        let (base_ref, head_ref) = (reference(&base), reference(&head));
        assert_eq!(
            base_eff.to_json(),
            base_ref,
            "seed {seed}: render ≠ reference\n{base_texts:#?}"
        );
        assert_eq!(
            head_eff.to_json(),
            head_ref,
            "seed {seed}: render ≠ reference\n{head_texts:#?}"
        );

        let mut expected = Vec::new();
        let (mut old, mut new) = (BTreeMap::new(), BTreeMap::new());
        flatten("", &base_ref, &mut old);
        flatten("", &head_ref, &mut new);
        old.retain(|k, _| !k.is_empty());
        new.retain(|k, _| !k.is_empty());
        for (path, n) in &new {
            match old.get(path) {
                None => expected.push((path.clone(), Op::Added, None, Some(n.clone()))),
                Some(o) if o != n => {
                    expected.push((path.clone(), Op::Changed, Some(o.clone()), Some(n.clone())))
                }
                _ => {}
            }
        }
        for (path, o) in &old {
            if !new.contains_key(path) {
                expected.push((path.clone(), Op::Removed, Some(o.clone()), None));
            }
        }
        expected.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let actual: Vec<_> = diff_configs(Some(&base_eff), Some(&head_eff))
            .into_iter()
            .map(|c| (c.path, c.op, c.old, c.new))
            .collect();
        assert_eq!(
            actual, expected,
            "seed {seed}: diff ≠ difference of renders\nbase {base_texts:#?}\nhead {head_texts:#?}"
        );
    }
}

#[test]
fn every_leaf_has_provenance_that_points_at_its_value() {
    let m = manifest();
    let class = &m.host_classes["c1"];
    for seed in 1..=100u64 {
        let mut rng = Rng(seed | 1);
        let gens: Vec<Gen> = (0..4).map(|_| gen_map(&mut rng, 0)).collect();
        let (layers, texts) = layers_of(&gens);
        let (eff, _) = merge_class(&m, class, &layers).expect("renders");
        for (path, node) in eff.leaves() {
            let index = FILES
                .iter()
                .position(|f| **f == *node.origin.file)
                .expect("a layer file");
            let line = texts[index]
                .lines()
                .nth(node.origin.key_pos.line as usize - 1)
                .expect("the line exists");
            let key = path.last().unwrap_or_default();
            assert!(
                line.trim_start().starts_with(&format!("{key}:")),
                "seed {seed}: {path} points at `{line}` in {}",
                node.origin.file
            );
        }
    }
}

// Random merge policies (issue 14). The manifest gets a random `merge:`
// section; keys hold dots, slashes and `~` and the knockout prefixes; the
// reference below is written from the documented meaning of each strategy
// (the README's merge table), not from the engine.

/// Keys: `a.b` prints like the path `a` → `b`, `--a`/`~b` knock out `a`/`b`
/// under the matching prefix, `~` alone knocks out nothing, `/etc` reads
/// like a JSON Pointer and `q"k` needs quoting.
const PKEYS: [&str; 10] = [
    "a", "b", "a.b", "x/y", "m~n", "--a", "~b", "~", "/etc", "q\"k",
];
/// List items: the prefixed strings knock out `x` / `y` under deep merges.
const ITEMS: [&str; 4] = ["x", "y", "--x", "~y"];
const REGEXES: [&str; 7] = ["^a$", "^a\\.b$", "b$", "^x/y", "~", "^a\\.", "^(a|b)$"];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Strat {
    First,
    Hash,
    Deep,
    Unique,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum ListMode {
    Replace,
    Append,
    Unique,
}

#[derive(Clone, Copy, Debug)]
struct RMode {
    strategy: Strat,
    lists: ListMode,
}

#[derive(Debug)]
enum Selector {
    Exact(Vec<String>),
    Match(regex::Regex),
}

#[derive(Debug)]
struct Policy {
    default: RMode,
    delete_nulls: bool,
    prefix: Option<String>,
    rules: Vec<(Selector, RMode)>,
    /// The `merge:` section as written in the manifest ("" when absent).
    yaml: String,
}

fn strat_name(s: Strat) -> &'static str {
    match s {
        Strat::First => "first",
        Strat::Hash => "hash",
        Strat::Deep => "deep",
        Strat::Unique => "unique",
    }
}

fn list_name(l: ListMode) -> &'static str {
    match l {
        ListMode::Replace => "replace",
        ListMode::Append => "append",
        ListMode::Unique => "unique",
    }
}

fn pick<T: Copy>(rng: &mut Rng, from: &[T]) -> T {
    from[rng.below(from.len() as u64) as usize]
}

const STRATS: [Strat; 4] = [Strat::First, Strat::Hash, Strat::Deep, Strat::Unique];
const LISTS: [ListMode; 3] = [ListMode::Replace, ListMode::Append, ListMode::Unique];

/// A YAML double-quoted scalar (JSON's string syntax is valid YAML).
fn quoted(s: &str) -> String {
    Value::from(s).to_string()
}

fn gen_policy(rng: &mut Rng) -> Policy {
    let mut lines = Vec::new();
    let default = RMode {
        strategy: pick(rng, &STRATS),
        lists: pick(rng, &LISTS),
    };
    // Unwritten options are the defaults: deep, replace, keep, no prefix.
    if default.strategy != Strat::Deep || rng.below(2) == 0 {
        lines.push(format!("  default: {}", strat_name(default.strategy)));
    }
    if default.lists != ListMode::Replace || rng.below(2) == 0 {
        lines.push(format!("  lists: {}", list_name(default.lists)));
    }
    let delete_nulls = rng.below(2) == 0;
    if delete_nulls {
        lines.push("  nulls: delete".into());
    } else if rng.below(2) == 0 {
        lines.push("  nulls: keep".into());
    }
    let prefix = pick(rng, &[None, Some("--"), Some("~")]).map(str::to_owned);
    if let Some(p) = &prefix {
        lines.push(format!("  knockout_prefix: {}", quoted(p)));
    }
    let mut rules = Vec::new();
    let count = rng.below(4);
    if count > 0 {
        lines.push("  keys:".into());
    }
    for _ in 0..count {
        let selector = if rng.below(2) == 0 {
            let segments: Vec<String> = (0..rng.below(2) + 1)
                .map(|_| pick(rng, &PKEYS).to_owned())
                .collect();
            // Either form a user may write and explain prints: dotted, a key
            // that holds a dot or a quote (or starts the path with `/`)
            // quoted; or a JSON Pointer.
            let text = if rng.below(2) == 0 {
                segments
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        if s.contains(['.', '"', '\\']) || (i == 0 && s.starts_with('/')) {
                            format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
                        } else {
                            s.clone()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(".")
            } else {
                segments
                    .iter()
                    .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
                    .collect()
            };
            lines.push(format!("    - key: {}", quoted(&text)));
            Selector::Exact(segments)
        } else {
            let re = pick(rng, &REGEXES);
            lines.push(format!("    - match: {}", quoted(re)));
            Selector::Match(regex::Regex::new(re).expect("a valid regex"))
        };
        // A rule's unwritten options are the section's.
        let mut mode = default;
        if rng.below(4) != 0 {
            mode.strategy = pick(rng, &STRATS);
            lines.push(format!("      strategy: {}", strat_name(mode.strategy)));
        }
        if rng.below(2) == 0 {
            mode.lists = pick(rng, &LISTS);
            lines.push(format!("      lists: {}", list_name(mode.lists)));
        }
        if lines.last().is_some_and(|l| l.starts_with("    - ")) {
            // A rule with no option at all still needs to be a mapping.
            lines.push(format!("      strategy: {}", strat_name(mode.strategy)));
        }
        rules.push((selector, mode));
    }
    let yaml = if lines.is_empty() {
        String::new()
    } else {
        format!("merge:\n{}\n", lines.join("\n"))
    };
    Policy {
        default,
        delete_nulls,
        prefix,
        rules,
        yaml,
    }
}

fn gen_item(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0 | 1 => json!(rng.below(3)),
        2..=6 => json!(pick(rng, &ITEMS)),
        _ => json!([rng.below(2)]),
    }
}

/// What a key usually holds in one case: real hierarchies keep a key's kind
/// across layers, which is where strategies and list modes meet.
#[derive(Clone, Copy)]
enum Kind {
    Scalar,
    List,
    Map,
}

fn gen_pvalue(rng: &mut Rng, kinds: u64, depth: u32, kind: Kind) -> Gen {
    let kind = if rng.below(4) == 0 {
        // Now and then anything else: a type change, a null, `!unset`.
        match rng.below(5) {
            0 => Kind::Scalar,
            1 => Kind::List,
            2 => Kind::Map,
            3 => return Gen::Unset,
            _ => return Gen::Leaf(Value::Null),
        }
    } else {
        kind
    };
    match kind {
        Kind::Map if depth < 3 => gen_pmap(rng, kinds, depth + 1, 1),
        Kind::Scalar => Gen::Leaf(match rng.below(3) {
            0 => json!(rng.below(3)),
            1 => json!(pick(rng, &ITEMS)),
            _ => json!(rng.below(2) == 0),
        }),
        _ => Gen::Leaf(Value::Array(
            (0..rng.below(3) + 1).map(|_| gen_item(rng)).collect(),
        )),
    }
}

/// A mapping of `at_least`..=4 keys; each key's usual kind depends on the
/// key and the depth, read from the case's table `kinds`.
fn gen_pmap(rng: &mut Rng, kinds: u64, depth: u32, at_least: u64) -> Gen {
    let mut entries: Vec<(String, Gen)> = Vec::new();
    for _ in 0..rng.below(5 - at_least) + at_least {
        let index = rng.below(PKEYS.len() as u64) as usize;
        let key = PKEYS[index].to_owned();
        let kind = match (kinds >> ((index * 3 + depth as usize * 7) % 60)) % 3 {
            0 => Kind::Scalar,
            1 => Kind::List,
            _ => Kind::Map,
        };
        if entries.iter().all(|(k, _)| *k != key) {
            entries.push((key, gen_pvalue(rng, kinds, depth, kind)));
        }
    }
    Gen::Map(entries)
}

/// Block YAML with every key double-quoted, so each key starts its own line.
fn emit_quoted(out: &mut String, indent: usize, g: &Gen) {
    let Gen::Map(entries) = g else { return };
    for (k, v) in entries {
        out.push_str(&" ".repeat(indent));
        out.push_str(&quoted(k));
        out.push(':');
        match v {
            Gen::Unset => out.push_str(" !unset\n"),
            Gen::Leaf(value) => out.push_str(&format!(" {value}\n")),
            Gen::Map(m) if m.is_empty() => out.push_str(" {}\n"),
            Gen::Map(_) => {
                out.push('\n');
                emit_quoted(out, indent + 2, v);
            }
        }
    }
}

fn layer_texts(gens: &[Gen]) -> Vec<String> {
    gens.iter()
        .map(|g| {
            let mut text = String::new();
            emit_quoted(&mut text, 0, g);
            if text.is_empty() {
                text.push_str("{}\n");
            }
            text
        })
        .collect()
}

fn policy_manifest_text(policy: &Policy) -> String {
    let hierarchy: String = TEMPLATES.map(|t| format!("  - \"{t}\"\n")).concat();
    format!(
        "version: 1\nhierarchy:\n{hierarchy}host_classes:\n  c1: {{role: r, region: x}}\n{}",
        policy.yaml
    )
}

fn policy_manifest(policy: &Policy) -> Manifest {
    let text = policy_manifest_text(policy);
    match Manifest::load(&MemorySource::new(&[("ringmaster.yaml", &text)])) {
        Ok(loaded) => loaded.manifest,
        Err(e) => panic!("the manifest loads: {e:?}\n{text}"),
    }
}

/// The manifest for `policy`, cheaply: loading a whole manifest takes
/// milliseconds in a debug build, so most seeds take `base` and read only
/// its `merge:` section, as `Manifest::load` does; every 25th loads it all.
fn policy_manifest_for(seed: u64, base: &Manifest, policy: &Policy) -> Manifest {
    if seed.is_multiple_of(25) {
        return policy_manifest(policy);
    }
    let text = policy_manifest_text(policy);
    let parsed = parse("ringmaster.yaml", text.as_bytes(), &Limits::default());
    let root = parsed.single().expect("a manifest document");
    let errors = merge::manifest_errors(root, "ringmaster.yaml");
    assert!(errors.is_empty(), "{errors:?}\n{text}");
    let mut m = base.clone();
    m.merge = merge::MergePolicy::from_manifest(root);
    m
}

fn parsed_layers(texts: &[String]) -> Layers {
    FILES
        .iter()
        .zip(texts)
        .map(|(file, text)| {
            (
                file.to_string(),
                Arc::new(parse(file, text.as_bytes(), &Limits::default())),
            )
        })
        .collect()
}

/// A node of the reference merge: its value and the layers (by index) whose
/// values are part of it, in layer order.
#[derive(Clone, Debug)]
struct RNode {
    value: RVal,
    layers: Vec<usize>,
}

#[derive(Clone, Debug)]
enum RVal {
    Leaf(Value),
    Map(Vec<(String, RNode)>),
}

impl Policy {
    /// The rule in force at `path`: the first rule naming it (exact segments,
    /// or a regex over the segments joined with dots), else what the parent
    /// hands down.
    fn mode_at(&self, path: &[String], inherited: RMode) -> RMode {
        let dotted = path.join(".");
        for (selector, mode) in &self.rules {
            let hit = match selector {
                Selector::Exact(segments) => segments.as_slice() == path,
                Selector::Match(re) => re.is_match(&dotted),
            };
            if hit {
                return *mode;
            }
        }
        inherited
    }

    /// The key `key` removes: only where keys merge deep (Hiera's
    /// `knockout_prefix` is a deep-merge option), and never the empty key.
    fn knocks_out<'k>(&self, key: &'k str, level: RMode) -> Option<&'k str> {
        if level.strategy != Strat::Deep {
            return None;
        }
        let rest = key.strip_prefix(self.prefix.as_deref()?)?;
        (!rest.is_empty()).then_some(rest)
    }

    fn prefixed(&self, v: &Value) -> bool {
        matches!((v, &self.prefix), (Value::String(s), Some(p)) if s.starts_with(p.as_str()))
    }
}

/// What a key's children get: deep reaches down, every other strategy
/// replaces the value whole, so below it the most specific value wins.
fn handed_down(mode: RMode) -> RMode {
    match mode.strategy {
        Strat::Deep => mode,
        _ => RMode {
            strategy: Strat::First,
            ..mode
        },
    }
}

/// Hiera's `unique`: every value read as a flat array.
fn flat_items(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| flat_items(i, out)),
        other => out.push(other.clone()),
    }
}

fn without_duplicates(items: impl IntoIterator<Item = Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// A value nothing earlier had at its key.
fn ref_fresh(v: &Gen, layer: usize, mode: RMode, policy: &Policy, path: &mut Vec<String>) -> RNode {
    let value = match v {
        Gen::Map(entries) => {
            let below = handed_down(mode);
            let mut children = Vec::new();
            for (k, child) in entries {
                // Nothing to remove: `!unset` and knockouts are dropped.
                if matches!(child, Gen::Unset) || policy.knocks_out(k, below).is_some() {
                    continue;
                }
                path.push(k.clone());
                let child_mode = policy.mode_at(path, below);
                children.push((k.clone(), ref_fresh(child, layer, child_mode, policy, path)));
                path.pop();
            }
            RVal::Map(children)
        }
        Gen::Leaf(Value::Null) | Gen::Unset => RVal::Leaf(Value::Null),
        Gen::Leaf(x) if mode.strategy == Strat::Unique => {
            let mut items = Vec::new();
            flat_items(x, &mut items);
            RVal::Leaf(Value::Array(without_duplicates(items)))
        }
        Gen::Leaf(Value::Array(items)) if mode.strategy == Strat::Deep => RVal::Leaf(Value::Array(
            items
                .iter()
                .filter(|i| !policy.prefixed(i))
                .cloned()
                .collect(),
        )),
        Gen::Leaf(x) => RVal::Leaf(x.clone()),
    };
    RNode {
        value,
        layers: vec![layer],
    }
}

/// A later layer's value for a key an earlier layer set.
fn ref_combine(
    node: &mut RNode,
    v: &Gen,
    layer: usize,
    mode: RMode,
    policy: &Policy,
    path: &mut Vec<String>,
) {
    match (&mut node.value, v) {
        (RVal::Map(children), Gen::Map(entries))
            if matches!(mode.strategy, Strat::Deep | Strat::Hash) =>
        {
            node.layers.push(layer);
            ref_merge(children, entries, layer, handed_down(mode), policy, path);
        }
        (RVal::Leaf(old), Gen::Leaf(new)) if mode.strategy == Strat::Unique => {
            // Higher priority (the later layer) first.
            let mut items = Vec::new();
            flat_items(new, &mut items);
            flat_items(old, &mut items);
            *old = Value::Array(without_duplicates(items));
            node.layers.push(layer);
        }
        (RVal::Leaf(Value::Array(old)), Gen::Leaf(Value::Array(new)))
            if mode.strategy == Strat::Deep =>
        {
            let knocked: Vec<Value> = new
                .iter()
                .filter_map(|i| match (i, &policy.prefix) {
                    (Value::String(s), Some(p)) => s.strip_prefix(p.as_str()).map(Value::from),
                    _ => None,
                })
                .collect();
            let new: Vec<Value> = new
                .iter()
                .filter(|i| !policy.prefixed(i))
                .cloned()
                .collect();
            let old: Vec<Value> = old
                .iter()
                .filter(|i| !knocked.contains(i) && !policy.prefixed(i))
                .cloned()
                .collect();
            let joined = match mode.lists {
                ListMode::Replace => {
                    *node = RNode {
                        value: RVal::Leaf(Value::Array(new)),
                        layers: vec![layer],
                    };
                    return;
                }
                ListMode::Append => old.into_iter().chain(new).collect(),
                ListMode::Unique => without_duplicates(new.into_iter().chain(old)),
            };
            node.value = RVal::Leaf(Value::Array(joined));
            node.layers.push(layer);
        }
        _ => *node = ref_fresh(v, layer, mode, policy, path),
    }
}

/// One layer's mapping merged into the reference tree; `level` is the mode
/// its keys inherit.
fn ref_merge(
    acc: &mut Vec<(String, RNode)>,
    entries: &[(String, Gen)],
    layer: usize,
    level: RMode,
    policy: &Policy,
    path: &mut Vec<String>,
) {
    for (k, v) in entries {
        if let Some(target) = policy.knocks_out(k, level) {
            acc.retain(|(key, _)| key != target);
            continue;
        }
        path.push(k.clone());
        let mode = policy.mode_at(path, level);
        let at = acc.iter().position(|(key, _)| key == k);
        match (v, at) {
            (Gen::Unset, Some(i)) => {
                acc.remove(i);
            }
            (Gen::Unset, None) => {}
            // Helm: a null removes the key it overrides; with nothing to
            // override it stays.
            (Gen::Leaf(Value::Null), Some(i)) if policy.delete_nulls => {
                acc.remove(i);
            }
            (_, None) => acc.push((k.clone(), ref_fresh(v, layer, mode, policy, path))),
            (_, Some(i)) => ref_combine(&mut acc[i].1, v, layer, mode, policy, path),
        }
        path.pop();
    }
}

fn policy_reference(policy: &Policy, gens: &[Gen]) -> Vec<(String, RNode)> {
    let mut root = Vec::new();
    for (layer, g) in gens.iter().enumerate() {
        if let Gen::Map(entries) = g {
            ref_merge(
                &mut root,
                entries,
                layer,
                policy.default,
                policy,
                &mut Vec::new(),
            );
        }
    }
    root
}

fn rjson(children: &[(String, RNode)]) -> Value {
    Value::Object(
        children
            .iter()
            .map(|(k, n)| {
                let v = match &n.value {
                    RVal::Leaf(v) => v.clone(),
                    RVal::Map(c) => rjson(c),
                };
                (k.clone(), v)
            })
            .collect(),
    )
}

/// Every leaf of the reference (an empty map is a leaf), by key path.
fn rleaves<'a>(
    children: &'a [(String, RNode)],
    prefix: &mut Vec<String>,
    out: &mut BTreeMap<Vec<String>, &'a RNode>,
) {
    for (k, n) in children {
        prefix.push(k.clone());
        match &n.value {
            RVal::Map(c) if !c.is_empty() => rleaves(c, prefix, out),
            _ => {
                out.insert(prefix.clone(), n);
            }
        }
        prefix.pop();
    }
}

fn rnode_json(n: &RNode) -> Value {
    match &n.value {
        RVal::Leaf(v) => v.clone(),
        RVal::Map(c) => rjson(c),
    }
}

/// RFC 6901, written here rather than borrowed from the crate.
fn pointer(segments: &[String]) -> String {
    segments
        .iter()
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// One random case: a policy, a base hierarchy and a head with one to four
/// layers replaced or edited.
struct Case {
    policy: Policy,
    base: Vec<Gen>,
    head: Vec<Gen>,
}

fn gen_case(seed: u64) -> Case {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let policy = gen_policy(&mut rng);
    let kinds = rng.next();
    let base: Vec<Gen> = (0..4).map(|_| gen_pmap(&mut rng, kinds, 0, 0)).collect();
    let mut head = base.clone();
    for _ in 0..rng.below(2) + 1 {
        let edited = rng.below(4) as usize;
        head[edited] = gen_pmap(&mut rng, kinds, 0, 0);
    }
    Case { policy, base, head }
}

#[test]
fn under_random_merge_policies_diff_equals_the_difference_of_two_reference_merges() {
    let base = manifest();
    for seed in 1..=1000u64 {
        let case = gen_case(seed);
        let m = policy_manifest_for(seed, &base, &case.policy);
        let class = &m.host_classes["c1"];
        let (base_texts, head_texts) = (layer_texts(&case.base), layer_texts(&case.head));
        let context = || {
            format!(
                "seed {seed}\n{}base {base_texts:#?}\nhead {head_texts:#?}",
                case.policy.yaml
            )
        };
        let (base_eff, _) = merge_class(&m, class, &parsed_layers(&base_texts)).expect("renders");
        let (head_eff, _) = merge_class(&m, class, &parsed_layers(&head_texts)).expect("renders");
        let base_ref = policy_reference(&case.policy, &case.base);
        let head_ref = policy_reference(&case.policy, &case.head);
        assert_eq!(
            base_eff.to_json(),
            rjson(&base_ref),
            "render ≠ reference, {}",
            context()
        );
        assert_eq!(
            head_eff.to_json(),
            rjson(&head_ref),
            "render ≠ reference, {}",
            context()
        );

        let (mut old, mut new) = (BTreeMap::new(), BTreeMap::new());
        rleaves(&base_ref, &mut Vec::new(), &mut old);
        rleaves(&head_ref, &mut Vec::new(), &mut new);
        let mut expected = Vec::new();
        for (path, n) in &new {
            let n = rnode_json(n);
            match old.get(path).map(|o| rnode_json(o)) {
                None => expected.push((path.clone(), pointer(path), Op::Added, None, Some(n))),
                Some(o) if o != n => {
                    expected.push((path.clone(), pointer(path), Op::Changed, Some(o), Some(n)))
                }
                _ => {}
            }
        }
        for (path, o) in &old {
            if !new.contains_key(path) {
                let o = rnode_json(o);
                expected.push((path.clone(), pointer(path), Op::Removed, Some(o), None));
            }
        }
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        let changes = diff_configs(Some(&base_eff), Some(&head_eff));
        for c in &changes {
            // The printed path reads back as the same keys.
            assert_eq!(
                KeyPath::parse(&c.path).ok().as_ref(),
                Some(&c.key),
                "`{}` does not round-trip, {}",
                c.path,
                context()
            );
        }
        let mut actual: Vec<_> = changes
            .into_iter()
            .map(|c| (c.key.segments().to_vec(), c.pointer, c.op, c.old, c.new))
            .collect();
        actual.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            actual,
            expected,
            "diff ≠ difference of renders, {}",
            context()
        );
    }
}

#[test]
fn under_random_merge_policies_every_leaf_lists_each_contributing_layer() {
    let base = manifest();
    for seed in 1..=1000u64 {
        let case = gen_case(seed ^ 0x5EED);
        let m = policy_manifest_for(seed, &base, &case.policy);
        let class = &m.host_classes["c1"];
        let texts = layer_texts(&case.base);
        let context = || format!("seed {seed}\n{}layers {texts:#?}", case.policy.yaml);
        let (eff, _) = merge_class(&m, class, &parsed_layers(&texts)).expect("renders");
        let reference = policy_reference(&case.policy, &case.base);
        let mut expected = BTreeMap::new();
        rleaves(&reference, &mut Vec::new(), &mut expected);
        let leaves = eff.leaves();
        assert_eq!(leaves.len(), expected.len(), "leaf count, {}", context());
        for (path, node) in leaves {
            let segments = path.segments().to_vec();
            let Some(r) = expected.get(&segments) else {
                panic!(
                    "{} is no leaf of the reference, {}",
                    path.pointer(),
                    context()
                );
            };
            let contributors: Vec<(usize, String)> = node
                .contributors()
                .iter()
                .map(|o| (o.layer, o.file.to_string()))
                .collect();
            let wanted: Vec<(usize, String)> =
                r.layers.iter().map(|&l| (l, FILES[l].to_owned())).collect();
            assert_eq!(
                contributors,
                wanted,
                "contributors of {}, {}",
                path.pointer(),
                context()
            );
            // The origin is one of them, and its line sets this very key.
            let origin = &node.origin;
            assert!(
                r.layers.contains(&origin.layer) && *origin.file == *FILES[origin.layer],
                "origin {origin} of {} is no contributor, {}",
                path.pointer(),
                context()
            );
            let line = texts[origin.layer]
                .lines()
                .nth(origin.key_pos.line as usize - 1)
                .unwrap_or_default();
            let key = quoted(path.last().unwrap_or_default());
            assert!(
                line.trim_start().starts_with(&format!("{key}:")),
                "origin of {} points at `{line}` in {origin}, {}",
                path.pointer(),
                context()
            );
        }
    }
}

#[test]
fn render_through_the_binary_equals_the_reference_merge_under_random_policies() {
    const CLASSES: usize = 8;
    for seed in [3u64, 17, 42, 99, 256, 1009] {
        // One repo per seed: one policy, a shared first layer, and for each
        // class its own role, region and class layers.
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let policy = gen_policy(&mut rng);
        let kinds = rng.next();
        let common = gen_pmap(&mut rng, kinds, 0, 0);
        let hierarchy: String = TEMPLATES.map(|t| format!("  - \"{t}\"\n")).concat();
        let classes: String = (0..CLASSES)
            .map(|i| format!("  c{i}: {{role: r{i}, region: x{i}}}\n"))
            .collect();
        let repo = TestRepo::new();
        repo.file(
            "ringmaster.yaml",
            &format!(
                "version: 1\nhierarchy:\n{hierarchy}host_classes:\n{classes}{}",
                policy.yaml
            ),
        );
        let mut expected = Vec::new();
        let mut all_texts = Vec::new();
        for i in 0..CLASSES {
            let gens: Vec<Gen> = std::iter::once(common.clone())
                .chain((0..3).map(|_| gen_pmap(&mut rng, kinds, 0, 0)))
                .collect();
            let texts = layer_texts(&gens);
            let files = [
                "l0.yaml".to_owned(),
                format!("l1/r{i}.yaml"),
                format!("l2/x{i}.yaml"),
                format!("l3/c{i}.yaml"),
            ];
            for (file, text) in files.iter().zip(&texts) {
                repo.file(file, text);
            }
            expected.push(json!({
                "class": format!("c{i}"),
                "config": rjson(&policy_reference(&policy, &gens)),
            }));
            all_texts.push(texts);
        }
        let out = repo
            .run(&["render", "--all", "--format", "json"])
            .expect_code(0);
        let actual: Vec<Value> = out
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        assert_eq!(
            actual, expected,
            "seed {seed}\n{}layers {all_texts:#?}",
            policy.yaml
        );
    }
}
