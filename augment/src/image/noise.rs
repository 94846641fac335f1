//! Additive and sampling noise (ImageNet-C "noise" family).
//!
//! Parameters are the benchmarks' own, on the [0, 1] pixel scale: noise
//! strength does not depend on image size, but each benchmark tuned it for
//! its images (ImageNet-C's sigma at severity 5 is almost four times
//! CIFAR-10-C's). Noise is per value (each channel independently), computed
//! on bytes without a float copy of the image.

use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};

use super::pixels::clamp_u8;
use super::{Image, ImageOp};
use crate::catalog::OpInfo;
use crate::seed::Rng;
use crate::table::{Row, Setting, Table, TableParams, row};

const fn one(name: &'static str, values: [f32; 5]) -> [Row; 1] {
    [row(name, values)]
}

/// MNIST-C's dataset uses ImageNet-C's parameters at one severity.
const GAUSSIAN: &[TableParams] = &[
    TableParams::graded(Table::ImagenetC, &one("sigma", [0.08, 0.12, 0.18, 0.26, 0.38])),
    TableParams::graded(Table::TinyImagenetC, &one("sigma", [0.04, 0.08, 0.12, 0.15, 0.18])),
    TableParams::graded(Table::Cifar10C, &one("sigma", [0.04, 0.06, 0.08, 0.09, 0.10])),
];
const SHOT: &[TableParams] = &[
    TableParams::graded(Table::ImagenetC, &one("photons", [60.0, 25.0, 12.0, 5.0, 3.0])),
    TableParams::graded(Table::TinyImagenetC, &one("photons", [250.0, 100.0, 50.0, 30.0, 15.0])),
    TableParams::graded(Table::Cifar10C, &one("photons", [500.0, 250.0, 100.0, 75.0, 50.0])),
    TableParams::at(Table::MnistC, &one("photons", [60.0, 25.0, 12.0, 5.0, 3.0]), 5),
];
const IMPULSE: &[TableParams] = &[
    TableParams::graded(Table::ImagenetC, &one("amount", [0.03, 0.06, 0.09, 0.17, 0.27])),
    TableParams::graded(Table::TinyImagenetC, &one("amount", [0.01, 0.02, 0.05, 0.08, 0.14])),
    TableParams::graded(Table::Cifar10C, &one("amount", [0.01, 0.02, 0.03, 0.05, 0.07])),
    TableParams::at(Table::MnistC, &one("amount", [0.03, 0.06, 0.09, 0.17, 0.27]), 4),
];
const SPECKLE: &[TableParams] = &[
    TableParams::graded(Table::ImagenetC, &one("sigma", [0.15, 0.2, 0.35, 0.45, 0.6])),
    TableParams::graded(Table::TinyImagenetC, &one("sigma", [0.15, 0.2, 0.25, 0.3, 0.35])),
    TableParams::graded(Table::Cifar10C, &one("sigma", [0.06, 0.1, 0.12, 0.16, 0.2])),
];

/// `gaussian_noise`: adds N(0, sigma) to every value, then clips to [0, 1].
pub(crate) const GAUSSIAN_NOISE: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption("gaussian_noise", "additive Gaussian noise per value, clipped", GAUSSIAN),
    gaussian_noise,
);

/// `shot_noise`: Poisson photon noise, `Poisson(x * photons) / photons`;
/// fewer photons is noisier.
pub(crate) const SHOT_NOISE: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption("shot_noise", "Poisson photon noise, Poisson(x·photons)/photons", SHOT),
    shot_noise,
);

/// `impulse_noise`: salt-and-pepper; each value becomes 0 or 255 (even odds)
/// with probability `amount`.
pub(crate) const IMPULSE_NOISE: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption("impulse_noise", "salt-and-pepper noise on a share of values", IMPULSE),
    impulse_noise,
);

/// `speckle_noise`: multiplicative noise `x + x * N(0, sigma)`; dark pixels
/// stay dark.
pub(crate) const SPECKLE_NOISE: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption("speckle_noise", "multiplicative Gaussian noise x + x·N(0, sigma)", SPECKLE),
    speckle_noise,
);

fn normal(rng: &mut Rng) -> f32 {
    StandardNormal.sample(rng)
}

fn gaussian_noise(img: &Image, s: Setting, rng: &mut Rng) -> Image {
    let sd = 255.0 * s.get("sigma");
    img.with_bytes(img.as_bytes().iter().map(|&v| clamp_u8(f32::from(v) + sd * normal(rng))).collect())
}

fn speckle_noise(img: &Image, s: Setting, rng: &mut Rng) -> Image {
    let sigma = s.get("sigma");
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

/// Each value independently becomes salt or pepper with probability
/// `amount`. The gaps between hits are geometric, so they are drawn
/// directly (one logarithm a hit) instead of one draw per value.
fn impulse_noise(img: &Image, s: Setting, rng: &mut Rng) -> Image {
    let amount = f64::from(s.get("amount")).clamp(0.0, 1.0);
    let mut out = img.clone();
    if amount == 0.0 {
        return out;
    }
    let data = out.as_bytes_mut();
    // P(gap >= g) = (1 - amount)^g; amount 1 makes every gap 0.
    let log_miss = (1.0 - amount).ln();
    let mut i = 0usize;
    while i < data.len() {
        let gap = if amount >= 1.0 { 0.0 } else { ((1.0 - rng.random::<f64>()).ln() / log_miss).floor() };
        if gap >= (data.len() - i) as f64 {
            break;
        }
        i += gap as usize;
        data[i] = if rng.random::<bool>() { 255 } else { 0 };
        i += 1;
    }
    out
}

/// Below this mean a Poisson draw is exact (inversion of its CDF); above
/// it, the normal approximation N(λ, λ) is within the 8-bit rounding.
const POISSON_EXACT_BELOW: f32 = 30.0;

fn shot_noise(img: &Image, s: Setting, rng: &mut Rng) -> Image {
    let photons = s.get("photons");
    // Only 256 distinct means: λ per byte value, and a sampling table for
    // each value the image has.
    let lambda: Vec<f32> = (0..256).map(|v| v as f32 / 255.0 * photons).collect();
    let mut present = [false; 256];
    img.as_bytes().iter().for_each(|&v| present[usize::from(v)] = true);
    let tables = PoissonTables::new(&lambda, &present);
    let to_byte = 255.0 / photons;
    img.with_bytes(
        img.as_bytes()
            .iter()
            .map(|&v| {
                let l = lambda[usize::from(v)];
                let count = if l < POISSON_EXACT_BELOW {
                    tables.draw(v, rng.random::<f32>()) as f32
                } else {
                    (l + l.sqrt() * normal(rng)).max(0.0).round()
                };
                clamp_u8(count * to_byte)
            })
            .collect(),
    )
}

/// Exact Poisson draws by inverting the CDF with a guide table (Chen &
/// Asau 1974): one uniform and one or two comparisons a draw, where
/// multiplying uniforms until the product falls below e^-λ (Knuth) takes
/// λ + 1 uniforms and a branch each.
struct PoissonTables {
    /// Each byte value's CDF, 1 at its last entry (the tail beyond
    /// 1 - 1e-9 folded into it), concatenated.
    cdf: Vec<f32>,
    start: [usize; 256],
    /// Per byte value, for each of `GUIDE` equal slices of [0, 1), the
    /// first count whose CDF passes the slice's start.
    guide: Vec<u8>,
}

const GUIDE: usize = 32;

impl PoissonTables {
    fn new(lambda: &[f32], present: &[bool; 256]) -> Self {
        let mut cdf = Vec::new();
        let mut start = [0usize; 256];
        let mut guide = vec![0u8; 256 * GUIDE];
        for v in (0..256).filter(|&v| present[v] && lambda[v] < POISSON_EXACT_BELOW) {
            let l = f64::from(lambda[v]);
            start[v] = cdf.len();
            let (mut p, mut sum, mut k) = ((-l).exp(), 0.0f64, 0u32);
            loop {
                sum += p;
                if sum >= 1.0 - 1e-9 || k >= 200 {
                    cdf.push(1.0);
                    break;
                }
                cdf.push(sum as f32);
                k += 1;
                p *= l / f64::from(k);
            }
            let own = &cdf[start[v]..];
            let mut k = 0;
            for (g, slot) in guide[v * GUIDE..(v + 1) * GUIDE].iter_mut().enumerate() {
                let from = g as f32 / GUIDE as f32;
                while own[k] <= from {
                    k += 1;
                }
                *slot = k as u8;
            }
        }
        PoissonTables { cdf, start, guide }
    }

    /// The count for byte value `v` at uniform `u` in [0, 1).
    #[inline(always)]
    fn draw(&self, v: u8, u: f32) -> u32 {
        let v = usize::from(v);
        let own = &self.cdf[self.start[v]..];
        let mut k = usize::from(self.guide[v * GUIDE + (u * GUIDE as f32) as usize]);
        while u >= own[k] {
            k += 1;
        }
        k as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed;
    use crate::severity::Severity;

    fn cifar(op: &ImageOp, severity: u8) -> Setting {
        let params = op.info.tables.iter().find(|t| t.table == Table::Cifar10C).expect("cifar10_c table");
        Setting::new(params, Severity::new(i64::from(severity)).expect("valid"))
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
        let out = gaussian_noise(&flat(128), cifar(&GAUSSIAN_NOISE, 5), &mut seed::rng(1));
        let (mean, sd) = mean_sd(&out);
        assert!((mean - 128.0).abs() < 1.0, "{mean}");
        assert!((sd - 25.5).abs() < 1.0, "{sd}");
    }

    #[test]
    fn shot_noise_variance_follows_the_photon_count() {
        // x = 0.5, photons 50: counts ~ Poisson(25), sd = 5/50 of full scale.
        let out = shot_noise(&flat(128), cifar(&SHOT_NOISE, 5), &mut seed::rng(2));
        let (mean, sd) = mean_sd(&out);
        let lambda: f32 = 128.0 / 255.0 * 50.0;
        assert!((mean - 128.0).abs() < 1.5, "{mean}");
        assert!((sd - lambda.sqrt() * 255.0 / 50.0).abs() < 1.5, "{sd}");
        // Black has no photons: it stays black.
        assert_eq!(shot_noise(&flat(0), cifar(&SHOT_NOISE, 5), &mut seed::rng(2)), flat(0));
    }

    #[test]
    fn poisson_draws_have_the_poisson_probabilities() {
        // λ = 3: P(k) = e^-3 3^k / k!, from 20,000 draws of one byte value.
        let mut present = [false; 256];
        present[51] = true;
        let lambda: Vec<f32> = (0..256).map(|v| v as f32 / 255.0 * 15.0).collect();
        let tables = PoissonTables::new(&lambda, &present);
        let mut rng = seed::rng(9);
        let n = 20_000;
        let mut counts = [0u32; 16];
        for _ in 0..n {
            counts[(tables.draw(51, rng.random::<f32>()) as usize).min(15)] += 1;
        }
        let mut p = (-3.0f64).exp();
        for (k, &c) in counts.iter().enumerate().take(9) {
            let sd = (p * (1.0 - p) / f64::from(n)).sqrt();
            assert!((f64::from(c) / f64::from(n) - p).abs() < 4.0 * sd + 1e-4, "P({k}) = {p}, got {c}");
            p *= 3.0 / (k + 1) as f64;
        }
        // The ends of [0, 1): no count at all, and a count in the far tail.
        assert_eq!(tables.draw(51, 0.0), 0);
        assert!(tables.draw(51, 1.0 - f32::EPSILON) >= 9);
    }

    #[test]
    fn impulse_noise_hits_about_the_table_share() {
        let out = impulse_noise(&flat(100), cifar(&IMPULSE_NOISE, 5), &mut seed::rng(3));
        let hit = out.as_bytes().iter().filter(|&&v| v != 100).count() as f32 / 4096.0;
        assert!((hit - 0.07).abs() < 0.015, "{hit}");
        assert!(out.as_bytes().iter().all(|&v| [0, 100, 255].contains(&v)));
        // Salt and pepper equally often; runs of hits as often as
        // independent draws give them (P(next hit | hit) = amount).
        let hits: Vec<bool> = out.as_bytes().iter().map(|&v| v != 100).collect();
        let salt = out.as_bytes().iter().filter(|&&v| v == 255).count() as f32;
        assert!((salt / (hit * 4096.0) - 0.5).abs() < 0.08, "{salt}");
        let (mut pairs, mut both) = (0.0f32, 0.0f32);
        let big =
            impulse_noise(&Image::filled(256, 256, 1, 100), cifar(&IMPULSE_NOISE, 5), &mut seed::rng(6));
        let big: Vec<bool> = big.as_bytes().iter().map(|&v| v != 100).collect();
        for w in big.windows(2).filter(|w| w[0]) {
            pairs += 1.0;
            both += f32::from(u8::from(w[1]));
        }
        assert!((both / pairs - 0.07).abs() < 0.02, "{}", both / pairs);
        assert!(hits.iter().any(|&h| h));
        const ALL: &[Row] = &[row("amount", [1.0; 5])];
        let all = Setting::new(&TableParams::graded(Table::Cifar10C, ALL), Severity::new(1).expect("valid"));
        assert!(
            impulse_noise(&flat(100), all, &mut seed::rng(1)).as_bytes().iter().all(|&v| v == 0 || v == 255)
        );
    }

    #[test]
    fn speckle_leaves_black_black() {
        let out = speckle_noise(&flat(0), cifar(&SPECKLE_NOISE, 5), &mut seed::rng(4));
        assert_eq!(out, flat(0));
        // sd = x · sigma = 100 · 0.2, far from clipping.
        let (_, sd) = mean_sd(&speckle_noise(&flat(100), cifar(&SPECKLE_NOISE, 5), &mut seed::rng(4)));
        assert!((sd - 20.0).abs() < 1.0, "{sd}");
    }
}
