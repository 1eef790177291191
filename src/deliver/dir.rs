//! `deliver: {kind: dir, path: …}`: rendered configs in a directory per ring.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::adapters::Located;
use crate::deliver::{
    Context, Delivered, Delivery, DeliveryError, DeliveryTarget, Rendered, withdraw_cas,
};

/// `<out>/<ring>/<class>.yaml` and `<out>/<ring>/REVISION`. Every file is
/// written to a temp file and renamed into place; `REVISION` is written last,
/// so a reader keyed on it never sees a half-delivered ring.
///
/// `<out>/<ring>/.ringmaster-delivered` lists the files this target wrote
/// there: only those are ever removed (a class that left the ring, a
/// withdrawal). A file ringmaster did not write is never touched.
pub struct Dir {
    out: PathBuf,
    rollout: Option<String>,
    /// `out` as the manifest wrote it (relative to the repo root), for messages.
    shown: Option<String>,
}

/// What a ring directory holds from ringmaster: its files and the rollout.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct DeliveredFiles {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rollout: Option<String>,
    revision: String,
    files: Vec<String>,
}

const DELIVERED: &str = ".ringmaster-delivered";

/// A name this target could have written in a ring directory: a plain
/// `<class>.yaml`, never a path (the record is a file anyone may edit).
fn own_file_name(name: &str) -> bool {
    name.ends_with(".yaml")
        && !name.contains(['/', '\\', '\0'])
        && name != ".yaml"
        && !name.starts_with("..")
}

impl Dir {
    pub fn new(out: impl Into<PathBuf>) -> Dir {
        Dir {
            out: out.into(),
            rollout: None,
            shown: None,
        }
    }

    /// Messages name the directory as `deliver.path` wrote it.
    pub fn shown_as(mut self, path: &str) -> Dir {
        self.shown = Some(path.to_owned());
        self
    }

    /// Deliveries from now on are recorded as `rollout`'s.
    pub fn for_rollout(mut self, rollout: &str) -> Dir {
        self.rollout = Some(rollout.to_owned()).filter(|r| !r.is_empty());
        self
    }

    fn delivered(&self, ring: &str) -> anyhow::Result<DeliveredFiles> {
        let path = self.out.join(ring).join(DELIVERED);
        match fs::read_to_string(&path) {
            // An unreadable record removes nothing, rather than guess.
            Ok(t) => Ok(serde_json::from_str(&t).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DeliveredFiles::default()),
            Err(e) => {
                Err(anyhow::Error::from(e).context(format!("cannot read {}", path.display())))
            }
        }
    }
}

/// A file renamed into place, created with the user's umask (0666 masked),
/// like any file they write: an agent running as another user can read it.
fn write_atomic(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".ringmaster-")
        .permissions(fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(|e| {
            anyhow::Error::from(e).context(format!("cannot write in {}", dir.display()))
        })?;
    tmp.write_all(contents.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| {
        anyhow::Error::from(e.error).context(format!("cannot write {}", path.display()))
    })?;
    Ok(())
}

/// Class files written at once. Each is synced to disk before it is renamed
/// into place, and a sync waits for the disk: one at a time, a ring of
/// 10 000 classes waited on the disk 10 000 times in a row, while syncs in
/// flight together share the filesystem's journal commits.
const WRITERS: usize = 16;

/// Writes `configs[i]` to `dir/files[i]`, up to [`WRITERS`] at a time; all
/// are in place when it returns. On failure, the error of the first class
/// (in `configs` order) that failed, as one writer at a time would report.
fn write_class_files(dir: &Path, configs: &Rendered, files: &[String]) -> anyhow::Result<()> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let failed: Mutex<Option<(usize, anyhow::Error)>> = Mutex::new(None);
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let (Some((_, yaml)), Some(name)) = (configs.get(i), files.get(i)) else {
                return;
            };
            if let Err(e) = write_atomic(&dir.join(name), yaml) {
                let mut failed = failed.lock().unwrap_or_else(|p| p.into_inner());
                if failed.as_ref().is_none_or(|(at, _)| i < *at) {
                    *failed = Some((i, e));
                }
                // Classes after this one are left alone (those already
                // taken are finished): the delivery stops here.
                next.fetch_max(configs.len(), Ordering::Relaxed);
                return;
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..WRITERS.min(configs.len()) {
            // Fewer writers if a thread cannot start; this one always works.
            let _ = std::thread::Builder::new().spawn_scoped(scope, work);
        }
        work();
    });
    match failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

fn remove_if_there(path: &Path) -> anyhow::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(anyhow::Error::from(e).context(format!("cannot remove {}", path.display()))),
    }
}

impl DeliveryTarget for Dir {
    fn current(&self, ring: &str) -> anyhow::Result<Option<String>> {
        match fs::read_to_string(self.out.join(ring).join("REVISION")) {
            Ok(t) => Ok(Some(t.trim().to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn write(&self, delivery: &mut Delivery<'_>) -> Result<Delivered, DeliveryError> {
        let dir = self.out.join(delivery.ring);
        fs::create_dir_all(&dir).map_err(|e| {
            anyhow::Error::from(e).context(format!("cannot create {}", dir.display()))
        })?;
        let before = self.delivered(delivery.ring)?;
        // A round at a time: its files are in place (synced, renamed) before
        // the next round is rendered, so only one round's texts are held.
        let mut files: Vec<String> = Vec::new();
        for round in &mut *delivery.configs {
            let round = round?;
            let names: Vec<String> = round.iter().map(|(c, _)| format!("{c}.yaml")).collect();
            write_class_files(&dir, &round, &names)?;
            files.extend(names);
        }
        // Classes that left the ring are removed before the revision flips:
        // only files this target wrote, never one it did not.
        let wanted: std::collections::HashSet<&String> = files.iter().collect();
        for old in before.files.iter().filter(|f| own_file_name(f)) {
            if !wanted.contains(old) {
                remove_if_there(&dir.join(old))?;
            }
        }
        let record = DeliveredFiles {
            rollout: self.rollout.clone().or(before.rollout),
            revision: delivery.revision.to_owned(),
            files,
        };
        let record = serde_json::to_string_pretty(&record).map_err(anyhow::Error::from)?;
        write_atomic(&dir.join(DELIVERED), &format!("{record}\n"))?;
        write_atomic(&dir.join("REVISION"), &format!("{}\n", delivery.revision))?;
        Ok(Delivered::Moved)
    }

    fn withdraw(&self, ring: &str, expected: &str) -> Result<Delivered, DeliveryError> {
        withdraw_cas(ring, self.current(ring)?, expected, || {
            // REVISION goes first: a reader never sees files without it.
            let dir = self.out.join(ring);
            let delivered = self.delivered(ring)?;
            remove_if_there(&dir.join("REVISION"))?;
            for name in delivered.files.iter().filter(|f| own_file_name(f)) {
                remove_if_there(&dir.join(name))?;
            }
            // The record goes too, unless it names a rollout id to keep
            // (then it lists no files: none of them are ours any more).
            match delivered.rollout {
                None => remove_if_there(&dir.join(DELIVERED))?,
                Some(rollout) => {
                    let kept = DeliveredFiles {
                        rollout: Some(rollout),
                        revision: String::new(),
                        files: Vec::new(),
                    };
                    write_atomic(
                        &dir.join(DELIVERED),
                        &format!("{}\n", serde_json::to_string_pretty(&kept)?),
                    )?;
                }
            }
            // Only an empty directory: anything else in it is not ours.
            let _ = fs::remove_dir(&dir);
            Ok(())
        })
    }

    fn describe(&self) -> String {
        format!("directory {}", self.out.display())
    }

    fn describe_ring(&self, ring: &str) -> String {
        let dir = self
            .shown
            .clone()
            .unwrap_or_else(|| self.out.display().to_string());
        format!("directory {}/{ring}/", dir.trim_end_matches(['/', '\\']))
    }

    fn used_rollouts(&self) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::new();
        let Ok(rings) = fs::read_dir(&self.out) else {
            return Ok(out);
        };
        for ring in rings.flatten() {
            let name = ring.file_name().to_string_lossy().into_owned();
            if let Some(id) = self.delivered(&name).ok().and_then(|d| d.rollout) {
                out.push(id);
            }
        }
        Ok(out)
    }
}

/// Refuses a `dir` delivery path that holds files the config repo tracks:
/// delivering there would overwrite or delete them (`path: .` and a ring
/// named `config` once deleted the repo's own layers).
pub fn refuse_tracked(repo_root: &Path, out: &Path) -> anyhow::Result<()> {
    let root = fs::canonicalize(repo_root).unwrap_or_else(|_| repo_root.to_path_buf());
    // The nearest existing ancestor resolves symlinks; the rest is lexical.
    let mut existing = out.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_owned());
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut resolved = fs::canonicalize(&existing).unwrap_or(existing);
    for part in rest.iter().rev() {
        match part.to_str() {
            Some("..") => {
                resolved.pop();
            }
            Some(".") => {}
            _ => resolved.push(part),
        }
    }
    let Ok(inside) = resolved.strip_prefix(&root) else {
        return Ok(());
    };
    let repo = crate::source::open_repository(repo_root)?;
    let index = repo.index()?;
    let inside = inside.to_string_lossy().replace('\\', "/");
    let tracked = index.iter().find_map(|e| {
        let path = String::from_utf8_lossy(&e.path).into_owned();
        let under = inside.is_empty()
            || path == inside
            || path.starts_with(&format!("{}/", inside.trim_end_matches('/')));
        under.then_some(path)
    });
    match tracked {
        Some(path) => Err(crate::exit::Failure::usage(format!(
            "ringmaster.yaml: `deliver.path` ({}) holds files the config repo tracks ({path}): a delivery there would overwrite or delete them, so nothing was delivered; deliver to a directory outside the repo, or to an untracked, ignored one",
            out.display()
        ))),
        None => Ok(()),
    }
}

/// The directory `deliver.path` names, relative to the repo root; never
/// one holding files the repo tracks.
pub(crate) fn from_config(
    path: &Located,
    context: &Context<'_>,
) -> anyhow::Result<Box<dyn DeliveryTarget>> {
    let out = context.root.join(&path.value);
    refuse_tracked(context.root, &out)?;
    Ok(Box::new(
        Dir::new(out)
            .shown_as(&path.value)
            .for_rollout(context.rollout),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ring's classes arrive a round at a time: each round's files are in
    /// place before the next round is rendered, REVISION only after the last
    /// one, and a later round that fails to render leaves the revision alone.
    #[test]
    fn dir_writes_each_round_before_the_next_is_rendered_and_revision_last() {
        let out = tempfile::tempdir().unwrap();
        let target = Dir::new(out.path());
        let ring = out.path().join("ring");
        let mut pulled = 0;
        let mut rounds = std::iter::from_fn(|| {
            pulled += 1;
            match pulled {
                1 => Some(Ok(vec![("a".to_owned(), "x: 1\n".to_owned())])),
                2 => {
                    assert_eq!(fs::read_to_string(ring.join("a.yaml")).unwrap(), "x: 1\n");
                    assert!(!ring.join("REVISION").exists());
                    Some(Ok(vec![("b".to_owned(), "x: 2\n".to_owned())]))
                }
                _ => None,
            }
        });
        assert_eq!(
            target
                .deliver_rounds("ring", None, "r1", &mut rounds)
                .unwrap(),
            Delivered::Moved
        );
        assert_eq!(pulled, 3);
        assert_eq!(fs::read_to_string(ring.join("b.yaml")).unwrap(), "x: 2\n");
        assert_eq!(target.current("ring").unwrap().as_deref(), Some("r1"));

        let mut failing = vec![
            Ok(vec![("a".to_owned(), "x: 3\n".to_owned())]),
            Err(anyhow::anyhow!("class b does not merge")),
        ]
        .into_iter();
        let err = target
            .deliver_rounds("ring", Some("r1"), "r2", &mut failing)
            .unwrap_err();
        assert!(err.to_string().contains("class b does not merge"), "{err}");
        assert_eq!(target.current("ring").unwrap().as_deref(), Some("r1"));
        // The record still names both classes: a redelivery converges.
        assert_eq!(
            target.delivered("ring").unwrap().files,
            vec!["a.yaml".to_owned(), "b.yaml".to_owned()]
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
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names.contains(&DELIVERED.to_owned()), "{names:?}");
    }

    /// Class files are written several at a time: every one lands whole,
    /// and a redelivery removes exactly the classes that left.
    #[test]
    fn a_ring_of_many_classes_lands_whole_and_departed_classes_go() {
        let out = tempfile::tempdir().unwrap();
        let target = Dir::new(out.path());
        let configs: Vec<(String, String)> = (0..300)
            .map(|i| (format!("c{i:03}"), format!("x: {i}\nname: c{i:03}\n")))
            .collect();
        target.deliver("big", None, "r1", &configs).unwrap();
        for (class, yaml) in &configs {
            assert_eq!(
                fs::read_to_string(out.path().join(format!("big/{class}.yaml"))).unwrap(),
                *yaml
            );
        }
        let kept: Vec<(String, String)> = configs.iter().skip(100).cloned().collect();
        target.deliver("big", Some("r1"), "r2", &kept).unwrap();
        let mut names: Vec<String> = fs::read_dir(out.path().join("big"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('c'))
            .collect();
        names.sort();
        let want: Vec<String> = kept.iter().map(|(c, _)| format!("{c}.yaml")).collect();
        assert_eq!(names, want);
        assert_eq!(target.current("big").unwrap().as_deref(), Some("r2"));
    }

    /// A class file that cannot be written stops the delivery before the
    /// revision moves, and the error names the first such class in order.
    #[test]
    fn a_class_that_cannot_be_written_names_the_first_and_leaves_the_revision() {
        let out = tempfile::tempdir().unwrap();
        let target = Dir::new(out.path());
        // A directory where two class files go: renaming onto it fails.
        fs::create_dir_all(out.path().join("ring/c040.yaml/x")).unwrap();
        fs::create_dir_all(out.path().join("ring/c090.yaml/x")).unwrap();
        let configs: Vec<(String, String)> = (0..100)
            .map(|i| (format!("c{i:03}"), format!("x: {i}\n")))
            .collect();
        let err = target
            .deliver("ring", None, "r1", &configs)
            .unwrap_err()
            .to_string();
        assert!(err.contains("c040.yaml"), "{err}");
        assert_eq!(target.current("ring").unwrap(), None);
    }

    #[test]
    fn dir_never_removes_a_file_it_did_not_write_even_when_its_record_is_edited() {
        let out = tempfile::tempdir().unwrap();
        let target = Dir::new(out.path()).for_rollout("r-1");
        fs::create_dir_all(out.path().join("ring")).unwrap();
        fs::write(out.path().join("ring/theirs.yaml"), "t: 1\n").unwrap();
        fs::write(out.path().join("outside.yaml"), "o: 1\n").unwrap();
        let first = [("a".to_string(), "x: 1\n".to_string())];
        target.deliver("ring", None, "r1", &first).unwrap();
        // A hostile record: paths out of the ring directory are not ours.
        fs::write(
            out.path().join("ring").join(DELIVERED),
            r#"{"revision":"r1","files":["../outside.yaml","a.yaml"]}"#,
        )
        .unwrap();
        let second = [("b".to_string(), "x: 2\n".to_string())];
        target.deliver("ring", Some("r1"), "r2", &second).unwrap();
        assert!(out.path().join("outside.yaml").exists());
        assert!(!out.path().join("ring/a.yaml").exists());
        assert!(out.path().join("ring/theirs.yaml").exists());
        target.withdraw("ring", "r2").unwrap();
        assert!(!out.path().join("ring/b.yaml").exists());
        assert!(out.path().join("ring/theirs.yaml").exists());
        assert_eq!(target.current("ring").unwrap(), None);
        assert_eq!(target.used_rollouts().unwrap(), vec!["r-1".to_owned()]);
    }
}
