//! Comparing runs: one table of metrics side by side with deltas against a
//! baseline, and gates that fail a scheduled job when robustness drops.
//!
//! Metrics are addressed by dotted paths into `metrics.json`
//! (`clean_accuracy`, `corruption_accuracy.rotate.3`,
//! `attack_accuracy.pgd_linf.0.1`). Deltas are in percentage points.

pub mod gate;
mod html;
mod table;

pub use gate::{Comparison, Gate, GateError, GateOutcome, Verdict, check_run, verdicts};
pub use html::html;
pub use table::{Format, render};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// One run's metrics, flattened to dotted paths.
#[derive(Debug, Clone)]
pub struct RunMetrics {
    /// Run directory.
    pub dir: PathBuf,
    /// `name/id`, for table headings.
    pub label: String,
    /// Every numeric metric by dotted path.
    pub values: BTreeMap<String, f64>,
}

/// A run directory's `metrics.json` could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct LoadError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub message: String,
}

/// Top-level keys that are not metrics to compare.
const SKIP: &[&str] = &["schema_version", "run", "training"];

/// Reads `<dir>/metrics.json` and flattens it.
pub fn load(dir: &Path) -> Result<RunMetrics, LoadError> {
    let path = dir.join("metrics.json");
    let err = |message: String| LoadError { path: path.clone(), message };
    let bytes = std::fs::read(&path).map_err(|e| err(format!("cannot read: {e}")))?;
    let json: Value = serde_json::from_slice(&bytes).map_err(|e| err(format!("not valid JSON: {e}")))?;
    let schema = u64::from(crate::run::metrics::METRICS_SCHEMA);
    match json.get("schema_version").and_then(Value::as_u64) {
        Some(v) if v == schema => {}
        other => {
            return Err(err(format!(
                "unsupported metrics schema version {other:?} (this build reads {schema})"
            )));
        }
    }
    let name = json["run"]["name"].as_str().unwrap_or("?");
    let id = json["run"]["id"].as_str().unwrap_or("?");
    Ok(RunMetrics { dir: dir.to_path_buf(), label: format!("{name}/{id}"), values: flatten(&json) })
}

/// Numeric leaves of a metrics document by dotted path.
pub fn flatten(json: &Value) -> BTreeMap<String, f64> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, f64>) {
        match v {
            Value::Number(n) => {
                if let Some(f) = n.as_f64() {
                    out.insert(prefix.to_owned(), f);
                }
            }
            Value::Object(map) => {
                for (k, child) in map {
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&key, child, out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    if let Value::Object(map) = json {
        for (k, v) in map.iter().filter(|(k, _)| !SKIP.contains(&k.as_str())) {
            walk(k, v, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flatten_uses_dotted_paths_and_skips_bookkeeping() {
        let v: Value = serde_json::json!({
            "schema_version": 1, "run": {"name": "x"}, "training": [{"loss": 1.0}],
            "clean_accuracy": 0.9,
            "corruption_accuracy": {"rotate": {"1": 0.8, "2": 0.7}},
            "attack_accuracy": {"pgd_linf": {"0.1": 0.3}},
            "mean_corruption_accuracy": null
        });
        let f = flatten(&v);
        assert_eq!(f.get("clean_accuracy"), Some(&0.9));
        assert_eq!(f.get("corruption_accuracy.rotate.2"), Some(&0.7));
        assert_eq!(f.get("attack_accuracy.pgd_linf.0.1"), Some(&0.3));
        assert!(!f.contains_key("schema_version") && !f.contains_key("mean_corruption_accuracy"));
        assert!(!f.keys().any(|k| k.starts_with("run") || k.starts_with("training")));
    }
}
