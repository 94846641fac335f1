//! `temper bench`: training and PGD throughput of a config's image model on
//! each device asked for, on synthetic batches (no data loading), so devices
//! and machines can be compared with the same binary.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use rand::Rng;

use crate::attack::{Attack, AttackKind, white_box};
use crate::config::{self, ModelPlan};
use crate::model::{self, AnyModel, ModelInput};
use crate::{device, train};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config whose image model and optimiser are measured.
    #[arg(long, default_value = "configs/digits.toml")]
    config: PathBuf,
    /// Devices to measure, in order (repeatable).
    #[arg(long = "device", default_value = "cpu")]
    devices: Vec<String>,
    /// Batch sizes (repeatable).
    #[arg(long = "batch", default_value = "128")]
    batches: Vec<usize>,
    /// Timed training steps per row, after three warm-up steps.
    #[arg(long, default_value_t = 20)]
    steps: usize,
    /// PGD steps of the attack measurement (0 skips it).
    #[arg(long, default_value_t = 10)]
    pgd_steps: usize,
    /// Timed attack batches per row, after one warm-up batch.
    #[arg(long, default_value_t = 3)]
    attack_batches: usize,
}

/// One measured row.
struct Row {
    device: String,
    batch: usize,
    train: f64,
    inference: f64,
    pgd: Option<f64>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    // A misspelt device, or one this build lacks, is refused before the
    // config and its data are read.
    for name in &args.devices {
        device::check(name)?;
    }
    let plan = config::load(&args.config)?;
    let ModelPlan::Cnn(_) = &plan.model else {
        bail!(
            "{}: `temper bench` measures image models; this config's model is for text",
            args.config.display()
        );
    };
    if args.steps == 0 || args.batches.contains(&0) {
        bail!("--steps and --batch must be at least 1");
    }
    println!("| device | batch | train images/s | inference images/s | PGD-{} images/s |", args.pgd_steps);
    println!("|---|---|---|---|---|");
    for name in &args.devices {
        let selected = device::select(name)?;
        for &batch in &args.batches {
            let row = measure(&plan, &selected, batch, &args)?;
            let pgd = row.pgd.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"));
            println!(
                "| {} | {} | {:.0} | {:.0} | {} |",
                row.device, row.batch, row.train, row.inference, pgd
            );
        }
    }
    Ok(())
}

fn measure(
    plan: &config::Plan,
    selected: &device::Selected,
    batch: usize,
    args: &Args,
) -> anyhow::Result<Row> {
    let device = &selected.device;
    let spec = plan.data.image;
    let classes = 10;
    let shape = [batch, usize::from(spec.channels), spec.height as usize, spec.width as usize];
    let mut rng = augment::seed::rng(plan.seed);
    let pixels: Vec<f32> = (0..shape.iter().product::<usize>()).map(|_| rng.random::<f32>()).collect();
    let labels: Vec<i64> = (0..batch).map(|_| rng.random_range(0..classes as i64)).collect();
    let autodiff = device.clone().autodiff();
    let AnyModel::Cnn(mut model) = model::build_seeded(&plan.model, &spec, classes, plan.seed, &autodiff)
    else {
        unreachable!("checked to be an image config")
    };
    let mut optim = train::optimizer(&plan.train);
    let loss_fn = CrossEntropyLossConfig::new().init(&autodiff);
    let x = || Tensor::<4>::from_data(TensorData::new(pixels.clone(), shape), &autodiff);
    let y = || Tensor::<1, Int>::from_data(TensorData::new(labels.clone(), [batch]), &autodiff);
    let mut started = Instant::now();
    let mut readings = train::Readings::default();
    for i in 0..3 + args.steps {
        if i == 3 {
            readings.read()?;
            started = Instant::now();
        }
        // As in training: the batch is copied to the device, and the losses
        // and correct counts are read back every `READ_EVERY` steps.
        let step = train::Step::forward(&model, &loss_fn, ModelInput::Images(x()), y());
        readings.push(step.readings());
        if readings.len() >= train::READ_EVERY {
            readings.read()?;
        }
        model = step.update(model, &mut optim, plan.train.learning_rate);
    }
    readings.read()?;
    let train = (batch * args.steps) as f64 / started.elapsed().as_secs_f64();
    // Inference as evaluation runs it: the evaluation-mode model on the
    // plain device, predictions read back per batch.
    let frozen = model.valid().to_device(device);
    let host = crate::model::HostInput::Images { pixels: pixels.clone(), shape };
    let mut started = Instant::now();
    for i in 0..3 + args.steps {
        if i == 3 {
            started = Instant::now();
        }
        crate::model::predict_batch(&frozen, &host, device)?;
    }
    let inference = (batch * args.steps) as f64 / started.elapsed().as_secs_f64();
    let pgd = (args.pgd_steps > 0).then(|| {
        let frozen = model.valid().to_device(&autodiff).freeze();
        let attack = Attack {
            kind: AttackKind::PgdLinf,
            epsilon: 0.1,
            steps: args.pgd_steps,
            step_size: 0.025,
            random_start: true,
            restarts: 1,
        };
        let plain_x = || Tensor::<4>::from_data(TensorData::new(pixels.clone(), shape), device);
        let plain_y = || Tensor::<1, Int>::from_data(TensorData::new(labels.clone(), [batch]), device);
        let mut started = Instant::now();
        for i in 0..1 + args.attack_batches {
            if i == 1 {
                started = Instant::now();
            }
            let adv = white_box::perturb(&frozen, plain_x(), plain_y(), &attack, i as u64);
            let _: f32 = adv.sum().into_scalar();
        }
        (batch * args.attack_batches) as f64 / started.elapsed().as_secs_f64()
    });
    Ok(Row { device: selected.description.clone(), batch, train, inference, pgd })
}
