//! A bag-of-n-grams classifier: hashed word and character n-gram
//! embeddings, summed with TF-IDF weights (or averaged, fastText-style),
//! then an optional hidden layer. Character n-grams keep most of a word's
//! features when one letter changes, so a typo does not erase it. With TF-IDF
//! weights and no hidden layer it is a linear model on the features a
//! TF-IDF n-gram classifier reads.

use std::sync::Arc;

use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig, Relu};
use burn::prelude::*;

use super::lexicon::Lexicon;
use super::per_example::Tape;
use super::{Classifier, ModelInput};
use crate::config::{TextPlan, TextWeighting};

/// The text classifier.
#[derive(Module, Debug)]
pub struct TextModel {
    /// `[buckets, embedding_dim]`, or `[buckets, classes]` for a linear model.
    embedding: Embedding,
    /// Inverse document frequency per bucket, set from the training rows
    /// before the first step and never trained; `None` for mean weighting.
    idf: Option<Param<Tensor<1>>>,
    /// With `output`: the hidden layer; both `None` for a linear model.
    hidden: Option<Linear>,
    output: Option<Linear>,
    /// A linear model's class biases.
    bias: Option<Param<Tensor<1>>>,
    dropout: Dropout,
    act: Relu,
    /// The training rows' words, with word recognition; not a weight: it is
    /// fitted before the first step and saved beside the weights.
    #[module(skip)]
    lexicon: Option<Arc<Lexicon>>,
}

impl TextModel {
    /// A freshly initialised model (TF-IDF weighting starts with every idf
    /// 1). A linear model starts at zero, as logistic regression does: a
    /// random weight on a feature seen once in training would stay noise.
    pub fn new(plan: &TextPlan, classes: usize, device: &Device) -> Self {
        let idf = (plan.weighting == TextWeighting::TfIdf).then(|| {
            let mut ones = vec![1f32; plan.buckets];
            ones[0] = 0.0;
            Param::from_tensor(Tensor::from_data(TensorData::new(ones, [plan.buckets]), device))
                .set_require_grad(false)
        });
        let linear = plan.hidden == 0;
        let embedding = if linear {
            EmbeddingConfig::new(plan.buckets, classes).with_initializer(Initializer::Zeros).init(device)
        } else {
            EmbeddingConfig::new(plan.buckets, plan.embedding_dim).init(device)
        };
        TextModel {
            embedding,
            idf,
            hidden: (!linear).then(|| LinearConfig::new(plan.embedding_dim, plan.hidden).init(device)),
            output: (!linear).then(|| LinearConfig::new(plan.hidden, classes).init(device)),
            bias: linear.then(|| Param::from_tensor(Tensor::zeros([classes], device))),
            dropout: DropoutConfig::new(plan.dropout).init(),
            act: Relu::new(),
            lexicon: None,
        }
    }

    /// The model with TF-IDF's document frequencies replaced by `idf` (one
    /// per bucket); unchanged under mean weighting.
    pub fn with_idf(mut self, idf: Vec<f32>) -> Self {
        if let Some(old) = self.idf.take() {
            let device = old.device();
            let n = idf.len();
            let t = Tensor::from_data(TensorData::new(idf, [n]), &device);
            self.idf = Some(Param::from_tensor(t).set_require_grad(false));
        }
        self
    }

    /// The model that recognises words with `lexicon`.
    pub fn with_lexicon(mut self, lexicon: Arc<Lexicon>) -> Self {
        self.lexicon = Some(lexicon);
        self
    }

    /// The lexicon its texts' words go through, with word recognition.
    pub fn lexicon(&self) -> Option<&Arc<Lexicon>> {
        self.lexicon.as_ref()
    }

    /// Each feature's weight `[n, len]`: TF-IDF with sublinear TF
    /// (`1 + ln tf`) normalised to unit L2 norm per text, or `tf / Σ tf`.
    /// Padding (count 0) weighs 0.
    fn weights(&self, ids: &Tensor<2, Int>, counts: Tensor<2>) -> Tensor<2> {
        let present = counts.clone().greater_elem(0.0).float();
        match &self.idf {
            Some(idf) => {
                let [n, len] = ids.dims();
                let idf = idf.val().detach().select(0, ids.clone().reshape([n * len])).reshape([n, len]);
                let tf = (counts.clamp_min(1.0).log() + 1.0) * present;
                let w = tf * idf;
                let norm = w.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
                w / norm
            }
            None => {
                let total = counts.clone().sum_dim(1).clamp_min(1.0);
                counts * present / total
            }
        }
    }

    /// The weighted bag `[n, embedding_dim or classes]`, its embedding
    /// lookup recorded on `tape` when there is one. A linear model's dropout
    /// drops features' weights here (a model with a hidden layer drops
    /// after it).
    fn bag(&self, ids: Tensor<2, Int>, counts: Tensor<2>, tape: Option<&mut Tape>) -> Tensor<2> {
        let mut w = self.weights(&ids, counts);
        if self.hidden.is_none() {
            w = self.dropout.forward(w);
        }
        let w: Tensor<3> = w.unsqueeze_dim(2);
        let embedded = match tape {
            Some(tape) => tape.embedding(&self.embedding, ids),
            None => self.embedding.forward(ids),
        };
        (embedded * w).sum_dim(1).squeeze_dim(1)
    }

    /// # Shapes
    /// ids, counts `[n, len]` (id 0, count 0 = padding) → `[n, classes]`
    pub fn forward(&self, ids: Tensor<2, Int>, counts: Tensor<2>) -> Tensor<2> {
        match (&self.hidden, &self.output) {
            (Some(hidden), Some(output)) => {
                let x = self.act.forward(hidden.forward(self.bag(ids, counts, None)));
                output.forward(self.dropout.forward(x))
            }
            _ => self.linear_logits(self.bag(ids, counts, None)),
        }
    }

    fn linear_logits(&self, bag: Tensor<2>) -> Tensor<2> {
        match &self.bias {
            Some(bias) => bag + bias.val().unsqueeze_dim(0),
            None => bag,
        }
    }

    /// What the output layer reads: the hidden activations, or a linear
    /// model's logits `[n, classes]`.
    pub fn penultimate(&self, ids: Tensor<2, Int>, counts: Tensor<2>) -> Tensor<2> {
        let bag = self.bag(ids, counts, None);
        match &self.hidden {
            Some(hidden) => self.act.forward(hidden.forward(bag)),
            None => self.linear_logits(bag),
        }
    }

    /// [`TextModel::forward`] with every trainable layer recorded on `tape`.
    pub fn forward_taped(&self, ids: Tensor<2, Int>, counts: Tensor<2>, tape: &mut Tape) -> Tensor<2> {
        match (&self.hidden, &self.output) {
            (Some(hidden), Some(output)) => {
                let bag = self.bag(ids, counts, Some(tape));
                let x = self.act.forward(tape.linear(hidden, bag));
                tape.linear(output, self.dropout.forward(x))
            }
            _ => {
                let bag = self.bag(ids, counts, Some(tape));
                match &self.bias {
                    Some(b) => tape.bias(b, bag),
                    None => bag,
                }
            }
        }
    }
}

impl Classifier for TextModel {
    fn logits(&self, input: ModelInput) -> Tensor<2> {
        match input {
            ModelInput::Tokens { ids, counts } => self.forward(ids, counts),
            ModelInput::Images(_) => unreachable!("a text model was given an image batch"),
        }
    }

    fn logits_taped(&self, input: ModelInput, tape: &mut Tape) -> Option<Tensor<2>> {
        match input {
            ModelInput::Tokens { ids, counts } => Some(self.forward_taped(ids, counts, tape)),
            ModelInput::Images(_) => unreachable!("a text model was given an image batch"),
        }
    }

    fn penultimate(&self, input: ModelInput) -> Option<Tensor<2>> {
        match input {
            ModelInput::Tokens { ids, counts } => Some(TextModel::penultimate(self, ids, counts)),
            ModelInput::Images(_) => unreachable!("a text model was given an image batch"),
        }
    }

    fn with_idf(self, idf: Vec<f32>) -> Self {
        TextModel::with_idf(self, idf)
    }

    fn with_lexicon(self, lexicon: Arc<Lexicon>) -> Self {
        TextModel::with_lexicon(self, lexicon)
    }

    fn lexicon(&self) -> Option<Arc<Lexicon>> {
        TextModel::lexicon(self).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(weighting: TextWeighting) -> TextPlan {
        TextPlan {
            buckets: 8,
            embedding_dim: 2,
            hidden: 0,
            dropout: 0.0,
            ngram_min: 2,
            ngram_max: 3,
            word_ngrams: 1,
            weighting,
            max_features: 16,
            word_recognition: false,
        }
    }

    fn weights(weighting: TextWeighting) -> Vec<f32> {
        let device = crate::device::host();
        let idf = vec![0.0, 1.0, 1.0, 2.0, 1.0, 1.5, 1.0, 1.0];
        let model = TextModel::new(&plan(weighting), 2, &device).with_idf(idf);
        let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![3i64, 5, 0], [1, 3]), &device);
        let counts = Tensor::<2>::from_data(TensorData::new(vec![1f32, 3.0, 0.0], [1, 3]), &device);
        model.weights(&ids, counts).into_data().convert::<f32>().try_to_vec::<f32>().expect("f32")
    }

    #[test]
    fn tfidf_weights_are_sublinear_tf_times_idf_with_unit_norm() {
        // id 3 once (idf 2), id 5 three times (idf 1.5), then padding.
        let (a, b) = (2.0f64, (1.0 + 3f64.ln()) * 1.5);
        let norm = (a * a + b * b).sqrt();
        let got = weights(TextWeighting::TfIdf);
        for (g, e) in got.iter().zip([a / norm, b / norm, 0.0]) {
            assert!((f64::from(*g) - e).abs() < 1e-6, "{got:?}");
        }
    }

    #[test]
    fn mean_weights_are_each_features_share_of_the_occurrences() {
        assert_eq!(weights(TextWeighting::Mean), [0.25, 0.75, 0.0]);
    }

    #[test]
    fn the_document_frequencies_are_saved_and_loaded_with_the_weights() {
        let device = crate::device::host();
        let idf = vec![0.0, 1.0, 1.0, 2.0, 1.0, 1.5, 1.0, 1.0];
        let model = TextModel::new(&plan(TextWeighting::TfIdf), 2, &device).with_idf(idf);
        let bytes = crate::model::weights::save(&model).expect("save");
        let mut fresh = TextModel::new(&plan(TextWeighting::TfIdf), 2, &device);
        crate::model::weights::load(&mut fresh, bytes, std::path::Path::new("w")).expect("load");
        let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![3i64, 5, 0], [1, 3]), &device);
        let counts = Tensor::<2>::from_data(TensorData::new(vec![1f32, 3.0, 0.0], [1, 3]), &device);
        let read = |m: &TextModel| -> Vec<f32> {
            m.weights(&ids, counts.clone()).into_data().convert::<f32>().try_to_vec::<f32>().expect("f32")
        };
        assert_eq!(read(&fresh), read(&model));
        assert_ne!(read(&fresh), read(&TextModel::new(&plan(TextWeighting::TfIdf), 2, &device)));
    }

    #[test]
    fn a_linear_model_starts_at_zero_and_its_logits_are_the_weighted_rows() {
        let device = crate::device::host();
        let model = TextModel::new(&plan(TextWeighting::TfIdf), 3, &device);
        let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![3i64, 5], [1, 2]), &device);
        let counts = Tensor::<2>::from_data(TensorData::new(vec![1f32, 2.0], [1, 2]), &device);
        let logits =
            model.forward(ids, counts).into_data().convert::<f32>().try_to_vec::<f32>().expect("f32");
        assert_eq!(logits, [0.0, 0.0, 0.0]);
    }
}
