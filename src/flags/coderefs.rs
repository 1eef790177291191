//! Where code names a flag: the evidence behind `flags stale`'s `unreferenced`
//! reason and its `undefined` list (SPEC §5).
//!
//! A flag whose name appears nowhere in the code is a candidate for removal,
//! and a flag call whose name no flag file defines is a bug waiting for a
//! default. Both need one pass over a possibly very large source tree, so this
//! module is built for speed: the tree is walked in parallel with the `ignore`
//! crate (the walker ripgrep uses, so `.gitignore`, `.ignore` and git's exclude
//! files mean what they mean to a developer), each file is searched as bytes by
//! one Aho-Corasick automaton for every defined name and one regex for calls
//! that look like flag reads, and line numbers are computed only for hits.
//!
//! What it deliberately does not do:
//! - understand any language: a name in a comment or an unrelated string counts
//!   as a reference. For "may this flag be removed?" a false "referenced" only
//!   delays a clean-up, while a false "unreferenced" invites deleting a flag
//!   that is still read, so where this module has a choice (bytes of non-ASCII
//!   characters, a `.` that ends a sentence) it leans towards "referenced";
//! - follow symbolic links, read hidden files and directories (`.git`, `.cache`),
//!   binary files (a NUL byte in the first 8 KiB) or files over 4 MiB (bundles,
//!   generated code, data): those are not where people write flag checks;
//! - print anything, or decide what is stale: it reports, `cmd/` judges.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use aho_corasick::{AhoCorasick, MatchKind};
use anyhow::{Context, anyhow};
use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkBuilder, WalkState};

/// A place in code that names a flag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub(crate) struct Reference {
    pub name: String,
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Default)]
pub(crate) struct CodeScan {
    /// Defined flag names that appear anywhere in the code (as a whole word: not as part of a
    /// longer identifier-or-dash word), with the first place each was seen.
    pub referenced: BTreeMap<String, Reference>,
    /// Flag-looking references (captures of `pattern`) whose name no flag file defines, sorted
    /// by file, line.
    pub undefined: Vec<Reference>,
    /// Files read (for reports and the benchmark): text files searched, not the binary or
    /// oversized files that were skipped.
    // Read by the scan's own tests: that every file was visited once.
    #[cfg_attr(not(test), allow(dead_code))]
    pub files: usize,
}

/// The built-in pattern for a flag reference in code: the flag calls of the common SDKs and
/// of hand-written helpers, with the flag name as the first argument:
/// - plain: `flag("x")`, `enabled("x")`, `isEnabled("x")`, `is_enabled('x')`,
///   `feature_enabled("x")`, `isFeatureEnabled("x")`, `Flags.get("x")`;
/// - LaunchDarkly (JS, Go, Python, Java, Ruby): `variation`, `variationDetail`,
///   `boolVariation`, `stringVariation`, `numberVariation`, `intVariation`,
///   `floatVariation`/`Float64Variation`, `doubleVariation`, `jsonVariation`/`JSONVariation`,
///   `jsonValueVariation` and their `…Detail` forms, camelCase, PascalCase or snake_case;
/// - Unleash: `isEnabled`/`is_enabled`/`IsEnabled`, `getVariant`/`get_variant`/`GetVariant`;
/// - OpenFeature: `getBooleanValue`, `getStringValue`, `getNumberValue`, `getIntegerValue`,
///   `getFloatValue`, `getDoubleValue`, `getObjectValue`, their `get…Details` forms,
///   PascalCase (.NET, also `…Async`) and snake_case (`get_boolean_value`); Go's
///   `BooleanValue(ctx, "x", …)` and friends, whose name is the second argument;
/// - Flipt: `evaluateBoolean("x", …)`/`evaluateVariant`, and a `flagKey: "x"`,
///   `flag_key="x"` or `FlagKey: "x"` field of an evaluation request.
///
/// The names are spelled out rather than built from character classes: a list of literals
/// keeps the regex's literal prefilter, which a product of `[Bb]ool_?[Vv]ariation`-style
/// classes would exceed. Each form has its own capture group; the name is the first group
/// that took part.
/// ASCII mode (`(?-u)`): `\b` and `\s` then mean their ASCII selves, which keeps the regex on
/// its fast engines for any input bytes (a Unicode `\b` falls back to a slow engine on
/// non-ASCII text). The leading `\b` keeps `myflag("x")` out; the function may be a method
/// (`client.isEnabled("x")`); the name may be quoted with `"`, `'` or a backtick and spread
/// over lines from the call (`flag(\n  "x")`).
pub(crate) const DEFAULT_REFERENCE_PATTERN: &str = concat!(
    r"(?-u)\b(?:(?:",
    // Plain helpers.
    r"flag|enabled|Enabled|isEnabled|is_enabled|IsEnabled|featureEnabled|feature_enabled",
    r"|isFeatureEnabled|is_feature_enabled|IsFeatureEnabled|Flags\.get",
    // Unleash (`isEnabled` is above).
    r"|getVariant|get_variant|GetVariant",
    // Flipt.
    r"|evaluateBoolean|evaluate_boolean|EvaluateBoolean|evaluateVariant|evaluate_variant|EvaluateVariant",
    // LaunchDarkly: JS, Java (camelCase), Go, .NET (PascalCase), Python, Ruby (snake_case).
    r"|variation|variationDetail|variation_detail|Variation|VariationDetail",
    r"|boolVariation|boolVariationDetail|BoolVariation|BoolVariationDetail|bool_variation|bool_variation_detail",
    r"|stringVariation|stringVariationDetail|StringVariation|StringVariationDetail|string_variation|string_variation_detail",
    r"|numberVariation|numberVariationDetail|NumberVariation|NumberVariationDetail|number_variation|number_variation_detail",
    r"|intVariation|intVariationDetail|IntVariation|IntVariationDetail|int_variation|int_variation_detail",
    r"|floatVariation|floatVariationDetail|FloatVariation|FloatVariationDetail|float_variation|float_variation_detail",
    r"|Float64Variation|Float64VariationDetail",
    r"|doubleVariation|doubleVariationDetail|DoubleVariation|DoubleVariationDetail|double_variation|double_variation_detail",
    r"|jsonVariation|jsonVariationDetail|JsonVariation|JsonVariationDetail|JSONVariation|JSONVariationDetail",
    r"|json_variation|json_variation_detail|jsonValueVariation|jsonValueVariationDetail",
    r"|JsonValueVariation|JsonValueVariationDetail|json_value_variation|json_value_variation_detail",
    // OpenFeature: JS, Java (camelCase), .NET (PascalCase), Python (snake_case).
    r"|getBooleanValue|getBooleanDetails|GetBooleanValue|GetBooleanDetails|get_boolean_value|get_boolean_details",
    r"|getStringValue|getStringDetails|GetStringValue|GetStringDetails|get_string_value|get_string_details",
    r"|getNumberValue|getNumberDetails|GetNumberValue|GetNumberDetails|get_number_value|get_number_details",
    r"|getIntegerValue|getIntegerDetails|GetIntegerValue|GetIntegerDetails|get_integer_value|get_integer_details",
    r"|getFloatValue|getFloatDetails|GetFloatValue|GetFloatDetails|get_float_value|get_float_details",
    r"|getDoubleValue|getDoubleDetails|GetDoubleValue|GetDoubleDetails|get_double_value|get_double_details",
    r"|getObjectValue|getObjectDetails|GetObjectValue|GetObjectDetails|get_object_value|get_object_details",
    // .NET's OpenFeature and LaunchDarkly calls may be `…Async`.
    r#")(?:Async)?\s*\(\s*["'`]([A-Za-z0-9_][A-Za-z0-9_.\-]*)["'`]"#,
    // OpenFeature in Go: the name is the second argument, after the context.
    r"|(?:Boolean|String|Int|Float|Object)Value(?:Details)?\s*\(\s*[A-Za-z_][A-Za-z0-9_.]*\s*,",
    r#"\s*["'`]([A-Za-z0-9_][A-Za-z0-9_.\-]*)["'`]"#,
    // Flipt's evaluation request field.
    r#"|(?:flagKey|flag_key|FlagKey)\s*[:=]\s*["'`]([A-Za-z0-9_][A-Za-z0-9_.\-]*)["'`]"#,
    r")",
);

/// In a manifest's `flag_references`, the entry that stands for the built-in patterns.
pub(crate) const DEFAULT_ENTRY: &str = "default";

/// Bounds on manifest patterns: how many, how long, and how big a compiled one may be. The
/// `regex` crate searches in linear time; the size limit keeps compiling it (`a{1000}{1000}`)
/// cheap too.
pub(crate) const MAX_PATTERNS: usize = 32;
const MAX_PATTERN_LEN: usize = 1024;
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Compiles one flag reference pattern with the size limits; the error says why it cannot
/// be used (bad syntax, too big, no group for the name).
pub(crate) fn compile_pattern(text: &str) -> Result<regex::Regex, String> {
    if text.len() > MAX_PATTERN_LEN {
        return Err(format!("is longer than {MAX_PATTERN_LEN} characters"));
    }
    compile_bounded(text)
}

/// The built-in pattern, compiled with the same size limits (its length is ours).
pub(crate) fn builtin_pattern() -> Result<regex::Regex, String> {
    compile_bounded(DEFAULT_REFERENCE_PATTERN)
}

fn compile_bounded(text: &str) -> Result<regex::Regex, String> {
    let re = regex::RegexBuilder::new(text)
        .size_limit(PATTERN_SIZE_LIMIT)
        .dfa_size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            // The syntax error's last line says what is wrong; the lines above
            // repeat the pattern with a caret.
            let text = e.to_string();
            let why = text.lines().last().unwrap_or("").trim();
            let why = why.strip_prefix("error: ").unwrap_or(why);
            format!("is not a valid regex: {why}")
        })?;
    if re.captures_len() < 2 {
        return Err("has no capture group for the flag name".into());
    }
    Ok(re)
}

/// The flag reference patterns a manifest asks for (`flag_references:`, where `default`
/// stands for the built-in ones), or the built-in ones when it names none. Each problem is
/// `(its JSON pointer, its position, what is wrong)`.
pub(crate) fn manifest_patterns(
    raw: &crate::config::document::Node,
) -> (Vec<regex::Regex>, Vec<(String, crate::diag::Pos, String)>) {
    let mut patterns = Vec::new();
    let mut problems = Vec::new();
    // Never an empty list in its place: a scan without patterns would find no undefined
    // flag at all. (It compiles: a unit test says so.)
    let builtin = |patterns: &mut Vec<regex::Regex>,
                   problems: &mut Vec<(String, crate::diag::Pos, String)>,
                   pos| match builtin_pattern() {
        Ok(re) => patterns.push(re),
        Err(why) => problems.push((
            "/flag_references".to_owned(),
            pos,
            format!("the built-in flag reference pattern {why}"),
        )),
    };
    let Some(entry) = raw.get("flag_references") else {
        builtin(&mut patterns, &mut problems, raw.pos);
        return (patterns, problems);
    };
    let crate::config::document::Value::Seq(items) = &entry.value.value else {
        problems.push((
            "/flag_references".to_owned(),
            entry.value.pos,
            "`flag_references` must be a list of regexes".to_owned(),
        ));
        return (patterns, problems);
    };
    if items.len() > MAX_PATTERNS {
        problems.push((
            "/flag_references".to_owned(),
            entry.value.pos,
            format!(
                "`flag_references` lists {} patterns; at most {MAX_PATTERNS} are allowed",
                items.len()
            ),
        ));
    }
    for (i, item) in items.iter().enumerate().take(MAX_PATTERNS) {
        let pointer = format!("/flag_references/{i}");
        match item.value.as_str() {
            Some(DEFAULT_ENTRY) => builtin(&mut patterns, &mut problems, item.pos),
            Some(text) => match compile_pattern(text) {
                Ok(re) => patterns.push(re),
                Err(why) => {
                    problems.push((pointer, item.pos, format!("flag reference pattern {why}")));
                }
            },
            None => problems.push((
                pointer,
                item.pos,
                "a flag reference pattern must be a string (a regex)".to_owned(),
            )),
        }
    }
    (patterns, problems)
}

/// Larger files are skipped: minified bundles, generated code and data files, where a
/// developer does not write a flag check and where reading would cost more than the rest.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// How much of a file's start is looked at for a NUL byte, as git and ripgrep do.
const BINARY_SNIFF_BYTES: usize = 8 * 1024;

/// Scans `dirs` (walked in parallel with the `ignore` crate's WalkParallel, respecting
/// .gitignore/.ignore/git excludes, skipping hidden dirs like .git, skipping binary files (a
/// NUL byte in the first 8 KiB) and files over 4 MiB).
/// `names`: the defined flag names; matched with one aho-corasick automaton over each file's
/// bytes, with word-boundary checks (a name `search` must not match inside `research` or
/// `search-v2`; `.`/`-`/`_`/alnum count as word characters).
/// `patterns`: regexes each of whose matches is a referenced flag name: the group named
/// `flag`, else the first group that took part in the match.
/// A directory that does not exist is an error naming it ("code directory `x` does not
/// exist").
/// Paths in results are as given dir joined with the relative path, using forward slashes;
/// lines are 1-based.
///
/// A file or directory that cannot be read is an error too, not a silent skip: a flag seen
/// only in an unreadable file would otherwise be reported unreferenced. An ignore file that
/// cannot be read or parsed is not: without its rules more is read, never less. A pattern
/// without a capture group is an error.
pub(crate) fn scan(
    dirs: &[PathBuf],
    names: &BTreeSet<String>,
    patterns: &[regex::Regex],
) -> anyhow::Result<CodeScan> {
    let matcher = Matcher::new(names, patterns)?;
    let mut roots: Vec<&PathBuf> = Vec::with_capacity(dirs.len());
    for dir in dirs {
        if !dir.exists() {
            return Err(anyhow!("code directory `{}` does not exist", dir.display()));
        }
        if !dir.is_dir() {
            return Err(anyhow!(
                "code directory `{}` is not a directory",
                dir.display()
            ));
        }
        // The same directory given twice would be read twice for nothing.
        if !roots.contains(&dir) {
            roots.push(dir);
        }
    }
    let Some((first, rest)) = roots.split_first() else {
        return Ok(CodeScan::default());
    };

    let mut builder = WalkBuilder::new(first);
    for root in rest {
        builder.add(root);
    }
    // `hidden(true)` skips dot-files and dot-directories (`.git` among them); the ignore
    // files apply with or without a git repository (`require_git(false)`), so a tree that
    // is a plain copy or a subdirectory export is read as its owners see it.
    builder
        .hidden(true)
        .follow_links(false)
        .require_git(false)
        .git_ignore(true)
        .git_exclude(true)
        .ignore(true)
        .parents(true);

    let shared = Mutex::new(Vec::new());
    let mut visitors = VisitorBuilder {
        matcher: &matcher,
        shared: &shared,
    };
    builder.build_parallel().visit(&mut visitors);

    let partials = shared
        .into_inner()
        .map_err(|_| anyhow!("code scan: a worker thread panicked"))?;
    merge(&matcher, partials)
}

/// Everything a worker needs to search one file, built once and shared by all workers.
struct Matcher<'a> {
    /// The defined names in automaton pattern order (`BTreeSet` order), for pattern ids.
    names: Vec<&'a str>,
    /// `None` when no flag is defined: nothing to look for but the reference pattern.
    names_ac: Option<AhoCorasick>,
    /// Each reference pattern, with the index of its group named `flag` if it has one.
    references: Vec<(regex::bytes::Regex, Option<usize>)>,
}

impl<'a> Matcher<'a> {
    fn new(defined: &'a BTreeSet<String>, patterns: &[regex::Regex]) -> anyhow::Result<Self> {
        // An empty name would match between any two characters; no flag file can define
        // one, and leaving it out keeps `names` sorted for the lookups below.
        let names: Vec<&str> = defined
            .iter()
            .map(String::as_str)
            .filter(|n| !n.is_empty())
            .collect();
        // Standard semantics with overlapping iteration reports every occurrence of every
        // name, so a rejected match (`search` inside `search-v2`) can never hide an accepted
        // one that overlaps it, whatever characters the names themselves contain.
        // The automaton kind and prefilter are left to the crate: measured on 100 000 files,
        // forcing a DFA cost up to 2x with 5 000 names, and no prefilter 2-4x with any number.
        let names_ac = if names.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&names)
                    .context("building the flag-name matcher")?,
            )
        };
        // The caller hands `str` regexes (that is what a manifest gives); the same syntax
        // compiles as a bytes regex, which searches files without a UTF-8 check and
        // tolerates the odd invalid byte in a source file.
        let mut references = Vec::with_capacity(patterns.len());
        for pattern in patterns {
            let reference = regex::bytes::RegexBuilder::new(pattern.as_str())
                .size_limit(PATTERN_SIZE_LIMIT)
                .dfa_size_limit(PATTERN_SIZE_LIMIT)
                .build()
                .with_context(|| format!("compiling the flag reference pattern `{pattern}`"))?;
            if reference.captures_len() < 2 {
                return Err(anyhow!(
                    "the flag reference pattern `{pattern}` has no capture group for the name"
                ));
            }
            let named = reference.capture_names().position(|n| n == Some("flag"));
            references.push((reference, named));
        }
        Ok(Matcher {
            names,
            names_ac,
            references,
        })
    }
}

/// One worker's findings, merged after the walk.
#[derive(Default)]
struct Partial {
    /// Per name id: the first place this worker saw it, by (file, line).
    first: Vec<Option<(String, u32)>>,
    undefined: Vec<Reference>,
    files: usize,
    /// The first error, with the path it concerns (the smallest path wins at merge, so the
    /// message does not depend on thread scheduling).
    error: Option<(String, anyhow::Error)>,
}

struct VisitorBuilder<'s> {
    matcher: &'s Matcher<'s>,
    shared: &'s Mutex<Vec<Partial>>,
}

impl<'s> ParallelVisitorBuilder<'s> for VisitorBuilder<'s> {
    fn build(&mut self) -> Box<dyn ParallelVisitor + 's> {
        Box::new(Visitor {
            matcher: self.matcher,
            shared: self.shared,
            partial: Partial {
                first: vec![None; self.matcher.names.len()],
                ..Partial::default()
            },
            buf: Vec::with_capacity(64 * 1024),
            seen_in_file: vec![0; self.matcher.names.len()],
            file_no: 0,
        })
    }
}

/// A worker: owns its buffers and findings, hands them over when the walk drops it.
struct Visitor<'s> {
    matcher: &'s Matcher<'s>,
    shared: &'s Mutex<Vec<Partial>>,
    partial: Partial,
    /// Reused for every file: no allocation per file once it has grown.
    buf: Vec<u8>,
    /// Per name id: the `file_no` of the last file in which it was recorded. Only a name's
    /// first hit in a file can be its first place, so later hits cost one comparison.
    seen_in_file: Vec<u64>,
    /// Counts files from 1, so the zeroed `seen_in_file` means "not in this file".
    file_no: u64,
}

impl ParallelVisitor for Visitor<'_> {
    fn visit(&mut self, entry: Result<DirEntry, ignore::Error>) -> WalkState {
        let entry = match entry {
            Ok(entry) => entry,
            // Some ignore rules could not be read: more files are read, which can only
            // make more flags look referenced, the safe side. (Rules of the directories
            // being walked report this on the entry, which is not looked at, for the same
            // reason; this is the root's parents.)
            Err(err) if is_ignore_rules_error(&err) => return WalkState::Continue,
            Err(err) => {
                let path = error_path(&err);
                self.fail(path, anyhow::Error::new(err));
                return WalkState::Quit;
            }
        };
        // Directories are walked, not read; symbolic links are not followed (and so not
        // read); sockets and the like have no source code.
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            return WalkState::Continue;
        }
        match self.read(entry.path()) {
            Ok(true) => {
                self.partial.files += 1;
                self.search(entry.path());
                WalkState::Continue
            }
            Ok(false) => WalkState::Continue,
            Err(err) => {
                let path = display_path(entry.path());
                let err = anyhow::Error::new(err).context(format!("reading `{path}`"));
                self.fail(path, err);
                WalkState::Quit
            }
        }
    }
}

impl Drop for Visitor<'_> {
    fn drop(&mut self) {
        let partial = std::mem::take(&mut self.partial);
        // A poisoned lock means another worker panicked; the scan then fails at merge and
        // this worker's findings no longer matter.
        if let Ok(mut shared) = self.shared.lock() {
            shared.push(partial);
        }
    }
}

impl Visitor<'_> {
    fn fail(&mut self, path: String, err: anyhow::Error) {
        if self.partial.error.as_ref().is_none_or(|(p, _)| path < *p) {
            self.partial.error = Some((path, err));
        }
    }

    /// Reads `path` into `self.buf`. `Ok(false)`: skipped, as binary or oversized.
    fn read(&mut self, path: &Path) -> std::io::Result<bool> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        if len > MAX_FILE_BYTES {
            return Ok(false);
        }
        // Exactly the size the stat gave: no end-of-file probe, which would be one more
        // system call per file (a fifth of them). A file that grows meanwhile is read as it
        // was; one that shrinks ends early.
        let len = usize::try_from(len).unwrap_or(0);
        self.buf.clear();
        self.buf.resize(len, 0);
        let mut filled = 0;
        while filled < len {
            match file.read(&mut self.buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.buf.truncate(filled);
        // `[u8]::contains` is a memchr.
        let head = &self.buf[..self.buf.len().min(BINARY_SNIFF_BYTES)];
        Ok(!head.contains(&0))
    }

    /// Searches the file in `self.buf`, which was read from `path`.
    fn search(&mut self, path: &Path) {
        self.file_no += 1;
        let matcher = self.matcher;
        let hay = self.buf.as_slice();
        // Only a file with a hit pays for its display path.
        let mut file: Option<String> = None;

        if let Some(ac) = &matcher.names_ac {
            let mut lines = LineCounter::default();
            for m in ac.find_overlapping_iter(hay) {
                let id = m.pattern().as_usize();
                if self.seen_in_file[id] == self.file_no || !is_whole_word(hay, m.start(), m.end())
                {
                    continue;
                }
                self.seen_in_file[id] = self.file_no;
                let line = lines.line_at(hay, m.start());
                let file = file.get_or_insert_with(|| display_path(path));
                offer(&mut self.partial.first[id], file, line);
            }
        }

        for (reference, named) in &matcher.references {
            let mut lines = LineCounter::default();
            for caps in reference.captures_iter(hay) {
                // The `flag` group, else the first group that took part; none, or an empty
                // name: no reference.
                let name = match named {
                    Some(i) => caps.get(*i),
                    None => caps.iter().skip(1).flatten().next(),
                };
                let Some(name) = name.filter(|m| !m.is_empty()) else {
                    continue;
                };
                let line = lines.line_at(hay, name.start());
                let file = file.get_or_insert_with(|| display_path(path));
                let text = String::from_utf8_lossy(name.as_bytes());
                match matcher.names.binary_search(&text.as_ref()) {
                    // A defined name in a flag call is a reference even where a custom pattern
                    // captures it from inside a longer word (`FLAG_search_on`).
                    Ok(id) => offer(&mut self.partial.first[id], file, line),
                    Err(_) => self.partial.undefined.push(Reference {
                        name: text.into_owned(),
                        file: file.clone(),
                        line,
                    }),
                }
            }
        }
    }
}

/// Keeps the smaller of the recorded first place and (file, line).
fn offer(slot: &mut Option<(String, u32)>, file: &str, line: u32) {
    let better = match slot {
        None => true,
        Some((f, l)) => (file, line) < (f.as_str(), *l),
    };
    if better {
        *slot = Some((file.to_owned(), line));
    }
}

/// Word characters for the boundary check: a flag name may itself contain `.`, `-` and `_`
/// (`checkout.v2`, `new-checkout`), so those join words. Bytes of non-ASCII characters do
/// not: `résearch` then contains the word `search`, the safe error (see the module doc).
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// Whether `hay[start..end]` is a whole word. One exception to "a word character after it
/// extends the word": a `.` that no word character follows ends a sentence ("drop
/// new-checkout."), it does not start a longer name.
fn is_whole_word(hay: &[u8], start: usize, end: usize) -> bool {
    if start > 0 && hay.get(start - 1).copied().is_some_and(is_word_byte) {
        return false;
    }
    match hay.get(end).copied() {
        None => true,
        Some(b'.') => !hay.get(end + 1).copied().is_some_and(is_word_byte),
        Some(b) => !is_word_byte(b),
    }
}

/// 1-based line numbers for offsets in one haystack, counted from the previous offset asked
/// about rather than from the start, so a file with many hits is not rescanned per hit.
/// Offsets may go backwards (overlapping matches come in order of their end).
#[derive(Default)]
struct LineCounter {
    offset: usize,
    /// Newlines in `hay[..offset]`.
    newlines: usize,
}

impl LineCounter {
    fn line_at(&mut self, hay: &[u8], offset: usize) -> u32 {
        let count = |s: &[u8]| s.iter().filter(|&&b| b == b'\n').count();
        if offset >= self.offset {
            self.newlines += count(&hay[self.offset..offset]);
        } else {
            self.newlines -= count(&hay[offset..self.offset]);
        }
        self.offset = offset;
        // A file of more than 4 Gi lines is over the size limit long before.
        u32::try_from(self.newlines + 1).unwrap_or(u32::MAX)
    }
}

/// The path as the results show it: the walker yields the given directory joined with the
/// relative path; separators become `/` on platforms where they are not.
fn display_path(path: &Path) -> String {
    let s = path.to_string_lossy();
    if std::path::MAIN_SEPARATOR == '/' {
        s.into_owned()
    } else {
        s.replace(std::path::MAIN_SEPARATOR, "/")
    }
}

/// Whether a walk error only concerns ignore rules: a bad glob in a `.gitignore`, an ignore
/// file that cannot be read. A directory that cannot be listed is not one.
fn is_ignore_rules_error(err: &ignore::Error) -> bool {
    match err {
        ignore::Error::Partial(errs) => errs.iter().all(is_ignore_rules_error),
        ignore::Error::WithLineNumber { .. } | ignore::Error::Glob { .. } => true,
        ignore::Error::WithPath { path, err } => path.is_file() || is_ignore_rules_error(err),
        ignore::Error::WithDepth { err, .. } => is_ignore_rules_error(err),
        _ => false,
    }
}

/// The path a walk error concerns, for choosing which error to report.
fn error_path(err: &ignore::Error) -> String {
    match err {
        ignore::Error::WithPath { path, .. } => display_path(path),
        ignore::Error::WithLineNumber { err, .. } | ignore::Error::WithDepth { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => display_path(child),
        _ => String::new(),
    }
}

/// Folds the workers' findings into one deterministic result: each name's first place is
/// the minimum over workers, the undefined references are sorted, and an error is the one
/// with the smallest path.
fn merge(matcher: &Matcher<'_>, partials: Vec<Partial>) -> anyhow::Result<CodeScan> {
    let mut first: Vec<Option<(String, u32)>> = vec![None; matcher.names.len()];
    let mut undefined = Vec::new();
    let mut files = 0;
    let mut error: Option<(String, anyhow::Error)> = None;
    for p in partials {
        files += p.files;
        undefined.extend(p.undefined);
        for (slot, found) in first.iter_mut().zip(p.first) {
            if let Some((file, line)) = found {
                offer(slot, &file, line);
            }
        }
        if let Some((path, err)) = p.error
            && error.as_ref().is_none_or(|(p, _)| path < *p)
        {
            error = Some((path, err));
        }
    }
    if let Some((_, err)) = error {
        return Err(err.context("scanning code for flag references"));
    }
    undefined.sort_by(|a, b| (&a.file, a.line, &a.name).cmp(&(&b.file, b.line, &b.name)));
    // The same call twice on one line, or a directory given twice, is one reference.
    undefined.dedup();
    let referenced = matcher
        .names
        .iter()
        .zip(first)
        .filter_map(|(name, found)| {
            let (file, line) = found?;
            let name = (*name).to_owned();
            Some((name.clone(), Reference { name, file, line }))
        })
        .collect();
    Ok(CodeScan {
        referenced,
        undefined,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn default_pattern() -> Vec<regex::Regex> {
        vec![builtin_pattern().expect("the default pattern compiles")]
    }

    fn write(root: &Path, rel: &str, text: impl AsRef<[u8]>) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    }

    fn scan_one(root: &Path, defined: &[&str]) -> CodeScan {
        scan(&[root.to_path_buf()], &names(defined), &default_pattern()).expect("scan")
    }

    fn referenced(scan: &CodeScan) -> Vec<&str> {
        scan.referenced.keys().map(String::as_str).collect()
    }

    #[test]
    fn names_match_as_whole_words_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            "a.rs",
            "let r = research();\nlet s = \"search-v2\";\nlet t = search_x;\nlet u = x.search;\n",
        );
        let s = scan_one(dir.path(), &["search"]);
        assert!(s.referenced.is_empty(), "{:?}", s.referenced);

        write(dir.path(), "b.go", "x := 1\nif on(\"search\") {\n");
        write(dir.path(), "c.py", "# remove new-checkout.\ncheckout.v2\n");
        let s = scan_one(dir.path(), &["search", "new-checkout", "checkout", "v2"]);
        // `checkout` and `v2` only occur inside `new-checkout` / `checkout.v2`.
        assert_eq!(referenced(&s), ["new-checkout", "search"]);
        assert_eq!(
            s.referenced["search"].file,
            format!("{}/b.go", dir.path().display())
        );
        assert_eq!(s.referenced["search"].line, 2);
        assert_eq!(s.referenced["new-checkout"].line, 1);
    }

    #[test]
    fn overlapping_names_are_all_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "a.ts", "use(search-v2, search)\n");
        let s = scan_one(dir.path(), &["search", "search-v2", "v2"]);
        assert_eq!(referenced(&s), ["search", "search-v2"]);
    }

    #[test]
    fn first_place_is_the_smallest_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "b/x.rs", "\n\nnew-checkout\n");
        write(dir.path(), "a/x.rs", "\n\n\nnew-checkout\nnew-checkout\n");
        write(dir.path(), "a/y.rs", "new-checkout\n");
        let s = scan_one(dir.path(), &["new-checkout"]);
        let r = &s.referenced["new-checkout"];
        assert_eq!(r.file, format!("{}/a/x.rs", dir.path().display()));
        assert_eq!(r.line, 4);
        assert_eq!(s.files, 3);
    }

    #[test]
    fn gitignore_is_respected_without_a_git_repository() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), ".gitignore", "vendor/\n*.gen.rs\n");
        write(dir.path(), "vendor/lib.rs", "flag(\"old-search\")\n");
        write(dir.path(), "src/a.gen.rs", "flag(\"old-search\")\n");
        write(dir.path(), "src/.ignore", "skipped.rs\n");
        write(dir.path(), "src/skipped.rs", "flag(\"old-search\")\n");
        write(dir.path(), "src/main.rs", "flag(\"new-checkout\")\n");
        let s = scan_one(dir.path(), &["old-search", "new-checkout"]);
        assert_eq!(referenced(&s), ["new-checkout"]);
        assert!(s.undefined.is_empty());
        assert_eq!(s.files, 1);
    }

    #[test]
    fn bad_ignore_rules_do_not_stop_the_scan() {
        let dir = tempfile::tempdir().expect("tempdir");
        // An unclosed `{` is not a valid glob, above the code directory (the walker reports
        // it as an error) and inside it (reported on the directory's entry).
        write(dir.path(), ".gitignore", "{broken\n");
        write(dir.path(), "code/.gitignore", "{also-broken\nvendor/\n");
        write(dir.path(), "code/a.rs", "flag(\"new-checkout\")\n");
        write(dir.path(), "code/vendor/b.rs", "flag(\"old-search\")\n");
        let s = scan_one(&dir.path().join("code"), &["new-checkout", "old-search"]);
        assert_eq!(referenced(&s), ["new-checkout"]);
    }

    #[test]
    fn hidden_directories_are_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), ".git/HEAD", "new-checkout\n");
        write(dir.path(), ".cache/x.rs", "new-checkout\n");
        let s = scan_one(dir.path(), &["new-checkout"]);
        assert!(s.referenced.is_empty());
        assert_eq!(s.files, 0);
    }

    #[test]
    fn binary_and_oversized_files_are_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "logo.png", b"\x89PNG\0\0new-checkout\n");
        // The NUL is past the sniffed head: the file is text.
        let mut late_nul = vec![b' '; BINARY_SNIFF_BYTES];
        late_nul.extend_from_slice(b"\0 dark-mode\n");
        write(dir.path(), "late.rs", &late_nul);
        let mut big = vec![b' '; MAX_FILE_BYTES as usize];
        big.extend_from_slice(b"big-flag\n");
        write(dir.path(), "bundle.js", &big);
        let s = scan_one(dir.path(), &["new-checkout", "dark-mode", "big-flag"]);
        assert_eq!(referenced(&s), ["dark-mode"]);
        assert_eq!(s.files, 1);
    }

    #[test]
    fn undefined_references_have_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            "src/cart.rs",
            "fn a() {\n    if flag(\"new-checkout\") {}\n    if is_enabled('new-cart') {}\n\
             \n    variation(\"ghost\", ctx, false); variation(\"ghost\", ctx, false);\n}\n",
        );
        write(dir.path(), "web/app.ts", "if (Flags.get(`beta-ui`)) {}\n");
        let s = scan_one(dir.path(), &["new-checkout"]);
        let root = dir.path().display();
        let got: Vec<(String, String, u32)> = s
            .undefined
            .iter()
            .map(|r| (r.name.clone(), r.file.clone(), r.line))
            .collect();
        assert_eq!(
            got,
            [
                ("new-cart".into(), format!("{root}/src/cart.rs"), 3),
                ("ghost".into(), format!("{root}/src/cart.rs"), 5),
                ("beta-ui".into(), format!("{root}/web/app.ts"), 1),
            ]
        );
        assert_eq!(s.referenced["new-checkout"].line, 2);
    }

    #[test]
    fn default_pattern_forms() {
        let re = &default_pattern()[0];
        let hits = |text: &str| -> Vec<String> {
            re.captures_iter(text)
                .filter_map(|c| Some(c.iter().skip(1).flatten().next()?.as_str().to_owned()))
                .collect()
        };
        assert_eq!(hits(r#"flag("a")"#), ["a"]);
        assert_eq!(hits("is_enabled('b')"), ["b"]);
        assert_eq!(hits(r#"client.isEnabled("c")"#), ["c"]);
        assert_eq!(hits(r#"feature_enabled( "d" )"#), ["d"]);
        assert_eq!(hits(r#"ld.variation("e", user, false)"#), ["e"]);
        assert_eq!(hits(r#"Flags.get("f.v2")"#), ["f.v2"]);
        assert_eq!(hits("flag(\n    \"g\")"), ["g"]);
        assert!(hits(r#"myflag("x") flags("y") flag(name)"#).is_empty());
        for (call, name) in [
            (r#"ldClient.boolVariation("ld-a", ctx, false)"#, "ld-a"),
            (r#"client.BoolVariationDetail("ld-b", ctx, false)"#, "ld-b"),
            (r#"ld.json_variation("ld-c", ctx, {})"#, "ld-c"),
            (r#"client.JSONVariation("ld-d", ctx, v)"#, "ld-d"),
            (r#"c.variation_detail("ld-e", ctx, 1)"#, "ld-e"),
            (r#"flags.enabled("plain")"#, "plain"),
            (r#"unleash.getVariant("un-a")"#, "un-a"),
            (r#"unleash.IsEnabled("un-b")"#, "un-b"),
            (r#"client.getBooleanDetails("of-a", false)"#, "of-a"),
            (
                r#"await client.GetBooleanValueAsync("of-net", false)"#,
                "of-net",
            ),
            (r#"client.get_string_value("of-b", "x")"#, "of-b"),
            (r#"client.BooleanValue(ctx, "of-c", false, ec)"#, "of-c"),
            (r#"client.evaluateVariant("fl-a", "entity", {})"#, "fl-a"),
            (
                r#"evaluation.boolean({ namespaceKey: "default", flagKey: "fl-b" })"#,
                "fl-b",
            ),
            (r#"EvaluationRequest(flag_key="fl-c")"#, "fl-c"),
        ] {
            assert_eq!(hits(call), [name], "{call}");
        }
    }

    #[test]
    fn the_builtin_pattern_compiles_so_a_manifest_without_flag_references_has_no_problem() {
        // `Manifest::build` relies on this to skip compiling it.
        let root = crate::config::document::parse(
            "ringmaster.yaml",
            b"version: 1\n",
            &crate::config::document::Limits::default(),
        );
        let root = root.single().expect("one document");
        let (patterns, problems) = manifest_patterns(root);
        assert_eq!((patterns.len(), problems.len()), (1, 0));
        assert!(builtin_pattern().is_ok());
    }

    #[test]
    fn manifest_patterns_are_bounded_and_need_a_group() {
        assert!(
            compile_pattern(r"flag\(")
                .unwrap_err()
                .contains("no capture group")
        );
        assert!(
            compile_pattern(r"(unclosed")
                .unwrap_err()
                .contains("not a valid regex")
        );
        assert!(compile_pattern(r"(a{1000}){1000}").is_err());
        assert!(compile_pattern(&"(a)".repeat(400)).is_err());
        let re = compile_pattern(r#"check\("(?P<flag>[a-z-]+)"\)"#).expect("valid");
        assert_eq!(re.captures_len(), 2);
    }

    #[test]
    fn paths_start_with_the_given_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "svc/a.rs", "flag(\"x\")\n");
        write(dir.path(), "lib/b.rs", "flag(\"y\")\n");
        let dirs = [
            dir.path().join("svc"),
            dir.path().join("lib"),
            dir.path().join("svc"),
        ];
        let s = scan(&dirs, &names(&[]), &default_pattern()).expect("scan");
        let root = dir.path().display();
        let files: Vec<&str> = s.undefined.iter().map(|r| r.file.as_str()).collect();
        assert_eq!(
            files,
            [format!("{root}/lib/b.rs"), format!("{root}/svc/a.rs")]
        );
        assert_eq!(s.files, 2);
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope");
        let err = scan(
            &[dir.path().to_path_buf(), missing.clone()],
            &names(&["x"]),
            &default_pattern(),
        )
        .expect_err("missing dir");
        assert_eq!(
            err.to_string(),
            format!("code directory `{}` does not exist", missing.display())
        );
    }

    #[test]
    fn a_pattern_without_a_group_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let re = regex::Regex::new(r"flag\(").expect("regex");
        let err = scan(&[dir.path().to_path_buf()], &names(&["x"]), &[re]).expect_err("no group");
        assert!(err.to_string().contains("no capture group"), "{err}");
    }

    #[test]
    fn results_do_not_depend_on_thread_scheduling() {
        let dir = tempfile::tempdir().expect("tempdir");
        for i in 0..300 {
            let body = format!(
                "// {i}\n{}\nflag(\"shared\")\nflag(\"undef-{}\")\nis_enabled(\"f{}\")\n",
                "\n".repeat(i % 7),
                i % 5,
                i % 11
            );
            write(dir.path(), &format!("d{}/e{}/f{i}.rs", i % 3, i % 4), body);
        }
        let defined = names(&[
            "shared", "f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8",
        ]);
        let run = || {
            let s = scan(&[dir.path().to_path_buf()], &defined, &default_pattern()).expect("scan");
            (s.referenced, s.undefined, s.files)
        };
        let first = run();
        for _ in 0..10 {
            assert_eq!(run(), first);
        }
        let root = dir.path().display();
        // Smallest path in string order: d0/e0/f0.rs (`f0.rs` < `f12.rs` < …), line 3.
        assert_eq!(
            first.0["shared"],
            Reference {
                name: "shared".into(),
                file: format!("{root}/d0/e0/f0.rs"),
                line: 3
            }
        );
        assert_eq!(first.2, 300);
        // Every (file, line) sorted.
        let keys: Vec<_> = first.1.iter().map(|r| (r.file.clone(), r.line)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        // 300 `undef-*` calls, and `f9`/`f10` (i % 11 of 9 or 10: 27 + 27 files) are undefined.
        assert_eq!(first.1.len(), 300 + 54);
    }

    #[test]
    fn line_counter_goes_both_ways() {
        let hay = b"a\nb\nc\nd";
        let mut lc = LineCounter::default();
        assert_eq!(lc.line_at(hay, 6), 4);
        assert_eq!(lc.line_at(hay, 2), 2);
        assert_eq!(lc.line_at(hay, 0), 1);
        assert_eq!(lc.line_at(hay, 7), 4);
    }
}
