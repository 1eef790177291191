//! Rings (SPEC §3.4): `rings/<name>.yaml` → validated [`Ring`]s in promotion
//! order, and the `check` rules that tie rings to host classes.
//!
//! A ring's members are the host classes whose `ring` fact names it. This
//! module reads and checks ring definitions; driving a rollout through them
//! is the rollout engine's job.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use crate::config::document::shown;
use crate::config::document::{Node, Parsed, Value};
use crate::config::manifest::{HostClass, MANIFEST_FILE, Manifest};
use crate::diag::{Diagnostic, Pos, Rule, Severity};
use crate::model::duration::duration;
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
    /// When the soak clock runs: after convergence, not while idle.
    pub soak_clock: crate::rollout::soakclock::SoakClock,
}

/// The shortest gate interval: a shorter one makes the driver hammer the
/// metrics source and write the journal as fast as it can.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// `interval` when a ring file does not set it.
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// The highest `order`: room for any real pipeline, far below where numbers
/// stop being exact in JSON.
pub(crate) const MAX_ORDER: i64 = 1_000_000;
/// `inconclusive_limit` when a ring file does not set it, and its range.
pub(crate) const DEFAULT_INCONCLUSIVE_LIMIT: u32 = 3;
pub(crate) const MAX_INCONCLUSIVE_LIMIT: i64 = 10_000;

/// The ring files of a source: `*.yaml` directly in the rings directory.
pub fn ring_files(manifest: &Manifest, source: &dyn Source) -> anyhow::Result<Vec<String>> {
    crate::config::manifest::yaml_files_in(&manifest.rings_dir, source)
}

/// Rings built from ring files, and what kept others from being built.
#[derive(Debug, Default)]
pub struct RingSet {
    /// Sorted by `order`, then name.
    pub rings: Vec<Ring>,
    /// Names of rings whose files have invalid values (their findings say
    /// why): they exist, but nothing may be driven from them.
    pub invalid: BTreeSet<String>,
    /// Every value that is out of range or of the wrong kind, at its line.
    pub findings: Vec<Diagnostic>,
    /// Ring files that could not be built at all (a parse error, no name,
    /// no `order` or `soak`), which parsing or the schema reports.
    pub unreadable: Vec<String>,
}

/// Builds rings from parsed ring files, sorted by `order` then name. A file
/// with an error is left out, never filled in with defaults.
pub fn build_rings(parsed: &BTreeMap<String, Arc<Parsed>>) -> RingSet {
    let mut set = RingSet::default();
    for (file, p) in parsed {
        let root = if p.diagnostics.iter().any(|d| d.severity == Severity::Error) {
            None
        } else {
            p.single()
        };
        let Some(root) = root else {
            set.unreadable.push(file.clone());
            continue;
        };
        let (ring, found) = read_ring(file, root);
        match ring {
            Some(ring) if found.is_empty() => set.rings.push(ring),
            _ => {
                if let Some(name) = root.get("name").and_then(|e| e.value.value.as_str()) {
                    set.invalid.insert(name.to_owned());
                }
                if found.is_empty() {
                    set.unreadable.push(file.clone());
                }
                set.findings.extend(found);
            }
        }
    }
    set.rings
        .sort_by(|a, b| a.order.cmp(&b.order).then(a.name.cmp(&b.name)));
    resolve_baselines(&mut set.rings);
    set
}

/// The value findings of one ring document: what `check` reports for a ring
/// file beyond its schema (ranges, NaN, whole numbers, durations).
pub(crate) fn ring_value_findings(file: &str, root: &Node) -> Vec<Diagnostic> {
    let mut found = read_ring(file, root).1;
    // Warnings only: they never keep a ring from being built.
    found.extend(crate::rollout::soakclock::warnings(file, root));
    found
}

/// Reads one ring document. The ring is `None` when a required key is
/// missing (the schema says so); the findings are every value out of range.
fn read_ring(file: &str, root: &Node) -> (Option<Ring>, Vec<Diagnostic>) {
    let mut found = Vec::new();
    let mut bad = |node: &Node, path: &str, msg: String, help: &str| {
        found.push(
            Diagnostic::new(Rule::Schema, file, node.pos, msg)
                .with_path(path)
                .with_help(help),
        );
    };
    let name = root
        .get("name")
        .and_then(|e| e.value.value.as_str().map(|n| (n.to_owned(), e.value.pos)));

    let order = root.get("order").and_then(|e| match e.value.value {
        Value::Int(n) if (0..=MAX_ORDER).contains(&n) => Some(n),
        ref other => {
            bad(
                &e.value,
                "/order",
                format!(
                    "`order` is {}: it must be a whole number from 0 to {MAX_ORDER}",
                    shown(other)
                ),
                "rings are promoted in ascending order; write an integer such as `order: 3`",
            );
            None
        }
    });

    let mut duration_of = |key: &str, min: Duration, help: &str| {
        let e = root.get(key)?;
        let text = match &e.value.value {
            Value::Str(s) => s.clone(),
            other => {
                bad(
                    &e.value,
                    &format!("/{key}"),
                    format!("`{key}` is {}, not a duration", shown(other)),
                    help,
                );
                return None;
            }
        };
        match duration(&text) {
            Ok(d) if d < min => {
                bad(
                    &e.value,
                    &format!("/{key}"),
                    format!(
                        "`{key}` `{text}` is shorter than the minimum {}s",
                        min.as_secs()
                    ),
                    help,
                );
                None
            }
            Ok(d) => Some(d),
            Err(why) => {
                bad(
                    &e.value,
                    &format!("/{key}"),
                    format!("`{key}` `{text}` {why}"),
                    help,
                );
                None
            }
        }
    };
    let soak = duration_of(
        "soak",
        Duration::ZERO,
        "write how long the ring must stay healthy, e.g. `soak: 1h`",
    );
    let interval_set = root.get("interval").is_some();
    let interval = duration_of(
        "interval",
        MIN_INTERVAL,
        "write how often the gates are evaluated, at least `1s`, e.g. `interval: 30s`",
    );

    let inconclusive_limit = match root.get("inconclusive_limit") {
        None => Some(DEFAULT_INCONCLUSIVE_LIMIT),
        Some(e) => match e.value.value {
            Value::Int(n) if (1..=MAX_INCONCLUSIVE_LIMIT).contains(&n) => u32::try_from(n).ok(),
            ref other => {
                bad(
                    &e.value,
                    "/inconclusive_limit",
                    format!(
                        "`inconclusive_limit` is {}: it must be a whole number from 1 to {MAX_INCONCLUSIVE_LIMIT}",
                        shown(other)
                    ),
                    "the ring halts after this many inconclusive evaluations in a row; the default is 3",
                );
                None
            }
        },
    };

    let rollback_on_breach = match root.get("on_breach") {
        None => Some(true),
        Some(e) => match e.value.value.as_str() {
            Some("rollback") => Some(true),
            Some("halt") => Some(false),
            _ => {
                bad(
                    &e.value,
                    "/on_breach",
                    format!(
                        "`on_breach` is {}: it must be `rollback` or `halt`",
                        shown(&e.value.value)
                    ),
                    "`rollback` restores the ring's previous revision on a breach; `halt` leaves it in place",
                );
                None
            }
        },
    };

    let approval = root.get("approval").map(|e| &e.value);
    let approval_required = match approval.and_then(|a| a.get("required")) {
        None => Some(false),
        Some(r) => match r.value.value {
            Value::Bool(b) => Some(b),
            ref other => {
                bad(
                    &r.value,
                    "/approval/required",
                    format!("`approval.required` is {}, not true or false", shown(other)),
                    "write `required: true` or `required: false`",
                );
                None
            }
        },
    };
    let approvers = match approval.and_then(|a| a.get("approvers")) {
        None => Some(Vec::new()),
        Some(e) => match &e.value.value {
            Value::Seq(items) if items.iter().all(|i| i.value.as_str().is_some()) => Some(
                items
                    .iter()
                    .filter_map(|i| i.value.as_str().map(str::to_owned))
                    .collect(),
            ),
            _ => {
                bad(
                    &e.value,
                    "/approval/approvers",
                    "`approval.approvers` must be a list of user or group names".into(),
                    "write e.g. `approvers: [release-managers]`",
                );
                None
            }
        },
    };

    found.extend(crate::rollout::gates::gate_findings(file, root));
    found.extend(crate::rollout::soakclock::findings(file, root));
    let soak_clock = crate::rollout::soakclock::parse(root);
    found.extend(crate::rollout::baseline::findings(file, root));
    let ring = (|| {
        let (name, name_pos) = name?;
        Some(Ring {
            name,
            file: file.to_owned(),
            name_pos,
            order: order?,
            soak: soak?,
            interval: if interval_set {
                interval?
            } else {
                DEFAULT_INTERVAL
            },
            approval_required: approval_required?,
            approvers: approvers?,
            inconclusive_limit: inconclusive_limit?,
            rollback_on_breach: rollback_on_breach?,
            gates: crate::rollout::gates::parse_gates(root),
            soak_clock: soak_clock?,
        })
    })();
    (ring, found)
}

/// Reads and builds every ring of a source, for commands that drive or
/// evaluate rings: a ring file with any invalid value is refused (exit 2),
/// never run with a default in its place.
pub fn load_rings(manifest: &Manifest, source: &dyn Source) -> anyhow::Result<Vec<Ring>> {
    let files = ring_files(manifest, source)?.into_iter().collect();
    let parsed = crate::config::effective::load_layers(source, &files, &manifest.limits)?;
    let set = build_rings(&parsed);
    // What the ring schema rejects (a gate without `max` or `min`, an
    // unknown key) would otherwise be run as whatever parsing made of it.
    let schema_errors = parsed.iter().flat_map(|(file, p)| {
        p.single().into_iter().flat_map(move |root| {
            crate::config::schema::validate_own(crate::config::schema::OwnSchema::Ring, file, root)
        })
    });
    if let Some(d) = set.findings.iter().cloned().chain(schema_errors).next() {
        return Err(crate::exit::Failure::usage(format!(
            "{}:{}: {}; see `ringmaster check`",
            d.file, d.pos, d.message
        )));
    }
    if let Some(file) = set.unreadable.first() {
        return Err(crate::exit::Failure::usage(format!(
            "{file}: not a valid ring file (it needs `name`, `order` and `soak`); see `ringmaster check`"
        )));
    }
    Ok(set.rings)
}

/// Reads and builds every ring of a source, keeping what is wrong as findings.
pub fn load_ring_set(manifest: &Manifest, source: &dyn Source) -> anyhow::Result<RingSet> {
    let files = ring_files(manifest, source)?.into_iter().collect();
    let parsed = crate::config::effective::load_layers(source, &files, &manifest.limits)?;
    Ok(build_rings(&parsed))
}

/// The rules that tie rings to classes: a class in a ring that has no ring
/// file (it would never be delivered), a ring no class belongs to (stale),
/// two ring files with one name or one order.
pub fn check_rings(
    rings: &[Ring],
    invalid: &BTreeSet<String>,
    classes: &BTreeMap<String, HostClass>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for class in classes.values() {
        let Some(ring) = class.facts.get("ring") else {
            continue;
        };
        // A ring whose file has invalid values exists; its findings say what to fix.
        if !rings.iter().any(|r| r.name == *ring) && !invalid.contains(ring) {
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
    out.extend(no_baseline_findings(rings));
    out
}

// Baseline (compare) gates: what their ring's place in the order decides.

/// Gives every compare gate its ring and the rings after it (`rings` in
/// promotion order).
pub(crate) fn resolve_baselines(rings: &mut [Ring]) {
    let names: Vec<String> = rings.iter().map(|r| r.name.clone()).collect();
    for (i, ring) in rings.iter_mut().enumerate() {
        for gate in &mut ring.gates {
            if let crate::rollout::gates::GateKind::Compare(c) = &mut gate.kind {
                c.ring = ring.name.clone();
                c.looks = u32::try_from(ring.soak.as_millis() / ring.interval.as_millis().max(1))
                    .unwrap_or(u32::MAX)
                    .max(1);
                c.later = names[i + 1..]
                    .iter()
                    .filter(|n| **n != ring.name)
                    .cloned()
                    .collect();
            }
        }
    }
}

/// The `check` finding for compare gates with nothing to compare with: the
/// last ring's, when they set no `baseline` selector (`rings` in order).
pub(crate) fn no_baseline_findings(rings: &[Ring]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for ring in rings {
        for gate in &ring.gates {
            if let crate::rollout::gates::GateKind::Compare(c) = &gate.kind
                && c.baseline_query().is_none()
            {
                out.push(
                    Diagnostic::new(
                        Rule::RingNoBaseline,
                        &ring.file,
                        c.pos,
                        format!(
                            "compare gate `{}` of ring `{}` has no baseline: no ring comes after it, and the gate sets no `baseline` selector",
                            gate.name, ring.name
                        ),
                    )
                    .with_help("add `baseline: 'ring=\"<label values>\"'` (a label selector for the classes that keep the previous revision), or use a threshold gate in the last ring"),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::document::{self, Limits};
    use crate::model::duration::parse_duration;

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
        let rings = build_rings(&parsed).rings;
        let names: Vec<_> = rings.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["dogfood", "spare", "multi"]);
        assert!(rings[0].approval_required);
        assert_eq!(rings[0].approvers, ["rm"]);
        let class = |name: &str, ring: &str| HostClass {
            name: name.into(),
            facts: [("ring".to_string(), ring.to_string())].into(),
            lists: Default::default(),
            pos: Pos::new(3, 3),
        };
        let classes: BTreeMap<String, HostClass> = [
            ("a".to_string(), class("a", "dogfood")),
            ("b".to_string(), class("b", "multi")),
            ("c".to_string(), class("c", "dogfod")),
        ]
        .into();
        let found = check_rings(&rings, &BTreeSet::new(), &classes);
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
