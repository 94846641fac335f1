//! One writer per run directory: an exclusive lock on the `lock` file, held
//! by the operating system for as long as the holder's file is open. A
//! killed process (SIGKILL, an OOM kill, a preempted pod) loses its lock with
//! its life, so a scheduler's retry resumes unattended; a live holder, on
//! this host or another sharing the storage (flock is carried over NFSv4 as
//! a POSIX lock), keeps refusing others. The file also names the holder, for
//! the refusal message and the log of a takeover.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The lock file's name inside a run directory.
pub const LOCK_FILE: &str = "lock";

/// Who holds a lock.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockOwner {
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// RFC 3339 time the lock was taken.
    pub since: String,
}

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another live process holds it.
    #[error("{path}: the run directory is in use by process {} on {} since {}", owner.pid, owner.host, owner.since)]
    Held {
        /// The lock file.
        path: PathBuf,
        /// Its holder.
        owner: LockOwner,
    },
    /// The lock file could not be read or written.
    #[error("{path}: cannot use the lock file: {message}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// A held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    /// Holds the lock while open.
    _file: File,
    /// The holder before this one, when it died holding the lock.
    previous: Option<LockOwner>,
}

impl RunLock {
    /// Takes the lock of `run_dir`, or explains who has it.
    pub fn acquire(run_dir: &Path) -> Result<RunLock, LockError> {
        let path = run_dir.join(LOCK_FILE);
        let io = |e: std::io::Error| LockError::Io { path: path.clone(), message: e.to_string() };
        // A holder that releases removes the file; one that opened it just
        // before may then lock a file no longer at the path: try again.
        for _ in 0..8 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let owner = read_owner(&mut file).ok_or_else(|| LockError::Io {
                        path: path.clone(),
                        message: "held by a process that has not written its name yet".to_owned(),
                    })?;
                    return Err(LockError::Held { path, owner });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
            let same = std::fs::metadata(&path).ok().map(|m| (m.dev(), m.ino()));
            let ours = file.metadata().map_err(io)?;
            if same != Some((ours.dev(), ours.ino())) {
                continue;
            }
            let previous = read_owner(&mut file);
            let owner = LockOwner {
                pid: std::process::id(),
                host: super::manifest::host(),
                since: super::manifest::now(),
            };
            let text = serde_json::to_string(&owner)
                .map_err(|e| LockError::Io { path: path.clone(), message: e.to_string() })?;
            file.set_len(0).map_err(io)?;
            file.rewind().map_err(io)?;
            file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(io)?;
            return Ok(RunLock { path, _file: file, previous });
        }
        Err(LockError::Io {
            path,
            message: "the lock file kept being replaced while it was taken".to_owned(),
        })
    }

    /// The process that held the lock before and died holding it (a killed
    /// run), if any: worth a line in the log.
    pub fn previous(&self) -> Option<&LockOwner> {
        self.previous.as_ref()
    }
}

/// The holder named in the lock file, if it names one.
fn read_owner(file: &mut File) -> Option<LockOwner> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Removed while still locked, so no one takes a file about to vanish
        // without finding out (see `acquire`); closing the file unlocks it.
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_holder_is_refused_and_a_dead_one_is_taken_over() {
        let dir = tempfile::tempdir().expect("test setup");
        let lock = RunLock::acquire(dir.path()).expect("test setup");
        assert!(lock.previous().is_none());
        let err = RunLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(&err, LockError::Held { owner, .. } if owner.pid == std::process::id()), "{err}");
        drop(lock);
        assert!(!dir.path().join(LOCK_FILE).exists(), "released locks leave no file");
        // What a killed holder leaves: its name in a file nobody has locked.
        let dead =
            LockOwner { pid: u32::MAX - 1, host: super::super::manifest::host(), since: "then".into() };
        std::fs::write(dir.path().join(LOCK_FILE), serde_json::to_string(&dead).expect("test setup"))
            .expect("test setup");
        let taken = RunLock::acquire(dir.path()).expect("a dead holder's lock is free");
        assert_eq!(taken.previous(), Some(&dead));
        let text = std::fs::read_to_string(dir.path().join(LOCK_FILE)).expect("lock file");
        assert!(text.contains(&format!("\"pid\":{}", std::process::id())), "{text}");
    }
}
