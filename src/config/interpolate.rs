//! `interpolation: hiera`: Hiera 5's `%{...}` tokens in values, resolved
//! after the merge, as Puppet resolves them on lookup.
//!
//! Tokens (Puppet's "Interpolation" and "Interpolation functions" pages):
//! `%{facts.x}`, `%{facts.a.b}`, `%{::x}` and `%{x}` (a top-scope variable:
//! here, the class's fact), `%{trusted.certname}` (the `trusted` fact),
//! `%{scope('x')}`, `%{lookup('k')}` / `%{hiera('k')}` (the effective value
//! of `k` as text: a list or a mapping as Ruby prints it, `["a", 1]`;
//! `a.b.0` digs into hashes and arrays), `%{alias('k')}` (the whole value of
//! `k` keeping its type; only when the string is that one token) and
//! `%{literal('%')}`. A variable that is not set interpolates as the empty
//! string, and so does a key that is not set.
//!
//! Under Hiera's own lookup (`merge: {lookup_options: data}`, written by
//! `ringmaster import hiera`) each level's value is interpolated before the
//! merge instead, `lookup` and `alias` included, and top-level keys are
//! lookup keys taken as written (Puppet 7.23).
//!
//! Bounded on hostile input: a cycle (`a` → `b` → `a`), lookups nested
//! deeper than [`MAX_DEPTH`] and a string growing past [`MAX_BYTES`] are
//! each an `interpolation` finding at the value's file and line, and the
//! value stays as written. Each key is resolved once per class.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::KeyPath;
use crate::config::document::{Entry, Node, Value};
use crate::config::effective::{
    EffNode, EffValue, EffectiveConfig, HieraHook, Layers, TraceDepth, Unrenderable,
    merge_class_with,
};
use crate::config::manifest::{HostClass, Manifest};
use crate::config::merge::{HieraLayer, HieraLookup};
use crate::diag::{Diagnostic, Pos, Rule};

/// How deep `lookup`/`alias` may chain (a key whose value looks up a key …).
pub(crate) const MAX_DEPTH: usize = 32;
/// The longest string interpolation may build (1 MiB).
pub(crate) const MAX_BYTES: usize = 1 << 20;

pub use crate::config::layers::Interpolation;

/// A class's effective config as its tool computes it: each layer's fact
/// tokens resolved before it is merged (Hiera reads each level so), then the
/// merge, then the tokens that need the merged values (`lookup`, `alias`).
/// Without `interpolation: hiera` this is the plain merge.
pub(crate) fn merge_interpolated(
    manifest: &Manifest,
    class: &HostClass,
    layers: &Layers,
    trace: TraceDepth,
) -> Result<(EffectiveConfig, Vec<Diagnostic>), Unrenderable> {
    // Hiera's own lookup interpolates each level's values itself (below).
    let prepare = |doc: &_| {
        if manifest.merge.lookup_options_from_data {
            None
        } else {
            facts_in_layer(manifest, class, doc)
        }
    };
    // Under Hiera's own lookup each level's value is interpolated before the
    // merge, `lookup()` and `alias()` included, as Puppet does: an alias in
    // common.yaml is a mapping by the time a deep merge meets it.
    let hiera = |layers: &[HieraLayer<'_>],
                 root: &mut Vec<(String, EffNode)>,
                 findings: &mut Vec<Diagnostic>| {
        hiera_lookup(manifest, class, layers, root, findings);
    };
    let hook: Option<&HieraHook<'_>> =
        (manifest.interpolation == Interpolation::Hiera).then_some(&hiera);
    let (mut config, mut findings) =
        merge_class_with(manifest, class, layers, &prepare, hook, trace)?;
    if !(manifest.merge.lookup_options_from_data && hook.is_some()) {
        apply(manifest, class, &mut config, &mut findings);
    }
    Ok((config, findings))
}

/// Every key of the class's levels looked up as Puppet does: each level's
/// value interpolated, then merged as `lookup_options` say.
fn hiera_lookup(
    manifest: &Manifest,
    class: &HostClass,
    layers: &[HieraLayer<'_>],
    root: &mut Vec<(String, EffNode)>,
    findings: &mut Vec<Diagnostic>,
) {
    let lookup = HieraLookup::new(&class.name, layers, findings);
    let mut resolver = Resolver {
        original: &[],
        class,
        cache: BTreeMap::new(),
        stack: Vec::new(),
        findings: Vec::new(),
        hiera: Some(&lookup),
        hiera_cache: std::collections::HashMap::new(),
    };
    let _ = manifest;
    let keys = lookup.keys();
    for key in &keys {
        // A top-level key is never inside a cycle of its own: no error here.
        let _ = resolver.hiera_root(&lookup, key);
    }
    for key in keys {
        if let Some(Some(value)) = resolver.hiera_cache.remove(key) {
            root.push((key.to_owned(), value));
        }
    }
    let mut seen = Vec::new();
    for d in resolver.findings {
        if !seen.contains(&d) {
            seen.push(d);
        }
    }
    findings.extend(seen);
}

/// Resolves every token in `config` for `class`, when the manifest asks for it.
pub(crate) fn apply(
    manifest: &Manifest,
    class: &HostClass,
    config: &mut EffectiveConfig,
    findings: &mut Vec<Diagnostic>,
) {
    if manifest.interpolation != Interpolation::Hiera || !has_token(&config.root) {
        return;
    }
    let original = config.root.clone();
    let mut resolver = Resolver {
        original: &original,
        class,
        cache: BTreeMap::new(),
        stack: Vec::new(),
        findings: Vec::new(),
        hiera: None,
        hiera_cache: std::collections::HashMap::new(),
    };
    for (key, node) in config.root.iter_mut() {
        resolver.stack.push(key.clone());
        resolver.node(node, &KeyPath::new(vec![key.clone()]));
        resolver.stack.pop();
    }
    // A key resolved for a lookup and again in its own place reports once.
    let mut seen = Vec::new();
    for d in resolver.findings {
        if !seen.contains(&d) {
            seen.push(d);
        }
    }
    findings.extend(seen);
}

fn has_token(children: &[(String, EffNode)]) -> bool {
    children
        .iter()
        .any(|(k, n)| k.contains("%{") || node_has_token(n))
}

/// Whether an effective node holds a `%{` in a value or a key below it.
fn node_has_token(node: &EffNode) -> bool {
    fn in_node(node: &Node) -> bool {
        match &node.value {
            Value::Str(s) => s.contains("%{"),
            Value::Seq(items) => items.iter().any(in_node),
            Value::Map(entries) => entries
                .iter()
                .any(|e| e.key.contains("%{") || in_node(&e.value)),
            _ => false,
        }
    }
    match &node.value {
        EffValue::Map(c) => has_token(c),
        EffValue::Leaf(leaf) => in_node(leaf),
    }
}

/// Why a string could not be interpolated; the finding says it.
struct Problem(String);

/// Why resolving `key` now would loop or nest too deep, given the keys being
/// resolved (`stack`, outermost first): with where the cycle starts.
fn recursion_problem(stack: &[String], key: &str) -> Option<(Option<usize>, Problem)> {
    if let Some(at) = stack.iter().position(|k| k == key) {
        let chain: Vec<String> = stack[at..]
            .iter()
            .map(String::as_str)
            .chain([key])
            .map(|k| format!("`{}`", shown(k)))
            .collect();
        return Some((
            Some(at),
            Problem(format!("interpolation cycle: {}", chain.join(" → "))),
        ));
    }
    (stack.len() >= MAX_DEPTH).then(|| {
        (
            None,
            Problem(format!(
                "lookups nest deeper than {MAX_DEPTH} keys at `{}`",
                shown(key)
            )),
        )
    })
}

/// What a key resolves to: its interpolated value, or not set.
#[derive(Clone)]
enum Resolved {
    Value(EffValue),
    NotSet,
    /// Resolving it failed; the failure was reported where it happened.
    Failed,
}

struct Resolver<'a> {
    original: &'a [(String, EffNode)],
    class: &'a HostClass,
    cache: BTreeMap<String, Resolved>,
    /// The keys being resolved, outermost first: a key met again is a cycle.
    stack: Vec<String>,
    findings: Vec<Diagnostic>,
    /// Hiera's own lookup: a key is looked up level by level, each level's
    /// value interpolated before the merge (`original` is not used then).
    hiera: Option<&'a HieraLookup<'a>>,
    /// Each top-level key's looked-up value (`None`: not found).
    hiera_cache: std::collections::HashMap<String, Option<EffNode>>,
}

/// One parsed `%{...}` token.
enum Token<'t> {
    Variable(&'t str),
    Lookup(&'t str),
    Alias(&'t str),
    Literal(&'t str),
}

/// Splits `text` into literal parts and tokens. `Err` for a token Hiera
/// refuses (an unknown function, an unclosed `%{`).
fn tokens(text: &str) -> Result<Vec<Result<&str, Token<'_>>>, Problem> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("%{") {
        if open > 0 {
            out.push(Ok(&rest[..open]));
        }
        let after = &rest[open + 2..];
        // Puppet's pattern is `%\{([^\}]*)\}`: an unclosed `%{` is text.
        let Some(close) = after.find('}') else {
            out.push(Ok(&rest[open..]));
            return Ok(out);
        };
        out.push(Err(token(after[..close].trim())?));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Ok(rest));
    }
    Ok(out)
}

fn token(inner: &str) -> Result<Token<'_>, Problem> {
    let Some(open) = inner.find('(') else {
        return Ok(Token::Variable(inner));
    };
    let name = inner[..open].trim();
    let arg = inner[open + 1..]
        .strip_suffix(')')
        .map(str::trim)
        .and_then(|a| {
            a.strip_prefix('\'')
                .and_then(|a| a.strip_suffix('\''))
                .or_else(|| a.strip_prefix('"').and_then(|a| a.strip_suffix('"')))
        })
        .ok_or_else(|| {
            Problem(format!(
                "`%{{{}}}` is not a call with one quoted argument",
                shown(inner)
            ))
        })?;
    match name {
        "lookup" | "hiera" => Ok(Token::Lookup(arg)),
        "alias" => Ok(Token::Alias(arg)),
        "literal" => Ok(Token::Literal(arg)),
        "scope" => Ok(Token::Variable(arg)),
        other => Err(Problem(format!(
            "`{}` is not a Hiera interpolation function (lookup, hiera, alias, literal, scope)",
            shown(other)
        ))),
    }
}

fn shown(text: &str) -> String {
    crate::config::boundary::shown(text)
}

impl Resolver<'_> {
    /// Interpolates one effective node in place; `path` is its key path.
    fn node(&mut self, node: &mut EffNode, path: &KeyPath) {
        let file = node.origin.file.clone();
        match &mut node.value {
            EffValue::Map(children) => {
                for (key, child) in children.iter_mut() {
                    let child_path = path.child(key);
                    self.node(child, &child_path);
                }
                let mut renamed = false;
                for (key, child) in children.iter_mut() {
                    if let Some(done) =
                        self.map_key(key, &child.origin.file, child.origin.key_pos, path)
                    {
                        *key = done;
                        renamed = true;
                    }
                }
                if renamed {
                    keep_last(children, |(k, _)| k.as_str());
                }
            }
            EffValue::Leaf(leaf) => {
                // A string that is one `alias` keeps the aliased value whole,
                // with its own provenance inside.
                if let Value::Str(text) = &leaf.value
                    && let Some(key) = sole_alias(text)
                {
                    match self.alias(key) {
                        Ok(Resolved::Value(value)) => node.value = value,
                        Ok(Resolved::NotSet) => {
                            leaf.value = Value::Str(String::new());
                        }
                        Ok(Resolved::Failed) => {}
                        Err(p) => self.report(&file, leaf.pos, path, p),
                    }
                    return;
                }
                self.leaf(leaf, &file, path);
            }
        }
    }

    /// Interpolates every string inside a leaf (a scalar, or a list).
    fn leaf(&mut self, node: &mut Node, file: &Arc<str>, path: &KeyPath) {
        match &mut node.value {
            Value::Str(text) if text.contains("%{") => {
                if let Some(key) = sole_alias(text) {
                    match self.alias(key) {
                        Ok(Resolved::Value(value)) => node.value = to_value(&value),
                        Ok(Resolved::NotSet) => node.value = Value::Str(String::new()),
                        Ok(Resolved::Failed) => {}
                        Err(p) => self.report(file, node.pos, path, p),
                    }
                    return;
                }
                match self.string(text) {
                    Ok(Some(done)) => *text = done,
                    Ok(None) => {}
                    Err(p) => self.report(file, node.pos, path, p),
                }
            }
            Value::Seq(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.leaf(item, file, &path.child(&i.to_string()));
                }
            }
            Value::Map(entries) => {
                let mut renamed = false;
                for e in entries.iter_mut() {
                    let child = path.child(&e.key);
                    self.leaf(&mut e.value, file, &child);
                    if let Some(done) = self.map_key(&e.key, file, e.key_pos, path) {
                        e.key = done;
                        renamed = true;
                    }
                }
                if renamed {
                    keep_last(entries, |e| e.key.as_str());
                }
            }
            _ => {}
        }
    }

    /// A mapping key interpolated as Puppet does (`Interpolation#interpolate`
    /// runs over a hash's keys as well as its values); `None` when it has no
    /// token or could not be interpolated (reported).
    fn map_key(&mut self, key: &str, file: &Arc<str>, pos: Pos, path: &KeyPath) -> Option<String> {
        if !key.contains("%{") {
            return None;
        }
        match self.string(key) {
            Ok(done) => done,
            Err(p) => {
                self.report(file, pos, &path.child(key), p);
                None
            }
        }
    }

    /// The interpolated text; `Ok(None)` when a key it needs failed
    /// (already reported) and the text stays as written.
    fn string(&mut self, text: &str) -> Result<Option<String>, Problem> {
        let mut out = String::new();
        for part in tokens(text)? {
            let piece = match part {
                Ok(literal) => literal.to_owned(),
                Err(Token::Literal(s)) => s.to_owned(),
                Err(Token::Variable(name)) => self.variable(name),
                Err(Token::Alias(_)) => {
                    return Err(Problem(
                        "`alias` must be the whole string (Hiera refuses it inside other text); use `lookup` to put a value into a string".into(),
                    ));
                }
                // A list or a mapping goes in as Ruby prints it
                // (`["a", 1]`, `{"k"=>"v"}`): Puppet 7.23.
                Err(Token::Lookup(key)) => match self.key(key)? {
                    Resolved::Value(EffValue::Leaf(Node { value, .. })) => ruby_to_s(&value),
                    Resolved::Value(map) => ruby_to_s(&to_value(&map)),
                    Resolved::NotSet => String::new(),
                    Resolved::Failed => return Ok(None),
                },
            };
            if out.len() + piece.len() > MAX_BYTES {
                return Err(Problem(format!(
                    "interpolating `{}` builds a string longer than {MAX_BYTES} bytes",
                    shown(text)
                )));
            }
            out.push_str(&piece);
        }
        Ok(Some(out))
    }

    fn variable(&self, name: &str) -> String {
        fact(self.class, name)
    }

    fn alias(&mut self, key: &str) -> Result<Resolved, Problem> {
        self.key(key)
    }

    /// A top-level key as Puppet's lookup returns it: each level's value
    /// interpolated (lookups chain through here), then merged.
    /// The result lands in `hiera_cache` (`None`: not found).
    fn hiera_root(&mut self, lookup: &HieraLookup<'_>, root: &str) -> Result<(), Problem> {
        if self.hiera_cache.contains_key(root) {
            return Ok(());
        }
        if let Some((_, problem)) = recursion_problem(&self.stack, root) {
            return Err(problem);
        }
        let how = lookup.rule(root);
        let mut found = lookup.level_values(root, &how);
        self.stack.push(root.to_owned());
        let path = KeyPath::new(vec![root.to_owned()]);
        for value in &mut found {
            // Most values hold no token: skip the walk.
            if node_has_token(value) {
                self.node(value, &path);
            }
        }
        self.stack.pop();
        let merged = lookup.merge(root, found, &how, &mut self.findings);
        self.hiera_cache.insert(root.to_owned(), merged);
        Ok(())
    }

    /// The interpolated effective value of a dotted key, resolved once.
    fn key(&mut self, key: &str) -> Result<Resolved, Problem> {
        if let Some(lookup) = self.hiera {
            let segments = key_segments(key);
            let Some((root, rest)) = segments.split_first() else {
                return Ok(Resolved::NotSet);
            };
            self.hiera_root(lookup, root)?;
            let Some(Some(merged)) = self.hiera_cache.get(root.as_str()) else {
                return Ok(Resolved::NotSet);
            };
            let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
            return Ok(match dig(merged, &rest) {
                Some(node) => Resolved::Value(node.value),
                None => Resolved::NotSet,
            });
        }
        if let Some(done) = self.cache.get(key) {
            return Ok(done.clone());
        }
        if let Some((cycle, problem)) = recursion_problem(&self.stack, key) {
            // Every key of a cycle fails, each reported once.
            for k in cycle.map_or(&[][..], |at| &self.stack[at..]) {
                self.cache.insert(k.clone(), Resolved::Failed);
            }
            return Err(problem);
        }
        let Some(found) = find(self.original, key) else {
            self.cache.insert(key.to_owned(), Resolved::NotSet);
            return Ok(Resolved::NotSet);
        };
        let mut node = found;
        self.stack.push(key.to_owned());
        let before = self.findings.len();
        self.node(&mut node, &KeyPath::new(vec![key.to_owned()]));
        self.stack.pop();
        let failed =
            self.findings.len() > before || matches!(self.cache.get(key), Some(Resolved::Failed));
        let resolved = if failed {
            Resolved::Failed
        } else {
            Resolved::Value(node.value)
        };
        self.cache.insert(key.to_owned(), resolved.clone());
        Ok(resolved)
    }

    fn report(&mut self, file: &Arc<str>, pos: Pos, path: &KeyPath, problem: Problem) {
        self.findings.push(
            Diagnostic::new(Rule::Interpolation, &**file, pos, problem.0)
                .with_path(path.pointer())
                .with_class(&self.class.name)
                .with_help("fix the `%{...}` token; the value is used as written until then"),
        );
    }
}

/// A scalar as Puppet puts it into a string (Ruby's `to_s`): a string as
/// is, a number or boolean as written, null as nothing. `None` for a list or
/// a mapping.
/// A value as Puppet puts it into a string (Ruby's `to_s`): a string as
/// is, null as nothing, a number as Ruby prints it (`1.0`, `1.0e+20`), a
/// list or a mapping as Ruby's `inspect` (`["a", 1]`, `{"k"=>nil}`).
fn ruby_to_s(value: &Value) -> String {
    match value {
        Value::Str(s) => s.clone(),
        Value::Null | Value::Unset => String::new(),
        other => ruby_inspect(other),
    }
}

/// Ruby's `inspect` of a YAML value.
fn ruby_inspect(value: &Value) -> String {
    match value {
        Value::Str(s) => ruby_string(s),
        Value::Null | Value::Unset => "nil".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(n) => n.to_string(),
        Value::BigInt(n) => n.clone(),
        Value::Float(f) => ruby_float(*f),
        Value::Seq(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|n| ruby_inspect(&n.value))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|e| format!("{}=>{}", ruby_string(&e.key), ruby_inspect(&e.value.value)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Ruby's `String#inspect`.
fn ruby_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '#' if matches!(chars.peek(), Some('{' | '$' | '@')) => out.push_str("\\#"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Ruby's `Float#to_s`: the shortest digits, at least one decimal, and
/// scientific notation below 1e-4 and from 1e16 on.
pub(crate) fn ruby_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    let sci = format!("{f:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if f != 0.0 && !(-4..16).contains(&exponent) {
        let mantissa = if mantissa.contains('.') {
            mantissa.to_owned()
        } else {
            format!("{mantissa}.0")
        };
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let plain = format!("{f}");
    if plain.contains('.') {
        plain
    } else {
        format!("{plain}.0")
    }
}

/// A fact: `facts.x`, `::x`, `x`, `trusted.x`. Not set → empty string.
/// In Puppet every fact is both the top-scope variable `$x` and
/// `$facts['x']`, so a class may declare it either way: at the top
/// (`os: {family: …}`) or under a `facts:` map.
fn fact(class: &HostClass, name: &str) -> String {
    let name = name.trim_start_matches("::");
    let (bare, under_facts) = match name.strip_prefix("facts.") {
        Some(bare) => (bare.to_owned(), name.to_owned()),
        None => (name.to_owned(), format!("facts.{name}")),
    };
    let found = |n: &str| {
        class
            .facts
            .get(n)
            .cloned()
            .or_else(|| class.lists.get(n).map(|v| ruby_array(v)))
    };
    found(&bare)
        .or_else(|| found(&under_facts))
        .unwrap_or_default()
}

/// Hiera interpolates each level's value before merging it, so tokens that
/// read only facts are resolved here, per layer: `'%{fqdn}'` in one level
/// and `web.example` in another are one key to merge, and `unique` drops
/// the duplicate a fact makes. `None` when the layer has no such token.
/// Tokens that read keys (`lookup`, `alias`) need the merge and wait for
/// [`apply`], as do strings with `literal` (resolving them twice would
/// read what `literal` protects).
pub(crate) fn facts_in_layer(manifest: &Manifest, class: &HostClass, doc: &Node) -> Option<Node> {
    fn has(node: &Node) -> bool {
        match &node.value {
            Value::Str(s) => s.contains("%{"),
            Value::Seq(items) => items.iter().any(has),
            Value::Map(entries) => entries
                .iter()
                .any(|e| e.key.contains("%{") || has(&e.value)),
            _ => false,
        }
    }
    fn walk(class: &HostClass, node: &mut Node, keys: bool) {
        match &mut node.value {
            Value::Str(text) => {
                if let Some(done) = facts_only(class, text) {
                    *text = done;
                }
            }
            Value::Seq(items) => items.iter_mut().for_each(|i| walk(class, i, true)),
            Value::Map(entries) => {
                let mut renamed = false;
                for e in entries.iter_mut() {
                    walk(class, &mut e.value, true);
                    if !keys {
                        continue;
                    }
                    if let Some(done) = facts_only(class, &e.key) {
                        e.key = done;
                        renamed = true;
                    }
                }
                if renamed {
                    keep_last(entries, |e| e.key.as_str());
                }
            }
            _ => {}
        }
    }
    if manifest.interpolation != Interpolation::Hiera || !has(doc) {
        return None;
    }
    let mut out = doc.clone();
    // Puppet's lookup keys are the data's top-level keys as written: a
    // `"key_%{x}":` there is looked up by that literal name (Puppet 7.23),
    // so under Hiera's own lookup only nested keys are interpolated.
    walk(class, &mut out, !manifest.merge.lookup_options_from_data);
    Some(out)
}

/// `text` with its tokens resolved when every one is a fact; `None`
/// otherwise, or when the result would hold a token again.
fn facts_only(class: &HostClass, text: &str) -> Option<String> {
    if !text.contains("%{") {
        return None;
    }
    let mut out = String::new();
    for part in tokens(text).ok()? {
        match part {
            Ok(literal) => out.push_str(literal),
            Err(Token::Variable(name)) => out.push_str(&fact(class, name)),
            Err(_) => return None,
        }
        if out.len() > MAX_BYTES {
            return None;
        }
    }
    (!out.contains("%{")).then_some(out)
}

/// Two keys that interpolate to the same text: as in the Ruby hash Puppet
/// builds, the later value replaces the earlier one in the earlier place.
fn keep_last<T>(items: &mut Vec<T>, key: impl Fn(&T) -> &str) {
    // One pass with an index: a mapping of many keys stays linear.
    let mut first_at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut kept: Vec<T> = Vec::with_capacity(items.len());
    for item in items.drain(..) {
        match first_at.get(key(&item)) {
            Some(&at) => kept[at] = item,
            None => {
                first_at.insert(key(&item).to_owned(), kept.len());
                kept.push(item);
            }
        }
    }
    *items = kept;
}

/// A list fact as Puppet interpolates it (Ruby's `inspect`: `["a", "b"]`).
fn ruby_array(values: &[String]) -> String {
    format!(
        "[{}]",
        values
            .iter()
            .map(|v| ruby_string(v))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The key of a string that is exactly one `%{alias('k')}` token.
fn sole_alias(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("%{")?.strip_suffix('}')?;
    if inner.contains('}') {
        return None;
    }
    match token(inner.trim()) {
        Ok(Token::Alias(key)) => Some(key),
        _ => None,
    }
}

/// The node at a dotted key (`a.b` digs into the hash `a`, and `a.0` into
/// the array `a`, as Hiera's `lookup('a.b.0')` does: Puppet 7.23).
/// A key holding a dot is written quoted (`lookup('"a.b"')`); unquoted,
/// `a.b` is `b` inside `a`, never the key `a.b` (Puppet 7.23).
fn find(root: &[(String, EffNode)], key: &str) -> Option<EffNode> {
    let segments = key_segments(key);
    let (first, rest) = segments.split_first()?;
    let node = &root.iter().find(|(k, _)| k == first)?.1;
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    dig(node, &rest)
}

/// The part of `node` at `segments` (mapping keys, array positions).
fn dig(node: &EffNode, segments: &[&str]) -> Option<EffNode> {
    let mut found = node;
    let mut segments = segments.iter().copied();
    let mut at_leaf = false;
    let mut pending: Option<&str> = None;
    for segment in segments.by_ref() {
        match &found.value {
            EffValue::Map(children) => {
                found = &children.iter().find(|(k, _)| k == segment)?.1;
            }
            EffValue::Leaf(_) => {
                at_leaf = true;
                pending = Some(segment);
                break;
            }
        }
    }
    if !at_leaf {
        return Some(found.clone());
    }
    let segments = pending.into_iter().chain(segments);
    // What is left digs into the plain value: array positions, mappings in arrays.
    let mut value: Option<&Node> = None;
    for segment in segments {
        let within = match value {
            Some(v) => &v.value,
            None => match &found.value {
                EffValue::Leaf(n) => &n.value,
                EffValue::Map(_) => return None,
            },
        };
        value = Some(match within {
            Value::Seq(items) => items.get(segment.parse::<usize>().ok()?)?,
            Value::Map(entries) => &entries.iter().find(|e| e.key == segment)?.value,
            _ => return None,
        });
    }
    Some(match value {
        None => found.clone(),
        Some(v) => EffNode {
            value: EffValue::Leaf(v.clone()),
            origin: found.origin.clone(),
            trace: found.trace.clone(),
        },
    })
}

/// Hiera's key segments: split at dots, a quoted part (`"a.b"` or
/// `'a.b'`) kept whole.
fn key_segments(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in key.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => quote = Some(c),
            (None, '.') => out.push(std::mem::take(&mut current)),
            (None, c) => current.push(c),
        }
    }
    out.push(current);
    out
}

/// An effective value as a plain document value (for an alias inside a list).
fn to_value(value: &EffValue) -> Value {
    match value {
        EffValue::Leaf(node) => node.value.clone(),
        EffValue::Map(children) => Value::Map(
            children
                .iter()
                .map(|(k, v)| Entry {
                    key: k.clone(),
                    key_pos: v.origin.key_pos,
                    value: Node {
                        value: to_value(&v.value),
                        pos: v.origin.value_pos,
                    },
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_parsed_as_hiera_writes_them() {
        assert!(matches!(
            token("facts.os.family"),
            Ok(Token::Variable("facts.os.family"))
        ));
        assert!(matches!(token("lookup('a::b')"), Ok(Token::Lookup("a::b"))));
        assert!(matches!(token("hiera(\"k\")"), Ok(Token::Lookup("k"))));
        assert!(matches!(token("alias('k')"), Ok(Token::Alias("k"))));
        assert!(matches!(token("literal('%')"), Ok(Token::Literal("%"))));
        assert!(token("shell('rm')").is_err());
        assert!(token("lookup(k)").is_err());
        assert_eq!(sole_alias("%{alias('users')}"), Some("users"));
        assert_eq!(sole_alias("x %{alias('users')}"), None);
        // An unclosed `%{` is text, as Puppet's pattern leaves it.
        assert!(tokens("open %{facts.x").is_ok_and(|t| t.len() == 2));
        assert_eq!(ruby_to_s(&Value::Int(8080)), "8080");
        // Lists go into strings as Ruby prints them (Puppet 7.23).
        assert_eq!(ruby_to_s(&Value::Seq(Vec::new())), "[]");
        assert_eq!(ruby_float(1.0), "1.0");
        assert_eq!(ruby_float(1e20), "1.0e+20");
        assert_eq!(ruby_float(0.00001), "1.0e-05");
        assert_eq!(ruby_float(0.0001), "0.0001");
        assert_eq!(ruby_float(-2.5), "-2.5");
        assert_eq!(ruby_string("a\"b\\#{x}\n"), "\"a\\\"b\\\\\\#{x}\\n\"");
    }

    #[test]
    fn keys_that_interpolate_alike_keep_the_last_value_in_the_first_place() {
        let mut items = vec![("a", 1), ("b", 2), ("a", 3), ("c", 4), ("a", 5)];
        keep_last(&mut items, |(k, _)| k);
        assert_eq!(items, [("a", 5), ("b", 2), ("c", 4)]);
        // Linear: 200 000 keys, all alike but for two.
        let mut many: Vec<(String, usize)> = (0..200_000).map(|i| ("k".to_owned(), i)).collect();
        many.push(("x".into(), 0));
        keep_last(&mut many, |(k, _)| k.as_str());
        assert_eq!(many, [("k".to_owned(), 199_999), ("x".to_owned(), 0)]);
    }
}
