//! `report.html` of a run, and the HTML page of `temper compare`.

use temper::synth::ImageLayout;

use crate::harness::{Sandbox, digits_config};

#[test]
fn html_report_and_comparison_page() {
    let sb = Sandbox::new();
    sb.digits(300, 100, ImageLayout::CsvPaths);
    let attack = "[[eval.attacks]]\nname = \"fgsm\"\nepsilons = [0.2, 0.05, 0.1]\nexamples = 20\n";
    let a = sb.write("a.toml", digits_config("digits/train.csv", "digits/test.csv", "") + attack);
    let b = sb.write(
        "b.toml",
        digits_config("digits/train.csv", "digits/test.csv", "")
            .replace("epochs = 2", "epochs = 1")
            .replace("tiny-digits", "short"),
    );
    for cfg in [&a, &b] {
        let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
        assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    }
    let dirs = sb.run_dirs();
    let find = |name: &str| dirs.iter().find(|d| d.to_string_lossy().contains(name)).unwrap().clone();
    let (dir_a, dir_b) = (find("tiny-digits"), find("short"));

    let report = std::fs::read_to_string(dir_a.join("report.html")).expect("report.html");
    assert!(report.starts_with("<!DOCTYPE html>") && report.trim_end().ends_with("</html>"));
    // Self-contained: no scripts, no links to other files.
    assert!(!report.contains("<script") && !report.contains("src=\"http") && !report.contains("href="));
    // The severity chart and one ε chart for fgsm.
    assert_eq!(report.matches("<svg").count(), 2, "{report}");
    assert!(report.contains("Accuracy versus severity") && report.contains("Accuracy under fgsm"));
    assert!(report.contains(r#"data-name="gaussian_noise""#) && report.contains(r#"data-name="rotate""#));
    // Gallery: 4 clean inputs, then 4 per corruption and 4 for fgsm at its middle ε.
    let png = r#"<img src="data:image/png;base64,"#;
    assert_eq!(report.matches(png).count(), 4 * 4, "{report}");
    assert!(report.contains("fgsm<br><span class=\"pred\">ε = 0.1</span>"), "{report}");
    let start = report.find(png).unwrap() + png.len();
    let encoded = &report[start..start + report[start..].find('"').unwrap()];
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).expect("base64");
    let thumb = image::load_from_memory(&bytes).expect("a PNG");
    assert_eq!((thumb.width(), thumb.height()), (28, 28));
    // Every caption names classes from classes.json.
    let classes = sb.json(&dir_a.join("classes.json"));
    let classes: Vec<&str> = classes.as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    let captions: Vec<&str> = report.split("<div class=\"pred\">true ").skip(1).collect();
    assert_eq!(captions.len(), 4 * 4);
    for caption in captions {
        let label = &caption[..caption.find(';').unwrap()];
        assert!(classes.contains(&label), "{label} is not a class: {classes:?}");
    }

    // The run without attacks has only the severity chart.
    let report_b = std::fs::read_to_string(dir_b.join("report.html")).expect("report.html");
    assert_eq!(report_b.matches("<svg").count(), 1);

    let out = sb.path().join("cmp.html");
    let cmp = sb.temper(&[
        "compare",
        dir_a.to_str().unwrap(),
        dir_b.to_str().unwrap(),
        "--html",
        out.to_str().unwrap(),
    ]);
    assert_eq!(cmp.code, 0, "{}", cmp.stderr);
    assert!(cmp.stdout.contains("| clean_accuracy |"), "the markdown table still goes to stdout");
    let page = std::fs::read_to_string(&out).expect("comparison page");
    let id = |d: &std::path::Path| d.file_name().unwrap().to_string_lossy().into_owned();
    for label in [format!("tiny-digits/{}", id(&dir_a)), format!("short/{}", id(&dir_b))] {
        assert!(page.contains(&label), "{label} missing from the page");
    }
    assert!(page.contains("Mean accuracy versus severity") && page.contains("Accuracy under fgsm"));
    assert!(page.contains("<td>clean_accuracy</td>"));
}
