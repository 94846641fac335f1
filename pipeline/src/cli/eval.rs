//! `temper eval --run <dir> [--config <file>]`: re-evaluates a saved model.

use std::path::PathBuf;

use anyhow::{Context, bail};
use burn::module::Module;

use crate::attack::AttackTable;
use crate::experiment::{self, WEIGHTS};
use crate::model::{self, AnyModel, Classifier};
use crate::progress::Progress;
use crate::report::pct;
use crate::run::manifest::{self, Manifest};
use crate::run::metrics::{CorruptionTable, Metrics, RunInfo};
use crate::run::{self, RunDir};
use crate::{config, data, device, eval};

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
    let dir = RunDir::open(&args.run)?;
    let saved = config::load(&dir.file("config.toml"))?;
    let manifest: Manifest = read_json(&dir.file("manifest.json"))?;
    let classes: Vec<String> = read_json(&dir.file("classes.json"))?;
    let target = match &args.config {
        Some(path) => {
            let other = config::load(path)?;
            if other.data.modality != saved.data.modality {
                bail!(
                    "{}: the run's model is for {} data, the config's data is {}",
                    path.display(),
                    saved.data.modality.as_str(),
                    other.data.modality.as_str()
                );
            }
            other
        }
        None => saved.clone(),
    };
    let weights_path = dir.file(WEIGHTS);
    let bytes =
        std::fs::read(&weights_path).with_context(|| format!("reading {}", weights_path.display()))?;
    if let Some(expected) = &manifest.weights_sha256
        && manifest::sha256_bytes(&bytes) != *expected
    {
        bail!(
            "{}: SHA-256 does not match the manifest; the weights were changed after the run, refusing to load them",
            weights_path.display()
        );
    }
    let baseline = experiment::load_mce_baseline(&target)?;
    let device = device::select(args.device.as_deref().unwrap_or(&saved.device))?.device;
    let mut split = data::load(&target.data, target.seed)?;
    let table = target.data.source.tables().last().map(|p| p.to_path_buf()).unwrap_or_default();
    experiment::align_classes(&mut split, &classes, &table)?;
    let progress = Progress::new(args.quiet);
    let image_spec = saved.data.image;
    let (clean, corruption, attacks) = match model::build(&saved.model, &image_spec, classes.len(), &device) {
        AnyModel::Cnn(mut m) => {
            experiment::load_weights(&mut m, bytes, &weights_path)?;
            evaluate(m.valid(), &split, &target, &saved, &device, &progress)
        }
        AnyModel::Text(mut m) => {
            experiment::load_weights(&mut m, bytes, &weights_path)?;
            evaluate(m.valid(), &split, &target, &saved, &device, &progress)
        }
    };
    let info = RunInfo {
        name: saved.name.clone(),
        id: dir.id().to_owned(),
        modality: saved.data.modality.as_str().to_owned(),
        classes,
        train_examples: 0,
        test_examples: split.test.len(),
        skipped_rows: split.skipped.len(),
    };
    let metrics = Metrics::new(info, clean, corruption, &attacks, Vec::new(), baseline.as_ref());
    let evals = dir.path().join("evals");
    std::fs::create_dir_all(&evals).with_context(|| format!("creating {}", evals.display()))?;
    let out = evals.join(format!("{}.json", run::timestamp_id(std::time::SystemTime::now())));
    run::write_atomic(&out, &serde_json::to_vec_pretty(&metrics)?)?;
    progress.event(&serde_json::json!({"event": "evaluated", "metrics": out, "clean_accuracy": clean}));
    if !args.quiet {
        println!("clean accuracy {}", pct(metrics.clean_accuracy));
        if let Some(mc) = metrics.mean_corruption_accuracy {
            println!("mean corruption accuracy {}", pct(mc));
        }
        println!("metrics: {}", out.display());
    }
    Ok(())
}

fn evaluate<M: Classifier>(
    model: M,
    split: &data::Split,
    target: &config::Plan,
    saved: &config::Plan,
    device: &burn::prelude::Device,
    progress: &Progress,
) -> (f64, CorruptionTable, AttackTable) {
    let setup = eval::EvalSetup {
        eval: &target.eval,
        model: &saved.model,
        text: &target.data.text.context,
        seed: target.seed,
    };
    let (clean, table) = eval::evaluate(&model, &split.test, &setup, device, progress);
    let attacks = experiment::run_attacks(&model, &split.test, &setup, device, progress);
    (clean, table, attacks)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> anyhow::Result<T> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))
}
