//! A small YAML emitter for effective configs: block style, two-space
//! indent, keys in document order, strings quoted whenever a YAML 1.1 or 1.2
//! reader could take them for something else. With provenance, each leaf
//! line ends in `# file:line`.

use std::fmt::Write;

use crate::config::document::{self, Node, Value};
use crate::config::effective::{EffNode, EffValue, EffectiveConfig};
use crate::config::merge::Strategy;

/// Renders a class's effective config as YAML.
pub fn effective(config: &EffectiveConfig, provenance: bool) -> String {
    let mut out = String::new();
    if config.root.is_empty() {
        out.push_str("{}\n");
    }
    for (key, node) in &config.root {
        eff_entry(&mut out, 0, key, node, provenance);
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn comment(node: &EffNode, provenance: bool) -> String {
    if provenance {
        let contributors = node.contributors();
        let strategy = node.trace.strategy();
        if contributors.len() == 1 && strategy == Strategy::Deep {
            return format!("  # {}", node.origin);
        }
        // A merged value names every layer in it, and how it was merged.
        let places: Vec<String> = contributors.iter().map(|o| o.to_string()).collect();
        format!("  # {} ({})", places.join(", "), strategy.name())
    } else {
        String::new()
    }
}

fn eff_entry(out: &mut String, depth: usize, key: &str, node: &EffNode, provenance: bool) {
    indent(out, depth);
    out.push_str(&quote_key(key));
    out.push(':');
    match &node.value {
        EffValue::Map(children) if children.is_empty() => {
            let _ = writeln!(out, " {{}}{}", comment(node, provenance));
        }
        EffValue::Map(children) => {
            out.push('\n');
            for (k, v) in children {
                eff_entry(out, depth + 2, k, v, provenance);
            }
        }
        EffValue::Leaf(leaf) => {
            if let Some(inline) = inline(leaf) {
                let _ = writeln!(out, " {inline}{}", comment(node, provenance));
            } else {
                let _ = writeln!(out, "{}", comment(node, provenance));
                block(out, depth + 2, leaf);
            }
        }
    }
}

/// A value that fits on its key's line: scalars and empty collections.
fn inline(node: &Node) -> Option<String> {
    Some(match &node.value {
        Value::Null | Value::Unset => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(text) => text.clone(),
        Value::Float(f) => float(*f),
        Value::Str(s) => quote(s),
        Value::Seq(items) if items.is_empty() => "[]".into(),
        Value::Map(entries) if entries.is_empty() => "{}".into(),
        _ => return None,
    })
}

/// A collection below its key, at `depth`.
fn block(out: &mut String, depth: usize, node: &Node) {
    match &node.value {
        Value::Seq(items) => {
            for item in items {
                indent(out, depth);
                out.push('-');
                match (&item.value, inline(item)) {
                    (_, Some(s)) => {
                        let _ = writeln!(out, " {s}");
                    }
                    (Value::Map(entries), None) => {
                        // The first entry shares the dash's line.
                        let mut first = true;
                        for e in entries {
                            if first {
                                out.push(' ');
                                first = false;
                            } else {
                                indent(out, depth + 2);
                            }
                            node_entry(out, depth + 2, &e.key, &e.value);
                        }
                    }
                    (_, None) => {
                        out.push('\n');
                        block(out, depth + 2, item);
                    }
                }
            }
        }
        Value::Map(entries) => {
            for e in entries {
                indent(out, depth);
                node_entry(out, depth, &e.key, &e.value);
            }
        }
        _ => {}
    }
}

/// `key: value` for a plain document node, the key's indent already written.
fn node_entry(out: &mut String, depth: usize, key: &str, value: &Node) {
    out.push_str(&quote_key(key));
    out.push(':');
    match inline(value) {
        Some(s) => {
            let _ = writeln!(out, " {s}");
        }
        None => {
            out.push('\n');
            block(out, depth + 2, value);
        }
    }
}

fn float(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        }
    } else {
        let s = f.to_string();
        // Keep it a float on the way back in: `1` would read as an integer.
        if s.contains(['.', 'e', 'E']) {
            s
        } else {
            format!("{s}.0")
        }
    }
}

/// Whether a plain scalar would read back as this exact string, in YAML 1.2
/// and in YAML 1.1 readers alike.
fn plain_is_safe(s: &str) -> bool {
    // A plain `<<` key is a YAML merge key.
    if s.is_empty() || s.trim() != s || s == "<<" {
        return false;
    }
    if !matches!(document::resolve_plain(s), Value::Str(_)) || document::differs_in_yaml11(s) {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    !(s.contains(": ") || s.contains(" #") || s.ends_with(':') || s.chars().any(|c| c.is_control()))
}

pub fn quote(s: &str) -> String {
    if plain_is_safe(s) {
        s.to_owned()
    } else {
        // A JSON string is a valid YAML double-quoted scalar.
        serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
    }
}

fn quote_key(s: &str) -> String {
    quote(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::document::{Limits, parse};

    #[test]
    fn quoting_keeps_strings_strings() {
        for s in [
            "on", "0755", "true", "1.5", "", " x", "a: b", "- x", "null", "22:30", "#x",
        ] {
            assert!(quote(s).starts_with('"'), "{s} must be quoted");
        }
        for s in ["api", "eu-west", "http://x/y", "a b"] {
            assert_eq!(quote(s), s);
        }
    }

    #[test]
    fn block_output_reads_back_to_the_same_value() {
        let text = "a:\n  b: [1, {c: \"on\", d: [x, y]}, []]\n  e: 1.0\n  f: {}\n";
        let doc = parse("t.yaml", text.as_bytes(), &Limits::default());
        let root = doc.single().unwrap();
        let mut out = String::new();
        block(&mut out, 0, root);
        let again = parse("t.yaml", out.as_bytes(), &Limits::default());
        assert_eq!(again.single().unwrap().to_json(), root.to_json(), "{out}");
    }
}
