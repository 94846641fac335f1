//! `manifest.json`: provenance of a run (inputs, config, code, machine).

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Version of the manifest layout; bumped on incompatible changes.
pub const MANIFEST_SCHEMA: u32 = 1;

/// One input file and its digest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InputFile {
    /// Absolute path as read.
    pub path: String,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// For tables of image paths: SHA-256 over the referenced files' digests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images_sha256: Option<String>,
}

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

/// The manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// [`MANIFEST_SCHEMA`].
    pub schema_version: u32,
    /// Run name from the config.
    pub run_name: String,
    /// Folder name.
    pub run_id: String,
    /// `running`, `completed` or `failed`.
    pub status: String,
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
    /// SHA-256 of `model.safetensors`, once written.
    pub weights_sha256: Option<String>,
    /// Crate versions.
    pub versions: Versions,
    /// `git rev-parse HEAD` of the working directory, when it is a checkout.
    pub git_revision: Option<String>,
    /// Machine name.
    pub host: String,
    /// The command line.
    pub command: Vec<String>,
}

/// Hex SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hex(&hasher.finalize()), total))
}

/// Hex SHA-256 of bytes.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
    fn sha256_matches_known_vector() {
        assert_eq!(sha256_bytes(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
