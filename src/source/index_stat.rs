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
    /// Sorted by path.
    entries: Vec<(String, Recorded)>,
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
        let bytes = std::fs::read(&index_path).ok()?;
        let mut entries = Vec::new();
        for entry in parse_index(&bytes)? {
            let path = std::str::from_utf8(entry.path).ok()?;
            if path == ".gitattributes" || path.ends_with("/.gitattributes") {
                let text = std::fs::read(workdir.join(path)).unwrap_or_default();
                if mentions_conversion(&text) {
                    return None;
                }
            }
            let Some(rel) = (if prefix.is_empty() {
                Some(path)
            } else {
                path.strip_prefix(&prefix).and_then(|p| p.strip_prefix('/'))
            }) else {
                continue;
            };
            let trusted = entry.mode & 0o170000 == 0o100000
                && entry.flags & STAGE_MASK == 0
                && entry.flags & ASSUME_VALID == 0
                && entry.extended & (INTENT_TO_ADD | SKIP_WORKTREE) == 0
                && entry.recorded.size != 0
                && u64::from(entry.recorded.mtime.0) < index_secs;
            if trusted {
                entries.push((rel.to_owned(), entry.recorded));
            }
        }
        // The index is sorted by path; the stripped paths of one subtree
        // keep that order, so a lookup is a binary search.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Some(IndexStat {
            root: root.to_path_buf(),
            entries,
        })
    }

    /// The blob id of `path` when its `lstat` data equal its trusted index
    /// entry's, else `None` (the caller reads and hashes it).
    pub(crate) fn blob(&self, path: &str) -> Option<KnownBlob> {
        let at = self
            .entries
            .binary_search_by(|(p, _)| p.as_str().cmp(path))
            .ok()?;
        let recorded = &self.entries[at].1;
        let meta = std::fs::symlink_metadata(self.root.join(path)).ok()?;
        (observed(&meta, recorded.blob)? == *recorded).then_some(KnownBlob {
            id: recorded.blob,
            size: meta.len(),
        })
    }
}

const STAGE_MASK: u16 = 0x3000;
const ASSUME_VALID: u16 = 0x8000;
const EXTENDED: u16 = 0x4000;
const INTENT_TO_ADD: u16 = 0x2000;
const SKIP_WORKTREE: u16 = 0x4000;

/// One entry of the index file, as written.
struct RawEntry<'a> {
    path: &'a [u8],
    mode: u32,
    flags: u16,
    extended: u16,
    recorded: Recorded,
}

/// The entries of an index file (format version 2 or 3, as git writes it
/// by default), or `None` for anything else: version 4 (prefix-compressed
/// paths), a split or sparse index (their mandatory extensions), or bytes
/// that do not parse. Like git on an ordinary read, the trailing checksum
/// is not verified.
fn parse_index(bytes: &[u8]) -> Option<Vec<RawEntry<'_>>> {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let u16_at = |at: usize| -> Option<u16> {
        Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
    };
    if bytes.get(..4)? != b"DIRC" || !matches!(u32_at(4)?, 2 | 3) {
        return None;
    }
    let count = u32_at(8)? as usize;
    let mut entries = Vec::with_capacity(count.min(bytes.len() / 62));
    let mut at = 12;
    for _ in 0..count {
        let stat = |i: usize| u32_at(at + 4 * i);
        let mut blob = [0; 20];
        blob.copy_from_slice(bytes.get(at + 40..at + 60)?);
        let flags = u16_at(at + 60)?;
        let (extended, path_at) = if flags & EXTENDED != 0 {
            (u16_at(at + 62)?, at + 64)
        } else {
            (0, at + 62)
        };
        let len = match usize::from(flags & 0x0fff) {
            0x0fff => bytes.get(path_at..)?.iter().position(|&b| b == 0)?,
            len => len,
        };
        let path = bytes.get(path_at..path_at + len)?;
        let mode = stat(6)?;
        entries.push(RawEntry {
            path,
            mode,
            flags,
            extended,
            recorded: Recorded {
                ctime: (stat(0)?, stat(1)?),
                mtime: (stat(2)?, stat(3)?),
                dev: stat(4)?,
                ino: stat(5)?,
                uid: stat(7)?,
                gid: stat(8)?,
                size: stat(9)?,
                executable: mode & 0o111 != 0,
                blob,
            },
        });
        // Each entry is NUL-padded to a multiple of eight bytes (at least one NUL).
        let end = path_at + len;
        at += (end - at + 8) & !7;
    }
    // Extensions: four-byte name and size. One whose name starts with a
    // lowercase letter must be understood to read the index (`link`: a
    // split index, `sdir`: a sparse one), so it is refused.
    let body_end = bytes.len().checked_sub(20)?;
    while at < body_end {
        let name = bytes.get(at..at + 4)?;
        if name[0].is_ascii_lowercase() {
            return None;
        }
        at = at.checked_add(8)?.checked_add(u32_at(at + 4)? as usize)?;
    }
    (at == body_end).then_some(entries)
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

    /// The parser reads what libgit2 reads (every padding, an extended
    /// entry of version 3) and refuses version 4 and a truncated index.
    #[test]
    fn the_index_parses_as_libgit2_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        let mut paths = vec!["a.yaml".to_owned(), "b/c d.yaml".to_owned()];
        paths.extend((0..9).map(|i| format!("n/{}.yaml", "e".repeat(i))));
        let mut index = repo.index().unwrap();
        for (i, path) in paths.iter().enumerate() {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(&full, format!("n: {i}\n")).unwrap();
            index.add_path(Path::new(path)).unwrap();
        }
        index.write().unwrap();
        // An intent-to-add entry makes git write version 3 with an extended entry.
        std::fs::write(dir.path().join("m.yaml"), "n: m\n").unwrap();
        let added = std::process::Command::new("git")
            .args(["add", "-N", "m.yaml"])
            .current_dir(dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .status()
            .unwrap();
        assert!(added.success());
        let bytes = std::fs::read(dir.path().join(".git/index")).unwrap();
        let parsed = parse_index(&bytes).expect("parses");
        let reread = git2::Index::open(&dir.path().join(".git/index")).unwrap();
        assert!(reread.len() >= 10);
        assert_eq!(parsed.len(), reread.len());
        for (mine, theirs) in parsed.iter().zip(reread.iter()) {
            assert_eq!(mine.path, &theirs.path[..]);
            assert_eq!(&mine.recorded.blob[..], theirs.id.as_bytes());
            assert_eq!(mine.recorded.size, theirs.file_size);
            assert_eq!(mine.recorded.mtime.0, theirs.mtime.seconds() as u32);
            assert_eq!(mine.recorded.mtime.1, theirs.mtime.nanoseconds());
            assert_eq!(mine.recorded.ino, theirs.ino);
            assert_eq!(mine.mode, theirs.mode);
            assert_eq!(mine.extended & INTENT_TO_ADD != 0, mine.path == b"m.yaml");
        }
        assert_eq!(u32::from_be_bytes(bytes[4..8].try_into().unwrap()), 3);
        let mut v4 = git2::Index::open(&dir.path().join(".git/index")).unwrap();
        v4.set_version(4).unwrap();
        v4.write().unwrap();
        let bytes = std::fs::read(dir.path().join(".git/index")).unwrap();
        assert!(parse_index(&bytes).is_none());
        assert!(parse_index(&bytes[..bytes.len() / 2]).is_none());
    }

    #[test]
    fn no_repo_no_index() {
        let dir = tempfile::tempdir().unwrap();
        assert!(IndexStat::load(dir.path(), &[]).is_none());
    }
}
