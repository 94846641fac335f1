//! `temper jobs --scheduler slurm|kubernetes <config>`: a job file that runs
//! every point of a config's sweep (or the one run of a plain config) as an
//! array job of the cluster's own scheduler. Each task finds its point from
//! the array index (`--sweep-index auto`); the run root is the shared
//! storage the tasks write to. Nothing here talks to the scheduler.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::config;

/// Which scheduler's file to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scheduler {
    /// A Slurm batch script with `--array`.
    Slurm,
    /// A Kubernetes Indexed Job.
    Kubernetes,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config file (a sweep becomes an array of its points).
    config: PathBuf,
    /// The scheduler.
    #[arg(long)]
    scheduler: Scheduler,
    /// Root folder of run directories, on storage every task sees.
    #[arg(long, default_value = "runs")]
    out: PathBuf,
    /// CPU cores per task.
    #[arg(long, default_value_t = 4)]
    cpus: u32,
    /// Memory per task, as the scheduler writes it (`16G`, `16Gi`).
    #[arg(long, default_value = "16G")]
    memory: String,
    /// GPUs per task.
    #[arg(long, default_value_t = 0)]
    gpus: u32,
    /// Kubernetes: the container image that has `temper` on its PATH.
    #[arg(long)]
    image: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let points = config::sweep_points(&args.config)?;
    // Every point must resolve before anything is submitted.
    let (name, tasks) = match &points {
        Some(p) => {
            for point in p {
                config::parse_point(point, &args.config, &config::Overrides::default())?;
            }
            let base = p[0].name.trim_end_matches("-0").to_owned();
            (base, Some(p.len()))
        }
        None => (config::load(&args.config)?.name, None),
    };
    let config = std::path::absolute(&args.config)?;
    let out = std::path::absolute(&args.out)?;
    let text = match args.scheduler {
        Scheduler::Slurm => slurm(&name, tasks, &config, &out, &args),
        Scheduler::Kubernetes => {
            let image = args.image.as_deref().ok_or_else(|| {
                anyhow::anyhow!("--image: a Kubernetes job needs the container image that runs temper")
            })?;
            kubernetes(&name, tasks, &config, &out, &args, image)
        }
    };
    print!("{text}");
    Ok(())
}

/// The `temper train` command line of one task.
fn command(config: &Path, out: &Path, sweep: bool) -> Vec<String> {
    let mut c =
        vec!["temper".to_owned(), "train".to_owned(), "--config".to_owned(), config.display().to_string()];
    if sweep {
        c.extend(["--sweep-index".to_owned(), "auto".to_owned()]);
    }
    // A retried task resumes its own run.
    c.extend(["--out".to_owned(), out.display().to_string(), "--retry".to_owned(), "--quiet".to_owned()]);
    c
}

/// A Slurm batch script; `tasks` is the sweep's size.
pub fn slurm(name: &str, tasks: Option<usize>, config: &Path, out: &Path, args: &Args) -> String {
    let mut s = String::from("#!/bin/bash\n");
    let _ = writeln!(s, "#SBATCH --job-name={name}");
    if let Some(n) = tasks {
        let _ = writeln!(s, "#SBATCH --array=0-{}", n - 1);
    }
    let _ = writeln!(s, "#SBATCH --cpus-per-task={}", args.cpus);
    let _ = writeln!(s, "#SBATCH --mem={}", args.memory);
    if args.gpus > 0 {
        let _ = writeln!(s, "#SBATCH --gres=gpu:{}", args.gpus);
    }
    let log = if tasks.is_some() { "slurm-%A_%a.log" } else { "slurm-%j.log" };
    let _ = writeln!(s, "#SBATCH --output={}", out.join(log).display());
    s.push_str("set -euo pipefail\n");
    let _ = writeln!(s, "export RAYON_NUM_THREADS={}", args.cpus);
    let quoted: Vec<String> = command(config, out, tasks.is_some()).iter().map(|a| shell_quote(a)).collect();
    let _ = writeln!(s, "exec {}", quoted.join(" "));
    s
}

/// A Kubernetes Job in Indexed completion mode (one completion per point).
pub fn kubernetes(
    name: &str,
    tasks: Option<usize>,
    config: &Path,
    out: &Path,
    args: &Args,
    image: &str,
) -> String {
    let n = tasks.unwrap_or(1);
    let job = name.to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-");
    let mut s = String::new();
    s.push_str("apiVersion: batch/v1\nkind: Job\nmetadata:\n");
    let _ = writeln!(s, "  name: {}", yaml(&job));
    s.push_str("spec:\n  completionMode: Indexed\n");
    let _ = writeln!(s, "  completions: {n}\n  parallelism: {n}\n  backoffLimit: {}", 3 * n);
    s.push_str(
        "  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: temper\n",
    );
    let _ = writeln!(s, "          image: {}", yaml(image));
    s.push_str("          command:\n");
    for a in command(config, out, tasks.is_some()) {
        let _ = writeln!(s, "            - {}", yaml(&a));
    }
    s.push_str("          env:\n            - name: RAYON_NUM_THREADS\n");
    let _ = writeln!(s, "              value: {}", yaml(&args.cpus.to_string()));
    s.push_str("          resources:\n            requests:\n");
    let _ = writeln!(
        s,
        "              cpu: {}\n              memory: {}",
        yaml(&args.cpus.to_string()),
        yaml(&args.memory)
    );
    if args.gpus > 0 {
        let _ = writeln!(s, "            limits:\n              nvidia.com/gpu: {}", args.gpus);
    }
    s
}

/// A YAML scalar in double quotes.
fn yaml(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A word for bash: single-quoted unless plainly safe.
fn shell_quote(v: &str) -> String {
    if !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:".contains(c)) {
        v.to_owned()
    } else {
        format!("'{}'", v.replace('\'', "'\\''"))
    }
}
