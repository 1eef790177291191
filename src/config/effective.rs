//! The effective config of a host class: its layers merged per SPEC §3.2,
//! with the provenance of every value kept as part of the value.
//!
//! Merge rules (by default; the manifest's `merge:` section changes them,
//! and `config::merge` holds the engine): maps merge key by key; scalars and
//! lists replace; `!unset` knocks the inherited key out; a type change is an
//! error (`type-change`); a key that no earlier layer defines is a warning
//! (`unknown-override`).
//! This module is pure: it takes parsed layers and returns a tree plus
//! findings. Reading files belongs to `source/`, showing results to `cmd/`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use rayon::prelude::*;

use super::merge::Merger;
use crate::config::KeyPath;
use crate::config::document::{self, Limits, Parsed, Value};
use crate::config::manifest::{HostClass, Manifest};
use crate::config::schema::Locator;
use crate::diag::{Diagnostic, Pos, Rule, Severity};
use crate::source::Source;

// The tree's node types live with the engine that builds them (no cycle
// between the two modules); they are part of this module's interface.
pub use super::merge::{EffNode, EffValue, Origin, Trace};

/// How one hierarchy layer took part for a class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerUse {
    /// The file exists and was merged.
    Applied(String),
    /// The template expands to this file, which does not exist.
    Absent(String),
    /// The class lacks a fact the template needs.
    NoFact(Vec<String>),
}

/// One layer of a class: a template expands to one per file (a
/// multi-valued fact, a directory, a glob), later ones more specific.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandedLayer {
    /// Index of the hierarchy template it comes from.
    pub template: usize,
    /// Which expanded path it comes from, counted across the hierarchy: the
    /// files of one directory or glob share it (they are one Ansible group's
    /// or one Hiera level's data, not overrides of one another).
    pub expansion: usize,
    pub state: LayerUse,
}

/// One class's merged config.
#[derive(Debug, Clone)]
pub struct EffectiveConfig {
    pub class: String,
    pub root: Vec<(String, EffNode)>,
    /// Per expanded layer, in order; [`Origin::layer`] indexes this list.
    pub layers: Vec<ExpandedLayer>,
}

/// A class whose config could not be computed: a layer does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrenderable {
    pub class: String,
    pub file: String,
    pub pos: Pos,
    pub message: String,
}

impl fmt::Display for Unrenderable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "host class `{}`: layer {}:{} cannot be read: {}",
            self.class, self.file, self.pos, self.message
        )
    }
}

/// Parsed layer files, shared across classes.
pub type Layers = BTreeMap<String, Arc<Parsed>>;

/// The layer files each class uses, in hierarchy order: a template gives
/// one layer per file it expands to.
pub fn layer_files(manifest: &Manifest, class: &HostClass) -> Vec<ExpandedLayer> {
    let mut out = Vec::new();
    let mut expansion = 0;
    for (index, t) in manifest.hierarchy.iter().enumerate() {
        let layer = |state, expansion| ExpandedLayer {
            template: index,
            expansion,
            state,
        };
        let mut expanded = t.expand(class).unwrap_or_default();
        // Hiera's `mapped_paths` reads the list fact's first value as the most
        // specific: the most specific last here.
        if manifest.merge.lookup_options_from_data {
            expanded.reverse();
        }
        if expanded.is_empty() {
            // A missing fact, or a multi-valued one with no values.
            let missing: Vec<String> = t
                .facts
                .iter()
                .filter(|f| *f != "class" && !class.facts.contains_key(*f))
                .filter(|f| class.lists.get(*f).is_none_or(Vec::is_empty))
                .cloned()
                .collect();
            out.push(layer(LayerUse::NoFact(missing), expansion));
            expansion += 1;
            continue;
        }
        for path in expanded {
            match manifest.layer_listing.files(&path) {
                // Hiera reads a glob's files in name order, the first found
                // winning: the most specific last here.
                Some(files) if !files.is_empty() && manifest.merge.lookup_options_from_data => {
                    out.extend(
                        files
                            .iter()
                            .rev()
                            .map(|f| layer(LayerUse::Absent(f.clone()), expansion)),
                    );
                }
                Some(files) if !files.is_empty() => {
                    out.extend(
                        files
                            .iter()
                            .map(|f| layer(LayerUse::Absent(f.clone()), expansion)),
                    );
                }
                _ => out.push(layer(LayerUse::Absent(path), expansion)),
            }
            expansion += 1;
        }
    }
    out
}

/// Reads and parses the given files in parallel. Missing files are left out.
pub fn load_layers(
    source: &dyn Source,
    files: &BTreeSet<String>,
    limits: &Limits,
) -> anyhow::Result<Layers> {
    type Loaded = anyhow::Result<Option<(String, Arc<Parsed>)>>;
    // The variables an Ansible inventory sets are layers too, read from the
    // inventory file (`adopt::inventory::VARS_MARK`).
    let (inventory_vars, files): (BTreeSet<&String>, BTreeSet<&String>) = files
        .iter()
        .partition(|p| crate::config::adopt::inventory::vars_layer(p).is_some());
    let mut layers = crate::config::adopt::inventory::load_vars_layers(source, &inventory_vars)?;
    let loaded: Vec<Loaded> = files
        .par_iter()
        .map(|path| {
            // A file over the size limit is refused unread.
            if let Some(size) = source.size(path)?
                && let Some(d) = document::too_large(path, size, limits)
            {
                let parsed = Parsed {
                    diagnostics: vec![d],
                    ..Parsed::default()
                };
                return Ok(Some(((*path).clone(), Arc::new(parsed))));
            }
            let Some(bytes) = source.read(path)? else {
                return Ok(None);
            };
            Ok(Some((
                (*path).clone(),
                Arc::new(document::parse_owned(path, bytes, limits)),
            )))
        })
        .collect();
    for item in loaded {
        if let Some((path, parsed)) = item? {
            layers.insert(path, parsed);
        }
    }
    Ok(layers)
}

/// The layer files of a run that merges its classes a round at a time:
/// each round's files are read when the round needs them, and a file is
/// kept after a round only while a later round still uses it. A file only
/// one class uses (most per-class files) is parsed, merged and dropped, so
/// the parsed files held never add up to the whole fleet's.
pub(crate) struct RoundLayers {
    /// The last round that uses each file.
    last_round: std::collections::HashMap<String, usize>,
    /// Files read for an earlier round that a later round uses too.
    held: Layers,
}

impl RoundLayers {
    /// `rounds`: the layer files each round uses, in the order the rounds run.
    pub(crate) fn new(rounds: impl Iterator<Item = BTreeSet<String>>) -> RoundLayers {
        let mut last_round = std::collections::HashMap::new();
        for (round, files) in rounds.enumerate() {
            for file in files {
                last_round.insert(file, round);
            }
        }
        RoundLayers {
            last_round,
            held: Layers::new(),
        }
    }

    /// The parsed layers of round `round`, which uses `files`: those held
    /// from an earlier round, then those `shared` offers (the other
    /// revision's parse of the same bytes), the rest read from `source`.
    pub(crate) fn round(
        &mut self,
        round: usize,
        files: BTreeSet<String>,
        source: &dyn Source,
        limits: &Limits,
        shared: &dyn Fn(&str) -> Option<Arc<Parsed>>,
    ) -> anyhow::Result<Layers> {
        let mut layers = Layers::new();
        let mut unread = BTreeSet::new();
        for file in files {
            if let Some(parsed) = self.held.get(&file).cloned().or_else(|| shared(&file)) {
                layers.insert(file, parsed);
            } else {
                unread.insert(file);
            }
        }
        layers.append(&mut load_layers(source, &unread, limits)?);
        let later = |file: &str, last: &std::collections::HashMap<String, usize>| {
            last.get(file).is_some_and(|&r| r > round)
        };
        self.held.retain(|file, _| later(file, &self.last_round));
        for (file, parsed) in &layers {
            if later(file, &self.last_round) && !self.held.contains_key(file) {
                self.held.insert(file.clone(), parsed.clone());
            }
        }
        Ok(layers)
    }
}

/// Every layer file any of `classes` could use.
pub fn files_for<'a>(
    manifest: &Manifest,
    classes: impl Iterator<Item = &'a HostClass>,
) -> BTreeSet<String> {
    classes
        .flat_map(|c| layer_files(manifest, c))
        .filter_map(|u| {
            let glob = manifest.hierarchy.get(u.template).is_some_and(|t| t.glob);
            match u.state {
                // A glob that matched nothing names no file.
                LayerUse::Absent(p) if !glob || manifest.layer_listing.files(&p).is_none() => {
                    Some(p)
                }
                _ => None,
            }
        })
        .collect()
}

/// Merges one class's layers. Findings carry the class name.
pub fn merge_class(
    manifest: &Manifest,
    class: &HostClass,
    layers: &Layers,
) -> Result<(EffectiveConfig, Vec<Diagnostic>), Unrenderable> {
    merge_class_with(manifest, class, layers, &|_| None, None, TraceDepth::Full)
}

/// Under Hiera's own lookup (`merge: {lookup_options: data}`), what looks
/// the class's keys up from its levels (least specific first) into the root:
/// `interpolate` resolves each level's `%{}` there before the merge, as
/// Puppet does. Without one, the values merge as written.
pub(crate) type HieraHook<'h> = dyn for<'x> Fn(&[super::merge::HieraLayer<'x>], &mut Vec<(String, EffNode)>, &mut Vec<Diagnostic>)
    + 'h;

/// How much of the merge trace to keep: every contributor of every value, or
/// of leaves only (a merged mapping then names its first layer alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceDepth {
    Full,
    Leaves,
}

/// [`merge_class`], with each layer's document first given to `prepare`,
/// which may return a copy to merge instead (Hiera interpolates each level
/// before merging it), keeping as much of the trace as asked.
pub fn merge_class_with(
    manifest: &Manifest,
    class: &HostClass,
    layers: &Layers,
    prepare: &(dyn Fn(&document::Node) -> Option<document::Node> + Sync),
    hiera_hook: Option<&HieraHook<'_>>,
    trace: TraceDepth,
) -> Result<(EffectiveConfig, Vec<Diagnostic>), Unrenderable> {
    let mut uses = layer_files(manifest, class);
    // Only Hiera prepares layers; the common case skips the look-ups.
    let prepared: Vec<Option<document::Node>> =
        if manifest.interpolation == crate::config::layers::Interpolation::None {
            Vec::new()
        } else {
            uses.iter()
                .map(|u| match &u.state {
                    LayerUse::Absent(path) => layers
                        .get(path.as_str())
                        .and_then(|p| p.single())
                        .and_then(prepare),
                    _ => None,
                })
                .collect()
        };
    let mut root: Vec<(String, EffNode)> = Vec::new();
    let mut merger = Merger::new(&class.name, &manifest.merge);
    merger.map_contributors = trace == TraceDepth::Full;
    // Keys first set anywhere in the first expansion that has data (every
    // file of `group_vars/all/`, say) are defaults, not overrides.
    let mut first_expansion = None;
    // Hiera looks each key up across every level at once.
    let mut hiera = Vec::new();
    for (index, layer) in uses.iter_mut().enumerate() {
        let expansion = layer.expansion;
        let layer_use = &mut layer.state;
        let LayerUse::Absent(path) = layer_use else {
            continue;
        };
        let path = path.clone();
        let Some(parsed) = layers.get(path.as_str()) else {
            continue;
        };
        if let Some(err) = parsed
            .diagnostics
            .iter()
            .find(|d| d.severity == Severity::Error)
        {
            return Err(Unrenderable {
                class: class.name.clone(),
                file: path.clone(),
                pos: err.pos,
                message: err.message.clone(),
            });
        }
        *layer_use = LayerUse::Applied(path.clone());
        let Some(doc) = prepared
            .get(index)
            .and_then(Option::as_ref)
            .or_else(|| parsed.single())
        else {
            continue;
        };
        let file: Arc<str> = Arc::from(path.as_str());
        match &doc.value {
            Value::Map(entries) if manifest.merge.lookup_options_from_data => {
                hiera.push(super::merge::HieraLayer {
                    entries,
                    file,
                    layer: index,
                });
            }
            Value::Map(entries) => {
                let first = *first_expansion.get_or_insert(expansion) == expansion;
                merger.merge_layer(&mut root, entries, &file, index, first);
            }
            Value::Null => {}
            other => merger.findings.push(
                Diagnostic::new(
                    Rule::TypeChange,
                    path.as_str(),
                    doc.pos,
                    format!(
                        "a layer must be a mapping, but this one is a {}",
                        other.kind_name()
                    ),
                )
                .with_class(&class.name),
            ),
        }
    }
    if !hiera.is_empty() {
        match hiera_hook {
            Some(hook) => hook(&hiera, &mut root, &mut merger.findings),
            None => {
                super::merge::hiera_lookup(&class.name, &mut root, &hiera, &mut merger.findings)
            }
        }
    }
    Ok((
        EffectiveConfig {
            class: class.name.clone(),
            root,
            layers: uses,
        },
        merger.findings,
    ))
}

impl EffNode {
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            EffValue::Leaf(node) => node.to_json(),
            EffValue::Map(children) => serde_json::Value::Object(
                children
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

impl EffectiveConfig {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.root
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
        )
    }

    /// Every leaf with its key path, in document order. An empty map is a
    /// leaf too, so knocking out its last key shows up in a diff.
    pub fn leaves(&self) -> Vec<(KeyPath, &EffNode)> {
        let mut out = Vec::new();
        fn walk<'a>(
            prefix: &KeyPath,
            children: &'a [(String, EffNode)],
            out: &mut Vec<(KeyPath, &'a EffNode)>,
        ) {
            for (k, v) in children {
                let path = prefix.child(k);
                match &v.value {
                    EffValue::Map(grand) if !grand.is_empty() => walk(&path, grand, out),
                    _ => out.push((path, v)),
                }
            }
        }
        walk(&KeyPath::default(), &self.root, &mut out);
        out
    }

    /// The node at a key path.
    pub fn get(&self, path: &KeyPath) -> Option<&EffNode> {
        self.get_segments(path.segments())
    }

    /// The node at a path given as keys.
    pub fn get_segments<S: AsRef<str>>(&self, segments: &[S]) -> Option<&EffNode> {
        let mut children = &self.root;
        let mut found = None;
        for segment in segments {
            let node = &children.iter().find(|(k, _)| k == segment.as_ref())?.1;
            found = Some(node);
            children = match &node.value {
                EffValue::Map(c) => c,
                EffValue::Leaf(_) => &EMPTY,
            };
        }
        found
    }
}

static EMPTY: Vec<(String, EffNode)> = Vec::new();

/// Maps JSON Pointers in an effective config to the provenance of the value.
pub struct EffectiveLocator<'a> {
    pub config: &'a EffectiveConfig,
}

impl Locator for EffectiveLocator<'_> {
    fn locate(&self, pointer: &str) -> Option<(String, Pos, Option<Pos>)> {
        let mut children = &self.config.root;
        if !pointer.starts_with('/') {
            return None;
        }
        let path = KeyPath::parse(pointer).ok()?;
        let mut segments = path.segments().iter();
        let mut current: Option<&EffNode> = None;
        let mut rest: Vec<String> = Vec::new();
        for segment in segments.by_ref() {
            let node = &children.iter().find(|(k, _)| k == segment)?.1;
            current = Some(node);
            match &node.value {
                EffValue::Map(c) => children = c,
                EffValue::Leaf(_) => break,
            }
        }
        rest.extend(segments.cloned());
        let node = current?;
        match &node.value {
            // Items of a list merged from several layers carry positions in
            // different files: only the list's own place is certain.
            EffValue::Leaf(leaf) if !rest.is_empty() && node.contributors().len() == 1 => {
                // Inside a list: positions come from the layer that set it.
                let inner = KeyPath::new(rest).pointer();
                let (inner_node, key) = leaf.locate(&inner)?;
                Some((node.origin.file.to_string(), inner_node.pos, key))
            }
            _ => Some((
                node.origin.file.to_string(),
                node.origin.value_pos,
                Some(node.origin.key_pos),
            )),
        }
    }

    fn fallback(&self) -> (String, Pos) {
        // A missing top-level key: report at the most specific layer applied.
        let file = self
            .config
            .layers
            .iter()
            .rev()
            .find_map(|u| match &u.state {
                LayerUse::Applied(p) => Some(p.clone()),
                _ => None,
            })
            .unwrap_or_else(|| crate::config::manifest::MANIFEST_FILE.to_owned());
        (file, Pos::START)
    }

    fn class(&self) -> Option<&str> {
        Some(&self.config.class)
    }

    fn special_numbers(&self) -> Vec<document::SpecialNumber> {
        fn walk(
            prefix: &str,
            children: &[(String, EffNode)],
            out: &mut Vec<document::SpecialNumber>,
        ) {
            for (k, v) in children {
                let here = format!("{prefix}/{}", k.replace('~', "~0").replace('/', "~1"));
                match &v.value {
                    EffValue::Map(grand) => walk(&here, grand, out),
                    EffValue::Leaf(node) => node.special_numbers(&here, out),
                }
            }
        }
        let mut out = Vec::new();
        walk("", &self.config.root, &mut out);
        out
    }
}

/// A layer file is shared by many classes; one finding per place, naming
/// the first class and how many others share it, reads better than 1 000.
pub fn collapse_class_findings(findings: Vec<Diagnostic>) -> Vec<Diagnostic> {
    type Place = (String, Pos, Rule, String);
    let mut groups: BTreeMap<Place, (Diagnostic, Vec<String>)> = BTreeMap::new();
    for d in findings {
        let key = (d.file.clone(), d.pos, d.rule, d.message.clone());
        let class = d.class.clone().unwrap_or_default();
        groups
            .entry(key)
            .or_insert_with(|| (d, Vec::new()))
            .1
            .push(class);
    }
    groups
        .into_values()
        .map(|(mut d, mut classes)| {
            classes.sort();
            classes.dedup();
            d.class = classes.first().cloned();
            if classes.len() > 1 {
                let shown: Vec<_> = classes.iter().skip(1).take(3).map(String::as_str).collect();
                let more = classes.len() - 1 - shown.len();
                let extra = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                d.message = format!(
                    "{} (also in host classes {}{extra})",
                    d.message,
                    shown.join(", ")
                );
            }
            d
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(templates: &[&str]) -> Manifest {
        let text = format!(
            "version: 1\nhierarchy:\n{}host_classes:\n  c: {{role: api}}\n",
            templates
                .iter()
                .map(|t| format!("  - {t}\n"))
                .collect::<String>()
        );
        let src = crate::source::MemorySource::new(&[("ringmaster.yaml", text.as_str())]);
        let loaded = Manifest::load(&src).unwrap();
        loaded.manifest
    }

    fn layers(files: &[(&str, &str)]) -> Layers {
        files
            .iter()
            .map(|(p, t)| {
                (
                    p.to_string(),
                    Arc::new(document::parse(p, t.as_bytes(), &Limits::default())),
                )
            })
            .collect()
    }

    #[test]
    fn merges_with_provenance_knockouts_and_findings() {
        let m = manifest(&["d.yaml", "r/{role}.yaml"]);
        let l = layers(&[
            (
                "d.yaml",
                "server:\n  port: 80\n  host: a\ntracing:\n  rate: 0.1\nlist: [1, 2]\n",
            ),
            (
                "r/api.yaml",
                "server:\n  port: 8080\n  prot: 1\ntracing:\n  rate: !unset\nlist: x\n",
            ),
        ]);
        let class = &m.host_classes["c"];
        let (eff, findings) = merge_class(&m, class, &l).unwrap();
        assert_eq!(
            eff.to_json(),
            serde_json::json!({"server": {"port": 8080, "host": "a", "prot": 1}, "tracing": {}, "list": "x"})
        );
        let port = eff.get_segments(&["server", "port"]).unwrap();
        assert_eq!(
            (&*port.origin.file, port.origin.value_pos),
            ("r/api.yaml", Pos::new(2, 9))
        );
        assert_eq!(
            eff.get_segments(&["server", "host"]).unwrap().origin.layer,
            0
        );
        let rules: Vec<_> = findings.iter().map(|d| (d.rule, d.pos.line)).collect();
        assert_eq!(
            rules,
            vec![(Rule::UnknownOverride, 3), (Rule::TypeChange, 6)]
        );
        assert!(findings.iter().all(|d| d.class.as_deref() == Some("c")));
        let paths: Vec<_> = eff
            .leaves()
            .into_iter()
            .map(|(p, _)| p.to_string())
            .collect();
        assert_eq!(
            paths,
            [
                "server.port",
                "server.host",
                "server.prot",
                "tracing",
                "list"
            ]
        );
    }
}
