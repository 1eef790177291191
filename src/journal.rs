//! The journal: an append-only, hash-chained, fsync'd record of rollout
//! events, the source of truth for rollout state, audit and timelines.
//!
//! Each entry carries the hash of the one before it; a separate head file
//! records the last sequence number and hash, so that cutting entries off
//! the end is detected too. `verify` names the first entry that was edited,
//! reordered, removed or truncated. The chain makes tampering evident, not
//! impossible: someone who can rewrite every entry and the head can forge a
//! history, which is why shared mode keeps the journal in etcd.
//!
//! The embedded journal lives under the repository's git directory
//! (`<git-dir>/ringmaster/journal.jsonl`), out of the working tree and of
//! every commit. This module knows entries, not rollout semantics.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash of the (absent) entry before the first one.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What is hashed: everything but the hash itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Body {
    pub seq: u64,
    /// RFC 3339, UTC.
    pub at: String,
    pub actor: String,
    /// The rollout the event belongs to ("" for repo-wide events such as a freeze).
    pub rollout: String,
    /// The event, as JSON with a `kind` field; its meaning is the rollout engine's.
    pub event: serde_json::Value,
    pub prev: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    #[serde(flatten)]
    pub body: Body,
    pub hash: String,
}

/// The hash of a body: SHA-256 over its canonical JSON (serde's field order,
/// no whitespace). Stable across releases: changing it breaks every journal.
pub fn hash_body(body: &Body) -> String {
    let json = serde_json::to_string(body).unwrap_or_default();
    let digest = Sha256::digest(json.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The last entry's sequence number and hash, kept apart from the entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
}

/// A problem `verify` found, naming the entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tamper {
    /// 1-based line in the journal file.
    pub line: usize,
    /// The sequence number the entry claims, when it could be read.
    pub seq: Option<u64>,
    pub problem: String,
    /// The etcd key of the entry (shared mode; the file journal has lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Where the journal lives: the file under the git directory ([`Journal`])
/// or etcd (`etcd_state::EtcdJournal`). Same entries, same hash chain.
pub trait JournalStore {
    /// Every entry, in sequence order. Fails on an unreadable entry.
    fn entries(&self) -> anyhow::Result<Vec<Entry>>;
    /// Appends an event, durably, before it takes effect.
    fn append(
        &self,
        at: &str,
        actor: &str,
        rollout: &str,
        event: serde_json::Value,
    ) -> anyhow::Result<Entry>;
    /// Appends several events in order (a soak round's evaluations). The
    /// default appends one by one; a store may batch them.
    fn append_all(
        &self,
        at: &str,
        actor: &str,
        rollout: &str,
        events: Vec<serde_json::Value>,
    ) -> anyhow::Result<Vec<Entry>> {
        events
            .into_iter()
            .map(|event| self.append(at, actor, rollout, event))
            .collect()
    }
    /// Checks the chain; an empty list means intact.
    fn verify(&self) -> anyhow::Result<Vec<Tamper>>;
    /// Where it lives, for messages (a path, or etcd endpoints and prefix).
    fn describe(&self) -> String;
    /// How many entries are stored, readable or not.
    fn stored(&self) -> anyhow::Result<usize>;
}

impl JournalStore for Journal {
    fn entries(&self) -> anyhow::Result<Vec<Entry>> {
        Journal::entries(self)
    }
    fn append(
        &self,
        at: &str,
        actor: &str,
        rollout: &str,
        event: serde_json::Value,
    ) -> anyhow::Result<Entry> {
        Journal::append(self, at, actor, rollout, event)
    }
    fn append_all(
        &self,
        at: &str,
        actor: &str,
        rollout: &str,
        events: Vec<serde_json::Value>,
    ) -> anyhow::Result<Vec<Entry>> {
        Journal::append_all(self, at, actor, rollout, events)
    }
    fn verify(&self) -> anyhow::Result<Vec<Tamper>> {
        Journal::verify(self)
    }
    fn describe(&self) -> String {
        self.path.display().to_string()
    }
    fn stored(&self) -> anyhow::Result<usize> {
        match fs::read_to_string(&self.path) {
            Ok(t) => Ok(t.lines().filter(|l| !l.trim().is_empty()).count()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", self.path.display())),
        }
    }
}

/// Entries for `events`, numbered and hash-chained after `last` (its seq
/// and hash; `None` for an empty journal). Every store writes what this makes.
pub fn chain(
    last: Option<(u64, String)>,
    at: &str,
    actor: &str,
    rollout: &str,
    events: impl IntoIterator<Item = serde_json::Value>,
) -> Vec<Entry> {
    let (mut seq, mut prev) = last.unwrap_or((0, GENESIS.to_owned()));
    events
        .into_iter()
        .map(|event| {
            seq += 1;
            let body = Body {
                seq,
                at: at.to_owned(),
                actor: actor.to_owned(),
                rollout: rollout.to_owned(),
                event,
                prev: std::mem::take(&mut prev),
            };
            let entry = Entry {
                hash: hash_body(&body),
                body,
            };
            prev = entry.hash.clone();
            entry
        })
        .collect()
}

/// The embedded journal of one config repo.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
    head_path: PathBuf,
}

impl Journal {
    /// The journal under `git_dir` (`.git`), created on first append.
    pub fn at(git_dir: &Path) -> Journal {
        let dir = git_dir.join("ringmaster");
        Journal {
            path: dir.join("journal.jsonl"),
            head_path: dir.join("journal.head"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry, in file order. Fails on an unreadable line: state is
    /// never folded from a journal that does not parse (run `audit verify`).
    pub fn entries(&self) -> anyhow::Result<Vec<Entry>> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", self.path.display()));
            }
        };
        let mut out = Vec::new();
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let entry: Entry = serde_json::from_str(&line).map_err(|e| {
                anyhow!(
                    "{}:{}: not a journal entry ({e}); run `ringmaster audit verify`",
                    self.path.display(),
                    i + 1
                )
            })?;
            out.push(entry);
        }
        Ok(out)
    }

    /// Appends an event and makes it durable (entry and head fsync'd)
    /// before returning: an event is journaled before it takes effect.
    pub fn append(
        &self,
        at: &str,
        actor: &str,
        rollout: &str,
        event: serde_json::Value,
    ) -> anyhow::Result<Entry> {
        self.append_all(at, actor, rollout, vec![event])?
            .pop()
            .ok_or_else(|| anyhow!("{}: nothing was appended", self.path.display()))
    }

    /// Serialises appends across processes: an approval or a freeze typed
    /// while a driver soaks must not take the driver's sequence number. The
    /// kernel drops the lock with the file (or the process), so a crash
    /// leaves nothing stale.
    fn lock_appends(&self) -> anyhow::Result<File> {
        let path = self.path.with_extension("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        file.lock()
            .with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(file)
    }

    /// The last entry, read from the file's end: an append during a long
    /// soak costs the same with ten entries or ten thousand.
    pub fn last_entry(&self) -> anyhow::Result<Option<Entry>> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", self.path.display()));
            }
        };
        let len = file.metadata()?.len();
        let mut window: u64 = 64 * 1024;
        loop {
            let from = len.saturating_sub(window);
            file.seek(SeekFrom::Start(from))?;
            let mut tail = Vec::new();
            Read::by_ref(&mut file)
                .take(window)
                .read_to_end(&mut tail)?;
            let text = String::from_utf8_lossy(&tail);
            let trimmed = text.trim_end();
            // A whole last line: a newline before it, or the file's start.
            let line = match trimmed.rfind('\n') {
                Some(i) => Some(&trimmed[i + 1..]),
                None if from == 0 => Some(trimmed),
                None => None,
            };
            if let Some(line) = line {
                if line.trim().is_empty() {
                    return Ok(None);
                }
                return serde_json::from_str(line).map(Some).map_err(|e| {
                    anyhow!(
                        "{}: the last line is not a journal entry ({e}); run `ringmaster audit verify`",
                        self.path.display()
                    )
                });
            }
            window = window.saturating_mul(4);
        }
    }

    /// Appends several events in order with one read, one write and one
    /// fsync: a soak round's evaluations of many gates cost one append.
    pub fn append_all(
        &self,
        at: &str,
        actor: &str,
        rollout: &str,
        events: Vec<serde_json::Value>,
    ) -> anyhow::Result<Vec<Entry>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let _appending = self.lock_appends()?;
        let last = self.last_entry()?;
        let out = chain(
            last.map(|e| (e.body.seq, e.hash)),
            at,
            actor,
            rollout,
            events,
        );
        let mut lines = String::new();
        for entry in &out {
            lines.push_str(&serde_json::to_string(entry)?);
            lines.push('\n');
        }
        let (seq, prev) = out
            .last()
            .map(|e| (e.body.seq, e.hash.clone()))
            .ok_or_else(|| anyhow!("nothing to append"))?;
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .with_context(|| format!("cannot open {}", self.path.display()))?;
        file.write_all(lines.as_bytes())?;
        file.sync_all()?;
        self.write_head(&Head { seq, hash: prev })?;
        Ok(out)
    }

    /// Writes the head atomically: a temp file, fsync'd, renamed over.
    fn write_head(&self, head: &Head) -> anyhow::Result<()> {
        let tmp = self.head_path.with_extension("head.tmp");
        {
            let mut f = File::create(&tmp)?;
            f.write_all(serde_json::to_string(head)?.as_bytes())?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &self.head_path)?;
        if let Some(dir) = self.head_path.parent()
            && let Ok(d) = File::open(dir)
        {
            // The rename is durable once the directory is.
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Checks the whole chain and the head. An empty list means intact.
    pub fn verify(&self) -> anyhow::Result<Vec<Tamper>> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", self.path.display()));
            }
        };
        let items = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i + 1, None, l));
        let (mut problems, last) = check_chain(items);
        let head: Option<Head> = fs::read_to_string(&self.head_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        match (head, last) {
            (Some(head), Some((seq, hash))) if head.seq != seq || head.hash != hash => {
                problems.push(Tamper {
                    line: text.lines().count(),
                    key: None,
                    seq: Some(seq),
                    problem: format!(
                        "the journal ends at entry {seq}, but its head records entry {}: entries were cut off the end (truncated) or the last one was replaced",
                        head.seq
                    ),
                });
            }
            (Some(head), None) => problems.push(Tamper {
                line: 0,
                key: None,
                seq: None,
                problem: format!(
                    "the journal is empty or missing, but its head records entry {}: it was truncated",
                    head.seq
                ),
            }),
            (None, Some((seq, _))) => problems.push(Tamper {
                line: 0,
                key: None,
                seq: Some(seq),
                problem: "the journal's head file is missing: truncation cannot be ruled out".into(),
            }),
            _ => {}
        }
        Ok(problems)
    }
}

/// Walks entries in stored order (`(line or position, etcd key, text)`) and
/// names every broken link: unparsable, edited, missing before, out of
/// order. Returns the problems and the last entry's (seq, hash), which the
/// caller compares with its head. Shared by the file and the etcd journal.
pub fn check_chain<'t>(
    items: impl Iterator<Item = (usize, Option<String>, &'t str)>,
) -> (Vec<Tamper>, Option<(u64, String)>) {
    let mut problems = Vec::new();
    let mut prev_hash = GENESIS.to_owned();
    let mut expected_seq = 1u64;
    let mut last: Option<(u64, String)> = None;
    for (line_no, key, line) in items {
        let mut push = |seq: Option<u64>, problem: String| {
            problems.push(Tamper {
                line: line_no,
                seq,
                problem,
                key: key.clone(),
            })
        };
        let entry: Entry = match serde_json::from_str(line) {
            Ok(e) => e,
            Err(e) => {
                push(None, format!("the entry does not parse: {e}"));
                continue;
            }
        };
        let seq = entry.body.seq;
        if hash_body(&entry.body) != entry.hash {
            push(
                Some(seq),
                "edited: its content does not match its hash".into(),
            );
        }
        if seq != expected_seq {
            let problem = if seq > expected_seq {
                format!(
                    "entries {expected_seq}..{} are missing before it (removed)",
                    seq - 1
                )
            } else {
                format!(
                    "out of order: expected entry {expected_seq} here (reordered or duplicated)"
                )
            };
            push(Some(seq), problem);
        } else if entry.body.prev != prev_hash {
            push(
                Some(seq),
                "its link to the previous entry is broken (an entry before it was edited, removed or replaced)".into(),
            );
        }
        expected_seq = seq + 1;
        prev_hash = entry.hash.clone();
        last = Some((seq, entry.hash));
    }
    (problems, last)
}

#[cfg(test)]
mod append_all_tests {
    use super::*;

    #[test]
    fn a_batch_chains_on_like_single_appends() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::at(dir.path());
        assert_eq!(journal.last_entry().unwrap(), None);
        journal
            .append("t", "a", "r", serde_json::json!({"kind": "x"}))
            .unwrap();
        let big = "y".repeat(100_000);
        let batch = journal
            .append_all(
                "t",
                "a",
                "r",
                vec![
                    serde_json::json!({"kind": "e", "n": 1}),
                    serde_json::json!({"kind": "e", "pad": big}),
                ],
            )
            .unwrap();
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[1].body.seq, 3);
        let all = journal.entries().unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(journal.last_entry().unwrap().as_ref(), all.last());
        journal
            .append("t", "a", "r", serde_json::json!({"kind": "z"}))
            .unwrap();
        assert!(journal.verify().unwrap().is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn concurrent_appenders_never_share_a_sequence_number() {
        // Separate handles, as separate processes would have: an approval
        // typed while the driver journals a soak round.
        let dir = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..6)
            .map(|t| {
                let journal = Journal::at(dir.path());
                std::thread::spawn(move || {
                    for i in 0..20 {
                        journal
                            .append(
                                "2026-11-22T10:00:00Z",
                                "alice",
                                "r-1",
                                json!({"kind": "test", "thread": t, "n": i}),
                            )
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let journal = Journal::at(dir.path());
        let seqs: Vec<u64> = journal
            .entries()
            .unwrap()
            .iter()
            .map(|e| e.body.seq)
            .collect();
        assert_eq!(seqs, (1..=120).collect::<Vec<u64>>());
        assert!(journal.verify().unwrap().is_empty());
    }

    fn journal_with(n: u64) -> (tempfile::TempDir, Journal) {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::at(dir.path());
        for i in 1..=n {
            journal
                .append(
                    "2026-11-22T10:00:00Z",
                    "alice",
                    "r-1",
                    json!({"kind": "test", "n": i}),
                )
                .unwrap();
        }
        (dir, journal)
    }

    fn rewrite(journal: &Journal, f: impl FnOnce(&mut Vec<String>)) {
        let text = fs::read_to_string(journal.path()).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        f(&mut lines);
        fs::write(journal.path(), lines.join("\n") + "\n").unwrap();
    }

    #[test]
    fn an_intact_journal_verifies_and_chains() {
        let (_dir, journal) = journal_with(3);
        assert_eq!(journal.verify().unwrap(), vec![]);
        let entries = journal.entries().unwrap();
        assert_eq!(entries[0].body.prev, GENESIS);
        assert_eq!(entries[2].body.prev, entries[1].hash);
        assert_eq!(entries[2].body.seq, 3);
    }

    #[test]
    fn an_edited_entry_is_named() {
        let (_dir, journal) = journal_with(3);
        rewrite(&journal, |lines| {
            lines[1] = lines[1].replace("alice", "mallory")
        });
        let problems = journal.verify().unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!((problems[0].line, problems[0].seq), (2, Some(2)));
        assert!(problems[0].problem.starts_with("edited"));
    }

    #[test]
    fn a_removed_entry_is_named() {
        let (_dir, journal) = journal_with(4);
        rewrite(&journal, |lines| {
            lines.remove(1);
        });
        let problems = journal.verify().unwrap();
        assert_eq!(problems[0].seq, Some(3));
        assert!(
            problems[0].problem.contains("entries 2..2 are missing"),
            "{problems:?}"
        );
    }

    #[test]
    fn reordered_entries_are_named() {
        let (_dir, journal) = journal_with(3);
        rewrite(&journal, |lines| lines.swap(1, 2));
        let problems = journal.verify().unwrap();
        assert!(
            problems
                .iter()
                .any(|p| p.line == 2 && p.problem.contains("missing")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.line == 3 && p.problem.contains("out of order")),
            "{problems:?}"
        );
    }

    #[test]
    fn truncation_is_caught_by_the_head() {
        let (_dir, journal) = journal_with(3);
        rewrite(&journal, |lines| {
            lines.pop();
        });
        let problems = journal.verify().unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].problem.contains("truncated"));
        fs::write(journal.path(), "").unwrap();
        assert!(journal.verify().unwrap()[0].problem.contains("truncated"));
    }

    #[test]
    fn appending_after_a_clean_start_continues_the_chain() {
        let (_dir, journal) = journal_with(1);
        let e = journal
            .append("2026-11-22T10:01:00Z", "bob", "", json!({"kind": "frozen"}))
            .unwrap();
        assert_eq!(e.body.seq, 2);
        assert_eq!(journal.verify().unwrap(), vec![]);
    }
}
