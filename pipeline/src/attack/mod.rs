//! Attacks at evaluation time: each configured attack at each ε (the word
//! share for text attacks) over the first `examples` test rows, reporting
//! accuracy under attack, success rate (the share of correctly classified
//! inputs the attack flips), the mean perturbation size and, for black-box
//! attacks, the mean number of model queries.

pub mod black_box;
pub mod white_box;

use std::collections::BTreeMap;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::batch::{self, Perturbation};
use crate::data::Dataset;
use crate::eval::EvalSetup;
use crate::model::Classifier;
use crate::progress::Progress;
pub use black_box::{BlackBoxPlan, TextAttackKind};
pub use white_box::{Attack, AttackKind};

/// One `[[eval.attacks]]` entry, resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum AttackPlan {
    /// A gradient attack on images.
    WhiteBox(WhiteBoxPlan),
    /// An edit attack on texts.
    BlackBox(BlackBoxPlan),
}

impl AttackPlan {
    /// The config and metrics name.
    pub fn name(&self) -> &'static str {
        match self {
            AttackPlan::WhiteBox(p) => p.kind.name(),
            AttackPlan::BlackBox(p) => p.kind.name(),
        }
    }
}

/// A white-box `[[eval.attacks]]` entry, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct WhiteBoxPlan {
    /// Which attack.
    pub kind: AttackKind,
    /// Radii on the [0, 1] pixel scale (L∞, or L2 for `pgd_l2`).
    pub epsilons: Vec<f64>,
    /// PGD steps.
    pub steps: usize,
    /// PGD step size as a share of ε.
    pub step_size: f64,
    /// PGD random start.
    pub random_start: bool,
    /// PGD restarts.
    pub restarts: usize,
    /// How many test rows are attacked (the first ones, in file order).
    pub examples: usize,
}

impl WhiteBoxPlan {
    /// The attack at one ε.
    pub fn at(&self, epsilon: f64) -> Attack {
        let fgsm = self.kind == AttackKind::Fgsm;
        Attack {
            kind: self.kind,
            epsilon,
            steps: if fgsm { 1 } else { self.steps },
            step_size: if fgsm { epsilon } else { self.step_size * epsilon },
            random_start: self.random_start && !fgsm,
            restarts: if fgsm { 1 } else { self.restarts },
        }
    }
}

/// ε as written in metric keys: `0.1`, `0.05`.
pub fn epsilon_key(epsilon: f64) -> String {
    format!("{epsilon}")
}

/// The numbers one attack at one ε produced.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AttackResult {
    /// Accuracy on the attacked inputs.
    pub accuracy: f64,
    /// Share of correctly classified inputs the attack flipped.
    pub success_rate: f64,
    /// Mean perturbation size: L∞ (L2 for `pgd_l2`), or the share of
    /// words changed for text attacks.
    pub mean_norm: f64,
    /// Mean model queries per input (black-box attacks; 0 for white-box).
    #[serde(default)]
    pub mean_queries: f64,
    /// Inputs attacked.
    pub examples: usize,
    /// Wall seconds.
    pub seconds: f64,
}

/// `attack → ε → result`.
pub type AttackTable = BTreeMap<String, BTreeMap<String, AttackResult>>;

/// Runs every planned white-box attack. `model` is frozen on the autodiff
/// version of `device`.
pub fn evaluate<M: Classifier>(
    model: &M,
    test: &Dataset,
    setup: &EvalSetup,
    plans: &[WhiteBoxPlan],
    device: &Device,
    progress: &Progress,
) -> AttackTable {
    let steps: usize = plans.iter().map(|p| p.epsilons.len()).sum();
    let bar = progress.bar(steps as u64, "attack");
    let mut table = AttackTable::new();
    for plan in plans {
        for &eps in &plan.epsilons {
            bar.set_message(format!("{} ε={eps}", plan.kind.name()));
            let result = attack_dataset(model, test, setup, &plan.at(eps), plan.examples, device);
            table.entry(plan.kind.name().to_owned()).or_default().insert(epsilon_key(eps), result);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    table
}

/// One attack at one ε over the first `examples` rows of `test`.
pub fn attack_dataset<M: Classifier>(
    model: &M,
    test: &Dataset,
    setup: &EvalSetup,
    attack: &Attack,
    examples: usize,
    device: &Device,
) -> AttackResult {
    let started = std::time::Instant::now();
    let rows: Vec<usize> = (0..test.len().min(examples)).collect();
    let (mut adv_correct, mut clean_correct, mut flipped, mut norm_sum) = (0usize, 0usize, 0usize, 0f64);
    for (b, chunk) in rows.chunks(setup.eval.batch_size).enumerate() {
        let host = batch::build(test, chunk, Perturbation::None, setup.model, setup.text);
        let crate::model::ModelInput::Images(x) = host.input.to_device(device) else {
            // Resolution allows white-box attacks on image models only.
            unreachable!("white-box attacks need images")
        };
        let n = host.labels.len();
        let y = Tensor::<1, Int>::from_data(TensorData::new(host.labels.clone(), [n]), device);
        let seed = augment::seed::derive(setup.seed, b as u64, attack.epsilon.to_bits(), attack.kind.name());
        let adv = white_box::perturb(model, x.clone(), y, attack, seed);
        let norms = if attack.kind.is_l2() {
            white_box::per_example_l2(adv.clone() - x.clone())
        } else {
            white_box::per_example_linf(adv.clone() - x.clone())
        };
        norm_sum += f64::from(norms.sum().into_scalar::<f32>());
        let clean = predictions(model, x);
        let attacked = predictions(model, adv);
        for ((c, a), &label) in clean.iter().zip(&attacked).zip(&host.labels) {
            let label = label as usize;
            clean_correct += usize::from(*c == label);
            adv_correct += usize::from(*a == label);
            flipped += usize::from(*c == label && *a != label);
        }
    }
    let n = rows.len().max(1) as f64;
    AttackResult {
        accuracy: adv_correct as f64 / n,
        success_rate: if clean_correct == 0 { 0.0 } else { flipped as f64 / clean_correct as f64 },
        mean_norm: norm_sum / n,
        mean_queries: 0.0,
        examples: rows.len(),
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn predictions<M: Classifier>(model: &M, x: Tensor<4>) -> Vec<usize> {
    let logits = model.logits(crate::model::ModelInput::Images(x.autodiff())).inner();
    let pred: Vec<i64> =
        logits.argmax(1).into_data().convert::<i64>().try_to_vec::<i64>().unwrap_or_default();
    pred.into_iter().map(|p| p as usize).collect()
}
