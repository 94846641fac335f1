//! Classifiers and the batch types they consume.
//!
//! Each model implements [`Classifier`]: logits from a [`ModelInput`].
//! Training, evaluation and attacks are written once against that trait.

mod cnn;
pub mod features;
mod text;

use burn::prelude::*;

pub use cnn::CnnModel;
pub use text::TextModel;

use crate::config::{ImageSpec, ModelPlan};

/// A model input on a device.
#[derive(Debug, Clone)]
pub enum ModelInput {
    /// `[batch, channels, height, width]`, values in [0, 1].
    Images(Tensor<4>),
    /// `[batch, features]` hashed feature ids, 0 is padding.
    Tokens(Tensor<2, Int>),
}

/// A batch prepared on the host, ready to move to a device.
#[derive(Debug, Clone, PartialEq)]
pub enum HostInput {
    /// Pixels in [0, 1], NCHW.
    Images {
        /// Values, `n × c × h × w`.
        pixels: Vec<f32>,
        /// `[n, c, h, w]`.
        shape: [usize; 4],
    },
    /// Feature ids padded to the longest row with 0.
    Tokens {
        /// Ids, `n × len`.
        ids: Vec<i64>,
        /// `[n, len]`.
        shape: [usize; 2],
    },
}

impl HostInput {
    /// Examples in the batch.
    pub fn len(&self) -> usize {
        match self {
            HostInput::Images { shape, .. } => shape[0],
            HostInput::Tokens { shape, .. } => shape[0],
        }
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the batch to `device`.
    pub fn to_device(&self, device: &Device) -> ModelInput {
        match self {
            HostInput::Images { pixels, shape } => {
                ModelInput::Images(Tensor::from_data(TensorData::new(pixels.clone(), *shape), device))
            }
            HostInput::Tokens { ids, shape } => {
                ModelInput::Tokens(Tensor::from_data(TensorData::new(ids.clone(), *shape), device))
            }
        }
    }
}

/// What every model does: logits `[batch, classes]` for a batch.
pub trait Classifier: Module + Clone + Send + Sync + 'static {
    /// Logits for a batch of the model's modality.
    ///
    /// # Shapes
    /// input `[n, ...]` → output `[n, classes]`.
    fn logits(&self, input: ModelInput) -> Tensor<2>;
}

/// Builds the model a plan describes.
pub enum AnyModel {
    /// Image CNN.
    Cnn(CnnModel),
    /// Text n-gram bag.
    Text(TextModel),
}

/// Builds a fresh model on `device` for `classes` outputs.
pub fn build(plan: &ModelPlan, image: &ImageSpec, classes: usize, device: &Device) -> AnyModel {
    match plan {
        ModelPlan::Cnn(p) => AnyModel::Cnn(CnnModel::new(p, image, classes, device)),
        ModelPlan::Text(p) => AnyModel::Text(TextModel::new(p, classes, device)),
    }
}
