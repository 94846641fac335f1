//! Model extraction: a thief's surrogate trained through the API within its
//! query budget, its fidelity and accuracy in metrics.json, the report and
//! the log; the same numbers after a kill and resume; bad keys refused.

use temper::synth::ImageLayout;

use crate::harness::{Sandbox, digits_config, messages_config};

/// Two APIs over 150 unmeasured test digits; 100 measured.
fn stolen_digits(sb: &Sandbox) -> String {
    sb.digits(800, 250, ImageLayout::ParquetBytes);
    let cfg = digits_config("digits/train.parquet", "digits/test.parquet", "checkpoint-every = 5")
        .replace("epochs = 2", "epochs = 4")
        + "[[eval.extraction]]\noutput = \"top-1\"\nbudgets = [30, 150]\nexamples = 100\nsteps = 40\n\
           transfer-epsilons = [0.1, 0.3]\n\
           [[eval.extraction]]\noutput = \"probabilities\"\ndecimals = 2\nbudgets = [30, 150]\nexamples = 100\n\
           steps = 40\ntransfer-epsilons = [0.3]\n";
    sb.write("extraction.toml", cfg).to_str().unwrap().to_owned()
}

/// Metrics without timings.
fn comparable(mut m: serde_json::Value) -> serde_json::Value {
    m["run"]["id"] = serde_json::Value::Null;
    m["training"] = serde_json::Value::Null;
    let e = &mut m["extraction"];
    e["seconds"] = serde_json::Value::Null;
    for api in e["apis"].as_object_mut().unwrap().values_mut() {
        api["seconds"] = serde_json::Value::Null;
        for b in api["budgets"].as_object_mut().unwrap().values_mut() {
            b["seconds"] = serde_json::Value::Null;
        }
    }
    m
}

#[test]
fn a_surrogate_learns_the_model_within_its_budget_and_resumes_equal() {
    let sb = Sandbox::new();
    let cfg = stolen_digits(&sb);
    let run = sb.temper(&["train", "--config", &cfg, "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dir = &sb.run_dirs()[0];
    let m = sb.json(&dir.join("metrics.json"));
    let e = &m["extraction"];
    let apis = e["apis"].as_object().unwrap();
    assert_eq!(apis.keys().collect::<Vec<_>>(), ["probabilities-2dp", "top-1"], "{e}");
    let mut best: f64 = 0.0;
    for (name, api) in apis {
        assert_eq!(api["examples"], 100, "{name}");
        assert_eq!(api["queries"], "test");
        let budgets = api["budgets"].as_object().unwrap();
        assert_eq!(budgets.keys().collect::<Vec<_>>(), ["150", "30"], "{name}");
        for (b, r) in budgets {
            assert_eq!(
                r["queries"].as_u64().unwrap().to_string(),
                *b,
                "{name}: the API answered exactly the budget"
            );
            let fidelity = r["fidelity"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&fidelity) && r["accuracy"].as_f64().unwrap() <= 1.0, "{r}");
            best = best.max(fidelity);
        }
        // 40 steps of 32: five batches per epoch over 150 answers make 8 epochs.
        assert_eq!(budgets["150"]["epochs"], 8, "{name}");
        // A copy from 150 answers agrees with the model far beyond chance (10 classes).
        assert!(budgets["150"]["fidelity"].as_f64().unwrap() > 0.4, "{name}: {api}");
        let victim = api["victim_accuracy"].as_f64().unwrap();
        assert!(victim > 0.5, "{api}");
    }
    assert_eq!(e["max_fidelity"].as_f64().unwrap(), best);
    let transfer = &apis["top-1"]["transfer"];
    assert_eq!(transfer.as_object().unwrap().keys().collect::<Vec<_>>(), ["0.1", "0.3"], "{transfer}");
    let (weak, strong) = (&transfer["0.1"], &transfer["0.3"]);
    assert_eq!((weak["examples"].as_u64(), weak["budget"].as_u64()), (Some(100), Some(150)));
    // The larger ε fools the surrogate it was made on, and carries over to the model.
    assert!(strong["surrogate_accuracy"].as_f64().unwrap() < 0.2, "{strong}");
    assert!(
        strong["accuracy"].as_f64().unwrap() < apis["top-1"]["victim_accuracy"].as_f64().unwrap() - 0.1,
        "{strong}"
    );
    let log = std::fs::read_to_string(dir.join("log.jsonl")).unwrap();
    assert_eq!(log.lines().filter(|l| l.contains("\"event\":\"extraction\"")).count(), 1);
    let validate = sb.temper(&["validate", &cfg]);
    assert_eq!(validate.code, 0, "{}", validate.stderr);
    assert!(
        validate
            .stdout
            .contains("extraction through a top-1 API: budgets 30, 150 from 150 unmeasured test rows"),
        "{}",
        validate.stdout
    );

    // Killed inside the model's second epoch, then resumed: the same thief, the same copies.
    let run_dir = sb.killed_inside_epoch_two(&cfg, "killed", "tiny-digits");
    let resumed = sb.temper(&["train", "--resume", run_dir.to_str().unwrap(), "--quiet"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(comparable(m)["extraction"], comparable(sb.json(&run_dir.join("metrics.json")))["extraction"]);
    // Batch-norm statistics included: the checkpoint holds what the next step reads.
    let weights = |d: &std::path::Path| sb.json(&d.join("manifest.json"))["weights_sha256"].clone();
    assert_eq!(weights(&run_dir), weights(dir));

    // The report's stealing section, compare's rows and the gate reach the figures.
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        report.contains("## Stealing: model extraction") && report.contains("probabilities-2dp"),
        "{report}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("Fidelity and copy accuracy against queries"), "no stealing chart");
    let (a, b) = (dir.to_str().unwrap(), run_dir.to_str().unwrap());
    let table = sb.temper(&["compare", a, b]);
    assert!(table.stdout.contains("extraction.apis.top-1.budgets.150.fidelity"), "{}", table.stdout);
    let gate = sb.temper(&["compare", a, b, "--fail-if", "extraction.max_fidelity > -1"]);
    assert_eq!(gate.code, 1, "an unchanged fidelity is above -1 point: {}", gate.stderr);
    let gate = sb.temper(&["compare", a, b, "--fail-if", "extraction.max_fidelity > 0"]);
    assert_eq!(gate.code, 0, "{}", gate.stderr);
}

#[test]
fn a_text_model_is_copied_from_synthetic_queries() {
    let sb = Sandbox::new();
    sb.messages(600, 300);
    let cfg = messages_config("")
        + "[[eval.extraction]]\noutput = \"top-k\"\nk = 2\nqueries = \"synthetic\"\nseed-rows = 60\n\
           budgets = [400]\nexamples = 200\nsteps = 150\nwidth = 0.5\n\
           [[eval.extraction]]\noutput = \"top-1\"\nqueries = \"table\"\ntable = \"messages/train.csv\"\n\
           budgets = [300]\nexamples = 300\nsteps = 150\n";
    let cfg = sb.write("text.toml", cfg);
    let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let m = sb.json(&sb.run_dirs()[0].join("metrics.json"));
    let api = &m["extraction"]["apis"]["top-2"];
    assert_eq!(
        (api["output"].as_str(), api["queries"].as_str()),
        (Some("top-k"), Some("synthetic")),
        "{api}"
    );
    assert_eq!(api["budgets"]["400"]["queries"], 400);
    assert!(api.get("transfer").is_none(), "no PGD on texts: {api}");
    // 400 queries made from 60 messages still teach more than chance (4 classes).
    assert!(api["budgets"]["400"]["fidelity"].as_f64().unwrap() > 0.4, "{api}");
    // A table of the thief's own: every test row measured, its labels never read.
    let table = &m["extraction"]["apis"]["top-1"];
    assert_eq!(
        (table["queries"].as_str(), table["examples"].as_u64()),
        (Some("table"), Some(300)),
        "{table}"
    );
    assert!(table["budgets"]["300"]["fidelity"].as_f64().unwrap() > 0.6, "{table}");
    let manifest = sb.json(&sb.run_dirs()[0].join("manifest.json"));
    let hashed = manifest["inputs"].as_array().unwrap();
    assert_eq!(hashed.len(), 3, "train, test and the query table: {manifest}");
}

#[test]
fn bad_extraction_keys_name_the_key() {
    let sb = Sandbox::new();
    sb.digits(64, 40, ImageLayout::ParquetBytes);
    sb.messages(50, 30);
    let base = digits_config("digits/train.parquet", "digits/test.parquet", "");
    let cases = [
        ("output = \"logits\"\nbudgets = [10]\n", "`eval.extraction[0].output`"),
        ("output = \"top-1\"\n", "`eval.extraction[0].budgets`"),
        ("output = \"top-1\"\nk = 3\nbudgets = [10]\n", "`eval.extraction[0].k`"),
        ("output = \"top-k\"\ndecimals = 2\nbudgets = [10]\n", "`eval.extraction[0].decimals`"),
        ("output = \"top-1\"\nbudgets = [20, 10]\n", "`eval.extraction[0].budgets[1]`"),
        ("output = \"top-1\"\nbudgets = [10]\nseed-rows = 5\n", "`eval.extraction[0].seed-rows`"),
        // 40 test rows less 20 measured cannot supply 30 queries: refused with the data loaded.
        ("output = \"top-1\"\nbudgets = [30]\nexamples = 20\n", "`eval.extraction[0].budgets[0]`"),
        ("output = \"top-1\"\nbudgets = [10]\nexamples = 40\n", "`eval.extraction[0].examples`"),
        ("output = \"top-1\"\nbudgets = [10]\nqueries = \"table\"\n", "`eval.extraction[0].table`"),
        (
            "output = \"top-1\"\nbudgets = [10]\ntable = \"digits/test.parquet\"\n",
            "`eval.extraction[0].table`",
        ),
        ("output = \"top-1\"\nbudgets = [10]\nqueries = \"table\"\ntable = \"nope.csv\"\n", "does not exist"),
        // The query table has 40 rows.
        (
            "output = \"top-1\"\nbudgets = [41]\nqueries = \"table\"\ntable = \"digits/test.parquet\"\n",
            "40 rows in its table",
        ),
    ];
    for (entry, needle) in cases {
        let cfg = sb.write("bad.toml", format!("{base}[[eval.extraction]]\n{entry}"));
        let out = sb.temper(&["validate", cfg.to_str().unwrap()]);
        assert_ne!(out.code, 0, "{entry}: {}", out.stdout);
        assert!(out.stderr.contains(needle), "{entry}: {needle:?} not in {}", out.stderr);
    }
    let twice = format!(
        "{base}[[eval.extraction]]\noutput = \"top-1\"\nbudgets = [10]\n[[eval.extraction]]\noutput = \"top-1\"\nbudgets = [20]\n"
    );
    let cfg = sb.write("twice.toml", twice);
    let out = sb.temper(&["validate", cfg.to_str().unwrap()]);
    assert!(out.stderr.contains("`eval.extraction[1].output`"), "{}", out.stderr);
    let text = messages_config("")
        + "[[eval.extraction]]\noutput = \"top-1\"\nbudgets = [10]\ntransfer-epsilons = [0.1]\n";
    let cfg = sb.write("text.toml", text);
    let out = sb.temper(&["validate", cfg.to_str().unwrap()]);
    assert!(out.stderr.contains("`eval.extraction[0].transfer-epsilons`"), "{}", out.stderr);
    // A budget refused by the pool leaves no run directory behind.
    let cfg = sb.write(
        "pool.toml",
        format!("{base}[[eval.extraction]]\noutput = \"top-1\"\nbudgets = [30]\nexamples = 20\n"),
    );
    let out = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet", "--out", "never"]);
    assert_ne!(out.code, 0);
    assert!(!sb.path().join("never").join("tiny-digits").exists(), "refused before the run directory");
}
