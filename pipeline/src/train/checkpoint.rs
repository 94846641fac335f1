//! Checkpoints inside a run directory: model parameters and optimiser state
//! in burn's own tensor container (plain data; parameter ids kept so the
//! optimiser state lines up), plus the training state as JSON.
//!
//! Files carry a generation number and `checkpoint/state.json` is written
//! last: it names the generation and the SHA-256 of both files, so a kill
//! at any moment leaves either the previous checkpoint or the new one.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::prelude::Device;
use burn::store::ModuleRecord;
use serde::{Deserialize, Serialize};

use super::TrainState;
use crate::hash::sha256_file;
use crate::run::write_atomic;

/// Folder inside the run directory.
pub const DIR: &str = "checkpoint";

/// `checkpoint/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckpointIndex {
    /// Increases with every checkpoint.
    pub generation: u64,
    /// Model file name.
    pub model: String,
    /// Its SHA-256.
    pub model_sha256: String,
    /// Optimiser file name.
    pub optimizer: String,
    /// Its SHA-256.
    pub optimizer_sha256: String,
    /// Where training stood.
    pub state: TrainState,
}

/// Writes checkpoints into one run directory.
pub struct Checkpointer {
    dir: PathBuf,
    generation: u64,
}

fn sync_rename(tmp: &Path, dest: &Path) -> anyhow::Result<()> {
    std::fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", tmp.display()))?;
    std::fs::rename(tmp, dest).with_context(|| format!("renaming {} to {}", tmp.display(), dest.display()))
}

impl Checkpointer {
    /// Checkpoints under `run_dir/checkpoint/`, continuing after `previous`.
    pub fn new(run_dir: &Path, previous: Option<&CheckpointIndex>) -> anyhow::Result<Self> {
        let dir = run_dir.join(DIR);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Checkpointer { dir, generation: previous.map_or(0, |p| p.generation) })
    }

    /// Writes one checkpoint and removes the previous generation's files.
    pub fn save<M: Module>(
        &mut self,
        model: &M,
        optim: &ModuleOptimizer,
        state: &TrainState,
    ) -> anyhow::Result<()> {
        let generation = self.generation + 1;
        let model_name = format!("model-{generation:06}.bpk");
        let optim_name = format!("optimizer-{generation:06}.bpk");
        let (model_path, optim_path) = (self.dir.join(&model_name), self.dir.join(&optim_name));
        let tmp = self.dir.join(format!(".model-{generation}.tmp"));
        // `valid` commits the batch-norm statistics' pending update (burn's
        // running state lags one batch behind what the next step will read),
        // so a resumed run starts from exactly what training would use next.
        model
            .valid()
            .into_record()
            .save(&tmp)
            .map_err(|e| anyhow::anyhow!("writing {}: {e:?}", tmp.display()))?;
        sync_rename(&tmp, &model_path)?;
        let tmp = self.dir.join(format!(".optimizer-{generation}.tmp"));
        optim.save(&tmp).map_err(|e| anyhow::anyhow!("writing {}: {e:?}", tmp.display()))?;
        sync_rename(&tmp, &optim_path)?;
        let index = CheckpointIndex {
            generation,
            model_sha256: sha256_file(&model_path)?.0,
            model: model_name,
            optimizer_sha256: sha256_file(&optim_path)?.0,
            optimizer: optim_name,
            state: state.clone(),
        };
        write_atomic(&self.dir.join("state.json"), &serde_json::to_vec_pretty(&index)?)?;
        for old in
            [format!("model-{:06}.bpk", self.generation), format!("optimizer-{:06}.bpk", self.generation)]
        {
            let _ = std::fs::remove_file(self.dir.join(old));
        }
        self.generation = generation;
        Ok(())
    }
}

/// The best validated epoch's weights, inside [`DIR`].
pub const BEST: &str = "best.bpk";

impl Checkpointer {
    /// Writes the weights of a new best validated epoch (atomically: a kill
    /// leaves the previous best or this one). The checkpoint written next
    /// records which epoch it is; a run killed in between retrains that
    /// epoch identically and writes the same weights again.
    pub fn save_best<M: Module>(&mut self, model: &M) -> anyhow::Result<()> {
        let tmp = self.dir.join(".best.tmp");
        model
            .valid()
            .into_record()
            .save(&tmp)
            .map_err(|e| anyhow::anyhow!("writing {}: {e:?}", tmp.display()))?;
        sync_rename(&tmp, &self.dir.join(BEST))
    }
}

/// Loads the weights [`Checkpointer::save_best`] kept into `model`.
pub fn load_best<M: Module>(run_dir: &Path, model: M) -> anyhow::Result<M> {
    let path = run_dir.join(DIR).join(BEST);
    let record =
        ModuleRecord::load(&path).map_err(|e| anyhow::anyhow!("reading {}: {e:?}", path.display()))?;
    model
        .try_load_record(record)
        .map_err(|e| anyhow::anyhow!("{}: does not fit the model in config.toml: {e:?}", path.display()))
}

/// Reads the latest checkpoint index of a run, if any.
pub fn latest(run_dir: &Path) -> anyhow::Result<Option<CheckpointIndex>> {
    let path = run_dir.join(DIR).join("state.json");
    if !path.exists() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Some(serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))?))
}

/// Loads a checkpoint into a freshly built model and optimiser, checking
/// both files against the digests in the index. The optimiser's state is
/// put on `device`, the one training runs on: burn's own loader puts it on
/// its default device (CUDA or wgpu in a GPU build), which fails on a
/// machine without that driver and starts a GPU a CPU run does not use
/// (vendor/burn-optim/PATCHED.md).
pub fn restore<M: Module>(
    run_dir: &Path,
    index: &CheckpointIndex,
    model: M,
    optim: ModuleOptimizer,
    device: &Device,
) -> anyhow::Result<(M, ModuleOptimizer)> {
    let dir = run_dir.join(DIR);
    for (name, sha) in [(&index.model, &index.model_sha256), (&index.optimizer, &index.optimizer_sha256)] {
        let path = dir.join(name);
        let (actual, _) =
            sha256_file(&path).with_context(|| format!("reading checkpoint file {}", path.display()))?;
        if &actual != sha {
            bail!(
                "{}: SHA-256 does not match checkpoint/state.json; refusing a damaged or changed checkpoint",
                path.display()
            );
        }
    }
    let record = ModuleRecord::load(dir.join(&index.model))
        .map_err(|e| anyhow::anyhow!("reading {}: {e:?}", dir.join(&index.model).display()))?;
    let model = model.try_load_record(record).map_err(|e| {
        anyhow::anyhow!("{}: does not fit the model in config.toml: {e:?}", dir.join(&index.model).display())
    })?;
    let optim = optim
        .load_on(dir.join(&index.optimizer), device)
        .map_err(|e| anyhow::anyhow!("reading {}: {e:?}", dir.join(&index.optimizer).display()))?;
    Ok((model, optim))
}
