//! MACER (Zhai et al. 2020): training that maximises the certified radius
//! of the smoothed classifier directly, without an attack. Over `k` noisy
//! copies of each example the loss is the cross-entropy of the copies' mean
//! softmax plus λ times a hinge on the radius σ/2 · (Φ⁻¹(p₁) − Φ⁻¹(p₂)) of
//! a softened (β) mean prediction, on the rows it already gets right and
//! whose radius is within the margin γ: the reference code's `macer_train`.

use burn::prelude::*;
use burn::tensor::activation::softmax;

use crate::config::MacerPlan;

/// The batch's MACER loss: `logits` are `k` noisy copies of the `n` rows of
/// `targets`, copy-major (`[k · n, classes]`). The classification term is
/// summed over rows, the robustness term over the rows it applies to, and
/// their sum divided by `n`, as the reference does.
pub fn loss(logits: Tensor<2>, targets: Tensor<1, Int>, k: usize, sigma: f64, plan: &MacerPlan) -> Tensor<1> {
    let [rows, classes] = logits.dims();
    let n = rows / k;
    let per_copy = logits.reshape([k, n, classes]);
    let mean = softmax(per_copy.clone(), 2).mean_dim(0).reshape([n, classes]);
    let picked = (mean + 1e-10).log().gather(1, targets.clone().reshape([n, 1]));
    let classification = picked.sum().neg();
    if plan.weight == 0.0 {
        return classification / n as f64;
    }
    let soft = softmax(per_copy * plan.beta, 2).mean_dim(0).reshape([n, classes]);
    let (_, top) = soft.clone().detach().topk_with_indices(2, 1);
    let pair = soft.gather(1, top.clone());
    let (first, second) = (pair.clone().slice([0..n, 0..1]), pair.slice([0..n, 1..2]));
    let (p1, p2) = (first.clone().detach(), second.clone().detach());
    let gap = probit(second) - probit(first);
    // Rows the smoothed model gets right, whose radius is finite and within γ.
    let right = top.slice([0..n, 0..1]).equal(targets.reshape([n, 1]));
    let applies = right
        .bool_and(p1.lower_elem(1.0))
        .bool_and(p2.greater_elem(0.0))
        .bool_and(gap.clone().detach().abs().lower_equal_elem(plan.margin));
    let robustness = (gap + plan.margin).mask_fill(applies.bool_not(), 0.0).sum() * (sigma / 2.0);
    (classification + robustness * plan.weight) / n as f64
}

/// Φ⁻¹(p), the standard normal quantile, differentiable in `p`: the value
/// from Acklam's rational approximation (1.2e-9 in exact arithmetic, a few
/// parts in a million in float32), the gradient the exact 1/φ(Φ⁻¹(p)) at
/// it, on the device (no read back per step). `p` is clamped into
/// (0, 1) first so both stay finite; [`loss`] leaves out the rows where
/// that changed a probability.
pub fn probit(p: Tensor<2>) -> Tensor<2> {
    let fixed = p.clone().detach();
    let z = acklam(fixed.clone().clamp(1e-37, 1.0 - 6e-8));
    let slope = inverse_density(z.clone());
    z + (p - fixed) * slope
}

/// 1/φ(z), the derivative of Φ⁻¹ at Φ(z).
fn inverse_density(z: Tensor<2>) -> Tensor<2> {
    (z.powi_scalar(2) * 0.5).exp() * (2.0 * std::f64::consts::PI).sqrt()
}

/// Acklam's approximation of Φ⁻¹ on values strictly inside (0, 1).
fn acklam(p: Tensor<2>) -> Tensor<2> {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549671010229528,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    const LOW: f64 = 0.02425;
    // Horner's rule; `lead` is the polynomial's constant term after `coefficients`.
    let horner = |x: &Tensor<2>, coefficients: &[f64], lead: f64| {
        coefficients.iter().skip(1).fold(x.clone() * coefficients[0], |acc, &c| (acc + c) * x.clone()) + lead
    };
    let tail = |q: Tensor<2>| horner(&q, &C[..5], C[5]) / (horner(&q, &D, 1.0));
    let q = p.clone() - 0.5;
    let r = q.clone().powi_scalar(2);
    let central = horner(&r, &A[..5], A[5]) * q / horner(&r, &B, 1.0);
    // In float32 the central ratio loses digits to cancellation near the
    // tails (1e-4 at p = 0.024); one Newton step on Φ(z) = p wins them back.
    // The tails are left alone: there 1 + erf cancels instead.
    let cdf = ((central.clone() / std::f64::consts::SQRT_2).erf() + 1.0) * 0.5;
    let central = central.clone() - (cdf - p.clone()) * inverse_density(central);
    let lower = tail((p.clone().log() * -2.0).sqrt());
    let upper = tail(((p.clone().neg() + 1.0).log() * -2.0).sqrt()).neg();
    central.mask_where(p.clone().lower_elem(LOW), lower).mask_where(p.greater_elem(1.0 - LOW), upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(values: &[f32]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(values.to_vec(), [values.len(), 1]), &Device::flex())
    }

    fn host(t: Tensor<2>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32")
    }

    /// SciPy's `norm.ppf` at the float32 values of the probabilities
    /// (bench/macer_reference.py prints them).
    const QUANTILES: [(f32, f64); 13] = [
        (1e-30, -11.464024688169063),
        (1e-10, -6.361340900353645),
        (1e-4, -3.719016491837455),
        (0.01, -2.3263478824273123),
        (0.02425, -1.972961038756984),
        (0.1, -1.2815515570538296),
        (0.3, -0.5244004784222137),
        (0.5, 0.0),
        (0.7, 0.5244004784222137),
        (0.97575, 1.9729615618780934),
        (0.99, 2.3263482318637534),
        (0.9999, 3.718974568757522),
        (0.9999999, 5.1665781197287535),
    ];

    #[test]
    fn probit_matches_scipy_across_both_tails() {
        let p: Vec<f32> = QUANTILES.iter().map(|q| q.0).collect();
        for ((p, want), got) in QUANTILES.iter().zip(host(probit(column(&p)))) {
            let err = (f64::from(got) - want).abs();
            // Acklam's 1.2e-9 drowns in float32 arithmetic: a few parts in a million.
            assert!(err <= 1e-6 + 1e-5 * want.abs(), "Φ⁻¹({p}) = {got}, SciPy {want}");
        }
    }

    #[test]
    fn probit_has_the_exact_gradient() {
        let p: Vec<f32> = vec![1e-6, 0.01, 0.3, 0.5, 0.9, 0.999];
        let leaf = column(&p).autodiff().require_grad();
        let grads = probit(leaf.clone()).sum().backward();
        let got = host(leaf.grad(&grads).expect("a gradient"));
        for (&p, g) in p.iter().zip(got) {
            let z = crate::certify::bounds::normal_quantile(f64::from(p));
            let want = (2.0 * std::f64::consts::PI).sqrt() * (z * z / 2.0).exp();
            assert!((f64::from(g) - want).abs() < 1e-4 * want, "dΦ⁻¹/dp at {p}: {g} vs {want}");
        }
    }

    /// bench/macer_reference.py's logits, `[n, k, classes]`.
    const LOGITS: [[[f32; 4]; 3]; 4] = [
        [[0.1, 0.09, -0.082, -0.267], [-0.036, -0.297, 0.018, 0.402], [-0.048, -0.186, 0.147, 0.107]],
        [[0.032, 0.021, -0.009, 0.209], [-0.403, 0.163, -0.57, -0.387], [-0.553, 0.229, -0.38, 0.081]],
        [[0.047, -0.056, -0.155, -0.162], [-0.015, 0.034, 0.141, -0.143], [-0.294, -0.243, 0.918, -0.242]],
        [[-0.01, 0.265, -0.175, -0.034], [0.033, 0.019, -0.368, 0.023], [0.408, -0.464, 0.258, 0.036]],
    ];

    #[test]
    fn the_loss_matches_the_reference_code() {
        // Copy-major, as a training batch of noisy copies is laid out.
        let flat: Vec<f32> = (0..3).flat_map(|j| (0..4).flat_map(move |i| LOGITS[i][j])).collect();
        let logits = || Tensor::<2>::from_data(TensorData::new(flat.clone(), [12, 4]), &Device::flex());
        let targets =
            || Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1, 2, 2], [4]), &Device::flex());
        // Rows 0 and 3 are wrong and left out; γ 0.85 leaves out row 1 (gap 0.856) too.
        for (name, sigma, weight, margin, beta, want) in [
            ("defaults", 0.25, 12.0, 8.0, 16.0, 6.632416428130386),
            ("tight margin", 0.5, 4.0, 0.85, 16.0, 1.2705292556100618),
            ("soft", 0.25, 12.0, 8.0, 2.0, 6.895522955341934),
            // λ 0: the cross-entropy of the mean prediction alone.
            ("no radius term", 0.25, 0.0, 8.0, 16.0, 1.267197186853642),
        ] {
            let plan = MacerPlan { weight, margin, beta };
            let got: f32 = loss(logits(), targets(), 3, sigma, &plan).into_scalar();
            assert!((f64::from(got) - want).abs() < 1e-5 * want, "{name}: {got} vs {want}");
        }
    }
}
