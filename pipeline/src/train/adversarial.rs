//! Adversarial training: part of each batch is replaced by adversarial
//! versions made against the current weights. Images use a gradient attack
//! (PGD training, Madry et al. 2018); texts use a black-box edit attack on
//! their most important words (A2T-style, Yoo & Qi 2021).
//!
//! Attacks run on an evaluation-mode copy of the model, so batch norm uses
//! its running statistics and the attack's forward passes do not move them,
//! and their randomness comes from (seed, epoch, batch or row), so a resumed
//! run makes the same adversarial examples.

use burn::prelude::*;

use crate::attack::black_box::{self, TextAttack, search};
use crate::attack::white_box;
use crate::batch::token_batch;
use crate::config::{Attack, Budget, TextAttackKind, TextPlan};
use crate::data::{Dataset, Inputs};
use crate::model::features::featurize;
use crate::model::{Classifier, HostInput, ModelInput, ReadbackError};

/// `input` (on an autodiff device) with its first `ratio · n` images
/// replaced by adversarial versions; text input is returned unchanged.
pub fn mix_images<M: Classifier>(
    model: &M,
    input: ModelInput,
    labels: &[i64],
    attack: &Attack,
    ratio: f64,
    seed: u64,
) -> ModelInput {
    let ModelInput::Images(x) = input else { return input };
    let n = labels.len();
    let k = share(n, ratio);
    if k == 0 {
        return ModelInput::Images(x);
    }
    let plain = x.inner();
    let device = plain.device();
    let head = plain.clone().slice(0..k);
    let y = Tensor::<1, Int>::from_data(TensorData::new(labels[..k].to_vec(), [k]), &device);
    let frozen = model.clone().freeze();
    let adversarial = white_box::perturb(&frozen, head, y, attack, seed);
    let mixed = if k == n { adversarial } else { Tensor::cat(vec![adversarial, plain.slice(k..n)], 0) };
    ModelInput::Images(mixed.autodiff())
}

/// Rows replaced in a batch of `n`.
fn share(n: usize, ratio: f64) -> usize {
    ((n as f64 * ratio).round() as usize).min(n)
}

/// What a text batch's adversarial step needs besides the model.
pub struct TextStep<'a> {
    /// The training set the batch's rows index.
    pub data: &'a Dataset,
    /// The batch's rows, in batch order.
    pub rows: &'a [usize],
    /// For featurising the edited texts.
    pub plan: &'a TextPlan,
    /// Which edit attack, with its budget and protected spans.
    pub kind: TextAttackKind,
    /// Word share and queries per text.
    pub budget: Budget,
    /// Protected spans and keyboard layout.
    pub context: &'a augment::text::TextContext,
    /// Share of the batch replaced.
    pub ratio: f64,
}

/// `host`'s token batch with its first `ratio · n` rows replaced by the
/// features of adversarially edited texts. `model` is in evaluation mode on
/// a plain device. Returns the number of rows the attack changed.
pub fn mix_texts<M: Classifier>(
    model: &M,
    host: &mut HostInput,
    step: &TextStep,
    seed: u64,
    device: &Device,
) -> Result<usize, ReadbackError> {
    let (Inputs::Texts(texts), HostInput::Tokens { ids, shape }) = (&step.data.inputs, &*host) else {
        return Ok(0);
    };
    let [n, len] = *shape;
    let k = share(n, step.ratio);
    if k == 0 {
        return Ok(0);
    }
    let mut attacks: Vec<TextAttack> = step.rows[..k]
        .iter()
        .map(|&r| {
            let s = augment::seed::derive(seed, r as u64, 0, "a2t");
            TextAttack::new(
                &texts[r],
                step.data.labels[r],
                black_box::strategy(step.kind),
                step.budget,
                step.context,
                s,
            )
        })
        .collect();
    let mut score = |q: &[String]| black_box::probabilities(model, q, step.plan, 256, device);
    search::run(&mut attacks, &mut score)?;
    let changed = attacks.iter().filter(|a| a.outcome().changed > 0).count();
    // Rows keep their width unless an edited text has more features.
    let rows: Vec<Vec<i64>> = (0..n)
        .map(|i| {
            if i < k {
                featurize(&attacks[i].outcome().text, step.plan)
            } else {
                ids[i * len..(i + 1) * len].to_vec()
            }
        })
        .collect();
    *host = token_batch(&rows, len);
    Ok(changed)
}
