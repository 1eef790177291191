//! Delivery targets: where a ring's revision and rendered configs are
//! published (SPEC §7). One trait, one implementation per kind.
//!
//! Every delivery is a compare-and-set on the ring's previous revision, so a
//! target moved behind ringmaster's back is a conflict (never overwritten),
//! and idempotent, so a driver killed mid-delivery can simply deliver again.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository};

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

fn describe(rev: Option<&str>) -> String {
    rev.map_or_else(|| "nothing".to_owned(), |r| format!("`{r}`"))
}

/// A ring's rendered configs: (class, YAML).
pub type Rendered = [(String, String)];

pub trait DeliveryTarget {
    /// The revision the ring holds now, if any.
    fn current(&self, ring: &str) -> anyhow::Result<Option<String>>;

    /// Moves the ring from `previous` to `revision`.
    fn deliver(
        &self,
        ring: &str,
        previous: Option<&str>,
        revision: &str,
        configs: &Rendered,
    ) -> Result<Delivered, DeliveryError>;

    /// Takes the ring's revision away (a rollback of a ring that held
    /// nothing before), if it still holds `expected`.
    fn withdraw(&self, ring: &str, expected: &str) -> Result<Delivered, DeliveryError>;

    /// Where this target writes, for messages.
    fn describe(&self) -> String;
}

/// Compare-and-set shared by the targets: `Ok(true)` when the target needs
/// moving, `Ok(false)` when it already holds `revision`.
fn cas(
    ring: &str,
    current: Option<&str>,
    previous: Option<&str>,
    revision: &str,
) -> Result<bool, DeliveryError> {
    if current == Some(revision) {
        return Ok(false);
    }
    if current != previous {
        return Err(DeliveryError::Conflict {
            ring: ring.to_owned(),
            expected: describe(previous),
            found: describe(current),
        });
    }
    Ok(true)
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
        Some(other) => Err(DeliveryError::Conflict {
            ring: ring.to_owned(),
            expected: describe(Some(expected)),
            found: describe(Some(other)),
        }),
    }
}

/// `refs/rings/<ring>` in the config repo, pointing at the revision's commit:
/// what GitOps tools and fleet agents follow.
pub struct GitRefs {
    repo: Repository,
    prefix: String,
}

impl GitRefs {
    pub fn open(config_root: &Path) -> anyhow::Result<GitRefs> {
        Ok(GitRefs {
            repo: crate::source::open_repository(config_root)?,
            prefix: "refs/rings/".into(),
        })
    }

    fn name(&self, ring: &str) -> String {
        format!("{}{ring}", self.prefix)
    }
}

impl DeliveryTarget for GitRefs {
    fn current(&self, ring: &str) -> anyhow::Result<Option<String>> {
        match self.repo.find_reference(&self.name(ring)) {
            Ok(r) => Ok(r.target().map(|o| o.to_string())),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn deliver(
        &self,
        ring: &str,
        previous: Option<&str>,
        revision: &str,
        _configs: &Rendered,
    ) -> Result<Delivered, DeliveryError> {
        let current = self.current(ring)?;
        if !cas(ring, current.as_deref(), previous, revision)? {
            return Ok(Delivered::AlreadyThere);
        }
        let new = Oid::from_str(revision).map_err(anyhow::Error::from)?;
        let message = format!("ringmaster: deliver {revision} to ring {ring}");
        let name = self.name(ring);
        // libgit2 checks the old value under the ref's lock: the compare and
        // the set are one step, even against another process.
        let result = match previous {
            Some(old) => {
                let old = Oid::from_str(old).map_err(anyhow::Error::from)?;
                self.repo
                    .reference_matching(&name, new, true, old, &message)
                    .map(|_| ())
            }
            None => self.repo.reference(&name, new, false, &message).map(|_| ()),
        };
        match result {
            Ok(()) => Ok(Delivered::Moved),
            Err(e)
                if matches!(
                    e.code(),
                    git2::ErrorCode::Modified | git2::ErrorCode::Exists
                ) =>
            {
                let found = self.current(ring)?;
                Err(DeliveryError::Conflict {
                    ring: ring.to_owned(),
                    expected: describe(previous),
                    found: describe(found.as_deref()),
                })
            }
            Err(e) => Err(DeliveryError::Other(e.into())),
        }
    }

    fn withdraw(&self, ring: &str, expected: &str) -> Result<Delivered, DeliveryError> {
        withdraw_cas(ring, self.current(ring)?, expected, || {
            let mut reference = self.repo.find_reference(&self.name(ring))?;
            reference.delete()?;
            Ok(())
        })
    }

    fn describe(&self) -> String {
        format!("git refs {}<ring>", self.prefix)
    }
}

/// `<out>/<ring>/<class>.yaml` and `<out>/<ring>/REVISION`. Every file is
/// written to a temp file and renamed into place; `REVISION` is written last,
/// so a reader keyed on it never sees a half-delivered ring.
pub struct Dir {
    out: PathBuf,
}

impl Dir {
    pub fn new(out: impl Into<PathBuf>) -> Dir {
        Dir { out: out.into() }
    }
}

fn write_atomic(path: &Path, contents: &str) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(contents.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

impl DeliveryTarget for Dir {
    fn current(&self, ring: &str) -> anyhow::Result<Option<String>> {
        match fs::read_to_string(self.out.join(ring).join("REVISION")) {
            Ok(t) => Ok(Some(t.trim().to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn deliver(
        &self,
        ring: &str,
        previous: Option<&str>,
        revision: &str,
        configs: &Rendered,
    ) -> Result<Delivered, DeliveryError> {
        let current = self.current(ring)?;
        if !cas(ring, current.as_deref(), previous, revision)? {
            return Ok(Delivered::AlreadyThere);
        }
        let dir = self.out.join(ring);
        fs::create_dir_all(&dir).map_err(anyhow::Error::from)?;
        for (class, yaml) in configs {
            write_atomic(&dir.join(format!("{class}.yaml")), yaml)?;
        }
        // Classes that left the ring are removed before the revision flips.
        let keep: Vec<String> = configs.iter().map(|(c, _)| format!("{c}.yaml")).collect();
        for entry in fs::read_dir(&dir).map_err(anyhow::Error::from)? {
            let entry = entry.map_err(anyhow::Error::from)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".yaml") && !keep.contains(&name) {
                fs::remove_file(entry.path()).map_err(anyhow::Error::from)?;
            }
        }
        write_atomic(&dir.join("REVISION"), &format!("{revision}\n"))?;
        Ok(Delivered::Moved)
    }

    fn withdraw(&self, ring: &str, expected: &str) -> Result<Delivered, DeliveryError> {
        withdraw_cas(ring, self.current(ring)?, expected, || {
            // REVISION goes first: a reader never sees files without it.
            let dir = self.out.join(ring);
            fs::remove_file(dir.join("REVISION"))?;
            fs::remove_dir_all(&dir)?;
            Ok(())
        })
    }

    fn describe(&self) -> String {
        format!("directory {}", self.out.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(repo: &Repository, msg: &str) -> String {
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let tree_id = repo.index().unwrap().write_tree().unwrap();
        let tree = repo.find_tree(tree_id).unwrap();
        let parents: Vec<git2::Commit<'_>> = repo
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .into_iter()
            .collect();
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, msg, &tree, &parents)
            .unwrap()
            .to_string()
    }

    #[test]
    fn git_refs_compare_and_set() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let (a, b, c) = (commit(&repo, "a"), commit(&repo, "b"), commit(&repo, "c"));
        let target = GitRefs::open(dir.path()).unwrap();
        assert_eq!(target.current("dogfood").unwrap(), None);
        assert_eq!(
            target.deliver("dogfood", None, &a, &[]).unwrap(),
            Delivered::Moved
        );
        assert_eq!(
            target.current("dogfood").unwrap().as_deref(),
            Some(a.as_str())
        );
        // A re-run after a crash is a no-op, not a second delivery.
        assert_eq!(
            target.deliver("dogfood", None, &a, &[]).unwrap(),
            Delivered::AlreadyThere
        );
        assert_eq!(
            target.deliver("dogfood", Some(&a), &b, &[]).unwrap(),
            Delivered::Moved
        );
        // Someone moves the ref behind our back: the next delivery refuses.
        repo.reference(
            "refs/rings/dogfood",
            Oid::from_str(&c).unwrap(),
            true,
            "manual",
        )
        .unwrap();
        let err = target.deliver("dogfood", Some(&b), &a, &[]).unwrap_err();
        assert!(matches!(err, DeliveryError::Conflict { .. }), "{err}");
        assert!(
            err.to_string().contains("behind ringmaster's back"),
            "{err}"
        );
        assert_eq!(
            target.current("dogfood").unwrap().as_deref(),
            Some(c.as_str())
        );
    }

    #[test]
    fn dir_writes_configs_then_revision_and_removes_departed_classes() {
        let out = tempfile::tempdir().unwrap();
        let target = Dir::new(out.path());
        let first = [
            ("a".to_string(), "x: 1\n".to_string()),
            ("b".to_string(), "x: 2\n".to_string()),
        ];
        assert_eq!(
            target.deliver("multi", None, "r1", &first).unwrap(),
            Delivered::Moved
        );
        assert_eq!(
            fs::read_to_string(out.path().join("multi/a.yaml")).unwrap(),
            "x: 1\n"
        );
        assert_eq!(target.current("multi").unwrap().as_deref(), Some("r1"));
        let second = [("a".to_string(), "x: 3\n".to_string())];
        assert_eq!(
            target.deliver("multi", Some("r1"), "r2", &second).unwrap(),
            Delivered::Moved
        );
        assert!(!out.path().join("multi/b.yaml").exists());
        assert_eq!(
            fs::read_to_string(out.path().join("multi/a.yaml")).unwrap(),
            "x: 3\n"
        );
        assert_eq!(
            target.deliver("multi", Some("r1"), "r2", &second).unwrap(),
            Delivered::AlreadyThere
        );
        let err = target
            .deliver("multi", Some("r1"), "r3", &second)
            .unwrap_err();
        assert!(matches!(err, DeliveryError::Conflict { .. }));
        // No temp files are left behind.
        let names: Vec<_> = fs::read_dir(out.path().join("multi"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }
}
