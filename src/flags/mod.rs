//! Feature flags (SPEC §3.3): `flags/<name>.yaml` → validated [`Flag`]s, their
//! value per host class, and the hygiene rules `check` runs on them.
//!
//! A flag's value for a class is its tenant's value, else its ring's, else
//! the default; it lands in the effective config under `flags.<name>` with
//! the provenance of the line that chose it, so `render`, `explain` and
//! `diff` treat flags like any other value. Finding flags in code lives in
//! `coderefs`; asking git how long a flag has been uniform lives here.

pub(crate) mod coderefs;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use jiff::civil::Date;

use crate::config::document::{self, Node, Parsed, Value};
use crate::config::effective::{EffNode, EffValue, EffectiveConfig, Origin};
use crate::config::manifest::{HostClass, Manifest};
use crate::diag::{Diagnostic, Pos, Rule};
use crate::source::Source;

/// The type a flag declares; every value must have it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FlagType {
    Bool,
    String,
    Number,
}

impl FlagType {
    fn parse(s: &str) -> Option<FlagType> {
        match s {
            "bool" => Some(FlagType::Bool),
            "string" => Some(FlagType::String),
            "number" => Some(FlagType::Number),
            _ => None,
        }
    }

    fn accepts(self, value: &Value) -> bool {
        matches!(
            (self, value),
            (FlagType::Bool, Value::Bool(_))
                | (FlagType::String, Value::Str(_))
                | (
                    FlagType::Number,
                    Value::Int(_) | Value::BigInt(_) | Value::Float(_)
                )
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FlagType::Bool => "bool",
            FlagType::String => "string",
            FlagType::Number => "number",
        }
    }
}

/// A value with where it was written: the key's position and the value node.
#[derive(Debug, Clone, PartialEq)]
pub struct Targeted {
    pub target: String,
    pub key_pos: Pos,
    pub value: Node,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    pub name: String,
    pub file: String,
    pub name_pos: Pos,
    /// Where a missing owner is reported: the blank `owner:` value, else the
    /// mapping that lacks the key.
    pub owner_pos: (Pos, &'static str),
    pub owner: Option<String>,
    pub description: Option<String>,
    pub kind: Option<FlagType>,
    /// `default:` key position and value.
    pub default: Option<Targeted>,
    pub expires: Option<(Date, Pos)>,
    pub rings: Vec<Targeted>,
    pub tenants: Vec<Targeted>,
}

impl Flag {
    /// The value a class gets, and the entry that chose it.
    pub fn value_for(&self, class: &HostClass) -> Option<&Targeted> {
        fn pick<'a>(list: &'a [Targeted], class: &HostClass, fact: &str) -> Option<&'a Targeted> {
            let want = class.facts.get(fact)?;
            list.iter().find(|t| t.target == *want)
        }
        pick(&self.tenants, class, "tenant")
            .or_else(|| pick(&self.rings, class, "ring"))
            .or(self.default.as_ref())
    }

    /// Every value the flag can take, default included.
    pub fn all_values(&self) -> impl Iterator<Item = &Targeted> {
        self.default
            .iter()
            .chain(self.rings.iter())
            .chain(self.tenants.iter())
    }

    /// The single value every class gets, when there is one: a flag set to
    /// `true` in every ring is as uniform as one whose default is `true`.
    /// Without classes, every value written must be equal.
    pub fn uniform_value<'a>(
        &self,
        classes: impl IntoIterator<Item = &'a HostClass>,
    ) -> Option<serde_json::Value> {
        let mut values = classes
            .into_iter()
            .map(|c| self.value_for(c).map(|t| t.value.to_json()))
            .peekable();
        let candidates: Vec<Option<serde_json::Value>> = if values.peek().is_some() {
            values.collect()
        } else {
            self.all_values().map(|t| Some(t.value.to_json())).collect()
        };
        let first = candidates.first()?.clone()?;
        candidates
            .iter()
            .all(|v| v.as_ref() == Some(&first))
            .then_some(first)
    }
}

/// Today's date in UTC; `RINGMASTER_TODAY=YYYY-MM-DD` pins it (tests, replays).
pub(crate) fn today() -> Date {
    if let Ok(pinned) = std::env::var("RINGMASTER_TODAY")
        && let Ok(date) = pinned.parse::<Date>()
    {
        return date;
    }
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
}

/// The flag files of a source: `*.yaml`/`*.yml` directly in the flags directory.
pub(crate) fn flag_files(manifest: &Manifest, source: &dyn Source) -> anyhow::Result<Vec<String>> {
    crate::config::manifest::yaml_files_in(&manifest.flags_dir, source)
}

/// Builds flags from parsed flag files. Files that do not parse, or are not a
/// mapping with a `name`, are left out (their own findings say why); the
/// rest is tolerant so that one bad field does not hide the others.
pub(crate) fn build_flags(parsed: &BTreeMap<String, Arc<Parsed>>) -> Vec<Flag> {
    let mut flags = Vec::new();
    for (file, p) in parsed {
        if p.diagnostics
            .iter()
            .any(|d| d.severity == crate::diag::Severity::Error)
        {
            continue;
        }
        let Some(root) = p.single() else { continue };
        let Some(name) = root.get("name") else {
            continue;
        };
        let Some(name_str) = name.value.value.as_str() else {
            continue;
        };
        let text = |key: &str| {
            root.get(key)
                .and_then(|e| e.value.value.as_str().map(str::to_owned))
        };
        let targeted = |key: &str| -> Vec<Targeted> {
            root.get(key)
                .and_then(|e| e.value.value.as_map().map(<[_]>::to_vec))
                .unwrap_or_default()
                .into_iter()
                .map(|e| Targeted {
                    target: e.key,
                    key_pos: e.key_pos,
                    value: e.value,
                })
                .collect()
        };
        let expires = root.get("expires").and_then(|e| {
            let date = match &e.value.value {
                Value::Str(s) => s.parse::<Date>().ok()?,
                _ => return None,
            };
            Some((date, e.value.pos))
        });
        flags.push(Flag {
            name: name_str.to_owned(),
            file: file.clone(),
            name_pos: name.value.pos,
            owner_pos: match root.get("owner") {
                Some(e) => (e.value.pos, "/owner"),
                None => (root.pos, ""),
            },
            owner: text("owner").filter(|o| !o.trim().is_empty()),
            description: text("description"),
            kind: text("type").as_deref().and_then(FlagType::parse),
            default: root.get("default").map(|e| Targeted {
                target: "default".into(),
                key_pos: e.key_pos,
                value: e.value.clone(),
            }),
            expires,
            rings: targeted("rings"),
            tenants: targeted("tenants"),
        });
    }
    flags
}

/// Reads and builds every flag of a source.
pub(crate) fn load_flags(
    manifest: &Manifest,
    source: &dyn Source,
) -> anyhow::Result<(Vec<Flag>, crate::config::effective::Layers)> {
    let files = flag_files(manifest, source)?.into_iter().collect();
    let parsed = crate::config::effective::load_layers(source, &files, &manifest.limits)?;
    Ok((build_flags(&parsed), parsed))
}

/// Puts each flag's value for the class under `flags.<name>`.
pub(crate) fn apply_flags(
    config: &mut EffectiveConfig,
    class: &HostClass,
    flags: &[Flag],
    layer: usize,
) {
    if flags.is_empty() {
        return;
    }
    let mut children = Vec::new();
    for flag in flags {
        let Some(chosen) = flag.value_for(class) else {
            continue;
        };
        children.push((
            flag.name.clone(),
            EffNode {
                value: EffValue::Leaf(chosen.value.clone()),
                origin: Origin {
                    file: Arc::from(flag.file.as_str()),
                    key_pos: chosen.key_pos,
                    value_pos: chosen.value.pos,
                    layer,
                },
                trace: Default::default(),
            },
        ));
    }
    children.sort_by(|a, b| a.0.cmp(&b.0));
    let origin = Origin {
        file: Arc::from(flags[0].file.as_str()),
        key_pos: Pos::START,
        value_pos: Pos::START,
        layer,
    };
    // Flags own the `flags` key: a layer that set one is replaced.
    config.root.retain(|(k, _)| k != "flags");
    config.root.push((
        "flags".into(),
        EffNode {
            value: EffValue::Map(children),
            origin,
            trace: Default::default(),
        },
    ));
}

/// The hygiene rules on flags: names, owners, expiry, types, targets.
pub(crate) fn check_flags(
    flags: &[Flag],
    classes: &BTreeMap<String, HostClass>,
    today: Date,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let rings: BTreeSet<&str> = classes
        .values()
        .filter_map(|c| c.facts.get("ring").map(String::as_str))
        .collect();
    let tenants: BTreeSet<&str> = classes
        .values()
        .filter_map(|c| c.facts.get("tenant").map(String::as_str))
        .collect();
    // Without host classes there is nothing to target: a repo that only
    // validates files has no rings or tenants to compare against.
    let have_classes = !classes.is_empty();
    let mut seen: BTreeMap<&str, &Flag> = BTreeMap::new();
    for flag in flags {
        let stem = flag
            .file
            .rsplit('/')
            .next()
            .unwrap_or(&flag.file)
            .trim_end_matches(".yaml")
            .trim_end_matches(".yml");
        if stem != flag.name {
            out.push(
                Diagnostic::new(
                    Rule::FlagName,
                    &flag.file,
                    flag.name_pos,
                    format!(
                        "flag `{}` is in a file named `{stem}`: the file name must be the flag's name",
                        flag.name
                    ),
                )
                .with_path("/name")
                .with_help(format!("rename the file to `{}.yaml`, or fix `name:`", flag.name)),
            );
        }
        if let Some(first) = seen.get(flag.name.as_str()) {
            out.push(
                Diagnostic::new(
                    Rule::FlagDuplicate,
                    &flag.file,
                    flag.name_pos,
                    format!("flag `{}` is also defined in {}", flag.name, first.file),
                )
                .with_path("/name")
                .with_related(&first.file, first.name_pos, "first defined here")
                .with_help("a flag is defined once; remove one of the files"),
            );
        } else {
            seen.insert(&flag.name, flag);
        }
        if flag.owner.is_none() {
            out.push(
                Diagnostic::new(
                    Rule::FlagOwner,
                    &flag.file,
                    flag.owner_pos.0,
                    format!("flag `{}` has no owner", flag.name),
                )
                .with_path(flag.owner_pos.1)
                .with_help("add `owner: <team>`: someone must decide when the flag goes"),
            );
        }
        if let Some((expires, pos)) = flag.expires
            && expires < today
        {
            let days = (today - expires).get_days();
            out.push(
                Diagnostic::new(
                    Rule::FlagExpired,
                    &flag.file,
                    pos,
                    format!(
                        "flag `{}` expired on {expires} ({days} day{} ago)",
                        flag.name,
                        if days == 1 { "" } else { "s" }
                    ),
                )
                .with_path("/expires")
                .with_help(
                    "remove the flag (and its uses in code), or extend `expires` with a reason",
                ),
            );
        }
        if let Some(kind) = flag.kind {
            for t in flag.all_values() {
                if !kind.accepts(&t.value.value) {
                    let path = match t.target.as_str() {
                        "default" => "/default".to_string(),
                        _ if flag.rings.contains(t) => format!("/rings/{}", t.target),
                        _ => format!("/tenants/{}", t.target),
                    };
                    out.push(
                        Diagnostic::new(
                            Rule::FlagType,
                            &flag.file,
                            t.value.pos,
                            format!(
                                "flag `{}` is of type {} but this value is a {}",
                                flag.name,
                                kind.as_str(),
                                t.value.value.kind_name()
                            ),
                        )
                        .with_path(path)
                        .with_help(format!("write a {} value", kind.as_str())),
                    );
                }
            }
        }
        for (list, known, rule, fact) in [
            (&flag.rings, &rings, Rule::FlagUnknownRing, "ring"),
            (&flag.tenants, &tenants, Rule::FlagUnknownTenant, "tenant"),
        ] {
            for t in list {
                if !have_classes || known.contains(t.target.as_str()) {
                    continue;
                }
                let hint = crate::model::suggest::closest(&t.target, known.iter().copied())
                    .map(|c| format!("; did you mean `{c}`?"))
                    .unwrap_or_default();
                out.push(
                    Diagnostic::new(
                        rule,
                        &flag.file,
                        t.key_pos,
                        format!(
                            "flag `{}` sets a value for {fact} `{}`, which no host class has{hint}",
                            flag.name, t.target
                        ),
                    )
                    .with_path(format!("/{fact}s/{}", t.target))
                    .with_help(format!(
                        "the value never applies; fix the name or give a host class `{fact}: {}`",
                        t.target
                    )),
                );
            }
        }
    }
    out
}

/// Since when the flag file at `path` has given every class `value`, by
/// walking git history from HEAD (newest first) until a version gives
/// something else. `None` when HEAD's version already differs (the working
/// tree's change is then uniform since "now").
pub(crate) fn uniform_since(
    config_root: &std::path::Path,
    path: &str,
    value: &serde_json::Value,
    classes: &BTreeMap<String, HostClass>,
) -> anyhow::Result<Option<jiff::Timestamp>> {
    let repo = crate::source::open_repository(config_root)?;
    let workdir = repo
        .workdir()
        .ok_or_else(|| anyhow::anyhow!("the git repository is bare"))?
        .canonicalize()?;
    let rel = config_root.canonicalize()?;
    let prefix = rel
        .strip_prefix(&workdir)
        .unwrap_or(std::path::Path::new(""));
    let in_repo = prefix.join(path);
    let Ok(head) = repo.head().and_then(|h| h.peel_to_commit()) else {
        return Ok(None);
    };
    let mut walk = repo.revwalk()?;
    walk.push(head.id())?;
    walk.set_sorting(git2::Sort::TIME)?;
    let same = |blob: git2::Oid| -> bool {
        let Ok(blob) = repo.find_blob(blob) else {
            return false;
        };
        let parsed = document::parse(path, blob.content(), &document::Limits::default());
        let flags = build_flags(&BTreeMap::from([(path.to_owned(), Arc::new(parsed))]));
        flags
            .first()
            .is_some_and(|f| f.uniform_value(classes.values()).as_ref() == Some(value))
    };
    let mut since = None;
    let mut last_blob: Option<git2::Oid> = None;
    let mut last_same = false;
    for oid in walk {
        let commit = repo.find_commit(oid?)?;
        let blob = commit.tree()?.get_path(&in_repo).ok().map(|e| e.id());
        let Some(blob) = blob else { break };
        if last_blob != Some(blob) {
            last_same = same(blob);
            last_blob = Some(blob);
        }
        if !last_same {
            break;
        }
        since = Some(jiff::Timestamp::from_second(commit.time().seconds())?);
    }
    Ok(since)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::document::Limits;

    fn flags_of(files: &[(&str, &str)]) -> Vec<Flag> {
        let parsed = files
            .iter()
            .map(|(p, t)| {
                (
                    p.to_string(),
                    Arc::new(document::parse(p, t.as_bytes(), &Limits::default())),
                )
            })
            .collect();
        build_flags(&parsed)
    }

    fn class(name: &str, facts: &[(&str, &str)]) -> HostClass {
        HostClass {
            name: name.into(),
            facts: facts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            lists: Default::default(),
            pos: Pos::START,
        }
    }

    #[test]
    fn tenant_wins_over_ring_wins_over_default() {
        let flags = flags_of(&[(
            "flags/f.yaml",
            "name: f\ntype: bool\ndefault: false\nrings:\n  dogfood: true\ntenants:\n  acme: false\n",
        )]);
        let f = &flags[0];
        let v = |facts: &[(&str, &str)]| f.value_for(&class("c", facts)).map(|t| t.value.to_json());
        assert_eq!(v(&[("ring", "dogfood")]), Some(serde_json::json!(true)));
        assert_eq!(
            v(&[("ring", "dogfood"), ("tenant", "acme")]),
            Some(serde_json::json!(false))
        );
        assert_eq!(v(&[("ring", "multi")]), Some(serde_json::json!(false)));
        assert_eq!(
            f.value_for(&class("c", &[("ring", "dogfood")]))
                .unwrap()
                .key_pos
                .line,
            5
        );
    }

    #[test]
    fn rules_fire_on_bad_flags_only() {
        let classes: BTreeMap<String, HostClass> = [
            (
                "a".to_string(),
                class("a", &[("ring", "dogfood"), ("tenant", "acme")]),
            ),
            ("b".to_string(), class("b", &[("ring", "multi")])),
        ]
        .into();
        let good = "name: good\nowner: t\ntype: number\ndefault: 1\nexpires: \"2030-01-01\"\nrings:\n  dogfood: 2\ntenants:\n  acme: 3\n";
        let bad = "name: bad\ntype: bool\ndefault: \"no\"\nexpires: \"2020-01-01\"\nrings:\n  dogfod: true\ntenants:\n  acne: true\n";
        let flags = flags_of(&[("flags/good.yaml", good), ("flags/other.yaml", bad)]);
        let today: Date = "2026-11-22".parse().unwrap();
        let found = check_flags(&flags, &classes, today);
        let rules: Vec<_> = found.iter().map(|d| (d.rule, d.pos.line)).collect();
        assert_eq!(
            rules,
            vec![
                (Rule::FlagName, 1),
                (Rule::FlagOwner, 1),
                (Rule::FlagExpired, 4),
                (Rule::FlagType, 3),
                (Rule::FlagUnknownRing, 6),
                (Rule::FlagUnknownTenant, 8),
            ]
        );
        assert!(found.iter().all(|d| d.file == "flags/other.yaml"));
        assert!(found[4].message.contains("did you mean `dogfood`"));
        assert!(
            found[2].message.contains("2517 days ago"),
            "{}",
            found[2].message
        );
    }

    #[test]
    fn uniform_means_every_class_gets_the_same_value() {
        let none: [&HostClass; 0] = [];
        let uniform = flags_of(&[(
            "flags/u.yaml",
            "name: u\ntype: bool\ndefault: true\nrings:\n  a: true\n",
        )]);
        assert_eq!(
            uniform[0].uniform_value(none),
            Some(serde_json::json!(true))
        );
        let mixed = flags_of(&[(
            "flags/m.yaml",
            "name: m\ntype: bool\ndefault: true\ntenants:\n  x: false\n",
        )]);
        assert_eq!(mixed[0].uniform_value(none), None);
        // Rolled out to every ring the classes are in: uniform, though the default differs.
        let rolled = flags_of(&[(
            "flags/r.yaml",
            "name: r\ntype: bool\ndefault: false\nrings:\n  a: true\n  b: true\n",
        )]);
        let (a, b) = (class("x", &[("ring", "a")]), class("y", &[("ring", "b")]));
        assert_eq!(
            rolled[0].uniform_value([&a, &b]),
            Some(serde_json::json!(true))
        );
        let c = class("z", &[("ring", "c")]);
        assert_eq!(rolled[0].uniform_value([&a, &b, &c]), None);
    }
}
