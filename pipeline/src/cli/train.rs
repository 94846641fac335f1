//! `temper train --config <file>`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::{config, experiment, progress::Progress, report::pct};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config file.
    #[arg(long, short, required_unless_present = "resume", conflicts_with = "resume")]
    config: Option<PathBuf>,
    /// Continue a killed or interrupted run from its last checkpoint.
    #[arg(long, value_name = "RUN_DIR")]
    resume: Option<PathBuf>,
    /// Override the config's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override `train.epochs`.
    #[arg(long)]
    epochs: Option<u64>,
    /// Root folder of run directories.
    #[arg(long, default_value = "runs")]
    out: PathBuf,
    /// Override the config's device (`cpu`, `auto`).
    #[arg(long)]
    device: Option<String>,
    /// No progress bars or human lines; JSON lines on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Which point of the config's `[sweep]` to run: an index, or `auto` for
    /// the scheduler's array index (`SLURM_ARRAY_TASK_ID`, `JOB_COMPLETION_INDEX`).
    #[arg(long, value_name = "N|auto", conflicts_with = "resume")]
    sweep_index: Option<String>,
    /// Resume the newest unfinished run of this exact config under --out
    /// instead of starting a new one, if there is one: a scheduler's
    /// automatic retry of a killed task continues its own run.
    #[arg(long, conflicts_with = "resume")]
    retry: bool,
    /// Leave the evaluation's cells to N `temper eval --shard K/N` jobs and
    /// `temper merge` (the run's manifest says `evaluating` until then).
    #[arg(long, value_name = "N", conflicts_with = "resume")]
    eval_shards: Option<usize>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    if let Some(warning) = stop_on_signal(&stop) {
        eprintln!("{warning}");
    }
    let progress = Progress::new(args.quiet);
    let outcome = match (&args.resume, &args.config) {
        (Some(dir), _) => {
            if args.seed.is_some() || args.epochs.is_some() || args.device.is_some() {
                anyhow::bail!(
                    "--resume continues a run exactly as configured; --seed, --epochs and --device cannot change it"
                );
            }
            experiment::resume(dir, &progress, &stop)?
        }
        (None, Some(config)) => start(&args, config, &progress, &stop)?,
        (None, None) => anyhow::bail!("give --config <file> or --resume <run-dir>"),
    };
    report(&outcome, &progress, args.quiet);
    Ok(())
}

/// SIGINT/SIGTERM set `stop`: training finishes the batch, checkpoints and
/// exits 3. When the handler cannot be installed, the warning to print.
fn stop_on_signal(stop: &Arc<AtomicBool>) -> Option<String> {
    let stop = Arc::clone(stop);
    ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst)).err().map(|e| {
        format!(
            "warning: cannot handle SIGINT/SIGTERM ({e}); a signal will end the run without a final \
             checkpoint, so a resume starts from the last periodic one"
        )
    })
}

fn start(
    args: &Args,
    config: &std::path::Path,
    progress: &Progress,
    stop: &AtomicBool,
) -> anyhow::Result<experiment::Outcome> {
    let overrides = config::Overrides { seed: args.seed, epochs: args.epochs, device: args.device.clone() };
    let index = args.sweep_index.as_deref().map(super::sweep::index).transpose()?;
    let plan = config::load_point(config, &overrides, index)?;
    if args.retry
        && let Some(dir) = experiment::unfinished(&plan, &args.out)?
    {
        progress.say(&format!("retry: resuming the unfinished run {}", dir.display()));
        return experiment::resume(&dir, progress, stop);
    }
    experiment::run(&plan, &args.out, progress, std::env::args().collect(), stop, args.eval_shards)
}

fn report(outcome: &experiment::Outcome, progress: &Progress, quiet: bool) {
    let Some(m) = &outcome.metrics else {
        let n = outcome.eval_shards.unwrap_or(1);
        progress.event(&serde_json::json!({"event": "trained", "run_dir": outcome.dir, "eval_shards": n}));
        if !quiet {
            println!("trained; the evaluation waits for {n} shards:");
            println!("  temper eval --run {} --shard K/{n}   (K = 0..{})", outcome.dir.display(), n - 1);
            println!("  temper merge {}", outcome.dir.display());
        }
        return;
    };
    progress.event(
        &serde_json::json!({"event": "finished", "run_dir": outcome.dir, "clean_accuracy": m.clean_accuracy,
        "mean_corruption_accuracy": m.mean_corruption_accuracy}),
    );
    if !quiet {
        println!("clean accuracy {}", pct(m.clean_accuracy));
        if let Some(mc) = m.mean_corruption_accuracy {
            println!("mean corruption accuracy {}", pct(mc));
        }
        println!("report: {}", outcome.dir.join("report.md").display());
        println!("html report: {}", outcome.dir.join("report.html").display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handler_that_cannot_be_installed_is_reported() {
        let stop = Arc::new(AtomicBool::new(false));
        // The first install may succeed or (another test's) fail; a second
        // one in the same process always fails, as ctrlc allows one handler.
        let _ = stop_on_signal(&stop);
        let warning = stop_on_signal(&stop).expect("a second handler is refused");
        assert!(warning.starts_with("warning: cannot handle SIGINT/SIGTERM"), "{warning}");
    }
}
