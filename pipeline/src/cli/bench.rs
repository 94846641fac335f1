//! `temper bench`: training and PGD throughput of a config's image model on
//! each device asked for, on synthetic batches (no data loading), so devices
//! and machines can be compared with the same binary. On a GPU it also
//! counts the kernels each step launches and times them
//! ([`device::launches`]), which says whether the host's launches or the
//! kernels set a step's pace, and which kernels.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use rand::Rng;

use crate::attack::{Attack, AttackKind, white_box};
use crate::config::{self, ModelPlan};
use crate::device::launches::{self, KernelTime, Launches};
use crate::model::{self, AnyModel, CnnModel, ModelInput};
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
    /// On a GPU, also list the N kernels a training step launches most.
    #[arg(long, value_name = "N", default_value_t = 0)]
    kernels: usize,
}

/// One measured row.
struct Row {
    device: String,
    batch: usize,
    train: f64,
    inference: f64,
    pgd: Option<f64>,
    /// Kernels launched on a GPU: per training step, inference batch and
    /// attack batch, and the training steps' by kernel.
    launches: Option<RowLaunches>,
}

struct RowLaunches {
    inference: f64,
    pgd: Option<f64>,
    train_by_kernel: Launches,
    steps: usize,
    /// Further training steps, inference batches and one attack batch with
    /// their kernels timed.
    train_time: Timed,
    inference_time: Timed,
    pgd_time: Option<Timed>,
}

impl RowLaunches {
    fn per_train_step(&self) -> f64 {
        self.train_by_kernel.total() as f64 / self.steps as f64
    }
}

/// The kernels of `runs` runs of one phase (a training step, an inference
/// or attack batch), each kernel timed alone.
struct Timed {
    time: Option<KernelTime>,
    runs: usize,
}

impl Timed {
    /// The kernels' times, where there were runs to time.
    fn timed(&self) -> Option<&KernelTime> {
        self.time.as_ref().filter(|_| self.runs > 0)
    }

    /// Milliseconds one run spent in kernels.
    fn ms(&self) -> Option<f64> {
        Some(self.timed()?.total().as_secs_f64() * 1e3 / self.runs as f64)
    }

    /// The table cell: the milliseconds, marked where the host's clock
    /// timed them (submission included).
    fn cell(&self) -> String {
        match (self.ms(), &self.time) {
            (Some(ms), Some(t)) if t.on_device => format!("{ms:.2}"),
            (Some(ms), _) => format!("{ms:.2} (host-timed)"),
            (None, _) => "-".to_owned(),
        }
    }
}

/// One kernel of a training step: launches and, where the step's kernels
/// were timed, milliseconds, both per step.
#[derive(Debug, PartialEq)]
struct KernelRow {
    name: String,
    per_step: f64,
    ms_per_step: Option<f64>,
}

/// A training step's kernels, the costliest first: by time where they were
/// timed (what a device-bound step is made of), else by launches (what a
/// launch-bound one is). The counted and the timed steps are different
/// steps of the same work, so a kernel seen in only one of them is kept,
/// with nothing for the other.
fn kernel_rows(l: &RowLaunches) -> Vec<KernelRow> {
    let timed = l.train_time.timed();
    let mut names: Vec<&String> = l.train_by_kernel.by_kernel.keys().collect();
    if let Some(t) = timed {
        names.extend(t.by_kernel.keys().filter(|k| !l.train_by_kernel.by_kernel.contains_key(*k)));
    }
    let mut rows: Vec<KernelRow> = names
        .into_iter()
        .map(|name| KernelRow {
            name: name.clone(),
            per_step: l.train_by_kernel.by_kernel.get(name).copied().unwrap_or(0) as f64 / l.steps as f64,
            ms_per_step: timed.map(|t| {
                t.by_kernel.get(name).map_or(0.0, |d| d.as_secs_f64() * 1e3 / l.train_time.runs as f64)
            }),
        })
        .collect();
    rows.sort_by(|a, b| {
        let time = b.ms_per_step.unwrap_or(0.0).total_cmp(&a.ms_per_step.unwrap_or(0.0));
        time.then(b.per_step.total_cmp(&a.per_step)).then(a.name.cmp(&b.name))
    });
    rows
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
    let mut rows = Vec::new();
    for name in &args.devices {
        let selected = device::select(name)?;
        if let Some(warning) = &selected.warning {
            eprintln!("warning: {warning}");
        }
        for &batch in &args.batches {
            let row = measure(&plan, &selected, batch, &args)?;
            let pgd = row.pgd.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"));
            println!(
                "| {} | {} | {:.0} | {:.0} | {} |",
                row.device, row.batch, row.train, row.inference, pgd
            );
            rows.push(row);
        }
    }
    print_launches(&rows, &args);
    Ok(())
}

/// The launch table, for the rows measured on a GPU (none on the CPU).
fn print_launches(rows: &[Row], args: &Args) {
    let gpu: Vec<_> = rows.iter().filter_map(|r| Some((r, r.launches.as_ref()?))).collect();
    if gpu.is_empty() {
        return;
    }
    println!();
    println!(
        "Kernel launches per training step, inference batch and PGD-{} batch (mean over the measured ones), \
         and their time in kernels (each kernel timed alone, in further runs) beside their whole time:",
        args.pgd_steps
    );
    println!();
    println!("| device | batch | phase | kernels launched | kernel ms | whole ms |");
    println!("|---|---|---|---|---|---|");
    for (row, l) in &gpu {
        let ms = |rate: f64| format!("{:.2}", 1e3 * row.batch as f64 / rate);
        let mut phases = vec![
            ("train step".to_owned(), l.per_train_step(), &l.train_time, ms(row.train)),
            ("inference batch".to_owned(), l.inference, &l.inference_time, ms(row.inference)),
        ];
        if let (Some(launched), Some(time), Some(rate)) = (l.pgd, &l.pgd_time, row.pgd) {
            phases.push((format!("PGD-{} batch", args.pgd_steps), launched, time, ms(rate)));
        }
        for (phase, launched, time, whole) in phases {
            println!(
                "| {} | {} | {phase} | {launched:.1} | {} | {whole} |",
                row.device,
                row.batch,
                time.cell()
            );
        }
    }
    if args.kernels == 0 {
        return;
    }
    for (row, l) in &gpu {
        let rows = kernel_rows(l);
        let total_ms = l.train_time.ms();
        println!();
        match total_ms {
            Some(_) => println!(
                "Kernels of a training step, {} at batch {}, the most time first (each timed alone):",
                row.device, row.batch
            ),
            None => println!(
                "Kernels of a training step, {} at batch {}, the most launched first:",
                row.device, row.batch
            ),
        }
        println!();
        println!("| kernel | launches per step | ms per step | share of kernel time |");
        println!("|---|---|---|---|");
        for k in rows.iter().take(args.kernels) {
            let (ms, share) = match (k.ms_per_step, total_ms) {
                (Some(ms), Some(total)) if total > 0.0 => {
                    (format!("{ms:.3}"), format!("{:.1}%", 100.0 * ms / total))
                }
                _ => ("-".to_owned(), "-".to_owned()),
            };
            println!("| {} | {:.1} | {ms} | {share} |", k.name, k.per_step);
        }
    }
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
    let mut readings = train::Readings::default();
    // As in training: the batch is copied to the device, and the losses and
    // correct counts are read back every `READ_EVERY` steps.
    let mut step = |model: CnnModel, readings: &mut train::Readings| -> anyhow::Result<_> {
        let step = train::Step::forward(&model, &loss_fn, ModelInput::Images(x()), y());
        readings.push(step.readings());
        if readings.len() >= train::READ_EVERY {
            readings.read()?;
        }
        Ok(step.update(model, &mut optim, plan.train.learning_rate))
    };
    for _ in 0..3 {
        model = step(model, &mut readings)?;
    }
    readings.read()?;
    let started = Instant::now();
    let (model, train_launches) = launches::count(|| -> anyhow::Result<_> {
        for _ in 0..args.steps {
            model = step(model, &mut readings)?;
        }
        readings.read()?;
        Ok(model)
    });
    let mut model = model?;
    let train = (batch * args.steps) as f64 / started.elapsed().as_secs_f64();
    // Then, on a GPU, a few steps with each kernel timed alone (slower, so
    // apart from the throughput): the device's share of a step's time.
    let gpu = !device::is_host(device);
    let timed_steps = if gpu { args.steps.min(5) } else { 0 };
    let (timed, kernel_time) = launches::time(|| -> anyhow::Result<_> {
        for _ in 0..timed_steps {
            model = step(model, &mut readings)?;
        }
        readings.read()?;
        Ok(model)
    });
    let model = timed?;
    let train_time = Timed { time: kernel_time, runs: timed_steps };
    // Inference as evaluation runs it: the evaluation-mode model on the
    // plain device, predictions read back per batch.
    let frozen = model.valid().to_device(device);
    let host = crate::model::HostInput::Images { pixels: pixels.clone(), shape };
    for _ in 0..3 {
        crate::model::predict_batch(&frozen, &host, device)?;
    }
    let started = Instant::now();
    let (predicted, inference_launches) = launches::count(|| -> anyhow::Result<()> {
        for _ in 0..args.steps {
            crate::model::predict_batch(&frozen, &host, device)?;
        }
        Ok(())
    });
    predicted?;
    let inference = (batch * args.steps) as f64 / started.elapsed().as_secs_f64();
    let (timed, time) = launches::time(|| -> anyhow::Result<()> {
        for _ in 0..timed_steps {
            crate::model::predict_batch(&frozen, &host, device)?;
        }
        Ok(())
    });
    timed?;
    let inference_time = Timed { time, runs: timed_steps };
    let pgd = (args.pgd_steps > 0).then(|| -> anyhow::Result<_> {
        let frozen = model.valid().to_device(&autodiff).freeze();
        let attack = Attack {
            kind: AttackKind::PgdLinf,
            epsilon: 0.1,
            steps: args.pgd_steps,
            step_size: 0.025,
            random_start: true,
            restarts: 1,
            targets: None,
        };
        let plain_x = || Tensor::<4>::from_data(TensorData::new(pixels.clone(), shape), device);
        let plain_y = || Tensor::<1, Int>::from_data(TensorData::new(labels.clone(), [batch]), device);
        let attack_batch = |i: usize| -> anyhow::Result<()> {
            let adv = white_box::perturb(&frozen, plain_x(), plain_y(), &attack, i as u64)?;
            let _: f32 = adv.sum().into_scalar();
            Ok(())
        };
        attack_batch(0)?;
        let started = Instant::now();
        let (done, launched) = launches::count(|| (1..=args.attack_batches).try_for_each(attack_batch));
        done?;
        let rate = (batch * args.attack_batches) as f64 / started.elapsed().as_secs_f64();
        let runs = usize::from(gpu);
        let (done, time) =
            launches::time(|| (0..runs).try_for_each(|i| attack_batch(args.attack_batches + 1 + i)));
        done?;
        Ok((rate, (launched, Timed { time, runs })))
    });
    let pgd = pgd.transpose()?;
    let (pgd, pgd_launches) = pgd.unzip();
    let (pgd_launches, pgd_time) = pgd_launches.unzip();
    let per = |l: &Launches, n: usize| l.total() as f64 / n as f64;
    // On the CPU backend nothing is launched: no launch figures.
    let launches = match (train_launches, inference_launches) {
        (Some(t), Some(i)) if gpu => Some(RowLaunches {
            inference: per(&i, args.steps),
            pgd: pgd_launches.flatten().map(|p| per(&p, args.attack_batches)),
            train_by_kernel: t,
            steps: args.steps,
            train_time,
            inference_time,
            pgd_time,
        }),
        _ => None,
    };
    Ok(Row { device: selected.description.clone(), batch, train, inference, pgd, launches })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn launches(
        steps: usize,
        counts: &[(&str, usize)],
        timed: Option<(usize, &[(&str, u64)])>,
    ) -> RowLaunches {
        let kernel_time = timed.map(|(_, times)| {
            let by_kernel: std::collections::BTreeMap<_, _> =
                times.iter().map(|(k, us)| (k.to_string(), Duration::from_micros(*us))).collect();
            KernelTime { by_kernel, on_device: true }
        });
        RowLaunches {
            inference: 1.0,
            pgd: None,
            train_by_kernel: Launches {
                by_kernel: counts.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
            },
            steps,
            train_time: Timed { time: kernel_time, runs: timed.map_or(0, |(n, _)| n) },
            inference_time: Timed { time: None, runs: 0 },
            pgd_time: None,
        }
    }

    #[test]
    fn timed_kernels_rank_by_time_and_keep_their_launch_counts() {
        // Two counted steps, and two timed steps in which the rarely launched
        // convolution took most of the time.
        let l = launches(
            2,
            &[("Elemwise", 20), ("Conv", 2), ("Reduce", 8)],
            Some((2, &[("Elemwise", 1_000), ("Conv", 6_000), ("Reduce", 1_000), ("Copy", 400)])),
        );
        let rows = kernel_rows(&l);
        let names: Vec<_> = rows.iter().map(|r| r.name.as_str()).collect();
        // Equal times: more launches first.
        assert_eq!(names, ["Conv", "Elemwise", "Reduce", "Copy"]);
        assert_eq!(rows[0], KernelRow { name: "Conv".into(), per_step: 1.0, ms_per_step: Some(3.0) });
        assert_eq!(rows[1].per_step, 10.0);
        // Timed but not seen while counting: kept, with no launches.
        assert_eq!(rows[3], KernelRow { name: "Copy".into(), per_step: 0.0, ms_per_step: Some(0.2) });
        assert_eq!(l.train_time.ms(), Some(4.2));
        assert_eq!(l.train_time.cell(), "4.20");
    }

    #[test]
    fn untimed_kernels_rank_by_launches_then_name() {
        let l = launches(4, &[("b", 8), ("a", 8), ("c", 20)], None);
        let rows = kernel_rows(&l);
        let ranked: Vec<_> = rows.iter().map(|r| (r.name.as_str(), r.per_step, r.ms_per_step)).collect();
        assert_eq!(ranked, [("c", 5.0, None), ("a", 2.0, None), ("b", 2.0, None)]);
        assert_eq!(l.train_time.ms(), None);
        assert_eq!(l.train_time.cell(), "-");
    }
}
