//! Trusting saved runs: tampered weights are refused; gates compare runs.

use crate::harness::{Sandbox, messages_config};

fn two_runs(sb: &Sandbox) -> (String, String) {
    sb.messages(300, 100);
    let a = sb.write("a.toml", messages_config(""));
    let b = sb.write(
        "b.toml",
        messages_config("").replace("epochs = 4", "epochs = 1").replace("tiny-messages", "short"),
    );
    for cfg in [&a, &b] {
        let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let dirs = sb.run_dirs();
    let find =
        |name: &str| dirs.iter().find(|d| d.to_string_lossy().contains(name)).unwrap().display().to_string();
    (find("tiny-messages"), find("short"))
}

#[test]
fn eval_refuses_tampered_weights() {
    let sb = Sandbox::new();
    sb.messages(200, 50);
    let cfg = sb.write("c.toml", messages_config("").replace("epochs = 4", "epochs = 1"));
    assert_eq!(sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]).code, 0);
    let dir = sb.run_dirs()[0].clone();
    let weights = dir.join("model.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&weights, bytes).unwrap();
    let out = sb.temper(&["eval", "--run", dir.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("SHA-256 does not match the manifest"), "{}", out.stderr);
}

#[test]
fn compare_prints_deltas_and_gates_exit_1() {
    let sb = Sandbox::new();
    let (a, b) = two_runs(&sb);
    let table = sb.temper(&["compare", &a, &b]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(
        table.stdout.contains("| clean_accuracy |") && table.stdout.contains("(baseline)"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("corruption_accuracy.typo.5"));

    let pass = sb.temper(&["compare", &a, &b, "--fail-if", "clean_accuracy < -100"]);
    assert_eq!(pass.code, 0, "{}", pass.stderr);
    let fail = sb.temper(&["compare", &a, &b, "--fail-if", "clean_accuracy > -100"]);
    assert_eq!(fail.code, 1, "{}", fail.stderr);
    assert!(fail.stderr.contains("robustness gate failed") && fail.stderr.contains("clean_accuracy > -100"));
    let missing = sb.temper(&["compare", &a, &b, "--fail-if", "attack_accuracy.pgd_linf.0.1 < -2"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("is missing"), "{}", missing.stderr);
    let bad = sb.temper(&["compare", &a, &b, "--fail-if", "clean_accuracy"]);
    assert_eq!(bad.code, 2);
    let csv = sb.temper(&["compare", &a, &b, "--format", "csv"]);
    assert!(csv.stdout.starts_with("metric,"), "{}", csv.stdout);
    let json = sb.temper(&["compare", "--baseline", &b, &a, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(v["baseline"].as_str().unwrap().starts_with("short/"));
}

#[test]
fn ndjson_tables_are_read() {
    let sb = Sandbox::new();
    let (train, test) = sb.messages(120, 40);
    for (csv, name) in [(train, "train.ndjson"), (test, "test.ndjson")] {
        let mut out = String::new();
        let text = std::fs::read_to_string(csv).unwrap();
        let mut reader = text.lines().skip(1);
        for line in reader.by_ref() {
            let (body, label) = line.rsplit_once(',').unwrap();
            let body = body.trim_matches('"').replace("\"\"", "\"");
            out.push_str(&serde_json::json!({"text": body, "label": label}).to_string());
            out.push('\n');
        }
        sb.write(&format!("nd/{name}"), out);
    }
    let cfg = sb.write(
        "c.toml",
        "[data]\nmodality = \"text\"\ntrain = \"nd/train.ndjson\"\ntest = \"nd/test.ndjson\"\n",
    );
    let out = sb.temper(&["validate", cfg.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("120 training and 40 test examples"), "{}", out.stdout);
}

#[test]
fn config_gate_fails_the_run_with_exit_1_and_latest_tracks_accepted_runs() {
    let sb = Sandbox::new();
    sb.messages(300, 100);
    let base = messages_config("").replace("epochs = 4", "epochs = 1");
    let cfg = sb.write("c.toml", &base);
    assert_eq!(sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]).code, 0);
    let latest = sb.path().join("runs/tiny-messages/latest");
    let first = std::fs::read_link(&latest).expect("latest points at the first run");

    let gated = |expr: &str| {
        format!("{base}\n[gate]\nbaseline = \"runs/tiny-messages/latest\"\nfail-if = [\"{expr}\"]\n")
    };
    let cfg = sb.write("c.toml", gated("clean_accuracy > -100"));
    let failed = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(failed.stderr.contains("robustness gate failed"), "{}", failed.stderr);
    assert_eq!(sb.run_dirs().len(), 2);
    assert!(sb.run_dirs().iter().all(|d| d.join("metrics.json").exists()), "a gated run is still written");
    assert_eq!(std::fs::read_link(&latest).unwrap(), first, "a failing run does not become latest");

    let cfg = sb.write("c.toml", gated("clean_accuracy < -100"));
    let passed = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(passed.code, 0, "{}", passed.stderr);
    assert_ne!(std::fs::read_link(&latest).unwrap(), first);

    let list = sb.temper(&["runs", "list"]);
    assert_eq!(list.code, 0);
    assert_eq!(
        list.stdout.lines().filter(|l| l.starts_with("| tiny-messages |")).count(),
        3,
        "{}",
        list.stdout
    );
    assert_eq!(list.stdout.matches(" * |").count(), 1, "{}", list.stdout);

    let bad =
        sb.write("c.toml", format!("{base}\n[gate]\nbaseline = \"x\"\nfail-if = [\"clean_accuracy\"]\n"));
    let out = sb.temper(&["validate", bad.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("`gate.fail-if[0]`"), "{}", out.stderr);
}

#[test]
fn pinned_table_digests_are_enforced() {
    let sb = Sandbox::new();
    let (train, _) = sb.messages(200, 50);
    let (sha, _) = temper::hash::sha256_file(&train).unwrap();
    let pinned = |hex: &str| {
        messages_config("").replace("epochs = 4", "epochs = 1").replace(
            "test = \"messages/test.csv\"",
            &format!("test = \"messages/test.csv\"\nsha256 = {{ train = \"{hex}\" }}"),
        )
    };
    let cfg = sb.write("c.toml", pinned(&"0".repeat(64)));
    let out = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("train.csv") && out.stderr.contains("data.sha256.train"), "{}", out.stderr);
    assert!(sb.run_dirs().is_empty(), "nothing is written for refused data");

    let cfg = sb.write("c.toml", pinned("xyz"));
    let out = sb.temper(&["validate", cfg.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("`data.sha256.train`: must be 64 hexadecimal digits"), "{}", out.stderr);

    let cfg = sb.write("c.toml", pinned(&sha.to_uppercase()));
    let out = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn diff_data_reports_added_removed_and_relabelled_rows() {
    let sb = Sandbox::new();
    let rows = |n: std::ops::Range<usize>, flip: &[usize]| {
        let mut csv = String::from("text,label\n");
        for i in n {
            let label = if (i % 2 == 0) != flip.contains(&i) { "spam" } else { "ham" };
            csv.push_str(&format!("message number {i} about things,{label}\n"));
        }
        csv
    };
    sb.write("messages/test.csv", rows(100..110, &[]));
    let cfg = sb.write("c.toml", messages_config("").replace("epochs = 4", "epochs = 1"));
    sb.write("messages/train.csv", rows(0..40, &[]));
    assert_eq!(sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]).code, 0);
    // Poisoned retrain: 3 labels flipped, rows 0..2 dropped, 4 new rows.
    sb.write("messages/train.csv", rows(2..44, &[10, 11, 12]));
    assert_eq!(sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]).code, 0);
    let dirs = sb.run_dirs();
    let out = sb.temper(&["diff-data", dirs[0].to_str().unwrap(), dirs[1].to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("train: 4 added, 2 removed, 3 label-changed"), "{}", out.stdout);
    assert!(out.stdout.contains("test: 0 added, 0 removed, 0 label-changed"), "{}", out.stdout);
    let json = sb.temper(&["diff-data", dirs[0].to_str().unwrap(), dirs[1].to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["label_changed"].as_array().map(Vec::len), Some(3));
}
