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
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::exit::Failure;

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

/// What every entry of one append shares: when, by whom, and for which
/// rollout (`""` for repo-wide events such as a freeze).
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a> {
    /// RFC 3339, UTC.
    pub at: &'a str,
    pub actor: &'a str,
    pub rollout: &'a str,
}

impl<'a> Stamp<'a> {
    pub fn new(at: &'a str, actor: &'a str, rollout: &'a str) -> Stamp<'a> {
        Stamp { at, actor, rollout }
    }
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
    fn append(&self, stamp: Stamp<'_>, event: serde_json::Value) -> anyhow::Result<Entry> {
        self.append_all(stamp, vec![event])?
            .pop()
            .ok_or_else(|| anyhow!("{}: nothing was appended", self.describe()))
    }
    /// Appends several events in order, durably (a soak round's
    /// evaluations: a store writes them in as few writes as it can).
    fn append_all(
        &self,
        stamp: Stamp<'_>,
        events: Vec<serde_json::Value>,
    ) -> anyhow::Result<Vec<Entry>>;
    /// Checks the chain; an empty list means intact.
    fn verify(&self) -> anyhow::Result<Vec<Tamper>>;
    /// Where it lives, for messages (a path, or etcd endpoints and prefix).
    fn describe(&self) -> String;
    /// How many entries are stored, readable or not.
    fn stored(&self) -> anyhow::Result<usize>;
    /// A write cut short before it was acknowledged (a crash between the
    /// entries and the head, a full disk), said in words; `verify` does not
    /// count it as tampering. Read-only. No default: each store says whether
    /// its writes can be cut short.
    fn interrupted(&self) -> anyhow::Result<Option<String>>;
    /// Finishes an interrupted write (see [`JournalStore::interrupted`]) and
    /// says what it did. Only a state-changing command calls it.
    fn finish_interrupted(&self) -> anyhow::Result<Option<String>>;
}

/// The gate of every state-changing command: an interrupted write is
/// finished, then the whole chain must verify, else exit 2 naming the first
/// broken entry and what to do. Nothing is ever appended to (and so no head
/// ever rewritten over) a journal that does not verify.
pub fn require_intact(journal: &dyn JournalStore) -> anyhow::Result<()> {
    if let Some(finished) = journal.finish_interrupted()? {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("note: {finished}\n").as_bytes(),
        );
    }
    let problems = journal.verify()?;
    let Some(first) = problems.first() else {
        return Ok(());
    };
    Err(Failure::usage(refusal(
        &journal.describe(),
        first,
        problems.len(),
    )))
}

/// The entries of a journal that verifies: what every state-changing
/// command and each pass of the driver folds state from.
pub fn intact_entries(journal: &dyn JournalStore) -> anyhow::Result<Vec<Entry>> {
    require_intact(journal)?;
    journal.entries()
}

/// Where a problem is: the etcd key, or `file:line`.
pub fn tamper_place(journal: &str, problem: &Tamper) -> String {
    let entry = problem
        .seq
        .map(|n| format!("entry {n}"))
        .unwrap_or_else(|| "journal".into());
    match &problem.key {
        Some(key) => format!("{key}: {entry}"),
        None => format!("{journal}:{}: {entry}", problem.line),
    }
}

fn refusal(journal: &str, first: &Tamper, count: usize) -> String {
    let more = if count > 1 {
        format!(
            " (and {} more problem{})",
            count - 1,
            if count == 2 { "" } else { "s" }
        )
    } else {
        String::new()
    };
    format!(
        "{}: {}{more}\nthe journal does not verify, so nothing was changed: no rollout command acts on a journal with an edited, removed, reordered or forged entry. Run `ringmaster audit verify` to see every problem, then restore the journal from a backup (or undo the edit) until it says intact. To give up on this history instead, move the whole journal away (the entries and the head: journal.jsonl and journal.head, or the etcd journal keys and journal-head); rollout ids that delivered stay reserved by git-refs and dir delivery targets",
        tamper_place(journal, first),
        first.problem
    )
}

impl JournalStore for Journal {
    /// Every entry, in file order. Fails on an unreadable line: state is
    /// never folded from a journal that does not parse (run `audit verify`).
    fn entries(&self) -> anyhow::Result<Vec<Entry>> {
        let bytes = match read_state_file(&self.path, MAX_JOURNAL_BYTES) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", self.path.display()));
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        // A last line without its newline that does not parse is an append
        // cut short (never acknowledged): not an entry, and not a reason
        // for `status` to fail. `verify` judges it.
        // (After a last newline the tail is empty: no entry, nothing dropped.)
        let complete = match text.rsplit_once('\n') {
            Some((_, tail)) if serde_json::from_str::<Entry>(tail).is_err() => {
                &text[..text.len() - tail.len()]
            }
            _ => &text[..],
        };
        let mut out = Vec::new();
        for (i, line) in complete.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let entry: Entry = serde_json::from_str(line).map_err(|e| {
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

    /// Appends several events in order with one read, one write and one
    /// fsync: a soak round's evaluations of many gates cost one append.
    fn append_all(
        &self,
        stamp: Stamp<'_>,
        events: Vec<serde_json::Value>,
    ) -> anyhow::Result<Vec<Entry>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let _appending = self.lock_appends()?;
        let last = self.chain_end()?;
        let out = chain(last.map(|e| (e.seq, e.hash)), stamp, events);
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
        let before = file
            .metadata()
            .with_context(|| format!("cannot read {}", self.path.display()))?
            .len();
        if let Err(e) = file
            .write_all(lines.as_bytes())
            .and_then(|()| file.sync_all())
        {
            // A full disk: take the partial entry back, so the journal ends
            // where it did; a crash right here is finished by the next command.
            let _ = file.set_len(before).and_then(|()| file.sync_all());
            return Err(Failure::operational(format!(
                "cannot append to {}: {e}; nothing was journaled",
                self.path.display()
            )));
        }
        self.write_head(&Head { seq, hash: prev })?;
        Ok(out)
    }

    /// Checks the whole chain and the head. An empty list means intact; an
    /// interrupted write ([`JournalStore::interrupted`]) is not a problem.
    fn verify(&self) -> anyhow::Result<Vec<Tamper>> {
        let scan = self.scan()?;
        let (mut problems, last) = check_chain(scan.lines().map(|(n, l)| (n, None, l)));
        let lines = scan.lines().last().map_or(0, |(n, _)| n);
        match (scan.head.clone(), last) {
            _ if scan.lag.is_some() => {}
            (Some(head), Some((seq, hash))) if head.seq != seq || head.hash != hash => {
                problems.push(Tamper {
                    line: lines,
                    key: None,
                    seq: Some(seq),
                    problem: format!(
                        "the journal ends at entry {seq}, but its head records entry {}: entries were cut off the end (truncated) or the last one was replaced",
                        head.seq
                    ),
                });
            }
            (Some(head), None) if head.seq > 0 => problems.push(Tamper {
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
                problem: if scan.head_unreadable {
                    format!(
                        "the journal's head file ({}) does not parse: truncation cannot be ruled out",
                        self.head_path.display()
                    )
                } else {
                    "the journal's head file is missing: truncation cannot be ruled out".into()
                },
            }),
            (None, None) if scan.head_unreadable => problems.push(Tamper {
                line: 0,
                key: None,
                seq: None,
                problem: format!(
                    "the journal's head file ({}) does not parse",
                    self.head_path.display()
                ),
            }),
            _ => {}
        }
        Ok(problems)
    }
    fn describe(&self) -> String {
        self.path.display().to_string()
    }
    fn stored(&self) -> anyhow::Result<usize> {
        match read_state_file(&self.path, MAX_JOURNAL_BYTES) {
            Ok(b) => Ok(String::from_utf8_lossy(&b)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .count()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", self.path.display())),
        }
    }
    fn interrupted(&self) -> anyhow::Result<Option<String>> {
        Ok(self.scan()?.interrupted())
    }
    fn finish_interrupted(&self) -> anyhow::Result<Option<String>> {
        if let Some(dir) = self.path.parent()
            && !dir.exists()
        {
            return Ok(None);
        }
        let _appending = self.lock_appends()?;
        self.finish_interrupted_locked()
    }
}

/// The file journal as read: its text, its head, and whether the end of
/// the text is a write that was never acknowledged.
struct Scan {
    text: String,
    head: Option<Head>,
    /// Byte offset where a torn last line starts (no newline, not the
    /// entry the head records): an append cut short.
    torn: Option<usize>,
    /// A complete last entry missing only its newline.
    unterminated: bool,
    /// The head file exists but does not parse.
    head_unreadable: bool,
    /// The head lags behind complete entries that chain on from the entry
    /// it records: the entries were written, the head update was not.
    lag: Option<Head>,
}

impl Scan {
    /// The complete lines, with their 1-based line numbers.
    fn lines(&self) -> impl Iterator<Item = (usize, &str)> {
        let end = self.torn.unwrap_or(self.text.len());
        self.text[..end]
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i + 1, l))
    }

    fn interrupted(&self) -> Option<String> {
        match (&self.lag, self.torn) {
            (Some(lag), _) => Some(format!(
                "an interrupted write: entries up to {} were written but the head was not updated (a crash or a full disk during an append); the next state-changing command finishes it",
                lag.seq
            )),
            (None, Some(_)) => Some(
                "an interrupted write: the last line is a partly written entry that was never acknowledged (a crash or a full disk during an append); the next state-changing command removes it".into(),
            ),
            (None, None) if self.unterminated => Some(
                "the last entry lacks its newline; the next state-changing command adds it".into(),
            ),
            (None, None) => None,
        }
    }
}

/// Whether `entries` continue the chain from `head`, each linked to the one
/// before and hashing to its own hash.
fn continues(head: &Head, entries: &[Entry]) -> bool {
    let mut seq = head.seq;
    let mut prev = head.hash.as_str();
    for e in entries {
        if e.body.seq != seq + 1 || e.body.prev != prev || hash_body(&e.body) != e.hash {
            return false;
        }
        seq = e.body.seq;
        prev = &e.hash;
    }
    true
}

/// Entries for `events`, numbered and hash-chained after `last` (its seq
/// and hash; `None` for an empty journal). Every store writes what this makes.
pub fn chain(
    last: Option<(u64, String)>,
    stamp: Stamp<'_>,
    events: impl IntoIterator<Item = serde_json::Value>,
) -> Vec<Entry> {
    let (mut seq, mut prev) = last.unwrap_or((0, GENESIS.to_owned()));
    events
        .into_iter()
        .map(|event| {
            seq += 1;
            let body = Body {
                seq,
                at: stamp.at.to_owned(),
                actor: stamp.actor.to_owned(),
                rollout: stamp.rollout.to_owned(),
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

/// A chained journal of `rollout`'s events, each stamped at its own time by
/// the actor `ci`: what the pure decisions' tests replay.
#[cfg(test)]
pub(crate) fn chained_at(
    rollout: &str,
    events: impl IntoIterator<Item = (String, serde_json::Value)>,
) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for (at, event) in events {
        let last = out.last().map(|e| (e.body.seq, e.hash.clone()));
        out.extend(chain(last, Stamp::new(&at, "ci", rollout), [event]));
    }
    out
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
        // Only a plain file is read from its end (a device has no end).
        if let Ok(meta) = fs::symlink_metadata(&self.path)
            && !meta.file_type().is_file()
        {
            read_state_file(&self.path, MAX_JOURNAL_BYTES)
                .with_context(|| format!("cannot read {}", self.path.display()))?;
        }
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
            let line = match trimmed.rsplit_once('\n') {
                Some((_, last)) => Some(last),
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

    /// Where the next entry chains on: the last entry, which must be the one
    /// the head records. A write interrupted before is finished first;
    /// anything else is refused, so an append never rewrites the head over
    /// cut-off or replaced entries (which would make them verify again).
    /// The caller holds the append lock.
    fn chain_end(&self) -> anyhow::Result<Option<Head>> {
        let head_text = self.read_head()?;
        let head = || -> Option<Head> {
            head_text
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok())
        };
        let tail = |last: Option<Entry>| {
            last.map(|e| Head {
                seq: e.body.seq,
                hash: e.hash,
            })
        };
        let tmp_left = self.head_tmp_path().exists();
        match (head(), self.last_entry()) {
            (Some(h), Ok(last)) if !tmp_left && tail(last.clone()) == Some(h.clone()) => {
                return Ok(Some(h));
            }
            (Some(h), Ok(None)) if !tmp_left && h.seq == 0 => return Ok(None),
            // (`stored` is 0 for a missing journal file too.)
            (None, Ok(None)) if !self.head_path.exists() && self.stored()? == 0 => {
                // A new journal: its head exists before its first entry, so a
                // crash during that entry is an interrupted write, not a
                // journal without a head.
                self.write_head(&Head {
                    seq: 0,
                    hash: GENESIS.to_owned(),
                })?;
                return Ok(None);
            }
            _ => {}
        }
        self.finish_interrupted_locked()?;
        if let (Some(h), Ok(last)) = (head(), self.last_entry()) {
            if tail(last.clone()) == Some(h.clone()) {
                return Ok(Some(h));
            }
            if last.is_none() && h.seq == 0 {
                return Ok(None);
            }
        }
        let problems = self.verify()?;
        let first = problems.first().cloned().unwrap_or(Tamper {
            line: 0,
            seq: None,
            problem: "its last entry is not the one its head records".into(),
            key: None,
        });
        Err(Failure::usage(refusal(
            &self.path.display().to_string(),
            &first,
            problems.len().max(1),
        )))
    }

    /// Writes the head atomically: a temp file, fsync'd, renamed over. A
    /// failed write (a full disk) leaves no temp file behind.
    fn write_head(&self, head: &Head) -> anyhow::Result<()> {
        let tmp = self.head_tmp_path();
        let written = (|| -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(serde_json::to_string(head)?.as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &self.head_path)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(Failure::operational(format!(
                "cannot write {}: {e}; the entries are written, and the next state-changing command finishes the head",
                self.head_path.display()
            )));
        }
        if let Some(dir) = self.head_path.parent()
            && let Ok(d) = File::open(dir)
        {
            // The rename is durable once the directory is.
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Reads the journal and its head and recognises an interrupted write.
    /// The head file's text; `None` when there is none. A head that cannot
    /// be read (not a plain file, unreadable) is an error naming it, never
    /// taken for a missing head.
    fn read_head(&self) -> anyhow::Result<Option<String>> {
        match read_state_file(&self.head_path, MAX_HEAD_BYTES) {
            Ok(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", self.head_path.display())),
        }
    }

    fn scan(&self) -> anyhow::Result<Scan> {
        // The head first: an append writes its entries, then the head, so
        // one landing between the two reads looks like an interrupted write
        // (entries beyond the head), never like entries cut off the end.
        let head_text = self.read_head()?;
        let text = match read_state_file(&self.path, MAX_JOURNAL_BYTES) {
            Ok(t) => String::from_utf8_lossy(&t).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", self.path.display()));
            }
        };
        let head: Option<Head> = head_text
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok());
        let mut scan = Scan {
            head_unreadable: head_text.is_some() && head.is_none(),
            text,
            head,
            torn: None,
            unterminated: false,
            lag: None,
        };
        let Some(head) = scan.head.clone() else {
            return Ok(scan);
        };
        let parse_all = |lines: &mut dyn Iterator<Item = (usize, &str)>| -> Option<Vec<Entry>> {
            lines
                .map(|(_, l)| serde_json::from_str::<Entry>(l).ok())
                .collect()
        };
        let is_head = |e: &Entry| e.body.seq == head.seq && e.hash == head.hash;
        if !scan.text.is_empty() && !scan.text.ends_with('\n') {
            let start = scan.text.rfind('\n').map_or(0, |i| i + 1);
            let fragment = serde_json::from_str::<Entry>(&scan.text[start..]).ok();
            if fragment.as_ref().is_some_and(is_head) {
                scan.unterminated = true;
            } else {
                // Torn only if what precedes it ends where the head says
                // (or the head lags behind it): otherwise it is an edit.
                scan.torn = Some(start);
                let before = parse_all(&mut scan.lines());
                let fits = before.as_ref().is_some_and(|entries| {
                    let upto = entries.iter().rposition(is_head);
                    match upto {
                        Some(i) => continues(&head, &entries[i + 1..]),
                        None => head.seq == 0 && continues(&head, entries),
                    }
                });
                if !fits {
                    scan.torn = None;
                }
            }
        }
        let complete = parse_all(&mut scan.lines());
        if let Some(entries) = complete
            && let Some(last) = entries.last()
            && !is_head(last)
        {
            let after = match entries.iter().rposition(is_head) {
                Some(i) => Some(&entries[i + 1..]),
                None if head.seq == 0 => Some(&entries[..]),
                None => None,
            };
            if after.is_some_and(|after| continues(&head, after)) {
                scan.lag = Some(Head {
                    seq: last.body.seq,
                    hash: last.hash.clone(),
                });
            }
        }
        Ok(scan)
    }

    /// Finishes an interrupted write; the caller holds the append lock.
    fn finish_interrupted_locked(&self) -> anyhow::Result<Option<String>> {
        // A head written to its temp file but never renamed is not the head.
        let tmp = self.head_tmp_path();
        if tmp.exists() {
            fs::remove_file(&tmp).with_context(|| format!("cannot remove {}", tmp.display()))?;
        }
        let scan = self.scan()?;
        let Some(what) = scan.interrupted() else {
            return Ok(None);
        };
        if let Some(at) = scan.torn {
            let file = OpenOptions::new()
                .write(true)
                .open(&self.path)
                .with_context(|| format!("cannot open {}", self.path.display()))?;
            file.set_len(at as u64)
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot repair {}", self.path.display()))?;
        } else if scan.unterminated {
            let mut file = OpenOptions::new()
                .append(true)
                .open(&self.path)
                .with_context(|| format!("cannot open {}", self.path.display()))?;
            file.write_all(b"\n")
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot repair {}", self.path.display()))?;
        }
        if let Some(lag) = &scan.lag {
            self.write_head(lag)?;
        }
        let done = what
            .replace("the next state-changing command finishes it", "finished")
            .replace("the next state-changing command removes it", "removed")
            .replace("the next state-changing command adds it", "added");
        Ok(Some(format!("{}: {done}", self.path.display())))
    }

    fn head_tmp_path(&self) -> PathBuf {
        self.head_path.with_extension("head.tmp")
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

/// The largest journal file read: about four million entries. A bigger one
/// (or anything that is not a plain file: a link to `/dev/zero`, a FIFO) is
/// refused rather than read into memory without end.
const MAX_JOURNAL_BYTES: u64 = 1 << 30;
/// The head file holds one `{seq, hash}`.
const MAX_HEAD_BYTES: u64 = 64 * 1024;

/// Reads a state file that must be a plain file of at most `max` bytes.
fn read_state_file(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.file_type().is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} is not a plain file (a symbolic link or a device?); ringmaster keeps its rollout state in plain files: move it aside and restore the journal from a backup",
                path.display()
            ),
        ));
    }
    if meta.len() > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} is {} bytes, more than the {max} a journal may hold",
                path.display(),
                meta.len()
            ),
        ));
    }
    fs::read(path)
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
            .append(Stamp::new("t", "a", "r"), serde_json::json!({"kind": "x"}))
            .unwrap();
        let big = "y".repeat(100_000);
        let batch = journal
            .append_all(
                Stamp::new("t", "a", "r"),
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
            .append(Stamp::new("t", "a", "r"), serde_json::json!({"kind": "z"}))
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
                                Stamp::new("2026-11-22T10:00:00Z", "alice", "r-1"),
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
                    Stamp::new("2026-11-22T10:00:00Z", "alice", "r-1"),
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

    /// The file journal's states as every reader sees them: `entries`
    /// (what state folds from), `stored` (lines, readable or not),
    /// `interrupted` (a write cut short, in words) and `verify` (tampering),
    /// and what `finish_interrupted` leaves.
    #[test]
    fn the_file_journal_tells_interrupted_writes_from_tampering() {
        let state = |j: &Journal| {
            (
                j.entries().map(|e| e.len()).unwrap_or(usize::MAX),
                j.stored().unwrap(),
                j.interrupted().unwrap(),
                j.verify().unwrap(),
            )
        };
        let head = |j: &Journal| fs::read_to_string(&j.head_path).unwrap();
        // None yet: nothing stored, nothing interrupted, intact.
        let dir = tempfile::tempdir().unwrap();
        let none = Journal::at(dir.path());
        assert_eq!(state(&none), (0, 0, None, vec![]));
        assert_eq!(none.finish_interrupted().unwrap(), None);
        assert_eq!(none.describe(), none.path().display().to_string());
        // A head of entry 0 without entries: a new journal, intact.
        fs::create_dir_all(none.path().parent().unwrap()).unwrap();
        fs::write(
            &none.head_path,
            format!("{{\"seq\":0,\"hash\":\"{GENESIS}\"}}"),
        )
        .unwrap();
        assert_eq!(state(&none), (0, 0, None, vec![]));

        let (_dir, journal) = journal_with(3);
        let intact = fs::read_to_string(journal.path()).unwrap();
        let head3 = head(&journal);
        assert_eq!(state(&journal), (3, 3, None, vec![]));
        let restore = || {
            fs::write(journal.path(), &intact).unwrap();
            fs::write(&journal.head_path, &head3).unwrap();
        };

        // An append torn mid-line: not an entry, not tampering; finishing
        // removes it.
        fs::write(journal.path(), format!("{intact}{{\"seq\":4,\"at\"")).unwrap();
        let (entries, stored, interrupted, problems) = state(&journal);
        assert_eq!((entries, stored, &problems), (3, 4, &vec![]));
        assert!(interrupted.unwrap().contains("partly written entry"));
        let done = journal.finish_interrupted().unwrap().unwrap();
        assert!(done.ends_with("removed"), "{done}");
        assert_eq!(fs::read_to_string(journal.path()).unwrap(), intact);
        assert_eq!(state(&journal), (3, 3, None, vec![]));

        // The last entry without its newline: still an entry; finishing adds it.
        fs::write(journal.path(), intact.trim_end()).unwrap();
        let (entries, stored, interrupted, problems) = state(&journal);
        assert_eq!((entries, stored, &problems), (3, 3, &vec![]));
        assert!(interrupted.unwrap().contains("lacks its newline"));
        assert!(
            journal
                .finish_interrupted()
                .unwrap()
                .unwrap()
                .ends_with("added")
        );
        assert_eq!(fs::read_to_string(journal.path()).unwrap(), intact);

        // The head one entry behind (entries written, head not): finishing
        // moves the head on.
        let second = journal.entries().unwrap()[1].clone();
        let head2 = format!("{{\"seq\":2,\"hash\":\"{}\"}}", second.hash);
        fs::write(&journal.head_path, &head2).unwrap();
        let (entries, _, interrupted, problems) = state(&journal);
        assert_eq!((entries, &problems), (3, &vec![]));
        assert!(
            interrupted
                .unwrap()
                .contains("entries up to 3 were written")
        );
        assert!(
            journal
                .finish_interrupted()
                .unwrap()
                .unwrap()
                .ends_with("finished")
        );
        assert_eq!(head(&journal), head3);

        // Tampering, each named where it is.
        let problem = |j: &Journal| {
            let p = j.verify().unwrap();
            assert_eq!(p.len(), 1, "{p:?}");
            (p[0].line, p[0].seq, p[0].problem.clone())
        };
        rewrite(&journal, |lines| {
            lines.pop();
        });
        let (line, seq, text) = problem(&journal);
        assert_eq!((line, seq), (2, Some(2)));
        assert!(
            text.contains("ends at entry 2, but its head records entry 3"),
            "{text}"
        );
        assert_eq!(journal.interrupted().unwrap(), None);
        fs::remove_file(journal.path()).unwrap();
        let (line, seq, text) = problem(&journal);
        assert_eq!((line, seq), (0, None));
        assert!(
            text.contains("empty or missing, but its head records entry 3"),
            "{text}"
        );
        restore();
        fs::remove_file(&journal.head_path).unwrap();
        let (line, seq, text) = problem(&journal);
        assert_eq!((line, seq), (0, Some(3)));
        assert!(text.contains("head file is missing"), "{text}");
        fs::write(&journal.head_path, "{not json").unwrap();
        let (_, seq, text) = problem(&journal);
        assert_eq!(seq, Some(3));
        assert!(
            text.contains("does not parse: truncation cannot be ruled out"),
            "{text}"
        );
        fs::remove_file(journal.path()).unwrap();
        let (_, seq, text) = problem(&journal);
        assert_eq!(seq, None);
        assert!(text.ends_with("does not parse"), "{text}");
        restore();

        // The last entry replaced by one that chains and hashes: the head's
        // hash tells.
        rewrite(&journal, |lines| {
            let mut last: Entry = serde_json::from_str(&lines[2]).unwrap();
            last.body.actor = "mallory".into();
            last.hash = hash_body(&last.body);
            lines[2] = serde_json::to_string(&last).unwrap();
        });
        let (line, seq, text) = problem(&journal);
        assert_eq!((line, seq), (3, Some(3)));
        assert!(
            text.contains("ends at entry 3, but its head records entry 3"),
            "{text}"
        );
        restore();
        // An edited entry beyond the head is no interrupted write: both the
        // edit and the head are named, and nothing is finished.
        fs::write(&journal.head_path, &head2).unwrap();
        rewrite(&journal, |lines| {
            lines[2] = lines[2].replace("alice", "mallory")
        });
        assert_eq!(journal.interrupted().unwrap(), None);
        let problems: Vec<_> = journal
            .verify()
            .unwrap()
            .into_iter()
            .map(|p| (p.seq, p.problem))
            .collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].1.starts_with("edited"), "{problems:?}");
        assert!(
            problems[1]
                .1
                .contains("ends at entry 3, but its head records entry 2"),
            "{problems:?}"
        );
        restore();
        // A journal that is not a plain file is an error, never read as empty.
        fs::remove_file(journal.path()).unwrap();
        std::os::unix::fs::symlink(dir_of(&journal).join("elsewhere.jsonl"), journal.path())
            .unwrap();
        fs::write(dir_of(&journal).join("elsewhere.jsonl"), &intact).unwrap();
        for err in [
            journal.entries().unwrap_err().to_string(),
            journal.stored().unwrap_err().to_string(),
            journal.last_entry().unwrap_err().to_string(),
            journal.verify().unwrap_err().to_string(),
        ] {
            assert!(err.contains("cannot read"), "{err}");
        }
        fs::remove_file(journal.path()).unwrap();
        restore();
        // Nor is a head that is no plain file read as missing.
        fs::remove_file(&journal.head_path).unwrap();
        fs::write(dir_of(&journal).join("elsewhere.head"), &head3).unwrap();
        std::os::unix::fs::symlink(dir_of(&journal).join("elsewhere.head"), &journal.head_path)
            .unwrap();
        let err = format!("{:#}", journal.verify().unwrap_err());
        assert!(err.contains("journal.head"), "{err}");
        fs::remove_file(&journal.head_path).unwrap();
        restore();

        // A new journal whose head was never moved past entry 0: an
        // interrupted write, finished by moving the head.
        let genesis = format!("{{\"seq\":0,\"hash\":\"{GENESIS}\"}}");
        fs::write(&journal.head_path, &genesis).unwrap();
        assert_eq!(journal.verify().unwrap(), vec![]);
        assert!(
            journal
                .interrupted()
                .unwrap()
                .unwrap()
                .contains("entries up to 3 were written")
        );
        journal.finish_interrupted().unwrap();
        assert_eq!(head(&journal), head3);
        // Entries before the head's entry deleted, the rest continuing from
        // it: not an interrupted write.
        fs::write(&journal.head_path, &head2).unwrap();
        rewrite(&journal, |lines| {
            lines.drain(..2);
        });
        assert_eq!(journal.interrupted().unwrap(), None);
        assert!(!journal.verify().unwrap().is_empty());
        restore();
        // Entries beyond the head that do not continue it (renumbered, or
        // linked elsewhere, each with a hash of its own) are no interrupted
        // write either, and neither is a torn line after entries that do
        // not start at the head.
        let reforge = |f: &dyn Fn(&mut Entry)| {
            rewrite(&journal, |lines| {
                let mut last: Entry = serde_json::from_str(&lines[2]).unwrap();
                f(&mut last);
                last.hash = hash_body(&last.body);
                lines[2] = serde_json::to_string(&last).unwrap();
            });
            fs::write(&journal.head_path, &head2).unwrap();
        };
        reforge(&|e| e.body.seq = 4);
        assert_eq!(journal.interrupted().unwrap(), None);
        assert!(!journal.verify().unwrap().is_empty());
        reforge(&|e| e.body.prev = GENESIS.into());
        assert_eq!(journal.interrupted().unwrap(), None);
        assert!(!journal.verify().unwrap().is_empty());
        restore();
        rewrite(&journal, |lines| {
            lines.drain(..2);
        });
        let text = fs::read_to_string(journal.path()).unwrap();
        fs::write(journal.path(), format!("{text}{{\"seq\":4")).unwrap();
        fs::write(&journal.head_path, &head2).unwrap();
        assert_eq!(journal.interrupted().unwrap(), None);
        restore();
        // The last entry replaced and left without its newline: not the
        // head's entry, so no newline is due; tampering.
        reforge(&|e| e.body.actor = "mallory".into());
        fs::write(&journal.head_path, &head3).unwrap();
        let text = fs::read_to_string(journal.path()).unwrap();
        fs::write(journal.path(), text.trim_end()).unwrap();
        assert_eq!(journal.interrupted().unwrap(), None);
        assert!(!journal.verify().unwrap().is_empty());
        restore();
        // A journal whose directory is a file: every reader fails naming
        // it, none reads it as missing.
        let blocked = Journal::at(dir_of(&journal).join("journal.jsonl").as_path());
        for err in [
            blocked.entries().map(|_| ()).unwrap_err(),
            blocked.stored().map(|_| ()).unwrap_err(),
            blocked.verify().map(|_| ()).unwrap_err(),
            blocked.last_entry().map(|_| ()).unwrap_err(),
            blocked.interrupted().map(|_| ()).unwrap_err(),
        ] {
            assert!(format!("{err:#}").contains("cannot read"), "{err:#}");
        }

        // A line that is no entry, before the end: `entries` refuses to fold.
        rewrite(&journal, |lines| lines.insert(1, "garbage".into()));
        let err = journal.entries().unwrap_err().to_string();
        assert!(err.contains(":2: not a journal entry"), "{err}");
        assert_eq!(journal.stored().unwrap(), 4);
        restore();
        assert_eq!(state(&journal), (3, 3, None, vec![]));
    }

    fn dir_of(journal: &Journal) -> PathBuf {
        journal.path().parent().unwrap().to_path_buf()
    }

    /// An append chains on the entry the head records: a new journal
    /// starts at 1, an interrupted write is finished first, and a journal
    /// that does not verify is refused with nothing written.
    #[test]
    fn an_append_continues_only_an_intact_chain() {
        let stamp = Stamp::new("2026-11-22T10:05:00Z", "bob", "r-1");
        let append = |j: &Journal| j.append(stamp, json!({"kind": "x"})).map(|e| e.body.seq);
        let fresh = || {
            let dir = tempfile::tempdir().unwrap();
            let journal = Journal::at(dir.path());
            fs::create_dir_all(dir_of(&journal)).unwrap();
            (dir, journal)
        };
        let genesis = format!("{{\"seq\":0,\"hash\":\"{GENESIS}\"}}");
        // No head, no entries (no file, or an empty one); a head of entry 0.
        for setup in [
            &(|_: &Journal| {}) as &dyn Fn(&Journal),
            &|j: &Journal| fs::write(j.path(), "").unwrap(),
            &|j: &Journal| fs::write(&j.head_path, &genesis).unwrap(),
        ] {
            let (_dir, journal) = fresh();
            setup(&journal);
            assert_eq!(append(&journal).unwrap(), 1);
            assert_eq!(append(&journal).unwrap(), 2);
            assert_eq!(journal.verify().unwrap(), vec![]);
        }
        // A stale head left in its temp file: dropped, the chain goes on.
        let (_dir, journal) = journal_with(2);
        fs::write(journal.head_tmp_path(), &genesis).unwrap();
        assert_eq!(append(&journal).unwrap(), 3);
        assert!(!journal.head_tmp_path().exists());
        // A torn append: removed, then the chain goes on from the head.
        let text = fs::read_to_string(journal.path()).unwrap();
        fs::write(journal.path(), format!("{text}{{\"seq\":4")).unwrap();
        assert_eq!(append(&journal).unwrap(), 4);
        assert_eq!(journal.verify().unwrap(), vec![]);
        // Refused, nothing changed: entries cut off the end, the head gone
        // from a journal with entries, the last entry replaced.
        let refusals: [&dyn Fn(&Journal); 3] = [
            &|j| {
                rewrite(j, |lines| {
                    lines.pop();
                })
            },
            &|j| fs::remove_file(&j.head_path).unwrap(),
            &|j| {
                rewrite(j, |lines| {
                    let mut last: Entry = serde_json::from_str(&lines[3]).unwrap();
                    last.body.actor = "mallory".into();
                    last.hash = hash_body(&last.body);
                    lines[3] = serde_json::to_string(&last).unwrap();
                })
            },
        ];
        // (Each also with a stale head temp file beside it.)
        for (tamper, stale_tmp) in refusals.iter().flat_map(|t| [(t, false), (t, true)]) {
            let (_dir, journal) = journal_with(4);
            tamper(&journal);
            if stale_tmp {
                fs::write(journal.head_tmp_path(), &genesis).unwrap();
            }
            let before = fs::read(journal.path()).unwrap();
            let err = append(&journal).unwrap_err().to_string();
            assert!(err.contains("the journal does not verify"), "{err}");
            assert_eq!(fs::read(journal.path()).unwrap(), before);
        }
        // A head of entry 0 over entries that do not chain on from it (the
        // first one edited): refused, never a second entry 1.
        let (_dir, journal) = journal_with(2);
        fs::write(&journal.head_path, &genesis).unwrap();
        rewrite(&journal, |lines| {
            lines[0] = lines[0].replace("alice", "mallory")
        });
        let before = fs::read(journal.path()).unwrap();
        let err = append(&journal).unwrap_err().to_string();
        assert!(err.contains("the journal does not verify"), "{err}");
        assert_eq!(fs::read(journal.path()).unwrap(), before);
        // A head that does not parse, over no entries: refused, kept.
        let (_dir, journal) = fresh();
        fs::write(&journal.head_path, "{not json").unwrap();
        let err = append(&journal).unwrap_err().to_string();
        assert!(err.contains("does not parse"), "{err}");
        assert_eq!(fs::read_to_string(&journal.head_path).unwrap(), "{not json");
    }

    /// A state file may be exactly as long as its limit, not a byte more.
    #[test]
    fn a_state_file_may_reach_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        fs::write(&path, "x".repeat(100)).unwrap();
        assert_eq!(read_state_file(&path, 100).unwrap().len(), 100);
        let err = read_state_file(&path, 99).unwrap_err().to_string();
        assert!(err.contains("is 100 bytes, more than the 99"), "{err}");
    }

    /// What a refusal names: the place (a file line or an etcd key, the
    /// entry) and how many more problems there are.
    #[test]
    fn a_refusal_names_the_first_problem_and_counts_the_rest() {
        let at = |line, seq, key: Option<&str>| Tamper {
            line,
            seq,
            problem: "edited".into(),
            key: key.map(str::to_owned),
        };
        assert_eq!(
            tamper_place("j.jsonl", &at(7, Some(5), None)),
            "j.jsonl:7: entry 5"
        );
        assert_eq!(
            tamper_place("j.jsonl", &at(0, None, None)),
            "j.jsonl:0: journal"
        );
        assert_eq!(
            tamper_place("etcd", &at(0, Some(2), Some("/rm/journal/r/2"))),
            "/rm/journal/r/2: entry 2"
        );
        let first = at(7, Some(5), None);
        let one = refusal("j.jsonl", &first, 1);
        assert!(
            one.starts_with("j.jsonl:7: entry 5: edited\nthe journal does not verify"),
            "{one}"
        );
        assert!(
            refusal("j.jsonl", &first, 2)
                .starts_with("j.jsonl:7: entry 5: edited (and 1 more problem)\n")
        );
        assert!(
            refusal("j.jsonl", &first, 3)
                .starts_with("j.jsonl:7: entry 5: edited (and 2 more problems)\n")
        );
    }

    #[test]
    fn appending_after_a_clean_start_continues_the_chain() {
        let (_dir, journal) = journal_with(1);
        let e = journal
            .append(
                Stamp::new("2026-11-22T10:01:00Z", "bob", ""),
                json!({"kind": "frozen"}),
            )
            .unwrap();
        assert_eq!(e.body.seq, 2);
        assert_eq!(journal.verify().unwrap(), vec![]);
    }
}

#[cfg(test)]
mod tamper_props {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// One hostile edit of a journal's lines (or bytes).
    #[derive(Debug, Clone)]
    enum Edit {
        Delete(usize),
        Duplicate(usize, usize),
        Swap(usize, usize),
        FlipByte(usize, u8),
        ChangeField(usize, &'static str),
        Truncate(usize),
        Garbage(Vec<u8>),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            any::<usize>().prop_map(Edit::Delete),
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Duplicate(a, b)),
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Swap(a, b)),
            (any::<usize>(), 1u8..=255).prop_map(|(a, b)| Edit::FlipByte(a, b)),
            (
                any::<usize>(),
                prop::sample::select(vec!["actor", "at", "rollout", "seq", "kind", "by"])
            )
                .prop_map(|(a, f)| Edit::ChangeField(a, f)),
            any::<usize>().prop_map(Edit::Truncate),
            prop::collection::vec(any::<u8>(), 0..64).prop_map(Edit::Garbage),
        ]
    }

    fn apply(text: &str, edit: &Edit) -> Vec<u8> {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let n = lines.len();
        let joined = |lines: &[String]| (lines.join("\n") + "\n").into_bytes();
        match edit {
            Edit::Delete(i) => {
                lines.remove(i % n);
                joined(&lines)
            }
            Edit::Duplicate(i, at) => {
                let line = lines[i % n].clone();
                lines.insert(at % (n + 1), line);
                joined(&lines)
            }
            Edit::Swap(a, b) => {
                lines.swap(a % n, b % n);
                joined(&lines)
            }
            Edit::FlipByte(at, x) => {
                let mut bytes = text.as_bytes().to_vec();
                let at = at % bytes.len();
                bytes[at] ^= x;
                bytes
            }
            Edit::ChangeField(i, field) => {
                let i = i % n;
                let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&lines[i]) else {
                    lines[i].push_str("mallory");
                    return joined(&lines);
                };
                match *field {
                    "seq" => v["seq"] = json!(v["seq"].as_u64().unwrap_or(0) + 7),
                    "kind" | "by" => v["event"][*field] = json!("approved"),
                    f => v[f] = json!("mallory"),
                }
                lines[i] = v.to_string();
                joined(&lines)
            }
            Edit::Truncate(at) => text.as_bytes()[..at % text.len()].to_vec(),
            Edit::Garbage(bytes) => {
                let mut out = text.as_bytes().to_vec();
                out.extend_from_slice(bytes);
                out
            }
        }
    }

    fn journal(entries: usize) -> (tempfile::TempDir, Journal) {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::at(dir.path());
        for i in 0..entries {
            let (rollout, event) = match i % 3 {
                0 => ("", json!({"kind": "frozen", "reason": format!("r{i}")})),
                1 => (
                    "r-1",
                    json!({"kind": "approved", "ring": "single", "by": "rm"}),
                ),
                _ => ("r-1", json!({"kind": "evaluated", "n": i})),
            };
            journal
                .append(Stamp::new("2026-11-22T10:00:00Z", "alice", rollout), event)
                .unwrap();
        }
        (dir, journal)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// Every edit `verify` flags is refused by the gate every
        /// state-changing command goes through, and no append afterwards
        /// makes it verify again; an untouched journal is accepted.
        #[test]
        fn a_tampered_journal_is_always_refused_and_never_laundered(
            entries in 1usize..8,
            edits in prop::collection::vec(edit(), 0..3),
        ) {
            let (_dir, journal) = journal(entries);
            let mut text = fs::read_to_string(journal.path()).unwrap();
            for e in &edits {
                if text.is_empty() {
                    break;
                }
                let bytes = apply(&text, e);
                text = String::from_utf8_lossy(&bytes).into_owned();
                fs::write(journal.path(), &bytes).unwrap();
            }
            // Neither reader panics, whatever the bytes.
            let _ = journal.entries();
            let _ = journal.last_entry();
            let flagged = !journal.verify().unwrap().is_empty();
            let gate = intact_entries(&journal);
            prop_assert_eq!(gate.is_err(), flagged, "{:?}: {:?}", edits, gate.err());
            if flagged {
                let err = require_intact(&journal).unwrap_err();
                prop_assert!(err.to_string().contains("does not verify"), "{err}");
                let _ = journal.append(Stamp::new("2026-11-22T11:00:00Z", "mallory", "r-1"), json!({"kind": "x"}));
                prop_assert!(!journal.verify().unwrap().is_empty(), "laundered by {:?}", edits);
            } else {
                journal.append(Stamp::new("2026-11-22T11:00:00Z", "bob", "r-1"), json!({"kind": "x"})).unwrap();
                prop_assert_eq!(journal.verify().unwrap(), vec![]);
            }
        }
    }
}
