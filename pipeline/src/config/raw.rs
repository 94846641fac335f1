//! The config file as written: serde structs that reject unknown keys.
//! Fields mirror the TOML keys one to one; configs/README.md documents them.
#![allow(missing_docs)]
//!
//! Every field is optional where a default exists; [`super::resolve`] turns
//! these into a checked [`super::Plan`].

use serde::{Deserialize, Serialize};

/// The whole file.
#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawConfig {
    pub name: Option<String>,
    pub seed: Option<u64>,
    pub device: Option<String>,
    pub data: Option<RawData>,
    pub model: Option<RawModel>,
    pub train: Option<RawTrain>,
    pub eval: Option<RawEval>,
    pub gate: Option<RawGate>,
}

/// `[gate]`: fail the run (exit 1) when robustness drops against a baseline.
#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawGate {
    pub baseline: Option<String>,
    pub fail_if: Option<Vec<String>>,
}

/// `[data]`: where the tables are and how to read them.
#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawData {
    pub modality: Option<String>,
    pub train: Option<String>,
    pub test: Option<String>,
    pub path: Option<String>,
    pub split_column: Option<String>,
    pub test_fraction: Option<f64>,
    pub input_column: Option<String>,
    pub label_column: Option<String>,
    pub channels: Option<i64>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub max_pixels: Option<i64>,
    pub max_side: Option<i64>,
    pub on_bad_row: Option<String>,
    pub allow_absolute_paths: Option<bool>,
    pub protected: Option<Vec<String>>,
    pub synonyms: Option<String>,
    pub replacements: Option<String>,
    pub keyboard: Option<String>,
    pub sha256: Option<std::collections::BTreeMap<String, String>>,
}

/// `[model]`: architecture knobs; which apply depends on the modality.
#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawModel {
    pub conv_channels: Option<Vec<i64>>,
    pub kernel_size: Option<i64>,
    pub hidden: Option<i64>,
    pub dropout: Option<f64>,
    pub buckets: Option<i64>,
    pub embedding_dim: Option<i64>,
    pub ngram_min: Option<i64>,
    pub ngram_max: Option<i64>,
    pub max_features: Option<i64>,
    pub word_ngrams: Option<i64>,
    pub weighting: Option<String>,
    pub word_recognition: Option<bool>,
    pub norm: Option<String>,
}

/// `[train]`: optimisation and augmentation.
#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawTrain {
    pub epochs: Option<i64>,
    pub batch_size: Option<i64>,
    pub optimizer: Option<String>,
    pub learning_rate: Option<f64>,
    pub weight_decay: Option<f64>,
    pub momentum: Option<f64>,
    pub augment: Option<Vec<RawAugmentStep>>,
    pub checkpoint_every: Option<i64>,
    pub checkpoint_minutes: Option<f64>,
    pub validation_share: Option<f64>,
    pub patience: Option<i64>,
    pub select_by: Option<String>,
    pub select_by_examples: Option<i64>,
    pub lr_schedule: Option<String>,
    pub class_weights: Option<String>,
    pub adversarial: Option<RawAdversarial>,
    pub augmix: Option<RawAugmix>,
    pub noise: Option<RawNoise>,
    pub canaries: Option<RawCanaries>,
    pub privacy: Option<RawDp>,
    pub poison: Option<RawPoison>,
    pub filter: Option<RawFilter>,
}

/// `[train.filter]`: find and drop poisoned rows before training.
#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawFilter {
    pub method: Option<String>,
    pub expected_rate: Option<f64>,
    pub size_threshold: Option<f64>,
    pub silhouette_threshold: Option<f64>,
    pub drop: Option<bool>,
    pub rounds: Option<i64>,
}

/// `[train.poison]`: simulated data poisoning.
#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawPoison {
    pub attack: Option<String>,
    pub rate: Option<f64>,
    pub count: Option<i64>,
    pub target: Option<String>,
    pub clean_label: Option<bool>,
    pub patch_size: Option<i64>,
    pub position: Option<String>,
    pub pattern: Option<String>,
    pub opacity: Option<f64>,
    pub trigger: Option<String>,
}

/// `[train.privacy]`: DP-SGD.
#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawDp {
    pub max_grad_norm: Option<f64>,
    pub noise_multiplier: Option<f64>,
    pub epsilon: Option<f64>,
    pub delta: Option<f64>,
}

/// `[train.canaries]`: unique synthetic rows planted to measure memorisation.
#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawCanaries {
    pub count: Option<i64>,
    pub repeats: Option<Vec<i64>>,
    pub candidates: Option<i64>,
}

/// `[train.augmix]`: AugMix views with the Jensen-Shannon consistency loss.
#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawAugmix {
    pub severity: Option<i64>,
    pub jsd_weight: Option<f64>,
}

/// `[train.noise]`: Gaussian noise on every training image.
#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawNoise {
    pub sigma: Option<f64>,
    pub copies: Option<i64>,
    pub consistency: Option<RawConsistency>,
    pub macer: Option<RawMacer>,
}

/// `[train.noise.macer]`: Zhai et al.'s certified-radius loss.
#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawMacer {
    pub weight: Option<f64>,
    pub margin: Option<f64>,
    pub beta: Option<f64>,
}

/// `[train.noise.consistency]`: Jeong & Shin's consistency regulariser.
#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawConsistency {
    pub weight: Option<f64>,
    pub entropy: Option<f64>,
}

/// `[train.adversarial]`: PGD adversarial training.
#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawAdversarial {
    pub attack: Option<String>,
    pub epsilon: Option<f64>,
    pub steps: Option<i64>,
    pub step_size: Option<f64>,
    pub random_start: Option<bool>,
    pub ratio: Option<f64>,
    pub warmup_epochs: Option<i64>,
    pub ramp_epochs: Option<i64>,
    pub max_word_share: Option<f64>,
    pub max_queries: Option<i64>,
    pub samples: Option<i64>,
    pub beta: Option<f64>,
    pub awp_gamma: Option<f64>,
    pub awp_warmup_epochs: Option<i64>,
}

/// One `[[train.augment]]` entry.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawAugmentStep {
    pub op: String,
    pub severity: Option<RawSeverity>,
    pub p: Option<f64>,
}

/// `severity = 3` or `severity = [1, 3]`.
#[derive(Debug, Deserialize, Serialize, Clone, Copy)]
#[serde(untagged)]
pub enum RawSeverity {
    One(i64),
    Range([i64; 2]),
}

/// `[eval]`: what to measure after training.
#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawEval {
    pub corruptions: Option<Vec<String>>,
    pub corruption_table: Option<String>,
    pub corruption_tables: Option<std::collections::BTreeMap<String, String>>,
    pub batch_size: Option<i64>,
    pub mce_baseline: Option<String>,
    pub attacks: Option<Vec<RawAttack>>,
    pub privacy: Option<Vec<RawPrivacy>>,
    pub privacy_holdout: Option<f64>,
    pub privacy_examples: Option<i64>,
    pub extraction: Option<Vec<RawExtraction>>,
    pub certify: Option<RawCertify>,
}

/// `[eval.certify]`: certified L2 robustness by randomized smoothing.
#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawCertify {
    pub sigmas: Option<Vec<f64>>,
    pub n0: Option<i64>,
    pub n: Option<i64>,
    pub alpha: Option<f64>,
    pub examples: Option<i64>,
    pub radii: Option<Vec<f64>>,
    pub batch: Option<i64>,
    pub attack: Option<RawSmoothAttack>,
}

/// `[eval.certify.attack]`: SmoothAdv, an attack on the smoothed classifier.
#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawSmoothAttack {
    pub steps: Option<i64>,
    pub samples: Option<i64>,
    pub examples: Option<i64>,
}

/// One `[[eval.extraction]]` entry: a prediction API and the thief who queries it.
#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawExtraction {
    pub output: String,
    pub k: Option<i64>,
    pub decimals: Option<i64>,
    pub budgets: Option<Vec<i64>>,
    pub queries: Option<String>,
    pub seed_rows: Option<i64>,
    pub table: Option<String>,
    pub examples: Option<i64>,
    pub width: Option<f64>,
    pub steps: Option<i64>,
    pub transfer_epsilons: Option<Vec<f64>>,
}

/// One `[[eval.privacy]]` entry: a membership-inference attack.
#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawPrivacy {
    pub attack: String,
    pub references: Option<i64>,
    pub variance: Option<String>,
}

/// One `[[eval.attacks]]` entry.
#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawAttack {
    pub name: String,
    pub epsilons: Option<Vec<f64>>,
    pub steps: Option<i64>,
    pub step_size: Option<f64>,
    pub random_start: Option<bool>,
    pub restarts: Option<i64>,
    pub max_word_share: Option<f64>,
    pub max_queries: Option<i64>,
    pub p_init: Option<f64>,
    pub decimals: Option<i64>,
    pub targets: Option<i64>,
    pub examples: Option<i64>,
}
