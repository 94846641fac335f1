//! Memorised canaries (Carlini et al. 2019, "The Secret Sharer"): unique
//! synthetic rows with random labels planted in the training data, some
//! once, some many times. A model that answers a canary with its planted
//! label more often than chance (and more often than for the control group,
//! made the same way but never planted) has memorised it; for texts the
//! exposure says how far the planted secret stands out among other secrets
//! in the same sentence.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use burn::prelude::*;
use rand::Rng;
use rand::seq::SliceRandom;

use super::PrivacyError;
use crate::batch::EvalSetup;
use crate::config::CanaryPlan;
use crate::data::{Dataset, ImageSet, Inputs};
use crate::model::Classifier;
use crate::run::metrics::CanaryMetrics;

/// File name inside a run directory.
pub const CANARIES: &str = "canaries.tsv";

/// The sentence a text canary's secret is put in.
const TEMPLATE: &str = "my account pin is";
/// Digits in a text canary's secret.
const SECRET_DIGITS: usize = 6;

/// One canary.
#[derive(Debug, Clone, PartialEq)]
pub struct Canary {
    /// Times planted; 0 for the control group.
    pub repeats: usize,
    /// The label it is planted with.
    pub label: usize,
    /// Its input.
    pub input: CanaryInput,
}

/// A canary's input.
#[derive(Debug, Clone, PartialEq)]
pub enum CanaryInput {
    /// A fixed pattern of uniformly random pixels, HWC.
    Image(Vec<u8>),
    /// [`TEMPLATE`] followed by a random secret of [`SECRET_DIGITS`] digits.
    Text {
        /// The secret alone.
        secret: String,
    },
}

fn sentence(secret: &str) -> String {
    format!("{TEMPLATE} {secret}")
}

fn secret(rng: &mut impl Rng) -> String {
    (0..SECRET_DIGITS).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

/// The canaries of `plan` for a training set like `table` with `classes`
/// classes: `plan.count` per repeat count, and as many controls.
pub fn make(plan: &CanaryPlan, table: &Dataset, classes: usize, seed: u64) -> Vec<Canary> {
    let groups = std::iter::once(0).chain(plan.repeats.iter().copied());
    let mut out = Vec::new();
    for repeats in groups {
        for i in 0..plan.count {
            let mut rng = augment::seed::rng(augment::seed::derive(seed, i as u64, repeats as u64, "canary"));
            let label = rng.random_range(0..classes);
            let input = match &table.inputs {
                Inputs::Images(set) => {
                    CanaryInput::Image((0..set.stride()).map(|_| rng.random::<u8>()).collect())
                }
                Inputs::Texts(_) => CanaryInput::Text { secret: secret(&mut rng) },
            };
            out.push(Canary { repeats, label, input });
        }
    }
    out
}

/// The canaries as a dataset, one row each (controls included), shaped like `table`.
fn as_dataset(canaries: &[Canary], table: &Dataset, times: impl Fn(&Canary) -> usize) -> Dataset {
    let mut labels = Vec::new();
    let inputs = match &table.inputs {
        Inputs::Images(set) => {
            let mut pixels = Vec::new();
            for c in canaries {
                if let CanaryInput::Image(p) = &c.input {
                    for _ in 0..times(c) {
                        pixels.extend_from_slice(p);
                        labels.push(c.label);
                    }
                }
            }
            Inputs::Images(ImageSet { pixels, files_sha256: None, ..set.clone_shape() })
        }
        Inputs::Texts(_) => {
            let mut texts = Vec::new();
            for c in canaries {
                if let CanaryInput::Text { secret } = &c.input {
                    for _ in 0..times(c) {
                        texts.push(sentence(secret));
                        labels.push(c.label);
                    }
                }
            }
            Inputs::Texts(texts)
        }
    };
    Dataset { inputs, labels }
}

/// Appends every canary to `train`, each as many times as its group says
/// (controls not at all). Returns the rows added.
pub fn plant(canaries: &[Canary], train: &mut Dataset) -> usize {
    let planted = as_dataset(canaries, train, |c| c.repeats);
    let added = planted.len();
    train.append(planted);
    added
}

/// `canaries.tsv`: each canary with its group, label and content (the
/// secret for texts, a content hash for images).
pub fn render(canaries: &[Canary], classes: &[String]) -> String {
    let mut out = String::from("canary\trepeats\tlabel\tcontent\n");
    for (i, c) in canaries.iter().enumerate() {
        let content = match &c.input {
            CanaryInput::Image(p) => crate::hash::sha256_bytes(p)[..32].to_owned(),
            CanaryInput::Text { secret } => sentence(secret),
        };
        let _ =
            writeln!(out, "{i}\t{}\t{}\t{content}", c.repeats, classes[c.label].replace(['\t', '\n'], " "));
    }
    out
}

/// Each row's logits under `model`.
fn logits<M: Classifier>(
    model: &M,
    data: &Dataset,
    setup: &EvalSetup,
    device: &Device,
) -> Result<Vec<Vec<f64>>, PrivacyError> {
    let rows: Vec<usize> = (0..data.len()).collect();
    let mut out = Vec::with_capacity(rows.len());
    super::for_logits(model, data, &rows, setup, device, |_, flat, classes| {
        out.extend(flat.chunks_exact(classes).map(|r| r.iter().map(|&v| f64::from(v)).collect::<Vec<_>>()));
    })?;
    Ok(out)
}

/// `log p(label | row)` from a row of logits.
fn log_prob(row: &[f64], label: usize) -> f64 {
    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    row[label] - max - row.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
}

/// Where a canary evaluation runs.
pub struct Probe<'a> {
    /// Batch size, model plan and text context.
    pub setup: &'a EvalSetup<'a>,
    /// The plain device.
    pub device: &'a Device,
    /// Classes the model predicts.
    pub classes: usize,
    /// Run seed (candidate secrets).
    pub seed: u64,
}

/// Recall per repeat count (the share of canaries answered with their
/// planted label) and, for texts, the mean exposure of the secret.
pub fn evaluate<M: Classifier>(
    model: &M,
    canaries: &[Canary],
    plan: &CanaryPlan,
    table: &Dataset,
    probe: &Probe,
) -> Result<CanaryMetrics, PrivacyError> {
    let once = as_dataset(canaries, table, |_| 1);
    let rows = logits(model, &once, probe.setup, probe.device)?;
    let mut recall: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (c, row) in canaries.iter().zip(&rows) {
        // Ties go against the canary: the planted label must be the strict argmax.
        let hit = row.iter().enumerate().all(|(k, &v)| k == c.label || v < row[c.label]);
        let e = recall.entry(c.repeats.to_string()).or_default();
        e.0 += usize::from(hit);
        e.1 += 1;
    }
    let mut exposure: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for (i, (c, row)) in canaries.iter().zip(&rows).enumerate() {
        let CanaryInput::Text { secret: planted } = &c.input else { continue };
        let mut rng = augment::seed::rng(augment::seed::derive(probe.seed, i as u64, 0, "canary-candidates"));
        let mut others: Vec<String> = Vec::with_capacity(plan.candidates);
        while others.len() < plan.candidates {
            let s = secret(&mut rng);
            if &s != planted {
                others.push(s);
            }
        }
        others.shuffle(&mut rng);
        let texts = Dataset {
            inputs: Inputs::Texts(others.iter().map(|s| sentence(s)).collect()),
            labels: vec![c.label; others.len()],
        };
        let own = log_prob(row, c.label);
        let scores: Vec<f64> =
            logits(model, &texts, probe.setup, probe.device)?.iter().map(|r| log_prob(r, c.label)).collect();
        // Rank 1: the planted secret is the most likely; ties count half.
        let above = scores.iter().filter(|&&s| s > own).count() as f64;
        let tied = scores.iter().filter(|&&s| s == own).count() as f64;
        let rank = 1.0 + above + tied / 2.0;
        let e = exposure.entry(c.repeats.to_string()).or_default();
        e.0 += ((plan.candidates + 1) as f64).log2() - rank.log2();
        e.1 += 1;
    }
    Ok(CanaryMetrics {
        per_group: plan.count,
        planted_rows: canaries.iter().map(|c| c.repeats).sum(),
        chance: 1.0 / probe.classes as f64,
        recall: recall.into_iter().map(|(k, (h, n))| (k, h as f64 / n as f64)).collect(),
        exposure: exposure.into_iter().map(|(k, (sum, n))| (k, sum / n as f64)).collect(),
        max_exposure: (plan.candidates > 0).then(|| ((plan.candidates + 1) as f64).log2()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(n: usize) -> Dataset {
        Dataset { inputs: Inputs::Texts(vec!["hello there".to_owned(); n]), labels: vec![0; n] }
    }

    #[test]
    fn canaries_are_seeded_unique_and_planted_as_configured() {
        let plan = CanaryPlan { count: 3, repeats: vec![1, 4], candidates: 100 };
        let table = texts(5);
        let made = make(&plan, &table, 4, 9);
        assert_eq!(made, make(&plan, &table, 4, 9));
        assert_eq!(made.len(), 9, "3 controls and 3 per repeat count");
        let secrets: std::collections::BTreeSet<String> = made
            .iter()
            .map(|c| match &c.input {
                CanaryInput::Text { secret } => secret.clone(),
                CanaryInput::Image(_) => unreachable!(),
            })
            .collect();
        assert_eq!(secrets.len(), 9, "every secret differs");
        let mut train = table.clone();
        let added = plant(&made, &mut train);
        assert_eq!(added, 3 + 3 * 4);
        assert_eq!(train.len(), 5 + added);
        let Inputs::Texts(t) = &train.inputs else { unreachable!() };
        assert!(t[..5].iter().all(|s| s == "hello there"), "the real rows are unchanged");
        let four = made.iter().find(|c| c.repeats == 4).expect("a group planted 4 times");
        let CanaryInput::Text { secret } = &four.input else { unreachable!() };
        assert_eq!(t.iter().filter(|s| s.ends_with(secret.as_str())).count(), 4);
        assert!(!t.iter().any(|s| made.iter().any(|c| c.repeats == 0
            && matches!(&c.input, CanaryInput::Text { secret } if s.ends_with(secret.as_str())))));
        let tsv = render(&made, &["a".into(), "b".into(), "c".into(), "d".into()]);
        assert_eq!(tsv.lines().count(), 10);
    }

    #[test]
    fn image_canaries_have_the_tables_shape() {
        let set = ImageSet { width: 4, height: 3, channels: 1, pixels: vec![7; 2 * 12], files_sha256: None };
        let table = Dataset { inputs: Inputs::Images(set), labels: vec![0, 1] };
        let plan = CanaryPlan { count: 2, repeats: vec![2], candidates: 0 };
        let made = make(&plan, &table, 2, 1);
        let mut train = table.clone();
        assert_eq!(plant(&made, &mut train), 4);
        let Inputs::Images(s) = &train.inputs else { unreachable!() };
        assert_eq!((s.len(), s.width, s.height), (6, 4, 3));
        assert_eq!(&s.pixels[..24], &[7; 24][..]);
    }
}
