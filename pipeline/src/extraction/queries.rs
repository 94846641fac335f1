//! The thief's queries: test rows the surrogate is never measured on, in a
//! seeded order, or synthetic ones made from a few of them with catalog
//! augmentations (Knockoff Nets' natural versus synthetic queries), or the
//! rows of a table the user gives. Every
//! API of a run sees the same queries in the same order, so output modes
//! are compared on equal terms, and a budget's queries are the first ones.

use augment::{Policy, PolicyStep, Severity};
use rand::seq::SliceRandom;

use crate::batch::{self, BatchError, Perturbation};
use crate::config::{AugmentPolicy, ExtractionPlan, QueryPool};
use crate::data::{Dataset, Inputs};

/// Image operations that make synthetic queries: small geometric and
/// photometric changes that keep a digit a digit.
const IMAGE_OPS: [&str; 6] = ["rotate", "shear", "translate", "gaussian_noise", "brightness", "contrast"];
/// Text operations that make synthetic queries: the words change, the topic does not.
const TEXT_OPS: [&str; 4] = ["synonym", "word_swap", "word_delete", "typo"];

/// Test rows the surrogates are measured on: the first `examples`.
pub fn measured(plan: &ExtractionPlan, test: &Dataset) -> Vec<usize> {
    (0..plan.examples.min(test.len())).collect()
}

/// Where queries are drawn from: the test set, less its measured rows, or
/// a query table.
#[derive(Clone, Copy)]
pub struct Source<'a> {
    /// The rows' inputs.
    pub data: &'a Dataset,
    /// Leading rows that are never queried (the measured test rows).
    pub skip: usize,
}

impl Source<'_> {
    /// Rows that can be queried.
    pub fn rows(&self) -> usize {
        self.data.len().saturating_sub(self.skip)
    }
}

/// The unlabelled rows queries come from, in a seeded order.
pub fn pool(source: Source, seed: u64) -> Vec<usize> {
    let mut rows: Vec<usize> = (source.skip.min(source.data.len())..source.data.len()).collect();
    rows.shuffle(&mut augment::seed::rng(augment::seed::derive(seed, 0, 0, "extraction-queries")));
    rows
}

/// The synthetic-query policy of the data's modality: each op applied with
/// probability ½ at severity 1..=3.
fn synthetic_policy(data: &Dataset) -> Result<AugmentPolicy, BatchError> {
    let (min, max) = (Severity::new(1).ok(), Severity::new(3).ok());
    let (Some(min), Some(max)) = (min, max) else {
        return Err(BatchError::Mismatch { what: "severity 1..=3", data: "any" });
    };
    Ok(match &data.inputs {
        Inputs::Images(_) => {
            let mut steps = Vec::new();
            for name in IMAGE_OPS {
                let op =
                    augment::image::find(name).ok_or(BatchError::UnknownOp { name, modality: "image" })?;
                steps.push(PolicyStep { op, min, max, p: 0.5 });
            }
            AugmentPolicy::Image(Policy::new(steps))
        }
        Inputs::Texts(_) => {
            let mut steps = Vec::new();
            for name in TEXT_OPS {
                let op = augment::text::find(name).ok_or(BatchError::UnknownOp { name, modality: "text" })?;
                steps.push(PolicyStep { op, min, max, p: 0.5 });
            }
            AugmentPolicy::Text(Box::new(Policy::new(steps)))
        }
    })
}

/// The first `n` queries of `plan`'s pool, as inputs (labels are unknown to
/// the thief and set to 0 until the API answers).
pub fn make(plan: &ExtractionPlan, source: Source, n: usize, seed: u64) -> Result<Dataset, BatchError> {
    let pool = pool(source, seed);
    let rows: Vec<usize> = match plan.queries {
        QueryPool::Test | QueryPool::Table { .. } => pool.into_iter().take(n).collect(),
        QueryPool::Synthetic { seed_rows } => {
            let seeds = &pool[..seed_rows.min(pool.len())];
            if seeds.is_empty() {
                return Ok(source.data.subset(&[]));
            }
            (0..n).map(|j| seeds[j % seeds.len()]).collect()
        }
    };
    let mut queries = source.data.subset(&rows);
    queries.labels = vec![0; rows.len()];
    if matches!(plan.queries, QueryPool::Synthetic { .. }) {
        // Query j is seeded by its position: repeats of a seed row differ.
        let policy = synthetic_policy(&queries)?;
        let perturb = Perturbation::Policy { policy: &policy, seed, epoch: 0 };
        let all: Vec<usize> = (0..queries.len()).collect();
        let context = augment::text::TextContext::default();
        queries.inputs = match &queries.inputs {
            Inputs::Images(set) => {
                let mut out = set.clone_shape();
                for &r in &all {
                    out.pixels.extend(batch::image_row(set, r, perturb)?);
                }
                Inputs::Images(out)
            }
            Inputs::Texts(texts) => Inputs::Texts(
                all.iter()
                    .map(|&r| {
                        Ok(batch::text_row(&texts[r], r, perturb, &context)?
                            .unwrap_or_else(|| texts[r].clone()))
                    })
                    .collect::<Result<_, BatchError>>()?,
            ),
        };
    }
    Ok(queries)
}
