//! The inner maximisation of TRADES (Zhang et al. 2019, "Theoretically
//! Principled Trade-off between Robustness and Accuracy") and MART (Wang et
//! al. 2020, "Improving Adversarial Robustness Requires Revisiting
//! Misclassified Examples"): PGD from a start 0.001·N(0, 1) off the clean
//! image (at x' = x TRADES's divergence has no gradient). TRADES ascends the
//! KL divergence of the model's prediction at x' from its prediction at x,
//! so it needs no label and pushes every row away from what the model says,
//! right or wrong; MART ascends the cross-entropy with the label.
//!
//! As the reference code (`yaodongyu/TRADES` `trades.py`, `YisenWang/MART`
//! `mart.py`): L∞ steps move α along the gradient's sign, then x' is clipped
//! to the ε-box and to [0, 1]; L2 steps (TRADES only) move α along the
//! normalised gradient, then the image is clipped to [0, 1] and δ shrunk into
//! the ε-ball. Where an L2 gradient vanishes the reference steps in a random
//! direction; here the row stays put, as in `smooth_adv`. `train` trains
//! against them.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};
use rand_distr::{Distribution, StandardNormal};

use super::white_box::{contiguous, per_example_l2, project};
use crate::config::Attack;
use crate::model::{Classifier, ModelInput};

/// The reference's start: this many standard deviations of Gaussian noise.
const START_SCALE: f32 = 0.001;

/// What the ascent maximises.
#[derive(Debug, Clone, Copy)]
pub enum Objective<'a> {
    /// TRADES: KL(prediction at x ‖ prediction at x′).
    Divergence,
    /// MART: the cross-entropy with these labels.
    Labels(&'a Tensor<1, Int>),
}

/// Adversarial versions of the images `x` (plain tensor, values in [0, 1])
/// under `attack`'s norm, radius, steps and absolute step size; `seed`
/// draws the start. `model` is frozen on an autodiff device.
///
/// # Shapes
/// `x`: `[n, c, h, w]` → `[n, c, h, w]`
pub fn perturb<M: Classifier>(
    model: &M,
    x: Tensor<4>,
    objective: Objective,
    attack: &Attack,
    seed: u64,
) -> Tensor<4> {
    let dims = x.dims();
    let mut rng = augment::seed::rng(seed);
    let start: Vec<f32> = (0..dims.iter().product::<usize>())
        .map(|_| START_SCALE * <StandardNormal as Distribution<f32>>::sample(&StandardNormal, &mut rng))
        .collect();
    let start = Tensor::from_data(TensorData::new(start, dims), &x.device());
    perturb_from(model, x, start, objective, attack)
}

/// [`perturb`] from the offset `start` instead of a seeded draw.
pub fn perturb_from<M: Classifier>(
    model: &M,
    x: Tensor<4>,
    start: Tensor<4>,
    objective: Objective,
    attack: &Attack,
) -> Tensor<4> {
    let eps = attack.epsilon as f32;
    let alpha = attack.step_size as f32;
    let l2 = attack.kind.is_l2();
    // The clean prediction is a constant of the ascent.
    let target = match objective {
        Objective::Divergence => {
            Target::Clean(softmax(model.logits(ModelInput::Images(x.clone().autodiff())).inner(), 1))
        }
        Objective::Labels(y) => Target::Labels(y.clone()),
    };
    let mut delta = start;
    for _ in 0..attack.steps {
        let g = gradient(model, x.clone() + delta.clone(), &target);
        let step = if l2 { g.clone() / (per_example_l2(g) + 1e-12) * alpha } else { g.sign() * alpha };
        delta = delta + step;
        if l2 {
            delta = (x.clone() + delta).clamp(0.0, 1.0) - x.clone();
            // Shrinking δ toward 0 keeps x + δ inside [0, 1]: the box is convex and holds x.
            delta = project(delta, eps, true);
        } else {
            delta = project(delta, eps, false);
            delta = (x.clone() + delta).clamp(0.0, 1.0) - x.clone();
        }
    }
    // The reference clips the result once more: with no steps, the start.
    (x + delta).clamp(0.0, 1.0)
}

/// The objective with what it compares against in place.
enum Target {
    Clean(Tensor<2>),
    Labels(Tensor<1, Int>),
}

/// ∇ at `x` of the objective summed (TRADES) or averaged (MART) over the
/// rows, as the references reduce them, as a plain tensor; the steps only
/// see its direction. For the divergence, the Σ clean·log clean half is
/// constant in `x`, so only the cross-entropy half is built.
fn gradient<M: Classifier>(model: &M, x: Tensor<4>, target: &Target) -> Tensor<4> {
    let device = x.device();
    let leaf = x.detach().autodiff().require_grad();
    let logits = model.logits(ModelInput::Images(leaf.clone()));
    let objective = match target {
        Target::Clean(p) => (log_softmax(logits, 1) * p.clone().autodiff()).sum().neg(),
        Target::Labels(y) => {
            CrossEntropyLossConfig::new().init(&device).forward(logits, y.clone().autodiff())
        }
    };
    let grads = objective.backward();
    match leaf.grad(&grads) {
        Some(g) => contiguous(g),
        None => leaf.inner().zeros_like(),
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::nn::LinearConfig;

    use super::*;
    use crate::attack::linear_model::LinearModel;
    use crate::config::AttackKind;

    const N: usize = 3;
    const D: usize = 8;
    const K: usize = 3;

    /// bench/trades_reference.py's linear model, images and start.
    fn reference(device: &Device) -> (LinearModel, Tensor<4>, Tensor<4>) {
        let ad = device.clone().autodiff();
        let mut linear = LinearConfig::new(D, K).init(&ad);
        let w: Vec<f32> = (0..D)
            .flat_map(|j| (0..K).map(move |k| 0.8 * (1.0 + 3.0 * j as f64 + 7.0 * k as f64).sin() as f32))
            .collect();
        let b: Vec<f32> = (0..K).map(|k| 0.1 * (k as f64).cos() as f32).collect();
        linear.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, [D, K]), &ad));
        linear.bias = Some(Param::from_tensor(Tensor::from_data(TensorData::new(b, [K]), &ad)));
        let grid = |f: &dyn Fn(f64, f64) -> f64| -> Tensor<4> {
            let v: Vec<f32> = (0..N)
                .flat_map(|i| (0..D).map(move |j| (i as f64, j as f64)))
                .map(|(i, j)| f(i, j) as f32)
                .collect();
            Tensor::from_data(TensorData::new(v, [N, 1, 2, 4]), device)
        };
        let x = grid(&|i, j| 0.5 + 0.5 * (1.3 * i + 0.7 * j + 0.2).sin());
        let start = grid(&|i, j| 0.02 * (0.9 * i + 1.7 * j).cos());
        (LinearModel { linear }.freeze(), x, start)
    }

    fn attack(kind: AttackKind, epsilon: f64, step_size: f64) -> Attack {
        Attack { kind, epsilon, steps: 5, step_size, random_start: false, restarts: 1, targets: None }
    }

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data")
    }

    #[test]
    fn matches_the_reference_code_under_both_norms() {
        let device = Device::flex();
        let (model, x, start) = reference(&device);
        let linf: [f64; N * D] = [
            0.69933467, 0.99166345, 0.89978680, 0.97285261, 0.47056000, 0.33508193, 0.00000000, 0.13709266,
            1.00000000, 0.97711043, 0.51962466, 0.37873978, 0.00000000, 0.12053786, 0.12465723, 0.65827460,
            0.76749408, 0.22460839, 0.16421211, 0.00000000, 0.28436668, 0.40840695, 0.92849330, 0.89408412,
        ];
        let l2: [f64; N * D] = [
            0.62791335, 0.90790888, 0.93670541, 0.96397137, 0.46008345, 0.37847441, 0.00618442, 0.24577043,
            0.99965856, 0.91411887, 0.56644818, 0.36784735, 0.01142666, 0.14795623, 0.06476885, 0.74907398,
            0.66048111, 0.28812436, 0.12766340, 0.00229975, 0.29553976, 0.35807877, 0.95504477, 0.81083996,
        ];
        let cases = [
            ("L∞", attack(AttackKind::PgdLinf, 0.1, 0.03), &linf),
            ("L2", attack(AttackKind::PgdL2, 0.3, 2.0 * 0.3 / 5.0), &l2),
        ];
        for (name, a, want) in cases {
            let got = values(perturb_from(&model, x.clone(), start.clone(), Objective::Divergence, &a));
            for (p, (g, w)) in got.iter().zip(want.iter()).enumerate() {
                assert!((f64::from(*g) - w).abs() < 2e-5, "{name}, pixel {p}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn mart_ascends_the_cross_entropy_as_the_reference_code() {
        // bench/mart_reference.py: the same model, images and start.
        let device = Device::flex();
        let (model, x, start) = reference(&device);
        let y = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2, 1], [N]), &device);
        let want: [f64; N * D] = [
            0.49933467, 0.79166345, 1.00000000, 0.77285261, 0.67056000, 0.13508193, 0.12419896, 0.00000000,
            1.00000000, 0.80424820, 0.51962466, 0.37873978, 0.00000000, 0.12053786, 0.12465723, 0.65827460,
            0.56749408, 0.42460839, 0.00000000, 0.10877369, 0.08436668, 0.60840695, 0.72849330, 1.00000000,
        ];
        let a = attack(AttackKind::PgdLinf, 0.1, 0.03);
        let got = values(perturb_from(&model, x.clone(), start, Objective::Labels(&y), &a));
        for (p, (g, w)) in got.iter().zip(want.iter()).enumerate() {
            assert!((f64::from(*g) - w).abs() < 2e-5, "pixel {p}: {g} vs {w}");
        }
    }

    /// Σ over rows of KL(softmax(model(x)) ‖ softmax(model(x'))).
    fn divergence(model: &LinearModel, x: Tensor<4>, adversarial: Tensor<4>) -> f32 {
        let logits = |t: Tensor<4>| model.logits(ModelInput::Images(t.autodiff())).inner();
        let (p, q) = (log_softmax(logits(x), 1), log_softmax(logits(adversarial), 1));
        (p.clone().exp() * (p - q)).sum().into_scalar()
    }

    #[test]
    fn starts_a_thousandth_off_and_climbs_the_divergence_inside_the_ball() {
        let device = Device::flex();
        let (model, x, _) = reference(&device);
        // No steps: the seeded start alone, clipped to [0, 1].
        let still = Attack { steps: 0, ..attack(AttackKind::PgdLinf, 0.1, 0.03) };
        let start: Vec<f32> =
            values(perturb(&model, x.clone(), Objective::Divergence, &still, 9) - x.clone());
        let inside: Vec<f32> = start.iter().copied().filter(|v| *v != 0.0).collect();
        let rms = (inside.iter().map(|v| v * v).sum::<f32>() / inside.len() as f32).sqrt();
        assert!(inside.len() > N * D / 2 && (0.0004..0.002).contains(&rms), "start rms {rms}");
        assert_eq!(
            start,
            values(perturb(&model, x.clone(), Objective::Divergence, &still, 9) - x.clone()),
            "seeded"
        );
        assert_ne!(start, values(perturb(&model, x.clone(), Objective::Divergence, &still, 10) - x.clone()));
        let near =
            divergence(&model, x.clone(), perturb(&model, x.clone(), Objective::Divergence, &still, 9));
        for a in [attack(AttackKind::PgdLinf, 0.1, 0.03), attack(AttackKind::PgdL2, 0.3, 0.12)] {
            let adversarial = perturb(&model, x.clone(), Objective::Divergence, &a, 9);
            let far = divergence(&model, x.clone(), adversarial.clone());
            assert!(far > 100.0 * near && far > 1e-3, "{:?}: divergence {near} → {far}", a.kind);
            let delta = values(adversarial.clone() - x.clone());
            let pixels = values(adversarial);
            assert!(pixels.iter().all(|v| (0.0..=1.0).contains(v)));
            for row in delta.chunks(D) {
                let size = if a.kind.is_l2() {
                    row.iter().map(|v| v * v).sum::<f32>().sqrt()
                } else {
                    row.iter().fold(0.0f32, |m, v| m.max(v.abs()))
                };
                assert!(size <= a.epsilon as f32 + 1e-5, "{:?}: {size}", a.kind);
            }
        }
    }
}
