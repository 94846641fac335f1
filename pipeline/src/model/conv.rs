//! Temper's own 2-D convolution for the CPU device (burn's flex backend).
//!
//! burn-flex has no convolution backward pass of its own: burn builds the
//! input gradient from a transposed convolution and the weight gradient from
//! a forward convolution over swapped batch and channel dimensions, whose
//! batched transposes and badly shaped matrix products (K = batch × pixels,
//! N = 9) cost more than the convolution itself. Here each pass is an
//! unfolding of every image into columns (im2col) or its inverse, and
//! matrix products with good shapes, batched over images:
//! - forward: `out_n = W · cols_n`, `[C_out, C_in·k·k] × [C_in·k·k, pixels]`,
//!   which is already NCHW;
//! - input gradient: `dcols_n = Wᵀ · g_n`, folded back (col2im);
//! - weight gradient: `Σ_n g_n · cols_nᵀ`, the image unfolded again;
//! - bias gradient: `g` summed over images and pixels.
//!
//! Each image is one task that unfolds it and multiplies while its columns
//! are in cache (one batch's columns are tens of megabytes, and writing them
//! out and reading them back cost more than the products). Every sum runs in
//! image order, so results do not depend on the thread count. Other
//! devices, and what this does not cover (dilation, groups, a convolution
//! without bias, other float types), run burn's convolution.

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::ops::ConvOptions;
use rayon::prelude::*;

use super::flex::{AdFlex, slice, tensor};

/// Sizes of one convolution over one image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Input channels, height, width.
    pub input: [usize; 3],
    /// Output channels.
    pub out_channels: usize,
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Vertical and horizontal stride.
    pub stride: [usize; 2],
    /// Zero rows above and below, columns left and right.
    pub padding: [(usize, usize); 2],
}

impl Geometry {
    /// Output height and width; `None` when the kernel does not fit.
    pub fn output(&self) -> Option<[usize; 2]> {
        let [_, h, w] = self.input;
        let side = |size: usize, (lo, hi): (usize, usize), k: usize, s: usize| {
            (size + lo + hi).checked_sub(k).filter(|_| s > 0).map(|span| span / s + 1)
        };
        Some([
            side(h, self.padding[0], self.kernel[0], self.stride[0])?,
            side(w, self.padding[1], self.kernel[1], self.stride[1])?,
        ])
    }

    fn rows(&self) -> usize {
        self.input[0] * self.kernel[0] * self.kernel[1]
    }

    fn image(&self) -> usize {
        self.input.iter().product()
    }
}

/// The geometry's output size with its parts, computed once per call.
#[derive(Clone, Copy, Debug)]
struct Plan {
    g: Geometry,
    oh: usize,
    ow: usize,
}

impl Plan {
    fn new(g: Geometry) -> Option<Self> {
        let [oh, ow] = g.output()?;
        Some(Self { g, oh, ow })
    }

    fn pixels(&self) -> usize {
        self.oh * self.ow
    }

    /// Input row read by output row `oy` at kernel row `ki`, if not padding.
    fn source_row(&self, oy: usize, ki: usize) -> Option<usize> {
        (oy * self.g.stride[0] + ki).checked_sub(self.g.padding[0].0).filter(|&iy| iy < self.g.input[1])
    }

    /// With stride 1: the output columns `lo..hi` read input columns
    /// `lo + kj - left ..`, the rest read padding.
    fn unit_span(&self, kj: usize) -> (usize, usize) {
        let left = self.g.padding[1].0;
        let w = self.g.input[2];
        let lo = left.saturating_sub(kj).min(self.ow);
        let hi = (w + left).saturating_sub(kj).min(self.ow).max(lo);
        (lo, hi)
    }

    /// Input column read by output column `ox` at kernel column `kj`.
    fn source_col(&self, ox: usize, kj: usize) -> Option<usize> {
        (ox * self.g.stride[1] + kj).checked_sub(self.g.padding[1].0).filter(|&ix| ix < self.g.input[2])
    }

    /// Unfolds one image `[C, H, W]` into `cols`, `[C·kh·kw, pixels]`.
    fn im2col(&self, x: &[f32], cols: &mut [f32]) {
        let [_, h, w] = self.g.input;
        let [kh, kw] = self.g.kernel;
        for (row, dst) in cols.chunks_exact_mut(self.pixels()).enumerate() {
            let (ci, ki, kj) = (row / (kh * kw), row / kw % kh, row % kw);
            let plane = &x[ci * h * w..(ci + 1) * h * w];
            for (oy, out) in dst.chunks_exact_mut(self.ow).enumerate() {
                let Some(iy) = self.source_row(oy, ki) else {
                    out.fill(0.0);
                    continue;
                };
                let src = &plane[iy * w..(iy + 1) * w];
                if self.g.stride[1] == 1 {
                    let (lo, hi) = self.unit_span(kj);
                    let from = lo + kj - self.g.padding[1].0;
                    out[..lo].fill(0.0);
                    out[lo..hi].copy_from_slice(&src[from..from + hi - lo]);
                    out[hi..].fill(0.0);
                } else {
                    for (ox, v) in out.iter_mut().enumerate() {
                        *v = self.source_col(ox, kj).map_or(0.0, |ix| src[ix]);
                    }
                }
            }
        }
    }

    /// Adds `cols`, `[C·kh·kw, pixels]`, back onto the image it unfolds.
    fn col2im(&self, cols: &[f32], dx: &mut [f32]) {
        let [_, h, w] = self.g.input;
        let [kh, kw] = self.g.kernel;
        for (row, src) in cols.chunks_exact(self.pixels()).enumerate() {
            let (ci, ki, kj) = (row / (kh * kw), row / kw % kh, row % kw);
            let plane = &mut dx[ci * h * w..(ci + 1) * h * w];
            for (oy, grad) in src.chunks_exact(self.ow).enumerate() {
                let Some(iy) = self.source_row(oy, ki) else { continue };
                let dst = &mut plane[iy * w..(iy + 1) * w];
                if self.g.stride[1] == 1 {
                    let (lo, hi) = self.unit_span(kj);
                    let from = lo + kj - self.g.padding[1].0;
                    for (d, g) in dst[from..from + hi - lo].iter_mut().zip(&grad[lo..hi]) {
                        *d += g;
                    }
                } else {
                    for (ox, g) in grad.iter().enumerate() {
                        if let Some(ix) = self.source_col(ox, kj) {
                            dst[ix] += g;
                        }
                    }
                }
            }
        }
    }
}

/// The weight as a `[C_out, C·kh·kw]` matrix.
fn matrix(plan: &Plan, w: &FlexTensor) -> FlexTensor {
    Flex::float_reshape(w.to_contiguous(), [plan.g.out_channels, plan.g.rows()].into())
}

/// One image's columns, `[C·kh·kw, pixels]`.
fn columns(plan: &Plan, image: &[f32]) -> FlexTensor {
    let mut cols = vec![0.0f32; plan.g.rows() * plan.pixels()];
    plan.im2col(image, &mut cols);
    tensor(cols, [plan.g.rows(), plan.pixels()])
}

/// The output `[N, C_out, oh, ow]`. Each image is unfolded and multiplied
/// in one task, so its columns are still in cache when they are read.
fn forward_flex(plan: &Plan, x: &FlexTensor, w: &FlexTensor, b: &FlexTensor) -> FlexTensor {
    let (x, bias) = (x.to_contiguous(), b.to_contiguous());
    let (xs, bias) = (slice(&x), slice(&bias));
    let batch = x.layout().shape()[0];
    let (co, pixels) = (plan.g.out_channels, plan.pixels());
    let w = matrix(plan, w);
    let mut out = vec![0.0f32; batch * co * pixels];
    out.par_chunks_mut(co * pixels).zip(xs.par_chunks(plan.g.image())).for_each(|(out, image)| {
        let y = Flex::float_matmul(w.clone(), columns(plan, image));
        let planes = out.chunks_exact_mut(pixels).zip(slice(&y).chunks_exact(pixels));
        for ((dst, src), b) in planes.zip(bias) {
            dst.iter_mut().zip(src).for_each(|(d, s)| *d = s + b);
        }
    });
    tensor(out, [batch, co, plan.oh, plan.ow])
}

/// One image's share of the backward pass: its input gradient written into
/// `dx` (`Wᵀ · g_n`, folded back), and its weight gradient `g_n · cols_nᵀ`.
fn backward_image(
    plan: &Plan,
    grad: &[f32],
    weight: &FlexTensor,
    image: Option<&[f32]>,
    dx: Option<&mut [f32]>,
) -> Option<FlexTensor> {
    let g = tensor(grad.to_vec(), [plan.g.out_channels, plan.pixels()]);
    if let Some(dx) = dx {
        let dcols = Flex::float_matmul(Flex::float_swap_dims(weight.clone(), 0, 1), g.clone());
        plan.col2im(slice(&dcols.to_contiguous()), dx);
    }
    image.map(|image| Flex::float_matmul(g, Flex::float_swap_dims(columns(plan, image), 0, 1)))
}

/// Input and weight gradients, as the backward pass asks for them. Images
/// run in parallel; their weight gradients are summed in image order.
fn input_and_weight_grads(
    plan: &Plan,
    grad: &FlexTensor,
    weight: &FlexTensor,
    input: Option<&FlexTensor>,
    want_dx: bool,
) -> (Option<FlexTensor>, Option<FlexTensor>) {
    let batch = grad.layout().shape()[0];
    let (co, rows, pixels) = (plan.g.out_channels, plan.g.rows(), plan.pixels());
    let weight = matrix(plan, weight);
    let input = input.map(FlexTensor::to_contiguous);
    let images: Vec<Option<&[f32]>> = match &input {
        Some(x) => slice(x).chunks_exact(plan.g.image()).map(Some).collect(),
        None => vec![None; batch],
    };
    let grads = slice(grad).par_chunks(co * pixels);
    let mut dx = want_dx.then(|| vec![0.0f32; batch * plan.g.image()]);
    let partials: Vec<Option<FlexTensor>> = match dx.as_mut() {
        Some(dx) => (dx.par_chunks_mut(plan.g.image()).zip(grads).zip(images))
            .map(|((dx, g), image)| backward_image(plan, g, &weight, image, Some(dx)))
            .collect(),
        None => grads.zip(images).map(|(g, image)| backward_image(plan, g, &weight, image, None)).collect(),
    };
    let dw = input.is_some().then(|| {
        let partials: Vec<FlexTensor> = partials.into_iter().flatten().map(|p| p.to_contiguous()).collect();
        let mut dw = vec![0.0f32; co * rows];
        dw.par_chunks_mut(rows).enumerate().for_each(|(o, dst)| {
            for p in &partials {
                dst.iter_mut().zip(&slice(p)[o * rows..(o + 1) * rows]).for_each(|(d, g)| *d += g);
            }
        });
        let [c, ..] = plan.g.input;
        tensor(dw, [co, c, plan.g.kernel[0], plan.g.kernel[1]])
    });
    let [c, h, w] = plan.g.input;
    (dx.map(|dx| tensor(dx, [batch, c, h, w])), dw)
}

/// `dL/db`: the output gradient summed over images, then pixels.
fn bias_grad(plan: &Plan, grad: &FlexTensor) -> FlexTensor {
    let co = plan.g.out_channels;
    let pixels = plan.pixels();
    let g = slice(grad);
    let db = (0..co)
        .into_par_iter()
        .map(|o| {
            g.chunks_exact(co * pixels)
                .map(|image| image[o * pixels..(o + 1) * pixels].iter().sum::<f32>())
                .sum()
        })
        .collect();
    tensor(db, [co])
}

/// What the backward pass keeps: the weight, and the input when the
/// weight needs a gradient (its columns are unfolded again, image by image).
#[derive(Clone, Debug)]
struct Saved {
    plan: Plan,
    weight: FlexTensor,
    input: Option<FlexTensor>,
}

#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 3> for ConvBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Saved, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let Saved { plan, weight, input } = ops.state;
        let grad = grads.consume::<Flex>(&ops.node).to_contiguous();
        let input = node_w.as_ref().and(input.as_ref());
        let (dx, dw) = input_and_weight_grads(&plan, &grad, &weight, input, node_x.is_some());
        if let (Some(node), Some(dx)) = (node_x, dx) {
            grads.register::<Flex>(node.id, dx);
        }
        if let (Some(node), Some(dw)) = (node_w, dw) {
            grads.register::<Flex>(node.id, dw);
        }
        if let Some(node) = node_b {
            grads.register::<Flex>(node.id, bias_grad(&plan, &grad));
        }
    }
}

fn forward_autodiff(
    plan: &Plan,
    x: FloatTensor<AdFlex>,
    w: FloatTensor<AdFlex>,
    b: FloatTensor<AdFlex>,
) -> FloatTensor<AdFlex> {
    let guards = [x.node(), w.node(), b.node()];
    let weight_tracked = w.is_tracked();
    let out = forward_flex(plan, x.primitive(), w.primitive(), b.primitive());
    match ConvBackward.prepare::<NoCheckpointing>(guards).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let input = weight_tracked.then(|| x.into_primitive());
            prep.finish(Saved { plan: *plan, weight: w.into_primitive(), input }, out)
        }
        OpsKind::UnTracked(prep) => prep.finish(out),
    }
}

/// A convolution with bias, stride and padding, dilation 1, one group: on
/// the CPU device Temper's own, elsewhere burn's.
pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>, geometry: Geometry) -> Tensor<4> {
    // A frozen model moved to the autodiff device (as white-box attacks use
    // it) keeps plain parameters; as untracked autodiff tensors they route
    // here as burn's own convolution would treat them.
    let (weight, bias) = if x.is_autodiff() { (weight.autodiff(), bias.autodiff()) } else { (weight, bias) };
    let plan = Plan::new(geometry);
    let f32s = [x.dtype(), weight.dtype(), bias.dtype()].iter().all(|d| *d == DType::F32);
    if let (Some(plan), true) = (plan, f32s) {
        let ad = (
            x.clone().try_into_primitive::<AdFlex>(),
            weight.clone().try_into_primitive::<AdFlex>(),
            bias.clone().try_into_primitive::<AdFlex>(),
        );
        if let (Ok(x), Ok(w), Ok(b)) = ad {
            return Tensor::from_primitive::<AdFlex>(forward_autodiff(&plan, x, w, b));
        }
        let plain = (
            x.clone().try_into_primitive::<Flex>(),
            weight.clone().try_into_primitive::<Flex>(),
            bias.clone().try_into_primitive::<Flex>(),
        );
        if let (Ok(x), Ok(w), Ok(b)) = plain {
            return Tensor::from_primitive::<Flex>(forward_flex(&plan, &x, &w, &b));
        }
    }
    let options = ConvOptions::new_with_padding(geometry.stride, geometry.padding, [1, 1], 1);
    burn::tensor::module::conv2d(x, weight, Some(bias), options)
}

/// Each image's columns, `[N, C·kh·kw, pixels]` (rows in `(c, kh, kw)`
/// order, as `unfold4d` gives them), for a plain tensor on the CPU device:
/// what per-example weight gradients multiply by. `None` elsewhere.
pub fn unfold(x: &Tensor<4>, geometry: Geometry) -> Option<Tensor<3>> {
    let plan = Plan::new(geometry)?;
    if x.dtype() != DType::F32 || x.dims()[1..] != geometry.input {
        return None;
    }
    let x = x.clone().try_into_primitive::<Flex>().ok()?.to_contiguous();
    let batch = x.layout().shape()[0];
    let (rows, pixels) = (plan.g.rows(), plan.pixels());
    let mut cols = vec![0.0f32; batch * rows * pixels];
    cols.par_chunks_mut(rows * pixels)
        .zip(slice(&x).par_chunks(plan.g.image()))
        .for_each(|(dst, src)| plan.im2col(src, dst));
    Some(Tensor::from_primitive::<Flex>(tensor(cols, [batch, rows, pixels])))
}

/// burn's `Same` padding split: the odd pixel goes after (ONNX's rule).
fn same(kernel: usize, stride: usize, size: usize) -> (usize, usize) {
    let out = size.div_ceil(stride);
    let total = if out > 0 { ((out - 1) * stride + kernel).saturating_sub(size) } else { 0 };
    (total / 2, total - total / 2)
}

/// `conv.forward(x)`, through [`conv2d`] where it applies.
pub fn forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let Some(bias) = &conv.bias else { return conv.forward(x) };
    if conv.dilation != [1, 1] || conv.groups != 1 {
        return conv.forward(x);
    }
    let [_, c, h, w] = x.dims();
    let (k, s) = (conv.kernel_size, conv.stride);
    let padding = match conv.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Same => [same(k[0], s[0], h), same(k[1], s[1], w)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
    };
    let out_channels = conv.weight.shape()[0];
    let geometry = Geometry { input: [c, h, w], out_channels, kernel: k, stride: s, padding };
    conv2d(x, conv.weight.val(), bias.val(), geometry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn random(rng: &mut Xoshiro256PlusPlus, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    fn close(name: &str, ours: Tensor<4>, theirs: Tensor<4>) {
        let (a, b) = (
            ours.into_data().try_to_vec::<f32>().expect("f32"),
            theirs.into_data().try_to_vec::<f32>().expect("f32"),
        );
        assert_eq!(a.len(), b.len(), "{name}: sizes");
        let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!((x - y).abs() <= 1e-4 * scale, "{name}[{i}]: {x} against burn's {y}");
        }
    }

    /// Output and all three gradients against burn's convolution.
    fn check(seed: u64, batch: usize, g: Geometry) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let device = Device::flex().autodiff();
        let [c, h, w] = g.input;
        let [kh, kw] = g.kernel;
        let x = random(&mut rng, batch * c * h * w);
        let wt = random(&mut rng, g.out_channels * c * kh * kw);
        let b = random(&mut rng, g.out_channels);
        let [oh, ow] = g.output().expect("the kernel fits");
        let up = random(&mut rng, batch * g.out_channels * oh * ow);
        let run = |ours: bool| {
            let x =
                Tensor::<4>::from_data(TensorData::new(x.clone(), [batch, c, h, w]), &device).require_grad();
            let wt =
                Tensor::<4>::from_data(TensorData::new(wt.clone(), [g.out_channels, c, kh, kw]), &device)
                    .require_grad();
            let b =
                Tensor::<1>::from_data(TensorData::new(b.clone(), [g.out_channels]), &device).require_grad();
            let out = if ours {
                conv2d(x.clone(), wt.clone(), b.clone(), g)
            } else {
                let options = ConvOptions::new_with_padding(g.stride, g.padding, [1, 1], 1);
                burn::tensor::module::conv2d(x.clone(), wt.clone(), Some(b.clone()), options)
            };
            let up =
                Tensor::<4>::from_data(TensorData::new(up.clone(), [batch, g.out_channels, oh, ow]), &device);
            let grads = (out.clone() * up).sum().backward();
            let db = b.grad(&grads).expect("db").reshape([1, 1, 1, g.out_channels]);
            (out.inner(), x.grad(&grads).expect("dx"), wt.grad(&grads).expect("dw"), db)
        };
        let (ours, theirs) = (run(true), run(false));
        let case = format!("seed {seed}, batch {batch}, {g:?}");
        close(&format!("output ({case})"), ours.0, theirs.0);
        close(&format!("dx ({case})"), ours.1, theirs.1);
        close(&format!("dw ({case})"), ours.2, theirs.2);
        close(&format!("db ({case})"), ours.3, theirs.3);
    }

    #[test]
    fn matches_burns_convolution_and_its_gradients() {
        let shapes = [
            // The digits CNN's two layers.
            (3, [1, 28, 28], 8, [3, 3], [1, 1], [(1, 1), (1, 1)]),
            (2, [6, 14, 14], 5, [3, 3], [1, 1], [(1, 1), (1, 1)]),
            // Kernels 1 and 5, odd sizes, strides, uneven and no padding.
            (2, [3, 7, 9], 4, [1, 1], [1, 1], [(0, 0), (0, 0)]),
            (1, [2, 11, 8], 3, [5, 5], [1, 1], [(2, 2), (2, 2)]),
            (3, [2, 9, 10], 3, [3, 3], [2, 2], [(1, 1), (1, 1)]),
            (2, [3, 8, 7], 2, [5, 3], [2, 1], [(0, 1), (2, 0)]),
            (1, [1, 5, 5], 2, [5, 5], [1, 3], [(0, 0), (0, 0)]),
            (2, [2, 6, 6], 3, [2, 2], [1, 1], [(0, 1), (0, 1)]),
        ];
        for (i, (batch, input, out_channels, kernel, stride, padding)) in shapes.into_iter().enumerate() {
            check(i as u64, batch, Geometry { input, out_channels, kernel, stride, padding });
        }
    }

    #[test]
    fn unfolding_matches_burns_unfold4d() {
        use burn::tensor::module::unfold4d;
        use burn::tensor::ops::UnfoldOptions;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let x = Tensor::<4>::from_data(
            TensorData::new(random(&mut rng, 2 * 3 * 5 * 6), [2, 3, 5, 6]),
            &Device::flex(),
        );
        for (kernel, stride, pad) in [([3, 3], [1, 1], 1), ([5, 3], [2, 1], 2), ([1, 1], [1, 1], 0)] {
            let g = Geometry { input: [3, 5, 6], out_channels: 1, kernel, stride, padding: [(pad, pad); 2] };
            let ours = unfold(&x, g).expect("the CPU device");
            let theirs = unfold4d(x.clone(), kernel, UnfoldOptions::new(stride, [pad, pad], [1, 1]));
            assert_eq!(ours.dims(), theirs.dims());
            let (a, b) = (
                ours.into_data().try_to_vec::<f32>().expect("f32"),
                theirs.into_data().try_to_vec::<f32>().expect("f32"),
            );
            assert!(
                a.iter().zip(&b).all(|(a, b)| (a - b).abs() < 1e-6),
                "kernel {kernel:?}, stride {stride:?}"
            );
        }
    }

    /// Whether [`conv2d`] runs Temper's convolution for tensors on `device`.
    fn native_on(device: &Device) -> bool {
        let probe = Tensor::<1>::zeros([1], device);
        probe.clone().try_into_primitive::<AdFlex>().is_ok() || probe.try_into_primitive::<Flex>().is_ok()
    }

    #[test]
    fn the_cpu_device_runs_the_native_convolution() {
        assert!(native_on(&Device::flex()));
        assert!(native_on(&Device::flex().autodiff()));
    }

    #[test]
    fn plain_parameters_with_an_autodiff_input_take_the_native_path() {
        // What `model.valid().to_device(&autodiff).freeze()` hands an attack.
        let plain = Device::flex();
        let x = Tensor::<4>::zeros([1, 1, 4, 4], &plain).autodiff().require_grad();
        let w = Tensor::<4>::ones([2, 1, 3, 3], &plain);
        let b = Tensor::<1>::zeros([2], &plain);
        let (w, b) = (w.autodiff(), b.autodiff());
        assert!(w.clone().try_into_primitive::<AdFlex>().is_ok() && b.try_into_primitive::<AdFlex>().is_ok());
        let g = Geometry {
            input: [1, 4, 4],
            out_channels: 2,
            kernel: [3, 3],
            stride: [1, 1],
            padding: [(1, 1); 2],
        };
        let grads =
            conv2d(x.clone(), Tensor::<4>::ones([2, 1, 3, 3], &plain), Tensor::<1>::zeros([2], &plain), g)
                .sum()
                .backward();
        // Each input pixel feeds as many outputs as kernel taps cover it, times two channels.
        let dx = x.grad(&grads).expect("dx").into_data().try_to_vec::<f32>().expect("f32");
        assert_eq!(dx[..4], [8.0, 12.0, 12.0, 8.0]);
    }

    #[test]
    fn an_untracked_weight_still_gives_the_input_gradient() {
        let device = Device::flex().autodiff();
        let g = Geometry {
            input: [2, 6, 6],
            out_channels: 3,
            kernel: [3, 3],
            stride: [1, 1],
            padding: [(1, 1); 2],
        };
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        let x = Tensor::<4>::from_data(TensorData::new(random(&mut rng, 72), [1, 2, 6, 6]), &device)
            .require_grad();
        let w = Tensor::<4>::from_data(TensorData::new(random(&mut rng, 54), [3, 2, 3, 3]), &device);
        let b = Tensor::<1>::zeros([3], &device);
        let grads = conv2d(x.clone(), w.clone(), b.clone(), g).sum().backward();
        let theirs = {
            let x = x.clone().detach().require_grad();
            let options = ConvOptions::new_with_padding([1, 1], [(1, 1); 2], [1, 1], 1);
            let grads = burn::tensor::module::conv2d(x.clone(), w, Some(b), options).sum().backward();
            x.grad(&grads).expect("burn's dx")
        };
        close("dx", x.grad(&grads).expect("dx"), theirs);
    }
}
