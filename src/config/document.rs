//! Bytes → a spanned document tree, for YAML and JSON alike.
//!
//! Every key and value keeps its 1-based line and column, so schema errors,
//! merge findings and provenance can all point at the exact character.
//! We drive `saphyr-parser`'s event stream ourselves rather than use a
//! ready-made loader because we need four things no loader gives together:
//! spans on every node, duplicate-key detection, a hard budget on alias
//! expansion ("billion laughs"), and the raw text of plain scalars for the
//! YAML 1.1 ambiguity lint. Scalars resolve by the YAML 1.2 core schema, or
//! by the YAML 1.1 types where the repo's `yaml:` policy says so for a file
//! (see [`YamlVersion::V1_1`]).
//!
//! This module does not know about schemas, layers or the manifest.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Span, Tag};

use crate::diag::{Diagnostic, Pos, Rule, Severity};

/// Resource limits applied while reading one file, and the repo's policy
/// for how each file's YAML is read.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Files larger than this are reported (`file-too-large`) and not parsed.
    pub max_file_bytes: u64,
    /// How many nodes alias expansion may add to one file. Anchored nodes are
    /// kept for their aliases only up to four times this.
    pub max_alias_nodes: usize,
    /// How deep maps and lists may nest. Everything downstream (merge, JSON,
    /// schema validation) recurses, so this bound is what keeps the stack safe.
    pub max_depth: usize,
    /// Which YAML version and duplicate-key policy apply to which file (the
    /// manifest's `yaml:` section). It travels with the limits so every
    /// place that parses a repo file applies it without a new argument.
    pub yaml: Arc<YamlPolicy>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 10 * 1024 * 1024,
            max_alias_nodes: 100_000,
            max_depth: 128,
            yaml: Arc::default(),
        }
    }
}

/// How plain scalars are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum YamlVersion {
    /// The YAML 1.2 core schema: `true`/`false`, `0o17`, `0x1F`, `1e3`.
    #[default]
    V1_2,
    /// YAML 1.1 as Puppet (Ruby's Psych), Ansible (PyYAML) and Helm (go-yaml
    /// v2, through sigs.k8s.io/yaml) read it, where all three agree:
    /// `yes`/`no`/`on`/`off` booleans, `0755` octal, `0b1010`, `1_000`,
    /// floats need a `.` and a signed exponent. Where they disagree the
    /// scalar stays a string: `y`/`n` (booleans to go-yaml v2 only), `1:30`
    /// (90 to PyYAML and Psych, a string to go-yaml v2), `1e3` and `1.5e3`
    /// (floats to go-yaml v2 only), `0o17` and `0X1F` (go-yaml v2 only),
    /// `yEs`/`nULL` (Psych only, which ignores case), `1,000` (Psych only).
    V1_1,
}

pub use crate::config::yaml_readers::YamlReader;

/// What a key defined twice in one mapping does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DuplicateKeys {
    /// A `duplicate-key` error: the file is not used.
    #[default]
    Error,
    /// A `duplicate-key` warning, and the later value wins, as PyYAML,
    /// Psych and go-yaml v2 (so Ansible, Puppet and Helm) do.
    LastWins,
}

/// How one file's YAML is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParseOptions {
    pub version: YamlVersion,
    pub duplicate_keys: DuplicateKeys,
    pub reader: YamlReader,
}

impl ParseOptions {
    /// How Puppet (Psych), Ansible (PyYAML) and Helm (go-yaml v2) read
    /// YAML: 1.1 scalars, and the last of duplicate keys wins.
    pub const TOOLS: ParseOptions = ParseOptions {
        version: YamlVersion::V1_1,
        duplicate_keys: DuplicateKeys::LastWins,
        reader: YamlReader::Agreed,
    };
}

/// Per-file parse options: a repo default and glob overrides, the first
/// matching glob winning. Built from the manifest in `yaml_policy.rs`.
#[derive(Debug, Clone, Default)]
pub struct YamlPolicy {
    pub default: ParseOptions,
    pub files: Vec<(globset::GlobMatcher, ParseOptions)>,
}

impl YamlPolicy {
    /// The options for a repo-relative path.
    pub fn options_for(&self, file: &str) -> ParseOptions {
        self.files
            .iter()
            .find(|(glob, _)| glob.is_match(file))
            .map_or(self.default, |(_, options)| *options)
    }
}

/// A value with the position of its first character.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer beyond `i64`, as written (`123456789012345678901234567890`,
    /// `0x1FFFFFFFFFFFFFFFF`). Kept as text so nothing is lost: JSON output
    /// carries it as a number when it fits `u64`, else as this text.
    BigInt(String),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
    /// `!unset`: removes the inherited key when layers merge (a knockout).
    Unset,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

impl Value {
    /// The name users see in messages ("mapping", "string", …).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) | Value::BigInt(_) | Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "list",
            Value::Map(_) => "mapping",
            Value::Unset => "!unset",
        }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match self {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.value.as_map()?.iter().find(|e| e.key == key)
    }

    /// Converts to JSON for schema validation. `!unset` entries are left out:
    /// a knockout is not a value, and a layer schema should not see one.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null | Value::Unset => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            // JSON has no number for these: they go out as their YAML spelling,
            // which nothing else produces from a number. Schema validation does
            // not see these strings: see `special_numbers`.
            Value::BigInt(text) => text
                .parse::<u64>()
                .map_or_else(|_| J::String(text.clone()), J::from),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map_or_else(|| J::String(non_finite_spelling(*f).to_owned()), J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => {
                // Sized up front: collecting through the filter grew each map
                // from nothing.
                let mut map = serde_json::Map::with_capacity(entries.len());
                for e in entries.iter().filter(|e| e.value.value != Value::Unset) {
                    map.insert(e.key.clone(), e.value.to_json());
                }
                J::Object(map)
            }
        }
    }

    /// Every number under this node that JSON cannot hold exactly (`.inf`,
    /// `-.inf`, `.nan`, integers beyond 64 bits), with its JSON Pointer below
    /// `prefix`. Schema validation substitutes these: [`Node::to_json`] writes
    /// them as strings, which a schema must not take for strings.
    pub fn special_numbers(&self, prefix: &str, out: &mut Vec<SpecialNumber>) {
        // Nearly every document has none: a walk that builds no pointer
        // says so at a fraction of the cost.
        if !self.has_special_numbers() {
            return;
        }
        // One pointer buffer for the whole walk: most nodes hold nothing
        // special, and a string per node was most of a big manifest's load.
        let mut pointer = prefix.to_owned();
        self.special_numbers_at(&mut pointer, out);
    }

    /// Whether [`Node::special_numbers`] would find anything.
    pub(crate) fn has_special_numbers(&self) -> bool {
        match &self.value {
            Value::Float(f) => !f.is_finite(),
            Value::BigInt(text) => text.parse::<u64>().is_err(),
            Value::Seq(items) => items.iter().any(Node::has_special_numbers),
            Value::Map(entries) => entries
                .iter()
                .any(|e| e.value.value != Value::Unset && e.value.has_special_numbers()),
            _ => false,
        }
    }

    fn special_numbers_at(&self, pointer: &mut String, out: &mut Vec<SpecialNumber>) {
        match &self.value {
            Value::Float(f) if !f.is_finite() => out.push(SpecialNumber {
                pointer: pointer.clone(),
                spelling: non_finite_spelling(*f).to_owned(),
                value: *f,
            }),
            Value::BigInt(text) if text.parse::<u64>().is_err() => out.push(SpecialNumber {
                pointer: pointer.clone(),
                spelling: text.clone(),
                value: big_int_to_f64(text),
            }),
            Value::Seq(items) => {
                let len = pointer.len();
                for (i, item) in items.iter().enumerate() {
                    use std::fmt::Write as _;
                    let _ = write!(pointer, "/{i}");
                    item.special_numbers_at(pointer, out);
                    pointer.truncate(len);
                }
            }
            Value::Map(entries) => {
                let len = pointer.len();
                for e in entries.iter().filter(|e| e.value.value != Value::Unset) {
                    pointer.push('/');
                    for c in e.key.chars() {
                        match c {
                            '~' => pointer.push_str("~0"),
                            '/' => pointer.push_str("~1"),
                            c => pointer.push(c),
                        }
                    }
                    e.value.special_numbers_at(pointer, out);
                    pointer.truncate(len);
                }
            }
            _ => {}
        }
    }

    /// Finds the node a JSON Pointer names. Returns the node and, when it is a
    /// mapping value, the position of its key.
    pub fn locate(&self, pointer: &str) -> Option<(&Node, Option<Pos>)> {
        let mut node = self;
        let mut key_pos = None;
        if pointer.is_empty() {
            return Some((node, None));
        }
        for raw in pointer.strip_prefix('/')?.split('/') {
            let segment = raw.replace("~1", "/").replace("~0", "~");
            match &node.value {
                Value::Map(entries) => {
                    let entry = entries.iter().rev().find(|e| e.key == segment)?;
                    key_pos = Some(entry.key_pos);
                    node = &entry.value;
                }
                Value::Seq(items) => {
                    node = items.get(segment.parse::<usize>().ok()?)?;
                    key_pos = None;
                }
                _ => return None,
            }
        }
        Some((node, key_pos))
    }
}

/// A number that JSON cannot hold exactly, and where it sits.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecialNumber {
    pub pointer: String,
    /// As YAML writes it: `.inf`, `-.inf`, `.nan`, or the integer as written.
    pub spelling: String,
    /// Infinite, NaN, or the double nearest to the integer.
    pub value: f64,
}

/// How YAML writes a number that is not finite.
pub(crate) fn non_finite_spelling(f: f64) -> &'static str {
    if f.is_nan() {
        ".nan"
    } else if f > 0.0 {
        ".inf"
    } else {
        "-.inf"
    }
}

/// Whether a number is negative, and its text without the sign.
fn split_sign(text: &str) -> (bool, &str) {
    match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    }
}

/// The double nearest to an integer written in YAML 1.2 core syntax
/// (decimal, `0x` or `0o`); infinite past the double range.
fn big_int_to_f64(text: &str) -> f64 {
    let (negative, unsigned) = split_sign(text);
    let (radix, digits) = if let Some(hex) = unsigned.strip_prefix("0x") {
        (16.0, hex)
    } else if let Some(oct) = unsigned.strip_prefix("0o") {
        (8.0, oct)
    } else {
        (10.0, unsigned)
    };
    let magnitude = if radix == 10.0 {
        digits.parse::<f64>().unwrap_or(f64::INFINITY)
    } else {
        digits.chars().fold(0.0, |acc, c| {
            acc * radix + f64::from(c.to_digit(16).unwrap_or(0))
        })
    };
    if negative { -magnitude } else { magnitude }
}

/// A parsed file: its documents and the findings met while reading it.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The text, when the bytes were UTF-8 (reporters show snippets from it).
    pub text: Option<String>,
    pub docs: Vec<Node>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// The single document of a file, or `None` for an empty file.
    pub fn single(&self) -> Option<&Node> {
        self.docs.first()
    }
}

/// The finding for a file of `size` bytes over the limit, if it is: checked
/// before reading where the size is known, so a huge file is never loaded.
pub fn too_large(file: &str, size: u64, limits: &Limits) -> Option<Diagnostic> {
    (size > limits.max_file_bytes).then(|| {
        Diagnostic::new(
            Rule::FileTooLarge,
            file,
            Pos::START,
            format!(
                "file is {size} bytes, over the limit of {} bytes; it was not parsed",
                limits.max_file_bytes
            ),
        )
        .with_help("split it, or raise `limits.max_file_bytes` in ringmaster.yaml")
    })
}

/// The one document of a unit test's fixture `text`, parsed with default limits.
#[cfg(test)]
pub(crate) fn parse_fixture(text: &str) -> Node {
    parse("t.yaml", text.as_bytes(), &Limits::default())
        .single()
        .expect("a fixture holds one document")
        .clone()
}

/// [`parse_with`] through saphyr alone, never the fast scanner: what the
/// scanner's differential tests compare it with.
#[cfg(test)]
pub(crate) fn parse_with_saphyr(
    file: &str,
    bytes: Vec<u8>,
    limits: &Limits,
    options: ParseOptions,
) -> Parsed {
    FAST_PATH.with(|fast| fast.set(false));
    let parsed = parse_with(file, bytes, limits, options);
    FAST_PATH.with(|fast| fast.set(true));
    parsed
}

/// Reads one file's bytes. Never panics and never allocates beyond the limits:
/// every problem becomes a finding on `file`.
pub fn parse(file: &str, bytes: &[u8], limits: &Limits) -> Parsed {
    parse_owned(file, bytes.to_vec(), limits)
}

/// [`parse`] without copying the bytes.
pub fn parse_owned(file: &str, bytes: Vec<u8>, limits: &Limits) -> Parsed {
    parse_with(file, bytes, limits, limits.yaml.options_for(file))
}

/// [`parse_owned`] with the parse options given rather than looked up.
pub fn parse_with(file: &str, bytes: Vec<u8>, limits: &Limits, options: ParseOptions) -> Parsed {
    let mut parsed = Parsed::default();
    if let Some(d) = too_large(file, bytes.len() as u64, limits) {
        parsed.diagnostics.push(d);
        return parsed;
    }
    let text = match decode(file, bytes) {
        Ok(text) => text,
        Err(d) => {
            parsed.diagnostics.push(*d);
            return parsed;
        }
    };
    let (docs, diagnostics) = build(file, &text, limits, options);
    parsed.docs = docs;
    parsed.diagnostics = diagnostics;
    if parsed.docs.is_empty() && parsed.diagnostics.is_empty() {
        parsed.diagnostics.push(
            Diagnostic::new(
                Rule::EmptyFile,
                file,
                Pos::START,
                "file is empty: it holds no document",
            )
            .with_help("add content, or delete the file"),
        );
    }
    parsed.text = Some(text);
    parsed
}

/// The text a parse of `bytes` keeps for snippets (`Parsed::text`), without parsing.
pub(crate) fn decode_text(file: &str, bytes: Vec<u8>, limits: &Limits) -> Option<String> {
    if too_large(file, bytes.len() as u64, limits).is_some() {
        return None;
    }
    decode(file, bytes).ok()
}

fn decode(file: &str, mut bytes: Vec<u8>) -> Result<String, Box<Diagnostic>> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    let encoding = |pos: Pos, msg: String| {
        Box::new(
            Diagnostic::new(Rule::Encoding, file, pos, msg)
                .with_help("save the file as UTF-8 text; config files must not be binary"),
        )
    };
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(encoding(
            Pos::START,
            "file is UTF-16 encoded, not UTF-8".into(),
        ));
    }
    match String::from_utf8(bytes) {
        Ok(text) => match text.find('\0') {
            Some(nul) => Err(encoding(
                pos_of_byte(text.as_bytes(), nul),
                "file contains a NUL byte: it looks binary".into(),
            )),
            None => Ok(text),
        },
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            Err(encoding(
                pos_of_byte(&bytes, valid),
                format!(
                    "file is not valid UTF-8: invalid byte 0x{:02X}",
                    bytes[valid]
                ),
            ))
        }
    }
}

/// Line and column (in characters) of a byte offset, for text valid up to it.
fn pos_of_byte(bytes: &[u8], offset: usize) -> Pos {
    let before = &bytes[..offset];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    Pos::new(line as u32, col as u32)
}

/// Runs the builder over the text, with JSON's surrogate-pair escapes
/// (`"\ud83d\udca9"`, what `json.dump` writes for any emoji) made readable to
/// the YAML scanner, which rejects each half on its own. The rewrite is blind
/// to context, so the builder reports pairs that sat in a plain, single-quoted
/// or block scalar, where `\u` is not an escape; a second run leaves those as
/// written. Both runs see the same structure: only escape text changes.
fn build(
    file: &str,
    text: &str,
    limits: &Limits,
    options: ParseOptions,
) -> (Vec<Node>, Vec<Diagnostic>) {
    let mut literal = Vec::new();
    loop {
        let pairs = SurrogatePairs::rewrite(text, &literal);
        let mut builder = Builder::new(file, limits, options, &pairs);
        builder.run();
        if builder.literal_pairs.is_empty() || !literal.is_empty() {
            return (builder.docs, builder.diagnostics);
        }
        literal = builder.literal_pairs;
        literal.sort_unstable();
        literal.dedup();
    }
}

/// The text the scanner reads: each `\uD8xx\uDCxx` pair escape replaced by
/// the equivalent `\U0001xxxx` (two characters shorter), and where each was.
struct SurrogatePairs<'t> {
    text: Cow<'t, str>,
    /// In text order: ordinal among all pairs, char index, line, 0-based column
    /// (the last three in the rewritten text).
    rewrites: Vec<(usize, usize, usize, usize)>,
}

impl<'t> SurrogatePairs<'t> {
    /// How much shorter each rewrite is: `\uD83D\uDCA9` → `\U0001F4A9`.
    const SHRINK: usize = 2;

    fn rewrite(text: &'t str, keep_literal: &[usize]) -> SurrogatePairs<'t> {
        let mut pairs = SurrogatePairs {
            text: Cow::Borrowed(text),
            rewrites: Vec::new(),
        };
        if !text.contains("\\u") {
            return pairs;
        }
        let bytes = text.as_bytes();
        let mut out = String::new();
        let mut copied = 0;
        let (mut line, mut col, mut index) = (1usize, 0usize, 0usize);
        let mut ordinal = 0;
        let mut backslashes = 0usize;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            // A backslash that starts an escape: not itself escaped.
            if b == b'\\'
                && backslashes.is_multiple_of(2)
                && let Some(code) = surrogate_pair_at(&text[i..])
            {
                // Ordinals are noted in text order, so the list is sorted.
                if keep_literal.binary_search(&ordinal).is_err() {
                    out.push_str(&text[copied..i]);
                    out.push_str(&format!("\\U{code:08X}"));
                    copied = i + 12;
                    pairs.rewrites.push((ordinal, index, line, col));
                    index += 10;
                    col += 10;
                } else {
                    index += 12;
                    col += 12;
                }
                ordinal += 1;
                i += 12;
                backslashes = 0;
                continue;
            }
            backslashes = if b == b'\\' { backslashes + 1 } else { 0 };
            if b == b'\n' {
                line += 1;
                col = 0;
            } else if b & 0xC0 != 0x80 {
                col += 1;
            }
            if b & 0xC0 != 0x80 {
                index += 1;
            }
            i += 1;
        }
        if pairs.rewrites.is_empty() {
            return pairs;
        }
        out.push_str(&text[copied..]);
        pairs.text = Cow::Owned(out);
        pairs
    }
}

/// The code point of a `\uD8xx\uDCxx` escape pair at the start of `s`.
fn surrogate_pair_at(s: &str) -> Option<u32> {
    let unit = |at: usize| -> Option<u32> {
        let esc = s.get(at..at + 6)?;
        let hex = esc.strip_prefix("\\u")?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(hex, 16).ok()
    };
    let high = unit(0)?;
    let low = unit(6)?;
    ((0xD800..0xDC00).contains(&high) && (0xDC00..0xE000).contains(&low))
        .then(|| 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
}

thread_local! {
    /// Whether files in the fast scanner's subset are read by it (always,
    /// but in the tests that compare it with saphyr).
    static FAST_PATH: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        /// The key read but whose value has not completed yet.
        key: Option<(String, Pos)>,
        /// Whether that key is a merge key: a plain `<<`, in YAML only.
        merge_key: bool,
        /// Values of `<<` merge keys, applied when the mapping ends.
        merges: Vec<Node>,
        /// Where each key sits in `entries`.
        index: KeyIndex,
    },
}

/// Where each key of a mapping being read sits in its entries. Most
/// mappings are small and are searched in place (hashing every key of every
/// mapping was a tenth of a parse); past [`KeyIndex::SMALL`] entries a hash
/// index is built, so duplicate checks stay constant time in a mapping of a
/// hundred thousand keys.
#[derive(Default)]
struct KeyIndex {
    hashed: Option<HashMap<String, usize>>,
    duplicates: bool,
}

impl KeyIndex {
    const SMALL: usize = 16;

    /// The last entry holding `key`.
    fn find(&self, entries: &[Entry], key: &str) -> Option<usize> {
        match &self.hashed {
            Some(hashed) => hashed.get(key).copied(),
            None => entries.iter().rposition(|e| e.key == key),
        }
    }

    /// Notes the entry just pushed; `existed` when its key was already there.
    fn pushed(&mut self, entries: &[Entry], existed: bool) {
        self.duplicates |= existed;
        let Some(last) = entries.len().checked_sub(1) else {
            return;
        };
        match &mut self.hashed {
            Some(hashed) => {
                hashed.insert(entries[last].key.clone(), last);
            }
            None if entries.len() > Self::SMALL => {
                // Collected in order: a later duplicate's place wins.
                self.hashed = Some(
                    entries
                        .iter()
                        .enumerate()
                        .map(|(i, e)| (e.key.clone(), i))
                        .collect(),
                );
            }
            None => {}
        }
    }

    /// Keeps each key's last entry only.
    fn dedupe(self, entries: &mut Vec<Entry>) {
        if !self.duplicates {
            return;
        }
        let index = self.hashed.unwrap_or_else(|| {
            entries
                .iter()
                .enumerate()
                .map(|(i, e)| (e.key.clone(), i))
                .collect()
        });
        let mut at = 0;
        entries.retain(|e| {
            at += 1;
            index.get(&e.key) == Some(&(at - 1))
        });
    }
}

/// The builder as the fast scanner's sink. Once the builder stops (a limit
/// was hit) the rest of the events are dropped, but the scan goes on: a
/// text the scanner gives up on is read by saphyr, as if it had never
/// begun.
struct Feed<'b, 'a> {
    builder: &'b mut Builder<'a>,
    stopped: bool,
}

impl<'t> crate::config::fast_yaml::Sink<'t> for Feed<'_, '_> {
    fn event(&mut self, event: Event<'t>, span: Span) {
        if self.stopped {
            return;
        }
        let go_on = self.builder.event(event, &span);
        self.builder.last_end = span.end;
        if !go_on {
            self.builder.docs.clear();
            self.stopped = true;
        }
    }
}

struct Builder<'a> {
    file: &'a str,
    limits: &'a Limits,
    /// The text the scanner reads (surrogate pairs rewritten).
    source: &'a SurrogatePairs<'a>,
    /// Where the previous event ended, and a char → byte cursor into `source`.
    last_end: Marker,
    cursor: (usize, usize),
    /// Ordinals of rewritten surrogate pairs found outside double-quoted scalars.
    literal_pairs: Vec<usize>,
    /// `<<` merges mappings in YAML; a JSON file has no merge keys.
    merge_keys: bool,
    options: ParseOptions,
    stack: Vec<Frame>,
    /// Anchored nodes, kept for their aliases; `None` for one too large to
    /// keep (see [`Builder::remember`]).
    anchors: HashMap<usize, Option<Node>>,
    /// Nodes held in `anchors`.
    anchored_nodes: usize,
    alias_nodes: usize,
    docs: Vec<Node>,
    diagnostics: Vec<Diagnostic>,
    /// Set when a collection is used as a mapping key; its node is then dropped.
    complex_key_depth: Option<usize>,
}

impl<'a> Builder<'a> {
    fn new(
        file: &'a str,
        limits: &'a Limits,
        options: ParseOptions,
        source: &'a SurrogatePairs<'a>,
    ) -> Self {
        Builder {
            file,
            limits,
            source,
            last_end: Marker::new(0, 1, 0),
            cursor: (0, 0),
            literal_pairs: Vec::new(),
            merge_keys: !file.to_ascii_lowercase().ends_with(".json"),
            // JSON has one reading of its scalars: `1e3` stays a number.
            options: if file.to_ascii_lowercase().ends_with(".json") {
                ParseOptions {
                    version: YamlVersion::V1_2,
                    ..options
                }
            } else {
                options
            },
            stack: Vec::new(),
            anchors: HashMap::new(),
            anchored_nodes: 0,
            alias_nodes: 0,
            docs: Vec::new(),
            diagnostics: Vec::new(),
            complex_key_depth: None,
        }
    }

    fn run(&mut self) {
        let source = self.source;
        if FAST_PATH.with(std::cell::Cell::get) && source.rewrites.is_empty() {
            // Built as the scanner reads: no list of events in between.
            let mut feed = Feed {
                builder: self,
                stopped: false,
            };
            if crate::config::fast_yaml::scan(&source.text, &mut feed).is_some() {
                return;
            }
            // Outside the fast scanner's subset (found maybe on the last
            // line): what was built is dropped, saphyr reads it all.
            *self = Builder::new(self.file, self.limits, self.options, source);
        }
        let mut parser = Parser::new_from_str(&source.text);
        while let Some(next) = parser.next_event() {
            let (event, span) = match next {
                Ok(ev) => ev,
                Err(e) => {
                    let mut pos = self.within_text(self.pos_at(e.marker()));
                    let (rule, msg, help) = if e.info().contains("recursion limit") {
                        (
                            Rule::NestingTooDeep,
                            "the document nests deeper than the parser's limit of 255 levels"
                                .to_string(),
                            "flatten the structure; no config needs this depth",
                        )
                    } else if let Some((at, escape)) = e
                        .info()
                        .contains("invalid Unicode character escape")
                        .then(|| self.bad_escape_after(e.marker()))
                        .flatten()
                    {
                        pos = at;
                        (
                            Rule::YamlSyntax,
                            format!(
                                "`{escape}` is not a character: a UTF-16 surrogate escape must come \
                                 in a pair, a high one (`\\ud800`-`\\udbff`) followed at once by a \
                                 low one (`\\udc00`-`\\udfff`)"
                            ),
                            "write the character itself, or both halves of its pair",
                        )
                    } else {
                        (
                            Rule::YamlSyntax,
                            e.info().to_string(),
                            "fix the syntax at this position",
                        )
                    };
                    self.diagnostics
                        .push(Diagnostic::new(rule, self.file, pos, msg).with_help(help));
                    // A broken document is not used at all: half a config is worse than none.
                    self.docs.clear();
                    return;
                }
            };
            let go_on = self.event(event, &span);
            self.last_end = span.end;
            if !go_on {
                self.docs.clear();
                return;
            }
        }
    }

    /// A position in the scanner's text as the user's file has it: columns
    /// after a rewritten surrogate pair move right by what it shrank.
    fn pos_at(&self, marker: &Marker) -> Pos {
        let (line, col) = (marker.line(), marker.col());
        let rewrites = &self.source.rewrites;
        // Sorted by (line, column): two binary searches, whatever the count.
        let shifted = rewrites.partition_point(|r| (r.2, r.3) < (line, col))
            - rewrites.partition_point(|r| r.2 < line);
        Pos::new(
            line as u32,
            (col + shifted * SurrogatePairs::SHRINK) as u32 + 1,
        )
    }

    /// The scanner reports an error at the end of a file without a final
    /// line break on a line after the last: the end of the last line instead.
    fn within_text(&self, pos: Pos) -> Pos {
        let text = &self.source.text;
        let breaks =
            text.matches('\n').count() + text.matches('\r').count() - text.matches("\r\n").count();
        let last_line = breaks as u32 + 1;
        if pos.line <= last_line {
            return pos;
        }
        let last = text.rsplit(['\n', '\r']).next().unwrap_or("");
        let shrunk = self
            .source
            .rewrites
            .iter()
            .filter(|r| r.2 as u32 == last_line)
            .count()
            * SurrogatePairs::SHRINK;
        Pos::new(last_line, (last.chars().count() + shrunk) as u32 + 1)
    }

    /// The byte offset of a char index of the scanner's text. Events come in
    /// text order, so the cursor only moves forward but for a rare restart.
    fn byte_of(&mut self, char_index: usize) -> usize {
        if char_index < self.cursor.0 {
            self.cursor = (0, 0);
        }
        let (mut chars, mut byte) = self.cursor;
        let text = &self.source.text[byte..];
        for c in text.chars() {
            if chars == char_index {
                break;
            }
            chars += 1;
            byte += c.len_utf8();
        }
        self.cursor = (chars, byte);
        byte
    }

    /// The first escape in the double-quoted scalar at `start` that is not a
    /// character (a lone surrogate), with its position.
    fn bad_escape_after(&mut self, start: &Marker) -> Option<(Pos, String)> {
        fn advance(line: &mut usize, col: &mut usize, c: char) {
            if c == '\n' {
                *line += 1;
                *col = 0;
            } else {
                *col += 1;
            }
        }
        let from = self.byte_of(start.index());
        let source = self.source;
        let text = &source.text[from..];
        let (mut line, mut col) = (start.line(), start.col());
        let mut chars = text.char_indices();
        // Up to and past the opening quote.
        for (_, c) in chars.by_ref() {
            advance(&mut line, &mut col, c);
            if c == '"' {
                break;
            }
        }
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return None,
                '\\' => {
                    let width = match text[i + 1..].chars().next() {
                        Some('u') => 4,
                        Some('U') => 8,
                        Some('x') => 2,
                        _ => 0,
                    };
                    let escape = text.get(i..i + 2 + width).unwrap_or("");
                    let code = escape
                        .get(2..)
                        .and_then(|h| u32::from_str_radix(h, 16).ok());
                    if width > 0 && code.is_some_and(|c| char::from_u32(c).is_none()) {
                        let at = self.pos_at(&Marker::new(0, line, col));
                        return Some((at, escape.to_owned()));
                    }
                    advance(&mut line, &mut col, c);
                    if let Some((_, next)) = chars.next() {
                        advance(&mut line, &mut col, next);
                    }
                }
                c => advance(&mut line, &mut col, c),
            }
        }
        None
    }

    /// Where the `|` or `>` of a block scalar is, found after the previous
    /// event. The scanner puts a block scalar at its first content line, so
    /// one with no content would be reported at whatever follows it.
    fn block_indicator(&mut self, content_start: &Marker) -> Option<Pos> {
        let from = self.byte_of(self.last_end.index());
        let end = content_start.index().saturating_sub(self.last_end.index());
        let (mut line, mut col) = (self.last_end.line(), self.last_end.col());
        let mut chars = self.source.text[from..].chars().take(end);
        let mut skip_token = false;
        while let Some(c) = chars.next() {
            match c {
                '|' | '>' if !skip_token => {
                    return Some(self.pos_at(&Marker::new(0, line, col)));
                }
                '\n' => {
                    line += 1;
                    col = 0;
                    skip_token = false;
                    continue;
                }
                ' ' | '\t' | '\r' => skip_token = false,
                '#' if !skip_token => {
                    // A comment: the rest of the line.
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                    line += 1;
                    col = 0;
                    continue;
                }
                '&' | '!' => skip_token = true,
                ':' | '-' | '?' | ',' | '[' | '{' if !skip_token => {}
                _ if skip_token => {}
                _ => return None,
            }
            col += 1;
        }
        None
    }

    /// Handles one event; `false` stops parsing (a limit was hit).
    fn event(&mut self, event: Event<'_>, span: &Span) -> bool {
        let mut pos = self.pos_at(&span.start);
        if matches!(event, Event::SequenceStart(..) | Event::MappingStart(..))
            && self.stack.len() >= self.limits.max_depth
        {
            self.diagnostics.push(
                Diagnostic::new(
                    Rule::NestingTooDeep,
                    self.file,
                    pos,
                    format!(
                        "the document nests deeper than the limit of {} levels",
                        self.limits.max_depth
                    ),
                )
                .with_help("flatten the structure, or raise `limits.max_depth` in ringmaster.yaml"),
            );
            return false;
        }
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                if !matches!(style, ScalarStyle::DoubleQuoted) {
                    self.note_literal_pairs(span);
                }
                if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
                    && text.chars().all(|c| c == '\n')
                    && let Some(at) = self.block_indicator(&span.start)
                {
                    pos = at;
                }
                if self.wants_key() && self.complex_key_depth.is_none() {
                    if anchor != 0 {
                        // `&k a: 1` then `b: *k`: the key is a node like any other.
                        // Keys are not linted, so what resolving finds is dropped.
                        let found = self.diagnostics.len();
                        let value = self.resolve_scalar(&text, style, tag.as_deref(), pos);
                        self.diagnostics.truncate(found);
                        self.remember(anchor, &Node { value, pos });
                    }
                    let is_merge = self.merge_keys
                        && matches!(style, ScalarStyle::Plain)
                        && tag.is_none()
                        && text == "<<";
                    if let Some(Frame::Map { key, merge_key, .. }) = self.stack.last_mut() {
                        *key = Some((text.into_owned(), pos));
                        *merge_key = is_merge;
                    }
                    return true;
                }
                let value = self.resolve_scalar(&text, style, tag.as_deref(), pos);
                let node = Node { value, pos };
                self.complete(node, anchor);
            }
            Event::SequenceStart(anchor, tag) => {
                let frame = Frame::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                };
                self.open_collection(tag.as_deref(), pos, "seq", frame);
            }
            Event::MappingStart(anchor, tag) => {
                let frame = Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                    merge_key: false,
                    merges: Vec::new(),
                    index: KeyIndex::default(),
                };
                self.open_collection(tag.as_deref(), pos, "map", frame);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return true;
                };
                let (node, anchor) = match frame {
                    Frame::Seq { pos, anchor, items } => (
                        Node {
                            value: Value::Seq(items),
                            pos,
                        },
                        anchor,
                    ),
                    Frame::Map {
                        pos,
                        anchor,
                        mut entries,
                        merges,
                        index,
                        ..
                    } => {
                        // Duplicate keys: keep each key's last value only.
                        index.dedupe(&mut entries);
                        self.apply_merges(&mut entries, merges);
                        (
                            Node {
                                value: Value::Map(entries),
                                pos,
                            },
                            anchor,
                        )
                    }
                };
                if self.complex_key_depth == Some(self.stack.len()) {
                    self.complex_key_depth = None;
                    self.diagnostics.push(
                        Diagnostic::new(
                            Rule::YamlSyntax,
                            self.file,
                            node.pos,
                            "a mapping key must be a scalar, not a list or mapping",
                        )
                        .with_help("use a plain string key"),
                    );
                    if anchor != 0 {
                        self.remember(anchor, &node);
                    }
                    if let Some(Frame::Map { key, merge_key, .. }) = self.stack.last_mut() {
                        *key = Some(("<complex key>".into(), node.pos));
                        *merge_key = false;
                    }
                    return true;
                }
                self.complete(node, anchor);
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    self.diagnostics.push(Diagnostic::new(
                        Rule::YamlSyntax,
                        self.file,
                        pos,
                        "alias to an unknown anchor",
                    ));
                    return false;
                };
                let size = target
                    .as_ref()
                    .map_or(usize::MAX, |t| count_nodes(t, self.limits.max_alias_nodes));
                self.alias_nodes = self.alias_nodes.saturating_add(size);
                if self.alias_nodes > self.limits.max_alias_nodes {
                    self.diagnostics.push(
                        Diagnostic::new(
                            Rule::AliasLimit,
                            self.file,
                            pos,
                            format!(
                                "aliases expand to more than {} nodes; refusing to expand further",
                                self.limits.max_alias_nodes
                            ),
                        )
                        .with_help("this looks like a \"billion laughs\" file; write the values out or use fewer nested aliases"),
                    );
                    return false;
                }
                let Some(target) = target else {
                    return false;
                };
                if self.wants_key() && self.complex_key_depth.is_none() {
                    let key = match &target.value {
                        Value::Str(s) => s.clone(),
                        other => scalar_key_text(other),
                    };
                    if let Some(Frame::Map {
                        key: k, merge_key, ..
                    }) = self.stack.last_mut()
                    {
                        *k = Some((key, pos));
                        *merge_key = false;
                    }
                    return true;
                }
                let node = target.clone();
                self.complete(node, 0);
            }
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing => {}
        }
        true
    }

    /// Keeps an anchored node for its aliases. Each anchor is a full copy, so
    /// nested anchors (`&a0 [&a1 [&a2 [… a big list]]]`) would copy the big
    /// list once per level: gigabytes from a small file, with no alias at
    /// all. A node larger than the alias budget could never be expanded
    /// anyway, and past four budgets of kept nodes nothing more is kept; an
    /// alias to an anchor not kept is refused like any expansion over budget.
    fn remember(&mut self, anchor: usize, node: &Node) {
        let budget = self.limits.max_alias_nodes;
        let kept_budget = budget.saturating_mul(4);
        let size = if self.anchored_nodes >= kept_budget {
            usize::MAX
        } else {
            count_nodes(node, budget)
        };
        if size > budget || self.anchored_nodes.saturating_add(size) > kept_budget {
            self.anchors.insert(anchor, None);
            return;
        }
        self.anchored_nodes += size;
        if let Some(Some(old)) = self.anchors.insert(anchor, Some(node.clone())) {
            self.anchored_nodes -= count_nodes(&old, budget).min(self.anchored_nodes);
        }
    }

    /// Rewritten surrogate pairs inside a scalar that is not double-quoted
    /// were not escapes: the next run must leave them as written.
    fn note_literal_pairs(&mut self, span: &Span) {
        let rewrites = &self.source.rewrites;
        let first = rewrites.partition_point(|r| r.1 < span.start.index());
        for r in rewrites[first..]
            .iter()
            .take_while(|r| r.1 < span.end.index())
        {
            self.literal_pairs.push(r.0);
        }
    }

    /// The JSON Pointer of the node being read now, for findings.
    fn pointer(&self) -> String {
        let mut out = String::new();
        for frame in &self.stack {
            match frame {
                Frame::Seq { items, .. } => {
                    out.push('/');
                    out.push_str(&items.len().to_string());
                }
                Frame::Map {
                    key: Some((k, _)), ..
                } => {
                    out.push('/');
                    out.push_str(&k.replace('~', "~0").replace('/', "~1"));
                }
                Frame::Map { key: None, .. } => {}
            }
        }
        out
    }

    fn wants_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    /// A sequence or mapping starts: its tag must say so (`expected`), and
    /// in key position it opens a complex key before it goes on the stack.
    fn open_collection(&mut self, tag: Option<&Tag>, pos: Pos, expected: &str, frame: Frame) {
        self.check_collection_tag(tag, pos, expected);
        self.open_complex_key_if_needed();
        self.stack.push(frame);
    }

    fn open_complex_key_if_needed(&mut self) {
        if self.complex_key_depth.is_none() && self.wants_key() {
            self.complex_key_depth = Some(self.stack.len());
        }
    }

    /// A finished node goes to its parent, or becomes a document.
    fn complete(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.remember(anchor, &node);
        }
        let ((key, key_pos), is_merge) = match self.stack.last_mut() {
            None => return self.docs.push(node),
            Some(Frame::Seq { items, .. }) => return items.push(node),
            Some(Frame::Map { key, merge_key, .. }) => match key.take() {
                Some(k) => (k, std::mem::take(merge_key)),
                None => return,
            },
        };
        let first_pos = match self.stack.last() {
            Some(Frame::Map { entries, index, .. }) => index
                .find(entries, &key)
                .and_then(|i| entries.get(i))
                .map(|e| e.key_pos),
            _ => None,
        };
        if let Some(first_pos) = first_pos {
            let path = format!(
                "{}/{}",
                self.pointer(),
                key.replace('~', "~0").replace('/', "~1")
            );
            let finding = match self.options.duplicate_keys {
                DuplicateKeys::Error => Diagnostic::new(
                    Rule::DuplicateKey,
                    self.file,
                    key_pos,
                    format!(
                        "duplicate key `{key}`: it is already defined at line {}",
                        first_pos.line
                    ),
                )
                .with_help("remove one of the two; YAML parsers disagree on which value wins"),
                DuplicateKeys::LastWins => {
                    let mut d = Diagnostic::new(
                        Rule::DuplicateKey,
                        self.file,
                        key_pos,
                        format!(
                            "duplicate key `{key}`: this value replaces the one at line {} \
                             (`yaml.duplicate_keys: last-wins`)",
                            first_pos.line
                        ),
                    )
                    .with_help(
                        "remove the earlier one; Puppet, Ansible and Helm also use the last value",
                    );
                    d.severity = Severity::Warning;
                    d
                }
            };
            self.diagnostics.push(finding.with_path(path).with_related(
                self.file,
                first_pos,
                "first defined here",
            ));
        }
        if let Some(Frame::Map {
            entries,
            merges,
            index,
            ..
        }) = self.stack.last_mut()
        {
            if is_merge && matches!(node.value, Value::Map(_) | Value::Seq(_)) {
                merges.push(node);
                return;
            }
            // The later value wins, as in most parsers; the finding is an error
            // anyway. The earlier one is dropped when the mapping ends.
            entries.push(Entry {
                key,
                key_pos,
                value: node,
            });
            index.pushed(entries, first_pos.is_some());
        }
    }

    /// YAML 1.1 merge keys (`<<: *defaults`): explicit keys win, then the
    /// merged mappings in order.
    fn apply_merges(&mut self, entries: &mut Vec<Entry>, merges: Vec<Node>) {
        for merge in merges {
            let sources = match merge.value {
                Value::Seq(items) => items,
                other => vec![Node {
                    value: other,
                    pos: merge.pos,
                }],
            };
            for source in sources {
                let Value::Map(merged) = source.value else {
                    self.diagnostics.push(Diagnostic::new(
                        Rule::YamlSyntax,
                        self.file,
                        source.pos,
                        "a `<<` merge key takes a mapping or a list of mappings",
                    ));
                    continue;
                };
                let mut present: std::collections::HashSet<String> =
                    entries.iter().map(|e| e.key.clone()).collect();
                for entry in merged {
                    if present.insert(entry.key.clone()) {
                        entries.push(entry);
                    }
                }
            }
        }
    }

    fn check_collection_tag(&mut self, tag: Option<&Tag>, pos: Pos, expected: &str) {
        let Some(tag) = tag else { return };
        let name = TagName::of(tag);
        match &name {
            TagName::Core(suffix) if suffix == expected => return,
            TagName::NonSpecific => return,
            _ => {}
        }
        self.diagnostics.push(
            Diagnostic::new(
                Rule::UnknownTag,
                self.file,
                pos,
                format!("tag `{name}` is not understood here and is ignored"),
            )
            .with_path(self.pointer())
            .with_help("`!unset` goes on a scalar position: `key: !unset`"),
        );
    }

    fn resolve_scalar(
        &mut self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        pos: Pos,
    ) -> Value {
        if let Some(tag) = tag {
            let name = TagName::of(tag);
            match &name {
                TagName::Local(local) if local == "unset" => return Value::Unset,
                // Ansible's own tags, in YAML 1.1 (how Ansible repos are
                // read): the value as `ansible-inventory` shows it, an
                // encrypted or never-templated string kept opaque.
                TagName::Local(local)
                    if self.options.version == YamlVersion::V1_1
                        && matches!(local.as_str(), "vault" | "unsafe") =>
                {
                    return Value::Map(vec![Entry {
                        key: format!("__ansible_{local}"),
                        key_pos: pos,
                        value: Node {
                            value: Value::Str(text.to_owned()),
                            pos,
                        },
                    }]);
                }
                // The non-specific tag `!` means "a string" (YAML 1.2 §6.9.1).
                TagName::NonSpecific => return Value::Str(text.to_owned()),
                TagName::Core(suffix) => {
                    let v11 = self.options.version == YamlVersion::V1_1;
                    let forced = match suffix.as_str() {
                        "str" => Some(Value::Str(text.to_owned())),
                        "int" if v11 => parse_integer_11(text),
                        "int" => parse_integer(text),
                        "float" if v11 => parse_float_11(text).map(Value::Float),
                        "float" => parse_float(text).map(Value::Float),
                        "bool" if v11 => parse_bool_11(text).map(Value::Bool),
                        "bool" => parse_bool(text).map(Value::Bool),
                        "null" => parse_null(text).then_some(Value::Null),
                        _ => None,
                    };
                    if let Some(v) = forced {
                        return v;
                    }
                }
                _ => {}
            }
            let path = self.pointer();
            self.diagnostics.push(
                Diagnostic::new(
                    Rule::UnknownTag,
                    self.file,
                    pos,
                    format!("tag `{name}` is not understood here and is ignored"),
                )
                .with_path(path),
            );
        }
        if !matches!(style, ScalarStyle::Plain) {
            return Value::Str(text.to_owned());
        }
        if self.options.version == YamlVersion::V1_1 {
            // The file is read as the YAML 1.1 tools read it; what is left to
            // warn about is where those tools disagree among themselves.
            let value = resolve_plain_11(text);
            if matches!(value, Value::Str(_))
                && let Some(read) =
                    crate::config::yaml_readers::resolve_disputed(text, self.options.reader)
            {
                use crate::config::yaml_readers::Reading;
                return match read {
                    Reading::Null => Value::Null,
                    Reading::Bool(b) => Value::Bool(b),
                    Reading::Int(i) => Value::Int(i),
                    Reading::BigInt(digits) => Value::BigInt(digits),
                    Reading::Float(f) => Value::Float(f),
                    Reading::Str => value,
                };
            }
            if let Some(other) = yaml11_disagreement(text, &value) {
                self.diagnostics.push(
                    Diagnostic::new(
                        Rule::AmbiguousScalar,
                        self.file,
                        pos,
                        format!("`{text}` is read as a string: the YAML 1.1 tools disagree on it ({other})"),
                    )
                    .with_path(self.pointer())
                    .with_help(format!(
                        "quote it (\"{text}\") if you mean the text, or write the value so every YAML 1.1 tool reads it alike"
                    )),
                );
            }
            return value;
        }
        if starts_a_plain_word(text) {
            return Value::Str(text.to_owned());
        }
        let value = resolve_plain(text);
        if let Some(reading) = yaml11_reading(text) {
            let quoted = format!("\"{text}\"");
            self.diagnostics.push(
                Diagnostic::new(
                    Rule::AmbiguousScalar,
                    self.file,
                    pos,
                    format!(
                        "`{text}` is {} in YAML 1.2 but {reading} in YAML 1.1 tools",
                        describe(&value)
                    ),
                )
                .with_path(self.pointer())
                .with_help(format!(
                    "quote it ({quoted}) if you mean the text, or write the value unambiguously"
                )),
            );
        }
        value
    }
}

/// A tag as YAML writes it. saphyr reports tags as a (handle, suffix) pair
/// whose `Display` prints `!!foo` as `tag:yaml.org,2002:!foo` and `!` as
/// `!!`; verbatim tags (`!<…>`) come with an empty handle.
#[derive(Debug, PartialEq)]
enum TagName {
    /// `!`: a plain scalar that is a string.
    NonSpecific,
    /// `!name`, or `!<!name>`.
    Local(String),
    /// `!!name`, or `!<tag:yaml.org,2002:name>`.
    Core(String),
    /// Any other full tag, shown verbatim.
    Global(String),
}

impl TagName {
    fn of(tag: &Tag) -> TagName {
        const CORE: &str = "tag:yaml.org,2002:";
        if tag.handle.is_empty() && tag.suffix == "!" {
            return TagName::NonSpecific;
        }
        if tag.handle == "!" {
            return TagName::Local(tag.suffix.clone());
        }
        if tag.handle.is_empty()
            && let Some(local) = tag.suffix.strip_prefix('!')
        {
            return TagName::Local(local.to_owned());
        }
        let full = format!("{}{}", tag.handle, tag.suffix);
        match full.strip_prefix(CORE) {
            Some(core) => TagName::Core(core.to_owned()),
            None => TagName::Global(full),
        }
    }
}

impl std::fmt::Display for TagName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TagName::NonSpecific => f.write_str("!"),
            TagName::Local(name) => write!(f, "!{name}"),
            TagName::Core(name) => write!(f, "!!{name}"),
            TagName::Global(full) => write!(f, "!<{full}>"),
        }
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Str(_) => "a string".into(),
        Value::Int(i) => format!("the integer {i}"),
        Value::BigInt(text) => format!("the integer {text}"),
        Value::Float(f) => format!("the number {f}"),
        other => format!("a {}", other.kind_name()),
    }
}

/// How many nodes a tree holds, counting no further than just past `limit`.
fn count_nodes(node: &Node, limit: usize) -> usize {
    // Iterative: anchored trees are bounded by the parser's depth limit, but we
    // keep stack use flat anyway.
    let mut count = 0usize;
    let mut todo = vec![node];
    while let Some(n) = todo.pop() {
        count += 1;
        if count > limit {
            break;
        }
        match &n.value {
            Value::Seq(items) => todo.extend(items.iter()),
            Value::Map(entries) => todo.extend(entries.iter().map(|e| &e.value)),
            _ => {}
        }
    }
    count
}

fn scalar_key_text(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(text) => text.clone(),
        Value::Float(f) => f.to_string(),
        Value::Str(s) => s.clone(),
        _ => "<complex key>".into(),
    }
}

/// Whether a plain scalar starts with a letter that neither a YAML 1.2 null,
/// boolean or number nor a YAML 1.1 reading of one starts with: a string in
/// both, whatever follows. Most scalars are, and skip every number parser.
fn starts_a_plain_word(text: &str) -> bool {
    text.as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() && !b"tTfFnNyYoO".contains(b))
}

/// YAML 1.2 core schema resolution of a plain scalar.
pub(crate) fn resolve_plain(text: &str) -> Value {
    resolve_with(text, parse_bool, parse_integer, parse_float)
}

/// A plain scalar read by one schema's boolean, integer and float rules, in
/// that order (both versions spell null the same); else a string.
fn resolve_with(
    text: &str,
    boolean: fn(&str) -> Option<bool>,
    integer: fn(&str) -> Option<Value>,
    float: fn(&str) -> Option<f64>,
) -> Value {
    if parse_null(text) {
        return Value::Null;
    }
    if let Some(b) = boolean(text) {
        return Value::Bool(b);
    }
    if let Some(i) = integer(text) {
        return i;
    }
    if let Some(f) = float(text) {
        return Value::Float(f);
    }
    Value::Str(text.to_owned())
}

fn parse_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// An integer by the core schema: `Int` when it fits 64 bits, else `BigInt`,
/// so that no integer silently becomes a rounded float.
fn parse_integer(text: &str) -> Option<Value> {
    if let Some(i) = parse_int(text) {
        return Some(Value::Int(i));
    }
    let digits = |s: &str, radix| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    let is_int = match (text.strip_prefix("0o"), text.strip_prefix("0x")) {
        (Some(oct), _) => digits(oct, 8),
        (_, Some(hex)) => digits(hex, 16),
        _ => digits(text.strip_prefix(['-', '+']).unwrap_or(text), 10),
    };
    is_int.then(|| Value::BigInt(text.to_owned()))
}

fn parse_int(text: &str) -> Option<i64> {
    let digits = |s: &str, radix| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    if let Some(oct) = text.strip_prefix("0o") {
        return digits(oct, 8)
            .then(|| i64::from_str_radix(oct, 8).ok())
            .flatten();
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return digits(hex, 16)
            .then(|| i64::from_str_radix(hex, 16).ok())
            .flatten();
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits(unsigned, 10) {
        // Past 64 bits: `parse_integer` keeps it as a `BigInt`.
        return text.parse::<i64>().ok();
    }
    None
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let s = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = split_exponent(s);
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |p: &str| p.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match frac_part {
        Some(f) => all_digits(int_part) && all_digits(f) && !(int_part.is_empty() && f.is_empty()),
        None => !int_part.is_empty() && all_digits(int_part),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    if mantissa_ok && exponent_ok {
        text.parse::<f64>().ok()
    } else {
        None
    }
}

/// A float's mantissa and the exponent after its `e`/`E`, if any.
fn split_exponent(text: &str) -> (&str, Option<&str>) {
    match text.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (text, None),
    }
}

/// YAML 1.1 resolution of a plain scalar, as PyYAML (Ansible), Psych
/// (Puppet) and go-yaml v2 (Helm) all read it; anything they do not all read
/// the same way stays a string (see [`YamlVersion::V1_1`]). Sources: PyYAML's
/// `resolver.py` implicit resolvers and `constructor.py`, Psych's
/// `scalar_scanner.rb`, go-yaml v2's `resolve.go` table.
pub(crate) fn resolve_plain_11(text: &str) -> Value {
    resolve_with(text, parse_bool_11, parse_integer_11, parse_float_11)
}

/// The three casings PyYAML and go-yaml v2 list (Psych ignores case; go-yaml
/// v2 adds `y`/`Y`/`n`/`N`, which the other two read as strings).
fn parse_bool_11(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

/// A YAML 1.1 integer: `[-+]?` then `0b[01_]+`, `0x[0-9a-fA-F_]+`,
/// `0[0-7_]+` (octal) or `0|[1-9][0-9_]*`; `_` separators are dropped.
/// Base-60 (`1:30`) is left out: go-yaml v2 reads it as a string.
fn parse_integer_11(text: &str) -> Option<Value> {
    let (negative, unsigned) = split_sign(text);
    let (radix, body) = match crate::config::yaml_readers::radix_prefix_11(unsigned) {
        Some(found) => found,
        None if unsigned.starts_with(|c: char| c.is_ascii_digit()) => (10, unsigned),
        None => return None,
    };
    if !body.chars().all(|c| c == '_' || c.is_digit(radix)) {
        return None;
    }
    let digits: String = body.chars().filter(|c| *c != '_').collect();
    if digits.is_empty() {
        // `0_` is octal zero to all three; `0b_` and `0x_` pass PyYAML's
        // regex and then fail its conversion.
        return (radix == 8).then_some(Value::Int(0));
    }
    let sign = if negative { "-" } else { "" };
    match i64::from_str_radix(&format!("{sign}{digits}"), radix) {
        Ok(i) => Some(Value::Int(i)),
        // Past 64 bits, kept exact where the 1.2 spelling can carry it.
        Err(_) if radix == 10 => Some(Value::BigInt(format!("{sign}{digits}"))),
        Err(_) if radix == 16 => Some(Value::BigInt(format!("{sign}0x{digits}"))),
        Err(_) => Some(Value::BigInt(format!(
            "{sign}0o{}",
            octal_of(&digits, radix)?
        ))),
    }
}

/// Digits in base 2 or 8 rewritten in base 8, for a `BigInt` spelling.
fn octal_of(digits: &str, radix: u32) -> Option<String> {
    if radix == 8 {
        return Some(digits.to_owned());
    }
    // Base 2: three bits per octal digit, from the right.
    let bits: Vec<u32> = digits
        .chars()
        .map(|c| c.to_digit(2))
        .collect::<Option<_>>()?;
    let mut out: Vec<char> = bits
        .rchunks(3)
        .map(|chunk| {
            let v = chunk.iter().fold(0, |acc, b| acc * 2 + b);
            char::from_digit(v, 8).unwrap_or('0')
        })
        .collect();
    out.reverse();
    Some(out.into_iter().collect())
}

/// A YAML 1.1 float: `[-+]?[0-9][0-9_]*\.[0-9]*([eE][-+][0-9]+)?`, an
/// unsigned `.5`, or `.inf`/`-.inf`/`.nan` in three casings. A float needs
/// its `.` and a signed exponent in PyYAML and Psych; `_` after the `.` is
/// refused by Psych; `+.inf` makes Psych fail; `-.5` is a string to PyYAML.
fn parse_float_11(text: &str) -> Option<f64> {
    match text {
        ".inf" | ".Inf" | ".INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    let (mantissa, exponent) = split_exponent(text);
    let (int_part, frac) = mantissa.split_once('.')?;
    let all_digits = |p: &str| p.chars().all(|c| c.is_ascii_digit());
    let int_ok = if int_part.is_empty() {
        // `.5`: PyYAML takes no sign here.
        !frac.is_empty()
    } else {
        let unsigned = int_part.strip_prefix(['-', '+']).unwrap_or(int_part);
        unsigned.starts_with(|c: char| c.is_ascii_digit())
            && unsigned.chars().all(|c| c.is_ascii_digit() || c == '_')
    };
    let exponent_ok = exponent.is_none_or(|e| {
        // Ruby's Float() refuses `1.e+3`: digits must follow the `.`.
        let digits = e.strip_prefix(['-', '+']);
        !frac.is_empty() && digits.is_some_and(|d| !d.is_empty() && all_digits(d))
    });
    if !(int_ok && all_digits(frac) && exponent_ok) {
        return None;
    }
    text.replace('_', "").parse::<f64>().ok()
}

/// For a plain scalar that YAML 1.1 mode leaves a string because the tools
/// disagree on it, who reads it otherwise and as what.
fn yaml11_disagreement(text: &str, value: &Value) -> Option<String> {
    if !matches!(value, Value::Str(_)) {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let reading = match (text, lower.as_str()) {
        ("y" | "Y", _) => {
            "go-yaml v2 (Helm) reads the boolean true, PyYAML and Psych a string".to_owned()
        }
        ("n" | "N", _) => {
            "go-yaml v2 (Helm) reads the boolean false, PyYAML and Psych a string".to_owned()
        }
        (_, "yes" | "true" | "on") => {
            "Psych (Puppet) ignores case and reads the boolean true, PyYAML and go-yaml v2 a string"
                .to_owned()
        }
        (_, "no" | "false" | "off") => {
            "Psych (Puppet) ignores case and reads the boolean false, PyYAML and go-yaml v2 a string"
                .to_owned()
        }
        (_, "null") => {
            "Psych (Puppet) ignores case and reads null, PyYAML and go-yaml v2 a string".to_owned()
        }
        _ => match (resolve_plain(text), yaml11_reading(text)) {
            (Value::Str(_), None) => return None,
            (Value::Str(_), Some(reading)) if reading.starts_with("the base-60") => {
                format!("PyYAML and Psych read {reading}, go-yaml v2 (Helm) a string")
            }
            (Value::Str(_), Some(reading)) => format!("some of them read {reading}"),
            // `1e3`, `0o17`: go-yaml v2 follows Go's number syntax, much like 1.2.
            (number, _) => format!("go-yaml v2 (Helm) reads {}", describe(&number)),
        },
    };
    Some(reading)
}

/// Whether a YAML 1.1 reader would read this plain scalar differently.
pub(crate) fn differs_in_yaml11(text: &str) -> bool {
    yaml11_reading(text).is_some()
}

/// How a YAML 1.1 reader (PyYAML, Ruby's Psych, go-yaml v2, many CI tools)
/// would read a plain scalar differently from YAML 1.2; `None` when it reads
/// the same. `y`/`n` are left alone: they are common as real strings
/// (coordinates, answers) and few 1.1 loaders resolve them.
fn yaml11_reading(text: &str) -> Option<Cow<'static, str>> {
    match text {
        "yes" | "Yes" | "YES" | "on" | "On" | "ON" => return Some("the boolean true".into()),
        "no" | "No" | "NO" | "off" | "Off" | "OFF" => return Some("the boolean false".into()),
        _ => {}
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let negative = text.starts_with('-');
    // 1.1 octal: a leading zero.
    if unsigned.len() > 1
        && unsigned.starts_with('0')
        && unsigned.chars().all(|c| c.is_digit(8))
        && let Ok(v) = i64::from_str_radix(unsigned, 8)
    {
        let v = if negative { -v } else { v };
        return Some(format!("the octal integer {v}").into());
    }
    // 1.2 octal `0o17` is a string to a 1.1 reader.
    if text.starts_with("0o") && parse_int(text).is_some() {
        return Some("a string".into());
    }
    // 1.1 sexagesimal: 1:30 is 90.
    if let Some((head, rest)) = unsigned.split_once(':') {
        let parts_ok = !head.is_empty()
            && head.chars().all(|c| c.is_ascii_digit() || c == '_')
            && head.starts_with(|c: char| c.is_ascii_digit())
            && rest.split(':').all(|p| {
                !p.is_empty() && p.len() <= 2 && p.chars().all(|c| c.is_ascii_digit()) && p < "60"
            });
        if parts_ok {
            let mut total: i64 = 0;
            for part in std::iter::once(head).chain(rest.split(':')) {
                let n: i64 = part.replace('_', "").parse().unwrap_or(0);
                total = total.saturating_mul(60).saturating_add(n);
            }
            let total = if negative { -total } else { total };
            return Some(format!("the base-60 integer {total}").into());
        }
    }
    // 1.1 allows `_` separators in numbers: 1_000 is 1000.
    if unsigned.contains('_')
        && unsigned.starts_with(|c: char| c.is_ascii_digit())
        && unsigned
            .chars()
            .all(|c| c.is_ascii_digit() || c == '_' || c == '.')
    {
        return Some("a number".into());
    }
    None
}

/// A YAML value as its author would recognise it in a message.
pub(crate) fn shown(value: &Value) -> String {
    match value {
        Value::Float(f) if f.is_nan() => ".nan".into(),
        Value::Float(f) if f.is_infinite() => if *f > 0.0 { ".inf" } else { "-.inf" }.into(),
        Value::Float(f) => format!("{f:?}"),
        Value::Int(i) => i.to_string(),
        Value::BigInt(text) => text.clone(),
        Value::Str(s) => format!("{s:?}"),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Unset => "!unset".into(),
        Value::Seq(_) => "a list".into(),
        Value::Map(_) => "a mapping".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Parsed {
        parse("t.yaml", text.as_bytes(), &Limits::default())
    }

    #[test]
    fn every_key_and_value_has_a_position() {
        let p = parse_str("server:\n  port: 80\n  name: \"x\"\n");
        let root = p.single().unwrap();
        let server = root.get("server").unwrap();
        assert_eq!(server.key_pos, Pos::new(1, 1));
        let port = server.value.get("port").unwrap();
        assert_eq!(port.key_pos, Pos::new(2, 3));
        assert_eq!(port.value.pos, Pos::new(2, 9));
        assert_eq!(port.value.value, Value::Int(80));
        assert_eq!(server.value.get("name").unwrap().value.pos, Pos::new(3, 9));
    }

    #[test]
    fn scalars_resolve_by_the_yaml_12_core_schema() {
        let p = parse_str(
            "a: yes\nb: true\nc: 0755\nd: 0x1F\ne: 1.5e3\nf: ~\ng: 0o17\nh: '0755'\ni: .5\nj: 1e\n",
        );
        let root = p.single().unwrap();
        let v = |k: &str| root.get(k).unwrap().value.value.clone();
        assert_eq!(v("a"), Value::Str("yes".into()));
        assert_eq!(v("b"), Value::Bool(true));
        assert_eq!(v("c"), Value::Int(755));
        assert_eq!(v("d"), Value::Int(31));
        assert_eq!(v("e"), Value::Float(1500.0));
        assert_eq!(v("f"), Value::Null);
        assert_eq!(v("g"), Value::Int(15));
        assert_eq!(v("h"), Value::Str("0755".into()));
        assert_eq!(v("i"), Value::Float(0.5));
        assert_eq!(v("j"), Value::Str("1e".into()));
    }

    fn parse_11(text: &str) -> Parsed {
        parse_as("t.yaml", text, yaml_11())
    }

    fn yaml_11() -> ParseOptions {
        ParseOptions {
            version: YamlVersion::V1_1,
            ..ParseOptions::default()
        }
    }

    /// `text` parsed as the file `file` with `options` and default limits.
    fn parse_as(file: &str, text: &str, options: ParseOptions) -> Parsed {
        parse_with(file, text.as_bytes().to_vec(), &Limits::default(), options)
    }

    /// The YAML 1.1 table: what PyYAML (`resolver.py`, `constructor.py`),
    /// Psych (`scalar_scanner.rb`) and go-yaml v2 (`resolve.go`) all read;
    /// a form they disagree on stays a string.
    #[test]
    fn yaml_11_scalars_resolve_where_pyyaml_psych_and_go_yaml_v2_agree() {
        use Value::{BigInt, Bool, Float, Int, Null, Str};
        let s = |t: &str| Str(t.into());
        let table: &[(&str, Value)] = &[
            // Booleans: three casings each (bool regex in resolver.py; resolveMapList).
            ("yes", Bool(true)),
            ("Yes", Bool(true)),
            ("YES", Bool(true)),
            ("on", Bool(true)),
            ("ON", Bool(true)),
            ("true", Bool(true)),
            ("no", Bool(false)),
            ("No", Bool(false)),
            ("off", Bool(false)),
            ("Off", Bool(false)),
            ("FALSE", Bool(false)),
            // go-yaml v2 only: booleans there, strings to PyYAML and Psych.
            ("y", s("y")),
            ("N", s("N")),
            // Psych only (it ignores case).
            ("yEs", s("yEs")),
            ("nULL", s("nULL")),
            // Nulls.
            ("~", Null),
            ("null", Null),
            ("NULL", Null),
            ("", Null),
            // Integers: octal with a leading zero, 0b, 0x, `_` separators, signs.
            ("0755", Int(493)),
            ("-0755", Int(-493)),
            ("0_7", Int(7)),
            ("00", Int(0)),
            ("0_", Int(0)),
            ("08", s("08")),
            ("0", Int(0)),
            ("0b1010", Int(10)),
            ("-0b101", Int(-5)),
            ("0x1F", Int(31)),
            ("+0x1f", Int(31)),
            ("1_000", Int(1000)),
            ("+12", Int(12)),
            (
                "123456789012345678901234567890",
                BigInt("123456789012345678901234567890".into()),
            ),
            (
                "0x1_FFFF_FFFF_FFFF_FFFF",
                BigInt("0x1FFFFFFFFFFFFFFFF".into()),
            ),
            (
                "0b1_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000",
                BigInt("0o2000000000000000000000".into()),
            ),
            // Disagreements: 0o and 0X (go-yaml v2 only), 0789 (a float to
            // go-yaml v2), base 60 (not go-yaml v2), `1,000` (Psych only), `0b_`.
            ("0o17", s("0o17")),
            ("0X1F", s("0X1F")),
            ("0789", s("0789")),
            ("1:30", s("1:30")),
            ("1,000", s("1,000")),
            ("0b_", s("0b_")),
            ("_1", s("_1")),
            // Floats need a `.`; an exponent needs its sign.
            ("1.5", Float(1.5)),
            ("1.", Float(1.0)),
            ("-2.5", Float(-2.5)),
            (".5", Float(0.5)),
            ("1_000.5", Float(1000.5)),
            ("1.5e+3", Float(1500.0)),
            ("6.8523015e-5", Float(6.8523015e-5)),
            ("1e3", s("1e3")),
            ("1.5e3", s("1.5e3")),
            ("1.e+3", s("1.e+3")),
            ("1.0_5", s("1.0_5")),
            ("-.5", s("-.5")),
            ("+.inf", s("+.inf")),
            (".inf", Float(f64::INFINITY)),
            ("-.Inf", Float(f64::NEG_INFINITY)),
            // Dates stay as written: ringmaster has no timestamp type.
            ("2001-12-14", s("2001-12-14")),
            ("text", s("text")),
        ];
        for (text, expected) in table {
            assert_eq!(&resolve_plain_11(text), expected, "`{text}`");
        }
        assert!(matches!(resolve_plain_11(".NaN"), Float(f) if f.is_nan()));
    }

    #[test]
    fn yaml_11_files_keep_quoted_scalars_and_keys_as_written_and_are_not_linted() {
        let p = parse_11(
            "no: off
q: \"off\"
mode: 0755
s: 'yes'
t: !!bool Yes
u: !!int 0b11
",
        );
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let root = p.single().unwrap();
        let v = |k: &str| root.get(k).unwrap().value.value.clone();
        assert_eq!(v("no"), Value::Bool(false));
        assert_eq!(v("q"), Value::Str("off".into()));
        assert_eq!(v("mode"), Value::Int(493));
        assert_eq!(v("s"), Value::Str("yes".into()));
        assert_eq!(v("t"), Value::Bool(true));
        assert_eq!(v("u"), Value::Int(3));
        // JSON has one reading: `1e3` stays a number there.
        let j = parse_as("d.json", "{\"a\": 1e3}", yaml_11());
        assert_eq!(
            j.single().unwrap().get("a").unwrap().value.value,
            Value::Float(1000.0)
        );
    }

    #[test]
    fn yaml_11_files_warn_where_the_yaml_11_tools_disagree() {
        let p = parse_11("a: y\nb: yEs\nc: 1:30\nd: 1e3\ne: 0o17\nf: yes\ng: '1:30'\nh: plain\n");
        let found: Vec<_> = p
            .diagnostics
            .iter()
            .map(|d| (d.rule, d.pos.line, d.message.as_str()))
            .collect();
        let rule = Rule::AmbiguousScalar;
        assert_eq!(
            found,
            [
                (
                    rule,
                    1,
                    "`y` is read as a string: the YAML 1.1 tools disagree on it (go-yaml v2 (Helm) reads the boolean true, PyYAML and Psych a string)"
                ),
                (
                    rule,
                    2,
                    "`yEs` is read as a string: the YAML 1.1 tools disagree on it (Psych (Puppet) ignores case and reads the boolean true, PyYAML and go-yaml v2 a string)"
                ),
                (
                    rule,
                    3,
                    "`1:30` is read as a string: the YAML 1.1 tools disagree on it (PyYAML and Psych read the base-60 integer 90, go-yaml v2 (Helm) a string)"
                ),
                (
                    rule,
                    4,
                    "`1e3` is read as a string: the YAML 1.1 tools disagree on it (go-yaml v2 (Helm) reads the number 1000)"
                ),
                (
                    rule,
                    5,
                    "`0o17` is read as a string: the YAML 1.1 tools disagree on it (go-yaml v2 (Helm) reads the integer 15)"
                ),
            ]
        );
    }

    #[test]
    fn last_wins_duplicate_keys_are_warnings_and_the_later_value_stays() {
        let options = ParseOptions {
            duplicate_keys: DuplicateKeys::LastWins,
            ..ParseOptions::default()
        };
        let p = parse_as("t.yaml", "a: 1\nb:\n  c: 2\n  c: 3\na: 4\n", options);
        let found: Vec<_> = p
            .diagnostics
            .iter()
            .map(|d| (d.rule, d.severity, d.pos, d.path.clone()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    Rule::DuplicateKey,
                    Severity::Warning,
                    Pos::new(4, 3),
                    Some("/b/c".into())
                ),
                (
                    Rule::DuplicateKey,
                    Severity::Warning,
                    Pos::new(5, 1),
                    Some("/a".into())
                ),
            ]
        );
        let root = p.single().unwrap();
        assert_eq!(root.get("a").unwrap().value.value, Value::Int(4));
        assert_eq!(root.locate("/b/c").unwrap().0.value, Value::Int(3));
        assert_eq!(root.value.as_map().unwrap().len(), 2);
    }

    #[test]
    fn ambiguous_scalars_are_reported_on_values_not_keys() {
        let p = parse_str("on: NO\nmode: 0755\nat: 22:30\nquoted: \"no\"\nplain: n\n");
        let found: Vec<_> = p
            .diagnostics
            .iter()
            .filter(|d| d.rule == Rule::AmbiguousScalar)
            .map(|d| (d.pos, d.message.clone()))
            .collect();
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0].0, Pos::new(1, 5));
        assert!(found[0].1.contains("boolean false"));
        assert!(found[1].1.contains("octal integer 493"));
        assert!(found[2].1.contains("base-60 integer 1350"));
    }

    #[test]
    fn duplicate_keys_are_findings_with_both_places() {
        let p = parse_str("a: 1\nb: 2\na: 3\n");
        let d = &p.diagnostics[0];
        assert_eq!(d.rule, Rule::DuplicateKey);
        assert_eq!(d.pos, Pos::new(3, 1));
        assert_eq!(d.related[0].line, 1);
    }

    #[test]
    fn unset_tag_and_merge_keys() {
        let p = parse_str("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n  z: !unset\n");
        let root = p.single().unwrap();
        let used = &root.get("use").unwrap().value;
        assert_eq!(used.get("x").unwrap().value.value, Value::Int(1));
        assert_eq!(used.get("y").unwrap().value.value, Value::Int(3));
        assert_eq!(used.get("z").unwrap().value.value, Value::Unset);
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    }

    #[test]
    fn alias_bomb_is_stopped_by_the_budget() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let p = parse_str(&text);
        assert!(p.docs.is_empty());
        assert_eq!(p.diagnostics[0].rule, Rule::AliasLimit);
    }

    #[test]
    fn deep_nesting_is_a_finding_not_a_stack_overflow() {
        let text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let p = parse_str(&text);
        assert_eq!(p.diagnostics[0].rule, Rule::NestingTooDeep);
    }

    #[test]
    fn bad_bytes_are_encoding_findings() {
        let p = parse("b.yaml", b"a: 1\nb: \xff\xfe\n", &Limits::default());
        assert_eq!(p.diagnostics[0].rule, Rule::Encoding);
        assert_eq!(p.diagnostics[0].pos, Pos::new(2, 4));
        let p = parse("b.yaml", b"a: \0", &Limits::default());
        assert_eq!(p.diagnostics[0].rule, Rule::Encoding);
    }

    #[test]
    fn an_anchored_key_is_a_node_an_alias_can_name() {
        let p = parse_str("&k a: 1\nb: *k\n? &n 7\n: x\nc: *n\n");
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let root = p.single().unwrap();
        assert_eq!(root.get("b").unwrap().value.value, Value::Str("a".into()));
        assert_eq!(root.get("c").unwrap().value.value, Value::Int(7));
    }

    #[test]
    fn tags_resolve_and_print_as_written() {
        let p = parse_str(
            "- ! 12\n- !<tag:yaml.org,2002:str> 5\n- !<!unset> x\n- !!foo y\n- !<tag:x.org,1:z> z\n",
        );
        let items: Vec<_> = match &p.single().unwrap().value {
            Value::Seq(items) => items.iter().map(|n| n.value.clone()).collect(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            items[..3],
            [
                Value::Str("12".into()),
                Value::Str("5".into()),
                Value::Unset
            ]
        );
        let warned: Vec<_> = p.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            warned,
            [
                "tag `!!foo` is not understood here and is ignored",
                "tag `!<tag:x.org,1:z>` is not understood here and is ignored",
            ]
        );
    }

    #[test]
    fn an_empty_block_scalar_sits_on_its_indicator_line() {
        let p = parse_str("motd: >-\n\nnext: 1\nlist:\n  - |\n  - &a !!str >+ # c\n\nlast: |\n");
        let root = p.single().unwrap();
        assert_eq!(root.get("motd").unwrap().value.pos, Pos::new(1, 7));
        let list = &root.get("list").unwrap().value;
        assert_eq!(list.locate("/0").unwrap().0.pos, Pos::new(5, 5));
        // A node with properties starts at them.
        assert_eq!(list.locate("/1").unwrap().0.pos, Pos::new(6, 5));
        assert_eq!(root.get("last").unwrap().value.pos, Pos::new(8, 7));
        // With content, a block scalar starts where its text does.
        let p = parse_str("a: |\n  text\n");
        assert_eq!(
            p.single().unwrap().get("a").unwrap().value.pos,
            Pos::new(2, 3)
        );
    }

    #[test]
    fn surrogate_pair_escapes_decode_and_later_columns_stay_true() {
        let p = parse(
            "d.json",
            br#"{"a": "\ud83d\udca9\uD83D\uDE00", "b": 1}"#,
            &Limits::default(),
        );
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let root = p.single().unwrap();
        assert_eq!(
            root.get("a").unwrap().value.value,
            Value::Str("💩😀".into())
        );
        assert_eq!(root.get("b").unwrap().key_pos, Pos::new(1, 35));
        assert_eq!(root.get("b").unwrap().value.pos, Pos::new(1, 40));
        // Not an escape outside double quotes; an escaped backslash is no escape either.
        let p = parse_str("p: \\ud83d\\udca9\nq: \"\\\\ud83d\\\\udca9 \\\\\\ud83d\\udca9\"\n");
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let root = p.single().unwrap();
        assert_eq!(
            root.get("p").unwrap().value.value,
            Value::Str("\\ud83d\\udca9".into())
        );
        assert_eq!(
            root.get("q").unwrap().value.value,
            Value::Str("\\ud83d\\udca9 \\💩".into())
        );
        // A lone half is an error at it.
        let p = parse("d.json", br#"{"a": "x\ud83d"}"#, &Limits::default());
        assert_eq!(p.diagnostics[0].pos, Pos::new(1, 9));
        assert!(
            p.diagnostics[0].message.contains("`\\ud83d`"),
            "{}",
            p.diagnostics[0].message
        );
    }

    #[test]
    fn only_a_plain_merge_key_in_yaml_merges() {
        let p = parse_str("b: &b {x: 1}\nm: {<<: *b}\nq: {\"<<\": *b}\n");
        let root = p.single().unwrap();
        assert!(root.get("m").unwrap().value.get("x").is_some());
        assert!(root.get("q").unwrap().value.get("<<").is_some());
        let p = parse("j.json", br#"{"m": {"<<": {"x": 1}}}"#, &Limits::default());
        let m = &p.single().unwrap().get("m").unwrap().value;
        assert!(m.get("<<").is_some() && m.get("x").is_none());
    }

    #[test]
    fn numbers_json_cannot_hold_stay_exact_and_are_listed() {
        let p = parse_str(
            "a: [.inf, -.inf, .nan]\nb: 123456789012345678901234567890\nc: 18446744073709551615\nd: !!int 0x1FFFFFFFFFFFFFFFF\n",
        );
        let root = p.single().unwrap();
        assert_eq!(
            root.get("b").unwrap().value.value,
            Value::BigInt("123456789012345678901234567890".into())
        );
        assert_eq!(
            root.to_json(),
            serde_json::json!({
                "a": [".inf", "-.inf", ".nan"],
                "b": "123456789012345678901234567890",
                "c": 18446744073709551615u64,
                "d": "0x1FFFFFFFFFFFFFFFF",
            })
        );
        let mut specials = Vec::new();
        root.special_numbers("", &mut specials);
        let listed: Vec<_> = specials
            .iter()
            .map(|s| (s.pointer.as_str(), s.spelling.as_str()))
            .collect();
        assert_eq!(
            listed,
            [
                ("/a/0", ".inf"),
                ("/a/1", "-.inf"),
                ("/a/2", ".nan"),
                ("/b", "123456789012345678901234567890"),
                ("/d", "0x1FFFFFFFFFFFFFFFF"),
            ]
        );
        assert_eq!(specials[4].value, 36893488147419103231.0);
    }

    #[test]
    fn an_error_at_the_end_of_the_last_line_is_on_that_line() {
        let p = parse_str("a: 1\nb");
        assert_eq!(p.diagnostics[0].pos, Pos::new(2, 2));
    }

    #[test]
    fn locate_follows_json_pointers() {
        let p = parse_str("a:\n  b:\n    - 1\n    - x/y: 2\n");
        let root = p.single().unwrap();
        let (node, key) = root.locate("/a/b/1/x~1y").unwrap();
        assert_eq!(node.value, Value::Int(2));
        assert_eq!(key, Some(Pos::new(4, 7)));
        assert!(root.locate("/a/zz").is_none());
    }
}
