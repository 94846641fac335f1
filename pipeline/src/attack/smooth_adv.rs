//! SmoothAdv's attack (Salman et al. 2019, "Provably Robust Deep Learning
//! via Adversarially Trained Smoothed Classifiers"): PGD under L2 against a
//! smoothed classifier. Its hard vote has no gradient, so the attack ascends
//! the cross-entropy of its soft version, the softmax averaged over noise
//! draws, exactly as the reference code (`Hadisalman/smoothing-adversarial`,
//! `attacks.py`, `PGD_L2` with several noise vectors) does: the draws are
//! fixed for the whole attack, δ starts at 0, each step moves 2·ε / steps
//! along the normalised gradient, then the image is clipped to [0, 1] and δ
//! to the ε-ball. Where the gradient vanishes the reference steps in a
//! random direction; here the row stays put, so the attack is a function of
//! its draws alone. `certify` scores it; `train` trains against it.

use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::white_box::{contiguous, per_example_l2, project};
use crate::model::{Classifier, ModelInput};

/// Adversarial versions of `x` against the smoothed classifier at L2
/// radius `epsilon`. `model` is frozen on an autodiff device; `noise`
/// holds `samples` draws per image, image by image.
///
/// # Shapes
/// `x`: `[b, c, h, w]`, `y`: `[b]`, `noise`: `[b · samples, c, h, w]` → `[b, c, h, w]`
pub fn perturb<M: Classifier>(
    model: &M,
    x: Tensor<4>,
    y: Tensor<1, Int>,
    noise: Tensor<4>,
    epsilon: f32,
    steps: usize,
) -> Tensor<4> {
    if epsilon <= 0.0 || steps == 0 {
        return x;
    }
    let step = 2.0 * epsilon / steps as f32;
    let mut delta = x.zeros_like();
    for _ in 0..steps {
        let g = gradient(model, x.clone() + delta.clone(), y.clone(), noise.clone());
        delta = delta + g.clone() / (per_example_l2(g) + 1e-12) * step;
        delta = (x.clone() + delta).clamp(0.0, 1.0) - x.clone();
        // Shrinking δ toward 0 keeps x + δ inside [0, 1]: the box is convex and holds x.
        delta = project(delta, epsilon, true);
    }
    x + delta
}

/// ∇ of the summed cross-entropy of the noise-averaged softmax with
/// respect to the images, as a plain tensor.
fn gradient<M: Classifier>(model: &M, x: Tensor<4>, y: Tensor<1, Int>, noise: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let copies = noise.dims()[0];
    let samples = copies / b.max(1);
    let leaf = x.detach().autodiff().require_grad();
    let noisy = leaf.clone().unsqueeze_dim::<5>(1).repeat_dim(1, samples).reshape([copies, c, h, w])
        + noise.autodiff();
    let logits = model.logits(ModelInput::Images(noisy));
    let classes = logits.dims()[1];
    let mean: Tensor<2> = softmax(logits, 1).reshape([b, samples, classes]).mean_dim(1).reshape([b, classes]);
    // The reference clamps at 1e-20 before the log, so a row the model is
    // sure is wrong about still has a finite loss.
    let picked = mean.clamp_min(1e-20).log().gather(1, y.autodiff().reshape([b, 1]));
    let grads = picked.sum().neg().backward();
    match leaf.grad(&grads) {
        Some(g) => contiguous(g),
        None => leaf.inner().zeros_like(),
    }
}
