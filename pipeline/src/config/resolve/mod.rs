//! Raw config → checked [`Plan`]: defaults, ranges, catalog names, paths.
//! One resolver per section; the shared toolkit is in [`check`].

mod check;
mod data;
mod eval;
mod model;
mod train;

use std::path::{Path, PathBuf};

use check::Check;
pub use eval::default_corruptions;

use super::error::ConfigError;
use super::gate::GateError;
use super::plan::*;
use super::raw::*;

/// Default decoded-image limit: 64 megapixels.
pub const DEFAULT_MAX_PIXELS: u64 = 64 * 1024 * 1024;

/// Checks a raw config read from `file`; relative paths are resolved
/// against the file's folder.
pub fn resolve(raw: RawConfig, file: &Path) -> Result<Plan, ConfigError> {
    let base = file.parent().unwrap_or(Path::new("."));
    let c = Check { file, base };
    let raw_data = raw.data.ok_or_else(|| c.err("data", "the [data] table is required"))?;
    let data = data::resolve_data(&c, raw_data)?;
    let private = raw.train.as_ref().is_some_and(|t| t.privacy.is_some());
    let model = model::resolve_model(&c, raw.model.unwrap_or_default(), data.modality, private)?;
    let train =
        train::resolve_train(&c, raw.train.unwrap_or_default(), data.modality, &data.text, &data.image)?;
    let eval = eval::resolve_eval(&c, raw.eval.unwrap_or_default(), data.modality, &data.image)?;
    if train.validation.is_some() && eval.privacy.is_some() && train.filter.as_ref().is_some_and(|f| f.drop) {
        return Err(c.err(
            "train.validation-share",
            "cannot be combined with [[eval.privacy]] while [train.filter] drops rows: membership inference must leave the validation rows (never trained on) out of its members, and after the filter's drops they can no longer be told apart",
        ));
    }
    let gate = raw.gate.map(|g| resolve_gate(&c, g)).transpose()?;
    let name = raw.name.unwrap_or_else(|| {
        file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "run".to_owned())
    });
    if name.is_empty()
        || !name.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        || name.starts_with('.')
    {
        return Err(c.err(
            "name",
            format!("must be letters, digits, `-`, `_` or `.`, not starting with `.` (got {name:?})"),
        ));
    }
    let device = raw.device.unwrap_or_else(|| "cpu".to_owned());
    super::device::check_name(&device).map_err(|m| c.err("device", m))?;
    Ok(Plan {
        source: file.to_path_buf(),
        name,
        seed: raw.seed.unwrap_or(0),
        device,
        data,
        model,
        train,
        eval,
        gate,
    })
}

fn resolve_gate(c: &Check, raw: RawGate) -> Result<GatePlan, ConfigError> {
    let baseline = raw
        .baseline
        .ok_or_else(|| c.err("gate.baseline", "is required: the run directory to compare with"))?;
    let baseline =
        if Path::new(&baseline).is_absolute() { PathBuf::from(&baseline) } else { c.base.join(&baseline) };
    let exprs = raw.fail_if.unwrap_or_default();
    if exprs.is_empty() {
        return Err(c.err("gate.fail-if", "lists no gate, e.g. [\"clean_accuracy < -0.5\"]"));
    }
    let fail_if = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| {
            e.parse().map_err(|err: GateError| c.err(&format!("gate.fail-if[{i}]"), err.to_string()))
        })
        .collect::<Result<_, _>>()?;
    Ok(GatePlan { baseline, fail_if })
}
