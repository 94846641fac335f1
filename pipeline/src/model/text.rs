//! A fastText-style classifier: the masked mean of hashed word and character
//! n-gram embeddings, then a hidden layer. Character n-grams keep most of a
//! word's features when one letter changes, so a typo does not erase it.

use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig, Relu};
use burn::prelude::*;

use super::per_example::Tape;
use super::{Classifier, ModelInput};
use crate::config::TextPlan;

/// The text classifier.
#[derive(Module, Debug)]
pub struct TextModel {
    embedding: Embedding,
    hidden: Linear,
    dropout: Dropout,
    output: Linear,
    act: Relu,
}

impl TextModel {
    /// A freshly initialised model.
    pub fn new(plan: &TextPlan, classes: usize, device: &Device) -> Self {
        TextModel {
            embedding: EmbeddingConfig::new(plan.buckets, plan.embedding_dim).init(device),
            hidden: LinearConfig::new(plan.embedding_dim, plan.hidden).init(device),
            dropout: DropoutConfig::new(plan.dropout).init(),
            output: LinearConfig::new(plan.hidden, classes).init(device),
            act: Relu::new(),
        }
    }

    /// # Shapes
    /// ids `[n, len]` (0 = padding) → `[n, classes]`
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<2> {
        let mask: Tensor<3> = ids.clone().not_equal_elem(0).float().unsqueeze_dim(2);
        let embedded = self.embedding.forward(ids);
        let summed = (embedded * mask.clone()).sum_dim(1);
        let count = mask.sum_dim(1).clamp_min(1.0);
        let mean: Tensor<2> = (summed / count).squeeze_dim(1);
        let x = self.dropout.forward(self.act.forward(self.hidden.forward(mean)));
        self.output.forward(x)
    }

    /// The hidden layer's activations, `[n, hidden]`.
    pub fn penultimate(&self, ids: Tensor<2, Int>) -> Tensor<2> {
        let mask: Tensor<3> = ids.clone().not_equal_elem(0).float().unsqueeze_dim(2);
        let summed = (self.embedding.forward(ids) * mask.clone()).sum_dim(1);
        let count = mask.sum_dim(1).clamp_min(1.0);
        let mean: Tensor<2> = (summed / count).squeeze_dim(1);
        self.act.forward(self.hidden.forward(mean))
    }

    /// [`TextModel::forward`] with every trainable layer recorded on `tape`.
    pub fn forward_taped(&self, ids: Tensor<2, Int>, tape: &mut Tape) -> Tensor<2> {
        let mask: Tensor<3> = ids.clone().not_equal_elem(0).float().unsqueeze_dim(2);
        let embedded = tape.embedding(&self.embedding, ids);
        let summed = (embedded * mask.clone()).sum_dim(1);
        let count = mask.sum_dim(1).clamp_min(1.0);
        let mean: Tensor<2> = (summed / count).squeeze_dim(1);
        let x = self.dropout.forward(self.act.forward(tape.linear(&self.hidden, mean)));
        tape.linear(&self.output, x)
    }
}

impl Classifier for TextModel {
    fn logits(&self, input: ModelInput) -> Tensor<2> {
        match input {
            ModelInput::Tokens(ids) => self.forward(ids),
            ModelInput::Images(_) => unreachable!("a text model was given an image batch"),
        }
    }

    fn logits_taped(&self, input: ModelInput, tape: &mut Tape) -> Option<Tensor<2>> {
        match input {
            ModelInput::Tokens(ids) => Some(self.forward_taped(ids, tape)),
            ModelInput::Images(_) => unreachable!("a text model was given an image batch"),
        }
    }

    fn penultimate(&self, input: ModelInput) -> Option<Tensor<2>> {
        match input {
            ModelInput::Tokens(ids) => Some(TextModel::penultimate(self, ids)),
            ModelInput::Images(_) => unreachable!("a text model was given an image batch"),
        }
    }
}
