//! `temper sweep plan <config>`: the points of a config's `[sweep]`.

use std::path::PathBuf;

use crate::config;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the points of a config's sweep: index, run name, swept values.
    Plan {
        /// The config file.
        config: PathBuf,
    },
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    let Command::Plan { config } = cmd;
    let Some(points) = config::sweep_points(&config)? else {
        anyhow::bail!("{}: the config has no [sweep]", config.display());
    };
    println!("index\tname\tvalues");
    for p in &points {
        println!("{}\t{}\t{}", p.index, p.name, p.describe());
    }
    Ok(())
}

/// The `--sweep-index` value: a number, or `auto` for the array index the
/// scheduler gives the job (Slurm's `SLURM_ARRAY_TASK_ID`, Kubernetes'
/// `JOB_COMPLETION_INDEX` for Indexed Jobs).
pub fn index(value: &str) -> anyhow::Result<usize> {
    if value != "auto" {
        return value
            .parse()
            .map_err(|_| anyhow::anyhow!("--sweep-index must be a number or `auto`, not `{value}`"));
    }
    for var in ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"] {
        if let Ok(v) = std::env::var(var) {
            return v
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("--sweep-index auto: {var} is `{v}`, not an index"));
        }
    }
    anyhow::bail!("--sweep-index auto: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set")
}
