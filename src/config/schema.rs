//! JSON Schema validation that reports at the offending key or value.
//!
//! Schemas are compiled once per run and shared across threads. `$ref`s
//! resolve against the same source the files come from (working tree, index
//! or a revision), never the network. Validation errors carry a JSON Pointer;
//! a [`Locator`] turns it back into file:line:col, so the same code serves a
//! single file and a merged effective config (whose leaves come from many).

use std::sync::{Arc, OnceLock};

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Retrieve, Uri, ValidationError, Validator};
use sha2::Digest;

use crate::config::document::{self, Limits, Node, SpecialNumber};
use crate::config::node_json::NodeJson;
use crate::diag::{Diagnostic, Pos, Rule};
use crate::source::Source;

/// ringmaster's own formats; their schemas live in `schemas/` and are compiled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnSchema {
    Manifest,
    Ring,
    Flag,
}

impl OwnSchema {
    pub fn text(self) -> &'static str {
        match self {
            OwnSchema::Manifest => include_str!("../../schemas/manifest.schema.json"),
            OwnSchema::Ring => include_str!("../../schemas/ring.schema.json"),
            OwnSchema::Flag => include_str!("../../schemas/flag.schema.json"),
        }
    }

    fn validator(self) -> &'static Validator {
        // Each compiled on first use only: a check of one layer file needs
        // the manifest's schema, never the ring's or the flag's.
        static COMPILED: [OnceLock<Validator>; 3] =
            [OnceLock::new(), OnceLock::new(), OnceLock::new()];
        COMPILED[self as usize].get_or_init(|| {
            let json: serde_json::Value = serde_json::from_str(self.text())
                .expect("built-in schemas are valid JSON (tested)");
            jsonschema::options()
                .should_validate_formats(true)
                .build(&json)
                .expect("built-in schemas compile (tested)")
        })
    }

    /// The same schema for parsed documents ([`NodeJson`]): a valid file
    /// (most of them) is then checked without building its JSON, which for
    /// a manifest listing 100 000 host classes is most of its load.
    fn node_validator(self) -> &'static Validator<NodeJson> {
        static COMPILED: [OnceLock<Validator<NodeJson>>; 3] =
            [OnceLock::new(), OnceLock::new(), OnceLock::new()];
        COMPILED[self as usize].get_or_init(|| {
            let json: serde_json::Value = serde_json::from_str(self.text())
                .expect("built-in schemas are valid JSON (tested)");
            jsonschema::options_for::<NodeJson>()
                .should_validate_formats(true)
                .build(&json)
                .expect("built-in schemas compile (tested)")
        })
    }
}

/// Validates a document against one of ringmaster's own schemas.
///
/// ringmaster's own files take finite numbers only: a threshold, order or
/// limit of `.nan` or `.inf` would make a gate never trip or a ring sort
/// anywhere, so each is a finding even where the schema says `number`.
pub fn validate_own(kind: OwnSchema, file: &str, root: &Node) -> Vec<Diagnostic> {
    let mut specials = Vec::new();
    root.special_numbers("", &mut specials);
    // Valid as parsed: no JSON needed. Anything else is validated as JSON,
    // so every finding comes from the JSON validator as before.
    if specials.is_empty() && kind.node_validator().is_valid(root) {
        return Vec::new();
    }
    let instance = root.to_json();
    let validator = kind.validator();
    let schema_json: serde_json::Value = serde_json::from_str(kind.text()).unwrap_or_default();
    let locator = DocumentLocator { file, root };
    let mut found = validate_with(validator, &instance, &schema_json, &locator);
    for special in specials.iter().filter(|s| !s.value.is_finite()) {
        if found
            .iter()
            .any(|d| d.path.as_deref() == Some(special.pointer.as_str()))
        {
            continue;
        }
        let pos = root
            .locate(&special.pointer)
            .map_or(root.pos, |(n, _)| n.pos);
        found.push(
            Diagnostic::new(
                Rule::Schema,
                file,
                pos,
                format!(
                    "`{}` is not a finite number; ringmaster's own files take finite numbers only",
                    special.spelling
                ),
            )
            .with_path(special.pointer.clone())
            .with_help("write the number itself"),
        );
    }
    found
}

/// Maps a JSON Pointer in a validated instance to where it was written.
pub trait Locator {
    /// The file, the value's position, and the key's position when the value
    /// sits in a mapping. `None` when nothing in the source matches.
    fn locate(&self, pointer: &str) -> Option<(String, Pos, Option<Pos>)>;
    /// Where to report when the pointer cannot be located.
    fn fallback(&self) -> (String, Pos);
    /// The host class, for effective configs.
    fn class(&self) -> Option<&str> {
        None
    }
    /// Numbers in the instance that JSON cannot hold (see
    /// [`Node::special_numbers`]); the instance has strings in their place.
    fn special_numbers(&self) -> Vec<SpecialNumber> {
        Vec::new()
    }
}

/// A single parsed file.
pub struct DocumentLocator<'a> {
    pub file: &'a str,
    pub root: &'a Node,
}

impl Locator for DocumentLocator<'_> {
    fn locate(&self, pointer: &str) -> Option<(String, Pos, Option<Pos>)> {
        let (node, key) = self.root.locate(pointer)?;
        Some((self.file.to_owned(), node.pos, key))
    }

    fn fallback(&self) -> (String, Pos) {
        (self.file.to_owned(), self.root.pos)
    }

    fn special_numbers(&self) -> Vec<SpecialNumber> {
        let mut out = Vec::new();
        self.root.special_numbers("", &mut out);
        out
    }
}

/// A user schema, compiled.
pub struct CompiledSchema {
    pub path: String,
    pub validator: Validator,
    /// The same schema, reading parsed documents as they are (see
    /// `node_json`): the answer for the many files that are valid.
    pub(crate) node_validator: Option<Validator<NodeJson>>,
    pub json: serde_json::Value,
    /// SHA-256 over the schema's bytes and every `$ref`ed file read while
    /// compiling it: what the check cache keys a file's findings on.
    pub digest: [u8; 32],
}

impl CompiledSchema {
    /// Validates an instance; `locator` maps errors back to files.
    pub fn validate(&self, instance: &serde_json::Value, locator: &dyn Locator) -> Vec<Diagnostic> {
        validate_with(&self.validator, instance, &self.json, locator)
    }

    /// Whether `root` is valid, answered without building its JSON; `false`
    /// also when this cannot say (numbers JSON cannot hold, see
    /// [`validate_with`]): the caller then validates its JSON, as
    /// [`CompiledSchema::validate`] always did.
    pub(crate) fn valid_as_parsed(&self, root: &Node) -> bool {
        self.node_validator
            .as_ref()
            .is_some_and(|v| !root.has_special_numbers() && v.is_valid(root))
    }
}

/// Remembers the schemas that compiled without reading any other file
/// (no `$ref` reached the retriever): for those, the compile's outcome and
/// the digest are a function of the schema's path and bytes and the build
/// alone, so a later run with the same bytes knows both without compiling.
///
/// Both take the digest such a schema has (over its path and bytes, no
/// `$ref`ed file): it names the path and bytes, hashed once.
pub(crate) trait CompileMemo: Sync {
    /// Whether the schema with this digest compiled, reading nothing else.
    fn compiled(&self, alone: &[u8; 32]) -> bool;
    /// Remembers that the schema with this digest compiled, reading nothing else.
    fn remember_compiled(&self, alone: &[u8; 32]);
}

/// A user schema whose digest is known and which compiles; compiled on the
/// first validation only when a [`CompileMemo`] vouched for it (a check
/// whose every file comes from the cache validates nothing).
pub struct PreparedSchema {
    pub path: String,
    /// See [`CompiledSchema::digest`].
    pub digest: [u8; 32],
    source: Arc<dyn Source>,
    /// The bytes the digest was made of: the compile uses these, never a
    /// second read that could see other bytes.
    bytes: Vec<u8>,
    compiled: OnceLock<Result<CompiledSchema, Vec<Diagnostic>>>,
}

impl PreparedSchema {
    /// The compiled schema, compiled now if the memo deferred it.
    fn compiled(&self) -> &Result<CompiledSchema, Vec<Diagnostic>> {
        self.compiled
            .get_or_init(|| compile_bytes(&self.source, &self.path, &self.bytes).0)
    }

    /// See [`CompiledSchema::valid_as_parsed`]; `false` when the schema does
    /// not compile, so that [`PreparedSchema::validate`] reports why.
    pub(crate) fn valid_as_parsed(&self, root: &Node) -> bool {
        matches!(self.compiled(), Ok(schema) if schema.valid_as_parsed(root))
    }

    /// Validates an instance; `locator` maps errors back to files.
    pub fn validate(&self, instance: &serde_json::Value, locator: &dyn Locator) -> Vec<Diagnostic> {
        match self.compiled() {
            Ok(schema) => schema.validate(instance, locator),
            // Not reached: the memo vouched that these bytes compile in this
            // build. Were it wrong, the schema's findings are reported here
            // rather than the file passing unchecked.
            Err(found) => found.clone(),
        }
    }
}

/// [`compile`], unless `memo` says the schema at `path` with its current
/// bytes compiles reading no other file: then its digest is computed from
/// the bytes and the compile waits for the first validation.
pub(crate) fn prepare(
    source: &Arc<dyn Source>,
    path: &str,
    memo: Option<&dyn CompileMemo>,
) -> Result<PreparedSchema, Vec<Diagnostic>> {
    let bytes = read_schema(source, path)?;
    let prepared = |digest, compiled| PreparedSchema {
        path: path.to_owned(),
        digest,
        source: source.clone(),
        bytes: Vec::new(),
        compiled,
    };
    // The digest the schema has if it reads no other file.
    let alone = memo.map(|_| schema_digest(path, &bytes, &ReadFiles::default()));
    if let (Some(memo), Some(alone)) = (memo, alone)
        && memo.compiled(&alone)
    {
        return Ok(PreparedSchema {
            bytes,
            ..prepared(alone, OnceLock::new())
        });
    }
    let (compiled, read_nothing_else) = compile_bytes(source, path, &bytes);
    let compiled = compiled?;
    if let (Some(memo), Some(alone), true) = (memo, alone, read_nothing_else) {
        memo.remember_compiled(&alone);
    }
    Ok(prepared(compiled.digest, OnceLock::from(Ok(compiled))))
}

/// Validates an instance, numbers JSON cannot hold included.
///
/// `.inf`, `-.inf`, `.nan` and integers beyond 64 bits are numbers in YAML
/// but have no JSON value, so the instance holds their spelling as a string.
/// Each is validated as a number instead, with the Python `jsonschema`
/// semantics YAML users meet elsewhere: it passes `type: number`; a non-finite
/// one fails `type: integer`; `.inf` fails a maximum and `-.inf` a minimum;
/// `.nan` compares with nothing, so it fails every bound. Findings name the
/// value as written, never a stand-in.
fn validate_with(
    validator: &Validator,
    instance: &serde_json::Value,
    schema: &serde_json::Value,
    locator: &dyn Locator,
) -> Vec<Diagnostic> {
    let specials = locator.special_numbers();
    if specials.is_empty() {
        if validator.is_valid(instance) {
            return Vec::new();
        }
        return to_diagnostics(
            validator.iter_errors(instance),
            schema,
            locator,
            Rule::Schema,
        );
    }
    // Stand-ins: the largest double for +inf (and for NaN, in the first
    // pass), the smallest for -inf (and for NaN in the third), 0.5 to find
    // where an integer is required.
    let stand_in = |special: &SpecialNumber, pass: usize| -> f64 {
        let v = special.value;
        match pass {
            _ if v.is_finite() => v,
            1 => 0.5,
            2 if v.is_nan() => -f64::MAX,
            _ if v.is_nan() || v > 0.0 => f64::MAX,
            _ => -f64::MAX,
        }
    };
    let with_stand_ins = |pass: usize| {
        let mut copy = instance.clone();
        for special in &specials {
            if let Some(slot) = copy.pointer_mut(&special.pointer) {
                let number = serde_json::Number::from_f64(stand_in(special, pass))
                    .unwrap_or_else(|| serde_json::Number::from(0));
                *slot = serde_json::Value::Number(number);
            }
        }
        copy
    };
    let by_pointer: std::collections::HashMap<&str, &SpecialNumber> =
        specials.iter().map(|s| (s.pointer.as_str(), s)).collect();
    let special_at = |pointer: &str| by_pointer.get(pointer).copied();
    let any_nan = specials.iter().any(|s| s.value.is_nan());
    let mut out = Vec::new();
    for pass in 0..3 {
        if (pass == 1 && specials.iter().all(|s| s.value.is_finite())) || (pass == 2 && !any_nan) {
            continue;
        }
        let copy = with_stand_ins(pass);
        let errors = validator.iter_errors(&copy).filter(|e| {
            let at = special_at(e.instance_path().as_str());
            match pass {
                0 => true,
                // Only what the stand-in 0.5 is for: a required integer.
                1 => {
                    at.is_some_and(|s| !s.value.is_finite())
                        && matches!(e.kind(), ValidationErrorKind::Type { .. })
                }
                // Only the lower bounds a NaN fails as well.
                _ => {
                    at.is_some_and(|s| s.value.is_nan())
                        && matches!(
                            e.kind(),
                            ValidationErrorKind::Minimum { .. }
                                | ValidationErrorKind::ExclusiveMinimum { .. }
                        )
                }
            }
        });
        for mut d in to_diagnostics(errors, schema, locator, Rule::Schema) {
            if let Some(special) = d.path.as_deref().and_then(special_at) {
                let shown = serde_json::Number::from_f64(stand_in(special, pass))
                    .map(|n| n.to_string())
                    .unwrap_or_default();
                let named = format!("`{}`", special.spelling);
                d.message = if shown.is_empty() {
                    d.message
                } else {
                    d.message.replacen(&shown, &named, 1)
                };
                let bound = d.message.rfind(" the ").map(|i| &d.message[i + 5..]);
                if let (true, Some(bound)) = (special.value.is_nan(), bound) {
                    d.message = format!(
                        "`.nan` is not a number that compares with any other, so it cannot meet the {bound}"
                    );
                } else if !special.value.is_finite() {
                    d.message = format!("{} (it is not a finite number)", d.message);
                }
            }
            if !out
                .iter()
                .any(|o: &Diagnostic| o.path == d.path && o.message == d.message)
            {
                out.push(d);
            }
        }
    }
    out
}

/// The files a schema's compilation read, each with its bytes' SHA-256.
type ReadFiles = Arc<std::sync::Mutex<Vec<(String, [u8; 32])>>>;

/// Reads `$ref`ed files from the same source as everything else.
struct SourceRetriever {
    source: Arc<dyn Source>,
    /// Each file read, with its bytes' hash, for the schema's digest.
    read: ReadFiles,
    /// Whether anything was asked of it (read or not, resolvable or not).
    asked: Arc<std::sync::atomic::AtomicBool>,
    /// What each `$ref`ed file resolved to, for the second compilation.
    resolved: Resolved,
}

/// `$ref`ed files by URI, as the first compilation resolved them.
type Resolved = Arc<std::sync::Mutex<std::collections::HashMap<String, serde_json::Value>>>;

/// The second compilation of a schema (for [`NodeJson`]) resolves its
/// `$ref`s to what the first one read: both validators see the same files,
/// read once.
struct Replay {
    resolved: Resolved,
}

impl Retrieve for Replay {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        self.resolved
            .lock()
            .ok()
            .and_then(|resolved| resolved.get(uri.as_str()).cloned())
            .ok_or_else(|| format!("{uri}: not resolved by the first compilation").into())
    }
}

impl Retrieve for SourceRetriever {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        self.asked.store(true, std::sync::atomic::Ordering::Relaxed);
        if uri.scheme().as_str() != "file" {
            return Err(format!("{uri}: only files in the repo are resolved; ringmaster never fetches schemas over the network").into());
        }
        let path = uri.path().as_str().trim_start_matches('/');
        let bytes = self
            .source
            .read(path)?
            .ok_or_else(|| format!("`$ref` target `{path}` does not exist"))?;
        if let Ok(mut read) = self.read.lock() {
            read.push((path.to_owned(), sha2::Sha256::digest(&bytes).into()));
        }
        let parsed = document::parse(path, &bytes, &Limits::default());
        match parsed.single() {
            Some(doc) if parsed.diagnostics.is_empty() => {
                let json = doc.to_json();
                if let Ok(mut resolved) = self.resolved.lock() {
                    resolved.insert(uri.as_str().to_owned(), json.clone());
                }
                Ok(json)
            }
            _ => Err(format!("`$ref` target `{path}` is not valid JSON or YAML").into()),
        }
    }
}

/// The schema's bytes and the `$ref`ed files' hashes, in a stable order.
fn schema_digest(path: &str, bytes: &[u8], read: &ReadFiles) -> [u8; 32] {
    let mut refs = read.lock().map(|r| r.clone()).unwrap_or_default();
    refs.sort();
    refs.dedup();
    let mut h = sha2::Sha256::new();
    for part in [path.as_bytes(), b"\0", bytes, b"\0"] {
        h.update(part);
    }
    for (p, d) in &refs {
        h.update(p.as_bytes());
        h.update(b"\0");
        h.update(d);
    }
    h.finalize().into()
}

/// Compiles the schema at `path`. A schema that cannot be read, parsed or
/// compiled yields `schema-invalid` findings on the schema file itself.
pub fn compile(source: &Arc<dyn Source>, path: &str) -> Result<CompiledSchema, Vec<Diagnostic>> {
    let bytes = read_schema(source, path)?;
    compile_bytes(source, path, &bytes).0
}

fn invalid(path: &str, pos: Pos, msg: String) -> Diagnostic {
    Diagnostic::new(Rule::SchemaInvalid, path, pos, msg)
        .with_help("fix the schema; files it covers are not schema-checked until it compiles")
}

/// The schema's bytes; a missing schema is no finding here (the manifest
/// check reports it), an unreadable one is `schema-invalid`.
fn read_schema(source: &Arc<dyn Source>, path: &str) -> Result<Vec<u8>, Vec<Diagnostic>> {
    match source.read(path) {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err(Vec::new()),
        Err(e) => Err(vec![invalid(
            path,
            Pos::START,
            format!("cannot read schema: {e}"),
        )]),
    }
}

/// Compiles the schema at `path` from `bytes`; with it, whether the
/// compile read no other file (nothing was asked of the retriever).
fn compile_bytes(
    source: &Arc<dyn Source>,
    path: &str,
    bytes: &[u8],
) -> (Result<CompiledSchema, Vec<Diagnostic>>, bool) {
    let asked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let compiled = compile_with(source, path, bytes, &asked);
    (compiled, !asked.load(std::sync::atomic::Ordering::Relaxed))
}

fn compile_with(
    source: &Arc<dyn Source>,
    path: &str,
    bytes: &[u8],
    asked: &Arc<std::sync::atomic::AtomicBool>,
) -> Result<CompiledSchema, Vec<Diagnostic>> {
    let invalid = |pos: Pos, msg: String| invalid(path, pos, msg);
    let parsed = document::parse(path, bytes, &Limits::default());
    let Some(root) = parsed.single().filter(|_| parsed.diagnostics.is_empty()) else {
        let first = parsed.diagnostics.first();
        return Err(vec![invalid(
            first.map_or(Pos::START, |d| d.pos),
            format!(
                "schema cannot be parsed: {}",
                first.map_or("it is empty".to_string(), |d| d.message.clone())
            ),
        )]);
    };
    if let Some((pos, target)) = ref_outside(root, path) {
        return Err(vec![invalid(
            pos,
            format!(
                "`$ref` `{target}` leads outside the repository; ringmaster never reads files outside the repo"
            ),
        )]);
    }
    let json = root.to_json();
    let read = Arc::new(std::sync::Mutex::new(Vec::new()));
    let resolved = Resolved::default();
    let built = jsonschema::options()
        .should_validate_formats(true)
        .with_base_uri(format!("file:///{path}"))
        .with_retriever(SourceRetriever {
            source: source.clone(),
            read: read.clone(),
            asked: asked.clone(),
            resolved: resolved.clone(),
        })
        .build(&json);
    match built {
        Ok(validator) => Ok(CompiledSchema {
            path: path.to_owned(),
            validator,
            // Same options, same schema, same `$ref`ed files: the same
            // answers. Should it not compile, every file takes the JSON way.
            node_validator: jsonschema::options_for::<NodeJson>()
                .should_validate_formats(true)
                .with_base_uri(format!("file:///{path}"))
                .with_retriever(Replay { resolved })
                .build(&json)
                .ok(),
            json,
            digest: schema_digest(path, bytes, &read),
        }),
        Err(err) => {
            let pointer = err.instance_path().as_str();
            let (pos, pointer, what) = match err.kind() {
                ValidationErrorKind::Referencing(e) => {
                    let text = e.to_string();
                    // Point at the `$ref` whose target is named in the error.
                    let (pos, at) =
                        find_ref(root, "", &text).unwrap_or((Pos::START, String::new()));
                    (
                        pos,
                        at,
                        format!("schema has an unresolvable reference: {text}"),
                    )
                }
                _ => (
                    root.locate(pointer).map_or(Pos::START, |(n, _)| n.pos),
                    pointer.to_owned(),
                    format!("not a valid JSON Schema: {}", truncate(&err.to_string())),
                ),
            };
            Err(vec![invalid(pos, what).with_path(pointer)])
        }
    }
}

/// The first relative `$ref` whose file part climbs out of the repo from the
/// schema at `path` (URI resolution would silently clamp it at the root and
/// report a different file as missing).
fn ref_outside(node: &Node, path: &str) -> Option<(Pos, String)> {
    match &node.value {
        document::Value::Map(entries) => entries.iter().find_map(|e| {
            if e.key == "$ref"
                && let Some(target) = e.value.value.as_str()
            {
                let file = target.split('#').next().unwrap_or_default();
                let relative = !file.is_empty() && !file.contains(':') && !file.starts_with('/');
                let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
                if relative && crate::source::confine(&format!("{dir}/{file}")).is_err() {
                    return Some((e.value.pos, target.to_owned()));
                }
            }
            ref_outside(&e.value, path)
        }),
        document::Value::Seq(items) => items.iter().find_map(|n| ref_outside(n, path)),
        _ => None,
    }
}

/// The first `$ref` whose value appears in `message`, with its pointer.
fn find_ref(node: &Node, pointer: &str, message: &str) -> Option<(Pos, String)> {
    match &node.value {
        document::Value::Map(entries) => entries.iter().find_map(|e| {
            let here = format!("{pointer}/{}", escape(&e.key));
            let named = |target: &str| {
                let (file, fragment) = target.split_once('#').unwrap_or((target, ""));
                let needle = if file.is_empty() { fragment } else { file };
                !needle.is_empty() && message.contains(needle)
            };
            match e.value.value.as_str() {
                Some(target) if e.key == "$ref" && named(target) => Some((e.value.pos, here)),
                _ => find_ref(&e.value, &here, message),
            }
        }),
        document::Value::Seq(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, n)| find_ref(n, &format!("{pointer}/{i}"), message)),
        _ => None,
    }
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Long instance values make unreadable messages; keep the head.
fn truncate(message: &str) -> String {
    const MAX: usize = 240;
    if message.chars().count() <= MAX {
        return message.to_owned();
    }
    let head: String = message.chars().take(MAX).collect();
    format!("{head}…")
}

/// At most this many findings per instance and schema: past it the rest are noise.
const MAX_ERRORS: usize = 50;

fn to_diagnostics<'i>(
    errors: impl Iterator<Item = ValidationError<'i>>,
    schema: &serde_json::Value,
    locator: &dyn Locator,
    rule: Rule,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for err in errors.take(MAX_ERRORS) {
        let pointer = err.instance_path().as_str().to_owned();
        let at = |pointer: &str, prefer_key: bool| -> (String, Pos) {
            match locator.locate(pointer) {
                Some((file, value, key)) => (
                    file,
                    if prefer_key {
                        key.unwrap_or(value)
                    } else {
                        value
                    },
                ),
                None => locator.fallback(),
            }
        };
        let mut push =
            |file: String, pos: Pos, path: String, message: String, help: Option<String>| {
                let mut d = Diagnostic::new(rule, file, pos, message).with_path(path);
                d.help = help;
                if let Some(class) = locator.class() {
                    d = d.with_class(class);
                }
                out.push(d);
            };
        match err.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                let allowed = allowed_properties(schema, err.schema_path().as_str());
                for key in unexpected {
                    let path = format!("{pointer}/{}", escape(key));
                    let (file, pos) = at(&path, true);
                    let help = match crate::model::suggest::closest(
                        key,
                        allowed.iter().map(String::as_str),
                    ) {
                        Some(s) => Some(format!("did you mean `{s}`?")),
                        None if !allowed.is_empty() && allowed.len() <= 12 => {
                            Some(format!("allowed keys here: {}", allowed.join(", ")))
                        }
                        None => None,
                    };
                    push(file, pos, path, format!("unexpected key `{key}`"), help);
                }
            }
            ValidationErrorKind::Required { property } => {
                let name = property
                    .as_str()
                    .map_or_else(|| property.to_string(), str::to_owned);
                let (file, pos) = at(&pointer, true);
                push(
                    file,
                    pos,
                    pointer,
                    format!("missing required key `{name}`"),
                    Some(format!("add `{name}:` to this mapping")),
                );
            }
            ValidationErrorKind::AnyOf { .. }
            | ValidationErrorKind::OneOfNotValid { .. }
            | ValidationErrorKind::OneOfMultipleValid { .. } => {
                // "not valid under any of the schemas listed" says nothing a
                // person can act on; the alternatives' description does.
                let (file, pos) = at(&pointer, false);
                let help = alternatives_description(schema, err.schema_path().as_str());
                push(file, pos, pointer, truncate(&err.to_string()), help);
            }
            _ => {
                let (file, pos) = at(&pointer, false);
                push(file, pos, pointer, truncate(&err.to_string()), None);
            }
        }
    }
    out
}

/// The `description` of the schema object holding an `anyOf`/`oneOf` at
/// `schema_path` (a JSON pointer into `schema` that may pass through local
/// `$ref`s), or of the nearest object above it that has one.
fn alternatives_description(schema: &serde_json::Value, schema_path: &str) -> Option<String> {
    let segments: Vec<String> = schema_path
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let mut chain: Vec<&serde_json::Value> = vec![schema];
    let mut node = schema;
    for segment in &segments[..segments.len().saturating_sub(1)] {
        node = if segment == "$ref" {
            let target = node.get("$ref")?.as_str()?.strip_prefix('#')?;
            schema.pointer(target)?
        } else {
            match node {
                serde_json::Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
                _ => node.get(segment)?,
            }
        };
        chain.push(node);
    }
    chain
        .iter()
        .rev()
        .find_map(|n| n.get("description")?.as_str().map(str::to_owned))
}

/// The property names the schema allows where an `additionalProperties`
/// error was raised, for "did you mean". Best effort: `$ref` hops are not
/// followed, so a referenced object yields no suggestions.
fn allowed_properties(schema: &serde_json::Value, schema_path: &str) -> Vec<String> {
    let parent = schema_path.rsplit_once('/').map_or("", |(p, _)| p);
    schema
        .pointer(parent)
        .and_then(|s| s.get("properties"))
        .and_then(|p| p.as_object())
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_schemas_compile() {
        for kind in [OwnSchema::Manifest, OwnSchema::Ring, OwnSchema::Flag] {
            let _ = kind.validator();
            let _ = kind.node_validator();
        }
    }

    /// `validate_own` trusts the parsed-tree validator's "valid": it must
    /// agree with the JSON validator on ringmaster's own files, good and bad.
    #[test]
    fn own_schemas_answer_alike_on_parsed_documents_and_their_json() {
        let shop = include_str!("../../examples/shop/ringmaster.yaml");
        let cases = [
            (OwnSchema::Manifest, shop.to_owned()),
            (
                OwnSchema::Manifest,
                shop.replace("version: 1", "version: two"),
            ),
            (OwnSchema::Manifest, format!("{shop}\nunknown_key: 1\n")),
            (
                OwnSchema::Manifest,
                shop.replace("hierarchy:", "hierarchies:"),
            ),
            (
                OwnSchema::Manifest,
                "version: 1\nhost_classes: []\n".to_owned(),
            ),
            (
                OwnSchema::Ring,
                "name: dogfood\norder: 1\nsoak: 10m\n".to_owned(),
            ),
            (OwnSchema::Ring, "name: dogfood\norder: first\n".to_owned()),
            (OwnSchema::Flag, "name: checkout\nowner: x\n".to_owned()),
            (OwnSchema::Flag, "- 1\n- 2\n".to_owned()),
        ];
        let mut answers = std::collections::BTreeSet::new();
        for (kind, text) in cases {
            let parsed = document::parse("f.yaml", text.as_bytes(), &Limits::default());
            let root = parsed.single().expect("one document");
            let as_json = kind.validator().is_valid(&root.to_json());
            assert_eq!(
                kind.node_validator().is_valid(root),
                as_json,
                "{kind:?}: {text}"
            );
            assert_eq!(
                validate_own(kind, "f.yaml", root).is_empty(),
                as_json,
                "{text}"
            );
            answers.insert(as_json);
        }
        assert_eq!(answers.len(), 2, "both answers are exercised");
    }

    #[test]
    fn errors_point_at_values_keys_and_mappings() {
        let schema_json = serde_json::json!({
            "type": "object",
            "properties": {"server": {"type": "object",
                "properties": {"port": {"type": "integer"}, "host": {"type": "string"}},
                "required": ["host"], "additionalProperties": false}}
        });
        let validator = jsonschema::validator_for(&schema_json).unwrap();
        let schema = CompiledSchema {
            path: "s.json".into(),
            validator,
            node_validator: None,
            json: schema_json,
            digest: [0; 32],
        };
        let parsed = document::parse(
            "c.yaml",
            b"server:\n  port: eighty\n  hots: x\n",
            &Limits::default(),
        );
        let root = parsed.single().unwrap();
        let mut found = schema.validate(
            &root.to_json(),
            &DocumentLocator {
                file: "c.yaml",
                root,
            },
        );
        found.sort_by_key(|d| d.pos);
        let summary: Vec<_> = found
            .iter()
            .map(|d| (d.pos, d.path.clone().unwrap(), d.message.clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    Pos::new(1, 1),
                    "/server".into(),
                    "missing required key `host`".into()
                ),
                (
                    Pos::new(2, 9),
                    "/server/port".into(),
                    "\"eighty\" is not of type \"integer\"".into()
                ),
                (
                    Pos::new(3, 3),
                    "/server/hots".into(),
                    "unexpected key `hots`".into()
                ),
            ]
        );
        assert_eq!(found[2].help.as_deref(), Some("did you mean `host`?"));
    }
}
