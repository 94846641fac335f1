//! `temper merge <run-dir>`: the shards of a sharded evaluation combined
//! into the metrics one unsharded evaluation writes.

use std::path::{Path, PathBuf};

use crate::report::pct;
use crate::{config, experiment};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run directory whose `shards/` to merge.
    #[arg(required_unless_present = "of")]
    run: Option<PathBuf>,
    #[command(flatten)]
    of: Of,
    /// No human output; JSON lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

/// A run named by its config instead of its directory: the newest run of
/// that config under `--out` that waits for its evaluation shards. What a
/// scheduler's eval and merge jobs use, as they cannot know the run id.
#[derive(Debug, clap::Args)]
pub struct Of {
    /// The config the run was trained from.
    #[arg(long, value_name = "CONFIG")]
    pub of: Option<PathBuf>,
    /// Root folder of run directories (with --of).
    #[arg(long, default_value = "runs", requires = "of")]
    pub out: PathBuf,
    /// The point of the config's `[sweep]` (with --of): an index or `auto`.
    #[arg(long, value_name = "N|auto", requires = "of")]
    pub sweep_index: Option<String>,
}

impl Of {
    /// The run directory: `run` when given, else the one `--of` names.
    pub fn resolve(&self, run: Option<&Path>) -> anyhow::Result<PathBuf> {
        match (run, &self.of) {
            (Some(dir), None) => Ok(dir.to_path_buf()),
            (None, Some(config)) => {
                let index = self.sweep_index.as_deref().map(super::sweep::index).transpose()?;
                let plan = config::load_point(config, &config::Overrides::default(), index)?;
                experiment::evaluating(&plan, &self.out)
            }
            (Some(_), Some(_)) => anyhow::bail!("give the run directory or --of <config>, not both"),
            (None, None) => anyhow::bail!("give the run directory or --of <config>"),
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let dir = args.of.resolve(args.run.as_deref())?;
    let progress = crate::progress::Progress::new(args.quiet);
    let merged = experiment::merge(&dir, &progress)?;
    let m = &merged.metrics;
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
