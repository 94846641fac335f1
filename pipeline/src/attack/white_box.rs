//! Gradient attacks on images: FGSM (Goodfellow et al. 2015), PGD under
//! L∞ and L2 (Madry et al. 2018) and Auto-PGD (`apgd`), on the [0, 1]
//! pixel scale.
//!
//! The model must be frozen (`Module::freeze`) on an autodiff device: batch
//! norm uses its running statistics and dropout is off, as in evaluation, yet
//! gradients still reach the input. Random starts are drawn on the host from
//! a seed, so an attack is the same on every backend.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use super::{apgd, fab};
use crate::config::{Attack, AttackKind};
use crate::model::{Classifier, ModelInput, ReadbackError};

/// Adversarial versions of the images `x` (plain tensor, values in [0, 1])
/// with true classes `y`. `seed` draws the random starts.
///
/// # Shapes
/// `x`: `[n, c, h, w]`, `y`: `[n]` → `[n, c, h, w]`
pub fn perturb<M: Classifier>(
    model: &M,
    x: Tensor<4>,
    y: Tensor<1, Int>,
    attack: &Attack,
    seed: u64,
) -> Result<Tensor<4>, ReadbackError> {
    let eps = attack.epsilon as f32;
    if eps <= 0.0 {
        return Ok(x);
    }
    match attack.kind {
        AttackKind::Fgsm => {
            let g = input_gradient(model, x.clone(), y);
            return Ok((x + g.sign() * eps).clamp(0.0, 1.0));
        }
        AttackKind::Apgd { .. } => return apgd::perturb(model, x, y, attack, seed),
        AttackKind::FabT { .. } => return fab::perturb(model, x, y, attack),
        AttackKind::PgdLinf | AttackKind::PgdL2 => {}
    }
    let mut best = pgd(model, x.clone(), y.clone(), attack, seed);
    for restart in 1..attack.restarts.max(1) {
        let candidate = pgd(model, x.clone(), y.clone(), attack, seed.wrapping_add(restart as u64));
        // Keep the first adversarial that fools the model; where none
        // does yet, take the new try.
        let fooled = fooled_mask(model, best.clone(), y.clone());
        best = best.clone() * fooled.clone() + candidate * (fooled.neg() + 1.0);
    }
    Ok(best)
}

fn pgd<M: Classifier>(model: &M, x: Tensor<4>, y: Tensor<1, Int>, attack: &Attack, seed: u64) -> Tensor<4> {
    let eps = attack.epsilon as f32;
    let alpha = attack.step_size as f32;
    let l2 = attack.kind.is_l2();
    let mut delta = if attack.random_start { random_start(&x, eps, l2, seed) } else { x.zeros_like() };
    delta = (x.clone() + delta).clamp(0.0, 1.0) - x.clone();
    for _ in 0..attack.steps {
        let g = input_gradient(model, x.clone() + delta.clone(), y.clone());
        let step = if l2 { g.clone() / (per_example_l2(g) + 1e-12) * alpha } else { g.sign() * alpha };
        delta = project(delta + step, eps, l2);
        delta = (x.clone() + delta).clamp(0.0, 1.0) - x.clone();
    }
    x + delta
}

/// ∇ₓ of the mean cross-entropy, as a plain tensor on the model's device.
fn input_gradient<M: Classifier>(model: &M, x: Tensor<4>, y: Tensor<1, Int>) -> Tensor<4> {
    let device = x.device();
    let x = x.detach().autodiff().require_grad();
    let logits = model.logits(ModelInput::Images(x.clone()));
    let loss = CrossEntropyLossConfig::new().init(&device).forward(logits, y.autodiff());
    let grads = loss.backward();
    match x.grad(&grads) {
        Some(g) => contiguous(g),
        // No path from the input to the loss (a constant model): no direction.
        None => x.inner().zeros_like(),
    }
}

/// `g` laid out row-major. The input gradient comes out of the
/// convolution's backward pass in another layout, and on wgpu (burn 0.22,
/// fusion on) an element-wise kernel that took it beside row-major images
/// read it at the wrong places: PGD's steps then landed 0.6-1.0 away from
/// the clean images at ε 0.03 (the e2e parity test on lavapipe). A reshape
/// through `[n, c·h·w]` makes burn copy it row-major first.
pub(crate) fn contiguous(g: Tensor<4>) -> Tensor<4> {
    let dims = g.dims();
    g.reshape([dims[0], dims[1] * dims[2] * dims[3]]).reshape(dims)
}

/// 1 where the model misclassifies, 0 elsewhere, shaped to broadcast over images.
fn fooled_mask<M: Classifier>(model: &M, x: Tensor<4>, y: Tensor<1, Int>) -> Tensor<4> {
    let n = y.dims()[0];
    let pred: Tensor<1, Int> =
        model.logits(ModelInput::Images(x.autodiff())).inner().argmax(1).squeeze_dim(1);
    pred.not_equal(y).float().reshape([n, 1, 1, 1])
}

/// Each example's L2 norm, `[n, 1, 1, 1]`.
pub fn per_example_l2(x: Tensor<4>) -> Tensor<4> {
    let [n, ..] = x.dims();
    let flat: Tensor<2> = x.flatten(1, 3);
    flat.powi_scalar(2).sum_dim(1).sqrt().reshape([n, 1, 1, 1])
}

/// `delta` shrunk row by row into the ball of radius `eps` (L2, else L∞).
pub(crate) fn project(delta: Tensor<4>, eps: f32, l2: bool) -> Tensor<4> {
    if l2 {
        let norm = per_example_l2(delta.clone());
        delta * (norm.recip() * eps).clamp_max(1.0)
    } else {
        delta.clamp(-eps, eps)
    }
}

fn random_start(x: &Tensor<4>, eps: f32, l2: bool, seed: u64) -> Tensor<4> {
    let dims = x.dims();
    let [n, c, h, w] = dims;
    let per = c * h * w;
    let mut rng = augment::seed::rng(seed);
    let mut values = Vec::with_capacity(n * per);
    if l2 {
        // A uniform direction at a uniform share of the radius.
        for _ in 0..n {
            let dir: Vec<f32> = (0..per).map(|_| StandardNormal.sample(&mut rng)).collect();
            let norm = dir.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            let r = eps * rng.random::<f32>();
            values.extend(dir.into_iter().map(|v| v / norm * r));
        }
    } else {
        values.extend((0..n * per).map(|_| rng.random_range(-eps..=eps)));
    }
    Tensor::from_data(TensorData::new(values, dims), &x.device())
}

#[cfg(test)]
mod tests {
    use burn::nn::LinearConfig;

    use super::*;

    // Logits = W·flatten(x) + b: FGSM has a closed form for it.
    use crate::attack::linear_model::LinearModel;

    fn setup(seed: u64) -> (LinearModel, Tensor<4>, Tensor<1, Int>, Device) {
        let cpu = Device::flex();
        cpu.seed(seed);
        let ad = cpu.clone().autodiff();
        let model = LinearModel { linear: LinearConfig::new(12, 3).init(&ad) }.freeze();
        let mut rng = augment::seed::rng(seed);
        let pixels: Vec<f32> = (0..4 * 12).map(|_| rng.random_range(0.2..0.8)).collect();
        let x = Tensor::<4>::from_data(TensorData::new(pixels, [4, 1, 3, 4]), &cpu);
        let y = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1, 2, 1], [4]), &cpu);
        (model, x, y, cpu)
    }

    fn to_vec(t: Tensor<4>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 data")
    }

    #[test]
    fn fgsm_on_a_linear_model_matches_the_closed_form() {
        let (model, x, y, _) = setup(7);
        let eps = 0.05;
        let attack = Attack {
            kind: AttackKind::Fgsm,
            epsilon: eps,
            steps: 1,
            step_size: eps,
            random_start: false,
            restarts: 1,
            targets: None,
        };
        let adv = to_vec(perturb(&model, x.clone(), y.clone(), &attack, 1).expect("perturb"));
        // ∂CE/∂x = Wᵀ(softmax(Wx + b) − onehot(y)); FGSM adds ε·sign of it.
        let w: Vec<f32> = model.linear.weight.val().inner().into_data().try_to_vec::<f32>().expect("w"); // [12, 3]
        let b: Vec<f32> = model
            .linear
            .bias
            .as_ref()
            .expect("bias")
            .val()
            .inner()
            .into_data()
            .try_to_vec::<f32>()
            .expect("b");
        let xs = to_vec(x);
        let ys = [0usize, 1, 2, 1];
        for (i, &label) in ys.iter().enumerate() {
            let xi = &xs[i * 12..(i + 1) * 12];
            let z: Vec<f32> =
                (0..3).map(|k| b[k] + (0..12).map(|j| xi[j] * w[j * 3 + k]).sum::<f32>()).collect();
            let m = z.iter().cloned().fold(f32::MIN, f32::max);
            let e: Vec<f32> = z.iter().map(|v| (v - m).exp()).collect();
            let s: f32 = e.iter().sum();
            for j in 0..12 {
                let g: f32 =
                    (0..3).map(|k| w[j * 3 + k] * (e[k] / s - if k == label { 1.0 } else { 0.0 })).sum();
                let expected = (xi[j] + eps as f32 * g.signum()).clamp(0.0, 1.0);
                assert!((adv[i * 12 + j] - expected).abs() < 1e-6, "example {i} pixel {j}");
            }
        }
    }

    #[test]
    fn pgd_never_leaves_the_ball_or_the_pixel_range() {
        for (kind, eps) in [(AttackKind::PgdLinf, 0.1), (AttackKind::PgdL2, 0.5)] {
            let (model, x, y, _) = setup(3);
            let attack = Attack {
                kind,
                epsilon: eps,
                steps: 7,
                step_size: eps / 2.0,
                random_start: true,
                restarts: 2,
                targets: None,
            };
            let adv = perturb(&model, x.clone(), y, &attack, 9).expect("perturb");
            let (clean, moved) = (to_vec(x), to_vec(adv.clone()));
            let norm = if kind.is_l2() { crate::config::Distance::L2 } else { crate::config::Distance::Linf };
            for (a, b) in clean.chunks(12).zip(moved.chunks(12)) {
                let n = norm.distance(a, b);
                assert!(n <= eps as f32 + 1e-5, "{kind:?}: norm {n} > {eps}");
            }
            for p in to_vec(adv) {
                assert!((0.0..=1.0).contains(&p), "{kind:?}: pixel {p}");
            }
        }
    }

    #[test]
    fn pgd_raises_the_loss_more_than_a_random_point() {
        let (model, x, y, _) = setup(11);
        let loss = |x: Tensor<4>| -> f32 {
            let logits = model.logits(ModelInput::Images(x.autodiff())).inner();
            CrossEntropyLossConfig::new().init(&logits.device()).forward(logits, y.clone()).into_scalar()
        };
        let pgd = Attack {
            kind: AttackKind::PgdLinf,
            epsilon: 0.1,
            steps: 10,
            step_size: 0.025,
            random_start: false,
            restarts: 1,
            targets: None,
        };
        let adv = perturb(&model, x.clone(), y.clone(), &pgd, 1).expect("perturb");
        let random = x.clone() + random_start(&x, 0.1, false, 5);
        assert!(loss(adv) > loss(random.clamp(0.0, 1.0)) + 1e-3);
    }
}
