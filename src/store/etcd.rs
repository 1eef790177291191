//! Shared mode's state store (SPEC §7): the journal and the driver lock in
//! etcd, so a team's laptops and CI runners drive one rollout history.
//!
//! Keys under the prefix `P`:
//! - `P/journal/<rollout>/<seq>`: one entry per key, the same JSON (and hash
//!   chain) as the file journal; `<seq>` is zero-padded to 20 digits so key
//!   order is sequence order; repo-wide events (freeze) go under `_repo`.
//! - `P/journal-head`: the last entry's `{seq, hash}`. Every append is one
//!   transaction that requires the head unchanged since it was read and the
//!   entry's key absent, and writes both: two writers never get the same
//!   sequence number, and cutting entries off the end is detected.
//! - `P/lock`: the driver lock, `{actor, host, pid, since, lease}` attached to
//!   a lease the holder keeps alive. The holder's journal appends and etcd
//!   deliveries carry a compare that `P/lock` is still on its lease (a fence):
//!   a driver whose lease lapsed (stalled, partitioned, revoked) can never
//!   write again, whatever it believes.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cli::EtcdArgs;
use crate::config::adapters::{DeliverConfig, StateConfig};
use crate::exit::Failure;
use crate::net::etcd::{self, Etcd, EtcdError, EtcdOptions};
use crate::rollout::journal::{self, Entry, Journal, JournalStore, Stamp, Tamper};

/// The default key prefix, when neither `--etcd-prefix` nor the manifest sets one.
pub const DEFAULT_PREFIX: &str = "/ringmaster";

/// Seconds a driver's lease lives without a keep-alive: how long a killed
/// driver blocks the next one (`RINGMASTER_ETCD_LEASE_TTL` overrides).
pub const DEFAULT_LEASE_TTL: i64 = 10;

/// The fence: the lock key and the lease it must still be on for a write to
/// apply. Shared by the journal and the etcd delivery target of one driver.
#[derive(Debug, Clone, Default)]
pub struct Fence(Rc<RefCell<Option<FenceInfo>>>);

#[derive(Debug, Clone)]
struct FenceInfo {
    key: String,
    lease: i64,
    /// The cluster the lock lives in: only writes to it can carry the compare.
    cluster: Option<String>,
    /// Set by the keep-alive thread when etcd says the lease is gone.
    lost: Arc<AtomicBool>,
}

/// The driver lost its lock: another driver may hold it now.
#[derive(Debug, thiserror::Error)]
#[error(
    "this driver lost its lock: etcd key {key} is no longer on its lease {lease:x} ({now}); it stopped before writing anything more. Another driver may be running: see `ringmaster rollout status`, then `ringmaster rollout run` again"
)]
pub struct LockLost {
    pub key: String,
    pub lease: i64,
    pub now: String,
}

impl Fence {
    fn set(&self, key: String, lease: i64, cluster: Option<String>, lost: Arc<AtomicBool>) {
        *self.0.borrow_mut() = Some(FenceInfo {
            key,
            lease,
            cluster,
            lost,
        });
    }

    /// Whether a client of `cluster` can fence its writes with this lock
    /// (the lock lives in that cluster).
    pub fn applies_to(&self, cluster: Option<&str>) -> bool {
        self.0
            .borrow()
            .as_ref()
            .is_some_and(|f| f.cluster.is_some() && f.cluster.as_deref() == cluster)
    }

    /// The compare every fenced write carries, when a lock is held.
    pub fn compare(&self) -> Option<Value> {
        self.0
            .borrow()
            .as_ref()
            .map(|f| etcd::cmp_lease(&f.key, f.lease))
    }

    /// The lock key, to read back when a fenced write failed.
    pub fn key(&self) -> Option<String> {
        self.0.borrow().as_ref().map(|f| f.key.clone())
    }

    /// `Err(LockLost)` when `lock` (the lock key as read now) is not ours.
    pub fn check(&self, lock: Option<&etcd::Kv>) -> anyhow::Result<()> {
        let Some(info) = self.0.borrow().clone() else {
            return Ok(());
        };
        match lock {
            Some(kv) if kv.lease == info.lease => Ok(()),
            other => Err(LockLost {
                key: info.key,
                lease: info.lease,
                now: match other {
                    None => "the key is gone: the lease expired or was revoked".into(),
                    Some(kv) => format!("it is held by {}", holder_text(&kv.text())),
                },
            }
            .into()),
        }
    }

    /// Whether the keep-alive thread already knows the lease is gone.
    fn lost(&self) -> Option<LockLost> {
        let info = self.0.borrow().clone()?;
        info.lost.load(Ordering::SeqCst).then(|| LockLost {
            key: info.key,
            lease: info.lease,
            now: "etcd ended the lease".into(),
        })
    }
}

/// Where etcd is, from flags, the environment and a manifest section.
#[derive(Debug, Clone)]
pub struct EtcdPlace {
    pub options: EtcdOptions,
    pub prefix: String,
}

/// Normalises a prefix: leading `/` kept as given, no trailing `/`.
fn clean_prefix(prefix: &str) -> String {
    let p = prefix.trim().trim_end_matches('/');
    if p.is_empty() {
        DEFAULT_PREFIX.to_owned()
    } else {
        p.to_owned()
    }
}

fn env_secs(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// The connection options every etcd client of this run shares: TLS and user
/// from flags or the environment.
pub fn options_from(args: &EtcdArgs, endpoints: Vec<String>) -> EtcdOptions {
    let mut options = EtcdOptions::new(endpoints);
    options.ca_file.clone_from(&args.etcd_cacert);
    if let (Some(cert), Some(key)) = (&args.etcd_cert, &args.etcd_key) {
        options.client_cert = Some((cert.clone(), key.clone()));
    }
    options.user.clone_from(&args.etcd_user);
    options.password = std::env::var("RINGMASTER_ETCD_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    if let Some(secs) = env_secs("RINGMASTER_ETCD_RETRY_SECONDS") {
        options.retry_for = Duration::from_secs(secs);
    }
    options
}

/// Where the journal and lock live: `--etcd` first, then the working tree's
/// manifest `state:`, else the local default.
pub fn state_place(args: &EtcdArgs, root: &Path) -> anyhow::Result<Option<EtcdPlace>> {
    let manifest_state = if args.etcd_endpoints.is_empty() {
        working_tree_state(root)?
    } else {
        StateConfig::Local
    };
    let (endpoints, manifest_prefix): (Vec<String>, Option<String>) =
        if !args.etcd_endpoints.is_empty() {
            let endpoints = args
                .etcd_endpoints
                .iter()
                .map(|e| e.trim().to_owned())
                .filter(|e| !e.is_empty())
                .collect();
            (endpoints, None)
        } else if let StateConfig::Etcd { endpoints, prefix } = manifest_state {
            if endpoints.is_empty() {
                return Err(Failure::usage(
                    "ringmaster.yaml: `state: {kind: etcd}` needs `endpoints` (or pass --etcd URL)",
                ));
            }
            (endpoints, prefix)
        } else {
            return Ok(None);
        };
    let prefix = args
        .etcd_prefix
        .clone()
        .or(manifest_prefix)
        .unwrap_or_else(|| DEFAULT_PREFIX.to_owned());
    Ok(Some(EtcdPlace {
        options: options_from(args, endpoints),
        prefix: clean_prefix(&prefix),
    }))
}

/// The working tree manifest's `state:` section when it names etcd. Only
/// the YAML is read, not the whole manifest: a manifest with findings still
/// says where the journal lives. One whose YAML does not parse but mentions
/// etcd is an error, never a silent fall-back to the local journal.
fn working_tree_state(root: &Path) -> anyhow::Result<StateConfig> {
    let file = crate::config::manifest::MANIFEST_FILE;
    let bytes = match std::fs::read(root.join(file)) {
        Ok(b) => b,
        Err(_) => return Ok(StateConfig::Local),
    };
    let parsed =
        crate::config::document::parse(file, &bytes, &crate::config::document::Limits::default());
    match parsed.single() {
        Some(doc) => StateConfig::parse(crate::config::adapters::section(doc, "state"))
            .map_err(Failure::usage),
        None if String::from_utf8_lossy(&bytes).contains("etcd") => Err(Failure::usage(format!(
            "{file} does not parse, so where the journal lives (`state:`) is unknown: fix it (`ringmaster check {file}`), or pass --etcd URL"
        ))),
        None => Ok(StateConfig::Local),
    }
}

/// The state store of one run, and how this run reaches etcd.
pub struct State {
    store: Store,
    args: EtcdArgs,
}

enum Store {
    Local { journal: Journal, git_dir: PathBuf },
    Etcd(Box<EtcdJournal>),
}

/// The driver lock, held until dropped.
pub enum HeldLock {
    Local(crate::store::lock::DriverLock),
    Etcd(Box<EtcdLock>),
}

impl State {
    /// The store for the repo at `root` whose git directory is `git_dir`.
    pub fn open(args: &EtcdArgs, root: &Path, git_dir: &Path) -> anyhow::Result<State> {
        let store = match state_place(args, root)? {
            None => Store::Local {
                journal: Journal::at(git_dir),
                git_dir: git_dir.to_path_buf(),
            },
            Some(place) => Store::Etcd(Box::new(EtcdJournal::open(place)?)),
        };
        Ok(State {
            store,
            args: args.clone(),
        })
    }

    pub fn journal(&self) -> &dyn JournalStore {
        match &self.store {
            Store::Local { journal, .. } => journal,
            Store::Etcd(j) => j.as_ref(),
        }
    }

    /// Where the etcd delivery target a manifest's `deliver: {kind: etcd}`
    /// names is (`None`: no such section). The caller opens the target with
    /// [`State::fence`], so its writes are fenced by this run's lock when it
    /// is the same cluster.
    pub fn etcd_delivery_place(
        &self,
        manifest: &crate::config::manifest::Manifest,
    ) -> anyhow::Result<Option<EtcdPlace>> {
        match &manifest.deliver {
            DeliverConfig::Etcd { endpoints, prefix } => {
                self.delivery_place(endpoints, prefix.as_deref()).map(Some)
            }
            DeliverConfig::GitRefs | DeliverConfig::Dir { .. } => Ok(None),
        }
    }

    /// Where an etcd delivery target at `endpoints` under `prefix` is, with
    /// this run's TLS and user.
    pub fn delivery_place(
        &self,
        endpoints: &[String],
        prefix: Option<&str>,
    ) -> anyhow::Result<EtcdPlace> {
        if endpoints.is_empty() {
            return Err(Failure::usage(
                "ringmaster.yaml: `deliver: {kind: etcd}` needs `endpoints`",
            ));
        }
        Ok(EtcdPlace {
            options: options_from(&self.args, endpoints.to_vec()),
            prefix: clean_prefix(prefix.unwrap_or(DEFAULT_PREFIX)),
        })
    }

    /// Takes the driver lock; a lock held by another driver is exit 3 naming it.
    pub fn lock(&self, actor: &str, now: &str) -> anyhow::Result<HeldLock> {
        match &self.store {
            Store::Local { git_dir, .. } => {
                match crate::store::lock::acquire(git_dir, actor, now) {
                    Ok(l) => Ok(HeldLock::Local(l)),
                    Err(
                        e @ (crate::store::lock::LockError::Held(_)
                        | crate::store::lock::LockError::HeldUnknown(_)),
                    ) => Err(Failure::operational(e.to_string())),
                    Err(e) => Err(e.into()),
                }
            }
            Store::Etcd(j) => Ok(HeldLock::Etcd(Box::new(EtcdLock::acquire(j, actor, now)?))),
        }
    }

    /// The fence an etcd delivery target should carry: this run's lock.
    /// The target applies it only when it talks to the lock's cluster (the
    /// cluster ids in etcd's answers agree).
    pub fn fence(&self) -> Option<Fence> {
        match &self.store {
            Store::Etcd(j) => Some(j.fence.clone()),
            Store::Local { .. } => None,
        }
    }
}

/// Turns etcd failures into exit 3 (operational), keeping the message.
pub fn operational(err: anyhow::Error) -> anyhow::Error {
    let is_etcd = err
        .chain()
        .any(|c| c.is::<EtcdError>() || c.is::<LockLost>());
    if is_etcd && err.downcast_ref::<Failure>().is_none() {
        Failure::operational(format!("{err:#}"))
    } else {
        err
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
}

/// The journal in etcd.
pub struct EtcdJournal {
    etcd: Etcd,
    place: EtcdPlace,
    fence: Fence,
}

/// The rollout part of a journal key: repo-wide events have none.
const REPO_WIDE: &str = "_repo";

impl EtcdJournal {
    fn append_chunk(&self, stamp: Stamp<'_>, events: &[Value]) -> anyhow::Result<Vec<Entry>> {
        // Another writer (a `rollout approve` elsewhere) may take the next
        // sequence number first: read the head again and retry.
        let mut last_seen: Option<i64> = None;
        for _ in 0..100 {
            let head = self.read_head()?;
            let entries = journal::chain(
                head.as_ref().map(|(h, _)| (h.seq, h.hash.clone())),
                stamp,
                events.iter().cloned(),
            );
            let mut compare = match &head {
                Some((_, rev)) => vec![etcd::cmp_mod_revision(&self.head_key(), *rev)],
                // No head: only a journal without entries starts a chain, never
                // one whose head was deleted (that would hide the deletion).
                None => vec![
                    etcd::cmp_absent(&self.head_key()),
                    etcd::cmp_prefix_empty(&self.dir()),
                ],
            };
            let mut puts = Vec::with_capacity(entries.len() + 1);
            for entry in &entries {
                let key = self.entry_key(stamp.rollout, entry.body.seq);
                compare.push(etcd::cmp_absent(&key));
                puts.push(etcd::op_put(
                    &key,
                    serde_json::to_string(entry)?.as_bytes(),
                    None,
                ));
            }
            let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
                return Ok(Vec::new());
            };
            let first_seq = first.body.seq;
            let (seq, prev) = (last.body.seq, last.hash.clone());
            let key = self.entry_key(stamp.rollout, first_seq);
            let new_head = Head { seq, hash: prev };
            puts.push(etcd::op_put(
                &self.head_key(),
                serde_json::to_string(&new_head)?.as_bytes(),
                None,
            ));
            // A rollout id is taken by its first event: two `rollout start`s
            // on two machines at the same moment must not share one.
            let opens = events
                .iter()
                .any(|e| e.get("kind").and_then(Value::as_str) == Some("started"));
            let rollout_dir = format!("{}{}/", self.dir(), stamp.rollout);
            if opens {
                compare.push(etcd::cmp_prefix_empty(&rollout_dir));
            }
            compare.extend(self.fence.compare());
            let result = self.etcd.txn(
                compare,
                puts,
                vec![
                    etcd::op_get(&self.head_key()),
                    etcd::op_get(&self.lock_key()),
                ],
            )?;
            if result.succeeded {
                return Ok(entries);
            }
            if self.fence.compare().is_some() {
                self.fence.check(result.got(1).as_ref())?;
            }
            let now = result.got(0);
            if let Some(kv) = &now
                && serde_json::from_slice::<Head>(&kv.value).ok() == Some(new_head.clone())
            {
                // Our own write, applied by a try whose answer was lost.
                return Ok(entries);
            }
            if opens && !self.etcd.get_prefix(&rollout_dir, true)?.is_empty() {
                return Err(Failure::operational(format!(
                    "rollout id {} was taken at the same moment by a `rollout start` elsewhere (etcd keys {rollout_dir}); run `ringmaster rollout start` again",
                    stamp.rollout
                )));
            }
            if head.is_none() && now.is_none() {
                return Err(Failure::usage(format!(
                    "the etcd journal {} has entries but no head key ({}): entries may have been deleted from its end, so nothing was appended; run `ringmaster audit verify`",
                    self.dir(),
                    self.head_key()
                )));
            }
            let now_rev = now.as_ref().map_or(0, |kv| kv.mod_revision);
            if head.as_ref().map(|(_, r)| *r) == Some(now_rev) || last_seen == Some(now_rev) {
                return Err(anyhow!(
                    "etcd key {key} exists although the journal head ({}) says entry {} is the last: the journal was written behind ringmaster's back; run `ringmaster audit verify`",
                    self.head_key(),
                    first_seq - 1
                ));
            }
            last_seen = Some(now_rev);
        }
        Err(anyhow!(
            "the etcd journal at {} kept moving under 100 appends in a row",
            self.describe()
        ))
    }

    pub fn open(place: EtcdPlace) -> anyhow::Result<EtcdJournal> {
        Ok(EtcdJournal {
            etcd: Etcd::connect(place.options.clone())?,
            place,
            fence: Fence::default(),
        })
    }

    fn dir(&self) -> String {
        format!("{}/journal/", self.place.prefix)
    }

    fn head_key(&self) -> String {
        format!("{}/journal-head", self.place.prefix)
    }

    fn lock_key(&self) -> String {
        format!("{}/lock", self.place.prefix)
    }

    fn entry_key(&self, rollout: &str, seq: u64) -> String {
        let rollout = if rollout.is_empty() {
            REPO_WIDE
        } else {
            rollout
        };
        format!("{}{rollout}/{seq:020}", self.dir())
    }

    /// (rollout, seq) from a key, when it is an entry key.
    fn parse_key<'k>(&self, key: &'k str) -> Option<(&'k str, u64)> {
        let rest = key.strip_prefix(&self.dir())?;
        let (rollout, seq) = rest.rsplit_once('/')?;
        Some((rollout, seq.parse().ok()?))
    }

    fn read_head(&self) -> anyhow::Result<Option<(Head, i64)>> {
        match self.etcd.get(&self.head_key())? {
            None => Ok(None),
            Some(kv) => {
                let head: Head = serde_json::from_slice(&kv.value).map_err(|e| {
                    anyhow!(
                        "etcd key {} is not a journal head ({e}); run `ringmaster audit verify`",
                        kv.key
                    )
                })?;
                Ok(Some((head, kv.mod_revision)))
            }
        }
    }

    /// The entries and the head as of one moment: an append by another
    /// writer between the two reads would otherwise look like entries cut
    /// off the end. Every append moves the head, so a head unchanged
    /// across the read of the entries means they belong together.
    fn consistent_read(&self) -> anyhow::Result<(Vec<etcd::Kv>, Option<etcd::Kv>)> {
        let revision = |kv: &Option<etcd::Kv>| kv.as_ref().map(|k| k.mod_revision);
        let mut before = self.etcd.get(&self.head_key())?;
        for _ in 0..50 {
            let kvs = self.etcd.get_prefix(&self.dir(), false)?;
            let after = self.etcd.get(&self.head_key())?;
            if revision(&before) == revision(&after) {
                return Ok((kvs, after));
            }
            before = after;
        }
        Err(anyhow!(
            "the etcd journal at {} kept moving while it was read (50 tries); run the command again",
            self.describe()
        ))
    }

    /// Fails when the driver no longer holds its lock (the keep-alive thread
    /// saw the lease end, or the lock key is not on it).
    fn check_fence(&self) -> anyhow::Result<()> {
        if let Some(lost) = self.fence.lost() {
            return Err(lost.into());
        }
        if let Some(key) = self.fence.key() {
            self.fence.check(self.etcd.get(&key)?.as_ref())?;
        }
        Ok(())
    }
}

impl JournalStore for EtcdJournal {
    fn entries(&self) -> anyhow::Result<Vec<Entry>> {
        // A driver reads the journal before every step: a lost lock stops it here.
        self.check_fence()?;
        let mut out = Vec::new();
        for kv in self.etcd.get_prefix(&self.dir(), false)? {
            let entry: Entry = serde_json::from_slice(&kv.value).map_err(|e| {
                anyhow!(
                    "etcd key {}: not a journal entry ({e}); run `ringmaster audit verify`",
                    kv.key
                )
            })?;
            out.push(entry);
        }
        out.sort_by_key(|e| e.body.seq);
        Ok(out)
    }

    /// A soak round's evaluations go in one transaction (one round trip,
    /// one fsync on etcd's side), in chunks under etcd's operation limit.
    fn append_all(&self, stamp: Stamp<'_>, events: Vec<Value>) -> anyhow::Result<Vec<Entry>> {
        // Two puts per entry plus the head, within etcd's default 128 operations.
        const PER_TXN: usize = 60;
        let mut out = Vec::with_capacity(events.len());
        for chunk in events.chunks(PER_TXN) {
            out.extend(self.append_chunk(stamp, chunk)?);
        }
        Ok(out)
    }

    fn verify(&self) -> anyhow::Result<Vec<Tamper>> {
        let (kvs, head_kv) = self.consistent_read()?;
        let mut problems = Vec::new();
        let mut items: Vec<(u64, String, String)> = Vec::new();
        for kv in kvs {
            let Some((rollout, seq)) = self.parse_key(&kv.key) else {
                problems.push(Tamper {
                    line: 0,
                    seq: None,
                    problem: "not a journal key (<prefix>/journal/<rollout>/<seq>)".into(),
                    key: Some(kv.key.clone()),
                });
                continue;
            };
            let text = kv.text();
            // The key names the rollout and sequence number: an entry moved
            // to another key is an edit, even when its content hashes.
            if let Ok(entry) = serde_json::from_str::<Entry>(&text) {
                let expect = if entry.body.rollout.is_empty() {
                    REPO_WIDE
                } else {
                    entry.body.rollout.as_str()
                };
                if entry.body.seq != seq || expect != rollout {
                    problems.push(Tamper {
                        line: 0,
                        seq: Some(entry.body.seq),
                        problem: format!(
                            "moved: the entry says rollout `{}` entry {}, its key says `{rollout}` entry {seq}",
                            expect, entry.body.seq
                        ),
                        key: Some(kv.key.clone()),
                    });
                }
            }
            items.push((seq, kv.key, text));
        }
        items.sort_by_key(|(seq, _, _)| *seq);
        let (chain, last) = crate::rollout::journal::check_chain(
            items
                .iter()
                .enumerate()
                .map(|(i, (_, key, text))| (i + 1, Some(key.clone()), text.as_str())),
        );
        problems.extend(chain);
        let head = head_kv.and_then(|kv| serde_json::from_slice::<Head>(&kv.value).ok());
        let last_key = items.last().map(|(_, k, _)| k.clone());
        match (head, last) {
            (Some(head), Some((seq, hash))) if head.seq != seq || head.hash != hash => {
                problems.push(Tamper {
                    line: items.len(),
                    seq: Some(seq),
                    problem: format!(
                        "the journal ends at entry {seq}, but its head ({}) records entry {}: entries were deleted from the end or the last one was replaced",
                        self.head_key(),
                        head.seq
                    ),
                    key: last_key,
                });
            }
            (Some(head), None) => problems.push(Tamper {
                line: 0,
                seq: None,
                problem: format!(
                    "the journal is empty, but its head records entry {}: its entries were deleted",
                    head.seq
                ),
                key: Some(self.head_key()),
            }),
            (None, Some((seq, _))) => problems.push(Tamper {
                line: 0,
                seq: Some(seq),
                problem:
                    "the journal's head key is missing: deletion from the end cannot be ruled out"
                        .into(),
                key: Some(self.head_key()),
            }),
            _ => {}
        }
        Ok(problems)
    }

    fn describe(&self) -> String {
        format!("etcd {} {}", self.etcd.describe(), self.dir())
    }

    /// Each append (each chunk of a long one) is one etcd transaction that
    /// writes its entries and the head together: it lands whole or not at
    /// all, so the entries never run ahead of the head or end in a torn one.
    fn interrupted(&self) -> anyhow::Result<Option<String>> {
        Ok(None)
    }
    fn finish_interrupted(&self) -> anyhow::Result<Option<String>> {
        Ok(None)
    }

    fn stored(&self) -> anyhow::Result<usize> {
        Ok(self.etcd.get_prefix(&self.dir(), true)?.len())
    }
}

/// Who holds the etcd lock (the lock key's value).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EtcdHolder {
    actor: String,
    host: String,
    pid: u32,
    since: String,
    lease: String,
    /// This boot of the machine and the PID namespace the pid belongs to:
    /// together with `host`, what makes "that pid is gone" a safe conclusion.
    #[serde(default)]
    boot: String,
}

/// The kernel's boot id and this process's PID namespace: a pid means the
/// same process only within both.
fn boot_and_pid_namespace() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let ns = std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if boot.trim().is_empty() || ns.is_empty() {
        return String::new();
    }
    format!("{} {ns}", boot.trim())
}

/// The lease of a lock whose holder died on this machine (same host, boot
/// and PID namespace, and its pid no longer exists): it can be revoked at
/// once instead of waiting out its TTL.
fn dead_local_holder(kv: &etcd::Kv) -> Option<i64> {
    let holder: EtcdHolder = serde_json::from_slice(&kv.value).ok()?;
    let here = boot_and_pid_namespace();
    let same_place =
        !here.is_empty() && holder.boot == here && holder.host == crate::store::lock::host();
    let gone = !Path::new(&format!("/proc/{}", holder.pid)).exists();
    (same_place && gone && kv.lease != 0).then_some(kv.lease)
}

fn holder_text(value: &str) -> String {
    match serde_json::from_str::<EtcdHolder>(value) {
        Ok(h) => format!(
            "{} on {} (pid {}) since {}",
            h.actor, h.host, h.pid, h.since
        ),
        Err(_) => format!("an unknown holder ({value:?})"),
    }
}

/// The driver lock in etcd: a key on a lease this process keeps alive.
pub struct EtcdLock {
    lease: i64,
    key: String,
    stop: Arc<AtomicBool>,
    keepalive: Option<std::thread::JoinHandle<()>>,
    /// Its own connection, for the revoke on drop.
    etcd: Etcd,
}

impl EtcdLock {
    fn acquire(journal: &EtcdJournal, actor: &str, now: &str) -> anyhow::Result<EtcdLock> {
        let ttl = env_secs("RINGMASTER_ETCD_LEASE_TTL")
            .map_or(DEFAULT_LEASE_TTL, |s| s.clamp(2, 3600) as i64);
        let etcd = &journal.etcd;
        let key = journal.lock_key();
        let lease = etcd.lease_grant(ttl)?;
        let holder = EtcdHolder {
            actor: actor.to_owned(),
            host: crate::store::lock::host(),
            pid: std::process::id(),
            since: now.to_owned(),
            lease: format!("{lease:x}"),
            boot: boot_and_pid_namespace(),
        };
        let take = || {
            etcd.txn(
                vec![etcd::cmp_absent(&key)],
                vec![etcd::op_put(
                    &key,
                    serde_json::to_string(&holder)?.as_bytes(),
                    Some(lease),
                )],
                vec![etcd::op_get(&key)],
            )
            .map_err(anyhow::Error::from)
        };
        let mut result = take();
        // A driver that died on this machine (killed, Ctrl-C) left its lease
        // running: end it now rather than make the next run wait out the TTL.
        if let Ok(r) = &result
            && !r.succeeded
            && let Some(dead) = r.got(0).as_ref().and_then(dead_local_holder)
        {
            let _ = etcd.lease_revoke(dead);
            result = take();
        }
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = etcd.lease_revoke(lease);
                return Err(e);
            }
        };
        if !result.succeeded {
            let _ = etcd.lease_revoke(lease);
            let held = result.got(0);
            let who = held.as_ref().map_or_else(
                || "a driver that just left".into(),
                |kv| holder_text(&kv.text()),
            );
            let lease_of = held.as_ref().map_or(0, |kv| kv.lease);
            return Err(Failure::operational(format!(
                "another rollout driver holds the lock: {who} (etcd key {key}, lease {lease_of:x}; a driver that died frees it within {ttl} s); try again later"
            )));
        }
        let lost = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        journal
            .fence
            .set(key.clone(), lease, etcd.cluster_id(), lost.clone());
        let mut keepalive_options = journal.place.options.clone();
        // Short calls, so that stopping never waits long; a failed call is
        // simply tried again at the next tick.
        keepalive_options.retry_for = Duration::from_secs(1);
        let thread_stop = stop.clone();
        let keepalive = std::thread::Builder::new()
            .name("etcd-lease-keepalive".into())
            .spawn(move || keep_alive(keepalive_options, lease, ttl, &thread_stop, &lost))
            .context("cannot start the lease keep-alive thread")?;
        let mut own = journal.place.options.clone();
        own.retry_for = Duration::from_secs(3);
        Ok(EtcdLock {
            lease,
            key,
            stop,
            keepalive: Some(keepalive),
            etcd: Etcd::connect(own)?,
        })
    }

    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Renews the lease every third of its TTL until told to stop or etcd says
/// it is gone. An unreachable etcd is tried again: the fence, not this
/// thread, is what keeps a driver without its lease from writing.
fn keep_alive(options: EtcdOptions, lease: i64, ttl: i64, stop: &AtomicBool, lost: &AtomicBool) {
    let Ok(etcd) = Etcd::connect(options) else {
        return;
    };
    let tick = Duration::from_millis((ttl.max(1) as u64) * 1000 / 3);
    let step = Duration::from_millis(50);
    loop {
        let mut waited = Duration::ZERO;
        while waited < tick {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(step);
            waited += step;
        }
        match etcd.lease_keepalive(lease) {
            Ok(ttl) if ttl > 0 => {}
            Ok(_) => {
                lost.store(true, Ordering::SeqCst);
                return;
            }
            Err(_) => {}
        }
    }
}

impl Drop for EtcdLock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.keepalive.take() {
            let _ = t.join();
        }
        // Revoking deletes the lock key: the next driver need not wait for the TTL.
        let _ = self.etcd.lease_revoke(self.lease);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal() -> EtcdJournal {
        EtcdJournal::open(EtcdPlace {
            options: EtcdOptions::new(vec!["http://127.0.0.1:1".into()]),
            prefix: clean_prefix("/p/"),
        })
        .unwrap()
    }

    #[test]
    fn the_global_etcd_flags_never_collide_with_a_command_argument() {
        use clap::Parser as _;
        // `explain` has a positional `key`: a global flag with the same id
        // made clap panic on every `explain`.
        let cli = crate::cli::Cli::try_parse_from([
            "ringmaster",
            "explain",
            "--class",
            "a",
            "server.port",
            "--etcd-cert",
            "c.pem",
            "--etcd-key",
            "k.pem",
            "--etcd",
            "http://a:2379,http://b:2379",
        ])
        .unwrap();
        assert_eq!(cli.etcd.etcd_key.as_deref(), Some(Path::new("k.pem")));
        assert_eq!(cli.etcd.etcd_endpoints.len(), 2);
        let err =
            crate::cli::Cli::try_parse_from(["ringmaster", "audit", "verify", "--etcd-key", "k"])
                .unwrap_err();
        assert!(err.to_string().contains("--etcd-cert"), "{err}");
    }

    #[test]
    fn prefixes_lose_their_trailing_slash_and_default_when_empty() {
        assert_eq!(clean_prefix("/rm/"), "/rm");
        assert_eq!(clean_prefix(" /a/b "), "/a/b");
        assert_eq!(clean_prefix("/"), DEFAULT_PREFIX);
    }

    #[test]
    fn journal_keys_sort_in_sequence_order_and_parse_back() {
        let j = journal();
        assert_eq!(j.entry_key("", 3), "/p/journal/_repo/00000000000000000003");
        let (nine, ten) = (j.entry_key("r-1", 9), j.entry_key("r-1", 10));
        assert!(nine < ten, "{nine} {ten}");
        assert_eq!(j.parse_key(&ten), Some(("r-1", 10)));
        assert_eq!(j.parse_key("/p/journal/r-1/x"), None);
        assert_eq!(j.parse_key("/other/journal/r-1/1"), None);
        // The head sits beside the entries, not among them.
        assert!(!j.head_key().starts_with(&j.dir()));
    }

    #[test]
    fn a_lost_fence_names_the_key_and_who_holds_it_now() {
        let fence = Fence::default();
        assert!(fence.check(None).is_ok(), "no lock held: nothing to fence");
        fence.set(
            "/p/lock".into(),
            0x2a,
            Some("c1".into()),
            Arc::new(AtomicBool::new(false)),
        );
        assert!(fence.applies_to(Some("c1")));
        assert!(!fence.applies_to(Some("c2")) && !fence.applies_to(None));
        let ours = etcd::Kv {
            key: "/p/lock".into(),
            value: Vec::new(),
            create_revision: 1,
            mod_revision: 1,
            lease: 0x2a,
        };
        assert!(fence.check(Some(&ours)).is_ok());
        let err = fence.check(None).unwrap_err().to_string();
        assert!(err.contains("/p/lock") && err.contains("lease 2a"), "{err}");
        let theirs = etcd::Kv {
            lease: 7,
            value: br#"{"actor":"bob","host":"h","pid":9,"since":"t","lease":"7"}"#.to_vec(),
            ..ours
        };
        let err = fence.check(Some(&theirs)).unwrap_err().to_string();
        assert!(err.contains("held by bob on h (pid 9)"), "{err}");
    }

    #[test]
    fn only_a_dead_holder_on_this_machine_is_taken_over() {
        let here = boot_and_pid_namespace();
        let kv = |host: &str, pid: u32, boot: &str| etcd::Kv {
            key: "/p/lock".into(),
            value: serde_json::to_vec(&EtcdHolder {
                actor: "a".into(),
                host: host.into(),
                pid,
                since: "t".into(),
                lease: "5".into(),
                boot: boot.into(),
            })
            .unwrap(),
            create_revision: 1,
            mod_revision: 1,
            lease: 5,
        };
        let me = crate::store::lock::host();
        // No process has pid u32::MAX (pid_max is at most 2^22); ours exists.
        assert_eq!(dead_local_holder(&kv(&me, u32::MAX, &here)), Some(5));
        assert_eq!(dead_local_holder(&kv(&me, std::process::id(), &here)), None);
        assert_eq!(dead_local_holder(&kv("elsewhere", u32::MAX, &here)), None);
        assert_eq!(dead_local_holder(&kv(&me, u32::MAX, "another boot")), None);
    }
}
