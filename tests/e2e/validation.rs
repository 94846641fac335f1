//! Training that fits its data: a seeded validation split, early stopping,
//! the best epoch's weights kept, and all of it through kill and resume.

use crate::harness::{Sandbox, digits_config, messages_config};

/// The linear TF-IDF text model with a validation split and patience 1.
fn config(extra: &str) -> String {
    messages_config(&format!("validation-share = 0.2\n{extra}"))
        .replace("buckets = 4096\nembedding-dim = 16\nhidden = 16\n", "buckets = 4096\nhidden = 0\n")
        .replace("epochs = 4", "epochs = 8")
        .replace("learning-rate = 0.01", "learning-rate = 0.05")
}

#[test]
fn the_best_validated_epoch_is_kept_and_recorded() {
    let sb = Sandbox::new();
    sb.messages(600, 200);
    let cfg = sb.write("c.toml", config("patience = 1\nclass-weights = \"balanced\"\n"));
    let checked = sb.temper(&["validate", cfg.to_str().unwrap()]);
    assert_eq!(checked.code, 0, "{}", checked.stderr);
    let out = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let dir = &sb.run_dirs()[0];
    let m = sb.json(&dir.join("metrics.json"));
    let v = &m["validation"];
    let epochs = m["training"].as_array().unwrap();
    // The kept epoch is the best one by accuracy, ties by lower loss.
    let score = |e: &serde_json::Value| {
        (e["validation_accuracy"].as_f64().unwrap(), -e["validation_loss"].as_f64().unwrap())
    };
    let best = epochs.iter().fold(&epochs[0], |a, b| if score(b) > score(a) { b } else { a });
    assert_eq!(v["best_epoch"], best["epoch"], "{m}");
    assert_eq!(v["accuracy"], best["validation_accuracy"]);
    // Patience 1: training stops one epoch after the best, or runs to the end.
    let (kept, trained) = (v["best_epoch"].as_u64().unwrap(), v["epochs_trained"].as_u64().unwrap());
    assert_eq!(trained as usize, epochs.len());
    if v["stopped_early"].as_bool().unwrap() {
        assert_eq!(trained, kept + 1, "{m}");
    } else {
        assert_eq!(trained, 8, "{m}");
    }
    // 20% of each class's 600 training rows, listed in validation.tsv.
    let tsv = std::fs::read_to_string(dir.join("validation.tsv")).unwrap();
    let rows: Vec<&str> = tsv.lines().skip(1).collect();
    assert_eq!(rows.len() as u64, v["rows"].as_u64().unwrap());
    assert!((110..=130).contains(&rows.len()), "{} held out", rows.len());
    let line = format!(
        "validation: {} training rows held out, the best of up to 8 epochs kept (patience 1)",
        rows.len()
    );
    assert!(checked.stdout.contains(&line), "{}", checked.stdout);
    assert_eq!(m["run"]["train_examples"], 600, "the table's rows, as read");

    // The kept weights are that epoch's: the same run stopped there by
    // `--epochs` ends with the same weights, byte for byte.
    let short = sb.temper(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--quiet",
        "--out",
        "short",
        "--epochs",
        &kept.to_string(),
    ]);
    assert_eq!(short.code, 0, "{}", short.stderr);
    let a = sb.json(&dir.join("manifest.json"));
    let b = sb.json(&sb.run_dirs_under("short")[0].join("manifest.json"));
    assert_eq!(a["weights_sha256"], b["weights_sha256"]);
}

#[test]
fn a_killed_run_with_a_validation_split_resumes_to_the_same_model() {
    let sb = Sandbox::new();
    sb.messages(1500, 200);
    let cfg = sb.write(
        "c.toml",
        config("lr-schedule = \"cosine\"\ncheckpoint-every = 5\n")
            .replace("epochs = 8", "epochs = 3")
            .replace("batch-size = 32", "batch-size = 16"),
    );
    let cfg = cfg.to_str().unwrap();
    let full = sb.temper(&["train", "--config", cfg, "--quiet", "--out", "full"]);
    assert_eq!(full.code, 0, "{}", full.stderr);
    let run_dir = sb.killed_inside_epoch_two(cfg, "killed", "tiny-messages");
    let resumed = sb.temper(&["train", "--resume", run_dir.to_str().unwrap(), "--quiet"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let a = sb.json(&sb.run_dirs_under("full")[0].join("metrics.json"));
    let b = sb.json(&run_dir.join("metrics.json"));
    assert_eq!(a["validation"], b["validation"]);
    assert_eq!(a["clean_accuracy"], b["clean_accuracy"]);
    let strip = |v: &serde_json::Value| -> Vec<(serde_json::Value, serde_json::Value)> {
        v["training"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["loss"].clone(), e["validation_loss"].clone()))
            .collect()
    };
    assert_eq!(strip(&a), strip(&b));
    let ma = sb.json(&sb.run_dirs_under("full")[0].join("manifest.json"));
    let mb = sb.json(&run_dir.join("manifest.json"));
    assert_eq!(ma["weights_sha256"], mb["weights_sha256"], "the same weights, byte for byte");
}

#[test]
fn validation_settings_that_cannot_work_are_refused_by_key() {
    let sb = Sandbox::new();
    sb.messages(60, 20);
    for (extra, key) in [
        ("patience = 2\n", "train.patience"),
        ("validation-share = 0.7\n", "train.validation-share"),
        ("lr-schedule = \"linear\"\n", "train.lr-schedule"),
        ("class-weights = \"inverse\"\n", "train.class-weights"),
        ("select-by = \"accuracy\"\n", "train.select-by"),
        ("validation-share = 0.2\nselect-by = \"robust\"\n", "train.select-by"),
        ("validation-share = 0.2\nselect-by = \"robust-accuracy\"\n", "train.select-by"),
        ("select-by-examples = 10\n", "train.select-by-examples"),
        ("validation-share = 0.2\nselect-by-examples = 10\n", "train.select-by-examples"),
    ] {
        let cfg = sb.write("c.toml", messages_config(extra));
        let out = sb.temper(&["validate", cfg.to_str().unwrap()]);
        assert_eq!(out.code, 2, "{extra}: {}", out.stderr);
        assert!(out.stderr.contains(key), "{extra}: {}", out.stderr);
    }
    let canaries = messages_config("validation-share = 0.1\n[train.canaries]\ncount = 2\n");
    let cfg = sb.write("c.toml", canaries);
    let out = sb.temper(&["validate", cfg.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("train.validation-share") && out.stderr.contains("canary"), "{}", out.stderr);
    let membership = messages_config("validation-share = 0.1\n[train.filter]\ndrop = true\n")
        + "[[eval.privacy]]\nattack = \"loss\"\n";
    let cfg = sb.write("c.toml", membership);
    let out = sb.temper(&["validate", cfg.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("train.validation-share") && out.stderr.contains("drops rows"),
        "{}",
        out.stderr
    );
}

#[test]
fn membership_inference_never_counts_a_validation_row_as_a_member() {
    let sb = Sandbox::new();
    sb.messages(400, 40);
    let privacy = "privacy-holdout = 0.2\nprivacy-examples = 100\n[[eval.privacy]]\nattack = \"loss\"\n";
    let cfg = sb.write("c.toml", messages_config("validation-share = 0.25\n") + privacy);
    let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let dir = sb.run_dirs()[0].clone();
    // (first column, second column) of a TSV's rows.
    let rows = |file: &str| -> Vec<(String, usize)> {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        text.lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f[0].to_owned(), f[1].parse().unwrap_or(usize::MAX))
            })
            .collect()
    };
    // membership.tsv: role, table row; validation.tsv: row of the training
    // set, which is the members (the table less its held-out rows) in order.
    let membership = rows("membership.tsv");
    let held_out: Vec<usize> =
        membership.iter().filter(|(role, _)| role.starts_with("non_member")).map(|r| r.1).collect();
    let members: Vec<usize> = (0..400).filter(|r| !held_out.contains(r)).collect();
    let validation: Vec<usize> =
        rows("validation.tsv").iter().map(|(row, _)| members[row.parse::<usize>().unwrap()]).collect();
    let targets: Vec<usize> =
        membership.iter().filter(|(role, _)| role == "member_target").map(|r| r.1).collect();
    assert_eq!(held_out.len(), 80);
    assert!((75..=85).contains(&validation.len()), "a quarter of 320 members: {}", validation.len());
    assert_eq!(targets.len(), 80, "as many member targets as non-member ones");
    assert!(targets.iter().all(|t| members.contains(t) && !validation.contains(t)), "{targets:?}");
    let metrics = sb.json(&dir.join("metrics.json"));
    let auc = metrics["privacy"]["attacks"]["loss"]["auc"].as_f64().unwrap_or_else(|| panic!("{metrics}"));
    assert!((0.0..=1.0).contains(&auc), "{auc}");
    // `temper validate` says what the run did: the validation share of the
    // members, not of the whole table.
    let validate = sb.temper(&["validate", cfg.to_str().unwrap()]);
    assert_eq!(validate.code, 0, "{}", validate.stderr);
    let expected = [
        format!(
            "membership inference: 80 training rows held out as non-members, {} trained on; 80 of each side attacked",
            320 - validation.len()
        ),
        format!("validation: {} training rows held out", validation.len()),
    ];
    assert!(
        expected.iter().all(|line| validate.stdout.contains(line)),
        "{expected:?} in {}",
        validate.stdout
    );
}

/// Rice et al.'s early stopping: with `select-by = "robust-accuracy"` every
/// epoch's validation rows are also attacked, the epoch kept is the one
/// most accurate under the attack, and a killed run resumes to the same.
#[test]
fn robust_selection_keeps_the_epoch_most_accurate_under_attack() {
    let sb = Sandbox::new();
    sb.digits(300, 60, temper::synth::ImageLayout::ParquetBytes);
    let extra = "validation-share = 0.2\nselect-by = \"robust-accuracy\"\ncheckpoint-every = 3\n\
                 [train.adversarial]\nattack = \"trades_linf\"\nepsilon = 0.1\nsteps = 2\nbeta = 1.0\n";
    let text = digits_config("digits/train.parquet", "digits/test.parquet", extra)
        .replace("epochs = 2", "epochs = 3")
        .replace("corruptions = [\"gaussian_noise\", \"rotate\"]", "corruptions = []");
    let cfg = sb.write("robust.toml", text);
    let cfg = cfg.to_str().unwrap();
    let (dir, m) = sb.trained(cfg, "full");
    let epochs = m["training"].as_array().unwrap();
    let score = |e: &serde_json::Value, key: &str| e[key].as_f64().unwrap_or_else(|| panic!("{key} in {e}"));
    for e in epochs {
        let robust = score(e, "validation_robust_accuracy");
        assert!((0.0..=1.0).contains(&robust), "{e}");
    }
    // PGD at 0.1 breaks some validation digits in some epoch.
    assert!(epochs.iter().any(|e| score(e, "validation_robust_accuracy") < score(e, "validation_accuracy")));
    let best = epochs
        .iter()
        .max_by(|a, b| {
            let key = |e| {
                (
                    score(e, "validation_robust_accuracy"),
                    score(e, "validation_accuracy"),
                    -score(e, "validation_loss"),
                )
            };
            key(a).partial_cmp(&key(b)).unwrap()
        })
        .unwrap();
    let v = &m["validation"];
    assert_eq!(v["best_epoch"], best["epoch"], "{m}");
    assert_eq!(v["robust_accuracy"], best["validation_robust_accuracy"]);
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("validation accuracy under attack"), "{report}");
    let resolved = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(resolved.contains("select-by = \"robust-accuracy\""), "{resolved}");
    assert_eq!(v["robust_rows"], v["rows"], "every validation row attacked by default");
    sb.resumes_to(cfg, "tiny-digits", m);

    // A cap: 20 of the 61 validation rows attacked, the same 20 every epoch.
    let capped = std::fs::read_to_string(cfg).unwrap().replace(
        "select-by = \"robust-accuracy\"\n",
        "select-by = \"robust-accuracy\"\nselect-by-examples = 20\n",
    );
    let capped = sb.write("capped.toml", capped);
    let (dir, m) = sb.trained(capped.to_str().unwrap(), "capped");
    assert_eq!(
        (m["validation"]["rows"].as_u64(), m["validation"]["robust_rows"].as_u64()),
        (Some(61), Some(20))
    );
    for e in m["training"].as_array().unwrap() {
        let hits = score(e, "validation_robust_accuracy") * 20.0;
        assert!((hits - hits.round()).abs() < 1e-9, "a share of 20 rows: {e}");
    }
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("on 20 of them"), "{report}");

    // Without an image attack to validate under, refused by key.
    let plain = digits_config(
        "digits/train.parquet",
        "digits/test.parquet",
        "validation-share = 0.2\nselect-by = \"robust-accuracy\"\n",
    );
    let cfg = sb.write("plain.toml", plain);
    let out = sb.temper(&["validate", cfg.to_str().unwrap()]);
    assert!(out.code == 2 && out.stderr.contains("train.select-by"), "{}", out.stderr);
}
