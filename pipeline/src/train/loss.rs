//! The training loss: cross-entropy, plus AugMix's Jensen-Shannon
//! consistency term (Hendrycks et al. 2020) when configured.

use burn::nn::loss::CrossEntropyLoss;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};

use crate::model::readback::values;
use crate::model::{Classifier, ModelInput, ReadbackError};

/// One optimisation step, split so the loop can check the loss before the update.
pub struct Step {
    logits: Tensor<2>,
    targets: Tensor<1, Int>,
    loss: Tensor<1>,
}

impl Step {
    /// Forward pass and loss on an autodiff device.
    pub fn forward<M: Classifier>(
        model: &M,
        loss_fn: &CrossEntropyLoss,
        input: ModelInput,
        targets: Tensor<1, Int>,
    ) -> Step {
        let logits = model.logits(input);
        let loss = loss_fn.forward(logits.clone(), targets.clone());
        Step { logits, targets, loss }
    }

    /// Forward pass and cross-entropy against soft targets `[n, classes]`
    /// (rows summing to 1), as a model copy learns from another's answers;
    /// `targets` (each row's top class) count the correct predictions.
    pub fn forward_soft<M: Classifier>(
        model: &M,
        input: ModelInput,
        targets: Tensor<1, Int>,
        soft: Tensor<2>,
    ) -> Step {
        let logits = model.logits(input);
        let loss = (soft * log_softmax(logits.clone(), 1)).sum_dim(1).mean().neg();
        Step { logits, targets, loss }
    }

    /// Forward pass over `[clean; view 1; view 2]` (three times as many
    /// inputs as targets): cross-entropy on the clean third plus `weight`
    /// times the Jensen-Shannon divergence between the three predictions.
    pub fn forward_augmix<M: Classifier>(
        model: &M,
        loss_fn: &CrossEntropyLoss,
        input: ModelInput,
        targets: Tensor<1, Int>,
        weight: f64,
    ) -> Step {
        let n = targets.dims()[0];
        let all = model.logits(input);
        let logits = all.clone().slice(0..n);
        let loss = loss_fn.forward(logits.clone(), targets.clone())
            + jensen_shannon(&[
                all.clone().slice(0..n),
                all.clone().slice(n..2 * n),
                all.slice(2 * n..3 * n),
            ]) * weight;
        Step { logits, targets, loss }
    }

    /// The batch's mean loss (waits for the device).
    pub fn loss_value(&self) -> f32 {
        self.loss.clone().into_scalar()
    }

    /// Correct predictions in the batch.
    pub fn correct(&self) -> usize {
        correct(self.logits.clone().detach(), self.targets.clone())
    }

    /// The mean loss and the correct count, left on the device (detached,
    /// so they hold no graph) for a later [`Readings::read`].
    pub fn readings(&self) -> (Tensor<1>, Tensor<1, Int>) {
        (self.loss.clone().detach(), hits(self.logits.clone().detach(), self.targets.clone()))
    }

    /// Backward pass and optimiser update.
    pub fn update<M: Classifier>(self, model: M, optim: &mut ModuleOptimizer, lr: f64) -> M {
        let grads = GradientsParams::from_grads(self.loss.backward(), &model);
        optim.step(lr, model, grads)
    }
}

/// Mean over examples of the Jensen-Shannon divergence between the softmax
/// distributions of several logits (Hendrycks et al. 2020, eq. 2).
pub fn jensen_shannon(logits: &[Tensor<2>]) -> Tensor<1> {
    let probs: Vec<Tensor<2>> = logits.iter().map(|l| softmax(l.clone(), 1)).collect();
    let k = probs.len() as f64;
    let mixture = probs.iter().skip(1).fold(probs[0].clone(), |acc, p| acc + p.clone()) / k;
    let log_m = mixture.clamp(1e-7, 1.0).log();
    let kl =
        |p: &Tensor<2>| (p.clone() * (p.clone().clamp(1e-7, 1.0).log() - log_m.clone())).sum_dim(1).mean();
    probs.iter().skip(1).fold(kl(&probs[0]), |acc, p| acc + kl(p)) / k
}

/// Number of correct predictions in a batch of logits.
pub fn correct(logits: Tensor<2>, targets: Tensor<1, Int>) -> usize {
    hits(logits, targets).into_scalar::<i64>() as usize
}

/// The correct count as a one-element tensor on the logits' device.
pub(crate) fn hits(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1, Int> {
    let pred: Tensor<1, Int> = logits.argmax(1).squeeze_dim(1);
    pred.equal(targets).int().sum()
}

/// Per-batch losses and correct counts kept on the device and read back
/// together: one wait for the device per [`Readings::read`] instead of two
/// per batch, which on a GPU is the difference between a queue that stays
/// full and one drained every step.
#[derive(Default)]
pub struct Readings {
    losses: Vec<Tensor<1>>,
    hits: Vec<Tensor<1, Int>>,
}

impl Readings {
    /// Keeps one batch's readings.
    pub fn push(&mut self, (loss, hits): (Tensor<1>, Tensor<1, Int>)) {
        self.losses.push(loss);
        self.hits.push(hits);
    }

    /// Batches kept and not yet read.
    pub fn len(&self) -> usize {
        self.losses.len()
    }

    /// Whether nothing is waiting to be read.
    pub fn is_empty(&self) -> bool {
        self.losses.is_empty()
    }

    /// Each kept batch's (mean loss, correct count), in order; empties the buffer.
    pub fn read(&mut self) -> Result<Vec<(f32, usize)>, ReadbackError> {
        let n = self.losses.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let losses = values::<f32, 1, Float>(Tensor::cat(std::mem::take(&mut self.losses), 0), n, "losses")?;
        let hits =
            values::<i64, 1, Int>(Tensor::cat(std::mem::take(&mut self.hits), 0), n, "correct counts")?;
        Ok(losses.into_iter().zip(hits).map(|(l, h)| (l, h as usize)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logits(rows: &[[f32; 2]]) -> Tensor<2> {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_data(TensorData::new(flat, [rows.len(), 2]), &Device::flex())
    }

    #[test]
    fn jensen_shannon_matches_a_hand_computation() {
        // One example: p = (0.5, 0.5) from logits (0, 0); q = softmax(ln 3, 0) = (0.75, 0.25).
        let p = logits(&[[0.0, 0.0]]);
        let q = logits(&[[3f32.ln(), 0.0]]);
        let got: f32 = jensen_shannon(&[p.clone(), q.clone(), q]).into_scalar();
        let m = [(0.5 + 1.5) / 3.0, (0.5 + 0.5) / 3.0];
        let kl = |a: [f64; 2]| a[0] * (a[0] / m[0]).ln() + a[1] * (a[1] / m[1]).ln();
        let expected = (kl([0.5, 0.5]) + 2.0 * kl([0.75, 0.25])) / 3.0;
        assert!((f64::from(got) - expected).abs() < 1e-6, "{got} vs {expected}");
        let same: f32 = jensen_shannon(&[p.clone(), p.clone(), p]).into_scalar();
        assert!(same.abs() < 1e-7);
    }

    #[test]
    fn correct_counts_the_argmax_hits() {
        let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 0, 0], [3]), &Device::flex());
        assert_eq!(correct(logits(&[[0.0, 1.0], [2.0, 1.0], [0.0, 3.0]]), targets), 2);
    }
}
