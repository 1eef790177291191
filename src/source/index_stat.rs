//! Blob ids from the git index instead of hashing the working tree, the way
//! `git status` knows a file is unchanged: a tracked file whose `lstat` data
//! (mtime, ctime, size, inode, device, owner, mode) equal its index entry's
//! still holds the bytes the entry's blob id names.
//!
//! Only where those bytes are exactly what a read returns: no attribute may
//! convert them (a clean/smudge filter, `text`/`eol`/`crlf` line-ending
//! conversion, `ident`, `working-tree-encoding`) and `core.autocrlf` must be
//! off. When any attributes file mentions such an attribute, or the config
//! turns conversion on, nothing is taken from the index and every file is
//! hashed. An entry is never trusted when it is racy (the file's mtime is
//! not older than the index file's, at one-second grain: the file may have
//! changed after git hashed it), assumed unchanged, skip-worktree,
//! intent-to-add, conflicted, empty, or not a regular file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What an index entry recorded about its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Recorded {
    mtime: (u32, u32),
    ctime: (u32, u32),
    dev: u32,
    ino: u32,
    uid: u32,
    gid: u32,
    size: u32,
    executable: bool,
    blob: [u8; 20],
}

/// A blob id the index vouches for, and the file's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KnownBlob {
    pub(crate) id: [u8; 20],
    pub(crate) size: u64,
}

/// The trusted entries of one repo's index, by path relative to the root
/// the working tree is read from.
#[derive(Debug, Clone)]
pub(crate) struct IndexStat {
    root: PathBuf,
    entries: HashMap<String, Recorded>,
}

/// Words of the attributes that change a file's bytes between the working
/// tree and the blob (or a macro that may set one: its definition names it).
const CONVERTING: [&str; 6] = ["filter", "text", "eol", "crlf", "ident", "encoding"];

impl IndexStat {
    /// The index of the repo holding `root`, or `None` when there is none,
    /// it cannot be read (split or sparse indexes, other hash functions), or
    /// a conversion may apply. `tree_files` are the working tree's files
    /// under `root` (their `.gitattributes` count even when untracked).
    pub(crate) fn load(root: &Path, tree_files: &[String]) -> Option<IndexStat> {
        let repo = git2::Repository::discover(root).ok()?;
        let workdir = repo.workdir()?.canonicalize().ok()?;
        let canonical_root = root.canonicalize().ok()?;
        let prefix = super::slash_path(canonical_root.strip_prefix(&workdir).ok()?);
        if converts(&repo, &workdir, &canonical_root, tree_files) {
            return None;
        }
        // Stat before reading: an index rewritten in between then looks
        // older than it is, which only makes more entries racy.
        let index_path = repo.path().join("index");
        let index_mtime = std::fs::metadata(&index_path).ok()?.modified().ok()?;
        let index_secs = index_mtime
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs();
        let index = git2::Index::open(&index_path).ok()?;
        let mut entries = HashMap::with_capacity(index.len());
        for entry in index.iter() {
            let Ok(path) = String::from_utf8(entry.path) else {
                continue;
            };
            if path == ".gitattributes" || path.ends_with("/.gitattributes") {
                let text = std::fs::read(workdir.join(&path)).unwrap_or_default();
                if mentions_conversion(&text) {
                    return None;
                }
            }
            let Some(rel) = (if prefix.is_empty() {
                Some(path.as_str())
            } else {
                path.strip_prefix(&prefix).and_then(|p| p.strip_prefix('/'))
            }) else {
                continue;
            };
            let mode = entry.mode & 0o170000;
            let stage = (entry.flags >> 12) & 0x3;
            let flags = git2::IndexEntryFlag::from_bits_truncate(entry.flags);
            let extended = git2::IndexEntryExtendedFlag::from_bits_truncate(entry.flags_extended);
            let mtime_secs = entry.mtime.seconds() as u32;
            let trusted = mode == 0o100000
                && stage == 0
                && !flags.is_valid()
                && !extended.is_intent_to_add()
                && !extended.is_skip_worktree()
                && entry.file_size != 0
                && u64::from(mtime_secs) < index_secs
                && entry.id.as_bytes().len() == 20;
            if !trusted {
                continue;
            }
            let mut blob = [0; 20];
            blob.copy_from_slice(entry.id.as_bytes());
            entries.insert(
                rel.to_owned(),
                Recorded {
                    mtime: (mtime_secs, entry.mtime.nanoseconds()),
                    ctime: (entry.ctime.seconds() as u32, entry.ctime.nanoseconds()),
                    dev: entry.dev,
                    ino: entry.ino,
                    uid: entry.uid,
                    gid: entry.gid,
                    size: entry.file_size,
                    executable: entry.mode & 0o111 != 0,
                    blob,
                },
            );
        }
        Some(IndexStat {
            root: root.to_path_buf(),
            entries,
        })
    }

    /// The blob id of `path` when its `lstat` data equal its trusted index
    /// entry's, else `None` (the caller reads and hashes it).
    pub(crate) fn blob(&self, path: &str) -> Option<KnownBlob> {
        let recorded = self.entries.get(path)?;
        let meta = std::fs::symlink_metadata(self.root.join(path)).ok()?;
        (observed(&meta, recorded.blob)? == *recorded).then_some(KnownBlob {
            id: recorded.blob,
            size: meta.len(),
        })
    }
}

/// What `lstat` says, in the index's terms (git keeps 32 bits of each).
#[cfg(unix)]
fn observed(meta: &std::fs::Metadata, blob: [u8; 20]) -> Option<Recorded> {
    use std::os::unix::fs::MetadataExt;
    if !meta.file_type().is_file() || meta.size() > u64::from(u32::MAX) {
        return None;
    }
    Some(Recorded {
        mtime: (meta.mtime() as u32, meta.mtime_nsec() as u32),
        ctime: (meta.ctime() as u32, meta.ctime_nsec() as u32),
        dev: meta.dev() as u32,
        ino: meta.ino() as u32,
        uid: meta.uid(),
        gid: meta.gid(),
        size: meta.size() as u32,
        executable: meta.mode() & 0o111 != 0,
        blob,
    })
}

/// Elsewhere the stat data cannot be compared: every file is hashed.
#[cfg(not(unix))]
fn observed(_meta: &std::fs::Metadata, _blob: [u8; 20]) -> Option<Recorded> {
    None
}

/// Whether git may convert bytes between the working tree and the index
/// here: `core.autocrlf` on, or an attributes file naming a converting
/// attribute (`.gitattributes` in the tree or above the root,
/// `info/attributes`, the user's and the system's).
fn converts(repo: &git2::Repository, workdir: &Path, root: &Path, tree_files: &[String]) -> bool {
    let Ok(config) = repo.config() else {
        return true;
    };
    if let Ok(autocrlf) = config.get_string("core.autocrlf")
        && !matches!(
            autocrlf.to_ascii_lowercase().as_str(),
            "false" | "no" | "off" | "0" | ""
        )
    {
        return true;
    }
    let mut files: Vec<PathBuf> = tree_files
        .iter()
        .filter(|p| *p == ".gitattributes" || p.ends_with("/.gitattributes"))
        .map(|p| root.join(p))
        .collect();
    let mut dir = root.parent();
    while let Some(d) = dir.filter(|d| d.starts_with(workdir)) {
        files.push(d.join(".gitattributes"));
        dir = d.parent();
    }
    files.push(repo.path().join("info").join("attributes"));
    files.push(Path::new("/etc/gitattributes").to_path_buf());
    match config.get_path("core.attributesFile") {
        Ok(path) => files.push(path),
        Err(_) => {
            let xdg = std::env::var_os("XDG_CONFIG_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
            if let Some(xdg) = xdg {
                files.push(xdg.join("git").join("attributes"));
            }
        }
    }
    files.iter().any(|f| match std::fs::read(f) {
        Ok(text) => mentions_conversion(&text),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    })
}

fn mentions_conversion(text: &[u8]) -> bool {
    let text = String::from_utf8_lossy(text).to_ascii_lowercase();
    CONVERTING.iter().any(|w| text.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_converting_attributes_turn_it_off() {
        assert!(!mentions_conversion(b"*.png binary\n*.rs diff=rust\n"));
        for text in [
            "* text=auto\n",
            "*.yaml eol=crlf\n",
            "*.yaml filter=lfs\n",
            "*.c ident\n",
            "[attr]mine -TEXT\n",
            "*.txt working-tree-encoding=UTF-16\n",
            "*.bat crlf\n",
        ] {
            assert!(mentions_conversion(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn no_repo_no_index() {
        let dir = tempfile::tempdir().unwrap();
        assert!(IndexStat::load(dir.path(), &[]).is_none());
    }
}
