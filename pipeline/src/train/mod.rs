//! The training loop: shuffled batches prepared on a data thread (with
//! augmentation, in parallel) while the model trains on the device.
//!
//! Everything random is derived from the run seed and the position in
//! training (epoch, batch), never from a generator's running state: data
//! order, augmentation and dropout masks. A run resumed from a checkpoint
//! therefore continues exactly as if it had never stopped.

pub mod adversarial;
pub mod awp;
pub mod checkpoint;
pub mod dp;
pub mod loss;
pub mod macer;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::batch::{self, BatchError, HostBatch, Perturbation};
use crate::config::{
    AdversarialMethod, AdversarialPlan, AugmentPolicy, ClassWeights, ModelPlan, NoisePlan, Optimizer, Plan,
    Schedule, TextWeighting, TrainPlan, ValidationPlan,
};
use crate::data::{Dataset, Inputs};
use crate::model::features::idf;
use crate::model::lexicon::Lexicon;
use crate::model::{Classifier, ModelInput, ReadbackError};
use crate::progress::Progress;
use crate::run::metrics::EpochMetrics;
pub use loss::{Readings, Step, correct, jensen_shannon};

/// Why training stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The loss became NaN or infinite.
    #[error(
        "the training loss became {loss} at epoch {epoch}, batch {batch}; the last good checkpoint is kept. Lower `train.learning-rate` or check the data"
    )]
    NonFinite {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch.
        batch: usize,
        /// The value.
        loss: f32,
    },
    /// A stop was requested (SIGINT/SIGTERM); a checkpoint was written.
    #[error("stopped by a signal at epoch {epoch}, batch {batch}; a checkpoint was written")]
    Interrupted {
        /// 1-based epoch.
        epoch: usize,
        /// Batches done in that epoch.
        batch: usize,
    },
    /// A training batch could not be built.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// The adversarial step could not read the model's answers back.
    #[error(transparent)]
    Readback(#[from] ReadbackError),
    /// A hook (checkpoint, log) failed.
    #[error(transparent)]
    Hook(#[from] anyhow::Error),
    /// DP-SGD's noise cannot meet the target ε.
    #[error(transparent)]
    Budget(#[from] dp::accountant::Unreachable),
    /// A DP-SGD step failed.
    #[error(transparent)]
    Dp(#[from] dp::DpError),
}

/// Where training stands: enough to continue exactly.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Completed epochs.
    pub epoch: usize,
    /// Completed batches of the current epoch.
    pub batch: usize,
    /// Sum of per-example losses so far in the current epoch.
    pub loss_sum: f64,
    /// Examples seen so far in the current epoch.
    pub seen: usize,
    /// Correct predictions so far in the current epoch.
    pub hits: usize,
    /// Seconds spent so far in the current epoch (across restarts).
    pub seconds: f64,
    /// Of those, seconds the device waited for the data thread's next batch.
    #[serde(default)]
    pub data_wait_seconds: f64,
    /// Finished epochs' metrics.
    pub epochs: Vec<EpochMetrics>,
    /// The best validated epoch so far, under `train.validation-share`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best: Option<Best>,
    /// Whether `train.patience` ended training before `train.epochs`.
    #[serde(default)]
    pub stopped_early: bool,
}

/// A validated epoch's scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Best {
    /// 1-based epoch.
    pub epoch: usize,
    /// Validation accuracy, in [0, 1].
    pub accuracy: f64,
    /// Mean validation cross-entropy.
    pub loss: f64,
    /// Validation accuracy under `train.select-by = "robust-accuracy"`'s attack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robust_accuracy: Option<f64>,
}

impl Best {
    /// Whether `self` beats `other`: higher robust accuracy where both were
    /// attacked, then higher accuracy, ties broken by lower loss.
    pub fn beats(&self, other: &Best) -> bool {
        let robust = |b: &Best| b.robust_accuracy.unwrap_or(0.0);
        (robust(self), self.accuracy, -self.loss) > (robust(other), other.accuracy, -other.loss)
    }
}

/// What training calls back into: per-epoch metrics and checkpoints.
pub trait Hooks<M> {
    /// After each epoch.
    fn epoch_done(&mut self, metrics: &EpochMetrics) -> anyhow::Result<()>;
    /// After each batch, with its mean loss (1-based epoch and batch).
    fn batch_done(&mut self, _epoch: usize, _batch: usize, _loss: f32) -> anyhow::Result<()> {
        Ok(())
    }
    /// After the first batch of a training on a GPU, with its time: it
    /// compiles (or reads from the kernel cache) and autotunes every kernel
    /// a step launches, which can take minutes.
    fn gpu_warmed_up(&mut self, _seconds: f64) -> anyhow::Result<()> {
        Ok(())
    }
    /// Writes a checkpoint of the model, optimiser and state.
    fn checkpoint(&mut self, model: &M, optim: &ModuleOptimizer, state: &TrainState) -> anyhow::Result<()>;
    /// Keeps the weights of a new best validated epoch (before the
    /// checkpoint that records it).
    fn save_best(&mut self, _model: &M) -> anyhow::Result<()> {
        Ok(())
    }
    /// The weights [`Hooks::save_best`] kept, loaded into `model`: needed
    /// when a resumed run's best epoch came before the restart.
    fn load_best(&mut self, _model: M) -> anyhow::Result<M> {
        anyhow::bail!("the best epoch's weights were not kept")
    }
}

/// Hooks for side models (privacy references, a poison filter's scoring
/// model): no checkpoints, no log; retrained from their seeds on resume.
struct Silent;

impl<M> Hooks<M> for Silent {
    fn epoch_done(&mut self, _: &EpochMetrics) -> anyhow::Result<()> {
        Ok(())
    }
    fn checkpoint(&mut self, _: &M, _: &ModuleOptimizer, _: &TrainState) -> anyhow::Result<()> {
        Ok(())
    }
}

/// The fixed inputs of one training session.
pub struct Session<'a> {
    /// Epochs, batch size, optimiser, augmentation.
    pub plan: &'a TrainPlan,
    /// For featurising text.
    pub model_plan: &'a ModelPlan,
    /// Run seed.
    pub seed: u64,
    /// The autodiff device.
    pub device: &'a Device,
    /// Progress display.
    pub progress: &'a Progress,
    /// Set by a signal handler: stop after the current batch.
    pub stop: &'a AtomicBool,
    /// Soft targets to learn instead of the labels (a surrogate learning a
    /// model's answers); plain steps only.
    pub soft_targets: Option<&'a SoftTargets>,
}

/// One target distribution per training row, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct SoftTargets {
    /// Classes per row.
    pub classes: usize,
    /// `rows × classes` values, each row summing to 1.
    pub values: Vec<f32>,
}

impl SoftTargets {
    /// The targets of `rows`, in order, on `device`.
    fn batch(&self, rows: &[usize], device: &Device) -> Tensor<2> {
        let c = self.classes;
        let mut out = Vec::with_capacity(rows.len() * c);
        for &r in rows {
            out.extend_from_slice(&self.values[r * c..(r + 1) * c]);
        }
        Tensor::from_data(TensorData::new(out, [rows.len(), c]), device)
    }
}

impl<'a> Session<'a> {
    /// A session that trains as `plan` says, from `seed`, on `device` (an autodiff device).
    pub fn of_plan(
        plan: &'a Plan,
        seed: u64,
        device: &'a Device,
        progress: &'a Progress,
        stop: &'a AtomicBool,
    ) -> Self {
        Session {
            plan: &plan.train,
            model_plan: &plan.model,
            seed,
            device,
            progress,
            stop,
            soft_targets: None,
        }
    }
}

/// Trains a side model from scratch: a fresh optimiser, no checkpoints, no log.
pub fn fit_silently<M: Classifier>(model: M, data: &Dataset, s: &Session) -> Result<M, TrainError> {
    Ok(fit(model, optimizer(s.plan), TrainState::default(), data, s, &mut Silent)?.0)
}

/// The training rows and the held-out validation rows (both ascending) of
/// a table with these labels: `share` of each class's rows, rounded, in an
/// order drawn from (seed, class) only.
pub fn validation_split(labels: &[usize], share: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    let mut held = Vec::new();
    for c in 0..classes {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&r| labels[r] == c).collect();
        rows.shuffle(&mut augment::seed::rng(augment::seed::derive(seed, c as u64, 0, "validation")));
        let k = (rows.len() as f64 * share).round() as usize;
        held.extend_from_slice(&rows[..k.min(rows.len())]);
    }
    held.sort_unstable();
    let mut is_held = vec![false; labels.len()];
    for &r in &held {
        is_held[r] = true;
    }
    ((0..labels.len()).filter(|&r| !is_held[r]).collect(), held)
}

/// Per-class loss weights `n / (classes · n_c)` over `labels`; a class
/// without rows weighs 0 (it never occurs as a target).
pub fn balanced_weights(labels: &[usize], classes: usize) -> Vec<f32> {
    let mut counts = vec![0usize; classes];
    for &l in labels {
        counts[l] += 1;
    }
    let n = labels.len() as f64;
    counts.iter().map(|&c| if c == 0 { 0.0 } else { (n / (classes as f64 * c as f64)) as f32 }).collect()
}

/// The learning rate of batch `b` (0-based) of `epoch` (0-based) with
/// `batches` per epoch.
pub fn learning_rate(plan: &TrainPlan, epoch: usize, b: usize, batches: usize) -> f64 {
    match plan.schedule {
        Schedule::Constant => plan.learning_rate,
        Schedule::Cosine => {
            let done = (epoch as f64 + b as f64 / batches.max(1) as f64) / plan.epochs as f64;
            plan.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * done).cos())
        }
    }
}

/// Which of `rows` validation rows the robust score attacks: `cap` of them
/// evenly spaced through the split (so a table sorted by class still gives
/// every class its share), or all.
pub fn attacked_rows(rows: usize, cap: Option<usize>) -> Vec<usize> {
    match cap {
        Some(k) if k < rows => (0..k).map(|i| i * rows / k).collect(),
        _ => (0..rows).collect(),
    }
}

/// Mean cross-entropy and accuracy of `model` on `data`, unweighted, in
/// evaluation mode on the plain device, and under `plan.robust` the
/// accuracy under that attack on [`attacked_rows`] (made on a frozen copy,
/// seeded by the run seed and `epoch`).
fn validate<M: Classifier>(
    model: &M,
    data: &Dataset,
    s: &Session,
    plan: &ValidationPlan,
    epoch: usize,
) -> Result<Best, TrainError> {
    let attack = plan.robust.as_ref();
    let device = s.device.clone().inner();
    let frozen = attack.map(|_| model.clone().freeze());
    let model = model.valid();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let no_context = augment::text::TextContext::default();
    let rows: Vec<usize> = (0..data.len()).collect();
    let mut attacked = vec![false; data.len()];
    let scored = attacked_rows(data.len(), plan.robust_examples);
    for &r in &scored {
        attacked[r] = true;
    }
    let (mut loss, mut hits, mut robust) = (0.0f64, 0usize, 0usize);
    for (k, chunk) in rows.chunks(256).enumerate() {
        let host = batch::build(
            data,
            chunk,
            Perturbation::None,
            s.model_plan,
            model.lexicon().as_deref(),
            &no_context,
        )?;
        let n = chunk.len();
        let input = host.input.to_device(&device);
        let logits = model.logits(input.clone());
        let targets = Tensor::<1, Int>::from_data(TensorData::new(host.labels.clone(), [n]), &device);
        let mean = crate::model::readback::values::<f32, 1, Float>(
            loss_fn.forward(logits.clone(), targets.clone()),
            1,
            "validation loss",
        )?[0];
        loss += f64::from(mean) * n as f64;
        let right = |logits, labels: &[i64]| -> Result<usize, ReadbackError> {
            let predicted = crate::model::predicted_classes(logits)?;
            Ok(predicted.iter().zip(labels).filter(|(p, l)| **p as i64 == **l).count())
        };
        hits += right(logits, &host.labels)?;
        let picked: Vec<usize> = (0..n).filter(|&i| attacked[chunk[i]]).collect();
        if let (Some(attack), Some(frozen), ModelInput::Images(x), false) =
            (attack, &frozen, input, picked.is_empty())
        {
            let (x, targets, labels) = if picked.len() == n {
                (x, targets, host.labels.clone())
            } else {
                let at = Tensor::<1, Int>::from_data(
                    TensorData::new(picked.iter().map(|&i| i as i64).collect(), [picked.len()]),
                    &device,
                );
                let labels = picked.iter().map(|&i| host.labels[i]).collect();
                (x.select(0, at.clone()), targets.select(0, at), labels)
            };
            // Seeded by (seed, epoch, chunk): a resumed run scores the same.
            let seed = augment::seed::derive(s.seed, k as u64, epoch as u64, "validation-attack");
            let adversarial = crate::attack::white_box::perturb(frozen, x, targets, attack, seed)?;
            robust += right(model.logits(ModelInput::Images(adversarial)), &labels)?;
        }
    }
    let n = data.len().max(1) as f64;
    Ok(Best {
        epoch: 0,
        accuracy: hits as f64 / n,
        loss: loss / n,
        robust_accuracy: attack.map(|_| robust as f64 / scored.len().max(1) as f64),
    })
}

/// Batches queued ahead of the training thread.
const PREFETCH: usize = 3;

/// Batches trained between reads of their losses from the device.
pub const READ_EVERY: usize = 16;

/// Batches trained whose loss and correct count are still on the device.
#[derive(Default)]
struct Pending {
    readings: Readings,
    /// (0-based batch, examples) of each, in order.
    batches: Vec<(usize, usize)>,
}

impl Pending {
    fn push(&mut self, batch: usize, examples: usize, readings: (Tensor<1>, Tensor<1, Int>)) {
        self.readings.push(readings);
        self.batches.push((batch, examples));
    }

    fn len(&self) -> usize {
        self.batches.len()
    }

    /// Reads the kept batches back and adds them to `state` in order, as
    /// if each had been read on its own: the first non-finite loss stops
    /// training naming its batch, and each batch's loss goes to the hook.
    fn settle<M>(
        &mut self,
        state: &mut TrainState,
        epoch: usize,
        fault_nan_at: Option<(usize, usize)>,
        hooks: &mut dyn Hooks<M>,
    ) -> Result<(), TrainError> {
        let read = self.readings.read()?;
        for ((b, n), (mut value, hits)) in std::mem::take(&mut self.batches).into_iter().zip(read) {
            if fault_nan_at == Some((epoch + 1, b + 1)) {
                value = f32::NAN;
            }
            if !value.is_finite() {
                return Err(TrainError::NonFinite { epoch: epoch + 1, batch: b + 1, loss: value });
            }
            state.hits += hits;
            state.loss_sum += f64::from(value) * n as f64;
            state.seen += n;
            hooks.batch_done(epoch + 1, b + 1, value)?;
        }
        Ok(())
    }
}

/// The progress bar's running loss and accuracy.
fn running(state: &TrainState) -> String {
    format!(
        "loss {:.4} acc {:.1}%",
        state.loss_sum / state.seen.max(1) as f64,
        100.0 * state.hits as f64 / state.seen.max(1) as f64
    )
}

/// A fresh optimiser for the plan.
pub fn optimizer(plan: &TrainPlan) -> ModuleOptimizer {
    let decay = (plan.weight_decay > 0.0).then(|| WeightDecayConfig::new(plan.weight_decay as f32));
    match plan.optimizer {
        Optimizer::Adam => AdamConfig::new().with_weight_decay(decay).init(),
        Optimizer::AdamW => AdamWConfig::new().with_weight_decay(plan.weight_decay as f32).init(),
        Optimizer::Sgd { momentum } => SgdConfig::new()
            .with_momentum(Some(MomentumConfig::new().with_momentum(momentum).with_dampening(0.0)))
            .with_weight_decay(decay)
            .init(),
    }
}

/// The row order of one epoch, from (seed, epoch) only.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut augment::seed::rng(augment::seed::derive(seed, 0, epoch as u64, "shuffle")));
    order
}

/// The share of an epoch's wall time the device was not waiting for data:
/// below 1 when augmentation on the CPU threads cannot keep up.
pub fn busy_share(seconds: f64, data_wait_seconds: f64) -> f64 {
    if seconds <= 0.0 { 1.0 } else { (1.0 - data_wait_seconds / seconds).clamp(0.0, 1.0) }
}

fn policy_is_empty(plan: &TrainPlan) -> bool {
    match &plan.augment {
        AugmentPolicy::Image(p) => p.is_empty(),
        AugmentPolicy::Text(p) => p.is_empty(),
    }
}

/// Fault injection for the NaN-loss path, which no bounded config reaches
/// reliably: `TEMPER_FAULT_NAN_AT=<epoch>:<batch>` (1-based) makes that
/// batch's loss NaN. Used by the end-to-end tests; harmless when unset.
fn nan_fault() -> Option<(usize, usize)> {
    let v = std::env::var("TEMPER_FAULT_NAN_AT").ok()?;
    let (e, b) = v.split_once(':')?;
    Some((e.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// The data thread: builds `batches` (the epoch's, from the first not yet
/// trained on) in order, and stops at the first error (sent on) or when
/// training hangs up.
fn prefetch(
    data: &Dataset,
    batches: &[Vec<usize>],
    perturb: Perturbation,
    epoch: usize,
    s: &Session,
    lexicon: Option<&Lexicon>,
    tx: &std::sync::mpsc::SyncSender<Result<HostBatch, BatchError>>,
) {
    // Training perturbations come from the policy, which carries its own context.
    let no_context = augment::text::TextContext::default();
    for rows in batches {
        let host =
            batch::build(data, rows, perturb, s.model_plan, lexicon, &no_context).and_then(|mut host| {
                if let Some(a) = &s.plan.augmix {
                    batch::add_augmix_views(&mut host, data, rows, a.severity, s.seed, epoch as u64)?;
                }
                // SmoothAdv attacks the clean images and adds the noise itself.
                let smooth_adv = s.plan.adversarial.as_ref().is_some_and(|a| {
                    matches!(a.method, AdversarialMethod::SmoothAdv { .. }) && epoch >= a.warmup_epochs
                });
                if let (Some(n), false) = (&s.plan.noise, smooth_adv) {
                    batch::add_gaussian_noise(
                        &mut host,
                        rows,
                        n.sigma as f32,
                        n.copies,
                        s.seed,
                        epoch as u64,
                    )?;
                }
                Ok(host)
            });
        let failed = host.is_err();
        if tx.send(host).is_err() || failed {
            break;
        }
    }
}

/// Batch `host` on the device with part of it replaced by adversarial
/// examples made against the current `model`; seeded by (seed, epoch, batch).
fn adversarial_input<M: Classifier>(
    model: &M,
    host: &mut HostBatch,
    adv: &AdversarialPlan,
    data: &Dataset,
    s: &Session,
    (epoch, b): (usize, usize),
) -> Result<ModelInput, TrainError> {
    let seed = augment::seed::derive(s.seed, b as u64, epoch as u64, "adversarial");
    match (&adv.method, s.model_plan) {
        (AdversarialMethod::Edits { kind, budget, context }, ModelPlan::Text(tp)) => {
            let step = adversarial::TextStep {
                data,
                rows: &host.rows,
                plan: tp,
                kind: *kind,
                budget: *budget,
                context,
                ratio: adv.ratio,
            };
            let plain = s.device.clone().inner();
            adversarial::mix_texts(&model.valid(), &mut host.input, &step, seed, &plain)?;
            Ok(host.input.to_device(s.device))
        }
        (AdversarialMethod::Gradient(attack), _) => {
            let input = host.input.to_device(s.device);
            let attack = attack.scaled(adv.ramp(epoch));
            Ok(adversarial::mix_images(model, input, &host.labels, &attack, adv.ratio, seed)?)
        }
        (&AdversarialMethod::Paired { loss, ref attack, .. }, _) => {
            let attack = attack.scaled(adv.ramp(epoch));
            let input = host.input.to_device(s.device);
            Ok(adversarial::paired_images(model, input, &host.labels, loss, &attack, seed))
        }
        (&AdversarialMethod::SmoothAdv { epsilon, steps, samples }, _) => {
            // Resolution refuses SmoothAdv without [train.noise].
            let (sigma, copies) = s.plan.noise.as_ref().map_or((0.0, 1), |n| (n.sigma, n.copies));
            let step = adversarial::SmoothAdvStep {
                epsilon: (epsilon * adv.ramp(epoch)) as f32,
                steps,
                samples,
                sigma: sigma as f32,
                copies,
                ratio: adv.ratio,
                seed: s.seed,
                epoch: epoch as u64,
            };
            let input = host.input.to_device(s.device);
            Ok(adversarial::smooth_adv_images(model, input, &host.labels, &host.rows, &step)?)
        }
        (AdversarialMethod::Edits { .. }, _) => {
            Err(BatchError::Mismatch { what: "text adversarial training", data: "image" }.into())
        }
    }
}

/// The model with what it learns from the training rows before the first
/// step: TF-IDF's document frequencies, counted over the texts as its
/// lexicon recognises them (a resumed run has them in its checkpoint).
fn fitted_to<M: Classifier>(model: M, data: &Dataset, plan: &ModelPlan) -> M {
    match (plan, &data.inputs) {
        (ModelPlan::Text(p), Inputs::Texts(texts)) if p.weighting == TextWeighting::TfIdf => {
            let lexicon = model.lexicon();
            model.with_idf(idf(texts.iter().map(String::as_str), p, lexicon.as_deref()))
        }
        _ => model,
    }
}

/// The model with word recognition's lexicon of the training rows `data`,
/// where its plan asks for one.
fn recognising<M: Classifier>(model: M, data: &Dataset, plan: &ModelPlan) -> M {
    match (plan, &data.inputs) {
        (ModelPlan::Text(p), Inputs::Texts(texts)) if p.word_recognition => {
            model.with_lexicon(Arc::new(Lexicon::fit(texts.iter().map(String::as_str))))
        }
        _ => model,
    }
}

/// Trains from `state` to the plan's last epoch. Checkpoints are written at
/// every epoch end, every `plan.checkpoint_every` batches or
/// `plan.checkpoint_minutes` minutes, and when a stop is requested.
pub fn fit<M: Classifier>(
    mut model: M,
    mut optim: ModuleOptimizer,
    mut state: TrainState,
    data: &Dataset,
    s: &Session,
    hooks: &mut dyn Hooks<M>,
) -> Result<(M, TrainState), TrainError> {
    let plan = s.plan;
    if s.soft_targets.is_some()
        && (plan.privacy.is_some()
            || plan.augmix.is_some()
            || plan.adversarial.is_some()
            || plan.noise.is_some_and(|n| n.trains_on_copies()))
    {
        return Err(TrainError::Hook(anyhow::anyhow!(
            "soft targets train with plain steps only, not DP-SGD, AugMix, adversarial training or several noisy copies"
        )));
    }
    // The validation rows are held out of everything training sees.
    let (held, validation) = match &plan.validation {
        Some(v) => {
            if s.soft_targets.is_some() {
                return Err(TrainError::Hook(anyhow::anyhow!(
                    "soft targets cannot be combined with a validation split"
                )));
            }
            let (train_rows, held_rows) = validation_split(&data.labels, v.share, s.seed);
            (Some(data.subset(&train_rows)), Some((v, data.subset(&held_rows))))
        }
        None => (None, None),
    };
    let data = held.as_ref().unwrap_or(data);
    // Not a weight, so not in a checkpoint: fitted again on resume.
    model = recognising(model, data, s.model_plan);
    let lexicon = model.lexicon();
    if state == TrainState::default() {
        model = fitted_to(model, data, s.model_plan);
    }
    let mut loss_config = CrossEntropyLossConfig::new();
    if plan.class_weights == ClassWeights::Balanced {
        // Long enough for every target; only the targets' weights are read.
        let classes = data.labels.iter().max().map_or(0, |m| m + 1);
        loss_config = loss_config.with_weights(Some(balanced_weights(&data.labels, classes)));
    }
    let loss_fn = loss_config.init(s.device);
    let mut best_model: Option<M> = None;
    let dp = plan
        .privacy
        .as_ref()
        .map(|p| dp::DpRun::new(p, data.len(), plan.batch_size, plan.epochs))
        .transpose()?;
    let epochs_bar = s.progress.bar(plan.epochs as u64, "epochs");
    epochs_bar.set_position(state.epoch as u64);
    let mut last_checkpoint = Instant::now();
    let fault_nan_at = nan_fault();
    let every = Duration::from_secs_f64(plan.checkpoint_minutes * 60.0);
    // The first batch this call trains on a GPU is timed on its own.
    let mut warming_up = !crate::device::is_host(s.device);
    while state.epoch < plan.epochs {
        if let (Some((v, _)), Some(best)) = (&validation, state.best)
            && v.patience.is_some_and(|p| state.epoch - best.epoch >= p)
        {
            state.stopped_early = true;
            break;
        }
        let epoch = state.epoch;
        let resumed_at = Instant::now();
        let seconds_before = state.seconds;
        // DP-SGD draws Poisson batches, which its accountant analyses.
        let batches: Vec<Vec<usize>> = match &dp {
            Some(run) => run.batches(data.len(), s.seed, epoch),
            None => epoch_order(data.len(), s.seed, epoch)
                .chunks(plan.batch_size)
                .map(<[usize]>::to_vec)
                .collect(),
        };
        let n_batches = batches.len();
        let bar = s.progress.bar(n_batches as u64, &format!("epoch {}", epoch + 1));
        bar.set_position(state.batch as u64);
        let perturb = if policy_is_empty(plan) {
            Perturbation::None
        } else {
            Perturbation::Policy { policy: &plan.augment, seed: s.seed, epoch: epoch as u64 }
        };
        let first = state.batch;
        let wait_before = state.data_wait_seconds;
        let mut pending = Pending::default();
        let outcome: Result<(), TrainError> = std::thread::scope(|scope| {
            let (tx, rx) = sync_channel::<Result<HostBatch, BatchError>>(PREFETCH);
            let batches = &batches;
            let lexicon = lexicon.as_deref();
            scope.spawn(move || {
                crate::pool::install(|| {
                    prefetch(data, batches.get(first..).unwrap_or(&[]), perturb, epoch, s, lexicon, &tx)
                })
            });
            let mut waited = Duration::ZERO;
            loop {
                // Time blocked here is time the device had nothing to do.
                let asked = Instant::now();
                let Ok(host) = rx.recv() else { break };
                let mut host = host?;
                waited += asked.elapsed();
                let batch_started = Instant::now();
                state.data_wait_seconds = wait_before + waited.as_secs_f64();
                let b = state.batch;
                // Dropout masks depend on (seed, epoch, batch) only.
                s.device.seed(augment::seed::derive(s.seed, b as u64, epoch as u64, "dropout"));
                let n = host.labels.len();
                let adversarial = plan.adversarial.as_ref().filter(|a| epoch >= a.warmup_epochs);
                // A Poisson batch can be empty; DP-SGD then adds noise only.
                let input = match adversarial {
                    _ if n == 0 => None,
                    Some(adv) => Some(adversarial_input(&model, &mut host, adv, data, s, (epoch, b))?),
                    None => Some(host.input.to_device(s.device)),
                };
                let targets = Tensor::<1, Int>::from_data(TensorData::new(host.labels, [n]), s.device);
                match (&dp, input) {
                    (Some(run), input) => {
                        let noise_seed = augment::seed::derive(s.seed, b as u64, epoch as u64, "dp-noise");
                        let batch = input.map(|x| (x, targets));
                        let lr = learning_rate(plan, epoch, b, n_batches);
                        let out = dp::step(
                            model.clone(),
                            batch,
                            &loss_fn,
                            run,
                            &mut optim,
                            lr,
                            noise_seed,
                            s.device,
                        )?;
                        pending.push(b, n, (out.loss, out.hits));
                        model = out.model;
                    }
                    (None, Some(input)) => {
                        let copies = plan.noise.filter(NoisePlan::trains_on_copies);
                        let paired = adversarial.and_then(|a| match a.method {
                            AdversarialMethod::Paired { loss, beta, .. } => Some((loss, beta)),
                            _ => None,
                        });
                        let soft = s.soft_targets.map(|soft| soft.batch(&host.rows, s.device));
                        let masks = augment::seed::derive(s.seed, b as u64, epoch as u64, "paired-dropout");
                        let forward = |model: &M| {
                            let (input, targets) = (input.clone(), targets.clone());
                            match (paired, &plan.augmix, &soft, copies) {
                                // Resolution keeps TRADES and MART apart from the other losses.
                                (Some(paired), ..) => {
                                    Step::forward_paired(model, &loss_fn, input, targets, paired, masks)
                                }
                                (None, _, Some(soft), _) => {
                                    Step::forward_soft(model, input, targets, soft.clone())
                                }
                                (None, Some(a), None, _) => {
                                    Step::forward_augmix(model, &loss_fn, input, targets, a.jsd_weight)
                                }
                                (None, None, None, Some(noise)) => {
                                    Step::forward_copies(model, &loss_fn, input, targets, &noise)
                                }
                                (None, None, None, None) => Step::forward(model, &loss_fn, input, targets),
                            }
                        };
                        // AWP: the step's gradient is taken at weights pushed up the same loss.
                        let shift = adversarial
                            .and_then(|a| a.awp_gamma(epoch))
                            .map(|gamma| awp::Shift::ascent(&model, |m| forward(m).into_loss(), gamma));
                        let at = match &shift {
                            Some(shift) => shift.apply(model.clone()),
                            None => model.clone(),
                        };
                        let step = forward(&at);
                        pending.push(b, n, step.readings());
                        let lr = learning_rate(plan, epoch, b, n_batches);
                        let updated = step.update(at, &mut optim, lr);
                        model = match &shift {
                            Some(shift) => shift.undo(updated),
                            None => updated,
                        };
                    }
                    (None, None) => {}
                }
                state.batch += 1;
                if std::mem::take(&mut warming_up) {
                    // Waits for the device: the time is the kernels' compiling and tuning.
                    pending.settle(&mut state, epoch, fault_nan_at, hooks)?;
                    hooks.gpu_warmed_up(batch_started.elapsed().as_secs_f64())?;
                }
                state.seconds = seconds_before + resumed_at.elapsed().as_secs_f64();
                bar.inc(1);
                let stop = s.stop.load(Ordering::SeqCst);
                let due = plan.checkpoint_every.is_some_and(|k| state.batch.is_multiple_of(k))
                    || last_checkpoint.elapsed() >= every;
                let checkpoint = (stop || due) && state.batch < n_batches;
                // A checkpoint never holds a model whose losses were not checked.
                if checkpoint || stop || pending.len() >= READ_EVERY {
                    pending.settle(&mut state, epoch, fault_nan_at, hooks)?;
                    bar.set_message(running(&state));
                }
                if checkpoint {
                    hooks.checkpoint(&model, &optim, &state)?;
                    last_checkpoint = Instant::now();
                }
                if stop {
                    return Err(TrainError::Interrupted { epoch: epoch + 1, batch: n_batches });
                }
            }
            pending.settle(&mut state, epoch, fault_nan_at, hooks)
        });
        bar.finish_and_clear();
        outcome?;
        let scored = match &validation {
            Some((v, rows)) => Some(Best { epoch: epoch + 1, ..validate(&model, rows, s, v, epoch)? }),
            None => None,
        };
        let metrics = EpochMetrics {
            validation_loss: scored.map(|b| b.loss),
            validation_accuracy: scored.map(|b| b.accuracy),
            validation_robust_accuracy: scored.and_then(|b| b.robust_accuracy),
            epsilon: dp.map(|run| run.epsilon_after(epoch + 1)),
            epoch: epoch + 1,
            loss: state.loss_sum / state.seen.max(1) as f64,
            accuracy: state.hits as f64 / state.seen.max(1) as f64,
            seconds: state.seconds,
            examples_per_second: state.seen as f64 / state.seconds.max(1e-9),
            device_busy_share: busy_share(state.seconds, state.data_wait_seconds),
        };
        s.progress.say(&format!(
            "epoch {}/{}: loss {:.4}, train accuracy {:.2}%, {:.1}s ({:.0} examples/s, device busy {:.0}%)",
            metrics.epoch,
            plan.epochs,
            metrics.loss,
            metrics.accuracy * 100.0,
            metrics.seconds,
            metrics.examples_per_second,
            metrics.device_busy_share * 100.0
        ));
        let mut best = state.best;
        if let Some(now) = scored
            && best.is_none_or(|b| now.beats(&b))
        {
            hooks.save_best(&model)?;
            best_model = Some(model.clone());
            best = Some(now);
        }
        state = TrainState { epoch: epoch + 1, epochs: state.epochs, best, ..TrainState::default() };
        state.epochs.push(metrics.clone());
        hooks.epoch_done(&metrics)?;
        hooks.checkpoint(&model, &optim, &state)?;
        last_checkpoint = Instant::now();
        epochs_bar.inc(1);
        if s.stop.load(Ordering::SeqCst) && state.epoch < plan.epochs {
            return Err(TrainError::Interrupted { epoch: epoch + 1, batch: state.batch });
        }
    }
    epochs_bar.finish_and_clear();
    // The best validated epoch's weights, from memory or, when it came
    // before a restart, from where the hooks kept them.
    let model = match (state.best, best_model) {
        (Some(b), _) if b.epoch == state.epoch => model,
        (Some(_), Some(m)) => m,
        (Some(_), None) => hooks.load_best(model)?,
        (None, _) => model,
    };
    if let Some(b) = state.best {
        s.progress.say(&format!(
            "kept epoch {} ({}validation accuracy {:.2}%, loss {:.4}){}",
            b.epoch,
            b.robust_accuracy.map_or_else(String::new, |r| format!("under attack {:.2}%, ", r * 100.0)),
            b.accuracy * 100.0,
            b.loss,
            if state.stopped_early { "; stopped early" } else { "" }
        ));
    }
    Ok((model, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what training reported per batch.
    #[derive(Default)]
    struct Seen(Vec<(usize, usize, f32)>);

    impl Hooks<()> for Seen {
        fn epoch_done(&mut self, _: &EpochMetrics) -> anyhow::Result<()> {
            Ok(())
        }
        fn batch_done(&mut self, epoch: usize, batch: usize, loss: f32) -> anyhow::Result<()> {
            self.0.push((epoch, batch, loss));
            Ok(())
        }
        fn checkpoint(&mut self, _: &(), _: &ModuleOptimizer, _: &TrainState) -> anyhow::Result<()> {
            Ok(())
        }
    }

    fn readings(loss: f32, hits: i64) -> (Tensor<1>, Tensor<1, Int>) {
        let device = Device::flex();
        (
            Tensor::from_data(TensorData::new(vec![loss], [1]), &device),
            Tensor::from_data(TensorData::new(vec![hits], [1]), &device),
        )
    }

    #[test]
    fn settled_readings_count_each_batch_in_order() {
        let mut pending = Pending::default();
        for (b, (loss, hits)) in [(0.5, 3), (0.25, 4), (1.0, 1)].into_iter().enumerate() {
            pending.push(b + 4, 4, readings(loss, hits));
        }
        let (mut state, mut seen) = (TrainState::default(), Seen::default());
        pending.settle(&mut state, 1, None, &mut seen).expect("finite");
        assert_eq!(seen.0, [(2, 5, 0.5), (2, 6, 0.25), (2, 7, 1.0)]);
        assert_eq!((state.seen, state.hits), (12, 8));
        assert!((state.loss_sum - 7.0).abs() < 1e-9);
        assert_eq!(pending.len(), 0);
        pending.settle(&mut state, 1, None, &mut seen).expect("nothing to read");
        assert_eq!(seen.0.len(), 3);
    }

    #[test]
    fn a_non_finite_loss_names_its_batch_and_stops_counting_there() {
        let mut pending = Pending::default();
        for (b, loss) in [0.5, f32::INFINITY, 0.25].into_iter().enumerate() {
            pending.push(b, 2, readings(loss, 1));
        }
        let (mut state, mut seen) = (TrainState::default(), Seen::default());
        let err = pending.settle(&mut state, 0, None, &mut seen).unwrap_err();
        assert!(matches!(err, TrainError::NonFinite { epoch: 1, batch: 2, .. }), "{err}");
        assert_eq!((state.seen, seen.0.len()), (2, 1));
        // The fault injection marks its batch even when the loss is finite.
        let mut pending = Pending::default();
        pending.push(0, 2, readings(0.5, 1));
        let err = pending.settle(&mut TrainState::default(), 2, Some((3, 1)), &mut seen).unwrap_err();
        assert!(matches!(err, TrainError::NonFinite { epoch: 3, batch: 1, .. }), "{err}");
    }

    #[test]
    fn the_validation_split_holds_out_each_classs_share_by_seed() {
        let labels: Vec<usize> = (0..103).map(|i| if i % 10 == 0 { 1 } else { 0 }).collect();
        let (train, held) = validation_split(&labels, 0.2, 7);
        // 92 rows of class 0 → 18 held; 11 of class 1 → 2.
        assert_eq!(held.iter().filter(|&&r| labels[r] == 0).count(), 18);
        assert_eq!(held.iter().filter(|&&r| labels[r] == 1).count(), 2);
        let mut all: Vec<usize> = train.iter().chain(&held).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..103).collect::<Vec<_>>(), "a partition");
        assert!(held.windows(2).all(|w| w[0] < w[1]) && train.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(validation_split(&labels, 0.2, 7), (train.clone(), held.clone()));
        assert_ne!(validation_split(&labels, 0.2, 8).1, held);
    }

    #[test]
    fn balanced_weights_are_n_over_classes_times_count() {
        let w = balanced_weights(&[0, 0, 0, 1, 2, 2], 4);
        // n = 6, 4 classes: 6 / (4 · 3), 6 / (4 · 1), 6 / (4 · 2), and 0 for the absent class.
        assert_eq!(w, [0.5, 1.5, 0.75, 0.0]);
    }

    #[test]
    fn the_cosine_schedule_falls_from_the_rate_to_zero_over_all_epochs() {
        let dir = std::env::temp_dir().join(format!("temper-schedule-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("test setup");
        for f in ["a.csv", "b.csv"] {
            std::fs::write(dir.join(f), "text,label\nhi,a\nyo,b\n").expect("test setup");
        }
        let plan = crate::config::parse(
            "[data]\nmodality = \"text\"\ntrain = \"a.csv\"\ntest = \"b.csv\"\n[train]\nepochs = 4\nlearning-rate = 0.1\nlr-schedule = \"cosine\"\n",
            &dir.join("c.toml"),
        );
        let _ = std::fs::remove_dir_all(&dir);
        let plan = plan.expect("config").train;
        assert!((learning_rate(&plan, 0, 0, 10) - 0.1).abs() < 1e-12);
        assert!((learning_rate(&plan, 2, 0, 10) - 0.05).abs() < 1e-12, "half way");
        assert!(
            (learning_rate(&plan, 3, 5, 10) - 0.1 * 0.5 * (1.0 + (std::f64::consts::PI * 3.5 / 4.0).cos()))
                .abs()
                < 1e-12
        );
        let constant = TrainPlan { schedule: Schedule::Constant, ..plan };
        assert_eq!(learning_rate(&constant, 3, 5, 10), 0.1);
    }

    #[test]
    fn a_better_epoch_has_higher_accuracy_or_equal_accuracy_and_lower_loss() {
        let b = |accuracy, loss| Best { epoch: 1, accuracy, loss, robust_accuracy: None };
        assert!(b(0.8, 0.9).beats(&b(0.7, 0.1)));
        assert!(b(0.8, 0.3).beats(&b(0.8, 0.4)));
        assert!(!b(0.8, 0.4).beats(&b(0.8, 0.4)));
        assert!(!b(0.7, 0.1).beats(&b(0.8, 0.9)));
    }

    #[test]
    fn a_capped_robust_score_attacks_rows_spread_through_the_split() {
        assert_eq!(attacked_rows(10, Some(4)), [0, 2, 5, 7]);
        assert_eq!(attacked_rows(5, Some(5)), [0, 1, 2, 3, 4]);
        assert_eq!(attacked_rows(3, Some(10)), [0, 1, 2], "a cap above the rows attacks them all");
        assert_eq!(attacked_rows(4, None), [0, 1, 2, 3]);
        // Rows sorted by class (100 of each of 10): every class keeps its share.
        let classes: Vec<usize> = attacked_rows(1000, Some(50)).iter().map(|r| r / 100).collect();
        for c in 0..10 {
            assert_eq!(classes.iter().filter(|&&k| k == c).count(), 5, "class {c}");
        }
    }

    #[test]
    fn under_robust_selection_robust_accuracy_decides_first() {
        let b = |robust, accuracy, loss| Best { epoch: 1, accuracy, loss, robust_accuracy: Some(robust) };
        assert!(b(0.5, 0.90, 0.4).beats(&b(0.4, 0.99, 0.1)), "more robust, less accurate: kept");
        assert!(!b(0.4, 0.99, 0.1).beats(&b(0.5, 0.90, 0.4)));
        assert!(b(0.5, 0.95, 0.4).beats(&b(0.5, 0.90, 0.1)), "equally robust: the more accurate");
        assert!(b(0.5, 0.9, 0.3).beats(&b(0.5, 0.9, 0.4)), "then the lower loss");
        assert!(!b(0.5, 0.9, 0.4).beats(&b(0.5, 0.9, 0.4)));
    }

    #[test]
    fn busy_share_is_the_time_not_spent_waiting() {
        assert!((busy_share(10.0, 2.5) - 0.75).abs() < 1e-12);
        assert_eq!(busy_share(0.0, 0.0), 1.0);
        assert_eq!(busy_share(1.0, 3.0), 0.0);
    }
}
