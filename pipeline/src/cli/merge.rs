//! `temper merge <run-dir>`: the shards of a sharded evaluation combined
//! into the metrics one unsharded evaluation writes.

use std::path::PathBuf;

use crate::experiment;
use crate::report::pct;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run directory whose `shards/` to merge.
    run: PathBuf,
    /// No human output; JSON lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let merged = experiment::merge(&args.run)?;
    let m = &merged.metrics;
    let progress = crate::progress::Progress::new(args.quiet);
    progress.event(&serde_json::json!({"event": "merged", "shards": merged.shards, "metrics": merged.path,
        "clean_accuracy": m.clean_accuracy}));
    if !args.quiet {
        println!("{} shards merged", merged.shards);
        println!("clean accuracy {}", pct(m.clean_accuracy));
        if let Some(mc) = m.mean_corruption_accuracy {
            println!("mean corruption accuracy {}", pct(mc));
        }
        println!("metrics: {}", merged.path.display());
    }
    Ok(())
}
