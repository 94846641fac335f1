//! Corruption error against a baseline run (Hendrycks & Dietterich 2019),
//! with the baseline run in place of AlexNet.
//!
//! For op `c`, `CE_c = Σ_s E_{s,c} / Σ_s E^base_{s,c}` over severities `s`,
//! with `E = 1 − accuracy`; `mCE` is the mean over ops. The relative form
//! measures the drop from clean error instead:
//! `Σ_s (E_{s,c} − E_clean) / Σ_s (E^base_{s,c} − E^base_clean)`.
//! Only ops both runs evaluated count; an op whose baseline error (or error
//! increase, for the relative form) is zero is left out, as the ratio is
//! undefined.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::run::metrics::{MetricTable, Metrics};

/// mCE numbers of one run against one baseline, as fractions (1.0 = the baseline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mce {
    /// Mean corruption error.
    pub mce: Option<f64>,
    /// Mean relative corruption error.
    pub relative_mce: Option<f64>,
    /// `CE_c` per op.
    pub per_op: BTreeMap<String, f64>,
}

/// What a baseline run contributes.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// Where it came from, for the report.
    pub label: String,
    /// Its clean accuracy.
    pub clean: f64,
    /// Its corruption table.
    pub table: MetricTable,
}

/// A baseline that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// `metrics.json` could not be read or parsed.
    #[error("{config}: eval.mce-baseline: {action} {}: {message}", path.display())]
    Read {
        /// The config that names the baseline.
        config: String,
        /// `reading` or `parsing`.
        action: &'static str,
        /// The baseline's metrics.json.
        path: std::path::PathBuf,
        /// Why.
        message: String,
    },
    /// The baseline evaluated no corruptions.
    #[error("{config}: eval.mce-baseline: {} evaluated no corruptions, so it cannot normalise mCE", path.display())]
    NoCorruptions {
        /// The config that names the baseline.
        config: String,
        /// The baseline's metrics.json.
        path: std::path::PathBuf,
    },
}

impl Baseline {
    /// Reads the config's `eval.mce-baseline`, before any work starts, so a
    /// missing or broken baseline stops a run up front instead of after
    /// training.
    pub fn load(plan: &crate::config::Plan) -> Result<Option<Baseline>, BaselineError> {
        let Some(dir) = &plan.eval.mce_baseline else { return Ok(None) };
        let path = dir.join("metrics.json");
        let config = plan.source.display().to_string();
        let fail = |action, message: String| BaselineError::Read {
            config: config.clone(),
            action,
            path: path.clone(),
            message,
        };
        let bytes = std::fs::read(&path).map_err(|e| fail("reading", e.to_string()))?;
        let m: Metrics = serde_json::from_slice(&bytes).map_err(|e| fail("parsing", e.to_string()))?;
        if m.corruption_accuracy.is_empty() {
            return Err(BaselineError::NoCorruptions { config, path });
        }
        Ok(Some(Baseline {
            label: format!("{} ({})", m.run.name, m.run.id),
            clean: m.clean_accuracy,
            table: m.corruption_accuracy,
        }))
    }
}

/// Fills `metrics`' mCE fields against `base`.
pub fn apply(metrics: &mut Metrics, base: &Baseline) {
    let m = against(metrics.clean_accuracy, &metrics.corruption_accuracy, base);
    metrics.mce = m.mce;
    metrics.relative_mce = m.relative_mce;
    metrics.corruption_error = m.per_op;
    metrics.mce_baseline = Some(base.label.clone());
}

/// Computes mCE of (`clean`, `table`) against `base`.
pub fn against(clean: f64, table: &MetricTable, base: &Baseline) -> Mce {
    let mut per_op = BTreeMap::new();
    let mut relative = Vec::new();
    for (op, sev) in table {
        let Some(base_sev) = base.table.get(op) else { continue };
        let (mut err, mut base_err, mut rel, mut base_rel) = (0.0, 0.0, 0.0, 0.0);
        for (s, acc) in sev {
            let Some(base_acc) = base_sev.get(s) else { continue };
            err += 1.0 - acc;
            base_err += 1.0 - base_acc;
            rel += (1.0 - acc) - (1.0 - clean);
            base_rel += (1.0 - base_acc) - (1.0 - base.clean);
        }
        if base_err > 0.0 {
            per_op.insert(op.clone(), err / base_err);
        }
        if base_rel > 0.0 {
            relative.push(rel / base_rel);
        }
    }
    let mean = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    Mce { mce: mean(per_op.values().copied().collect()), relative_mce: mean(relative), per_op }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[(&str, [f64; 2])]) -> MetricTable {
        rows.iter()
            .map(|(op, a)| ((*op).to_owned(), [("1".to_owned(), a[0]), ("2".to_owned(), a[1])].into()))
            .collect()
    }

    #[test]
    fn matches_a_hand_computation() {
        let base = Baseline {
            label: "b".into(),
            clean: 0.9,
            table: table(&[("blur", [0.8, 0.6]), ("noise", [0.7, 0.5]), ("only_base", [0.1, 0.1])]),
        };
        let run = table(&[("blur", [0.85, 0.75]), ("noise", [0.8, 0.7]), ("only_run", [0.2, 0.2])]);
        let m = against(0.95, &run, &base);
        // blur: errors 0.15+0.25 = 0.40 vs 0.20+0.40 = 0.60 → 2/3.
        // noise: 0.20+0.30 = 0.50 vs 0.30+0.50 = 0.80 → 0.625.
        assert!((m.per_op["blur"] - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.per_op["noise"] - 0.625).abs() < 1e-12);
        assert!((m.mce.expect("mce") - (2.0 / 3.0 + 0.625) / 2.0).abs() < 1e-12);
        // Relative, clean errors 0.05 (run) and 0.10 (base):
        // blur: (0.10+0.20)/(0.10+0.30) = 0.75; noise: (0.15+0.25)/(0.20+0.40) = 2/3.
        assert!((m.relative_mce.expect("relative") - (0.75 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert_eq!(m.per_op.len(), 2, "ops only one run has are left out");
    }

    #[test]
    fn the_baseline_against_itself_is_one() {
        let t = table(&[("blur", [0.8, 0.6])]);
        let m = against(0.9, &t, &Baseline { label: "b".into(), clean: 0.9, table: t.clone() });
        assert_eq!((m.mce, m.relative_mce), (Some(1.0), Some(1.0)));
    }

    #[test]
    fn undefined_ratios_are_left_out() {
        let base = Baseline { label: "b".into(), clean: 1.0, table: table(&[("x", [1.0, 1.0])]) };
        let m = against(0.9, &table(&[("x", [0.5, 0.5])]), &base);
        assert_eq!((m.mce, m.relative_mce), (None, None));
    }
}
