//! One run from a plan: load data, create the run directory, train,
//! save the weights, evaluate, write metrics and the report.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use burn::prelude::*;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use serde_json::json;

use crate::attack::{self, AttackPlan, AttackTable};
use crate::compare::{self, GateOutcome};
use crate::config::{self, Plan};
use crate::data::{self, DataError, Dataset, Split};
use crate::device;
use crate::eval;
use crate::exit::{GateFailed, Interrupted};
use crate::mce;
use crate::model::{self, AnyModel, Classifier};
use crate::progress::Progress;
use crate::report;
use crate::run::RunDir;
use crate::run::lock::RunLock;
use crate::run::manifest::{self, InputFile, Manifest, Versions};
use crate::run::metrics::{CorruptionTable, EpochMetrics, Metrics, RunInfo};
use crate::train::checkpoint::{self, CheckpointIndex, Checkpointer};
use crate::train::{self, Hooks, Session, TrainError, TrainState};
use burn::optim::ModuleOptimizer;
use std::sync::atomic::AtomicBool;

/// Weights file inside a run directory.
pub const WEIGHTS: &str = "model.safetensors";

/// What a finished run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The run directory.
    pub dir: PathBuf,
    /// Its metrics.
    pub metrics: Metrics,
}

/// Hashes every input table (and referenced image files) for the manifest,
/// and refuses tables whose digest differs from a pin in the config.
pub fn hash_inputs(plan: &Plan, split: &Split) -> anyhow::Result<Vec<InputFile>> {
    let inputs = plan
        .data
        .source
        .tables()
        .into_iter()
        .map(|p| {
            let (sha256, bytes) =
                manifest::sha256_file(p).with_context(|| format!("hashing {}", p.display()))?;
            let images_sha256 = split.image_digests.iter().find(|(f, _)| f == p).map(|(_, d)| d.clone());
            let path = std::path::absolute(p).unwrap_or_else(|_| p.clone()).display().to_string();
            Ok(InputFile { path, sha256, bytes, images_sha256 })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    for pin in &plan.data.pins {
        let actual = if pin.images {
            let found = split.image_digests.iter().find(|(f, _)| f == &pin.file).map(|(_, d)| d.clone());
            found.ok_or_else(|| {
                anyhow::anyhow!("`{}`: {} references no image files to digest", pin.key, pin.file.display())
            })?
        } else {
            manifest::sha256_file(&pin.file).with_context(|| format!("hashing {}", pin.file.display()))?.0
        };
        if actual != pin.sha256 {
            bail!(
                "{}: SHA-256 is {actual}, but the config pins {} (`{}`); refusing to start on changed data",
                pin.file.display(),
                pin.sha256,
                pin.key
            );
        }
    }
    Ok(inputs)
}

/// Trains and evaluates `plan`, writing `out_root/<name>/<run-id>/`.
///
/// Inputs are loaded and checked before the run directory exists, so bad
/// data leaves nothing behind; a failure after that marks the manifest
/// `failed` and keeps what was written.
pub fn run(
    plan: &Plan,
    out_root: &Path,
    progress: &Progress,
    command: Vec<String>,
    stop: &AtomicBool,
) -> anyhow::Result<Outcome> {
    let started_at = manifest::now();
    let baseline = load_mce_baseline(plan)?;
    let device::Selected { device, description: device_desc, .. } = device::select(&plan.device)?;
    progress.say(&format!("loading data for `{}` (device {device_desc})", plan.name));
    let split = data::load(&plan.data, plan.seed)?;
    let inputs = hash_inputs(plan, &split)?;
    let config_text = config::to_toml(plan).context("serialising the resolved config")?;
    let dir = RunDir::create(out_root, &plan.name)?;
    let _lock = RunLock::acquire(dir.path())?;
    let mut manifest = Manifest {
        schema_version: manifest::MANIFEST_SCHEMA,
        run_name: plan.name.clone(),
        run_id: dir.id().to_owned(),
        status: "running".to_owned(),
        error: None,
        started_at,
        finished_at: None,
        config_file: plan.source.display().to_string(),
        config_sha256: manifest::sha256_bytes(config_text.as_bytes()),
        seed: plan.seed,
        device_requested: plan.device.clone(),
        device: device_desc,
        inputs,
        weights_sha256: None,
        versions: Versions::current(),
        git_revision: manifest::git_revision(),
        host: manifest::host(),
        command,
    };
    dir.write_atomic("config.toml", config_text.as_bytes())?;
    dir.write_json("classes.json", &split.classes)?;
    if !split.skipped.is_empty() {
        let line = json!({"event": "skipped_rows", "run": dir.id(), "count": split.skipped.len(),
            "rows": split.skipped.iter().take(100).collect::<Vec<_>>()});
        dir.log(&line)?;
        progress.event(&line);
        progress
            .say(&format!("skipped {} bad rows (on-bad-row = \"skip\"); see log.jsonl", split.skipped.len()));
    }
    dir.write_atomic(crate::run::rows::ROWS, crate::run::rows::render(&split).as_bytes())?;
    dir.write_json("manifest.json", &manifest)?;
    progress.say(&format!("run directory: {}", dir.path().display()));
    let job = Job {
        plan,
        split: &split,
        dir: &dir,
        device: &device,
        progress,
        resume: None,
        stop,
        baseline: baseline.as_ref(),
    };
    finish(&job, &mut manifest)
}

/// Continues a killed or interrupted run from its last checkpoint, in the
/// same run directory, with the same data order and augmentation stream.
pub fn resume(run_dir: &Path, progress: &Progress, stop: &AtomicBool) -> anyhow::Result<Outcome> {
    let dir = RunDir::open(run_dir)?;
    let _lock = RunLock::acquire(dir.path())?;
    let manifest_path = dir.file("manifest.json");
    let mut manifest: Manifest = serde_json::from_slice(
        &std::fs::read(&manifest_path).with_context(|| format!("reading {}", manifest_path.display()))?,
    )
    .with_context(|| format!("parsing {}", manifest_path.display()))?;
    if manifest.status == "completed" {
        bail!("{}: the run already completed; nothing to resume", dir.path().display());
    }
    let index = checkpoint::latest(dir.path())?
        .ok_or_else(|| anyhow::anyhow!("{}: no checkpoint to resume from", dir.path().display()))?;
    let plan = config::load(&dir.file("config.toml"))?;
    let baseline = load_mce_baseline(&plan)?;
    let device::Selected { device, description: device_desc, .. } = device::select(&plan.device)?;
    let split = data::load(&plan.data, plan.seed)?;
    let inputs = hash_inputs(&plan, &split)?;
    for (now, then) in inputs.iter().zip(&manifest.inputs) {
        if now.sha256 != then.sha256 || now.images_sha256 != then.images_sha256 {
            bail!(
                "{}: the file changed since the run started (SHA-256 {} now, {} then); refusing to resume on different data",
                now.path,
                now.sha256,
                then.sha256
            );
        }
    }
    manifest.status = "running".to_owned();
    manifest.error = None;
    manifest.device = device_desc;
    dir.write_json("manifest.json", &manifest)?;
    let line =
        json!({"event": "resumed", "run": dir.id(), "epoch": index.state.epoch, "batch": index.state.batch});
    dir.log(&line)?;
    progress.event(&line);
    let job = Job {
        plan: &plan,
        split: &split,
        dir: &dir,
        device: &device,
        progress,
        resume: Some(&index),
        stop,
        baseline: baseline.as_ref(),
    };
    finish(&job, &mut manifest)
}

/// Everything one training job works with, fresh or resumed.
struct Job<'a> {
    plan: &'a Plan,
    split: &'a Split,
    dir: &'a RunDir,
    device: &'a Device,
    progress: &'a Progress,
    resume: Option<&'a CheckpointIndex>,
    stop: &'a AtomicBool,
    baseline: Option<&'a mce::Baseline>,
}

/// Reads the mCE baseline before any work starts, so a missing or broken
/// baseline stops the run up front instead of after training.
pub fn load_mce_baseline(plan: &Plan) -> anyhow::Result<Option<mce::Baseline>> {
    let Some(dir) = &plan.eval.mce_baseline else { return Ok(None) };
    let path = dir.join("metrics.json");
    let bytes = std::fs::read(&path).with_context(|| {
        format!("{}: eval.mce-baseline: reading {}", plan.source.display(), path.display())
    })?;
    let m: Metrics = serde_json::from_slice(&bytes).with_context(|| {
        format!("{}: eval.mce-baseline: parsing {}", plan.source.display(), path.display())
    })?;
    if m.corruption_accuracy.is_empty() {
        bail!(
            "{}: eval.mce-baseline: {} evaluated no corruptions, so it cannot normalise mCE",
            plan.source.display(),
            path.display()
        );
    }
    Ok(Some(mce::Baseline {
        label: format!("{} ({})", m.run.name, m.run.id),
        clean: m.clean_accuracy,
        table: m.corruption_accuracy,
    }))
}

/// Trains, evaluates and reports; records the outcome in the manifest.
fn finish(job: &Job, manifest: &mut Manifest) -> anyhow::Result<Outcome> {
    let Job { plan, dir, progress, .. } = *job;
    let result = train_and_report(job, manifest);
    if let Err(e) = &result {
        let interrupted =
            e.downcast_ref::<TrainError>().is_some_and(|t| matches!(t, TrainError::Interrupted { .. }));
        manifest.status = if interrupted { "interrupted" } else { "failed" }.to_owned();
        manifest.error = Some(format!("{e:#}"));
        manifest.finished_at = Some(manifest::now());
        let _ = dir.write_json("manifest.json", manifest);
        if interrupted {
            return Err(anyhow::Error::new(Interrupted(format!(
                "resume with `temper train --resume {}`",
                dir.path().display()
            ))));
        }
    }
    let metrics = result?;
    check_gate(plan, dir, progress)?;
    dir.mark_latest()?;
    Ok(Outcome { dir: dir.path().to_path_buf(), metrics })
}

/// Applies the config's gate against its baseline; the run stays written
/// either way, but a failing run does not become `latest`.
fn check_gate(plan: &Plan, dir: &RunDir, progress: &Progress) -> anyhow::Result<()> {
    let Some(gate) = &plan.gate else { return Ok(()) };
    let baseline = compare::load(&gate.baseline).context("gate.baseline")?;
    let run = compare::load(dir.path())?;
    let mut failures = Vec::new();
    for g in &gate.fail_if {
        let (passed, detail) = match g.check(&run, &baseline) {
            GateOutcome::Pass { delta } => (true, format!("{delta:+.2} points")),
            GateOutcome::Fail { delta } => (false, format!("{delta:+.2} points")),
            GateOutcome::Missing => (false, format!("metric `{}` is missing", g.metric)),
        };
        let line = json!({"event": "gate", "run": dir.id(), "gate": g.to_string(), "baseline": baseline.label,
            "passed": passed, "detail": detail});
        dir.log(&line)?;
        progress.event(&line);
        if !passed {
            failures.push(format!("`{g}` ({detail} against {})", baseline.label));
        }
    }
    if failures.is_empty() {
        progress.say(&format!("gate passed against {}", baseline.label));
        Ok(())
    } else {
        Err(GateFailed(failures.join("; ")).into())
    }
}

fn train_and_report(job: &Job, manifest: &mut Manifest) -> anyhow::Result<Metrics> {
    let Job { plan, split, dir, device, baseline, .. } = *job;
    device.seed(plan.seed);
    let autodiff = device.clone().autodiff();
    let built = model::build_seeded(&plan.model, &plan.data.image, split.classes.len(), plan.seed, &autodiff);
    let (clean, corruption, attacks, training, examples) = match built {
        AnyModel::Cnn(m) => train_eval(m, job, &autodiff, manifest)?,
        AnyModel::Text(m) => train_eval(m, job, &autodiff, manifest)?,
    };
    let info = RunInfo {
        name: plan.name.clone(),
        id: dir.id().to_owned(),
        modality: plan.data.modality.as_str().to_owned(),
        classes: split.classes.clone(),
        train_examples: split.train.len(),
        test_examples: split.test.len(),
        skipped_rows: split.skipped.len(),
    };
    let metrics = Metrics::new(info, clean, corruption, &attacks, training, baseline);
    dir.write_json("metrics.json", &metrics)?;
    manifest.status = "completed".to_owned();
    manifest.finished_at = Some(manifest::now());
    dir.write_atomic("report.md", report::markdown(&metrics, manifest).as_bytes())?;
    dir.write_atomic("report.html", report::html(&metrics, manifest, &examples).as_bytes())?;
    dir.write_json("manifest.json", manifest)?;
    Ok(metrics)
}

type Measured = (f64, CorruptionTable, AttackTable, Vec<EpochMetrics>, report::Examples);

/// Logs epochs and writes checkpoints for one run directory.
struct RunHooks<'a> {
    dir: &'a RunDir,
    progress: &'a Progress,
    checkpoints: Checkpointer,
}

impl<M: burn::module::Module> Hooks<M> for RunHooks<'_> {
    fn epoch_done(&mut self, m: &EpochMetrics) -> anyhow::Result<()> {
        let line = json!({"event": "epoch", "run": self.dir.id(), "epoch": m.epoch, "loss": m.loss,
            "accuracy": m.accuracy, "seconds": m.seconds, "examples_per_second": m.examples_per_second,
            "device_busy_share": m.device_busy_share});
        self.dir.log(&line)?;
        self.progress.event(&line);
        Ok(())
    }

    fn batch_done(&mut self, epoch: usize, batch: usize, loss: f32) -> anyhow::Result<()> {
        Ok(self.dir.log(&json!({"event": "batch", "epoch": epoch, "batch": batch, "loss": loss}))?)
    }

    fn checkpoint(&mut self, model: &M, optim: &ModuleOptimizer, state: &TrainState) -> anyhow::Result<()> {
        self.checkpoints.save(model, optim, state)?;
        let line =
            json!({"event": "checkpoint", "run": self.dir.id(), "epoch": state.epoch, "batch": state.batch});
        self.dir.log(&line)?;
        self.progress.event(&line);
        Ok(())
    }
}

fn train_eval<M: Classifier + ModuleSnapshot>(
    model: M,
    job: &Job,
    autodiff: &Device,
    manifest: &mut Manifest,
) -> anyhow::Result<Measured> {
    let Job { plan, split, dir, device, progress, resume, stop, .. } = *job;
    let optim = train::optimizer(&plan.train);
    let (model, optim, state) = match resume {
        Some(index) => {
            let (m, o) = checkpoint::restore(dir.path(), index, model, optim)?;
            progress.say(&format!(
                "resuming at epoch {}, batch {}",
                index.state.epoch + 1,
                index.state.batch
            ));
            (m, o, index.state.clone())
        }
        None => (model, optim, TrainState::default()),
    };
    let mut hooks = RunHooks { dir, progress, checkpoints: Checkpointer::new(dir.path(), resume)? };
    let session = Session {
        plan: &plan.train,
        model_plan: &plan.model,
        seed: plan.seed,
        device: autodiff,
        progress,
        stop,
    };
    let (trained, state) = train::fit(model, optim, state, &split.train, &session, &mut hooks)?;
    let eval_model = trained.valid().to_device(device);
    let bytes = save_weights(&eval_model)?;
    dir.write_atomic(WEIGHTS, &bytes)?;
    manifest.weights_sha256 = Some(manifest::sha256_bytes(&bytes));
    dir.write_json("manifest.json", manifest)?;
    let started = Instant::now();
    progress.say("evaluating");
    let setup = eval::EvalSetup {
        eval: &plan.eval,
        model: &plan.model,
        text: &plan.data.text.context,
        seed: plan.seed,
    };
    let (clean, table) = eval::evaluate(&eval_model, &split.test, &setup, device, progress);
    let line = json!({"event": "evaluated", "run": dir.id(), "clean_accuracy": clean,
        "mean_corruption_accuracy": Metrics::mean_of(&table), "seconds": started.elapsed().as_secs_f64()});
    dir.log(&line)?;
    progress.event(&line);
    let attacks = run_attacks(&eval_model, &split.test, &setup, device, progress);
    for (name, per) in &attacks {
        for (eps, r) in per {
            let line = json!({"event": "attacked", "run": dir.id(), "attack": name, "epsilon": eps,
                "accuracy": r.accuracy, "success_rate": r.success_rate, "mean_norm": r.mean_norm,
                "mean_queries": r.mean_queries, "examples": r.examples, "seconds": r.seconds});
            dir.log(&line)?;
            progress.event(&line);
        }
    }
    let examples = report::examples::gather(&eval_model, &split.test, &split.classes, &setup, device);
    Ok((clean, table, attacks, state.epochs, examples))
}

/// The configured attacks on an evaluation-mode `model`: white-box ones on
/// a frozen copy that still passes gradients to its input, black-box ones
/// on `model` itself.
pub fn run_attacks<M: Classifier>(
    model: &M,
    test: &Dataset,
    setup: &eval::EvalSetup,
    device: &Device,
    progress: &Progress,
) -> AttackTable {
    if setup.eval.attacks.is_empty() {
        return AttackTable::new();
    }
    progress.say("attacking");
    let (mut white, mut black) = (Vec::new(), Vec::new());
    for plan in &setup.eval.attacks {
        match plan {
            AttackPlan::WhiteBox(p) => white.push(p.clone()),
            AttackPlan::BlackBox(p) => black.push(p.clone()),
        }
    }
    let mut table = AttackTable::new();
    if !white.is_empty() {
        let frozen = model.clone().to_device(&device.clone().autodiff()).freeze();
        table.extend(attack::evaluate(&frozen, test, setup, &white, device, progress));
    }
    if !black.is_empty() {
        table.extend(attack::black_box::evaluate(model, test, setup, &black, device, progress));
    }
    table
}

/// Weights as safetensors bytes: plain tensors, nothing executable.
pub fn save_weights<M: ModuleSnapshot>(model: &M) -> anyhow::Result<Vec<u8>> {
    let mut store = SafetensorsStore::from_bytes(None);
    model.save_into(&mut store).map_err(|e| anyhow::anyhow!("saving weights: {e:?}"))?;
    store.get_bytes().map_err(|e| anyhow::anyhow!("saving weights: {e:?}"))
}

/// Loads weights into a freshly built model, refusing partial matches.
pub fn load_weights<M: ModuleSnapshot>(model: &mut M, bytes: Vec<u8>, file: &Path) -> anyhow::Result<()> {
    let result = model
        .load_from(&mut SafetensorsStore::from_bytes(Some(bytes)))
        .map_err(|e| anyhow::anyhow!("{}: cannot load weights: {e:?}", file.display()))?;
    if !result.missing.is_empty() || !result.errors.is_empty() {
        bail!(
            "{}: weights do not match the model in config.toml (missing: {:?}, errors: {:?})",
            file.display(),
            result.missing,
            result.errors
        );
    }
    Ok(())
}

/// Maps a split's test labels onto a saved run's class list.
pub fn align_classes(split: &mut Split, run_classes: &[String], file: &Path) -> Result<(), DataError> {
    let mut labels = Vec::with_capacity(split.test.labels.len());
    for (row, &l) in split.test.labels.iter().enumerate() {
        let name = &split.classes[l];
        let idx = run_classes.iter().position(|c| c == name).ok_or_else(|| DataError::UnseenLabel {
            file: file.to_path_buf(),
            row: row + 1,
            label: name.clone(),
            classes: run_classes.join(", "),
        })?;
        labels.push(idx);
    }
    split.test.labels = labels;
    split.classes = run_classes.to_vec();
    Ok(())
}
