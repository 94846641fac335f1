//! Membership scores from per-example losses and confidences: higher means
//! "more likely a member".

use crate::config::Variance;

/// What an attack needs of one example under one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExampleStats {
    /// Cross-entropy of the true class.
    pub loss: f64,
    /// Logit-scaled confidence `log p_y − log(1 − p_y)` (Carlini et al. 2022),
    /// computed from the logits as `z_y − logsumexp_{j≠y} z_j` so it stays
    /// finite where `p_y` rounds to 1.
    pub confidence: f64,
}

/// The stats of each row of `logits` (`classes` per row) for its label.
pub fn stats(logits: &[f32], classes: usize, labels: &[usize]) -> Vec<ExampleStats> {
    logits
        .chunks_exact(classes)
        .zip(labels)
        .map(|(row, &y)| {
            let z: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
            let lse = |skip: Option<usize>| {
                let max = z
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| Some(*j) != skip)
                    .map(|(_, &v)| v)
                    .fold(f64::NEG_INFINITY, f64::max);
                if max == f64::NEG_INFINITY {
                    return f64::NEG_INFINITY;
                }
                max + z
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| Some(*j) != skip)
                    .map(|(_, &v)| (v - max).exp())
                    .sum::<f64>()
                    .ln()
            };
            let confidence = z[y] - lse(Some(y));
            // −log p_y = log(1 + e^−c): written this way, confident rows keep
            // distinct losses instead of all rounding to 0 (ties that blind
            // the loss attack on confident models). One class: p_y = 1.
            let loss = if confidence == f64::INFINITY {
                0.0
            } else if confidence > 0.0 {
                (-confidence).exp().ln_1p()
            } else {
                -confidence + confidence.exp().ln_1p()
            };
            ExampleStats { loss, confidence }
        })
        .collect()
}

/// Yeom et al. 2018: the lower the loss, the more likely a member.
pub fn loss(target: &[ExampleStats]) -> Vec<f64> {
    target.iter().map(|s| -s.loss).collect()
}

/// Watson et al. 2022, difficulty calibration: the target's loss against
/// the mean loss of reference models that never saw the example, so an
/// example that is easy for every model does not look like a member.
/// `references[k][i]` is reference `k`'s stats on example `i`.
pub fn calibrated_loss(target: &[ExampleStats], references: &[Vec<ExampleStats>]) -> Vec<f64> {
    let k = references.len() as f64;
    target
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mean = references.iter().map(|r| r[i].loss).sum::<f64>() / k;
            mean - s.loss
        })
        .collect()
}

/// Offline LiRA (Carlini et al. 2022, Algorithm 1 without "in" models): the
/// reference models' confidences on an example fit a Gaussian (median as the
/// centre, as the paper's code does; the standard deviation over every
/// reference value for [`Variance::Global`], over the example's own for
/// [`Variance::PerExample`]), and the score is how far above that
/// distribution the target's confidence lies, in standard deviations: a
/// monotone stand-in for the one-sided `Pr[Z < confidence]`.
pub fn lira_offline(
    target: &[ExampleStats],
    references: &[Vec<ExampleStats>],
    variance: Variance,
) -> Vec<f64> {
    let per_example: Vec<Vec<f64>> =
        (0..target.len()).map(|i| references.iter().map(|r| r[i].confidence).collect()).collect();
    let global = std_dev(&per_example.iter().flatten().copied().collect::<Vec<_>>());
    target
        .iter()
        .zip(&per_example)
        .map(|(s, refs)| {
            let sigma = match variance {
                Variance::Global => global,
                Variance::PerExample => std_dev(refs),
            };
            (s.confidence - median(refs)) / (sigma + 1e-30)
        })
        .collect()
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Population standard deviation (numpy's default), as the paper's code.
fn std_dev(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(loss: f64, confidence: f64) -> ExampleStats {
        ExampleStats { loss, confidence }
    }

    #[test]
    fn loss_and_confidence_from_logits() {
        // Logits (ln 3, 0, 0): p = (0.6, 0.2, 0.2).
        let got = stats(&[3f32.ln(), 0.0, 0.0, 3f32.ln(), 0.0, 0.0], 3, &[0, 1]);
        assert!((got[0].loss - (-(0.6f64).ln())).abs() < 1e-6);
        assert!((got[0].confidence - (0.6f64 / 0.4).ln()).abs() < 1e-6);
        assert!((got[1].loss - (-(0.2f64).ln())).abs() < 1e-6);
        assert!((got[1].confidence - (0.2f64 / 0.8).ln()).abs() < 1e-6);
        // Very confident rows keep distinct, positive losses (f64 would round
        // log-sum-exp minus the logit to exactly 0 for both).
        let sure = stats(&[60.0, 0.0, 0.0, 70.0, 0.0, 0.0], 3, &[0, 0]);
        assert!(sure[0].loss > sure[1].loss && sure[1].loss > 0.0, "{sure:?}");
        assert!((sure[0].loss - 2.0 * (-60f64).exp()).abs() < 1e-30);
        // A confident model: p_y rounds to 1 in f32, the confidence stays finite.
        let sure = stats(&[60.0, 0.0], 2, &[0]);
        assert!((sure[0].confidence - 60.0).abs() < 1e-9 && sure[0].loss >= 0.0);
    }

    #[test]
    fn calibration_subtracts_the_reference_mean_loss() {
        let target = [s(0.1, 0.0), s(2.0, 0.0)];
        let refs = vec![vec![s(0.3, 0.0), s(2.0, 0.0)], vec![s(0.5, 0.0), s(3.0, 0.0)]];
        assert_eq!(calibrated_loss(&target, &refs), [0.4 - 0.1, 2.5 - 2.0]);
        assert_eq!(loss(&target), [-0.1, -2.0]);
    }

    #[test]
    fn lira_measures_the_distance_above_the_reference_median() {
        let target = [s(0.0, 3.0), s(0.0, 1.0)];
        // References on example 0: 1, 2, 3 (median 2); on example 1: 0, 1, 5 (median 1).
        let refs = vec![
            vec![s(0.0, 1.0), s(0.0, 0.0)],
            vec![s(0.0, 2.0), s(0.0, 1.0)],
            vec![s(0.0, 3.0), s(0.0, 5.0)],
        ];
        let per = lira_offline(&target, &refs, Variance::PerExample);
        // Example 0: (3 − 2) / sd(1, 2, 3); example 1 sits on its median.
        let sd0 = (2.0f64 / 3.0).sqrt();
        assert!((per[0] - 1.0 / sd0).abs() < 1e-9, "{per:?}");
        assert!(per[1].abs() < 1e-12, "{per:?}");
        // Global: one spread over all six values 1, 0, 2, 1, 3, 5 (mean 2, squared deviations sum 16).
        let global = lira_offline(&target, &refs, Variance::Global);
        let sd = (16.0f64 / 6.0).sqrt();
        assert!((global[0] - 1.0 / sd).abs() < 1e-9 && global[1].abs() < 1e-12, "{global:?}");
    }
}
