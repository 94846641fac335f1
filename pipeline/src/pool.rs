//! The data pool: rayon threads of their own for building batches
//! (decoding, augmenting, featurising), apart from rayon's global pool, which
//! burn's CPU kernels use.
//!
//! On a shared pool the two compete: a kernel waiting on its sub-tasks
//! steals an augmentation job and the training step stalls behind it, and
//! the data thread's jobs queue behind the kernels'. Results do not depend
//! on the pool's size: every sample is seeded by its position, never by the
//! thread that builds it.

use std::sync::OnceLock;

/// Overrides the data pool's size (a positive integer), for machines where
/// the default is wrong and for the thread-count tests.
pub const THREADS_VAR: &str = "TEMPER_DATA_THREADS";

/// Why the data pool could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// `TEMPER_DATA_THREADS` is not a positive integer.
    #[error("{THREADS_VAR} must be a whole number of threads from 1 to 1024 (got `{0}`)")]
    BadCount(String),
    /// The operating system refused the threads.
    #[error("could not start the data pool's {threads} threads: {reason}")]
    Spawn {
        /// Threads asked for.
        threads: usize,
        /// rayon's message.
        reason: String,
    },
}

static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();

/// The default size: a quarter of the cores, at least one. Augmentation
/// costs far less per image than a training step, so a few threads keep a
/// GPU fed and a CPU run loses little compute to them.
pub fn default_threads(cores: usize) -> usize {
    (cores / 4).max(1)
}

/// The size asked for by `value` (the variable's value, if set).
pub fn threads_from(value: Option<&str>, cores: usize) -> Result<usize, PoolError> {
    match value {
        None => Ok(default_threads(cores)),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=1024).contains(&n) => Ok(n),
            _ => Err(PoolError::BadCount(v.to_owned())),
        },
    }
}

/// Starts the data pool (once per process; later calls return its size).
/// The CLI calls this first so a bad `TEMPER_DATA_THREADS` is an error
/// before any work starts.
pub fn init() -> Result<usize, PoolError> {
    if let Some(pool) = POOL.get() {
        return Ok(pool.current_num_threads());
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let value = std::env::var(THREADS_VAR).ok();
    let threads = threads_from(value.as_deref(), cores)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("temper-data-{i}"))
        .build()
        .map_err(|e| PoolError::Spawn { threads, reason: e.to_string() })?;
    Ok(POOL.get_or_init(|| pool).current_num_threads())
}

/// Runs `work` on the data pool; its rayon calls use the pool's threads.
/// Before [`init`] (library users, unit tests) the pool is started with its
/// default size, and if that fails `work` runs on the caller's pool: the
/// results are the same, only the placement differs.
pub fn install<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    if POOL.get().is_none() {
        let _ = init();
    }
    match POOL.get() {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_a_quarter_of_the_cores_and_at_least_one() {
        assert_eq!(default_threads(1), 1);
        assert_eq!(default_threads(2), 1);
        assert_eq!(default_threads(16), 4);
        assert_eq!(threads_from(None, 8), Ok(2));
    }

    #[test]
    fn the_variable_must_be_a_positive_count() {
        assert_eq!(threads_from(Some("3"), 2), Ok(3));
        assert_eq!(threads_from(Some(" 2 "), 2), Ok(2));
        for bad in ["0", "-1", "two", "", "5000"] {
            let err = threads_from(Some(bad), 2).unwrap_err();
            assert_eq!(err, PoolError::BadCount(bad.to_owned()));
            assert!(err.to_string().contains(THREADS_VAR), "{err}");
        }
    }

    #[test]
    fn work_runs_on_the_data_threads() {
        let name = install(|| std::thread::current().name().map(str::to_owned));
        assert!(name.is_some_and(|n| n.starts_with("temper-data-")));
    }
}
