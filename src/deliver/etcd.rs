//! The etcd delivery target (SPEC §7): fleets watch the prefix.
//!
//! Keys under the prefix `P`, per ring:
//! - `P/rings/<ring>/classes/<class>`: the class's rendered config (YAML,
//!   exactly what `ringmaster render --class <class>` prints);
//! - `P/rings/<ring>/revision`: the git revision the ring holds, written last.
//!
//! A delivery is guarded by a compare on the revision key: it must still be
//! at the etcd revision ringmaster read (or absent), else the ring was
//! changed behind ringmaster's back and the rollout halts naming the key.
//!
//! When the ring fits one transaction (etcd's defaults: 128 operations,
//! 1.5 MiB per request), classes, departed classes and the revision key are
//! one atomic transaction. When it does not, the classes go first in chunks,
//! each guarded by the same compare, and the revision key goes last in its
//! own guarded transaction: an agent that acts on the revision key and reads
//! its class at that key's etcd revision (`etcdctl get --rev`) always sees a
//! whole ring. A driver killed between chunks leaves the revision key on the
//! old revision; the next driver writes every chunk again (same values) and
//! then the key.

use std::cell::Cell;

use crate::deliver::{Context, Delivered, Delivery, DeliveryError, DeliveryTarget};
use crate::net::etcd::{self, Etcd, EtcdError};
use crate::store::etcd::{EtcdPlace, Fence};

/// etcd's default `--max-txn-ops`.
pub const DEFAULT_MAX_TXN_OPS: usize = 128;
/// Under etcd's default `--max-request-bytes` (1.5 MiB), with room for the
/// request's framing.
pub const DEFAULT_MAX_TXN_BYTES: usize = 1_400_000;

/// What the last delivery wrote, for messages and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    /// Classes written (their config changed or is new).
    pub classes: usize,
    /// Classes whose key already held their config.
    pub unchanged: usize,
    pub deleted: usize,
    pub transactions: usize,
    /// Keys and values written (the request payload, before base64).
    pub bytes: usize,
    /// Wall time of the delivery, from the first read to the revision key.
    pub millis: u128,
}

pub struct EtcdTarget {
    etcd: Etcd,
    prefix: String,
    fence: Option<Fence>,
    max_ops: usize,
    max_bytes: usize,
    last: Cell<Option<DeliveryStats>>,
    /// Test hook (`RINGMASTER_ETCD_ABORT_AFTER_TXNS`): abort the process after
    /// this many delivery transactions, to kill a driver mid-delivery.
    abort_after: Option<usize>,
    txns: Cell<usize>,
}

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// One write of a delivery, with its size in the request.
struct Op<T = serde_json::Value> {
    json: T,
    bytes: usize,
}

/// A delivery's write before its request JSON is built: the JSON (the value
/// base64-encoded) is made one transaction at a time, so a ring's writes are
/// not all held encoded beside its rendered configs.
enum Pending {
    Put { key: String, value: String },
    Delete { key: String },
}

impl Pending {
    fn json(&self) -> serde_json::Value {
        match self {
            Pending::Put { key, value } => etcd::op_put(key, value.as_bytes(), None),
            Pending::Delete { key } => etcd::op_delete(key),
        }
    }
}

/// The target `deliver: {kind: etcd}` names, reached with this run's TLS
/// and user, its writes fenced by this run's lock.
pub(crate) fn from_config(
    endpoints: &[String],
    prefix: Option<&str>,
    context: &Context<'_>,
) -> anyhow::Result<Box<dyn DeliveryTarget>> {
    let place = context.state.delivery_place(endpoints, prefix)?;
    Ok(Box::new(EtcdTarget::open(place, context.state.fence())?))
}

impl EtcdTarget {
    /// The target at `place`; `fence`: the driver's lock (every write then
    /// requires it still held, when the lock lives in this target's cluster).
    pub fn open(place: EtcdPlace, fence: Option<Fence>) -> anyhow::Result<EtcdTarget> {
        Ok(EtcdTarget {
            etcd: Etcd::connect(place.options)?,
            prefix: place.prefix,
            fence,
            // For clusters whose limits differ from etcd's defaults.
            max_ops: env_usize("RINGMASTER_ETCD_MAX_TXN_OPS")
                .unwrap_or(DEFAULT_MAX_TXN_OPS)
                .max(2),
            max_bytes: env_usize("RINGMASTER_ETCD_MAX_TXN_BYTES")
                .unwrap_or(DEFAULT_MAX_TXN_BYTES)
                .max(1024),
            last: Cell::new(None),
            abort_after: env_usize("RINGMASTER_ETCD_ABORT_AFTER_TXNS"),
            txns: Cell::new(0),
        })
    }

    pub fn last_delivery(&self) -> Option<DeliveryStats> {
        self.last.get()
    }

    fn revision_key(&self, ring: &str) -> String {
        format!("{}/rings/{ring}/revision", self.prefix)
    }

    fn classes_dir(&self, ring: &str) -> String {
        format!("{}/rings/{ring}/classes/", self.prefix)
    }

    /// The compares every write of this delivery carries: the revision key
    /// unchanged since read, and (when fenced) our lock.
    fn guards(&self, key: &str, seen: Option<&etcd::Kv>) -> Vec<serde_json::Value> {
        let mut c = vec![match seen {
            Some(kv) => etcd::cmp_mod_revision(key, kv.mod_revision),
            None => etcd::cmp_absent(key),
        }];
        c.extend(self.fence().and_then(Fence::compare));
        c
    }

    /// The driver's lock, when it lives in the cluster this target writes to
    /// (known from the cluster id of the answers: a read always comes first).
    fn fence(&self) -> Option<&Fence> {
        self.fence
            .as_ref()
            .filter(|f| f.applies_to(self.etcd.cluster_id().as_deref()))
    }

    /// One guarded transaction; a failed guard is a conflict (naming what the
    /// key holds now) or a lost lock.
    fn guarded(
        &self,
        ring: &str,
        expected: Option<&str>,
        seen: Option<&etcd::Kv>,
        ops: Vec<serde_json::Value>,
    ) -> Result<(), DeliveryError> {
        let key = self.revision_key(ring);
        let mut failure = vec![etcd::op_get(&key)];
        let lock_key = self.fence().and_then(Fence::key);
        if let Some(lock) = &lock_key {
            failure.push(etcd::op_get(lock));
        }
        let result = self
            .etcd
            .txn(self.guards(&key, seen), ops, failure)
            .map_err(|e| {
                DeliveryError::Other(anyhow::Error::from(e).context(format!(
                    "cannot write ring {ring} under {}",
                    self.classes_dir(ring).trim_end_matches("classes/")
                )))
            })?;
        if result.succeeded {
            let n = self.txns.get() + 1;
            self.txns.set(n);
            if self.abort_after == Some(n) {
                std::process::abort();
            }
            return Ok(());
        }
        if let Some(fence) = self.fence()
            && lock_key.is_some()
        {
            fence.check(result.got(1).as_ref())?;
        }
        // The key moved: report what it holds now.
        let found = result.got(0).map(|kv| kv.text().trim().to_owned());
        Err(conflict(ring, &key, expected, found.as_deref()))
    }

    /// Splits `ops` into transactions within the limits (one op is never split).
    #[cfg(test)]
    fn chunks<T>(&self, ops: Vec<Op<T>>) -> anyhow::Result<Vec<Vec<T>>> {
        let mut chunker = Chunker::default();
        let mut chunks: Vec<Vec<T>> = Vec::new();
        for op in ops {
            chunks.extend(chunker.push(self, op)?);
        }
        chunks.extend(chunker.finish());
        Ok(chunks)
    }
}

/// Cuts a split delivery's writes, in order, into transactions within both
/// limits, handing each one out as soon as it is full.
struct Chunker<T> {
    current: Vec<T>,
    bytes: usize,
}

impl<T> Default for Chunker<T> {
    fn default() -> Self {
        Chunker {
            current: Vec::new(),
            bytes: 0,
        }
    }
}

impl<T> Chunker<T> {
    /// Adds a write; the chunk it closed (it did not fit there), if any.
    fn push(&mut self, target: &EtcdTarget, op: Op<T>) -> anyhow::Result<Option<Vec<T>>> {
        if op.bytes > target.max_bytes {
            anyhow::bail!(
                "one key of this delivery is {} bytes, over the {} bytes a transaction may carry (etcd's --max-request-bytes defaults to 1.5 MiB): make the class's config smaller",
                op.bytes,
                target.max_bytes
            );
        }
        let mut full = None;
        if !self.current.is_empty()
            && (self.current.len() + 1 > target.max_ops || self.bytes + op.bytes > target.max_bytes)
        {
            full = Some(std::mem::take(&mut self.current));
            self.bytes = 0;
        }
        self.bytes += op.bytes;
        self.current.push(op.json);
        Ok(full)
    }

    /// The last chunk.
    fn finish(self) -> Option<Vec<T>> {
        Some(self.current).filter(|c| !c.is_empty())
    }
}

/// The size an operation adds to a request: key, value and framing.
fn op_size(key: &str, value: usize) -> usize {
    key.len() + value + 16
}

fn etcd_failure(e: EtcdError) -> DeliveryError {
    DeliveryError::Other(e.into())
}

fn conflict(ring: &str, key: &str, expected: Option<&str>, found: Option<&str>) -> DeliveryError {
    DeliveryError::Conflict {
        ring: ring.to_owned(),
        expected: expected.map_or_else(|| "nothing".to_owned(), |r| format!("`{r}`")),
        found: format!(
            "{} (etcd key {key})",
            found.map_or_else(|| "nothing".to_owned(), |r| format!("`{r}`"))
        ),
    }
}

impl DeliveryTarget for EtcdTarget {
    fn current(&self, ring: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .etcd
            .get(&self.revision_key(ring))?
            .map(|kv| kv.text().trim().to_owned()))
    }

    fn write(&self, delivery: &mut Delivery<'_>) -> Result<Delivered, DeliveryError> {
        let Delivery {
            ring,
            previous,
            revision,
            ..
        } = *delivery;
        let started = std::time::Instant::now();
        let key = self.revision_key(ring);
        // Read again for the etcd revision that guards every write of this
        // delivery: a ring moved since `deliver` compared is a conflict.
        let seen = self.etcd.get(&key).map_err(etcd_failure)?;
        let current = seen.as_ref().map(|kv| kv.text().trim().to_owned());
        if current.as_deref() != previous {
            return Err(self.conflict(ring, previous, current.as_deref()));
        }
        let dir = self.classes_dir(ring);
        let mut ops: Vec<Op<Pending>> = Vec::new();
        let mut stats = DeliveryStats::default();
        // What the class keys hold now: a class whose config did not change
        // is not written again (no write, no watch event, no MVCC revision
        // to compact). The revision key still moves.
        let existing: std::collections::BTreeMap<String, Vec<u8>> = self
            .etcd
            .get_prefix(&dir, false)
            .map_err(etcd_failure)?
            .into_iter()
            .map(|kv| (kv.key, kv.value))
            .collect();
        let mut wanted = std::collections::HashSet::new();
        let revision_bytes = op_size(&key, revision.len());
        // Whether the ring fits one transaction is known for sure only at
        // its end, unless its writes so far already do not fit: from then on
        // it is split, and each chunk that is full (the next write did not
        // fit it) is sent as the rounds come, so only the chunk being filled
        // is held. The chunks are the ones the whole ring would give.
        let mut split = false;
        let mut ops_bytes = 0usize;
        let mut chunker = Chunker::default();
        for round in &mut *delivery.configs {
            for (class, yaml) in round? {
                let class_key = format!("{dir}{class}");
                if existing.get(&class_key).map(Vec::as_slice) == Some(yaml.as_bytes()) {
                    stats.unchanged += 1;
                } else {
                    stats.bytes += class_key.len() + yaml.len();
                    let bytes = op_size(&class_key, yaml.len());
                    ops_bytes += bytes;
                    ops.push(Op {
                        bytes,
                        json: Pending::Put {
                            key: class_key.clone(),
                            value: yaml,
                        },
                    });
                    stats.classes += 1;
                }
                wanted.insert(class_key);
            }
            split =
                split || ops.len() >= self.max_ops || ops_bytes + revision_bytes > self.max_bytes;
            if split {
                for op in ops.drain(..) {
                    if let Some(full) = chunker.push(self, op)? {
                        let full = full.iter().map(Pending::json).collect();
                        self.guarded(ring, previous, seen.as_ref(), full)?;
                        stats.transactions += 1;
                    }
                }
            }
        }
        // Classes that left the ring are deleted before the revision flips.
        for key in existing.keys().filter(|k| !wanted.contains(*k)) {
            ops.push(Op {
                bytes: op_size(key, 0),
                json: Pending::Delete { key: key.clone() },
            });
            stats.deleted += 1;
        }
        let revision_put = etcd::op_put(&key, revision.as_bytes(), None);
        stats.bytes += key.len() + revision.len();
        let total_bytes: usize = ops.iter().map(|o| o.bytes).sum::<usize>() + revision_bytes;
        if !split && ops.len() < self.max_ops && total_bytes <= self.max_bytes {
            // The whole ring in one atomic transaction.
            let mut all: Vec<serde_json::Value> = ops.iter().map(|o| o.json.json()).collect();
            all.push(revision_put);
            stats.transactions = 1;
            return match self.guarded(ring, previous, seen.as_ref(), all) {
                Ok(_) => {
                    stats.millis = started.elapsed().as_millis();
                    self.last.set(Some(stats));
                    Ok(Delivered::Moved)
                }
                Err(e) => self.recheck(ring, revision, e),
            };
        }
        // Too big for one: classes in chunks, then the revision key alone.
        let mut rest = Vec::new();
        for op in ops {
            rest.extend(chunker.push(self, op)?);
        }
        rest.extend(chunker.finish());
        for chunk in rest {
            let chunk = chunk.iter().map(Pending::json).collect();
            self.guarded(ring, previous, seen.as_ref(), chunk)?;
            stats.transactions += 1;
        }
        stats.transactions += 1;
        match self.guarded(ring, previous, seen.as_ref(), vec![revision_put]) {
            Ok(_) => {
                stats.millis = started.elapsed().as_millis();
                self.last.set(Some(stats));
                Ok(Delivered::Moved)
            }
            Err(e) => self.recheck(ring, revision, e),
        }
    }

    fn withdraw(&self, ring: &str, expected: &str) -> Result<Delivered, DeliveryError> {
        let key = self.revision_key(ring);
        let seen = self.etcd.get(&key).map_err(etcd_failure)?;
        let current = seen.as_ref().map(|kv| kv.text().trim().to_owned());
        match current.as_deref() {
            None => Ok(Delivered::AlreadyThere),
            Some(c) if c == expected => {
                // One transaction, whatever the ring's size: a prefix delete is one operation.
                let ops = vec![
                    etcd::op_delete(&key),
                    etcd::op_delete_prefix(&self.classes_dir(ring)),
                ];
                self.guarded(ring, Some(expected), seen.as_ref(), ops)?;
                Ok(Delivered::Moved)
            }
            Some(other) => Err(conflict(ring, &key, Some(expected), Some(other))),
        }
    }

    fn conflict(&self, ring: &str, expected: Option<&str>, found: Option<&str>) -> DeliveryError {
        conflict(ring, &self.revision_key(ring), expected, found)
    }

    fn describe(&self) -> String {
        self.described("<ring>")
    }

    fn describe_ring(&self, ring: &str) -> String {
        self.described(ring)
    }
}

impl EtcdTarget {
    /// The endpoints and `ring`'s key prefix, with what the last delivery wrote.
    fn described(&self, ring: &str) -> String {
        let mut s = format!(
            "etcd {} {}/rings/{ring}/",
            self.etcd.describe(),
            self.prefix
        );
        if let Some(st) = self.last.get() {
            s.push_str(&format!(
                " ({} class{} written, {} unchanged, {} deleted, {} bytes in {} transaction{}, {} ms)",
                st.classes,
                if st.classes == 1 { "" } else { "es" },
                st.unchanged,
                st.deleted,
                st.bytes,
                st.transactions,
                if st.transactions == 1 { "" } else { "s" },
                st.millis
            ));
        }
        s
    }
}

impl EtcdTarget {
    /// A final transaction that failed its guard may have been applied by an
    /// earlier try whose answer was lost: the key then holds our revision.
    fn recheck(
        &self,
        ring: &str,
        revision: &str,
        err: DeliveryError,
    ) -> Result<Delivered, DeliveryError> {
        if matches!(err, DeliveryError::Conflict { .. })
            && self.current(ring)?.as_deref() == Some(revision)
        {
            return Ok(Delivered::Moved);
        }
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::etcd::EtcdOptions;

    fn target(max_ops: usize, max_bytes: usize) -> EtcdTarget {
        let mut t = EtcdTarget::open(
            EtcdPlace {
                options: EtcdOptions::new(vec!["http://127.0.0.1:1".into()]),
                prefix: "/p".into(),
            },
            None,
        )
        .unwrap();
        t.max_ops = max_ops;
        t.max_bytes = max_bytes;
        t
    }

    fn ops(sizes: &[usize]) -> Vec<Op> {
        sizes
            .iter()
            .map(|&bytes| Op {
                json: serde_json::json!(bytes),
                bytes,
            })
            .collect()
    }

    #[test]
    fn chunks_respect_both_limits_and_keep_order() {
        let t = target(3, 100);
        let chunks = t.chunks(ops(&[10, 10, 10, 10, 60, 50, 1])).unwrap();
        let sizes: Vec<Vec<u64>> = chunks
            .iter()
            .map(|c| c.iter().map(|v| v.as_u64().unwrap()).collect())
            .collect();
        assert_eq!(sizes, vec![vec![10, 10, 10], vec![10, 60], vec![50, 1]]);
    }

    #[test]
    fn a_key_over_the_request_limit_is_refused_before_anything_is_written() {
        let err = target(128, 100).chunks(ops(&[10, 101])).unwrap_err();
        assert!(err.to_string().contains("101 bytes"), "{err}");
    }

    #[test]
    fn keys_follow_the_documented_layout() {
        let t = target(128, 100);
        assert_eq!(t.revision_key("multi"), "/p/rings/multi/revision");
        assert_eq!(t.classes_dir("multi"), "/p/rings/multi/classes/");
        let c = conflict(
            "dogfood",
            "/p/rings/dogfood/revision",
            Some("abc"),
            Some("def"),
        );
        let text = c.to_string();
        assert!(
            text.contains("/p/rings/dogfood/revision")
                && text.contains("`abc`")
                && text.contains("`def`"),
            "{text}"
        );
    }
}
