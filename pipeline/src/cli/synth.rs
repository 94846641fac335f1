//! `temper synth`: writes the bundled default datasets.

use std::path::PathBuf;

use crate::synth::{self, ImageLayout};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output folder; `digits/` and `messages/` are created inside.
    #[arg(long, default_value = "data/generated")]
    out: PathBuf,
    /// Generator seed.
    #[arg(long, default_value_t = 2024)]
    seed: u64,
    /// Training examples per dataset.
    #[arg(long, default_value_t = 12_000)]
    train: usize,
    /// Test examples per dataset.
    #[arg(long, default_value_t = 2_000)]
    test: usize,
    /// Image table layout: `parquet` (PNG bytes in a column) or `csv` (paths).
    #[arg(long, default_value = "parquet", value_parser = ["parquet", "csv"])]
    layout: String,
    /// Only one dataset.
    #[arg(long, value_parser = ["digits", "messages"])]
    only: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let layout = if args.layout == "csv" { ImageLayout::CsvPaths } else { ImageLayout::ParquetBytes };
    if args.only.as_deref() != Some("messages") {
        let (train, test) =
            synth::write_digits(&args.out.join("digits"), args.train, args.test, args.seed, layout)?;
        println!("digits: {} and {}", train.display(), test.display());
    }
    if args.only.as_deref() != Some("digits") {
        let (train, test) =
            synth::write_messages(&args.out.join("messages"), args.train, args.test, args.seed)?;
        println!("messages: {} and {}", train.display(), test.display());
    }
    Ok(())
}
