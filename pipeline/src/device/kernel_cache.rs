//! Where the GPU runtimes keep compiled kernels and autotune results between
//! runs. A GPU run's first batches compile every kernel it launches and time
//! the candidates of each autotuned one (seconds to minutes); with the cache,
//! a later run of the same shapes on the same adapter starts at full speed.
//!
//! cubecl keeps both in one store (an "environment"), by default under the
//! `target/` folder of the nearest Cargo workspace, or nowhere durable for an
//! installed binary. Temper puts it under the user's cache folder instead:
//! `$TEMPER_KERNEL_CACHE`, else `$XDG_CACHE_HOME/temper/kernels`, else
//! `~/.cache/temper/kernels`. `TEMPER_KERNEL_CACHE=off` keeps nothing. A
//! `cubecl.toml` that names its own environment path is obeyed.
//!
//! The store is a database (turso) that one process may use at a time: two
//! processes opening it together have crashed one of them (a panic in its
//! shared-WAL reader bookkeeping, seen when two GPU runs started at once).
//! So a run takes the folder's lock file first, and where another Temper
//! process holds it, compiles and tunes in memory for this run and says so.

use std::path::{Path, PathBuf};

/// What the runtimes were told, for the log and the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelCache {
    /// Kernels and autotune results persist in this folder.
    At(PathBuf),
    /// `TEMPER_KERNEL_CACHE=off`: recompiled and retuned in every process.
    Off,
    /// Another Temper process holds this folder: recompiled and retuned in
    /// memory for this run.
    Busy(PathBuf),
    /// A `cubecl.toml` chose where (or whether) to keep them.
    CubeclToml,
}

impl std::fmt::Display for KernelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KernelCache::At(path) => write!(f, "{}", path.display()),
            KernelCache::Off => f.write_str("off (TEMPER_KERNEL_CACHE=off)"),
            KernelCache::Busy(path) => write!(
                f,
                "off for this run: {} is in use by another temper process (its store takes one at a time), \
                 so kernels are compiled and tuned in memory",
                path.display()
            ),
            KernelCache::CubeclToml => f.write_str("as cubecl.toml says"),
        }
    }
}

/// The folder the cache goes in, from the environment variables as given
/// (`temper`, `xdg`, `home`: `TEMPER_KERNEL_CACHE`, `XDG_CACHE_HOME`,
/// `HOME`; the system's temporary folder where none is set); `None` when it
/// is off.
pub fn folder(temper: Option<&str>, xdg: Option<&str>, home: Option<&str>) -> Option<PathBuf> {
    fn set(v: Option<&str>) -> Option<&str> {
        v.filter(|s| !s.is_empty())
    }
    match set(temper) {
        Some("off") => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            let base = set(xdg)
                .map(PathBuf::from)
                .or_else(|| set(home).map(|h| Path::new(h).join(".cache")))
                .unwrap_or_else(std::env::temp_dir);
            Some(base.join("temper").join("kernels"))
        }
    }
}

/// Takes `dir`'s lock file (creating both) for as long as the returned file
/// lives; `None` where another process holds it.
#[cfg(any(feature = "gpu", test))]
fn hold(dir: &Path) -> std::io::Result<Option<std::fs::File>> {
    std::fs::create_dir_all(dir)?;
    let file =
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join("temper.lock"))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Tells the GPU runtimes where to keep their caches; the first call
/// decides (the runtimes read their configuration once, when the first GPU
/// device opens). Must run before any GPU device is opened.
#[cfg(feature = "gpu")]
pub fn configure() -> KernelCache {
    use cubecl_runtime::config::cache::CacheConfig;
    use cubecl_runtime::config::{CubeClRuntimeConfig, RuntimeConfig};
    use std::sync::OnceLock;

    static CHOSEN: OnceLock<KernelCache> = OnceLock::new();
    // The folder's lock, held until the process ends.
    static LOCK: OnceLock<std::fs::File> = OnceLock::new();
    CHOSEN
        .get_or_init(|| {
            // What cubecl would load by itself: a cubecl.toml found from the
            // working directory up, then its CUBECL_* variables.
            let mut config = CubeClRuntimeConfig::from_current_dir().override_from_env();
            let var = |name| std::env::var(name).ok();
            let chosen = if !matches!(config.environment.path, CacheConfig::Target) {
                KernelCache::CubeclToml
            } else {
                match folder(
                    var("TEMPER_KERNEL_CACHE").as_deref(),
                    var("XDG_CACHE_HOME").as_deref(),
                    var("HOME").as_deref(),
                ) {
                    Some(dir) => match hold(&dir) {
                        Ok(None) => {
                            config.compilation.cache = false;
                            config.autotune.disable_cache = true;
                            KernelCache::Busy(dir)
                        }
                        // Where the lock cannot be made, neither can the
                        // store: the runtime says so when it tries.
                        held => {
                            if let Ok(Some(file)) = held {
                                let _ = LOCK.set(file);
                            }
                            config.environment.path = CacheConfig::Directory(dir.clone());
                            config.compilation.cache = true;
                            KernelCache::At(dir)
                        }
                    },
                    None => {
                        config.compilation.cache = false;
                        config.autotune.disable_cache = true;
                        KernelCache::Off
                    }
                }
            };
            CubeClRuntimeConfig::try_set(config);
            chosen
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folder_follows_the_variables_in_order() {
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(folder(Some("/k"), Some("/x"), Some("/h")), p("/k"));
        assert_eq!(folder(Some("off"), Some("/x"), Some("/h")), None);
        assert_eq!(folder(None, Some("/x"), Some("/h")), p("/x/temper/kernels"));
        assert_eq!(folder(Some(""), Some(""), Some("/h")), p("/h/.cache/temper/kernels"));
        assert_eq!(folder(None, None, None), Some(std::env::temp_dir().join("temper/kernels")));
    }

    #[test]
    fn one_holder_of_a_folder_at_a_time() {
        let dir = std::env::temp_dir().join(format!("temper-kernel-lock-{}", std::process::id()));
        let first = hold(&dir).expect("lock file").expect("free");
        // A second open of the lock file (another process's, as far as the
        // lock knows) finds it taken until the first lets go.
        assert!(hold(&dir).expect("lock file").is_none());
        drop(first);
        assert!(hold(&dir).expect("lock file").is_some());
        let busy = KernelCache::Busy(dir.clone()).to_string();
        assert!(busy.contains("in use by another temper process") && busy.contains("in memory"), "{busy}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
