//! Adversarial training: part of each batch is replaced by adversarial
//! versions made against the current weights. Images use a gradient attack
//! (PGD training, Madry et al. 2018), the attacks of TRADES (Zhang et al.
//! 2019) and MART (Wang et al. 2020) or, for a smoothed classifier,
//! SmoothAdv (Salman et al. 2019); texts use a black-box edit attack on
//! their most important words (A2T-style, Yoo & Qi 2021).
//!
//! Attacks run on an evaluation-mode copy of the model, so batch norm uses
//! its running statistics and the attack's forward passes do not move them,
//! and their randomness comes from (seed, epoch, batch or row), so a resumed
//! run makes the same adversarial examples.

use burn::prelude::*;

use crate::attack::black_box::{self, TextAttack, search};
use crate::attack::{smooth_adv, trades, white_box};
use crate::batch::{bag_of, gaussian_draws as draws, noise_seed, token_batch};
use crate::config::{Attack, Budget, PairedLoss, TextAttackKind, TextPlan};
use crate::data::{Dataset, Inputs};
use crate::model::features::{Bag, featurize};
use crate::model::{Classifier, HostInput, ModelInput, ReadbackError};

/// `input` (on an autodiff device) with its first `ratio · n` images
/// replaced by adversarial versions; text input is returned unchanged.
pub fn mix_images<M: Classifier>(
    model: &M,
    input: ModelInput,
    labels: &[i64],
    attack: &Attack,
    ratio: f64,
    seed: u64,
) -> Result<ModelInput, ReadbackError> {
    let ModelInput::Images(x) = input else { return Ok(input) };
    let n = labels.len();
    let k = share(n, ratio);
    if k == 0 {
        return Ok(ModelInput::Images(x));
    }
    let plain = x.inner();
    let device = plain.device();
    let head = plain.clone().slice(0..k);
    let y = Tensor::<1, Int>::from_data(TensorData::new(labels[..k].to_vec(), [k]), &device);
    let frozen = model.clone().freeze();
    let adversarial = white_box::perturb(&frozen, head, y, attack, seed)?;
    let mixed = if k == n { adversarial } else { Tensor::cat(vec![adversarial, plain.slice(k..n)], 0) };
    Ok(ModelInput::Images(mixed.autodiff()))
}

/// `[clean; adversarial]` for TRADES or MART: the clean images `input` (on
/// an autodiff device) followed by their adversarial versions against the
/// current model, which [`super::loss::Step::forward_paired`] takes half by
/// half.
pub fn paired_images<M: Classifier>(
    model: &M,
    input: ModelInput,
    labels: &[i64],
    loss: PairedLoss,
    attack: &Attack,
    seed: u64,
) -> ModelInput {
    let ModelInput::Images(x) = input else { return input };
    let plain = x.inner();
    let y = Tensor::<1, Int>::from_data(TensorData::new(labels.to_vec(), [labels.len()]), &plain.device());
    let objective = match loss {
        PairedLoss::Trades => trades::Objective::Divergence,
        PairedLoss::Mart => trades::Objective::Labels(&y),
    };
    let frozen = model.clone().freeze();
    let adversarial = trades::perturb(&frozen, plain.clone(), objective, attack, seed);
    ModelInput::Images(Tensor::cat(vec![plain, adversarial], 0).autodiff())
}

/// One SmoothAdv training step's settings.
pub struct SmoothAdvStep {
    /// L2 radius.
    pub epsilon: f32,
    /// PGD steps.
    pub steps: usize,
    /// Noise draws the attack averages.
    pub samples: usize,
    /// `[train.noise]`'s standard deviation.
    pub sigma: f32,
    /// `[train.noise]`'s noisy copies of each image the loss sees.
    pub copies: usize,
    /// Share of the batch attacked.
    pub ratio: f64,
    /// The run seed.
    pub seed: u64,
    /// The epoch (0-based).
    pub epoch: u64,
}

/// Clean images `input` (on an autodiff device) with their first
/// `ratio · n` rows replaced by SmoothAdv examples against the smoothed
/// current model, then every row given `copies` noisy copies (copy-major,
/// as `[train.noise]` lays them out). A row's draws come from (seed, row,
/// epoch) as `[train.noise]`'s do, so an unattacked row gets exactly the
/// noise the data thread would have added, and an attacked one trains on
/// the attack's first `copies` draws over the adversarial image, as the
/// reference code trains on the draws it attacked with.
pub fn smooth_adv_images<M: Classifier>(
    model: &M,
    input: ModelInput,
    labels: &[i64],
    rows: &[usize],
    step: &SmoothAdvStep,
) -> Result<ModelInput, ReadbackError> {
    let ModelInput::Images(x) = input else { return Ok(input) };
    let plain = x.inner();
    let device = plain.device();
    let dims = plain.dims();
    let [n, c, h, w] = dims;
    let size = c * h * w;
    let k = share(n, step.ratio);
    let m = step.copies;
    let mut attack_noise = Vec::with_capacity(k * step.samples * size);
    let mut train_noise = vec![0.0f32; m * n * size];
    for (i, &row) in rows.iter().enumerate().take(n) {
        let wanted = if i < k { step.samples.max(m) } else { m };
        let row_draws = draws(size, wanted, step.sigma, noise_seed(step.seed, row, step.epoch));
        for copy in 0..m {
            let at = (copy * n + i) * size;
            train_noise[at..at + size].copy_from_slice(&row_draws[copy * size..(copy + 1) * size]);
        }
        if i < k {
            attack_noise.extend_from_slice(&row_draws[..step.samples * size]);
        }
    }
    let mixed = if k == 0 {
        plain
    } else {
        let head = plain.clone().slice(0..k);
        let y = Tensor::<1, Int>::from_data(TensorData::new(labels[..k].to_vec(), [k]), &device);
        let noise =
            Tensor::<4>::from_data(TensorData::new(attack_noise, [k * step.samples, c, h, w]), &device);
        let frozen = model.clone().freeze();
        let adversarial = smooth_adv::perturb(&frozen, head, y, noise, step.epsilon, step.steps);
        if k == n { adversarial } else { Tensor::cat(vec![adversarial, plain.slice(k..n)], 0) }
    };
    let repeated = if m == 1 { mixed } else { Tensor::cat(vec![mixed; m], 0) };
    let noise = Tensor::<4>::from_data(TensorData::new(train_noise, [m * n, c, h, w]), &device);
    Ok(ModelInput::Images((repeated + noise).autodiff()))
}

/// Rows replaced in a batch of `n`.
fn share(n: usize, ratio: f64) -> usize {
    ((n as f64 * ratio).round() as usize).min(n)
}

/// What a text batch's adversarial step needs besides the model.
pub struct TextStep<'a> {
    /// The training set the batch's rows index.
    pub data: &'a Dataset,
    /// The batch's rows, in batch order.
    pub rows: &'a [usize],
    /// For featurising the edited texts.
    pub plan: &'a TextPlan,
    /// Which edit attack, with its budget and protected spans.
    pub kind: TextAttackKind,
    /// Word share and queries per text.
    pub budget: Budget,
    /// Protected spans and keyboard layout.
    pub context: &'a augment::text::TextContext,
    /// Share of the batch replaced.
    pub ratio: f64,
}

/// `host`'s token batch with its first `ratio · n` rows replaced by the
/// features of adversarially edited texts. `model` is in evaluation mode on
/// a plain device. Returns the number of rows the attack changed.
pub fn mix_texts<M: Classifier>(
    model: &M,
    host: &mut HostInput,
    step: &TextStep,
    seed: u64,
    device: &Device,
) -> Result<usize, ReadbackError> {
    let (Inputs::Texts(texts), HostInput::Tokens { ids, counts, shape }) = (&step.data.inputs, &*host) else {
        return Ok(0);
    };
    let [n, len] = *shape;
    let k = share(n, step.ratio);
    if k == 0 {
        return Ok(0);
    }
    let mut attacks: Vec<TextAttack> = step.rows[..k]
        .iter()
        .map(|&r| {
            let s = augment::seed::derive(seed, r as u64, 0, "a2t");
            TextAttack::new(
                &texts[r],
                step.data.labels[r],
                black_box::strategy(step.kind),
                step.budget,
                step.context,
                s,
            )
        })
        .collect();
    let mut score = |q: &[String]| black_box::probabilities(model, q, step.plan, 256, device);
    search::run(&mut attacks, &mut score)?;
    let changed = attacks.iter().filter(|a| a.outcome().changed > 0).count();
    let lexicon = model.lexicon();
    // Rows keep their width unless an edited text has more features.
    let rows: Vec<Bag> = (0..n)
        .map(|i| {
            if i < k {
                featurize(&attacks[i].outcome().text, step.plan, lexicon.as_deref())
            } else {
                bag_of(ids, counts, [n, len], i)
            }
        })
        .collect();
    *host = token_batch(&rows, len);
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::nn::{Embedding, EmbeddingConfig};
    use rand::Rng;
    use rand_distr::{Distribution, StandardNormal};

    use super::*;
    use crate::batch::HostBatch;
    use crate::config::Norm;
    use crate::config::{AttackKind, TextWeighting};

    const N: usize = 8;
    const EPS: f64 = 0.1;

    /// The small CNN training uses, on the autodiff CPU device, as training holds it.
    fn cnn(device: &Device) -> crate::model::CnnModel {
        crate::model::test_cnn(&[4], 8, 0.0, Norm::Batch, 8, device)
    }

    fn batch(device: &Device) -> (Vec<f32>, ModelInput, Vec<i64>) {
        let mut rng = augment::seed::rng(13);
        // Pixels inside (0, 1), some at the ends, so clamping is exercised.
        let pixels: Vec<f32> = (0..N * 64)
            .map(|i| match i % 17 {
                0 => 0.0,
                1 => 1.0,
                _ => rng.random_range(0.05..0.95),
            })
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(pixels.clone(), [N, 1, 8, 8]), device);
        let labels = (0..N as i64).map(|i| i % 3).collect();
        (pixels, ModelInput::Images(x), labels)
    }

    fn pgd() -> Attack {
        Attack {
            kind: AttackKind::PgdLinf,
            epsilon: EPS,
            steps: 3,
            step_size: EPS / 2.0,
            random_start: true,
            restarts: 1,
            targets: None,
        }
    }

    fn pixels_of(input: ModelInput) -> (Vec<f32>, [usize; 4]) {
        let ModelInput::Images(x) = input else { panic!("images in, images out") };
        let dims = x.dims();
        (x.inner().into_data().convert::<f32>().try_to_vec::<f32>().expect("f32"), dims)
    }

    #[test]
    fn mix_images_replaces_the_first_rounded_share_within_epsilon() {
        let device = crate::device::host().autodiff();
        let model = cnn(&device);
        let per = 64;
        // round(ratio · 8): 0.3 → 2.4 → 2, 0.3125 → 2.5 → 3, 0.5 → 4, 1 → 8.
        for (ratio, k) in [(0.3, 2), (0.3125, 3), (0.5, 4), (0.9, 7), (1.0, 8)] {
            let (before, input, labels) = batch(&device);
            let (after, dims) =
                pixels_of(mix_images(&model, input, &labels, &pgd(), ratio, 21).expect("mix"));
            assert_eq!(dims, [N, 1, 8, 8], "ratio {ratio}");
            for i in 0..N {
                let (a, b) = (&after[i * per..(i + 1) * per], &before[i * per..(i + 1) * per]);
                if i < k {
                    assert!(a != b, "ratio {ratio}: row {i} should be adversarial");
                    for (p, q) in a.iter().zip(b) {
                        assert!((0.0..=1.0).contains(p), "ratio {ratio}: row {i} pixel {p}");
                        assert!((p - q).abs() <= EPS as f32 + 1e-6, "ratio {ratio}: row {i} moved {}", p - q);
                    }
                } else {
                    let bits = |v: &[f32]| v.iter().map(|p| p.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(a), bits(b), "ratio {ratio}: row {i} should be untouched");
                }
            }
        }
    }

    #[test]
    fn mix_images_makes_the_attacks_examples_against_the_current_weights() {
        let device = crate::device::host().autodiff();
        let model = cnn(&device);
        let (before, input, labels) = batch(&device);
        let (after, _) = pixels_of(mix_images(&model, input, &labels, &pgd(), 0.5, 21).expect("mix"));
        let head = Tensor::<4>::from_data(
            TensorData::new(before[..4 * 64].to_vec(), [4, 1, 8, 8]),
            &crate::device::host(),
        );
        let y =
            Tensor::<1, Int>::from_data(TensorData::new(labels[..4].to_vec(), [4]), &crate::device::host());
        let expected = white_box::perturb(&model.clone().freeze(), head, y, &pgd(), 21).expect("pgd");
        let expected = expected.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32");
        assert_eq!(&after[..4 * 64], &expected[..]);
    }

    /// SmoothAdv at L2 0.5 in 3 steps on half the batch, σ 0.25, seed 9, epoch 2.
    fn smooth_step(samples: usize, copies: usize) -> SmoothAdvStep {
        SmoothAdvStep { epsilon: 0.5, steps: 3, samples, sigma: 0.25, copies, ratio: 0.5, seed: 9, epoch: 2 }
    }

    /// The batch's pixels with the `copies` noisy copies `[train.noise]`'s
    /// data thread makes (σ 0.25, seed 9, epoch 2).
    fn data_thread_noise(before: &[f32], labels: &[i64], rows: &[usize], copies: usize) -> Vec<f32> {
        let mut noisy = HostBatch {
            input: crate::model::HostInput::Images { pixels: before.to_vec(), shape: [N, 1, 8, 8] },
            labels: labels.to_vec(),
            rows: rows.to_vec(),
        };
        crate::batch::add_gaussian_noise(&mut noisy, rows, 0.25, copies, 9, 2).expect("images");
        let crate::model::HostInput::Images { pixels, .. } = noisy.input else { unreachable!("images") };
        pixels
    }

    #[test]
    fn smoothadv_attacks_the_head_then_noises_every_row_as_the_data_thread_would() {
        let device = crate::device::host().autodiff();
        let model = cnn(&device);
        let (before, input, labels) = batch(&device);
        let rows: Vec<usize> = (100..100 + N).collect();
        let step = smooth_step(4, 1);
        let (after, dims) =
            pixels_of(smooth_adv_images(&model, input, &labels, &rows, &step).expect("smoothadv"));
        assert_eq!(dims, [N, 1, 8, 8]);
        // The noise [train.noise] would have added to the clean batch.
        let noisy = data_thread_noise(&before, &labels, &rows, 1);
        let per = 64;
        for i in 0..N {
            let range = i * per..(i + 1) * per;
            // Take the noise away: what is left moved by the attack, or not at all.
            let moved: Vec<f32> =
                after[range.clone()].iter().zip(&noisy[range.clone()]).map(|(a, n)| a - n).collect();
            let l2 = moved.iter().map(|d| f64::from(*d).powi(2)).sum::<f64>().sqrt();
            if i < 4 {
                assert!(l2 > 0.05 && l2 <= 0.5 + 1e-4, "row {i}: SmoothAdv moved it {l2}, within ε = 0.5");
            } else {
                assert!(l2 < 1e-5, "row {i}: unattacked rows get the data thread's noise exactly ({l2})");
            }
        }
        // The head is the smoothed attack's: recompute it with the same draws.
        let mut draws = Vec::new();
        for &row in &rows[..4] {
            let mut rng = augment::seed::rng(augment::seed::derive(9, row as u64, 2, "gaussian-noise"));
            draws.extend((0..4 * per).map(|_| 0.25 * Distribution::<f32>::sample(&StandardNormal, &mut rng)));
        }
        let host = crate::device::host();
        let adv = smooth_adv::perturb(
            &model.clone().freeze(),
            Tensor::from_data(TensorData::new(before[..4 * per].to_vec(), [4, 1, 8, 8]), &host),
            Tensor::from_data(TensorData::new(labels[..4].to_vec(), [4]), &host),
            Tensor::from_data(TensorData::new(draws, [16, 1, 8, 8]), &host),
            0.5,
            3,
        );
        let adv = adv.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32");
        for (j, (a, want)) in after[..4 * per].iter().zip(&adv).enumerate() {
            let want = want + (noisy[j] - before[j]);
            assert!((a - want).abs() < 1e-5, "pixel {j}: {a} vs {want}");
        }
    }

    #[test]
    fn smoothadv_with_copies_trains_every_copy_of_the_same_adversarial_image() {
        let device = crate::device::host().autodiff();
        let model = cnn(&device);
        let (before, input, labels) = batch(&device);
        let rows: Vec<usize> = (100..100 + N).collect();
        // More copies than attack draws: the attack's two, then a third from the same stream.
        let step = smooth_step(2, 3);
        let (after, dims) =
            pixels_of(smooth_adv_images(&model, input.clone(), &labels, &rows, &step).expect("smoothadv"));
        assert_eq!(dims, [3 * N, 1, 8, 8], "copy-major, three copies of each row");
        let noisy = data_thread_noise(&before, &labels, &rows, 3);
        let per = 64;
        // One copy's SmoothAdv is the same attack: its first copy agrees.
        let one = SmoothAdvStep { copies: 1, ..step };
        let (single, _) =
            pixels_of(smooth_adv_images(&model, input, &labels, &rows, &one).expect("smoothadv"));
        for i in 0..N {
            let moved = |copy: usize| -> Vec<f32> {
                let at = (copy * N + i) * per;
                (0..per).map(|p| after[at + p] - noisy[at + p]).collect()
            };
            let first = moved(0);
            for copy in 1..3 {
                let d = moved(copy).iter().zip(&first).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
                assert!(
                    d < 1e-5,
                    "row {i}, copy {copy}: the same adversarial image under its own noise ({d})"
                );
            }
            let l2 = first.iter().map(|d| f64::from(*d).powi(2)).sum::<f64>().sqrt();
            if i < 4 {
                assert!(l2 > 0.05 && l2 <= 0.5 + 1e-4, "row {i}: moved {l2}, within ε = 0.5");
            } else {
                assert!(l2 < 1e-5, "row {i}: unattacked rows get the data thread's copies exactly ({l2})");
            }
            for p in 0..per {
                let (a, b) = (after[i * per + p], single[i * per + p]);
                assert!((a - b).abs() < 1e-5, "row {i}: copy 1 is the one-copy step's");
            }
        }
    }

    #[test]
    fn mix_images_with_no_row_to_replace_returns_the_batch_as_it_was() {
        let device = crate::device::host().autodiff();
        let model = cnn(&device);
        // round(0.05 · 8) = 0.
        let (before, input, labels) = batch(&device);
        let (after, _) = pixels_of(mix_images(&model, input, &labels, &pgd(), 0.05, 21).expect("mix"));
        let bits = |v: &[f32]| v.iter().map(|p| p.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&after), bits(&before));
        // Text batches pass through.
        let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 2, 3, 0], [2, 2]), &device);
        let counts = Tensor::<2>::from_data(TensorData::new(vec![1f32, 1.0, 1.0, 0.0], [2, 2]), &device);
        let ModelInput::Tokens { ids: out, .. } =
            mix_images(&model, ModelInput::Tokens { ids, counts }, &[0, 1], &pgd(), 1.0, 21).expect("mix")
        else {
            panic!("a text batch stays a text batch")
        };
        assert_eq!(out.into_data().convert::<i64>().try_to_vec::<i64>().expect("i64"), vec![1, 2, 3, 0]);
    }

    fn text_plan() -> TextPlan {
        TextPlan {
            buckets: 1 << 12,
            embedding_dim: 2,
            hidden: 2,
            dropout: 0.0,
            ngram_min: 2,
            ngram_max: 3,
            word_ngrams: 1,
            weighting: TextWeighting::Mean,
            max_features: 512,
            word_recognition: false,
        }
    }

    /// Logits: one row per feature id summed onto a lead for class 0; only
    /// the word `refund` has a row, pushing to class 1, so editing it flips
    /// a text of class 1.
    #[derive(Module, Debug)]
    struct RefundModel {
        rows: Embedding,
    }

    impl RefundModel {
        fn new(device: &Device) -> Self {
            let plan = text_plan();
            let mut weights = vec![0f32; plan.buckets * 2];
            weights[refund_id() as usize * 2 + 1] = 4.0;
            let mut rows = EmbeddingConfig::new(plan.buckets, 2).init(device);
            rows.weight =
                Param::from_tensor(Tensor::from_data(TensorData::new(weights, [plan.buckets, 2]), device));
            RefundModel { rows }
        }
    }

    impl Classifier for RefundModel {
        fn logits(&self, input: ModelInput) -> Tensor<2> {
            let ModelInput::Tokens { ids, .. } = input else { unreachable!("texts only") };
            let [n, _] = ids.dims();
            let summed: Tensor<2> = self.rows.forward(ids).sum_dim(1).reshape([n, 2]);
            let lead = Tensor::<2>::from_data(TensorData::new(vec![1f32, 0.0], [1, 2]), &summed.device());
            summed + lead
        }
    }

    fn refund_id() -> i64 {
        featurize("refund", &text_plan(), None).ids[0]
    }

    /// Six texts of class 1 that all hinge on `refund`.
    fn texts() -> Dataset {
        let texts = [
            "refund my order please",
            "i would like a refund",
            "refund",
            "please refund the parcel that never came to my house at all",
            "a refund now",
            "send the refund to my card",
        ];
        Dataset {
            inputs: Inputs::Texts(texts.iter().map(|t| (*t).to_owned()).collect()),
            labels: vec![1; texts.len()],
        }
    }

    fn text(data: &Dataset, r: usize) -> &str {
        let Inputs::Texts(texts) = &data.inputs else { unreachable!("texts") };
        &texts[r]
    }

    /// The token batch of `rows`, in that order, padded with 0 as batches are.
    fn tokens(data: &Dataset, rows: &[usize]) -> HostInput {
        let bags: Vec<Bag> = rows.iter().map(|&r| featurize(text(data, r), &text_plan(), None)).collect();
        token_batch(&bags, 0)
    }

    fn mix(data: &Dataset, rows: &[usize], ratio: f64, host: &mut HostInput) -> usize {
        let device = crate::device::host();
        let model = RefundModel::new(&device);
        let plan = text_plan();
        let context = augment::text::TextContext::default();
        let step = TextStep {
            data,
            rows,
            plan: &plan,
            kind: TextAttackKind::TextBugger,
            budget: Budget { max_word_share: 1.0, max_queries: 200 },
            context: &context,
            ratio,
        };
        mix_texts(&model, host, &step, 17, &device).expect("mix")
    }

    fn row(host: &HostInput, i: usize) -> &[i64] {
        let HostInput::Tokens { ids, shape, .. } = host else { unreachable!("tokens") };
        &ids[i * shape[1]..(i + 1) * shape[1]]
    }

    #[test]
    fn mix_texts_replaces_the_ids_of_the_first_rows_only() {
        let data = texts();
        // Batch order differs from file order: "first" means first in the batch.
        let rows = [4, 0, 3, 5, 1, 2];
        let clean = tokens(&data, &rows);
        let HostInput::Tokens { shape: [n, len], .. } = clean else { unreachable!("tokens") };
        // round(0.5 · 6) = 3 rows, each flipped by editing `refund`.
        let mut host = clean.clone();
        assert_eq!(mix(&data, &rows, 0.5, &mut host), 3);
        let HostInput::Tokens { shape: [rows_after, width], .. } = host else { unreachable!("tokens") };
        assert_eq!(rows_after, n);
        assert!(width >= len, "rows are widened, never narrowed");
        for (i, &r) in rows.iter().enumerate() {
            let (new, old) = (row(&host, i), row(&clean, i));
            if i < 3 {
                assert!(!new.contains(&refund_id()), "row {i} still has the word the model hinges on");
                // The edit is of this row's own text: its other words stay.
                for word in text(&data, r).split(' ').filter(|w| *w != "refund") {
                    let id = featurize(word, &text_plan(), None).ids[0];
                    assert!(new.contains(&id), "row {i} (text {r}) lost the word {word:?}");
                }
            } else {
                assert_eq!(&new[..len], old, "row {i} keeps its ids");
                assert!(new[len..].iter().all(|&id| id == 0), "row {i}: widening pads with 0");
            }
            // Every row is its features, then padding.
            let used = new.iter().rposition(|&id| id != 0).map_or(0, |p| p + 1);
            assert!(new[..used].iter().all(|&id| id != 0), "row {i}: padding inside the features");
        }
    }

    #[test]
    fn mix_texts_with_no_row_to_replace_leaves_the_batch_alone() {
        let data = texts();
        let rows = [0, 1, 2, 3, 4, 5];
        let clean = tokens(&data, &rows);
        let mut host = clean.clone();
        // round(0.05 · 6) = 0.
        assert_eq!(mix(&data, &rows, 0.05, &mut host), 0);
        assert_eq!(host, clean);
    }
}
