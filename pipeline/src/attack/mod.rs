//! Attacks at evaluation time: each configured attack at each ε (the word
//! share for text attacks) over the first `examples` test rows, reporting
//! accuracy under attack, success rate (the share of correctly classified
//! inputs the attack flips), the mean perturbation size and, for black-box
//! attacks, the mean number of model queries.

pub mod apgd;
pub mod api;
pub mod autoattack;
pub mod black_box;
pub mod fab;
pub mod hsja;
pub mod smooth_adv;
pub mod square;
pub mod trades;
pub mod white_box;

/// A linear classifier for the attacks' tests: its attacks have closed forms.
#[cfg(test)]
pub(crate) mod linear_model {
    use burn::nn::Linear;
    use burn::prelude::*;

    use crate::model::{Classifier, ModelInput};

    /// Logits = W·flatten(x) + b.
    #[derive(Module, Debug)]
    pub struct LinearModel {
        pub linear: Linear,
    }

    impl Classifier for LinearModel {
        fn logits(&self, input: ModelInput) -> Tensor<2> {
            let ModelInput::Images(x) = input else { unreachable!("images only") };
            self.linear.forward(x.flatten(1, 3))
        }
    }

    impl LinearModel {
        /// Weights drawn uniformly from ±1 and biases from ±0.1 by
        /// `seed`'s own generator: not the device's shared one, which
        /// tests running beside each other reseed.
        pub fn seeded(pixels: usize, classes: usize, seed: u64, device: &Device) -> LinearModel {
            use burn::module::Param;
            let mut rng = augment::seed::rng(seed ^ 0x5eed);
            let mut draw = |n: usize, bound: f32| -> Vec<f32> {
                (0..n).map(|_| rand::Rng::random_range(&mut rng, -bound..bound)).collect()
            };
            let ad = device.clone().autodiff();
            let mut linear = burn::nn::LinearConfig::new(pixels, classes).init(&ad);
            linear.weight = Param::from_tensor(Tensor::from_data(
                TensorData::new(draw(pixels * classes, 1.0), [pixels, classes]),
                &ad,
            ));
            linear.bias = Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(draw(classes, 0.1), [classes]),
                &ad,
            )));
            LinearModel { linear }
        }

        /// The weights `[pixels, classes]` and the biases.
        fn weights(&self) -> (Vec<f32>, Vec<f32>, usize) {
            let data = |t: Tensor<2>| t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32");
            let classes = self.linear.weight.dims()[1];
            let w = data(self.linear.weight.val().inner());
            let b = self.linear.bias.as_ref().expect("bias").val().inner();
            let b = b.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32");
            (w, b, classes)
        }

        /// The largest `z_k − z_y` any perturbation of `x` within ε
        /// reaches, with the per-class direction `a = w_k − w_y`: L∞ in the
        /// pixel box, or L2 where the box does not bind (rows far enough
        /// from either end of the pixel range).
        pub fn best_margin(&self, x: &[f32], y: usize, eps: f32, norm: crate::config::Distance) -> f32 {
            let (w, b, classes) = self.weights();
            let z = |k: usize| b[k] + x.iter().enumerate().map(|(j, v)| v * w[j * classes + k]).sum::<f32>();
            (0..classes)
                .filter(|&k| k != y)
                .map(|k| {
                    let a: Vec<f32> = (0..x.len()).map(|j| w[j * classes + k] - w[j * classes + y]).collect();
                    let reach = match norm {
                        crate::config::Distance::Linf => (0..x.len())
                            .map(|j| (a[j] * (-eps).max(-x[j])).max(a[j] * eps.min(1.0 - x[j])))
                            .sum::<f32>(),
                        crate::config::Distance::L2 => eps * a.iter().map(|v| v * v).sum::<f32>().sqrt(),
                    };
                    z(k) - z(y) + reach
                })
                .fold(f32::MIN, f32::max)
        }
    }
}

/// The small tanh network of the reference fixtures (bench/apgd_reference.sh).
#[cfg(test)]
pub(crate) mod reference_net {
    use burn::module::Param;
    use burn::nn::{Linear, LinearConfig};
    use burn::prelude::*;

    use crate::model::{Classifier, ModelInput};

    /// `w2·tanh(w1·x + b1) + b2`.
    #[derive(Module, Debug)]
    pub struct TanhNet {
        hidden: Linear,
        out: Linear,
    }

    impl Classifier for TanhNet {
        fn logits(&self, input: ModelInput) -> Tensor<2> {
            let ModelInput::Images(x) = input else { unreachable!("images only") };
            self.out.forward(burn::tensor::activation::tanh(self.hidden.forward(x.flatten(1, 3))))
        }
    }

    /// The network's logits on `x`.
    pub fn logits(model: &TanhNet, x: &[f32], dims: [usize; 4], device: &Device) -> Vec<f32> {
        let input = Tensor::<4>::from_data(TensorData::new(x.to_vec(), dims), device).autodiff();
        let z = model.logits(ModelInput::Images(input)).inner();
        z.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32")
    }

    /// A JSON list of numbers.
    pub fn floats(v: &serde_json::Value) -> Vec<f32> {
        v.as_array().expect("list").iter().map(|f| f.as_f64().expect("number") as f32).collect()
    }

    /// The network (frozen, on `device`'s autodiff twin), its ten 1×3×4
    /// rows and their labels (the network's own classes).
    pub fn load(device: &Device) -> (TanhNet, Vec<f32>, Vec<usize>) {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/apgd_reference.json")).expect("fixture");
        let ad = device.clone().autodiff();
        let matrix = |key: &str, dims: [usize; 2]| {
            Param::from_tensor(Tensor::<2>::from_data(TensorData::new(floats(&fixture[key]), dims), &ad))
        };
        let vector = |key: &str| {
            let v = floats(&fixture[key]);
            let n = v.len();
            Param::from_tensor(Tensor::<1>::from_data(TensorData::new(v, [n]), &ad))
        };
        let mut hidden = LinearConfig::new(12, 16).init(&ad);
        let mut out = LinearConfig::new(16, 4).init(&ad);
        hidden.weight = matrix("w1", [12, 16]);
        hidden.bias = Some(vector("b1"));
        out.weight = matrix("w2", [16, 4]);
        out.bias = Some(vector("b2"));
        let ys =
            fixture["y"].as_array().expect("y").iter().map(|v| v.as_u64().expect("label") as usize).collect();
        (TanhNet { hidden, out }.freeze(), floats(&fixture["x"]), ys)
    }
}

use std::collections::BTreeMap;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::batch::{BatchError, EvalSetup};
pub use crate::config::{
    Attack, AttackKind, AttackPlan, AutoAttackPlan, BlackBoxPlan, Budget, Distance, HsjaPlan, SquarePlan,
    TextAttackKind, WhiteBoxPlan,
};
use crate::data::Dataset;
use crate::model::{Classifier, ReadbackError, predicted_classes};
use crate::progress::Progress;
use crate::run::metrics::{AttackMetrics, MetricTable, RowTable};

/// Why an attack could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum AttackError {
    /// A result could not be read back from the device.
    #[error(transparent)]
    Readback(#[from] ReadbackError),
    /// A batch could not be built.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// An attack whose loss needs more classes than the model has.
    #[error(
        "`{attack}` needs at least {need} classes (its DLR loss divides by the gap between the \
         highest logit and the third-highest, or the third and fourth); this model has {classes}: \
         use the cross-entropy Auto-PGD (`apgd_ce_linf`, `apgd_ce_l2`) instead"
    )]
    TooFewClasses {
        /// The attack's name.
        attack: &'static str,
        /// The classes it needs.
        need: usize,
        /// The classes the model has.
        classes: usize,
    },
    /// A targeted attack asked to aim at more classes than there are wrong ones.
    #[error(
        "`{attack}` cannot aim at {targets} classes: this model has {classes}, so {wrong} wrong ones \
         (lower `targets`, or leave it out to aim at every wrong class up to 9)",
        wrong = classes - 1
    )]
    TooManyTargets {
        /// The attack's name.
        attack: &'static str,
        /// The `targets` asked for.
        targets: usize,
        /// The classes the model has.
        classes: usize,
    },
    /// A gradient attack returned an image outside its ball: the device
    /// computed it wrongly, and its figures would be wrong.
    #[error(
        "`{attack}` at ε {epsilon} returned test row {row} at distance {size:.4} from the clean image, \
         outside the ε-ball it projects into: the device computed the attack wrongly, so no figure was \
         written for it; run the evaluation on `--device cpu`"
    )]
    OutsideBall {
        /// The attack's name.
        attack: &'static str,
        /// The radius.
        epsilon: f64,
        /// The test row (file order).
        row: usize,
        /// Its distance from the clean image, in the attack's norm.
        size: f64,
    },
    /// An attack given the other modality's data or model (resolution rules this out).
    #[error("{attack} need {need}")]
    Modality {
        /// Which attacks.
        attack: &'static str,
        /// What they need.
        need: &'static str,
    },
}

/// `n` images of shape `chw` as a host batch, for the query attacks.
pub(crate) fn images(pixels: &[f32], n: usize, [c, h, w]: [usize; 3]) -> crate::model::HostInput {
    crate::model::HostInput::Images { pixels: pixels.to_vec(), shape: [n, c, h, w] }
}

/// ε as written in metric keys: `0.1`, `0.05`.
pub fn epsilon_key(epsilon: f64) -> String {
    format!("{epsilon}")
}

/// The numbers one attack at one ε produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackResult {
    /// Accuracy on the attacked inputs.
    pub accuracy: f64,
    /// Share of correctly classified inputs the attack flipped.
    pub success_rate: f64,
    /// Mean perturbation size: L∞ (L2 for `pgd_l2`), or the share of
    /// words changed for text attacks.
    pub mean_norm: f64,
    /// Mean model queries per input; `None` for attacks that read
    /// gradients instead of querying.
    #[serde(default)]
    pub mean_queries: Option<f64>,
    /// Inputs attacked.
    pub examples: usize,
    /// Whether each attacked row (the first `examples`, in file order) is
    /// still classified correctly: a row survives the worst case only if
    /// it survives every attack of its threat model.
    #[serde(skip)]
    pub correct: Vec<bool>,
    /// A cascade's accuracy after each stage, in order; empty for a
    /// single attack.
    #[serde(skip)]
    pub stages: Vec<(String, f64)>,
    /// Wall seconds.
    pub seconds: f64,
}

/// `attack → ε → result`.
pub type AttackTable = BTreeMap<String, BTreeMap<String, AttackResult>>;

/// The four attack tables of `metrics.json`; the queries table holds the
/// attacks that count queries.
pub fn tables(table: &AttackTable) -> AttackMetrics {
    let pick = |f: fn(&AttackResult) -> Option<f64>| -> MetricTable {
        table
            .iter()
            .filter_map(|(a, per)| {
                let row: BTreeMap<String, f64> =
                    per.iter().filter_map(|(e, r)| Some((e.clone(), f(r)?))).collect();
                (!row.is_empty()).then(|| (a.clone(), row))
            })
            .collect()
    };
    AttackMetrics {
        accuracy: pick(|r| Some(r.accuracy)),
        success_rate: pick(|r| Some(r.success_rate)),
        mean_norm: pick(|r| Some(r.mean_norm)),
        mean_queries: pick(|r| r.mean_queries),
        rows_correct: table
            .iter()
            .map(|(a, per)| {
                let row = per
                    .iter()
                    .map(|(e, r)| (e.clone(), r.correct.iter().map(|&c| if c { '1' } else { '0' }).collect()))
                    .collect();
                (a.clone(), row)
            })
            .collect(),
        stage_accuracy: table
            .iter()
            .filter_map(|(a, per)| {
                let row: BTreeMap<String, BTreeMap<String, f64>> = per
                    .iter()
                    .filter(|(_, r)| !r.stages.is_empty())
                    .map(|(e, r)| (e.clone(), r.stages.iter().cloned().collect()))
                    .collect();
                (!row.is_empty()).then(|| (a.clone(), row))
            })
            .collect(),
    }
}

/// The threat model an attack's ε belongs to: `linf` and `l2` radii on
/// the pixel scale, `words` the share of a text's words changed.
pub fn threat(attack: &str) -> Option<&'static str> {
    let norm = |l2: bool| if l2 { "l2" } else { "linf" };
    if let Some(kind) = AttackKind::find(attack) {
        return Some(norm(kind.is_l2()));
    }
    if let Some(d) = Distance::ALL.into_iter().find(|d| d.hsja_name() == attack) {
        return Some(norm(d == Distance::L2));
    }
    // `square_l2` before `square`, which it starts with.
    for (base, norm) in [(SquarePlan::NAME_L2, "l2"), (SquarePlan::NAME, "linf")] {
        if attack == base || attack.strip_prefix(base).is_some_and(|r| r.starts_with('-')) {
            return Some(norm);
        }
    }
    if let Some(n) = Distance::ALL.into_iter().find(|&n| attack == AutoAttackPlan::base(n)) {
        return Some(norm(n == Distance::L2));
    }
    TextAttackKind::find(attack).map(|_| "words")
}

/// The worst case per row, as AutoAttack reports robustness: for each
/// threat model and ε that two or more attacks measured, the share of rows
/// that every one of them left correct, over the rows all of them attacked
/// (the first ones, in file order).
pub fn worst_case(rows: &RowTable) -> MetricTable {
    let mut groups: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for (attack, per) in rows {
        let Some(t) = threat(attack) else { continue };
        for (eps, bits) in per {
            groups.entry((t, eps.as_str())).or_default().push(bits.as_str());
        }
    }
    let mut out = MetricTable::new();
    for ((t, eps), list) in groups {
        let n = list.iter().map(|b| b.len()).min().unwrap_or(0);
        if list.len() < 2 || n == 0 {
            continue;
        }
        let held = (0..n).filter(|&i| list.iter().all(|b| b.as_bytes()[i] == b'1')).count();
        out.entry(t.to_owned()).or_default().insert(eps.to_owned(), held as f64 / n as f64);
    }
    out
}

/// Refuses attacks whose loss the model's `classes` cannot give: checked
/// when the data is loaded, before any training.
pub fn check_classes(plans: &[AttackPlan], classes: usize) -> Result<(), AttackError> {
    for plan in plans {
        // The cascade's targeted stage decides what it needs.
        let (attack, kind, targets) = match plan {
            AttackPlan::WhiteBox(p) => (p.kind.name(), p.kind, p.targets),
            AttackPlan::AutoAttack(p) => (
                p.name(),
                AttackKind::Apgd { loss: crate::config::ApgdLoss::TargetedDlr, norm: p.norm },
                p.targets,
            ),
            _ => continue,
        };
        if classes < kind.min_classes() {
            return Err(AttackError::TooFewClasses { attack, need: kind.min_classes(), classes });
        }
        if let Some(targets) = targets
            && targets >= classes
        {
            return Err(AttackError::TooManyTargets { attack, targets, classes });
        }
    }
    Ok(())
}

/// Runs every planned white-box attack. `model` is frozen on the autodiff
/// version of `device`.
pub fn evaluate<M: Classifier>(
    model: &M,
    test: &Dataset,
    setup: &EvalSetup,
    plans: &[WhiteBoxPlan],
    device: &Device,
    progress: &Progress,
) -> Result<AttackTable, AttackError> {
    let steps: usize = plans.iter().map(|p| p.epsilons.len()).sum();
    let bar = progress.bar(steps as u64, "attack");
    let mut table = AttackTable::new();
    for plan in plans {
        for &eps in &plan.epsilons {
            bar.set_message(format!("{} ε={eps}", plan.kind.name()));
            let result = attack_dataset(model, test, setup, &plan.at(eps), plan.examples, device)?;
            table.entry(plan.kind.name().to_owned()).or_default().insert(epsilon_key(eps), result);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    Ok(table)
}

/// One attack at one ε over the first `examples` rows of `test`.
pub fn attack_dataset<M: Classifier>(
    model: &M,
    test: &Dataset,
    setup: &EvalSetup,
    attack: &Attack,
    examples: usize,
    device: &Device,
) -> Result<AttackResult, AttackError> {
    let started = std::time::Instant::now();
    let rows: Vec<usize> = (0..test.len().min(examples)).collect();
    let done = gradient_rows(model, test, setup, attack, &rows, attack.kind.name(), device)?;
    Ok(done.result(None, started))
}

/// What an image attack did to some rows, in their order.
pub(crate) struct Attacked {
    /// The attacked images, `c·h·w` pixels per row.
    pub pixels: Vec<f32>,
    /// Whether the model classified the clean row correctly.
    pub clean_correct: Vec<bool>,
    /// Whether it classifies the attacked row correctly.
    pub correct: Vec<bool>,
    /// The perturbation's size in the attack's norm, measured on the host.
    pub sizes: Vec<f64>,
}

impl Attacked {
    /// The rows' figures, as every attack reports them; `queries`, the
    /// model queries spent, for the attacks that count them.
    pub(crate) fn result(self, queries: Option<usize>, started: std::time::Instant) -> AttackResult {
        let clean_correct = self.clean_correct.iter().filter(|&&c| c).count();
        let flipped = self.clean_correct.iter().zip(&self.correct).filter(|&(&c, &a)| c && !a).count();
        let n = self.correct.len().max(1) as f64;
        AttackResult {
            accuracy: self.correct.iter().filter(|&&c| c).count() as f64 / n,
            success_rate: if clean_correct == 0 { 0.0 } else { flipped as f64 / clean_correct as f64 },
            mean_norm: self.sizes.iter().sum::<f64>() / n,
            mean_queries: queries.map(|q| q as f64 / n),
            examples: self.correct.len(),
            correct: self.correct,
            stages: Vec::new(),
            seconds: started.elapsed().as_secs_f64(),
        }
    }
}

/// `attack` on the test rows `rows`, `setup.eval.batch_size` at a time,
/// batch `b` seeded from (run seed, `b`, ε, `seed_name`).
pub(crate) fn gradient_rows<M: Classifier>(
    model: &M,
    test: &Dataset,
    setup: &EvalSetup,
    attack: &Attack,
    rows: &[usize],
    seed_name: &str,
    device: &Device,
) -> Result<Attacked, AttackError> {
    let mut out =
        Attacked { pixels: Vec::new(), clean_correct: Vec::new(), correct: Vec::new(), sizes: Vec::new() };
    for (b, chunk) in rows.chunks(setup.eval.batch_size.max(1)).enumerate() {
        let host = setup.clean_batch(test, chunk, model)?;
        let crate::model::HostInput::Images { pixels, .. } = &host.input else {
            return Err(AttackError::Modality { attack: "white-box attacks", need: "image data" });
        };
        let crate::model::ModelInput::Images(x) = host.input.to_device(device) else {
            return Err(AttackError::Modality { attack: "white-box attacks", need: "image data" });
        };
        let n = host.labels.len();
        let y = Tensor::<1, Int>::from_data(TensorData::new(host.labels.clone(), [n]), device);
        let seed = augment::seed::derive(setup.seed, b as u64, attack.epsilon.to_bits(), seed_name);
        let adv = white_box::perturb(model, x.clone(), y, attack, seed)?;
        let moved =
            crate::model::readback::values::<f32, 4, Float>(adv.clone(), pixels.len(), "adversarial images")?;
        out.sizes.extend(within_ball(attack, pixels, &moved, chunk)?);
        out.pixels.extend(moved);
        let clean = predictions(model, x)?;
        let attacked = predictions(model, adv)?;
        for ((c, a), &label) in clean.iter().zip(&attacked).zip(&host.labels) {
            out.clean_correct.push(*c == label as usize);
            out.correct.push(*a == label as usize);
        }
    }
    Ok(out)
}

/// The perturbation sizes of a batch, measured on the host against the
/// clean pixels; an image outside the ε-ball is an error. Every
/// gradient attack projects into the ball, so one outside it means the
/// device computed the attack wrongly: on wgpu over Mesa's lavapipe (burn
/// 0.22, fusion on) PGD has returned images 0.6-1.0 from their clean ones
/// at ε 0.03 while a device-side norm of the difference read under ε.
fn within_ball(
    attack: &Attack,
    clean: &[f32],
    moved: &[f32],
    rows: &[usize],
) -> Result<Vec<f64>, AttackError> {
    let norm = if attack.kind.is_l2() { Distance::L2 } else { Distance::Linf };
    let per = clean.len() / rows.len().max(1);
    let mut sizes = Vec::with_capacity(rows.len());
    for ((a, b), &row) in clean.chunks(per).zip(moved.chunks(per)).zip(rows) {
        let size = f64::from(norm.distance(a, b));
        // Float rounding of the projection: far below any real overshoot.
        if size > attack.epsilon * (1.0 + 1e-4) + 1e-6 {
            return Err(AttackError::OutsideBall {
                attack: attack.kind.name(),
                epsilon: attack.epsilon,
                row,
                size,
            });
        }
        sizes.push(size);
    }
    Ok(sizes)
}

fn predictions<M: Classifier>(model: &M, x: Tensor<4>) -> Result<Vec<usize>, ReadbackError> {
    predicted_classes(model.logits(crate::model::ModelInput::Images(x.autodiff())).inner())
}

/// The configured attacks on an evaluation-mode `model`: white-box ones on
/// a frozen copy that still passes gradients to its input, black-box ones
/// (text edits, the Square Attack, HopSkipJump) on `model` itself.
///
/// `keep(attack, ε)` picks the (attack, ε) cells to run: every one for a
/// whole evaluation, a shard's for a sharded one. Each cell's numbers do
/// not depend on which others run.
pub fn run_all<M: Classifier>(
    model: &M,
    test: &Dataset,
    setup: &EvalSetup,
    device: &Device,
    progress: &Progress,
    keep: &dyn Fn(&str, f64) -> bool,
) -> Result<AttackTable, AttackError> {
    let (mut white, mut black, mut square, mut hsja) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut cascades = Vec::new();
    for plan in &setup.eval.attacks {
        match plan {
            AttackPlan::WhiteBox(p) => {
                let mut p = p.clone();
                p.epsilons.retain(|&e| keep(p.kind.name(), e));
                if !p.epsilons.is_empty() {
                    white.push(p);
                }
            }
            AttackPlan::BlackBox(p) => {
                if keep(p.kind.name(), p.budget.max_word_share) {
                    black.push(p.clone());
                }
            }
            AttackPlan::Square(p) => {
                let mut p = p.clone();
                let name = p.name();
                p.epsilons.retain(|&e| keep(&name, e));
                if !p.epsilons.is_empty() {
                    square.push(p);
                }
            }
            AttackPlan::Hsja(p) => {
                let mut p = p.clone();
                p.epsilons.retain(|&e| keep(p.norm.hsja_name(), e));
                if !p.epsilons.is_empty() {
                    hsja.push(p);
                }
            }
            AttackPlan::AutoAttack(p) => {
                let mut p = p.clone();
                let name = p.name();
                p.epsilons.retain(|&e| keep(name, e));
                if !p.epsilons.is_empty() {
                    cascades.push(p);
                }
            }
        }
    }
    if white.is_empty() && black.is_empty() && square.is_empty() && hsja.is_empty() && cascades.is_empty() {
        return Ok(AttackTable::new());
    }
    progress.say("attacking");
    let mut table = AttackTable::new();
    let frozen = (!white.is_empty() || !cascades.is_empty())
        .then(|| model.clone().to_device(&device.clone().autodiff()).freeze());
    if let Some(frozen) = &frozen {
        if !white.is_empty() {
            table.extend(evaluate(frozen, test, setup, &white, device, progress)?);
        }
        if !cascades.is_empty() {
            table.extend(autoattack::evaluate(model, frozen, test, setup, &cascades, device, progress)?);
        }
    }
    if !black.is_empty() {
        table.extend(black_box::evaluate(model, test, setup, &black, device, progress)?);
    }
    if !square.is_empty() {
        table.extend(square::evaluate(model, test, setup, &square, device, progress)?);
    }
    if !hsja.is_empty() {
        table.extend(hsja::evaluate(model, test, setup, &hsja, device, progress)?);
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(accuracy: f64, queries: Option<f64>) -> AttackResult {
        AttackResult {
            accuracy,
            success_rate: 0.5,
            mean_norm: 0.1,
            mean_queries: queries,
            examples: 4,
            correct: Vec::new(),
            stages: Vec::new(),
            seconds: 1.0,
        }
    }

    #[test]
    fn an_image_outside_the_ball_is_an_error_naming_the_row_not_a_figure() {
        let attack = Attack::new(AttackKind::PgdLinf, 0.1, 10, 0.25, true, 1);
        let clean = [0.5f32, 0.5, 0.2, 0.2];
        // Row 7 moved by 0.1 (the radius, in float32), row 9 by 0.05.
        let sizes = within_ball(&attack, &clean, &[0.6, 0.4, 0.25, 0.2], &[7, 9]).expect("inside");
        assert!((sizes[0] - 0.1).abs() < 1e-6 && (sizes[1] - 0.05).abs() < 1e-6, "{sizes:?}");
        let e = within_ball(&attack, &clean, &[0.6, 0.4, 0.9, 0.2], &[7, 9]).expect_err("outside");
        let message = e.to_string();
        assert!(message.contains("`pgd_linf` at ε 0.1 returned test row 9 at distance 0.7000"), "{message}");
        assert!(message.contains("--device cpu"), "{message}");
        // L2 is measured in L2: 0.3 and 0.4 make 0.5.
        let l2 = Attack::new(AttackKind::PgdL2, 0.5, 10, 0.25, true, 1);
        assert!(within_ball(&l2, &[0.5, 0.5], &[0.8, 0.9], &[0]).is_ok());
        assert!(within_ball(&l2, &[0.5, 0.5], &[0.8, 0.91], &[0]).is_err());
    }

    #[test]
    fn dlr_is_refused_for_two_classes_and_cross_entropy_is_not() {
        let plan = |name: &str| {
            AttackPlan::WhiteBox(WhiteBoxPlan {
                kind: AttackKind::find(name).expect("known attack"),
                epsilons: vec![0.1],
                steps: 10,
                step_size: 0.25,
                random_start: true,
                restarts: 1,
                targets: None,
                examples: 10,
            })
        };
        let ce = [plan("pgd_linf"), plan("apgd_ce_linf"), plan("apgd_ce_l2")];
        assert!(check_classes(&ce, 2).is_ok());
        let with_dlr = [plan("apgd_ce_linf"), plan("apgd_dlr_l2")];
        let e = check_classes(&with_dlr, 2).expect_err("DLR needs a third class").to_string();
        assert!(e.contains("`apgd_dlr_l2` needs at least 3 classes") && e.contains("has 2"), "{e}");
        assert!(check_classes(&with_dlr, 3).is_ok());
        let e = check_classes(&[plan("apgd_t_linf")], 3).expect_err("four classes").to_string();
        assert!(e.contains("`apgd_t_linf` needs at least 4 classes"), "{e}");
        let AttackPlan::WhiteBox(aimed) = plan("apgd_t_l2") else { unreachable!() };
        let aimed = AttackPlan::WhiteBox(WhiteBoxPlan { targets: Some(5), ..aimed });
        assert!(check_classes(std::slice::from_ref(&aimed), 6).is_ok());
        let e = check_classes(&[aimed], 5).expect_err("four wrong classes").to_string();
        assert!(e.contains("cannot aim at 5 classes") && e.contains("4 wrong ones"), "{e}");
        // The cascade's targeted stage needs four classes and its targets to fit.
        let cascade = |targets| {
            AttackPlan::AutoAttack(AutoAttackPlan {
                norm: Distance::Linf,
                epsilons: vec![0.1],
                steps: 10,
                targets,
                max_queries: 10,
                examples: 10,
            })
        };
        let e = check_classes(&[cascade(None)], 3).expect_err("four classes").to_string();
        assert!(e.contains("`autoattack_linf` needs at least 4 classes"), "{e}");
        assert!(check_classes(&[cascade(None)], 4).is_ok() && check_classes(&[cascade(Some(9))], 10).is_ok());
        let e = check_classes(&[cascade(Some(9))], 9).expect_err("eight wrong classes").to_string();
        assert!(e.contains("`autoattack_linf` cannot aim at 9 classes"), "{e}");
        assert_eq!(threat("autoattack_linf"), Some("linf"));
        // Auto-PGD's threat model follows its norm.
        assert_eq!((threat("apgd_dlr_linf"), threat("apgd_ce_l2")), (Some("linf"), Some("l2")));
    }

    #[test]
    fn the_worst_case_breaks_a_row_any_attack_of_its_threat_model_broke() {
        let bits = |pairs: &[(&str, &str, &str)]| -> RowTable {
            let mut t = RowTable::new();
            for (a, e, b) in pairs {
                t.entry((*a).to_owned()).or_default().insert((*e).to_owned(), (*b).to_owned());
            }
            t
        };
        let rows = bits(&[
            ("pgd_linf", "0.1", "1101"),
            ("square", "0.1", "1011"),
            // A rounded-score search is L∞ too; it attacked the first three rows only.
            ("square-1dp", "0.1", "110"),
            ("hsja_linf", "0.2", "1111"),
            ("pgd_linf", "0.2", "0111"),
            // Alone at its ε and norm: no worst case.
            ("pgd_l2", "1", "0000"),
            ("deepwordbug", "0.2", "10"),
            ("textbugger", "0.2", "11"),
        ]);
        let w = worst_case(&rows);
        // Rows 0 to 2: only row 0 survives all three L∞ attacks at 0.1.
        assert_eq!(w["linf"]["0.1"], 1.0 / 3.0);
        assert_eq!(w["linf"]["0.2"], 0.75);
        assert_eq!(w["words"]["0.2"], 0.5);
        assert!(!w.contains_key("l2"), "{w:?}");
        assert_eq!(
            (threat("fgsm"), threat("hsja_l2"), threat("square-2dp")),
            (Some("linf"), Some("l2"), Some("linf"))
        );
        assert_eq!((threat("squares"), threat("membership")), (None, None));
    }

    #[test]
    fn only_attacks_that_query_have_a_queries_table() {
        let mut t = AttackTable::new();
        t.entry("fgsm".into()).or_default().insert("0.1".into(), result(0.25, None));
        t.entry("deepwordbug".into()).or_default().insert("0.2".into(), result(0.75, Some(12.0)));
        let m = tables(&t);
        assert_eq!(m.accuracy["fgsm"]["0.1"], 0.25);
        assert_eq!(m.accuracy["deepwordbug"]["0.2"], 0.75);
        assert_eq!(m.mean_queries.keys().collect::<Vec<_>>(), ["deepwordbug"]);
        assert_eq!(m.mean_queries["deepwordbug"]["0.2"], 12.0);
        assert_eq!((m.success_rate.len(), m.mean_norm.len()), (2, 2));
    }
}
