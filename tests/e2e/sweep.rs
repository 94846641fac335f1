//! Sweeps: a grid of configs in one file, each point an ordinary run picked
//! by index or by the scheduler's array index.

use crate::harness::{Sandbox, messages_config};

fn sweep(sb: &Sandbox) -> String {
    sb.messages(200, 60);
    let cfg = messages_config("").replace("epochs = 4", "epochs = 1")
        + "[sweep]\nseed = [1, 2]\n\"train.learning-rate\" = [0.01, 0.02]\n";
    sb.write("sweep.toml", cfg).to_str().unwrap().to_owned()
}

#[test]
fn each_point_of_a_sweep_runs_by_index_or_by_the_schedulers_array_index() {
    let sb = Sandbox::new();
    let cfg = sweep(&sb);
    let plan = sb.temper(&["sweep", "plan", &cfg]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let lines: Vec<&str> = plan.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{}", plan.stdout);
    assert_eq!(lines[3], "2\ttiny-messages-2\tseed=2 train.learning-rate=0.01");
    let validate = sb.temper(&["validate", &cfg]);
    assert_eq!(validate.code, 0, "{}", validate.stderr);
    assert!(validate.stdout.contains("a sweep of 4 runs"), "{}", validate.stdout);

    let whole = sb.temper(&["train", "--config", &cfg, "--quiet"]);
    assert_eq!(whole.code, 2);
    assert!(whole.stderr.contains("--sweep-index 0..3"), "{}", whole.stderr);
    let outside = sb.temper(&["train", "--config", &cfg, "--quiet", "--sweep-index", "4"]);
    assert!(outside.code == 2 && outside.stderr.contains("outside 0..3"), "{}", outside.stderr);

    let run = sb.temper(&["train", "--config", &cfg, "--quiet", "--sweep-index", "2"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let auto = sb.temper_with_env(
        &["train", "--config", &cfg, "--quiet", "--sweep-index", "auto"],
        &[("SLURM_ARRAY_TASK_ID", "3")],
    );
    assert_eq!(auto.code, 0, "{}", auto.stderr);
    let dirs = sb.run_dirs();
    let names: Vec<String> = dirs
        .iter()
        .map(|d| d.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["tiny-messages-2", "tiny-messages-3"]);
    let config = std::fs::read_to_string(dirs[0].join("config.toml")).unwrap();
    assert!(config.contains("seed = 2") && config.contains("learning-rate = 0.01"), "{config}");
    assert!(!config.contains("[sweep]"), "a point's run is an ordinary run: {config}");
    let m = sb.json(&dirs[1].join("metrics.json"));
    assert_eq!(m["run"]["name"], "tiny-messages-3");
}

#[test]
fn a_bad_value_in_a_sweep_names_its_point_and_key() {
    let sb = Sandbox::new();
    sb.messages(50, 20);
    let cfg = messages_config("") + "[sweep]\n\"train.epochs\" = [1, 0]\n";
    let cfg = sb.write("bad.toml", cfg);
    let out = sb.temper(&["validate", cfg.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("sweep point 1 (train.epochs=0)") && out.stderr.contains("train.epochs"),
        "{}",
        out.stderr
    );
    let plain = sb.write("plain.toml", messages_config(""));
    let out = sb.temper(&["train", "--config", plain.to_str().unwrap(), "--sweep-index", "0"]);
    assert!(out.code == 2 && out.stderr.contains("no [sweep]"), "{}", out.stderr);
}

/// Fails naming the first of `lines` that `text` lacks.
fn has_lines(text: &str, lines: &[&str]) {
    for line in lines {
        assert!(text.contains(line), "{line} not in {text}");
    }
}

#[test]
fn job_files_run_the_sweep_as_an_array_of_the_schedulers_own() {
    let sb = Sandbox::new();
    let cfg = sweep(&sb);
    let slurm = sb.temper(&["jobs", "--scheduler", "slurm", &cfg, "--cpus", "2", "--memory", "4G"]);
    assert_eq!(slurm.code, 0, "{}", slurm.stderr);
    has_lines(
        &slurm.stdout,
        &[
            "#SBATCH --job-name=tiny-messages",
            "#SBATCH --array=0-3",
            "#SBATCH --cpus-per-task=2",
            "#SBATCH --mem=4G",
        ],
    );
    assert!(
        slurm.stdout.contains("--sweep-index auto") && !slurm.stdout.contains("--gres"),
        "{}",
        slurm.stdout
    );
    // The script itself runs point 1 when Slurm says so.
    let script = sb.write("job.sh", &slurm.stdout);
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_temper")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = std::process::Command::new("bash")
        .arg(&script)
        .current_dir(sb.path())
        .env("PATH", path)
        .env("SLURM_ARRAY_TASK_ID", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dirs = sb.run_dirs();
    assert_eq!(dirs.len(), 1);
    assert!(dirs[0].parent().unwrap().ends_with("tiny-messages-1"), "{}", dirs[0].display());

    let k8s = sb.temper(&[
        "jobs",
        "--scheduler",
        "kubernetes",
        &cfg,
        "--image",
        "registry/temper:1",
        "--gpus",
        "1",
    ]);
    assert_eq!(k8s.code, 0, "{}", k8s.stderr);
    has_lines(
        &k8s.stdout,
        &[
            "completionMode: Indexed",
            "completions: 4",
            "image: \"registry/temper:1\"",
            "- \"auto\"",
            "nvidia.com/gpu: 1",
        ],
    );
    let no_image = sb.temper(&["jobs", "--scheduler", "kubernetes", &cfg]);
    assert!(no_image.code != 0 && no_image.stderr.contains("--image"), "{}", no_image.stderr);
    // What an Indexed Job's pod does: its index picks the point.
    let pod = sb.temper_with_env(
        &["train", "--config", &cfg, "--quiet", "--sweep-index", "auto"],
        &[("JOB_COMPLETION_INDEX", "0")],
    );
    assert_eq!(pod.code, 0, "{}", pod.stderr);
    assert!(sb.run_dirs().iter().any(|d| d.parent().unwrap().ends_with("tiny-messages-0")));
}
