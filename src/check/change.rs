//! `check --base REV`: rules on the change itself, not on its result.
//!
//! - `dual-change`: a key removed and a sibling with an equal or similar value
//!   added (a rename), or flags removed and added in one change: two changes
//!   that should ship apart (add, switch readers, remove later);
//! - `secret`: a value the change adds that looks like a credential; the
//!   value is masked in every output (see [`Redactions`]);
//! - `wide-change`: effective values change in more than one ring at once.
//!
//! Both sides are read from git objects (or the working tree for the head),
//! never checked out.

use std::collections::BTreeSet;
use std::path::Path;

use crate::check::is_config_file;
use crate::check::secrets;
use crate::config::document::{self, Node, Value};
use crate::config::snapshot::Snapshot;
use crate::diag::{Diagnostic, Pos, Rule};
use crate::diff::classes::{changed_between, diff_snapshots};
use crate::source::Source;

/// Secret values found, so that every output can mask them.
#[derive(Debug, Default, Clone)]
pub(crate) struct Redactions {
    values: Vec<String>,
}

impl Redactions {
    pub(crate) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Replaces every secret value in `text` by its masked form; multi-line
    /// values (key blocks) are masked line by line, so snippets are covered.
    pub(crate) fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for value in &self.values {
            if value.contains('\n') {
                for line in value.lines().map(str::trim).filter(|l| l.len() >= 8) {
                    out = out.replace(line, &secrets::mask(line));
                }
            }
            out = out.replace(value.as_str(), &secrets::mask(value));
        }
        out
    }
}

/// What the change rules found.
#[derive(Debug, Default)]
pub(crate) struct ChangeFindings {
    pub diagnostics: Vec<Diagnostic>,
    pub redactions: Redactions,
}

pub(crate) fn change_rules(
    root: &Path,
    base_rev: &str,
    head_rev: Option<&str>,
) -> anyhow::Result<ChangeFindings> {
    // The change that adopts ringmaster has no manifest at its base: every
    // value is new (secrets still count); there is nothing to compare rings with.
    let adopting = crate::source::GitRevision::open(root, base_rev)
        .map_err(|e| crate::exit::Failure::usage(format!("{e:#}")))?
        .read(crate::config::manifest::MANIFEST_FILE)?
        .is_none();
    let base = if adopting {
        None
    } else {
        Some(Snapshot::open(root, Some(base_rev))?)
    };
    let head = Snapshot::open(root, head_rev)?;
    let changed = changed_between(root, base_rev, head_rev, &head)?;
    let mut found = ChangeFindings::default();
    for path in &changed {
        if !is_config_file(path) || !head.manifest.covers(path) {
            continue;
        }
        let Some((head_doc, head_text)) = read_doc(&head, path)? else {
            continue;
        };
        let base_doc = match &base {
            Some(base) => read_doc(base, path)?.map(|(doc, _)| doc),
            None => None,
        };
        let mut walker = Walker {
            file: path,
            base_file: path,
            text: &head_text,
            found: &mut found,
        };
        walker.walk(base_doc.as_ref(), &head_doc, "", None);
    }
    let Some(base) = base else {
        return Ok(found);
    };
    flag_swaps(&base, &head, &mut found.diagnostics);
    if let Some(d) = wide_change(&base, &head, &changed)? {
        found.diagnostics.push(d);
    }
    Ok(found)
}

fn read_doc(snapshot: &Snapshot, path: &str) -> anyhow::Result<Option<(Node, String)>> {
    let Some(bytes) = snapshot.source.read(path)? else {
        return Ok(None);
    };
    let parsed = document::parse_owned(path, bytes, &snapshot.manifest.limits);
    // A file that does not parse gets its own findings from the main check.
    Ok(parsed.single().cloned().zip(parsed.text.clone()))
}

struct Walker<'a> {
    file: &'a str,
    base_file: &'a str,
    /// The head file's text: a secret is masked as written there too (quotes
    /// and escapes included), so snippets never show it.
    text: &'a str,
    found: &'a mut ChangeFindings,
}

/// The source text of the scalar at `pos` to the end of its line, without a
/// trailing comment: what a snippet of that line would show.
fn raw_scalar(text: &str, pos: Pos) -> Option<String> {
    let line = text.lines().nth(pos.line.checked_sub(1)? as usize)?;
    let start = line.char_indices().nth(pos.col.checked_sub(1)? as usize)?.0;
    let rest = &line[start..];
    let rest = match rest.find(" #") {
        Some(i) if !rest.starts_with(['"', '\'']) => &rest[..i],
        _ => rest,
    };
    let rest = rest.trim_end();
    (rest.chars().count() >= 4).then(|| rest.to_owned())
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Equal, or strings that mostly agree: what a rename carries over.
fn similar_values(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Value::Str(x), Value::Str(y)) => {
            x == y || (x.len() >= 4 && similar::TextDiff::from_chars(x, y).ratio() >= 0.8)
        }
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Map(x), Value::Map(y)) if x.is_empty() || y.is_empty() => false,
        _ => a.to_json() == b.to_json(),
    }
}

impl Walker<'_> {
    /// Compares `head` with `base` (absent: everything is new) at `pointer`.
    fn walk(&mut self, base: Option<&Node>, head: &Node, pointer: &str, key: Option<&str>) {
        match (&head.value, base.map(|b| &b.value)) {
            (Value::Map(head_entries), Some(Value::Map(base_entries))) => {
                let removed: Vec<_> = base_entries
                    .iter()
                    .filter(|b| !head_entries.iter().any(|h| h.key == b.key))
                    .collect();
                for entry in head_entries {
                    let child = format!("{pointer}/{}", escape(&entry.key));
                    match base_entries.iter().find(|b| b.key == entry.key) {
                        Some(b) => {
                            self.walk(Some(&b.value), &entry.value, &child, Some(&entry.key))
                        }
                        None => {
                            if let Some(old) = removed
                                .iter()
                                .find(|r| similar_values(&r.value, &entry.value))
                            {
                                self.found.diagnostics.push(
                                    Diagnostic::new(
                                        Rule::DualChange,
                                        self.file,
                                        entry.key_pos,
                                        format!(
                                            "`{}` is added and `{}` removed in the same change, with a similar value: a rename ships both at once",
                                            entry.key, old.key
                                        ),
                                    )
                                    .with_path(child.clone())
                                    .with_related(self.base_file, old.key_pos, "removed here (at the base revision)")
                                    .with_help("add the new key first; remove the old one in a later change, once nothing reads it"),
                                );
                            }
                            self.walk(None, &entry.value, &child, Some(&entry.key));
                        }
                    }
                }
            }
            (Value::Map(head_entries), _) => {
                for entry in head_entries {
                    let child = format!("{pointer}/{}", escape(&entry.key));
                    self.walk(None, &entry.value, &child, Some(&entry.key));
                }
            }
            (Value::Seq(items), Some(Value::Seq(base_items))) => {
                for (i, item) in items.iter().enumerate() {
                    // An item already in the list (wherever it was) is not new:
                    // inserting before it must not make it "added".
                    if base_items.iter().any(|b| b.value == item.value) {
                        continue;
                    }
                    self.walk(base_items.get(i), item, &format!("{pointer}/{i}"), key);
                }
            }
            (Value::Seq(items), _) => {
                for (i, item) in items.iter().enumerate() {
                    self.walk(None, item, &format!("{pointer}/{i}"), key);
                }
            }
            (Value::Str(_) | Value::Int(_) | Value::BigInt(_) | Value::Float(_), _) => {
                let unchanged = base.is_some_and(|b| b.value == head.value);
                if unchanged {
                    return;
                }
                // A password may be all digits: numbers are checked as written.
                let text = match &head.value {
                    Value::Str(s) => s.clone(),
                    Value::Int(i) => i.to_string(),
                    Value::BigInt(text) => text.clone(),
                    Value::Float(f) => f.to_string(),
                    _ => return,
                };
                let text = &text;
                if let Some(kind) = secrets::detect(key.unwrap_or(""), text) {
                    self.found.redactions.values.push(text.clone());
                    if let Some(raw) = raw_scalar(self.text, head.pos) {
                        self.found.redactions.values.push(raw);
                    }
                    self.found.diagnostics.push(
                        Diagnostic::new(
                            Rule::Secret,
                            self.file,
                            head.pos,
                            format!(
                                "this change adds {} ({})",
                                kind.describe(),
                                secrets::mask(text)
                            ),
                        )
                        .with_path(pointer.to_owned())
                        .with_help("keep credentials out of config: reference a secret store (e.g. vault:…, ${ENV}) and rotate this one, since it is now in git history"),
                    );
                }
            }
            _ => {}
        }
    }
}

/// Flags removed and added in one change.
fn flag_swaps(base: &Snapshot, head: &Snapshot, out: &mut Vec<Diagnostic>) {
    let names = |s: &Snapshot| {
        s.flags
            .iter()
            .map(|f| f.name.clone())
            .collect::<BTreeSet<_>>()
    };
    let (old, new) = (names(base), names(head));
    let removed: Vec<_> = old.difference(&new).collect();
    if removed.is_empty() {
        return;
    }
    for flag in head.flags.iter().filter(|f| !old.contains(&f.name)) {
        let list = removed
            .iter()
            .map(|r| format!("`{r}`"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(
            Diagnostic::new(
                Rule::DualChange,
                &flag.file,
                flag.name_pos,
                format!("flag `{}` is added while {list} is removed in the same change", flag.name),
            )
            .with_path("/name")
            .with_help("add the new flag first; remove the old one in a later change, after it has been rolled out"),
        );
    }
}

fn wide_change(
    base: &Snapshot,
    head: &Snapshot,
    changed: &BTreeSet<String>,
) -> anyhow::Result<Option<Diagnostic>> {
    let report = diff_snapshots(base, head, changed, None, false)?;
    let (head, base) = (&head.manifest, &base.manifest);
    let mut rings = BTreeSet::new();
    for class in &report.classes {
        let facts = head
            .host_classes
            .get(&class.class)
            .or_else(|| base.host_classes.get(&class.class));
        if let Some(ring) = facts.and_then(|c| c.facts.get("ring")) {
            rings.insert(ring.clone());
        }
    }
    if rings.len() < 2 {
        return Ok(None);
    }
    let first = report.classes.iter().flat_map(|c| c.changes.first()).next();
    let (file, line) = first.and_then(|c| c.source.rsplit_once(':')).map_or(
        (crate::config::manifest::MANIFEST_FILE.to_owned(), 1),
        |(f, l)| (f.to_owned(), l.parse().unwrap_or(1)),
    );
    let rings: Vec<_> = rings.into_iter().collect();
    Ok(Some(
        Diagnostic::new(
            Rule::WideChange,
            file,
            Pos::new(line, 1),
            format!(
                "this change alters effective values in {} rings at once ({}), in {} host classes",
                rings.len(),
                rings.join(", "),
                report.classes.len()
            ),
        )
        .with_help("change one ring at a time: let it soak, then change the next"),
    ))
}
