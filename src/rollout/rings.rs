//! Rings (SPEC §3.4): `rings/<name>.yaml` → validated [`Ring`]s in promotion
//! order, and the `check` rules that tie rings to host classes.
//!
//! A ring's members are the host classes whose `ring` fact names it. This
//! module reads and checks ring definitions; driving a rollout through them
//! is the rollout engine's job.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::document::{Parsed, Value};
use crate::config::manifest::{HostClass, MANIFEST_FILE, Manifest};
use crate::diag::{Diagnostic, Pos, Rule, Severity};
use crate::source::Source;

#[derive(Debug, Clone, PartialEq)]
pub struct Ring {
    pub name: String,
    pub file: String,
    pub name_pos: Pos,
    pub order: i64,
    pub soak: Duration,
    pub interval: Duration,
    pub approval_required: bool,
    pub approvers: Vec<String>,
    pub inconclusive_limit: u32,
    pub rollback_on_breach: bool,
    pub gates: Vec<crate::rollout::gates::Gate>,
}

/// Parses `90s`, `10m`, `1h30m`, `250ms`, `2d`: the duration syntax of ring files.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60)?),
            "h" => Duration::from_secs(n.checked_mul(3600)?),
            "d" => Duration::from_secs(n.checked_mul(86_400)?),
            _ => return None,
        };
        total = total.checked_add(unit)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// The ring files of a source: `*.yaml` directly in the rings directory.
pub fn ring_files(manifest: &Manifest, source: &dyn Source) -> anyhow::Result<Vec<String>> {
    crate::config::manifest::yaml_files_in(&manifest.rings_dir, source)
}

/// Builds rings from parsed ring files, sorted by `order` then name. Files
/// with errors are left out: their own findings say why.
pub fn build_rings(parsed: &BTreeMap<String, Arc<Parsed>>) -> Vec<Ring> {
    let mut rings = Vec::new();
    for (file, p) in parsed {
        if p.diagnostics.iter().any(|d| d.severity == Severity::Error) {
            continue;
        }
        let Some(root) = p.single() else { continue };
        let Some(name) = root.get("name") else {
            continue;
        };
        let Some(name_str) = name.value.value.as_str() else {
            continue;
        };
        let duration = |key: &str, default: Duration| {
            root.get(key)
                .and_then(|e| e.value.value.as_str().and_then(parse_duration))
                .unwrap_or(default)
        };
        let approval = root.get("approval").map(|e| &e.value);
        let approval_required = approval
            .and_then(|a| a.get("required"))
            .is_some_and(|r| r.value.value == Value::Bool(true));
        let approvers = approval
            .and_then(|a| a.get("approvers"))
            .and_then(|e| match &e.value.value {
                Value::Seq(items) => Some(
                    items
                        .iter()
                        .filter_map(|i| i.value.as_str().map(str::to_owned))
                        .collect(),
                ),
                _ => None,
            })
            .unwrap_or_default();
        let int = |key: &str| match root.get(key).map(|e| &e.value.value) {
            Some(Value::Int(n)) => Some(*n),
            _ => None,
        };
        rings.push(Ring {
            name: name_str.to_owned(),
            file: file.clone(),
            name_pos: name.value.pos,
            order: int("order").unwrap_or(0),
            soak: duration("soak", Duration::ZERO),
            interval: duration("interval", Duration::from_secs(30)),
            approval_required,
            approvers,
            inconclusive_limit: int("inconclusive_limit")
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(3),
            rollback_on_breach: root
                .get("on_breach")
                .and_then(|e| e.value.value.as_str().map(|s| s == "rollback"))
                .unwrap_or(true),
            gates: crate::rollout::gates::parse_gates(root),
        });
    }
    rings.sort_by(|a, b| a.order.cmp(&b.order).then(a.name.cmp(&b.name)));
    rings
}

/// Reads and builds every ring of a source.
pub fn load_rings(manifest: &Manifest, source: &dyn Source) -> anyhow::Result<Vec<Ring>> {
    let files = ring_files(manifest, source)?.into_iter().collect();
    let parsed = crate::config::effective::load_layers(source, &files, &manifest.limits)?;
    Ok(build_rings(&parsed))
}

/// The rules that tie rings to classes: a class in a ring that has no ring
/// file (it would never be delivered), a ring no class belongs to (stale),
/// two ring files with one name or one order.
pub fn check_rings(rings: &[Ring], classes: &BTreeMap<String, HostClass>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for class in classes.values() {
        let Some(ring) = class.facts.get("ring") else {
            continue;
        };
        if !rings.iter().any(|r| r.name == *ring) {
            let hint = crate::model::suggest::closest(ring, rings.iter().map(|r| r.name.as_str()))
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            out.push(
                Diagnostic::new(
                    Rule::RingUnknown,
                    MANIFEST_FILE,
                    class.pos,
                    format!(
                        "host class `{}` is in ring `{ring}`, which has no ring file{hint}",
                        class.name
                    ),
                )
                .with_path(format!("/host_classes/{}/ring", class.name))
                .with_help("add the ring file, or fix the class's `ring` fact: a class in no known ring is never delivered"),
            );
        }
    }
    for (i, ring) in rings.iter().enumerate() {
        if !classes
            .values()
            .any(|c| c.facts.get("ring") == Some(&ring.name))
            && !classes.is_empty()
        {
            out.push(
                Diagnostic::new(
                    Rule::RingUnused,
                    &ring.file,
                    ring.name_pos,
                    format!("ring `{}` has no host class", ring.name),
                )
                .with_path("/name")
                .with_help("give a class `ring: <name>`, or remove the ring file"),
            );
        }
        let has_classes = classes
            .values()
            .any(|c| c.facts.get("ring") == Some(&ring.name));
        if has_classes && ring.gates.iter().all(|g| g.shadow) {
            // SPEC §6: a ring is never promoted on wall-clock time alone. A
            // ring without an enforcing gate can only be, so say it where
            // the ring is defined rather than let a soak pass for a check.
            let what = if ring.gates.is_empty() {
                "no gates"
            } else {
                "only shadow gates"
            };
            out.push(
                Diagnostic::new(
                    Rule::RingUngated,
                    &ring.file,
                    ring.name_pos,
                    format!(
                        "ring `{}` has {what}: nothing watches it while it soaks, so it is promoted on time alone",
                        ring.name
                    ),
                )
                .with_path("/name")
                .with_help("add an enforcing gate (`query` with `max`/`min`, or `burn_rate`), or silence this with `rules: {ring-ungated: off}`"),
            );
        }
        if let Some(other) = rings[..i].iter().find(|r| r.name == ring.name) {
            out.push(
                Diagnostic::new(
                    Rule::RingUnknown,
                    &ring.file,
                    ring.name_pos,
                    format!("ring `{}` is also defined in {}", ring.name, other.file),
                )
                .with_path("/name")
                .with_related(&other.file, other.name_pos, "first defined here"),
            );
        } else if let Some(other) = rings[..i].iter().find(|r| r.order == ring.order) {
            out.push(
                Diagnostic::new(
                    Rule::RingUnknown,
                    &ring.file,
                    ring.name_pos,
                    format!(
                        "rings `{}` and `{}` share order {}: the promotion order is ambiguous",
                        other.name, ring.name, ring.order
                    ),
                )
                .with_path("/order")
                .with_related(&other.file, other.name_pos, "the other ring"),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::document::{self, Limits};

    #[test]
    fn durations_parse_and_reject() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        for bad in ["", "10", "m", "10x", "1.5h", "-1s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn rings_sort_by_order_and_tie_to_classes() {
        let parsed: BTreeMap<String, Arc<Parsed>> = [
            ("rings/b.yaml", "name: multi\norder: 3\nsoak: 1h\n"),
            (
                "rings/a.yaml",
                "name: dogfood\norder: 1\nsoak: 10m\napproval: {required: true, approvers: [rm]}\n",
            ),
            ("rings/c.yaml", "name: spare\norder: 2\nsoak: 1m\n"),
        ]
        .iter()
        .map(|(p, t)| {
            (
                p.to_string(),
                Arc::new(document::parse(p, t.as_bytes(), &Limits::default())),
            )
        })
        .collect();
        let rings = build_rings(&parsed);
        let names: Vec<_> = rings.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["dogfood", "spare", "multi"]);
        assert!(rings[0].approval_required);
        assert_eq!(rings[0].approvers, ["rm"]);
        let class = |name: &str, ring: &str| HostClass {
            name: name.into(),
            facts: [("ring".to_string(), ring.to_string())].into(),
            pos: Pos::new(3, 3),
        };
        let classes: BTreeMap<String, HostClass> = [
            ("a".to_string(), class("a", "dogfood")),
            ("b".to_string(), class("b", "multi")),
            ("c".to_string(), class("c", "dogfod")),
        ]
        .into();
        let found = check_rings(&rings, &classes);
        let rules: Vec<_> = found.iter().map(|d| (d.rule, d.file.as_str())).collect();
        assert_eq!(
            rules,
            [
                (Rule::RingUnknown, "ringmaster.yaml"),
                (Rule::RingUngated, "rings/a.yaml"),
                (Rule::RingUnused, "rings/c.yaml"),
                (Rule::RingUngated, "rings/b.yaml"),
            ]
        );
        assert!(found[0].message.contains("did you mean `dogfood`"));
    }
}
