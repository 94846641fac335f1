//! Human-readable reports of a run: `report.md`, and `report.html` with
//! its SVG charts and gallery.

mod diff;
pub mod examples;
pub mod html;
pub mod markup;
pub mod svg;

use std::fmt::Write;

pub use examples::Examples;
pub use html::{html, page};

use crate::run::manifest::Manifest;
use crate::run::metrics::Metrics;

/// One epoch's cells for the training tables of report.md and report.html:
/// epoch, loss, accuracy, seconds, examples/s, device busy.
pub fn training_cells(e: &crate::run::metrics::EpochMetrics) -> [String; 6] {
    [
        e.epoch.to_string(),
        format!("{:.4}", e.loss),
        pct(e.accuracy),
        format!("{:.1}", e.seconds),
        format!("{:.0}", e.examples_per_second),
        pct(e.device_busy_share),
    ]
}

/// Formats a fraction as a percentage with one decimal.
pub fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// `report.md`: headline numbers, then accuracy per op and severity.
pub fn markdown(metrics: &Metrics, manifest: &Manifest) -> String {
    let mut s = String::new();
    let r = &metrics.run;
    let _ = writeln!(s, "# Robustness report: {} ({})\n", r.name, r.id);
    let _ = writeln!(
        s,
        "{} classifier, {} classes, {} training and {} test examples; seed {}, device {}.\n",
        r.modality,
        r.classes.len(),
        r.train_examples,
        r.test_examples,
        manifest.seed,
        manifest.device
    );
    if r.skipped_rows > 0 {
        let _ = writeln!(
            s,
            "{} bad rows were skipped (`on-bad-row = \"skip\"`); `log.jsonl` lists them.\n",
            r.skipped_rows
        );
    }
    let _ = writeln!(s, "| metric | value |\n|---|---|");
    let _ = writeln!(s, "| clean_accuracy | {} |", pct(metrics.clean_accuracy));
    if let Some(m) = metrics.mean_corruption_accuracy {
        let _ = writeln!(s, "| mean_corruption_accuracy | {} |", pct(m));
    }
    if let Some(base) = &metrics.mce_baseline {
        let opt = |v: Option<f64>| v.map_or("–".into(), pct);
        let _ = writeln!(s, "| mCE (vs {base}) | {} |", opt(metrics.mce));
        let _ = writeln!(s, "| relative_mCE (vs {base}) | {} |", opt(metrics.relative_mce));
    }
    for (attack, by_eps) in &metrics.attack_accuracy {
        for (eps, acc) in by_eps {
            let _ = writeln!(s, "| attack_accuracy {attack} ε={eps} | {} |", pct(*acc));
        }
    }
    if !metrics.corruption_accuracy.is_empty() {
        let _ = writeln!(s, "\n## Accuracy under corruption\n");
        let _ = writeln!(s, "Clean accuracy is severity 0.\n");
        let _ = writeln!(s, "| op | 0 | 1 | 2 | 3 | 4 | 5 | mean |\n|---|---|---|---|---|---|---|---|");
        for (op, by_sev) in &metrics.corruption_accuracy {
            let cells: Vec<String> =
                (1..=5).map(|k| by_sev.get(&k.to_string()).map_or("–".into(), |v| pct(*v))).collect();
            let mean = by_sev.values().sum::<f64>() / by_sev.len().max(1) as f64;
            let _ = writeln!(
                s,
                "| {op} | {} | {} | {} |",
                pct(metrics.clean_accuracy),
                cells.join(" | "),
                pct(mean)
            );
        }
    }
    if !metrics.attack_accuracy.is_empty() {
        let _ = writeln!(s, "\n## Accuracy under attack\n");
        let _ = writeln!(
            s,
            "Attacks on the model in evaluation mode. Success rate: the share of correctly \
             classified inputs the attack flipped. Norm: mean L∞ (L2 for `pgd_l2`) of the applied \
             perturbation on the [0, 1] pixel scale; for text attacks ε is the largest share of \
             words that may change and the norm the mean share that did. Queries: mean texts sent \
             to the model per input (black-box attacks).\n"
        );
        let _ = writeln!(
            s,
            "| attack | ε | accuracy | success rate | mean norm | mean queries |\n|---|---|---|---|---|---|"
        );
        for (attack, by_eps) in &metrics.attack_accuracy {
            let mut rows: Vec<(&String, &f64)> = by_eps.iter().collect();
            rows.sort_by(|a, b| {
                a.0.parse::<f64>().unwrap_or(0.0).total_cmp(&b.0.parse::<f64>().unwrap_or(0.0))
            });
            for (eps, acc) in rows {
                let get = |t: &crate::run::metrics::CorruptionTable| {
                    t.get(attack).and_then(|m| m.get(eps)).copied()
                };
                let _ = writeln!(
                    s,
                    "| {attack} | {eps} | {} | {} | {} | {} |",
                    pct(*acc),
                    get(&metrics.attack_success_rate).map_or("–".into(), pct),
                    get(&metrics.attack_mean_norm).map_or("–".into(), |v| format!("{v:.3}")),
                    get(&metrics.attack_mean_queries).map_or("–".into(), |v| format!("{v:.1}"))
                );
            }
        }
    }
    if !metrics.training.is_empty() {
        let _ = writeln!(s, "\n## Training\n");
        let _ = writeln!(
            s,
            "| epoch | loss | accuracy | seconds | examples/s | device busy |\n|---|---|---|---|---|---|"
        );
        for e in &metrics.training {
            let _ = writeln!(s, "| {} |", training_cells(e).join(" | "));
        }
    }
    let _ = writeln!(s, "\n## Provenance\n");
    for input in &manifest.inputs {
        let _ = writeln!(s, "- `{}`: sha256 `{}`", input.path, input.sha256);
    }
    let _ = writeln!(s, "- config sha256 `{}`", manifest.config_sha256);
    if let Some(w) = &manifest.weights_sha256 {
        let _ = writeln!(s, "- weights sha256 `{w}`");
    }
    let v = &manifest.versions;
    let _ = writeln!(s, "- temper {}, burn {}, polars {}", v.temper, v.burn, v.polars);
    if let Some(g) = &manifest.git_revision {
        let _ = writeln!(s, "- git revision `{g}`");
    }
    s
}

/// Reads a PNG or JPEG as a gray image if it has no colour, RGB otherwise.
pub fn read_image(path: &std::path::Path) -> anyhow::Result<augment::Image> {
    let img = image::ImageReader::open(path)?.with_guessed_format()?.decode()?;
    let (w, h) = (img.width(), img.height());
    let out = if img.color().has_color() {
        augment::Image::new(w, h, 3, img.into_rgb8().into_raw())
    } else {
        augment::Image::new(w, h, 1, img.into_luma8().into_raw())
    };
    Ok(out?)
}

/// An image as PNG bytes: gray when it has one channel, RGB otherwise.
pub fn png_bytes(img: &augment::Image) -> anyhow::Result<Vec<u8>> {
    use image::ImageEncoder;
    let color =
        if img.channels() == 1 { image::ExtendedColorType::L8 } else { image::ExtendedColorType::Rgb8 };
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes).write_image(
        img.as_bytes(),
        img.width(),
        img.height(),
        color,
    )?;
    Ok(bytes)
}

/// Writes an image as PNG, atomically.
pub fn write_png(path: &std::path::Path, img: &augment::Image) -> anyhow::Result<()> {
    crate::run::write_atomic(path, &png_bytes(img)?)?;
    Ok(())
}
