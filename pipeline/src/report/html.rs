//! `report.html`: the report's sections with charts and the examples, in
//! one self-contained file (inline CSS and SVG, images as data URIs, no
//! scripts), so it can be mailed, archived or opened from a CI artifact.

use std::fmt::Write;

use base64::Engine;

use super::diff;
use super::markup::{escape, page};
use super::sections::{Block, Document, Span, Table};
use crate::eval::examples::{self, Example, Examples, Shown};

/// Longest side of an image thumbnail, in pixels; larger inputs are shrunk
/// so the report stays small.
const THUMBNAIL: u32 = 96;

/// Renders a report document as one HTML page.
pub fn render(doc: &Document) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "<h1>{}</h1>", escape(&doc.title));
    for block in &doc.intro {
        write_block(&mut s, block);
    }
    for section in &doc.sections {
        let _ = writeln!(s, "<h2>{}</h2>", escape(section.title));
        for block in &section.blocks {
            write_block(&mut s, block);
        }
    }
    page(&doc.title, &s)
}

fn write_block(s: &mut String, block: &Block) {
    match block {
        Block::Text(spans) => {
            let _ = writeln!(s, "<p>{}</p>", spans_html(spans));
        }
        Block::Table(t) => table(s, t),
        Block::List(items) => {
            let _ = writeln!(s, "<ul>");
            for item in items {
                let _ = writeln!(s, "<li>{}</li>", spans_html(item));
            }
            let _ = writeln!(s, "</ul>");
        }
        Block::Charts(charts) if charts.len() == 1 => s.push_str(&charts[0].render()),
        Block::Charts(charts) => {
            let _ = writeln!(s, "<div class=\"charts\">");
            for chart in charts {
                s.push_str(&chart.render());
            }
            let _ = writeln!(s, "</div>");
        }
        Block::Examples(e) => examples_table(s, e),
    }
}

fn spans_html(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|span| match span {
            Span::Plain(t) => escape(t),
            Span::Code(t) => format!("<code>{}</code>", escape(t)),
        })
        .collect()
}

fn table(s: &mut String, t: &Table) {
    let _ = write!(s, "<table>\n<thead><tr>");
    for h in &t.header {
        let _ = write!(s, "<th>{}</th>", escape(h));
    }
    let _ = writeln!(s, "</tr></thead>");
    for row in &t.rows {
        let _ = writeln!(
            s,
            "<tr><td>{}</td></tr>",
            row.iter().map(|c| escape(c)).collect::<Vec<_>>().join("</td><td>")
        );
    }
    let _ = writeln!(s, "</table>");
}

/// The examples: a row per perturbation, a column per test input.
fn examples_table(s: &mut String, examples: &Examples) {
    let _ = writeln!(
        s,
        "<p>The first {} test inputs, under each corruption at severity {} and each \
         attack at its middle ε. Under each input: its true class, then the prediction on the clean input → \
         the prediction on this one. Shaded cells are inputs the perturbation turned from right to wrong; \
         in texts, <mark>marked</mark> characters were added and <del>struck</del> ones removed.</p>",
        examples.clean.len(),
        examples::SEVERITY
    );
    let _ = writeln!(s, "<table class=\"examples\">");
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
        Shown::Image(img) => match super::png_bytes(&shrink(img.clone())) {
            Ok(bytes) => {
                let data = base64::engine::general_purpose::STANDARD.encode(bytes);
                let _ = write!(s, "<img src=\"data:image/png;base64,{data}\" alt=\"{}\">", escape(&e.label));
            }
            // An image the encoder refuses is shown as missing, never as another.
            Err(_) => s.push('–'),
        },
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

/// `img` scaled down to fit [`THUMBNAIL`] when it is larger.
fn shrink(img: augment::Image) -> augment::Image {
    let (w, h) = (img.width(), img.height());
    if w.max(h) <= THUMBNAIL {
        return img;
    }
    let scale = f64::from(THUMBNAIL) / f64::from(w.max(h));
    let (nw, nh) =
        (((f64::from(w) * scale).round() as u32).max(1), ((f64::from(h) * scale).round() as u32).max(1));
    let channels = img.channels();
    let small = match channels {
        1 => thumbnail::<image::Luma<u8>>(w, h, img.as_bytes().to_vec(), nw, nh),
        3 => thumbnail::<image::Rgb<u8>>(w, h, img.as_bytes().to_vec(), nw, nh),
        _ => None,
    };
    small.and_then(|bytes| augment::Image::new(nw, nh, channels, bytes).ok()).unwrap_or(img)
}

fn thumbnail<P: image::Pixel<Subpixel = u8> + 'static>(
    w: u32,
    h: u32,
    bytes: Vec<u8>,
    nw: u32,
    nh: u32,
) -> Option<Vec<u8>> {
    let buffer = image::ImageBuffer::<P, Vec<u8>>::from_raw(w, h, bytes)?;
    Some(image::imageops::thumbnail(&buffer, nw, nh).into_raw())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::examples::Group;
    use crate::report::html as page_of;
    use crate::report::svg::tests::balanced;
    use crate::run::manifest::{InputFile, Versions};
    use crate::run::manifest::{Manifest, RunStatus};
    use crate::run::metrics::{EpochMetrics, METRICS_SCHEMA, RunInfo};
    use crate::run::metrics::{MetricTable, Metrics};

    fn table(rows: &[(&str, &[(&str, f64)])]) -> MetricTable {
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
            corruption_table: [
                ("gaussian_noise".to_owned(), "cifar10_c".to_owned()),
                ("rotate".to_owned(), "mnist_c".to_owned()),
            ]
            .into(),
            mce_baseline: Some("base <run>".into()),
            training: vec![EpochMetrics {
                epoch: 1,
                loss: 0.5,
                accuracy: 0.8,
                seconds: 1.0,
                examples_per_second: 100.0,
                device_busy_share: 1.0,
                epsilon: None,
                validation_loss: None,
                validation_accuracy: None,
                validation_robust_accuracy: None,
            }],
            attack_accuracy: table(&[("fgsm", &[("0.2", 0.1), ("0.05", 0.5), ("0.1", 0.3)])]),
            attack_success_rate: table(&[("fgsm", &[("0.2", 0.9), ("0.05", 0.4), ("0.1", 0.6)])]),
            attack_mean_norm: table(&[("fgsm", &[("0.2", 0.2), ("0.05", 0.05), ("0.1", 0.1)])]),
            attack_mean_queries: MetricTable::new(),
            attack_worst_case_accuracy: MetricTable::new(),
            attack_stage_accuracy: Default::default(),
            privacy: None,
            canaries: None,
            dp: None,
            poison: None,
            filter: None,
            extraction: None,
            validation: None,
            certification: Default::default(),
        }
    }

    fn manifest() -> Manifest {
        Manifest {
            schema_version: 1,
            run_name: "digits".into(),
            run_id: "20260101T000000Z".into(),
            status: RunStatus::Completed,
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
            corruption_tables: Default::default(),
            eval_shards: None,
            weights_sha256: Some("b".repeat(64)),
            lexicon_sha256: None,
            versions: Versions { temper: "0.1.0".into(), burn: "0.22.1".into(), polars: "0.55.2".into() },
            git_revision: None,
            host: "h".into(),
            command: vec![],
        }
    }

    fn examples() -> Examples {
        let example = |after: &str| Example {
            input: Shown::Image(augment::Image::new(2, 1, 1, vec![0, 255]).expect("image")),
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
        let page = page_of(&metrics(), &manifest(), &examples());
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
        assert!(
            page.contains(r#"<img src="data:image/png;base64,iVBORw0KGgo"#),
            "examples are PNG data URIs"
        );
        assert!(page.contains(r#"<td class="flipped">"#), "the flipped rotate example is shaded");
        assert!(!page.contains("<script"));
    }

    #[test]
    fn a_square_attack_well_below_pgd_is_reported_as_masked_gradients() {
        let mut m = metrics();
        m.attack_accuracy = table(&[
            ("pgd_linf", &[("0.05", 0.95), ("0.1", 0.80), ("0.2", 0.30)]),
            ("square", &[("0.05", 0.945), ("0.1", 0.41), ("0.3", 0.01)]),
        ]);
        let found = crate::report::sections::masked_gradients(&m);
        // Half a point below PGD at 0.05 is within noise; 0.3 has no PGD figure.
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("ε 0.1") && found[0].contains("41.0%") && found[0].contains("80.0%"),
            "{found:?}"
        );
        let md = crate::report::markdown(&m, &manifest(), &Examples::default());
        assert!(md.contains("gradients look masked"), "{md}");
        m.attack_accuracy.remove("pgd_linf");
        assert!(
            crate::report::sections::masked_gradients(&m).is_empty(),
            "no PGD figure, nothing to compare"
        );
    }

    #[test]
    fn the_worst_case_names_the_attacks_it_takes() {
        let mut m = metrics();
        m.attack_accuracy =
            table(&[("pgd_linf", &[("0.1", 0.20)]), ("square", &[("0.1", 0.25)]), ("pgd_l2", &[("1", 0.5)])]);
        m.attack_worst_case_accuracy = table(&[("linf", &[("0.1", 0.125)])]);
        let lines = crate::report::sections::worst_cases(&m);
        assert_eq!(
            lines,
            [
                "Worst case at L∞ ε 0.1, a row counted as broken when any of pgd_linf, square broke it: 12.5% correct."
            ]
        );
        let md = crate::report::markdown(&m, &manifest(), &Examples::default());
        assert!(md.contains("Worst case at L∞ ε 0.1"), "{md}");
    }

    #[test]
    fn a_cascade_reports_each_stage_and_a_square_stage_that_breaks_more_as_masking() {
        let mut m = metrics();
        m.attack_accuracy = table(&[("autoattack_linf", &[("0.05", 0.15), ("0.1", 0.01)])]);
        let stage = |pairs: &[(&str, f64)]| pairs.iter().map(|&(s, a)| (s.to_owned(), a)).collect();
        m.attack_stage_accuracy.insert(
            "autoattack_linf".into(),
            [
                // The square stage breaks 2.5 points more at 0.05, half a point at 0.1.
                (
                    "0.05".to_owned(),
                    stage(&[("square", 0.15), ("apgd_t_linf", 0.175), ("apgd_ce_linf", 0.19)]),
                ),
                (
                    "0.1".to_owned(),
                    stage(&[("apgd_ce_linf", 0.02), ("apgd_t_linf", 0.015), ("square", 0.01)]),
                ),
            ]
            .into(),
        );
        let lines = crate::report::sections::cascades(&m);
        assert_eq!(
            lines[0],
            "autoattack_linf at ε 0.05, each attack run on the rows the ones before it left correct: \
             19.0% after apgd_ce_linf, 17.5% after apgd_t_linf, 15.0% after square."
        );
        assert_eq!(lines.len(), 2, "{lines:?}");
        let found = crate::report::sections::masked_gradients(&m);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("ε 0.05") && found[0].contains("from 17.5% to 15.0%"), "{found:?}");
        let md = crate::report::markdown(&m, &manifest(), &Examples::default());
        assert!(md.contains("after apgd_t_linf") && md.contains("gradients look masked"), "{md}");
    }

    #[test]
    fn hopskipjump_below_pgd_of_its_norm_is_reported_as_masked_gradients() {
        let mut m = metrics();
        m.attack_accuracy = table(&[
            ("pgd_l2", &[("1", 0.70)]),
            ("pgd_linf", &[("0.1", 0.50)]),
            ("hsja_l2", &[("1", 0.52)]),
            // Above PGD-L∞: nothing to say.
            ("hsja_linf", &[("0.1", 0.60)]),
        ]);
        let found = crate::report::sections::masked_gradients(&m);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("HopSkipJump")
                && found[0].contains("52.0%")
                && found[0].contains("pgd_l2's 70.0%"),
            "{found:?}"
        );
    }

    #[test]
    fn auto_pgd_below_pgd_says_pgd_stops_short_and_moves_the_masking_check() {
        let mut m = metrics();
        m.attack_accuracy = table(&[
            ("pgd_linf", &[("0.05", 0.28), ("0.1", 0.02)]),
            ("apgd_ce_linf", &[("0.05", 0.19), ("0.1", 0.015)]),
            ("apgd_t_linf", &[("0.05", 0.21)]),
            // Below PGD but not below Auto-PGD: no masking, only a weak PGD.
            ("square", &[("0.05", 0.26)]),
            ("pgd_l2", &[("1", 0.10)]),
            ("apgd_dlr_l2", &[("1", 0.095)]),
        ]);
        let found = crate::report::sections::weak_pgd(&m);
        // Half a point at L∞ 0.1 and L2 1 is within noise.
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("ε 0.05 Auto-PGD (apgd_ce_linf) left 19.0%")
                && found[0].contains("pgd_linf's 28.0%"),
            "{found:?}"
        );
        assert!(crate::report::sections::masked_gradients(&m).is_empty());
        let md = crate::report::markdown(&m, &manifest(), &Examples::default());
        assert!(md.contains("fixed-step PGD stops short"), "{md}");
        // Below every gradient attack of its norm, the Square Attack names the strongest.
        m.attack_accuracy.insert("square".to_owned(), [("0.05".to_owned(), 0.15)].into_iter().collect());
        let masked = crate::report::sections::masked_gradients(&m);
        assert_eq!(masked.len(), 1, "{masked:?}");
        assert!(masked[0].contains("15.0%") && masked[0].contains("apgd_ce_linf's 19.0%"), "{masked:?}");
    }

    #[test]
    fn sections_without_data_are_left_out() {
        let mut m = metrics();
        m.corruption_accuracy.clear();
        m.mean_corruption_accuracy = None;
        m.attack_accuracy.clear();
        m.mce_baseline = None;
        let page = page_of(&m, &manifest(), &Examples::default());
        balanced(&page);
        assert!(!page.contains("<svg") && !page.contains("mCE") && !page.contains("<h2>Examples"));
        assert!(page.contains("<td>clean_accuracy</td>"));
        let md = crate::report::markdown(&m, &manifest(), &Examples::default());
        assert!(
            !md.contains("## Accuracy under") && !md.contains("mCE") && !md.contains("## Examples"),
            "{md}"
        );
    }

    #[test]
    fn markdown_and_html_list_the_same_rows_in_the_same_order() {
        let mut man = manifest();
        man.inputs[0].images_sha256 = Some("d".repeat(64));
        let (m, e) = (metrics(), examples());
        let md = crate::report::markdown(&m, &man, &e);
        let page = page_of(&m, &man, &e);
        // ε in numeric order in both (string order would put 0.2 before 0.05's neighbours).
        for doc in [&md, &page] {
            let at = |needle: &str| doc.find(needle).unwrap_or_else(|| panic!("{needle} missing from {doc}"));
            assert!(at("fgsm ε=0.05") < at("fgsm ε=0.1") && at("fgsm ε=0.1") < at("fgsm ε=0.2"));
            assert!(doc.contains(&"d".repeat(64)), "the referenced-images digest is in both");
            assert!(doc.contains("70.0%"), "CE column in both");
            assert!(
                doc.contains("cifar10_c") && doc.contains("mnist_c"),
                "the parameter table of each op in both"
            );
        }
        let headings = |doc: &str, prefix: &str| -> Vec<String> {
            doc.lines()
                .filter_map(|l| l.strip_prefix(prefix))
                .map(|h| h.trim_end_matches("</h2>").to_owned())
                .collect()
        };
        assert_eq!(headings(&md, "## "), headings(&page, "<h2>"));
        assert!(md.contains("| attack_accuracy fgsm ε=0.05 | 50.0% |"), "{md}");
    }

    #[test]
    fn a_validated_run_shows_the_kept_epoch_and_each_epochs_validation_scores() {
        let mut m = metrics();
        m.training[0].validation_loss = Some(0.25);
        m.training[0].validation_accuracy = Some(0.9);
        m.validation = Some(crate::run::metrics::ValidationMetrics {
            rows: 120,
            best_epoch: 1,
            accuracy: 0.9,
            loss: 0.25,
            robust_accuracy: None,
            robust_rows: None,
            epochs_trained: 1,
            stopped_early: false,
        });
        let md = crate::report::markdown(&m, &manifest(), &Examples::default());
        let page = page_of(&m, &manifest(), &Examples::default());
        balanced(&page);
        for doc in [&md, &page] {
            assert!(doc.contains("120 training rows were held out"), "{doc}");
            assert!(doc.contains("the weights of epoch 1 (validation accuracy 90.0%"), "{doc}");
            assert!(doc.contains("validation accuracy"), "{doc}");
        }
        assert!(md.contains("| 1 | 0.5000 | 80.0% | 0.2500 | 90.0% |"), "{md}");
        // Without a validation split the columns are not there.
        let plain = crate::report::markdown(&metrics(), &manifest(), &Examples::default());
        assert!(!plain.contains("validation"), "{plain}");
    }

    #[test]
    fn a_private_run_states_its_epsilon_in_the_headline_and_per_epoch() {
        let mut m = metrics();
        m.training[0].epsilon = Some(1.25);
        m.dp = Some(crate::run::metrics::DpMetrics {
            epsilon: 1.25,
            delta: 1e-5,
            target_epsilon: Some(2.0),
            noise_multiplier: 1.1,
            max_grad_norm: 1.0,
            sample_rate: 0.01,
            steps: 100,
        });
        let md = crate::report::markdown(&m, &manifest(), &Examples::default());
        let page = page_of(&m, &manifest(), &Examples::default());
        balanced(&page);
        assert!(md.contains("| dp.epsilon | 1.250 (δ = 1e-5) |"), "{md}");
        assert!(page.contains("<td>dp.epsilon</td><td>1.250 (δ = 1e-5)</td>"));
        for doc in [&md, &page] {
            assert!(doc.contains("Privacy: differential privacy"));
            assert!(doc.contains("(1.250, 1e-5)-differentially private") && doc.contains("target ε of 2"));
        }
        assert!(md.contains("| 1 | 1.250 | 80.0% |"), "{md}");
        m.dp = None;
        let md = crate::report::markdown(&m, &manifest(), &Examples::default());
        assert!(!md.contains("differential privacy") && !md.contains("dp.epsilon"));
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
        let page = page_of(&metrics(), &manifest(), &e);
        balanced(&page);
        assert!(page.contains("re<del>f</del><mark>h</mark>und"), "{page}");
    }
}
