//! One rollout driver per config repo (SPEC §6): an exclusive lock on a file
//! under the git directory.
//!
//! The lock is the kernel's (`flock` through `std::fs::File::try_lock`), not
//! the file's existence: when a driver dies, even by SIGKILL, the kernel
//! releases it, so a dead driver's lock is never mistaken for a live one and
//! there is no stale-lock takeover to race on. The file's content only says
//! who holds it and since when, for the message a second driver prints.
//! (A lock on a network file system is only as good as that file system's
//! `flock`; shared mode uses an etcd lease instead.)

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Who holds the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub actor: String,
    /// RFC 3339, UTC.
    pub since: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another rollout driver holds the lock: {} on {} (pid {}) since {}", .0.actor, .0.host, .0.pid, .0.since)]
    Held(Holder),
    #[error("another rollout driver holds the lock {0} (it has not said who yet)")]
    HeldUnknown(PathBuf),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Held until dropped.
#[derive(Debug)]
pub struct DriverLock {
    _file: File,
    path: PathBuf,
}

impl DriverLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// This machine's name, for the lock holder's identity.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".into())
}

/// Takes the driver lock of the repo whose git directory is `git_dir`.
pub fn acquire(git_dir: &Path, actor: &str, now: &str) -> Result<DriverLock, LockError> {
    let dir = git_dir.join("ringmaster");
    // The error names the file: a read-only or full state directory must
    // say where, not just "File exists".
    let named = |path: &Path| {
        let path = path.display().to_string();
        move |e: std::io::Error| std::io::Error::new(e.kind(), format!("{path}: {e}"))
    };
    std::fs::create_dir_all(&dir).map_err(named(&dir))?;
    let path = dir.join("driver.lock");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(named(&path))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            file.read_to_string(&mut text)?;
            return Err(match serde_json::from_str::<Holder>(&text) {
                Ok(holder) => LockError::Held(holder),
                Err(_) => LockError::HeldUnknown(path),
            });
        }
        Err(TryLockError::Error(e)) => return Err(e.into()),
    }
    let holder = Holder {
        pid: std::process::id(),
        host: host(),
        actor: actor.to_owned(),
        since: now.to_owned(),
    };
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| {
            file.write_all(
                serde_json::to_string(&holder)
                    .unwrap_or_default()
                    .as_bytes(),
            )
        })
        .and_then(|()| file.sync_all())
        .map_err(named(&path))?;
    Ok(DriverLock { _file: file, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_driver_is_refused_with_who_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "alice@example.com", "2026-11-22T10:00:00Z").unwrap();
        let err = acquire(dir.path(), "bob@example.com", "2026-11-22T10:01:00Z").unwrap_err();
        match &err {
            LockError::Held(h) => {
                assert_eq!(h.actor, "alice@example.com");
                assert_eq!(h.pid, std::process::id());
                assert_eq!(h.since, "2026-11-22T10:00:00Z");
            }
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains("alice@example.com"), "{err}");
        drop(first);
        let again = acquire(dir.path(), "bob@example.com", "2026-11-22T10:02:00Z").unwrap();
        assert!(again.path().ends_with("ringmaster/driver.lock"));
    }

    #[test]
    fn a_killed_holder_releases_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ringmaster");
        std::fs::create_dir_all(&path).unwrap();
        let lock_file = path.join("driver.lock");
        std::fs::write(
            &lock_file,
            r#"{"pid":1,"host":"h","actor":"gone","since":"x"}"#,
        )
        .unwrap();
        // Another process takes the same kernel lock, then dies by SIGKILL.
        // `-o`: only flock itself holds the lock, not the `sleep` it runs.
        let mut child = std::process::Command::new("flock")
            .arg("-o")
            .arg(&lock_file)
            .args(["sleep", "5"])
            .spawn()
            .expect("flock(1) from util-linux");
        // Wait (without writing) until flock holds the lock.
        let started = std::time::Instant::now();
        loop {
            let probe = File::open(&lock_file).unwrap();
            match probe.try_lock() {
                Err(TryLockError::WouldBlock) => break,
                _ => {
                    drop(probe);
                    assert!(started.elapsed().as_secs() < 5, "flock never took the lock");
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
        }
        match acquire(dir.path(), "me", "now") {
            Err(LockError::Held(h)) => assert_eq!(h.actor, "gone"),
            other => panic!("expected the lock to be held: {other:?}"),
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match acquire(dir.path(), "me", "now") {
                Ok(lock) => {
                    let text = std::fs::read_to_string(lock.path()).unwrap();
                    assert!(text.contains("\"actor\":\"me\""), "{text}");
                    break;
                }
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("the dead holder's lock was not released: {e}"),
            }
        }
    }
}
