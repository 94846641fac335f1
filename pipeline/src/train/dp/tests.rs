//! DP-SGD against one-example-at-a-time gradients.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::prelude::*;
use rand::Rng;

use super::*;
use crate::config::{CnnPlan, ImageSpec, ModelPlan, Norm, TextPlan, TextWeighting};
use crate::model::{AnyModel, per_example::Clipped};

const N: usize = 5;

fn spec() -> ImageSpec {
    ImageSpec {
        channels: 2,
        width: 7,
        height: 6,
        max_pixels: 1 << 20,
        max_side: 1 << 10,
        allow_absolute_paths: false,
    }
}

fn cnn(kernel: usize, norm: Norm, device: &Device) -> crate::model::CnnModel {
    let plan = ModelPlan::Cnn(CnnPlan {
        conv_channels: vec![4, 6],
        kernel_size: kernel,
        hidden: 5,
        dropout: 0.0,
        norm,
    });
    match crate::model::build_seeded(&plan, &spec(), 3, 7, device) {
        AnyModel::Cnn(m) => m,
        AnyModel::Text(_) => unreachable!("a CNN plan builds a CNN"),
    }
}

fn text(weighting: TextWeighting, hidden: usize, device: &Device) -> crate::model::TextModel {
    let plan = ModelPlan::Text(TextPlan {
        buckets: 40,
        embedding_dim: 3,
        hidden,
        dropout: 0.0,
        ngram_min: 2,
        ngram_max: 3,
        word_ngrams: 1,
        weighting,
        max_features: 16,
        word_recognition: false,
    });
    let idf: Vec<f32> = (0..40).map(|i| if i == 0 { 0.0 } else { 1.0 + (i % 7) as f32 / 3.0 }).collect();
    match crate::model::build_seeded(&plan, &spec(), 3, 7, device) {
        AnyModel::Text(m) => m.with_idf(idf),
        AnyModel::Cnn(_) => unreachable!("a text plan builds a text model"),
    }
}

fn images(device: &Device) -> Vec<Tensor<4>> {
    let mut rng = augment::seed::rng(3);
    (0..N)
        .map(|_| {
            let px: Vec<f32> = (0..2 * 6 * 7).map(|_| rng.random_range(0.0..1.0)).collect();
            Tensor::from_data(TensorData::new(px, [1, 2, 6, 7]), device)
        })
        .collect()
}

/// Bags padded with 0: each id once per row, as the featuriser makes them.
fn tokens(device: &Device) -> Vec<(Tensor<2, Int>, Tensor<2>)> {
    let rows: [[i64; 6]; N] = [
        [1, 5, 17, 9, 0, 0],
        [2, 5, 1, 3, 4, 0],
        [7, 8, 9, 10, 11, 12],
        [39, 1, 38, 0, 0, 0],
        [6, 0, 0, 0, 0, 0],
    ];
    rows.iter()
        .map(|r| {
            let counts: Vec<f32> = r
                .iter()
                .enumerate()
                .map(|(j, &id)| if id == 0 { 0.0 } else { 1.0 + (j % 3) as f32 })
                .collect();
            (
                Tensor::from_data(TensorData::new(r.to_vec(), [1, 6]), device),
                Tensor::from_data(TensorData::new(counts, [1, 6]), device),
            )
        })
        .collect()
}

fn cat_images(xs: &[Tensor<4>]) -> ModelInput {
    ModelInput::Images(Tensor::cat(xs.to_vec(), 0))
}

fn cat_tokens(xs: &[(Tensor<2, Int>, Tensor<2>)]) -> ModelInput {
    ModelInput::Tokens {
        ids: Tensor::cat(xs.iter().map(|x| x.0.clone()).collect(), 0),
        counts: Tensor::cat(xs.iter().map(|x| x.1.clone()).collect(), 0),
    }
}

/// Every parameter's gradient of one example's loss, flattened, keyed by id.
fn example_grads<M: Classifier>(
    model: &M,
    input: ModelInput,
    label: i64,
    device: &Device,
) -> Vec<(ParamId, Vec<f32>)> {
    struct Collect<'a>(&'a GradientsParams, Vec<(ParamId, Vec<f32>)>);
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if !param.val().is_require_grad() {
                return; // a statistic, such as TF-IDF's document frequencies
            }
            let g: Tensor<D> = self.0.get(param.id).expect("every trainable parameter has a gradient");
            self.1.push((param.id, g.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32")));
        }
    }
    let loss = CrossEntropyLossConfig::new()
        .init(device)
        .forward(model.logits(input), Tensor::from_data(TensorData::new(vec![label], [1]), device));
    let grads = GradientsParams::from_grads(loss.backward(), model);
    let mut c = Collect(&grads, Vec::new());
    model.visit(&mut c);
    c.1
}

fn taped<M: Classifier>(
    model: &M,
    input: ModelInput,
    labels: &[i64],
    max_norm: f64,
    device: &Device,
) -> Clipped {
    let mut tape = crate::model::per_example::Tape::default();
    let logits = model.clone().no_grad().logits_taped(input, &mut tape).expect("supported");
    let targets = Tensor::from_data(TensorData::new(labels.to_vec(), [labels.len()]), device);
    let loss = CrossEntropyLossConfig::new().init(device).forward(logits, targets) * labels.len() as f32;
    tape.clip(&loss.backward(), max_norm)
}

fn flat(g: &ParamGrad) -> Vec<f32> {
    match g {
        ParamGrad::D1(t) => t.clone().into_data().convert::<f32>().try_to_vec::<f32>().expect("f32"),
        ParamGrad::D2(t) => t.clone().into_data().convert::<f32>().try_to_vec::<f32>().expect("f32"),
        ParamGrad::D4(t) => t.clone().into_data().convert::<f32>().try_to_vec::<f32>().expect("f32"),
    }
}

/// The tape's norms and clipped sums equal those built from one backward
/// pass per example, for every parameter.
fn check_against_one_at_a_time<M: Classifier>(
    model: &M,
    singles: Vec<ModelInput>,
    all: ModelInput,
    max_norm: f64,
) {
    let device = crate::device::host().autodiff();
    let labels: Vec<i64> = (0..N as i64).map(|i| (i * 2) % 3).collect();
    let per: Vec<Vec<(ParamId, Vec<f32>)>> =
        singles.into_iter().zip(&labels).map(|(x, &y)| example_grads(model, x, y, &device)).collect();
    let want_norms: Vec<f64> = per
        .iter()
        .map(|ps| ps.iter().flat_map(|(_, g)| g.iter()).map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt())
        .collect();
    let clipped = taped(model, all, &labels, max_norm, &device);
    let got: Vec<f32> = clipped.norms.clone().into_data().convert::<f32>().try_to_vec::<f32>().expect("f32");
    for (g, w) in got.iter().zip(&want_norms) {
        assert!((f64::from(*g) - w).abs() <= 1e-4 * w.max(1e-3), "norm {g} vs {w}");
    }
    let factors: Vec<f64> = want_norms.iter().map(|n| (max_norm / (n + 1e-6)).min(1.0)).collect();
    assert!(factors.iter().any(|&c| c < 1.0), "the test should clip some examples: {want_norms:?}");
    assert_eq!(clipped.sums.len(), per[0].len(), "one sum per parameter");
    for (id, sum) in &clipped.sums {
        let got = flat(sum);
        let mut want = vec![0.0f64; got.len()];
        for (example, c) in per.iter().zip(&factors) {
            let g = &example.iter().find(|(i, _)| i == id).expect("same parameters").1;
            for (w, v) in want.iter_mut().zip(g) {
                *w += c * f64::from(*v);
            }
        }
        for (g, w) in got.iter().zip(&want) {
            assert!((f64::from(*g) - w).abs() <= 1e-4 * (1.0 + w.abs()), "{id}: {g} vs {w}");
        }
    }
    // Each clipped example's gradient is within the bound.
    for (n, c) in want_norms.iter().zip(&factors) {
        assert!(n * c <= max_norm * (1.0 + 1e-6), "{n} · {c} > {max_norm}");
    }
}

#[test]
fn cnn_per_example_gradients_equal_one_at_a_time_gradients() {
    let device = crate::device::host().autodiff();
    for (kernel, norm) in [(3, Norm::Group), (5, Norm::None), (1, Norm::Group)] {
        let model = cnn(kernel, norm, &device);
        let xs = images(&device);
        check_against_one_at_a_time(
            &model,
            xs.iter().map(|x| ModelInput::Images(x.clone())).collect(),
            cat_images(&xs),
            0.5,
        );
    }
}

#[test]
fn text_per_example_gradients_equal_one_at_a_time_gradients() {
    let device = crate::device::host().autodiff();
    for (weighting, hidden) in
        [(TextWeighting::Mean, 4), (TextWeighting::TfIdf, 4), (TextWeighting::TfIdf, 0)]
    {
        let model = text(weighting, hidden, &device);
        let xs = tokens(&device);
        check_against_one_at_a_time(
            &model,
            xs.iter().map(|x| ModelInput::Tokens { ids: x.0.clone(), counts: x.1.clone() }).collect(),
            cat_tokens(&xs),
            0.05,
        );
    }
}

#[test]
fn a_dp_step_without_noise_is_sgd_on_the_clipped_mean() {
    let device = crate::device::host().autodiff();
    let model = cnn(3, Norm::Group, &device);
    let xs = images(&device);
    let labels: Vec<i64> = (0..N as i64).map(|i| i % 3).collect();
    let run = DpRun {
        sample_rate: 0.5,
        noise_multiplier: 0.0,
        max_grad_norm: 0.3,
        delta: 1e-5,
        steps_per_epoch: 2,
        expected_batch: 4.0,
    };
    let targets = Tensor::from_data(TensorData::new(labels.clone(), [N]), &device);
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut optim = burn::optim::SgdConfig::new().init();
    let before = example_weights(&model);
    let stepped =
        step(model.clone(), Some((cat_images(&xs), targets)), &loss_fn, &run, &mut optim, 0.1, 1, &device)
            .expect("a step");
    let after = example_weights(&stepped.model);
    let clipped = taped(&model, cat_images(&xs), &labels, 0.3, &device);
    for (id, sum) in clipped.sums {
        let (b, a) = (
            &before.iter().find(|(i, _)| *i == id).expect("p").1,
            &after.iter().find(|(i, _)| *i == id).expect("p").1,
        );
        for ((b, a), s) in b.iter().zip(a).zip(flat(&sum)) {
            let want = b - 0.1 * s / 4.0;
            assert!((a - want).abs() < 1e-5, "{a} vs {want}");
        }
    }
}

fn example_weights<M: Module>(model: &M) -> Vec<(ParamId, Vec<f32>)> {
    struct W(Vec<(ParamId, Vec<f32>)>);
    impl ModuleVisitor for W {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0
                .push((param.id, param.val().into_data().convert::<f32>().try_to_vec::<f32>().expect("f32")));
        }
    }
    let mut w = W(Vec::new());
    model.visit(&mut w);
    w.0
}

#[test]
fn noise_has_the_configured_spread_and_is_seeded() {
    let device = crate::device::host().autodiff();
    let model = cnn(3, Norm::Group, &device);
    let run = DpRun {
        sample_rate: 0.01,
        noise_multiplier: 2.0,
        max_grad_norm: 1.5,
        delta: 1e-5,
        steps_per_epoch: 1,
        expected_batch: 10.0,
    };
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let before = example_weights(&model);
    let moved = |seed| {
        let mut optim = burn::optim::SgdConfig::new().init();
        let m =
            step(model.clone(), None, &loss_fn, &run, &mut optim, 1.0, seed, &device).expect("a step").model;
        example_weights(&m)
    };
    let (a, b, c) = (moved(9), moved(9), moved(10));
    assert_eq!(a, b, "the same seed draws the same noise");
    assert_ne!(a, c);
    // An empty batch moves each weight by lr · σC · z / B.
    let deltas: Vec<f64> = before
        .iter()
        .zip(&a)
        .flat_map(|((_, x), (_, y))| x.iter().zip(y).map(|(x, y)| f64::from(x - y)))
        .collect();
    let sd = (deltas.iter().map(|d| d * d).sum::<f64>() / deltas.len() as f64).sqrt();
    let want = 2.0 * 1.5 / 10.0;
    assert!((sd / want - 1.0).abs() < 0.1, "spread {sd} vs {want} over {}", deltas.len());
}

#[test]
fn poisson_batches_are_seeded_and_average_the_batch_size() {
    let plan = DpPlan { max_grad_norm: 1.0, budget: DpBudget::NoiseMultiplier(1.0), delta: None };
    let run = DpRun::new(&plan, 2000, 50, 3).expect("noise given");
    assert_eq!((run.steps_per_epoch, run.delta), (40, 1e-4));
    let a = run.batches(2000, 4, 1);
    assert_eq!(a, run.batches(2000, 4, 1));
    assert_ne!(a, run.batches(2000, 4, 2));
    let sizes: Vec<usize> = a.iter().map(Vec::len).collect();
    let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
    assert!((mean - 50.0).abs() < 5.0, "{mean}");
    assert!(sizes.iter().any(|&s| s != 50), "sizes vary: {sizes:?}");
    assert!(a.iter().all(|b| b.windows(2).all(|w| w[0] < w[1])));
}

#[test]
fn a_target_epsilon_is_solved_or_refused_before_training() {
    let plan = DpPlan { max_grad_norm: 1.0, budget: DpBudget::Epsilon(2.0), delta: Some(1e-5) };
    let run = DpRun::new(&plan, 60_000, 256, 60).expect("reachable");
    assert!((run.noise_multiplier / 1.29547 - 1.0).abs() < 2e-3, "{}", run.noise_multiplier);
    assert!(run.epsilon_after(60) <= 2.0 && run.epsilon_after(60) > 1.98);
    assert!(run.epsilon_after(30) < run.epsilon_after(60));
    let plan = DpPlan { budget: DpBudget::Epsilon(0.01), ..plan };
    let err = DpRun::new(&plan, 60_000, 256, 60).unwrap_err();
    assert!(err.to_string().contains("cannot be met"), "{err}");
}
