//! Membership inference: held-out rows are never trained on, an overfit
//! model leaks, the attacks' figures reach metrics.json, and bad privacy
//! keys are refused. Canaries: planted as configured, recorded apart from
//! the data, memorised more the more often they were planted.

use std::collections::BTreeSet;

use temper::synth::ImageLayout;

use crate::harness::{Sandbox, digits_config};

/// A config that overfits 700 digits in 12 epochs, with every attack on.
fn overfit(sb: &Sandbox) -> String {
    sb.digits(1000, 100, ImageLayout::ParquetBytes);
    let cfg = digits_config("digits/train.parquet", "digits/test.parquet", "")
        .replace("epochs = 2", "epochs = 12")
        .replace("dropout = 0.1", "dropout = 0.0")
        .replace("corruptions = [\"gaussian_noise\", \"rotate\"]", "corruptions = [\"rotate\"]")
        + "privacy-holdout = 0.3\nprivacy-examples = 200\n\
           [[eval.privacy]]\nattack = \"loss\"\n\
           [[eval.privacy]]\nattack = \"calibrated_loss\"\nreferences = 2\n\
           [[eval.privacy]]\nattack = \"lira\"\nreferences = 2\nvariance = \"per-example\"\n";
    sb.write("privacy.toml", cfg).to_str().unwrap().to_owned()
}

/// The hashes in `file` (a run's TSV) whose first column passes `keep`.
fn hashes(text: &str, column: usize, keep: impl Fn(&str) -> bool) -> BTreeSet<String> {
    text.lines()
        .skip(1)
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|c| keep(c[0]))
        .map(|c| c[column].to_owned())
        .collect()
}

#[test]
fn an_overfit_model_leaks_membership_and_held_out_rows_are_never_trained_on() {
    let sb = Sandbox::new();
    let cfg = overfit(&sb);
    let run = sb.temper(&["train", "--config", &cfg, "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dir = &sb.run_dirs()[0];
    let metrics = sb.json(&dir.join("metrics.json"));
    let p = &metrics["privacy"];
    assert_eq!(p["holdout_rows"], 300, "{p}");
    assert_eq!((p["members"].as_u64(), p["non_members"].as_u64()), (Some(200), Some(200)));
    assert_eq!(metrics["run"]["train_examples"], 700, "the model trains on the members only");
    let loss_auc = p["attacks"]["loss"]["auc"].as_f64().unwrap();
    assert!(loss_auc > 0.55, "an overfit model should leak: loss AUC {loss_auc}");
    for attack in ["loss", "calibrated_loss", "lira"] {
        let a = &p["attacks"][attack];
        for key in ["auc", "balanced_accuracy", "tpr_at_1pct_fpr", "tpr_at_01pct_fpr"] {
            let v = a[key].as_f64().unwrap_or(f64::NAN);
            assert!((0.0..=1.0).contains(&v), "{attack}.{key} = {v}");
        }
        assert!(a["tpr_at_01pct_fpr"].as_f64() <= a["tpr_at_1pct_fpr"].as_f64(), "{a}");
    }
    let best = ["loss", "calibrated_loss", "lira"]
        .iter()
        .map(|a| p["attacks"][a]["auc"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert_eq!(p["mia_auc"].as_f64(), Some(best));
    // No held-out row is in the training set the model was given.
    let rows = std::fs::read_to_string(dir.join("rows.tsv")).unwrap();
    let membership = std::fs::read_to_string(dir.join("membership.tsv")).unwrap();
    let trained = hashes(&rows, 1, |split| split == "train");
    let held = hashes(&membership, 2, |role| role.starts_with("non_member"));
    let targets = hashes(&membership, 2, |role| role == "member_target");
    assert!(held.len() > 250, "{} distinct held-out rows", held.len());
    assert!(trained.is_disjoint(&held), "held-out rows were trained on");
    assert!(targets.is_subset(&trained), "member targets must be members");
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        report.contains("Privacy: membership inference") && report.contains("privacy.mia_auc"),
        "{report}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains("ROC of each attack (log-log)") && html.contains("data-name=\"lira\""),
        "no ROC chart"
    );
    let roc = p["attacks"]["lira"]["roc"].as_array().unwrap();
    assert!(roc.len() > 10 && roc.last().unwrap()[1] == 1.0, "the curve ends at TPR 1: {roc:?}");
    let log = std::fs::read_to_string(dir.join("log.jsonl")).unwrap();
    assert!(log.lines().any(|l| l.contains("\"event\":\"privacy\"") && l.contains("\"seconds\"")), "{log}");
    // The same seed holds out the same rows and measures the same figures.
    let again = sb.temper(&["train", "--config", &cfg, "--quiet", "--out", "again"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let other = &sb.run_dirs_under("again")[0];
    assert_eq!(std::fs::read_to_string(other.join("membership.tsv")).unwrap(), membership);
    let m2 = sb.json(&other.join("metrics.json"));
    assert_eq!(m2["privacy"]["attacks"], p["attacks"]);
}

#[test]
fn validate_says_how_many_rows_are_held_out_and_planted() {
    let sb = Sandbox::new();
    let cfg = overfit(&sb);
    let cfg_text = std::fs::read_to_string(&cfg).unwrap();
    let with_canaries =
        cfg_text.replacen("[eval]", "[train.canaries]\ncount = 5\nrepeats = [2, 3]\n[eval]", 1);
    let path = sb.write("v.toml", with_canaries);
    let out = sb.temper(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("300 training rows held out as non-members, 700 trained on"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("canaries: 25 planted rows"), "{}", out.stdout);
}

#[test]
fn bad_privacy_keys_name_the_key() {
    let sb = Sandbox::new();
    sb.digits(64, 32, ImageLayout::ParquetBytes);
    let base = digits_config("digits/train.parquet", "digits/test.parquet", "");
    let cases = [
        ("privacy-holdout = 0.2\n", "`eval.privacy-holdout`"),
        ("[[eval.privacy]]\nattack = \"shadow\"\n", "`eval.privacy[0].attack`"),
        ("[[eval.privacy]]\nattack = \"loss\"\nreferences = 4\n", "`eval.privacy[0].references`"),
        ("privacy-holdout = 0.995\n[[eval.privacy]]\nattack = \"loss\"\n", "`eval.privacy-holdout`"),
        (
            "[[eval.privacy]]\nattack = \"lira\"\nreferences = 1\nvariance = \"per-example\"\n",
            "at least 2 references",
        ),
    ];
    for (extra, needle) in cases {
        let cfg = sb.write("bad.toml", format!("{base}{extra}"));
        let out = sb.temper(&["validate", cfg.to_str().unwrap()]);
        assert_eq!(out.code, 2, "{extra}: {}", out.stderr);
        assert!(out.stderr.contains(needle), "{extra}: {needle:?} not in {}", out.stderr);
    }
}

#[test]
fn planted_canaries_are_recorded_apart_from_the_data_and_memorised_by_repeats() {
    let sb = Sandbox::new();
    sb.messages(1500, 100);
    let cfg = crate::harness::messages_config(
        "[train.canaries]\ncount = 10\nrepeats = [1, 4, 16]\ncandidates = 200\n",
    )
    .replace("epochs = 4", "epochs = 10")
    .replace("dropout = 0.1", "dropout = 0.0");
    let cfg = sb.write("canaries.toml", cfg);
    let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dir = &sb.run_dirs()[0];
    let m = sb.json(&dir.join("metrics.json"));
    let c = &m["canaries"];
    assert_eq!(c["planted_rows"], 10 * (1 + 4 + 16), "{c}");
    assert_eq!(m["run"]["train_examples"], 1500, "canaries are not counted as data");
    let rows = std::fs::read_to_string(dir.join("rows.tsv")).unwrap();
    assert_eq!(
        rows.lines().filter(|l| l.starts_with("train\t")).count(),
        1500,
        "rows.tsv holds the real rows only"
    );
    let tsv = std::fs::read_to_string(dir.join("canaries.tsv")).unwrap();
    assert_eq!(tsv.lines().count(), 1 + 40, "10 per group, control included");
    assert!(tsv.lines().skip(1).all(|l| l.contains("my account pin is ")), "{tsv}");
    let recall = |k: &str| c["recall"][k].as_f64().unwrap();
    let exposure = |k: &str| c["exposure"][k].as_f64().unwrap();
    assert!(recall("16") > recall("0") + 0.3, "planted 16 times vs never: {c}");
    assert!(exposure("16") > exposure("0") + 2.0, "{c}");
    assert!(exposure("16") <= c["max_exposure"].as_f64().unwrap() + 1e-9, "{c}");
    assert_eq!(c["chance"].as_f64(), Some(0.25), "4 classes");
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("Privacy: memorised canaries"), "{report}");
}
