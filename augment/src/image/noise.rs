//! Additive and sampling noise (ImageNet-C "noise" family).
//!
//! Parameters are CIFAR-10-C's on the [0, 1] pixel scale; noise is per
//! value (each channel independently), computed on bytes without a float copy
//! of the image.

use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};

use super::pixels::clamp_u8;
use super::{Image, ImageOp};
use crate::catalog::{Modality, OpInfo, Param, Purpose};
use crate::seed::Rng;
use crate::severity::Severity;

/// CIFAR-10-C's standard deviations, on the [0, 1] pixel scale.
const GAUSSIAN_SIGMA: [f32; 5] = [0.04, 0.06, 0.08, 0.09, 0.10];
/// CIFAR-10-C's photon counts at full white (lower is noisier).
const SHOT_PHOTONS: [f32; 5] = [500.0, 250.0, 100.0, 75.0, 50.0];
/// CIFAR-10-C's share of values replaced by salt or pepper.
const IMPULSE_AMOUNT: [f32; 5] = [0.01, 0.02, 0.03, 0.05, 0.07];
/// CIFAR-10-C's multiplicative standard deviations.
const SPECKLE_SIGMA: [f32; 5] = [0.06, 0.10, 0.12, 0.16, 0.20];

/// `gaussian_noise`: adds N(0, sigma) to every value, then clips to [0, 1].
/// Sigma 0.04..0.10 (CIFAR-10-C), which suits small images; severity raises it.
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

/// `shot_noise`: Poisson photon noise, `Poisson(x * photons) / photons`.
/// Photons 500..50 (CIFAR-10-C); fewer photons is noisier.
pub(crate) const SHOT_NOISE: ImageOp = ImageOp::new(
    OpInfo {
        name: "shot_noise",
        modality: Modality::Image,
        purpose: Purpose::Corruption,
        summary: "Poisson photon noise, Poisson(x·photons)/photons (ImageNet-C, CIFAR-10-C)",
        params: &[Param { name: "photons", values: ["500", "250", "100", "75", "50"] }],
    },
    shot_noise,
);

/// `impulse_noise`: salt-and-pepper; each value becomes 0 or 255 (even odds)
/// with probability `amount`, 0.01..0.07 (CIFAR-10-C).
pub(crate) const IMPULSE_NOISE: ImageOp = ImageOp::new(
    OpInfo {
        name: "impulse_noise",
        modality: Modality::Image,
        purpose: Purpose::Corruption,
        summary: "salt-and-pepper noise on a share of values (ImageNet-C, CIFAR-10-C amounts)",
        params: &[Param { name: "amount", values: ["0.01", "0.02", "0.03", "0.05", "0.07"] }],
    },
    impulse_noise,
);

/// `speckle_noise`: multiplicative noise `x + x * N(0, sigma)`, sigma
/// 0.06..0.20 (CIFAR-10-C); dark pixels stay dark.
pub(crate) const SPECKLE_NOISE: ImageOp = ImageOp::new(
    OpInfo {
        name: "speckle_noise",
        modality: Modality::Image,
        purpose: Purpose::Corruption,
        summary: "multiplicative Gaussian noise x + x·N(0, sigma) (ImageNet-C, CIFAR-10-C)",
        params: &[Param { name: "sigma", values: ["0.06", "0.10", "0.12", "0.16", "0.20"] }],
    },
    speckle_noise,
);

fn normal(rng: &mut Rng) -> f32 {
    StandardNormal.sample(rng)
}

fn gaussian_noise(img: &Image, severity: Severity, rng: &mut Rng) -> Image {
    let sd = 255.0 * severity.pick(&GAUSSIAN_SIGMA);
    img.with_bytes(img.as_bytes().iter().map(|&v| clamp_u8(f32::from(v) + sd * normal(rng))).collect())
}

fn speckle_noise(img: &Image, severity: Severity, rng: &mut Rng) -> Image {
    let sigma = severity.pick(&SPECKLE_SIGMA);
    img.with_bytes(
        img.as_bytes()
            .iter()
            .map(|&v| {
                let x = f32::from(v);
                clamp_u8(x + x * sigma * normal(rng))
            })
            .collect(),
    )
}

fn impulse_noise(img: &Image, severity: Severity, rng: &mut Rng) -> Image {
    let amount = f64::from(severity.pick(&IMPULSE_AMOUNT));
    let mut out = img.clone();
    for v in out.as_bytes_mut() {
        if rng.random_bool(amount) {
            *v = if rng.random::<bool>() { 255 } else { 0 };
        }
    }
    out
}

/// Below this mean a Poisson draw is exact (Knuth's product of uniforms);
/// above it, the normal approximation N(λ, λ) is within the 8-bit rounding.
const POISSON_EXACT_BELOW: f32 = 30.0;

fn shot_noise(img: &Image, severity: Severity, rng: &mut Rng) -> Image {
    let photons = severity.pick(&SHOT_PHOTONS);
    // Only 256 distinct means: precompute λ and e^-λ per byte value.
    let lambda: Vec<f32> = (0..256).map(|v| v as f32 / 255.0 * photons).collect();
    let limit: Vec<f32> = lambda.iter().map(|l| (-l).exp()).collect();
    let to_byte = 255.0 / photons;
    img.with_bytes(
        img.as_bytes()
            .iter()
            .map(|&v| {
                let l = lambda[usize::from(v)];
                let count = if l < POISSON_EXACT_BELOW {
                    let mut k = 0u32;
                    let mut p = rng.random::<f32>();
                    while p > limit[usize::from(v)] && k < 200 {
                        k += 1;
                        p *= rng.random::<f32>();
                    }
                    k as f32
                } else {
                    (l + l.sqrt() * normal(rng)).max(0.0).round()
                };
                clamp_u8(count * to_byte)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed;

    #[test]
    fn parameter_tables_match_the_catalog() {
        use crate::catalog::check::assert_param;
        assert_param(&GAUSSIAN_NOISE.info, "sigma", GAUSSIAN_SIGMA);
        assert_param(&SHOT_NOISE.info, "photons", SHOT_PHOTONS);
        assert_param(&IMPULSE_NOISE.info, "amount", IMPULSE_AMOUNT);
        assert_param(&SPECKLE_NOISE.info, "sigma", SPECKLE_SIGMA);
    }

    fn flat(v: u8) -> Image {
        Image::filled(64, 64, 1, v)
    }

    fn mean_sd(img: &Image) -> (f32, f32) {
        let b = img.as_bytes();
        let n = b.len() as f32;
        let mean = b.iter().map(|&v| f32::from(v)).sum::<f32>() / n;
        let var = b.iter().map(|&v| (f32::from(v) - mean).powi(2)).sum::<f32>() / n;
        (mean, var.sqrt())
    }

    #[test]
    fn gaussian_noise_has_the_table_sigma() {
        let out = gaussian_noise(&flat(128), Severity::new(5).expect("valid"), &mut seed::rng(1));
        let (mean, sd) = mean_sd(&out);
        assert!((mean - 128.0).abs() < 1.0, "{mean}");
        assert!((sd - 25.5).abs() < 1.0, "{sd}");
    }

    #[test]
    fn shot_noise_variance_follows_the_photon_count() {
        // x = 0.5, photons 50: counts ~ Poisson(25), sd = 5/50 of full scale.
        let out = shot_noise(&flat(128), Severity::new(5).expect("valid"), &mut seed::rng(2));
        let (mean, sd) = mean_sd(&out);
        let lambda: f32 = 128.0 / 255.0 * 50.0;
        assert!((mean - 128.0).abs() < 1.5, "{mean}");
        assert!((sd - lambda.sqrt() * 255.0 / 50.0).abs() < 1.5, "{sd}");
        // Black has no photons: it stays black.
        assert_eq!(shot_noise(&flat(0), Severity::new(5).expect("valid"), &mut seed::rng(2)), flat(0));
    }

    #[test]
    fn impulse_noise_hits_about_the_table_share() {
        let out = impulse_noise(&flat(100), Severity::new(5).expect("valid"), &mut seed::rng(3));
        let hit = out.as_bytes().iter().filter(|&&v| v != 100).count() as f32 / 4096.0;
        assert!((hit - 0.07).abs() < 0.015, "{hit}");
        assert!(out.as_bytes().iter().all(|&v| [0, 100, 255].contains(&v)));
    }

    #[test]
    fn speckle_leaves_black_black() {
        let out = speckle_noise(&flat(0), Severity::new(5).expect("valid"), &mut seed::rng(4));
        assert_eq!(out, flat(0));
        // sd = x · sigma = 100 · 0.2, far from clipping.
        let (_, sd) =
            mean_sd(&speckle_noise(&flat(100), Severity::new(5).expect("valid"), &mut seed::rng(4)));
        assert!((sd - 20.0).abs() < 1.0, "{sd}");
    }
}
