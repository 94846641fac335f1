//! The `temper` command line: one module per command. Arguments are parsed
//! here; the work lives in the library modules.

mod augment_text;
mod bench;
mod compare;
mod diff_data;
mod eval;
mod gallery;
mod jobs;
mod list;
mod merge;
mod runs;
mod sweep;
mod synth;
mod train;
mod validate;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Make classifiers robust: perturb, retrain, attack and report.
#[derive(Debug, Parser)]
#[command(name = "temper", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train a model from a config, evaluate it and write a run directory.
    Train(train::Args),
    /// Check a config and the data it names, without training.
    Validate {
        /// The config file.
        config: PathBuf,
    },
    /// Print the catalog of perturbations with their severity tables.
    List(list::Args),
    /// Re-evaluate a saved run's model, on its own or another config's test set.
    Eval(eval::Args),
    /// Combine the shards of a sharded evaluation (`temper eval --shard K/N`).
    Merge(merge::Args),
    /// Write the bundled default datasets (deterministic).
    Synth(synth::Args),
    /// Rows added, removed and relabelled between two runs' datasets.
    DiffData(diff_data::Args),
    /// Inspect run directories.
    #[command(subcommand)]
    Runs(runs::Command),
    /// Print a text perturbed by one operation.
    AugmentText(augment_text::Args),
    /// Compare runs side by side, with deltas and robustness gates.
    Compare(compare::Args),
    /// Write a contact sheet of image operations at severities 0..5.
    Gallery(gallery::Args),
    /// Training and PGD throughput of a config's image model per device.
    Bench(bench::Args),
    /// The points of a config's `[sweep]`.
    #[command(subcommand)]
    Sweep(sweep::Command),
    /// Write a Slurm array script or a Kubernetes Indexed Job for a config's runs.
    Jobs(jobs::Args),
}

impl Cli {
    /// Runs the chosen command.
    pub fn run(self) -> anyhow::Result<()> {
        // A bad TEMPER_DATA_THREADS is an error before any work starts.
        crate::pool::init()?;
        match self.command {
            Command::Train(args) => train::run(args),
            Command::Validate { config } => validate::run(&config),
            Command::List(args) => list::run(args),
            Command::Eval(args) => eval::run(args),
            Command::Merge(args) => merge::run(args),
            Command::Synth(args) => synth::run(args),
            Command::Runs(cmd) => runs::run(cmd),
            Command::Sweep(cmd) => sweep::run(cmd),
            Command::Jobs(args) => jobs::run(args),
            Command::DiffData(args) => diff_data::run(args),
            Command::AugmentText(args) => augment_text::run(args),
            Command::Compare(args) => compare::run(args),
            Command::Gallery(args) => gallery::run(args),
            Command::Bench(args) => bench::run(args),
        }
    }
}
