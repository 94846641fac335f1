//! End-to-end tests: the `temper` binary on tiny generated data.
// Test helpers may panic on setup failures: that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attacks;
mod bad_input;
mod certify;
mod cli;
mod device;
mod dp;
mod extraction;
mod harness;
mod poison;
mod privacy;
mod provenance;
mod reports;
mod resume;
mod robustness;
mod runs;
mod shards;
mod sweep;
mod threads;
mod untrusted;
mod validation;
mod word_recognition;
