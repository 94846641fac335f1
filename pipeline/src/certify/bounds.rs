//! The statistics randomized smoothing needs (Cohen, Rosenfeld & Kolter
//! 2019): for CERTIFY, a one-sided Clopper-Pearson lower bound on the top
//! class's probability under noise and the standard normal quantile that
//! turns it into an L2 radius; for PREDICT, the two-sided binomial test of
//! the top two counts. Written here on `libm` rather than pulled in with a
//! statistics crate: three functions, checked against SciPy's values.

/// `ln Γ(x)` for `x > 0`.
fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// The regularized incomplete beta function `I_x(a, b)`, by the continued
/// fraction (modified Lentz), on the side where it converges fast.
pub fn regularized_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * continued_fraction(x, a, b) / a
    } else {
        1.0 - ln_front.exp() * continued_fraction(1.0 - x, b, a) / b
    }
}

fn continued_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    // Converges in O(√max(a, b)) terms; 100,000 samples take a few hundred.
    for m in 1..=100_000 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        for num in [
            m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)),
        ] {
            d = 1.0 + num * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + num / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// The one-sided `1 − alpha` Clopper-Pearson lower bound on a binomial
/// proportion from `successes` of `trials`: the `alpha` quantile of
/// Beta(k, n − k + 1), 0 when nothing succeeded. What Cohen et al.'s
/// `proportion_confint(k, n, alpha=2*alpha, method="beta")[0]` returns.
pub fn clopper_pearson_lower(successes: usize, trials: usize, alpha: f64) -> f64 {
    if successes == 0 || trials == 0 {
        return 0.0;
    }
    let (a, b) = (successes as f64, (trials - successes) as f64 + 1.0);
    if successes == trials {
        // Beta(n, 1) has CDF x^n.
        return alpha.powf(1.0 / a);
    }
    // I_x(a, b) rises from 0 to 1 in x: bisect to the last bit.
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if regularized_beta(mid, a, b) < alpha {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The two-sided binomial test's p-value for `successes` of `trials`
/// against p = ½: what Cohen et al.'s PREDICT calls as `binom_test(count1,
/// count1 + count2, p=0.5)`. The distribution is symmetric, so the two
/// tails are equal: twice the upper tail P(X ≥ k) = I_½(k, n − k + 1) of
/// the larger count k, at most 1.
pub fn binomial_test_half(successes: usize, trials: usize) -> f64 {
    let k = successes.max(trials.saturating_sub(successes));
    if trials == 0 || 2 * k == trials {
        return 1.0;
    }
    (2.0 * regularized_beta(0.5, k as f64, (trials - k) as f64 + 1.0)).min(1.0)
}

/// The standard normal CDF.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// The standard normal quantile Φ⁻¹(p) for 0 < p < 1: Acklam's rational
/// approximation (relative error 1e-9) on the lower half, then one Halley
/// step on `erfc`, which leaves it at double precision; the upper half by
/// symmetry.
pub fn normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if p > 0.5 {
        // 1 − p is exact here (Sterbenz), and Φ(x) − p near 1 would cancel.
        return -normal_quantile(1.0 - p);
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    const LOW: f64 = 0.024_25;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    // Halley's step on Φ(x) − p.
    let e = normal_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SciPy 1.14.1 and statsmodels 0.14.4, from
    /// `bench/certify_reference.py`: (k, n, alpha, `proportion_confint(k, n,
    /// alpha=2*alpha, method="beta")[0]`).
    const LOWER: &[(usize, usize, f64, f64)] = &include!("../../tests/fixtures/clopper_pearson.rs.in");

    /// (p, `scipy.stats.norm.ppf(p)`).
    const QUANTILE: &[(f64, f64)] = &include!("../../tests/fixtures/normal_quantile.rs.in");

    /// (k, n, `scipy.stats.binomtest(k, n, 0.5).pvalue`).
    const BINOMIAL: &[(usize, usize, f64)] = &include!("../../tests/fixtures/binomial_test.rs.in");

    #[test]
    fn the_binomial_test_matches_scipy() {
        assert!(BINOMIAL.len() >= 50);
        for &(k, n, want) in BINOMIAL {
            let got = binomial_test_half(k, n);
            // SciPy flushes tails below f64's normal range to 0.
            assert!((got - want).abs() <= 1e-10 * want + 1e-300, "({k}, {n}): {got} vs {want}");
        }
    }

    #[test]
    fn clopper_pearson_matches_statsmodels() {
        assert!(LOWER.len() >= 20);
        for &(k, n, alpha, want) in LOWER {
            let got = clopper_pearson_lower(k, n, alpha);
            assert!(
                (got - want).abs() <= 1e-10 * want.max(1e-300) + 1e-13,
                "({k}, {n}, {alpha}): {got} vs {want}"
            );
        }
    }

    #[test]
    fn normal_quantile_matches_scipy() {
        assert!(QUANTILE.len() >= 20);
        for &(p, want) in QUANTILE {
            let got = normal_quantile(p);
            assert!((got - want).abs() <= 1e-12 * want.abs().max(1.0), "Φ⁻¹({p}): {got} vs {want}");
        }
    }

    #[test]
    fn the_bound_holds_its_coverage_by_definition() {
        // P(Bin(n, p_low) ≥ k) = alpha at the bound: the upper binomial tail is I_p(k, n−k+1).
        for (k, n) in [(1, 10), (37, 100), (990, 1000), (99_950, 100_000)] {
            let p = clopper_pearson_lower(k, n, 0.001);
            let tail = regularized_beta(p, k as f64, (n - k) as f64 + 1.0);
            assert!((tail - 0.001).abs() < 1e-9, "({k}, {n}): tail {tail}");
            assert!(p < k as f64 / n as f64);
        }
        assert_eq!(clopper_pearson_lower(0, 100, 0.001), 0.0);
        // All n: alpha^(1/n), as the beta CDF x^n gives.
        assert!((clopper_pearson_lower(100, 100, 0.001) - 0.001f64.powf(0.01)).abs() < 1e-15);
    }

    #[test]
    fn the_quantile_inverts_the_cdf() {
        for p in [1e-12, 1e-6, 0.01, 0.3, 0.5, 0.77, 0.999, 1.0 - 1e-9] {
            assert!((normal_cdf(normal_quantile(p)) - p).abs() <= 1e-14f64.max(p * 1e-12), "{p}");
        }
        assert_eq!(normal_quantile(0.5), 0.0);
    }
}
