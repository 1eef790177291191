//! Git-backed views, read straight from the object database with git2: no
//! checkout, and the working tree is never touched.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, anyhow};
use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};

use super::{OutsideRepo, Source, confine, normalize};

/// Opens the git repository that contains `dir`.
pub fn open_repository(dir: &Path) -> anyhow::Result<Repository> {
    Repository::discover(dir)
        .with_context(|| format!("{} is not inside a git repository", dir.display()))
}

/// Git's file mode of a symbolic link.
const LINK_MODE: i32 = 0o120000;

/// A map of path → blob, read lazily from one repository. `git2::Repository`
/// is not `Sync`, so reads go through a mutex; object reads are fast enough
/// that parsing, not reading, dominates.
struct Blobs {
    repo: Mutex<Repository>,
    /// Repo-relative path of the config repo inside the git repository
    /// ("" when the manifest sits at the git root).
    prefix: String,
    files: BTreeMap<String, Oid>,
    /// Symbolic links (mode 120000): path → the link's text. A link is never
    /// read as a file: one to a file inside the config repo reads as that
    /// file (it is added to `files`), one that leads outside is refused, as
    /// in the working tree.
    links: BTreeMap<String, String>,
}

/// How many links a path may go through before it counts as a loop.
const MAX_LINK_HOPS: usize = 16;

impl Blobs {
    /// No files yet, read through a handle of its own on `repo`.
    fn empty(repo: &Repository, prefix: String) -> anyhow::Result<Blobs> {
        Ok(Blobs {
            repo: Mutex::new(Repository::open(repo.path())?),
            prefix,
            files: BTreeMap::new(),
            links: BTreeMap::new(),
        })
    }

    fn insert_link(&mut self, git_path: &str, target: &[u8]) {
        if let Some(rel) = strip_prefix(git_path, &self.prefix) {
            self.links
                .insert(rel.to_owned(), String::from_utf8_lossy(target).into_owned());
        }
    }

    /// Where a link's text leads, relative to the config root.
    fn link_target(link: &str, text: &str) -> Result<String, OutsideRepo> {
        let outside = || OutsideRepo {
            path: link.to_owned(),
        };
        if text.starts_with('/') {
            return Err(outside());
        }
        let dir = link.rsplit_once('/').map_or("", |(d, _)| d);
        confine(&format!("{dir}/{text}")).map_err(|_| outside())
    }

    /// The blob `path` reads as: `Ok(None)` when there is none, `Err` when
    /// it leads outside the config repo.
    fn locate(&self, path: &str) -> Result<Option<Oid>, OutsideRepo> {
        let Some(current) = self.resolve(path)? else {
            return Ok(None);
        };
        Ok(self.files.get(&current).copied())
    }

    /// `path` with every symbolic link on the way replaced by its target, as
    /// the working tree's file system resolves it: a link to a directory
    /// inside the repo is entered (Ansible's and Puppet's repos link shared
    /// `group_vars/` and data directories), one that leads outside is
    /// refused, and a chain longer than [`MAX_LINK_HOPS`] resolves to nothing.
    fn resolve(&self, path: &str) -> Result<Option<String>, OutsideRepo> {
        let outside = || OutsideRepo {
            path: path.to_owned(),
        };
        let mut current = confine(path).map_err(|_| outside())?;
        if self.links.is_empty() {
            return Ok(Some(current));
        }
        'hops: for _ in 0..MAX_LINK_HOPS {
            let mut end = 0;
            while end < current.len() {
                end = current[end..].find('/').map_or(current.len(), |i| end + i);
                let prefix = &current[..end];
                if let Some(text) = self.links.get(prefix) {
                    let target = Self::link_target(prefix, text).map_err(|_| outside())?;
                    current = format!("{target}{}", &current[end..]);
                    current = confine(&current).map_err(|_| outside())?;
                    continue 'hops;
                }
                end += 1;
            }
            return Ok(Some(current));
        }
        Ok(None)
    }

    /// Adds every link that leads to a file inside the config repo to
    /// `files`, so listing and reading agree on it.
    fn resolve_links(&mut self) {
        let resolved: Vec<(String, Oid)> = self
            .links
            .keys()
            .filter_map(|link| Some((link.clone(), self.locate(link).ok()??)))
            .collect();
        self.files.extend(resolved);
    }

    fn resolves_outside(&self, path: &str) -> bool {
        self.locate(path).is_err()
    }

    fn links_outside(&self) -> Vec<String> {
        self.links
            .keys()
            .filter(|link| self.locate(link).is_err())
            .cloned()
            .collect()
    }

    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        let Some(oid) = self.locate(path).map_err(|e| OutsideRepo::error(&e.path))? else {
            return Ok(None);
        };
        let repo = self
            .repo
            .lock()
            .map_err(|_| io::Error::other("git repository lock poisoned"))?;
        let blob = repo.find_blob(oid).map_err(io::Error::other)?;
        Ok(Some(blob.content().to_vec()))
    }

    /// A blob's size from its object header, without inflating it.
    fn size(&self, path: &str) -> io::Result<Option<u64>> {
        let found = match self.files.get(path) {
            Some(oid) => Some(*oid),
            None => self.locate(path).ok().flatten(),
        };
        let Some(oid) = found else {
            return Ok(None);
        };
        let repo = self
            .repo
            .lock()
            .map_err(|_| io::Error::other("git repository lock poisoned"))?;
        let (size, _) = repo
            .odb()
            .and_then(|odb| odb.read_header(oid))
            .map_err(io::Error::other)?;
        Ok(Some(size as u64))
    }

    /// The files under a directory, found by range rather than a scan (a
    /// hierarchy may ask about one directory per class), `dir` being a real
    /// directory (see [`Blobs::list_dir`] for one reached through a link).
    fn under<'a>(&'a self, dir: &str) -> impl Iterator<Item = &'a String> + 'a {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        self.files
            .range(prefix.clone()..)
            .map(|(path, _)| path)
            .take_while(move |path| path.starts_with(&prefix))
    }

    /// The files under `dir`, named under `dir` even when it is (or lies
    /// under) a link to a directory inside the repo; nothing when it leads
    /// outside.
    fn list_dir(&self, dir: &str) -> anyhow::Result<Vec<String>> {
        let Ok(Some(real)) = self.resolve(dir) else {
            return Ok(Vec::new());
        };
        let shown = normalize(dir);
        if real == shown {
            return Ok(self.under(&real).cloned().collect());
        }
        let real_prefix = format!("{}/", real.trim_end_matches('/'));
        Ok(self
            .under(&real)
            .filter_map(|p| p.strip_prefix(&real_prefix))
            .map(|rest| format!("{}/{rest}", shown.trim_end_matches('/')))
            .collect())
    }

    fn insert(&mut self, git_path: &str, oid: Oid) {
        if let Some(rel) = strip_prefix(git_path, &self.prefix) {
            self.files.insert(rel.to_owned(), oid);
        }
    }
}

fn strip_prefix<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix.is_empty() {
        Some(path)
    } else {
        path.strip_prefix(prefix)?.strip_prefix('/')
    }
}

/// Where the config repo root sits inside the git work tree.
fn config_prefix(repo: &Repository, config_root: &Path) -> anyhow::Result<String> {
    let workdir = repo
        .workdir()
        .ok_or_else(|| anyhow!("the git repository is bare"))?;
    let workdir = workdir.canonicalize()?;
    let root = config_root.canonicalize()?;
    let rel = root.strip_prefix(&workdir).map_err(|_| {
        anyhow!(
            "{} is outside the git work tree {}",
            root.display(),
            workdir.display()
        )
    })?;
    Ok(super::slash_path(rel))
}

/// The tree of one revision.
pub struct GitRevision {
    blobs: Blobs,
    rev: String,
    commit: Oid,
}

impl GitRevision {
    /// Resolves `rev` (a branch, tag, sha, `HEAD~2`, …) in the repository at `config_root`.
    pub fn open(config_root: &Path, rev: &str) -> anyhow::Result<Self> {
        let repo = open_repository(config_root)?;
        let prefix = config_prefix(&repo, config_root)?;
        let object = repo
            .revparse_single(rev)
            .map_err(|e| anyhow!("unknown revision `{rev}`: {}", e.message()))?;
        let commit = object.peel_to_commit().map_err(|e| {
            match object.kind() {
                Some(kind @ (ObjectType::Tree | ObjectType::Blob)) => anyhow!(
                    "`{rev}` is a {kind}, not a commit: pass a commit (a branch, a tag, a sha or `HEAD~1`)"
                ),
                _ => anyhow!("`{rev}` is not a commit: {}", e.message()),
            }
        })?;
        let commit_id = commit.id();
        let tree = commit.tree()?;
        let mut blobs = Blobs::empty(&repo, prefix)?;
        let mut found = Vec::new();
        tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() == Some(ObjectType::Blob)
                && let Ok(name) = entry.name()
            {
                found.push((
                    format!("{dir}{name}"),
                    entry.id(),
                    entry.filemode() == LINK_MODE,
                ));
            }
            TreeWalkResult::Ok
        })?;
        for (path, oid, is_link) in found {
            // Only links inside the config repo are read (their text).
            if is_link {
                if strip_prefix(&path, &blobs.prefix).is_some() {
                    blobs.insert_link(&path, repo.find_blob(oid)?.content());
                }
            } else {
                blobs.insert(&path, oid);
            }
        }
        blobs.resolve_links();
        Ok(GitRevision {
            blobs,
            rev: rev.to_owned(),
            commit: commit_id,
        })
    }

    pub fn commit(&self) -> Oid {
        self.commit
    }
}

/// The `Source` methods both git views answer from their `blobs` alike; only
/// the label tells them apart.
macro_rules! source_from_blobs {
    () => {
        fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
            self.blobs.read(path)
        }

        fn resolves_outside(&self, path: &str) -> bool {
            self.blobs.resolves_outside(path)
        }

        fn links_outside(&self) -> Vec<String> {
            self.blobs.links_outside()
        }

        fn is_file(&self, path: &str) -> io::Result<bool> {
            // The blob is known from the tree: no object header to read.
            Ok(self.blobs.files.contains_key(path)
                || matches!(self.blobs.locate(path), Ok(Some(_))))
        }

        fn has_links(&self) -> bool {
            !self.blobs.links.is_empty()
        }

        fn size(&self, path: &str) -> io::Result<Option<u64>> {
            self.blobs.size(path)
        }

        fn list(&self) -> anyhow::Result<Vec<String>> {
            Ok(self.blobs.files.keys().cloned().collect())
        }

        fn list_dir(&self, dir: &str) -> anyhow::Result<Vec<String>> {
            self.blobs.list_dir(dir)
        }

        fn real_path(&self, path: &str) -> Option<String> {
            self.blobs.resolve(path).ok().flatten()
        }

        fn dir_exists(&self, dir: &str) -> anyhow::Result<bool> {
            Ok(!self.blobs.list_dir(dir)?.is_empty())
        }
    };
}

impl Source for GitRevision {
    source_from_blobs!();

    fn label(&self) -> String {
        let short = self.commit.to_string();
        format!("{} ({})", self.rev, &short[..short.len().min(10)])
    }
}

/// The git index: what `git commit` would record.
pub struct GitIndex {
    blobs: Blobs,
    /// Files whose staged content differs from HEAD (added or modified).
    staged: Vec<String>,
}

impl GitIndex {
    pub fn open(config_root: &Path) -> anyhow::Result<Self> {
        let repo = open_repository(config_root)?;
        let prefix = config_prefix(&repo, config_root)?;
        let index = repo.index()?;
        let mut blobs = Blobs::empty(&repo, prefix)?;
        for entry in index.iter() {
            let path = String::from_utf8_lossy(&entry.path).into_owned();
            if entry.mode == LINK_MODE as u32 {
                if strip_prefix(&path, &blobs.prefix).is_some() {
                    blobs.insert_link(&path, repo.find_blob(entry.id)?.content());
                }
            } else {
                blobs.insert(&path, entry.id);
            }
        }
        blobs.resolve_links();
        let head_tree = repo.head().ok().and_then(|h| h.peel_to_tree().ok());
        let diff = repo.diff_tree_to_index(head_tree.as_ref(), Some(&index), None)?;
        let mut staged = Vec::new();
        for delta in diff.deltas() {
            if delta.status() == git2::Delta::Deleted {
                continue;
            }
            if let Some(path) = delta.new_file().path().and_then(|p| p.to_str())
                && let Some(rel) = strip_prefix(path, &blobs.prefix)
            {
                staged.push(rel.to_owned());
            }
        }
        staged.sort();
        Ok(GitIndex { blobs, staged })
    }

    pub fn staged(&self) -> &[String] {
        &self.staged
    }
}

impl Source for GitIndex {
    source_from_blobs!();

    fn label(&self) -> String {
        "index".into()
    }
}

/// Config-relative paths that differ between `base` and `head` (`None`: the
/// working tree, untracked files included). Tree-to-tree diffs skip
/// unchanged subtrees by id, so this costs little even on huge repos.
pub fn changed_paths(
    config_root: &Path,
    base: &str,
    head: Option<&str>,
) -> anyhow::Result<std::collections::BTreeSet<String>> {
    let repo = open_repository(config_root)?;
    let prefix = config_prefix(&repo, config_root)?;
    let tree_of = |rev: &str| -> anyhow::Result<git2::Tree<'_>> {
        repo.revparse_single(rev)
            .and_then(|o| o.peel_to_tree())
            .map_err(|e| anyhow!("unknown revision `{rev}`: {}", e.message()))
    };
    let base_tree = tree_of(base)?;
    let mut opts = git2::DiffOptions::new();
    if !prefix.is_empty() {
        opts.pathspec(&prefix);
    }
    let diff = match head {
        Some(head) => {
            let head_tree = tree_of(head)?;
            repo.diff_tree_to_tree(Some(&base_tree), Some(&head_tree), Some(&mut opts))?
        }
        None => {
            opts.include_untracked(true).recurse_untracked_dirs(true);
            repo.diff_tree_to_workdir_with_index(Some(&base_tree), Some(&mut opts))?
        }
    };
    let mut out = std::collections::BTreeSet::new();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            if let Some(path) = file.path().and_then(|p| p.to_str())
                && let Some(rel) = strip_prefix(path, &prefix)
            {
                out.insert(rel.to_owned());
            }
        }
    }
    Ok(out)
}

/// Of `candidates` (config-relative paths), those that exist in the working
/// tree but that git ignores: git's own diff never reports them, yet the
/// working tree's effective configs read them.
pub fn ignored_in_worktree(
    config_root: &Path,
    candidates: &std::collections::BTreeSet<String>,
) -> anyhow::Result<std::collections::BTreeSet<String>> {
    let repo = open_repository(config_root)?;
    let prefix = config_prefix(&repo, config_root)?;
    let mut out = std::collections::BTreeSet::new();
    for path in candidates {
        if !config_root.join(path).is_file() {
            continue;
        }
        let in_repo = if prefix.is_empty() {
            path.clone()
        } else {
            format!("{prefix}/{path}")
        };
        if repo.status_should_ignore(Path::new(&in_repo))? {
            out.insert(path.clone());
        }
    }
    Ok(out)
}
