//! ReLU followed by a max-pool over non-overlapping windows, as one
//! differentiable operation for the CPU device (burn's flex backend).
//!
//! burn-flex pools through a general 3-D kernel that recomputes each window's
//! valid range (integer divisions) for every output and compares scalars
//! with a NaN check; in CPU training of the digits CNN it took more time than
//! every matrix product together. Windows that tile the image (the stride
//! equals the kernel, no padding) need none of that: each output reads its
//! window, keeps the position of the first largest value, and the backward
//! pass writes each output's gradient to that one position. Windows do not
//! overlap, so no two outputs write to the same input and the result does not
//! depend on the thread count.
//!
//! Fusing the ReLU costs nothing: `max(relu(w)) = relu(max(w))`, and a window
//! whose largest value is not positive passes no gradient, as ReLU's
//! derivative at and below zero is zero. A NaN in a window wins, as in burn.

use std::sync::Arc;

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::nn::PaddingConfig2d;
use burn::nn::pool::MaxPool2d;
use burn::prelude::*;
use burn::tensor::DType;
use rayon::prelude::*;

use super::flex::{AdFlex, slice, tensor};

/// A window's position of its output's value, in row-major order; `NONE`
/// where the output is zero (nothing positive in the window).
const NONE: u8 = u8::MAX;

/// Planes per parallel task: small planes (7x7) would otherwise be tasks of
/// a few dozen comparisons.
const PLANES_PER_TASK: usize = 8;

#[derive(Clone, Copy, Debug)]
struct Window {
    /// Input `[N, C, H, W]`.
    input: [usize; 4],
    kernel: [usize; 2],
}

impl Window {
    fn out(&self) -> [usize; 2] {
        [self.input[2] / self.kernel[0], self.input[3] / self.kernel[1]]
    }

    fn planes(&self) -> usize {
        self.input[0] * self.input[1]
    }

    /// Pools one plane: the outputs and each one's source in its window.
    fn plane(&self, x: &[f32], out: &mut [f32], arg: &mut [u8]) {
        let [_, _, _, w] = self.input;
        let [_, ow] = self.out();
        if self.kernel == [2, 2] {
            let rows = x.chunks_exact(2 * w).zip(out.chunks_exact_mut(ow)).zip(arg.chunks_exact_mut(ow));
            for ((pair, out), arg) in rows {
                let (top, bottom) = pair.split_at(w);
                let windows = top.chunks_exact(2).zip(bottom.chunks_exact(2));
                for (((t, b), v), a) in windows.zip(out.iter_mut()).zip(arg.iter_mut()) {
                    (*v, *a) = window2x2(t[0], t[1], b[0], b[1]);
                }
            }
            return;
        }
        let [kh, kw] = self.kernel;
        for (o, (v, a)) in out.iter_mut().zip(arg.iter_mut()).enumerate() {
            let (oy, ox) = (o / ow, o % ow);
            let mut best = 0.0f32;
            let mut at = NONE;
            for ki in 0..kh {
                let row = &x[(oy * kh + ki) * w + ox * kw..][..kw];
                for (kj, &value) in row.iter().enumerate() {
                    if value > best || value.is_nan() {
                        best = value;
                        at = (ki * kw + kj) as u8;
                    }
                }
            }
            *v = best;
            *a = at;
        }
    }

    /// Writes one plane's output gradient to the inputs that produced it.
    /// `dx` is zero on entry and each input lies in at most one window.
    fn unpool(&self, grad: &[f32], arg: &[u8], dx: &mut [f32]) {
        let [_, _, _, w] = self.input;
        let [_, ow] = self.out();
        if self.kernel == [2, 2] {
            let rows = dx.chunks_exact_mut(2 * w).zip(grad.chunks_exact(ow)).zip(arg.chunks_exact(ow));
            for ((pair, grad), arg) in rows {
                let (top, bottom) = pair.split_at_mut(w);
                let windows = top.chunks_exact_mut(2).zip(bottom.chunks_exact_mut(2));
                for ((t, b), (&g, &a)) in windows.zip(grad.iter().zip(arg)) {
                    let at = |i: u8| if a == i { g } else { 0.0 };
                    (t[0], t[1], b[0], b[1]) = (at(0), at(1), at(2), at(3));
                }
            }
            return;
        }
        let [kh, kw] = self.kernel;
        for (o, (g, &a)) in grad.iter().zip(arg).enumerate() {
            if a == NONE {
                continue;
            }
            let (oy, ox) = (o / ow, o % ow);
            let (ki, kj) = (usize::from(a) / kw, usize::from(a) % kw);
            dx[(oy * kh + ki) * w + ox * kw + kj] = *g;
        }
    }
}

/// One 2x2 window, `[a b; c d]`: the first largest value in row-major order
/// and its position, or zero and `NONE` when nothing is positive. Selects
/// rather than branches: which value wins is data, not a pattern.
fn window2x2(a: f32, b: f32, c: f32, d: f32) -> (f32, u8) {
    let pick = |(x, i): (f32, u8), (y, j): (f32, u8)| if y > x { (y, j) } else { (x, i) };
    let (v, i) = pick(pick((a, 0), (b, 1)), pick((c, 2), (d, 3)));
    if a.is_nan() | b.is_nan() | c.is_nan() | d.is_nan() {
        return (f32::NAN, i);
    }
    if v > 0.0 { (v, i) } else { (0.0, NONE) }
}

fn forward_flex(win: &Window, x: &FlexTensor) -> (FlexTensor, Vec<u8>) {
    let x = x.to_contiguous();
    let xs = slice(&x);
    let [oh, ow] = win.out();
    let (plane_in, plane_out) = (win.input[2] * win.input[3], oh * ow);
    let mut out = vec![0.0f32; win.planes() * plane_out];
    let mut arg = vec![NONE; win.planes() * plane_out];
    out.par_chunks_mut(plane_out * PLANES_PER_TASK)
        .zip(arg.par_chunks_mut(plane_out * PLANES_PER_TASK))
        .zip(xs.par_chunks(plane_in * PLANES_PER_TASK))
        .for_each(|((out, arg), x)| {
            for ((o, a), x) in
                out.chunks_mut(plane_out).zip(arg.chunks_mut(plane_out)).zip(x.chunks(plane_in))
            {
                win.plane(x, o, a);
            }
        });
    let [n, c, ..] = win.input;
    (tensor(out, [n, c, oh, ow]), arg)
}

fn backward_flex(win: &Window, grad: &FlexTensor, arg: &[u8]) -> FlexTensor {
    let grad = grad.to_contiguous();
    let gs = slice(&grad);
    let [oh, ow] = win.out();
    let (plane_in, plane_out) = (win.input[2] * win.input[3], oh * ow);
    let mut dx = vec![0.0f32; win.planes() * plane_in];
    dx.par_chunks_mut(plane_in * PLANES_PER_TASK)
        .zip(gs.par_chunks(plane_out * PLANES_PER_TASK))
        .zip(arg.par_chunks(plane_out * PLANES_PER_TASK))
        .for_each(|((dx, g), a)| {
            for ((d, g), a) in dx.chunks_mut(plane_in).zip(g.chunks(plane_out)).zip(a.chunks(plane_out)) {
                win.unpool(g, a, d);
            }
        });
    tensor(dx, win.input)
}

#[derive(Debug)]
struct PoolBackward;

impl Backward<Flex, 1> for PoolBackward {
    type State = (Window, Arc<Vec<u8>>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        if let Some(node) = node {
            let (win, arg) = ops.state;
            grads.register::<Flex>(node.id, backward_flex(&win, &grad, &arg));
        }
    }
}

fn forward_autodiff(win: &Window, x: FloatTensor<AdFlex>) -> FloatTensor<AdFlex> {
    let guard = x.node();
    let (out, arg) = forward_flex(win, x.primitive());
    match PoolBackward.prepare::<NoCheckpointing>([guard]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish((*win, Arc::new(arg)), out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    }
}

/// `pool(relu(x))`: on the CPU device as one operation where the pool's
/// windows tile the image, elsewhere burn's two.
pub fn relu_max_pool(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let tiles = pool.stride == pool.kernel_size
        && pool.padding == PaddingConfig2d::Valid
        && pool.dilation == [1, 1]
        && pool.kernel_size.iter().product::<usize>() < usize::from(NONE);
    if tiles && x.dtype() == DType::F32 {
        let win = Window { input: x.dims(), kernel: pool.kernel_size };
        if win.out().iter().all(|&s| s > 0) {
            if let Ok(p) = x.clone().try_into_primitive::<AdFlex>() {
                return Tensor::from_primitive::<AdFlex>(forward_autodiff(&win, p));
            }
            if let Ok(p) = x.clone().try_into_primitive::<Flex>() {
                return Tensor::from_primitive::<Flex>(forward_flex(&win, &p).0);
            }
        }
    }
    pool.forward(burn::tensor::activation::relu(x))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::pool::MaxPool2dConfig;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().expect("f32")
    }

    /// Output and input gradient against burn's ReLU and max-pool.
    fn check(seed: u64, shape: [usize; 4], kernel: [usize; 2]) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let n: usize = shape.iter().product();
        // Ties and exact zeros, as ReLU outputs have.
        let x: Vec<f32> = (0..n).map(|_| (rng.random_range(-4i32..8) as f32) / 4.0).collect();
        let device = Device::flex().autodiff();
        let pool = MaxPool2dConfig::new(kernel).init();
        let run = |ours: bool| {
            let x = Tensor::<4>::from_data(TensorData::new(x.clone(), shape), &device).require_grad();
            let y = if ours {
                relu_max_pool(&pool, x.clone())
            } else {
                pool.forward(burn::tensor::activation::relu(x.clone()))
            };
            let up = Tensor::<4>::from_data(
                TensorData::new(
                    (0..y.shape().num_elements()).map(|i| i as f32 + 1.0).collect::<Vec<_>>(),
                    y.dims(),
                ),
                &device,
            );
            let grads = (y.clone() * up).sum().backward();
            (values(y.inner()), values(x.grad(&grads).expect("a gradient")))
        };
        assert_eq!(run(true), run(false), "seed {seed}, shape {shape:?}, kernel {kernel:?}");
    }

    #[test]
    fn matches_burns_relu_and_max_pool() {
        check(1, [2, 3, 28, 28], [2, 2]);
        check(2, [3, 2, 7, 7], [2, 2]);
        check(3, [1, 4, 9, 6], [3, 2]);
        check(4, [2, 1, 5, 4], [1, 2]);
        check(5, [17, 3, 4, 4], [2, 2]);
    }

    #[test]
    fn inference_matches_too() {
        let device = Device::flex();
        let pool = MaxPool2dConfig::new([2, 2]).init();
        let x = Tensor::<4>::random([2, 3, 6, 5], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
        assert_eq!(
            values(relu_max_pool(&pool, x.clone())),
            values(pool.forward(burn::tensor::activation::relu(x)))
        );
    }
}
