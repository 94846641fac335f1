//! The report's examples: the first few test inputs as each corruption (at
//! severity 3) and each attack (at its middle ε) changes them, with the
//! model's prediction before and after. Numbers say how often a model
//! breaks; the examples show what breaking it takes. (`temper gallery`'s
//! contact sheet of operations is another thing: `augment::image::gallery`.)
//!
//! Inputs are perturbed with the seeds evaluation uses for them, so the
//! examples show what the metrics measured. It costs one forward pass per
//! corruption and one attack on a handful of inputs per attack. The report
//! only renders what is gathered here.

use burn::prelude::*;

use super::{EvalError, EvalSetup};
use crate::attack::black_box::{self, TextAttack, search};
use crate::attack::{AttackError, autoattack, epsilon_key, hsja, square, white_box};
use crate::batch::{self, HostBatch, Perturbation};
use crate::config::{
    AttackPlan, AutoAttackPlan, BlackBoxPlan, HsjaPlan, ModelPlan, SquarePlan, WhiteBoxPlan,
};
use crate::data::{Dataset, ImageSet, Inputs};
use crate::model::{Classifier, HostInput, ModelInput, predict_batch, readback};

/// How many test inputs are shown (the first ones, in file order).
pub const EXAMPLES: usize = 4;
/// The corruption severity shown: the middle of 1..=5.
pub const SEVERITY: augment::Severity = augment::Severity::MIDDLE;

/// One input as the report shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// An image, as the model saw it.
    Image(augment::Image),
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

/// One perturbation applied to every example input.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Corruption or attack name.
    pub name: String,
    /// Its setting, e.g. `severity 3` or `ε = 0.1`.
    pub setting: String,
    /// One per example input, in row order.
    pub examples: Vec<Example>,
}

/// The examples of a run; empty when the test set is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Examples {
    /// The clean inputs.
    pub clean: Vec<Example>,
    /// One group per corruption, then one per attack, in config order.
    pub groups: Vec<Group>,
}

/// Gathers the examples for an evaluation-mode `model` on a plain device.
pub fn gather<M: Classifier>(
    model: &M,
    test: &Dataset,
    classes: &[String],
    setup: &EvalSetup,
    device: &Device,
) -> Result<Examples, EvalError> {
    let rows: Vec<usize> = (0..test.len().min(EXAMPLES)).collect();
    if rows.is_empty() {
        return Ok(Examples::default());
    }
    let clean = setup.clean_batch(test, &rows, model)?;
    let before = predict_batch(model, &clean.input, device)?;
    let g = Gatherer { model, test, classes, setup, device, rows, before };
    let mut out = Examples { clean: g.examples(g.shown(Perturbation::None)?, &g.before), groups: Vec::new() };
    for &name in &setup.eval.corruptions {
        let perturb =
            Perturbation::Op { name, severity: SEVERITY, table: setup.eval.table(name), seed: setup.seed };
        let host = batch::build(test, &g.rows, perturb, setup.model, model.lexicon().as_deref(), setup.text)?;
        let after = predict_batch(model, &host.input, device)?;
        out.groups.push(Group {
            name: name.to_owned(),
            setting: format!("severity {SEVERITY}"),
            examples: g.examples(g.shown(perturb)?, &after),
        });
    }
    for plan in &setup.eval.attacks {
        let group = match plan {
            AttackPlan::WhiteBox(p) => g.white_box(p, &clean)?,
            AttackPlan::BlackBox(p) => g.black_box(p)?,
            AttackPlan::Square(p) => g.square(p)?,
            AttackPlan::Hsja(p) => g.hsja(p)?,
            AttackPlan::AutoAttack(p) => g.autoattack(p)?,
        };
        out.groups.push(group);
    }
    Ok(out)
}

/// A group of the shown rows as `changed` holds them: a copy of `test`'s
/// first rows with each one transformed (a backdoor trigger added, say),
/// with the model's prediction on each row before and after.
#[allow(clippy::too_many_arguments)]
pub fn changed_group<M: Classifier>(
    model: &M,
    test: &Dataset,
    changed: &Dataset,
    (name, setting): (&str, &str),
    classes: &[String],
    setup: &EvalSetup,
    device: &Device,
) -> Result<Option<Group>, EvalError> {
    let rows: Vec<usize> = (0..test.len().min(changed.len()).min(EXAMPLES)).collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let clean = setup.clean_batch(test, &rows, model)?;
    let before = predict_batch(model, &clean.input, device)?;
    let host = batch::build(
        changed,
        &rows,
        Perturbation::None,
        setup.model,
        model.lexicon().as_deref(),
        setup.text,
    )?;
    let after = predict_batch(model, &host.input, device)?;
    let g = Gatherer { model, test, classes, setup, device, rows, before };
    let shown = match (&changed.inputs, &test.inputs) {
        (Inputs::Images(set), _) => g
            .rows
            .iter()
            .map(|&r| image(set, set.pixels[r * set.stride()..(r + 1) * set.stride()].to_vec()))
            .collect::<Result<Vec<_>, _>>()?,
        (Inputs::Texts(new), Inputs::Texts(old)) => {
            g.rows.iter().map(|&r| Shown::Text { original: old[r].clone(), text: new[r].clone() }).collect()
        }
        (Inputs::Texts(_), Inputs::Images(_)) => {
            return Err(AttackError::Modality { attack: "example groups", need: "matching data" }.into());
        }
    };
    Ok(Some(Group {
        name: name.to_owned(),
        setting: setting.to_owned(),
        examples: g.examples(shown, &after),
    }))
}

/// What every group of one run's examples shares.
struct Gatherer<'a, M> {
    model: &'a M,
    test: &'a Dataset,
    classes: &'a [String],
    setup: &'a EvalSetup<'a>,
    device: &'a Device,
    rows: Vec<usize>,
    before: Vec<usize>,
}

impl<M: Classifier> Gatherer<'_, M> {
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

    /// The rows under a corruption (or none), as evaluation sees them.
    fn shown(&self, perturb: Perturbation) -> Result<Vec<Shown>, EvalError> {
        match &self.test.inputs {
            Inputs::Images(set) => {
                self.rows.iter().map(|&r| image(set, batch::image_row(set, r, perturb)?)).collect()
            }
            Inputs::Texts(texts) => self
                .rows
                .iter()
                .map(|&r| {
                    let original = texts[r].clone();
                    let text = batch::text_row(&original, r, perturb, self.setup.text)?
                        .unwrap_or_else(|| original.clone());
                    Ok(Shown::Text { original, text })
                })
                .collect(),
        }
    }

    /// The attack at its middle ε on the shown rows, seeded as the first
    /// batch of the evaluation's attack.
    fn white_box(&self, plan: &WhiteBoxPlan, clean: &HostBatch) -> Result<Group, EvalError> {
        let not_images = || AttackError::Modality { attack: "white-box attacks", need: "image data" };
        let (Inputs::Images(set), HostInput::Images { shape, .. }) = (&self.test.inputs, &clean.input) else {
            return Err(not_images().into());
        };
        // Resolution gives every attack at least one radius.
        let eps = middle(&plan.epsilons).unwrap_or(0.0);
        let ModelInput::Images(x) = clean.input.to_device(self.device) else {
            return Err(not_images().into());
        };
        let n = clean.labels.len();
        let y = Tensor::<1, Int>::from_data(TensorData::new(clean.labels.clone(), [n]), self.device);
        let frozen = self.model.clone().to_device(&self.device.clone().autodiff()).freeze();
        let seed = augment::seed::derive(self.setup.seed, 0, eps.to_bits(), plan.kind.name());
        let adv = white_box::perturb(&frozen, x, y, &plan.at(eps), seed)?;
        let pixels = readback::values::<f32, 4, burn::tensor::Float>(
            adv,
            shape.iter().product(),
            "adversarial images",
        )?;
        let host = HostInput::Images { pixels, shape: *shape };
        self.attacked_group(set, plan.kind.name().to_owned(), eps, &host)
    }

    /// The Square Attack at its middle ε on the shown rows, seeded per row
    /// as in evaluation.
    fn square(&self, plan: &SquarePlan) -> Result<Group, EvalError> {
        let Inputs::Images(set) = &self.test.inputs else {
            return Err(AttackError::Modality { attack: "the Square Attack", need: "image data" }.into());
        };
        let eps = middle(&plan.epsilons).unwrap_or(0.0);
        let (_, attacked, _) = square::attack_rows(
            self.model,
            self.test,
            self.setup,
            plan,
            eps,
            &self.rows,
            self.device,
            &mut |_| {},
        )?;
        self.attacked_group(set, plan.name(), eps, &attacked)
    }

    /// The AutoAttack cascade at its middle ε on the shown rows: each row
    /// as the attack that broke it left it, else clean.
    fn autoattack(&self, plan: &AutoAttackPlan) -> Result<Group, EvalError> {
        let Inputs::Images(set) = &self.test.inputs else {
            return Err(AttackError::Modality { attack: plan.name(), need: "image data" }.into());
        };
        let eps = middle(&plan.epsilons).unwrap_or(0.0);
        let frozen = self.model.clone().to_device(&self.device.clone().autodiff()).freeze();
        let cascade = autoattack::attack_rows(
            self.model,
            &frozen,
            self.test,
            self.setup,
            plan,
            eps,
            &self.rows,
            self.device,
            &mut |_, _| {},
        )?;
        self.attacked_group(set, plan.name().to_owned(), eps, &cascade.attacked)
    }

    /// HopSkipJumpAttack's perturbation within its middle ε on the shown
    /// rows (the clean image where none was found), seeded per row as in
    /// evaluation.
    fn hsja(&self, plan: &HsjaPlan) -> Result<Group, EvalError> {
        let Inputs::Images(set) = &self.test.inputs else {
            return Err(AttackError::Modality { attack: "HopSkipJumpAttack", need: "image data" }.into());
        };
        let eps = middle(&plan.epsilons).unwrap_or(0.0);
        // Searched for that radius alone, the rows stop once within it.
        let at = HsjaPlan { epsilons: vec![eps], ..plan.clone() };
        let starts = hsja::start_pool(self.model, self.test, self.setup)?;
        let (_, shape, searches) = hsja::attack_rows(
            self.model,
            self.test,
            self.setup,
            &at,
            &self.rows,
            &starts,
            self.device,
            &mut |_| {},
        )?;
        self.attacked_group(set, plan.norm.hsja_name().to_owned(), eps, &hsja::attacked(&searches, 0, shape))
    }

    /// The group of the shown rows as an image attack at `eps` left them.
    fn attacked_group(
        &self,
        set: &ImageSet,
        name: String,
        eps: f64,
        attacked: &HostInput,
    ) -> Result<Group, EvalError> {
        let after = predict_batch(self.model, attacked, self.device)?;
        let HostInput::Images { pixels, shape: [_, c, h, w] } = attacked else {
            return Err(AttackError::Modality { attack: "image attacks", need: "image data" }.into());
        };
        let shown = pixels
            .chunks_exact(c * h * w)
            .map(|chw| image(set, hwc_bytes(chw, *c, h * w)))
            .collect::<Result<_, _>>()?;
        Ok(Group {
            name,
            setting: format!("ε = {}", epsilon_key(eps)),
            examples: self.examples(shown, &after),
        })
    }

    /// The text attack on the shown rows, seeded per row as in evaluation.
    fn black_box(&self, plan: &BlackBoxPlan) -> Result<Group, EvalError> {
        let (Inputs::Texts(texts), ModelPlan::Text(text_plan)) = (&self.test.inputs, self.setup.model) else {
            return Err(
                AttackError::Modality { attack: "text attacks", need: "text data and a text model" }.into()
            );
        };
        let share = plan.budget.max_word_share;
        let mut attacks: Vec<TextAttack> = self
            .rows
            .iter()
            .map(|&r| {
                let seed =
                    augment::seed::derive(self.setup.seed, r as u64, share.to_bits(), plan.kind.name());
                let label = self.test.labels[r];
                TextAttack::new(
                    &texts[r],
                    label,
                    black_box::strategy(plan.kind),
                    plan.budget,
                    self.setup.text,
                    seed,
                )
            })
            .collect();
        let batch_size = self.setup.eval.batch_size;
        let mut score =
            |q: &[String]| black_box::probabilities(self.model, q, text_plan, batch_size, self.device);
        search::run(&mut attacks, &mut score)?;
        let finals: Vec<String> = attacks.iter().map(|a| a.outcome().text).collect();
        let after: Vec<usize> = score(&finals)?.iter().map(|p| readback::argmax(p)).collect();
        let shown = self
            .rows
            .iter()
            .zip(finals)
            .map(|(&r, text)| Shown::Text { original: texts[r].clone(), text })
            .collect();
        Ok(Group {
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

/// One image of `set`'s shape.
fn image(set: &ImageSet, bytes: Vec<u8>) -> Result<Shown, EvalError> {
    Ok(Shown::Image(augment::Image::new(set.width, set.height, set.channels, bytes)?))
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
    fn the_shown_rows_are_what_evaluation_measured() {
        use crate::config::{CnnPlan, EvalPlan, ImageSpec, Norm};
        use crate::data::ImageSet;
        let device = crate::device::host();
        device.seed(3);
        let (w, h, n) = (8u32, 8u32, 10usize);
        let pixels = (0..n * 64).map(|i| ((i * 53) % 256) as u8).collect();
        let set = ImageSet { width: w, height: h, channels: 1, pixels, files_sha256: None };
        let test = Dataset { inputs: Inputs::Images(set.clone()), labels: (0..n).map(|i| i % 3).collect() };
        let plan = ModelPlan::Cnn(CnnPlan {
            conv_channels: vec![4],
            kernel_size: 3,
            hidden: 8,
            dropout: 0.0,
            norm: Norm::Batch,
        });
        let spec = ImageSpec {
            channels: 1,
            width: w,
            height: h,
            max_pixels: 1 << 20,
            max_side: 64,
            allow_absolute_paths: false,
        };
        let crate::model::AnyModel::Cnn(model) = crate::model::build(&plan, &spec, 3, &device) else {
            panic!("cnn")
        };
        let model = burn::module::Module::valid(&model);
        let eval = EvalPlan {
            corruptions: vec!["gaussian_noise", "rotate"],
            corruption_table: augment::TableChoice::Auto,
            tables: vec![("gaussian_noise", augment::Table::Cifar10C), ("rotate", augment::Table::MnistC)],
            batch_size: 3,
            attacks: Vec::new(),
            mce_baseline: None,
            privacy: None,
            extraction: Vec::new(),
            certify: None,
        };
        let context = augment::text::TextContext::default();
        let setup = EvalSetup { eval: &eval, model: &plan, text: &context, seed: 11 };
        let classes: Vec<String> = ["a", "b", "c"].map(str::to_owned).to_vec();
        let got = gather(&model, &test, &classes, &setup, &device).expect("examples");
        assert_eq!(got.clean.len(), EXAMPLES);
        assert_eq!(got.groups.len(), 2);
        let clean =
            super::super::predict(&model, &test, Perturbation::None, &setup, &device).expect("predict");
        for (i, e) in got.clean.iter().enumerate() {
            assert_eq!(e.after, classes[clean[i]]);
            assert_eq!(e.label, classes[test.labels[i]]);
            assert_eq!(e.input, Shown::Image(set.image(i)));
        }
        for group in &got.groups {
            let name = augment::image::find(&group.name).expect("op").name();
            let perturb = Perturbation::Op {
                name,
                severity: SEVERITY,
                table: setup.eval.table(name),
                seed: setup.seed,
            };
            // Evaluation in batches of 3 over all rows, the examples in one batch of 4.
            let measured = super::super::predict(&model, &test, perturb, &setup, &device).expect("predict");
            for (i, e) in group.examples.iter().enumerate() {
                assert_eq!(e.after, classes[measured[i]], "{name} row {i}");
                assert_eq!(e.before, classes[clean[i]]);
                let bytes = batch::image_row(&set, i, perturb).expect("row");
                assert_eq!(
                    e.input,
                    Shown::Image(augment::Image::new(w, h, 1, bytes).expect("image")),
                    "{name} row {i}"
                );
            }
            assert_eq!(group.setting, "severity 3");
        }
    }
}
