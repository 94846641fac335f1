//! The one orchestrator: a run from a plan (load data, create the run
//! directory, train, save the weights, evaluate, write metrics and the
//! report), its resumption, and the re-evaluation of a saved run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, bail};
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use burn::store::ModuleSnapshot;
use serde_json::json;

use crate::attack::{self, AttackTable};
use crate::certify;
use crate::compare;
use crate::config::{self, CanaryPlan, DpBudget, Plan};
use crate::data::{self, Split, provenance};
use crate::device;
use crate::eval::shard::{self, Cell, Cells, Shard, ShardResult};
use crate::eval::{self, EvalSetup, examples::Examples};
use crate::exit::{GateFailed, Interrupted};
use crate::extraction;
use crate::hash::sha256_bytes;
use crate::mce::{self, Baseline};
use crate::model::lexicon::{LEXICON, Lexicon};
use crate::model::{self, AnyModel, Classifier, weights};
use crate::poison;
use crate::privacy::{self, canaries};
use crate::progress::Progress;
use crate::report;
use crate::run::RunDir;
use crate::run::lock::RunLock;
use crate::run::manifest::{self, Manifest, RunStatus, Versions};
use crate::run::metrics::{
    AttackMetrics, CanaryMetrics, CertifyMetrics, DpMetrics, EpochMetrics, ExtractionMetrics, MetricTable,
    Metrics, PoisonMetrics, PrivacyMetrics, RunInfo, ValidationMetrics,
};
use crate::train::checkpoint::{self, CheckpointIndex, Checkpointer};
use crate::train::dp::DpRun;
use crate::train::{self, Hooks, Session, TrainError, TrainState};

pub use crate::model::weights::WEIGHTS;
pub use shards::{Merged, evaluating, merge};

mod shards;

/// The rows `train.validation-share` held out of training.
pub const VALIDATION: &str = "validation.tsv";

/// What a finished run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The run directory.
    pub dir: PathBuf,
    /// Its metrics; `None` while its evaluation is left to shards.
    pub metrics: Option<Metrics>,
    /// Under `--eval-shards N`, N.
    pub eval_shards: Option<usize>,
}

/// Trains and evaluates `plan`, writing `out_root/<name>/<run-id>/`. With
/// `eval_shards`, the evaluation's cells are left to that many `temper eval
/// --shard K/N` jobs and `temper merge` (the run-level measurements, such
/// as privacy, are made here).
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
    eval_shards: Option<usize>,
) -> anyhow::Result<Outcome> {
    if eval_shards == Some(0) {
        bail!("--eval-shards must be at least 1");
    }
    let started_at = manifest::now();
    let baseline = Baseline::load(plan)?;
    let selected = select_device(&plan.device, progress)?;
    progress.say(&format!("loading data for `{}` (device {})", plan.name, selected.summary()));
    let device::Selected { device, description: device_desc, .. } = selected;
    let mut split = data::load(&plan.data, plan.seed)?;
    let inputs = provenance::hash_inputs(plan, &split)?;
    let mut held = hold_out(plan, &mut split);
    if let Some(p) = &plan.train.poison {
        poison::check(p, &split.train, &split.classes)?;
    }
    attack::check_classes(&plan.eval.attacks, split.classes.len())?;
    let query_tables = extraction::load_tables(&plan.eval.extraction, &plan.data)?;
    extraction::check(&plan.eval.extraction, &split.test, &query_tables)?;
    if let Some(p) = &plan.train.privacy {
        // Refused before a run directory exists: a target ε the schedule cannot meet.
        let planted = plan.train.canaries.as_ref().map_or(0, CanaryPlan::planted_rows);
        // The validation rows are never trained on (counted here before the
        // canaries join the table, which training's split sees: close enough
        // to refuse a target no noise can meet).
        let validation = plan
            .train
            .validation
            .as_ref()
            .map_or(0, |v| train::validation_split(&split.train.labels, v.share, plan.seed).1.len());
        DpRun::new(p, split.train.len() + planted - validation, plan.train.batch_size, plan.train.epochs)?;
    }
    let config_text = config::to_toml(plan).context("serialising the resolved config")?;
    let dir = RunDir::create(out_root, &plan.name)?;
    let _lock = RunLock::acquire(dir.path())?;
    let mut manifest = Manifest {
        schema_version: manifest::MANIFEST_SCHEMA,
        run_name: plan.name.clone(),
        run_id: dir.id().to_owned(),
        status: RunStatus::Running,
        error: None,
        started_at,
        finished_at: None,
        config_file: plan.source.display().to_string(),
        config_sha256: sha256_bytes(config_text.as_bytes()),
        seed: plan.seed,
        device_requested: plan.device.clone(),
        device: device_desc,
        inputs,
        corruption_tables: table_names(&plan.eval),
        eval_shards,
        weights_sha256: None,
        lexicon_sha256: None,
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
    // Applied after rows.tsv is written: poisoned rows and canaries are not the data as read.
    let poisoning = poison_rows(plan, &mut split)?;
    if let Some(p) = &poisoning {
        dir.write_atomic(poison::POISON, poison::render(p, &split.classes).as_bytes())?;
    }
    let filtered = filter_rows(plan, &mut split, poisoning.as_ref(), &device, &dir, progress, stop)?;
    if let Some((_, tsv)) = &filtered {
        dir.write_atomic(poison::filter::FILTER, tsv.as_bytes())?;
    }
    let canaries = plant_canaries(plan, &mut split);
    if let Some(c) = &canaries {
        dir.write_atomic(canaries::CANARIES, canaries::render(c, &split.classes).as_bytes())?;
    }
    if let Some(validation) = validation_rows(plan, &split, held.as_mut()) {
        dir.write_atomic(
            VALIDATION,
            crate::run::rows::render_rows(&split.train, &validation, &split.classes).as_bytes(),
        )?;
    }
    if let Some(h) = &held {
        dir.write_atomic(privacy::MEMBERSHIP, h.membership.render(&h.table, &split.classes).as_bytes())?;
    }
    dir.write_json("manifest.json", &manifest)?;
    progress.say(&format!("run directory: {}", dir.path().display()));
    let job = Job {
        plan,
        split: &split,
        held: held.as_ref(),
        poisoning: poisoning.as_ref(),
        filter: filtered.as_ref().map(|(f, _)| f),
        canaries: canaries.as_deref(),
        query_tables: &query_tables,
        dir: &dir,
        device: &device,
        progress,
        resume: None,
        stop,
        baseline: baseline.as_ref(),
    };
    finish(&job, &mut manifest)
}

/// Opens the device `name` asks for and tells the person running it what
/// they should know about it (a JSON event on stderr for log collectors, a
/// line on a terminal); the manifest's device description records the same.
fn select_device(name: &str, progress: &Progress) -> Result<device::Selected, device::DeviceError> {
    let selected = device::select(name)?;
    if let Some(warning) = &selected.warning {
        progress
            .event(&json!({"event": "device_warning", "device": selected.description, "warning": warning}));
        progress.say(&format!("warning: {warning}"));
    }
    Ok(selected)
}

/// Continues a killed or interrupted run from its last checkpoint, in the
/// same run directory, with the same data order and augmentation stream.
pub fn resume(run_dir: &Path, progress: &Progress, stop: &AtomicBool) -> anyhow::Result<Outcome> {
    let dir = RunDir::open(run_dir)?;
    let lock = RunLock::acquire(dir.path())?;
    if let Some(dead) = lock.previous() {
        // The OS released the lock of a killed run: resuming needs no person.
        let line = json!({"event": "lock_taken_over", "run": dir.id(), "pid": dead.pid, "host": dead.host,
            "since": dead.since});
        dir.log(&line)?;
        progress.event(&line);
    }
    let mut manifest: Manifest = dir.read_json("manifest.json")?;
    if manifest.status == RunStatus::Completed {
        bail!("{}: the run already completed; nothing to resume", dir.path().display());
    }
    if manifest.status == RunStatus::Evaluating {
        bail!(
            "{}: the run is trained and waits for its evaluation shards; run `temper eval --run {} --shard K/N` for the missing ones, then `temper merge {}`",
            dir.path().display(),
            dir.path().display(),
            dir.path().display()
        );
    }
    let index = checkpoint::latest(dir.path())?
        .ok_or_else(|| anyhow::anyhow!("{}: no checkpoint to resume from", dir.path().display()))?;
    let plan = config::load(&dir.file("config.toml"))?;
    let baseline = Baseline::load(&plan)?;
    let device::Selected { device, description: device_desc, .. } = select_device(&plan.device, progress)?;
    let mut split = data::load(&plan.data, plan.seed)?;
    let inputs = provenance::hash_inputs(&plan, &split)?;
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
    // The same rows as when the run started: the split depends on the seed and the table only.
    let mut held = hold_out(&plan, &mut split);
    let poisoning = poison_rows(&plan, &mut split)?;
    let filtered = filter_rows(&plan, &mut split, poisoning.as_ref(), &device, &dir, progress, stop)?;
    let canaries = plant_canaries(&plan, &mut split);
    validation_rows(&plan, &split, held.as_mut());
    let query_tables = extraction::load_tables(&plan.eval.extraction, &plan.data)?;
    manifest.status = RunStatus::Running;
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
        held: held.as_ref(),
        poisoning: poisoning.as_ref(),
        filter: filtered.as_ref().map(|(f, _)| f),
        canaries: canaries.as_deref(),
        query_tables: &query_tables,
        dir: &dir,
        device: &device,
        progress,
        resume: Some(&index),
        stop,
        baseline: baseline.as_ref(),
    };
    finish(&job, &mut manifest)
}

/// The newest run of `plan` under `out_root` that a retry should resume:
/// the same resolved config, not completed, with a checkpoint. What a
/// scheduler's automatic retry of a killed task needs to find.
pub fn unfinished(plan: &Plan, out_root: &Path) -> anyhow::Result<Option<PathBuf>> {
    Ok(runs_of(plan, out_root)?
        .into_iter()
        .find(|(dir, m)| {
            !matches!(m.status, RunStatus::Completed | RunStatus::Evaluating)
                && checkpoint::latest(dir).ok().flatten().is_some()
        })
        .map(|(dir, _)| dir))
}

/// The SHA-256 of `plan`'s resolved config, as manifests and shard files
/// record it.
fn config_sha256(plan: &Plan) -> anyhow::Result<String> {
    let text = config::to_toml(plan).context("serialising the resolved config")?;
    Ok(sha256_bytes(text.as_bytes()))
}

/// The run directories under `out_root` made from `plan`'s resolved config
/// (by SHA-256), newest first, with their manifests.
fn runs_of(plan: &Plan, out_root: &Path) -> anyhow::Result<Vec<(PathBuf, Manifest)>> {
    let sha = config_sha256(plan)?;
    let Ok(entries) = std::fs::read_dir(out_root.join(&plan.name)) else { return Ok(Vec::new()) };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n != crate::run::LATEST) && p.is_dir())
        .collect();
    dirs.sort();
    Ok(dirs
        .into_iter()
        .rev()
        .filter_map(|dir| {
            let m: Manifest = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).ok()?).ok()?;
            (m.config_sha256 == sha).then_some((dir, m))
        })
        .collect())
}

/// Everything one training job works with, fresh or resumed.
struct Job<'a> {
    plan: &'a Plan,
    split: &'a Split,
    held: Option<&'a Held>,
    poisoning: Option<&'a poison::Poisoning>,
    filter: Option<&'a poison::filter::Filtered>,
    canaries: Option<&'a [canaries::Canary]>,
    /// The extraction plans' query tables, in plan order.
    query_tables: &'a [Option<data::Dataset>],
    dir: &'a RunDir,
    device: &'a Device,
    progress: &'a Progress,
    resume: Option<&'a CheckpointIndex>,
    stop: &'a AtomicBool,
    baseline: Option<&'a Baseline>,
}

/// The training table as loaded and who in it is a member, when the plan
/// measures privacy; the split's training set is then the members only.
struct Held {
    table: data::Dataset,
    membership: privacy::Membership,
}

fn hold_out(plan: &Plan, split: &mut Split) -> Option<Held> {
    let p = plan.eval.privacy.as_ref()?;
    let membership = privacy::Membership::split(split.train.len(), p, plan.seed);
    // Moved out, not copied: the split keeps only the members.
    let empty = data::Dataset { inputs: data::Inputs::Texts(Vec::new()), labels: Vec::new() };
    let table = std::mem::replace(&mut split.train, empty);
    split.train = table.subset(&membership.members);
    Some(Held { table, membership })
}

/// Who a run of `plan` would hold out of training: the membership split
/// (its targets as the run draws them) and the validation rows.
pub struct HeldOut {
    /// Members and non-members, with the targets the attack measures.
    pub membership: Option<privacy::Membership>,
    /// Rows of the training set as trained on (the members, poisoned).
    pub validation: Option<Vec<usize>>,
}

/// [`HeldOut`] computed the way a run computes it (members, then poisoning,
/// then validation over what is left), for `temper validate`. The filter
/// is not run: it cannot drop rows beside a validation split or membership
/// inference (refused), and it needs a trained model.
pub fn held_out(plan: &Plan, mut split: Split) -> Result<HeldOut, poison::PoisonError> {
    let mut held = hold_out(plan, &mut split);
    poison_rows(plan, &mut split)?;
    let validation = validation_rows(plan, &split, held.as_mut());
    Ok(HeldOut { membership: held.map(|h| h.membership), validation })
}

/// The training rows (of `split.train`, as trained on) that training holds
/// out for validation, if it does; membership inference leaves them out of
/// its member targets, since they are never trained on.
fn validation_rows(plan: &Plan, split: &Split, held: Option<&mut Held>) -> Option<Vec<usize>> {
    let v = plan.train.validation.as_ref()?;
    let (_, validation) = train::validation_split(&split.train.labels, v.share, plan.seed);
    // The training rows are the members in table order, poisoned in place,
    // then canaries (no member); no filter dropped any (refused).
    if let (Some(h), Some(p)) = (held, &plan.eval.privacy) {
        let members = &h.membership.members;
        let rows: Vec<usize> = validation.iter().filter_map(|&i| members.get(i).copied()).collect();
        h.membership.hold_for_validation(&rows, p, plan.seed);
    }
    Some(validation)
}

/// Poisons the training set as the plan simulates (the same rows on
/// resume: they depend on the seed only).
fn poison_rows(plan: &Plan, split: &mut Split) -> Result<Option<poison::Poisoning>, poison::PoisonError> {
    let Some(p) = &plan.train.poison else { return Ok(None) };
    poison::apply(p, &mut split.train, &split.classes, plan.seed).map(Some)
}

/// Runs the plan's poison filter on the training set and, when the plan
/// says so, drops the flagged rows; with `filter.tsv`'s text. On resume it
/// runs again from the same seed, as reference models do.
fn filter_rows(
    plan: &Plan,
    split: &mut Split,
    poisoning: Option<&poison::Poisoning>,
    device: &Device,
    dir: &RunDir,
    progress: &Progress,
    stop: &AtomicBool,
) -> anyhow::Result<Option<(poison::filter::Filtered, String)>> {
    let Some(f) = &plan.train.filter else { return Ok(None) };
    let cx = poison::filter::Context { plan, classes: split.classes.len(), device, progress, stop };
    let simulated = match (&plan.train.poison, poisoning) {
        (Some(p), Some(done)) => Some(poison::filter::Simulated {
            plan: p,
            poisoning: done,
            test: &split.test,
            classes: &split.classes,
        }),
        _ => None,
    };
    let filtered = poison::filter::run(f, &split.train, simulated.as_ref(), &cx).map_err(|e| match e {
        // A signal while the scoring model trains stops the run as one during training does.
        poison::filter::FilterError::Train(t @ TrainError::Interrupted { .. }) => anyhow::Error::new(t),
        other => anyhow::Error::new(other),
    })?;
    let tsv = poison::filter::render(&filtered, &split.train.labels, &split.classes, poisoning);
    let line = json!({"event": "filter", "run": dir.id(), "flagged_rows": filtered.metrics.flagged_rows,
        "precision": filtered.metrics.precision, "recall": filtered.metrics.recall,
        "dropped": f.drop, "seconds": filtered.metrics.seconds});
    dir.log(&line)?;
    progress.event(&line);
    if f.drop {
        let flagged: std::collections::BTreeSet<usize> = filtered.flagged.iter().copied().collect();
        let kept: Vec<usize> = (0..split.train.len()).filter(|r| !flagged.contains(r)).collect();
        split.train = split.train.subset(&kept);
    }
    Ok(Some((filtered, tsv)))
}

/// Plants the plan's canaries in the training set (the same ones on resume:
/// they depend on the seed only).
fn plant_canaries(plan: &Plan, split: &mut Split) -> Option<Vec<canaries::Canary>> {
    let p = plan.train.canaries.as_ref()?;
    let made = canaries::make(p, &split.train, split.classes.len(), plan.seed);
    canaries::plant(&made, &mut split.train);
    Some(made)
}

/// Trains, evaluates and reports; records the outcome in the manifest.
fn finish(job: &Job, manifest: &mut Manifest) -> anyhow::Result<Outcome> {
    let Job { plan, dir, progress, .. } = *job;
    let result = train_and_report(job, manifest);
    if let Err(e) = &result {
        let interrupted =
            e.downcast_ref::<TrainError>().is_some_and(|t| matches!(t, TrainError::Interrupted { .. }));
        manifest.status = if interrupted { RunStatus::Interrupted } else { RunStatus::Failed };
        manifest.error = Some(format!("{e:#}"));
        manifest.finished_at = Some(manifest::now());
        // The error being reported matters more than a failed status write.
        let _ = dir.write_json("manifest.json", manifest);
        if interrupted {
            return Err(anyhow::Error::new(Interrupted(format!(
                "resume with `temper train --resume {}`",
                dir.path().display()
            ))));
        }
    }
    let Some(metrics) = result? else {
        return Ok(Outcome {
            dir: dir.path().to_path_buf(),
            metrics: None,
            eval_shards: manifest.eval_shards,
        });
    };
    check_gate(plan, dir, progress)?;
    dir.mark_latest()?;
    Ok(Outcome { dir: dir.path().to_path_buf(), metrics: Some(metrics), eval_shards: None })
}

/// Applies the config's gate against its baseline; the run stays written
/// either way, but a failing run does not become `latest`.
fn check_gate(plan: &Plan, dir: &RunDir, progress: &Progress) -> anyhow::Result<()> {
    let Some(gate) = &plan.gate else { return Ok(()) };
    let (baseline, verdicts) =
        compare::check_run(&gate.fail_if, dir.path(), &gate.baseline).context("gate.baseline")?;
    let mut failures = Vec::new();
    for v in verdicts {
        let line = json!({"event": "gate", "run": dir.id(), "gate": v.gate, "baseline": baseline.label,
            "passed": v.passed, "detail": v.detail});
        dir.log(&line)?;
        progress.event(&line);
        if !v.passed {
            failures.push(format!("`{}` ({} against {})", v.gate, v.detail, baseline.label));
        }
    }
    if failures.is_empty() {
        progress.say(&format!("gate passed against {}", baseline.label));
        Ok(())
    } else {
        Err(GateFailed(failures.join("; ")).into())
    }
}

/// The run's metrics and reports; `None` when its evaluation is left to
/// shards (then `shards/run.json` holds the rest for `temper merge`).
fn train_and_report(job: &Job, manifest: &mut Manifest) -> anyhow::Result<Option<Metrics>> {
    let Job { plan, split, dir, device, baseline, .. } = *job;
    device.seed(plan.seed);
    let autodiff = device.clone().autodiff();
    let built = model::build_seeded(&plan.model, &plan.data.image, split.classes.len(), plan.seed, &autodiff);
    let (measured, training, validation) = match built {
        AnyModel::Cnn(m) => train_eval(m, job, &autodiff, manifest)?,
        AnyModel::Text(m) => train_eval(m, job, &autodiff, manifest)?,
    };
    let info = RunInfo {
        name: plan.name.clone(),
        id: dir.id().to_owned(),
        modality: plan.data.modality.as_str().to_owned(),
        classes: split.classes.clone(),
        // Real rows only: planted canaries are not data.
        train_examples: split.train.len()
            - job.canaries.map_or(0, |c| c.iter().map(|c| c.repeats).sum::<usize>()),
        test_examples: split.test.len(),
        skipped_rows: split.skipped.len(),
    };
    let epochs = training.len();
    // DP-SGD sampled from the rows it trained on, without the validation rows.
    let trained_rows = split.train.len() - validation.as_ref().map_or(0, |v| v.rows);
    let parts = RunParts {
        run: info,
        training,
        dp: dp_metrics(plan, trained_rows, epochs)?,
        validation,
        filter: job.filter.map(|f| f.metrics.clone()),
        privacy: measured.privacy.clone(),
        canaries: measured.canaries.clone(),
        poison: measured.poison.clone(),
        extraction: measured.extraction.clone(),
    };
    if let Some(n) = manifest.eval_shards {
        let weights_sha256 = manifest.weights_sha256.clone().context("internal: weights not recorded")?;
        shards::write_parts(
            dir,
            &shards::Pending { schema_version: shard::SHARD_SCHEMA, shards: n, weights_sha256, parts },
        )?;
        manifest.status = RunStatus::Evaluating;
        dir.write_json("manifest.json", manifest)?;
        return Ok(None);
    }
    let metrics = parts.metrics(measured.evaluation()?, baseline);
    write_completed(dir, manifest, &metrics, &measured.examples)?;
    Ok(Some(metrics))
}

/// Writes a finished run's metrics, reports and `completed` manifest.
fn write_completed(
    dir: &RunDir,
    manifest: &mut Manifest,
    metrics: &Metrics,
    examples: &Examples,
) -> anyhow::Result<()> {
    dir.write_json("metrics.json", metrics)?;
    manifest.status = RunStatus::Completed;
    manifest.finished_at = Some(manifest::now());
    dir.write_atomic("report.md", report::markdown(metrics, manifest, examples).as_bytes())?;
    dir.write_atomic("report.html", report::html(metrics, manifest, examples).as_bytes())?;
    dir.write_json("manifest.json", manifest)?;
    Ok(())
}

/// DP-SGD's guarantee after `epochs` epochs on `rows` training rows
/// (canaries included: they are trained on like any row; validation rows
/// not). Every epoch trained counts, also after the one a validation split
/// keeps: the choice among them read every one.
fn dp_metrics(plan: &Plan, rows: usize, epochs: usize) -> anyhow::Result<Option<DpMetrics>> {
    let Some(p) = &plan.train.privacy else { return Ok(None) };
    let run = DpRun::new(p, rows, plan.train.batch_size, plan.train.epochs)?;
    Ok(Some(DpMetrics {
        epsilon: run.epsilon_after(epochs),
        delta: run.delta,
        target_epsilon: match p.budget {
            DpBudget::Epsilon(e) => Some(e),
            DpBudget::NoiseMultiplier(_) => None,
        },
        noise_multiplier: run.noise_multiplier,
        max_grad_norm: run.max_grad_norm,
        sample_rate: run.sample_rate,
        steps: epochs * run.steps_per_epoch,
    }))
}

/// The table of each corruption, by name, as metrics and manifests hold it.
fn table_names(eval: &crate::config::EvalPlan) -> BTreeMap<String, String> {
    eval.tables.iter().map(|(op, t)| ((*op).to_owned(), t.name().to_owned())).collect()
}

/// What evaluating one model measured.
struct Measured {
    /// `None` when a shard's cells do not include it.
    clean: Option<f64>,
    tables: BTreeMap<String, String>,
    corruption: MetricTable,
    attacks: AttackTable,
    examples: Examples,
    certification: BTreeMap<String, CertifyMetrics>,
    privacy: Option<PrivacyMetrics>,
    canaries: Option<CanaryMetrics>,
    poison: Option<PoisonMetrics>,
    extraction: Option<ExtractionMetrics>,
}

impl Measured {
    /// The evaluation cells' numbers; every cell must have run.
    fn evaluation(&self) -> anyhow::Result<Evaluation> {
        Ok(Evaluation {
            clean: self.clean.context("internal: metrics of an evaluation without its clean cell")?,
            corruption: self.corruption.clone(),
            attacks: attack::tables(&self.attacks),
            tables: self.tables.clone(),
            certification: self.certification.clone(),
        })
    }
}

/// Everything in a run's metrics but the evaluation cells: what training
/// and the run-level measurements (privacy, canaries, poisoning,
/// extraction) produced. A sharded run keeps it in `shards/run.json` until
/// `temper merge`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct RunParts {
    run: RunInfo,
    training: Vec<EpochMetrics>,
    validation: Option<ValidationMetrics>,
    dp: Option<DpMetrics>,
    filter: Option<crate::run::metrics::FilterMetrics>,
    privacy: Option<PrivacyMetrics>,
    canaries: Option<CanaryMetrics>,
    poison: Option<PoisonMetrics>,
    extraction: Option<ExtractionMetrics>,
}

impl RunParts {
    /// A re-evaluation's: the run and test set only.
    fn of_evaluation(run: RunInfo) -> RunParts {
        RunParts {
            run,
            training: Vec::new(),
            validation: None,
            dp: None,
            filter: None,
            privacy: None,
            canaries: None,
            poison: None,
            extraction: None,
        }
    }

    /// The metrics, one process's or merged from shards alike.
    fn metrics(self, evaluation: Evaluation, baseline: Option<&Baseline>) -> Metrics {
        let mut metrics = evaluation.metrics(self.run, self.training);
        metrics.validation = self.validation;
        metrics.dp = self.dp;
        metrics.filter = self.filter;
        metrics.privacy = self.privacy;
        metrics.canaries = self.canaries;
        metrics.poison = self.poison;
        metrics.extraction = self.extraction;
        if let Some(base) = baseline {
            mce::apply(&mut metrics, base);
        }
        metrics
    }
}

/// The evaluation cells' numbers, from one process or merged from shards.
struct Evaluation {
    clean: f64,
    corruption: MetricTable,
    attacks: AttackMetrics,
    tables: BTreeMap<String, String>,
    certification: BTreeMap<String, CertifyMetrics>,
}

impl Evaluation {
    fn metrics(self, info: RunInfo, training: Vec<EpochMetrics>) -> Metrics {
        let worst = attack::worst_case(&self.attacks.rows_correct);
        let mut metrics = Metrics::new(info, self.clean, self.corruption, self.attacks, training);
        metrics.attack_worst_case_accuracy = worst;
        metrics.corruption_table = self.tables;
        metrics.certification = self.certification;
        metrics
    }
}

/// Logs epochs and writes checkpoints for one run directory.
struct RunHooks<'a> {
    dir: &'a RunDir,
    progress: &'a Progress,
    checkpoints: Checkpointer,
}

impl<M: burn::module::Module> Hooks<M> for RunHooks<'_> {
    fn epoch_done(&mut self, m: &EpochMetrics) -> anyhow::Result<()> {
        let mut line = json!({"event": "epoch", "run": self.dir.id(), "epoch": m.epoch, "loss": m.loss,
            "accuracy": m.accuracy, "seconds": m.seconds, "examples_per_second": m.examples_per_second,
            "device_busy_share": m.device_busy_share});
        if let Some(eps) = m.epsilon {
            line["epsilon"] = json!(eps);
        }
        self.dir.log(&line)?;
        self.progress.event(&line);
        Ok(())
    }

    fn batch_done(&mut self, epoch: usize, batch: usize, loss: f32) -> anyhow::Result<()> {
        Ok(self.dir.log(&json!({"event": "batch", "epoch": epoch, "batch": batch, "loss": loss}))?)
    }

    fn gpu_warmed_up(&mut self, seconds: f64) -> anyhow::Result<()> {
        let line = json!({"event": "gpu_warm_up", "run": self.dir.id(), "seconds": seconds});
        self.dir.log(&line)?;
        self.progress.event(&line);
        self.progress.say(&format!(
            "first batch on the GPU: {seconds:.1}s (its kernels compiled and autotuned; later runs read them from the kernel cache)"
        ));
        Ok(())
    }

    fn save_best(&mut self, model: &M) -> anyhow::Result<()> {
        self.checkpoints.save_best(model)
    }

    fn load_best(&mut self, model: M) -> anyhow::Result<M> {
        checkpoint::load_best(self.dir.path(), model)
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
) -> anyhow::Result<(Measured, Vec<EpochMetrics>, Option<ValidationMetrics>)> {
    let Job { plan, split, dir, device, progress, resume, stop, .. } = *job;
    let optim = train::optimizer(&plan.train);
    let (model, optim, state) = match resume {
        Some(index) => {
            let (m, o) = checkpoint::restore(dir.path(), index, model, optim, device)?;
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
        soft_targets: None,
    };
    let (trained, state) = train::fit(model, optim, state, &split.train, &session, &mut hooks)?;
    let eval_model = trained.valid().to_device(device);
    let bytes = weights::save(&eval_model)?;
    dir.write_atomic(WEIGHTS, &bytes)?;
    manifest.weights_sha256 = Some(sha256_bytes(&bytes));
    if let Some(lexicon) = eval_model.lexicon() {
        let text = lexicon.to_text();
        dir.write_atomic(LEXICON, text.as_bytes())?;
        manifest.lexicon_sha256 = Some(sha256_bytes(text.as_bytes()));
    }
    dir.write_json("manifest.json", manifest)?;
    let setup =
        EvalSetup { eval: &plan.eval, model: &plan.model, text: &plan.data.text.context, seed: plan.seed };
    // A sharded run's cells are left to `temper eval --shard` jobs.
    let cells = match manifest.eval_shards {
        Some(_) => Cells::Only(Default::default()),
        None => Cells::All,
    };
    let mut measured = measure(&eval_model, split, &setup, device, progress, Some(dir), &cells)?;
    if let (Some(p), Some(held)) = (&plan.eval.privacy, job.held) {
        progress.say("privacy: membership inference");
        let cx = privacy::Context {
            plan,
            table: &held.table,
            membership: &held.membership,
            classes: split.classes.len(),
            device,
            progress,
            stop,
        };
        let metrics = privacy::evaluate(&eval_model, p, &cx).map_err(|e| match e {
            // A signal during reference training stops the run as one during training does.
            privacy::PrivacyError::Reference { source: t @ TrainError::Interrupted { .. }, .. } => {
                anyhow::Error::new(t)
            }
            other => anyhow::Error::new(other),
        })?;
        let line = json!({"event": "privacy", "run": dir.id(), "mia_auc": metrics.mia_auc,
            "mia_tpr_at_01pct_fpr": metrics.mia_tpr_at_01pct_fpr, "seconds": metrics.seconds,
            "attacks": metrics.attacks});
        dir.log(&line)?;
        progress.event(&line);
        measured.privacy = Some(metrics);
    }
    if let (Some(p), Some(planted)) = (&plan.train.canaries, job.canaries) {
        let started = Instant::now();
        let probe = canaries::Probe { setup: &setup, device, classes: split.classes.len(), seed: plan.seed };
        let metrics = canaries::evaluate(&eval_model, planted, p, &split.train, &probe)?;
        let line = json!({"event": "canaries", "run": dir.id(), "recall": metrics.recall,
            "exposure": metrics.exposure, "chance": metrics.chance, "seconds": started.elapsed().as_secs_f64()});
        dir.log(&line)?;
        progress.event(&line);
        measured.canaries = Some(metrics);
    }
    if let (Some(p), Some(poisoning)) = (&plan.train.poison, job.poisoning) {
        let started = Instant::now();
        let metrics =
            poison::evaluate(&eval_model, p, poisoning, &split.test, &split.classes, &setup, device)?;
        let group = poison::example_group(&eval_model, p, &split.test, &split.classes, &setup, device)?;
        measured.examples.groups.extend(group);
        let line = json!({"event": "poison", "run": dir.id(), "attack": metrics.attack,
            "poisoned_rows": metrics.poisoned_rows, "attack_success_rate": metrics.attack_success_rate,
            "seconds": started.elapsed().as_secs_f64()});
        dir.log(&line)?;
        progress.event(&line);
        measured.poison = Some(metrics);
    }
    if !plan.eval.extraction.is_empty() {
        let cx = extraction::Context {
            plan,
            test: &split.test,
            tables: job.query_tables,
            classes: split.classes.len(),
            device,
            progress,
            stop,
        };
        let metrics = extraction::evaluate(&eval_model, &plan.eval.extraction, &cx).map_err(|e| match e {
            // A signal while a surrogate trains stops the run as one during training does.
            extraction::ExtractionError::Surrogate { source: t @ TrainError::Interrupted { .. }, .. } => {
                anyhow::Error::new(t)
            }
            other => anyhow::Error::new(other),
        })?;
        let line = json!({"event": "extraction", "run": dir.id(), "max_fidelity": metrics.max_fidelity,
            "seconds": metrics.seconds, "apis": metrics.apis});
        dir.log(&line)?;
        progress.event(&line);
        measured.extraction = Some(metrics);
    }
    let validation = match (&plan.train.validation, state.best) {
        (Some(v), Some(best)) => Some({
            let rows = train::validation_split(&split.train.labels, v.share, plan.seed).1.len();
            ValidationMetrics {
                rows,
                best_epoch: best.epoch,
                accuracy: best.accuracy,
                loss: best.loss,
                robust_accuracy: best.robust_accuracy,
                robust_rows: v.robust.as_ref().map(|_| train::attacked_rows(rows, v.robust_examples).len()),
                epochs_trained: state.epochs.len(),
                stopped_early: state.stopped_early,
            }
        }),
        _ => None,
    };
    Ok((measured, state.epochs, validation))
}

/// Evaluates an evaluation-mode model's `cells`: clean and corrupted test
/// sets and the attacks. For a run (`log` given) each step is logged and
/// the report's examples are gathered; a re-evaluation writes metrics only.
fn measure<M: Classifier>(
    model: &M,
    split: &Split,
    setup: &EvalSetup,
    device: &Device,
    progress: &Progress,
    log: Option<&RunDir>,
    cells: &Cells,
) -> anyhow::Result<Measured> {
    let emit = |line: serde_json::Value| -> anyhow::Result<()> {
        if let Some(dir) = log {
            dir.log(&line)?;
            progress.event(&line);
        }
        Ok(())
    };
    let run_id = log.map(|d| d.id().to_owned());
    let started = Instant::now();
    progress.say("evaluating");
    let (clean, corruption) = eval::evaluate(model, &split.test, setup, device, progress, cells)?;
    emit(json!({"event": "evaluated", "run": run_id, "clean_accuracy": clean,
        "mean_corruption_accuracy": Metrics::mean_of(&corruption), "seconds": started.elapsed().as_secs_f64()}))?;
    let attacks = eval::attacks(model, &split.test, setup, device, progress, cells)?;
    for (name, per) in &attacks {
        for (eps, r) in per {
            emit(json!({"event": "attacked", "run": run_id, "attack": name, "epsilon": eps,
                "accuracy": r.accuracy, "success_rate": r.success_rate, "mean_norm": r.mean_norm,
                "mean_queries": r.mean_queries, "examples": r.examples, "seconds": r.seconds}))?;
        }
    }
    let mut certification = BTreeMap::new();
    for (sigma, c, seconds) in
        certify::evaluate(model, &split.test, setup, device, progress, &|s| cells.has(&Cell::certify(s)))?
    {
        emit(json!({"event": "certified", "run": run_id, "sigma": sigma, "accuracy": c.accuracy,
            "abstain_rate": c.abstain_rate, "mean_radius": c.mean_radius, "examples": c.examples,
            "seconds": seconds}))?;
        certification.insert(sigma, c);
    }
    // A sharded run's examples are gathered at `temper merge`.
    let examples = match log {
        Some(_) if *cells == Cells::All => {
            eval::examples::gather(model, &split.test, &split.classes, setup, device)?
        }
        _ => Examples::default(),
    };
    Ok(Measured {
        clean,
        tables: table_names(setup.eval),
        corruption,
        attacks,
        examples,
        certification,
        privacy: None,
        canaries: None,
        poison: None,
        extraction: None,
    })
}

/// A run's word-recognition lexicon, refused unless its SHA-256 is the
/// manifest's: it changes what the weights read.
fn saved_lexicon(dir: &RunDir, manifest: &Manifest) -> anyhow::Result<Lexicon> {
    let path = dir.file(LEXICON);
    let bytes = std::fs::read(&path).with_context(|| {
        format!("reading {} (the model recognises words with the training rows' lexicon)", path.display())
    })?;
    match &manifest.lexicon_sha256 {
        Some(expected) if sha256_bytes(&bytes) == *expected => {}
        Some(_) => bail!(
            "{}: SHA-256 does not match the manifest; the lexicon was changed after the run, refusing to load it",
            path.display()
        ),
        None => {
            bail!("{}: the manifest records no lexicon for this run, refusing to load it", path.display())
        }
    }
    let text = String::from_utf8(bytes).with_context(|| format!("{}: not UTF-8", path.display()))?;
    Lexicon::from_text(&text).with_context(|| path.display().to_string())
}

/// What [`evaluate_saved`] wrote.
#[derive(Debug)]
pub struct Evaluated {
    /// `<run>/evals/<time>.json`.
    pub path: PathBuf,
    /// Its metrics.
    pub metrics: Metrics,
}

/// A saved run's model with the test set and plan it is evaluated on.
struct Saved {
    dir: RunDir,
    /// The run's own config (its model).
    saved: Plan,
    /// The config evaluated: the run's, or the one given.
    target: Plan,
    classes: Vec<String>,
    weights_sha256: String,
    model: AnyModel,
    baseline: Option<Baseline>,
    device: Device,
    split: Split,
}

impl Saved {
    /// Opens `run_dir`'s model (its SHA-256 checked against the manifest)
    /// and the test set of `config` (default: the run's), on `device`
    /// (default: the run's).
    fn open(
        run_dir: &Path,
        config: Option<&Path>,
        device: Option<&str>,
        progress: &Progress,
    ) -> anyhow::Result<Saved> {
        let dir = RunDir::open(run_dir)?;
        let saved = config::load(&dir.file("config.toml"))?;
        let manifest: Manifest = dir.read_json("manifest.json")?;
        let classes: Vec<String> = dir.read_json("classes.json")?;
        let target = match config {
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
        let weights_sha256 = sha256_bytes(&bytes);
        if let Some(expected) = &manifest.weights_sha256
            && weights_sha256 != *expected
        {
            bail!(
                "{}: SHA-256 does not match the manifest; the weights were changed after the run, refusing to load them",
                weights_path.display()
            );
        }
        let baseline = Baseline::load(&target)?;
        let device = select_device(device.unwrap_or(&saved.device), progress)?.device;
        let mut split = data::load(&target.data, target.seed)?;
        let table = target.data.source.tables().last().map(|p| p.to_path_buf()).unwrap_or_default();
        split.align_classes(&classes, &table)?;
        attack::check_classes(&target.eval.attacks, classes.len())?;
        let model = match model::build(&saved.model, &saved.data.image, classes.len(), &device) {
            AnyModel::Cnn(mut m) => {
                weights::load(&mut m, bytes, &weights_path)?;
                AnyModel::Cnn(m.valid())
            }
            AnyModel::Text(mut m) => {
                weights::load(&mut m, bytes, &weights_path)?;
                if let config::ModelPlan::Text(p) = &saved.model
                    && p.word_recognition
                {
                    m = m.with_lexicon(Arc::new(saved_lexicon(&dir, &manifest)?));
                }
                AnyModel::Text(m.valid())
            }
        };
        Ok(Saved { dir, saved, target, classes, weights_sha256, model, baseline, device, split })
    }

    fn setup(&self) -> EvalSetup<'_> {
        EvalSetup {
            eval: &self.target.eval,
            model: &self.saved.model,
            text: &self.target.data.text.context,
            seed: self.target.seed,
        }
    }

    fn measure(&self, progress: &Progress, cells: &Cells) -> anyhow::Result<Measured> {
        let setup = self.setup();
        match &self.model {
            AnyModel::Cnn(m) => measure(m, &self.split, &setup, &self.device, progress, None, cells),
            AnyModel::Text(m) => measure(m, &self.split, &setup, &self.device, progress, None, cells),
        }
    }

    /// The report's examples, as an unsharded run gathers them.
    fn examples(&self, plan: &Plan) -> anyhow::Result<Examples> {
        let setup = self.setup();
        let (test, classes, device) = (&self.split.test, &self.classes, &self.device);
        let mut examples = match &self.model {
            AnyModel::Cnn(m) => eval::examples::gather(m, test, classes, &setup, device)?,
            AnyModel::Text(m) => eval::examples::gather(m, test, classes, &setup, device)?,
        };
        if let Some(p) = &plan.train.poison {
            let group = match &self.model {
                AnyModel::Cnn(m) => poison::example_group(m, p, test, classes, &setup, device)?,
                AnyModel::Text(m) => poison::example_group(m, p, test, classes, &setup, device)?,
            };
            examples.groups.extend(group);
        }
        Ok(examples)
    }

    /// What a re-evaluation's metrics say the run was.
    fn info(&self) -> RunInfo {
        RunInfo {
            name: self.saved.name.clone(),
            id: self.dir.id().to_owned(),
            modality: self.saved.data.modality.as_str().to_owned(),
            classes: self.classes.clone(),
            train_examples: 0,
            test_examples: self.split.test.len(),
            skipped_rows: self.split.skipped.len(),
        }
    }
}

/// Re-evaluates the model saved in `run_dir` on its own test set, or on the
/// test set and evaluation plan of `config` (same modality), on `device`
/// (default: the run's). The weights' SHA-256 is checked against the
/// manifest first; the metrics go to `<run>/evals/<time>.json`.
pub fn evaluate_saved(
    run_dir: &Path,
    config: Option<&Path>,
    device: Option<&str>,
    progress: &Progress,
) -> anyhow::Result<Evaluated> {
    let saved = Saved::open(run_dir, config, device, progress)?;
    let measured = saved.measure(progress, &Cells::All)?;
    let metrics =
        RunParts::of_evaluation(saved.info()).metrics(measured.evaluation()?, saved.baseline.as_ref());
    let path = saved.dir.write_eval(&metrics)?;
    Ok(Evaluated { path, metrics })
}

/// What [`evaluate_shard`] wrote.
#[derive(Debug)]
pub struct ShardDone {
    /// `<run>/shards/shard-K-of-N.json`.
    pub path: PathBuf,
    /// Its results.
    pub result: ShardResult,
}

/// Evaluates `shard`'s cells of the re-evaluation [`evaluate_saved`] would
/// run, into `<run>/shards/shard-K-of-N.json`; `temper merge` combines the
/// shards. A shard run again replaces its own file only.
pub fn evaluate_shard(
    run_dir: &Path,
    config: Option<&Path>,
    device: Option<&str>,
    shard: Shard,
    progress: &Progress,
) -> anyhow::Result<ShardDone> {
    let started = Instant::now();
    let saved = Saved::open(run_dir, config, device, progress)?;
    let mine = shard::assign(&saved.target.eval, saved.split.test.len(), shard);
    let cells: Vec<Cell> = mine.iter().cloned().collect();
    let measured = saved.measure(progress, &Cells::Only(mine))?;
    let attacks = attack::tables(&measured.attacks);
    let result = ShardResult {
        schema_version: shard::SHARD_SCHEMA,
        shard,
        weights_sha256: saved.weights_sha256.clone(),
        config: config
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()).display().to_string()),
        config_sha256: config_sha256(&saved.target)?,
        seed: saved.target.seed,
        run: saved.info(),
        corruption_table: measured.tables.clone(),
        cells,
        clean_accuracy: measured.clean,
        corruption_accuracy: measured.corruption.clone(),
        attack_accuracy: attacks.accuracy,
        attack_success_rate: attacks.success_rate,
        attack_mean_norm: attacks.mean_norm,
        attack_mean_queries: attacks.mean_queries,
        attack_rows_correct: attacks.rows_correct,
        attack_stage_accuracy: attacks.stage_accuracy,
        certification: measured.certification.clone(),
        seconds: started.elapsed().as_secs_f64(),
    };
    let path = shards::write(&saved.dir, &result)?;
    Ok(ShardDone { path, result })
}
