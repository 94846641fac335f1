//! Simulated data poisoning: an attacker who controls some training rows
//! flips their labels or plants a backdoor (BadNets, Gu et al. 2017: a
//! trigger on the input, the label set to the attacker's class). The rows
//! are chosen and changed from the run seed, recorded in `poison.tsv`, and
//! only ever in the training set; `rows.tsv` keeps describing the data as
//! it was read. After training, the attack success rate is the share of
//! test inputs of other classes that the trigger sends to the target class.

pub mod clustering;
pub mod filter;
mod linalg;

use std::fmt::Write as _;

use rand::Rng;
use rand::seq::IndexedRandom;

use crate::batch::{EvalSetup, Perturbation};
use crate::config::{Corner, PatchPattern, PoisonAmount, PoisonAttack, PoisonPlan, Trigger};
use crate::data::{Dataset, ImageSet, Inputs};
use crate::eval::examples::{self, Group};
use crate::eval::{self, EvalError};
use crate::model::Classifier;
use crate::run::metrics::PoisonMetrics;

/// File name inside a run directory.
pub const POISON: &str = "poison.tsv";

/// Why the poisoning cannot be simulated as configured.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PoisonError {
    /// The target class is not one of the data's.
    #[error("`train.poison.target`: class {target:?} is not in the data (classes: {classes})")]
    UnknownTarget {
        /// The configured name.
        target: String,
        /// The data's classes.
        classes: String,
    },
    /// More rows asked for than can be poisoned.
    #[error("`train.poison`: {asked} rows to poison, but only {eligible} training rows are eligible ({why})")]
    TooMany {
        /// Rows asked for.
        asked: usize,
        /// Rows that can be poisoned.
        eligible: usize,
        /// Which rows are eligible.
        why: &'static str,
    },
    /// Label flipping needs another class to flip to.
    #[error("`train.poison`: label flipping needs at least two classes")]
    OneClass,
}

/// One poisoned training row.
#[derive(Debug, Clone, PartialEq)]
pub struct PoisonedRow {
    /// Index into the training set.
    pub row: usize,
    /// Its label as read.
    pub original: usize,
    /// Its label as trained on.
    pub label: usize,
    /// Whether the trigger was put on it.
    pub triggered: bool,
}

/// What the simulation did.
#[derive(Debug, Clone, PartialEq)]
pub struct Poisoning {
    /// The poisoned rows, by row index.
    pub rows: Vec<PoisonedRow>,
    /// The backdoor's target class.
    pub target: Option<usize>,
    /// Training rows before poisoning (the rate's denominator).
    pub train_rows: usize,
}

fn class_index(name: &str, classes: &[String]) -> Result<usize, PoisonError> {
    classes
        .iter()
        .position(|c| c == name)
        .ok_or_else(|| PoisonError::UnknownTarget { target: name.to_owned(), classes: classes.join(", ") })
}

/// The target class and the rows the attacker takes, sorted, with the
/// generator that then draws the flipped labels.
fn choose(
    plan: &PoisonPlan,
    train: &Dataset,
    classes: &[String],
    seed: u64,
) -> Result<(Option<usize>, Vec<usize>, impl Rng + use<>), PoisonError> {
    let n = train.len();
    let asked = match plan.amount {
        PoisonAmount::Rate(r) => ((r * n as f64).round() as usize).max(1),
        PoisonAmount::Count(k) => k,
    };
    let mut rng = augment::seed::rng(augment::seed::derive(seed, 0, 0, "poison"));
    let (target, eligible, why): (Option<usize>, Vec<usize>, &'static str) = match &plan.attack {
        PoisonAttack::LabelFlip { target } => {
            if classes.len() < 2 {
                return Err(PoisonError::OneClass);
            }
            let t = target.as_deref().map(|t| class_index(t, classes)).transpose()?;
            let rows = (0..n).filter(|&r| Some(train.labels[r]) != t).collect();
            (t, rows, "rows not already of the target class")
        }
        PoisonAttack::Backdoor { target, clean_label, .. } => {
            let t = class_index(target, classes)?;
            let keep = |r: usize| (train.labels[r] == t) == *clean_label;
            let why = if *clean_label { "rows of the target class" } else { "rows of other classes" };
            (Some(t), (0..n).filter(|&r| keep(r)).collect(), why)
        }
    };
    if asked > eligible.len() {
        return Err(PoisonError::TooMany { asked, eligible: eligible.len(), why });
    }
    let mut chosen: Vec<usize> = eligible.choose_multiple(&mut rng, asked).copied().collect();
    chosen.sort_unstable();
    Ok((target, chosen, rng))
}

/// Whether `plan` can poison `train`: its target is a class of the data and
/// there are enough eligible rows. Changes nothing.
pub fn check(plan: &PoisonPlan, train: &Dataset, classes: &[String]) -> Result<(), PoisonError> {
    choose(plan, train, classes, 0).map(drop)
}

/// Chooses and changes the poisoned rows of `train` in place.
pub fn apply(
    plan: &PoisonPlan,
    train: &mut Dataset,
    classes: &[String],
    seed: u64,
) -> Result<Poisoning, PoisonError> {
    let n = train.len();
    let (target, chosen, mut rng) = choose(plan, train, classes, seed)?;
    let mut rows = Vec::with_capacity(chosen.len());
    for row in chosen {
        let original = train.labels[row];
        let (label, triggered) = match &plan.attack {
            PoisonAttack::LabelFlip { .. } => {
                let label = target.unwrap_or_else(|| {
                    // A uniformly drawn other class.
                    let k = rng.random_range(0..classes.len() - 1);
                    if k >= original { k + 1 } else { k }
                });
                (label, false)
            }
            PoisonAttack::Backdoor { trigger, .. } => {
                let word_seed = augment::seed::derive(seed, row as u64, 0, "poison-trigger");
                put_trigger(&mut train.inputs, row, trigger, word_seed);
                (target.unwrap_or(original), true)
            }
        };
        train.labels[row] = label;
        rows.push(PoisonedRow { row, original, label, triggered });
    }
    Ok(Poisoning { rows, target, train_rows: n })
}

/// Puts `trigger` on row `row` of `inputs`.
fn put_trigger(inputs: &mut Inputs, row: usize, trigger: &Trigger, seed: u64) {
    match (inputs, trigger) {
        (Inputs::Images(set), Trigger::Patch { size, corner, pattern, opacity }) => {
            stamp(set, row, *size, *corner, *pattern, *opacity);
        }
        (Inputs::Texts(texts), Trigger::Token(token)) => {
            texts[row] = insert_token(&texts[row], token, &mut augment::seed::rng(seed));
        }
        // Resolution pairs image triggers with image data.
        _ => unreachable!("a trigger of the other modality"),
    }
}

/// Stamps the patch on one image (HWC bytes), blended at `opacity`.
fn stamp(set: &mut ImageSet, row: usize, size: u32, corner: Corner, pattern: PatchPattern, opacity: f64) {
    let (w, h, c) = (set.width as usize, set.height as usize, usize::from(set.channels));
    let size = size as usize;
    let (x0, y0) = match corner {
        Corner::TopLeft => (0, 0),
        Corner::TopRight => (w - size, 0),
        Corner::BottomLeft => (0, h - size),
        Corner::BottomRight => (w - size, h - size),
    };
    let stride = set.stride();
    let image = &mut set.pixels[row * stride..(row + 1) * stride];
    for dy in 0..size {
        for dx in 0..size {
            let value: f64 = match pattern {
                PatchPattern::White => 255.0,
                // The corner pixel nearest the image's corner is white.
                PatchPattern::Checkerboard => {
                    if (dx + dy).is_multiple_of(2) {
                        255.0
                    } else {
                        0.0
                    }
                }
            };
            let at = ((y0 + dy) * w + x0 + dx) * c;
            for px in &mut image[at..at + c] {
                *px = (opacity * value + (1.0 - opacity) * f64::from(*px)).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// `text` with `token` inserted at a word boundary drawn from `rng`.
fn insert_token(text: &str, token: &str, rng: &mut impl Rng) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let at = rng.random_range(0..=words.len());
    let mut out: Vec<&str> = Vec::with_capacity(words.len() + 1);
    out.extend_from_slice(&words[..at]);
    out.push(token);
    out.extend_from_slice(&words[at..]);
    out.join(" ")
}

/// `poison.tsv`: each poisoned row with its labels before and after.
pub fn render(p: &Poisoning, classes: &[String]) -> String {
    let clean = |k: usize| classes[k].replace(['\t', '\n'], " ");
    let mut out = String::from("row\toriginal_label\tlabel\ttriggered\n");
    for r in &p.rows {
        let _ = writeln!(out, "{}\t{}\t{}\t{}", r.row, clean(r.original), clean(r.label), r.triggered);
    }
    out
}

/// `rows` of the test set, each with the trigger (text positions seeded by
/// the row's place in `rows`).
fn with_trigger(test: &Dataset, rows: &[usize], trigger: &Trigger, seed: u64) -> Dataset {
    let mut out = test.subset(rows);
    for row in 0..out.len() {
        let word_seed = augment::seed::derive(seed, row as u64, 1, "poison-trigger-test");
        put_trigger(&mut out.inputs, row, trigger, word_seed);
    }
    out
}

/// The test rows of other classes than the target, each with the trigger.
fn triggered_test(test: &Dataset, target: usize, trigger: &Trigger, seed: u64) -> Dataset {
    let keep: Vec<usize> = (0..test.len()).filter(|&r| test.labels[r] != target).collect();
    with_trigger(test, &keep, trigger, seed)
}

/// The attack's figures for the trained `model`: the backdoor's success
/// rate on triggered test inputs of other classes (clean accuracy is the
/// run's own, on the untouched test set).
pub fn evaluate<M: Classifier>(
    model: &M,
    plan: &PoisonPlan,
    poisoning: &Poisoning,
    test: &Dataset,
    classes: &[String],
    setup: &EvalSetup,
    device: &burn::prelude::Device,
) -> Result<PoisonMetrics, EvalError> {
    let mut metrics = PoisonMetrics {
        attack: match plan.attack {
            PoisonAttack::LabelFlip { .. } => "label_flip",
            PoisonAttack::Backdoor { .. } => "backdoor",
        }
        .to_owned(),
        poisoned_rows: poisoning.rows.len(),
        rate: poisoning.rows.len() as f64 / poisoning.train_rows.max(1) as f64,
        target: poisoning.target.map(|t| classes[t].clone()),
        clean_label: matches!(plan.attack, PoisonAttack::Backdoor { clean_label: true, .. }),
        attack_success_rate: None,
        triggered_test_rows: 0,
    };
    if let (PoisonAttack::Backdoor { trigger, .. }, Some(target)) = (&plan.attack, poisoning.target) {
        let triggered = triggered_test(test, target, trigger, setup.seed);
        let predicted = eval::predict(model, &triggered, Perturbation::None, setup, device)?;
        metrics.triggered_test_rows = triggered.len();
        metrics.attack_success_rate =
            Some(predicted.iter().filter(|&&p| p == target).count() as f64 / triggered.len().max(1) as f64);
    }
    Ok(metrics)
}

/// The report's examples of the backdoor: the first test rows with the
/// trigger, and what the model answers.
pub fn example_group<M: Classifier>(
    model: &M,
    plan: &PoisonPlan,
    test: &Dataset,
    classes: &[String],
    setup: &EvalSetup,
    device: &burn::prelude::Device,
) -> Result<Option<Group>, EvalError> {
    let PoisonAttack::Backdoor { trigger, target, .. } = &plan.attack else { return Ok(None) };
    let rows: Vec<usize> = (0..test.len().min(examples::EXAMPLES)).collect();
    let changed = with_trigger(test, &rows, trigger, setup.seed);
    let shown = test.subset(&rows);
    let setting = format!("trigger, target {target}");
    examples::changed_group(model, &shown, &changed, ("backdoor", &setting), classes, setup, device)
}

#[cfg(test)]
mod tests;
