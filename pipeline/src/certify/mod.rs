//! Certified L2 robustness by randomized smoothing (Cohen, Rosenfeld &
//! Kolter 2019, "Certified Adversarial Robustness via Randomized
//! Smoothing"). The smoothed classifier g(x) answers the class the model
//! most often predicts for x + N(0, σ²I); CERTIFY guesses that class from
//! `n0` noisy copies, estimates its probability from `n` fresh ones with a
//! one-sided Clopper-Pearson bound p̲ at level 1 − α, and, when p̲ > ½,
//! proves g constant within the L2 radius σ Φ⁻¹(p̲) (with probability at
//! least 1 − α over the noise); otherwise it abstains. Unlike an attack's
//! accuracy, which only bounds robustness from above, certified accuracy
//! at radius r bounds it from below.
//!
//! Noise is drawn on the host from a generator seeded by the run seed, the
//! row and σ, so a row's certificate does not depend on the backend, the
//! batch size or the rows beside it.
//!
//! `[eval.certify.attack]` adds the matching upper bound: SmoothAdv
//! (`smooth_adv`) attacks the smoothed classifier itself and PREDICT
//! answers on the adversarial images.

pub mod bounds;
pub mod smooth_adv;

use std::time::Instant;

use burn::prelude::*;
use rand_distr::{Distribution, StandardNormal};

use crate::attack::epsilon_key;
use crate::batch::{BatchError, EvalSetup};
use crate::config::CertifyPlan;
use crate::data::Dataset;
use crate::model::{Classifier, HostInput, ReadbackError, predicted_classes};
use crate::progress::Progress;
use crate::run::metrics::CertifyMetrics;

/// Why a model could not be certified.
#[derive(Debug, thiserror::Error)]
pub enum CertifyError {
    /// Predictions could not be read back.
    #[error(transparent)]
    Readback(#[from] ReadbackError),
    /// The rows could not be read.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// Smoothing adds Gaussian noise to pixels.
    #[error("randomized smoothing certifies image models (Gaussian noise on pixels); this model reads text")]
    Text,
    /// The device returned an attacked image outside the attack's ball.
    #[error(
        "SmoothAdv at L2 radius {radius}: test row {row} came back {size:.6} from its clean image (or outside \
         [0, 1]); the device computed the attack wrongly, so no figure is reported"
    )]
    OutsideBall {
        /// The test row.
        row: usize,
        /// The attack's radius.
        radius: f64,
        /// How far the image moved.
        size: f64,
    },
}

/// CERTIFY's answer for one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Certificate {
    /// The smoothed classifier's class; `None` when it abstains.
    pub class: Option<usize>,
    /// The certified L2 radius (0 when abstaining).
    pub radius: f64,
}

/// CERTIFY from the class counts of the selection (`n0`) and estimation
/// (`n`) samples: the top selection class, certified when its lower
/// confidence bound exceeds ½.
pub fn certify(selection: &[usize], estimation: &[usize], sigma: f64, alpha: f64) -> Certificate {
    let guess = top(selection);
    let n: usize = estimation.iter().sum();
    let p_low = bounds::clopper_pearson_lower(estimation.get(guess).copied().unwrap_or(0), n, alpha);
    if p_low <= 0.5 {
        return Certificate { class: None, radius: 0.0 };
    }
    Certificate { class: Some(guess), radius: sigma * bounds::normal_quantile(p_low) }
}

/// PREDICT (Cohen et al.'s Algorithm 1, prediction): the most counted
/// class when a two-sided binomial test of the top two counts rejects
/// their being equally likely at level `alpha`; otherwise abstain. Wrong
/// with probability at most `alpha` whatever the model.
pub fn predict(counts: &[usize], alpha: f64) -> Option<usize> {
    let first = top(counts);
    let second = counts.iter().enumerate().filter(|&(i, _)| i != first).map(|(_, &c)| c).max().unwrap_or(0);
    let count = counts.get(first).copied().unwrap_or(0);
    (bounds::binomial_test_half(count, count + second) <= alpha).then_some(first)
}

/// The most counted class, the lowest index among ties.
fn top(counts: &[usize]) -> usize {
    counts.iter().enumerate().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0))).map_or(0, |(i, _)| i)
}

/// The largest radius `n` samples can certify at level `alpha`: the bound
/// when every sample agrees. Certified accuracy is 0 beyond it whatever the
/// model, so the report says where the sample count, not the model, stops.
pub fn max_radius(sigma: f64, n: usize, alpha: f64) -> f64 {
    sigma * bounds::normal_quantile(bounds::clopper_pearson_lower(n, n, alpha))
}

/// Counts the model's predictions, by class, on `count` copies of `clean`
/// with noise of standard deviation `sigma`, `batch` copies per call.
#[allow(clippy::too_many_arguments)]
fn sample<M: Classifier>(
    model: &M,
    clean: &[f32],
    chw: [usize; 3],
    sigma: f32,
    count: usize,
    batch: usize,
    rng: &mut augment::seed::Rng,
    device: &Device,
) -> Result<Vec<usize>, CertifyError> {
    let mut counts = Vec::new();
    let mut left = count;
    while left > 0 {
        let k = left.min(batch.max(1));
        let mut pixels = Vec::with_capacity(k * clean.len());
        for _ in 0..k {
            pixels
                .extend(clean.iter().map(|&x| x + sigma * Distribution::<f32>::sample(&StandardNormal, rng)));
        }
        let input = HostInput::Images { pixels, shape: [k, chw[0], chw[1], chw[2]] };
        for class in predicted_classes(model.logits(input.to_device(device)))? {
            if counts.len() <= class {
                counts.resize(class + 1, 0);
            }
            counts[class] += 1;
        }
        left -= k;
    }
    Ok(counts)
}

/// CERTIFY for one image (`clean`, CHW pixels) at `sigma`, its noise drawn
/// from `seed`.
pub fn certify_image<M: Classifier>(
    model: &M,
    clean: &[f32],
    chw: [usize; 3],
    sigma: f64,
    plan: &CertifyPlan,
    seed: u64,
    device: &Device,
) -> Result<Certificate, CertifyError> {
    let mut rng = augment::seed::rng(seed);
    let selection = sample(model, clean, chw, sigma as f32, plan.n0, plan.batch, &mut rng, device)?;
    let estimation = sample(model, clean, chw, sigma as f32, plan.n, plan.batch, &mut rng, device)?;
    Ok(certify(&selection, &estimation, sigma, plan.alpha))
}

/// The certificates of `rows` of `test` at `sigma`, with their labels;
/// `done` hears of each row finished.
#[allow(clippy::too_many_arguments)]
pub fn certify_rows<M: Classifier>(
    model: &M,
    test: &Dataset,
    setup: &EvalSetup,
    plan: &CertifyPlan,
    sigma: f64,
    rows: &[usize],
    device: &Device,
    done: &mut dyn FnMut(),
) -> Result<Vec<(Certificate, usize)>, CertifyError> {
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(setup.eval.batch_size.max(1)) {
        let host = setup.clean_batch(test, chunk, model)?;
        let HostInput::Images { pixels, shape } = &host.input else { return Err(CertifyError::Text) };
        let chw = [shape[1], shape[2], shape[3]];
        let size = chw.iter().product::<usize>();
        for ((&row, clean), &label) in chunk.iter().zip(pixels.chunks_exact(size.max(1))).zip(&host.labels) {
            let seed = augment::seed::derive(setup.seed, row as u64, sigma.to_bits(), "certify");
            let cert = certify_image(model, clean, chw, sigma, plan, seed, device)?;
            out.push((cert, label as usize));
            done();
        }
    }
    Ok(out)
}

/// The figures of certificates with their labels: certified accuracy at
/// each of `radii` (right and certified at least that far), the abstention
/// rate and the average certified radius (a wrong or abstained row counts
/// 0, as in MACER, Zhai et al. 2020).
pub fn summarize(certs: &[(Certificate, usize)], plan: &CertifyPlan, sigma: f64) -> CertifyMetrics {
    let n = certs.len().max(1) as f64;
    let right: Vec<f64> =
        certs.iter().filter(|(c, label)| c.class == Some(*label)).map(|(c, _)| c.radius).collect();
    let accuracy = plan
        .radii
        .iter()
        .map(|&r| (epsilon_key(r), right.iter().filter(|&&radius| radius >= r).count() as f64 / n))
        .collect();
    CertifyMetrics {
        examples: certs.len(),
        n0: plan.n0,
        n: plan.n,
        alpha: plan.alpha,
        accuracy,
        abstain_rate: certs.iter().filter(|(c, _)| c.class.is_none()).count() as f64 / n,
        mean_radius: right.iter().sum::<f64>() / n,
        max_radius: max_radius(sigma, plan.n, plan.alpha),
        attack: None,
    }
}

/// Certifies the plan's first `examples` test rows at each σ that `keep`
/// accepts (a shard's cells): σ as metric keys write it, the figures, and
/// the wall seconds each took (logged; metrics stay free of times, so a
/// merged sharded evaluation equals an unsharded one).
pub fn evaluate<M: Classifier>(
    model: &M,
    test: &Dataset,
    setup: &EvalSetup,
    device: &Device,
    progress: &Progress,
    keep: &dyn Fn(f64) -> bool,
) -> Result<Vec<(String, CertifyMetrics, f64)>, CertifyError> {
    let mut out = Vec::new();
    let Some(plan) = &setup.eval.certify else { return Ok(out) };
    let sigmas: Vec<f64> = plan.sigmas.iter().copied().filter(|&s| keep(s)).collect();
    let rows: Vec<usize> = (0..test.len().min(plan.examples)).collect();
    let attacked = plan.attack.as_ref().map_or(0, |a| rows.len().min(a.examples));
    let bar = progress.bar(((rows.len() + attacked) * sigmas.len()) as u64, "certify");
    // SmoothAdv needs gradients at the input: a frozen copy on the autodiff device.
    let frozen = (plan.attack.is_some() && !sigmas.is_empty())
        .then(|| model.clone().to_device(&device.clone().autodiff()).freeze());
    for sigma in sigmas {
        bar.set_message(format!("σ={sigma}"));
        let started = Instant::now();
        let certs = certify_rows(model, test, setup, plan, sigma, &rows, device, &mut || bar.inc(1))?;
        let mut figures = summarize(&certs, plan, sigma);
        if let (Some(attack), Some(frozen)) = (&plan.attack, &frozen) {
            bar.set_message(format!("σ={sigma} SmoothAdv"));
            let hits = smooth_adv::attack_rows(
                model,
                frozen,
                test,
                setup,
                plan,
                attack,
                sigma,
                &rows[..attacked],
                device,
                &mut || bar.inc(1),
            )?;
            figures.attack = Some(smooth_adv::summarize(&hits, &certs, plan, attack));
        }
        out.push((epsilon_key(sigma), figures, started.elapsed().as_secs_f64()));
    }
    bar.finish_and_clear();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};
    use rand::Rng as _;

    use super::*;
    use crate::model::ModelInput;

    pub(super) fn plan(n0: usize, n: usize, batch: usize) -> CertifyPlan {
        CertifyPlan {
            sigmas: vec![0.25],
            n0,
            n,
            alpha: 0.001,
            examples: 100,
            radii: vec![0.0, 0.25, 0.5],
            batch,
            attack: None,
        }
    }

    #[test]
    fn certify_takes_the_selection_guess_and_its_lower_bound() {
        let sigma = 0.5;
        let c = certify(&[3, 90, 7], &[10, 980, 10], sigma, 0.001);
        let want = sigma * bounds::normal_quantile(bounds::clopper_pearson_lower(980, 1000, 0.001));
        assert_eq!(c.class, Some(1));
        assert!((c.radius - want).abs() < 1e-15 && c.radius > 0.0);
        // 520 of 1,000 bound below ½ at α = 0.001: abstain.
        assert_eq!(
            certify(&[10, 80, 10], &[450, 520, 30], sigma, 0.001),
            Certificate { class: None, radius: 0.0 }
        );
        // The estimate counts the selection's class, not whichever wins the estimation.
        assert_eq!(certify(&[60, 40, 0], &[100, 900, 0], sigma, 0.001).class, None);
        // Ties go to the lowest class, as argmax does.
        assert_eq!(certify(&[50, 50, 0], &[995, 5, 0], sigma, 0.001).class, Some(0));
    }

    #[test]
    fn the_largest_radius_is_the_bound_of_unanimous_samples() {
        // 1,000 unanimous samples at α = 0.001: p̲ = 0.001^(1/1000) = 0.99312, Φ⁻¹ = 2.4624.
        let r = max_radius(0.25, 1000, 0.001);
        assert!((r / 0.25 - 2.4624).abs() < 1e-3, "{r}");
        assert_eq!(certify(&[0, 100], &[0, 1000], 0.25, 0.001).radius, r);
        assert!(max_radius(0.25, 100_000, 0.001) > r);
    }

    #[test]
    fn summaries_count_right_certified_rows_at_each_radius() {
        let cert = |class, radius| Certificate { class, radius };
        let certs = [
            (cert(Some(0), 0.6), 0), // right, far
            (cert(Some(1), 0.3), 1), // right, near
            (cert(Some(2), 0.9), 0), // wrong: certified robust around the wrong class
            (cert(None, 0.0), 1),    // abstains
        ];
        let m = summarize(&certs, &plan(100, 1000, 100), 0.25);
        assert_eq!(m.examples, 4);
        assert_eq!(m.accuracy["0"], 0.5);
        assert_eq!(m.accuracy["0.25"], 0.5);
        assert_eq!(m.accuracy["0.5"], 0.25);
        assert_eq!(m.abstain_rate, 0.25);
        assert!((m.mean_radius - 0.9 / 4.0).abs() < 1e-12);
        assert!((m.max_radius - max_radius(0.25, 1000, 0.001)).abs() < 1e-15);
    }

    #[test]
    fn predict_answers_only_when_the_top_two_counts_differ_significantly() {
        // 990 against 10: p ≈ 5e-278.
        assert_eq!(predict(&[0, 990, 10], 0.001), Some(1));
        // 60 against 40 of 100: p = 0.057, significant at 0.1 but not at 0.001.
        assert_eq!(predict(&[0, 60, 40], 0.001), None);
        assert_eq!(predict(&[0, 60, 40], 0.1), Some(1));
        // The test takes the runner-up, not the rest: 60 against 25 is p = 1.9e-4.
        assert_eq!(predict(&[15, 60, 25], 0.001), Some(1));
        assert_eq!(predict(&[500, 500], 0.5), None, "a tie never answers");
        assert_eq!(predict(&[8], 0.01), Some(0), "8 of 8 against nothing: p = 2^-7");
        assert_eq!(predict(&[7], 0.01), None, "7 of 7: p = 2^-6");
    }

    /// A linear model `[batch, pixels] → 2` logits on 1×8×8 images.
    #[derive(Module, Debug)]
    pub(super) struct Linear2 {
        pub(super) linear: Linear,
    }

    impl Classifier for Linear2 {
        fn logits(&self, input: ModelInput) -> Tensor<2> {
            let ModelInput::Images(x) = input else { unreachable!("images only") };
            self.linear.forward(x.flatten(1, 3))
        }
    }

    pub(super) const CHW: [usize; 3] = [1, 8, 8];

    /// The model, and for each of `rows` random images its class and the L2
    /// distance to the decision boundary: exactly the radius a smoothed linear
    /// classifier can be certified at (Cohen et al., section 3.1).
    pub(super) fn linear_rows(rows: usize) -> (Linear2, Vec<(Vec<f32>, usize, f64)>) {
        let device = Device::flex();
        // Weights from the test's own generator, not the shared device's seed.
        let mut rng = augment::seed::rng(17);
        let d = CHW.iter().product::<usize>();
        let w: Vec<f32> = (0..2 * d).map(|_| rng.random_range(-0.3..0.3)).collect();
        let b: Vec<f32> = vec![0.0, 0.0];
        let mut linear = LinearConfig::new(d, 2).init(&device);
        // burn stores Linear weights [in, out].
        linear.weight =
            burn::module::Param::from_tensor(Tensor::from_data(TensorData::new(w.clone(), [d, 2]), &device));
        linear.bias = Some(burn::module::Param::from_tensor(Tensor::from_data(
            TensorData::new(b.clone(), [2]),
            &device,
        )));
        let dw: Vec<f64> = (0..d).map(|i| f64::from(w[2 * i + 1] - w[2 * i])).collect();
        let norm = dw.iter().map(|v| v * v).sum::<f64>().sqrt();
        let out = (0..rows)
            .map(|_| {
                let x: Vec<f32> = (0..d).map(|_| rng.random::<f32>()).collect();
                let m: f64 =
                    x.iter().zip(&dw).map(|(&x, &w)| f64::from(x) * w).sum::<f64>() + f64::from(b[1] - b[0]);
                (x, usize::from(m > 0.0), m.abs() / norm)
            })
            .collect();
        (Linear2 { linear }, out)
    }

    #[test]
    fn a_linear_model_is_certified_up_to_its_boundary_and_no_further() {
        let (model, rows) = linear_rows(40);
        let device = Device::flex();
        let (sigma, p) = (0.25, plan(100, 2000, 500));
        let cap = max_radius(sigma, p.n, p.alpha);
        let (mut certified, mut near) = (0.0, 0.0);
        for (i, (x, class, distance)) in rows.iter().enumerate() {
            let c = certify_image(&model, x, CHW, sigma, &p, 1000 + i as u64, &device).expect("certifies");
            // Sound: never beyond the true distance (at α = 0.001, on fixed seeds).
            assert!(
                c.radius <= *distance + 1e-6,
                "row {i}: radius {} beyond the boundary at {distance}",
                c.radius
            );
            if let Some(k) = c.class {
                assert_eq!(k, *class, "row {i}: certified the wrong side");
            }
            // Tight for a linear model, up to the estimate's slack and the sample cap.
            let reachable = distance.min(cap);
            if reachable > 0.5 * sigma {
                assert!(
                    c.radius >= reachable - 0.5 * sigma,
                    "row {i}: radius {} far below {reachable}",
                    c.radius
                );
            }
            certified += c.radius;
            near += reachable;
        }
        assert!(certified >= 0.75 * near && near > 0.0, "certified {certified} of a reachable {near}");
    }

    #[test]
    fn a_rows_certificate_does_not_depend_on_the_batch_size() {
        let (model, rows) = linear_rows(3);
        let device = Device::flex();
        for (i, (x, _, _)) in rows.iter().enumerate() {
            let big =
                certify_image(&model, x, CHW, 0.5, &plan(50, 300, 1000), i as u64, &device).expect("big");
            let small =
                certify_image(&model, x, CHW, 0.5, &plan(50, 300, 7), i as u64, &device).expect("small");
            assert_eq!(big, small, "row {i}");
        }
    }
}
