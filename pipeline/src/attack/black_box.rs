//! Black-box edit attacks on texts: DeepWordBug (Gao et al. 2018) and the
//! character-level bugs of TextBugger (Li et al. 2019). Both rank words by
//! how much removing each lowers the true-class probability, then edit the
//! most important words one at a time, keeping edits that lower it, until
//! the prediction flips or the word or query budget runs out. The model is
//! only queried for class probabilities, never for gradients.

pub mod search;

use augment::text::edits::WordEdit;
use burn::prelude::*;

use super::api::Api;
use super::{AttackError, AttackResult, AttackTable, epsilon_key};
use crate::batch::{EvalSetup, featurize_texts};
use crate::config::{ApiOutput, BlackBoxPlan, ModelPlan, TextAttackKind, TextPlan};
use crate::data::{Dataset, Inputs};
use crate::model::{Classifier, ReadbackError};
use crate::progress::Progress;
pub use search::{Outcome, Strategy, TextAttack};

/// How a text attack edits a word.
pub fn strategy(kind: TextAttackKind) -> Strategy {
    match kind {
        TextAttackKind::DeepWordBug => Strategy::Random(&WordEdit::DEEPWORDBUG),
        TextAttackKind::TextBugger => Strategy::Best(&WordEdit::TEXTBUGGER),
    }
}

/// Runs every planned text attack on `model` (evaluation mode, plain device).
/// Results are keyed by the word share, like ε for image attacks.
pub fn evaluate<M: Classifier>(
    model: &M,
    test: &Dataset,
    setup: &EvalSetup,
    plans: &[BlackBoxPlan],
    device: &Device,
    progress: &Progress,
) -> Result<AttackTable, AttackError> {
    let mut table = AttackTable::new();
    // Resolution allows text attacks on text data and models only.
    let (Inputs::Texts(texts), ModelPlan::Text(text_plan)) = (&test.inputs, setup.model) else {
        return Err(AttackError::Modality { attack: "text attacks", need: "text data and a text model" });
    };
    let total: usize = plans.iter().map(|p| p.examples.min(test.len())).sum();
    let bar = progress.bar(total as u64, "attack");
    let mut score = |q: &[String]| probabilities(model, q, text_plan, setup.eval.batch_size, device);
    for plan in plans {
        bar.set_message(plan.kind.name());
        let started = std::time::Instant::now();
        let rows: Vec<usize> = (0..test.len().min(plan.examples)).collect();
        let mut outcomes = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(setup.eval.batch_size.max(1)) {
            let mut attacks: Vec<TextAttack> = chunk
                .iter()
                .map(|&r| {
                    let seed = augment::seed::derive(
                        setup.seed,
                        r as u64,
                        plan.budget.max_word_share.to_bits(),
                        plan.kind.name(),
                    );
                    TextAttack::new(
                        &texts[r],
                        test.labels[r],
                        strategy(plan.kind),
                        plan.budget,
                        setup.text,
                        seed,
                    )
                })
                .collect();
            search::run(&mut attacks, &mut score)?;
            outcomes.extend(attacks.iter().map(TextAttack::outcome));
            bar.inc(chunk.len() as u64);
        }
        let mut result = summarise(&outcomes);
        result.seconds = started.elapsed().as_secs_f64();
        table
            .entry(plan.kind.name().to_owned())
            .or_default()
            .insert(epsilon_key(plan.budget.max_word_share), result);
    }
    bar.finish_and_clear();
    Ok(table)
}

/// Accuracy, success rate, mean share of words changed and mean queries
/// over every attacked row (misclassified rows count one query, no edit).
pub fn summarise(outcomes: &[Outcome]) -> AttackResult {
    let n = outcomes.len().max(1) as f64;
    let clean = outcomes.iter().filter(|o| o.clean_correct).count();
    let flipped = outcomes.iter().filter(|o| o.clean_correct && !o.adversarial_correct).count();
    let share = |o: &Outcome| if o.words == 0 { 0.0 } else { o.changed as f64 / o.words as f64 };
    AttackResult {
        accuracy: outcomes.iter().filter(|o| o.adversarial_correct).count() as f64 / n,
        success_rate: if clean == 0 { 0.0 } else { flipped as f64 / clean as f64 },
        mean_norm: outcomes.iter().map(share).sum::<f64>() / n,
        mean_queries: Some(outcomes.iter().map(|o| o.queries as f64).sum::<f64>() / n),
        examples: outcomes.len(),
        correct: outcomes.iter().map(|o| o.adversarial_correct).collect(),
        stages: Vec::new(),
        seconds: 0.0,
    }
}

/// Class probabilities of `texts`, `batch` texts per forward pass, through
/// the full-precision API the attacks assume.
pub fn probabilities<M: Classifier>(
    model: &M,
    texts: &[String],
    plan: &TextPlan,
    batch: usize,
    device: &Device,
) -> Result<Vec<Vec<f32>>, ReadbackError> {
    let mut api = Api::new(model, ApiOutput::Probabilities { decimals: None }, None, device);
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(batch.max(1)) {
        out.extend(api.probabilities(&featurize_texts(chunk, plan, model.lexicon().as_deref()))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::nn::{Embedding, EmbeddingConfig};

    use super::*;
    use crate::config::{Budget, EvalPlan};
    use crate::model::ModelInput;
    use crate::model::features::featurize;

    fn text_plan() -> TextPlan {
        TextPlan {
            buckets: 1 << 12,
            embedding_dim: 2,
            hidden: 2,
            dropout: 0.0,
            ngram_min: 2,
            ngram_max: 3,
            word_ngrams: 1,
            weighting: crate::config::TextWeighting::Mean,
            max_features: 512,
            word_recognition: false,
        }
    }

    /// Logits: the sum of one row per feature id; only the word `refund`
    /// has a row, pushing towards class 1 from a small lead of class 0.
    #[derive(Module, Debug)]
    struct RefundModel {
        rows: Embedding,
    }

    impl RefundModel {
        fn new(device: &Device) -> Self {
            let plan = text_plan();
            let mut weights = vec![0f32; plan.buckets * 2];
            let refund = featurize("refund", &plan, None).ids[0] as usize;
            weights[refund * 2 + 1] = 4.0;
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

    fn run(model: &RefundModel, kind: TextAttackKind, budget: Budget, device: &Device) -> AttackResult {
        let texts = [
            "i want a refund for my order please",
            "the parcel never arrived at my house",
            "please send the refund to my card today",
            "refund",
        ];
        let test = Dataset {
            inputs: Inputs::Texts(texts.iter().map(|t| (*t).to_owned()).collect()),
            labels: vec![1, 0, 1, 1],
        };
        let eval = EvalPlan {
            corruptions: Vec::new(),
            corruption_table: augment::TableChoice::Auto,
            tables: Vec::new(),
            batch_size: 3,
            attacks: Vec::new(),
            mce_baseline: None,
            privacy: None,
            extraction: Vec::new(),
            certify: None,
        };
        let model_plan = ModelPlan::Text(text_plan());
        let context = augment::text::TextContext::default();
        let setup = EvalSetup { eval: &eval, model: &model_plan, text: &context, seed: 11 };
        let plan = BlackBoxPlan { kind, budget, examples: 100 };
        let table = evaluate(model, &test, &setup, &[plan], device, &Progress::silent()).expect("attack");
        table[kind.name()][&epsilon_key(budget.max_word_share)].clone()
    }

    #[test]
    fn both_attacks_flip_a_model_through_its_one_word() {
        let device = Device::flex();
        let model = RefundModel::new(&device);
        let budget = Budget { max_word_share: 0.2, max_queries: 200 };
        for kind in TextAttackKind::ALL {
            let r = run(&model, kind, budget, &device);
            assert_eq!(r.examples, 4);
            // The two longer `refund` texts flip; the one-word text is out of a
            // 20% share, and no edit moves the text without `refund`.
            assert_eq!((r.accuracy, r.success_rate), (0.5, 0.5), "{kind:?}: {r:?}");
            let share = (1.0 / 8.0 + 1.0 / 8.0) / 4.0;
            assert!((r.mean_norm - share).abs() < 1e-9, "{kind:?}: {r:?}");
            let q = r.mean_queries.expect("text attacks count queries");
            assert!(q > 1.0 && q <= 200.0, "{kind:?}: {r:?}");
            let again = run(&model, kind, budget, &device);
            assert_eq!(r, AttackResult { seconds: r.seconds, ..again });
        }
    }

    #[test]
    fn a_full_share_flips_even_one_word() {
        let device = Device::flex();
        let model = RefundModel::new(&device);
        let budget = Budget { max_word_share: 1.0, max_queries: 200 };
        let r = run(&model, TextAttackKind::TextBugger, budget, &device);
        assert_eq!((r.accuracy, r.success_rate), (0.25, 0.75), "{r:?}");
    }
}
