//! `temper eval --run <dir> [--config <file>]`: re-evaluates a saved model.

use std::path::PathBuf;

use crate::eval::shard::Shard;
use crate::experiment;
use crate::progress::Progress;
use crate::report::pct;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run directory holding the model.
    #[arg(long, required_unless_present = "of")]
    run: Option<PathBuf>,
    #[command(flatten)]
    of: super::merge::Of,
    /// Evaluate on this config's test data and corruptions instead.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Run on this device instead of the one the run was trained on.
    #[arg(long)]
    device: Option<String>,
    /// Evaluate only shard K of N of the evaluation's cells (K from 0, or
    /// `auto` for the scheduler's array index), into
    /// `<run>/shards/shard-K-of-N.json`; `temper merge` combines them.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// No human output; JSON lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let progress = Progress::new(args.quiet);
    if args.shard.as_deref().is_some_and(|s| s.starts_with("auto/"))
        && args.of.sweep_index.as_deref() == Some("auto")
    {
        anyhow::bail!("--shard auto and --sweep-index auto cannot both take the one array index");
    }
    let run = args.of.resolve(args.run.as_deref())?;
    if let Some(value) = &args.shard {
        let shard = Shard::parse(value, || super::sweep::index("auto"))?;
        let done = experiment::evaluate_shard(
            &run,
            args.config.as_deref(),
            args.device.as_deref(),
            shard,
            &progress,
        )?;
        progress.event(&serde_json::json!({"event": "shard_evaluated", "shard": shard.to_string(),
            "cells": done.result.cells.len(), "path": done.path, "seconds": done.result.seconds}));
        if !args.quiet {
            println!("shard {shard}: {} cells evaluated", done.result.cells.len());
            println!("shard results: {}", done.path.display());
        }
        return Ok(());
    }
    let done = experiment::evaluate_saved(&run, args.config.as_deref(), args.device.as_deref(), &progress)?;
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
