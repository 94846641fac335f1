//! Whole runs on both modalities: the run directory and metric sanity.

use temper::synth::ImageLayout;

use crate::harness::{Sandbox, digits_config, messages_config};

fn check_run_dir(sb: &Sandbox, ops: &[&str], chance: f64) -> (std::path::PathBuf, serde_json::Value) {
    let dirs = sb.run_dirs();
    assert_eq!(dirs.len(), 1, "exactly one run directory: {dirs:?}");
    let dir = dirs[0].clone();
    for f in [
        "config.toml",
        "manifest.json",
        "metrics.json",
        "model.safetensors",
        "classes.json",
        "report.md",
        "log.jsonl",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing in {}", dir.display());
    }
    let metrics = sb.json(&dir.join("metrics.json"));
    assert_eq!(metrics["schema_version"], 1);
    let clean = metrics["clean_accuracy"].as_f64().expect("clean accuracy");
    assert!(
        clean > chance + 0.15 && clean <= 1.0,
        "clean accuracy {clean} not clearly above chance {chance}"
    );
    for op in ops {
        for sev in 1..=5 {
            let v = metrics["corruption_accuracy"][op][sev.to_string()].as_f64();
            assert!(v.is_some_and(|v| (0.0..=1.0).contains(&v)), "{op} severity {sev}: {v:?}");
        }
    }
    let mean = metrics["mean_corruption_accuracy"].as_f64().expect("mean");
    assert!(mean < clean + 0.05, "corruptions should not help: mean {mean}, clean {clean}");
    let manifest = sb.json(&dir.join("manifest.json"));
    assert_eq!(manifest["status"], "completed");
    assert_eq!(manifest["weights_sha256"].as_str().map(str::len), Some(64));
    for input in manifest["inputs"].as_array().expect("inputs") {
        let path = input["path"].as_str().expect("path");
        let (sha, _) = temper::hash::sha256_file(std::path::Path::new(path)).expect("hash");
        assert_eq!(input["sha256"].as_str(), Some(sha.as_str()));
    }
    let log = std::fs::read_to_string(dir.join("log.jsonl")).expect("log");
    assert!(log.lines().filter(|l| l.contains("\"event\":\"epoch\"")).count() >= 1);
    (dir, metrics)
}

#[test]
fn image_run_from_png_paths_end_to_end() {
    let sb = Sandbox::new();
    sb.digits(600, 200, ImageLayout::CsvPaths);
    let cfg = sb.write("c.toml", digits_config("digits/train.csv", "digits/test.csv", ""));
    let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let events: Vec<serde_json::Value> =
        run.stderr.lines().map(|l| serde_json::from_str(l).expect("every stderr line is JSON")).collect();
    assert_eq!(events.iter().filter(|e| e["event"] == "epoch").count(), 2, "{}", run.stderr);
    assert_eq!(events.last().map(|e| e["event"].clone()), Some("finished".into()));
    let (dir, metrics) = check_run_dir(&sb, &["gaussian_noise", "rotate"], 0.1);
    let manifest = sb.json(&dir.join("manifest.json"));
    for input in manifest["inputs"].as_array().unwrap() {
        let d = input["images_sha256"].as_str().expect("a digest over the referenced PNG files");
        assert!(d.len() == 64 && d.chars().all(|c| c.is_ascii_hexdigit()));
    }
    let classes = sb.json(&dir.join("classes.json"));
    assert_eq!(classes.as_array().map(Vec::len), Some(10));

    // Re-evaluating the saved model reproduces the clean accuracy exactly.
    let eval = sb.temper(&["eval", "--run", dir.to_str().unwrap(), "--quiet"]);
    assert_eq!(eval.code, 0, "stderr: {}", eval.stderr);
    let evals: Vec<_> = std::fs::read_dir(dir.join("evals")).unwrap().flatten().collect();
    assert_eq!(evals.len(), 1);
    let again = sb.json(&evals[0].path());
    assert_eq!(again["clean_accuracy"], metrics["clean_accuracy"]);
    assert_eq!(again["corruption_accuracy"], metrics["corruption_accuracy"]);
}

#[test]
fn image_run_from_parquet_bytes_with_augmentation() {
    let sb = Sandbox::new();
    sb.digits(500, 150, ImageLayout::ParquetBytes);
    let aug = "[[train.augment]]\nop = \"rotate\"\nseverity = [1, 3]\np = 0.5\n";
    let cfg = sb.write("c.toml", digits_config("digits/train.parquet", "digits/test.parquet", aug));
    let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet", "--epochs", "2"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    check_run_dir(&sb, &["gaussian_noise", "rotate"], 0.1);
}

#[test]
fn text_run_end_to_end_and_same_seed_same_metrics() {
    let sb = Sandbox::new();
    sb.messages(600, 200);
    let aug = "[[train.augment]]\nop = \"typo\"\nseverity = [1, 2]\np = 0.3\n";
    let cfg = sb.write("c.toml", messages_config(aug));
    let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let (_, first) = check_run_dir(&sb, &["typo", "homoglyph"], 0.25);

    // Same config and seed: same numbers (a second run directory, never the first).
    let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let dirs = sb.run_dirs();
    assert_eq!(dirs.len(), 2);
    let second = sb.json(&dirs[1].join("metrics.json"));
    assert_eq!(first["clean_accuracy"], second["clean_accuracy"]);
    assert_eq!(first["corruption_accuracy"], second["corruption_accuracy"]);
}

#[test]
fn split_column_and_test_fraction_sources() {
    let sb = Sandbox::new();
    let (train, _) = sb.messages(300, 10);
    let text = std::fs::read_to_string(&train).unwrap();
    let mut with_split = String::from("text,label,split\n");
    for (i, line) in text.lines().skip(1).enumerate() {
        with_split.push_str(&format!("{line},{}\n", if i % 4 == 0 { "test" } else { "train" }));
    }
    sb.write("all.csv", &with_split);
    let cfg = |source: &str| format!("[data]\nmodality = \"text\"\n{source}\n[train]\nepochs = 1\n");
    let c1 = sb.write("split.toml", cfg("path = \"all.csv\"\nsplit-column = \"split\""));
    let out = sb.temper(&["validate", c1.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("225 training and 75 test examples"), "{}", out.stdout);
    let c2 = sb.write("fraction.toml", cfg("path = \"messages/train.csv\"\ntest-fraction = 0.2"));
    let out = sb.temper(&["validate", c2.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("240 training and 60 test examples"), "{}", out.stdout);
}
