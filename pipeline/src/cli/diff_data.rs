//! `temper diff-data <run-a> <run-b>`: rows added, removed and relabelled
//! between the datasets of two runs.

use std::path::PathBuf;

use crate::run::rows;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The earlier run.
    a: PathBuf,
    /// The later run.
    b: PathBuf,
    /// Print JSON instead of a summary.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let d = rows::diff(&args.a, &args.b)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(());
    }
    for split in ["train", "test"] {
        println!(
            "{split}: {} added, {} removed, {} label-changed",
            d.added.get(split).copied().unwrap_or(0),
            d.removed.get(split).copied().unwrap_or(0),
            d.label_changed.iter().filter(|c| c.0 == split).count()
        );
    }
    for (split, hash, old, new) in d.label_changed.iter().take(20) {
        println!("  {split} {hash}: {} -> {}", old.join("|"), new.join("|"));
    }
    if d.label_changed.len() > 20 {
        println!("  ... {} more (use --json)", d.label_changed.len() - 20);
    }
    Ok(())
}
