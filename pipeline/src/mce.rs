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

use crate::run::metrics::CorruptionTable;

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
    pub table: CorruptionTable,
}

/// Computes mCE of (`clean`, `table`) against `base`.
pub fn against(clean: f64, table: &CorruptionTable, base: &Baseline) -> Mce {
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

    fn table(rows: &[(&str, [f64; 2])]) -> CorruptionTable {
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
