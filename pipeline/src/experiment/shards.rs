//! Shard files of a run directory and `temper merge`: the shards' cells put
//! together into the metrics one unsharded evaluation would have written,
//! after checking that every shard evaluated the same weights, config and
//! seed and that none is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use serde::{Deserialize, Serialize};

use super::{Evaluation, RunParts, Saved, check_gate, config_sha256, runs_of, write_completed};
use crate::config::{self, Plan};
use crate::eval::shard::{self, Cell, SHARDS, ShardResult};
use crate::mce::Baseline;
use crate::progress::Progress;
use crate::run::RunDir;
use crate::run::lock::RunLock;
use crate::run::manifest::{Manifest, RunStatus};
use crate::run::metrics::{AttackMetrics, Metrics};

/// Writes `result` to `<run>/shards/shard-K-of-N.json`, atomically.
pub(super) fn write(dir: &RunDir, result: &ShardResult) -> anyhow::Result<PathBuf> {
    write_in_shards(dir, &result.shard.file_name(), result)
}

/// Writes `value` as pretty JSON to `<run>/shards/<name>`, atomically.
fn write_in_shards<T: Serialize>(dir: &RunDir, name: &str, value: &T) -> anyhow::Result<PathBuf> {
    let folder = dir.file(SHARDS);
    std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
    let bytes = serde_json::to_vec_pretty(value).with_context(|| format!("serialising {name}"))?;
    Ok(crate::run::write_atomic(&folder.join(name), &bytes)?)
}

/// Every shard file of the run, by file name.
fn read_all(dir: &RunDir) -> anyhow::Result<Vec<(PathBuf, ShardResult)>> {
    let folder = dir.file(SHARDS);
    let Ok(entries) = std::fs::read_dir(&folder) else { return Ok(Vec::new()) };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("shard-") && n.ends_with(".json"))
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            // The version first, so a shard of another layout is named as such.
            #[derive(Deserialize)]
            struct Version {
                schema_version: u32,
            }
            let version: Version = serde_json::from_slice(&bytes)
                .with_context(|| format!("{}: not a shard result", path.display()))?;
            if version.schema_version != shard::SHARD_SCHEMA {
                bail!(
                    "{}: shard schema {}, this Temper reads {}; evaluate that shard again",
                    path.display(),
                    version.schema_version,
                    shard::SHARD_SCHEMA
                );
            }
            let r: ShardResult = serde_json::from_slice(&bytes)
                .with_context(|| format!("{}: not a shard result", path.display()))?;
            if path.file_name().and_then(|n| n.to_str()) != Some(r.shard.file_name().as_str()) {
                bail!("{}: holds shard {}, whose file is {}", path.display(), r.shard, r.shard.file_name());
            }
            Ok((path, r))
        })
        .collect()
}

/// `shards/run.json`: what a run trained with `--eval-shards N` measured
/// besides the evaluation cells, kept for `temper merge`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Pending {
    /// [`shard::SHARD_SCHEMA`].
    pub schema_version: u32,
    /// The N the run was trained with.
    pub shards: usize,
    /// The SHA-256 of the weights trained.
    pub weights_sha256: String,
    /// Training and the run-level measurements.
    pub parts: RunParts,
}

/// The file of [`Pending`], under [`SHARDS`].
const PENDING: &str = "run.json";

/// Writes `shards/run.json`, atomically.
pub(super) fn write_parts(dir: &RunDir, pending: &Pending) -> anyhow::Result<PathBuf> {
    write_in_shards(dir, PENDING, pending)
}

/// The newest run of `plan` under `out_root` that waits for its evaluation
/// shards (trained with `--eval-shards`): what an eval or merge job of a
/// scheduler's pipeline works on.
pub fn evaluating(plan: &Plan, out_root: &Path) -> anyhow::Result<PathBuf> {
    match runs_of(plan, out_root)?.into_iter().find(|(_, m)| m.status == RunStatus::Evaluating) {
        Some((dir, _)) => Ok(dir),
        None => bail!(
            "{}: no run of this config waits for its evaluation shards (a run trained with `temper train --eval-shards N`)",
            out_root.join(&plan.name).display()
        ),
    }
}

/// What [`merge`] wrote.
#[derive(Debug)]
pub struct Merged {
    /// `<run>/metrics.json` for a run's own evaluation, else
    /// `<run>/evals/<time>.json`.
    pub path: PathBuf,
    /// The merged metrics.
    pub metrics: Metrics,
    /// How many shards went in.
    pub shards: usize,
}

/// Merges the shards of `run_dir`'s evaluation. For a run trained with
/// `--eval-shards` this completes the run: `metrics.json`, the reports
/// (their examples gathered here), the gate and `latest`, as an unsharded
/// run writes them. Otherwise the shards are a re-evaluation and go to
/// `<run>/evals/<time>.json`, byte for byte what `temper eval` without
/// `--shard` writes. Refuses shards of different weights, configs or seeds,
/// or an incomplete set, naming the difference or the missing shards.
pub fn merge(run_dir: &Path, progress: &Progress) -> anyhow::Result<Merged> {
    let dir = RunDir::open(run_dir)?;
    let mut manifest: Manifest = dir.read_json("manifest.json")?;
    let own = manifest.status == RunStatus::Evaluating;
    let found = read_all(&dir)?;
    let Some((first_path, first)) = found.first() else {
        bail!(
            "{}: no shard results in {}/; run `temper eval --run {} --shard K/{}` for each K first",
            dir.path().display(),
            SHARDS,
            dir.path().display(),
            manifest.eval_shards.map_or_else(|| "N".to_owned(), |n| n.to_string())
        );
    };
    check_alike(&found)?;
    let n = first.shard.count;
    let missing: Vec<String> = (0..n)
        .filter(|k| !found.iter().any(|(_, r)| r.shard.index == *k))
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "{}: shard{} {} {} missing; evaluate {} with `temper eval --run {} --shard K/{n}`",
            dir.path().display(),
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            if missing.len() == 1 { "is" } else { "are" },
            if missing.len() == 1 { "it" } else { "them" },
            dir.path().display()
        );
    }
    if manifest.weights_sha256.as_deref() != Some(first.weights_sha256.as_str()) {
        bail!(
            "{}: the shards evaluated weights with SHA-256 {}, the run's are {}; evaluate the shards again",
            first_path.display(),
            first.weights_sha256,
            manifest.weights_sha256.as_deref().unwrap_or("unrecorded")
        );
    }
    if own && let Some(other) = &first.config {
        bail!(
            "{}: evaluated {other}, but the run waits for the evaluation of its own config; evaluate its shards without --config",
            first_path.display()
        );
    }
    let config_path = first.config.as_ref().map_or_else(|| dir.file("config.toml"), PathBuf::from);
    let plan = config::load(&config_path)?;
    if config_sha256(&plan)? != first.config_sha256 {
        bail!(
            "{}: the config changed since the shards were evaluated; evaluate them again",
            config_path.display()
        );
    }
    let evaluation = combine(&found, &plan.eval, first.run.test_examples)?;
    let baseline = Baseline::load(&plan)?;
    if !own {
        let metrics = RunParts::of_evaluation(first.run.clone()).metrics(evaluation, baseline.as_ref());
        let path = dir.write_eval(&metrics)?;
        return Ok(Merged { path, metrics, shards: n });
    }
    let _lock = RunLock::acquire(dir.path())?;
    let pending_path = dir.file(SHARDS).join(PENDING);
    let bytes =
        std::fs::read(&pending_path).with_context(|| format!("reading {}", pending_path.display()))?;
    let pending: Pending = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a sharded run's measurements", pending_path.display()))?;
    if pending.weights_sha256 != first.weights_sha256 {
        bail!("{}: written for other weights than the shards evaluated", pending_path.display());
    }
    let metrics = pending.parts.metrics(evaluation, baseline.as_ref());
    progress.say("gathering the report's examples");
    let examples = Saved::open(dir.path(), None, None, progress)?.examples(&plan)?;
    write_completed(&dir, &mut manifest, &metrics, &examples)?;
    let line = serde_json::json!({"event": "merged", "run": dir.id(), "shards": n,
        "clean_accuracy": metrics.clean_accuracy, "mean_corruption_accuracy": metrics.mean_corruption_accuracy});
    dir.log(&line)?;
    progress.event(&line);
    check_gate(&plan, &dir, progress)?;
    dir.mark_latest()?;
    Ok(Merged { path: dir.file("metrics.json"), metrics, shards: n })
}

/// Every shard was made for the same split, weights, config, seed and test set.
fn check_alike(found: &[(PathBuf, ShardResult)]) -> anyhow::Result<()> {
    let Some((first_path, first)) = found.first() else { return Ok(()) };
    for (path, r) in &found[1..] {
        let differs = |what: &str, a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
            anyhow::anyhow!(
                "{} and {}: the shards differ in {what} ({a:?} against {b:?}); remove the stale shard files and evaluate those shards again",
                first_path.display(),
                path.display()
            )
        };
        if r.shard.count != first.shard.count {
            return Err(differs("their number of shards", &first.shard.count, &r.shard.count));
        }
        if r.weights_sha256 != first.weights_sha256 {
            return Err(differs("the weights evaluated (SHA-256)", &first.weights_sha256, &r.weights_sha256));
        }
        if r.config != first.config || r.config_sha256 != first.config_sha256 {
            return Err(differs("the config evaluated", &first.config, &r.config));
        }
        if r.seed != first.seed {
            return Err(differs("seed", &first.seed, &r.seed));
        }
        if r.run != first.run || r.corruption_table != first.corruption_table {
            return Err(differs("the test set evaluated", &first.run.test_examples, &r.run.test_examples));
        }
    }
    Ok(())
}

/// The union of one table of every shard; cells do not overlap (the split
/// gives each to one shard).
fn union_of<V: Clone>(
    found: &[(PathBuf, ShardResult)],
    pick: fn(&ShardResult) -> &BTreeMap<String, BTreeMap<String, V>>,
) -> BTreeMap<String, BTreeMap<String, V>> {
    let mut t: BTreeMap<String, BTreeMap<String, V>> = BTreeMap::new();
    for (_, r) in found {
        for (name, row) in pick(r) {
            t.entry(name.clone()).or_default().extend(row.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    t
}

/// The shards' cells as one evaluation, after checking that together they
/// hold every cell of `eval` once.
fn combine(
    found: &[(PathBuf, ShardResult)],
    eval: &crate::config::EvalPlan,
    test_rows: usize,
) -> anyhow::Result<Evaluation> {
    let mut seen = BTreeSet::new();
    for (path, r) in found {
        for cell in &r.cells {
            if !seen.insert(cell.clone()) {
                bail!("{}: cell `{cell}` was evaluated by two shards", path.display());
            }
        }
    }
    let expected: BTreeSet<Cell> = shard::cells(eval, test_rows).into_iter().map(|(c, _)| c).collect();
    if let Some(cell) = expected.difference(&seen).next() {
        bail!("no shard evaluated `{cell}`; the shards were made for another plan");
    }
    if let Some(cell) = seen.difference(&expected).next() {
        bail!("a shard evaluated `{cell}`, which the config does not ask for");
    }
    let clean =
        found.iter().find_map(|(_, r)| r.clean_accuracy).context("no shard holds the clean accuracy")?;
    Ok(Evaluation {
        clean,
        corruption: union_of(found, |r| &r.corruption_accuracy),
        attacks: AttackMetrics {
            accuracy: union_of(found, |r| &r.attack_accuracy),
            success_rate: union_of(found, |r| &r.attack_success_rate),
            mean_norm: union_of(found, |r| &r.attack_mean_norm),
            mean_queries: union_of(found, |r| &r.attack_mean_queries),
            rows_correct: union_of(found, |r| &r.attack_rows_correct),
            stage_accuracy: union_of(found, |r| &r.attack_stage_accuracy),
        },
        tables: found[0].1.corruption_table.clone(),
        certification: found.iter().flat_map(|(_, r)| r.certification.clone()).collect(),
    })
}
