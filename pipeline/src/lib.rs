//! Temper: make classifiers robust in one reproducible batch run.
//!
//! config → data → train (with augmentation) → evaluate (clean and
//! corrupted) → run directory. `main.rs` only parses arguments and maps
//! errors to exit codes; everything else is here.
#![deny(missing_docs)]

pub mod attack;
pub mod batch;
pub mod certify;
pub mod cli;
pub mod compare;
pub mod config;
pub mod data;
pub mod device;
pub mod eval;
pub mod exit;
pub mod experiment;
pub mod extraction;
pub mod guard;
pub mod hash;
#[cfg(test)]
mod layering;
pub mod mce;
pub mod model;
pub mod poison;
pub mod pool;
pub mod privacy;
pub mod progress;
pub mod report;
pub mod run;
pub mod suggest;
pub mod synth;
pub mod train;

/// This package's folder as Cargo gives it to the running test, and only
/// failing that as it was when the test was compiled: a test binary built in
/// another checkout sharing the target folder (Cargo does not rebuild it when
/// only the path differs) must read this checkout's files.
#[cfg(test)]
pub(crate) fn manifest_dir() -> std::path::PathBuf {
    use std::path::PathBuf;
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}
