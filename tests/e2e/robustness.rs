//! Hardening and robustness metrics end to end: PGD and TRADES training,
//! white-box attacks in metrics.json, and mCE against a baseline run.

use temper::synth::ImageLayout;

use crate::harness::{Sandbox, digits_config};

fn digits(sb: &Sandbox, name: &str, extra_train: &str, extra_eval: &str) -> String {
    let cfg = digits_config("digits/train.parquet", "digits/test.parquet", extra_train)
        .replace("epochs = 2", "epochs = 1")
        .replace("name = \"tiny-digits\"", &format!("name = \"{name}\""));
    let path = sb.write(&format!("{name}.toml"), format!("{cfg}{extra_eval}"));
    path.to_str().unwrap().to_owned()
}

/// Rewrites the config at `path` to train for `epochs` epochs.
fn with_epochs(path: String, epochs: usize) -> String {
    let text = std::fs::read_to_string(&path).unwrap().replace("epochs = 1", &format!("epochs = {epochs}"));
    std::fs::write(&path, text).unwrap();
    path
}

const ATTACKS: &str = "[[eval.attacks]]\nname = \"fgsm\"\nepsilons = [0.1]\n\
    [[eval.attacks]]\nname = \"pgd_linf\"\nepsilons = [0.1]\nsteps = 3\nexamples = 64\n";

#[test]
fn adversarial_training_is_deterministic_and_attacks_are_reported() {
    let sb = Sandbox::new();
    sb.digits(256, 96, ImageLayout::ParquetBytes);
    let adv = "[train.adversarial]\nepsilon = 0.1\nsteps = 2\nratio = 0.5\n";
    let cfg = digits(&sb, "adv", adv, ATTACKS);
    for out in ["a", "b"] {
        let run = sb.temper(&["train", "--config", &cfg, "--device", "cpu", "--quiet", "--out", out]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let a = sb.json(&sb.run_dirs_under("a")[0].join("metrics.json"));
    let b = sb.json(&sb.run_dirs_under("b")[0].join("metrics.json"));
    assert_eq!(a["training"][0]["loss"], b["training"][0]["loss"], "same seed, same adversarial examples");
    assert_eq!(a["attack_accuracy"], b["attack_accuracy"]);
    let clean = a["clean_accuracy"].as_f64().unwrap();
    for (attack, examples) in [("fgsm", 96), ("pgd_linf", 64)] {
        let acc = a["attack_accuracy"][attack]["0.1"].as_f64().unwrap();
        let rate = a["attack_success_rate"][attack]["0.1"].as_f64().unwrap();
        let norm = a["attack_mean_norm"][attack]["0.1"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&rate), "{attack}: {rate}");
        assert!(norm <= 0.1 + 1e-6, "{attack}: L∞ {norm} beyond ε");
        // Attacks can only lower accuracy on the rows they see; FGSM sees them all.
        if examples == 96 {
            assert!(acc <= clean + 1e-9, "{attack}: {acc} > clean {clean}");
        }
    }
    let report = std::fs::read_to_string(sb.run_dirs_under("a")[0].join("report.md")).unwrap();
    assert!(report.contains("## Accuracy under attack") && report.contains("pgd_linf"), "{report}");
}

/// Per-batch losses from a run's log, in order.
fn batch_losses(dir: &std::path::Path) -> Vec<f64> {
    let log = std::fs::read_to_string(dir.join("log.jsonl")).unwrap();
    log.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == "batch")
        .map(|v| v["loss"].as_f64().unwrap())
        .collect()
}

/// PGD training (Madry et al.), TRADES (Zhang et al. 2019) and MART (Wang
/// et al. 2020), each after
/// a clean first epoch, against plain training on the same seed.
#[test]
fn pgd_trades_and_mart_training_change_the_model_and_raise_accuracy_under_pgd() {
    let sb = Sandbox::new();
    sb.digits(512, 200, ImageLayout::ParquetBytes);
    // Long enough to learn the digits (about 0.8 clean); the first epoch is a clean warm-up.
    let attack = "[[eval.attacks]]\nname = \"pgd_linf\"\nepsilons = [0.1]\nsteps = 5\nexamples = 200\n";
    let adv = "[train.adversarial]\nepsilon = 0.1\nsteps = 3\nratio = 0.5\nwarmup-epochs = 1\n";
    let trades =
        "[train.adversarial]\nattack = \"trades_linf\"\nepsilon = 0.1\nsteps = 3\nwarmup-epochs = 1\n";
    let mart = "[train.adversarial]\nattack = \"mart_linf\"\nepsilon = 0.1\nsteps = 3\nwarmup-epochs = 1\n";
    for (name, extra) in [("plain", ""), ("pgd", adv), ("trades", trades), ("mart", mart)] {
        let cfg = digits_config("digits/train.parquet", "digits/test.parquet", extra)
            .replace("epochs = 2", "epochs = 6")
            .replace("corruptions = [\"gaussian_noise\", \"rotate\"]", "corruptions = []");
        let path = sb.write(&format!("{name}.toml"), cfg + attack);
        let run = sb.temper(&[
            "train",
            "--config",
            path.to_str().unwrap(),
            "--device",
            "cpu",
            "--quiet",
            "--out",
            name,
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let (plain, pgd) = (&sb.run_dirs_under("plain")[0], &sb.run_dirs_under("pgd")[0]);
    let (p, a) = (batch_losses(plain), batch_losses(pgd));
    assert_eq!(p.len(), 6 * 16, "512 examples in batches of 32, six epochs");
    assert_eq!(a[..16], p[..16], "same seed: the warm-up epoch is the same clean training");
    assert!(a[16..].iter().zip(&p[16..]).all(|(x, y)| x != y), "every later batch trains on attacked images");
    let under_attack = |dir: &std::path::Path| {
        sb.json(&dir.join("metrics.json"))["attack_accuracy"]["pgd_linf"]["0.1"].as_f64().unwrap()
    };
    let (plain_acc, pgd_acc) = (under_attack(plain), under_attack(pgd));
    // Measured over 13 training seeds and 4 data seeds (19 pairs): plain
    // 0.00–0.05, PGD-trained 0.235–0.385, a gain of 0.22–0.365 (0.32 here).
    assert!(
        pgd_acc >= plain_acc + 0.1,
        "accuracy under PGD ε=0.1: {pgd_acc} after PGD training, {plain_acc} without"
    );
    let trades = &sb.run_dirs_under("trades")[0];
    let t = batch_losses(trades);
    assert_eq!(t[..16], p[..16], "the warm-up epoch is the same clean training");
    // TRADES's loss is the clean cross-entropy plus β·KL ≥ 0, so it stays
    // above the clean loss of the same batch far more often than not.
    let above = t[16..].iter().zip(&p[16..]).filter(|(x, y)| x > y).count();
    assert!(
        above * 4 > 3 * (t.len() - 16),
        "{above} of {} batches above plain training's loss",
        t.len() - 16
    );
    // Measured over 4 training seeds and 2 data seeds: TRADES (β 6) 0.36–0.495,
    // a gain of 0.33–0.455 over plain training (0.24–0.405 while its two
    // passes drew independent dropout masks).
    let trades_acc = under_attack(trades);
    assert!(
        trades_acc >= plain_acc + 0.1,
        "accuracy under PGD ε=0.1: {trades_acc} after TRADES, {plain_acc} without"
    );
    let mart = &sb.run_dirs_under("mart")[0];
    assert_eq!(batch_losses(mart)[..16], p[..16], "MART's warm-up epoch is the same clean training");
    // Same seeds: MART (β 6) 0.32–0.45, a gain of 0.27–0.41 (its clean
    // accuracy 0.53–0.69 in this short run; 0.21–0.63 and gains of
    // 0.165–0.38 while its two passes drew independent dropout masks).
    let mart_acc = under_attack(mart);
    assert!(
        mart_acc >= plain_acc + 0.1,
        "accuracy under PGD ε=0.1: {mart_acc} after MART, {plain_acc} without"
    );
}

/// A TRADES run killed inside its first attacked epoch resumes to the same
/// numbers: the attack's start is drawn from (seed, epoch, batch).
#[test]
fn trades_training_resumes_exactly() {
    let sb = Sandbox::new();
    sb.digits(300, 60, ImageLayout::ParquetBytes);
    let text = digits_config(
        "digits/train.parquet",
        "digits/test.parquet",
        "checkpoint-every = 3\n[train.adversarial]\nattack = \"trades_l2\"\nepsilon = 0.5\nsteps = 2\nbeta = 3.0\nwarmup-epochs = 1\n",
    )
    .replace("corruptions = [\"gaussian_noise\", \"rotate\"]", "corruptions = [\"rotate\"]");
    let cfg = sb.write("t.toml", text);
    let cfg = cfg.to_str().unwrap();
    let (dir, m) = sb.trained(cfg, "full");
    let resolved = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    for key in ["attack = \"trades_l2\"", "beta = 3.0", "steps = 2"] {
        assert!(resolved.contains(key), "{key} in {resolved}");
    }
    sb.resumes_to(cfg, "tiny-digits", m);
}

/// Adversarial weight perturbation (Wu et al. 2020) on PGD training: the
/// epochs before `awp-warmup-epochs` are PGD training batch for batch, every
/// later batch's loss is taken at the perturbed weights, and a run killed
/// inside a perturbed epoch resumes to the same numbers.
#[test]
fn weight_perturbation_starts_after_its_warm_up_and_resumes_exactly() {
    let sb = Sandbox::new();
    sb.digits(300, 60, ImageLayout::ParquetBytes);
    let pgd = "checkpoint-every = 3\n[train.adversarial]\nepsilon = 0.1\nsteps = 2\nwarmup-epochs = 1\n";
    let config = |name: &str, extra: &str, epochs: usize| {
        let text = digits_config("digits/train.parquet", "digits/test.parquet", &format!("{pgd}{extra}"))
            .replace("\nepochs = 2\n", &format!("\nepochs = {epochs}\n"))
            .replace("corruptions = [\"gaussian_noise\", \"rotate\"]", "corruptions = [\"rotate\"]");
        sb.write(&format!("{name}.toml"), text).to_str().unwrap().to_owned()
    };
    let (plain, _) = sb.trained(&config("pgd", "", 3), "pgd");
    let late = config("late", "awp-gamma = 0.01\nawp-warmup-epochs = 2\n", 3);
    let (awp, _) = sb.trained(&late, "late");
    let (p, a) = (batch_losses(&plain), batch_losses(&awp));
    assert_eq!(p.len(), 30, "300 rows in batches of 32, three epochs");
    assert_eq!(a[..20], p[..20], "a clean epoch, then a PGD epoch without the perturbation");
    assert!(
        a[20..].iter().zip(&p[20..]).all(|(x, y)| x != y),
        "every later batch trains at perturbed weights"
    );
    let resolved = std::fs::read_to_string(awp.join("config.toml")).unwrap();
    for key in ["awp-gamma = 0.01", "awp-warmup-epochs = 2"] {
        assert!(resolved.contains(key), "{key} in {resolved}");
    }
    // Perturbed from epoch 2, the one the harness kills the run inside.
    let cfg = config("awp", "awp-gamma = 0.01\n", 2);
    let (_, finished) = sb.trained(&cfg, "full");
    sb.resumes_to(&cfg, "tiny-digits", finished);
}

#[test]
fn mce_against_a_baseline_matches_the_definition() {
    let sb = Sandbox::new();
    // Models that have learnt something (a model at chance has the same
    // error under every corruption, and the relative form is then 0).
    sb.digits(512, 128, ImageLayout::ParquetBytes);
    let base = with_epochs(digits(&sb, "base", "", ""), 4);
    let run = sb.temper(&["train", "--config", &base, "--device", "cpu", "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let hardened =
        with_epochs(digits(&sb, "hardened", "[[train.augment]]\nop = \"rotate\"\np = 0.5\n", ""), 4);
    let text = std::fs::read_to_string(&hardened).unwrap();
    std::fs::write(&hardened, text.replace("[eval]\n", "[eval]\nmce-baseline = \"runs/base/latest\"\n"))
        .unwrap();
    let run = sb.temper(&["train", "--config", &hardened, "--device", "cpu", "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    let b = sb.json(&sb.path().join("runs/base/latest/metrics.json"));
    let h = sb.json(&sb.path().join("runs/hardened/latest/metrics.json"));
    // E = 1 − accuracy; per op, Σ_s over the severities both runs have.
    let table = |m: &serde_json::Value, op: &str| -> Vec<(String, f64)> {
        let sev = m["corruption_accuracy"][op].as_object().expect("severities");
        sev.iter().map(|(s, a)| (s.clone(), 1.0 - a.as_f64().unwrap())).collect()
    };
    let clean_err = |m: &serde_json::Value| 1.0 - m["clean_accuracy"].as_f64().unwrap();
    let ops = ["gaussian_noise", "rotate"];
    let (mut ce, mut relative) = (Vec::new(), Vec::new());
    for op in ops {
        let (run, base) = (table(&h, op), table(&b, op));
        assert_eq!(run.len(), 5, "{op}: five severities");
        let (mut err, mut base_err, mut rel, mut base_rel) = (0.0, 0.0, 0.0, 0.0);
        for (s, e) in &run {
            let Some((_, be)) = base.iter().find(|(bs, _)| bs == s) else { continue };
            err += e;
            base_err += be;
            rel += e - clean_err(&h);
            base_rel += be - clean_err(&b);
        }
        if base_err > 0.0 {
            ce.push(err / base_err);
        }
        if base_rel > 0.0 {
            relative.push(rel / base_rel);
        }
    }
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    for (key, expected) in [("mCE", mean(&ce)), ("relative_mCE", mean(&relative))] {
        match (h.get(key).and_then(serde_json::Value::as_f64), expected) {
            (Some(got), Some(want)) => assert!((got - want).abs() < 1e-9, "{key} {got}, by hand {want}"),
            (None, None) => {
                assert!(h.get(key).is_none(), "{key}: undefined, yet written as {:?}", h.get(key))
            }
            (got, want) => panic!("{key}: metrics.json has {got:?}, by hand {want:?}"),
        }
    }
    // Here both are defined, so the loop compared numbers: relative_mCE from
    // rotate alone, as noise lowers the baseline's error here (measured:
    // Σ_s (E^base_s − E^base_clean) = −0.07 for gaussian_noise), so that op is left out.
    assert!(mean(&ce).is_some() && mean(&relative).is_some(), "ce {ce:?}, relative {relative:?}");
    assert!(h["mce_baseline"].as_str().unwrap().starts_with("base ("));
}

#[test]
fn a_missing_mce_baseline_stops_before_training() {
    let sb = Sandbox::new();
    sb.digits(64, 32, ImageLayout::ParquetBytes);
    let cfg = digits(&sb, "x", "", "");
    let text =
        std::fs::read_to_string(&cfg).unwrap().replace("[eval]\n", "[eval]\nmce-baseline = \"runs/none\"\n");
    std::fs::write(&cfg, text).unwrap();
    let run = sb.temper(&["train", "--config", &cfg, "--quiet"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("eval.mce-baseline") && run.stderr.contains("metrics.json"),
        "{}",
        run.stderr
    );
    assert!(sb.run_dirs().is_empty());
}

#[test]
fn augmix_with_the_consistency_loss_trains_and_logs_a_larger_loss() {
    let sb = Sandbox::new();
    sb.digits(512, 128, ImageLayout::ParquetBytes);
    // Four epochs: enough for the clean accuracy to say the model learnt.
    let plain = with_epochs(digits(&sb, "plain", "", ""), 4);
    let augmix = with_epochs(digits(&sb, "augmix", "[train.augmix]\nseverity = 3\njsd-weight = 12\n", ""), 4);
    for cfg in [&plain, &augmix] {
        let run = sb.temper(&["train", "--config", cfg, "--device", "cpu", "--quiet"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let first_loss = |name: &str| -> Vec<f64> {
        let log = std::fs::read_to_string(sb.path().join(format!("runs/{name}/latest/log.jsonl"))).unwrap();
        log.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["event"] == "batch")
            .map(|v| v["loss"].as_f64().unwrap())
            .collect()
    };
    let (p, a) = (first_loss("plain"), first_loss("augmix"));
    assert_eq!(p.len(), a.len(), "the views add inputs, not batches");
    // Same weights and clean batch: the first loss differs only by λ·JSD ≥ 0
    // (batch norm sees the views too, so allow a little either way).
    assert!(a[0] > p[0] - 0.05, "augmix {} vs plain {}", a[0], p[0]);
    assert!(a.iter().all(|l| l.is_finite()));
    let m = sb.json(&sb.path().join("runs/augmix/latest/metrics.json"));
    // Chance is 0.1. Measured over 8 seeds: 0.43–0.76 (0.44 at this seed).
    let clean = m["clean_accuracy"].as_f64().unwrap();
    assert!(clean > 0.25, "augmix clean accuracy {clean}: not clearly above chance");
}

#[test]
fn text_adversarial_training_edits_batches_and_is_deterministic() {
    let sb = Sandbox::new();
    sb.messages(400, 100);
    let adv =
        "[train.adversarial]\nattack = \"textbugger\"\nratio = 0.5\nmax-queries = 20\nwarmup-epochs = 1\n";
    let plain = sb.write("plain.toml", crate::harness::messages_config(""));
    let cfg = sb.write("adv.toml", crate::harness::messages_config(adv));
    for (c, out) in [(&plain, "p"), (&cfg, "a"), (&cfg, "b")] {
        let run = sb.temper(&["train", "--config", c.to_str().unwrap(), "--quiet", "--out", out]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let losses = |out: &str| -> Vec<f64> {
        let log = std::fs::read_to_string(sb.run_dirs_under(out)[0].join("log.jsonl")).unwrap();
        log.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["event"] == "batch")
            .map(|v| v["loss"].as_f64().unwrap())
            .collect()
    };
    let (p, a, b) = (losses("p"), losses("a"), losses("b"));
    assert_eq!(a, b, "same seed, same edits");
    let per_epoch = p.len() / 4;
    assert_eq!(&a[..per_epoch], &p[..per_epoch], "the warm-up epoch is clean");
    assert_ne!(&a[per_epoch..], &p[per_epoch..], "later epochs train on edited texts");
}
