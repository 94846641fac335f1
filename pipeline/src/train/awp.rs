//! Adversarial weight perturbation (Wu et al. 2020), as the authors'
//! `utils_awp.py` makes it: before a step, every weight of two or more
//! dimensions (convolution kernels, dense and embedding matrices; not
//! biases or norm scales) moves γ·‖w‖ along its gradient of the training
//! loss, the step's gradient is taken at the moved weights, and the move
//! is taken back from the updated ones. Adversarial training overfits: its
//! robust loss is low at the weights and climbs steeply around them; this
//! trains the worst nearby weights instead, which flattens that landscape.
//!
//! The reference finds the direction with one SGD step of a proxy copy on
//! the negated loss and rescales the difference to ‖w‖; the step length
//! cancels, leaving ‖w‖·g / ‖g‖ per weight. The proxy is kept: its batch
//! norm statistics are its own, so the extra forward pass leaves the
//! model's untouched, as the reference's comment says its proxy is for.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::prelude::*;

/// Guards a zero gradient, as the reference's `EPS`.
const EPS: f32 = 1e-20;

/// One batch's weight perturbation: γ·‖w‖·g/‖g‖ per weight, flattened.
pub struct Shift {
    moves: HashMap<ParamId, Tensor<1>>,
}

impl Shift {
    /// The perturbation up `loss` (the training loss of a batch, as a
    /// function of the weights) from `model`'s weights, at γ = `gamma`.
    pub fn ascent<M: Module>(model: &M, loss: impl FnOnce(&M) -> Tensor<1>, gamma: f64) -> Shift {
        // A copy with running statistics of its own; same parameter ids.
        let proxy = model.valid().train();
        let grads = GradientsParams::from_grads(loss(&proxy).backward(), &proxy);
        let mut ascent = Ascent { grads: &grads, gamma: gamma as f32, moves: HashMap::new() };
        proxy.visit(&mut ascent);
        Shift { moves: ascent.moves }
    }

    /// `model` with the perturbation added.
    pub fn apply<M: Module>(&self, model: M) -> M {
        model.map(&mut Move { shift: self, sign: 1.0 })
    }

    /// `model` with the perturbation taken back.
    pub fn undo<M: Module>(&self, model: M) -> M {
        model.map(&mut Move { shift: self, sign: -1.0 })
    }

    /// How many weights move.
    pub fn len(&self) -> usize {
        self.moves.len()
    }

    /// Whether no weight moves (none has two dimensions and a gradient).
    pub fn is_empty(&self) -> bool {
        self.moves.is_empty()
    }
}

struct Ascent<'a> {
    grads: &'a GradientsParams,
    gamma: f32,
    moves: HashMap<ParamId, Tensor<1>>,
}

impl ModuleVisitor for Ascent<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        // The reference's `len(w.size()) <= 1` rule: no biases, no norm scales.
        if D < 2 {
            return;
        }
        let Some(g) = self.grads.get::<D>(param.id) else { return };
        let w = param.val().inner();
        let n = w.shape().num_elements();
        let (w, g) = (w.reshape([n]), g.reshape([n]));
        let norm = |t: Tensor<1>| t.square().sum().sqrt();
        let scale = norm(w).div(norm(g.clone()).add_scalar(EPS)).mul_scalar(self.gamma);
        self.moves.insert(param.id, g.mul(scale));
    }
}

struct Move<'a> {
    shift: &'a Shift,
    sign: f32,
}

impl ModuleMapper for Move<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(step) = self.shift.moves.get(&param.id) else { return param };
        param.map(|t| {
            let (leaf, dims) = (t.is_require_grad(), t.dims());
            let moved = t.inner() + step.clone().reshape(dims).mul_scalar(self.sign);
            let moved = Tensor::from_inner(moved);
            if leaf { moved.require_grad() } else { moved }
        })
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Module;
    use burn::nn::loss::CrossEntropyLossConfig;
    use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
    use burn::optim::{GradientsParams, SgdConfig};
    use burn::tensor::activation::relu;

    use super::*;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().expect("f32")
    }

    /// bench/awp_reference.py's two-layer ReLU network.
    #[derive(Module, Debug)]
    struct Net {
        a: Linear,
        b: Linear,
    }

    fn matrix<const D: usize>(values: Vec<f64>, dims: [usize; D], device: &Device) -> Tensor<D> {
        let values: Vec<f32> = values.into_iter().map(|v| v as f32).collect();
        Tensor::from_data(TensorData::new(values, dims), device)
    }

    fn grid(rows: usize, cols: usize, f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
        (0..rows).flat_map(|i| (0..cols).map(move |j| (i as f64, j as f64))).map(|(i, j)| f(i, j)).collect()
    }

    fn net(device: &Device) -> Net {
        let layer = |w: Tensor<2>, b: Tensor<1>, dims: [usize; 2]| {
            let mut l = LinearConfig::new(dims[0], dims[1]).init(device);
            l.weight = Param::from_tensor(w.require_grad());
            l.bias = Some(Param::from_tensor(b.require_grad()));
            l
        };
        let w1 = grid(4, 3, |j, k| 0.8 * (1.0 + 3.0 * j + 7.0 * k).sin());
        let b1 = (0..3).map(|k| 0.1 * f64::from(k).cos()).collect();
        let w2 = grid(3, 3, |j, k| 0.6 * (0.5 + 2.0 * j + 5.0 * k).cos());
        let b2 = (0..3).map(|k| 0.05 * f64::from(k).sin()).collect();
        Net {
            a: layer(matrix(w1, [4, 3], device), matrix(b1, [3], device), [4, 3]),
            b: layer(matrix(w2, [3, 3], device), matrix(b2, [3], device), [3, 3]),
        }
    }

    fn loss(net: &Net, device: &Device) -> Tensor<1> {
        let x = matrix(grid(3, 4, |i, j| 0.5 + 0.5 * (1.3 * i + 0.7 * j + 0.2).sin()), [3, 4], device);
        let y = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2, 1], [3]), device);
        let logits = net.b.forward(relu(net.a.forward(x)));
        CrossEntropyLossConfig::new().init(device).forward(logits, y)
    }

    fn close(name: &str, got: Vec<f32>, want: &[f64]) {
        assert_eq!(got.len(), want.len(), "{name}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((f64::from(*g) - w).abs() < 2e-6, "{name}[{i}]: {g} vs {w}");
        }
    }

    #[test]
    fn one_step_matches_the_reference_code() {
        // bench/awp_reference.py: calc_awp, perturb, an SGD step, restore.
        let device = Device::flex().autodiff();
        let model = net(&device);
        let shift = Shift::ascent(&model, |m| loss(m, &device), 0.01);
        assert_eq!(shift.len(), 2, "the two matrices move, the biases do not");
        let moved = shift.apply(model.clone());
        let delta = |after: &Linear, before: &Linear| {
            values(after.weight.val().inner() - before.weight.val().inner())
        };
        #[rustfmt::skip]
        let want_a: [f64; 12] = [
            0.005378681411781573, -0.014938099993548327, 0.0019248762510373238, 0.003583296831047272,
            -0.012917871845968185, -0.00046302052221507844, 9.000598425006336e-05, -0.008508577085428373,
            -0.0015649175277565133, -0.0034582418591860876, -0.003783975934942084, -0.0008625753862650487,
        ];
        close("shift W1", delta(&moved.a, &model.a), &want_a);
        let b_bias = |l: &Linear| values(l.bias.as_ref().expect("a bias").val().inner());
        assert_eq!(b_bias(&moved.a), b_bias(&model.a), "biases stay");

        let step = loss(&moved, &device);
        let at: f32 = step.clone().into_scalar();
        assert!((f64::from(at) - 1.0762911242039979).abs() < 1e-6, "loss at the moved weights: {at}");
        let grads = GradientsParams::from_grads(step.backward(), &moved);
        let stepped = SgdConfig::new().init().step(0.1, moved, grads);
        let after = shift.undo(stepped);
        let weight = |l: &Linear| values(l.weight.val().inner());
        #[rustfmt::skip]
        let want: [(&str, Vec<f32>, &[f64]); 4] = [
            ("W1", weight(&after.a), &[
                0.6666488059871106, 0.8088541558269247, 0.5178848613406914, -0.609767525883051,
                -0.7849871444786058, -0.6003599018856823, 0.5254369513860577, 0.802361055423012,
                0.671063352204216, -0.43118798655862833, -0.7647273360982907, -0.7234968805423044,
            ]),
            ("b1", b_bias(&after.a), &[0.09972948229770577, 0.07227237847103443, -0.046990536884967335]),
            ("W2", weight(&after.b), &[
                0.5206252951820066, 0.4268396374727792, -0.2810356877434017, -0.48800901076183123,
                0.2110385397108916, 0.6029444599309433, -0.1295012135789566, -0.5969442661655139,
                -0.21128985370504733,
            ]),
            ("b2", b_bias(&after.b), &[0.0017362208335081884, 0.039692905662101596, 0.04610929408606914]),
        ];
        for (name, got, want) in want {
            close(name, got, want);
        }
        assert!(after.a.weight.val().is_require_grad(), "the weights stay trainable leaves");
    }

    #[test]
    fn each_weight_moves_gamma_times_its_norm_up_the_loss() {
        let device = Device::flex().autodiff();
        let model = net(&device);
        let before: f32 = loss(&model, &device).into_scalar();
        for gamma in [0.001, 0.05] {
            let shift = Shift::ascent(&model, |m| loss(m, &device), gamma);
            let moved = shift.apply(model.clone());
            for (after, was) in [(&moved.a, &model.a), (&moved.b, &model.b)] {
                let norm = |t: Tensor<2>| f64::from(t.square().sum().sqrt().into_scalar::<f32>());
                let step = norm(after.weight.val().inner() - was.weight.val().inner());
                let want = gamma * norm(was.weight.val().inner());
                assert!((step - want).abs() < 1e-5 * want.max(1.0), "γ {gamma}: moved {step}, want {want}");
            }
            let up: f32 = loss(&moved, &device).into_scalar();
            assert!(up > before, "γ {gamma}: the loss rises along the move ({before} → {up})");
            let back = shift.undo(moved);
            let w = |n: &Net| values(n.a.weight.val().inner());
            for (a, b) in w(&back).iter().zip(w(&model)) {
                assert!((a - b).abs() < 1e-6, "undo returns the weights");
            }
        }
    }

    #[derive(Module, Debug)]
    struct Normed {
        norm: BatchNorm,
        out: Linear,
    }

    #[test]
    fn the_extra_forward_pass_leaves_the_running_statistics() {
        let device = Device::flex().autodiff();
        let model = Normed {
            norm: BatchNormConfig::new(2).init(&device),
            out: LinearConfig::new(2 * 3 * 3, 2).init(&device),
        };
        let x: Tensor<2> =
            matrix(grid(4, 18, |i, j| (i * 1.7 + j * 0.3).sin() * 3.0 + 1.0), [4, 18], &device);
        let x = x.reshape([4, 2, 3, 3]);
        let y = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1, 1, 0], [4]), &device);
        let forward = |m: &Normed| {
            let h = crate::model::norm::batch_norm(&m.norm, x.clone()).reshape([4, 18]);
            CrossEntropyLossConfig::new().init(&device).forward(m.out.forward(h), y.clone())
        };
        let running = |m: &Normed| values(m.norm.running_mean.value_sync());
        let start = running(&model);
        let shift = Shift::ascent(&model, forward, 0.01);
        assert_eq!(shift.len(), 1, "only the dense matrix has two dimensions");
        assert_eq!(running(&model), start, "the proxy's pass updated the model's statistics");
        let _ = forward(&model);
        assert_ne!(running(&model), start, "a training pass of the model itself does update them");
    }

    #[test]
    fn every_matrix_and_kernel_of_the_cnn_moves() {
        use crate::model::{Classifier, ModelInput};
        let device = Device::flex().autodiff();
        let model = crate::model::test_cnn(&[2, 3], 4, 0.0, crate::config::Norm::Batch, 8, &device);
        let pixels: Vec<f32> = (0..4 * 64).map(|p| ((p * 7) % 17) as f32 / 17.0).collect();
        let x = Tensor::<4>::from_data(TensorData::new(pixels, [4, 1, 8, 8]), &device);
        let y = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2, 1, 0], [4]), &device);
        let forward = |m: &crate::model::CnnModel| {
            let logits = m.logits(ModelInput::Images(x.clone()));
            CrossEntropyLossConfig::new().init(&device).forward(logits, y.clone())
        };
        let shift = Shift::ascent(&model, forward, 0.01);
        // Two conv kernels, the hidden and the output matrices.
        assert_eq!(shift.len(), 4);
        let before: f32 = forward(&model).into_scalar();
        let after: f32 = forward(&shift.apply(model.clone())).into_scalar();
        assert!(after > before, "the loss rises along the move: {before} → {after}");
    }
}
