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
    let bytes = store.get_bytes().map_err(|e| WeightsError::Save(format!("{e:?}")))?;
    canonical(&bytes)
}

/// The same safetensors with the header's keys in sorted order: burn
/// writes its metadata from a hash map, whose order changes from process to
/// process, and the manifest's SHA-256 must name the weights, not the order.
fn canonical(bytes: &[u8]) -> Result<Vec<u8>, WeightsError> {
    let bad = |why: &str| WeightsError::Save(format!("unexpected safetensors layout: {why}"));
    let len =
        bytes.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()).ok_or_else(|| bad("no header length"))?;
    let end = usize::try_from(u64::from_le_bytes(len))
        .ok()
        .and_then(|n| n.checked_add(8))
        .ok_or_else(|| bad("length"))?;
    let header = bytes.get(8..end).ok_or_else(|| bad("short header"))?;
    let mut value: serde_json::Value = serde_json::from_slice(header).map_err(|e| bad(&e.to_string()))?;
    value.sort_all_objects();
    let mut text = serde_json::to_vec(&value).map_err(|e| bad(&e.to_string()))?;
    // The format pads the header with spaces so the data starts 8-byte aligned.
    while text.len() % 8 != 0 {
        text.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + text.len() + bytes.len() - end);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[end..]);
    Ok(out)
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

#[cfg(test)]
mod tests {
    use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
    use burn::prelude::*;

    use super::*;

    #[derive(Module, Debug)]
    struct Small {
        dense: Linear,
        norm: BatchNorm,
    }

    fn small(device: &Device) -> Small {
        Small { dense: LinearConfig::new(3, 2).init(device), norm: BatchNormConfig::new(2).init(device) }
    }

    #[test]
    fn the_same_weights_give_the_same_bytes_and_load_back() {
        let device = Device::flex();
        let model = small(&device);
        let first = save(&model).expect("save");
        // Each save builds its metadata map anew, with a new hash order.
        for _ in 0..8 {
            assert_eq!(save(&model).expect("save"), first);
        }
        let n = u64::from_le_bytes(first[..8].try_into().expect("length")) as usize;
        assert_eq!(n % 8, 0, "data stays 8-byte aligned");
        let mut other = small(&device);
        load(&mut other, first.clone(), Path::new("w.safetensors")).expect("load");
        assert_eq!(save(&other).expect("save"), first);
    }
}
