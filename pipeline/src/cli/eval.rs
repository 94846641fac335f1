//! `temper eval --run <dir> [--config <file>]`: re-evaluates a saved model.

use std::path::PathBuf;

use crate::experiment;
use crate::progress::Progress;
use crate::report::pct;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run directory holding the model.
    #[arg(long)]
    run: PathBuf,
    /// Evaluate on this config's test data and corruptions instead.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Run on this device instead of the one the run was trained on.
    #[arg(long)]
    device: Option<String>,
    /// No human output; JSON lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let progress = Progress::new(args.quiet);
    let done =
        experiment::evaluate_saved(&args.run, args.config.as_deref(), args.device.as_deref(), &progress)?;
    let m = &done.metrics;
    progress.event(
        &serde_json::json!({"event": "evaluated", "metrics": done.path, "clean_accuracy": m.clean_accuracy}),
    );
    if !args.quiet {
        println!("clean accuracy {}", pct(m.clean_accuracy));
        if let Some(mc) = m.mean_corruption_accuracy {
            println!("mean corruption accuracy {}", pct(mc));
        }
        println!("metrics: {}", done.path.display());
    }
    Ok(())
}
