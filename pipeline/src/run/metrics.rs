//! `metrics.json`: the machine interface of a run, read by `temper compare`
//! and scheduled jobs. The layout is versioned; docs/metrics.md documents it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the metrics layout; bumped on incompatible changes.
pub const METRICS_SCHEMA: u32 = 1;

/// One training epoch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss.
    pub loss: f64,
    /// Training accuracy over the epoch's (augmented) batches, in [0, 1].
    pub accuracy: f64,
    /// Wall time of the epoch.
    pub seconds: f64,
    /// Training throughput.
    pub examples_per_second: f64,
    /// Share of the epoch's wall time the device was not waiting for the
    /// data thread, in [0, 1].
    #[serde(default = "one")]
    pub device_busy_share: f64,
}

fn one() -> f64 {
    1.0
}

/// What the run was.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunInfo {
    /// Run name.
    pub name: String,
    /// Run id.
    pub id: String,
    /// `image` or `text`.
    pub modality: String,
    /// Class names, in label order.
    pub classes: Vec<String>,
    /// Training examples.
    pub train_examples: usize,
    /// Test examples.
    pub test_examples: usize,
    /// Rows left out under `on-bad-row = "skip"`.
    #[serde(default)]
    pub skipped_rows: usize,
}

/// Accuracy per operation name, then per severity ("1".."5").
pub type CorruptionTable = BTreeMap<String, BTreeMap<String, f64>>;

/// Everything a run measured. Accuracies are fractions in [0, 1].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Metrics {
    /// [`METRICS_SCHEMA`].
    pub schema_version: u32,
    /// The run.
    pub run: RunInfo,
    /// Accuracy on the unperturbed test set.
    pub clean_accuracy: f64,
    /// `corruption_accuracy[op][severity]`.
    pub corruption_accuracy: CorruptionTable,
    /// Mean over every op and severity; absent when no corruption ran.
    pub mean_corruption_accuracy: Option<f64>,
    /// Mean corruption error against `mce_baseline` (1.0 = the baseline).
    #[serde(rename = "mCE", default, skip_serializing_if = "Option::is_none")]
    pub mce: Option<f64>,
    /// Mean relative corruption error against `mce_baseline`.
    #[serde(rename = "relative_mCE", default, skip_serializing_if = "Option::is_none")]
    pub relative_mce: Option<f64>,
    /// `corruption_error[op]`: CE per op against `mce_baseline`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub corruption_error: BTreeMap<String, f64>,
    /// The run mCE is measured against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mce_baseline: Option<String>,
    /// Per-epoch training curve.
    pub training: Vec<EpochMetrics>,
    /// `attack_accuracy[attack][epsilon]`: accuracy on attacked inputs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attack_accuracy: CorruptionTable,
    /// `attack_success_rate[attack][epsilon]`: share of correctly classified inputs flipped.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attack_success_rate: CorruptionTable,
    /// `attack_mean_norm[attack][epsilon]`: mean perturbation (L∞, L2 for
    /// `pgd_l2`, share of words changed for text attacks).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attack_mean_norm: CorruptionTable,
    /// `attack_mean_queries[attack][epsilon]`: mean model queries per input,
    /// black-box attacks only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attack_mean_queries: CorruptionTable,
}

/// The four attack tables of [`Metrics`] from an attack run; white-box
/// attacks make no queries, so they are left out of the last.
pub fn attack_tables(table: &crate::attack::AttackTable) -> [CorruptionTable; 4] {
    let pick = |f: fn(&crate::attack::AttackResult) -> f64, black_box_only: bool| -> CorruptionTable {
        table
            .iter()
            .filter(|(a, _)| !black_box_only || crate::attack::TextAttackKind::find(a).is_some())
            .map(|(a, per)| (a.clone(), per.iter().map(|(e, r)| (e.clone(), f(r))).collect()))
            .collect()
    };
    [
        pick(|r| r.accuracy, false),
        pick(|r| r.success_rate, false),
        pick(|r| r.mean_norm, false),
        pick(|r| r.mean_queries, true),
    ]
}

impl Metrics {
    /// A run's metrics from what evaluation measured; mCE is filled in when
    /// a baseline is given.
    pub fn new(
        run: RunInfo,
        clean: f64,
        corruption: CorruptionTable,
        attacks: &crate::attack::AttackTable,
        training: Vec<EpochMetrics>,
        baseline: Option<&crate::mce::Baseline>,
    ) -> Metrics {
        let [attack_accuracy, attack_success_rate, attack_mean_norm, attack_mean_queries] =
            attack_tables(attacks);
        let mut metrics = Metrics {
            schema_version: METRICS_SCHEMA,
            run,
            clean_accuracy: clean,
            mean_corruption_accuracy: Metrics::mean_of(&corruption),
            corruption_accuracy: corruption,
            training,
            attack_accuracy,
            attack_success_rate,
            attack_mean_norm,
            attack_mean_queries,
            mce: None,
            relative_mce: None,
            corruption_error: BTreeMap::new(),
            mce_baseline: None,
        };
        if let Some(base) = baseline {
            metrics.set_mce(base);
        }
        metrics
    }

    /// Fills the mCE fields from a baseline.
    pub fn set_mce(&mut self, base: &crate::mce::Baseline) {
        let m = crate::mce::against(self.clean_accuracy, &self.corruption_accuracy, base);
        self.mce = m.mce;
        self.relative_mce = m.relative_mce;
        self.corruption_error = m.per_op;
        self.mce_baseline = Some(base.label.clone());
    }

    /// The mean of every entry of a corruption table.
    pub fn mean_of(table: &CorruptionTable) -> Option<f64> {
        let values: Vec<f64> = table.values().flat_map(|m| m.values().copied()).collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_covers_all_cells() {
        let mut t = CorruptionTable::new();
        t.entry("a".into()).or_default().insert("1".into(), 0.5);
        t.entry("a".into()).or_default().insert("2".into(), 0.7);
        t.entry("b".into()).or_default().insert("1".into(), 0.9);
        assert!((Metrics::mean_of(&t).expect("test setup") - 0.7).abs() < 1e-12);
        assert_eq!(Metrics::mean_of(&CorruptionTable::new()), None);
    }
}
