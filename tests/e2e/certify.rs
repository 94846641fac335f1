//! Randomized smoothing: a model trained on Gaussian noise, certified at
//! two noise levels and attacked there by SmoothAdv, reported, and
//! certified and attacked again by `temper eval`.

use temper::synth::ImageLayout;

use crate::harness::{Sandbox, digits_config};

#[test]
fn a_noise_trained_model_is_certified_reported_and_recertified_the_same() {
    let sb = Sandbox::new();
    sb.digits(300, 60, ImageLayout::ParquetBytes);
    let certify = "[eval.certify]\nsigmas = [0.25, 0.5]\nn0 = 20\nn = 200\nexamples = 30\nradii = [0.0, 0.25, 0.5, 1.0]\n\
                   [eval.certify.attack]\nsteps = 5\nsamples = 4\nexamples = 12\n";
    let cfg = sb.write(
        "c.toml",
        digits_config("digits/train.parquet", "digits/test.parquet", "[train.noise]\nsigma = 0.25\n")
            + certify,
    );
    let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let dir = sb.run_dirs()[0].clone();
    let metrics = sb.json(&dir.join("metrics.json"));
    let c = &metrics["certification"];
    assert_eq!(c.as_object().unwrap().len(), 2, "{c}");
    for sigma in ["0.25", "0.5"] {
        let s = &c[sigma];
        assert_eq!(
            (s["examples"].as_u64(), s["n0"].as_u64(), s["n"].as_u64()),
            (Some(30), Some(20), Some(200))
        );
        let acc: Vec<f64> =
            ["0", "0.25", "0.5", "1"].iter().map(|r| s["accuracy"][r].as_f64().unwrap()).collect();
        assert!(
            acc.windows(2).all(|w| w[1] <= w[0]),
            "σ {sigma}: certified accuracy grows with the radius {acc:?}"
        );
        let abstain = s["abstain_rate"].as_f64().unwrap();
        assert!(acc[0] + abstain <= 1.0 + 1e-12, "σ {sigma}");
        // 200 unanimous samples bound p at 0.001^(1/200) = 0.96605, Φ⁻¹ = 1.8258.
        let cap = s["max_radius"].as_f64().unwrap();
        let want: f64 = sigma.parse::<f64>().unwrap() * 1.8258;
        assert!((cap - want).abs() < 1e-3, "σ {sigma}: cap {cap}");
        for (r, a) in [0.0, 0.25, 0.5, 1.0].iter().zip(&acc) {
            if *r > cap {
                assert_eq!(*a, 0.0, "σ {sigma}: certified beyond what 200 samples can at r {r}");
            }
        }
        let mean = s["mean_radius"].as_f64().unwrap();
        assert!((0.0..=cap).contains(&mean), "σ {sigma}: mean radius {mean}");
        let a = &s["attack"];
        assert_eq!(
            (a["examples"].as_u64(), a["steps"].as_u64(), a["samples"].as_u64()),
            (Some(12), Some(5), Some(4)),
            "{a}"
        );
        let share = |what: &str| -> Vec<f64> {
            ["0", "0.25", "0.5", "1"].iter().map(|r| a[what][r].as_f64().unwrap()).collect()
        };
        let (attacked, abstained, certified) = (share("accuracy"), share("abstain"), share("certified"));
        for j in 0..4 {
            assert!(attacked[j] + abstained[j] <= 1.0 + 1e-12, "σ {sigma}: {a}");
            // Twelve rows: every share is a multiple of 1/12.
            for v in [attacked[j], abstained[j], certified[j]] {
                assert!((v * 12.0 - (v * 12.0).round()).abs() < 1e-9, "σ {sigma}: {v} of 12 rows");
            }
        }
        assert!(certified.windows(2).all(|w| w[1] <= w[0]), "σ {sigma}: {certified:?}");
        // The strongest attack breaks at least what the unattacked prediction got wrong.
        assert!(attacked[3] <= attacked[0], "σ {sigma}: attacked {attacked:?}");
    }
    let log = std::fs::read_to_string(dir.join("log.jsonl")).unwrap();
    assert_eq!(log.lines().filter(|l| l.contains("\"event\":\"certified\"")).count(), 2);
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("Evasion: certified robustness"), "{report}");
    assert!(report.contains("cannot certify beyond"), "the sample cap is named: {report}");
    assert!(report.contains("SmoothAdv, then PREDICT (upper bound)"), "{report}");
    let resolved = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(resolved.contains("[train.noise]") && resolved.contains("[eval.certify.attack]"), "{resolved}");
    // Noise is seeded by the run seed, the row and σ: a re-evaluation
    // certifies, attacks and predicts the same.
    let again = sb.temper(&["eval", "--run", dir.to_str().unwrap(), "--quiet"]);
    assert_eq!(again.code, 0, "stderr: {}", again.stderr);
    let evals: Vec<_> = std::fs::read_dir(dir.join("evals")).unwrap().flatten().collect();
    let evaluated = sb.json(&evals[0].path());
    assert_eq!(evaluated["certification"], metrics["certification"]);
}

/// SmoothAdv training (Salman et al. 2019): it trains on harder examples
/// than the noise alone, less so with ε ramped up slowly, and a run killed
/// inside epoch 2 resumes to the same numbers (the attack's and the
/// training noise's draws are seeded by row and epoch). MACER, beside it,
/// trains on its own loss.
#[test]
fn smoothadv_training_trains_on_harder_examples_and_resumes_exactly() {
    let sb = Sandbox::new();
    sb.digits(300, 60, ImageLayout::ParquetBytes);
    let config = |name: &str, extra: &str| {
        let text = digits_config(
            "digits/train.parquet",
            "digits/test.parquet",
            &format!("checkpoint-every = 3\n[train.noise]\nsigma = 0.25\n{extra}"),
        )
        .replace("epochs = 2", "epochs = 3")
        .replace("corruptions = [\"gaussian_noise\", \"rotate\"]", "corruptions = [\"rotate\"]");
        sb.write(name, text).to_str().unwrap().to_owned()
    };
    let noise = config("noise.toml", "");
    let smooth = config(
        "smooth.toml",
        "[train.adversarial]\nattack = \"smoothadv\"\nepsilon = 0.5\nsteps = 2\nsamples = 2\n",
    );
    // ε/100, 2ε/100, 3ε/100 in epochs 1-3: barely attacked.
    let ramped = config(
        "ramped.toml",
        "[train.adversarial]\nattack = \"smoothadv\"\nepsilon = 0.5\nsteps = 2\nsamples = 2\nramp-epochs = 100\n",
    );
    // One copy, so only MACER's loss tells it from the noise alone.
    let macer = config("macer.toml", "copies = 1\n[train.noise.macer]\n");
    for (cfg, out) in [(&noise, "noise"), (&smooth, "full"), (&ramped, "ramped"), (&macer, "macer")] {
        let run = sb.temper(&["train", "--config", cfg, "--quiet", "--out", out]);
        assert_eq!(run.code, 0, "{out}: {}", run.stderr);
    }
    let plain = sb.json(&sb.run_dirs_under("noise")[0].join("metrics.json"));
    let dir = sb.run_dirs_under("full")[0].clone();
    let m = sb.json(&dir.join("metrics.json"));
    // By the third epoch the attack has a model to push against (2.27 against 2.01 when written).
    let loss = |m: &serde_json::Value| m["training"][2]["loss"].as_f64().unwrap();
    assert!(loss(&m) > loss(&plain) + 0.05, "attacked rows are harder: {} vs {}", loss(&m), loss(&plain));
    let slow = sb.json(&sb.run_dirs_under("ramped")[0].join("metrics.json"));
    assert!(loss(&slow) < loss(&m) - 0.05, "a ramped ε attacks less: {} vs {}", loss(&slow), loss(&m));
    let radius = sb.json(&sb.run_dirs_under("macer")[0].join("metrics.json"));
    let first = |m: &serde_json::Value| m["training"][0]["loss"].as_f64().unwrap();
    assert!(
        (first(&radius) - first(&plain)).abs() > 0.01,
        "MACER trains on its own loss: {}",
        first(&radius)
    );
    let resolved = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(resolved.contains("attack = \"smoothadv\"") && resolved.contains("samples = 2"), "{resolved}");

    sb.resumes_to(&smooth, "tiny-digits", m);
}

/// Consistency regularisation over two noisy copies, with SmoothAdv from
/// the second epoch (the authors' combination): the first epoch's copies
/// come from the data thread, the later ones from the attack step. A run
/// killed inside epoch 2 resumes to the same numbers.
#[test]
fn consistency_training_over_noisy_copies_resumes_exactly() {
    let sb = Sandbox::new();
    sb.digits(300, 60, ImageLayout::ParquetBytes);
    let text = digits_config(
        "digits/train.parquet",
        "digits/test.parquet",
        "checkpoint-every = 3\n[train.noise]\nsigma = 0.25\n[train.noise.consistency]\n\
         [train.adversarial]\nattack = \"smoothadv\"\nepsilon = 0.25\nsteps = 1\nsamples = 2\nwarmup-epochs = 1\n",
    )
    .replace("corruptions = [\"gaussian_noise\", \"rotate\"]", "corruptions = [\"rotate\"]");
    let cfg = sb.write("c.toml", text);
    let cfg = cfg.to_str().unwrap();
    let (dir, m) = sb.trained(cfg, "full");
    let resolved = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    for key in ["copies = 2", "weight = 10.0", "entropy = 0.5"] {
        assert!(resolved.contains(key), "{key} in {resolved}");
    }
    sb.resumes_to(cfg, "tiny-digits", m);
}
