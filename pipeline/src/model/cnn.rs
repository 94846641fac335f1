//! A small VGG-style CNN: conv → norm → ReLU → 2x2 max-pool blocks, then a
//! hidden dense layer with dropout. Two blocks of 32 and 64 channels reach
//! about 99% on MNIST in three epochs. The norm is batch norm by default,
//! group norm (per example, as DP-SGD needs) or none.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, GroupNorm, GroupNormConfig, Linear, LinearConfig,
    PaddingConfig2d, Relu,
};
use burn::prelude::*;

use super::per_example::Tape;
use super::{Classifier, ModelInput};
use crate::config::{CnnPlan, ImageSpec, Norm};

/// One conv block; at most one of the two norms is present.
#[derive(Module, Debug)]
pub struct ConvBlock {
    conv: Conv2d,
    norm: Option<BatchNorm>,
    group: Option<GroupNorm>,
    pool: MaxPool2d,
    /// Applied with the pool, as one operation (`pool::relu_max_pool`).
    act: Relu,
}

impl ConvBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = super::conv::forward(&self.conv, x);
        if let Some(norm) = &self.norm {
            x = super::norm::batch_norm(norm, x);
        }
        if let Some(group) = &self.group {
            x = super::norm::group_norm(group, x);
        }
        super::pool::relu_max_pool(&self.pool, x)
    }

    fn forward_taped(&self, x: Tensor<4>, tape: &mut Tape) -> Tensor<4> {
        assert!(self.norm.is_none(), "batch norm mixes examples; the config refuses it under DP-SGD");
        let mut x = tape.conv(&self.conv, x);
        if let Some(group) = &self.group {
            x = tape.group_norm(group, x);
        }
        super::pool::relu_max_pool(&self.pool, x)
    }
}

/// Groups of a group norm over `channels`: the largest divisor up to 16.
fn groups(channels: usize) -> usize {
    (1..=channels.min(16)).rev().find(|g| channels.is_multiple_of(*g)).unwrap_or(1)
}

/// The image classifier.
#[derive(Module, Debug)]
pub struct CnnModel {
    blocks: Vec<ConvBlock>,
    hidden: Linear,
    dropout: Dropout,
    output: Linear,
    act: Relu,
}

impl CnnModel {
    /// A freshly initialised network for `spec`-shaped images.
    pub fn new(plan: &CnnPlan, spec: &ImageSpec, classes: usize, device: &Device) -> Self {
        let k = plan.kernel_size;
        let mut in_ch = usize::from(spec.channels);
        let (mut h, mut w) = (spec.height as usize, spec.width as usize);
        let mut blocks = Vec::with_capacity(plan.conv_channels.len());
        for &out_ch in &plan.conv_channels {
            blocks.push(ConvBlock {
                conv: Conv2dConfig::new([in_ch, out_ch], [k, k])
                    .with_padding(PaddingConfig2d::Same)
                    .init(device),
                norm: (plan.norm == Norm::Batch).then(|| BatchNormConfig::new(out_ch).init(device)),
                group: (plan.norm == Norm::Group)
                    .then(|| GroupNormConfig::new(groups(out_ch), out_ch).init(device)),
                // A 1-pixel map cannot be pooled further; later blocks keep it.
                pool: MaxPool2dConfig::new([if h >= 2 { 2 } else { 1 }, if w >= 2 { 2 } else { 1 }]).init(),
                act: Relu::new(),
            });
            h = if h >= 2 { h / 2 } else { h };
            w = if w >= 2 { w / 2 } else { w };
            in_ch = out_ch;
        }
        let flat = in_ch * h * w;
        CnnModel {
            blocks,
            hidden: LinearConfig::new(flat, plan.hidden).init(device),
            dropout: DropoutConfig::new(plan.dropout).init(),
            output: LinearConfig::new(plan.hidden, classes).init(device),
            act: Relu::new(),
        }
    }

    /// # Shapes
    /// `[n, c, h, w]` → `[n, classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.blocks.iter().fold(x, |x, b| b.forward(x));
        let x: Tensor<2> = x.flatten(1, 3);
        let x = self.dropout.forward(self.act.forward(self.hidden.forward(x)));
        self.output.forward(x)
    }

    /// The hidden layer's activations, `[n, hidden]`.
    pub fn penultimate(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.blocks.iter().fold(x, |x, b| b.forward(x));
        let x: Tensor<2> = x.flatten(1, 3);
        self.act.forward(self.hidden.forward(x))
    }

    /// [`CnnModel::forward`] with every trainable layer recorded on `tape`.
    pub fn forward_taped(&self, x: Tensor<4>, tape: &mut Tape) -> Tensor<2> {
        let x = self.blocks.iter().fold(x, |x, b| b.forward_taped(x, tape));
        let x: Tensor<2> = x.flatten(1, 3);
        let x = self.dropout.forward(self.act.forward(tape.linear(&self.hidden, x)));
        tape.linear(&self.output, x)
    }
}

impl Classifier for CnnModel {
    fn logits(&self, input: ModelInput) -> Tensor<2> {
        match input {
            ModelInput::Images(x) => self.forward(x),
            // The pipeline pairs models with their modality's batches.
            ModelInput::Tokens { .. } => unreachable!("an image model was given a text batch"),
        }
    }

    fn logits_taped(&self, input: ModelInput, tape: &mut Tape) -> Option<Tensor<2>> {
        match input {
            ModelInput::Images(x) => Some(self.forward_taped(x, tape)),
            ModelInput::Tokens { .. } => unreachable!("an image model was given a text batch"),
        }
    }

    fn penultimate(&self, input: ModelInput) -> Option<Tensor<2>> {
        match input {
            ModelInput::Images(x) => Some(CnnModel::penultimate(self, x)),
            ModelInput::Tokens { .. } => unreachable!("an image model was given a text batch"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::groups;

    #[test]
    fn group_counts_divide_the_channels() {
        assert_eq!([groups(1), groups(32), groups(64), groups(24), groups(7)], [1, 16, 16, 12, 7]);
    }
}
