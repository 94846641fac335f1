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
    /// Under DP-SGD, the ε spent by the end of this epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
    /// Under `train.validation-share`, mean cross-entropy on the held-out rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_loss: Option<f64>,
    /// Under `train.validation-share`, accuracy on the held-out rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_accuracy: Option<f64>,
    /// Under `train.select-by = "robust-accuracy"`, accuracy on the
    /// held-out rows under its attack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_robust_accuracy: Option<f64>,
}

fn one_round() -> usize {
    1
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

/// A number per name, then per setting: accuracy per corruption and
/// severity ("1".."5"), or an attack's measure per ε.
pub type MetricTable = BTreeMap<String, BTreeMap<String, f64>>;

/// Per attack, then per ε, one character a row: `1` where the row is still
/// classified correctly under the attack, `0` where it broke.
pub type RowTable = BTreeMap<String, BTreeMap<String, String>>;

/// Per cascade, then per ε, then per stage: the accuracy left after that
/// stage and every one before it.
pub type StageTable = BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>>;

/// The attack tables of [`Metrics`], built by `crate::attack`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttackMetrics {
    /// `attack_accuracy`.
    pub accuracy: MetricTable,
    /// `attack_success_rate`.
    pub success_rate: MetricTable,
    /// `attack_mean_norm`.
    pub mean_norm: MetricTable,
    /// `attack_mean_queries`: attacks that query the model only.
    pub mean_queries: MetricTable,
    /// Each attack's per-row outcomes, for the worst case over attacks.
    pub rows_correct: RowTable,
    /// `attack_stage_accuracy`: cascades only.
    pub stage_accuracy: StageTable,
}

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
    pub corruption_accuracy: MetricTable,
    /// `corruption_table[op]`: the benchmark parameter table (`imagenet_c`,
    /// `cifar10_c`, ...) each image corruption used; ops without tables
    /// are absent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub corruption_table: BTreeMap<String, String>,
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
    pub attack_accuracy: MetricTable,
    /// `attack_success_rate[attack][epsilon]`: share of correctly classified inputs flipped.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attack_success_rate: MetricTable,
    /// `attack_mean_norm[attack][epsilon]`: mean perturbation (L∞, L2 for
    /// `pgd_l2`, share of words changed for text attacks).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attack_mean_norm: MetricTable,
    /// `attack_mean_queries[attack][epsilon]`: mean model queries per input,
    /// black-box attacks only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attack_mean_queries: MetricTable,
    /// `attack_worst_case_accuracy[threat][epsilon]`: the share of rows
    /// every attack of a threat model (`linf`, `l2`, `words`) left correct,
    /// where two or more measured it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attack_worst_case_accuracy: MetricTable,
    /// `attack_stage_accuracy[cascade][epsilon][stage]`: the accuracy an
    /// attack cascade (`autoattack_linf`) left after each of its stages.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attack_stage_accuracy: StageTable,
    /// Membership inference, when `[[eval.privacy]]` is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<PrivacyMetrics>,
    /// Memorised canaries, when `[train.canaries]` is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canaries: Option<CanaryMetrics>,
    /// Differentially private training, when `[train.privacy]` is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dp: Option<DpMetrics>,
    /// Simulated data poisoning, when `[train.poison]` is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poison: Option<PoisonMetrics>,
    /// The poison filter, when `[train.filter]` is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<FilterMetrics>,
    /// Model extraction, when `[[eval.extraction]]` is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extraction: Option<ExtractionMetrics>,
    /// The validation split and the epoch kept, under `train.validation-share`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<ValidationMetrics>,
    /// `certification[sigma]`: randomized smoothing's certificates, when
    /// `[eval.certify]` is configured.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub certification: BTreeMap<String, CertifyMetrics>,
}

/// Randomized smoothing at one noise level σ (Cohen et al. 2019): what the
/// smoothed classifier is proven to withstand in L2.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CertifyMetrics {
    /// Test rows certified (the first ones).
    pub examples: usize,
    /// Samples that picked each row's class.
    pub n0: usize,
    /// Samples that bounded its probability.
    pub n: usize,
    /// Chance a certificate is wrong.
    pub alpha: f64,
    /// `accuracy[radius]`: share of rows classified right and certified at
    /// least that far (at radius 0: right, not abstaining).
    pub accuracy: BTreeMap<String, f64>,
    /// Share of rows the smoothed classifier abstained on.
    pub abstain_rate: f64,
    /// Average certified radius, 0 for wrong or abstained rows.
    pub mean_radius: f64,
    /// The largest radius `n` samples can certify at `alpha`.
    pub max_radius: f64,
    /// SmoothAdv on the smoothed classifier, when `[eval.certify.attack]` ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attack: Option<SmoothAttackMetrics>,
}

/// SmoothAdv (Salman et al. 2019) at one σ: what an attack on the smoothed
/// classifier itself breaks, the upper bound beside the certified lower one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SmoothAttackMetrics {
    /// Test rows attacked (the first ones; each also certified).
    pub examples: usize,
    /// PGD steps per attack.
    pub steps: usize,
    /// Noise draws averaged per step.
    pub samples: usize,
    /// `accuracy[radius]`: share of rows PREDICT classifies right after the
    /// attack at that L2 radius (at 0, unattacked: the smoothed classifier's
    /// accuracy); an abstention counts as wrong.
    pub accuracy: BTreeMap<String, f64>,
    /// `abstain[radius]`: share of rows PREDICT abstained on there.
    pub abstain: BTreeMap<String, f64>,
    /// `certified[radius]`: certified accuracy of the same rows.
    pub certified: BTreeMap<String, f64>,
}

/// What the validation split chose.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ValidationMetrics {
    /// Training rows held out (`validation.tsv` lists them), never trained on.
    pub rows: usize,
    /// The epoch whose weights the model has (1-based): the best validation
    /// accuracy (robust accuracy first under `train.select-by =
    /// "robust-accuracy"`), ties broken by lower loss.
    pub best_epoch: usize,
    /// Its validation accuracy.
    pub accuracy: f64,
    /// Its mean validation cross-entropy.
    pub loss: f64,
    /// Under `train.select-by = "robust-accuracy"`, its validation accuracy
    /// under that attack, which chose it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robust_accuracy: Option<f64>,
    /// Under `train.select-by = "robust-accuracy"`, how many of the rows
    /// that attack scored (`train.select-by-examples`, or all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robust_rows: Option<usize>,
    /// Epochs trained.
    pub epochs_trained: usize,
    /// Whether `train.patience` stopped training before `train.epochs`.
    pub stopped_early: bool,
}

/// Model extraction: what each API output mode gives a thief.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExtractionMetrics {
    /// The highest fidelity any API and budget gave a surrogate.
    pub max_fidelity: f64,
    /// Wall seconds the evaluation added.
    pub seconds: f64,
    /// By API output label (`top-1`, `top-3`, `probabilities`, `probabilities-2dp`).
    pub apis: BTreeMap<String, ApiMetrics>,
}

/// One API output mode against its budgets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiMetrics {
    /// `top-1`, `top-k` or `probabilities`.
    pub output: String,
    /// Where the queries came from: `test` or `synthetic`.
    pub queries: String,
    /// Test rows the surrogates were measured on (never queried).
    pub examples: usize,
    /// The victim's accuracy on those rows.
    pub victim_accuracy: f64,
    /// By query budget.
    pub budgets: BTreeMap<usize, BudgetMetrics>,
    /// By ε: PGD on the largest budget's surrogate, replayed on the victim (images).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub transfer: BTreeMap<String, TransferMetrics>,
    /// Wall seconds for this API.
    pub seconds: f64,
}

/// One surrogate trained from one budget's answers.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct BudgetMetrics {
    /// Queries the API answered (never above the budget).
    pub queries: usize,
    /// Share of measured rows where the surrogate predicts what the victim does.
    pub fidelity: f64,
    /// The surrogate's accuracy on the measured rows.
    pub accuracy: f64,
    /// Epochs over the answered queries.
    pub epochs: usize,
    /// Wall seconds: queries, training and measurement.
    pub seconds: f64,
}

/// Adversarial examples made on a surrogate, sent to the victim.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct TransferMetrics {
    /// The victim's accuracy on them.
    pub accuracy: f64,
    /// Share of rows the victim classified correctly that they flip.
    pub success_rate: f64,
    /// The surrogate's own accuracy on them (the white-box attack it ran).
    pub surrogate_accuracy: f64,
    /// Rows attacked.
    pub examples: usize,
    /// The budget of the surrogate attacked.
    pub budget: usize,
}

/// What the poison filter flagged, and how well, when the poison is known.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FilterMetrics {
    /// `spectral` (Tran et al. 2018).
    pub method: String,
    /// Scoring rounds (a scoring model each).
    #[serde(default = "one_round")]
    pub rounds: usize,
    /// Training rows scored.
    pub scored_rows: usize,
    /// Rows flagged as suspicious.
    pub flagged_rows: usize,
    /// Whether the flagged rows were dropped before the final training.
    pub dropped: bool,
    /// Simulated poison: the share of flagged rows that were poisoned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<f64>,
    /// Simulated poison: the share of poisoned rows flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall: Option<f64>,
    /// Simulated backdoor: its success on the scoring model, trained on the
    /// unfiltered data (the final model's is `poison.attack_success_rate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attack_success_rate_before: Option<f64>,
    /// Seconds the filter took, its model's training included.
    pub seconds: f64,
}

/// What a simulated poisoning attack achieved.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PoisonMetrics {
    /// `backdoor` or `label_flip`.
    pub attack: String,
    /// Training rows the attacker changed.
    pub poisoned_rows: usize,
    /// Their share of the training rows.
    pub rate: f64,
    /// The attacker's class, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Triggered rows kept their true label.
    pub clean_label: bool,
    /// Backdoors: the share of triggered test inputs of other classes
    /// predicted as the target class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attack_success_rate: Option<f64>,
    /// Test inputs the success rate was measured on.
    pub triggered_test_rows: usize,
}

/// What DP-SGD guaranteed: (ε, δ)-differential privacy for every training
/// row, and the settings that gave it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DpMetrics {
    /// ε spent by the last finished epoch (RDP accountant, Balle et al. 2020 conversion).
    pub epsilon: f64,
    /// δ.
    pub delta: f64,
    /// The target ε the noise was solved for, when one was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_epsilon: Option<f64>,
    /// σ: noise standard deviation over the clipping norm.
    pub noise_multiplier: f64,
    /// C: each example's gradient norm bound.
    pub max_grad_norm: f64,
    /// q: Poisson sampling rate per step.
    pub sample_rate: f64,
    /// Optimiser steps taken.
    pub steps: usize,
}

/// How much of the planted canaries the model memorised.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CanaryMetrics {
    /// Canaries per repeat count (and in the control group).
    pub per_group: usize,
    /// Training rows the canaries added.
    pub planted_rows: usize,
    /// The share a model that learnt nothing of them would answer with the
    /// planted label: 1 / classes (labels are drawn uniformly).
    pub chance: f64,
    /// `recall[repeats]`: share of that group answered with its planted
    /// label; `"0"` is the control group, never planted.
    pub recall: BTreeMap<String, f64>,
    /// `exposure[repeats]` (texts): mean `log2(candidates + 1) − log2(rank)`
    /// of the planted secret among other secrets in the same sentence.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exposure: BTreeMap<String, f64>,
    /// The largest exposure possible: `log2(candidates + 1)` (texts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_exposure: Option<f64>,
}

/// How much the model gives away about who was in its training data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PrivacyMetrics {
    /// The highest ROC AUC of any configured attack: the headline figure
    /// (0.5 is no leakage).
    pub mia_auc: f64,
    /// The highest TPR at FPR below 0.1% of any configured attack.
    pub mia_tpr_at_01pct_fpr: f64,
    /// Training rows held out as non-members (never trained on).
    pub holdout_rows: usize,
    /// Members attacked.
    pub members: usize,
    /// Non-members attacked.
    pub non_members: usize,
    /// Reference models trained for the calibrated attacks.
    pub reference_models: usize,
    /// Seconds the privacy evaluation took, reference training included.
    pub seconds: f64,
    /// Per attack (`loss`, `calibrated_loss`, `lira`).
    pub attacks: BTreeMap<String, MembershipAttackMetrics>,
}

/// One membership-inference attack's figures (Carlini et al. 2022).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MembershipAttackMetrics {
    /// ROC AUC.
    pub auc: f64,
    /// Best balanced accuracy over thresholds.
    pub balanced_accuracy: f64,
    /// TPR at FPR below 1%.
    pub tpr_at_1pct_fpr: f64,
    /// TPR at FPR below 0.1%.
    pub tpr_at_01pct_fpr: f64,
    /// Reference models used (0 for `loss`).
    pub reference_models: usize,
    /// The ROC curve as `[fpr, tpr]` pairs at log-spaced FPRs from 1e-4 to
    /// 1 (the highest TPR not exceeding each), for the report's log-log plot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roc: Vec<[f64; 2]>,
}

impl Metrics {
    /// A run's metrics from what evaluation measured; the mCE fields stay
    /// empty until `crate::mce::apply` fills them.
    pub fn new(
        run: RunInfo,
        clean: f64,
        corruption: MetricTable,
        attacks: AttackMetrics,
        training: Vec<EpochMetrics>,
    ) -> Metrics {
        Metrics {
            schema_version: METRICS_SCHEMA,
            run,
            clean_accuracy: clean,
            mean_corruption_accuracy: Metrics::mean_of(&corruption),
            corruption_accuracy: corruption,
            corruption_table: BTreeMap::new(),
            training,
            attack_accuracy: attacks.accuracy,
            attack_success_rate: attacks.success_rate,
            attack_mean_norm: attacks.mean_norm,
            attack_mean_queries: attacks.mean_queries,
            attack_worst_case_accuracy: MetricTable::new(),
            attack_stage_accuracy: attacks.stage_accuracy,
            privacy: None,
            canaries: None,
            dp: None,
            poison: None,
            filter: None,
            extraction: None,
            validation: None,
            certification: BTreeMap::new(),
            mce: None,
            relative_mce: None,
            corruption_error: BTreeMap::new(),
            mce_baseline: None,
        }
    }

    /// The mean of every entry of a corruption table.
    pub fn mean_of(table: &MetricTable) -> Option<f64> {
        let values: Vec<f64> = table.values().flat_map(|m| m.values().copied()).collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_covers_all_cells() {
        let mut t = MetricTable::new();
        t.entry("a".into()).or_default().insert("1".into(), 0.5);
        t.entry("a".into()).or_default().insert("2".into(), 0.7);
        t.entry("b".into()).or_default().insert("1".into(), 0.9);
        assert!((Metrics::mean_of(&t).expect("test setup") - 0.7).abs() < 1e-12);
        assert_eq!(Metrics::mean_of(&MetricTable::new()), None);
    }
}
