//! The report's gallery: the first few test inputs as each corruption (at
//! severity 3) and each attack (at its middle ε) changes them, with the
//! model's prediction before and after. Numbers say how often a model
//! breaks; the gallery shows what breaking it takes.
//!
//! Inputs are perturbed with the seeds evaluation uses for them, so the
//! gallery shows what the metrics measured. It costs one forward pass per
//! corruption and one attack on a handful of inputs per attack.

use burn::prelude::*;

use crate::attack::black_box::{self, TextAttack, search};
use crate::attack::{AttackPlan, BlackBoxPlan, WhiteBoxPlan, epsilon_key, white_box};
use crate::batch::{self, HostBatch, Perturbation};
use crate::config::ModelPlan;
use crate::data::{Dataset, ImageSet, Inputs};
use crate::eval::{self, EvalSetup};
use crate::model::{Classifier, HostInput, ModelInput};

/// How many test inputs the gallery shows (the first ones, in file order).
pub const EXAMPLES: usize = 4;
/// The corruption severity the gallery shows: the middle of 1..=5.
pub const SEVERITY: i64 = 3;
/// Longest side of an image thumbnail, in pixels; larger inputs are shrunk
/// so the report stays small.
const THUMBNAIL: u32 = 96;

/// One input as the gallery shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// A PNG thumbnail; empty when it could not be encoded.
    Png(Vec<u8>),
    /// A text with the original it was derived from.
    Text {
        /// The clean text.
        original: String,
        /// The text shown (equal to `original` for the clean row).
        text: String,
    },
}

/// One input and what the model made of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The (perturbed) input.
    pub input: Shown,
    /// True class name.
    pub label: String,
    /// Predicted class of the clean input.
    pub before: String,
    /// Predicted class of this input.
    pub after: String,
}

/// One perturbation applied to every gallery input.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Corruption or attack name.
    pub name: String,
    /// Its setting, e.g. `severity 3` or `ε = 0.1`.
    pub setting: String,
    /// One per gallery input, in row order.
    pub examples: Vec<Example>,
}

/// The gallery of a run; empty when the test set is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Examples {
    /// The clean inputs.
    pub clean: Vec<Example>,
    /// One group per corruption, then one per attack, in config order.
    pub groups: Vec<Group>,
}

/// Gathers the gallery for an evaluation-mode `model` on a plain device.
pub fn gather<M: Classifier>(
    model: &M,
    test: &Dataset,
    classes: &[String],
    setup: &EvalSetup,
    device: &Device,
) -> Examples {
    let rows: Vec<usize> = (0..test.len().min(EXAMPLES)).collect();
    if rows.is_empty() {
        return Examples::default();
    }
    let clean = batch::build(test, &rows, Perturbation::None, setup.model, setup.text);
    let before = eval::predict_batch(model, &clean.input, device);
    let g = Gallery { model, test, classes, setup, device, rows, before };
    let mut out = Examples { clean: g.examples(g.shown(Perturbation::None), &g.before), groups: Vec::new() };
    let severity = augment::Severity::new(SEVERITY).unwrap_or_default();
    for &name in &setup.eval.corruptions {
        let perturb = Perturbation::Op { name, severity, seed: setup.seed };
        let host = batch::build(test, &g.rows, perturb, setup.model, setup.text);
        let after = eval::predict_batch(model, &host.input, device);
        out.groups.push(Group {
            name: name.to_owned(),
            setting: format!("severity {SEVERITY}"),
            examples: g.examples(g.shown(perturb), &after),
        });
    }
    for plan in &setup.eval.attacks {
        let group = match plan {
            AttackPlan::WhiteBox(p) => g.white_box(p, &clean),
            AttackPlan::BlackBox(p) => g.black_box(p),
        };
        out.groups.extend(group);
    }
    out
}

/// What every group of one gallery shares.
struct Gallery<'a, M> {
    model: &'a M,
    test: &'a Dataset,
    classes: &'a [String],
    setup: &'a EvalSetup<'a>,
    device: &'a Device,
    rows: Vec<usize>,
    before: Vec<usize>,
}

impl<M: Classifier> Gallery<'_, M> {
    fn class(&self, index: usize) -> String {
        self.classes.get(index).cloned().unwrap_or_else(|| index.to_string())
    }

    fn examples(&self, shown: Vec<Shown>, after: &[usize]) -> Vec<Example> {
        shown
            .into_iter()
            .zip(&self.rows)
            .enumerate()
            .map(|(i, (input, &r))| Example {
                input,
                label: self.class(self.test.labels[r]),
                before: self.class(self.before.get(i).copied().unwrap_or(usize::MAX)),
                after: self.class(after.get(i).copied().unwrap_or(usize::MAX)),
            })
            .collect()
    }

    /// The gallery rows under a corruption (or none), as evaluation sees them.
    fn shown(&self, perturb: Perturbation) -> Vec<Shown> {
        match &self.test.inputs {
            Inputs::Images(set) => {
                self.rows.iter().map(|&r| png(set, batch::image_row(set, r, perturb))).collect()
            }
            Inputs::Texts(texts) => self
                .rows
                .iter()
                .map(|&r| {
                    let original = texts[r].clone();
                    let text = batch::text_row(&original, r, perturb, self.setup.text)
                        .unwrap_or_else(|| original.clone());
                    Shown::Text { original, text }
                })
                .collect(),
        }
    }

    /// The attack at its middle ε on the gallery rows, seeded as the first
    /// batch of the evaluation's attack.
    fn white_box(&self, plan: &WhiteBoxPlan, clean: &HostBatch) -> Option<Group> {
        let (Inputs::Images(set), HostInput::Images { shape, .. }) = (&self.test.inputs, &clean.input) else {
            return None;
        };
        let eps = middle(&plan.epsilons)?;
        let ModelInput::Images(x) = clean.input.to_device(self.device) else { return None };
        let n = clean.labels.len();
        let y = Tensor::<1, Int>::from_data(TensorData::new(clean.labels.clone(), [n]), self.device);
        let frozen = self.model.clone().to_device(&self.device.clone().autodiff()).freeze();
        let seed = augment::seed::derive(self.setup.seed, 0, eps.to_bits(), plan.kind.name());
        let adv = white_box::perturb(&frozen, x, y, &plan.at(eps), seed);
        let pixels = adv.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default();
        let host = HostInput::Images { pixels, shape: *shape };
        let after = eval::predict_batch(self.model, &host, self.device);
        let HostInput::Images { pixels, .. } = host else { return None };
        let [_, c, h, w] = *shape;
        let shown = pixels.chunks_exact(c * h * w).map(|chw| png(set, hwc_bytes(chw, c, h * w))).collect();
        Some(Group {
            name: plan.kind.name().to_owned(),
            setting: format!("ε = {}", epsilon_key(eps)),
            examples: self.examples(shown, &after),
        })
    }

    /// The text attack on the gallery rows, seeded per row as in evaluation.
    fn black_box(&self, plan: &BlackBoxPlan) -> Option<Group> {
        let (Inputs::Texts(texts), ModelPlan::Text(text_plan)) = (&self.test.inputs, self.setup.model) else {
            return None;
        };
        let share = plan.budget.max_word_share;
        let mut attacks: Vec<TextAttack> = self
            .rows
            .iter()
            .map(|&r| {
                let seed =
                    augment::seed::derive(self.setup.seed, r as u64, share.to_bits(), plan.kind.name());
                let label = self.test.labels[r];
                TextAttack::new(&texts[r], label, plan.kind.strategy(), plan.budget, self.setup.text, seed)
            })
            .collect();
        let batch_size = self.setup.eval.batch_size;
        let mut score =
            |q: &[String]| black_box::probabilities(self.model, q, text_plan, batch_size, self.device);
        search::run(&mut attacks, &mut score);
        let finals: Vec<String> = attacks.iter().map(|a| a.outcome().text).collect();
        let after: Vec<usize> = score(&finals).iter().map(|p| argmax(p)).collect();
        let shown = self
            .rows
            .iter()
            .zip(finals)
            .map(|(&r, text)| Shown::Text { original: texts[r].clone(), text })
            .collect();
        Some(Group {
            name: plan.kind.name().to_owned(),
            setting: format!("ε = {} (word share)", epsilon_key(share)),
            examples: self.examples(shown, &after),
        })
    }
}

/// The middle of the configured radii (the upper one of two middles).
fn middle(epsilons: &[f64]) -> Option<f64> {
    let mut sorted = epsilons.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied()
}

fn argmax(p: &[f32]) -> usize {
    p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0))).map_or(0, |(i, _)| i)
}

/// CHW floats in [0, 1] → HWC bytes.
fn hwc_bytes(chw: &[f32], channels: usize, plane: usize) -> Vec<u8> {
    let mut out = vec![0u8; chw.len()];
    for (ch, values) in chw.chunks_exact(plane).enumerate() {
        for (p, &v) in values.iter().enumerate() {
            out[p * channels + ch] = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    }
    out
}

/// A PNG thumbnail of one image of `set`'s shape; empty if it cannot be made.
fn png(set: &ImageSet, bytes: Vec<u8>) -> Shown {
    let encoded = augment::Image::new(set.width, set.height, set.channels, bytes)
        .ok()
        .map(shrink)
        .and_then(|img| super::png_bytes(&img).ok());
    Shown::Png(encoded.unwrap_or_default())
}

/// `img` scaled down to fit [`THUMBNAIL`] when it is larger.
fn shrink(img: augment::Image) -> augment::Image {
    let (w, h) = (img.width(), img.height());
    if w.max(h) <= THUMBNAIL {
        return img;
    }
    let scale = f64::from(THUMBNAIL) / f64::from(w.max(h));
    let (nw, nh) =
        (((f64::from(w) * scale).round() as u32).max(1), ((f64::from(h) * scale).round() as u32).max(1));
    let channels = img.channels();
    let small = match channels {
        1 => thumbnail::<image::Luma<u8>>(w, h, img.as_bytes().to_vec(), nw, nh),
        3 => thumbnail::<image::Rgb<u8>>(w, h, img.as_bytes().to_vec(), nw, nh),
        _ => None,
    };
    small.and_then(|bytes| augment::Image::new(nw, nh, channels, bytes).ok()).unwrap_or(img)
}

fn thumbnail<P: image::Pixel<Subpixel = u8> + 'static>(
    w: u32,
    h: u32,
    bytes: Vec<u8>,
    nw: u32,
    nh: u32,
) -> Option<Vec<u8>> {
    let buffer = image::ImageBuffer::<P, Vec<u8>>::from_raw(w, h, bytes)?;
    Some(image::imageops::thumbnail(&buffer, nw, nh).into_raw())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn middle_takes_the_median_radius() {
        assert_eq!(middle(&[0.2, 0.05, 0.1]), Some(0.1));
        assert_eq!(middle(&[0.5, 1.0]), Some(1.0));
        assert_eq!(middle(&[]), None);
    }

    #[test]
    fn chw_floats_round_trip_to_hwc_bytes() {
        // Two pixels, two channels: planes [a0 a1], [b0 b1].
        let chw = [0.0, 1.0, 0.5, 2.0];
        assert_eq!(hwc_bytes(&chw, 2, 2), vec![0, 128, 255, 255]);
    }

    #[test]
    fn large_images_are_shrunk_small_ones_kept() {
        let big = augment::Image::new(200, 100, 3, vec![7; 200 * 100 * 3]).expect("image");
        let small = shrink(big);
        assert_eq!((small.width(), small.height(), small.channels()), (96, 48, 3));
        let tiny = augment::Image::new(28, 28, 1, vec![0; 28 * 28]).expect("image");
        assert_eq!(shrink(tiny.clone()), tiny);
    }
}
