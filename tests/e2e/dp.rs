//! Differentially private training: the ε spent reaches metrics.json, the
//! log and the report; a run killed mid-epoch resumes to the same numbers
//! (sampling and noise are seeded by position); bad DP keys and a target ε
//! the schedule cannot meet are refused before a run directory exists.

use temper::synth::ImageLayout;

use crate::harness::{Sandbox, digits_config};

fn private(sb: &Sandbox, privacy: &str) -> String {
    sb.digits(600, 100, ImageLayout::ParquetBytes);
    let extra = format!("checkpoint-every = 3\n[train.privacy]\n{privacy}");
    let cfg = digits_config("digits/train.parquet", "digits/test.parquet", &extra)
        .replace("epochs = 2", "epochs = 3")
        .replace("corruptions = [\"gaussian_noise\", \"rotate\"]", "corruptions = [\"rotate\"]");
    sb.write("dp.toml", cfg).to_str().unwrap().to_owned()
}

#[test]
fn dp_training_spends_its_target_and_resumes_exactly() {
    let sb = Sandbox::new();
    let cfg = private(&sb, "max-grad-norm = 1.0\nepsilon = 4.0\n");
    let full = sb.temper(&["train", "--config", &cfg, "--quiet", "--out", "full"]);
    assert_eq!(full.code, 0, "{}", full.stderr);
    let dir = &sb.run_dirs_under("full")[0];
    let m = sb.json(&dir.join("metrics.json"));
    let dp = &m["dp"];
    let eps = dp["epsilon"].as_f64().unwrap();
    assert!(eps <= 4.0 && eps > 3.9, "the solved noise spends the target: {dp}");
    assert_eq!(dp["target_epsilon"], 4.0);
    assert_eq!(dp["delta"], 1e-3, "the power of ten below 1/600");
    assert_eq!(dp["steps"], 3 * 19, "⌈600 / 32⌉ steps per epoch: {dp}");
    assert!(dp["noise_multiplier"].as_f64().unwrap() > 0.3, "{dp}");
    let per_epoch: Vec<f64> =
        m["training"].as_array().unwrap().iter().map(|e| e["epsilon"].as_f64().unwrap()).collect();
    assert!(per_epoch.windows(2).all(|w| w[0] < w[1]) && per_epoch[2] == eps, "{per_epoch:?}");
    // Noisy, clipped training still learns 10 classes beyond chance.
    assert!(m["clean_accuracy"].as_f64().unwrap() > 0.3, "{}", m["clean_accuracy"]);
    let log = std::fs::read_to_string(dir.join("log.jsonl")).unwrap();
    assert_eq!(
        log.lines().filter(|l| l.contains("\"event\":\"epoch\"") && l.contains("\"epsilon\"")).count(),
        3
    );
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("Privacy: differential privacy") && report.contains("dp.epsilon"), "{report}");
    let validate = sb.temper(&["validate", &cfg]);
    assert_eq!(validate.code, 0, "{}", validate.stderr);
    let sigma = dp["noise_multiplier"].as_f64().unwrap();
    assert!(
        validate.stdout.contains(&format!("DP-SGD: noise multiplier {sigma:.4} (solved for ε 4)"))
            && validate.stdout.contains("57 steps"),
        "{}",
        validate.stdout
    );
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(config.contains("norm = \"group\""), "DP runs default to group norm: {config}");

    // Killed once a checkpoint exists inside epoch 2, then resumed.
    sb.resumes_to(&cfg, "tiny-digits", m);
}

#[test]
fn dp_with_a_validation_split_accounts_for_the_rows_it_trains_on() {
    let sb = Sandbox::new();
    let cfg = private(&sb, "noise-multiplier = 1.0\n");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("checkpoint-every = 3", "checkpoint-every = 3\nvalidation-share = 0.2");
    let cfg = sb.write("dpv.toml", text);
    let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let m = sb.json(&sb.run_dirs()[0].join("metrics.json"));
    let (dp, v) = (&m["dp"], &m["validation"]);
    let held = v["rows"].as_u64().unwrap();
    assert!((110..=130).contains(&held), "about 20% of each class's rows of 600: {v}");
    // Poisson sampling over the rows trained on, for each of the 3 epochs
    // trained whichever one is kept.
    let trained = 600 - held;
    assert_eq!(dp["sample_rate"].as_f64().unwrap(), 32.0 / trained as f64, "{dp}");
    let steps = 3 * trained.div_ceil(32);
    assert_eq!(dp["steps"], steps, "{dp}");
    let last_epoch = m["training"][2]["epsilon"].as_f64().unwrap();
    assert_eq!(dp["epsilon"].as_f64().unwrap(), last_epoch, "the guarantee counts every epoch trained");
    let validate = sb.temper(&["validate", cfg.to_str().unwrap()]);
    let rate = format!("sampling rate {:.5}", 32.0 / trained as f64);
    assert!(
        validate.stdout.contains(&rate) && validate.stdout.contains(&format!("{steps} steps")),
        "{rate}: {}",
        validate.stdout
    );
}

#[test]
fn bad_dp_settings_are_refused_naming_the_key() {
    let sb = Sandbox::new();
    let cases = [
        ("epsilon = 2.0\nnoise-multiplier = 1.0\n", "not both"),
        ("max-grad-norm = 1.0\n", "needs `noise-multiplier` or a target `epsilon`"),
        ("noise-multiplier = 0.0\n", "`train.privacy.noise-multiplier`"),
        ("noise-multiplier = 1.0\ndelta = 1.5\n", "`train.privacy.delta`"),
    ];
    for (privacy, needle) in cases {
        let cfg = private(&sb, privacy);
        let out = sb.temper(&["validate", &cfg]);
        assert_eq!(out.code, 2, "{privacy}: {}", out.stderr);
        assert!(out.stderr.contains(needle), "{privacy}: {needle:?} not in {}", out.stderr);
    }
    let cfg = private(&sb, "noise-multiplier = 1.0\n");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let batch_norm = sb.write("bn.toml", text.replace("dropout = 0.1", "dropout = 0.1\nnorm = \"batch\""));
    let out = sb.temper(&["validate", batch_norm.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("`model.norm`") && out.stderr.contains("group"), "{}", out.stderr);
    let augmix = sb.write("am.toml", text.replace("[train.privacy]", "[train.augmix]\n[train.privacy]"));
    let out = sb.temper(&["validate", augmix.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("`train.privacy`") && out.stderr.contains("augmix"), "{}", out.stderr);
    // A target no noise can meet: refused before any run directory is made.
    let cfg = private(&sb, "epsilon = 0.01\n");
    let out = sb.temper(&["train", "--config", &cfg, "--quiet", "--out", "never"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("cannot be met") && out.stderr.contains("train.privacy.epsilon"),
        "{}",
        out.stderr
    );
    assert!(!sb.path().join("never").join("tiny-digits").exists(), "no run directory for a refused budget");
}

/// The loss attack's AUC on a model trained 12 epochs on 700 digits, with
/// `privacy` in `[train]`.
fn overfit_auc(sb: &Sandbox, name: &str, privacy: &str) -> f64 {
    let cfg = digits_config("digits/train.parquet", "digits/test.parquet", privacy)
        .replace("epochs = 2", "epochs = 12")
        .replace("dropout = 0.1", "dropout = 0.0\nnorm = \"group\"")
        .replace("corruptions = [\"gaussian_noise\", \"rotate\"]", "corruptions = []")
        + "privacy-holdout = 0.3\nprivacy-examples = 200\n[[eval.privacy]]\nattack = \"loss\"\n";
    let path = sb.write(&format!("{name}.toml"), cfg);
    let out = sb.temper(&["train", "--config", path.to_str().unwrap(), "--quiet", "--out", name]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let m = sb.json(&sb.run_dirs_under(name)[0].join("metrics.json"));
    m["privacy"]["attacks"]["loss"]["auc"].as_f64().unwrap()
}

#[test]
fn dp_brings_an_overfit_models_membership_auc_toward_chance() {
    let sb = Sandbox::new();
    sb.digits(1000, 100, ImageLayout::ParquetBytes);
    let plain = overfit_auc(&sb, "plain", "");
    let private = overfit_auc(&sb, "private", "[train.privacy]\nepsilon = 1.0\n");
    assert!(plain > 0.58, "the plain model should leak: AUC {plain}");
    assert!(private < 0.55 && private < plain - 0.05, "DP at ε 1: AUC {private} against {plain} without");
}
