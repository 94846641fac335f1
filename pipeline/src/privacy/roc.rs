//! The figures a membership-inference attack is judged by, from its scores
//! (higher = more likely a member): ROC AUC, balanced accuracy and the
//! true-positive rate at a low false-positive rate, computed as Carlini et
//! al. 2022 ("Membership Inference Attacks From First Principles") do in
//! their code: the ROC's points at every distinct threshold, the best
//! `1 - (FPR + (1 - TPR)) / 2`, and the highest TPR among points whose FPR is
//! strictly below the target.

/// One point of the ROC curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RocPoint {
    /// False-positive rate: non-members called members.
    pub fpr: f64,
    /// True-positive rate: members called members.
    pub tpr: f64,
}

/// The summary of one attack's scores.
#[derive(Debug, Clone, PartialEq)]
pub struct Roc {
    /// Area under the ROC curve (ties count half): 0.5 is guessing.
    pub auc: f64,
    /// The best balanced accuracy over thresholds: 0.5 is guessing.
    pub balanced_accuracy: f64,
    /// TPR at FPR below 1%.
    pub tpr_at_1pct_fpr: f64,
    /// TPR at FPR below 0.1%.
    pub tpr_at_01pct_fpr: f64,
    /// The curve, from (0, 0) to (1, 1), one point per distinct score.
    pub curve: Vec<RocPoint>,
}

/// The ROC of `members`' and `non_members`' scores. NaN scores sort as the
/// lowest (least member-like). Both lists must be non-empty.
pub fn roc(members: &[f64], non_members: &[f64]) -> Roc {
    let (p, n) = (members.len() as f64, non_members.len() as f64);
    let mut scored: Vec<(f64, bool)> = members
        .iter()
        .map(|&s| (s, true))
        .chain(non_members.iter().map(|&s| (s, false)))
        .map(|(s, m)| (if s.is_nan() { f64::NEG_INFINITY } else { s }, m))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut curve = vec![RocPoint { fpr: 0.0, tpr: 0.0 }];
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut auc = 0.0;
    let mut i = 0;
    while i < scored.len() {
        // All examples with this score cross the threshold together.
        let (mut dtp, mut dfp) = (0.0, 0.0);
        let score = scored[i].0;
        while i < scored.len() && scored[i].0 == score {
            if scored[i].1 {
                dtp += 1.0
            } else {
                dfp += 1.0
            }
            i += 1;
        }
        // Trapezoid: ties between a member and a non-member count half.
        auc += dfp * (tp + dtp / 2.0);
        tp += dtp;
        fp += dfp;
        curve.push(RocPoint { fpr: fp / n.max(1.0), tpr: tp / p.max(1.0) });
    }
    let auc = if p > 0.0 && n > 0.0 { auc / (p * n) } else { f64::NAN };
    let balanced_accuracy = curve.iter().map(|c| 1.0 - (c.fpr + (1.0 - c.tpr)) / 2.0).fold(0.0, f64::max);
    let tpr_below = |x: f64| curve.iter().filter(|c| c.fpr < x).map(|c| c.tpr).fold(0.0, f64::max);
    Roc {
        auc,
        balanced_accuracy,
        tpr_at_1pct_fpr: tpr_below(0.01),
        tpr_at_01pct_fpr: tpr_below(0.001),
        curve,
    }
}

/// The curve at false-positive rates spaced evenly on a log scale from
/// `floor` to 1 (`per_decade` per factor of ten): at each, the highest TPR
/// reached without exceeding it. Enough to draw the curve on log-log axes,
/// at a size that suits `metrics.json`.
pub fn thinned(curve: &[RocPoint], floor: f64, per_decade: usize) -> Vec<RocPoint> {
    let decades = -floor.log10();
    let steps = (decades * per_decade as f64).round() as usize;
    (0..=steps)
        .map(|i| 10f64.powf(-decades + i as f64 / per_decade as f64).min(1.0))
        .map(|fpr| {
            let tpr = curve.iter().filter(|c| c.fpr <= fpr + 1e-12).map(|c| c.tpr).fold(0.0, f64::max);
            RocPoint { fpr, tpr }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_best_tpr_at_each_log_spaced_fpr() {
        let r = roc(&[0.9, 0.8, 0.4, 0.3], &[0.7, 0.4, 0.2, 0.1]);
        let t = thinned(&r.curve, 0.01, 2);
        let fprs: Vec<f64> = t.iter().map(|p| (p.fpr * 1e6).round() / 1e6).collect();
        assert_eq!(fprs, [0.01, 0.031623, 0.1, 0.316228, 1.0]);
        let tprs: Vec<f64> = t.iter().map(|p| p.tpr).collect();
        // Up to FPR 0.32 the best point is (0.25, 0.5) or (0, 0.5); only FPR 1 reaches TPR 1.
        assert_eq!(tprs, [0.5, 0.5, 0.5, 0.5, 1.0]);
    }

    #[test]
    fn a_fixed_score_list_matches_a_hand_computation() {
        // Members 0.9, 0.8, 0.4, 0.3; non-members 0.7, 0.4, 0.2, 0.1.
        // Pairs (member > non-member): 0.9 beats 4, 0.8 beats 4, 0.4 beats
        // 2 and ties 1, 0.3 beats 2: 12 + 0.5 = 12.5 of 16.
        let r = roc(&[0.9, 0.8, 0.4, 0.3], &[0.7, 0.4, 0.2, 0.1]);
        assert!((r.auc - 12.5 / 16.0).abs() < 1e-12, "{}", r.auc);
        let points: Vec<(f64, f64)> = r.curve.iter().map(|c| (c.fpr, c.tpr)).collect();
        assert_eq!(
            points,
            [
                (0.0, 0.0),
                (0.0, 0.25),
                (0.0, 0.5),
                (0.25, 0.5),
                (0.5, 0.75),
                (0.5, 1.0),
                (0.75, 1.0),
                (1.0, 1.0)
            ]
        );
        // Best threshold: (fpr 0.5, tpr 1.0) or (0, 0.5): 1 - (0.5 + 0) / 2 = 0.75.
        assert!((r.balanced_accuracy - 0.75).abs() < 1e-12);
        // Below 1% FPR only the points with no false positive count.
        assert_eq!(r.tpr_at_1pct_fpr, 0.5);
        assert_eq!(r.tpr_at_01pct_fpr, 0.5);
    }

    #[test]
    fn guessing_perfect_and_swapped() {
        let same = roc(&[0.5; 10], &[0.5; 10]);
        assert_eq!((same.auc, same.balanced_accuracy, same.tpr_at_01pct_fpr), (0.5, 0.5, 0.0));
        let perfect = roc(&[3.0, 4.0], &[1.0, 2.0]);
        assert_eq!((perfect.auc, perfect.balanced_accuracy, perfect.tpr_at_01pct_fpr), (1.0, 1.0, 1.0));
        // Members and non-members swapped: the AUC mirrors about 0.5.
        let a = [0.3, 0.9, 0.1, 0.6, 0.6];
        let b = [0.2, 0.6, 0.8, 0.05];
        assert!((roc(&a, &b).auc + roc(&b, &a).auc - 1.0).abs() < 1e-12);
    }

    #[test]
    fn nan_scores_count_as_least_member_like() {
        let r = roc(&[f64::NAN, 1.0], &[0.0, 0.5]);
        assert!((r.auc - 0.5).abs() < 1e-12, "{}", r.auc);
    }
}
