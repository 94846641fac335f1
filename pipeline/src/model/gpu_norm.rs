//! Batch normalisation in training for the GPU devices, as one
//! differentiable operation written with the backend's tensor operations.
//!
//! burn's own (`ModuleOps::batch_norm_train`, which its fusion backend does
//! not override) swaps the batch and channel dimensions and reduces each
//! channel as one row of `N·H·W` values. On wgpu (Mesa's lavapipe, burn
//! 0.22.1) that reduction comes back wrong once a row is long: at
//! `[256, 8, 28, 28]` (200,704 values a channel) the first channel's mean is
//! right, the second's a third of it and the rest 0, so training normalises
//! by wrong statistics and the running statistics that evaluation uses end
//! up meaningless (a digits model trained at batch 256 scored chance on its
//! test set). Here the activations are viewed as `[N, C, pixels]`, which
//! needs no copy, and each channel is reduced over its pixels, then over
//! the images: short rows, which come back right, and no copies. The
//! backward pass takes its two sums the same way and recomputes `x̂`.
//!
//! Written for any backend so that its arithmetic is tested against burn's
//! layer on the CPU; only the GPU devices use it (the CPU device has
//! `norm`'s native operation).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    Autodiff, Backend as BackendOps, DispatchKindConversion, DispatchTensor, Scalar, TensorMetadata,
};
use burn::prelude::*;
use burn::tensor::Shape;

/// `[N, C, P]` → `[1, C, 1]`: each channel summed over pixels, then images.
fn channel_sum<B: BackendOps>(x: FloatTensor<B>) -> FloatTensor<B> {
    B::float_sum_dim(B::float_sum_dim(x, 2), 0)
}

fn scaled<B: BackendOps>(x: FloatTensor<B>, factor: f64) -> FloatTensor<B> {
    B::float_mul_scalar(x, Scalar::Float(factor))
}

/// What the backward pass needs: the input `[N, C, P]` and the per-channel
/// terms `[1, C, 1]`.
#[derive(Debug, Clone)]
struct Saved<B: BackendOps> {
    input: FloatTensor<B>,
    mean: FloatTensor<B>,
    inv_std: FloatTensor<B>,
    gamma: FloatTensor<B>,
    /// The input's `[N, C, H, W]`.
    shape: [usize; 4],
}

impl<B: BackendOps> Saved<B> {
    fn count(&self) -> f64 {
        let [n, _, h, w] = self.shape;
        (n * h * w) as f64
    }

    /// `(x - μ) / σ`, recomputed where it is used.
    fn normalized(&self) -> FloatTensor<B> {
        B::float_mul(B::float_sub(self.input.clone(), self.mean.clone()), self.inv_std.clone())
    }
}

/// The forward pass: the output, the batch's mean and biased variance
/// (`[C]` each) and what the backward pass keeps.
struct Forward<B: BackendOps> {
    output: FloatTensor<B>,
    mean: FloatTensor<B>,
    variance: FloatTensor<B>,
    saved: Saved<B>,
}

fn forward<B: BackendOps>(
    x: FloatTensor<B>,
    gamma: FloatTensor<B>,
    beta: FloatTensor<B>,
    epsilon: f64,
) -> Forward<B> {
    let shape: [usize; 4] = x.shape().dims();
    let [n, c, h, w] = shape;
    let per_channel = || Shape::new([1, c, 1]);
    let input = B::float_reshape(x, Shape::new([n, c, h * w]));
    let count = (n * h * w) as f64;
    let mean = scaled::<B>(channel_sum::<B>(input.clone()), 1.0 / count);
    let centered = B::float_sub(input.clone(), mean.clone());
    let variance =
        scaled::<B>(channel_sum::<B>(B::float_mul(centered.clone(), centered.clone())), 1.0 / count);
    let inv_std =
        B::float_recip(B::float_sqrt(B::float_add_scalar(variance.clone(), Scalar::Float(epsilon))));
    let gamma = B::float_reshape(gamma, per_channel());
    let scale = B::float_mul(gamma.clone(), inv_std.clone());
    let output = B::float_add(B::float_mul(centered, scale), B::float_reshape(beta, per_channel()));
    Forward {
        output: B::float_reshape(output, Shape::new(shape)),
        mean: B::float_reshape(mean.clone(), Shape::new([c])),
        variance: B::float_reshape(variance, Shape::new([c])),
        saved: Saved { input, mean, inv_std, gamma, shape },
    }
}

/// Gradients of the input, `gamma` and `beta` from the output's.
fn backward<B: BackendOps>(
    saved: &Saved<B>,
    grad: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let [n, c, h, w] = saved.shape;
    let grad = B::float_reshape(grad, Shape::new([n, c, h * w]));
    let normalized = saved.normalized();
    let dbeta = channel_sum::<B>(grad.clone());
    let dgamma = channel_sum::<B>(B::float_mul(grad.clone(), normalized.clone()));
    let k = 1.0 / saved.count();
    // dx = γ/σ · (g − mean(g) − x̂ · mean(g · x̂))
    let centred = B::float_sub(grad, scaled::<B>(dbeta.clone(), k));
    let projected = B::float_mul(normalized, scaled::<B>(dgamma.clone(), k));
    let scale = B::float_mul(saved.gamma.clone(), saved.inv_std.clone());
    let dx = B::float_mul(scale, B::float_sub(centred, projected));
    (
        B::float_reshape(dx, Shape::new(saved.shape)),
        B::float_reshape(dgamma, Shape::new([c])),
        B::float_reshape(dbeta, Shape::new([c])),
    )
}

#[derive(Debug)]
struct NormBackward;

impl<B: BackendOps> Backward<B, 3> for NormBackward {
    type State = Saved<B>;

    fn backward(self, ops: Ops<Saved<B>, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (dx, dgamma, dbeta) = backward(&ops.state, grad);
        for (node, g) in [(node_x, dx), (node_gamma, dgamma), (node_beta, dbeta)] {
            if let Some(node) = node {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

/// The normalised output (tracked) and the batch's mean and variance
/// (`[C]`, untracked, on the device).
fn train_autodiff<B: BackendOps>(
    x: FloatTensor<Autodiff<B>>,
    gamma: FloatTensor<Autodiff<B>>,
    beta: FloatTensor<Autodiff<B>>,
    epsilon: f64,
) -> (FloatTensor<Autodiff<B>>, FloatTensor<B>, FloatTensor<B>) {
    let guards = [x.node(), gamma.node(), beta.node()];
    let f = forward::<B>(x.primitive().clone(), gamma.primitive().clone(), beta.primitive().clone(), epsilon);
    let output = match NormBackward.prepare::<NoCheckpointing>(guards).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(f.saved, f.output),
        OpsKind::UnTracked(prep) => prep.finish(f.output),
    };
    (output, f.mean, f.variance)
}

/// Training-mode batch norm on backend `B`'s autodiff tensors, with the
/// running statistics updated as burn's `BatchNorm` updates them; `None`
/// when `x` and the norm's parameters are not `Autodiff<B>` tensors.
pub(super) fn try_train<B: BackendOps>(norm: &burn::nn::BatchNorm, x: &Tensor<4>) -> Option<Tensor<4>>
where
    DispatchTensor: DispatchKindConversion<Autodiff<B>> + DispatchKindConversion<B>,
{
    let xp = x.clone().try_into_primitive::<Autodiff<B>>().ok()?;
    let gp = norm.gamma.val().try_into_primitive::<Autodiff<B>>().ok()?;
    let bp = norm.beta.val().try_into_primitive::<Autodiff<B>>().ok()?;
    let (output, mean, variance) = train_autodiff::<B>(xp, gp, bp, norm.epsilon);
    let on_device = |batch: FloatTensor<B>| Tensor::<1>::from_primitive::<B>(batch).autodiff();
    super::norm::update_running(norm, on_device(mean), on_device(variance));
    Some(Tensor::from_primitive::<Autodiff<B>>(output))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::module::Param;
    use burn::nn::BatchNormConfig;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn random(shape: [usize; 4], seed: u64, device: &Device) -> Tensor<4> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let n = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.random_range(-2.0f32..3.0)).collect();
        Tensor::from_data(TensorData::new(v, shape), device)
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32")
    }

    fn assert_close(a: &[f32], b: &[f32], tolerance: f32, what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tolerance * (1.0 + y.abs()), "{what}[{i}]: {x} against {y}");
        }
    }

    /// Output, input, gamma and beta gradients and running statistics of
    /// one training step through `f`, with a weighted loss so that every
    /// output's gradient differs.
    fn step(
        f: impl Fn(&burn::nn::BatchNorm, Tensor<4>) -> Tensor<4>,
        shape: [usize; 4],
        device: &Device,
    ) -> [Vec<f32>; 6] {
        let mut norm = BatchNormConfig::new(shape[1]).init(device);
        // Parameters away from 1 and 0, so their roles cannot be swapped.
        let c = shape[1];
        norm.gamma = Param::from_tensor(Tensor::<1>::ones([c], device).mul_scalar(1.5).add_scalar(0.25));
        norm.beta = Param::from_tensor(Tensor::<1>::full([c], -0.5, device));
        let x = random(shape, 7, device).require_grad();
        let weights = random(shape, 8, device);
        let out = f(&norm, x.clone());
        let grads = (out.clone() * weights).sum().backward();
        let dx = x.grad(&grads).expect("input gradient");
        let dgamma = norm.gamma.val().grad(&grads).expect("gamma gradient");
        let dbeta = norm.beta.val().grad(&grads).expect("beta gradient");
        [
            values(out),
            values(dx),
            values(dgamma),
            values(dbeta),
            values(norm.running_mean.value_sync()),
            values(norm.running_var.value_sync()),
        ]
    }

    const NAMES: [&str; 6] =
        ["output", "input gradient", "gamma gradient", "beta gradient", "running mean", "running var"];

    #[test]
    fn outputs_gradients_and_running_statistics_match_burns_batch_norm() {
        let device = Device::flex().autodiff();
        let shape = [5, 3, 4, 6];
        let ours = step(|n, x| try_train::<Flex>(n, &x).expect("flex autodiff tensors"), shape, &device);
        let burns = step(|n, x| n.forward(x), shape, &device);
        for ((name, a), b) in NAMES.iter().zip(&ours).zip(&burns) {
            assert_close(a, b, 1e-4, name);
        }
        // The running statistics moved off their initial 0 and 1.
        assert!(ours[4].iter().all(|m| m.abs() > 1e-3), "running mean {:?}", ours[4]);
    }

    #[test]
    fn tensors_of_another_backend_are_left_to_the_caller() {
        let device = Device::flex();
        let norm = BatchNormConfig::new(3).init(&device);
        let x = random([2, 3, 2, 2], 1, &device);
        assert!(try_train::<Flex>(&norm, &x).is_none(), "a tensor without autodiff is not Autodiff<Flex>");
    }

    /// On wgpu (Mesa's software driver in the tests), a channel of 200,704
    /// values, where burn's own statistics come back wrong: the batch norm
    /// the GPU devices train with agrees with burn's on the CPU.
    #[cfg(feature = "gpu")]
    #[test]
    fn on_wgpu_long_channels_give_the_cpus_statistics() {
        let shape = [256, 8, 28, 28];
        let cpu = step(|n, x| n.forward(x), shape, &Device::flex().autodiff());
        let wgpu = crate::device::select("wgpu").expect("wgpu (lavapipe in the tests)").device.autodiff();
        let gpu = step(super::super::norm::batch_norm, shape, &wgpu);
        for ((name, a), b) in NAMES.iter().zip(&gpu).zip(&cpu) {
            // Sums of 200,704 floats in another order.
            assert_close(a, b, 2e-3, name);
        }
    }
}
