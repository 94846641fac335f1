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
    /// Kubernetes: a PersistentVolumeClaim every pod mounts as the shared
    /// storage (at --mount-path, default the run root); configs and data
    /// must be visible in the pods too.
    #[arg(long, value_name = "CLAIM")]
    pvc: Option<String>,
    /// Kubernetes: where pods mount --pvc.
    #[arg(long, value_name = "PATH", requires = "pvc")]
    mount_path: Option<PathBuf>,
    /// Three stages instead of one: train (`--eval-shards N`), an array of
    /// N evaluation shards per run, then `temper merge`.
    #[arg(long, value_name = "N")]
    eval_shards: Option<usize>,
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
    if args.eval_shards == Some(0) {
        anyhow::bail!("--eval-shards must be at least 1");
    }
    let image = || {
        args.image.as_deref().ok_or_else(|| {
            anyhow::anyhow!("--image: a Kubernetes job needs the container image that runs temper")
        })
    };
    let text = match (args.scheduler, args.eval_shards) {
        (Scheduler::Slurm, None) => slurm(&name, tasks, &config, &out, &args),
        (Scheduler::Kubernetes, None) => kubernetes(&name, tasks, &config, &out, &args, image()?),
        (scheduler, Some(shards)) => {
            let p = Pipeline { name: &name, points: tasks, shards, config: &config, out: &out, args: &args };
            match scheduler {
                Scheduler::Slurm => p.slurm(),
                Scheduler::Kubernetes => p.kubernetes(image()?),
            }
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
    // Slurm opens the log before the script runs.
    let _ =
        writeln!(s, "# The run root must exist first: mkdir -p {}", shell_quote(&out.display().to_string()));
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
    let mut s = job_head(&job_name(name), tasks.unwrap_or(1));
    let _ = writeln!(s, "          image: {}", yaml(image));
    s.push_str("          command:\n");
    for a in command(config, out, tasks.is_some()) {
        let _ = writeln!(s, "            - {}", yaml(&a));
    }
    s.push_str(&job_resources(args, out));
    s
}

/// Train, evaluate in shards, merge: three stages, each an array job.
struct Pipeline<'a> {
    name: &'a str,
    /// The sweep's size; `None` for a plain config.
    points: Option<usize>,
    shards: usize,
    config: &'a Path,
    out: &'a Path,
    args: &'a Args,
}

impl Pipeline<'_> {
    /// The three stages: name, array size (`None`: a single task) and the
    /// shell command of one task, which reads its index from `index_var`.
    fn stages(&self, index_var: &str) -> [(String, Option<usize>, String); 3] {
        let config = shell_quote(&self.config.display().to_string());
        let out = shell_quote(&self.out.display().to_string());
        let n = self.shards;
        let sweep = self.points.is_some();
        let point = if sweep { " --sweep-index auto" } else { "" };
        let train = format!(
            "exec temper train --config {config}{point} --out {out} --retry --eval-shards {n} --quiet"
        );
        // Task i of the eval array: point i / N, shard i % N.
        let eval = if sweep {
            format!(
                "i=${index_var}; exec temper eval --of {config} --sweep-index $((i / {n})) --out {out} --shard $((i % {n}))/{n} --quiet"
            )
        } else {
            format!("exec temper eval --of {config} --out {out} --shard ${index_var}/{n} --quiet")
        };
        let merge = format!("exec temper merge --of {config}{point} --out {out} --quiet");
        let evals = self.points.unwrap_or(1) * n;
        [
            (format!("{}-train", self.name), self.points, train),
            (format!("{}-eval", self.name), Some(evals), eval),
            (format!("{}-merge", self.name), self.points, merge),
        ]
    }

    /// A bash script that submits the three stages with `sbatch`, each
    /// after the previous one succeeded (`--dependency=afterok`).
    fn slurm(&self) -> String {
        let a = self.args;
        let mut s = String::from("#!/bin/bash\n");
        let _ = writeln!(
            s,
            "# Temper on Slurm: train {}, evaluate in {} shard(s) per run, merge.\n# Submit with: bash <this file>",
            self.name, self.shards
        );
        s.push_str("set -euo pipefail\n");
        // Slurm opens each task's log before the task runs: its folder must exist.
        let _ = writeln!(s, "mkdir -p {}", shell_quote(&self.out.display().to_string()));
        let mut opts = format!("--cpus-per-task={} --mem={}", a.cpus, shell_quote(&a.memory));
        if a.gpus > 0 {
            let _ = write!(opts, " --gres=gpu:{}", a.gpus);
        }
        let mut previous: Option<&str> = None;
        for ((name, array, command), var) in
            self.stages("SLURM_ARRAY_TASK_ID").iter().zip(["train", "eval", "merge"])
        {
            let log = if array.is_some() { "slurm-%x-%A_%a.log" } else { "slurm-%x-%j.log" };
            let wrap = format!("export RAYON_NUM_THREADS={}; {command}", a.cpus);
            let _ = write!(s, "{var}=$(sbatch --parsable {opts} --job-name={}", shell_quote(name));
            if let Some(n) = array {
                let _ = write!(s, " --array=0-{}", n - 1);
            }
            if let Some(p) = previous {
                let _ = write!(s, " --dependency=afterok:${p}");
            }
            let _ = writeln!(
                s,
                " --output={} --wrap={})",
                shell_quote(&self.out.join(log).display().to_string()),
                shell_quote(&wrap)
            );
            previous = Some(var);
        }
        s.push_str("echo \"submitted: train $train, eval $eval, merge $merge\"\n");
        s
    }

    /// Three Indexed Jobs in one YAML stream. Kubernetes has no
    /// dependencies between Jobs: the header says how to apply them in turn.
    fn kubernetes(&self, image: &str) -> String {
        let a = self.args;
        let stages = self.stages("JOB_COMPLETION_INDEX");
        let names: Vec<String> = stages.iter().map(|(n, _, _)| job_name(n)).collect();
        let mut s = format!(
            "# Temper on Kubernetes: train {}, evaluate in {} shard(s) per run, merge.\n\
             # Apply one stage after the other, e.g. with yq:\n",
            self.name, self.shards
        );
        for (i, n) in names.iter().enumerate() {
            let _ = writeln!(
                s,
                "#   yq 'select(documentIndex == {i})' <this file> | kubectl apply -f - && kubectl wait --for=condition=complete --timeout=-1s job/{n}"
            );
        }
        for ((_, array, command), name) in stages.iter().zip(&names) {
            s.push_str("---\n");
            let n = array.unwrap_or(1);
            s.push_str(&job_head(name, n));
            let _ = writeln!(s, "          image: {}", yaml(image));
            s.push_str("          command:\n            - \"sh\"\n            - \"-c\"\n");
            let _ = writeln!(s, "            - {}", yaml(command));
            s.push_str(&job_resources(a, self.out));
        }
        s
    }
}

/// A Kubernetes object name: lower case, alphanumerics and `-`.
fn job_name(name: &str) -> String {
    name.to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-")
}

/// An Indexed Job's head, up to the container's image.
fn job_head(job: &str, n: usize) -> String {
    let mut s = String::new();
    s.push_str("apiVersion: batch/v1\nkind: Job\nmetadata:\n");
    let _ = writeln!(s, "  name: {}", yaml(job));
    s.push_str("spec:\n  completionMode: Indexed\n");
    let _ = writeln!(s, "  completions: {n}\n  parallelism: {n}\n  backoffLimit: {}", 3 * n);
    s.push_str(
        "  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: temper\n",
    );
    s
}

/// A container's environment, resources and shared volume (which ends
/// the pod spec).
fn job_resources(args: &Args, out: &Path) -> String {
    let mut s = String::from("          env:\n            - name: RAYON_NUM_THREADS\n");
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
    if let Some(claim) = &args.pvc {
        let at = args.mount_path.as_deref().unwrap_or(out);
        s.push_str("          volumeMounts:\n            - name: shared\n");
        let _ = writeln!(s, "              mountPath: {}", yaml(&at.display().to_string()));
        s.push_str("      volumes:\n        - name: shared\n          persistentVolumeClaim:\n");
        let _ = writeln!(s, "            claimName: {}", yaml(claim));
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
