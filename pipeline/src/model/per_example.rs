//! Every example's gradient norm and the clipped gradient sum of DP-SGD from
//! one backward pass.
//!
//! A forward pass on a copy of the model whose parameters do not require
//! gradients records, for each trainable layer, its input and a zero "probe"
//! leaf added to its output. After the backward pass the probe's gradient is
//! the layer's output gradient, example by example, and with the input it
//! gives each example's parameter gradient without a backward pass per
//! example: the outer product for dense layers (Goodfellow 2015), the
//! product with the unfolded input for convolutions (Opacus' grad-sample
//! rules), per-channel sums for a norm's scale and shift, and the rows each
//! example's tokens select for an embedding. The clipped sum reuses the same
//! quantities (Bu et al. 2022's book-keeping), so autodiff never computes the
//! parameters' own gradients.

use burn::module::{Param, ParamId};
use burn::nn::conv::Conv2d;
use burn::nn::{Embedding, GroupNorm, Linear};
use burn::prelude::*;
use burn::tensor::module::unfold4d;
use burn::tensor::ops::{PadMode, UnfoldOptions};
use burn::tensor::{Gradients, IndexingUpdateOp};

use super::conv::Geometry;

/// One trainable layer as the forward pass saw it.
enum Record {
    Linear { input: Tensor<2>, probe: Tensor<2>, weight: ParamId, bias: Option<ParamId> },
    Conv { input: Tensor<4>, probe: Tensor<4>, kernel: [usize; 2], weight: ParamId, bias: Option<ParamId> },
    Affine { normalized: Tensor<4>, probe: Tensor<4>, gamma: ParamId, beta: ParamId },
    Embedding { ids: Tensor<2, Int>, probe: Tensor<3>, weight: ParamId, rows: usize },
    Bias { probe: Tensor<2>, param: ParamId },
}

/// A summed gradient for one parameter, in the parameter's shape.
#[derive(Debug, Clone)]
pub enum ParamGrad {
    /// A vector (biases, norm scales and shifts).
    D1(Tensor<1>),
    /// A matrix (dense and embedding weights).
    D2(Tensor<2>),
    /// A convolution kernel.
    D4(Tensor<4>),
}

/// The trainable layers of one forward pass, in order.
#[derive(Default)]
pub struct Tape {
    records: Vec<Record>,
}

/// Each example's gradient norm and the sum of the clipped gradients.
pub struct Clipped {
    /// ‖∇ᵢ‖ over all parameters, `[n]`, before clipping.
    pub norms: Tensor<1>,
    /// Σᵢ cᵢ ∇ᵢ with cᵢ = min(1, C / ‖∇ᵢ‖), per parameter, in tape order.
    pub sums: Vec<(ParamId, ParamGrad)>,
}

fn probe<const D: usize>(like: &Tensor<D>) -> Tensor<D> {
    Tensor::zeros(like.shape(), &like.device()).require_grad()
}

impl Tape {
    /// `layer(x)`, recorded.
    pub fn linear(&mut self, layer: &Linear, x: Tensor<2>) -> Tensor<2> {
        let y = layer.forward(x.clone());
        let p = probe(&y);
        self.records.push(Record::Linear {
            input: x.inner(),
            probe: p.clone(),
            weight: layer.weight.id,
            bias: layer.bias.as_ref().map(|b| b.id),
        });
        y + p
    }

    /// `layer(x)`, recorded. Stride 1, no dilation, one group, and
    /// zero padding that keeps or shrinks the size evenly (as the CNN's).
    pub fn conv(&mut self, layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
        assert!(
            layer.stride == [1, 1] && layer.dilation == [1, 1] && layer.groups == 1,
            "per-example convolution gradients support stride 1, dilation 1 and one group"
        );
        let [_, _, kh, kw] = layer.weight.dims();
        let y = super::conv::forward(layer, x.clone());
        let p = probe(&y);
        self.records.push(Record::Conv {
            input: x.inner(),
            probe: p.clone(),
            kernel: [kh, kw],
            weight: layer.weight.id,
            bias: layer.bias.as_ref().map(|b| b.id),
        });
        y + p
    }

    /// `layer(x)` for a group norm, with its scale and shift recorded.
    pub fn group_norm(&mut self, layer: &GroupNorm, x: Tensor<4>) -> Tensor<4> {
        let (Some(gamma), Some(beta)) = (&layer.gamma, &layer.beta) else {
            return layer.forward(x);
        };
        let plain = GroupNorm { gamma: None, beta: None, affine: false, ..layer.clone() };
        let normalized = super::norm::group_norm(&plain, x);
        let c = layer.num_channels;
        let y = normalized.clone() * gamma.val().reshape([1, c, 1, 1]) + beta.val().reshape([1, c, 1, 1]);
        let p = probe(&y);
        self.records.push(Record::Affine {
            normalized: normalized.inner(),
            probe: p.clone(),
            gamma: gamma.id,
            beta: beta.id,
        });
        y + p
    }

    /// `layer(ids)`, recorded.
    pub fn embedding(&mut self, layer: &Embedding, ids: Tensor<2, Int>) -> Tensor<3> {
        let y = layer.forward(ids.clone());
        let p = probe(&y);
        self.records.push(Record::Embedding {
            ids: ids.inner(),
            probe: p.clone(),
            weight: layer.weight.id,
            rows: layer.weight.dims()[0],
        });
        y + p
    }

    /// `x + bias`, recorded (a bias outside a layer, as a linear text model's).
    pub fn bias(&mut self, bias: &Param<Tensor<1>>, x: Tensor<2>) -> Tensor<2> {
        let y = x + bias.val().unsqueeze_dim(0);
        let p = probe(&y);
        self.records.push(Record::Bias { probe: p.clone(), param: bias.id });
        y + p
    }

    /// Norms and clipped sums from the gradients of a backward pass of the
    /// *summed* (not averaged) loss through the taped forward pass.
    pub fn clip(self, grads: &Gradients, max_norm: f64) -> Clipped {
        let outputs: Vec<Option<Output>> = self.records.iter().map(|r| r.output_grad(grads)).collect();
        let mut squared: Option<Tensor<1>> = None;
        let mut parts = Vec::with_capacity(self.records.len());
        for (record, g) in self.records.into_iter().zip(outputs) {
            let part = record.per_example(g);
            let sq = part.squared_norms();
            squared = Some(match squared {
                Some(s) => s + sq,
                None => sq,
            });
            parts.push(part);
        }
        let Some(squared) = squared else {
            return Clipped { norms: Tensor::zeros([0], &crate::device::host()), sums: Vec::new() };
        };
        let norms = squared.sqrt();
        // As Opacus: cᵢ = min(1, C / (‖∇ᵢ‖ + 1e-6)).
        let factors = (norms.clone() + 1e-6).recip().mul_scalar(max_norm).clamp_max(1.0);
        let sums = parts.into_iter().flat_map(|p| p.weighted_sums(&factors)).collect();
        Clipped { norms, sums }
    }
}

/// A layer's output gradient, `[n, ...]`.
enum Output {
    D2(Tensor<2>),
    D3(Tensor<3>),
    D4(Tensor<4>),
}

impl Record {
    fn output_grad(&self, grads: &Gradients) -> Option<Output> {
        match self {
            Record::Linear { probe, .. } | Record::Bias { probe, .. } => probe.grad(grads).map(Output::D2),
            Record::Conv { probe, .. } | Record::Affine { probe, .. } => probe.grad(grads).map(Output::D4),
            Record::Embedding { probe, .. } => probe.grad(grads).map(Output::D3),
        }
    }

    /// Each example's gradient of this layer's parameters, or what it takes
    /// to get its norm and weighted sum. A layer the loss never reached has
    /// zero gradients.
    fn per_example(self, g: Option<Output>) -> Part {
        match (self, g) {
            (Record::Linear { input, weight, bias, probe }, g) => {
                let g = match g {
                    Some(Output::D2(g)) => g,
                    _ => probe.inner().zeros_like(),
                };
                Part::Linear { input, g, weight, bias }
            }
            (Record::Conv { input, kernel, weight, bias, probe }, g) => {
                let g = match g {
                    Some(Output::D4(g)) => g,
                    _ => probe.inner().zeros_like(),
                };
                let [n, c_in, h, w] = input.dims();
                let [_, c_out, oh, ow] = g.dims();
                // Stride 1: the padding is what makes the output size.
                let (pad_h, pad_w) = ((oh + kernel[0] - 1 - h) / 2, (ow + kernel[1] - 1 - w) / 2);
                let geometry = Geometry {
                    input: [c_in, h, w],
                    out_channels: c_out,
                    kernel,
                    stride: [1, 1],
                    padding: [(pad_h, pad_h), (pad_w, pad_w)],
                };
                let unfolded = match super::conv::unfold(&input, geometry) {
                    Some(unfolded) => unfolded,
                    None => {
                        let padded = if pad_h + pad_w > 0 {
                            input.pad((pad_w, pad_w, pad_h, pad_h), PadMode::Constant(0.0))
                        } else {
                            input
                        };
                        // Explicit padding keeps unfold4d on its copy path, not its one-hot convolution.
                        unfold4d(padded, kernel, UnfoldOptions::new([1, 1], [0, 0], [1, 1]))
                    }
                };
                let g = g.reshape([n, c_out, oh * ow]);
                let per_weight = g.clone().matmul(unfolded.swap_dims(1, 2));
                let per_bias = g.sum_dim(2).reshape([n, c_out]);
                Part::Dense {
                    weight: (weight, per_weight, [c_out, c_in, kernel[0], kernel[1]]),
                    bias: bias.map(|b| (b, per_bias)),
                }
            }
            (Record::Affine { normalized, gamma, beta, probe }, g) => {
                let g = match g {
                    Some(Output::D4(g)) => g,
                    _ => probe.inner().zeros_like(),
                };
                let [n, c, _, _] = g.dims();
                let per_gamma = (g.clone() * normalized).sum_dim(3).sum_dim(2).reshape([n, c]);
                let per_beta = g.sum_dim(3).sum_dim(2).reshape([n, c]);
                Part::Vectors(vec![(gamma, per_gamma), (beta, per_beta)])
            }
            (Record::Embedding { ids, weight, rows, probe }, g) => {
                let g = match g {
                    Some(Output::D3(g)) => g,
                    _ => probe.inner().zeros_like(),
                };
                Part::Embedding { ids, g, weight, rows }
            }
            (Record::Bias { probe, param }, g) => {
                let g = match g {
                    Some(Output::D2(g)) => g,
                    _ => probe.inner().zeros_like(),
                };
                Part::Vectors(vec![(param, g)])
            }
        }
    }
}

/// Per-example gradient information of one layer.
enum Part {
    Linear {
        input: Tensor<2>,
        g: Tensor<2>,
        weight: ParamId,
        bias: Option<ParamId>,
    },
    /// Materialised per-example weight gradients `[n, out, fan-in]` and the
    /// parameter's shape; bias gradients `[n, out]`.
    Dense {
        weight: (ParamId, Tensor<3>, [usize; 4]),
        bias: Option<(ParamId, Tensor<2>)>,
    },
    /// Per-example vector parameters' gradients, `[n, len]` each.
    Vectors(Vec<(ParamId, Tensor<2>)>),
    Embedding {
        ids: Tensor<2, Int>,
        g: Tensor<3>,
        weight: ParamId,
        rows: usize,
    },
}

/// Σ over every axis but the first: `[n, ...]` → `[n]`.
fn row_sums<const D: usize>(t: Tensor<D>) -> Tensor<1> {
    let n = t.dims()[0];
    t.reshape([n as i64, -1]).sum_dim(1).reshape([n])
}

impl Part {
    fn squared_norms(&self) -> Tensor<1> {
        match self {
            Part::Linear { input, g, bias, .. } => {
                // ‖aᵢ gᵢᵀ‖² = ‖aᵢ‖²‖gᵢ‖².
                let g2 = row_sums(g.clone().square());
                let w = row_sums(input.clone().square()) * g2.clone();
                if bias.is_some() { w + g2 } else { w }
            }
            Part::Dense { weight, bias } => {
                let w = row_sums(weight.1.clone().square());
                match bias {
                    Some((_, b)) => w + row_sums(b.clone().square()),
                    None => w,
                }
            }
            Part::Vectors(vs) => vs
                .iter()
                .map(|(_, v)| row_sums(v.clone().square()))
                .reduce(|a, b| a + b)
                .expect("two vectors"),
            Part::Embedding { g, .. } => {
                // A bag holds each id once, and padding's output gradient is
                // 0 (its weight is 0), so every row gets one token's gradient.
                row_sums(g.clone().square())
            }
        }
    }

    fn weighted_sums(self, factors: &Tensor<1>) -> Vec<(ParamId, ParamGrad)> {
        let n = factors.dims()[0];
        match self {
            Part::Linear { input, g, weight, bias } => {
                let scaled = g * factors.clone().reshape([n, 1]);
                let mut out = vec![(weight, ParamGrad::D2(input.transpose().matmul(scaled.clone())))];
                if let Some(b) = bias {
                    out.push((b, ParamGrad::D1(scaled.sum_dim(0).reshape([-1]))));
                }
                out
            }
            Part::Dense { weight: (id, per, shape), bias } => {
                let w = (per * factors.clone().reshape([n, 1, 1])).sum_dim(0).reshape(shape);
                let mut out = vec![(id, ParamGrad::D4(w))];
                if let Some((b, per)) = bias {
                    out.push((
                        b,
                        ParamGrad::D1((per * factors.clone().reshape([n, 1])).sum_dim(0).reshape([-1])),
                    ));
                }
                out
            }
            Part::Vectors(vs) => vs
                .into_iter()
                .map(|(id, per)| {
                    (id, ParamGrad::D1((per * factors.clone().reshape([n, 1])).sum_dim(0).reshape([-1])))
                })
                .collect(),
            Part::Embedding { ids, g, weight, rows } => {
                let [n, len, dim] = g.dims();
                let scaled = (g * factors.clone().reshape([n, 1, 1])).reshape([n * len, dim]);
                let table = Tensor::<2>::zeros([rows, dim], &scaled.device());
                let summed = table.select_assign(0, ids.reshape([n * len]), scaled, IndexingUpdateOp::Add);
                vec![(weight, ParamGrad::D2(summed))]
            }
        }
    }
}
