//! Delivery targets: where a ring's revision and rendered configs are
//! published (SPEC §7). The trait, the compare-and-set every target shares
//! and the factory live here; each target is one file. A new target is a
//! new file, a variant of `config::adapters::DeliverConfig` and one arm in
//! [`from_config`].
//!
//! Every delivery is a compare-and-set on the ring's previous revision, so a
//! target moved behind ringmaster's back is a conflict (never overwritten),
//! and idempotent, so a driver killed mid-delivery can simply deliver again.

pub mod dir;
pub mod etcd;
pub mod git_refs;
pub mod memory;

use std::path::Path;

use crate::config::adapters::DeliverConfig;
use crate::store::etcd::State;

pub use dir::Dir;
pub use git_refs::GitRefs;
pub use memory::MemoryTarget;

/// What a delivery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// The target moved from the expected previous revision.
    Moved,
    /// The target already held the revision: a re-run after a crash.
    AlreadyThere,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The target holds neither the expected previous revision nor the new one.
    #[error(
        "ring `{ring}` holds {found} on the delivery target, not {expected}: it was changed behind ringmaster's back; look at who moved it before resuming"
    )]
    Conflict {
        ring: String,
        expected: String,
        found: String,
    },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl DeliveryError {
    fn conflict(ring: &str, expected: Option<&str>, found: Option<&str>) -> DeliveryError {
        DeliveryError::Conflict {
            ring: ring.to_owned(),
            expected: describe(expected),
            found: describe(found),
        }
    }
}

fn describe(rev: Option<&str>) -> String {
    rev.map_or_else(|| "nothing".to_owned(), |r| format!("`{r}`"))
}

/// A ring's rendered configs: (class, YAML).
pub type Rendered = [(String, String)];

/// A ring's rendered configs a round of classes at a time, rendered as they
/// are pulled: a target that writes each round before taking the next holds
/// one round's texts, not the ring's. An error is a class that did not render.
pub type Rounds<'a> = dyn Iterator<Item = anyhow::Result<Vec<(String, String)>>> + 'a;

/// One delivery that passed the compare: the ring moves from `previous` to
/// `revision`, with the configs rendered at `revision`.
pub struct Delivery<'a> {
    pub ring: &'a str,
    pub previous: Option<&'a str>,
    pub revision: &'a str,
    pub configs: &'a mut Rounds<'a>,
}

impl Delivery<'_> {
    /// Every round at once, for a target that needs the whole ring.
    pub(crate) fn all_configs(&mut self) -> anyhow::Result<Vec<(String, String)>> {
        let mut all = Vec::new();
        for round in &mut *self.configs {
            all.extend(round?);
        }
        Ok(all)
    }
}

pub trait DeliveryTarget {
    /// The revision the ring holds now, if any.
    fn current(&self, ring: &str) -> anyhow::Result<Option<String>>;

    /// Moves the ring from `previous` to `revision`: the compare-and-set
    /// every target shares, then the target's own [`write`](Self::write).
    /// Idempotent: a ring that already holds `revision` is left alone.
    fn deliver(
        &self,
        ring: &str,
        previous: Option<&str>,
        revision: &str,
        configs: &Rendered,
    ) -> Result<Delivered, DeliveryError> {
        let mut one_round = std::iter::once(Ok(configs.to_vec()));
        self.deliver_rounds(ring, previous, revision, &mut one_round)
    }

    /// [`deliver`](Self::deliver) with the configs pulled a round at a time
    /// (rendered as the target writes), and only once the compare passed.
    fn deliver_rounds(
        &self,
        ring: &str,
        previous: Option<&str>,
        revision: &str,
        configs: &mut Rounds<'_>,
    ) -> Result<Delivered, DeliveryError> {
        let current = self.current(ring)?;
        if current.as_deref() == Some(revision) {
            return Ok(Delivered::AlreadyThere);
        }
        if current.as_deref() != previous {
            return Err(self.conflict(ring, previous, current.as_deref()));
        }
        self.write(&mut Delivery {
            ring,
            previous,
            revision,
            configs,
        })
    }

    /// Writes a delivery to a ring just seen holding `delivery.previous`
    /// (a target that can compare again as it writes does: another process
    /// may have moved the ring since).
    fn write(&self, delivery: &mut Delivery<'_>) -> Result<Delivered, DeliveryError>;

    /// The ring holds `found` where `expected` was asked for: how this
    /// target names that.
    fn conflict(&self, ring: &str, expected: Option<&str>, found: Option<&str>) -> DeliveryError {
        match DeliveryError::conflict(ring, expected, found) {
            DeliveryError::Conflict {
                ring,
                expected,
                found,
            } => DeliveryError::Conflict {
                found: format!("{found} ({})", self.describe_ring(&ring)),
                ring,
                expected,
            },
            other => other,
        }
    }

    /// Takes the ring's revision away (a rollback of a ring that held
    /// nothing before), if it still holds `expected`.
    fn withdraw(&self, ring: &str, expected: &str) -> Result<Delivered, DeliveryError>;

    /// Where this target writes, for messages.
    fn describe(&self) -> String;

    /// Where this target writes `ring`'s revision (the ref, directory or
    /// key prefix itself, never a `<ring>` placeholder): what a delivery,
    /// a conflict and `status` name.
    fn describe_ring(&self, ring: &str) -> String {
        let _ = ring;
        self.describe()
    }

    /// The rollout ids this target recorded deliveries for: a journal
    /// started afresh never hands one out again.
    fn used_rollouts(&self) -> anyhow::Result<Vec<String>> {
        Ok(Vec::new())
    }
}

/// Compare-and-set for taking a ring's revision away: only when the target
/// still holds `expected`; nothing to do when it holds nothing.
fn withdraw_cas(
    ring: &str,
    current: Option<String>,
    expected: &str,
    remove: impl FnOnce() -> anyhow::Result<()>,
) -> Result<Delivered, DeliveryError> {
    match current.as_deref() {
        None => Ok(Delivered::AlreadyThere),
        Some(c) if c == expected => {
            remove()?;
            Ok(Delivered::Moved)
        }
        Some(other) => Err(DeliveryError::conflict(ring, Some(expected), Some(other))),
    }
}

/// What a target is opened with besides its manifest section.
pub struct Context<'a> {
    /// The config repo's root: git refs live there; a `dir` path is relative to it.
    pub root: &'a Path,
    /// Deliveries are recorded as this rollout's (`""` records none).
    pub rollout: &'a str,
    /// This run's state store: etcd's TLS and user, and the lock whose
    /// fence guards every etcd delivery.
    pub state: &'a State,
}

/// The delivery target the manifest's `deliver:` section names.
pub fn from_config(
    config: &DeliverConfig,
    context: &Context<'_>,
) -> anyhow::Result<Box<dyn DeliveryTarget>> {
    match config {
        DeliverConfig::GitRefs => git_refs::from_config(context),
        DeliverConfig::Dir { path } => dir::from_config(path, context),
        DeliverConfig::Etcd { endpoints, prefix } => {
            etcd::from_config(endpoints, prefix.as_deref(), context)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::adapters::Located;
    use crate::diag::Pos;

    /// A config repo with one tracked file, and its (local) state store.
    fn repo() -> (tempfile::TempDir, State) {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        std::fs::write(dir.path().join("config/a.yaml"), "x: 1\n").unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("config/a.yaml")).unwrap();
        index.write().unwrap();
        let state = State::open(
            &crate::cli::EtcdArgs::default(),
            dir.path(),
            &dir.path().join(".git"),
        )
        .unwrap();
        (dir, state)
    }

    fn build(config: &DeliverConfig, root: &Path, state: &State) -> anyhow::Result<String> {
        let context = Context {
            root,
            rollout: "r-1",
            state,
        };
        from_config(config, &context).map(|t| t.describe())
    }

    fn dir_at(path: &str) -> DeliverConfig {
        DeliverConfig::Dir {
            path: Located {
                value: path.into(),
                pos: Pos::START,
            },
        }
    }

    #[test]
    fn each_deliver_kind_builds_its_target() {
        let (dir, state) = repo();
        let root = dir.path();
        assert_eq!(
            build(&DeliverConfig::GitRefs, root, &state).unwrap(),
            "git refs refs/rings/<ring>"
        );
        assert_eq!(
            build(&dir_at("out"), root, &state).unwrap(),
            format!("directory {}", root.join("out").display())
        );
        let etcd = DeliverConfig::Etcd {
            endpoints: vec!["http://127.0.0.1:1".into()],
            prefix: Some("/fleet/".into()),
        };
        let described = build(&etcd, root, &state).unwrap();
        assert!(
            described.starts_with("etcd http://127.0.0.1:1 /fleet/rings/<ring>/"),
            "{described}"
        );
    }

    /// Deliveries, conflicts and `status` name the ring's own ref, directory
    /// or key prefix, never the `<ring>` placeholder.
    #[test]
    fn each_target_names_the_place_it_delivers_a_ring_to() {
        let (dir, state) = repo();
        let root = dir.path();
        let context = Context {
            root,
            rollout: "r-1",
            state: &state,
        };
        let ring = |config: &DeliverConfig| {
            from_config(config, &context)
                .unwrap()
                .describe_ring("dogfood")
        };
        assert_eq!(ring(&DeliverConfig::GitRefs), "git ref refs/rings/dogfood");
        assert_eq!(ring(&dir_at("deploy/")), "directory deploy/dogfood/");
        let etcd = DeliverConfig::Etcd {
            endpoints: vec!["http://127.0.0.1:1".into()],
            prefix: Some("/fleet/".into()),
        };
        let described = ring(&etcd);
        assert!(
            described.starts_with("etcd http://127.0.0.1:1 /fleet/rings/dogfood/"),
            "{described}"
        );
        assert_eq!(MemoryTarget::new().describe_ring("dogfood"), "memory");
        // A conflict names it too (it goes into the halt's journaled reason).
        let refs = from_config(&DeliverConfig::GitRefs, &context).unwrap();
        let conflict = refs
            .conflict("dogfood", Some("aaa"), Some("bbb"))
            .to_string();
        assert!(
            conflict.contains("holds `bbb` (git ref refs/rings/dogfood)"),
            "{conflict}"
        );
    }

    #[test]
    fn a_dir_target_records_the_rollout_it_delivers_for() {
        let (dir, state) = repo();
        let context = Context {
            root: dir.path(),
            rollout: "r-7",
            state: &state,
        };
        let target = from_config(&dir_at("out"), &context).unwrap();
        target.deliver("ring", None, "v1", &[]).unwrap();
        assert_eq!(target.used_rollouts().unwrap(), vec!["r-7".to_owned()]);
    }

    #[test]
    fn bad_deliver_config_gives_the_messages_it_gave_in_the_command() {
        let (dir, state) = repo();
        let root = dir.path();
        let err = build(&dir_at("."), root, &state).unwrap_err().to_string();
        assert!(
            err.starts_with("ringmaster.yaml: `deliver.path` (")
                && err.contains("holds files the config repo tracks (config/a.yaml)"),
            "{err}"
        );
        let no_endpoints = DeliverConfig::Etcd {
            endpoints: Vec::new(),
            prefix: None,
        };
        assert_eq!(
            build(&no_endpoints, root, &state).unwrap_err().to_string(),
            "ringmaster.yaml: `deliver: {kind: etcd}` needs `endpoints`"
        );
        let not_a_url = DeliverConfig::Etcd {
            endpoints: vec!["e:2379".into()],
            prefix: None,
        };
        assert!(
            build(&not_a_url, root, &state)
                .unwrap_err()
                .to_string()
                .contains("is not a URL"),
        );
    }
}
