//! AugMix (Hendrycks et al., 2020): several short chains of augmentations,
//! mixed with Dirichlet weights, then mixed with the original by a Beta draw.
//!
//! The chains use only training augmentations (autocontrast, equalize,
//! posterize, solarize, affine), never an evaluation corruption, as the
//! paper does, so corruption benchmarks stay unseen.

use rand::Rng as _;

use super::pixels::clamp_u8;
use super::{Image, ImageOp, geometric, tone};
use crate::catalog::{Modality, OpInfo, Param, Purpose};
use crate::seed::{self, Rng};
use crate::severity::Severity;

/// Chains mixed per image.
pub const WIDTH: usize = 3;
/// Longest chain; each chain's depth is drawn from 1..=MAX_DEPTH.
pub const MAX_DEPTH: usize = 3;

/// The operations chains draw from: all training augmentations.
static POOL: [&ImageOp; 5] =
    [&tone::AUTOCONTRAST, &tone::EQUALIZE, &tone::POSTERIZE, &tone::SOLARIZE, &geometric::AFFINE_OP];

/// `augmix`: width 3, depth 1..3, Dirichlet(1, 1, 1) chain weights,
/// Beta(1, 1) weight of the original; each chained op runs at a severity
/// drawn from 1..=severity.
pub(crate) const AUGMIX: ImageOp = ImageOp::new(
    OpInfo {
        name: "augmix",
        modality: Modality::Image,
        purpose: Purpose::Augmentation,
        tables: &[],
        summary: "AugMix: 3 chains of 1-3 augmentations, Dirichlet-mixed, then Beta-mixed with the input",
        params: &[Param { name: "max_op_severity", values: ["1", "2", "3", "4", "5"] }],
    },
    mix_chains,
);

/// Names of the operations AugMix chains draw from.
pub fn pool() -> Vec<&'static str> {
    POOL.iter().map(|op| op.name()).collect()
}

/// One AugMix image; severity 0 returns the input.
pub fn augmix(image: &Image, severity: Severity, seed: u64) -> Image {
    AUGMIX.apply(image, severity, seed)
}

/// The two independent AugMix views of one image that the Jensen-Shannon
/// consistency loss compares with the clean image (`[clean, views[0],
/// views[1]]` in the paper). Each view has its own stream derived from `seed`.
pub fn views(image: &Image, severity: Severity, seed: u64) -> [Image; 2] {
    [0, 1].map(|view| AUGMIX.apply(image, severity, seed::derive(seed, view, 0, "augmix_view")))
}

/// Weights from Dirichlet(1, ..., 1): normalised Exp(1) draws.
fn dirichlet_ones(rng: &mut Rng) -> [f32; WIDTH] {
    let mut w = [0.0f32; WIDTH];
    for v in &mut w {
        *v = -(1.0 - rng.random::<f32>()).ln();
    }
    let sum: f32 = w.iter().sum();
    if sum > 0.0 {
        w.iter_mut().for_each(|v| *v /= sum);
    } else {
        w = [1.0 / WIDTH as f32; WIDTH];
    }
    w
}

fn mix_chains(image: &Image, severity: Severity, rng: &mut Rng) -> Image {
    let weights = dirichlet_ones(rng);
    // Beta(1, 1) is uniform on [0, 1].
    let keep: f32 = rng.random();
    let mut acc = vec![0.0f32; image.as_bytes().len()];
    for &weight in &weights {
        let depth = rng.random_range(1..=MAX_DEPTH);
        let mut chain = image.clone();
        for _ in 0..depth {
            let op = POOL[rng.random_range(0..POOL.len())];
            let level = rng.random_range(1..=severity.level().max(1));
            let s = Severity::new(i64::from(level)).unwrap_or(Severity::NONE);
            chain = op.apply(&chain, s, rng.random());
        }
        for (a, &v) in acc.iter_mut().zip(chain.as_bytes()) {
            *a += weight * f32::from(v);
        }
    }
    let data = image
        .as_bytes()
        .iter()
        .zip(&acc)
        .map(|(&x, &m)| clamp_u8(keep * f32::from(x) + (1.0 - keep) * m))
        .collect();
    image.with_bytes(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Purpose;

    fn sample() -> Image {
        Image::new(12, 10, 3, (0..360).map(|i| (i * 13 % 256) as u8).collect()).expect("valid")
    }

    #[test]
    fn pool_holds_only_augmentations() {
        for op in POOL {
            assert_eq!(op.purpose(), Purpose::Augmentation, "{}", op.name());
            assert_ne!(op.name(), "augmix");
        }
    }

    #[test]
    fn dirichlet_weights_sum_to_one() {
        let mut rng = seed::rng(3);
        for _ in 0..100 {
            let w = dirichlet_ones(&mut rng);
            assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            assert!(w.iter().all(|&v| v >= 0.0));
        }
    }

    #[test]
    fn black_stays_black_and_gray_changes() {
        // Every pool op maps black to black (autocontrast and equalize leave
        // a flat image alone, affine fills black), so any mix is black too.
        let black = Image::filled(8, 8, 1, 0);
        let gray = Image::filled(8, 8, 3, 90);
        let sev = Severity::new(3).expect("valid");
        for s in 0..20 {
            assert_eq!(augmix(&black, sev, s), black);
        }
        assert!((0..20).any(|s| augmix(&gray, sev, s) != gray));
    }

    #[test]
    fn views_differ_from_each_other_and_repeat_per_seed() {
        let img = sample();
        let sev = Severity::new(3).expect("valid");
        let [a, b] = views(&img, sev, 7);
        assert_ne!(a, b);
        assert_eq!([a, b], views(&img, sev, 7));
        assert_eq!(views(&img, Severity::NONE, 7), [img.clone(), img]);
    }
}
