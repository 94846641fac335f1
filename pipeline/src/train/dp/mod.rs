//! Differentially private training: DP-SGD (Abadi et al. 2016).
//!
//! Each step trains on a batch drawn by Poisson sampling (every row joins
//! with probability q, so the batch size varies around `batch-size`), clips
//! each example's gradient to the norm C, adds Gaussian noise of standard
//! deviation σC to the sum and divides by the expected batch size, as
//! Opacus does. Poisson sampling is what the accountant ([`accountant`])
//! analyses; shuffled fixed-size batches would need another analysis.
//! Sampling and noise are seeded by (seed, epoch, step), so a resumed run
//! draws exactly what an uninterrupted one would.

pub mod accountant;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::nn::loss::CrossEntropyLoss;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use rand::Rng;
use rand_distr::StandardNormal;

use crate::config::{DpBudget, DpPlan};
use crate::model::per_example::{ParamGrad, Tape};
use crate::model::{Classifier, ModelInput};
use accountant::{Mechanism, Unreachable};

/// DP-SGD settled for one training set: the noise solved, steps counted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DpRun {
    /// q = expected batch size / training rows.
    pub sample_rate: f64,
    /// σ.
    pub noise_multiplier: f64,
    /// C.
    pub max_grad_norm: f64,
    /// δ.
    pub delta: f64,
    /// Steps per epoch: training rows / expected batch size, rounded up.
    pub steps_per_epoch: usize,
    /// The expected batch size, the divisor of every noisy sum.
    pub expected_batch: f64,
}

impl DpRun {
    /// Settles `plan` for `rows` training rows, `batch_size` expected per
    /// step and `epochs`; a target ε the schedule cannot meet is refused.
    pub fn new(plan: &DpPlan, rows: usize, batch_size: usize, epochs: usize) -> Result<DpRun, Unreachable> {
        let rows = rows.max(1);
        let expected_batch = batch_size.min(rows) as f64;
        let sample_rate = expected_batch / rows as f64;
        let steps_per_epoch = rows.div_ceil(batch_size.min(rows));
        let delta = plan.delta.unwrap_or_else(|| accountant::default_delta(rows));
        let steps = (steps_per_epoch * epochs) as u64;
        let noise_multiplier = match plan.budget {
            DpBudget::NoiseMultiplier(s) => s,
            DpBudget::Epsilon(target) => accountant::noise_for(target, sample_rate, steps, delta)?,
        };
        Ok(DpRun {
            sample_rate,
            noise_multiplier,
            max_grad_norm: plan.max_grad_norm,
            delta,
            steps_per_epoch,
            expected_batch,
        })
    }

    /// ε spent after `epochs` full epochs.
    pub fn epsilon_after(&self, epochs: usize) -> f64 {
        let mechanism = Mechanism { sample_rate: self.sample_rate, noise_multiplier: self.noise_multiplier };
        mechanism.epsilon((epochs * self.steps_per_epoch) as u64, self.delta).0
    }

    /// The batches of one epoch: each row joins each step with probability q.
    pub fn batches(&self, rows: usize, seed: u64, epoch: usize) -> Vec<Vec<usize>> {
        (0..self.steps_per_epoch)
            .map(|step| {
                let mut rng =
                    augment::seed::rng(augment::seed::derive(seed, step as u64, epoch as u64, "dp-sample"));
                (0..rows).filter(|_| rng.random::<f64>() < self.sample_rate).collect()
            })
            .collect()
    }
}

/// Every float parameter's id and shape, in module order.
fn parameters<M: Module>(model: &M) -> Vec<(ParamId, Vec<usize>)> {
    struct Shapes(Vec<(ParamId, Vec<usize>)>);
    impl ModuleVisitor for Shapes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push((param.id, param.val().dims().to_vec()));
        }
    }
    let mut shapes = Shapes(Vec::new());
    model.visit(&mut shapes);
    shapes.0
}

/// Why a DP step could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum DpError {
    /// The model has no per-example gradients.
    #[error("this model does not support DP-SGD's per-example gradients")]
    Unsupported,
    /// A parameter's gradient would escape clipping.
    #[error("parameter {0} has no per-example gradient, so DP-SGD cannot clip it")]
    Uncovered(String),
}

/// One DP-SGD step's forward results, for the loop's readings.
pub struct DpStep<M> {
    /// The updated model.
    pub model: M,
    /// Mean loss over the batch, `[1]` (0 for an empty batch).
    pub loss: Tensor<1>,
    /// Correct predictions, `[1]`.
    pub hits: Tensor<1, Int>,
}

/// Per-example clipped, noised and averaged gradients of `model` on a
/// batch (`None`: the batch drawn was empty, and only noise moves the
/// weights), then one optimiser step. `noise_seed` seeds the noise.
#[allow(clippy::too_many_arguments)]
pub fn step<M: Classifier>(
    model: M,
    batch: Option<(ModelInput, Tensor<1, Int>)>,
    loss_fn: &CrossEntropyLoss,
    run: &DpRun,
    optim: &mut ModuleOptimizer,
    lr: f64,
    noise_seed: u64,
    device: &Device,
) -> Result<DpStep<M>, DpError> {
    let params = parameters(&model);
    let plain = device.clone().inner();
    let drawn = batch.is_some();
    let (sums, loss, hits) = match batch {
        Some((input, targets)) => {
            let frozen = model.clone().no_grad();
            let mut tape = Tape::default();
            let logits = frozen.logits_taped(input, &mut tape).ok_or(DpError::Unsupported)?;
            let n = targets.dims()[0];
            let mean = loss_fn.forward(logits.clone(), targets.clone());
            let hits = crate::train::loss::hits(logits.detach(), targets);
            // The summed loss, so each probe's gradient row is one example's own.
            let grads = (mean.clone() * n as f32).backward();
            let clipped = tape.clip(&grads, run.max_grad_norm);
            (clipped.sums, mean.detach(), hits)
        }
        None => (Vec::new(), Tensor::zeros([1], device), Tensor::zeros([1], device)),
    };
    let mut rng = augment::seed::rng(noise_seed);
    let std = (run.noise_multiplier * run.max_grad_norm) as f32;
    let mut out = GradientsParams::new();
    let mut sums: Vec<(ParamId, ParamGrad)> = sums;
    for (id, dims) in params {
        let found = sums.iter().position(|(i, _)| *i == id);
        if found.is_none() && drawn {
            return Err(DpError::Uncovered(format!("{id} {dims:?}")));
        }
        let count: usize = dims.iter().product();
        let noise: Vec<f32> = (0..count).map(|_| rng.sample::<f32, _>(StandardNormal) * std).collect();
        let noise = TensorData::new(noise, dims.clone());
        let scale = (1.0 / run.expected_batch) as f32;
        match found.map(|i| sums.swap_remove(i).1) {
            Some(ParamGrad::D1(s)) => out.register(id, (s + Tensor::from_data(noise, &plain)) * scale),
            Some(ParamGrad::D2(s)) => out.register(id, (s + Tensor::from_data(noise, &plain)) * scale),
            Some(ParamGrad::D4(s)) => out.register(id, (s + Tensor::from_data(noise, &plain)) * scale),
            None => match dims.len() {
                1 => out.register(id, Tensor::<1>::from_data(noise, &plain) * scale),
                2 => out.register(id, Tensor::<2>::from_data(noise, &plain) * scale),
                3 => out.register(id, Tensor::<3>::from_data(noise, &plain) * scale),
                4 => out.register(id, Tensor::<4>::from_data(noise, &plain) * scale),
                _ => return Err(DpError::Uncovered(format!("{id} {dims:?}"))),
            },
        }
    }
    Ok(DpStep { model: optim.step(lr, model, out), loss, hits })
}

#[cfg(test)]
mod tests;
