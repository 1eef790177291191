//! Property tests over random hierarchies and random edits (library level):
//! - `merge_class` equals a straightforward reference merge written here;
//! - `diff_configs` of two merges equals the difference of the two reference merges.
//!
//! A small seeded generator keeps runs reproducible without extra crates;
//! a failure prints the seed and the layer texts.

use std::collections::BTreeMap;
use std::sync::Arc;

use ringmaster::config::document::{Limits, parse};
use ringmaster::config::effective::{Layers, merge_class};
use ringmaster::config::manifest::Manifest;
use ringmaster::diff::{Op, diff_configs};
use ringmaster::source::MemorySource;
use serde_json::{Value, json};

use crate::support::flatten;

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
