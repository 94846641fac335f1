//! The privacy accountant of DP-SGD: Rényi differential privacy of the
//! Poisson-sampled Gaussian mechanism (Mironov 2017; Mironov, Talwar and
//! Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian
//! Mechanism"), composed over steps and converted to (ε, δ) with the
//! conversion of Balle et al. 2020 (Theorem 21), as Opacus and Google's
//! dp-accounting do. The orders are theirs too, so the same settings give
//! the same ε.

use std::f64::consts::PI;

/// The Rényi orders ε is minimised over: Opacus' default grid.
pub fn orders() -> Vec<f64> {
    (1..100).map(|x| 1.0 + f64::from(x) / 10.0).chain((12..64).map(f64::from)).collect()
}

/// Sampling rate, noise and steps of one DP-SGD training run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mechanism {
    /// Poisson sampling rate q: expected batch size over training rows.
    pub sample_rate: f64,
    /// Noise standard deviation over the clipping norm, σ.
    pub noise_multiplier: f64,
}

impl Mechanism {
    /// ε after `steps` steps at `delta`, and the order that gave it
    /// (0 and NaN before the first step, which releases nothing).
    pub fn epsilon(&self, steps: u64, delta: f64) -> (f64, f64) {
        if steps == 0 {
            return (0.0, f64::NAN);
        }
        let orders = orders();
        let mut best = (f64::INFINITY, f64::NAN);
        for &alpha in &orders {
            let rdp = steps as f64 * rdp(self.sample_rate, self.noise_multiplier, alpha);
            let eps = rdp - (delta.ln() + alpha.ln()) / (alpha - 1.0) + ((alpha - 1.0) / alpha).ln();
            if eps.is_finite() && eps < best.0 {
                best = (eps.max(0.0), alpha);
            }
        }
        best
    }
}

/// Why a target ε cannot be reached.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "a target epsilon of {target} cannot be met in {steps} steps at sampling rate {sample_rate:.5} and delta {delta:e}: even a noise multiplier of {MAX_NOISE} spends {floor:.3}. Raise `train.privacy.epsilon`, train fewer epochs or a smaller expected batch, or raise delta"
)]
pub struct Unreachable {
    /// The target.
    pub target: f64,
    /// Planned steps.
    pub steps: u64,
    /// q.
    pub sample_rate: f64,
    /// δ.
    pub delta: f64,
    /// ε at the largest noise tried.
    pub floor: f64,
}

/// The largest noise multiplier the solver tries.
pub const MAX_NOISE: f64 = 1000.0;

/// The smallest noise multiplier whose ε after `steps` steps is at most
/// `target` (to a relative 1e-4 of σ), as Opacus' `get_noise_multiplier`.
pub fn noise_for(target: f64, sample_rate: f64, steps: u64, delta: f64) -> Result<f64, Unreachable> {
    let eps = |sigma: f64| Mechanism { sample_rate, noise_multiplier: sigma }.epsilon(steps, delta).0;
    let floor = eps(MAX_NOISE);
    if floor > target {
        return Err(Unreachable { target, steps, sample_rate, delta, floor });
    }
    // ε falls as σ grows; bisect in log σ between a σ that spends too much and one that does not.
    let (mut lo, mut hi) = (1e-2_f64, MAX_NOISE);
    if eps(lo) <= target {
        return Ok(lo);
    }
    while hi / lo > 1.0 + 1e-4 {
        let mid = (lo * hi).sqrt();
        if eps(mid) > target { lo = mid } else { hi = mid }
    }
    Ok(hi)
}

/// The conventional δ for `n` training rows: the largest power of ten below 1/n.
pub fn default_delta(n: usize) -> f64 {
    10f64.powi(-((n.max(2) as f64).log10().floor() as i32 + 1))
}

/// RDP of one step of the sampled Gaussian mechanism at order `alpha` > 1.
pub fn rdp(q: f64, sigma: f64, alpha: f64) -> f64 {
    if q == 0.0 {
        return 0.0;
    }
    if sigma == 0.0 {
        return f64::INFINITY;
    }
    if q == 1.0 {
        return alpha / (2.0 * sigma * sigma);
    }
    let log_a =
        if alpha.fract() == 0.0 { log_a_int(q, sigma, alpha as u64) } else { log_a_frac(q, sigma, alpha) };
    log_a / (alpha - 1.0)
}

/// log A_α for integer α: the binomial expansion (Mironov et al. 2019, eq. 3).
fn log_a_int(q: f64, sigma: f64, alpha: u64) -> f64 {
    let mut log_a = f64::NEG_INFINITY;
    for i in 0..=alpha {
        let i_f = i as f64;
        let log_coef = ln_binomial(alpha, i) + i_f * q.ln() + (alpha - i) as f64 * (1.0 - q).ln();
        log_a = log_add(log_a, log_coef + (i_f * i_f - i_f) / (2.0 * sigma * sigma));
    }
    log_a
}

/// log A_α for fractional α: the two-sided series of Mironov et al. 2019
/// (section 3.3), summed until both terms fall below e^-30.
fn log_a_frac(q: f64, sigma: f64, alpha: f64) -> f64 {
    let (mut log_a0, mut log_a1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let z0 = sigma * sigma * (1.0 / q - 1.0).ln() + 0.5;
    // The generalised binomial coefficient, carried as log|c| and its sign.
    let (mut log_coef, mut positive) = (0.0_f64, true);
    for i in 0..100_000u32 {
        let i_f = f64::from(i);
        let j = alpha - i_f;
        let log_t0 = log_coef + i_f * q.ln() + j * (1.0 - q).ln();
        let log_t1 = log_coef + j * q.ln() + i_f * (1.0 - q).ln();
        let log_e0 = 0.5f64.ln() + log_erfc((i_f - z0) / (2f64.sqrt() * sigma));
        let log_e1 = 0.5f64.ln() + log_erfc((z0 - j) / (2f64.sqrt() * sigma));
        let log_s0 = log_t0 + (i_f * i_f - i_f) / (2.0 * sigma * sigma) + log_e0;
        let log_s1 = log_t1 + (j * j - j) / (2.0 * sigma * sigma) + log_e1;
        if positive {
            log_a0 = log_add(log_a0, log_s0);
            log_a1 = log_add(log_a1, log_s1);
        } else {
            log_a0 = log_sub(log_a0, log_s0);
            log_a1 = log_sub(log_a1, log_s1);
        }
        if log_s0.max(log_s1) < -30.0 {
            break;
        }
        // c(α, i+1) = c(α, i) · (α − i) / (i + 1)
        let ratio = (alpha - i_f) / (i_f + 1.0);
        if ratio == 0.0 {
            break;
        }
        log_coef += ratio.abs().ln();
        positive ^= ratio < 0.0;
    }
    log_add(log_a0, log_a1)
}

fn ln_binomial(n: u64, k: u64) -> f64 {
    (1..=k).map(|i| ((n - k + i) as f64 / i as f64).ln()).sum()
}

/// log(e^a + e^b).
fn log_add(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY { hi } else { hi + (lo - hi).exp().ln_1p() }
}

/// log(e^a − e^b) for a ≥ b; −∞ when they are equal.
fn log_sub(a: f64, b: f64) -> f64 {
    if b == f64::NEG_INFINITY {
        return a;
    }
    if a <= b {
        return f64::NEG_INFINITY;
    }
    a + (-(b - a).exp()).ln_1p()
}

/// log erfc(x), accurate where erfc underflows (x beyond about 26).
fn log_erfc(x: f64) -> f64 {
    if x < 20.0 {
        return libm::erfc(x).ln();
    }
    // Asymptotic series: erfc(x) = e^{-x²}/(x√π) · (1 − 1/(2x²) + 3/(4x⁴) − …).
    let x2 = x * x;
    -x2 - (x * PI.sqrt()).ln() + (1.0 - 0.5 / x2 + 0.75 / (x2 * x2) - 1.875 / (x2 * x2 * x2)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs()
    }

    /// ε printed by Opacus 1.6.0 (`RDPAccountant` analysis, its default
    /// orders) and by dp-accounting 0.6.0 (`RdpAccountant`, same orders),
    /// which agree to 1e-9 on these settings; produced by
    /// `bench/dp_accountant_reference.py`.
    #[test]
    fn epsilon_matches_opacus_and_dp_accounting() {
        let cases = [
            // TensorFlow Privacy's MNIST tutorial: batch 256 of 60,000, σ 1.1, 60 epochs.
            (256.0 / 60000.0, 1.1, 14062, 1e-5, 2.5965558689607486),
            // Abadi et al. 2016's MNIST lots of 600 (q = 0.01) at σ 2, 4, 8, 100 epochs.
            (0.01, 2.0, 10000, 1e-5, 2.3529131287817933),
            (0.01, 4.0, 10000, 1e-5, 1.0354900660362476),
            (0.01, 8.0, 10000, 1e-5, 0.4808488123032748),
            // Opacus' MNIST example: batch 240 of 60,000, σ 1.0, 10 epochs.
            (0.004, 1.0, 2500, 1e-5, 1.3131023186712891),
            // No sampling: the plain Gaussian mechanism composed 10 times.
            (1.0, 5.0, 10, 1e-5, 2.8136532471298397),
        ];
        for (q, sigma, steps, delta, want) in cases {
            let (got, _) = Mechanism { sample_rate: q, noise_multiplier: sigma }.epsilon(steps, delta);
            assert!(close(got, want, 1e-4), "q {q} σ {sigma} steps {steps}: {got} vs {want}");
        }
    }

    #[test]
    fn per_order_rdp_matches_opacus() {
        // Opacus `_compute_rdp(0.01, 1.1, α)`.
        for (alpha, want) in [
            (1.5, 9.554528557684942e-05),
            (2.0, 0.00012851008160514807),
            (2.5, 0.00016207740933199663),
            (8.0, 0.0005840703355202467),
            (32.0, 8.469416433675926),
            (63.0, 21.353610726767897),
        ] {
            let got = rdp(0.01, 1.1, alpha);
            assert!(close(got, want, 1e-6), "α {alpha}: {got} vs {want}");
        }
    }

    #[test]
    fn solved_noise_matches_opacus_and_spends_at_most_the_target() {
        // Opacus `get_noise_multiplier(accountant="rdp", epsilon_tolerance=0.001)`
        // for batch 256 of 60,000 over 60 epochs at δ 1e-5.
        let (q, steps) = (256.0 / 60000.0, 14062);
        for (target, want) in [(1.0, 2.178955078125), (2.0, 1.29547119140625), (8.0, 0.6780433654785156)] {
            let sigma = noise_for(target, q, steps, 1e-5).expect("reachable");
            assert!(close(sigma, want, 2e-3), "ε {target}: σ {sigma} vs {want}");
            let spent = Mechanism { sample_rate: q, noise_multiplier: sigma }.epsilon(steps, 1e-5).0;
            assert!(spent <= target && spent > 0.99 * target, "ε {target}: spends {spent}");
        }
    }

    #[test]
    fn an_unreachable_target_is_refused_with_its_floor() {
        let err = noise_for(0.05, 0.01, 10000, 1e-5).unwrap_err();
        assert!(err.floor > 0.05, "{err}");
        assert!(err.to_string().contains("train.privacy.epsilon"), "{err}");
    }

    #[test]
    fn epsilon_grows_with_steps_and_falls_with_noise() {
        let m = Mechanism { sample_rate: 0.02, noise_multiplier: 1.0 };
        let (e1, e2) = (m.epsilon(100, 1e-5).0, m.epsilon(1000, 1e-5).0);
        assert!(e1 < e2, "{e1} {e2}");
        let quieter = Mechanism { noise_multiplier: 2.0, ..m }.epsilon(1000, 1e-5).0;
        assert!(quieter < e2);
        assert_eq!(m.epsilon(0, 1e-5).0, 0.0);
    }

    #[test]
    fn default_delta_is_the_power_of_ten_below_one_over_n() {
        assert_eq!(default_delta(60_000), 1e-5);
        assert_eq!(default_delta(480), 1e-3);
        assert_eq!(default_delta(1000), 1e-4);
        assert!(default_delta(99_999) < 1.0 / 99_999.0);
    }

    #[test]
    fn log_erfc_is_continuous_across_its_two_forms() {
        let (a, b) = (log_erfc(20.0 - 1e-9), log_erfc(20.0));
        assert!((a - b).abs() < 1e-6, "{a} {b}");
        assert!(log_erfc(40.0).is_finite());
        assert!((log_erfc(0.0)).abs() < 1e-15);
    }
}
