//! Sharded evaluation: `temper eval --shard K/N` on a saved model and
//! `temper merge`, against one unsharded `temper eval`.

use std::path::{Path, PathBuf};

use temper::synth::ImageLayout;

use crate::harness::{Sandbox, digits_config, messages_config};

/// The one file of `<dir>/evals/` not in `before`.
fn new_eval(dir: &Path, before: &[PathBuf]) -> PathBuf {
    let now: Vec<PathBuf> =
        std::fs::read_dir(dir.join("evals")).unwrap().flatten().map(|e| e.path()).collect();
    let fresh: Vec<&PathBuf> = now.iter().filter(|p| !before.contains(p)).collect();
    assert_eq!(fresh.len(), 1, "one new evaluation in {now:?}");
    fresh[0].clone()
}

fn evals(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir.join("evals"))
        .map_or_else(|_| Vec::new(), |r| r.flatten().map(|e| e.path()).collect())
}

/// Evaluates `dir` unsharded, then in `n` shards (the last through the
/// scheduler's array index), merges them and returns both files' bytes.
fn unsharded_and_merged(sb: &Sandbox, dir: &Path, n: usize) -> (Vec<u8>, Vec<u8>) {
    let run = dir.to_str().unwrap();
    let whole = sb.temper(&["eval", "--run", run, "--quiet"]);
    assert_eq!(whole.code, 0, "stderr: {}", whole.stderr);
    let whole = new_eval(dir, &[]);
    for k in 0..n - 1 {
        let shard = sb.temper(&["eval", "--run", run, "--shard", &format!("{k}/{n}"), "--quiet"]);
        assert_eq!(shard.code, 0, "shard {k}: {}", shard.stderr);
    }
    let early = sb.temper(&["merge", run]);
    assert_eq!(early.code, 2, "an incomplete set is refused: {}", early.stdout);
    assert!(early.stderr.contains(&format!("shard {}/{n} is missing", n - 1)), "{}", early.stderr);
    let last = sb.temper_with_env(
        &["eval", "--run", run, "--shard", &format!("auto/{n}"), "--quiet"],
        &[("SLURM_ARRAY_TASK_ID", &(n - 1).to_string())],
    );
    assert_eq!(last.code, 0, "stderr: {}", last.stderr);
    let before = evals(dir);
    let merged = sb.temper(&["merge", run]);
    assert_eq!(merged.code, 0, "stderr: {}", merged.stderr);
    assert!(merged.stdout.contains(&format!("{n} shards merged")), "{}", merged.stdout);
    let merged = new_eval(dir, &before);
    (std::fs::read(whole).unwrap(), std::fs::read(merged).unwrap())
}

#[test]
fn merged_image_shards_equal_one_evaluation_byte_for_byte() {
    let sb = Sandbox::new();
    sb.digits(300, 100, ImageLayout::ParquetBytes);
    let attacks = "[[eval.attacks]]\nname = \"fgsm\"\nepsilons = [0.05, 0.1]\nexamples = 40\n\
                   [[eval.attacks]]\nname = \"pgd_linf\"\nepsilons = [0.1]\nsteps = 3\nexamples = 40\n\
                   [[eval.attacks]]\nname = \"square\"\nepsilons = [0.1, 0.2]\nmax-queries = 30\nexamples = 40\n\
                   [[eval.attacks]]\nname = \"hsja_linf\"\nepsilons = [0.1, 0.2]\nmax-queries = 60\nexamples = 20\n\
                   [[eval.attacks]]\nname = \"autoattack_linf\"\nepsilons = [0.1]\nsteps = 3\ntargets = 2\nmax-queries = 30\nexamples = 20\n\
                   [eval.certify]\nsigmas = [0.25, 0.5]\nn0 = 10\nn = 50\nexamples = 20\n";
    let cfg = sb.write(
        "c.toml",
        digits_config("digits/train.parquet", "digits/test.parquet", "").replace("epochs = 2", "epochs = 1")
            + attacks,
    );
    let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let dir = sb.run_dirs()[0].clone();
    let (whole, merged) = unsharded_and_merged(&sb, &dir, 3);
    assert_eq!(String::from_utf8_lossy(&merged), String::from_utf8_lossy(&whole));
    let metrics: serde_json::Value = serde_json::from_slice(&merged).unwrap();
    assert_eq!(metrics["corruption_accuracy"]["rotate"].as_object().unwrap().len(), 5);
    assert_eq!(metrics["attack_accuracy"]["fgsm"].as_object().unwrap().len(), 2);
    assert_eq!(metrics["attack_mean_queries"]["square"].as_object().unwrap().len(), 2);
    assert_eq!(metrics["attack_mean_queries"]["hsja_linf"].as_object().unwrap().len(), 2);
    // Each σ is a cell: certificates travel in their shards.
    assert_eq!(metrics["certification"].as_object().unwrap().len(), 2);
    // A cascade's stages travel in its shard.
    assert_eq!(metrics["attack_stage_accuracy"]["autoattack_linf"]["0.1"].as_object().unwrap().len(), 4);
    // The worst case joins attacks that ran on different shards: at ε 0.1
    // over the 20 rows all four attacked, so no higher than HopSkipJump's
    // figure on those rows.
    let worst = metrics["attack_worst_case_accuracy"]["linf"]["0.1"].as_f64().unwrap();
    assert!(worst <= metrics["attack_accuracy"]["hsja_linf"]["0.1"].as_f64().unwrap(), "{metrics}");
    assert!(metrics["attack_worst_case_accuracy"]["linf"].get("0.05").is_none(), "fgsm alone at 0.05");
    // Each of the three shards evaluated some cells, none all of them.
    for k in 0..3 {
        let shard = sb.json(&dir.join(format!("shards/shard-{k}-of-3.json")));
        let cells = shard["cells"].as_array().unwrap().len();
        assert!((1..17).contains(&cells), "shard {k}: {cells} of 17 cells");
    }

    // A stale shard of another split is named, not merged.
    let stale = sb.temper(&["eval", "--run", dir.to_str().unwrap(), "--shard", "0/2", "--quiet"]);
    assert_eq!(stale.code, 0, "stderr: {}", stale.stderr);
    let refused = sb.temper(&["merge", dir.to_str().unwrap()]);
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("shard-0-of-2.json") && refused.stderr.contains("number of shards"),
        "{}",
        refused.stderr
    );
    std::fs::remove_file(dir.join("shards/shard-0-of-2.json")).unwrap();
    // So is a shard of other weights.
    let path = dir.join("shards/shard-1-of-3.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let sha = sb.json(&path)["weights_sha256"].as_str().unwrap().to_owned();
    std::fs::write(&path, text.replace(&sha, &"0".repeat(64))).unwrap();
    let refused = sb.temper(&["merge", dir.to_str().unwrap()]);
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("the weights evaluated"), "{}", refused.stderr);
    // So is a shard of the layout before per-row outcomes.
    let mut old: serde_json::Value = sb.json(&path);
    old["schema_version"] = 1.into();
    old.as_object_mut().unwrap().remove("attack_rows_correct");
    std::fs::write(&path, old.to_string()).unwrap();
    let refused = sb.temper(&["merge", dir.to_str().unwrap()]);
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("shard-1-of-3.json: shard schema 1, this Temper reads 2"),
        "{}",
        refused.stderr
    );
    // Shard numbers count from 0.
    let bad = sb.temper(&["eval", "--run", dir.to_str().unwrap(), "--shard", "3/3"]);
    assert_eq!(bad.code, 2, "stderr: {}", bad.stderr);
    assert!(bad.stderr.contains("K must be below N"), "{}", bad.stderr);
}

#[test]
fn merged_text_shards_equal_one_evaluation_byte_for_byte() {
    let sb = Sandbox::new();
    sb.messages(300, 40);
    let attacks = "[[eval.attacks]]\nname = \"deepwordbug\"\nexamples = 20\n\
                   [[eval.attacks]]\nname = \"textbugger\"\nexamples = 20\nmax-queries = 60\n";
    let cfg = sb.write("c.toml", messages_config("") + attacks);
    let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let dir = sb.run_dirs()[0].clone();
    let (whole, merged) = unsharded_and_merged(&sb, &dir, 2);
    assert_eq!(String::from_utf8_lossy(&merged), String::from_utf8_lossy(&whole));
    let metrics: serde_json::Value = serde_json::from_slice(&merged).unwrap();
    assert!(metrics["attack_mean_queries"]["textbugger"]["0.2"].is_number(), "{metrics}");
}

/// `metrics.json` without what differs between two runs of one config:
/// wall times and the run id.
fn without_times(mut m: serde_json::Value) -> serde_json::Value {
    m["run"]["id"] = serde_json::Value::Null;
    for epoch in m["training"].as_array_mut().unwrap() {
        for key in ["seconds", "examples_per_second", "device_busy_share"] {
            epoch[key] = serde_json::Value::Null;
        }
    }
    m
}

fn image_config(sb: &Sandbox) -> String {
    sb.digits(300, 100, ImageLayout::ParquetBytes);
    let attacks = "[[eval.attacks]]\nname = \"fgsm\"\nepsilons = [0.05, 0.1]\nexamples = 40\n";
    let cfg =
        digits_config("digits/train.parquet", "digits/test.parquet", "").replace("epochs = 2", "epochs = 1");
    sb.write("c.toml", cfg + attacks).to_str().unwrap().to_owned()
}

#[test]
fn a_run_trained_with_eval_shards_is_completed_by_merge_as_one_process_would() {
    let sb = Sandbox::new();
    let cfg = image_config(&sb);
    let whole = sb.temper(&["train", "--config", &cfg, "--out", "whole", "--quiet"]);
    assert_eq!(whole.code, 0, "stderr: {}", whole.stderr);
    let trained = sb.temper(&["train", "--config", &cfg, "--out", "sharded", "--eval-shards", "3"]);
    assert_eq!(trained.code, 0, "stderr: {}", trained.stderr);
    assert!(trained.stdout.contains("waits for 3 shards"), "{}", trained.stdout);
    let dir = sb.run_dirs_under("sharded")[0].clone();
    assert_eq!(sb.json(&dir.join("manifest.json"))["status"], "evaluating");
    assert!(!dir.join("metrics.json").exists() && !dir.parent().unwrap().join("latest").exists());
    let resume = sb.temper(&["train", "--resume", dir.to_str().unwrap()]);
    assert_eq!(resume.code, 2);
    assert!(resume.stderr.contains("waits for its evaluation shards"), "{}", resume.stderr);

    // Eval jobs find the run by its config, as a scheduler's tasks must.
    for k in 0..2 {
        let shard =
            sb.temper(&["eval", "--of", &cfg, "--out", "sharded", "--shard", &format!("{k}/3"), "--quiet"]);
        assert_eq!(shard.code, 0, "shard {k}: {}", shard.stderr);
    }
    let list = sb.temper(&["runs", "list", "--root", "sharded"]);
    assert!(list.stdout.contains("| evaluating (2 of 3 shards) |"), "{}", list.stdout);
    let early = sb.temper(&["merge", "--of", &cfg, "--out", "sharded"]);
    assert_eq!(early.code, 2);
    assert!(early.stderr.contains("shard 2/3 is missing"), "{}", early.stderr);
    let last = sb.temper_with_env(
        &["eval", "--of", &cfg, "--out", "sharded", "--shard", "auto/3", "--quiet"],
        &[("JOB_COMPLETION_INDEX", "2")],
    );
    assert_eq!(last.code, 0, "stderr: {}", last.stderr);
    let merged = sb.temper(&["merge", "--of", &cfg, "--out", "sharded"]);
    assert_eq!(merged.code, 0, "stderr: {}", merged.stderr);

    assert_eq!(sb.json(&dir.join("manifest.json"))["status"], "completed");
    assert!(dir.parent().unwrap().join("latest").exists(), "a merged run becomes latest");
    let one = sb.json(&sb.run_dirs_under("whole")[0].join("metrics.json"));
    let merged = sb.json(&dir.join("metrics.json"));
    assert_eq!(without_times(merged.clone()), without_times(one), "merged against one process");
    assert_eq!(merged["corruption_accuracy"]["rotate"].as_object().unwrap().len(), 5);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains(">fgsm<br>") && html.contains(">rotate<br>"), "the gallery's rows: {html}");
    // Nothing is left waiting: a second merge finds no run to complete.
    let again = sb.temper(&["merge", "--of", &cfg, "--out", "sharded"]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("no run of this config waits"), "{}", again.stderr);
}

/// A stand-in for Slurm's `sbatch`: runs the `--wrap` command of each array
/// task in turn, in submission order (so dependencies hold), and prints a job id.
const FAKE_SBATCH: &str = r#"#!/bin/bash
array=""; wrap=""
for a in "$@"; do
  case "$a" in --array=*) array="${a#--array=}";; --wrap=*) wrap="${a#--wrap=}";; esac
done
echo "sbatch $*" >> sbatch.log
if [ -n "$array" ]; then
  for i in $(seq "${array%-*}" "${array#*-}"); do SLURM_ARRAY_TASK_ID=$i bash -c "$wrap" >&2 || exit 1; done
else
  bash -c "$wrap" >&2 || exit 1
fi
echo $((1000 + RANDOM))
"#;

#[test]
fn the_slurm_pipeline_script_trains_evaluates_in_shards_and_merges() {
    let sb = Sandbox::new();
    let cfg = image_config(&sb);
    let whole = sb.temper(&["train", "--config", &cfg, "--out", "whole", "--quiet"]);
    assert_eq!(whole.code, 0, "stderr: {}", whole.stderr);
    let jobs = sb.temper(&[
        "jobs",
        "--scheduler",
        "slurm",
        &cfg,
        "--out",
        "cluster",
        "--eval-shards",
        "2",
        "--cpus",
        "2",
    ]);
    assert_eq!(jobs.code, 0, "{}", jobs.stderr);
    let script = sb.write("submit.sh", &jobs.stdout);
    let bin = sb.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("sbatch"), FAKE_SBATCH).unwrap();
    std::fs::set_permissions(bin.join("sbatch"), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap();
    let temper_dir = std::path::Path::new(env!("CARGO_BIN_EXE_temper")).parent().unwrap();
    let path =
        format!("{}:{}:{}", bin.display(), temper_dir.display(), std::env::var("PATH").unwrap_or_default());
    let out = std::process::Command::new("bash")
        .arg(&script)
        .current_dir(sb.path())
        .env("PATH", path)
        .output()
        .unwrap();
    let log = std::fs::read_to_string(sb.path().join("sbatch.log")).unwrap_or_default();
    assert!(out.status.success(), "{}\n{log}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert!(lines[1].contains("--array=0-1") && lines[1].contains("--dependency=afterok:"), "{log}");
    assert!(lines[2].contains("--dependency=afterok:"), "{log}");
    let dir = sb.run_dirs_under("cluster")[0].clone();
    let one = sb.json(&sb.run_dirs_under("whole")[0].join("metrics.json"));
    assert_eq!(without_times(sb.json(&dir.join("metrics.json"))), without_times(one));

    let k8s = sb.temper(&[
        "jobs",
        "--scheduler",
        "kubernetes",
        &cfg,
        "--eval-shards",
        "2",
        "--image",
        "registry/temper:1",
    ]);
    assert_eq!(k8s.code, 0, "{}", k8s.stderr);
    assert_eq!(k8s.stdout.matches("kind: Job").count(), 3, "{}", k8s.stdout);
    assert!(
        k8s.stdout.contains("completions: 2") && k8s.stdout.contains("$JOB_COMPLETION_INDEX/2"),
        "{}",
        k8s.stdout
    );
}
