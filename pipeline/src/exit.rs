//! Exit codes, documented in the README: scheduled jobs branch on them.

/// Success.
pub const OK: u8 = 0;
/// A robustness gate failed (the run itself finished and was written).
pub const GATE_FAILED: u8 = 1;
/// Bad input, bad config, or any other error.
pub const ERROR: u8 = 2;
/// Interrupted by a signal; a checkpoint was kept.
pub const INTERRUPTED: u8 = 3;

/// The exit code for an error, from the typed errors in its chain.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.downcast_ref::<GateFailed>().is_some() {
            return GATE_FAILED;
        }
        if cause.downcast_ref::<Interrupted>().is_some() {
            return INTERRUPTED;
        }
    }
    ERROR
}

/// One or more robustness gates failed.
#[derive(Debug, thiserror::Error)]
#[error("robustness gate failed: {0}")]
pub struct GateFailed(pub String);

/// The run stopped on a signal.
#[derive(Debug, thiserror::Error)]
#[error("interrupted: {0}")]
pub struct Interrupted(pub String);
