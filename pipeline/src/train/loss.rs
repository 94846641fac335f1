//! The training loss: cross-entropy, plus AugMix's Jensen-Shannon
//! consistency term (Hendrycks et al. 2020), the noisy copies' regularisers
//! or TRADES's robustness term (Zhang et al. 2019) when configured.

use burn::nn::loss::CrossEntropyLoss;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};

use crate::config::{NoisePlan, PairedLoss};
use crate::model::readback::values;
use crate::model::{Classifier, ModelInput, ReadbackError};

/// One optimisation step, split so the loop can check the loss before the update.
pub struct Step {
    logits: Tensor<2>,
    targets: Tensor<1, Int>,
    loss: Tensor<1>,
}

impl Step {
    /// Forward pass and loss on an autodiff device.
    pub fn forward<M: Classifier>(
        model: &M,
        loss_fn: &CrossEntropyLoss,
        input: ModelInput,
        targets: Tensor<1, Int>,
    ) -> Step {
        let logits = model.logits(input);
        let loss = loss_fn.forward(logits.clone(), targets.clone());
        Step { logits, targets, loss }
    }

    /// Forward pass and cross-entropy against soft targets `[n, classes]`
    /// (rows summing to 1), as a model copy learns from another's answers;
    /// `targets` (each row's top class) count the correct predictions.
    pub fn forward_soft<M: Classifier>(
        model: &M,
        input: ModelInput,
        targets: Tensor<1, Int>,
        soft: Tensor<2>,
    ) -> Step {
        let logits = model.logits(input);
        let loss = (soft * log_softmax(logits.clone(), 1)).sum_dim(1).mean().neg();
        Step { logits, targets, loss }
    }

    /// Forward pass over `[clean; view 1; view 2]` (three times as many
    /// inputs as targets): cross-entropy on the clean third plus `weight`
    /// times the Jensen-Shannon divergence between the three predictions.
    pub fn forward_augmix<M: Classifier>(
        model: &M,
        loss_fn: &CrossEntropyLoss,
        input: ModelInput,
        targets: Tensor<1, Int>,
        weight: f64,
    ) -> Step {
        let n = targets.dims()[0];
        let all = model.logits(input);
        let logits = all.clone().slice(0..n);
        let loss = loss_fn.forward(logits.clone(), targets.clone())
            + jensen_shannon(&[
                all.clone().slice(0..n),
                all.clone().slice(n..2 * n),
                all.slice(2 * n..3 * n),
            ]) * weight;
        Step { logits, targets, loss }
    }

    /// Forward pass over `noise.copies` noisy copies of each image,
    /// copy-major (that many times as many inputs as targets): the mean
    /// cross-entropy over every copy, plus Jeong & Shin's consistency
    /// regulariser when configured, or MACER's loss. The correct count is
    /// the first copy's, so a batch still counts one prediction per example.
    pub fn forward_copies<M: Classifier>(
        model: &M,
        loss_fn: &CrossEntropyLoss,
        input: ModelInput,
        targets: Tensor<1, Int>,
        noise: &NoisePlan,
    ) -> Step {
        let (n, copies) = (targets.dims()[0], noise.copies);
        let all = model.logits(input);
        let loss = match (noise.macer, noise.consistency) {
            (Some(plan), _) => super::macer::loss(all.clone(), targets.clone(), copies, noise.sigma, &plan),
            (None, consistency) => {
                let loss = loss_fn.forward(all.clone(), Tensor::cat(vec![targets.clone(); copies], 0));
                match consistency {
                    Some(k) => {
                        let each: Vec<Tensor<2>> =
                            (0..copies).map(|j| all.clone().slice(j * n..(j + 1) * n)).collect();
                        loss + consistency_loss(&each, k.weight, k.entropy)
                    }
                    None => loss,
                }
            }
        };
        Step { logits: all.slice(0..n), targets, loss }
    }

    /// Forward passes over `[clean; adversarial]` (twice as many inputs as
    /// targets), one per half as the reference code makes them, so batch
    /// norm sees each half's statistics, and TRADES's or MART's loss on
    /// them. The correct count is the clean half's.
    ///
    /// Both passes draw their dropout masks from `masks`, so an image and
    /// its adversarial version go through the same sub-network and the KL
    /// term measures what the perturbation changes, not what two masks do
    /// (independent masks make the passes disagree by themselves, which
    /// at β 6 drove a small CNN to near-uniform predictions). The
    /// references' models have no dropout, where the two are the same.
    pub fn forward_paired<M: Classifier>(
        model: &M,
        loss_fn: &CrossEntropyLoss,
        input: ModelInput,
        targets: Tensor<1, Int>,
        (kind, beta): (PairedLoss, f64),
        masks: u64,
    ) -> Step {
        let n = targets.dims()[0];
        let ModelInput::Images(both) = input else {
            // Resolution keeps TRADES and MART to images; a text batch trains plainly.
            return Step::forward(model, loss_fn, input, targets);
        };
        let device = both.device();
        device.seed(masks);
        let logits = model.logits(ModelInput::Images(both.clone().slice(0..n)));
        device.seed(masks);
        let adversarial = model.logits(ModelInput::Images(both.slice(n..2 * n)));
        let loss = match kind {
            PairedLoss::Trades => trades_loss(loss_fn, logits.clone(), adversarial, targets.clone(), beta),
            PairedLoss::Mart => mart_loss(loss_fn, logits.clone(), adversarial, targets.clone(), beta),
        };
        Step { logits, targets, loss }
    }

    /// The loss, with its graph, for a gradient other than the update's.
    pub fn into_loss(self) -> Tensor<1> {
        self.loss
    }

    /// The batch's mean loss (waits for the device).
    pub fn loss_value(&self) -> f32 {
        self.loss.clone().into_scalar()
    }

    /// Correct predictions in the batch.
    pub fn correct(&self) -> usize {
        correct(self.logits.clone().detach(), self.targets.clone())
    }

    /// The mean loss and the correct count, left on the device (detached,
    /// so they hold no graph) for a later [`Readings::read`].
    pub fn readings(&self) -> (Tensor<1>, Tensor<1, Int>) {
        (self.loss.clone().detach(), hits(self.logits.clone().detach(), self.targets.clone()))
    }

    /// Backward pass and optimiser update.
    pub fn update<M: Classifier>(self, model: M, optim: &mut ModuleOptimizer, lr: f64) -> M {
        let grads = GradientsParams::from_grads(self.loss.backward(), &model);
        optim.step(lr, model, grads)
    }
}

/// Mean over examples of the Jensen-Shannon divergence between the softmax
/// distributions of several logits (Hendrycks et al. 2020, eq. 2).
pub fn jensen_shannon(logits: &[Tensor<2>]) -> Tensor<1> {
    let probs: Vec<Tensor<2>> = logits.iter().map(|l| softmax(l.clone(), 1)).collect();
    let k = probs.len() as f64;
    let mixture = probs.iter().skip(1).fold(probs[0].clone(), |acc, p| acc + p.clone()) / k;
    let log_m = mixture.clamp(1e-7, 1.0).log();
    let kl =
        |p: &Tensor<2>| (p.clone() * (p.clone().clamp(1e-7, 1.0).log() - log_m.clone())).sum_dim(1).mean();
    probs.iter().skip(1).fold(kl(&probs[0]), |acc, p| acc + kl(p)) / k
}

/// Jeong & Shin's (2020) consistency regulariser over the logits of
/// several noisy copies of the same examples, averaged over examples:
/// `weight` times the mean KL divergence of each copy's softmax from their
/// mean p̂, plus `entropy` times p̂'s entropy (the reference code's
/// `consistency_loss`, form "default": log p̂ clamped at 1e-20, and 0 · log 0
/// taken as 0 in the KL term as PyTorch's `kl_div` does). Gradients flow
/// through p̂ as well, as there.
pub fn consistency_loss(logits: &[Tensor<2>], weight: f64, entropy: f64) -> Tensor<1> {
    let m = logits.len() as f64;
    let probs: Vec<Tensor<2>> = logits.iter().map(|l| softmax(l.clone(), 1)).collect();
    let mean = probs.iter().skip(1).fold(probs[0].clone(), |acc, p| acc + p.clone()) / m;
    let log_mean = mean.clone().clamp_min(1e-20).log();
    // KL(p̂ ‖ p_j) = Σ p̂ (log p̂ − log p_j); the Σ_j p̂ log p̂ part is m times the same.
    let cross = logits
        .iter()
        .map(|l| (mean.clone() * log_softmax(l.clone(), 1)).sum_dim(1))
        .reduce(|a, b| a + b)
        .expect("at least one copy")
        / m;
    let neg_entropy = (mean * log_mean).sum_dim(1);
    let kl = neg_entropy.clone() - cross;
    (kl * weight - neg_entropy * entropy).mean()
}

/// TRADES's loss (Zhang et al. 2019, the reference's `trades_loss`):
/// cross-entropy of the clean logits plus `beta` times KL(clean ‖
/// adversarial) summed over classes and averaged over rows. Gradients flow
/// through both predictions, as there.
pub fn trades_loss(
    loss_fn: &CrossEntropyLoss,
    clean: Tensor<2>,
    adversarial: Tensor<2>,
    targets: Tensor<1, Int>,
    beta: f64,
) -> Tensor<1> {
    let natural = loss_fn.forward(clean.clone(), targets);
    let log_clean = log_softmax(clean, 1);
    let kl = (log_clean.clone().exp() * (log_clean - log_softmax(adversarial, 1))).sum_dim(1).mean();
    natural + kl * beta
}

/// MART's loss (Wang et al. 2020, the reference's `mart_loss`): the
/// boosted cross-entropy of the adversarial logits, cross-entropy plus
/// −log(1.0001 − p′ₖ + 1e-12) for k the likeliest wrong class, plus `beta`
/// times KL(clean ‖ adversarial) weighted by 1.0000001 − the clean
/// probability of the label, so rows the model already gets wrong count
/// more; averaged over rows, gradients through every term, as there.
pub fn mart_loss(
    loss_fn: &CrossEntropyLoss,
    clean: Tensor<2>,
    adversarial: Tensor<2>,
    targets: Tensor<1, Int>,
    beta: f64,
) -> Tensor<1> {
    let n = targets.dims()[0];
    let cross = loss_fn.forward(adversarial.clone(), targets.clone());
    let probs = softmax(adversarial, 1);
    let labels = targets.reshape([n, 1]);
    // The reference's top-two rule: the top class unless it is the label,
    // then the runner-up, which is the likeliest class other than the label.
    let classes = probs.dims()[1];
    let is_label = Tensor::<1, Int>::arange(0..classes as i64, &probs.device())
        .reshape([1, classes])
        .expand([n, classes])
        .equal(labels.clone().expand([n, classes]));
    let wrong = probs.clone().detach().mask_fill(is_label, -1.0).argmax(1);
    let margin = (probs.clone().gather(1, wrong).neg() + 1.0001 + 1e-12).log().neg().mean();
    let log_clean = log_softmax(clean, 1);
    let clean_probs = log_clean.clone().exp();
    let kl = (clean_probs.clone() * (log_clean - (probs + 1e-12).log())).sum_dim(1);
    let unsure = clean_probs.gather(1, labels).neg() + 1.000_000_1;
    cross + margin + (kl * unsure).mean() * beta
}

/// Number of correct predictions in a batch of logits.
pub fn correct(logits: Tensor<2>, targets: Tensor<1, Int>) -> usize {
    hits(logits, targets).into_scalar::<i64>() as usize
}

/// The correct count as a one-element tensor on the logits' device.
pub(crate) fn hits(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1, Int> {
    let pred: Tensor<1, Int> = logits.argmax(1).squeeze_dim(1);
    pred.equal(targets).int().sum()
}

/// Per-batch losses and correct counts kept on the device and read back
/// together: one wait for the device per [`Readings::read`] instead of two
/// per batch, which on a GPU is the difference between a queue that stays
/// full and one drained every step.
#[derive(Default)]
pub struct Readings {
    losses: Vec<Tensor<1>>,
    hits: Vec<Tensor<1, Int>>,
}

impl Readings {
    /// Keeps one batch's readings.
    pub fn push(&mut self, (loss, hits): (Tensor<1>, Tensor<1, Int>)) {
        self.losses.push(loss);
        self.hits.push(hits);
    }

    /// Batches kept and not yet read.
    pub fn len(&self) -> usize {
        self.losses.len()
    }

    /// Whether nothing is waiting to be read.
    pub fn is_empty(&self) -> bool {
        self.losses.is_empty()
    }

    /// Each kept batch's (mean loss, correct count), in order; empties the buffer.
    pub fn read(&mut self) -> Result<Vec<(f32, usize)>, ReadbackError> {
        let n = self.losses.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let losses = values::<f32, 1, Float>(Tensor::cat(std::mem::take(&mut self.losses), 0), n, "losses")?;
        let hits =
            values::<i64, 1, Int>(Tensor::cat(std::mem::take(&mut self.hits), 0), n, "correct counts")?;
        Ok(losses.into_iter().zip(hits).map(|(l, h)| (l, h as usize)).collect())
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::loss::CrossEntropyLossConfig;

    use super::*;

    fn logits(rows: &[[f32; 2]]) -> Tensor<2> {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_data(TensorData::new(flat, [rows.len(), 2]), &Device::flex())
    }

    #[test]
    fn jensen_shannon_matches_a_hand_computation() {
        // One example: p = (0.5, 0.5) from logits (0, 0); q = softmax(ln 3, 0) = (0.75, 0.25).
        let p = logits(&[[0.0, 0.0]]);
        let q = logits(&[[3f32.ln(), 0.0]]);
        let got: f32 = jensen_shannon(&[p.clone(), q.clone(), q]).into_scalar();
        let m = [(0.5 + 1.5) / 3.0, (0.5 + 0.5) / 3.0];
        let kl = |a: [f64; 2]| a[0] * (a[0] / m[0]).ln() + a[1] * (a[1] / m[1]).ln();
        let expected = (kl([0.5, 0.5]) + 2.0 * kl([0.75, 0.25])) / 3.0;
        assert!((f64::from(got) - expected).abs() < 1e-6, "{got} vs {expected}");
        let same: f32 = jensen_shannon(&[p.clone(), p.clone(), p]).into_scalar();
        assert!(same.abs() < 1e-7);
    }

    fn rows(values: &[&[f32]]) -> Tensor<2> {
        let flat: Vec<f32> = values.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::from_data(TensorData::new(flat, [values.len(), values[0].len()]), &Device::flex())
    }

    #[test]
    fn consistency_matches_the_reference_code() {
        // bench/consistency_reference.py: the authors' consistency_loss in NumPy.
        let two =
            [rows(&[&[2.0, -1.0, 0.5], &[0.0, 0.0, 0.0]]), rows(&[&[1.0, 0.3, -2.0], &[3.0, -3.0, 1.0]])];
        let three = [
            rows(&[&[0.1, 0.2, 0.3, 0.4]]),
            rows(&[&[-1.0, 2.0, 0.0, 1.0]]),
            rows(&[&[4.0, -2.0, 1.0, 0.0]]),
        ];
        let saturated = [rows(&[&[60.0, 0.0, -60.0]]), rows(&[&[0.0, 1.0, -100.0]])];
        for (name, logits, weight, entropy, want) in [
            ("two copies", &two[..], 10.0, 0.5, 3.0628129995959723),
            ("three copies", &three[..], 2.0, 1.5, 3.6473980208978185),
            ("saturated", &saturated[..], 20.0, 0.5, 215.9924972747725),
        ] {
            let got: f32 = consistency_loss(logits, weight, entropy).into_scalar();
            assert!((f64::from(got) - want).abs() < 1e-5 * want, "{name}: {got} vs {want}");
        }
    }

    #[test]
    fn identical_copies_leave_only_the_entropy_term() {
        let p = rows(&[&[1.0, 0.0, -1.0], &[0.5, 0.5, 3.0]]);
        let got: f32 = consistency_loss(&[p.clone(), p.clone()], 10.0, 0.5).into_scalar();
        let entropy = |l: [f64; 3]| {
            let z: f64 = l.iter().map(|x| x.exp()).sum();
            -l.iter().map(|x| x.exp() / z * (x.exp() / z).ln()).sum::<f64>()
        };
        let want = 0.5 * (entropy([1.0, 0.0, -1.0]) + entropy([0.5, 0.5, 3.0])) / 2.0;
        assert!((f64::from(got) - want).abs() < 1e-6, "{got} vs {want}");
        let off: f32 = consistency_loss(&[p.clone(), p], 10.0, 0.0).into_scalar();
        assert!(off.abs() < 1e-6, "no KL between equal predictions: {off}");
    }

    #[test]
    fn trades_matches_the_reference_code() {
        // bench/trades_reference.py: the authors' trades_loss in NumPy.
        let clean = || rows(&[&[2.0, -1.0, 0.5], &[0.0, 0.0, 0.0], &[40.0, 0.0, -40.0]]);
        let adversarial = || rows(&[&[1.0, 0.3, -2.0], &[3.0, -3.0, 1.0], &[0.0, 1.0, -60.0]]);
        let labels = || Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2, 1], [3]), &Device::flex());
        let loss_fn = CrossEntropyLossConfig::new().init(&Device::flex());
        for (beta, want) in [(6.0, 20.535978788883654), (1.0, 14.905975238515405), (0.0, 13.779974528441755)]
        {
            let got: f32 = trades_loss(&loss_fn, clean(), adversarial(), labels(), beta).into_scalar();
            assert!((f64::from(got) - want).abs() < 1e-5 * want, "β {beta}: {got} vs {want}");
        }
        let same: f32 = trades_loss(&loss_fn, clean(), clean(), labels(), 6.0).into_scalar();
        let plain: f32 = loss_fn.forward(clean(), labels()).into_scalar();
        assert!((same - plain).abs() < 1e-5, "no divergence from itself: {same} vs {plain}");
    }

    #[test]
    fn mart_matches_the_reference_code() {
        // bench/mart_reference.py: the authors' mart_loss in NumPy. Row by
        // row the likeliest wrong class is the top class (rows 1, 2) or,
        // where the top class is the label, the runner-up (rows 0, 3).
        let clean = || rows(&[&[2.0, -1.0, 0.5], &[0.0, 0.0, 0.0], &[40.0, 0.0, -40.0], &[0.2, 1.5, -0.3]]);
        let adversarial =
            || rows(&[&[1.0, 0.3, -2.0], &[3.0, -3.0, 1.0], &[0.0, 1.0, -60.0], &[0.1, 0.4, 0.3]]);
        let labels =
            || Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2, 1, 1], [4]), &Device::flex());
        let loss_fn = CrossEntropyLossConfig::new().init(&Device::flex());
        for (beta, want) in [(6.0, 5.657963363433161), (1.0, 2.4180040498354787), (0.0, 1.7700121871159422)] {
            let got: f32 = mart_loss(&loss_fn, clean(), adversarial(), labels(), beta).into_scalar();
            assert!((f64::from(got) - want).abs() < 1e-5 * want, "β {beta}: {got} vs {want}");
        }
    }

    /// A CNN whose rows' logits do not depend on each other (no batch norm).
    fn tiny_cnn(device: &Device) -> crate::model::CnnModel {
        crate::model::test_cnn(&[2], 4, 0.0, crate::config::Norm::None, 6, device)
    }

    /// A 6×6 gray test image, varied by `k`.
    fn image(k: usize) -> Vec<f32> {
        (0..36).map(|p| ((p * 7 + k * 13) % 17) as f32 / 17.0).collect()
    }

    fn images(pixels: Vec<f32>, k: usize, device: &Device) -> ModelInput {
        ModelInput::Images(Tensor::from_data(TensorData::new(pixels, [k, 1, 6, 6]), device))
    }

    #[test]
    fn paired_losses_take_the_halves_in_their_own_passes_and_count_the_clean_one() {
        let device = Device::flex();
        let model = tiny_cnn(&device);
        let n = 3;
        let clean: Vec<f32> = (0..n).flat_map(image).collect();
        let adversarial: Vec<f32> = (0..n).flat_map(|k| image(k + 5)).collect();
        let targets = || Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2, 1], [n]), &device);
        let loss_fn = CrossEntropyLossConfig::new().init(&device);
        let both = images([clean.clone(), adversarial.clone()].concat(), 2 * n, &device);
        let (a, b) =
            (model.logits(images(clean.clone(), n, &device)), model.logits(images(adversarial, n, &device)));
        let plain = Step::forward(&model, &loss_fn, images(clean, n, &device), targets());
        for kind in [PairedLoss::Trades, PairedLoss::Mart] {
            let step = Step::forward_paired(&model, &loss_fn, both.clone(), targets(), (kind, 6.0), 7);
            let want: f32 = match kind {
                PairedLoss::Trades => trades_loss(&loss_fn, a.clone(), b.clone(), targets(), 6.0),
                PairedLoss::Mart => mart_loss(&loss_fn, a.clone(), b.clone(), targets(), 6.0),
            }
            .into_scalar();
            assert!((step.loss_value() - want).abs() < 1e-6, "{kind:?}: {} vs {want}", step.loss_value());
            assert_eq!(step.correct(), plain.correct(), "{kind:?}: hits are the clean half's");
        }
        let trades = Step::forward_paired(&model, &loss_fn, both, targets(), (PairedLoss::Trades, 6.0), 7);
        assert!(trades.loss_value() > plain.loss_value() + 1e-4, "the KL term is added");
    }

    #[test]
    fn paired_passes_share_their_dropout_masks() {
        let device = Device::flex().autodiff();
        let model = crate::model::test_cnn(&[2], 16, 0.5, crate::config::Norm::None, 6, &device);
        let n = 3;
        let clean: Vec<f32> = (0..n).flat_map(image).collect();
        let targets = || Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2, 1], [n]), &device);
        let loss_fn = CrossEntropyLossConfig::new().init(&device);
        // An "adversarial" half equal to the clean one: with one mask the
        // two passes agree and the KL term vanishes.
        let both = || images([clean.clone(), clean.clone()].concat(), 2 * n, &device);
        // The device's generator is the process's: a test on another thread
        // can draw between the seeding and the masks. Five tries; a
        // regression to independent masks never gives a zero divergence.
        let gaps: Vec<f32> = (0..5)
            .map(|_| {
                let paired =
                    Step::forward_paired(&model, &loss_fn, both(), targets(), (PairedLoss::Trades, 6.0), 11);
                device.seed(11);
                let plain = Step::forward(&model, &loss_fn, images(clean.clone(), n, &device), targets());
                (paired.loss_value() - plain.loss_value()).abs()
            })
            .collect();
        assert!(
            gaps.iter().any(|g| *g < 1e-6),
            "no divergence between equal images under one mask: {gaps:?}"
        );
        // Dropout is live: two masks make the same images disagree.
        device.seed(11);
        let a = model.logits(images(clean.clone(), n, &device));
        let b = model.logits(images(clean, n, &device));
        let kl: f32 = trades_loss(&loss_fn, a.clone(), b, targets(), 1.0).into_scalar::<f32>()
            - loss_fn.forward(a, targets()).into_scalar::<f32>();
        assert!(kl > 1e-4, "independent masks: KL {kl}");
    }

    #[test]
    fn copies_train_on_the_mean_cross_entropy_and_count_the_first_copy() {
        let device = Device::flex();
        let model = tiny_cnn(&device);
        let (n, copies) = (3, 2);
        let first: Vec<f32> = (0..n).flat_map(image).collect();
        let second: Vec<f32> = (0..n).flat_map(|k| image(k + 5)).collect();
        let input = |pixels: Vec<f32>, k: usize| images(pixels, k, &device);
        let targets = || Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2, 1], [n]), &device);
        let loss_fn = CrossEntropyLossConfig::new().init(&device);
        let both = [first.clone(), second.clone()].concat();
        let plain = NoisePlan { sigma: 0.25, copies, consistency: None, macer: None };
        let step = Step::forward_copies(&model, &loss_fn, input(both.clone(), copies * n), targets(), &plain);
        let one = Step::forward(&model, &loss_fn, input(first.clone(), n), targets());
        let other = Step::forward(&model, &loss_fn, input(second.clone(), n), targets());
        let mean = (one.loss_value() + other.loss_value()) / 2.0;
        assert!((step.loss_value() - mean).abs() < 1e-6, "{} vs {mean}", step.loss_value());
        assert_eq!(step.correct(), one.correct(), "hits are the first copy's, one per example");
        // The regulariser adds exactly its term over the two halves.
        let k = crate::config::ConsistencyPlan { weight: 10.0, entropy: 0.5 };
        let regular = NoisePlan { consistency: Some(k), ..plain };
        let regular =
            Step::forward_copies(&model, &loss_fn, input(both.clone(), copies * n), targets(), &regular);
        let halves = [model.logits(input(first, n)), model.logits(input(second, n))];
        let term: f32 = consistency_loss(&halves, 10.0, 0.5).into_scalar();
        assert!(term > 0.0);
        let total = regular.loss_value();
        assert!((total - mean - term).abs() < 1e-5, "{total} vs {}", mean + term);
        // MACER replaces the cross-entropy over the copies by its own loss.
        let k = crate::config::MacerPlan { weight: 12.0, margin: 8.0, beta: 16.0 };
        let logits = model.logits(input(both.clone(), copies * n));
        let want: f32 = super::super::macer::loss(logits, targets(), copies, 0.25, &k).into_scalar();
        let macer = NoisePlan { macer: Some(k), ..plain };
        let got = Step::forward_copies(&model, &loss_fn, input(both, copies * n), targets(), &macer);
        assert_eq!(got.loss_value(), want);
        assert!((got.loss_value() - mean).abs() > 1e-3, "not the mean cross-entropy: {}", got.loss_value());
    }

    #[test]
    fn correct_counts_the_argmax_hits() {
        let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 0, 0], [3]), &Device::flex());
        assert_eq!(correct(logits(&[[0.0, 1.0], [2.0, 1.0], [0.0, 3.0]]), targets), 2);
    }
}
