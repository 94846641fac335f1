//! One writer per run directory: a lock file holding the owner's pid and
//! host. A lock left by a process that no longer runs is reported, never
//! taken over silently: the user decides whether its work may be reused.

use std::fs::OpenOptions;
use std::io::Write;
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
    /// The holder is gone: a killed or crashed run.
    #[error(
        "{path}: stale lock from process {} on {} (since {}), which is no longer running; if no other job uses this run, delete the lock file and retry",
        owner.pid, owner.host, owner.since
    )]
    Stale {
        /// The lock file.
        path: PathBuf,
        /// Its former holder.
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

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

impl RunLock {
    /// Takes the lock of `run_dir`, or explains who has it.
    pub fn acquire(run_dir: &Path) -> Result<RunLock, LockError> {
        let path = run_dir.join(LOCK_FILE);
        let io = |e: std::io::Error| LockError::Io { path: path.clone(), message: e.to_string() };
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                let owner = LockOwner {
                    pid: std::process::id(),
                    host: super::manifest::host(),
                    since: super::manifest::now(),
                };
                let text = serde_json::to_string(&owner)
                    .map_err(|e| LockError::Io { path: path.clone(), message: e.to_string() })?;
                f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(io)?;
                Ok(RunLock { path })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(&path).map_err(io)?;
                let owner: LockOwner = serde_json::from_str(&text).map_err(|e| LockError::Io {
                    path: path.clone(),
                    message: format!("unreadable lock file: {e}"),
                })?;
                if owner.host == super::manifest::host() && !alive(owner.pid) {
                    Err(LockError::Stale { path, owner })
                } else {
                    Err(LockError::Held { path, owner })
                }
            }
            Err(e) => Err(io(e)),
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_and_stale_locks_are_reported() {
        let dir = tempfile::tempdir().expect("test setup");
        let lock = RunLock::acquire(dir.path()).expect("test setup");
        assert!(matches!(RunLock::acquire(dir.path()), Err(LockError::Held { .. })));
        drop(lock);
        let again = RunLock::acquire(dir.path()).expect("test setup");
        std::mem::forget(again);
        // Rewrite the lock as if a dead process held it.
        let dead =
            LockOwner { pid: u32::MAX - 1, host: super::super::manifest::host(), since: "then".into() };
        std::fs::write(dir.path().join(LOCK_FILE), serde_json::to_string(&dead).expect("test setup"))
            .expect("test setup");
        let err = RunLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(err, LockError::Stale { .. }), "{err}");
        assert!(err.to_string().contains("no longer running"));
        assert!(dir.path().join(LOCK_FILE).exists(), "a stale lock is not removed silently");
    }
}
