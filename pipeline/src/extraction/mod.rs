//! Model extraction (Tramèr et al. 2016; Orekondy et al. 2019, Knockoff
//! Nets): a thief who can only query the model's API trains a copy from the
//! answers. For each configured API output mode and query budget, Temper
//! plays the thief: it asks the API (which applies the output hardening and
//! counts every query), trains a surrogate of the victim's family with its
//! own training code on the answers (soft targets where they carry more than
//! a label), and measures the surrogate's fidelity (agreement with the
//! victim) and accuracy on test rows that were never queried. Transfer: PGD
//! on the largest surrogate, replayed on the victim, shows why a stolen copy
//! matters for security and not only for revenue.

pub mod queries;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use burn::prelude::*;

use crate::attack::api::{Answer, Api, ApiError};
use crate::attack::white_box;
use crate::batch::{self, BatchError, EvalSetup, Perturbation};
use crate::config::{
    Attack, AttackKind, AugmentPolicy, ClassWeights, DataPlan, ExtractionPlan, ImageSpec, ModelPlan, Plan,
    QueryPool, Schedule, TrainPlan,
};
use crate::data::Dataset;
use crate::eval;
use crate::model::{self, AnyModel, Classifier, ModelInput, ReadbackError, predicted_classes};
use crate::progress::Progress;
use crate::run::metrics::{ApiMetrics, BudgetMetrics, ExtractionMetrics, TransferMetrics};
use crate::train::{self, Session, SoftTargets, TrainError};

/// Why the extraction evaluation could not finish, or cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ExtractionError {
    /// The query pool cannot supply what the config asks.
    #[error("`{key}`: {message}")]
    Pool {
        /// The config key.
        key: String,
        /// What does not fit.
        message: String,
    },
    /// A query table could not be read.
    #[error("`{key}`: {source}")]
    Table {
        /// The config key.
        key: String,
        /// Why.
        source: Box<crate::data::DataError>,
    },
    /// A batch could not be built.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// Predictions could not be read back.
    #[error(transparent)]
    Readback(#[from] ReadbackError),
    /// The victim or a surrogate could not be evaluated.
    #[error(transparent)]
    Eval(#[from] eval::EvalError),
    /// The API refused a query (a budget overrun would be a bug here).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A surrogate's training stopped (a signal, a NaN loss).
    #[error("training the {output} surrogate for {budget} queries: {source}")]
    Surrogate {
        /// The API's output mode.
        output: String,
        /// The query budget.
        budget: usize,
        /// What stopped it.
        source: TrainError,
    },
}

/// Reads each `queries = "table"` pool (the data's input column), in plan
/// order; `None` for the other pools.
pub fn load_tables(
    plans: &[ExtractionPlan],
    data: &DataPlan,
) -> Result<Vec<Option<Dataset>>, ExtractionError> {
    plans
        .iter()
        .enumerate()
        .map(|(i, p)| match &p.queries {
            QueryPool::Table { path } => {
                crate::data::load_inputs(path, data).map(Some).map_err(|source| ExtractionError::Table {
                    key: format!("eval.extraction[{i}].table"),
                    source: Box::new(source),
                })
            }
            _ => Ok(None),
        })
        .collect()
}

/// Where `plan`'s queries come from: its table, or the test rows it does not measure.
fn source<'a>(
    plan: &ExtractionPlan,
    test: &'a Dataset,
    table: Option<&'a Dataset>,
) -> Result<queries::Source<'a>, ExtractionError> {
    match (&plan.queries, table) {
        (QueryPool::Table { .. }, Some(t)) => Ok(queries::Source { data: t, skip: 0 }),
        (QueryPool::Table { path }, None) => Err(ExtractionError::Pool {
            key: "eval.extraction.table".to_owned(),
            message: format!("{} was not loaded", path.display()),
        }),
        _ => Ok(queries::Source { data: test, skip: plan.examples }),
    }
}

/// Refuses, before a run directory exists, budgets the query pool cannot
/// supply and measurement sets the test split cannot hold. `tables` are
/// [`load_tables`]'s.
pub fn check(
    plans: &[ExtractionPlan],
    test: &Dataset,
    tables: &[Option<Dataset>],
) -> Result<(), ExtractionError> {
    for (i, p) in plans.iter().enumerate() {
        let key = |k: &str| format!("eval.extraction[{i}].{k}");
        let from_test = !matches!(p.queries, QueryPool::Table { .. });
        if from_test && p.examples >= test.len() {
            return Err(ExtractionError::Pool {
                key: key("examples"),
                message: format!(
                    "{} test rows measure the surrogates, but the test set has {}; keep some rows for queries",
                    p.examples,
                    test.len()
                ),
            });
        }
        let rows = source(p, test, tables.get(i).and_then(Option::as_ref))?.rows();
        match p.queries {
            QueryPool::Synthetic { seed_rows } if seed_rows > rows => {
                return Err(ExtractionError::Pool {
                    key: key("seed-rows"),
                    message: format!("{seed_rows} seed rows, but only {rows} test rows are not measured"),
                });
            }
            QueryPool::Synthetic { .. } => {}
            QueryPool::Test | QueryPool::Table { .. } => {
                if let Some((j, &b)) = p.budgets.iter().enumerate().find(|&(_, &b)| b > rows) {
                    let pool = if from_test {
                        format!("{rows} test rows (the test set less the {} measured)", p.examples)
                    } else {
                        format!("{rows} rows in its table")
                    };
                    return Err(ExtractionError::Pool {
                        key: format!("eval.extraction[{i}].budgets[{j}]"),
                        message: format!(
                            "{b} queries, but the pool holds {pool}; lower the budget or use `queries = \"synthetic\"`"
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}

/// What the evaluation needs besides the victim.
pub struct Context<'a> {
    /// The run's plan: the victim's family and training recipe.
    pub plan: &'a Plan,
    /// The test split: measured rows and the query pool.
    pub test: &'a Dataset,
    /// [`load_tables`]'s query tables.
    pub tables: &'a [Option<Dataset>],
    /// Classes the victim predicts.
    pub classes: usize,
    /// The plain device (inference).
    pub device: &'a Device,
    /// Progress display.
    pub progress: &'a Progress,
    /// Set by a signal handler.
    pub stop: &'a AtomicBool,
}

/// Plays the thief against the evaluation-mode `victim` for every configured API.
pub fn evaluate<M: Classifier>(
    victim: &M,
    plans: &[ExtractionPlan],
    cx: &Context,
) -> Result<ExtractionMetrics, ExtractionError> {
    let started = Instant::now();
    let setup = EvalSetup {
        eval: &cx.plan.eval,
        model: &cx.plan.model,
        text: &cx.plan.data.text.context,
        seed: cx.plan.seed,
    };
    let mut apis = BTreeMap::new();
    for (i, plan) in plans.iter().enumerate() {
        let began = Instant::now();
        let label = plan.output.label();
        let rows = queries::measured(plan, cx.test);
        let measured = cx.test.subset(&rows);
        let truth = &measured.labels;
        let victim_says = eval::predict(victim, &measured, Perturbation::None, &setup, cx.device)?;
        let largest = plan.budgets.last().copied().unwrap_or(0);
        let from = source(plan, cx.test, cx.tables.get(i).and_then(Option::as_ref))?;
        let pool = queries::make(plan, from, largest, cx.plan.seed)?;
        let mut budgets = BTreeMap::new();
        let mut last: Option<AnyModel> = None;
        for &budget in &plan.budgets {
            cx.progress.say(&format!("extraction: {label} API, {budget} queries"));
            let t = Instant::now();
            let asked: Vec<usize> = (0..budget).collect();
            let mut api = Api::new(victim, plan.output, Some(budget), cx.device);
            let answers = ask(&mut api, &pool, &asked, &setup)?;
            let mut stolen = pool.subset(&asked);
            stolen.labels = answers.iter().map(Answer::top).collect();
            let soft = soft_targets(&answers, cx.classes);
            let (surrogate, epochs) = steal(plan, &stolen, &soft, budget, cx)?;
            let copy_says = match &surrogate {
                AnyModel::Cnn(m) => eval::predict(m, &measured, Perturbation::None, &setup, cx.device)?,
                AnyModel::Text(m) => eval::predict(m, &measured, Perturbation::None, &setup, cx.device)?,
            };
            budgets.insert(
                budget,
                BudgetMetrics {
                    queries: api.spent(),
                    fidelity: agreement(&copy_says, &victim_says),
                    accuracy: agreement(&copy_says, truth),
                    epochs,
                    seconds: t.elapsed().as_secs_f64(),
                },
            );
            last = Some(surrogate);
        }
        let mut transfer = BTreeMap::new();
        if let Some(AnyModel::Cnn(surrogate)) = &last {
            let n = rows.len().min(TRANSFER_EXAMPLES);
            for &eps in &plan.transfer_epsilons {
                cx.progress.say(&format!(
                    "extraction: PGD ε={eps} on the {label} surrogate, replayed on the victim"
                ));
                let mut t = transferred(surrogate, victim, cx.test, &rows[..n], eps, &setup, cx.device)?;
                t.budget = largest;
                transfer.insert(crate::attack::epsilon_key(eps), t);
            }
        }
        apis.insert(
            label,
            ApiMetrics {
                output: plan.output.kind().to_owned(),
                queries: plan.queries.name().to_owned(),
                examples: rows.len(),
                victim_accuracy: agreement(&victim_says, truth),
                budgets,
                transfer,
                seconds: began.elapsed().as_secs_f64(),
            },
        );
    }
    let max_fidelity =
        apis.values().flat_map(|a| a.budgets.values().map(|b| b.fidelity)).fold(f64::NAN, f64::max);
    Ok(ExtractionMetrics { max_fidelity, seconds: started.elapsed().as_secs_f64(), apis })
}

/// Test rows attacked for transfer, at most.
const TRANSFER_EXAMPLES: usize = 1000;

/// The API's answers to `rows` of `pool`, asked in evaluation batches.
fn ask<M: Classifier>(
    api: &mut Api<M>,
    pool: &Dataset,
    rows: &[usize],
    setup: &EvalSetup,
) -> Result<Vec<Answer>, ExtractionError> {
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(setup.eval.batch_size) {
        let host = setup.clean_batch(pool, chunk, api.model())?;
        out.extend(api.ask(&host.input)?);
    }
    Ok(out)
}

/// The training target each answer gives the thief: a one-hot of the first
/// label, also for ranked `top-k` labels (putting any mass on the lower ranks
/// lowered the copy's fidelity: on the bundled messages at 100 queries, 0.89
/// with none, 0.85 with 10%, 0.69 with weights falling linearly with rank);
/// probabilities renormalised after rounding (uniform if every one rounded to
/// zero: the answer said nothing).
pub fn soft_targets(answers: &[Answer], classes: usize) -> SoftTargets {
    let mut values = vec![0f32; answers.len() * classes];
    for (row, a) in values.chunks_mut(classes).zip(answers) {
        match a {
            Answer::Labels(labels) => {
                if let Some(&first) = labels.first() {
                    row[first] = 1.0;
                }
            }
            Answer::Probabilities(p) => {
                let sum: f32 = p.iter().sum();
                for (v, &q) in row.iter_mut().zip(p) {
                    *v = if sum > 0.0 { q / sum } else { 1.0 / classes as f32 };
                }
            }
        }
    }
    SoftTargets { classes, values }
}

/// The share of positions where `a` and `b` agree (fidelity against the
/// victim's predictions, accuracy against the labels).
pub fn agreement(a: &[usize], b: &[usize]) -> f64 {
    if a.is_empty() { f64::NAN } else { eval::accuracy(a, b) }
}

/// The victim's family at `width` times its layer widths.
pub fn surrogate_model(plan: &ModelPlan, width: f64) -> ModelPlan {
    let scale = |n: usize| ((n as f64 * width).round() as usize).max(1);
    match plan {
        ModelPlan::Cnn(p) => {
            let mut p = p.clone();
            p.conv_channels = p.conv_channels.iter().map(|&c| scale(c)).collect();
            p.hidden = scale(p.hidden);
            ModelPlan::Cnn(p)
        }
        ModelPlan::Text(p) => {
            let mut p = p.clone();
            // A linear model (hidden 0) stays linear: one weight per class and feature.
            if p.hidden > 0 {
                p.embedding_dim = scale(p.embedding_dim);
                p.hidden = scale(p.hidden);
            }
            ModelPlan::Text(p)
        }
    }
}

/// The thief's recipe: the victim's optimiser and batch size, plain steps
/// (no augmentation, DP-SGD or adversarial training), `steps` optimiser
/// steps in whole epochs over `rows` answered queries.
pub fn surrogate_training(train: &TrainPlan, steps: usize, rows: usize) -> TrainPlan {
    let per_epoch = rows.div_ceil(train.batch_size).max(1);
    let augment = match &train.augment {
        AugmentPolicy::Image(_) => AugmentPolicy::Image(augment::Policy::default()),
        AugmentPolicy::Text(_) => AugmentPolicy::Text(Box::default()),
    };
    TrainPlan {
        epochs: steps.div_ceil(per_epoch).max(1),
        augment,
        checkpoint_every: None,
        adversarial: None,
        augmix: None,
        noise: None,
        canaries: None,
        privacy: None,
        poison: None,
        filter: None,
        // A thief trains a fixed number of steps on all the answers it bought.
        validation: None,
        schedule: Schedule::Constant,
        class_weights: ClassWeights::None,
        ..train.clone()
    }
}

/// Trains the surrogate on `stolen` with `soft` targets; with its epochs.
fn steal(
    plan: &ExtractionPlan,
    stolen: &Dataset,
    soft: &SoftTargets,
    budget: usize,
    cx: &Context,
) -> Result<(AnyModel, usize), ExtractionError> {
    let seed =
        augment::seed::derive(cx.plan.seed, budget as u64, 0, &format!("extraction-{}", plan.output.label()));
    let model_plan = surrogate_model(&cx.plan.model, plan.width);
    let train_plan = surrogate_training(&cx.plan.train, plan.steps, stolen.len());
    let autodiff = cx.device.clone().autodiff();
    let session = Session {
        plan: &train_plan,
        model_plan: &model_plan,
        seed,
        device: &autodiff,
        progress: cx.progress,
        stop: cx.stop,
        soft_targets: Some(soft),
    };
    let fail = |source| ExtractionError::Surrogate { output: plan.output.label(), budget, source };
    let image: &ImageSpec = &cx.plan.data.image;
    let trained = match model::build_seeded(&model_plan, image, cx.classes, seed, &autodiff) {
        AnyModel::Cnn(m) => AnyModel::Cnn(train::fit_silently(m, stolen, &session).map_err(fail)?.valid()),
        AnyModel::Text(m) => AnyModel::Text(train::fit_silently(m, stolen, &session).map_err(fail)?.valid()),
    };
    Ok((trained, train_plan.epochs))
}

/// PGD-10 (L∞, step ε/4, random start) against `surrogate` on `rows`, and
/// the victim's accuracy on the result.
fn transferred<S: Classifier, V: Classifier>(
    surrogate: &S,
    victim: &V,
    test: &Dataset,
    rows: &[usize],
    epsilon: f64,
    setup: &EvalSetup,
    device: &Device,
) -> Result<TransferMetrics, ExtractionError> {
    let attack = Attack::new(AttackKind::PgdLinf, epsilon, 10, 0.25, true, 1);
    let frozen = surrogate.clone().to_device(&device.clone().autodiff()).freeze();
    let (mut victim_hits, mut copy_hits, mut clean_hits, mut flipped) = (0usize, 0usize, 0usize, 0usize);
    for (b, chunk) in rows.chunks(setup.eval.batch_size).enumerate() {
        // Images only: no lexicon.
        let host = batch::build(test, chunk, Perturbation::None, setup.model, None, setup.text)?;
        let ModelInput::Images(x) = host.input.to_device(device) else {
            return Err(BatchError::Mismatch { what: "a transfer attack", data: "text" }.into());
        };
        let n = host.labels.len();
        let y = Tensor::<1, Int>::from_data(TensorData::new(host.labels.clone(), [n]), device);
        let seed = augment::seed::derive(setup.seed, b as u64, epsilon.to_bits(), "extraction-transfer");
        let adv = white_box::perturb(&frozen, x.clone(), y, &attack, seed)?;
        let clean = predicted_classes(victim.logits(ModelInput::Images(x)))?;
        let on_victim = predicted_classes(victim.logits(ModelInput::Images(adv.clone())))?;
        let on_copy = predicted_classes(surrogate.logits(ModelInput::Images(adv)))?;
        for (((c, v), s), &label) in clean.iter().zip(&on_victim).zip(&on_copy).zip(&host.labels) {
            let label = label as usize;
            clean_hits += usize::from(*c == label);
            victim_hits += usize::from(*v == label);
            copy_hits += usize::from(*s == label);
            flipped += usize::from(*c == label && *v != label);
        }
    }
    let n = rows.len().max(1) as f64;
    Ok(TransferMetrics {
        accuracy: victim_hits as f64 / n,
        success_rate: if clean_hits == 0 { 0.0 } else { flipped as f64 / clean_hits as f64 },
        surrogate_accuracy: copy_hits as f64 / n,
        examples: rows.len(),
        budget: 0,
    })
}
