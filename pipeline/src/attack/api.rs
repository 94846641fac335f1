//! The prediction interface a black-box attacker sees: what a deployed API
//! answers for a query, and how many queries it has answered. Text attacks
//! query it for probabilities; model extraction queries it under the output
//! hardening the config chooses. Rounding and truncation happen here, before
//! an answer leaves, so no caller can see more than the API returns.

use burn::prelude::*;
use burn::tensor::activation::softmax;

use crate::config::ApiOutput;
use crate::model::readback::values;
use crate::model::{Classifier, HostInput, ReadbackError};

/// One answer, as the API's caller receives it.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Class indices, most likely first (`top-1`, `top-k`).
    Labels(Vec<usize>),
    /// One probability per class, rounded as configured.
    Probabilities(Vec<f32>),
}

impl Answer {
    /// The class the answer ranks first (the lowest index among equal scores).
    pub fn top(&self) -> usize {
        match self {
            Answer::Labels(l) => l.first().copied().unwrap_or(0),
            Answer::Probabilities(p) => crate::model::readback::argmax(p),
        }
    }
}

/// Why a query was not answered.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The caller asked for more than its budget allows; nothing was answered.
    #[error("query budget of {budget} exceeded: {spent} answered, {asked} more asked")]
    Budget {
        /// The budget.
        budget: usize,
        /// Queries answered so far.
        spent: usize,
        /// Queries in the refused request.
        asked: usize,
    },
    /// The model's scores could not be read back.
    #[error(transparent)]
    Readback(#[from] ReadbackError),
}

/// A model behind an API: answers batches of queries in one output mode and
/// counts them against an optional budget.
pub struct Api<'a, M> {
    model: &'a M,
    output: ApiOutput,
    budget: Option<usize>,
    spent: usize,
    device: &'a Device,
}

impl<'a, M: Classifier> Api<'a, M> {
    /// `model` (evaluation mode, on `device`) answering in `output`, refusing
    /// any request that would take it past `budget` queries.
    pub fn new(model: &'a M, output: ApiOutput, budget: Option<usize>, device: &'a Device) -> Self {
        Api { model, output, budget, spent: 0, device }
    }

    /// The model behind the API: a query is its input, so it is featurised
    /// the way this model reads texts.
    pub fn model(&self) -> &'a M {
        self.model
    }

    /// Queries answered so far.
    pub fn spent(&self) -> usize {
        self.spent
    }

    /// The class probabilities of every query of `input`, from an API built
    /// without a budget to answer with them, as the attacks build theirs.
    pub fn probabilities(&mut self, input: &HostInput) -> Result<Vec<Vec<f32>>, ReadbackError> {
        Ok(self
            .unbudgeted(input)?
            .into_iter()
            .map(|a| match a {
                Answer::Probabilities(p) => p,
                Answer::Labels(_) => unreachable!("an attack's API answers with probabilities"),
            })
            .collect())
    }

    /// The class each query of `input` is answered with, from an API built
    /// without a budget, as the label-only attacks build theirs.
    pub fn top_labels(&mut self, input: &HostInput) -> Result<Vec<usize>, ReadbackError> {
        Ok(self.unbudgeted(input)?.iter().map(Answer::top).collect())
    }

    /// [`Api::ask`] for an API an attack built without a budget.
    fn unbudgeted(&mut self, input: &HostInput) -> Result<Vec<Answer>, ReadbackError> {
        self.ask(input).map_err(|e| match e {
            ApiError::Readback(r) => r,
            ApiError::Budget { .. } => unreachable!("an attack's API has no budget to refuse a query"),
        })
    }

    /// Answers every query of `input`, or none when they would exceed the budget.
    pub fn ask(&mut self, input: &HostInput) -> Result<Vec<Answer>, ApiError> {
        let asked = input.len();
        if let Some(budget) = self.budget
            && self.spent + asked > budget
        {
            return Err(ApiError::Budget { budget, spent: self.spent, asked });
        }
        if asked == 0 {
            return Ok(Vec::new());
        }
        let probs = softmax(self.model.logits(input.to_device(self.device)), 1);
        let classes = probs.dims()[1].max(1);
        let flat = values::<f32, 2, Float>(probs, asked * classes, "probabilities")?;
        self.spent += asked;
        Ok(flat.chunks(classes).map(|p| answer(p, self.output)).collect())
    }
}

/// Class indices by decreasing probability; ties keep the lower index first.
fn ranked(probs: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    order
}

/// What the API returns for one query whose class probabilities are `probs`.
pub fn answer(probs: &[f32], output: ApiOutput) -> Answer {
    match output {
        ApiOutput::Top1 => Answer::Labels(ranked(probs).into_iter().take(1).collect()),
        ApiOutput::TopK(k) => Answer::Labels(ranked(probs).into_iter().take(k).collect()),
        ApiOutput::Probabilities { decimals: None } => Answer::Probabilities(probs.to_vec()),
        ApiOutput::Probabilities { decimals: Some(d) } => {
            let scale = 10f64.powi(d as i32);
            Answer::Probabilities(
                probs.iter().map(|&p| ((f64::from(p) * scale).round() / scale) as f32).collect(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};

    use super::*;
    use crate::model::ModelInput;

    /// Logits are the first `classes` pixels of each image, scaled.
    #[derive(Module, Debug)]
    struct PixelModel {
        head: Linear,
    }

    impl Classifier for PixelModel {
        fn logits(&self, input: ModelInput) -> Tensor<2> {
            let ModelInput::Images(x) = input else { unreachable!("images only") };
            let [n, _, _, _] = x.dims();
            x.reshape([n as i32, -1]).slice([0..n, 0..3]) * 4.0
        }
    }

    fn images(rows: &[[f32; 4]]) -> HostInput {
        HostInput::Images { pixels: rows.iter().flatten().copied().collect(), shape: [rows.len(), 1, 2, 2] }
    }

    #[test]
    fn each_output_mode_reveals_only_what_it_names() {
        let p = [0.1f32, 0.6, 0.05, 0.25];
        assert_eq!(answer(&p, ApiOutput::Top1), Answer::Labels(vec![1]));
        assert_eq!(answer(&p, ApiOutput::TopK(3)), Answer::Labels(vec![1, 3, 0]));
        // k beyond the classes returns them all, no more.
        assert_eq!(answer(&p, ApiOutput::TopK(9)), Answer::Labels(vec![1, 3, 0, 2]));
        assert_eq!(
            answer(&p, ApiOutput::Probabilities { decimals: None }),
            Answer::Probabilities(p.to_vec())
        );
        let q = [0.123_456_f32, 0.876_544];
        let Answer::Probabilities(r) = answer(&q, ApiOutput::Probabilities { decimals: Some(2) }) else {
            panic!("probabilities")
        };
        assert_eq!(r, [0.12, 0.88]);
        let Answer::Probabilities(r) = answer(&q, ApiOutput::Probabilities { decimals: Some(0) }) else {
            panic!("probabilities")
        };
        assert_eq!(r, [0.0, 1.0]);
        // Ties rank the lower class first.
        assert_eq!(answer(&[0.5, 0.5], ApiOutput::Top1), Answer::Labels(vec![0]));
        assert_eq!(Answer::Probabilities(vec![0.2, 0.7, 0.1]).top(), 1);
    }

    #[test]
    fn the_budget_is_never_exceeded_and_a_refused_request_costs_nothing() {
        let device = Device::flex();
        let model = PixelModel { head: LinearConfig::new(1, 1).init(&device) };
        let mut api = Api::new(&model, ApiOutput::Probabilities { decimals: Some(1) }, Some(3), &device);
        let two = images(&[[0.9, 0.1, 0.0, 0.0], [0.0, 0.2, 0.8, 0.0]]);
        let answers = api.ask(&two).expect("within budget");
        assert_eq!(api.spent(), 2);
        assert_eq!(answers.iter().map(Answer::top).collect::<Vec<_>>(), [0, 2]);
        for a in &answers {
            let Answer::Probabilities(p) = a else { panic!("probabilities") };
            assert_eq!(p.len(), 3);
            assert!(p.iter().all(|v| ((v * 10.0).round() - v * 10.0).abs() < 1e-5), "{p:?}");
        }
        let err = api.ask(&two).unwrap_err();
        assert!(matches!(err, ApiError::Budget { budget: 3, spent: 2, asked: 2 }), "{err}");
        assert_eq!(api.spent(), 2);
        let one = images(&[[0.0, 0.9, 0.1, 0.0]]);
        assert_eq!(api.ask(&one).expect("the last query")[0].top(), 1);
        assert_eq!(api.spent(), 3);
        assert!(api.ask(&one).is_err());
        let mut labels = Api::new(&model, ApiOutput::TopK(2), None, &device);
        assert_eq!(
            labels.ask(&two).expect("no budget"),
            [Answer::Labels(vec![0, 1]), Answer::Labels(vec![2, 1])]
        );
    }
}
