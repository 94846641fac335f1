//! The run directory: everything needed to trust and repeat one run.
//!
//! `runs/<name>/<run-id>/` holds the resolved config, `manifest.json`,
//! `metrics.json`, the model weights (safetensors), `classes.json`,
//! `report.md` and `log.jsonl`. Files are written atomically (temporary
//! file, fsync, rename), and an existing run directory is never reused.

pub mod lock;
pub mod manifest;
pub mod metrics;
pub mod rows;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A problem creating or writing the run directory.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct RunError {
    /// The file or folder.
    pub path: PathBuf,
    /// Why.
    pub message: String,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> RunError {
    RunError { path: path.to_path_buf(), message: e.to_string() }
}

/// Name of the pointer to a run name's last accepted run.
pub const LATEST: &str = "latest";

/// One run's folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
    id: String,
}

/// `2026-11-25T20:47:11Z` → `20261125T204711Z`: sortable and path-safe.
pub fn timestamp_id(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string().replace(['-', ':'], "")
}

impl RunDir {
    /// Creates `root/name/<timestamp>` (with a `-2`, `-3`... suffix if that
    /// exists), never touching an existing folder.
    pub fn create(root: &Path, name: &str) -> Result<RunDir, RunError> {
        let parent = root.join(name);
        fs::create_dir_all(&parent).map_err(|e| io_err(&parent, e))?;
        let base = timestamp_id(SystemTime::now());
        for attempt in 1..1000 {
            let id = if attempt == 1 { base.clone() } else { format!("{base}-{attempt}") };
            let path = parent.join(&id);
            match fs::create_dir(&path) {
                Ok(()) => return Ok(RunDir { path, id }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err(&path, e)),
            }
        }
        Err(io_err(&parent, "could not find a free run id"))
    }

    /// Opens an existing run directory (for `temper eval`).
    pub fn open(path: &Path) -> Result<RunDir, RunError> {
        if !path.join("manifest.json").is_file() {
            return Err(io_err(path, "not a run directory (no manifest.json)"));
        }
        let id = path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(RunDir { path: path.to_path_buf(), id })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run id (folder name).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A file inside the run directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `bytes` to `name` atomically: a reader sees the old file or the
    /// new one, never half of it, even after a crash.
    pub fn write_atomic(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, RunError> {
        write_atomic(&self.file(name), bytes)
    }

    /// Serialises `value` as pretty JSON into `name`, atomically.
    pub fn write_json<T: serde::Serialize>(&self, name: &str, value: &T) -> Result<PathBuf, RunError> {
        let text = serde_json::to_vec_pretty(value).map_err(|e| io_err(&self.file(name), e))?;
        self.write_atomic(name, &text)
    }

    /// Points `<root>/<name>/latest` at this run: the last run that finished
    /// and passed its gate, the baseline for the next scheduled run.
    pub fn mark_latest(&self) -> Result<(), RunError> {
        let parent = self.path.parent().unwrap_or(Path::new("."));
        let link = parent.join(LATEST);
        let tmp = parent.join(format!(".latest.tmp-{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        #[cfg(unix)]
        std::os::unix::fs::symlink(&self.id, &tmp).map_err(|e| io_err(&tmp, e))?;
        #[cfg(not(unix))]
        fs::write(&tmp, &self.id).map_err(|e| io_err(&tmp, e))?;
        fs::rename(&tmp, &link).map_err(|e| io_err(&link, e))
    }

    /// Writes the metrics of a re-evaluation to `evals/<time>.json`, beside
    /// the run's own metrics, which stay as they were.
    pub fn write_eval<T: serde::Serialize>(&self, metrics: &T) -> Result<PathBuf, RunError> {
        let evals = self.file("evals");
        fs::create_dir_all(&evals).map_err(|e| io_err(&evals, e))?;
        let bytes = serde_json::to_vec_pretty(metrics).map_err(|e| io_err(&evals, e))?;
        let base = timestamp_id(SystemTime::now());
        // Two evaluations in one second each keep their file: the name is
        // reserved by creating it, then filled atomically.
        for attempt in 1..1000 {
            let name = if attempt == 1 { format!("{base}.json") } else { format!("{base}-{attempt}.json") };
            let path = evals.join(name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(_) => return write_atomic(&path, &bytes),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err(&path, e)),
            }
        }
        Err(io_err(&evals, "could not find a free file name"))
    }

    /// Reads and parses a JSON file of the run (`manifest.json`, `classes.json`).
    pub fn read_json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, RunError> {
        let path = self.file(name);
        let bytes = fs::read(&path).map_err(|e| io_err(&path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| io_err(&path, format!("cannot parse: {e}")))
    }

    /// Appends one JSON line to `log.jsonl`.
    pub fn log(&self, value: &serde_json::Value) -> Result<(), RunError> {
        let path = self.file("log.jsonl");
        let mut f = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| io_err(&path, e))?;
        writeln!(f, "{value}").map_err(|e| io_err(&path, e))
    }
}

/// Atomic replace: temporary sibling, fsync, rename, fsync the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<PathBuf, RunError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok::<_, std::io::Error>(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(path, e));
    }
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_is_path_safe() {
        let id = timestamp_id(SystemTime::UNIX_EPOCH);
        assert_eq!(id, "19700101T000000Z");
    }

    #[test]
    fn create_never_reuses_a_folder() {
        let root = std::env::temp_dir().join(format!("temper-run-{}", std::process::id()));
        let a = RunDir::create(&root, "x").expect("test setup");
        let b = RunDir::create(&root, "x").expect("test setup");
        assert_ne!(a.path(), b.path());
        a.write_atomic("f.txt", b"one").expect("test setup");
        a.write_atomic("f.txt", b"two").expect("test setup");
        assert_eq!(fs::read(a.file("f.txt")).expect("test setup"), b"two");
        assert_eq!(fs::read_dir(a.path()).expect("test setup").count(), 1, "no temporary files left");
        fs::remove_dir_all(&root).expect("test setup");
    }
}
