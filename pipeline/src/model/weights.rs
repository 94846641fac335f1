//! Model weights as safetensors: plain tensors, nothing executable on load.

use std::path::{Path, PathBuf};

use burn::store::{ModuleSnapshot, SafetensorsStore};

/// Weights file inside a run directory.
pub const WEIGHTS: &str = "model.safetensors";

/// Weights that cannot be written or do not fit the model.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// Serialising failed.
    #[error("saving weights: {0}")]
    Save(String),
    /// The bytes are not safetensors burn can read.
    #[error("{}: cannot load weights: {message}", file.display())]
    Load {
        /// The weights file.
        file: PathBuf,
        /// Why.
        message: String,
    },
    /// Some tensors are missing or have the wrong shape.
    #[error("{}: weights do not match the model in config.toml (missing: {missing}, errors: {errors})", file.display())]
    Mismatch {
        /// The weights file.
        file: PathBuf,
        /// Tensors the model has and the file lacks.
        missing: String,
        /// Tensors that could not be applied.
        errors: String,
    },
}

/// Weights as safetensors bytes.
pub fn save<M: ModuleSnapshot>(model: &M) -> Result<Vec<u8>, WeightsError> {
    let mut store = SafetensorsStore::from_bytes(None);
    model.save_into(&mut store).map_err(|e| WeightsError::Save(format!("{e:?}")))?;
    store.get_bytes().map_err(|e| WeightsError::Save(format!("{e:?}")))
}

/// Loads weights into a freshly built model, refusing partial matches.
pub fn load<M: ModuleSnapshot>(model: &mut M, bytes: Vec<u8>, file: &Path) -> Result<(), WeightsError> {
    let result = model
        .load_from(&mut SafetensorsStore::from_bytes(Some(bytes)))
        .map_err(|e| WeightsError::Load { file: file.to_path_buf(), message: format!("{e:?}") })?;
    if !result.missing.is_empty() || !result.errors.is_empty() {
        return Err(WeightsError::Mismatch {
            file: file.to_path_buf(),
            missing: format!("{:?}", result.missing),
            errors: format!("{:?}", result.errors),
        });
    }
    Ok(())
}
