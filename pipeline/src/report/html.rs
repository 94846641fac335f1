//! `report.html`: the numbers of `report.md` with charts and a gallery, in
//! one self-contained file (inline CSS and SVG, images as data URIs, no
//! scripts), so it can be mailed, archived or opened from a CI artifact.

use std::fmt::Write;

use base64::Engine;

use super::examples::{Example, Examples, Shown};
use super::markup::escape;
use super::svg::LineChart;
use super::{diff, pct};
use crate::run::manifest::Manifest;
use crate::run::metrics::{CorruptionTable, Metrics};

/// The whole report page.
pub fn html(metrics: &Metrics, manifest: &Manifest, examples: &Examples) -> String {
    let r = &metrics.run;
    let title = format!("Robustness report: {} ({})", r.name, r.id);
    let mut s = String::new();
    let _ = writeln!(s, "<h1>{}</h1>", escape(&title));
    let _ = writeln!(
        s,
        "<p>{} classifier, {} classes, {} training and {} test examples; seed {}, device {}.</p>",
        escape(&r.modality),
        r.classes.len(),
        r.train_examples,
        r.test_examples,
        manifest.seed,
        escape(&manifest.device)
    );
    if r.skipped_rows > 0 {
        let _ = writeln!(
            s,
            "<p>{} bad rows were skipped (<code>on-bad-row = \"skip\"</code>); <code>log.jsonl</code> lists them.</p>",
            r.skipped_rows
        );
    }
    headline(&mut s, metrics);
    corruptions(&mut s, metrics);
    attacks(&mut s, metrics);
    training(&mut s, metrics);
    gallery(&mut s, examples);
    provenance(&mut s, manifest);
    page(&title, &s)
}

/// A complete HTML document around `body` (already markup), with the
/// shared style sheet.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

const STYLE: &str = "
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f4f4f4; }
code { font-size: 0.9em; word-break: break-all; }
.chart { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
.gallery td { text-align: center; }
.gallery img { width: 84px; height: auto; image-rendering: pixelated; border: 1px solid #ccc; }
.gallery .text { text-align: left; max-width: 16em; font-family: ui-monospace, monospace; font-size: 0.85em; white-space: pre-wrap; }
.pred { font-size: 0.8em; color: #555; }
.flipped { background: #fde2e1; }
.worse { color: #b3261e; }
.better { color: #1e7b34; }
mark { background: #ffe066; }
del { color: #b3261e; }
.invisible { font-size: 0.7em; border: 1px dotted #999; padding: 0 0.1em; }
";

/// Headline numbers: clean, mean corruption, mCE, attack accuracies.
fn headline(s: &mut String, m: &Metrics) {
    let _ = writeln!(s, "<h2>Headline</h2>\n<table>\n<thead><tr><th>metric</th><th>value</th></tr></thead>");
    let row = |s: &mut String, name: &str, value: String| {
        let _ = writeln!(s, "<tr><td>{}</td><td>{value}</td></tr>", escape(name));
    };
    row(s, "clean_accuracy", pct(m.clean_accuracy));
    if let Some(v) = m.mean_corruption_accuracy {
        row(s, "mean_corruption_accuracy", pct(v));
    }
    if let Some(base) = &m.mce_baseline {
        let opt = |v: Option<f64>| v.map_or("–".into(), pct);
        row(s, &format!("mCE (vs {base})"), opt(m.mce));
        row(s, &format!("relative_mCE (vs {base})"), opt(m.relative_mce));
    }
    for (attack, by_eps) in &m.attack_accuracy {
        for (_, key, acc) in by_epsilon(by_eps) {
            row(s, &format!("attack_accuracy {attack} ε={key}"), pct(acc));
        }
    }
    let _ = writeln!(s, "</table>");
}

/// A chart of accuracy against severity (0 = clean) and the table behind it.
fn corruptions(s: &mut String, m: &Metrics) {
    if m.corruption_accuracy.is_empty() {
        return;
    }
    let _ = writeln!(s, "<h2>Accuracy under corruption</h2>");
    let mut chart = LineChart::new("Accuracy versus severity", "severity (0 = clean)", "accuracy");
    for (op, by_sev) in &m.corruption_accuracy {
        let mut points = vec![(0.0, m.clean_accuracy)];
        points.extend(by_sev.iter().filter_map(|(k, v)| Some((k.parse::<f64>().ok()?, *v))));
        chart = chart.with_series(op, points);
    }
    s.push_str(&chart.render());
    let ce = !m.corruption_error.is_empty();
    let _ = write!(s, "<table>\n<thead><tr><th>op</th>");
    for k in 0..=5 {
        let _ = write!(s, "<th>{k}</th>");
    }
    let _ = writeln!(s, "<th>mean</th>{}</tr></thead>", if ce { "<th>CE</th>" } else { "" });
    for (op, by_sev) in &m.corruption_accuracy {
        let _ = write!(s, "<tr><td>{}</td><td>{}</td>", escape(op), pct(m.clean_accuracy));
        for k in 1..=5 {
            let _ = write!(s, "<td>{}</td>", by_sev.get(&k.to_string()).map_or("–".into(), |v| pct(*v)));
        }
        let mean = by_sev.values().sum::<f64>() / by_sev.len().max(1) as f64;
        let _ = write!(s, "<td>{}</td>", pct(mean));
        if ce {
            let _ = write!(s, "<td>{}</td>", m.corruption_error.get(op).map_or("–".into(), |v| pct(*v)));
        }
        let _ = writeln!(s, "</tr>");
    }
    let _ = writeln!(s, "</table>\n<p>Severity 0 is the clean test set.</p>");
}

/// One chart of accuracy against ε (0 = clean) per attack, then the table.
fn attacks(s: &mut String, m: &Metrics) {
    if m.attack_accuracy.is_empty() {
        return;
    }
    let _ = writeln!(s, "<h2>Accuracy under attack</h2>\n<div class=\"charts\">");
    for (attack, by_eps) in &m.attack_accuracy {
        let mut points = vec![(0.0, m.clean_accuracy)];
        points.extend(by_epsilon(by_eps).into_iter().map(|(eps, _, acc)| (eps, acc)));
        let chart = LineChart::new(&format!("Accuracy under {attack}"), &epsilon_label(attack), "accuracy")
            .with_series(attack, points);
        s.push_str(&chart.render());
    }
    let _ = writeln!(s, "</div>");
    let _ = writeln!(
        s,
        "<p>Attacks on the model in evaluation mode; ε 0 is the clean test set. Success rate: the share of \
         correctly classified inputs the attack flipped. Norm: mean L∞ (L2 for <code>pgd_l2</code>) of the \
         applied perturbation on the [0, 1] pixel scale; for text attacks ε is the largest share of words \
         that may change and the norm the mean share that did. Queries: mean texts sent to the model per \
         input (black-box attacks).</p>"
    );
    let _ = writeln!(
        s,
        "<table>\n<thead><tr><th>attack</th><th>ε</th><th>accuracy</th><th>success rate</th>\
         <th>mean norm</th><th>mean queries</th></tr></thead>"
    );
    for (attack, by_eps) in &m.attack_accuracy {
        for (_, eps, acc) in by_epsilon(by_eps) {
            let get = |t: &CorruptionTable| t.get(attack).and_then(|x| x.get(eps)).copied();
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(attack),
                escape(eps),
                pct(acc),
                get(&m.attack_success_rate).map_or("–".into(), pct),
                get(&m.attack_mean_norm).map_or("–".into(), |v| format!("{v:.3}")),
                get(&m.attack_mean_queries).map_or("–".into(), |v| format!("{v:.1}"))
            );
        }
    }
    let _ = writeln!(s, "</table>");
}

/// An attack's ε entries in increasing order; keys that are not numbers
/// are left out.
fn by_epsilon(by_eps: &std::collections::BTreeMap<String, f64>) -> Vec<(f64, &String, f64)> {
    let mut rows: Vec<(f64, &String, f64)> =
        by_eps.iter().filter_map(|(k, v)| Some((k.parse::<f64>().ok()?, k, *v))).collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    rows
}

/// What ε means for an attack, for the x axis.
pub(crate) fn epsilon_label(attack: &str) -> String {
    if crate::attack::TextAttackKind::find(attack).is_some() {
        "ε: largest share of words changed (0 = clean)".to_owned()
    } else if crate::attack::AttackKind::find(attack).is_some_and(|k| k.is_l2()) {
        "ε: L2 radius (0 = clean)".to_owned()
    } else {
        "ε: L∞ radius (0 = clean)".to_owned()
    }
}

fn training(s: &mut String, m: &Metrics) {
    if m.training.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "<h2>Training</h2>\n<table>\n<thead><tr><th>epoch</th><th>loss</th><th>accuracy</th><th>seconds</th>\
         <th>examples/s</th><th>device busy</th></tr></thead>"
    );
    for e in &m.training {
        let _ = writeln!(s, "<tr><td>{}</td></tr>", super::training_cells(e).join("</td><td>"));
    }
    let _ = writeln!(s, "</table>");
}

/// The gallery: a row per perturbation, a column per test input.
fn gallery(s: &mut String, examples: &Examples) {
    if examples.clean.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "<h2>Examples</h2>\n<p>The first {} test inputs, under each corruption at severity {} and each \
         attack at its middle ε. Under each input: its true class, then the prediction on the clean input → \
         the prediction on this one. Shaded cells are inputs the perturbation turned from right to wrong; \
         in texts, <mark>marked</mark> characters were added and <del>struck</del> ones removed.</p>",
        examples.clean.len(),
        super::examples::SEVERITY
    );
    let _ = writeln!(s, "<table class=\"gallery\">");
    let _ = write!(s, "<tr><th>clean</th>");
    for e in &examples.clean {
        cell(s, e, true);
    }
    let _ = writeln!(s, "</tr>");
    for g in &examples.groups {
        let _ = write!(
            s,
            "<tr><th>{}<br><span class=\"pred\">{}</span></th>",
            escape(&g.name),
            escape(&g.setting)
        );
        for e in &g.examples {
            cell(s, e, false);
        }
        let _ = writeln!(s, "</tr>");
    }
    let _ = writeln!(s, "</table>");
}

fn cell(s: &mut String, e: &Example, clean: bool) {
    let flipped = e.before == e.label && e.after != e.label;
    let _ = write!(s, "<td{}>", if flipped { " class=\"flipped\"" } else { "" });
    match &e.input {
        Shown::Png(bytes) if bytes.is_empty() => s.push('–'),
        Shown::Png(bytes) => {
            let data = base64::engine::general_purpose::STANDARD.encode(bytes);
            let _ = write!(s, "<img src=\"data:image/png;base64,{data}\" alt=\"{}\">", escape(&e.label));
        }
        Shown::Text { text, .. } if clean => {
            let _ = write!(s, "<div class=\"text\">{}</div>", diff::visible(text));
        }
        Shown::Text { original, text } => {
            let _ = write!(s, "<div class=\"text\">{}</div>", diff::marked(original, text));
        }
    }
    let prediction = if clean {
        format!("predicted {}", escape(&e.after))
    } else {
        format!("{} → {}", escape(&e.before), escape(&e.after))
    };
    let _ = writeln!(s, "<div class=\"pred\">true {}; {prediction}</div></td>", escape(&e.label));
}

fn provenance(s: &mut String, m: &Manifest) {
    let _ = writeln!(s, "<h2>Provenance</h2>\n<ul>");
    for input in &m.inputs {
        let _ = write!(
            s,
            "<li><code>{}</code>: sha256 <code>{}</code>",
            escape(&input.path),
            escape(&input.sha256)
        );
        if let Some(d) = &input.images_sha256 {
            let _ = write!(s, "; referenced images sha256 <code>{}</code>", escape(d));
        }
        let _ = writeln!(s, "</li>");
    }
    let _ = writeln!(
        s,
        "<li>config <code>{}</code>, sha256 <code>{}</code></li>",
        escape(&m.config_file),
        escape(&m.config_sha256)
    );
    if let Some(w) = &m.weights_sha256 {
        let _ = writeln!(s, "<li>weights sha256 <code>{}</code></li>", escape(w));
    }
    let _ = writeln!(
        s,
        "<li>seed {}, device {} (requested <code>{}</code>)</li>",
        m.seed,
        escape(&m.device),
        escape(&m.device_requested)
    );
    let v = &m.versions;
    let _ = writeln!(
        s,
        "<li>temper {}, burn {}, polars {}</li>",
        escape(&v.temper),
        escape(&v.burn),
        escape(&v.polars)
    );
    if let Some(g) = &m.git_revision {
        let _ = writeln!(s, "<li>git revision <code>{}</code></li>", escape(g));
    }
    let _ = writeln!(
        s,
        "<li>started {}{}</li>\n</ul>",
        escape(&m.started_at),
        m.finished_at.as_deref().map_or(String::new(), |f| format!(", finished {}", escape(f)))
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::examples::Group;
    use crate::report::svg::tests::balanced;
    use crate::run::manifest::{InputFile, Versions};
    use crate::run::metrics::{EpochMetrics, METRICS_SCHEMA, RunInfo};

    fn table(rows: &[(&str, &[(&str, f64)])]) -> CorruptionTable {
        rows.iter()
            .map(|(k, cells)| (k.to_string(), cells.iter().map(|(e, v)| (e.to_string(), *v)).collect()))
            .collect()
    }

    fn metrics() -> Metrics {
        Metrics {
            schema_version: METRICS_SCHEMA,
            run: RunInfo {
                name: "digits".into(),
                id: "20260101T000000Z".into(),
                modality: "image".into(),
                classes: vec!["<b>".into(), "seven".into()],
                train_examples: 10,
                test_examples: 4,
                skipped_rows: 0,
            },
            clean_accuracy: 0.9,
            corruption_accuracy: table(&[
                ("gaussian_noise", &[("1", 0.8), ("2", 0.7), ("3", 0.6), ("4", 0.5), ("5", 0.4)]),
                ("rotate", &[("1", 0.85), ("2", 0.8), ("3", 0.75), ("4", 0.7), ("5", 0.65)]),
            ]),
            mean_corruption_accuracy: Some(0.675),
            mce: Some(0.8),
            relative_mce: Some(0.9),
            corruption_error: [("gaussian_noise".to_owned(), 0.7), ("rotate".to_owned(), 0.9)].into(),
            mce_baseline: Some("base <run>".into()),
            training: vec![EpochMetrics {
                epoch: 1,
                loss: 0.5,
                accuracy: 0.8,
                seconds: 1.0,
                examples_per_second: 100.0,
                device_busy_share: 1.0,
            }],
            attack_accuracy: table(&[("fgsm", &[("0.2", 0.1), ("0.05", 0.5), ("0.1", 0.3)])]),
            attack_success_rate: table(&[("fgsm", &[("0.2", 0.9), ("0.05", 0.4), ("0.1", 0.6)])]),
            attack_mean_norm: table(&[("fgsm", &[("0.2", 0.2), ("0.05", 0.05), ("0.1", 0.1)])]),
            attack_mean_queries: CorruptionTable::new(),
        }
    }

    fn manifest() -> Manifest {
        Manifest {
            schema_version: 1,
            run_name: "digits".into(),
            run_id: "20260101T000000Z".into(),
            status: "completed".into(),
            error: None,
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: Some("2026-01-01T00:01:00Z".into()),
            config_file: "configs/digits.toml".into(),
            config_sha256: "c".repeat(64),
            seed: 7,
            device_requested: "cpu".into(),
            device: "cpu (flex)".into(),
            inputs: vec![InputFile {
                path: "/data/train&test.csv".into(),
                sha256: "a".repeat(64),
                bytes: 10,
                images_sha256: None,
            }],
            weights_sha256: Some("b".repeat(64)),
            versions: Versions { temper: "0.1.0".into(), burn: "0.22.1".into(), polars: "0.55.2".into() },
            git_revision: None,
            host: "h".into(),
            command: vec![],
        }
    }

    fn examples() -> Examples {
        let example = |after: &str| Example {
            input: Shown::Png(vec![1, 2, 3]),
            label: "<b>".into(),
            before: "<b>".into(),
            after: after.into(),
        };
        Examples {
            clean: vec![example("<b>")],
            groups: vec![Group {
                name: "rotate".into(),
                setting: "severity 3".into(),
                examples: vec![example("seven")],
            }],
        }
    }

    #[test]
    fn the_page_has_headline_rows_both_charts_and_escaped_data() {
        let page = html(&metrics(), &manifest(), &examples());
        balanced(&page);
        for row in [
            "<td>clean_accuracy</td><td>90.0%</td>",
            "<td>mean_corruption_accuracy</td><td>67.5%</td>",
            "<td>mCE (vs base &lt;run&gt;)</td><td>80.0%</td>",
            "<td>relative_mCE (vs base &lt;run&gt;)</td><td>90.0%</td>",
            "<td>attack_accuracy fgsm ε=0.05</td><td>50.0%</td>",
            "<td>attack_accuracy fgsm ε=0.2</td><td>10.0%</td>",
        ] {
            assert!(page.contains(row), "missing {row}");
        }
        // ε rows in numeric order, not string order.
        let (a, b) = (page.find("fgsm ε=0.05").expect("row"), page.find("fgsm ε=0.1").expect("row"));
        assert!(a < b);
        assert_eq!(page.matches("<svg").count(), 2, "severity chart and one chart for fgsm");
        assert!(page.contains("Accuracy versus severity") && page.contains("Accuracy under fgsm"));
        assert!(page.contains(r#"data-name="gaussian_noise""#) && page.contains(r#"data-name="rotate""#));
        assert!(page.contains("ε: L∞ radius (0 = clean)"));
        // A class name from the data is text, never markup.
        assert!(!page.contains("<b>"), "unescaped class name");
        assert!(page.contains("true &lt;b&gt;; &lt;b&gt; → seven"));
        assert!(page.contains("/data/train&amp;test.csv"));
        assert!(page.contains(r#"<img src="data:image/png;base64,AQID""#));
        assert!(page.contains(r#"<td class="flipped">"#), "the flipped rotate example is shaded");
        assert!(!page.contains("<script"));
    }

    #[test]
    fn sections_without_data_are_left_out() {
        let mut m = metrics();
        m.corruption_accuracy.clear();
        m.mean_corruption_accuracy = None;
        m.attack_accuracy.clear();
        m.mce_baseline = None;
        let page = html(&m, &manifest(), &Examples::default());
        balanced(&page);
        assert!(!page.contains("<svg") && !page.contains("mCE") && !page.contains("<h2>Examples"));
        assert!(page.contains("<td>clean_accuracy</td>"));
    }

    #[test]
    fn text_examples_show_their_edits() {
        let e = Examples {
            clean: vec![Example {
                input: Shown::Text { original: "refund".into(), text: "refund".into() },
                label: "billing".into(),
                before: "billing".into(),
                after: "billing".into(),
            }],
            groups: vec![Group {
                name: "typo".into(),
                setting: "severity 3".into(),
                examples: vec![Example {
                    input: Shown::Text { original: "refund".into(), text: "rehund".into() },
                    label: "billing".into(),
                    before: "billing".into(),
                    after: "other".into(),
                }],
            }],
        };
        let page = html(&metrics(), &manifest(), &e);
        balanced(&page);
        assert!(page.contains("re<del>f</del><mark>h</mark>und"), "{page}");
    }
}
