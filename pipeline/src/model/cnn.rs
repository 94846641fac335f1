//! A small VGG-style CNN: conv → batch norm → ReLU → 2x2 max-pool blocks,
//! then a hidden dense layer with dropout. Two blocks of 32 and 64 channels
//! reach about 99% on MNIST in three epochs.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d, Relu,
};
use burn::prelude::*;

use super::{Classifier, ModelInput};
use crate::config::{CnnPlan, ImageSpec};

/// One conv block.
#[derive(Module, Debug)]
pub struct ConvBlock {
    conv: Conv2d,
    norm: BatchNorm,
    pool: MaxPool2d,
    act: Relu,
}

impl ConvBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.pool.forward(self.act.forward(self.norm.forward(self.conv.forward(x))))
    }
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
                norm: BatchNormConfig::new(out_ch).init(device),
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
}

impl Classifier for CnnModel {
    fn logits(&self, input: ModelInput) -> Tensor<2> {
        match input {
            ModelInput::Images(x) => self.forward(x),
            // The pipeline pairs models with their modality's batches.
            ModelInput::Tokens(_) => unreachable!("an image model was given a text batch"),
        }
    }
}
