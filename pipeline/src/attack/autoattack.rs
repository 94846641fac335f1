//! AutoAttack's standard cascade (Croce & Hein, ICML 2020), L∞
//! (`autoattack_linf`) or L2 (`autoattack_l2`): Auto-PGD with
//! cross-entropy, the targeted Auto-PGD, the targeted FAB, then the Square
//! Attack, each run only on the rows every earlier one left correct.
//!
//! A row counts as robust only if all four fail on it, so the figure is
//! the per-row worst case that listing the four attacks separately gives
//! (`attack_worst_case_accuracy`), at a fraction of the cost: the targeted
//! attacks' nine searches and the Square Attack's thousands of queries are
//! spent only on the rows the first attack could not break. Auto-PGD's
//! random starts have their own seeds here (its batches hold other rows
//! than when it runs alone), so the rows it breaks may differ by the odd
//! row from its separate figure's.

use burn::prelude::*;

use super::{AttackError, AttackResult, AttackTable, Attacked, epsilon_key, gradient_rows, square};
use crate::batch::EvalSetup;
use crate::config::{AutoAttackPlan, Stage};
use crate::data::Dataset;
use crate::model::{Classifier, HostInput, predicted_classes};
use crate::progress::Progress;

/// What the cascade did to some rows, in their order.
pub struct Cascade {
    /// Each row's image as the cascade leaves it: the image of the attack
    /// that broke it, else the clean one (as AutoAttack returns it).
    pub attacked: HostInput,
    /// Whether the model classified the clean row correctly.
    pub clean_correct: Vec<bool>,
    /// Which stage (0 to 3) broke the row, if one did.
    pub broken_by: Vec<Option<usize>>,
    /// The size of the returned perturbation in the cascade's norm (0
    /// where none broke it).
    pub sizes: Vec<f64>,
    /// Each stage's name and the rows still correct after it.
    pub left: Vec<(String, usize)>,
}

/// The cascade at `eps` on the test rows `rows`. `model` is in evaluation
/// mode on the plain device, `frozen` its frozen copy on the autodiff
/// device (the gradient stages read input gradients from it). `stage(name,
/// rows)` hears of each stage as it starts and on how many rows.
#[allow(clippy::too_many_arguments)]
pub fn attack_rows<M: Classifier>(
    model: &M,
    frozen: &M,
    test: &Dataset,
    setup: &EvalSetup,
    plan: &AutoAttackPlan,
    eps: f64,
    rows: &[usize],
    device: &Device,
    stage: &mut dyn FnMut(&str, usize),
) -> Result<Cascade, AttackError> {
    let not_images = || AttackError::Modality { attack: plan.name(), need: "image data" };
    let batch = setup.eval.batch_size.max(1);
    let (mut pixels, mut shape, mut clean_correct) = (Vec::new(), [0, 0, 0, 0], Vec::new());
    for chunk in rows.chunks(batch) {
        let host = setup.clean_batch(test, chunk, model)?;
        let before = predicted_classes(model.logits(host.input.to_device(device)))?;
        let HostInput::Images { pixels: p, shape: s } = host.input else { return Err(not_images()) };
        pixels.extend(p);
        shape = [rows.len(), s[1], s[2], s[3]];
        clean_correct.extend(before.iter().zip(&host.labels).map(|(&b, &l)| b == l as usize));
    }
    let per = shape[1] * shape[2] * shape[3];
    let mut broken_by = vec![None; rows.len()];
    let mut sizes = vec![0.0; rows.len()];
    let mut left = Vec::new();
    // Positions in `rows` still correct.
    let mut alive: Vec<usize> = (0..rows.len()).filter(|&i| clean_correct[i]).collect();
    for (s, attack) in plan.stages(eps).into_iter().enumerate() {
        let name = attack.name();
        stage(&name, alive.len());
        let targets: Vec<usize> = alive.iter().map(|&i| rows[i]).collect();
        if !targets.is_empty() {
            let done = match &attack {
                Stage::Gradient(a) => {
                    let seed_name = format!("{}/{name}", plan.name());
                    gradient_rows(frozen, test, setup, a, &targets, &seed_name, device)?
                }
                Stage::Square(p) => {
                    square::attacked_rows(model, test, setup, p, eps, &targets, device, &mut |_| {})?.0
                }
            };
            for (j, &i) in alive.iter().enumerate() {
                if !done.correct[j] {
                    pixels[i * per..(i + 1) * per].copy_from_slice(&done.pixels[j * per..(j + 1) * per]);
                    broken_by[i] = Some(s);
                    sizes[i] = done.sizes[j];
                }
            }
        }
        alive.retain(|&i| broken_by[i].is_none());
        left.push((name, alive.len()));
    }
    Ok(Cascade { attacked: HostInput::Images { pixels, shape }, clean_correct, broken_by, sizes, left })
}

/// Runs every planned cascade; `model` and `frozen` as in [`attack_rows`].
pub fn evaluate<M: Classifier>(
    model: &M,
    frozen: &M,
    test: &Dataset,
    setup: &EvalSetup,
    plans: &[AutoAttackPlan],
    device: &Device,
    progress: &Progress,
) -> Result<AttackTable, AttackError> {
    let cells: usize = plans.iter().map(|p| p.epsilons.len() * p.stages(0.0).len()).sum();
    let bar = progress.bar(cells as u64, "attack");
    let mut table = AttackTable::new();
    for plan in plans {
        for &eps in &plan.epsilons {
            let started = std::time::Instant::now();
            let rows: Vec<usize> = (0..test.len().min(plan.examples)).collect();
            let mut first = true;
            let c = attack_rows(model, frozen, test, setup, plan, eps, &rows, device, &mut |name, n| {
                if !std::mem::take(&mut first) {
                    bar.inc(1);
                }
                bar.set_message(format!("{} ε={eps}: {name} on {n} rows", plan.name()));
            })?;
            bar.inc(1);
            table.entry(plan.name().to_owned()).or_default().insert(epsilon_key(eps), result(&c, started));
        }
    }
    bar.finish_and_clear();
    Ok(table)
}

/// The cascade's figures, as every attack reports them; no query count
/// (three of its four attacks read gradients).
fn result(c: &Cascade, started: std::time::Instant) -> AttackResult {
    let correct = c.clean_correct.iter().zip(&c.broken_by).map(|(&ok, b)| ok && b.is_none()).collect();
    let n = c.clean_correct.len().max(1) as f64;
    let rows = Attacked {
        pixels: Vec::new(),
        clean_correct: c.clean_correct.clone(),
        correct,
        sizes: c.sizes.clone(),
    };
    AttackResult {
        stages: c.left.iter().map(|(name, k)| (name.clone(), *k as f64 / n)).collect(),
        ..rows.result(None, started)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::linear_model::LinearModel;
    use crate::config::Distance;
    use crate::config::{CnnPlan, EvalPlan, ModelPlan, Norm};
    use crate::data::{ImageSet, Inputs};
    use crate::model::ModelInput;

    const ROWS: usize = 48;

    /// A 4-class linear model over 1×3×4 images and rows it classifies as
    /// their labels, pixels well inside the range (so every row starts
    /// correct and the closed form of its best margin holds).
    fn setup(seed: u64) -> (LinearModel, Dataset, Vec<f32>, Device) {
        let cpu = Device::flex();
        let model = LinearModel::seeded(12, 4, seed, &cpu);
        let mut rng = augment::seed::rng(seed);
        let bytes: Vec<u8> = (0..ROWS * 12).map(|_| rand::Rng::random_range(&mut rng, 90u8..166)).collect();
        let pixels: Vec<f32> = bytes.iter().map(|&b| f32::from(b) / 255.0).collect();
        let x = Tensor::<4>::from_data(TensorData::new(pixels.clone(), [ROWS, 1, 3, 4]), &cpu);
        let labels =
            predicted_classes(model.logits(ModelInput::Images(x.autodiff())).inner()).expect("labels");
        let set = ImageSet { width: 4, height: 3, channels: 1, pixels: bytes, files_sha256: None };
        (model, Dataset { inputs: Inputs::Images(set), labels }, pixels, cpu)
    }

    fn eval_plan() -> EvalPlan {
        EvalPlan {
            corruptions: Vec::new(),
            corruption_table: augment::TableChoice::Auto,
            tables: Vec::new(),
            batch_size: 16,
            attacks: Vec::new(),
            mce_baseline: None,
            privacy: None,
            extraction: Vec::new(),
            certify: None,
        }
    }

    #[test]
    fn each_stage_attacks_only_the_rows_left_and_together_they_break_every_breakable_row() {
        let (mut late, mut surely) = (0, 0);
        for seed in [5, 6, 7] {
            let (model, test, pixels, cpu) = setup(seed);
            let frozen = model.clone().freeze();
            let eval = eval_plan();
            let plan_model = ModelPlan::Cnn(CnnPlan {
                conv_channels: vec![4],
                kernel_size: 3,
                hidden: 8,
                dropout: 0.0,
                norm: Norm::Batch,
            });
            let context = augment::text::TextContext::default();
            let setup = EvalSetup { eval: &eval, model: &plan_model, text: &context, seed: 11 };
            let plan = AutoAttackPlan {
                norm: Distance::Linf,
                epsilons: Vec::new(),
                steps: 50,
                targets: None,
                max_queries: 300,
                examples: ROWS,
            };
            let rows: Vec<usize> = (0..ROWS).collect();
            for eps in [0.02, 0.05, 0.1] {
                let mut heard = Vec::new();
                let c =
                    attack_rows(&model, &frozen, &test, &setup, &plan, eps, &rows, &cpu, &mut |name, n| {
                        heard.push((name.to_owned(), n))
                    })
                    .expect("cascade");
                assert!(
                    c.clean_correct.iter().all(|&ok| ok),
                    "rows are labelled with the model's predictions"
                );
                // Each stage starts on the rows the one before left.
                let names: Vec<&str> = heard.iter().map(|(s, _)| s.as_str()).collect();
                assert_eq!(names, AutoAttackPlan::stage_names(Distance::Linf));
                let counts: Vec<usize> = heard.iter().map(|&(_, n)| n).collect();
                assert_eq!(counts, [ROWS, c.left[0].1, c.left[1].1, c.left[2].1], "ε {eps}");
                for (s, (&before, (_, after))) in counts.iter().zip(&c.left).enumerate() {
                    let broke = c.broken_by.iter().filter(|&&b| b == Some(s)).count();
                    assert_eq!(before - after, broke, "ε {eps} stage {s}");
                }
                let HostInput::Images { pixels: out, .. } = &c.attacked else { panic!("images") };
                for (i, &y) in test.labels.iter().enumerate() {
                    let (clean, image) = (&pixels[i * 12..(i + 1) * 12], &out[i * 12..(i + 1) * 12]);
                    let size = Distance::Linf.distance(clean, image);
                    assert!((f64::from(size) - c.sizes[i]).abs() < 1e-6, "row {i}: size as reported");
                    assert!(size <= eps as f32 + 1e-5, "row {i}: {size} > {eps}");
                    let z = model.logits(ModelInput::Images(
                        Tensor::<4>::from_data(TensorData::new(image.to_vec(), [1, 1, 3, 4]), &cpu)
                            .autodiff(),
                    ));
                    let fooled = predicted_classes(z.inner()).expect("class")[0] != y;
                    assert_eq!(
                        fooled,
                        c.broken_by[i].is_some(),
                        "ε {eps} row {i}: the image returned breaks it"
                    );
                    if c.broken_by[i].is_none() {
                        assert_eq!(image, clean, "a row no stage broke comes back clean");
                    }
                    let margin = model.best_margin(clean, y, eps as f32, Distance::Linf);
                    assert!(!fooled || margin > -1e-4, "row {i} broken beyond what ε allows");
                    if model.best_margin(clean, y, 0.9 * eps as f32, Distance::Linf) > 0.0 {
                        surely += 1;
                        assert!(fooled, "ε {eps} row {i} can be broken with room to spare (margin {margin})");
                    }
                }
                late += c.broken_by.iter().filter(|&&b| b == Some(1)).count();
                let r = result(&c, std::time::Instant::now());
                assert_eq!(r.accuracy, c.left[3].1 as f64 / ROWS as f64);
                assert_eq!(r.correct.iter().filter(|&&ok| ok).count(), c.left[3].1);
                let stages: Vec<(&str, f64)> = r.stages.iter().map(|(s, a)| (s.as_str(), *a)).collect();
                let share = |k: usize| c.left[k].1 as f64 / ROWS as f64;
                let expected: Vec<(&str, f64)> = AutoAttackPlan::stage_names(Distance::Linf)
                    .iter()
                    .enumerate()
                    .map(|(k, &s)| (s, share(k)))
                    .collect();
                assert_eq!(stages, expected);
            }
        }
        assert!(surely > 120, "the radii span rows that can be broken: {surely}");
        // Cross-entropy leaves some rows the targeted attack then breaks.
        assert!(late > 0, "the targeted stage broke nothing the first missed");
    }
}
