//! Auto-PGD (Croce & Hein, "Reliable evaluation of adversarial robustness
//! with an ensemble of diverse parameter-free attacks", ICML 2020), the
//! gradient attack of AutoAttack.
//!
//! PGD with a fixed step either overshoots or crawls, and reports a model
//! robust that a better-tuned attack breaks. Auto-PGD starts with a step of
//! 2ε, adds momentum, and halves each row's step (going back to that row's
//! best point) at checkpoints where its loss stopped rising. It climbs
//! cross-entropy or the DLR loss, which is unchanged by shifting or scaling
//! the logits and so is not flattened by a saturated softmax.
//!
//! The constants, the checkpoint schedule and the two conditions are the
//! reference implementation's (`autoattack/autopgd_base.py`), down to its
//! comparison of the first iteration's loss with zero (an unfilled slot of
//! its loss history; the paper writes the start point's loss), so that
//! Temper's figures are AutoAttack's: a test replays a run of the
//! reference (through torchattacks, which packages it) to its numbers.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use super::white_box::{per_example_l2, project};
use crate::config::{ApgdLoss, Attack, AttackKind};
use crate::model::readback::values;
use crate::model::{Classifier, ModelInput, ReadbackError};

/// Weight of the new step against the last one (α in the paper).
const MOMENTUM: f32 = 0.75;

/// Share of the iterations since the last checkpoint that must have raised
/// the loss for the step to stay (ρ in the paper).
const RISING_SHARE: f64 = 0.75;

/// The checkpoints of `steps` iterations: after which iteration (from 0)
/// each row's step is checked, and how many iterations that check looks
/// back over. The first comes after 22% of the run; each window is 3% of
/// the run shorter than the last, but never under 6% (the paper's
/// `p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06)`, in whole iterations as
/// the reference counts them).
pub fn checkpoints(steps: usize) -> Vec<(usize, usize)> {
    let share = |s: f64| ((s * steps as f64) as usize).max(1);
    let (shrink, shortest) = (share(0.03), share(0.06));
    let mut window = share(0.22);
    let mut at = window - 1;
    let mut out = Vec::new();
    while at < steps {
        out.push((at, window));
        window = window.saturating_sub(shrink).max(shortest);
        at += window;
    }
    out
}

/// One row's step size and the loss history its checks read.
#[derive(Debug, Clone)]
pub struct StepControl {
    /// The current step, in the attack's norm.
    pub step: f32,
    losses: Vec<f32>,
    best: f32,
    best_at_check: f32,
    halved_at_check: bool,
}

impl StepControl {
    /// A row whose start point has loss `start`.
    pub fn new(step: f32, start: f32) -> StepControl {
        // `halved_at_check` starts true, so the first checkpoint cannot
        // call the run stalled before it had a window to improve in.
        StepControl { step, losses: Vec::new(), best: start, best_at_check: start, halved_at_check: true }
    }

    /// Records the loss after the next iteration; true when it is the
    /// row's highest so far (the point to return to).
    pub fn record(&mut self, loss: f32) -> bool {
        self.losses.push(loss);
        let best = loss > self.best;
        if best {
            self.best = loss;
        }
        best
    }

    /// The check at a checkpoint looking back over `window` iterations:
    /// halves the step, and says so, when at most ρ of them raised the
    /// loss (condition 1) or when the step was not halved at the last check
    /// and the best loss has not risen since (condition 2).
    pub fn check(&mut self, window: usize) -> bool {
        let last = self.losses.len();
        let rises = (last.saturating_sub(window)..last)
            // The reference's history before the first iteration reads zero.
            .filter(|&i| self.losses[i] > if i == 0 { 0.0 } else { self.losses[i - 1] })
            .count();
        let oscillating = rises as f64 <= window as f64 * RISING_SHARE;
        let stalled = !self.halved_at_check && self.best_at_check >= self.best;
        let halve = oscillating || stalled;
        self.halved_at_check = halve;
        self.best_at_check = self.best;
        if halve {
            self.step /= 2.0;
        }
        halve
    }
}

/// What the model says at one point of the search, per row.
struct Probe {
    /// ∇ₓ of the summed loss.
    gradient: Tensor<4>,
    losses: Vec<f32>,
    fooled: Vec<bool>,
}

/// AutoAttack's classes to aim at, for a model of more than 9 + 1 classes.
pub(crate) const TARGETS: usize = 9;

/// Auto-PGD on a batch, as the reference's `perturb` runs it: rows the
/// model already misclassifies are left alone; each restart, and for the
/// targeted attack each target class in turn (the model's second most
/// likely class at the clean image, then the third, ...), searches only
/// the rows no earlier search broke. A row comes back as the last point
/// that fooled the model, or, where none did, its first search's point of
/// highest loss.
///
/// The rows are picked and put back on the host, so a row no search moved
/// comes back bit for bit as it went in.
///
/// # Shapes
/// `x`: `[n, c, h, w]`, `y`: `[n]` → `[n, c, h, w]`
pub fn perturb<M: Classifier>(
    model: &M,
    x: Tensor<4>,
    y: Tensor<1, Int>,
    attack: &Attack,
    seed: u64,
) -> Result<Tensor<4>, ReadbackError> {
    let n = y.dims()[0];
    let labels: Vec<usize> =
        values::<i64, 1, Int>(y, n, "attack labels")?.into_iter().map(|l| l as usize).collect();
    let clean = model.logits(ModelInput::Images(x.clone().autodiff())).inner();
    let classes = clean.dims()[1];
    let clean = values::<f32, 2, Float>(clean, n * classes, "attack logits")?;
    let ranking: Vec<Vec<usize>> = clean.chunks(classes).map(order).collect();
    // Targeted: aim at the k-th most likely class, k = 2, 3, ...
    let aims: Vec<Option<usize>> = if attack.kind.is_targeted() {
        (1..=attack.targets.unwrap_or(TARGETS).min(classes - 1)).map(Some).collect()
    } else {
        vec![None]
    };
    let mut broken: Vec<bool> = ranking.iter().zip(&labels).map(|(r, &y)| r[0] != y).collect();
    let mut searched = vec![false; n];
    let dims = x.dims();
    let per = dims[1] * dims[2] * dims[3];
    let device = x.device();
    let pixels = values::<f32, 4, Float>(x, n * per, "attack images")?;
    let mut out = pixels.clone();
    for (round, aim) in aims.iter().enumerate() {
        for restart in 0..attack.restarts.max(1) {
            let rows: Vec<usize> = (0..n).filter(|&i| !broken[i]).collect();
            if rows.is_empty() {
                break;
            }
            let k = rows.len();
            let part: Vec<f32> =
                rows.iter().flat_map(|&i| pixels[i * per..(i + 1) * per].iter().copied()).collect();
            let part = Tensor::<4>::from_data(TensorData::new(part, [k, dims[1], dims[2], dims[3]]), &device);
            let part_labels: Vec<usize> = rows.iter().map(|&i| labels[i]).collect();
            let targets: Option<Vec<usize>> = aim.map(|k| rows.iter().map(|&i| ranking[i][k]).collect());
            let draw = seed.wrapping_add((round * attack.restarts.max(1) + restart) as u64);
            let offset = start(&part, attack.epsilon as f32, attack.kind.is_l2(), draw);
            let (found, fooled) = search(model, part, &part_labels, targets.as_deref(), attack, offset)?;
            let found = values::<f32, 4, Float>(found, k * per, "adversarial images")?;
            for (j, (&i, &f)) in rows.iter().zip(&fooled).enumerate() {
                if f || !searched[i] {
                    out[i * per..(i + 1) * per].copy_from_slice(&found[j * per..(j + 1) * per]);
                }
                broken[i] |= f;
                searched[i] = true;
            }
        }
    }
    Ok(Tensor::from_data(TensorData::new(out, dims), &device))
}

/// One search from `x + offset` (clamped to the pixel range), the
/// reference's `attack_single_run` after its random draw: per row, the
/// last point the model misclassified, or the point of highest loss where
/// none was found, and whether any point fooled it. `targets`, one class
/// per row, for the targeted loss.
pub fn search<M: Classifier>(
    model: &M,
    x: Tensor<4>,
    labels: &[usize],
    targets: Option<&[usize]>,
    attack: &Attack,
    offset: Tensor<4>,
) -> Result<(Tensor<4>, Vec<bool>), ReadbackError> {
    let AttackKind::Apgd { loss, .. } = attack.kind else {
        unreachable!("white_box::perturb sends only Auto-PGD here")
    };
    let eps = attack.epsilon as f32;
    let l2 = attack.kind.is_l2();
    let device = x.device();
    let project = |p: Tensor<4>| (x.clone() + project(p - x.clone(), eps, l2)).clamp(0.0, 1.0);
    let mut current = (x.clone() + offset).clamp(0.0, 1.0);
    let first = probe(model, current.clone(), labels, targets, loss)?;
    let mut rows: Vec<StepControl> =
        first.losses.iter().map(|&l| StepControl::new(attack.step_size as f32, l)).collect();
    let mut fooled = first.fooled.clone();
    let (mut best, mut best_gradient, mut last_fooled) =
        (current.clone(), first.gradient.clone(), current.clone());
    let mut gradient = first.gradient;
    let mut previous = current.clone();
    let mut checks = checkpoints(attack.steps).into_iter().peekable();
    for i in 0..attack.steps {
        let momentum = current.clone() - previous;
        previous = current.clone();
        let weight = if i == 0 { 1.0 } else { MOMENTUM };
        let step = column(rows.iter().map(|r| r.step), &device);
        let direction =
            if l2 { gradient.clone() / (per_example_l2(gradient) + 1e-12) } else { gradient.sign() };
        let z = project(current.clone() + direction * step);
        let next = project(current.clone() + (z - current.clone()) * weight + momentum * (1.0 - weight));
        let at = probe(model, next.clone(), labels, targets, loss)?;
        let improved: Vec<bool> = rows.iter_mut().zip(&at.losses).map(|(r, &l)| r.record(l)).collect();
        best = select(&improved, next.clone(), best);
        best_gradient = select(&improved, at.gradient.clone(), best_gradient);
        last_fooled = select(&at.fooled, next.clone(), last_fooled);
        fooled.iter_mut().zip(&at.fooled).for_each(|(f, &now)| *f |= now);
        current = next;
        gradient = at.gradient;
        if let Some((_, window)) = checks.next_if(|&(after, _)| after == i) {
            let halved: Vec<bool> = rows.iter_mut().map(|r| r.check(window)).collect();
            if halved.contains(&true) {
                current = select(&halved, best.clone(), current);
                gradient = select(&halved, best_gradient.clone(), gradient);
            }
        }
    }
    Ok((select(&fooled, last_fooled, best), fooled))
}

/// The loss per row, whether the model misclassifies it, and the gradient
/// of the summed loss at `x`.
fn probe<M: Classifier>(
    model: &M,
    x: Tensor<4>,
    labels: &[usize],
    targets: Option<&[usize]>,
    loss: ApgdLoss,
) -> Result<Probe, ReadbackError> {
    let device = x.device();
    let n = labels.len();
    let input = x.clone().detach().autodiff().require_grad();
    let logits = model.logits(ModelInput::Images(input.clone()));
    let classes = logits.dims()[1];
    let host = values::<f32, 2, Float>(logits.clone().inner(), n * classes, "attack logits")?;
    let index = |ids: Vec<usize>| -> Tensor<2, Int> {
        let ids: Vec<i64> = ids.into_iter().map(|i| i as i64).collect();
        Tensor::<2, Int>::from_data(TensorData::new(ids, [n, 1]), &device).autodiff()
    };
    let true_class = index(labels.to_vec());
    let per_row = match loss {
        ApgdLoss::CrossEntropy => log_softmax(logits, 1).gather(1, true_class).neg(),
        ApgdLoss::Dlr | ApgdLoss::TargetedDlr => {
            let ranks: Vec<Vec<usize>> = host.chunks(classes).map(order).collect();
            let pick = |f: &dyn Fn(usize, &[usize]) -> usize| {
                index(ranks.iter().enumerate().map(|(i, r)| f(i, r)).collect())
            };
            let z = |ids: Tensor<2, Int>| logits.clone().gather(1, ids);
            if loss == ApgdLoss::Dlr {
                // The highest class other than the true one.
                let other = pick(&|i, r| if r[0] == labels[i] { r[1] } else { r[0] });
                (z(true_class) - z(other)).neg() / (z(pick(&|_, r| r[0])) - z(pick(&|_, r| r[2])) + 1e-12)
            } else {
                let Some(targets) = targets else { unreachable!("the targeted loss is given its targets") };
                let spread = z(pick(&|_, r| r[0])) - (z(pick(&|_, r| r[2])) + z(pick(&|_, r| r[3]))) * 0.5;
                (z(true_class) - z(pick(&|i, _| targets[i]))).neg() / (spread + 1e-12)
            }
        }
    };
    let gradient = match input.grad(&per_row.clone().sum().backward()) {
        Some(g) => super::white_box::contiguous(g),
        // No path from the input to the loss (a constant model): no direction.
        None => x.zeros_like(),
    };
    let losses = values::<f32, 2, Float>(per_row.inner(), n, "attack losses")?;
    let fooled =
        host.chunks(classes).zip(labels).map(|(z, &y)| crate::model::readback::argmax(z) != y).collect();
    Ok(Probe { gradient, losses, fooled })
}

/// The classes of `z`, highest first (the lower index first among equals).
pub(crate) fn order(z: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..z.len()).collect();
    order.sort_by(|&a, &b| z[b].total_cmp(&z[a]).then(a.cmp(&b)));
    order
}

/// `a` where `pick` holds, `b` elsewhere, row by row.
fn select(pick: &[bool], a: Tensor<4>, b: Tensor<4>) -> Tensor<4> {
    let m = column(pick.iter().map(|&p| if p { 1.0 } else { 0.0 }), &a.device());
    a * m.clone() + b * (m.neg() + 1.0)
}

/// One value per row, shaped to broadcast over images.
fn column(values: impl Iterator<Item = f32>, device: &Device) -> Tensor<4> {
    let v: Vec<f32> = values.collect();
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n, 1, 1, 1]), device)
}

/// The reference's start: a random point on the ball's surface (L2), or a
/// uniform draw scaled so its largest coordinate is ε (L∞).
fn start(x: &Tensor<4>, eps: f32, l2: bool, seed: u64) -> Tensor<4> {
    let dims = x.dims();
    let [n, c, h, w] = dims;
    let per = c * h * w;
    let mut rng = augment::seed::rng(seed);
    let mut out = Vec::with_capacity(n * per);
    for _ in 0..n {
        let t: Vec<f32> = if l2 {
            (0..per).map(|_| StandardNormal.sample(&mut rng)).collect()
        } else {
            (0..per).map(|_| rng.random_range(-1.0f32..=1.0)).collect()
        };
        let norm = if l2 {
            t.iter().map(|v| v * v).sum::<f32>().sqrt()
        } else {
            t.iter().fold(0.0f32, |m, v| m.max(v.abs()))
        };
        out.extend(t.iter().map(|v| v / norm.max(1e-12) * eps));
    }
    Tensor::from_data(TensorData::new(out, dims), &x.device())
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::nn::LinearConfig;

    use super::*;
    use crate::config::Distance;

    // Logits = W·flatten(x) + b: whether a row can be misclassified within
    // ε has a closed form for it.
    use crate::attack::linear_model::LinearModel;

    fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 data")
    }

    fn labels(ys: &[usize], device: &Device) -> Tensor<1, Int> {
        let v: Vec<i64> = ys.iter().map(|&y| y as i64).collect();
        Tensor::from_data(TensorData::new(v, [ys.len()]), device)
    }

    fn apgd(loss: ApgdLoss, norm: Distance, epsilon: f64, steps: usize) -> Attack {
        Attack::new(AttackKind::Apgd { loss, norm }, epsilon, steps, 0.0, true, 1)
    }

    #[test]
    fn checkpoints_follow_the_papers_schedule() {
        // p₀ = 0, p₁ = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06);
        // checkpoint j comes after ⌈p_j · N⌉ iterations.
        let mut p = vec![0.0f64, 0.22];
        while p[p.len() - 1] <= 1.0 {
            let (a, b) = (p[p.len() - 2], p[p.len() - 1]);
            p.push(b + (b - a - 0.03).max(0.06));
        }
        let paper: Vec<usize> =
            p[1..].iter().map(|x| (x * 100.0 - 1e-9).ceil() as usize).filter(|&w| w <= 100).collect();
        let ours = checkpoints(100);
        assert_eq!(ours.iter().map(|&(at, _)| at + 1).collect::<Vec<_>>(), paper);
        assert_eq!(paper, vec![22, 41, 57, 70, 80, 87, 93, 99]);
        // Each window is the span since the last checkpoint.
        let mut last = 0;
        for &(at, window) in &ours {
            assert_eq!(window, at + 1 - last);
            last = at + 1;
        }
        // Short runs still check: the reference's floors of one iteration.
        assert_eq!(checkpoints(4), vec![(0, 1), (1, 1), (2, 1), (3, 1)]);
        assert!(checkpoints(1).len() == 1);
    }

    #[test]
    fn the_step_halves_only_when_the_loss_stops_rising() {
        // Rising every iteration: the step stays.
        let mut rising = StepControl::new(0.2, 0.0);
        for i in 1..=5 {
            rising.record(i as f32);
        }
        assert!(!rising.check(5));
        assert_eq!(rising.step, 0.2);
        // Three rises in five (under ρ = 0.75): condition 1 halves it.
        let mut oscillating = StepControl::new(0.2, 0.0);
        for l in [1.0, 0.5, 2.0, 1.5, 3.0] {
            oscillating.record(l);
        }
        assert!(oscillating.check(5));
        assert_eq!(oscillating.step, 0.1);
        // Four of five is above ρ·5 = 3.75: kept.
        let mut mostly = StepControl::new(0.2, 0.0);
        for l in [1.0, 2.0, 1.5, 3.0, 4.0] {
            mostly.record(l);
        }
        assert!(!mostly.check(5));
        // The first iteration compares with zero, as the reference's history
        // does, not with the start's loss: four rises of four, kept, though
        // 1.0 is below the start's 10.0.
        let mut from_start = StepControl::new(0.2, 10.0);
        for l in [1.0, 2.0, 3.0, 4.0] {
            from_start.record(l);
        }
        assert!(!from_start.check(4));
        // A negative first loss (DLR on a correct row) is no rise.
        let mut negative = StepControl::new(0.2, -1.0);
        for l in [-0.5, -0.4, -0.3, -0.2] {
            negative.record(l);
        }
        assert!(negative.check(4), "three rises of four is ρ·4: halved");
    }

    #[test]
    fn a_stalled_best_halves_the_step_at_the_second_check_not_the_first() {
        let mut row = StepControl::new(0.2, 5.0);
        // Rising, but never above the start: no new best.
        for l in [1.0, 2.0, 3.0, 4.0] {
            assert!(!row.record(l));
        }
        assert!(!row.check(3), "the first check cannot call the run stalled");
        for l in [4.1, 4.2, 4.3] {
            row.record(l);
        }
        assert!(row.check(3), "no new best since a check that kept the step");
        assert_eq!(row.step, 0.1);
        // Just halved: condition 2 waits for the next window.
        for l in [4.4, 4.5, 4.6] {
            row.record(l);
        }
        assert!(!row.check(3));
    }

    /// A model whose logits are its four pixels.
    fn identity(device: &Device) -> LinearModel {
        let ad = device.clone().autodiff();
        let mut linear = LinearConfig::new(4, 4).with_bias(false).init(&ad);
        let eye: Vec<f32> = (0..16).map(|i| if i % 5 == 0 { 1.0 } else { 0.0 }).collect();
        linear.weight = Param::from_tensor(Tensor::from_data(TensorData::new(eye, [4, 4]), &ad));
        LinearModel { linear }.freeze()
    }

    #[test]
    fn dlr_and_its_gradient_match_the_closed_form() {
        let cpu = Device::flex();
        let model = identity(&cpu);
        let z = [0.9f32, 0.5, 0.3, 0.1];
        let x = Tensor::<4>::from_data(TensorData::new([z, z].concat(), [2, 1, 1, 4]), &cpu);
        let p = probe(&model, x, &[1, 0], None, ApgdLoss::Dlr).expect("probe");
        // y = 1: −(z₁ − z₀)/(z₀ − z₂); y = 0: −(z₀ − z₁)/(z₀ − z₂).
        assert!((p.losses[0] - 0.4 / 0.6).abs() < 1e-5, "{:?}", p.losses);
        assert!((p.losses[1] + 0.4 / 0.6).abs() < 1e-5, "{:?}", p.losses);
        assert_eq!(p.fooled, vec![true, false]);
        // f = (z₀ − z₁)/(z₀ − z₂) for y = 1: ∂f/∂z₀ = (z₁ − z₂)/(z₀ − z₂)²,
        // ∂f/∂z₁ = −1/(z₀ − z₂), ∂f/∂z₂ = (z₀ − z₁)/(z₀ − z₂)², ∂f/∂z₃ = 0.
        let g = floats(p.gradient);
        let expected = [0.2 / 0.36, -1.0 / 0.6, 0.4 / 0.36, 0.0];
        for (got, want) in g[..4].iter().zip(expected) {
            assert!((got - want).abs() < 1e-4, "{g:?}");
        }
        // Cross-entropy for comparison: log Σ eᶻ − z_y.
        let x = Tensor::<4>::from_data(TensorData::new(z.to_vec(), [1, 1, 1, 4]), &cpu);
        let ce = probe(&model, x.clone(), &[2], None, ApgdLoss::CrossEntropy).expect("probe");
        let lse = z.iter().map(|v| v.exp()).sum::<f32>().ln();
        assert!((ce.losses[0] - (lse - z[2])).abs() < 1e-5);
        // Targeted at class 2 from class 0: −(z₀ − z₂)/(z₀ − (z₂ + z₃)/2).
        let t = probe(&model, x, &[0], Some(&[2]), ApgdLoss::TargetedDlr).expect("probe");
        assert!((t.losses[0] + 0.6 / 0.7).abs() < 1e-5, "{:?}", t.losses);
        let g = floats(t.gradient);
        // f = (z₂ − z₀)/s, s = z₀ − (z₂ + z₃)/2: ∂f/∂z₀ = −1/s − (z₂ − z₀)/s²,
        // ∂f/∂z₂ = 1/s + (z₂ − z₀)/(2s²), ∂f/∂z₃ = (z₂ − z₀)/(2s²), ∂f/∂z₁ = 0.
        let (num, s2) = (-0.6f32, 0.7f32);
        let expected =
            [-1.0 / s2 - num / (s2 * s2), 0.0, 1.0 / s2 + num / (2.0 * s2 * s2), num / (2.0 * s2 * s2)];
        for (got, want) in g.iter().zip(expected) {
            assert!((got - want).abs() < 1e-4, "{g:?}");
        }
    }

    /// Four classes over 12 pixels, rows well inside the pixel range, each
    /// labelled with the model's own prediction (so every row starts correct).
    fn linear_setup(seed: u64, rows: usize) -> (LinearModel, Vec<f32>, Vec<usize>, Device) {
        let cpu = Device::flex();
        cpu.seed(seed);
        let model = LinearModel { linear: LinearConfig::new(12, 4).init(&cpu.clone().autodiff()) }.freeze();
        let mut rng = augment::seed::rng(seed);
        let pixels: Vec<f32> = (0..rows * 12).map(|_| rng.random_range(0.35..0.65)).collect();
        let x = Tensor::<4>::from_data(TensorData::new(pixels.clone(), [rows, 1, 3, 4]), &cpu);
        let z = floats(model.logits(ModelInput::Images(x.autodiff())).inner());
        let ys: Vec<usize> = z.chunks(4).map(crate::model::readback::argmax).collect();
        (model, pixels, ys, cpu)
    }

    #[test]
    fn on_a_linear_model_it_breaks_every_row_that_can_be_broken() {
        for (norm, radii) in [(Distance::Linf, [0.005, 0.01, 0.02]), (Distance::L2, [0.02, 0.05, 0.1])] {
            for loss in [ApgdLoss::CrossEntropy, ApgdLoss::Dlr, ApgdLoss::TargetedDlr] {
                let (model, pixels, ys, cpu) = linear_setup(5, 48);
                let (mut breakable, mut surely, mut missed) = (0, 0, Vec::new());
                for eps in radii {
                    let x = Tensor::<4>::from_data(TensorData::new(pixels.clone(), [48, 1, 3, 4]), &cpu);
                    let adv = perturb(&model, x.clone(), labels(&ys, &cpu), &apgd(loss, norm, eps, 50), 3)
                        .expect("apgd");
                    let delta = floats(adv.clone() - x);
                    let out = floats(adv.clone());
                    let logits = floats(model.logits(ModelInput::Images(adv.autodiff())).inner());
                    for (i, &y) in ys.iter().enumerate() {
                        let d = &delta[i * 12..(i + 1) * 12];
                        let size = match norm {
                            Distance::Linf => d.iter().fold(0.0f32, |m, v| m.max(v.abs())),
                            Distance::L2 => d.iter().map(|v| v * v).sum::<f32>().sqrt(),
                        };
                        assert!(size <= eps as f32 + 1e-5, "{norm:?} row {i}: {size} > {eps}");
                        assert!(out[i * 12..(i + 1) * 12].iter().all(|p| (0.0..=1.0).contains(p)));
                        let broken = crate::model::readback::argmax(&logits[i * 4..(i + 1) * 4]) != y;
                        let row = &pixels[i * 12..(i + 1) * 12];
                        let margin = model.best_margin(row, y, eps as f32, norm);
                        breakable += usize::from(margin > 0.0);
                        // Rows breakable with room to spare must be broken.
                        if model.best_margin(row, y, 0.9 * eps as f32, norm) > 0.0 {
                            surely += 1;
                            if !broken {
                                missed.push((eps, i, margin));
                            }
                        }
                        assert!(!broken || margin > -1e-4, "row {i} broken beyond what ε allows");
                    }
                }
                // The radii span rows that can and cannot be broken.
                assert!(
                    surely > 40 && breakable < 3 * 48 - 40,
                    "{norm:?}: {surely} sure, {breakable} of 144"
                );
                // The DLR losses follow one wrong class to its best vertex and
                // break every row that can be broken with room to spare;
                // cross-entropy climbs toward a mix of the wrong classes and
                // misses some (9 of 47 under L∞ here, 1 of 65 under L2).
                if loss == ApgdLoss::CrossEntropy {
                    assert!(
                        missed.len() * 4 <= surely,
                        "{norm:?}: cross-entropy missed {missed:?} of {surely}"
                    );
                    if norm == Distance::Linf {
                        assert!(missed.len() >= 3, "{norm:?}: cross-entropy missed only {missed:?}");
                    }
                } else {
                    assert!(missed.is_empty(), "{norm:?} {loss:?}: missed (ε, row, margin) {missed:?}");
                }
            }
        }
    }

    #[test]
    fn starts_lie_on_the_balls_surface_and_runs_repeat() {
        let (model, pixels, ys, cpu) = linear_setup(9, 6);
        let x = || Tensor::<4>::from_data(TensorData::new(pixels.clone(), [6, 1, 3, 4]), &cpu);
        for (l2, eps) in [(false, 0.03f32), (true, 0.4)] {
            let t = floats(start(&x(), eps, l2, 1));
            for row in t.chunks(12) {
                let size = if l2 {
                    row.iter().map(|v| v * v).sum::<f32>().sqrt()
                } else {
                    row.iter().fold(0.0f32, |m, v| m.max(v.abs()))
                };
                assert!((size - eps).abs() < 1e-5, "l2 {l2}: {size}");
            }
            assert_eq!(t, floats(start(&x(), eps, l2, 1)));
            assert_ne!(t, floats(start(&x(), eps, l2, 2)));
        }
        let attack = apgd(ApgdLoss::Dlr, Distance::Linf, 0.01, 5);
        let go = |seed| floats(perturb(&model, x(), labels(&ys, &cpu), &attack, seed).expect("apgd"));
        assert_eq!(go(1), go(1));
    }

    #[test]
    fn replays_the_reference_implementation_to_its_numbers() {
        // bench/apgd_reference.sh: the reference Auto-PGD from its own random
        // start on a fixed network; Temper searches from the same start.
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/apgd_reference.json")).expect("fixture");
        let list = crate::attack::reference_net::floats;
        let cpu = Device::flex();
        let (model, pixels, ys) = crate::attack::reference_net::load(&cpu);
        let shape = [10, 1, 3, 4];
        let x = Tensor::<4>::from_data(TensorData::new(pixels, shape), &cpu);
        for case in fixture["cases"].as_array().expect("cases") {
            let norm = if case["norm"] == "L2" { Distance::L2 } else { Distance::Linf };
            let loss = match case["loss"].as_str() {
                Some("dlr") => ApgdLoss::Dlr,
                Some("dlr-targeted") => ApgdLoss::TargetedDlr,
                _ => ApgdLoss::CrossEntropy,
            };
            // APGD-T aims at the class the clean image ranks `target_rank`-th.
            let targets: Option<Vec<usize>> = case["target_rank"].as_u64().map(|k| {
                let z = floats(model.logits(ModelInput::Images(x.clone().autodiff())).inner());
                z.chunks(4).map(|row| order(row)[k as usize - 1]).collect()
            });
            let (eps, steps) = (case["epsilon"].as_f64().expect("ε"), case["steps"].as_u64().expect("steps"));
            let offset = Tensor::<4>::from_data(TensorData::new(list(&case["offset"]), shape), &cpu);
            let attack = apgd(loss, norm, eps, steps as usize);
            let (found, broke) =
                search(&model, x.clone(), &ys, targets.as_deref(), &attack, offset).expect("apgd");
            let probe = probe(&model, found.clone(), &ys, targets.as_deref(), loss).expect("probe");
            let robust: Vec<bool> =
                case["robust"].as_array().expect("robust").iter().map(|b| b == true).collect();
            let fooled: Vec<bool> = robust.iter().map(|r| !r).collect();
            assert_eq!(broke, fooled, "{norm:?} {loss:?}: which rows broke");
            assert_eq!(probe.fooled, fooled, "{norm:?} {loss:?}: the points returned");
            // Where a row held, the returned point is its best, at the
            // reference's best loss; where it broke, the last point that did.
            let best = list(&case["loss_best"]);
            for (i, &held) in robust.iter().enumerate() {
                if held {
                    let (ours, theirs) = (probe.losses[i], best[i]);
                    assert!(
                        (ours - theirs).abs() <= 1e-4 * theirs.abs().max(1.0),
                        "{norm:?} {loss:?} row {i}: {ours} {theirs}"
                    );
                }
            }
            // Pixel for pixel the same point, within float32 rounding carried
            // through 20 steps (L2 steps mix every pixel through the norm:
            // 1e-4, 0.04% of ε; L∞ 1e-5), save where the loss is flat in that
            // pixel (|∂L/∂x| < 1e-4, converged onto): there torch's and burn's
            // rounding can give the gradient's sign either way, and the last
            // small steps differ by at most a step.
            let gradient = floats(probe.gradient);
            let (ours, theirs) = (floats(found), list(&case["result"]));
            let tolerance = if norm == Distance::L2 { 1e-4 } else { 1e-5 };
            let mut flat = 0;
            for (j, (a, b)) in ours.iter().zip(&theirs).enumerate() {
                if (a - b).abs() > tolerance {
                    flat += 1;
                    assert!(
                        gradient[j].abs() < 1e-4 && (a - b).abs() < 1e-3,
                        "{norm:?} {loss:?} row {} pixel {}: {a} against {b}, ∂L/∂x {}",
                        j / 12,
                        j % 12,
                        gradient[j]
                    );
                }
            }
            assert!(flat <= 2, "{norm:?} {loss:?}: {flat} pixels differ");
        }
    }
}
