//! What a run records about its inputs: each table's SHA-256 and size, and
//! for tables of image paths a digest over the referenced files; and the
//! config's pins, which refuse a run on changed data.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Split;
use crate::config::Plan;
use crate::hash::sha256_file;

/// One input file and its digest, as `manifest.json` lists it.
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

/// An input that cannot be hashed, or that differs from its pin.
#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    /// The file could not be read.
    #[error("hashing {}: {source}", file.display())]
    Read {
        /// The table.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An `-images` pin on a table that references no image files.
    #[error("`{key}`: {} references no image files to digest", file.display())]
    NoImages {
        /// The pin's config key.
        key: String,
        /// The table.
        file: PathBuf,
    },
    /// The digest differs from the config's pin.
    #[error(
        "{}: SHA-256 is {actual}, but the config pins {pinned} (`{key}`); refusing to start on changed data",
        file.display()
    )]
    Changed {
        /// The table.
        file: PathBuf,
        /// What it hashes to now.
        actual: String,
        /// What the config expects.
        pinned: String,
        /// The pin's config key.
        key: String,
    },
}

fn hash(file: &Path) -> Result<(String, u64), ProvenanceError> {
    sha256_file(file).map_err(|source| ProvenanceError::Read { file: file.to_path_buf(), source })
}

/// Hashes every input table (and referenced image files) for the manifest,
/// and refuses tables whose digest differs from a pin in the config.
pub fn hash_inputs(plan: &Plan, split: &Split) -> Result<Vec<InputFile>, ProvenanceError> {
    let images_of = |file: &Path| split.image_digests.iter().find(|(f, _)| f == file).map(|(_, d)| d.clone());
    // Query tables of model extraction are inputs too.
    let queries = plan.eval.extraction.iter().filter_map(|e| match &e.queries {
        crate::config::QueryPool::Table { path } => Some(path),
        _ => None,
    });
    let inputs = plan
        .data
        .source
        .tables()
        .into_iter()
        .chain(queries)
        .map(|p| {
            let (sha256, bytes) = hash(p)?;
            let path = std::path::absolute(p).unwrap_or_else(|_| p.clone()).display().to_string();
            Ok(InputFile { path, sha256, bytes, images_sha256: images_of(p) })
        })
        .collect::<Result<Vec<_>, ProvenanceError>>()?;
    for pin in &plan.data.pins {
        let actual = if pin.images {
            images_of(&pin.file)
                .ok_or_else(|| ProvenanceError::NoImages { key: pin.key.clone(), file: pin.file.clone() })?
        } else {
            hash(&pin.file)?.0
        };
        if actual != pin.sha256 {
            return Err(ProvenanceError::Changed {
                file: pin.file.clone(),
                actual,
                pinned: pin.sha256.clone(),
                key: pin.key.clone(),
            });
        }
    }
    Ok(inputs)
}
