//! Privacy leakage: membership inference against the trained model.
//!
//! A seeded share of the training table is held out before training
//! ([`membership`]); after training, seeded samples of members and of
//! held-out rows are scored by each configured attack ([`scores`]) and
//! judged by their ROC ([`roc`]). The calibrated attacks compare the model
//! with reference models that Temper trains itself, with the run's plan,
//! device and data pipeline, on random subsets of the rows that are not
//! targets (as many as the model trained on, at most half of them), so
//! every reference is an "out" model for every target.

pub mod canaries;
pub mod membership;
pub mod roc;
pub mod scores;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use burn::prelude::*;
use rand::seq::SliceRandom;

use crate::batch::{BatchError, EvalSetup};
use crate::config::{Plan, PrivacyAttackKind, PrivacyPlan};
use crate::data::Dataset;
use crate::model::readback::values;
use crate::model::{self, AnyModel, Classifier, ReadbackError};
use crate::progress::Progress;
use crate::run::metrics::{MembershipAttackMetrics, PrivacyMetrics};
use crate::train::{self, Session, TrainError};
pub use membership::{MEMBERSHIP, Membership};
use scores::ExampleStats;

/// Why the privacy evaluation could not finish.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// A batch could not be built.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// Logits could not be read back.
    #[error(transparent)]
    Readback(#[from] ReadbackError),
    /// A reference model's training stopped (a signal, a NaN loss).
    #[error("training reference model {index}: {source}")]
    Reference {
        /// 1-based.
        index: usize,
        /// What stopped it.
        source: TrainError,
    },
}

/// What the evaluation needs besides the model.
pub struct Context<'a> {
    /// The whole plan: references train as the run did.
    pub plan: &'a Plan,
    /// The training table as loaded, held-out rows included.
    pub table: &'a Dataset,
    /// Who is a member.
    pub membership: &'a Membership,
    /// Classes the model predicts.
    pub classes: usize,
    /// The plain device (inference).
    pub device: &'a Device,
    /// Progress display.
    pub progress: &'a Progress,
    /// Set by a signal handler.
    pub stop: &'a AtomicBool,
}

/// Scores the evaluation-mode `model` with every configured attack.
pub fn evaluate<M: Classifier>(
    model: &M,
    privacy: &PrivacyPlan,
    cx: &Context,
) -> Result<PrivacyMetrics, PrivacyError> {
    let started = Instant::now();
    let m = cx.membership;
    let setup = EvalSetup {
        eval: &cx.plan.eval,
        model: &cx.plan.model,
        text: &cx.plan.data.text.context,
        seed: cx.plan.seed,
    };
    let targets: Vec<usize> = m.member_targets.iter().chain(&m.non_member_targets).copied().collect();
    let n_members = m.member_targets.len();
    let target = example_stats(model, cx.table, &targets, &setup, cx.device)?;
    let mut references: Vec<Vec<ExampleStats>> = Vec::new();
    let pool = m.reference_pool();
    for k in 0..privacy.references() {
        cx.progress.say(&format!("privacy: training reference model {}/{}", k + 1, privacy.references()));
        references.push(reference(cx, &pool, &targets, k, &setup)?);
    }
    let mut attacks = BTreeMap::new();
    for attack in &privacy.attacks {
        let refs = &references[..attack.references];
        let scores = match attack.kind {
            PrivacyAttackKind::Loss => scores::loss(&target),
            PrivacyAttackKind::CalibratedLoss => scores::calibrated_loss(&target, refs),
            PrivacyAttackKind::Lira => scores::lira_offline(&target, refs, attack.variance),
        };
        let r = roc::roc(&scores[..n_members], &scores[n_members..]);
        attacks.insert(
            attack.kind.name().to_owned(),
            MembershipAttackMetrics {
                auc: r.auc,
                balanced_accuracy: r.balanced_accuracy,
                tpr_at_1pct_fpr: r.tpr_at_1pct_fpr,
                tpr_at_01pct_fpr: r.tpr_at_01pct_fpr,
                reference_models: attack.references,
                roc: roc::thinned(&r.curve, 1e-4, 10).into_iter().map(|p| [p.fpr, p.tpr]).collect(),
            },
        );
    }
    let best = |f: fn(&MembershipAttackMetrics) -> f64| attacks.values().map(f).fold(f64::NAN, f64::max);
    Ok(PrivacyMetrics {
        mia_auc: best(|a| a.auc),
        mia_tpr_at_01pct_fpr: best(|a| a.tpr_at_01pct_fpr),
        holdout_rows: m.held_out.len(),
        members: n_members,
        non_members: m.non_member_targets.len(),
        reference_models: privacy.references(),
        seconds: started.elapsed().as_secs_f64(),
        attacks,
    })
}

/// Loss and confidence of `model` on `rows` of `data`, unperturbed.
fn example_stats<M: Classifier>(
    model: &M,
    data: &Dataset,
    rows: &[usize],
    setup: &EvalSetup,
    device: &Device,
) -> Result<Vec<ExampleStats>, PrivacyError> {
    let mut out = Vec::with_capacity(rows.len());
    for_logits(model, data, rows, setup, device, |chunk, flat, classes| {
        let labels: Vec<usize> = chunk.iter().map(|&r| data.labels[r]).collect();
        out.extend(scores::stats(flat, classes, &labels));
    })?;
    Ok(out)
}

/// Calls `each` with every batch of `rows` (unperturbed), its logits
/// flattened and the number of classes.
pub(crate) fn for_logits<M: Classifier>(
    model: &M,
    data: &Dataset,
    rows: &[usize],
    setup: &EvalSetup,
    device: &Device,
    mut each: impl FnMut(&[usize], &[f32], usize),
) -> Result<(), PrivacyError> {
    for chunk in rows.chunks(setup.eval.batch_size) {
        let host = setup.clean_batch(data, chunk, model)?;
        let logits = model.logits(host.input.to_device(device));
        let [n, classes] = logits.dims();
        each(chunk, &values::<f32, 2, Float>(logits, n * classes, "logits")?, classes);
    }
    Ok(())
}

/// Reference model `k`: trained as the run was, from its own seed, on a
/// seeded random subset of `pool` as large as the model's training set (at
/// most half the pool, so the references differ); its stats on `targets`.
fn reference(
    cx: &Context,
    pool: &[usize],
    targets: &[usize],
    k: usize,
    setup: &EvalSetup,
) -> Result<Vec<ExampleStats>, PrivacyError> {
    let seed = augment::seed::derive(cx.plan.seed, k as u64, 0, "privacy-reference");
    let mut rows = pool.to_vec();
    rows.shuffle(&mut augment::seed::rng(seed));
    rows.truncate(cx.membership.members.len().min(pool.len().div_ceil(2)));
    rows.sort_unstable();
    let data = cx.table.subset(&rows);
    let autodiff = cx.device.clone().autodiff();
    let classes = cx.classes;
    let fail = |source| PrivacyError::Reference { index: k + 1, source };
    let session = Session::of_plan(cx.plan, seed, &autodiff, cx.progress, cx.stop);
    match model::build_seeded(&cx.plan.model, &cx.plan.data.image, classes, seed, &autodiff) {
        AnyModel::Cnn(m) => {
            let trained = train::fit_silently(m, &data, &session).map_err(fail)?;
            example_stats(&trained.valid().to_device(cx.device), cx.table, targets, setup, cx.device)
        }
        AnyModel::Text(m) => {
            let trained = train::fit_silently(m, &data, &session).map_err(fail)?;
            example_stats(&trained.valid().to_device(cx.device), cx.table, targets, setup, cx.device)
        }
    }
}
