//! Building host batches from a dataset: select rows, perturb them (in
//! parallel, seeded per sample), and lay them out for the model.

use rayon::prelude::*;

use crate::config::{AugmentPolicy, ModelPlan};
use crate::data::{Dataset, ImageSet, Inputs};
use crate::model::HostInput;
use crate::model::features::featurize;

/// A batch on the host: inputs and class indices.
#[derive(Debug, Clone, PartialEq)]
pub struct HostBatch {
    /// The inputs.
    pub input: HostInput,
    /// Class index per example.
    pub labels: Vec<i64>,
    /// The dataset rows, in batch order.
    pub rows: Vec<usize>,
}

/// How each sample is perturbed while a batch is built.
#[derive(Debug, Clone, Copy)]
pub enum Perturbation<'a> {
    /// Unchanged.
    None,
    /// A training policy at one epoch.
    Policy {
        /// The policy.
        policy: &'a AugmentPolicy,
        /// Run seed.
        seed: u64,
        /// Epoch (0-based), so each epoch draws new perturbations.
        epoch: u64,
    },
    /// One catalog op at one severity (evaluation).
    Op {
        /// Image or text op, by name.
        name: &'static str,
        /// Severity 1..=5.
        severity: augment::Severity,
        /// Run seed.
        seed: u64,
    },
}

/// Appends two AugMix views of every image of `rows` to `batch` (which holds
/// those rows' training images), giving `[clean; view 1; view 2]` for the
/// Jensen-Shannon consistency loss. Views are seeded per (seed, row, epoch).
pub fn add_augmix_views(
    batch: &mut HostBatch,
    data: &Dataset,
    rows: &[usize],
    severity: augment::Severity,
    seed: u64,
    epoch: u64,
) {
    let (Inputs::Images(set), HostInput::Images { pixels, shape }) = (&data.inputs, &mut batch.input) else {
        return;
    };
    let views: Vec<[augment::Image; 2]> = rows
        .par_iter()
        .map(|&r| {
            augment::image::augmix::views(
                &set.image(r),
                severity,
                augment::seed::derive(seed, r as u64, epoch, "augmix"),
            )
        })
        .collect();
    let [n, c, h, w] = *shape;
    pixels.reserve(2 * n * c * h * w);
    for v in 0..2 {
        for pair in &views {
            push_chw(pixels, pair[v].as_bytes(), c, h * w);
        }
    }
    *shape = [3 * n, c, h, w];
}

/// HWC bytes → CHW floats in [0, 1], appended.
fn push_chw(out: &mut Vec<f32>, bytes: &[u8], channels: usize, plane: usize) {
    let base = out.len();
    out.resize(base + channels * plane, 0.0);
    for (p, px) in bytes.chunks_exact(channels).enumerate() {
        for (ch, &v) in px.iter().enumerate() {
            out[base + ch * plane + p] = f32::from(v) / 255.0;
        }
    }
}

/// Epoch tag of evaluation streams, far from any training epoch.
const EVAL_EPOCH: u64 = 1 << 40;

/// Row `r` of `set` under `perturb`, as the HWC bytes a batch holds for it.
pub fn image_row(set: &ImageSet, r: usize, perturb: Perturbation) -> Vec<u8> {
    match perturb {
        Perturbation::None => set.bytes(r).to_vec(),
        Perturbation::Policy { policy: AugmentPolicy::Image(p), seed, epoch } => {
            p.apply(&set.image(r), seed, r as u64, epoch).into_bytes()
        }
        Perturbation::Op { name, severity, seed } => match augment::image::find(name) {
            Some(op) => op.apply(&set.image(r), severity, eval_seed(seed, r, severity, name)).into_bytes(),
            None => set.bytes(r).to_vec(),
        },
        Perturbation::Policy { .. } => set.bytes(r).to_vec(),
    }
}

/// Text `r` under `perturb`, as a batch featurises it; `None` when unchanged.
pub fn text_row(
    text: &str,
    r: usize,
    perturb: Perturbation,
    text_context: &augment::text::TextContext,
) -> Option<String> {
    match perturb {
        Perturbation::None => None,
        Perturbation::Policy { policy: AugmentPolicy::Text(p), seed, epoch } => {
            Some(p.apply(text, seed, r as u64, epoch))
        }
        Perturbation::Op { name, severity, seed } => augment::text::find(name)
            .map(|op| op.apply_with(text, severity, eval_seed(seed, r, severity, name), text_context).text),
        Perturbation::Policy { .. } => None,
    }
}

/// The seed of row `r` under evaluation op `name` at `severity`.
fn eval_seed(seed: u64, r: usize, severity: augment::Severity, name: &str) -> u64 {
    augment::seed::derive(seed, r as u64, EVAL_EPOCH + u64::from(severity.level()), name)
}

/// Builds the batch of `rows` of `data`. `text_context` carries protected
/// spans and tables for text operations.
pub fn build(
    data: &Dataset,
    rows: &[usize],
    perturb: Perturbation,
    model: &ModelPlan,
    text_context: &augment::text::TextContext,
) -> HostBatch {
    let labels = rows.iter().map(|&r| data.labels[r] as i64).collect();
    let input = match &data.inputs {
        Inputs::Images(set) => {
            let per: Vec<Vec<u8>> = rows.par_iter().map(|&r| image_row(set, r, perturb)).collect();
            let (c, h, w) = (usize::from(set.channels), set.height as usize, set.width as usize);
            let mut pixels = vec![0f32; rows.len() * c * h * w];
            // HWC bytes → CHW floats in [0, 1].
            for (i, bytes) in per.iter().enumerate() {
                let base = i * c * h * w;
                for (p, px) in bytes.chunks_exact(c).enumerate() {
                    for (ch, &v) in px.iter().enumerate() {
                        pixels[base + ch * h * w + p] = f32::from(v) / 255.0;
                    }
                }
            }
            HostInput::Images { pixels, shape: [rows.len(), c, h, w] }
        }
        Inputs::Texts(texts) => {
            let ModelPlan::Text(plan) = model else {
                unreachable!("text data always comes with a text model plan")
            };
            let ids: Vec<Vec<i64>> = rows
                .par_iter()
                .map(|&r| {
                    let perturbed = text_row(&texts[r], r, perturb, text_context);
                    featurize(perturbed.as_deref().unwrap_or(&texts[r]), plan)
                })
                .collect();
            let len = ids.iter().map(Vec::len).max().unwrap_or(0).max(1);
            let mut flat = vec![0i64; rows.len() * len];
            for (i, row) in ids.iter().enumerate() {
                flat[i * len..i * len + row.len()].copy_from_slice(row);
            }
            HostInput::Tokens { ids: flat, shape: [rows.len(), len] }
        }
    };
    HostBatch { input, labels, rows: rows.to_vec() }
}
