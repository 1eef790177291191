//! `deliver: {kind: git-refs}` (the default): a ref per ring in the config
//! repo, which GitOps tools and fleet agents follow.

use std::path::Path;

use git2::{Oid, Repository};

use crate::deliver::{Context, Delivered, Delivery, DeliveryError, DeliveryTarget, withdraw_cas};

/// `refs/rings/<ring>` in the config repo, pointing at the revision's commit:
/// what GitOps tools and fleet agents follow.
pub struct GitRefs {
    repo: Repository,
    prefix: String,
    /// The rollout that delivers: `refs/ringmaster/rollouts/<id>` records it.
    rollout: Option<String>,
}

/// Where the git-refs target records which rollout ids delivered.
const ROLLOUT_REFS: &str = "refs/ringmaster/rollouts/";

impl GitRefs {
    pub fn open(config_root: &Path) -> anyhow::Result<GitRefs> {
        Ok(GitRefs {
            repo: crate::source::open_repository(config_root)?,
            prefix: "refs/rings/".into(),
            rollout: None,
        })
    }

    /// Deliveries from now on are recorded as `rollout`'s.
    pub fn for_rollout(mut self, rollout: &str) -> GitRefs {
        self.rollout = Some(rollout.to_owned()).filter(|r| !r.is_empty());
        self
    }

    /// Records that `rollout` delivered `revision` (a ref per rollout id;
    /// a journal started afresh reads them back).
    fn record_rollout(&self, revision: Oid) -> anyhow::Result<()> {
        let Some(id) = &self.rollout else {
            return Ok(());
        };
        let name = format!("{ROLLOUT_REFS}{id}");
        if git2::Reference::is_valid_name(&name) {
            self.repo
                .reference(&name, revision, true, "ringmaster: rollout id used")?;
        }
        Ok(())
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

    fn write(&self, delivery: &mut Delivery<'_>) -> Result<Delivered, DeliveryError> {
        // The ref is the revision itself, but a class that does not render
        // still stops the delivery: each round is rendered and let go.
        for round in &mut *delivery.configs {
            round?;
        }
        let new = Oid::from_str(delivery.revision).map_err(anyhow::Error::from)?;
        let message = format!(
            "ringmaster: deliver {} to ring {}",
            delivery.revision, delivery.ring
        );
        let name = self.name(delivery.ring);
        // libgit2 checks the old value under the ref's lock: the compare and
        // the set are one step, even against another process.
        let result = match delivery.previous {
            Some(old) => {
                let old = Oid::from_str(old).map_err(anyhow::Error::from)?;
                self.repo
                    .reference_matching(&name, new, true, old, &message)
                    .map(|_| ())
            }
            None => self.repo.reference(&name, new, false, &message).map(|_| ()),
        };
        match result {
            Ok(()) => {
                self.record_rollout(new)?;
                Ok(Delivered::Moved)
            }
            Err(e)
                if matches!(
                    e.code(),
                    git2::ErrorCode::Modified | git2::ErrorCode::Exists
                ) =>
            {
                let found = self.current(delivery.ring)?;
                Err(self.conflict(delivery.ring, delivery.previous, found.as_deref()))
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

    fn describe_ring(&self, ring: &str) -> String {
        format!("git ref {}", self.name(ring))
    }

    fn used_rollouts(&self) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::new();
        for name in self
            .repo
            .references_glob(&format!("{ROLLOUT_REFS}*"))?
            .names()
        {
            if let Some(id) = name?.strip_prefix(ROLLOUT_REFS) {
                out.push(id.to_owned());
            }
        }
        Ok(out)
    }
}

/// The git-refs target of the repo at `context.root`.
pub(crate) fn from_config(context: &Context<'_>) -> anyhow::Result<Box<dyn DeliveryTarget>> {
    Ok(Box::new(
        GitRefs::open(context.root)?.for_rollout(context.rollout),
    ))
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
}
