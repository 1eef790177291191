//! `ringmaster.yaml`: raw document → validated [`Manifest`].
//!
//! Loading is two-phase, like the rest of ringmaster: the file is parsed and
//! checked against ringmaster's own schema (a failure there means the repo
//! cannot be read: exit 2), then the model is built and its references
//! checked (missing schema files, bad globs, template facts no class has),
//! which are ordinary `manifest` findings.

use std::collections::{BTreeMap, BTreeSet};

use globset::{GlobBuilder, GlobMatcher};

use crate::config::adapters::{self, DeliverConfig, MetricsConfig, StateConfig};
use crate::config::document::{self, Limits, Node, Value};
use crate::config::schema::{self, OwnSchema};
use crate::config::scopes::{self, EffectiveSchema, UnknownOverrideScope};
use crate::diag::{Diagnostic, Pos, Rule, Severity, SeverityOverrides};
use crate::model::suggest::closest;
use crate::source::{Source, normalize};

pub const MANIFEST_FILE: &str = "ringmaster.yaml";

/// The highest `limits.max_file_bytes` (1 GiB): a bigger file is not config.
pub(crate) const MAX_FILE_BYTES: i64 = 1 << 30;

/// A string from the manifest with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub pos: Pos,
}

/// One `{fact}` path template of the hierarchy.
#[derive(Debug, Clone)]
pub struct LayerTemplate {
    pub template: Spanned<String>,
    /// The facts the template names, in order.
    pub facts: Vec<String>,
    /// Matches every file the template could expand to (`{x}` → `*`).
    pub matcher: Option<GlobMatcher>,
    /// Matches every file inside a directory the template could name.
    pub within: Option<GlobMatcher>,
    /// Whether the template's own text is a glob (`group_vars/{g}/*.yml`).
    pub glob: bool,
}

impl LayerTemplate {
    /// The paths this layer stands for for `class`, in order: one per value
    /// of each multi-valued fact (`groups: [all, web]` → two), each a file,
    /// a directory or a glob (see [`crate::config::layers::LayerListing`]).
    /// `None` when the class lacks a fact or a value cannot be a file name.
    pub fn expand(&self, class: &HostClass) -> Option<Vec<String>> {
        // Every class expands every template on each run: the common case (only
        // single-valued facts) builds one string with no intermediate vectors.
        let push = |out: &mut String, value: &str| {
            // In a glob a value is matched literally (`*` is a name).
            if self.glob {
                out.push_str(&globset::escape(value));
            } else {
                out.push_str(value);
            }
        };
        let mut outs = vec![String::with_capacity(self.template.value.len() + 32)];
        let mut rest = self.template.value.as_str();
        while let Some(open) = rest.find('{') {
            for out in outs.iter_mut() {
                out.push_str(&rest[..open]);
            }
            let close = rest[open..].find('}')? + open;
            let fact = &rest[open + 1..close];
            let single = if fact == "class" {
                Some(class.name.as_str())
            } else {
                class.facts.get(fact).map(String::as_str)
            };
            // A fact value must not climb out of its directory.
            let bad = |v: &str| crate::config::boundary::fact_value_problem(v).is_some();
            match single {
                Some(value) => {
                    if bad(value) {
                        return None;
                    }
                    for out in outs.iter_mut() {
                        push(out, value);
                    }
                }
                None => {
                    let values = class.lists.get(fact)?;
                    if values.iter().any(|v| bad(v))
                        || outs.len().saturating_mul(values.len())
                            > crate::config::layers::MAX_EXPANSIONS
                    {
                        return None;
                    }
                    outs = outs
                        .iter()
                        .flat_map(|out| {
                            values.iter().map(move |v| {
                                let mut next = out.clone();
                                push(&mut next, v);
                                next
                            })
                        })
                        .collect();
                }
            }
            rest = &rest[close + 1..];
        }
        for out in outs.iter_mut() {
            out.push_str(rest);
        }
        Some(
            outs.into_iter()
                .map(crate::source::normalize_owned)
                .collect(),
        )
    }

    /// Whether `path` could be one of this template's layer files: the file
    /// it names, or a vars file inside the directory it names.
    pub fn covers(&self, path: &str) -> bool {
        self.matcher.as_ref().is_some_and(|g| g.is_match(path))
            || self.within.as_ref().is_some_and(|g| {
                g.is_match(path)
                    && crate::config::layers::is_vars_file(path.rsplit('/').next().unwrap_or(path))
            })
    }
}

#[derive(Debug, Clone)]
pub struct HostClass {
    pub name: String,
    /// Single-valued facts; a nested one under its dotted name (`os.family`).
    pub facts: BTreeMap<String, String>,
    /// Multi-valued facts (`groups: [all, web]`), values in the given order.
    pub lists: BTreeMap<String, Vec<String>>,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct SchemaMapping {
    pub files: Spanned<String>,
    pub schema: Spanned<String>,
    pub matcher: Option<GlobMatcher>,
}

#[derive(Debug, Clone)]
pub struct Manifest {
    pub hierarchy: Vec<LayerTemplate>,
    pub host_classes: BTreeMap<String, HostClass>,
    pub schemas: Vec<SchemaMapping>,
    /// `effective:` in manifest order; a class is checked against the
    /// first entry that applies to it (see `scopes`).
    pub effective_schemas: Vec<EffectiveSchema>,
    /// Where `unknown-override` findings are expected, not typos.
    pub unknown_override: UnknownOverrideScope,
    pub flags_dir: Option<Spanned<String>>,
    pub rings_dir: Option<Spanned<String>>,
    pub severities: SeverityOverrides,
    pub limits: Limits,
    /// Where rings are delivered, gates get numbers and the journal lives:
    /// what the adapter factories (`deliver::from_config`, …) build from.
    pub deliver: DeliverConfig,
    pub metrics: MetricsConfig,
    pub state: StateConfig,
    /// `notify:`: the webhooks told about rollout events.
    pub notify: Vec<adapters::WebhookConfig>,
    /// `metrics.pushgateway`: where deploy markers are pushed.
    pub pushgateway: Option<adapters::Located>,
    /// The `merge:` section: how layers combine.
    pub merge: crate::config::merge::MergePolicy,
    /// The whole document, for sections later stages read.
    pub raw: Node,
    /// What the directories and globs the hierarchy names hold.
    pub layer_listing: crate::config::layers::LayerListing,
    /// `interpolation:` (`none` or `hiera`).
    pub interpolation: crate::config::layers::Interpolation,
}

/// The manifest could not be read: the findings say why.
#[derive(Debug)]
pub struct ManifestError {
    pub diagnostics: Vec<Diagnostic>,
    pub text: Option<String>,
}

impl std::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.diagnostics.first() {
            Some(d) => write!(f, "{}:{}: {}", d.file, d.pos, d.message),
            None => write!(f, "{MANIFEST_FILE} cannot be read"),
        }
    }
}

impl std::error::Error for ManifestError {}

/// A manifest plus the `manifest` findings met while building it.
#[derive(Debug)]
pub struct LoadedManifest {
    pub manifest: Manifest,
    pub diagnostics: Vec<Diagnostic>,
    pub text: String,
}

/// Remembers the manifests that passed ringmaster's own manifest schema, so a
/// later run with the same bytes (and the same build) need not compile that
/// schema: its findings are a function of those two alone.
pub(crate) trait OwnSchemaMemo {
    /// Whether these manifest bytes passed before.
    fn passed(&self, manifest: &[u8]) -> bool;
    /// Remembers that these manifest bytes passed.
    fn remember_passed(&self, manifest: &[u8]);
}

impl Manifest {
    /// Reads and validates `ringmaster.yaml` from `source`.
    pub fn load(source: &dyn Source) -> Result<LoadedManifest, ManifestError> {
        Manifest::load_memo(source, None)
    }

    /// [`Manifest::load`], skipping the own-schema validation of a manifest
    /// `memo` says passed it.
    pub(crate) fn load_memo(
        source: &dyn Source,
        memo: Option<&dyn OwnSchemaMemo>,
    ) -> Result<LoadedManifest, ManifestError> {
        let fail = |msg: String, help: &str| ManifestError {
            diagnostics: vec![
                Diagnostic::new(Rule::Manifest, MANIFEST_FILE, Pos::START, msg).with_help(help),
            ],
            text: None,
        };
        let bytes = match source.read(MANIFEST_FILE) {
            Ok(Some(b)) => b,
            Ok(None) => {
                return Err(fail(
                    format!("no {MANIFEST_FILE} in the {}", source.label()),
                    "run `ringmaster init` to create one, or pass --repo DIR",
                ));
            }
            Err(e) => {
                let help = if crate::source::OutsideRepo::is(&e) {
                    "replace the symbolic link with the manifest itself"
                } else {
                    "check the file's permissions"
                };
                return Err(fail(format!("cannot read {MANIFEST_FILE}: {e}"), help));
            }
        };
        let parsed = document::parse(MANIFEST_FILE, &bytes, &Limits::default());
        let mut errors: Vec<Diagnostic> = parsed
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .cloned()
            .collect();
        let Some(root) = parsed.single().cloned() else {
            if errors.is_empty() {
                errors.push(Diagnostic::new(
                    Rule::Manifest,
                    MANIFEST_FILE,
                    Pos::START,
                    format!("{MANIFEST_FILE} is empty; it needs at least `version: 1`"),
                ));
            }
            return Err(ManifestError {
                diagnostics: errors,
                text: parsed.text,
            });
        };
        if parsed.docs.len() > 1 {
            errors.push(
                Diagnostic::new(
                    Rule::YamlSyntax,
                    MANIFEST_FILE,
                    parsed.docs[1].pos,
                    format!(
                        "{MANIFEST_FILE} holds {} documents; it must hold one",
                        parsed.docs.len()
                    ),
                )
                .with_help("remove the `---` separator and merge the documents"),
            );
        }
        if errors.is_empty() && !memo.is_some_and(|m| m.passed(&bytes)) {
            let found = schema::validate_own(OwnSchema::Manifest, MANIFEST_FILE, &root);
            if let (true, Some(memo)) = (found.is_empty(), memo) {
                memo.remember_passed(&bytes);
            }
            errors.extend(found);
        }
        // A `hiera:` or `ansible:` section becomes the hierarchy, classes and
        // merge rules its tool's own files describe, read at this revision.
        let mut root = root;
        if errors.is_empty() {
            crate::config::adopt::expand(&mut root, source, &mut errors);
        }
        if errors.is_empty() {
            // A path that leads outside the repo is never read by anything.
            errors.extend(crate::config::boundary::manifest_errors(
                &root,
                MANIFEST_FILE,
            ));
            errors.extend(crate::config::merge::manifest_errors(&root, MANIFEST_FILE));
        }
        if !errors.is_empty() {
            return Err(ManifestError {
                diagnostics: errors,
                text: parsed.text,
            });
        }
        // Warnings from parsing (ambiguous scalars) are ordinary findings.
        let mut diagnostics = parsed.diagnostics;
        // `flag-owner: off` is how rules are turned off; the schema pins the
        // value to a string, so YAML 1.1's boolean reading cannot apply.
        diagnostics.retain(|d| {
            !(d.rule == Rule::AmbiguousScalar
                && d.path.as_deref().is_some_and(|p| p.starts_with("/rules/")))
        });
        let mut manifest = Manifest::build(root, &mut diagnostics);
        manifest.list_layers(source, &mut diagnostics);
        Ok(LoadedManifest {
            manifest,
            diagnostics,
            text: parsed.text.unwrap_or_default(),
        })
    }

    /// Builds the model from a document that passed the manifest schema, so
    /// shapes are known; references are checked here.
    fn build(root: Node, diagnostics: &mut Vec<Diagnostic>) -> Manifest {
        let mut finding = |pos: Pos, path: &str, msg: String, help: &str| {
            diagnostics.push(
                Diagnostic::new(Rule::Manifest, MANIFEST_FILE, pos, msg)
                    .with_path(path)
                    .with_help(help),
            );
        };

        let mut host_classes = BTreeMap::new();
        if let Some(entry) = root.get("host_classes")
            && let Value::Map(classes) = &entry.value.value
        {
            for class in classes {
                let mut facts = BTreeMap::new();
                let mut lists: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for fact in crate::config::layers::flatten_facts(&class.value, false) {
                    if fact.listed {
                        lists
                            .entry(fact.name)
                            .or_default()
                            .push(fact.value.to_owned());
                    } else {
                        facts.insert(fact.name, fact.value.to_owned());
                    }
                }
                host_classes.insert(
                    class.key.clone(),
                    HostClass {
                        name: class.key.clone(),
                        facts,
                        lists,
                        pos: class.key_pos,
                    },
                );
            }
        }

        let known_facts: BTreeSet<&str> = host_classes
            .values()
            .flat_map(|c| c.facts.keys().chain(c.lists.keys()).map(String::as_str))
            .chain(["class"])
            .collect();
        let mut hierarchy = Vec::new();
        if let Some(entry) = root.get("hierarchy")
            && let Value::Seq(items) = &entry.value.value
        {
            for (i, item) in items.iter().enumerate() {
                let Some(text) = item.value.as_str() else {
                    continue;
                };
                let pointer = format!("/hierarchy/{i}");
                let (facts, syntax_ok) = template_facts(text);
                if !syntax_ok {
                    finding(
                        item.pos,
                        &pointer,
                        format!("template `{text}` has an unbalanced `{{` or `}}`"),
                        "write facts as `{fact}`, e.g. config/role/{role}.yaml",
                    );
                }
                for fact in &facts {
                    if !known_facts.contains(fact.as_str()) {
                        let did_you_mean = closest(fact, known_facts.iter().copied())
                            .map(|s| format!("; did you mean `{{{s}}}`?"))
                            .unwrap_or_default();
                        finding(
                            item.pos,
                            &pointer,
                            format!(
                                "template `{text}` uses the fact `{fact}`, which no host class has{did_you_mean}"
                            ),
                            "add the fact to the host classes that need this layer, or fix the template",
                        );
                    }
                }
                let glob = facts
                    .iter()
                    .fold(text.to_owned(), |t, f| t.replace(&format!("{{{f}}}"), "*"));
                let compile = |glob: &str| {
                    syntax_ok
                        .then(|| {
                            GlobBuilder::new(&normalize(glob))
                                .literal_separator(true)
                                .build()
                                .ok()
                                .map(|g| g.compile_matcher())
                        })
                        .flatten()
                };
                let matcher = compile(&glob);
                let is_glob = crate::config::layers::is_glob(text);
                let within = (!is_glob).then(|| compile(&format!("{glob}/**"))).flatten();
                hierarchy.push(LayerTemplate {
                    template: Spanned {
                        value: text.to_owned(),
                        pos: item.pos,
                    },
                    facts,
                    matcher,
                    within,
                    glob: is_glob,
                });
            }
        }

        let mut schemas = Vec::new();
        if let Some(entry) = root.get("schemas")
            && let Value::Seq(items) = &entry.value.value
        {
            for (i, item) in items.iter().enumerate() {
                let (Some(files), Some(schema)) = (item.get("files"), item.get("schema")) else {
                    continue;
                };
                let (Some(pattern), Some(schema_path)) =
                    (files.value.value.as_str(), schema.value.value.as_str())
                else {
                    continue;
                };
                let matcher = match GlobBuilder::new(&normalize(pattern))
                    .literal_separator(true)
                    .build()
                {
                    Ok(g) => Some(g.compile_matcher()),
                    Err(e) => {
                        finding(
                            files.value.pos,
                            &format!("/schemas/{i}/files"),
                            format!("bad glob `{pattern}`: {}", e.kind()),
                            "globs use `*` within a directory and `**` across directories",
                        );
                        None
                    }
                };
                schemas.push(SchemaMapping {
                    files: Spanned {
                        value: pattern.to_owned(),
                        pos: files.value.pos,
                    },
                    schema: Spanned {
                        value: normalize(schema_path),
                        pos: schema.value.pos,
                    },
                    matcher,
                });
            }
        }

        let spanned_str = |node: Option<&crate::config::document::Entry>| {
            node.and_then(|e| {
                Some(Spanned {
                    value: normalize(e.value.value.as_str()?),
                    pos: e.value.pos,
                })
            })
        };
        // Added to `diagnostics` once `finding` is done with it.
        let mut scope_findings = Vec::new();
        let effective_schemas =
            scopes::effective_schemas(&root, MANIFEST_FILE, &mut scope_findings);
        let unknown_override =
            UnknownOverrideScope::from_manifest(&root, MANIFEST_FILE, &mut scope_findings);
        let flags_dir = spanned_str(root.get("flags"));
        let rings_dir = spanned_str(root.get("rings"));

        let mut severities = SeverityOverrides::default();
        if let Some(entry) = root.get("rules")
            && let Value::Map(rules) = &entry.value.value
        {
            for rule in rules {
                let Some(level) = rule.value.value.as_str() else {
                    continue;
                };
                let Some(code) = Rule::from_code(&rule.key) else {
                    let did_you_mean = closest(&rule.key, Rule::ALL.iter().map(|r| r.code()))
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    finding(
                        rule.key_pos,
                        &format!("/rules/{}", rule.key),
                        format!("unknown rule `{}`{did_you_mean}", rule.key),
                        "`ringmaster check --list-rules` lists every rule",
                    );
                    continue;
                };
                let severity = match level {
                    "error" => Some(Severity::Error),
                    "warning" => Some(Severity::Warning),
                    "notice" => Some(Severity::Notice),
                    _ => None,
                };
                severities.set(code, severity);
            }
        }

        // A Prometheus URL that cannot be used as it is written (a fragment,
        // credentials) is found here, not when a rollout first queries it.
        if let Some(url) = root
            .get("metrics")
            .and_then(|m| m.value.get("url"))
            .and_then(|u| Some((u.value.value.as_str()?, u.value.pos)))
            && let Err(why) = crate::net::http::api_url(url.0, "api/v1/query")
        {
            finding(
                url.1,
                "/metrics/url",
                format!("the Prometheus URL {why}"),
                "write the base URL of the query API, e.g. `https://prometheus.example/prom/`; credentials go in RINGMASTER_PROMETHEUS_* environment variables",
            );
        }

        // Bad flag reference patterns are findings at their line; `flags
        // stale` refuses to scan with them.
        // Without `flag_references` the built-in pattern is used, which
        // compiles (a unit test says so): not compiled here for nothing.
        let pattern_problems = if root.get("flag_references").is_some() {
            crate::flags::coderefs::manifest_patterns(&root).1
        } else {
            Vec::new()
        };
        for (pointer, pos, why) in pattern_problems {
            finding(
                pos,
                &pointer,
                why,
                "write a regex with a group for the flag name, e.g. `\\bcheck\\(\"(?P<flag>[a-z0-9-]+)\"`, or `default` for the built-in patterns",
            );
        }

        let mut limits = Limits::default();
        if let Some(entry) = root.get("limits") {
            // A limit that is not a whole number in range is a finding, never
            // quietly the default (`3.0` passes the schema's `integer`).
            let mut limit = |key: &str, range: std::ops::RangeInclusive<i64>| {
                let e = entry.value.get(key)?;
                match e.value.value {
                    Value::Int(n) if range.contains(&n) => Some(n),
                    ref other => {
                        finding(
                            e.value.pos,
                            &format!("/limits/{key}"),
                            format!(
                                "`limits.{key}` is {}: it must be a whole number from {} to {}",
                                crate::config::document::shown(other),
                                range.start(),
                                range.end()
                            ),
                            "write an integer, or remove the key to use the default",
                        );
                        None
                    }
                }
            };
            if let Some(n) = limit("max_file_bytes", 1..=MAX_FILE_BYTES)
                && let Ok(n) = u64::try_from(n)
            {
                limits.max_file_bytes = n;
            }
            if let Some(n) = limit("max_depth", 1..=255)
                && let Ok(n) = usize::try_from(n)
            {
                limits.max_depth = n;
            }
        }

        // The schema refuses what these parses refuse; a finding here
        // leaves the section at its default rather than guess.
        let mut typed = |name: &str, parsed: Result<(), String>| {
            if let Err(why) = parsed {
                let pos = root.get(name).map_or(Pos::START, |e| e.value.pos);
                finding(
                    pos,
                    &format!("/{name}"),
                    why,
                    "see the `deliver`, `metrics` and `state` sections in the manifest schema",
                );
            }
        };
        let mut deliver = DeliverConfig::default();
        let mut metrics = MetricsConfig::default();
        let mut state = StateConfig::default();
        typed(
            "deliver",
            DeliverConfig::parse(adapters::section(&root, "deliver")).map(|c| deliver = c),
        );
        typed(
            "metrics",
            MetricsConfig::parse(adapters::section(&root, "metrics")).map(|c| metrics = c),
        );
        typed(
            "state",
            StateConfig::parse(adapters::section(&root, "state")).map(|c| state = c),
        );
        let pushgateway = match adapters::pushgateway(adapters::section(&root, "metrics")) {
            Ok(url) => url,
            Err((pos, why)) => {
                finding(
                    pos,
                    "/metrics/pushgateway",
                    why,
                    "write the Pushgateway's base URL, e.g. `http://pushgateway:9091`",
                );
                None
            }
        };
        let (notify, notify_problems) =
            adapters::WebhookConfig::parse_all(adapters::section(&root, "notify"));
        for (pos, pointer, why) in notify_problems {
            finding(
                pos,
                &pointer,
                why,
                "see `notify:` in the manifest schema: `- {name: team, url: {env: TEAM_WEBHOOK_URL}, events: [halted, rolled-back], format: json}`",
            );
        }

        diagnostics.extend(scope_findings);
        limits.yaml = std::sync::Arc::new(crate::config::yaml_policy::from_manifest(
            &root,
            MANIFEST_FILE,
            diagnostics,
        ));
        Manifest {
            hierarchy,
            host_classes,
            schemas,
            effective_schemas,
            unknown_override,
            flags_dir,
            rings_dir,
            severities,
            limits,
            deliver,
            metrics,
            state,
            notify,
            pushgateway,
            interpolation: crate::config::layers::Interpolation::from_manifest(&root),
            merge: crate::config::merge::MergePolicy::from_manifest(&root),
            raw: root,
            layer_listing: Default::default(),
        }
    }

    /// Lists what the hierarchy's directories and globs hold for every class
    /// into `layer_listing`, so expanding layers later reads nothing. A
    /// listing that fails, or a template that expands to too many layers for
    /// a class, is a `manifest` finding at the template's line.
    fn list_layers(&mut self, source: &dyn Source, diagnostics: &mut Vec<Diagnostic>) {
        use crate::config::boundary::shown;
        use crate::config::layers::{MAX_EXPANSIONS, list_one};
        let mut listing = std::mem::take(&mut self.layer_listing);
        // Every expanded path is probed once, found or not: classes share
        // groups, and a group without vars is asked about by each of them.
        let mut probed = std::collections::HashSet::new();
        for (i, template) in self.hierarchy.iter().enumerate() {
            let finding = |message: String, help: &str| {
                Diagnostic::new(
                    Rule::Manifest,
                    MANIFEST_FILE,
                    template.template.pos,
                    message,
                )
                .with_path(format!("/hierarchy/{i}"))
                .with_help(help)
            };
            let too_many = self.host_classes.values().find(|class| {
                let product = template.facts.iter().fold(1usize, |n, fact| {
                    n.saturating_mul(class.lists.get(fact).map_or(1, Vec::len))
                });
                product > MAX_EXPANSIONS
            });
            if let Some(class) = too_many {
                diagnostics.push(
                    finding(
                        format!(
                            "template `{}` expands to more than {MAX_EXPANSIONS} layers for host class `{}`; it contributes nothing",
                            shown(&template.template.value),
                            shown(&class.name)
                        ),
                        "use fewer multi-valued facts in one template",
                    )
                    .with_class(class.name.as_str()),
                );
            }
            if !template.glob && crate::config::layers::names_a_file(&template.template.value) {
                continue;
            }
            for class in self.host_classes.values() {
                for expanded in template.expand(class).unwrap_or_default() {
                    if listing.has(&expanded) || !probed.insert(expanded.clone()) {
                        continue;
                    }
                    match list_one(template.glob, &expanded, source) {
                        Ok(Some(mut files)) => {
                            // A glob or directory never takes in ringmaster's own
                            // files or a schema (`*.yaml` at the root would merge the manifest).
                            files.retain(|f| {
                                self.own_schema_for(f).is_none() && !self.is_schema_file(f)
                            });
                            listing.insert(expanded, files);
                        }
                        Ok(None) => {}
                        Err(e) => diagnostics.push(finding(
                            format!("cannot list `{}`: {e}", shown(&expanded)),
                            "check the directory's permissions",
                        )),
                    }
                }
            }
        }
        self.layer_listing = listing;
    }

    /// Checks that every file and directory the manifest names exists.
    pub fn check_references(&self, source: &dyn Source) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        let schema_refs = self
            .schemas
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let at = (&m.schema.value, m.schema.pos);
                (at, "schemas", format!("/schemas/{i}/schema"))
            })
            .chain(
                self.effective_schemas
                    .iter()
                    .map(|s| ((&s.schema, s.pos), "effective.schema", s.pointer.clone())),
            );
        for ((schema, pos), field, pointer) in schema_refs {
            if !seen.insert(schema) {
                continue;
            }
            if !matches!(source.read(schema), Ok(Some(_))) {
                out.push(
                    Diagnostic::new(
                        Rule::Manifest,
                        MANIFEST_FILE,
                        pos,
                        format!("schema file `{schema}` (from `{field}`) does not exist"),
                    )
                    .with_path(pointer)
                    .with_help(
                        "fix the path (it is relative to the repo root) or add the schema file",
                    ),
                );
            }
        }
        for (dir, field) in [(&self.flags_dir, "flags"), (&self.rings_dir, "rings")] {
            if let Some(dir) = dir
                && !source.dir_exists(&dir.value).unwrap_or(false)
            {
                out.push(
                    Diagnostic::new(
                        Rule::Manifest,
                        MANIFEST_FILE,
                        dir.pos,
                        format!("`{field}` directory `{}` does not exist", dir.value),
                    )
                    .with_path(format!("/{field}"))
                    .with_help(format!("create it, or remove `{field}:` from the manifest")),
                );
            }
        }
        out
    }

    /// The schemas that apply to a repo-relative path, in manifest order.
    pub fn schemas_for<'a>(
        &'a self,
        path: &'a str,
    ) -> impl Iterator<Item = &'a SchemaMapping> + 'a {
        self.schemas
            .iter()
            .filter(move |m| m.matcher.as_ref().is_some_and(|g| g.is_match(path)))
    }

    /// Which of ringmaster's own schemas applies to a path, if any.
    pub fn own_schema_for(&self, path: &str) -> Option<OwnSchema> {
        if path == MANIFEST_FILE {
            return Some(OwnSchema::Manifest);
        }
        let in_dir = |dir: &Option<Spanned<String>>| {
            dir.as_ref().is_some_and(|d| {
                path.strip_prefix(d.value.as_str())
                    .and_then(|r| r.strip_prefix('/'))
                    .is_some_and(|name| !name.contains('/') && is_yaml(name))
            })
        };
        if in_dir(&self.flags_dir) {
            Some(OwnSchema::Flag)
        } else if in_dir(&self.rings_dir) {
            Some(OwnSchema::Ring)
        } else {
            None
        }
    }

    /// Whether `check` looks at this file: the manifest, ring and flag files,
    /// files a schema mapping or a hierarchy template covers, and the schema
    /// files themselves. Everything else is skipped.
    pub fn covers(&self, path: &str) -> bool {
        self.own_schema_for(path).is_some()
            || self.schemas_for(path).next().is_some()
            || self.is_schema_file(path)
            || self.is_layer_file(path)
    }

    pub fn is_layer_file(&self, path: &str) -> bool {
        self.hierarchy.iter().any(|t| t.covers(path))
    }

    pub fn is_schema_file(&self, path: &str) -> bool {
        self.schemas.iter().any(|m| m.schema.value == path)
            || self.effective_schemas.iter().any(|s| s.schema == path)
    }

    /// The effective schema that checks `class`: the first `effective:`
    /// entry that applies to it, if any.
    pub fn effective_schema_for(&self, class: &str) -> Option<&EffectiveSchema> {
        self.effective_schemas.iter().find(|s| s.applies_to(class))
    }
}

/// The `*.yaml`/`*.yml` files directly in one of the manifest's directories
/// (`flags:`, `rings:`); none when the manifest does not name it.
pub fn yaml_files_in(
    dir: &Option<Spanned<String>>,
    source: &dyn Source,
) -> anyhow::Result<Vec<String>> {
    let Some(dir) = dir else {
        return Ok(Vec::new());
    };
    let prefix = format!("{}/", dir.value.trim_end_matches('/'));
    Ok(source
        .list_dir(&dir.value)?
        .into_iter()
        .filter(|p| {
            p.strip_prefix(&prefix)
                .is_some_and(|name| !name.contains('/') && is_yaml(name))
        })
        .collect())
}

pub fn is_yaml(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}

/// The facts a template names, and whether its braces balance.
fn template_facts(template: &str) -> (Vec<String>, bool) {
    let mut facts = Vec::new();
    let mut rest = template;
    loop {
        match (rest.find('{'), rest.find('}')) {
            (None, None) => return (facts, true),
            (Some(open), Some(close)) if open < close => {
                let fact = &rest[open + 1..close];
                if fact.is_empty() || fact.contains('{') {
                    return (facts, false);
                }
                facts.push(fact.to_owned());
                rest = &rest[close + 1..];
            }
            _ => return (facts, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand_with_facts_and_class() {
        let (facts, ok) = template_facts("config/{role}/{class}.yaml");
        assert!(ok);
        assert_eq!(facts, ["role", "class"]);
        assert!(!template_facts("config/{role.yaml").1);
        let t = LayerTemplate {
            template: Spanned {
                value: "config/role/{role}.yaml".into(),
                pos: Pos::START,
            },
            facts,
            matcher: None,
            within: None,
            glob: false,
        };
        let class = HostClass {
            name: "api-1".into(),
            facts: [("role".to_string(), "api".to_string())].into(),
            lists: BTreeMap::new(),
            pos: Pos::START,
        };
        assert_eq!(
            t.expand(&class),
            Some(vec!["config/role/api.yaml".to_string()])
        );
        let bare = HostClass {
            facts: BTreeMap::new(),
            ..class.clone()
        };
        assert_eq!(t.expand(&bare), None);
        // A multi-valued fact gives one path per value, in order; in a glob
        // a value is matched literally.
        let groups = LayerTemplate {
            template: Spanned {
                value: "gv/{groups}/*.yml".into(),
                pos: Pos::START,
            },
            facts: vec!["groups".into()],
            matcher: None,
            within: None,
            glob: true,
        };
        let multi = HostClass {
            lists: [(
                "groups".to_string(),
                vec!["web".to_string(), "a*".to_string()],
            )]
            .into(),
            ..class
        };
        assert_eq!(
            groups.expand(&multi),
            Some(vec![
                "gv/web/*.yml".to_string(),
                "gv/a[*]/*.yml".to_string()
            ])
        );
    }

    #[test]
    fn the_manifest_types_its_sections_when_it_is_loaded() {
        let text = "version: 1\ndeliver:\n  kind: dir\n  path: out\nmetrics: {kind: prometheus, url: 'http://p:9090'}\nstate: {kind: etcd, endpoints: ['http://e:2379'], prefix: /team}\n";
        let source = crate::source::MemorySource::new(&[("ringmaster.yaml", text)]);
        let manifest = Manifest::load(&source).unwrap().manifest;
        assert_eq!(
            manifest.deliver,
            adapters::DeliverConfig::Dir {
                path: adapters::Located {
                    value: "out".into(),
                    pos: Pos::new(4, 9)
                }
            }
        );
        assert_eq!(
            manifest.metrics,
            adapters::MetricsConfig::Prometheus {
                url: Some(adapters::Located {
                    value: "http://p:9090".into(),
                    pos: Pos::new(5, 34)
                })
            }
        );
        assert_eq!(
            manifest.state,
            adapters::StateConfig::Etcd {
                endpoints: vec!["http://e:2379".into()],
                prefix: Some("/team".into())
            }
        );
    }

    #[test]
    fn a_class_gets_the_first_selector_that_matches_it() {
        let text = "version: 1\nhost_classes:\n  cm-1: {}\n  web-1: {}\n  db-1: {}\neffective:\n  - classes: 'cm-*'\n    schema: a.json\n  - classes: '{cm,web}-*'\n    schema: b.json\n";
        let source = crate::source::MemorySource::new(&[("ringmaster.yaml", text)]);
        let Ok(loaded) = Manifest::load(&source) else {
            panic!("the manifest loads");
        };
        let schema_of = |class: &str| {
            loaded
                .manifest
                .effective_schema_for(class)
                .map(|s| s.schema.as_str())
        };
        assert_eq!(schema_of("cm-1"), Some("a.json"));
        assert_eq!(schema_of("web-1"), Some("b.json"));
        assert_eq!(schema_of("db-1"), None);
    }
}
