//! Batch normalisation in training, and group normalisation, as
//! differentiable operations for the CPU device (burn's flex backend).
//!
//! burn computes the batch statistics of `[N, C, H, W]` activations by
//! swapping the batch and channel dimensions and copying the result, twice
//! forward and twice backward, with a full pass over the activations for each
//! of about ten element-wise steps. Here each channel is one task that reads
//! its `N` contiguous planes: one pass for the mean, one for the variance,
//! one writing the output and the normalised values the backward pass needs,
//! and in the backward pass one for the two sums and one writing the input
//! gradient. Sums run in a fixed order in `f64`, so results do not depend on
//! the thread count.
//!
//! The running statistics are updated exactly as burn's `BatchNorm` does
//! (biased batch variance, `momentum` weight on the new value); inference
//! uses burn's layer unchanged, and the GPU devices train through
//! `gpu_norm` (burn's statistics are wrong there for long channels). Group norm (what DP-SGD
//! trains with) normalises each example's group, a contiguous slice of
//! `[N, C, H, W]`, in one task; its scale and shift stay burn's tensor ops.

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::nn::{BatchNorm, GroupNorm};
use burn::prelude::*;
use burn::tensor::DType;
use rayon::prelude::*;

use super::flex::{AdFlex, slice, tensor};

/// `[N, C, H, W]` as `N` images of `C` planes of `plane` values.
#[derive(Clone, Copy, Debug)]
struct Layout {
    shape: [usize; 4],
}

impl Layout {
    fn channels(&self) -> usize {
        self.shape[1]
    }

    fn plane(&self) -> usize {
        self.shape[2] * self.shape[3]
    }

    /// Values per channel.
    fn count(&self) -> f64 {
        (self.shape[0] * self.plane()) as f64
    }

    /// Channel `c`'s planes, image by image.
    fn planes<'a>(&self, data: &'a [f32], c: usize) -> impl Iterator<Item = &'a [f32]> {
        let (p, cp) = (self.plane(), self.channels() * self.plane());
        data.chunks_exact(cp).map(move |image| &image[c * p..(c + 1) * p])
    }
}

/// Eight running `f64` sums over `values`, one per lane, added up at the
/// end: the lanes have no dependency on each other, so the loop runs at the
/// speed of the adds rather than their latency, in the same order every time.
fn lane_sum<const K: usize>(values: &[f32], term: impl Fn(f32) -> f64) -> f64 {
    let mut lanes = [0.0f64; K];
    let chunks = values.chunks_exact(K);
    let tail: f64 = chunks.remainder().iter().map(|&v| term(v)).sum();
    for chunk in chunks {
        for (l, &v) in lanes.iter_mut().zip(chunk) {
            *l += term(v);
        }
    }
    lanes.iter().sum::<f64>() + tail
}

/// `Σ g` and `Σ g·x` over two planes, in lanes as [`lane_sum`].
fn lane_sums(g: &[f32], x: &[f32]) -> (f64, f64) {
    const K: usize = 8;
    let (mut a, mut b) = ([0.0f64; K], [0.0f64; K]);
    let (gc, xc) = (g.chunks_exact(K), x.chunks_exact(K));
    let tail = gc
        .remainder()
        .iter()
        .zip(xc.remainder())
        .fold((0.0, 0.0), |(a, b), (&g, &x)| (a + f64::from(g), b + f64::from(g) * f64::from(x)));
    for (g, x) in gc.zip(xc) {
        for k in 0..K {
            a[k] += f64::from(g[k]);
            b[k] += f64::from(g[k]) * f64::from(x[k]);
        }
    }
    (a.iter().sum::<f64>() + tail.0, b.iter().sum::<f64>() + tail.1)
}

/// Per-channel mean and biased variance, two passes in `f64`.
fn statistics(layout: &Layout, x: &[f32]) -> Vec<(f64, f64)> {
    (0..layout.channels())
        .into_par_iter()
        .map(|c| {
            let sum: f64 = layout.planes(x, c).map(|p| lane_sum::<8>(p, f64::from)).sum();
            let mean = sum / layout.count();
            let squares: f64 =
                layout.planes(x, c).map(|p| lane_sum::<8>(p, |v| (f64::from(v) - mean).powi(2))).sum();
            (mean, squares / layout.count())
        })
        .collect()
}

/// A normalisation's input gradient over values sharing one mean and
/// variance: `scale · (g − mean(g) − x̂ · mean(g·x̂))`, `scale` being the
/// inverse deviation (times gamma for batch norm).
fn input_grad(dx: &mut [f32], g: &[f32], xhat: &[f32], scale: f32, mean_g: f32, mean_gx: f32) {
    for ((d, &g), &x) in dx.iter_mut().zip(g).zip(xhat) {
        *d = scale * (g - mean_g - x * mean_gx);
    }
}

/// What the forward pass hands back: output, normalised input, and the
/// statistics.
struct Forward {
    output: FlexTensor,
    normalized: FlexTensor,
    mean: Vec<f32>,
    variance: Vec<f32>,
    inv_std: Vec<f32>,
}

fn forward_flex(
    layout: &Layout,
    x: &FlexTensor,
    gamma: &FlexTensor,
    beta: &FlexTensor,
    epsilon: f64,
) -> Forward {
    let x = x.to_contiguous();
    let (gamma, beta) = (gamma.to_contiguous(), beta.to_contiguous());
    let (xs, gs, bs) = (slice(&x), slice(&gamma), slice(&beta));
    let stats = statistics(layout, xs);
    let mean: Vec<f32> = stats.iter().map(|s| s.0 as f32).collect();
    let variance: Vec<f32> = stats.iter().map(|s| s.1 as f32).collect();
    let inv_std: Vec<f32> = stats.iter().map(|s| (1.0 / (s.1 + epsilon).sqrt()) as f32).collect();
    let mut normalized = vec![0.0f32; xs.len()];
    let mut output = vec![0.0f32; xs.len()];
    let p = layout.plane();
    let planes = normalized.par_chunks_mut(p).zip(output.par_chunks_mut(p)).zip(xs.par_chunks(p));
    planes.enumerate().for_each(|(i, ((n, o), x))| {
        let c = i % layout.channels();
        let (m, s, g, b) = (mean[c], inv_std[c], gs[c], bs[c]);
        for ((n, o), &x) in n.iter_mut().zip(o.iter_mut()).zip(x) {
            *n = (x - m) * s;
            *o = *n * g + b;
        }
    });
    Forward {
        output: tensor(output, layout.shape),
        normalized: tensor(normalized, layout.shape),
        mean,
        variance,
        inv_std,
    }
}

/// Gradients of input, gamma and beta from the output gradient.
fn backward_flex(
    layout: &Layout,
    grad: &FlexTensor,
    normalized: &FlexTensor,
    gamma: &[f32],
    inv_std: &[f32],
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let grad = grad.to_contiguous();
    let (gs, xhat) = (slice(&grad), slice(normalized));
    let sums: Vec<(f64, f64)> = (0..layout.channels())
        .into_par_iter()
        .map(|c| {
            layout.planes(gs, c).zip(layout.planes(xhat, c)).fold((0.0, 0.0), |(sg, sgx), (g, x)| {
                let (a, b) = lane_sums(g, x);
                (sg + a, sgx + b)
            })
        })
        .collect();
    let count = layout.count();
    let mean_g: Vec<f32> = sums.iter().map(|s| (s.0 / count) as f32).collect();
    let mean_gx: Vec<f32> = sums.iter().map(|s| (s.1 / count) as f32).collect();
    let scale: Vec<f32> = gamma.iter().zip(inv_std).map(|(g, s)| g * s).collect();
    let p = layout.plane();
    let mut dx = vec![0.0f32; gs.len()];
    dx.par_chunks_mut(p).zip(gs.par_chunks(p).zip(xhat.par_chunks(p))).enumerate().for_each(
        |(i, (d, (g, x)))| {
            let c = i % layout.channels();
            input_grad(d, g, x, scale[c], mean_g[c], mean_gx[c]);
        },
    );
    let channels = layout.channels();
    let dgamma = sums.iter().map(|s| s.1 as f32).collect();
    let dbeta = sums.iter().map(|s| s.0 as f32).collect();
    (tensor(dx, layout.shape), tensor(dgamma, [channels]), tensor(dbeta, [channels]))
}

#[derive(Clone, Debug)]
struct Saved {
    layout: Layout,
    normalized: FlexTensor,
    gamma: Vec<f32>,
    inv_std: Vec<f32>,
}

#[derive(Debug)]
struct NormBackward;

impl Backward<Flex, 3> for NormBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Saved, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let Saved { layout, normalized, gamma, inv_std } = ops.state;
        let (dx, dgamma, dbeta) = backward_flex(&layout, &grad, &normalized, &gamma, &inv_std);
        for (node, g) in [(node_x, dx), (node_gamma, dgamma), (node_beta, dbeta)] {
            if let Some(node) = node {
                grads.register::<Flex>(node.id, g);
            }
        }
    }
}

/// The normalised output (tracked) and the batch's mean and variance.
fn train_autodiff(
    layout: &Layout,
    x: FloatTensor<AdFlex>,
    gamma: FloatTensor<AdFlex>,
    beta: FloatTensor<AdFlex>,
    epsilon: f64,
) -> (FloatTensor<AdFlex>, Vec<f32>, Vec<f32>) {
    let guards = [x.node(), gamma.node(), beta.node()];
    let f = forward_flex(layout, x.primitive(), gamma.primitive(), beta.primitive(), epsilon);
    let out = match NormBackward.prepare::<NoCheckpointing>(guards).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let gamma = slice(&gamma.primitive().to_contiguous()).to_vec();
            prep.finish(
                Saved { layout: *layout, normalized: f.normalized, gamma, inv_std: f.inv_std },
                f.output,
            )
        }
        OpsKind::UnTracked(prep) => prep.finish(f.output),
    };
    (out, f.mean, f.variance)
}

/// `norm.forward(x)`, with training-mode statistics computed by this
/// module on the CPU device and by `gpu_norm` on the GPU devices.
pub fn batch_norm(norm: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    let training = x.device().is_autodiff() && norm.training.is_enabled();
    let (gamma, beta) = (norm.gamma.val(), norm.beta.val());
    let f32s = [x.dtype(), gamma.dtype(), beta.dtype()].iter().all(|d| *d == DType::F32);
    if !training || !f32s {
        return norm.forward(x);
    }
    let ad = (
        x.clone().try_into_primitive::<AdFlex>(),
        gamma.try_into_primitive::<AdFlex>(),
        beta.try_into_primitive::<AdFlex>(),
    );
    let (Ok(xp), Ok(gp), Ok(bp)) = ad else {
        #[cfg(feature = "gpu")]
        if let Some(out) = super::gpu_norm::try_train::<burn::backend::Cube>(norm, &x) {
            return out;
        }
        return norm.forward(x);
    };
    let layout = Layout { shape: x.dims() };
    let device = x.device();
    let (out, mean, variance) = train_autodiff(&layout, xp, gp, bp, norm.epsilon);
    let c = layout.channels();
    let on_device = |batch: Vec<f32>| Tensor::<1>::from_data(TensorData::new(batch, [c]), &device);
    update_running(norm, on_device(mean), on_device(variance));
    Tensor::from_primitive::<AdFlex>(out)
}

/// Moves the running statistics towards a batch's mean and biased variance
/// (`[C]`, on the training device) as burn's `BatchNorm` does: `momentum`
/// weight on the new value.
pub(super) fn update_running(norm: &BatchNorm, mean: Tensor<1>, variance: Tensor<1>) {
    let m = norm.momentum;
    let update = |running: Tensor<1>, batch: Tensor<1>| {
        running.to_device(&batch.device()).mul_scalar(1.0 - m).add(batch.mul_scalar(m)).detach()
    };
    norm.running_mean.update(update(norm.running_mean.value_sync(), mean));
    norm.running_var.update(update(norm.running_var.value_sync(), variance));
}

/// `[N, C, H, W]` as `N · groups` contiguous slices, each one example's
/// channels of one group.
#[derive(Clone, Copy, Debug)]
struct Groups {
    shape: [usize; 4],
    groups: usize,
}

impl Groups {
    fn slice_len(&self) -> usize {
        self.shape[1] / self.groups * self.shape[2] * self.shape[3]
    }
}

/// Normalises each slice; returns `x̂` and each slice's `1 / σ`.
fn normalize_flex(groups: &Groups, x: &FlexTensor, epsilon: f64) -> (FlexTensor, Vec<f32>) {
    let x = x.to_contiguous();
    let xs = slice(&x);
    let len = groups.slice_len();
    let mut out = vec![0.0f32; xs.len()];
    let inv_std: Vec<f32> = out
        .par_chunks_mut(len)
        .zip(xs.par_chunks(len))
        .map(|(o, x)| {
            let mean = lane_sum::<8>(x, f64::from) / len as f64;
            let var = lane_sum::<8>(x, |v| (f64::from(v) - mean).powi(2)) / len as f64;
            let inv_std = 1.0 / (var + epsilon).sqrt();
            let (m, s) = (mean as f32, inv_std as f32);
            o.iter_mut().zip(x).for_each(|(o, &x)| *o = (x - m) * s);
            s
        })
        .collect();
    (tensor(out, groups.shape), inv_std)
}

/// `dL/dx` of [`normalize_flex`] from `dL/dx̂`, slice by slice.
fn denormalize_grad(
    groups: &Groups,
    grad: &FlexTensor,
    normalized: &FlexTensor,
    inv_std: &[f32],
) -> FlexTensor {
    let grad = grad.to_contiguous();
    let (gs, xhat) = (slice(&grad), slice(normalized));
    let len = groups.slice_len();
    let mut dx = vec![0.0f32; gs.len()];
    dx.par_chunks_mut(len).zip(gs.par_chunks(len).zip(xhat.par_chunks(len))).zip(inv_std).for_each(
        |((d, (g, x)), &s)| {
            let (sg, sgx) = lane_sums(g, x);
            let (mg, mgx) = ((sg / len as f64) as f32, (sgx / len as f64) as f32);
            input_grad(d, g, x, s, mg, mgx);
        },
    );
    tensor(dx, groups.shape)
}

#[derive(Debug)]
struct GroupBackward;

impl Backward<Flex, 1> for GroupBackward {
    type State = (Groups, FlexTensor, Vec<f32>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        if let Some(node) = node {
            let (groups, normalized, inv_std) = ops.state;
            grads.register::<Flex>(node.id, denormalize_grad(&groups, &grad, &normalized, &inv_std));
        }
    }
}

/// Each example's groups normalised (no scale or shift), on the CPU device;
/// `None` elsewhere.
fn normalize_groups(groups: usize, epsilon: f64, x: &Tensor<4>) -> Option<Tensor<4>> {
    let shape = x.dims();
    if x.dtype() != DType::F32 || groups == 0 || !shape[1].is_multiple_of(groups) {
        return None;
    }
    let g = Groups { shape, groups };
    if let Ok(p) = x.clone().try_into_primitive::<AdFlex>() {
        let guard = p.node();
        let (out, inv_std) = normalize_flex(&g, p.primitive(), epsilon);
        let out = match GroupBackward.prepare::<NoCheckpointing>([guard]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((g, out.clone(), inv_std), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        };
        return Some(Tensor::from_primitive::<AdFlex>(out));
    }
    let p = x.clone().try_into_primitive::<Flex>().ok()?;
    Some(Tensor::from_primitive::<Flex>(normalize_flex(&g, &p, epsilon).0))
}

/// `layer.forward(x)`, with the normalisation on the CPU device computed
/// by this module (one pass for each statistic and one for the output,
/// against burn's ten element-wise steps); the scale and shift stay burn's.
pub fn group_norm(layer: &GroupNorm, x: Tensor<4>) -> Tensor<4> {
    let Some(normalized) = normalize_groups(layer.num_groups, layer.epsilon, &x) else {
        return layer.forward(x);
    };
    match (&layer.gamma, &layer.beta, layer.affine) {
        (Some(gamma), Some(beta), true) => {
            let c = layer.num_channels;
            normalized * gamma.val().reshape([1, c, 1, 1]) + beta.val().reshape([1, c, 1, 1])
        }
        _ => normalized,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{BatchNormConfig, GroupNormConfig};
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().expect("f32")
    }

    fn close(name: &str, ours: Vec<f32>, theirs: Vec<f32>) {
        assert_eq!(ours.len(), theirs.len(), "{name}: sizes");
        let scale = theirs.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert!((a - b).abs() <= 2e-4 * scale, "{name}[{i}]: {a} against burn's {b}");
        }
    }

    #[test]
    fn matches_burns_group_norm_and_its_gradients() {
        let device = Device::flex().autodiff();
        for (seed, shape, groups, affine) in
            [(4u64, [3usize, 8, 5, 6], 4usize, true), (5, [2, 6, 7, 7], 3, false), (6, [4, 4, 1, 2], 4, true)]
        {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            let n: usize = shape.iter().product();
            let x: Vec<f32> = (0..n).map(|_| rng.random_range(-2.0f32..3.0)).collect();
            let up: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            let mut layer = GroupNormConfig::new(groups, shape[1]).with_affine(affine).init(&device);
            if affine {
                let gamma: Vec<f32> = (0..shape[1]).map(|_| rng.random_range(0.5f32..1.5)).collect();
                layer.gamma = layer.gamma.map(|p| {
                    p.map(|_| Tensor::from_data(TensorData::new(gamma, [shape[1]]), &device).require_grad())
                });
            }
            let run = |ours: bool| {
                let x = Tensor::<4>::from_data(TensorData::new(x.clone(), shape), &device).require_grad();
                let up = Tensor::<4>::from_data(TensorData::new(up.clone(), shape), &device);
                let y = if ours { group_norm(&layer, x.clone()) } else { layer.forward(x.clone()) };
                let grads = (y.clone() * up).sum().backward();
                let param = |p: &Option<burn::module::Param<Tensor<1>>>| {
                    p.as_ref().map(|p| values(p.val().grad(&grads).expect("a parameter gradient")))
                };
                (
                    values(y.inner()),
                    values(x.grad(&grads).expect("dx")),
                    param(&layer.gamma),
                    param(&layer.beta),
                )
            };
            let (ours, theirs) = (run(true), run(false));
            close(&format!("output {shape:?}"), ours.0, theirs.0);
            close(&format!("dx {shape:?}"), ours.1, theirs.1);
            assert_eq!(ours.2.is_some(), affine);
            if let (Some(a), Some(b)) = (ours.2, theirs.2) {
                close(&format!("dgamma {shape:?}"), a, b);
            }
            if let (Some(a), Some(b)) = (ours.3, theirs.3) {
                close(&format!("dbeta {shape:?}"), a, b);
            }
        }
    }

    #[test]
    fn matches_burns_batch_norm_its_gradients_and_running_statistics() {
        let device = Device::flex().autodiff();
        for (seed, shape) in [(1u64, [4usize, 3, 5, 6]), (2, [2, 8, 7, 7]), (3, [5, 2, 1, 3])] {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            let n: usize = shape.iter().product();
            let x: Vec<f32> = (0..n).map(|_| rng.random_range(-2.0f32..3.0)).collect();
            let up: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            let gamma: Vec<f32> = (0..shape[1]).map(|_| rng.random_range(0.5f32..1.5)).collect();
            let run = |ours: bool| {
                let mut norm = BatchNormConfig::new(shape[1]).init(&device);
                norm.gamma = norm.gamma.map(|_| {
                    Tensor::from_data(TensorData::new(gamma.clone(), [shape[1]]), &device).require_grad()
                });
                let x = Tensor::<4>::from_data(TensorData::new(x.clone(), shape), &device).require_grad();
                let up = Tensor::<4>::from_data(TensorData::new(up.clone(), shape), &device);
                let y = if ours { batch_norm(&norm, x.clone()) } else { norm.forward(x.clone()) };
                let grads = (y.clone() * up).sum().backward();
                (
                    values(y.inner()),
                    values(x.grad(&grads).expect("dx")),
                    values(norm.gamma.val().grad(&grads).expect("dgamma")),
                    values(norm.beta.val().grad(&grads).expect("dbeta")),
                    values(norm.running_mean.value_sync()),
                    values(norm.running_var.value_sync()),
                )
            };
            let (ours, theirs) = (run(true), run(false));
            close(&format!("output {shape:?}"), ours.0, theirs.0);
            close(&format!("dx {shape:?}"), ours.1, theirs.1);
            close(&format!("dgamma {shape:?}"), ours.2, theirs.2);
            close(&format!("dbeta {shape:?}"), ours.3, theirs.3);
            close(&format!("running mean {shape:?}"), ours.4, theirs.4);
            close(&format!("running variance {shape:?}"), ours.5, theirs.5);
        }
    }
}
