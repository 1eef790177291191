//! Ansible inventories as ansible-core 2.14 reads them: INI and YAML files,
//! or a directory of them, into hosts, groups (`children` several levels
//! deep, depth and `ansible_group_priority`) and the variables the inventory
//! itself sets, each with the file and line that set it.
//!
//! What is modelled, checked against `ansible-inventory` 2.14.18:
//! - a directory is read file by file in name order, level by level; names
//!   starting with `.`, `group_vars`, `host_vars`, `vars_plugins` and names
//!   ending in INVENTORY_IGNORE_EXTS (`.ini`, `.cfg`, `.md`, `.txt`, `~`, …)
//!   are skipped, so `inventory/hosts.ini` is read when named alone and
//!   ignored inside an inventory directory, exactly as Ansible does;
//! - a file with no extension or `.yml`/`.yaml`/`.json` is tried as a YAML
//!   inventory first, then as INI (the plugins' order);
//! - every INI `key=value` (host line or `[g:vars]`) is read with Python's
//!   `ast.literal_eval` (see `pylit`); host lines are split like `shlex`;
//! - `ansible_group_priority` set in the inventory is the group's priority,
//!   not a variable; a group's depth is its longest path from `all`;
//! - a host only in `all` is in `ungrouped`, and leaves it once in a group;
//! - a file of a directory that no plugin parses is skipped with a warning,
//!   but what the plugins declared before failing stays (no rollback);
//! - `host:port` sets `ansible_port` only where the host first appears.

// A parse error ends the whole read, once: its size does not matter.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet};

use crate::config::document::{self, Entry, Limits, Node, ParseOptions, Value};
use crate::diag::{Diagnostic, Pos, Rule};
use crate::source::Source;

/// Marks a layer that is the variables the inventory file before it sets
/// for one group or host: `inventory/hosts#vars/group/web`.
pub(crate) const VARS_MARK: &str = "#vars/";

/// The most hosts one inventory may expand to (host ranges included).
const MAX_HOSTS: usize = 100_000;
/// The most groups one inventory may declare.
const MAX_GROUPS: usize = 10_000;
/// The deepest `children` nesting read.
const MAX_DEPTH: usize = 256;
/// The most variable assignments one inventory file may make (a host range
/// times the variables of its line counts in full).
const MAX_ASSIGNMENTS: usize = 1_000_000;

/// What one inventory file declares, in the order it declares it.
#[derive(Debug, Default)]
pub(crate) struct FileInventory {
    pub groups: Vec<(String, Pos)>,
    /// `(parent, child)`.
    pub edges: Vec<(String, String, Pos)>,
    /// `(host, group)`, `group` being `ungrouped` before any section.
    pub memberships: Vec<(String, String, Pos)>,
    pub group_vars: Vec<(String, Entry)>,
    pub host_vars: Vec<(String, Entry)>,
    pub priorities: Vec<(String, i64)>,
    /// `host:port` where a host first appears in this file: Ansible sets
    /// `ansible_port` when it creates the host, so only the inventory's
    /// first mention of a host counts (see [`file_vars`]).
    pub ports: Vec<(String, Entry)>,
    /// Hosts declared so far in this file.
    seen: BTreeSet<String>,
}

/// One host of an inventory.
#[derive(Debug, Clone)]
pub(crate) struct InventoryHost {
    /// Its groups in Ansible's variable order: `all`, then by depth,
    /// `ansible_group_priority` and name.
    pub groups: Vec<String>,
    /// Where it is first declared.
    pub file: String,
    pub pos: Pos,
}

/// A whole inventory.
#[derive(Debug, Clone, Default)]
pub(crate) struct Inventory {
    /// The files Ansible reads, in its order (those it skips included:
    /// what they declared before their error counts).
    pub files: Vec<String>,
    pub hosts: BTreeMap<String, InventoryHost>,
    /// Files of an inventory directory that no plugin could parse: Ansible
    /// skips them with a warning, and so does ringmaster.
    pub skipped: Vec<Diagnostic>,
}

fn error(file: &str, pos: Pos, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(Rule::Manifest, file, pos, message.into())
}

/// Whether Ansible skips this name when it walks an inventory directory
/// (IGNORED_ALWAYS, INVENTORY_IGNORE_EXTS: REJECT_EXTS + .orig .ini .cfg .retry).
fn ignored(name: &str) -> bool {
    const EXTS: [&str; 13] = [
        ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".ini",
        ".cfg", ".retry",
    ];
    name.starts_with('.')
        || matches!(name, "host_vars" | "group_vars" | "vars_plugins")
        || EXTS.iter().any(|e| name.ends_with(e))
}

/// The inventory files `path` stands for, in Ansible's order; `None` when
/// it is neither a file nor a directory here.
pub(crate) fn inventory_files(
    source: &dyn Source,
    path: &str,
) -> anyhow::Result<Option<Vec<String>>> {
    if source.size(path)?.is_some() {
        return Ok(Some(vec![path.to_owned()]));
    }
    let dir = path.trim_end_matches('/');
    if dir.is_empty() || !source.dir_exists(dir)? {
        return Ok(None);
    }
    let prefix = format!("{dir}/");
    let mut files: Vec<String> = source
        .list_dir(dir)?
        .into_iter()
        .filter(|p| {
            p.strip_prefix(&prefix)
                .is_some_and(|rel| !rel.split('/').any(ignored))
        })
        .collect();
    files.sort_by(|a, b| a.split('/').cmp(b.split('/')));
    Ok(Some(files))
}

/// The directory `group_vars/` and `host_vars/` are looked up in: the
/// inventory directory itself, or the directory of an inventory file.
pub(crate) fn vars_base(path: &str, is_file: bool) -> String {
    let path = path.trim_end_matches('/');
    if is_file {
        path.rsplit_once('/').map_or("", |(d, _)| d).to_owned()
    } else {
        path.to_owned()
    }
}

/// Python's `os.path.splitext(...)[1]` of the file name.
fn extension(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let stem = name.trim_start_matches('.');
    match stem.rfind('.') {
        Some(i) => &stem[i..],
        None => "",
    }
}

/// One inventory file as Ansible's plugins leave it: what they declared,
/// and the error that stopped them. A plugin that fails part way keeps
/// what it declared until then (Ansible does not roll back), and the next
/// plugin adds to it.
#[derive(Debug, Default)]
pub(crate) struct ParsedFile {
    pub inv: FileInventory,
    pub error: Option<Diagnostic>,
}

/// Parses one inventory file as Ansible's plugins would: YAML first for
/// names the yaml plugin accepts, then INI. `known`: the groups earlier
/// files declared (an INI `[g:children]` may name them).
pub(crate) fn parse_file(file: &str, bytes: Vec<u8>, known: &BTreeSet<String>) -> ParsedFile {
    let failed = |message: &str| ParsedFile {
        inv: FileInventory::default(),
        error: Some(error(file, Pos::START, message)),
    };
    let ext = extension(file);
    if ext == ".toml" {
        return failed("TOML inventories are not read by ringmaster; convert it to INI or YAML");
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return failed("the inventory file is not UTF-8");
    };
    let mut inv = FileInventory::default();
    let mut yaml_error = None;
    if matches!(ext, "" | ".yml" | ".yaml" | ".json") {
        match parse_yaml(file, &text, known, &mut inv) {
            Ok(()) => return ParsedFile { inv, error: None },
            Err(e) => yaml_error = Some(e),
        }
    }
    let mut known = known.clone();
    known.extend(inv.groups.iter().map(|(g, _)| g.clone()));
    let error = parse_ini(file, &text, &known, &mut inv)
        .err()
        .map(|e| match (ext, yaml_error) {
            (".yml" | ".yaml" | ".json", Some(y)) => y,
            _ => e,
        });
    ParsedFile { inv, error }
}

/// Parses `files` in order as Ansible does, each knowing the groups the
/// files before it declared (an INI `[g:vars]` or `[g:children]` may name
/// them); an unreadable or unparsable file is an error in its place.
pub(crate) fn read_all(source: &dyn Source, files: &[String]) -> Vec<(String, ParsedFile)> {
    let mut known: BTreeSet<String> = ["all", "ungrouped"].map(str::to_owned).into();
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        let too_big = source
            .size(file)
            .ok()
            .flatten()
            .is_some_and(|n| n > Limits::default().max_file_bytes);
        let contents = if too_big {
            Ok(Some(Vec::new()))
        } else {
            source.read(file)
        };
        let parsed = match contents {
            Ok(Some(_)) if too_big => ParsedFile {
                inv: FileInventory::default(),
                error: Some(Diagnostic::new(
                    Rule::Encoding,
                    file.as_str(),
                    Pos::START,
                    format!(
                        "the inventory file is over {} bytes; ringmaster does not read it",
                        Limits::default().max_file_bytes
                    ),
                )),
            },
            Ok(Some(bytes)) => parse_file(file, bytes, &known),
            Ok(None) => continue,
            Err(e) => ParsedFile {
                inv: FileInventory::default(),
                error: Some(Diagnostic::new(
                    Rule::Encoding,
                    file.as_str(),
                    Pos::START,
                    format!("cannot read the inventory file: {e}"),
                )),
            },
        };
        known.extend(parsed.inv.groups.iter().map(|(g, _)| g.clone()));
        out.push((file.clone(), parsed));
    }
    out
}

/// Reads a whole inventory: every file of `path`, then the groups' depths
/// and each host's groups in Ansible's order.
pub(crate) fn load(source: &dyn Source, path: &str) -> Result<Inventory, Vec<Diagnostic>> {
    let one = |d| vec![d];
    let files = match inventory_files(source, path) {
        Ok(Some(f)) => f,
        Ok(None) => {
            return Err(one(error(
                path,
                Pos::START,
                format!(
                    "the inventory `{path}` named by `ansible: {{inventory: …}}` does not exist at this revision"
                ),
            )));
        }
        Err(e) => {
            return Err(one(error(
                path,
                Pos::START,
                format!("cannot list the inventory: {e}"),
            )));
        }
    };
    let mut known: BTreeSet<String> = ["all", "ungrouped"].map(str::to_owned).into();
    let mut parents: BTreeMap<String, Vec<(String, Pos)>> = BTreeMap::new();
    let mut declared: BTreeMap<String, (String, Pos)> = BTreeMap::new();
    let mut priority: BTreeMap<String, i64> = BTreeMap::new();
    let mut direct: BTreeMap<String, (BTreeSet<String>, String, Pos)> = BTreeMap::new();
    let single = files.len() == 1 && files[0] == path;
    let mut skipped = Vec::new();
    let mut read_files = Vec::new();
    for (file, ParsedFile { inv, error: failed }) in read_all(source, &files) {
        match failed {
            // A file no plugin can parse: in a directory, Ansible warns and
            // goes on (keeping what the plugins declared before failing); an
            // inventory of one such file is an error.
            Some(d) if !single && d.rule != Rule::Encoding => skipped.push(d),
            Some(d) => return Err(one(d)),
            None => {}
        }
        read_files.push(file.clone());
        for (g, pos) in inv.groups {
            declared.entry(g.clone()).or_insert((file.clone(), pos));
            known.insert(g);
        }
        for (parent, child, pos) in inv.edges {
            let list = parents.entry(child).or_default();
            if !list.iter().any(|(p, _)| *p == parent) {
                list.push((parent, pos));
            }
        }
        for (g, p) in inv.priorities {
            priority.insert(g, p);
        }
        for (host, group, pos) in inv.memberships {
            direct
                .entry(host)
                .or_insert_with(|| (BTreeSet::new(), file.clone(), pos))
                .0
                .insert(group);
        }
        if known.len() > MAX_GROUPS || direct.len() > MAX_HOSTS {
            return Err(one(error(
                &file,
                Pos::START,
                format!(
                    "the inventory declares more than {MAX_GROUPS} groups or {MAX_HOSTS} hosts; ringmaster reads no more"
                ),
            )));
        }
    }
    // reconcile_inventory: a group with no parent is a child of `all`.
    parents.insert("ungrouped".into(), vec![("all".into(), Pos::START)]);
    for g in &known {
        if g != "all" && parents.get(g).is_none_or(Vec::is_empty) {
            parents.insert(g.clone(), vec![("all".into(), Pos::START)]);
        }
    }
    let depth = depths(&known, &parents, &declared)?;
    let mut hosts = BTreeMap::new();
    // Hosts mostly share their set of groups: order each set once.
    let mut ordered_for: BTreeMap<BTreeSet<String>, Vec<String>> = BTreeMap::new();
    for (name, (groups, file, pos)) in direct {
        let ordered = match ordered_for.get(&groups) {
            Some(o) => o.clone(),
            None => {
                let o = ordered_groups(&groups, &parents, &depth, &priority);
                ordered_for.insert(groups, o.clone());
                o
            }
        };
        hosts.insert(
            name,
            InventoryHost {
                groups: ordered,
                file,
                pos,
            },
        );
    }
    Ok(Inventory {
        files: read_files,
        hosts,
        skipped,
    })
}

/// A host's groups in Ansible's variable order: its groups and their
/// ancestors, `all` first, then by depth, priority and name; `ungrouped`
/// only for a host in no other group.
fn ordered_groups(
    direct: &BTreeSet<String>,
    parents: &BTreeMap<String, Vec<(String, Pos)>>,
    depth: &BTreeMap<String, usize>,
    priority: &BTreeMap<String, i64>,
) -> Vec<String> {
    let mut all: BTreeSet<&str> = BTreeSet::new();
    let mut stack: Vec<&str> = direct.iter().map(String::as_str).collect();
    while let Some(g) = stack.pop() {
        if all.insert(g)
            && let Some(ps) = parents.get(g)
        {
            stack.extend(ps.iter().map(|(p, _)| p.as_str()));
        }
    }
    all.insert("all");
    if all.iter().any(|g| !matches!(*g, "all" | "ungrouped")) {
        // A host in a real group leaves `ungrouped` (and its ancestors that
        // no other group of the host has: only `all`, which always stays).
        all.remove("ungrouped");
    } else {
        all.insert("ungrouped");
    }
    let mut ordered: Vec<String> = all.into_iter().map(str::to_owned).collect();
    ordered.sort_by(|a, b| {
        let key = |g: &String| {
            (
                depth.get(g).copied().unwrap_or(0),
                priority.get(g).copied().unwrap_or(1),
            )
        };
        key(a).cmp(&key(b)).then_with(|| a.cmp(b))
    });
    ordered
}

/// Each group's depth: its longest path from `all`. A loop in `children`
/// is an error, as in Ansible.
fn depths(
    groups: &BTreeSet<String>,
    parents: &BTreeMap<String, Vec<(String, Pos)>>,
    declared: &BTreeMap<String, (String, Pos)>,
) -> Result<BTreeMap<String, usize>, Vec<Diagnostic>> {
    let mut depth: BTreeMap<String, usize> = BTreeMap::new();
    depth.insert("all".into(), 0);
    for start in groups {
        if depth.contains_key(start) {
            continue;
        }
        // Iterative depth-first walk up the parents: `on_path` finds loops.
        let mut stack: Vec<(String, usize)> = vec![(start.clone(), 0)];
        let mut on_path: BTreeSet<String> = BTreeSet::from([start.clone()]);
        while let Some((g, next)) = stack.last().cloned() {
            let ps = parents.get(&g).map(Vec::as_slice).unwrap_or(&[]);
            if let Some((p, _)) = ps.get(next) {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                if depth.contains_key(p) {
                    continue;
                }
                if !on_path.insert(p.clone()) {
                    let (file, pos) = declared
                        .get(p)
                        .cloned()
                        .unwrap_or_else(|| (String::new(), Pos::START));
                    return Err(vec![
                        error(
                            &file,
                            pos,
                            format!(
                                "the group `{p}` is its own ancestor through `children`; Ansible refuses this recursive dependency loop"
                            ),
                        )
                        .with_help("remove one of the `children` entries that form the loop"),
                    ]);
                }
                stack.push((p.clone(), 0));
            } else {
                let d = ps
                    .iter()
                    .filter_map(|(p, _)| depth.get(p))
                    .max()
                    .map_or(1, |d| d + 1);
                if d > MAX_DEPTH {
                    let (file, pos) = declared.get(&g).cloned().unwrap_or_default();
                    return Err(vec![error(
                        &file,
                        pos,
                        format!(
                            "`children` nest deeper than {MAX_DEPTH} levels at the group `{g}`; ringmaster reads no deeper"
                        ),
                    )]);
                }
                depth.insert(g.clone(), d);
                on_path.remove(&g);
                stack.pop();
            }
        }
    }
    Ok(depth)
}

// ---------------------------------------------------------------- INI ----

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Hosts,
    Children,
    Vars,
}

enum Pending {
    Vars(Pos),
    Children(Pos, Vec<(String, Pos)>),
}

struct IniLine<'a> {
    file: &'a str,
    pos: Pos,
}

impl IniLine<'_> {
    fn error(&self, message: impl Into<String>) -> Diagnostic {
        error(self.file, self.pos, message)
    }
}

fn parse_ini(
    file: &str,
    text: &str,
    known: &BTreeSet<String>,
    inv: &mut FileInventory,
) -> Result<(), Diagnostic> {
    let mut existing = known.clone();
    let mut pending: BTreeMap<String, Pending> = BTreeMap::new();
    let mut group = "ungrouped".to_owned();
    let mut state = State::Hosts;
    for (index, raw) in py_splitlines(text).into_iter().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        let lineno = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let col = u32::try_from(raw.len() - raw.trim_start().len() + 1).unwrap_or(1);
        let at = IniLine {
            file,
            pos: Pos::new(lineno, col),
        };
        if let Some((name, tag)) = section(line) {
            state = match tag {
                None | Some("hosts") => State::Hosts,
                Some("children") => State::Children,
                Some("vars") => State::Vars,
                Some(other) => {
                    return Err(at.error(format!(
                        "Section [{name}:{other}] has unknown type: {other}"
                    )));
                }
            };
            if !existing.contains(name) {
                if state == State::Vars && !pending.contains_key(name) {
                    pending.insert(name.to_owned(), Pending::Vars(at.pos));
                }
                existing.insert(name.to_owned());
                inv.groups.push((name.to_owned(), at.pos));
            }
            if state != State::Vars {
                match pending.get(name) {
                    Some(Pending::Children(..)) => add_pending_children(name, &mut pending, inv),
                    Some(Pending::Vars(_)) => {
                        pending.remove(name);
                    }
                    None => {}
                }
            }
            group = name.to_owned();
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            return Err(at.error(format!(
                "Invalid section entry: '{line}'. Please make sure that there are no spaces in the section entry, and that there are no other invalid characters"
            )));
        }
        match state {
            State::Hosts => {
                let tokens = shlex_split(line).map_err(|e| {
                    at.error(format!("Error parsing host definition '{line}': {e}"))
                })?;
                let Some((pattern, rest)) = tokens.split_first() else {
                    return Err(at.error(format!("Error parsing host definition '{line}'")));
                };
                let (hosts, port) = expand_host_pattern(pattern).map_err(|e| at.error(e))?;
                let mut vars = Vec::new();
                for t in rest {
                    let Some((k, v)) = t.split_once('=') else {
                        return Err(at.error(format!(
                            "Expected key=value host variable assignment, got: {t}"
                        )));
                    };
                    let col = raw
                        .find(k)
                        .map_or(at.pos.col, |c| u32::try_from(c + 1).unwrap_or(1));
                    // One line's variables are a dict first: a repeated key
                    // replaces, before any set_variable.
                    let e = entry(k, v, Pos::new(lineno, col));
                    match vars.iter_mut().find(|o: &&mut Entry| o.key == e.key) {
                        Some(old) => *old = e,
                        None => vars.push(e),
                    }
                }
                for h in hosts {
                    if inv.seen.insert(h.clone())
                        && let Some(port) = port
                    {
                        inv.ports.push((
                            h.clone(),
                            Entry {
                                key: "ansible_port".into(),
                                key_pos: at.pos,
                                value: Node {
                                    value: Value::Int(port),
                                    pos: at.pos,
                                },
                            },
                        ));
                    }
                    inv.memberships.push((h.clone(), group.clone(), at.pos));
                    for v in &vars {
                        inv.host_vars.push((h.clone(), v.clone()));
                    }
                    if inv.memberships.len() > MAX_HOSTS * 4
                        || inv.host_vars.len() > MAX_ASSIGNMENTS
                    {
                        return Err(at.error(format!(
                            "more than {MAX_HOSTS} hosts or {MAX_ASSIGNMENTS} variable assignments"
                        )));
                    }
                }
            }
            State::Vars => {
                let Some((k, v)) = line.split_once('=') else {
                    return Err(at.error(format!("Expected key=value, got: {line}")));
                };
                let e = entry(k.trim(), v.trim(), at.pos);
                set_group_variable(&group, e, inv).map_err(|m| at.error(m))?;
            }
            State::Children => {
                let Some(child) = group_name(line) else {
                    return Err(at.error(format!("Expected group name, got: {line}")));
                };
                if existing.contains(child) {
                    inv.edges.push((group.clone(), child.to_owned(), at.pos));
                } else {
                    match pending.get_mut(child) {
                        Some(Pending::Children(_, parents)) => {
                            parents.push((group.clone(), at.pos))
                        }
                        Some(Pending::Vars(_)) => {}
                        None => {
                            pending.insert(
                                child.to_owned(),
                                Pending::Children(at.pos, vec![(group.clone(), at.pos)]),
                            );
                        }
                    }
                }
            }
        }
    }
    if let Some((name, p)) = pending.iter().next() {
        return Err(match p {
            Pending::Vars(pos) => error(
                file,
                *pos,
                format!("Section [{name}:vars] not valid for undefined group: {name}"),
            ),
            Pending::Children(pos, parents) => error(
                file,
                *pos,
                format!(
                    "Section [{}:children] includes undefined group: {name}",
                    parents.last().map_or("", |(p, _)| p.as_str())
                ),
            ),
        });
    }
    Ok(())
}

/// Python's `str.splitlines()`, which the INI plugin reads lines with: `\r`
/// alone, `\x0b`, `\x0c`, `\x1c`-`\x1e`, `\x85`, U+2028 and U+2029 end
/// lines too.
fn py_splitlines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let ends = matches!(
            c,
            '\n' | '\r'
                | '\x0b'
                | '\x0c'
                | '\x1c'
                | '\x1d'
                | '\x1e'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if !ends {
            continue;
        }
        out.push(&text[start..i]);
        start = i + c.len_utf8();
        if c == '\r' && chars.peek().is_some_and(|(_, n)| *n == '\n') {
            chars.next();
            start += 1;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

fn add_pending_children(
    group: &str,
    pending: &mut BTreeMap<String, Pending>,
    inv: &mut FileInventory,
) {
    let mut work = vec![group.to_owned()];
    while let Some(g) = work.pop() {
        let Some(Pending::Children(_, parents)) = pending.remove(&g) else {
            continue;
        };
        for (parent, pos) in parents {
            inv.edges.push((parent.clone(), g.clone(), pos));
            if matches!(pending.get(&parent), Some(Pending::Children(..))) {
                work.push(parent);
            }
        }
    }
}

/// `[name]` or `[name:tag]`, with an optional trailing `# comment`.
fn section(line: &str) -> Option<(&str, Option<&str>)> {
    let rest = line.strip_prefix('[')?;
    let close = rest.find(']')?;
    let inside = &rest[..close];
    let after = rest[close + 1..].trim_start();
    if !(after.is_empty() || after.starts_with('#')) {
        return None;
    }
    let (name, tag) = match inside.split_once(':') {
        Some((n, t)) => (n, Some(t)),
        None => (inside, None),
    };
    let name_ok =
        !name.is_empty() && !name.contains(|c: char| c == ':' || c == ']' || c.is_whitespace());
    let tag_ok =
        tag.is_none_or(|t| !t.is_empty() && t.chars().all(|c| c.is_alphanumeric() || c == '_'));
    (name_ok && tag_ok).then_some((name, tag))
}

/// A `[g:children]` line: one group name, an optional `# comment`.
fn group_name(line: &str) -> Option<&str> {
    let end = line
        .find(|c: char| c == ':' || c == ']' || c.is_whitespace())
        .unwrap_or(line.len());
    let name = &line[..end];
    let rest = line[end..].trim_start();
    (!name.is_empty() && (rest.is_empty() || rest.starts_with('#'))).then_some(name)
}

fn entry(key: &str, text: &str, pos: Pos) -> Entry {
    let value = super::pylit::literal_eval(text, pos).unwrap_or_else(|| Node {
        value: Value::Str(text.to_owned()),
        pos,
    });
    Entry {
        key: key.to_owned(),
        key_pos: pos,
        value,
    }
}

/// Group.set_variable: `ansible_group_priority` is the priority (Python's
/// `int()` of the value), anything else a variable.
fn set_group_variable(group: &str, e: Entry, inv: &mut FileInventory) -> Result<(), String> {
    if e.key != "ansible_group_priority" {
        inv.group_vars.push((group.to_owned(), e));
        return Ok(());
    }
    let p = match &e.value.value {
        Value::Int(i) => Some(*i),
        Value::Bool(b) => Some(i64::from(*b)),
        #[allow(clippy::cast_possible_truncation)]
        Value::Float(f) if f.is_finite() && f.abs() < 9.0e18 => Some(f.trunc() as i64),
        Value::Str(s) => s.trim().replace('_', "").parse::<i64>().ok(),
        _ => None,
    };
    let Some(p) = p else {
        return Err(format!(
            "ansible_group_priority of `{group}` must be an integer (Ansible applies int() to it)"
        ));
    };
    inv.priorities.push((group.to_owned(), p));
    Ok(())
}

/// Python's `shlex.split(line, comments=True)` (POSIX mode).
fn shlex_split(line: &str) -> Result<Vec<String>, &'static str> {
    let mut tokens = Vec::new();
    let mut current: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_ascii_whitespace() => {
                if let Some(t) = current.take() {
                    tokens.push(t);
                }
            }
            '#' => break,
            '\'' => {
                let t = current.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => t.push(c),
                        None => return Err("No closing quotation"),
                    }
                }
            }
            '"' => {
                let t = current.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('\\' | '"' | '$' | '`' | '\n')) => t.push(e),
                            Some(e) => {
                                t.push('\\');
                                t.push(e);
                            }
                            None => return Err("No closing quotation"),
                        },
                        Some(c) => t.push(c),
                        None => return Err("No closing quotation"),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(e) => current.get_or_insert_with(String::new).push(e),
                None => return Err("No escaped character"),
            },
            c => current.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(t) = current {
        tokens.push(t);
    }
    Ok(tokens)
}

/// A host pattern: `name`, `name:port`, `[v6]:port`, with `[a:b(:step)]`
/// ranges expanded (`web[01:03]`, `db-[a:c]`).
fn expand_host_pattern(pattern: &str) -> Result<(Vec<String>, Option<i64>), String> {
    let (host, port) = split_port(pattern);
    if pattern.trim_end().ends_with(':') && port.is_none() {
        return Err(format!(
            "Invalid host pattern '{pattern}' supplied, ending in ':' is not allowed, this character is reserved to provide a port."
        ));
    }
    let mut out = Vec::new();
    if host.contains('[') {
        expand_range(host, &mut out)?;
    } else {
        out.push(host.to_owned());
    }
    if out.iter().any(|h| h.trim() == "---") {
        return Err(format!(
            "Invalid host pattern '{pattern}' supplied, '---' is normally a sign this is a YAML file."
        ));
    }
    if out.iter().any(String::is_empty) {
        return Err("Invalid empty host name provided".into());
    }
    Ok((out, port))
}

/// parse_address's `bracketed_hostport` and `hostport` patterns.
fn split_port(pattern: &str) -> (&str, Option<i64>) {
    let Some((host, port)) = pattern.rsplit_once(':') else {
        return (pattern, None);
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return (pattern, None);
    }
    let Ok(port) = port.parse::<i64>() else {
        return (pattern, None);
    };
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'))
        && !inner.is_empty()
        && !inner.contains('[')
    {
        return (inner, Some(port));
    }
    // `host` may hold `:` only inside complete `[...]`.
    let mut depth = 0;
    for c in host.chars() {
        match c {
            '[' if depth == 0 => depth = 1,
            ']' if depth == 1 => depth = 0,
            '[' | ']' => return (pattern, None),
            ':' if depth == 0 => return (pattern, None),
            _ => {}
        }
    }
    if depth != 0 {
        return (pattern, None);
    }
    (host, Some(port))
}

fn expand_range(line: &str, out: &mut Vec<String>) -> Result<(), String> {
    let bad = |m: &str| format!("host range `{line}`: {m}");
    let (head, rest) = line.split_once('[').ok_or_else(|| bad("no `[`"))?;
    let (range, tail) = rest.split_once(']').ok_or_else(|| bad("no `]`"))?;
    if head.contains('|') || range.contains('|') || tail.contains('|') {
        return Err(bad("`|` is not allowed in a host range line"));
    }
    let bounds: Vec<&str> = range.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err(bad("host range must be begin:end or begin:end:step"));
    }
    let beg = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err(bad("host range must specify end value"));
    }
    let step: i64 = match bounds.get(2) {
        Some(s) => s
            .trim()
            .parse()
            .map_err(|_| bad("the step is not a number"))?,
        None => 1,
    };
    let width = (beg.starts_with('0') && beg.len() > 1).then_some(beg.len());
    if width.is_some_and(|w| w != end.len()) {
        return Err(bad(
            "host range must specify equal-length begin and end formats",
        ));
    }
    const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut items: Vec<String> = Vec::new();
    match (LETTERS.find(beg), LETTERS.find(end)) {
        (Some(b), Some(e)) if beg.len() == 1 && end.len() == 1 && step > 0 => {
            if b > e {
                return Err(bad("host range must have begin <= end"));
            }
            let step = usize::try_from(step).map_err(|_| bad("bad step"))?;
            items.extend(LETTERS[b..=e].chars().step_by(step).map(String::from));
        }
        _ => {
            let b: i64 = beg
                .trim()
                .parse()
                .map_err(|_| bad("not a numeric or letter range"))?;
            let e: i64 = end
                .trim()
                .parse()
                .map_err(|_| bad("not a numeric or letter range"))?;
            if step <= 0 {
                return Err(bad("the step must be positive"));
            }
            let count = if e < b { 0 } else { (e - b) / step + 1 };
            if usize::try_from(count).map_or(true, |c| c + out.len() > MAX_HOSTS) {
                return Err(bad(&format!("expands to more than {MAX_HOSTS} hosts")));
            }
            let mut i = b;
            while i <= e {
                items.push(match width {
                    Some(w) => format!("{i:0w$}"),
                    None => i.to_string(),
                });
                i += step;
            }
        }
    }
    for item in items {
        let name = format!("{head}{item}{tail}");
        if out.len() >= MAX_HOSTS {
            return Err(bad(&format!("expands to more than {MAX_HOSTS} hosts")));
        }
        if name.contains('[') {
            expand_range(&name, out)?;
        } else {
            out.push(name);
        }
    }
    Ok(())
}

// --------------------------------------------------------------- YAML ----

/// YAML as PyYAML reads it for Ansible: 1.1 scalars, the last duplicate wins.
pub(crate) fn ansible_yaml(file: &str, text: &str) -> document::Parsed {
    document::parse_with(
        file,
        text.as_bytes().to_vec(),
        &Limits::default(),
        ParseOptions::TOOLS,
    )
}

fn parse_yaml(
    file: &str,
    text: &str,
    known: &BTreeSet<String>,
    inv: &mut FileInventory,
) -> Result<(), Diagnostic> {
    let parsed = ansible_yaml(file, text);
    if let Some(d) = parsed
        .diagnostics
        .iter()
        .find(|d| d.severity == crate::diag::Severity::Error)
    {
        return Err(d.clone());
    }
    if parsed.docs.len() > 1 {
        return Err(error(
            file,
            parsed.docs[1].pos,
            "a YAML inventory holds one document",
        ));
    }
    let Some(root) = parsed.single() else {
        return Err(error(file, Pos::START, "Parsed empty YAML file"));
    };
    let Value::Map(entries) = &root.value else {
        return Err(error(
            file,
            root.pos,
            "YAML inventory has invalid structure, it should be a dictionary",
        ));
    };
    if entries.is_empty() {
        return Err(error(file, root.pos, "Parsed empty YAML file"));
    }
    if entries
        .iter()
        .any(|e| e.key == "plugin" && !matches!(e.value.value, Value::Null | Value::Bool(false)))
    {
        return Err(error(
            file,
            root.pos,
            "this is an inventory plugin's configuration (`plugin:`), not an inventory; ringmaster reads INI and YAML inventories only",
        ));
    }
    for e in entries {
        yaml_group(file, &e.key, e.key_pos, &e.value, known, inv)?;
    }
    Ok(())
}

fn yaml_group(
    file: &str,
    name: &str,
    pos: Pos,
    data: &Node,
    known: &BTreeSet<String>,
    inv: &mut FileInventory,
) -> Result<(), Diagnostic> {
    let entries = match &data.value {
        Value::Map(e) => e.as_slice(),
        Value::Null => &[],
        // "Skipping '...' as this is not a valid group definition".
        _ => return Ok(()),
    };
    inv.groups.push((name.to_owned(), pos));
    if inv.groups.len() > MAX_GROUPS {
        return Err(error(file, pos, format!("more than {MAX_GROUPS} groups")));
    }
    for e in entries {
        let single;
        // A section written as one string is a map of that name to null.
        let section: &[Entry] = match &e.value.value {
            Value::Str(s) if matches!(e.key.as_str(), "vars" | "children" | "hosts") => {
                single = [Entry {
                    key: s.clone(),
                    key_pos: e.value.pos,
                    value: Node {
                        value: Value::Null,
                        pos: e.value.pos,
                    },
                }];
                &single
            }
            Value::Map(m) => m,
            Value::Null => continue,
            _ if matches!(e.key.as_str(), "vars" | "children" | "hosts") => {
                return Err(error(
                    file,
                    e.value.pos,
                    format!(
                        "Invalid \"{}\" entry for \"{name}\" group, requires a dictionary, found {} instead.",
                        e.key,
                        e.value.value.kind_name()
                    ),
                ));
            }
            // Ansible skips other keys with a warning.
            _ => continue,
        };
        match e.key.as_str() {
            "vars" => {
                for v in section {
                    set_group_variable(name, v.clone(), inv)
                        .map_err(|m| error(file, v.key_pos, m))?;
                }
            }
            "children" => {
                for c in section {
                    yaml_group(file, &c.key, c.key_pos, &c.value, known, inv)?;
                    // A child that is no group definition (`other: [1]`) must
                    // name a group or host already known, else the file fails.
                    let is_group =
                        |g: &str| known.contains(g) || inv.groups.iter().any(|(n, _)| n == g);
                    if !matches!(c.value.value, Value::Map(_) | Value::Null)
                        && !is_group(&c.key)
                        && !inv.seen.contains(&c.key)
                    {
                        return Err(error(
                            file,
                            c.key_pos,
                            format!("{} is not a known host nor group", c.key),
                        ));
                    }
                    inv.edges.push((name.to_owned(), c.key.clone(), c.key_pos));
                }
            }
            "hosts" => {
                for h in section {
                    let (hosts, port) =
                        expand_host_pattern(&h.key).map_err(|m| error(file, h.key_pos, m))?;
                    let vars: &[Entry] = match &h.value.value {
                        Value::Map(m) => m,
                        Value::Null => &[],
                        other => {
                            return Err(error(
                                file,
                                h.value.pos,
                                format!(
                                    "Invalid data from file, expected dictionary and got a {}",
                                    other.kind_name()
                                ),
                            ));
                        }
                    };
                    for host in hosts {
                        if inv.seen.insert(host.clone())
                            && let Some(port) = port
                        {
                            inv.ports.push((
                                host.clone(),
                                Entry {
                                    key: "ansible_port".into(),
                                    key_pos: h.key_pos,
                                    value: Node {
                                        value: Value::Int(port),
                                        pos: h.key_pos,
                                    },
                                },
                            ));
                        }
                        inv.memberships
                            .push((host.clone(), name.to_owned(), h.key_pos));
                        for v in vars {
                            inv.host_vars.push((host.clone(), v.clone()));
                        }
                        if inv.memberships.len() > MAX_HOSTS * 4
                            || inv.host_vars.len() > MAX_ASSIGNMENTS
                        {
                            return Err(error(
                                file,
                                h.key_pos,
                                format!("more than {MAX_HOSTS} hosts"),
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

// ------------------------------------------------- inventory var layers ----

/// Whether a layer is a group's or a host's inventory variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarsOf {
    Group,
    Host,
    /// The variables `ansible-inventory` leaves out of what it prints
    /// (its INTERNAL_VARS): a last layer knocks them out.
    Internal,
}

/// The name of the [`VarsOf::Internal`] layer: `inventory/hosts#vars/internal/ansible-inventory`.
pub(crate) const INTERNAL_LAYER: &str = "internal/ansible-inventory";

/// ansible-core 2.14's `cli/inventory.py` INTERNAL_VARS.
const INTERNAL_VARS: [&str; 19] = [
    "ansible_diff_mode",
    "ansible_config_file",
    "ansible_facts",
    "ansible_forks",
    "ansible_inventory_sources",
    "ansible_limit",
    "ansible_playbook_python",
    "ansible_run_tags",
    "ansible_skip_tags",
    "ansible_verbosity",
    "ansible_version",
    "inventory_dir",
    "inventory_file",
    "inventory_hostname",
    "inventory_hostname_short",
    "groups",
    "group_names",
    "omit",
    "playbook_dir",
];

/// Splits `inventory/hosts#vars/group/web` into its inventory file (or
/// directory), whose variables, and the group's or host's name.
pub(crate) fn vars_layer(path: &str) -> Option<(&str, VarsOf, &str)> {
    let (file, rest) = path.split_once(VARS_MARK)?;
    let (kind, name) = rest.split_once('/')?;
    let kind = match kind {
        "group" => VarsOf::Group,
        "host" => VarsOf::Host,
        "internal" if name == "ansible-inventory" => VarsOf::Internal,
        _ => return None,
    };
    (!file.is_empty() && !name.is_empty()).then_some((file, kind, name))
}

/// For a template naming an inventory directory's variables
/// (`inventory#vars/group/web`), the same layer of each of its files, in
/// Ansible's order; `None` when `expanded` is no such layer.
pub(crate) fn list_vars_layers(
    expanded: &str,
    source: &dyn Source,
) -> Option<anyhow::Result<Vec<String>>> {
    let (inventory, kind, _) = vars_layer(expanded)?;
    if kind == VarsOf::Internal {
        return Some(Ok(vec![expanded.to_owned()]));
    }
    let suffix = &expanded[inventory.len()..];
    Some(inventory_files(source, inventory).map(|files| {
        files
            .unwrap_or_default()
            .into_iter()
            .map(|f| format!("{f}{suffix}"))
            .collect()
    }))
}

struct FileVars {
    groups: BTreeMap<String, Node>,
    hosts: BTreeMap<String, Node>,
}

/// The variables one inventory file sets, per group and per host, each a
/// mapping whose keys carry the line that set them (the last assignment
/// wins, as Ansible's `set_variable` replaces). `seen`: the hosts earlier
/// files declared; a `host:port` counts only where a host first appears.
fn file_vars(inv: FileInventory, seen: &mut BTreeSet<String>, merge: bool) -> FileVars {
    // set_variable: a dict set again on the same group or host merges into
    // the first under hash_behaviour=merge; anything else replaces.
    let fold = |list: Vec<(String, Entry)>| {
        let mut out: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
        for (owner, e) in list {
            let entries = out.entry(owner).or_default();
            if let Some(old) = entries.iter_mut().find(|o| o.key == e.key) {
                if merge {
                    merge_hash(&mut old.value, e.value);
                    old.key_pos = e.key_pos;
                } else {
                    *old = e;
                }
            } else {
                entries.push(e);
            }
        }
        out
    };
    let mut host_vars = Vec::with_capacity(inv.ports.len() + inv.host_vars.len());
    // The port is set when the host is created, before its other variables.
    host_vars.extend(inv.ports.into_iter().filter(|(h, _)| !seen.contains(h)));
    host_vars.extend(inv.host_vars);
    seen.extend(inv.memberships.into_iter().map(|(h, _, _)| h));
    let map = |m: BTreeMap<String, Vec<Entry>>| {
        m.into_iter()
            .map(|(k, entries)| {
                let node = Node {
                    value: Value::Map(entries),
                    pos: Pos::START,
                };
                (k, node)
            })
            .collect()
    };
    FileVars {
        groups: map(fold(inv.group_vars)),
        hosts: map(fold(host_vars)),
    }
}

/// Whether the repo's `ansible.cfg` (where `ansible-inventory` run at the
/// repo root reads it) sets `hash_behaviour = merge`: dicts merged at every
/// depth, anything else replaced (Ansible's `merge_hash`, list_merge=replace),
/// rather than a top-level variable replaced whole (`replace`, the default).
pub(crate) fn hash_merge(source: &dyn Source) -> bool {
    let Ok(Some(bytes)) = source.read(ANSIBLE_CFG) else {
        return false;
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut in_defaults = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_defaults = line.eq_ignore_ascii_case("[defaults]");
            continue;
        }
        if !in_defaults || line.starts_with(['#', ';']) {
            continue;
        }
        let Some((key, value)) = line.split_once(['=', ':']) else {
            continue;
        };
        if key.trim().eq_ignore_ascii_case("hash_behaviour") {
            return value.trim() == "merge";
        }
    }
    false
}

/// Ansible's configuration file, read from the repo root.
pub(crate) const ANSIBLE_CFG: &str = "ansible.cfg";

/// Ansible's `merge_hash` (list_merge=replace): maps merge key by key at
/// every depth, anything else replaces.
fn merge_hash(into: &mut Node, new: Node) {
    match (&mut into.value, new.value) {
        (Value::Map(old), Value::Map(entries)) => {
            for e in entries {
                match old.iter_mut().find(|o| o.key == e.key) {
                    Some(o) => merge_hash(&mut o.value, e.value),
                    None => old.push(e),
                }
            }
        }
        (_, value) => {
            *into = Node {
                value,
                pos: new.pos,
            }
        }
    }
}

/// Gives each `#vars/` layer its mapping. The files they name are parsed in
/// Ansible's order, all of them, as [`load`] does (a template over an
/// inventory directory lists every file of it for every class), so which
/// groups earlier files declared, which host a port belongs to, and which
/// files Ansible skips are the same here. A file that does not set a
/// group's or host's variables gives no layer.
pub(crate) fn load_vars_layers(
    source: &dyn Source,
    layers: &BTreeSet<&String>,
) -> anyhow::Result<BTreeMap<String, std::sync::Arc<document::Parsed>>> {
    use std::sync::Arc;
    let mut by_file: BTreeMap<&str, Vec<(&String, VarsOf, &str)>> = BTreeMap::new();
    // `effective::Layers`, which imports this module.
    let mut out = BTreeMap::new();
    for path in layers {
        match vars_layer(path) {
            Some((_, VarsOf::Internal, _)) => {
                let entries = INTERNAL_VARS
                    .iter()
                    .map(|key| Entry {
                        key: (*key).to_owned(),
                        key_pos: Pos::START,
                        value: Node {
                            value: Value::Unset,
                            pos: Pos::START,
                        },
                    })
                    .collect();
                let parsed = document::Parsed {
                    text: None,
                    docs: vec![Node {
                        value: Value::Map(entries),
                        pos: Pos::START,
                    }],
                    diagnostics: Vec::new(),
                };
                out.insert((*path).clone(), Arc::new(parsed));
            }
            Some((file, kind, name)) => by_file.entry(file).or_default().push((path, kind, name)),
            None => {}
        }
    }
    let mut files: Vec<String> = by_file.keys().map(|f| (*f).to_owned()).collect();
    files.sort_by(|a, b| a.split('/').cmp(b.split('/')));
    let mut seen = BTreeSet::new();
    let merge = hash_merge(source);
    for (file, parsed) in read_all(source, &files) {
        // What a failing file declared before its error counts, as in `load`.
        let mut vars = file_vars(parsed.inv, &mut seen, merge);
        let text = match source.read(&file) {
            Ok(Some(bytes)) => String::from_utf8(bytes).ok(),
            _ => None,
        };
        for (path, kind, name) in by_file.get(file.as_str()).into_iter().flatten() {
            let found = match kind {
                VarsOf::Group => vars.groups.remove(*name),
                VarsOf::Host => vars.hosts.remove(*name),
                VarsOf::Internal => None,
            };
            if let Some(node) = found {
                let parsed = document::Parsed {
                    text: text.clone(),
                    docs: vec![node],
                    diagnostics: Vec::new(),
                };
                out.insert((*path).clone(), Arc::new(parsed));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ini(text: &str) -> FileInventory {
        let known: BTreeSet<String> = ["all", "ungrouped"].map(str::to_owned).into();
        let mut inv = FileInventory::default();
        match parse_ini("h", text, &known, &mut inv) {
            Ok(()) => inv,
            Err(e) => panic!("{}", e.message),
        }
    }

    #[test]
    fn host_ranges_expand_as_ansible_does() {
        let hosts = |p: &str| expand_host_pattern(p).map(|(h, _)| h);
        assert_eq!(
            hosts("web[01:03]").ok(),
            Some(vec!["web01".into(), "web02".into(), "web03".into()])
        );
        assert_eq!(
            hosts("db-[a:c]").ok(),
            Some(vec!["db-a".into(), "db-b".into(), "db-c".into()])
        );
        assert_eq!(
            hosts("x[0:4:2]").ok(),
            Some(vec!["x0".into(), "x2".into(), "x4".into()])
        );
        assert_eq!(
            expand_host_pattern("h:2222").ok(),
            Some((vec!["h".into()], Some(2222)))
        );
        assert!(hosts("x[0:99999999]").is_err());
        assert!(hosts("x[01:9]").is_err());
        assert!(hosts("h:").is_err());
    }

    #[test]
    fn ini_sections_hosts_and_vars() {
        let inv = ini(
            "a x=1 'y=two words' # c\n[web]\nb\n[web:vars]\nz = [1, 2]\nansible_group_priority=4\n[top:children]\nweb\n[top]\n",
        );
        assert_eq!(inv.memberships.len(), 2);
        assert_eq!(inv.host_vars.len(), 2);
        assert_eq!(
            inv.host_vars[1].1.value.value,
            Value::Str("two words".into())
        );
        assert_eq!(inv.priorities, vec![("web".to_owned(), 4)]);
        assert_eq!(inv.edges.len(), 1);
        let known: BTreeSet<String> = BTreeSet::new();
        let mut inv = FileInventory::default();
        assert!(parse_ini("h", "[g:vars]\nx=1\n", &known, &mut inv).is_err());
        assert!(parse_ini("h", "[g:children]\nnope\n", &known, &mut inv).is_err());
    }

    #[test]
    fn lines_split_as_python_splits_them() {
        assert_eq!(py_splitlines("a\r\nb\rc\n\nd"), ["a", "b", "c", "", "d"]);
        assert_eq!(py_splitlines("a\n"), ["a"]);
    }

    #[test]
    fn shlex_follows_posix_rules() {
        assert_eq!(
            shlex_split(r#"h a="b c" d='e f' g=h\ i j#k l"#).ok(),
            Some(vec![
                "h".into(),
                "a=b c".into(),
                "d=e f".into(),
                "g=h i".into(),
                "j".into()
            ])
        );
        assert!(shlex_split("h a='b").is_err());
    }
}
