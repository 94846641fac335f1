//! Evaluation: clean accuracy and accuracy under every configured corruption
//! at every severity 1..=5, on a model in evaluation mode; the configured
//! attacks (`crate::attack`) and the examples the report shows.

pub mod examples;
pub mod shard;

use augment::Severity;
use burn::prelude::*;

use crate::attack::{self, AttackError, AttackTable};
pub use crate::batch::EvalSetup;
use crate::batch::{self, BatchError, Perturbation};
use crate::data::Dataset;
use crate::model::{Classifier, ReadbackError, predict_batch};
use crate::progress::Progress;
use crate::run::metrics::MetricTable;
use shard::{Cell, Cells};

/// Why a model could not be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A result could not be read back from the device.
    #[error(transparent)]
    Readback(#[from] ReadbackError),
    /// A batch could not be built.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// An attack failed.
    #[error(transparent)]
    Attack(#[from] AttackError),
    /// An example image did not have its set's shape.
    #[error(transparent)]
    Image(#[from] augment::image::ImageError),
}

/// Predicted class per example.
pub fn predict<M: Classifier>(
    model: &M,
    data: &Dataset,
    perturb: Perturbation,
    setup: &EvalSetup,
    device: &Device,
) -> Result<Vec<usize>, EvalError> {
    let rows: Vec<usize> = (0..data.len()).collect();
    let mut out = Vec::with_capacity(data.len());
    // The next batches are perturbed on the data pool while the model
    // predicts this one.
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel(PREFETCH);
        let rows = &rows;
        scope.spawn(move || {
            for chunk in rows.chunks(setup.eval.batch_size) {
                let host =
                    batch::build(data, chunk, perturb, setup.model, model.lexicon().as_deref(), setup.text);
                let failed = host.is_err();
                if tx.send(host).is_err() || failed {
                    break;
                }
            }
        });
        for host in rx {
            out.extend(predict_batch(model, &host?.input, device)?);
        }
        Ok(out)
    })
}

/// Evaluation batches prepared ahead of the model.
const PREFETCH: usize = 2;

/// Share of `predictions` equal to the labels.
pub fn accuracy(predictions: &[usize], labels: &[usize]) -> f64 {
    let hits = predictions.iter().zip(labels).filter(|(p, l)| p == l).count();
    hits as f64 / labels.len().max(1) as f64
}

/// Clean accuracy and the corruption table, for the `cells` asked for
/// (clean accuracy is `None` when its cell is not). `model` must be in
/// evaluation mode (`Module::valid`), so dropout and batch statistics are
/// frozen.
pub fn evaluate<M: Classifier>(
    model: &M,
    test: &Dataset,
    setup: &EvalSetup,
    device: &Device,
    progress: &Progress,
    cells: &Cells,
) -> Result<(Option<f64>, MetricTable), EvalError> {
    let plan = setup.eval;
    let corruption =
        |name: &str, severity: Severity| Cell::Corruption { op: name.to_owned(), severity: severity.level() };
    let steps = usize::from(cells.has(&Cell::Clean))
        + plan
            .corruptions
            .iter()
            .flat_map(|&n| Severity::all().map(move |s| (n, s)))
            .filter(|&(n, s)| cells.has(&corruption(n, s)))
            .count();
    let bar = progress.bar(steps as u64, "evaluate");
    let clean = if cells.has(&Cell::Clean) {
        let acc = accuracy(&predict(model, test, Perturbation::None, setup, device)?, &test.labels);
        bar.inc(1);
        Some(acc)
    } else {
        None
    };
    let mut table = MetricTable::new();
    for &name in &plan.corruptions {
        for severity in Severity::all() {
            if !cells.has(&corruption(name, severity)) {
                continue;
            }
            bar.set_message(format!("{name} severity {severity}"));
            let perturb =
                Perturbation::Op { name, severity, table: setup.eval.table(name), seed: setup.seed };
            let acc = accuracy(&predict(model, test, perturb, setup, device)?, &test.labels);
            table.entry(name.to_owned()).or_default().insert(severity.to_string(), acc);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    Ok((clean, table))
}

/// The configured attacks' `cells` on an evaluation-mode `model`.
pub fn attacks<M: Classifier>(
    model: &M,
    test: &Dataset,
    setup: &EvalSetup,
    device: &Device,
    progress: &Progress,
    cells: &Cells,
) -> Result<AttackTable, EvalError> {
    let keep = |attack: &str, epsilon: f64| cells.has(&Cell::attack(attack, epsilon));
    Ok(attack::run_all(model, test, setup, device, progress, &keep)?)
}
