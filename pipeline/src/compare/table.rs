//! Rendering a comparison as markdown, CSV or JSON.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::RunMetrics;

/// Output format of `temper compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A markdown table (default).
    Markdown,
    /// CSV with one row per metric.
    Csv,
    /// JSON: metrics by run, and deltas.
    Json,
}

/// Metrics in their own units, by prefix: perturbation sizes, query
/// counts, exposures in bits, DP-SGD's ε, δ, noise and steps.
const UNIT_PREFIXES: [&str; 4] = ["attack_mean_norm.", "attack_mean_queries.", "canaries.exposure.", "dp."];
/// Counts and seconds of the privacy, poisoning and extraction sections, by last path segment.
const UNIT_LEAVES: [&str; 17] = [
    "queries",
    "epochs",
    "examples",
    "budget",
    "rounds",
    "scored_rows",
    "flagged_rows",
    "poisoned_rows",
    "triggered_test_rows",
    "holdout_rows",
    "members",
    "non_members",
    "reference_models",
    "seconds",
    "per_group",
    "planted_rows",
    "max_exposure",
];

/// Whether a metric is a fraction shown in percent, with deltas in points;
/// perturbation sizes, query counts, exposures, row counts and seconds are
/// shown in their own units.
pub fn is_fraction(key: &str) -> bool {
    // Certified and attacked accuracies and abstentions are shares; radii, counts and α are not.
    if let Some(rest) = key.strip_prefix("certification.") {
        return [".accuracy.", ".certified.", ".abstain."].iter().any(|s| rest.contains(s))
            || rest.ends_with(".abstain_rate");
    }
    let leaf = key.rsplit('.').next().unwrap_or(key);
    let privacy =
        ["privacy.", "canaries.", "poison.", "filter.", "extraction."].iter().any(|p| key.starts_with(p));
    !(UNIT_PREFIXES.iter().any(|p| key.starts_with(p)) || (privacy && UNIT_LEAVES.contains(&leaf)))
}

/// Every metric any of `runs` has, in order.
pub(super) fn keys(runs: &[RunMetrics]) -> BTreeSet<&String> {
    runs.iter().flat_map(|r| r.values.keys()).collect()
}

/// `run`'s change in metric `key` against `base`: in points for fractions,
/// in the metric's units otherwise.
pub(super) fn change(run: &RunMetrics, base: &RunMetrics, key: &str) -> Option<f64> {
    let (a, b) = (run.values.get(key)?, base.values.get(key)?);
    Some(if is_fraction(key) { (a - b) * 100.0 } else { a - b })
}

/// A value as the tables show it: percent for fractions, units otherwise.
pub(super) fn value(key: &str, v: f64) -> String {
    if is_fraction(key) { format!("{:.2}%", v * 100.0) } else { format!("{v:.3}") }
}

/// A [`change`] as the tables show it.
pub(super) fn signed(key: &str, d: f64) -> String {
    if is_fraction(key) { format!("{d:+.2}") } else { format!("{d:+.3}") }
}

/// Renders metrics side by side; deltas are against `runs[baseline]`, in
/// points for fractions and in the metric's units otherwise.
pub fn render(runs: &[RunMetrics], baseline: usize, format: Format) -> String {
    let keys = keys(runs);
    let base = &runs[baseline];
    let delta = |r: &RunMetrics, k: &String| change(r, base, k);
    let mut out = String::new();
    match format {
        Format::Markdown => {
            let _ = write!(out, "| metric |");
            for (i, r) in runs.iter().enumerate() {
                let _ = write!(out, " {}{} |", r.label, if i == baseline { " (baseline)" } else { "" });
            }
            let _ = writeln!(out);
            let _ = writeln!(out, "|---|{}", "---|".repeat(runs.len()));
            for k in &keys {
                let _ = write!(out, "| {k} |");
                for (i, r) in runs.iter().enumerate() {
                    let cell = match (r.values.get(*k), delta(r, k)) {
                        (Some(v), Some(d)) if i != baseline => format!("{} ({})", value(k, *v), signed(k, d)),
                        (Some(v), _) => value(k, *v),
                        (None, _) => "–".to_owned(),
                    };
                    let _ = write!(out, " {cell} |");
                }
                let _ = writeln!(out);
            }
        }
        Format::Csv => {
            let _ = write!(out, "metric");
            for r in runs {
                let _ = write!(out, ",{0},{0} delta_points", r.label);
            }
            let _ = writeln!(out);
            for k in &keys {
                let _ = write!(out, "{k}");
                for r in runs {
                    let v = r.values.get(*k).map(|v| v.to_string()).unwrap_or_default();
                    let d = delta(r, k).map(|d| format!("{d:.4}")).unwrap_or_default();
                    let _ = write!(out, ",{v},{d}");
                }
                let _ = writeln!(out);
            }
        }
        Format::Json => {
            let value = serde_json::json!({
                "baseline": base.label,
                "runs": runs.iter().map(|r| serde_json::json!({
                    "run": r.label,
                    "dir": r.dir,
                    "metrics": r.values,
                    "delta_points": r.values.keys().filter_map(|k| delta(r, k).map(|d| (k.clone(), d))).collect::<std::collections::BTreeMap<_, _>>(),
                })).collect::<Vec<_>>(),
            });
            out = serde_json::to_string_pretty(&value).unwrap_or_default();
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privacy_rates_are_fractions_and_its_counts_are_not() {
        for k in [
            "privacy.mia_auc",
            "privacy.attacks.lira.tpr_at_01pct_fpr",
            "canaries.recall.16",
            "clean_accuracy",
            "poison.attack_success_rate",
            "poison.rate",
            "extraction.max_fidelity",
            "extraction.apis.top-1.budgets.500.accuracy",
            "extraction.apis.top-1.transfer.0.1.success_rate",
            "certification.0.25.accuracy.0.5",
            "certification.0.25.abstain_rate",
            "certification.0.25.attack.accuracy.0.5",
            "certification.0.25.attack.certified.0.5",
            "certification.0.25.attack.abstain.0.5",
        ] {
            assert!(is_fraction(k), "{k}");
        }
        for k in [
            "privacy.holdout_rows",
            "privacy.attacks.lira.reference_models",
            "privacy.seconds",
            "canaries.exposure.16",
            "canaries.planted_rows",
            "attack_mean_norm.fgsm.0.1",
            "dp.epsilon",
            "dp.delta",
            "dp.steps",
            "poison.poisoned_rows",
            "poison.triggered_test_rows",
            "extraction.apis.top-1.budgets.500.queries",
            "extraction.apis.top-1.budgets.500.epochs",
            "extraction.apis.top-1.transfer.0.1.budget",
            "extraction.apis.probabilities.examples",
            "extraction.seconds",
            "certification.0.25.mean_radius",
            "certification.0.25.max_radius",
            "certification.0.25.alpha",
            "certification.0.25.n",
            "certification.0.25.attack.steps",
            "certification.0.25.attack.samples",
            "certification.0.25.attack.examples",
        ] {
            assert!(!is_fraction(k), "{k}");
        }
    }

    #[test]
    fn fractions_show_in_percent_and_sizes_in_their_units() {
        let run = |label: &str, acc: f64, norm: f64| RunMetrics {
            label: label.to_owned(),
            dir: std::path::PathBuf::from(label),
            values: [("clean_accuracy".to_owned(), acc), ("attack_mean_norm.pgd_l2.1".to_owned(), norm)]
                .into(),
        };
        let md = render(&[run("a", 0.9, 0.5), run("b", 0.95, 0.75)], 0, Format::Markdown);
        assert!(md.contains("| clean_accuracy | 90.00% | 95.00% (+5.00) |"), "{md}");
        assert!(md.contains("| attack_mean_norm.pgd_l2.1 | 0.500 | 0.750 (+0.250) |"), "{md}");
    }
}
