//! Poison filters on a first model's representation: a backdoor leaves a
//! trace in it. A first model is trained on the data as given; within each
//! class, the rows' penultimate-layer features are judged by spectral
//! signatures (Tran, Li and Madry 2018: each row scored by its squared
//! projection on the top singular vector of the centred features, and the
//! 1.5 ε highest-scoring rows of each class flagged, ε being the share of
//! poisoned rows the filter is sized for) or by activation clustering
//! ([`super::clustering`]).

use std::fmt::Write as _;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use burn::prelude::*;

use super::Poisoning;
use crate::batch::{BatchError, EvalSetup};
use crate::config::{FilterMethod, FilterPlan, Plan, PoisonPlan};
use crate::data::Dataset;
use crate::model::readback::values;
use crate::model::{self, AnyModel, Classifier, ReadbackError};
use crate::progress::Progress;
use crate::run::metrics::FilterMetrics;
use crate::train::{self, Session, TrainError};

/// File name inside a run directory.
pub const FILTER: &str = "filter.tsv";

/// Why the filter could not run.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// The scoring model's training failed or was stopped.
    #[error("poison filter: training the scoring model: {0}")]
    Train(#[from] TrainError),
    /// A batch could not be built.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// Features could not be read back.
    #[error(transparent)]
    Readback(#[from] ReadbackError),
    /// The scoring model could not be evaluated.
    #[error(transparent)]
    Eval(#[from] crate::eval::EvalError),
    /// The model has no penultimate features.
    #[error("poison filter: this model does not expose penultimate-layer features")]
    Unsupported,
}

/// What the filter decided, row by row.
#[derive(Debug, Clone, PartialEq)]
pub struct Filtered {
    /// Each training row's score (higher: more suspicious within its class).
    pub scores: Vec<f64>,
    /// The flagged rows, sorted.
    pub flagged: Vec<usize>,
    /// The figures for metrics.json (`attack_success_rate_before` is set by the caller).
    pub metrics: FilterMetrics,
}

/// Where the scoring model trains.
pub struct Context<'a> {
    /// The run's plan: the scoring model trains as the run does.
    pub plan: &'a Plan,
    /// Classes.
    pub classes: usize,
    /// The plain device.
    pub device: &'a Device,
    /// Progress display.
    pub progress: &'a Progress,
    /// Set by a signal handler.
    pub stop: &'a AtomicBool,
}

/// A simulated attack, to measure on the scoring model (before filtering).
pub struct Simulated<'a> {
    /// The attack.
    pub plan: &'a PoisonPlan,
    /// What it did.
    pub poisoning: &'a Poisoning,
    /// The untouched test set.
    pub test: &'a Dataset,
    /// Class names.
    pub classes: &'a [String],
}

/// Trains the scoring model on `train`, scores every row and flags the
/// suspicious ones; for simulated poison, also the filter's precision and
/// recall and the attack's success on the scoring model.
pub fn run(
    filter: &FilterPlan,
    train: &Dataset,
    simulated: Option<&Simulated>,
    cx: &Context,
) -> Result<Filtered, FilterError> {
    let started = Instant::now();
    let seed = augment::seed::derive(cx.plan.seed, 0, 0, "poison-filter");
    let autodiff = cx.device.clone().autodiff();
    let setup = EvalSetup {
        eval: &cx.plan.eval,
        model: &cx.plan.model,
        text: &cx.plan.data.text.context,
        seed: cx.plan.seed,
    };
    // Each round trains a scoring model on the rows still kept and flags
    // 1.5 ε of each class among them; a row's score is from its last round.
    let mut kept: Vec<usize> = (0..train.len()).collect();
    let mut scores = vec![0.0; train.len()];
    let mut flagged = Vec::new();
    let mut asr_before = None;
    for round in 0..filter.rounds {
        cx.progress.say(&format!("poison filter: training scoring model {}/{}", round + 1, filter.rounds));
        let data = train.subset(&kept);
        let seed = augment::seed::derive(seed, round as u64, 0, "poison-filter-round");
        let first = (round == 0).then_some(simulated).flatten();
        let session = Session::of_plan(cx.plan, seed, &autodiff, cx.progress, cx.stop);
        let (features, asr) =
            match model::build_seeded(&cx.plan.model, &cx.plan.data.image, cx.classes, seed, &autodiff) {
                AnyModel::Cnn(m) => {
                    let trained = train::fit_silently(m, &data, &session)?.valid().to_device(cx.device);
                    let asr = success(&trained, first, &setup, cx.device)?;
                    (penultimate(&trained, &data, &setup, cx.device)?, asr)
                }
                AnyModel::Text(m) => {
                    let trained = train::fit_silently(m, &data, &session)?.valid().to_device(cx.device);
                    let asr = success(&trained, first, &setup, cx.device)?;
                    (penultimate(&trained, &data, &setup, cx.device)?, asr)
                }
            };
        if round == 0 {
            asr_before = asr;
        }
        let (round_scores, local) = match filter.method {
            FilterMethod::Spectral { expected_rate } => {
                let s = spectral_scores(&features, &data.labels, cx.classes);
                let f = flag(&s, &data.labels, cx.classes, expected_rate);
                (s, f)
            }
            FilterMethod::ActivationClustering { size_threshold, silhouette_threshold } => {
                let v = super::clustering::activation_clustering(
                    &features,
                    &data.labels,
                    cx.classes,
                    size_threshold,
                    silhouette_threshold,
                );
                (v.scores, v.flagged)
            }
        };
        for (&row, &s) in kept.iter().zip(&round_scores) {
            scores[row] = s;
        }
        let out: std::collections::BTreeSet<usize> = local.into_iter().map(|i| kept[i]).collect();
        flagged.extend(out.iter().copied());
        kept.retain(|r| !out.contains(r));
    }
    flagged.sort_unstable();
    let poisoning = simulated.map(|s| s.poisoning);
    let (precision, recall) = match poisoning {
        Some(p) => {
            let poisoned: std::collections::BTreeSet<usize> = p.rows.iter().map(|r| r.row).collect();
            let hits = flagged.iter().filter(|r| poisoned.contains(r)).count() as f64;
            (Some(hits / flagged.len().max(1) as f64), Some(hits / poisoned.len().max(1) as f64))
        }
        None => (None, None),
    };
    let metrics = FilterMetrics {
        method: filter.method.name().to_owned(),
        rounds: filter.rounds,
        scored_rows: train.len(),
        flagged_rows: flagged.len(),
        dropped: filter.drop,
        precision,
        recall,
        attack_success_rate_before: asr_before,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok(Filtered { scores, flagged, metrics })
}

/// The backdoor's success on `model`, when one was simulated.
fn success<M: Classifier>(
    model: &M,
    simulated: Option<&Simulated>,
    setup: &EvalSetup,
    device: &Device,
) -> Result<Option<f64>, FilterError> {
    let Some(s) = simulated else { return Ok(None) };
    let m = super::evaluate(model, s.plan, s.poisoning, s.test, s.classes, setup, device)?;
    Ok(m.attack_success_rate)
}

/// Every row's penultimate features, row-major `[n][width]`.
fn penultimate<M: Classifier>(
    model: &M,
    data: &Dataset,
    setup: &EvalSetup,
    device: &Device,
) -> Result<Vec<Vec<f64>>, FilterError> {
    let rows: Vec<usize> = (0..data.len()).collect();
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(setup.eval.batch_size) {
        let host = setup.clean_batch(data, chunk, model)?;
        let f = model.penultimate(host.input.to_device(device)).ok_or(FilterError::Unsupported)?;
        let [n, width] = f.dims();
        let flat = values::<f32, 2, Float>(f, n * width, "penultimate features")?;
        out.extend(flat.chunks_exact(width).map(|r| r.iter().map(|&v| f64::from(v)).collect::<Vec<_>>()));
    }
    Ok(out)
}

/// Tran et al.'s score of every row: within its class, the squared
/// projection of its centred features on the top right singular vector.
pub fn spectral_scores(features: &[Vec<f64>], labels: &[usize], classes: usize) -> Vec<f64> {
    let mut scores = vec![0.0; features.len()];
    for class in 0..classes {
        let rows: Vec<usize> = (0..features.len()).filter(|&r| labels[r] == class).collect();
        if rows.len() < 2 {
            continue;
        }
        let width = features[rows[0]].len();
        let mut mean = vec![0.0; width];
        for &r in &rows {
            for (m, v) in mean.iter_mut().zip(&features[r]) {
                *m += v / rows.len() as f64;
            }
        }
        let centred: Vec<Vec<f64>> =
            rows.iter().map(|&r| features[r].iter().zip(&mean).map(|(v, m)| v - m).collect()).collect();
        let v = top_singular_vector(&centred, width);
        for (&r, x) in rows.iter().zip(&centred) {
            let p: f64 = x.iter().zip(&v).map(|(a, b)| a * b).sum();
            scores[r] = p * p;
        }
    }
    scores
}

/// The top right singular vector of the rows of `m` (unit length): the
/// leading eigenvector of mᵀm.
fn top_singular_vector(m: &[Vec<f64>], width: usize) -> Vec<f64> {
    let start = (0..width).map(|i| 1.0 + (i as f64) * 1e-3).collect();
    super::linalg::top_eigenvector(&super::linalg::gram(m, width), width, start).0
}

/// The ⌈1.5 ε n_c⌉ highest-scoring rows of each class, sorted.
pub fn flag(scores: &[f64], labels: &[usize], classes: usize, expected_rate: f64) -> Vec<usize> {
    let mut out = Vec::new();
    for class in 0..classes {
        let mut rows: Vec<usize> = (0..scores.len()).filter(|&r| labels[r] == class).collect();
        let k = ((1.5 * expected_rate * rows.len() as f64).ceil() as usize).min(rows.len());
        rows.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        out.extend_from_slice(&rows[..k]);
    }
    out.sort_unstable();
    out
}

/// `filter.tsv`: every row's class and score, and whether it was flagged
/// (and, for simulated poison, poisoned).
pub fn render(f: &Filtered, labels: &[usize], classes: &[String], poisoning: Option<&Poisoning>) -> String {
    let flagged: std::collections::BTreeSet<usize> = f.flagged.iter().copied().collect();
    let poisoned: std::collections::BTreeSet<usize> =
        poisoning.map(|p| p.rows.iter().map(|r| r.row).collect()).unwrap_or_default();
    let mut out = String::from("row\tlabel\tscore\tflagged");
    out.push_str(if poisoning.is_some() { "\tpoisoned\n" } else { "\n" });
    for (r, score) in f.scores.iter().enumerate() {
        let label = classes[labels[r]].replace(['\t', '\n'], " ");
        let _ = write!(out, "{r}\t{label}\t{score:.6e}\t{}", flagged.contains(&r));
        if poisoning.is_some() {
            let _ = write!(out, "\t{}", poisoned.contains(&r));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_off_the_main_direction_score_highest_and_are_flagged_per_class() {
        // Class 0: 40 rows near the origin with small noise, 4 shifted far along one axis.
        let mut features = Vec::new();
        let mut labels = Vec::new();
        let mut rng = augment::seed::rng(3);
        for i in 0..44 {
            use rand::Rng;
            let mut f: Vec<f64> = (0..6).map(|_| rng.random_range(-0.1..0.1)).collect();
            if i >= 40 {
                f[2] += 5.0;
            }
            features.push(f);
            labels.push(0);
        }
        // Class 1: a few rows, scored within their own class only.
        for i in 0..10 {
            features.push(vec![f64::from(i); 6]);
            labels.push(1);
        }
        let scores = spectral_scores(&features, &labels, 2);
        let flagged = flag(&scores, &labels, 2, 0.06);
        // ⌈1.5 · 0.06 · 44⌉ = 4 of class 0, ⌈1.5 · 0.06 · 10⌉ = 1 of class 1.
        assert_eq!(&flagged[..4], &[40, 41, 42, 43]);
        assert_eq!(flagged.len(), 5);
        assert!(flagged[4] >= 44);
    }

    #[test]
    fn the_top_singular_vector_is_found() {
        // Rows along (3, 4)/5 with a little orthogonal spread.
        let m: Vec<Vec<f64>> =
            (0..20).map(|i| f64::from(i) - 9.5).map(|t| vec![0.6 * t - 0.01 * t.signum(), 0.8 * t]).collect();
        let v = top_singular_vector(&m, 2);
        let cos = (v[0] * 0.6 + v[1] * 0.8).abs();
        assert!(cos > 0.9999, "{v:?}");
    }
}
