//! Simulated poisoning: the recorded rows are the changed ones, the data
//! as read stays in rows.tsv, the backdoor's success reaches metrics.json
//! and the report, and impossible plans are refused before a run starts.

use temper::synth::ImageLayout;

use crate::harness::{Sandbox, digits_config};

fn config(sb: &Sandbox, name: &str, poison: &str) -> String {
    let cfg = digits_config("digits/train.parquet", "digits/test.parquet", poison)
        .replace("epochs = 2", "epochs = 4")
        .replace("corruptions = [\"gaussian_noise\", \"rotate\"]", "corruptions = []");
    sb.write(&format!("{name}.toml"), cfg).to_str().unwrap().to_owned()
}

#[test]
fn a_backdoor_is_recorded_learned_and_reported() {
    let sb = Sandbox::new();
    sb.digits(800, 200, ImageLayout::ParquetBytes);
    let clean = config(&sb, "clean", "");
    let poisoned = config(&sb, "poisoned", "[train.poison]\nrate = 0.05\ntarget = \"7\"\n");
    for (cfg, out) in [(&clean, "clean"), (&poisoned, "poisoned")] {
        let run = sb.temper(&["train", "--config", cfg, "--quiet", "--out", out]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let (c, p) = (&sb.run_dirs_under("clean")[0], &sb.run_dirs_under("poisoned")[0]);
    let read = |d: &std::path::Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    assert_eq!(read(c, "rows.tsv"), read(p, "rows.tsv"), "rows.tsv describes the data as read");
    let tsv = read(p, "poison.tsv");
    let rows: Vec<Vec<&str>> = tsv.lines().skip(1).map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 40, "5% of 800");
    assert!(rows.iter().all(|r| r[1] != "7" && r[2] == "7" && r[3] == "true"), "{tsv}");
    let m = sb.json(&p.join("metrics.json"));
    let poison = &m["poison"];
    assert_eq!((poison["attack"].as_str(), poison["poisoned_rows"].as_u64()), (Some("backdoor"), Some(40)));
    assert_eq!(poison["rate"], 0.05);
    let asr = poison["attack_success_rate"].as_f64().unwrap();
    let triggered = poison["triggered_test_rows"].as_u64().unwrap();
    assert!(triggered > 150 && triggered < 200, "test rows of classes other than 7: {triggered}");
    assert!(asr > 0.8, "a 5% BadNets backdoor should succeed: {asr}");
    // Without poisoning, the same trigger is no backdoor.
    let clean_metrics = sb.json(&c.join("metrics.json"));
    assert!(clean_metrics.get("poison").is_none());
    let report = read(p, "report.md");
    assert!(report.contains("## Poisoning") && report.contains("poison.attack_success_rate"), "{report}");
    // The gallery shows the trigger on the first test digits.
    let html = read(p, "report.html");
    assert!(html.contains("data-name=\"backdoor\"") || html.contains(">backdoor<"), "no backdoor examples");
    assert!(html.contains("trigger, target 7"), "no trigger setting in the gallery");
    let log = read(p, "log.jsonl");
    assert!(log.lines().any(|l| l.contains("\"event\":\"poison\"")), "{log}");
    let compared = sb.temper(&[
        "compare",
        c.to_str().unwrap(),
        p.to_str().unwrap(),
        "--fail-if",
        "clean_accuracy < -50",
    ]);
    assert_eq!(compared.code, 0, "{}", compared.stderr);
}

#[test]
fn the_spectral_filter_finds_planted_rows_and_drops_them() {
    let sb = Sandbox::new();
    sb.digits(800, 200, ImageLayout::ParquetBytes);
    let cfg = config(
        &sb,
        "filtered",
        "[train.poison]\nrate = 0.02\ntarget = \"7\"\n[train.filter]\nexpected-rate = 0.2\n",
    );
    let run = sb.temper(&["train", "--config", &cfg, "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dir = &sb.run_dirs()[0];
    let m = sb.json(&dir.join("metrics.json"));
    let f = &m["filter"];
    assert_eq!(
        (f["method"].as_str(), f["scored_rows"].as_u64(), f["dropped"].as_bool()),
        (Some("spectral"), Some(800), Some(true))
    );
    let flagged = f["flagged_rows"].as_u64().unwrap();
    // ⌈1.5 · 0.2 · n_c⌉ per class: about 240 of 800.
    assert!((240..=250).contains(&flagged), "{f}");
    let tsv = std::fs::read_to_string(dir.join("filter.tsv")).unwrap();
    let rows: Vec<Vec<&str>> = tsv.lines().skip(1).map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 800);
    let count = |pred: &dyn Fn(&Vec<&str>) -> bool| rows.iter().filter(|r| pred(r)).count() as f64;
    let (hits, poisoned) = (count(&|r| r[3] == "true" && r[4] == "true"), count(&|r| r[4] == "true"));
    assert_eq!(poisoned, 16.0);
    assert_eq!(f["precision"].as_f64(), Some(hits / flagged as f64), "precision from the record");
    assert_eq!(f["recall"].as_f64(), Some(hits / 16.0), "recall from the record");
    assert_eq!(m["run"]["train_examples"].as_u64(), Some(800 - flagged), "flagged rows were dropped");
    let before = f["attack_success_rate_before"].as_f64().unwrap();
    let after = m["poison"]["attack_success_rate"].as_f64().unwrap();
    assert!(before > 0.8, "the backdoor works on the unfiltered model: {before}");
    // Flagging 30% of each class at random would find 30% of the poison;
    // measured: 75%, and the backdoor's success falls from 99% to 76% (the
    // 4 poisoned rows left still teach this small model the trigger).
    assert!(f["recall"].as_f64().unwrap() > 0.6 && after < before - 0.1, "filter: {f}, after {after}");
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        report.contains("spectral signatures") && report.contains("attack success after filtering"),
        "{report}"
    );
    // A second round scores the rows the first kept and flags more of them.
    let text = std::fs::read_to_string(&cfg).unwrap();
    let twice =
        sb.write("twice.toml", text.replace("expected-rate = 0.2", "expected-rate = 0.2\nrounds = 2"));
    let run = sb.temper(&["train", "--config", twice.to_str().unwrap(), "--quiet", "--out", "twice"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let m2 = sb.json(&sb.run_dirs_under("twice")[0].join("metrics.json"));
    let f2 = &m2["filter"];
    assert_eq!(f2["rounds"], 2);
    assert!(f2["flagged_rows"].as_u64().unwrap() > flagged + 150, "{f2}");
    assert!(f2["recall"].as_f64() >= f["recall"].as_f64(), "{f2} against {f}");
    assert_eq!(
        f2["attack_success_rate_before"], f["attack_success_rate_before"],
        "round 1 is the same model"
    );
}

#[test]
fn impossible_poisoning_is_refused_naming_the_key() {
    let sb = Sandbox::new();
    sb.digits(100, 20, ImageLayout::ParquetBytes);
    let cases = [
        ("[train.poison]\nrate = 0.05\n", "`train.poison.target`"),
        ("[train.poison]\nrate = 0.05\ncount = 3\ntarget = \"7\"\n", "not both"),
        ("[train.poison]\nrate = 0.6\ntarget = \"7\"\n", "`train.poison.rate`"),
        ("[train.poison]\nrate = 0.05\ntarget = \"7\"\ntrigger = \"cf\"\n", "text data only"),
        ("[train.poison]\nrate = 0.05\ntarget = \"7\"\npatch-size = 40\n", "`train.poison.patch-size`"),
        ("[train.poison]\nattack = \"label_flip\"\nrate = 0.05\nopacity = 0.5\n", "backdoor"),
        ("[train.poison]\nattack = \"nightshade\"\nrate = 0.05\n", "`train.poison.attack`"),
    ];
    for (extra, needle) in cases {
        let cfg = config(&sb, "bad", extra);
        let out = sb.temper(&["validate", &cfg]);
        assert_eq!(out.code, 2, "{extra}: {}", out.stderr);
        assert!(out.stderr.contains(needle), "{extra}: {needle:?} not in {}", out.stderr);
    }
    let cfg = config(&sb, "unknown", "[train.poison]\nrate = 0.05\ntarget = \"seven\"\n");
    let out = sb.temper(&["train", "--config", &cfg, "--quiet", "--out", "never"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("`train.poison.target`") && out.stderr.contains("\"seven\""),
        "{}",
        out.stderr
    );
    assert!(!sb.path().join("never").join("tiny-digits").exists(), "no run directory for a refused plan");
}

#[test]
fn activation_clustering_flags_the_poisoned_cluster_of_a_heavily_poisoned_class() {
    let sb = Sandbox::new();
    sb.digits(800, 200, ImageLayout::ParquetBytes);
    let cfg = config(
        &sb,
        "clustered",
        "[train.poison]\nrate = 0.04\ntarget = \"7\"\n[train.filter]\nmethod = \"activation_clustering\"\n",
    );
    let run = sb.temper(&["train", "--config", &cfg, "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dir = &sb.run_dirs()[0];
    let m = sb.json(&dir.join("metrics.json"));
    let f = &m["filter"];
    assert_eq!(f["method"], "activation_clustering", "{f}");
    // 32 poisoned rows, about 29% of class "7" after poisoning: one cluster of
    // their own. Clean classes can split too (measured: 60 clean rows flagged
    // with all 32 poisoned), yet precision stays far above chance (4%).
    let (precision, recall) = (f["precision"].as_f64().unwrap(), f["recall"].as_f64().unwrap());
    assert!(recall > 0.8 && precision > 0.25, "{f}");
    let before = f["attack_success_rate_before"].as_f64().unwrap();
    let after = m["poison"]["attack_success_rate"].as_f64().unwrap();
    assert!(before > 0.8 && after < before / 2.0, "before {before}, after {after}");
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("activation clustering, Chen et al. 2018"), "{report}");
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(config.contains("size-threshold = 0.35") && !config.contains("expected-rate"), "{config}");
    // Keys of the other method are refused, naming the key.
    let text = std::fs::read_to_string(&cfg).unwrap();
    let bad = sb.write("bad.toml", text.replace("[train.filter]\n", "[train.filter]\nexpected-rate = 0.1\n"));
    let out = sb.temper(&["validate", bad.to_str().unwrap()]);
    assert!(out.code == 2 && out.stderr.contains("`train.filter.expected-rate`"), "{}", out.stderr);
}
