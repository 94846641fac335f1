//! Additive and sampling noise (ImageNet-C "noise" family).

use rand_distr::{Distribution, Normal};

use super::{Image, ImageOp};
use crate::catalog::{Modality, OpInfo, Param, Purpose};
use crate::seed::Rng;
use crate::severity::Severity;

/// CIFAR-10-C's standard deviations, on the [0, 1] pixel scale.
const GAUSSIAN_SIGMA: [f32; 5] = [0.04, 0.06, 0.08, 0.09, 0.10];

/// `gaussian_noise`: adds N(0, sigma) to every value, then clips to [0, 1].
/// Sigma follows CIFAR-10-C (0.04..0.10), which suits small images.
pub(crate) const GAUSSIAN_NOISE: ImageOp = ImageOp::new(
    OpInfo {
        name: "gaussian_noise",
        modality: Modality::Image,
        purpose: Purpose::Corruption,
        summary: "additive Gaussian noise per value, clipped (ImageNet-C, CIFAR-10-C sigmas)",
        params: &[Param { name: "sigma", values: ["0.04", "0.06", "0.08", "0.09", "0.10"] }],
    },
    gaussian_noise,
);

fn gaussian_noise(img: &Image, severity: Severity, rng: &mut Rng) -> Image {
    let sigma = severity.pick(&GAUSSIAN_SIGMA);
    // Normal::new only fails on a negative or NaN deviation; the table is fixed.
    let normal = Normal::new(0.0f32, sigma).unwrap_or_else(|_| unreachable!("sigma is positive"));
    let mut values = img.to_unit();
    for v in &mut values {
        *v += normal.sample(rng);
    }
    img.with_unit(&values)
}
