//! Evaluation: clean accuracy and accuracy under every configured corruption
//! at every severity 1..=5, on a model in evaluation mode.

use augment::Severity;
use augment::text::TextContext;
use burn::prelude::*;

use crate::batch::{self, Perturbation};
use crate::config::{EvalPlan, ModelPlan};
use crate::data::Dataset;
use crate::model::{Classifier, HostInput};
use crate::progress::Progress;
use crate::run::metrics::CorruptionTable;

/// What evaluation needs besides the model and data.
#[derive(Debug, Clone, Copy)]
pub struct EvalSetup<'a> {
    /// Corruptions and batch size.
    pub eval: &'a EvalPlan,
    /// The model's plan (for text featurisation).
    pub model: &'a ModelPlan,
    /// Protected spans and tables for text operations.
    pub text: &'a TextContext,
    /// Run seed: corrupted test sets depend on it only.
    pub seed: u64,
}

/// Predicted class per example.
pub fn predict<M: Classifier>(
    model: &M,
    data: &Dataset,
    perturb: Perturbation,
    setup: &EvalSetup,
    device: &Device,
) -> Vec<usize> {
    let rows: Vec<usize> = (0..data.len()).collect();
    let mut out = Vec::with_capacity(data.len());
    for chunk in rows.chunks(setup.eval.batch_size) {
        let host = batch::build(data, chunk, perturb, setup.model, setup.text);
        out.extend(predict_batch(model, &host.input, device));
    }
    out
}

/// Predicted class per example of one host batch.
pub fn predict_batch<M: Classifier>(model: &M, input: &HostInput, device: &Device) -> Vec<usize> {
    let logits = model.logits(input.to_device(device));
    let pred: Vec<i64> =
        logits.argmax(1).into_data().convert::<i64>().try_to_vec::<i64>().unwrap_or_default();
    pred.into_iter().map(|p| p as usize).collect()
}

/// Share of `predictions` equal to the labels.
pub fn accuracy(predictions: &[usize], labels: &[usize]) -> f64 {
    let hits = predictions.iter().zip(labels).filter(|(p, l)| p == l).count();
    hits as f64 / labels.len().max(1) as f64
}

/// Clean accuracy and the corruption table. `model` must be in evaluation
/// mode (`Module::valid`), so dropout and batch statistics are frozen.
pub fn evaluate<M: Classifier>(
    model: &M,
    test: &Dataset,
    setup: &EvalSetup,
    device: &Device,
    progress: &Progress,
) -> (f64, CorruptionTable) {
    let plan = setup.eval;
    let bar = progress.bar((1 + plan.corruptions.len() * 5) as u64, "evaluate");
    let clean = accuracy(&predict(model, test, Perturbation::None, setup, device), &test.labels);
    bar.inc(1);
    let mut table = CorruptionTable::new();
    for &name in &plan.corruptions {
        for severity in Severity::all() {
            bar.set_message(format!("{name} severity {severity}"));
            let perturb = Perturbation::Op { name, severity, seed: setup.seed };
            let acc = accuracy(&predict(model, test, perturb, setup, device), &test.labels);
            table.entry(name.to_owned()).or_default().insert(severity.to_string(), acc);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    (clean, table)
}
