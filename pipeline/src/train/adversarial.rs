//! PGD adversarial training (Madry et al. 2018): part of each batch is
//! replaced by adversarial versions made against the current weights.
//!
//! The attack runs on a frozen copy of the model, so batch norm uses its
//! running statistics and the attack's forward passes do not move them, and
//! its random starts come from (seed, epoch, batch), so a resumed run makes
//! the same adversarial examples.

use burn::prelude::*;

use crate::attack::white_box;
use crate::config::AdversarialPlan;
use crate::model::{Classifier, ModelInput};

/// `input` (on an autodiff device) with its first `ratio · n` images
/// replaced by adversarial versions; text input is returned unchanged.
pub fn mix<M: Classifier>(
    model: &M,
    input: ModelInput,
    labels: &[i64],
    plan: &AdversarialPlan,
    seed: u64,
) -> ModelInput {
    let ModelInput::Images(x) = input else { return input };
    let n = labels.len();
    let k = ((n as f64 * plan.ratio).round() as usize).min(n);
    if k == 0 {
        return ModelInput::Images(x);
    }
    let plain = x.inner();
    let device = plain.device();
    let head = plain.clone().slice(0..k);
    let y = Tensor::<1, Int>::from_data(TensorData::new(labels[..k].to_vec(), [k]), &device);
    let frozen = model.clone().freeze();
    let adversarial = white_box::perturb(&frozen, head, y, &plan.attack, seed);
    let mixed = if k == n { adversarial } else { Tensor::cat(vec![adversarial, plain.slice(k..n)], 0) };
    ModelInput::Images(mixed.autodiff())
}
