//! Building host batches from a dataset: select rows, perturb them (in
//! parallel, seeded per sample), and lay them out for the model.

use augment::text::TextContext;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use crate::config::{AugmentPolicy, EvalPlan, ModelPlan, TextPlan};
use crate::data::{Dataset, ImageSet, Inputs};
use crate::model::features::{Bag, featurize};
use crate::model::lexicon::Lexicon;
use crate::model::{Classifier, HostInput};

/// What evaluation batches are built with besides the model and data; the
/// attacks and the report's examples use the same, so they see what
/// evaluation measured.
#[derive(Debug, Clone, Copy)]
pub struct EvalSetup<'a> {
    /// Corruptions, attacks and batch size.
    pub eval: &'a EvalPlan,
    /// The model's plan (for text featurisation).
    pub model: &'a ModelPlan,
    /// Protected spans and tables for text operations.
    pub text: &'a TextContext,
    /// Run seed: corrupted test sets depend on it only.
    pub seed: u64,
}

impl EvalSetup<'_> {
    /// The unperturbed batch of `rows` of `data` as `model` reads it (its
    /// lexicon, where it recognises words).
    pub fn clean_batch<M: Classifier>(
        &self,
        data: &Dataset,
        rows: &[usize],
        model: &M,
    ) -> Result<HostBatch, BatchError> {
        build(data, rows, Perturbation::None, self.model, model.lexicon().as_deref(), self.text)
    }
}

/// A perturbation that does not fit the data it was asked to perturb.
/// Resolution rules these out; reaching one is a bug, reported rather than
/// answered with unperturbed data, which would score as a robust model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BatchError {
    /// An image corruption was asked for a table it does not have.
    #[error(transparent)]
    Table(#[from] augment::image::TableError),
    /// No catalog op of the data's modality has this name.
    #[error("no {modality} operation is named `{name}`")]
    UnknownOp {
        /// The name asked for.
        name: &'static str,
        /// `image` or `text`.
        modality: &'static str,
    },
    /// A perturbation or model plan of the other modality.
    #[error("{what} does not apply to {data} data")]
    Mismatch {
        /// What was asked, e.g. `a text augmentation policy`.
        what: &'static str,
        /// `image` or `text`.
        data: &'static str,
    },
}

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
        /// The benchmark table of an image corruption that has them
        /// ([`crate::config::EvalPlan::table`]).
        table: Option<augment::Table>,
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
) -> Result<(), BatchError> {
    let (Inputs::Images(set), HostInput::Images { pixels, shape }) = (&data.inputs, &mut batch.input) else {
        return Err(BatchError::Mismatch { what: "AugMix", data: "text" });
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
    Ok(())
}

/// `copies` draws of N(0, σ²) pixel noise for an image of `size` pixels,
/// one after another, from `seed`: a prefix of more draws is fewer, so the
/// first is what one noisy copy gets whatever the number of copies.
pub fn gaussian_draws(size: usize, copies: usize, sigma: f32, seed: u64) -> Vec<f32> {
    let mut rng = augment::seed::rng(seed);
    (0..size * copies).map(|_| sigma * Distribution::<f32>::sample(&StandardNormal, &mut rng)).collect()
}

/// The seed of row `row`'s training noise in `epoch`: shared by the data
/// thread and SmoothAdv training, which adds the noise itself.
pub fn noise_seed(seed: u64, row: usize, epoch: u64) -> u64 {
    augment::seed::derive(seed, row as u64, epoch, "gaussian-noise")
}

/// Replaces the images of `rows` in `batch` by `copies` noisy copies of
/// each, copy-major (`[copy 1 of every row; copy 2; …]`), with Gaussian
/// noise of standard deviation `sigma`, unclipped, as randomized
/// smoothing's base classifier trains (Cohen et al. 2019). Draws come from
/// (seed, row, epoch), so a row's noise does not depend on its batch, and
/// copy 1 is the same whatever the number of copies.
pub fn add_gaussian_noise(
    batch: &mut HostBatch,
    rows: &[usize],
    sigma: f32,
    copies: usize,
    seed: u64,
    epoch: u64,
) -> Result<(), BatchError> {
    let HostInput::Images { pixels, shape } = &mut batch.input else {
        return Err(BatchError::Mismatch { what: "Gaussian noise", data: "text" });
    };
    let [n, c, h, w] = *shape;
    let size = c * h * w;
    let draws: Vec<Vec<f32>> =
        rows.par_iter().map(|&r| gaussian_draws(size, copies, sigma, noise_seed(seed, r, epoch))).collect();
    let clean = std::mem::take(pixels);
    let mut noisy = vec![0.0f32; copies * n * size];
    noisy.par_chunks_mut(size.max(1)).enumerate().for_each(|(k, image)| {
        let (copy, i) = (k / n, k % n);
        let (x, z) = (&clean[i * size..(i + 1) * size], &draws[i][copy * size..(copy + 1) * size]);
        for ((out, &x), &z) in image.iter_mut().zip(x).zip(z) {
            *out = x + z;
        }
    });
    *pixels = noisy;
    *shape = [copies * n, c, h, w];
    Ok(())
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
pub fn image_row(set: &ImageSet, r: usize, perturb: Perturbation) -> Result<Vec<u8>, BatchError> {
    Ok(match perturb {
        Perturbation::None => set.bytes(r).to_vec(),
        Perturbation::Policy { policy: AugmentPolicy::Image(p), seed, epoch } => {
            p.apply(&set.image(r), seed, r as u64, epoch).into_bytes()
        }
        Perturbation::Policy { policy: AugmentPolicy::Text(_), .. } => {
            return Err(BatchError::Mismatch { what: "a text augmentation policy", data: "image" });
        }
        Perturbation::Op { name, severity, table, seed } => {
            let op = augment::image::find(name).ok_or(BatchError::UnknownOp { name, modality: "image" })?;
            op.apply_in(&set.image(r), severity, table, eval_seed(seed, r, severity, name))?.into_bytes()
        }
    })
}

/// Text `r` under `perturb`, as a batch featurises it; `None` when unchanged.
pub fn text_row(
    text: &str,
    r: usize,
    perturb: Perturbation,
    text_context: &TextContext,
) -> Result<Option<String>, BatchError> {
    Ok(match perturb {
        Perturbation::None => None,
        Perturbation::Policy { policy: AugmentPolicy::Text(p), seed, epoch } => {
            Some(p.apply(text, seed, r as u64, epoch))
        }
        Perturbation::Policy { policy: AugmentPolicy::Image(_), .. } => {
            return Err(BatchError::Mismatch { what: "an image augmentation policy", data: "text" });
        }
        Perturbation::Op { name, severity, seed, .. } => {
            let op = augment::text::find(name).ok_or(BatchError::UnknownOp { name, modality: "text" })?;
            Some(op.apply_with(text, severity, eval_seed(seed, r, severity, name), text_context).text)
        }
    })
}

/// The seed of row `r` under evaluation op `name` at `severity`.
fn eval_seed(seed: u64, r: usize, severity: augment::Severity, name: &str) -> u64 {
    augment::seed::derive(seed, r as u64, EVAL_EPOCH + u64::from(severity.level()), name)
}

/// Builds the batch of `rows` of `data` on the data pool ([`crate::pool`])
/// for a model of plan `model` whose lexicon ([`crate::model::Classifier::lexicon`])
/// is `lexicon`. `text_context` carries protected spans and tables for text
/// operations.
pub fn build(
    data: &Dataset,
    rows: &[usize],
    perturb: Perturbation,
    model: &ModelPlan,
    lexicon: Option<&Lexicon>,
    text_context: &TextContext,
) -> Result<HostBatch, BatchError> {
    crate::pool::install(|| build_here(data, rows, perturb, model, lexicon, text_context))
}

fn build_here(
    data: &Dataset,
    rows: &[usize],
    perturb: Perturbation,
    model: &ModelPlan,
    lexicon: Option<&Lexicon>,
    text_context: &TextContext,
) -> Result<HostBatch, BatchError> {
    let labels = rows.iter().map(|&r| data.labels[r] as i64).collect();
    let input = match &data.inputs {
        Inputs::Images(set) => {
            let per: Vec<Vec<u8>> =
                rows.par_iter().map(|&r| image_row(set, r, perturb)).collect::<Result<_, _>>()?;
            let (c, h, w) = (usize::from(set.channels), set.height as usize, set.width as usize);
            let mut pixels = Vec::with_capacity(rows.len() * c * h * w);
            for bytes in &per {
                push_chw(&mut pixels, bytes, c, h * w);
            }
            HostInput::Images { pixels, shape: [rows.len(), c, h, w] }
        }
        Inputs::Texts(texts) => {
            let ModelPlan::Text(plan) = model else {
                return Err(BatchError::Mismatch { what: "an image model", data: "text" });
            };
            let bags: Vec<Bag> = rows
                .par_iter()
                .map(|&r| {
                    let perturbed = text_row(&texts[r], r, perturb, text_context)?;
                    Ok(featurize(perturbed.as_deref().unwrap_or(&texts[r]), plan, lexicon))
                })
                .collect::<Result<_, BatchError>>()?;
            token_batch(&bags, 1)
        }
    };
    Ok(HostBatch { input, labels, rows: rows.to_vec() })
}

/// Feature bags padded with id 0, count 0 to the longest one (and at least
/// `min_width`), as one token batch.
pub fn token_batch(bags: &[Bag], min_width: usize) -> HostInput {
    let len = bags.iter().map(Bag::len).max().unwrap_or(0).max(min_width);
    let mut ids = vec![0i64; bags.len() * len];
    let mut counts = vec![0f32; bags.len() * len];
    for (i, bag) in bags.iter().enumerate() {
        ids[i * len..i * len + bag.len()].copy_from_slice(&bag.ids);
        counts[i * len..i * len + bag.len()].copy_from_slice(&bag.counts);
    }
    HostInput::Tokens { ids, counts, shape: [bags.len(), len] }
}

/// The token batch of `texts`, featurised in parallel.
pub fn featurize_texts(texts: &[String], plan: &TextPlan, lexicon: Option<&Lexicon>) -> HostInput {
    let bags: Vec<Bag> = texts.par_iter().map(|t| featurize(t, plan, lexicon)).collect();
    token_batch(&bags, 1)
}

/// Bag `i` of a token batch, padding dropped.
pub fn bag_of(ids: &[i64], counts: &[f32], [_, len]: [usize; 2], i: usize) -> Bag {
    let row = i * len..(i + 1) * len;
    let keep: Vec<usize> = (0..len).filter(|&j| ids[row.start + j] != 0).collect();
    Bag {
        ids: keep.iter().map(|&j| ids[row.start + j]).collect(),
        counts: keep.iter().map(|&j| counts[row.start + j]).collect(),
    }
}

#[cfg(test)]
mod tests {
    use augment::{Policy, PolicyStep, Severity};

    use super::*;
    use crate::config::{CnnPlan, Norm, TextPlan};

    fn images(n: usize) -> Dataset {
        let (w, h) = (8u32, 8u32);
        let pixels = (0..n * 64).map(|i| (i * 37 % 251) as u8).collect();
        let set = ImageSet { width: w, height: h, channels: 1, pixels, files_sha256: None };
        Dataset { inputs: Inputs::Images(set), labels: (0..n).map(|i| i % 2).collect() }
    }

    fn cnn() -> ModelPlan {
        ModelPlan::Cnn(CnnPlan {
            conv_channels: vec![4],
            kernel_size: 3,
            hidden: 8,
            dropout: 0.0,
            norm: Norm::Batch,
        })
    }

    fn pixels(b: &HostBatch) -> &[f32] {
        match &b.input {
            HostInput::Images { pixels, .. } => pixels,
            HostInput::Tokens { .. } => panic!("images expected"),
        }
    }

    fn noise(seed: u64) -> Perturbation<'static> {
        Perturbation::Op {
            name: "gaussian_noise",
            severity: Severity::new(3).expect("severity"),
            table: None,
            seed,
        }
    }

    #[test]
    fn a_row_gets_the_same_perturbation_in_any_batch_order_and_thread_count() {
        let data = images(6);
        let ctx = TextContext::default();
        let all = build(&data, &[0, 1, 2, 3, 4, 5], noise(7), &cnn(), None, &ctx).expect("batch");
        let some = build(&data, &[4, 1], noise(7), &cnn(), None, &ctx).expect("batch");
        let plane = 64;
        assert_eq!(&pixels(&some)[..plane], &pixels(&all)[4 * plane..5 * plane]);
        assert_eq!(&pixels(&some)[plane..], &pixels(&all)[plane..2 * plane]);
        assert_eq!(some.rows, [4, 1]);
        assert_eq!(some.labels, [0, 1]);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("pool");
        let one =
            pool.install(|| build(&data, &[0, 1, 2, 3, 4, 5], noise(7), &cnn(), None, &ctx)).expect("batch");
        assert_eq!(one, all, "one thread gives the same batch");
    }

    #[test]
    fn training_noise_has_its_sigma_is_unclipped_and_follows_the_row() {
        let data = images(40);
        let ctx = TextContext::default();
        let rows: Vec<usize> = (0..40).collect();
        let clean = build(&data, &rows, Perturbation::None, &cnn(), None, &ctx).expect("batch");
        let mut noisy = clean.clone();
        add_gaussian_noise(&mut noisy, &rows, 0.25, 1, 9, 2).expect("images");
        let d: Vec<f64> = pixels(&noisy).iter().zip(pixels(&clean)).map(|(a, b)| f64::from(a - b)).collect();
        let mean = d.iter().sum::<f64>() / d.len() as f64;
        let sd = (d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / d.len() as f64).sqrt();
        // 2,560 draws: the mean within 4 standard errors of 0, the deviation within 5%.
        assert!(mean.abs() < 4.0 * 0.25 / (d.len() as f64).sqrt(), "mean {mean}");
        assert!((sd - 0.25).abs() < 0.0125, "sd {sd}");
        assert!(pixels(&noisy).iter().any(|&x| !(0.0..=1.0).contains(&x)), "not clipped to the pixel range");
        // Row 7's noise is the same in another batch; another epoch draws anew.
        let mut alone = build(&data, &[7], Perturbation::None, &cnn(), None, &ctx).expect("batch");
        add_gaussian_noise(&mut alone, &[7], 0.25, 1, 9, 2).expect("images");
        assert_eq!(pixels(&alone), &pixels(&noisy)[7 * 64..8 * 64]);
        let mut later = build(&data, &[7], Perturbation::None, &cnn(), None, &ctx).expect("batch");
        add_gaussian_noise(&mut later, &[7], 0.25, 1, 9, 3).expect("images");
        assert_ne!(pixels(&later), pixels(&alone));
    }

    #[test]
    fn noisy_copies_are_copy_major_and_the_first_is_the_single_copy() {
        let data = images(5);
        let ctx = TextContext::default();
        let rows = [3usize, 0, 4];
        let clean = build(&data, &rows, Perturbation::None, &cnn(), None, &ctx).expect("batch");
        let mut one = clean.clone();
        add_gaussian_noise(&mut one, &rows, 0.25, 1, 9, 2).expect("images");
        let mut three = clean.clone();
        add_gaussian_noise(&mut three, &rows, 0.25, 3, 9, 2).expect("images");
        let HostInput::Images { shape, .. } = &three.input else { unreachable!("images") };
        assert_eq!(*shape, [9, 1, 8, 8]);
        assert_eq!(three.labels, clean.labels, "one label per example; the step repeats them");
        let plane = 64;
        assert_eq!(&pixels(&three)[..3 * plane], pixels(&one), "copy 1 of every row first, as one copy");
        for (i, &r) in rows.iter().enumerate() {
            let z = gaussian_draws(plane, 3, 0.25, noise_seed(9, r, 2));
            for copy in 0..3 {
                let at = (copy * 3 + i) * plane;
                for p in 0..plane {
                    let want = pixels(&clean)[i * plane + p] + z[copy * plane + p];
                    assert_eq!(pixels(&three)[at + p], want, "row {r}, copy {copy}, pixel {p}");
                }
            }
        }
        assert_ne!(&pixels(&three)[3 * plane..4 * plane], &pixels(&three)[..plane], "copies draw anew");
    }

    #[test]
    fn the_seed_and_the_epoch_change_the_draw() {
        let data = images(2);
        let ctx = TextContext::default();
        let build_with = |p| build(&data, &[0, 1], p, &cnn(), None, &ctx).expect("batch");
        let clean = build_with(Perturbation::None);
        assert_ne!(pixels(&build_with(noise(7))), pixels(&build_with(noise(8))));
        assert_ne!(pixels(&build_with(noise(7))), pixels(&clean));
        let op = augment::image::find("gaussian_noise").expect("op");
        let three = Severity::new(3).expect("severity");
        let policy =
            AugmentPolicy::Image(Policy::new(vec![PolicyStep { op, min: three, max: three, p: 1.0 }]));
        let epoch = |e| build_with(Perturbation::Policy { policy: &policy, seed: 7, epoch: e });
        assert_eq!(epoch(0), epoch(0));
        assert_ne!(pixels(&epoch(0)), pixels(&epoch(1)), "each epoch draws anew");
        // Evaluation streams never coincide with a training epoch's.
        assert_ne!(pixels(&epoch(0)), pixels(&build_with(noise(7))));
    }

    #[test]
    fn a_perturbation_that_does_not_fit_the_data_is_an_error_not_clean_data() {
        let data = images(2);
        let ctx = TextContext::default();
        let unknown = Perturbation::Op {
            name: "typo",
            severity: Severity::new(1).expect("severity"),
            table: None,
            seed: 1,
        };
        assert_eq!(
            build(&data, &[0], unknown, &cnn(), None, &ctx),
            Err(BatchError::UnknownOp { name: "typo", modality: "image" })
        );
        let text_policy = AugmentPolicy::Text(Box::default());
        let p = Perturbation::Policy { policy: &text_policy, seed: 1, epoch: 0 };
        assert!(matches!(build(&data, &[0], p, &cnn(), None, &ctx), Err(BatchError::Mismatch { .. })));
        let texts = Dataset { inputs: Inputs::Texts(vec!["hello there".into()]), labels: vec![0] };
        let blur = Perturbation::Op {
            name: "gaussian_blur",
            severity: Severity::new(1).expect("severity"),
            table: None,
            seed: 1,
        };
        let text_plan = ModelPlan::Text(TextPlan {
            buckets: 64,
            embedding_dim: 2,
            hidden: 2,
            dropout: 0.0,
            ngram_min: 2,
            ngram_max: 3,
            word_ngrams: 1,
            weighting: crate::config::TextWeighting::Mean,
            max_features: 16,
            word_recognition: false,
        });
        assert_eq!(
            build(&texts, &[0], blur, &text_plan, None, &ctx),
            Err(BatchError::UnknownOp { name: "gaussian_blur", modality: "text" })
        );
        assert!(matches!(
            build(&texts, &[0], Perturbation::None, &cnn(), None, &ctx),
            Err(BatchError::Mismatch { .. })
        ));
        let mut host = build(&texts, &[0], Perturbation::None, &text_plan, None, &ctx).expect("batch");
        assert!(
            add_augmix_views(&mut host, &texts, &[0], Severity::new(1).expect("severity"), 1, 0).is_err()
        );
    }

    #[test]
    fn token_rows_are_padded_with_zero_to_the_longest() {
        let bags = [
            Bag { ids: vec![3, 4, 5], counts: vec![1.0, 2.0, 1.0] },
            Bag { ids: vec![7], counts: vec![3.0] },
        ];
        let HostInput::Tokens { ids, counts, shape } = token_batch(&bags, 1) else { panic!("tokens") };
        assert_eq!((&ids, shape), (&vec![3, 4, 5, 7, 0, 0], [2, 3]));
        assert_eq!(counts, [1.0, 2.0, 1.0, 3.0, 0.0, 0.0]);
        assert_eq!(bag_of(&ids, &counts, shape, 1), bags[1]);
        let HostInput::Tokens { shape, .. } = token_batch(&[Bag::default(), Bag::default()], 1) else {
            panic!("tokens")
        };
        assert_eq!(shape, [2, 1], "never zero wide");
    }
}
