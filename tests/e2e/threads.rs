//! The thread count is not part of a result: training and evaluation give
//! the same numbers on one rayon thread as on two, with a data pool of one
//! thread or of three.

use std::path::Path;

use temper::synth::ImageLayout;

use crate::harness::{Sandbox, digits_config, messages_config};

/// What a run measured, less timings: metric tables, the training curve,
/// every batch loss and the saved weights.
fn results(sb: &Sandbox, dir: &Path) -> Vec<(String, serde_json::Value)> {
    let m = sb.json(&dir.join("metrics.json"));
    let mut out: Vec<(String, serde_json::Value)> = [
        "clean_accuracy",
        "corruption_accuracy",
        "mean_corruption_accuracy",
        "attack_accuracy",
        "attack_success_rate",
        "attack_mean_norm",
        "attack_mean_queries",
    ]
    .iter()
    .map(|k| ((*k).to_owned(), m[*k].clone()))
    .collect();
    for e in m["training"].as_array().expect("training curve") {
        out.push((format!("epoch {} loss", e["epoch"]), e["loss"].clone()));
        out.push((format!("epoch {} accuracy", e["epoch"]), e["accuracy"].clone()));
    }
    let log = std::fs::read_to_string(dir.join("log.jsonl")).expect("log");
    let batches: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line"))
        .filter(|v| v["event"] == "batch")
        .map(|v| v["loss"].clone())
        .collect();
    out.push(("batch losses".to_owned(), batches.into()));
    for (name, tensor) in tensors(&std::fs::read(dir.join("model.safetensors")).expect("weights")) {
        out.push((format!("weights {name}"), tensor));
    }
    out
}

/// Each tensor of a safetensors file, by name: dtype, shape and bytes (in
/// hex). The file's own bytes are not compared: the order of its metadata
/// keys changes from run to run.
fn tensors(file: &[u8]) -> Vec<(String, serde_json::Value)> {
    let len = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&file[8..8 + len]).expect("safetensors header");
    let data = &file[8 + len..];
    let mut out: Vec<(String, serde_json::Value)> = header
        .iter()
        .filter(|(name, _)| *name != "__metadata__")
        .map(|(name, t)| {
            let [start, end] = [0, 1].map(|i| t["data_offsets"][i].as_u64().unwrap() as usize);
            let hex: String = data[start..end].iter().map(|b| format!("{b:02x}")).collect();
            (name.clone(), serde_json::json!([t["dtype"], t["shape"], hex]))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!out.is_empty(), "no tensors in the weights");
    out
}

/// Trains `config` on 1 and on 2 threads and compares what the runs measured.
fn same_on_one_and_two_threads(sb: &Sandbox, config: &Path, corruptions: &[&str], attacks: &[&str]) {
    let config = config.to_str().unwrap();
    for (threads, data_threads) in [("1", "1"), ("2", "3")] {
        let out = format!("threads-{threads}");
        let run = sb.temper_with_env(
            &["train", "--config", config, "--device", "cpu", "--quiet", "--out", &out],
            &[("RAYON_NUM_THREADS", threads), ("TEMPER_DATA_THREADS", data_threads)],
        );
        assert_eq!(run.code, 0, "{threads} thread(s): {}", run.stderr);
    }
    let one = results(sb, &sb.run_dirs_under("threads-1")[0]);
    let two = results(sb, &sb.run_dirs_under("threads-2")[0]);
    assert_eq!(one.len(), two.len(), "epochs or tensors differ");
    for ((key, a), (other, b)) in one.iter().zip(&two) {
        assert_eq!(key, other);
        assert_eq!(a, b, "{key}: 1 thread vs 2");
    }
    // The runs measured what the config asks for, so the comparison is not of empty tables.
    let m = sb.json(&sb.run_dirs_under("threads-1")[0].join("metrics.json"));
    assert!(m["clean_accuracy"].is_f64() && !m["training"][0]["loss"].is_null(), "{m}");
    for op in corruptions {
        assert!(m["corruption_accuracy"][op].is_object(), "no {op} in {m}");
    }
    for attack in attacks {
        assert!(m["attack_accuracy"][attack].is_object(), "no {attack} in {m}");
    }
}

#[test]
fn an_image_run_is_the_same_on_one_and_two_threads() {
    let sb = Sandbox::new();
    sb.digits(256, 96, ImageLayout::ParquetBytes);
    // PGD training in the second epoch: attacks run inside training too.
    let train = "[[train.augment]]\nop = \"rotate\"\np = 0.5\n\
                 [[train.augment]]\nop = \"gaussian_noise\"\np = 0.5\n\
                 [train.adversarial]\nepsilon = 0.1\nsteps = 2\nratio = 0.5\nwarmup-epochs = 1\n";
    let attacks = "[[eval.attacks]]\nname = \"fgsm\"\nepsilons = [0.1]\n\
                   [[eval.attacks]]\nname = \"pgd_linf\"\nepsilons = [0.1]\nsteps = 3\nexamples = 32\n";
    let cfg = digits_config("digits/train.parquet", "digits/test.parquet", train) + attacks;
    let cfg = sb.write("image.toml", cfg);
    same_on_one_and_two_threads(&sb, &cfg, &["gaussian_noise", "rotate"], &["fgsm", "pgd_linf"]);
}

#[test]
fn a_text_run_is_the_same_on_one_and_two_threads() {
    let sb = Sandbox::new();
    sb.messages(400, 100);
    // Adversarial training too: its edit search scores texts in parallel.
    let train = "[[train.augment]]\nop = \"typo\"\np = 0.5\n\
                 [[train.augment]]\nop = \"word_swap\"\np = 0.3\n\
                 [train.adversarial]\nattack = \"deepwordbug\"\nratio = 0.5\nmax-queries = 20\nwarmup-epochs = 2\n";
    let attacks = "[[eval.attacks]]\nname = \"deepwordbug\"\nexamples = 50\n";
    let cfg = sb.write("text.toml", messages_config(train) + attacks);
    same_on_one_and_two_threads(&sb, &cfg, &["typo", "homoglyph"], &["deepwordbug"]);
}
