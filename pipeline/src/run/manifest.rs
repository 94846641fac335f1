//! `manifest.json`: provenance of a run (inputs, config, code, machine).

use serde::{Deserialize, Serialize};

pub use crate::data::provenance::InputFile;

/// Version of the manifest layout; bumped on incompatible changes.
pub const MANIFEST_SCHEMA: u32 = 1;

/// Crate versions compiled into this binary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Versions {
    /// This tool.
    pub temper: String,
    /// The deep-learning framework.
    pub burn: String,
    /// The dataframe library.
    pub polars: String,
}

impl Versions {
    /// The versions of this build.
    pub fn current() -> Self {
        Versions {
            temper: env!("CARGO_PKG_VERSION").to_owned(),
            burn: env!("TEMPER_BURN_VERSION").to_owned(),
            polars: env!("TEMPER_POLARS_VERSION").to_owned(),
        }
    }
}

/// Where a run stands, as `manifest.json` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Training or evaluating now, or killed without a word.
    Running,
    /// Metrics and reports are written.
    Completed,
    /// Stopped by an error, recorded in `error`.
    Failed,
    /// Stopped by a signal after writing a checkpoint; resumable.
    Interrupted,
    /// Trained, with its evaluation left to `temper eval --shard K/N` jobs;
    /// `temper merge` completes it.
    Evaluating,
}

impl RunStatus {
    /// The spelling in `manifest.json` and `temper runs list`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Evaluating => "evaluating",
        }
    }
}

/// The manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// [`MANIFEST_SCHEMA`].
    pub schema_version: u32,
    /// Run name from the config.
    pub run_name: String,
    /// Folder name.
    pub run_id: String,
    /// Where the run stands.
    pub status: RunStatus,
    /// Error message when `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// RFC 3339 UTC start time.
    pub started_at: String,
    /// RFC 3339 UTC end time, once finished.
    pub finished_at: Option<String>,
    /// The config file given on the command line.
    pub config_file: String,
    /// SHA-256 of the resolved config text (`config.toml` in the run).
    pub config_sha256: String,
    /// Master seed.
    pub seed: u64,
    /// Device asked for and device used.
    pub device_requested: String,
    /// Device that ran, with its adapter name when known.
    pub device: String,
    /// Input tables and their digests.
    pub inputs: Vec<InputFile>,
    /// The benchmark parameter table each image corruption uses, by op.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub corruption_tables: std::collections::BTreeMap<String, String>,
    /// `temper train --eval-shards N`: the evaluation is left to N shards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_shards: Option<usize>,
    /// SHA-256 of `model.safetensors`, once written.
    pub weights_sha256: Option<String>,
    /// SHA-256 of `lexicon.tsv`, written beside the weights by a text model
    /// with word recognition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lexicon_sha256: Option<String>,
    /// Crate versions.
    pub versions: Versions,
    /// `git rev-parse HEAD` of the working directory, when it is a checkout.
    pub git_revision: Option<String>,
    /// Machine name.
    pub host: String,
    /// The command line.
    pub command: Vec<String>,
}

/// The git revision of the current directory, if git and a checkout exist.
pub fn git_revision() -> Option<String> {
    let out = std::process::Command::new("git").args(["rev-parse", "HEAD"]).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// The machine's name.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Now, RFC 3339 UTC.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_spells_as_before() {
        for s in [
            RunStatus::Running,
            RunStatus::Completed,
            RunStatus::Failed,
            RunStatus::Interrupted,
            RunStatus::Evaluating,
        ] {
            assert_eq!(serde_json::to_value(s).expect("json"), serde_json::json!(s.as_str()));
        }
        assert!(serde_json::from_str::<RunStatus>("\"finished\"").is_err());
    }
}
