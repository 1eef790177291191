//! A content-addressed cache of per-file check results, kept in the git
//! directory (`<git-dir>/ringmaster/cache/check/`), never in the work tree.
//!
//! An entry is one file's findings (before the manifest's severity
//! overrides, which are applied to the whole report). Its key is a SHA-256
//! over everything that decides them: ringmaster's version and a hash of
//! the sources it was built from, the manifest's bytes (every setting the
//! per-file rules read: YAML policy, limits, layers, schema mappings), the
//! file's path, its git blob id, and each applying schema's digest (its
//! bytes and every `$ref`ed file's). Anything else changed is another key.
//!
//! Entries live in pack files, one per run that found something new
//! (sorted by key, read with one read each), merged into one when there
//! are more than [`MAX_PACKS`] and bounded by [`MAX_ENTRIES`]. A pack is
//! written to a temp file in the same directory and renamed into place, so
//! a reader sees a whole pack or none; each entry carries a checksum, and
//! one that does not verify or decode is a miss and is written again. The
//! cache never decides a finding: at worst a file is checked again.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::diag::{Diagnostic, Pos, Related, Rule, Severity};

/// The environment variable that turns the cache off (any value but `0` or empty).
pub(crate) const ENV_OFF: &str = "RINGMASTER_NO_CACHE";

/// At most this many entries are kept (the oldest, unused ones go first
/// when packs are merged): about 60 bytes each when a file has no findings,
/// 12 MB at the bound, twenty times a 10 000-file repo.
pub(crate) const MAX_ENTRIES: usize = 200_000;

const MAGIC: &str = "ringmaster-check-cache 1";

/// The build the results came from: a binary of other code is another key.
pub(crate) const BUILD: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "+",
    env!("RINGMASTER_SOURCE_HASH")
);

pub(crate) type Key = [u8; 32];

/// The key of a memo (an entry without findings that says "this passed"):
/// SHA-256 of its domain, the build and its subject, each length-prefixed.
/// Each domain differs from [`RunKey`]'s, so a memo never meets a file's key.
fn memo_key(domain: &str, build: &str, subject: &[u8]) -> Key {
    let mut hasher = Sha256::new();
    for part in [domain.as_bytes(), build.as_bytes(), subject] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// A manifest that passed ringmaster's own manifest schema, by its bytes.
fn own_schema_key(build: &str, manifest: &[u8]) -> Key {
    memo_key("ringmaster-manifest-own-schema 1", build, manifest)
}

/// A user schema that compiled without reading any other file, by its
/// digest (which covers its path and bytes): with the build, those decide
/// that it compiles.
fn schema_compiled_key(build: &str, alone: &[u8; 32]) -> Key {
    memo_key("ringmaster-schema-compiled 1", build, alone)
}

impl Cache {
    /// Whether a memo under `key` says "passed" (an entry with findings
    /// under a memo's key is never taken for a pass).
    fn memo_holds(&self, key: &Key) -> bool {
        self.peek(key).is_some_and(|found| found.is_empty())
    }
}

impl crate::config::manifest::OwnSchemaMemo for Cache {
    fn passed(&self, manifest: &[u8]) -> bool {
        self.memo_holds(&own_schema_key(BUILD, manifest))
    }

    fn remember_passed(&self, manifest: &[u8]) {
        self.put(&own_schema_key(BUILD, manifest), &[]);
    }
}

impl crate::config::schema::CompileMemo for Cache {
    fn compiled(&self, alone: &[u8; 32]) -> bool {
        self.memo_holds(&schema_compiled_key(BUILD, alone))
    }

    fn remember_compiled(&self, alone: &[u8; 32]) {
        self.put(&schema_compiled_key(BUILD, alone), &[]);
    }
}

/// Whether the environment turns the cache off.
pub(crate) fn off_by_env() -> bool {
    std::env::var_os(ENV_OFF).is_some_and(|v| !v.is_empty() && v != "0")
}

/// What is the same for every file of one run: the build and the manifest.
#[derive(Clone)]
pub(crate) struct RunKey {
    hasher: Sha256,
}

impl RunKey {
    pub(crate) fn new(build: &str, manifest_text: &str) -> RunKey {
        let mut hasher = Sha256::new();
        for part in [MAGIC, build, manifest_text] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        RunKey { hasher }
    }

    /// Adds what else the manifest's load made of other files (a `hiera:` or
    /// `ansible:` section expands to the hierarchy and classes their files
    /// describe): every key of this run covers it too.
    pub(crate) fn expanded(&mut self, expansion: &str) {
        self.hasher.update(b"expanded");
        self.hasher.update((expansion.len() as u64).to_le_bytes());
        self.hasher.update(expansion.as_bytes());
    }

    /// The key of one host class's findings: its name, `shape` (the class
    /// and its expanded layers as the merge sees them), each layer file
    /// with its blob id or `None` when it does not exist, and its effective
    /// schema with its digest (`None`: it did not compile).
    pub(crate) fn class_key<'a>(
        &self,
        class: &str,
        shape: &str,
        layers: impl Iterator<Item = (&'a str, Option<[u8; 20]>)>,
        schema: Option<(&str, Option<[u8; 32]>)>,
    ) -> Key {
        let mut h = self.hasher.clone();
        // Never the key of a file, whatever its path.
        h.update(b"\0class\0");
        for part in [class, shape] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        for (path, blob) in layers {
            h.update((path.len() as u64).to_le_bytes());
            h.update(path.as_bytes());
            match blob {
                Some(b) => {
                    h.update([1]);
                    h.update(b);
                }
                None => h.update([0]),
            }
        }
        match schema {
            Some((path, digest)) => {
                h.update([1]);
                h.update((path.len() as u64).to_le_bytes());
                h.update(path.as_bytes());
                match digest {
                    Some(d) => {
                        h.update([1]);
                        h.update(d);
                    }
                    None => h.update([0]),
                }
            }
            None => h.update([0]),
        }
        h.finalize().into()
    }

    /// The key of one file's findings. `schemas` are the schemas mapped to
    /// it, each with its digest, or `None` when it did not compile.
    pub(crate) fn file_key<'a>(
        &self,
        path: &str,
        bytes: &[u8],
        schemas: impl Iterator<Item = (&'a str, Option<[u8; 32]>)>,
    ) -> Key {
        self.blob_key(path, &blob_id(bytes), schemas)
    }

    /// [`RunKey::file_key`] of a file whose blob id is known.
    pub(crate) fn blob_key<'a>(
        &self,
        path: &str,
        blob: &[u8; 20],
        schemas: impl Iterator<Item = (&'a str, Option<[u8; 32]>)>,
    ) -> Key {
        let mut h = self.hasher.clone();
        h.update((path.len() as u64).to_le_bytes());
        h.update(path.as_bytes());
        h.update(blob);
        for (schema, digest) in schemas {
            h.update((schema.len() as u64).to_le_bytes());
            h.update(schema.as_bytes());
            match digest {
                Some(d) => {
                    h.update([1]);
                    h.update(d);
                }
                None => h.update([0]),
            }
        }
        h.finalize().into()
    }
}

/// A pack file: every entry one run wrote (or a merge of several packs),
/// sorted by key so a lookup is a binary search in one buffer.
///
/// `MAGIC`, the entry count (u32 LE), then per entry a record of
/// [`RECORD`] bytes: key, payload offset and length (u32 LE each), and the
/// first 16 bytes of a SHA-256 over key, length and payload; then the
/// payloads. A record that does not verify is a miss, alone: the rest of
/// the pack still answers.
struct Pack {
    path: PathBuf,
    modified: SystemTime,
    bytes: Vec<u8>,
    count: usize,
    /// Which entries answered this run: kept first when packs are merged.
    hit: Vec<AtomicBool>,
}

const RECORD: usize = 32 + 4 + 4 + 16;
const HEADER: usize = PACK_MAGIC.len() + 4;
const PACK_MAGIC: &[u8] = b"ringmaster-check-pack 1\n";
const PACK_PREFIX: &str = "pack1-";
const PACK_SUFFIX: &str = ".rmc";

/// More packs than this are merged into one by the run that writes.
const MAX_PACKS: usize = 4;

/// A pack holds at most this many payload bytes (findings of files with
/// very many findings are not kept past it).
const MAX_PACK_BYTES: usize = 64 << 20;

fn record_check(key: &Key, payload: &[u8]) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(key);
    h.update((payload.len() as u32).to_le_bytes());
    h.update(payload);
    let digest = h.finalize();
    let mut out = [0; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

fn u32_at(bytes: &[u8], at: usize) -> Option<usize> {
    let raw: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(raw) as usize)
}

impl Pack {
    fn parse(path: PathBuf, modified: SystemTime, bytes: Vec<u8>) -> Option<Pack> {
        if !bytes.starts_with(PACK_MAGIC) {
            return None;
        }
        let count = u32_at(&bytes, PACK_MAGIC.len())?;
        if HEADER.checked_add(count.checked_mul(RECORD)?)? > bytes.len() {
            return None;
        }
        Some(Pack {
            path,
            modified,
            bytes,
            count,
            hit: (0..count).map(|_| AtomicBool::new(false)).collect(),
        })
    }

    fn key(&self, i: usize) -> &[u8] {
        let at = HEADER + i * RECORD;
        &self.bytes[at..at + 32]
    }

    fn find(&self, key: &Key) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.key(mid).cmp(&key[..]) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// Entry `i`'s key and payload, when its record verifies.
    fn entry(&self, i: usize) -> Option<(Key, &[u8])> {
        let at = HEADER + i * RECORD;
        let key: Key = self.bytes.get(at..at + 32)?.try_into().ok()?;
        let offset = u32_at(&self.bytes, at + 32)?;
        let len = u32_at(&self.bytes, at + 36)?;
        let check = self.bytes.get(at + 40..at + RECORD)?;
        let data = HEADER + self.count * RECORD;
        let start = data.checked_add(offset)?;
        let payload = self.bytes.get(start..start.checked_add(len)?)?;
        (record_check(&key, payload)[..] == *check).then_some((key, payload))
    }
}

/// A pack's bytes: `entries` sorted by key, duplicates dropped.
fn encode_pack(mut entries: Vec<(Key, &[u8])>) -> Vec<u8> {
    entries.sort_by_key(|e| e.0);
    entries.dedup_by(|a, b| a.0 == b.0);
    let payloads: usize = entries.iter().map(|(_, p)| p.len()).sum();
    let mut out = Vec::with_capacity(HEADER + entries.len() * RECORD + payloads);
    out.extend_from_slice(PACK_MAGIC);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    let mut offset = 0u32;
    for (key, payload) in &entries {
        out.extend_from_slice(key);
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&record_check(key, payload));
        offset += payload.len() as u32;
    }
    for (_, payload) in &entries {
        out.extend_from_slice(payload);
    }
    out
}

/// The blob id `git hash-object` gives: the same key for the work tree,
/// the index and any revision holding these bytes.
pub(crate) fn blob_id(bytes: &[u8]) -> [u8; 20] {
    let mut id = [0; 20];
    match git2::Oid::hash_object(git2::ObjectType::Blob, bytes) {
        Ok(oid) if oid.as_bytes().len() == 20 => id.copy_from_slice(oid.as_bytes()),
        // Never the id of any bytes git would name: a key of its own.
        _ => id.copy_from_slice(&Sha256::digest(bytes)[..20]),
    }
    id
}

/// The cache of one run, with its hit and miss counts.
pub(crate) struct Cache {
    dir: PathBuf,
    /// The packs there, read (each with one read) on the first lookup.
    packs: std::sync::OnceLock<Vec<Pack>>,
    hits: AtomicUsize,
    lookups: AtomicUsize,
    /// Hits on files not read: the git index vouched for their blob id.
    unread: AtomicUsize,
    /// Host classes answered from the cache, and looked up.
    class_hits: AtomicUsize,
    class_lookups: AtomicUsize,
    /// Entries found this run, written by [`Cache::flush`] as one pack.
    pending: std::sync::Mutex<Vec<(Key, Vec<u8>)>>,
}

impl Cache {
    /// The cache of the repo whose git directory is `git_dir`; `None` when
    /// its directory cannot be made.
    pub(crate) fn open(git_dir: &Path) -> Option<Cache> {
        let dir = git_dir.join("ringmaster").join("cache").join("check");
        std::fs::create_dir_all(&dir).ok()?;
        Some(Cache {
            dir,
            packs: std::sync::OnceLock::new(),
            hits: AtomicUsize::new(0),
            lookups: AtomicUsize::new(0),
            unread: AtomicUsize::new(0),
            class_hits: AtomicUsize::new(0),
            class_lookups: AtomicUsize::new(0),
            pending: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// The directory of the packs (other memos of a run live beside it).
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn packs(&self) -> &[Pack] {
        self.packs.get_or_init(|| {
            let mut packs: Vec<Pack> = pack_files(&self.dir)
                .into_iter()
                .filter_map(|path| {
                    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
                    let bytes = std::fs::read(&path).ok()?;
                    Pack::parse(path, modified, bytes)
                })
                .collect();
            packs.sort_by_key(|p| std::cmp::Reverse(p.modified));
            packs
        })
    }

    /// The findings stored under `key`, without counting a lookup.
    pub(crate) fn peek(&self, key: &Key) -> Option<Vec<Diagnostic>> {
        self.packs().iter().find_map(|pack| {
            let i = pack.find(key)?;
            let (_, payload) = pack.entry(i)?;
            let found = decode(payload)?;
            pack.hit[i].store(true, Ordering::Relaxed);
            Some(found)
        })
    }

    /// Counts one lookup answered (`hit`) or not.
    pub(crate) fn count(&self, hit: bool) {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        if hit {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a hit on a file that was not read.
    pub(crate) fn count_unread(&self) {
        self.count(true);
        self.unread.fetch_add(1, Ordering::Relaxed);
    }

    /// How many hits were on files not read.
    pub(crate) fn unread(&self) -> usize {
        self.unread.load(Ordering::Relaxed)
    }

    /// The findings stored under `key`, or `None` (a miss) when there is no
    /// whole, intact entry.
    pub(crate) fn get(&self, key: &Key) -> Option<Vec<Diagnostic>> {
        let found = self.peek(key);
        self.count(found.is_some());
        found
    }

    /// A host class's findings stored under `key`, counted as a class.
    pub(crate) fn get_class(&self, key: &Key) -> Option<Vec<Diagnostic>> {
        let found = self.peek(key);
        self.class_lookups.fetch_add(1, Ordering::Relaxed);
        if found.is_some() {
            self.class_hits.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// (host classes answered from the cache, host classes looked up).
    pub(crate) fn class_stats(&self) -> (usize, usize) {
        (
            self.class_hits.load(Ordering::Relaxed),
            self.class_lookups.load(Ordering::Relaxed),
        )
    }

    /// Queues `found` to be stored under `key` by [`Cache::flush`].
    pub(crate) fn put(&self, key: &Key, found: &[Diagnostic]) {
        if let (Some(bytes), Ok(mut pending)) = (encode(found), self.pending.lock()) {
            pending.push((*key, bytes));
        }
    }

    /// Writes the queued entries as one pack (a temp file renamed into
    /// place: readers see a whole pack or none) and, past [`MAX_PACKS`],
    /// merges every pack into one within [`MAX_ENTRIES`]. Failing to write
    /// is not an error: the next run checks the files again.
    pub(crate) fn flush(&self) {
        let pending = match self.pending.lock() {
            Ok(mut pending) => std::mem::take(&mut *pending),
            Err(_) => return,
        };
        if pending.is_empty() {
            return;
        }
        let mut budget = MAX_PACK_BYTES;
        let fresh: Vec<(Key, &[u8])> = pending
            .iter()
            .take(MAX_ENTRIES)
            .take_while(|(_, p)| {
                budget = budget.saturating_sub(p.len());
                budget > 0
            })
            .map(|(k, p)| (*k, &p[..]))
            .collect();
        let packs = self.packs();
        if packs.len() < MAX_PACKS {
            let _ = self.write_pack(encode_pack(fresh));
        } else {
            self.merge(fresh, packs, MAX_ENTRIES);
        }
        self.sweep();
    }

    /// Writes every entry of `fresh` and of `packs` (this run's new
    /// entries first, then those it used, then the newest packs') into one
    /// pack of at most `max_entries` and [`MAX_PACK_BYTES`], then
    /// removes the packs it read. A run writing a pack meanwhile keeps it:
    /// only packs merged here are removed.
    fn merge(&self, fresh: Vec<(Key, &[u8])>, packs: &[Pack], max_entries: usize) {
        let mut seen = std::collections::HashSet::new();
        let mut merged = Vec::new();
        let mut budget = MAX_PACK_BYTES;
        let used = packs.iter().flat_map(|pack| {
            (0..pack.count)
                .filter(|&i| pack.hit[i].load(Ordering::Relaxed))
                .filter_map(|i| pack.entry(i))
        });
        let rest = packs.iter().flat_map(|pack| {
            (0..pack.count)
                .filter(|&i| !pack.hit[i].load(Ordering::Relaxed))
                .filter_map(|i| pack.entry(i))
        });
        for (key, payload) in fresh.into_iter().chain(used).chain(rest) {
            if merged.len() == max_entries || payload.len() > budget {
                break;
            }
            if seen.insert(key) {
                budget -= payload.len();
                merged.push((key, payload));
            }
        }
        if let Some(written) = self.write_pack(encode_pack(merged)) {
            for pack in packs {
                if pack.path != written {
                    let _ = std::fs::remove_file(&pack.path);
                }
            }
        }
    }

    /// Writes a pack named after its content; its path, when written.
    fn write_pack(&self, bytes: Vec<u8>) -> Option<PathBuf> {
        let name = format!(
            "{PACK_PREFIX}{}{PACK_SUFFIX}",
            hex(&Sha256::digest(&bytes)[..16])
        );
        let path = self.dir.join(name);
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).ok()?;
        tmp.write_all(&bytes).ok()?;
        tmp.persist(&path).ok()?;
        Some(path)
    }

    /// (files answered from the cache, files looked up).
    pub(crate) fn stats(&self) -> (usize, usize) {
        (
            self.hits.load(Ordering::Relaxed),
            self.lookups.load(Ordering::Relaxed),
        )
    }

    /// Removes what a run that writes finds lying there: packs that do not
    /// parse, one-file entries of earlier builds, and temp files left by a
    /// run that died over an hour ago.
    fn sweep(&self) {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let now = SystemTime::now();
        for entry in dir.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let path = entry.path();
            if name.starts_with(".tmp") {
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| now.duration_since(t).ok())
                    .is_some_and(|age| age > Duration::from_secs(3600));
                if old {
                    let _ = std::fs::remove_file(path);
                }
            } else if (name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()))
                || name == "evicted.stamp"
            {
                let _ = std::fs::remove_file(path);
            } else if is_pack_name(&name) && !self.packs().iter().any(|p| p.path == path) {
                // Packs appear by rename, whole: one that did not parse
                // when this run read the directory is damaged.
                let parses = std::fs::read(&path).ok().is_some_and(|bytes| {
                    Pack::parse(path.clone(), SystemTime::UNIX_EPOCH, bytes).is_some()
                });
                if !parses {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }
}

fn is_pack_name(name: &str) -> bool {
    name.starts_with(PACK_PREFIX) && name.ends_with(PACK_SUFFIX)
}

/// The pack files in `dir`.
fn pack_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| is_pack_name(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// One stored finding: `Diagnostic` with its rule and severity as text.
#[derive(Serialize, Deserialize)]
struct Stored {
    rule: String,
    severity: String,
    file: String,
    line: u32,
    col: u32,
    message: String,
    path: Option<String>,
    class: Option<String>,
    help: Option<String>,
    related: Vec<(String, u32, u32, String)>,
}

/// A file's findings as a payload: nothing for none (most files), else JSON.
fn encode(found: &[Diagnostic]) -> Option<Vec<u8>> {
    if found.is_empty() {
        return Some(Vec::new());
    }
    let stored: Vec<Stored> = found
        .iter()
        .map(|d| Stored {
            rule: d.rule.code().to_owned(),
            severity: d.severity.as_str().to_owned(),
            file: d.file.clone(),
            line: d.pos.line,
            col: d.pos.col,
            message: d.message.clone(),
            path: d.path.clone(),
            class: d.class.clone(),
            help: d.help.clone(),
            related: d
                .related
                .iter()
                .map(|r| (r.file.clone(), r.line, r.column, r.message.clone()))
                .collect(),
        })
        .collect();
    serde_json::to_vec(&stored).ok()
}

fn decode(payload: &[u8]) -> Option<Vec<Diagnostic>> {
    if payload.is_empty() {
        return Some(Vec::new());
    }
    let stored: Vec<Stored> = serde_json::from_slice(payload).ok()?;
    stored
        .into_iter()
        .map(|s| {
            Some(Diagnostic {
                rule: Rule::from_code(&s.rule)?,
                severity: match s.severity.as_str() {
                    "notice" => Severity::Notice,
                    "warning" => Severity::Warning,
                    "error" => Severity::Error,
                    _ => return None,
                },
                file: s.file,
                pos: Pos {
                    line: s.line,
                    col: s.col,
                },
                message: s.message,
                path: s.path,
                class: s.class,
                help: s.help,
                related: s
                    .related
                    .into_iter()
                    .map(|(file, line, column, message)| Related {
                        file,
                        line,
                        column,
                        message,
                    })
                    .collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Diagnostic> {
        vec![
            Diagnostic::new(Rule::Schema, "a.yaml", Pos { line: 3, col: 5 }, "bad")
                .with_path("/x")
                .with_help("fix it")
                .with_related("b.yaml", Pos { line: 1, col: 1 }, "here"),
        ]
    }

    #[test]
    fn a_new_version_or_build_is_another_key() {
        let key = |build: &str| {
            RunKey::new(build, "version: 1\n").file_key(
                "a.yaml",
                b"x: 1\n",
                [("s.json", Some([7; 32]))].into_iter(),
            )
        };
        assert_ne!(key("0.1.0+aaaa"), key("0.2.0+aaaa"));
        assert_ne!(key("0.1.0+aaaa"), key("0.1.0+bbbb"));
        assert_eq!(key("0.1.0+aaaa"), key("0.1.0+aaaa"));
    }

    #[test]
    fn every_input_of_a_class_changes_its_key() {
        let run = RunKey::new(BUILD, "m");
        let key = |run: &RunKey, class, shape, layers: &[(&str, Option<[u8; 20]>)], schema| {
            run.class_key(class, shape, layers.iter().copied(), schema)
        };
        let layers = [("a.yaml", Some([1; 20])), ("b.yaml", None)];
        let schema = Some(("e.json", Some([2; 32])));
        let base = key(&run, "web", "s", &layers, schema);
        assert_eq!(base, key(&run, "web", "s", &layers, schema));
        let mut expanded = run.clone();
        expanded.expanded("hiera");
        let others = [
            key(&RunKey::new(BUILD, "m2"), "web", "s", &layers, schema),
            key(&RunKey::new("other", "m"), "web", "s", &layers, schema),
            key(&expanded, "web", "s", &layers, schema),
            key(&run, "db", "s", &layers, schema),
            key(&run, "web", "t", &layers, schema),
            key(
                &run,
                "web",
                "s",
                &[("a.yaml", Some([3; 20])), ("b.yaml", None)],
                schema,
            ),
            key(
                &run,
                "web",
                "s",
                &[("a.yaml", Some([1; 20])), ("b.yaml", Some([1; 20]))],
                schema,
            ),
            key(
                &run,
                "web",
                "s",
                &[("b.yaml", None), ("a.yaml", Some([1; 20]))],
                schema,
            ),
            key(&run, "web", "s", &layers[..1], schema),
            key(&run, "web", "s", &layers, Some(("e.json", Some([4; 32])))),
            key(&run, "web", "s", &layers, Some(("e.json", None))),
            key(&run, "web", "s", &layers, Some(("f.json", Some([2; 32])))),
            key(&run, "web", "s", &layers, None),
        ];
        for (i, other) in others.iter().enumerate() {
            assert_ne!(base, *other, "input {i}");
        }
        // Never a file's key.
        assert_ne!(
            key(&run, "a.yaml", "", &[], None),
            run.blob_key("a.yaml", &[0; 20], std::iter::empty())
        );
    }

    #[test]
    fn every_input_of_a_file_changes_its_key() {
        let run = RunKey::new(BUILD, "m");
        let base = run.file_key("a.yaml", b"x", [("s", Some([1; 32]))].into_iter());
        assert_ne!(
            base,
            RunKey::new(BUILD, "m2").file_key("a.yaml", b"x", [("s", Some([1; 32]))].into_iter())
        );
        assert_ne!(
            base,
            run.file_key("b.yaml", b"x", [("s", Some([1; 32]))].into_iter())
        );
        assert_ne!(
            base,
            run.file_key("a.yaml", b"y", [("s", Some([1; 32]))].into_iter())
        );
        assert_ne!(
            base,
            run.file_key("a.yaml", b"x", [("s", Some([2; 32]))].into_iter())
        );
        assert_ne!(
            base,
            run.file_key("a.yaml", b"x", [("s", None)].into_iter())
        );
        assert_ne!(base, run.file_key("a.yaml", b"x", std::iter::empty()));
    }

    fn packs_in(cache: &Cache) -> Vec<PathBuf> {
        let mut packs = pack_files(&cache.dir);
        packs.sort();
        packs
    }

    #[test]
    fn entries_round_trip_and_a_damaged_record_is_a_miss_alone() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let findings = sample();
        for i in 0..6u8 {
            cache.put(&[i; 32], if i == 3 { &findings[..] } else { &[] });
        }
        cache.flush();
        let packs = packs_in(&cache);
        assert_eq!(packs.len(), 1);
        let fresh = Cache::open(dir.path()).unwrap();
        assert_eq!(fresh.get(&[3; 32]), Some(sample()));
        assert_eq!(fresh.get(&[4; 32]), Some(Vec::new()));
        assert_eq!(fresh.get(&[9; 32]), None);
        assert_eq!(fresh.stats(), (2, 3));

        let bytes = std::fs::read(&packs[0]).unwrap();
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x20;
            std::fs::write(&packs[0], &bad).unwrap();
            let damaged = Cache::open(dir.path()).unwrap();
            let answers: Vec<_> = (0..6u8).map(|i| damaged.get(&[i; 32])).collect();
            // Whatever byte flipped, no entry answers wrongly.
            for (i, answer) in answers.iter().enumerate() {
                if let Some(found) = answer {
                    let right = if i == 3 { sample() } else { Vec::new() };
                    assert_eq!(found, &right, "flipped byte {at}, entry {i}");
                }
            }
            // A flipped byte of a record's key, length or check is a miss
            // (an empty entry's offset points nowhere in particular).
            let record = at.checked_sub(HEADER).map(|r| (r / RECORD, r % RECORD));
            if let Some((r, field)) = record.filter(|&(r, f)| r < 6 && !(32..36).contains(&f)) {
                assert!(
                    answers.iter().any(Option::is_none),
                    "flipped byte {at} (record {r}, byte {field})"
                );
            }
        }
        std::fs::write(&packs[0], &bytes[..bytes.len() - 1]).unwrap();
        let truncated = Cache::open(dir.path()).unwrap();
        assert_eq!(truncated.get(&[3; 32]), None);
    }

    #[test]
    fn a_passed_manifest_is_remembered_under_its_bytes_and_the_build_alone() {
        use crate::config::manifest::OwnSchemaMemo;
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        assert!(!cache.passed(b"version: 1\n"));
        cache.remember_passed(b"version: 1\n");
        cache.flush();
        let fresh = Cache::open(dir.path()).unwrap();
        assert!(fresh.passed(b"version: 1\n"));
        assert!(!fresh.passed(b"version: 1\n\n"));
        // Never counted as a file looked up (`-v` reports files).
        assert_eq!(fresh.stats(), (0, 0));
        // Another build, or the same bytes as a file's key, is another key.
        let key = own_schema_key(BUILD, b"version: 1\n");
        assert_ne!(key, own_schema_key("0.0.0+other", b"version: 1\n"));
        let run = RunKey::new(BUILD, "version: 1\n");
        assert_ne!(
            key,
            run.file_key("ringmaster.yaml", b"version: 1\n", std::iter::empty())
        );
        // An entry with findings under the key is never taken for a pass.
        let other = tempfile::tempdir().unwrap();
        let forged = Cache::open(other.path()).unwrap();
        forged.put(&key, &sample());
        forged.flush();
        assert!(!Cache::open(other.path()).unwrap().passed(b"version: 1\n"));
    }

    #[test]
    fn a_schema_that_compiled_alone_is_remembered_under_its_digest_and_the_build() {
        use crate::config::schema::CompileMemo;
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let digest = [7; 32];
        assert!(!cache.compiled(&digest));
        cache.remember_compiled(&digest);
        cache.flush();
        let fresh = Cache::open(dir.path()).unwrap();
        assert!(fresh.compiled(&digest));
        assert!(!fresh.compiled(&[8; 32]));
        // Never counted as a file looked up (`-v` reports files).
        assert_eq!(fresh.stats(), (0, 0));
        // Another build, the manifest's pass or a file's key with the same
        // bytes are other keys.
        let key = schema_compiled_key(BUILD, &digest);
        assert_ne!(key, schema_compiled_key("0.0.0+other", &digest));
        assert_ne!(key, own_schema_key(BUILD, &digest));
        let run = RunKey::new(BUILD, "version: 1\n");
        assert_ne!(key, run.file_key("s.json", &digest, std::iter::empty()));
        // An entry with findings under the key is never taken for a compile.
        let other = tempfile::tempdir().unwrap();
        let forged = Cache::open(other.path()).unwrap();
        forged.put(&key, &sample());
        forged.flush();
        assert!(!Cache::open(other.path()).unwrap().compiled(&digest));
    }

    #[test]
    fn packs_are_merged_into_one_past_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..=MAX_PACKS as u8 {
            let cache = Cache::open(dir.path()).unwrap();
            // The first run's entry is looked up by the run that merges.
            if i == MAX_PACKS as u8 {
                assert_eq!(cache.get(&[0; 32]), Some(Vec::new()));
            }
            cache.put(&[i + 1; 32], &[]);
            if i == 0 {
                cache.put(&[0; 32], &[]);
            }
            cache.flush();
        }
        let cache = Cache::open(dir.path()).unwrap();
        assert_eq!(packs_in(&cache).len(), 1, "merged into one");
        for i in 0..=MAX_PACKS as u8 + 1 {
            assert_eq!(cache.get(&[i; 32]), Some(Vec::new()), "entry {i}");
        }
        let path = packs_in(&cache).remove(0);
        let bytes = std::fs::read(&path).unwrap();
        let pack = Pack::parse(path, SystemTime::now(), bytes).unwrap();
        assert_eq!(pack.count, MAX_PACKS + 2);
    }

    #[test]
    fn the_bound_keeps_new_entries_then_those_used_then_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..3u8 {
            let cache = Cache::open(dir.path()).unwrap();
            cache.put(&[10 + i; 32], &[]);
            cache.put(&[20 + i; 32], &[]);
            cache.flush();
            // Distinct mtimes: the newest pack is the last written.
            std::thread::sleep(Duration::from_millis(20));
        }
        let cache = Cache::open(dir.path()).unwrap();
        // Used this run: an entry of the oldest pack.
        assert_eq!(cache.get(&[10; 32]), Some(Vec::new()));
        let fresh = vec![([1; 32], &b""[..])];
        cache.merge(fresh, cache.packs(), 4);
        let kept = Cache::open(dir.path()).unwrap();
        assert_eq!(packs_in(&kept).len(), 1);
        let present: Vec<u8> = [1u8, 10, 11, 12, 20, 21, 22]
            .into_iter()
            .filter(|&k| kept.get(&[k; 32]).is_some())
            .collect();
        // New, used, then the newest pack's two (sorted by key within it).
        assert_eq!(present.len(), 4, "{present:?}");
        assert!(present.contains(&1) && present.contains(&10), "{present:?}");
        assert!(
            present.iter().filter(|&&k| k == 12 || k == 22).count() == 2,
            "{present:?}"
        );
    }
}
