//! Classifiers and the batch types they consume.
//!
//! Each model implements [`Classifier`]: logits from a [`ModelInput`].
//! Training, evaluation and attacks are written once against that trait.

mod cnn;
pub mod conv;
pub mod features;
mod flex;
// Generic over the backend and tested against burn's layer on the CPU one;
// only builds with a GPU device train through it.
#[cfg_attr(not(feature = "gpu"), allow(dead_code))]
mod gpu_norm;
pub mod lexicon;
pub mod norm;
pub mod per_example;
pub mod pool;
pub mod readback;
mod text;
pub mod weights;

use burn::module::{ModuleMapper, Param};
use burn::prelude::*;

pub use cnn::CnnModel;
pub use readback::{ReadbackError, predict_batch, predicted_classes};
pub use text::TextModel;

use crate::config::{ImageSpec, ModelPlan};

/// A model input on a device. One is made per batch and moved, never
/// stored in bulk, so the size difference of its variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum ModelInput {
    /// `[batch, channels, height, width]`, values in [0, 1].
    Images(Tensor<4>),
    /// A batch of feature bags.
    Tokens {
        /// `[batch, features]` hashed feature ids, each once per row; 0 is padding.
        ids: Tensor<2, Int>,
        /// `[batch, features]` occurrences of each id in its text; 0 for padding.
        counts: Tensor<2>,
    },
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
    /// Feature bags padded to the longest row with id 0, count 0.
    Tokens {
        /// Ids, `n × len`.
        ids: Vec<i64>,
        /// Occurrences, `n × len`.
        counts: Vec<f32>,
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
            HostInput::Tokens { ids, counts, shape } => ModelInput::Tokens {
                ids: Tensor::from_data(TensorData::new(ids.clone(), *shape), device),
                counts: Tensor::from_data(TensorData::new(counts.clone(), *shape), device),
            },
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

    /// [`Classifier::logits`] on a copy whose parameters do not require
    /// gradients, with each trainable layer recorded on `tape`, so that
    /// DP-SGD gets every example's gradient from one backward pass; `None`
    /// for a model without that support.
    fn logits_taped(&self, _input: ModelInput, _tape: &mut per_example::Tape) -> Option<Tensor<2>> {
        None
    }

    /// The penultimate layer's activations `[n, width]`, the representation
    /// the classifier layer reads (what poison filters inspect); `None` for
    /// a model without that support.
    fn penultimate(&self, _input: ModelInput) -> Option<Tensor<2>> {
        None
    }

    /// The model with its inverse document frequencies (one per feature
    /// bucket, from the training rows) set; unchanged for models without.
    fn with_idf(self, _idf: Vec<f32>) -> Self {
        self
    }

    /// The model with the lexicon its texts' words are recognised with;
    /// unchanged for models without word recognition.
    fn with_lexicon(self, _lexicon: std::sync::Arc<lexicon::Lexicon>) -> Self {
        self
    }

    /// The lexicon every text must go through before it is featurised for
    /// this model ([`features::featurize`]); `None` without word recognition.
    fn lexicon(&self) -> Option<std::sync::Arc<lexicon::Lexicon>> {
        None
    }
}

/// Builds the model a plan describes (one per run: its size does not matter).
#[allow(clippy::large_enum_variant)]
pub enum AnyModel {
    /// Image CNN.
    Cnn(CnnModel),
    /// Text n-gram bag.
    Text(TextModel),
}

/// A fresh model whose weights are drawn on the CPU from `seed` and then
/// moved to `device`, so the same config starts from the same weights on
/// every backend (each backend's own generator draws different numbers).
pub fn build_seeded(
    plan: &ModelPlan,
    image: &ImageSpec,
    classes: usize,
    seed: u64,
    device: &Device,
) -> AnyModel {
    let cpu = crate::device::host();
    cpu.seed(seed);
    // Drawn on a plain device: a move of autodiff tensors would be recorded
    // as an operation, leaving the weights as non-leaf nodes of the graph.
    match build(plan, image, classes, &cpu) {
        AnyModel::Cnn(m) => AnyModel::Cnn(onto(init_now(m), device)),
        AnyModel::Text(m) => AnyModel::Text(onto(init_now(m), device)),
    }
}

/// Moves plain weights to `device`, as trainable leaves when it is an autodiff device.
fn onto<M: Module>(model: M, device: &Device) -> M {
    let moved = model.to_device(&device.clone().inner());
    if device.is_autodiff() { moved.train() } else { moved }
}

/// Gives lazily initialised parameters their values now, on the device they
/// were created for; a move first would draw them on the destination.
fn init_now<M: Module>(model: M) -> M {
    struct Touch;
    impl ModuleMapper for Touch {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| t)
        }
    }
    model.map(&mut Touch)
}

/// A small CNN for unit tests: 3×3 kernels on `side`×`side` gray images,
/// three classes, weights drawn from seed 5, on `device` (trainable leaves
/// on an autodiff device).
#[cfg(test)]
pub fn test_cnn(
    conv: &[usize],
    hidden: usize,
    dropout: f64,
    norm: crate::config::Norm,
    side: u32,
    device: &Device,
) -> CnnModel {
    let plan = ModelPlan::Cnn(crate::config::CnnPlan {
        conv_channels: conv.to_vec(),
        kernel_size: 3,
        hidden,
        dropout,
        norm,
    });
    let spec = ImageSpec {
        channels: 1,
        width: side,
        height: side,
        max_pixels: 1 << 20,
        max_side: 1 << 10,
        allow_absolute_paths: false,
    };
    match build_seeded(&plan, &spec, 3, 5, device) {
        AnyModel::Cnn(m) => m,
        AnyModel::Text(_) => unreachable!("a CNN plan builds a CNN"),
    }
}

/// Builds a fresh model on `device` for `classes` outputs.
pub fn build(plan: &ModelPlan, image: &ImageSpec, classes: usize, device: &Device) -> AnyModel {
    match plan {
        ModelPlan::Cnn(p) => AnyModel::Cnn(CnnModel::new(p, image, classes, device)),
        ModelPlan::Text(p) => AnyModel::Text(TextModel::new(p, classes, device)),
    }
}
