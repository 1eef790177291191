//! A content-addressed cache of per-file check results, kept in the git
//! directory (`<git-dir>/ringmaster/cache/check/`), never in the work tree.
//!
//! An entry is one file's findings (before the manifest's severity
//! overrides, which are applied to the whole report). Its name is a SHA-256
//! over everything that decides them: ringmaster's version and a hash of
//! the sources it was built from, the manifest's bytes (every setting the
//! per-file rules read: YAML policy, limits, layers, schema mappings), the
//! file's path, its git blob id, and each applying schema's digest (its
//! bytes and every `$ref`ed file's). Anything else changed is another key.
//!
//! Entries are written to a temp file in the same directory and renamed
//! into place, so a reader sees a whole entry or none. Each holds a SHA-256
//! of its payload; an entry that cannot be read, does not match it or
//! does not decode is a miss and is written again. The cache never decides
//! a finding: at worst a file is checked again.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::diag::{Diagnostic, Pos, Related, Rule, Severity};

/// The environment variable that turns the cache off (any value but `0` or empty).
pub(crate) const ENV_OFF: &str = "RINGMASTER_NO_CACHE";

/// At most this many entries are kept; past it the oldest-written go, down
/// to three quarters. An entry is one file's findings, usually under 200
/// bytes but a filesystem block (4 KB) on disk: about 120 MB at the bound,
/// three times a 10 000-file repo.
pub(crate) const MAX_ENTRIES: usize = 30_000;

/// How often (at most) a run that wrote entries counts them.
const EVICT_EVERY: Duration = Duration::from_secs(600);

const MAGIC: &str = "ringmaster-check-cache 1";

/// The build the results came from: a binary of other code is another key.
pub(crate) const BUILD: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "+",
    env!("RINGMASTER_SOURCE_HASH")
);

pub(crate) type Key = [u8; 32];

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

    /// The key of one file's findings. `schemas` are the schemas mapped to
    /// it, each with its digest, or `None` when it did not compile.
    pub(crate) fn file_key<'a>(
        &self,
        path: &str,
        bytes: &[u8],
        schemas: impl Iterator<Item = (&'a str, Option<[u8; 32]>)>,
    ) -> Key {
        let mut h = self.hasher.clone();
        h.update((path.len() as u64).to_le_bytes());
        h.update(path.as_bytes());
        // The blob id `git hash-object` gives: the same key for the work
        // tree, the index and any revision holding these bytes.
        let blob = git2::Oid::hash_object(git2::ObjectType::Blob, bytes)
            .map(|o| o.as_bytes().to_vec())
            .unwrap_or_else(|_| Sha256::digest(bytes).to_vec());
        h.update(&blob);
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

/// The cache of one run, with its hit and miss counts.
pub(crate) struct Cache {
    dir: PathBuf,
    hits: AtomicUsize,
    lookups: AtomicUsize,
    writes: AtomicUsize,
    /// Entries found this run, written by [`Cache::flush`].
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
            hits: AtomicUsize::new(0),
            lookups: AtomicUsize::new(0),
            writes: AtomicUsize::new(0),
            pending: std::sync::Mutex::new(Vec::new()),
        })
    }

    fn entry(&self, key: &Key) -> PathBuf {
        self.dir.join(hex(key))
    }

    /// The findings stored under `key`, or `None` (a miss) when there is no
    /// whole, intact entry.
    pub(crate) fn get(&self, key: &Key) -> Option<Vec<Diagnostic>> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let found = std::fs::read(self.entry(key))
            .ok()
            .and_then(|bytes| decode(&bytes));
        if found.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Queues `found` to be stored under `key` by [`Cache::flush`].
    pub(crate) fn put(&self, key: &Key, found: &[Diagnostic]) {
        if let (Some(bytes), Ok(mut pending)) = (encode(found), self.pending.lock()) {
            pending.push((*key, bytes));
        }
    }

    /// Writes the queued entries, from one thread: creating and renaming
    /// files in one directory from several threads at once contends on the
    /// directory's lock and costs more than it saves. Failing to write is
    /// not an error: the next run checks the file again.
    pub(crate) fn flush(&self) {
        let pending = match self.pending.lock() {
            Ok(mut pending) => std::mem::take(&mut *pending),
            Err(_) => return,
        };
        for (key, bytes) in pending {
            let written = tempfile::NamedTempFile::new_in(&self.dir).and_then(|mut tmp| {
                tmp.write_all(&bytes)?;
                tmp.persist(self.entry(&key)).map_err(|e| e.error)?;
                Ok(())
            });
            if written.is_ok() {
                self.writes.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.evict_if_due();
    }

    /// (files answered from the cache, files looked up).
    pub(crate) fn stats(&self) -> (usize, usize) {
        (
            self.hits.load(Ordering::Relaxed),
            self.lookups.load(Ordering::Relaxed),
        )
    }

    /// Keeps the cache within [`MAX_ENTRIES`]. Only a run that wrote
    /// entries counts them, and at most once per [`EVICT_EVERY`] (a stamp
    /// file's mtime says when), so a warm re-check never lists the directory.
    fn evict_if_due(&self) {
        if self.writes.load(Ordering::Relaxed) == 0 {
            return;
        }
        let stamp = self.dir.join("evicted.stamp");
        let due = std::fs::metadata(&stamp)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_none_or(|age| age >= EVICT_EVERY);
        if !due {
            return;
        }
        let _ = std::fs::write(&stamp, b"");
        self.evict(MAX_ENTRIES);
    }

    /// Removes the oldest-written entries past `max`, down to 3/4 of it,
    /// and temp files left by a run that died over an hour ago.
    pub(crate) fn evict(&self, max: usize) {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let now = SystemTime::now();
        let mut entries = Vec::new();
        for entry in dir.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let modified = entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            if name.starts_with(".tmp") {
                if now
                    .duration_since(modified)
                    .is_ok_and(|age| age > Duration::from_secs(3600))
                {
                    let _ = std::fs::remove_file(entry.path());
                }
            } else if name.len() == 64 {
                entries.push((modified, entry.path()));
            }
        }
        if entries.len() <= max {
            return;
        }
        entries.sort();
        let remove = entries.len() - max * 3 / 4;
        for (_, path) in entries.into_iter().take(remove) {
            let _ = std::fs::remove_file(path);
        }
    }
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

/// `MAGIC`, the payload's SHA-256 in hex, then the payload (JSON), one per line.
fn encode(found: &[Diagnostic]) -> Option<Vec<u8>> {
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
    let payload = serde_json::to_vec(&stored).ok()?;
    let mut out = format!("{MAGIC}\n{}\n", hex(&Sha256::digest(&payload))).into_bytes();
    out.extend_from_slice(&payload);
    Some(out)
}

fn decode(bytes: &[u8]) -> Option<Vec<Diagnostic>> {
    let rest = bytes.strip_prefix(MAGIC.as_bytes())?.strip_prefix(b"\n")?;
    let (sum, payload) = (rest.get(..64)?, rest.get(64..)?.strip_prefix(b"\n")?);
    if sum != hex(&Sha256::digest(payload)).as_bytes() {
        return None;
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

    #[test]
    fn entries_round_trip_and_damage_is_a_miss() {
        let bytes = encode(&sample()).unwrap();
        assert_eq!(decode(&bytes), Some(sample()));
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x20;
            assert_eq!(decode(&bad), None, "flipped byte {i}");
        }
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
    }

    #[test]
    fn eviction_keeps_the_newest_three_quarters() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        for i in 0..8u8 {
            cache.put(&[i; 32], &[]);
        }
        cache.flush();
        cache.evict(4);
        let left = std::fs::read_dir(&cache.dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().len() == 64)
            .count();
        assert_eq!(left, 3);
    }
}
