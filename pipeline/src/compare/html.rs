//! `temper compare --html`: the comparison table with every run on the same
//! charts, as one self-contained page, for reviewers who want to see where
//! one config is more robust than another rather than read the deltas.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::RunMetrics;
use super::table::{change, is_fraction, keys, signed, value};
use crate::report::markup::escape;
use crate::report::svg::LineChart;

/// The comparison page; deltas are against `runs[baseline]`, in points.
pub fn html(runs: &[RunMetrics], baseline: usize) -> String {
    let mut s = String::new();
    let title = format!("Comparison of {} runs", runs.len());
    let _ = writeln!(s, "<h1>{}</h1>\n<ul>", escape(&title));
    for (i, r) in runs.iter().enumerate() {
        let _ = writeln!(
            s,
            "<li><strong>{}</strong>{}: <code>{}</code></li>",
            escape(&r.label),
            if i == baseline { " (baseline)" } else { "" },
            escape(&r.dir.display().to_string())
        );
    }
    let _ = writeln!(s, "</ul>");
    charts(&mut s, runs);
    table(&mut s, runs, baseline);
    crate::report::page(&title, &s)
}

/// The markdown table of `temper compare`, as HTML, deltas coloured.
fn table(s: &mut String, runs: &[RunMetrics], baseline: usize) {
    let Some(base) = runs.get(baseline) else { return };
    let _ = write!(
        s,
        "<h2>Metrics</h2>\n<p>Changes against the baseline in percentage points (perturbation sizes and \
         query counts in their own units); green is more robust, red less.</p>\n<table>\n<thead><tr><th>metric</th>"
    );
    for (i, r) in runs.iter().enumerate() {
        let _ = write!(s, "<th>{}{}</th>", escape(&r.label), if i == baseline { " (baseline)" } else { "" });
    }
    let _ = writeln!(s, "</tr></thead>");
    for k in keys(runs) {
        let _ = write!(s, "<tr><td>{}</td>", escape(k));
        for (i, r) in runs.iter().enumerate() {
            let cell = match (r.values.get(k), change(r, base, k)) {
                (Some(v), Some(d)) if i != baseline => {
                    format!("{} (<span class=\"{}\">{}</span>)", value(k, *v), verdict(k, d), signed(k, d))
                }
                (Some(v), _) => value(k, *v),
                (None, _) => "–".to_owned(),
            };
            let _ = write!(s, "<td>{cell}</td>");
        }
        let _ = writeln!(s, "</tr>");
    }
    let _ = writeln!(s, "</table>");
}

/// `better` or `worse` for a change in a metric where the direction is
/// clear: accuracies up; error rates, attack success and leakage down.
/// Perturbation sizes, query counts and settings get no colour.
fn verdict(key: &str, d: f64) -> &'static str {
    const LOWER_IS_BETTER: [&str; 8] = [
        "attack_success_rate.",
        "corruption_error.",
        "mCE",
        "relative_mCE",
        "privacy.",
        "canaries.recall.",
        "poison.attack_success_rate",
        "filter.attack_success_rate_before",
    ];
    const SETTINGS: [&str; 2] = ["poison.rate", "canaries.chance"];
    if !is_fraction(key) || d == 0.0 || SETTINGS.contains(&key) {
        return "";
    }
    // What a thief's copy achieves is lower-is-better; the model's own accuracy is not.
    let stolen = key.starts_with("extraction.")
        && (key.ends_with("fidelity")
            || key.ends_with(".success_rate")
            || (key.contains(".budgets.") && key.ends_with(".accuracy")));
    let lower =
        stolen || LOWER_IS_BETTER.iter().any(|p| key == *p || (p.ends_with('.') && key.starts_with(p)));
    if (d > 0.0) != lower { "better" } else { "worse" }
}

/// Mean accuracy against severity over the ops every run evaluated, and
/// accuracy against ε per attack, one line per run.
fn charts(s: &mut String, runs: &[RunMetrics]) {
    let mut any = false;
    let common = common_ops(runs);
    let mut charts = String::new();
    if !common.is_empty() {
        let mut chart = LineChart::new(
            "Mean accuracy versus severity",
            "severity (0 = clean)",
            "mean accuracy over the ops every run has",
        );
        for r in runs {
            chart = chart.with_series(&r.label, severity_points(r, &common));
        }
        charts.push_str(&chart.render());
        any = true;
    }
    for attack in attacks(runs) {
        let mut chart = LineChart::new(
            &format!("Accuracy under {attack}"),
            &crate::report::markup::epsilon_label(&attack),
            "accuracy",
        );
        for r in runs {
            let points = epsilon_points(r, &attack);
            if points.len() > 1 {
                chart = chart.with_series(&r.label, points);
            }
        }
        charts.push_str(&chart.render());
        any = true;
    }
    let poisoned: Vec<&RunMetrics> = runs.iter().filter(|r| r.values.contains_key(SUCCESS)).collect();
    if poisoned.len() > 1 {
        let mut chart = LineChart::new(
            "Backdoor success versus poisoning rate",
            "share of training rows poisoned",
            "attack success",
        );
        for (name, filtered) in [("no filter", false), ("with the poison filter", true)] {
            let points = poisoning_points(&poisoned, filtered);
            if !points.is_empty() {
                chart = chart.with_series(name, points);
            }
        }
        charts.push_str(&chart.render());
        any = true;
    }
    if !any {
        return;
    }
    let _ = writeln!(s, "<h2>Charts</h2>\n<div class=\"charts\">\n{charts}</div>");
    if !common.is_empty() {
        let ops: Vec<String> = common.iter().map(|op| format!("<code>{}</code>", escape(op))).collect();
        let _ = writeln!(s, "<p>Severity means are over {}.</p>", ops.join(", "));
    }
}

const CORRUPTION: &str = "corruption_accuracy.";
const SUCCESS: &str = "poison.attack_success_rate";

/// (poisoning rate, backdoor success) of the runs with (or without) a
/// poison filter, by rate.
fn poisoning_points(runs: &[&RunMetrics], filtered: bool) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = runs
        .iter()
        .filter(|r| r.values.contains_key("filter.flagged_rows") == filtered)
        .filter_map(|r| Some((*r.values.get("poison.rate")?, *r.values.get(SUCCESS)?)))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
}
const ATTACK: &str = "attack_accuracy.";

/// `prefix<name>.<rest>` entries of a run as name → rest → value.
fn nested<'a>(r: &'a RunMetrics, prefix: &str) -> BTreeMap<&'a str, BTreeMap<&'a str, f64>> {
    let mut out: BTreeMap<&str, BTreeMap<&str, f64>> = BTreeMap::new();
    for (k, v) in &r.values {
        if let Some((name, rest)) = k.strip_prefix(prefix).and_then(|t| t.split_once('.')) {
            out.entry(name).or_default().insert(rest, *v);
        }
    }
    out
}

/// Corruption ops that every run evaluated at every severity 1..=5.
fn common_ops(runs: &[RunMetrics]) -> BTreeSet<String> {
    let full = |r: &RunMetrics| -> BTreeSet<String> {
        nested(r, CORRUPTION)
            .into_iter()
            .filter(|(_, by_sev)| (1..=5).all(|k| by_sev.contains_key(k.to_string().as_str())))
            .map(|(op, _)| op.to_owned())
            .collect()
    };
    let mut iter = runs.iter().map(full);
    let first = iter.next().unwrap_or_default();
    iter.fold(first, |acc, ops| acc.intersection(&ops).cloned().collect())
}

fn severity_points(r: &RunMetrics, ops: &BTreeSet<String>) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = r.values.get("clean_accuracy").map(|c| (0.0, *c)).into_iter().collect();
    for k in 1..=5 {
        let values: Vec<f64> =
            ops.iter().filter_map(|op| r.values.get(&format!("{CORRUPTION}{op}.{k}")).copied()).collect();
        if !values.is_empty() {
            points.push((f64::from(k), values.iter().sum::<f64>() / values.len() as f64));
        }
    }
    points
}

/// Every attack any run has.
fn attacks(runs: &[RunMetrics]) -> BTreeSet<String> {
    runs.iter().flat_map(|r| nested(r, ATTACK).into_keys().map(str::to_owned).collect::<Vec<_>>()).collect()
}

fn epsilon_points(r: &RunMetrics, attack: &str) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = r.values.get("clean_accuracy").map(|c| (0.0, *c)).into_iter().collect();
    if let Some(by_eps) = nested(r, ATTACK).get(attack) {
        points.extend(by_eps.iter().filter_map(|(eps, v)| Some((eps.parse::<f64>().ok()?, *v))));
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(label: &str, values: Vec<(String, f64)>) -> RunMetrics {
        RunMetrics {
            dir: format!("runs/{label}").into(),
            label: label.to_owned(),
            values: values.into_iter().collect(),
        }
    }

    fn severities(op: &str, base: f64) -> Vec<(String, f64)> {
        (1..=5).map(|k| (format!("corruption_accuracy.{op}.{k}"), base - 0.1 * f64::from(k))).collect()
    }

    fn runs() -> Vec<RunMetrics> {
        let mut a: Vec<(String, f64)> = severities("rotate", 0.9);
        a.extend(severities("blur", 0.8));
        a.push(("clean_accuracy".into(), 0.95));
        a.push(("attack_accuracy.fgsm.0.1".into(), 0.4));
        let mut b: Vec<(String, f64)> = severities("rotate", 1.0);
        b.push(("clean_accuracy".into(), 0.9));
        // Evaluated at one severity only: not comparable across the curve.
        b.push(("corruption_accuracy.blur.1".into(), 0.5));
        vec![run("a/1", a), run("b<2>/2", b)]
    }

    #[test]
    fn the_page_has_every_run_the_table_and_shared_charts() {
        let runs = runs();
        let page = html(&runs, 0);
        crate::report::svg::tests::balanced(&page);
        assert!(page.contains("a/1 (baseline)") && page.contains("b&lt;2&gt;/2"), "{page}");
        assert!(!page.contains("b<2>"));
        assert_eq!(page.matches("<svg").count(), 2, "severity chart and fgsm chart");
        // Only `rotate` is in both runs, so the means are over it alone.
        assert!(page.contains("Severity means are over <code>rotate</code>."), "{page}");
        // b's clean accuracy is 5 points below a's.
        assert!(page.contains(r#"<td>90.00% (<span class="worse">-5.00</span>)</td>"#), "{page}");
        // fgsm is plotted for the one run that has it.
        let fgsm = &page[page.find("Accuracy under fgsm").expect("chart")..];
        assert_eq!(fgsm.matches("<polyline").count(), 1);
    }

    #[test]
    fn colours_follow_robustness_not_the_sign() {
        assert_eq!(verdict("clean_accuracy", 1.0), "better");
        assert_eq!(verdict("attack_accuracy.fgsm.0.1", -1.0), "worse");
        assert_eq!(verdict("attack_success_rate.fgsm.0.1", 1.0), "worse");
        assert_eq!(verdict("mCE", -3.0), "better");
        assert_eq!(verdict("corruption_error.rotate", 2.0), "worse");
        assert_eq!(verdict("attack_mean_queries.textbugger.0.2", 5.0), "");
        assert_eq!(verdict("clean_accuracy", 0.0), "");
        assert_eq!(verdict("privacy.mia_auc", 2.0), "worse");
        assert_eq!(verdict("canaries.recall.16", -10.0), "better");
        assert_eq!(verdict("poison.attack_success_rate", -50.0), "better");
        assert_eq!(verdict("filter.recall", 5.0), "better");
        assert_eq!(verdict("poison.rate", 1.0), "");
        assert_eq!(verdict("extraction.max_fidelity", -5.0), "better");
        assert_eq!(verdict("extraction.apis.top-1.budgets.500.accuracy", 3.0), "worse");
        assert_eq!(verdict("extraction.apis.top-1.victim_accuracy", 3.0), "better");
        assert_eq!(verdict("extraction.apis.top-1.transfer.0.1.accuracy", 3.0), "better");
        assert_eq!(verdict("extraction.apis.top-1.transfer.0.1.success_rate", 3.0), "worse");
        assert_eq!(verdict("extraction.apis.top-1.budgets.500.queries", 3.0), "");
    }

    #[test]
    fn backdoor_success_is_charted_against_the_poisoning_rate() {
        let run_at = |label: &str, rate: f64, success: f64, filtered: bool| {
            let mut v = vec![
                ("clean_accuracy".to_owned(), 0.9),
                ("poison.rate".to_owned(), rate),
                ("poison.attack_success_rate".to_owned(), success),
            ];
            if filtered {
                v.push(("filter.flagged_rows".to_owned(), 10.0));
            }
            run(label, v)
        };
        let runs = vec![
            run_at("p5/1", 0.05, 0.99, false),
            run_at("p1/1", 0.01, 0.97, false),
            run_at("p1f/1", 0.01, 0.2, true),
        ];
        let refs: Vec<&RunMetrics> = runs.iter().collect();
        assert_eq!(poisoning_points(&refs, false), vec![(0.01, 0.97), (0.05, 0.99)]);
        assert_eq!(poisoning_points(&refs, true), vec![(0.01, 0.2)]);
        let page = html(&runs, 0);
        crate::report::svg::tests::balanced(&page);
        assert!(page.contains("Backdoor success versus poisoning rate"), "{page}");
        assert!(page.contains("with the poison filter"));
    }

    #[test]
    fn severity_means_cover_only_common_ops() {
        let runs = runs();
        let common = common_ops(&runs);
        assert_eq!(common.iter().map(String::as_str).collect::<Vec<_>>(), ["rotate"]);
        let points = severity_points(&runs[0], &common);
        assert_eq!(points.len(), 6);
        assert_eq!(points[0], (0.0, 0.95));
        assert!((points[3].1 - 0.6).abs() < 1e-12);
        assert_eq!(epsilon_points(&runs[0], "fgsm"), vec![(0.0, 0.95), (0.1, 0.4)]);
    }
}
