//! SmoothAdv (Salman et al. 2019, "Provably Robust Deep Learning via
//! Adversarially Trained Smoothed Classifiers"): PGD under L2 against the
//! smoothed classifier itself, then Cohen et al.'s PREDICT on the result.
//! A certificate bounds the smoothed classifier's robust accuracy from
//! below; this attack bounds it from above, on the same rows.
//!
//! The attack itself is `attack::smooth_adv`, which SmoothAdv training
//! uses too; this module runs it on test rows and scores the result.

use burn::prelude::*;

use super::{Certificate, CertifyError, predict, sample};
use crate::attack::epsilon_key;
use crate::attack::smooth_adv::perturb;
use crate::batch::{EvalSetup, gaussian_draws as draws};
use crate::config::{CertifyPlan, Distance, SmoothAttackPlan};
use crate::data::Dataset;
use crate::model::{Classifier, HostInput, readback};
use crate::run::metrics::SmoothAttackMetrics;

/// One attacked row: PREDICT's answer after the attack at each radius of
/// the plan, and the row's label.
pub struct Attacked {
    /// PREDICT's class at each radius, `None` where it abstained.
    pub answers: Vec<Option<usize>>,
    /// The row's true class.
    pub label: usize,
}

/// SmoothAdv then PREDICT on `rows` of `test` at `sigma` and each of the
/// plan's radii (radius 0: PREDICT on the clean image). `frozen` is the
/// model frozen on the autodiff device, `model` the one PREDICT samples.
/// Attack noise is seeded from (run seed, row, σ, radius) and PREDICT's
/// from its own stream, so no row depends on the rows beside it.
#[allow(clippy::too_many_arguments)]
pub fn attack_rows<M: Classifier, F: Classifier>(
    model: &M,
    frozen: &F,
    test: &Dataset,
    setup: &EvalSetup,
    plan: &CertifyPlan,
    attack: &SmoothAttackPlan,
    sigma: f64,
    rows: &[usize],
    device: &Device,
    done: &mut dyn FnMut(),
) -> Result<Vec<Attacked>, CertifyError> {
    let mut out: Vec<Attacked> = Vec::with_capacity(rows.len());
    // Each row goes to the model as `samples` noisy copies.
    let per_call = (plan.batch / attack.samples).max(1);
    for chunk in rows.chunks(per_call) {
        let host = setup.clean_batch(test, chunk, model)?;
        let HostInput::Images { pixels, shape } = &host.input else { return Err(CertifyError::Text) };
        let chw = [shape[1], shape[2], shape[3]];
        let size = chw.iter().product::<usize>().max(1);
        let first = out.len();
        out.extend(host.labels.iter().map(|&label| Attacked { answers: Vec::new(), label: label as usize }));
        for &radius in &plan.radii {
            let moved = if radius > 0.0 {
                let mut noise = Vec::with_capacity(pixels.len() * attack.samples);
                for &row in chunk {
                    let seed = augment::seed::derive(setup.seed, row as u64, sigma.to_bits(), "smoothadv");
                    let seed = augment::seed::derive(seed, radius.to_bits(), 0, "smoothadv radius");
                    noise.extend(draws(size, attack.samples, sigma as f32, seed));
                }
                let b = chunk.len();
                let x = Tensor::<4>::from_data(TensorData::new(pixels.clone(), *shape), device);
                let y = Tensor::<1, Int>::from_data(TensorData::new(host.labels.clone(), [b]), device);
                let noise = Tensor::<4>::from_data(
                    TensorData::new(noise, [b * attack.samples, chw[0], chw[1], chw[2]]),
                    device,
                );
                let adv = perturb(frozen, x, y, noise, radius as f32, attack.steps);
                let moved = readback::values::<f32, 4, Float>(adv, pixels.len(), "SmoothAdv images")?;
                within_ball(pixels, &moved, size, radius, chunk)?;
                moved
            } else {
                pixels.clone()
            };
            for (i, (&row, image)) in chunk.iter().zip(moved.chunks_exact(size)).enumerate() {
                let seed = augment::seed::derive(setup.seed, row as u64, sigma.to_bits(), "predict");
                let mut rng =
                    augment::seed::rng(augment::seed::derive(seed, radius.to_bits(), 0, "predict radius"));
                let counts = sample(model, image, chw, sigma as f32, plan.n, plan.batch, &mut rng, device)?;
                out[first + i].answers.push(predict(&counts, plan.alpha));
            }
        }
        for _ in chunk {
            done();
        }
    }
    Ok(out)
}

/// Every attacked image within `radius` (L2) of its clean one and in
/// [0, 1], checked on the host: the attack projects into the ball, so an
/// image outside it means the device computed the attack wrongly.
fn within_ball(
    clean: &[f32],
    moved: &[f32],
    size: usize,
    radius: f64,
    rows: &[usize],
) -> Result<(), CertifyError> {
    for ((a, b), &row) in clean.chunks(size).zip(moved.chunks(size)).zip(rows) {
        let l2 = f64::from(Distance::L2.distance(a, b));
        let outside = b.iter().any(|v| !(-1e-6..=1.0 + 1e-6).contains(v));
        if outside || l2 > radius * (1.0 + 1e-4) + 1e-6 {
            return Err(CertifyError::OutsideBall { row, radius, size: l2 });
        }
    }
    Ok(())
}

/// The figures of attacked rows, and the certified accuracy of the same
/// rows from their certificates (`certs`, in the same order).
pub fn summarize(
    attacked: &[Attacked],
    certs: &[(Certificate, usize)],
    plan: &CertifyPlan,
    attack: &SmoothAttackPlan,
) -> SmoothAttackMetrics {
    let n = attacked.len().max(1) as f64;
    let share = |hit: &dyn Fn(&Attacked, usize) -> bool| {
        plan.radii
            .iter()
            .enumerate()
            .map(|(j, &r)| (epsilon_key(r), attacked.iter().filter(|a| hit(a, j)).count() as f64 / n))
            .collect()
    };
    let certified = plan
        .radii
        .iter()
        .map(|&r| {
            let right = certs
                .iter()
                .take(attacked.len())
                .filter(|(c, label)| c.class == Some(*label) && c.radius >= r)
                .count();
            (epsilon_key(r), right as f64 / n)
        })
        .collect();
    SmoothAttackMetrics {
        examples: attacked.len(),
        steps: attack.steps,
        samples: attack.samples,
        accuracy: share(&|a, j| a.answers.get(j).copied().flatten() == Some(a.label)),
        abstain: share(&|a, j| a.answers.get(j).is_some_and(Option::is_none)),
        certified,
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::nn::LinearConfig;
    use rand::Rng as _;

    use super::super::tests::{CHW, Linear2};
    use super::*;

    /// An image, its class, the boundary's unit normal toward the other
    /// class and the distance to the boundary.
    struct Row {
        x: Vec<f32>,
        label: usize,
        normal: Vec<f64>,
        distance: f64,
    }

    /// A two-class linear model whose margin is 0 at the grey image, and
    /// 64 images in [0.1, 0.9] with labels, each with the unit normal of
    /// the decision boundary toward its other class and its distance to it.
    /// A smoothed linear classifier decides as the linear one does, and the
    /// soft classifier's gradient points along that normal under any noise:
    /// SmoothAdv has a closed form here.
    fn linear_case() -> (Linear2, Vec<Row>) {
        let device = Device::flex();
        let mut rng = augment::seed::rng(23);
        let d = CHW.iter().product::<usize>();
        let w: Vec<f32> = (0..2 * d).map(|_| rng.random_range(-0.3..0.3)).collect();
        let dw: Vec<f64> = (0..d).map(|i| f64::from(w[2 * i + 1] - w[2 * i])).collect();
        let norm = dw.iter().map(|v| v * v).sum::<f64>().sqrt();
        let shift = -0.5 * dw.iter().sum::<f64>();
        let mut linear = LinearConfig::new(d, 2).init(&device);
        linear.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, [d, 2]), &device));
        linear.bias = Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(vec![0.0f32, shift as f32], [2]),
            &device,
        )));
        let rows = (0..64)
            .map(|_| {
                let x: Vec<f32> = (0..d).map(|_| rng.random_range(0.1f32..0.9)).collect();
                let m = x.iter().zip(&dw).map(|(&x, &w)| f64::from(x) * w).sum::<f64>() + shift;
                let label = usize::from(m > 0.0);
                let toward = if label == 1 { -1.0 } else { 1.0 };
                Row {
                    x,
                    label,
                    normal: dw.iter().map(|w| toward * w / norm).collect(),
                    distance: m.abs() / norm,
                }
            })
            .collect();
        (Linear2 { linear }, rows)
    }

    #[test]
    fn on_a_linear_model_smoothadv_walks_straight_across_the_boundary_and_predict_sees_it() {
        let (model, rows) = linear_case();
        let device = Device::flex();
        let frozen = model.clone().to_device(&device.clone().autodiff()).freeze();
        let (sigma, epsilon, samples) = (0.1f32, 0.2f32, 4);
        let size = CHW.iter().product::<usize>();
        let b = rows.len();
        let pixels: Vec<f32> = rows.iter().flat_map(|r| r.x.clone()).collect();
        let labels: Vec<i64> = rows.iter().map(|r| r.label as i64).collect();
        let noise: Vec<f32> = (0..b).flat_map(|i| draws(size, samples, sigma, i as u64)).collect();
        let adv = perturb(
            &frozen,
            Tensor::from_data(TensorData::new(pixels.clone(), [b, CHW[0], CHW[1], CHW[2]]), &device),
            Tensor::from_data(TensorData::new(labels, [b]), &device),
            Tensor::from_data(TensorData::new(noise, [b * samples, CHW[0], CHW[1], CHW[2]]), &device),
            epsilon,
            10,
        );
        let adv = readback::values::<f32, 4, Float>(adv, pixels.len(), "adv").expect("reads back");
        let p = super::super::tests::plan(100, 1000, 500);
        let (mut crossed, mut held) = (0, 0);
        for (i, (Row { x, label, normal, distance }, moved)) in
            rows.iter().zip(adv.chunks_exact(size)).enumerate()
        {
            // ε along the normal: the whole budget, the best direction, no clipping (|δᵢ| ≤ 0.06).
            for ((a, b), n) in x.iter().zip(moved).zip(normal) {
                let want = f64::from(*a) + f64::from(epsilon) * n;
                assert!((f64::from(*b) - want).abs() < 1e-5, "row {i}: moved to {b}, want {want}");
            }
            let mut rng = augment::seed::rng(1000 + i as u64);
            let counts = sample(&model, moved, CHW, sigma, p.n, p.batch, &mut rng, &device).expect("samples");
            let answer = predict(&counts, p.alpha);
            // Beyond half a σ from the new boundary PREDICT is sure (p ≥ Φ(½) = 0.69 of 1,000).
            let margin = 0.5 * f64::from(sigma);
            if *distance < f64::from(epsilon) - margin {
                assert_eq!(answer, Some(1 - label), "row {i} at {distance}: the attack crossed");
                crossed += 1;
            } else if *distance > f64::from(epsilon) + margin {
                assert_eq!(answer, Some(*label), "row {i} at {distance}: beyond the attack's reach");
                held += 1;
            }
        }
        assert!(crossed >= 10 && held >= 5, "crossed {crossed}, held {held}: the case tests both sides");
    }

    #[test]
    fn summaries_count_predict_answers_and_the_same_rows_certificates() {
        let mut p = super::super::tests::plan(100, 1000, 100);
        p.radii = vec![0.0, 0.5];
        let attack = SmoothAttackPlan { steps: 20, samples: 8, examples: 4 };
        let rows = [
            Attacked { answers: vec![Some(0), Some(0)], label: 0 }, // right, survives
            Attacked { answers: vec![Some(1), None], label: 1 },    // right, abstains under attack
            Attacked { answers: vec![Some(2), Some(0)], label: 2 }, // right, broken
            Attacked { answers: vec![None, Some(1)], label: 1 },    // abstains clean, right attacked
        ];
        let cert = |class, radius| Certificate { class, radius };
        // A fifth certificate lies beyond the attacked rows and is not counted.
        let certs = [
            (cert(Some(0), 0.6), 0),
            (cert(Some(1), 0.1), 1),
            (cert(None, 0.0), 2),
            (cert(Some(0), 0.9), 1),
            (cert(Some(4), 2.0), 4),
        ];
        let m = summarize(&rows, &certs, &p, &attack);
        assert_eq!((m.examples, m.steps, m.samples), (4, 20, 8));
        assert_eq!((m.accuracy["0"], m.accuracy["0.5"]), (0.75, 0.5));
        assert_eq!((m.abstain["0"], m.abstain["0.5"]), (0.25, 0.25));
        assert_eq!((m.certified["0"], m.certified["0.5"]), (0.5, 0.25));
    }

    #[test]
    fn an_image_outside_the_ball_names_its_row() {
        let clean = [0.5f32; 8];
        assert!(within_ball(&clean[..4], &[0.6, 0.5, 0.5, 0.5], 4, 0.1, &[7]).is_ok());
        let e = within_ball(&clean, &[0.5, 0.5, 0.5, 0.5, 0.5, 0.9, 0.5, 0.5], 4, 0.1, &[7, 8])
            .expect_err("0.4 from clean");
        assert!(e.to_string().contains("test row 8"), "{e}");
        let e = within_ball(&[1.0], &[1.01], 1, 0.5, &[3]).expect_err("above 1");
        assert!(e.to_string().contains("test row 3"), "{e}");
    }
}
