//! Images per second for every image op at severity 3: single-threaded at
//! 28x28 gray and 224x224 RGB, and a 224x224 RGB batch through a rayon pool
//! of one thread and of all cores. Prints a markdown table.
//!
//! `cargo bench -p augment --bench image_ops`; set `IMAGE_BENCH_OPS=a,b` to
//! pick ops, `IMAGE_BENCH_SECS` (default 0.2) for the time per cell and
//! `IMAGE_BENCH_BATCH=0` to skip the batch columns.
//! `bench/albumentations_bench.py` prints the same table for Albumentations.

use std::hint::black_box;
use std::time::{Duration, Instant};

use augment::image::{Image, ImageOp, ops};
use augment::severity::Severity;
use rayon::prelude::*;

/// A 28x28 gray digit-like image (a ring and a bar).
fn gray28() -> Image {
    let data = (0..28 * 28)
        .map(|i| {
            let (x, y) = ((i % 28) as f32 - 13.5, (i / 28) as f32 - 13.5);
            let r = (x * x + y * y).sqrt();
            if (7.0..10.0).contains(&r) || (x.abs() < 1.5 && y < 0.0) { 230 } else { 10 }
        })
        .collect();
    Image::new(28, 28, 1, data).expect("valid image")
}

/// A 224x224 RGB image with gradients and texture.
fn rgb224() -> Image {
    let mut data = Vec::with_capacity(224 * 224 * 3);
    for y in 0..224u32 {
        for x in 0..224u32 {
            let t = ((x / 8 + y / 8) % 2) as u8 * 60;
            data.extend_from_slice(&[(x + t as u32) as u8, (y as u8).wrapping_add(t), ((x * y) % 251) as u8]);
        }
    }
    Image::new(224, 224, 3, data).expect("valid image")
}

/// Runs `f` repeatedly for at least `budget` (and 3 times), returning calls/s.
fn rate(budget: Duration, mut f: impl FnMut() -> usize) -> f64 {
    let start = Instant::now();
    let mut items = 0usize;
    let mut calls = 0;
    while calls < 3 || start.elapsed() < budget {
        items += f();
        calls += 1;
    }
    items as f64 / start.elapsed().as_secs_f64()
}

fn batch_rate(pool: &rayon::ThreadPool, op: &ImageOp, batch: &[Image], budget: Duration) -> f64 {
    let sev = Severity::new(3).expect("valid");
    rate(budget, || {
        pool.install(|| {
            let out: Vec<Image> =
                batch.par_iter().enumerate().map(|(i, im)| op.apply(im, sev, i as u64)).collect();
            black_box(out).len()
        })
    })
}

fn main() {
    let secs: f64 = std::env::var("IMAGE_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(0.2);
    let budget = Duration::from_secs_f64(secs);
    let only: Option<Vec<String>> =
        std::env::var("IMAGE_BENCH_OPS").ok().map(|s| s.split(',').map(str::to_owned).collect());
    // A long-running process has long since freed a large buffer, which
    // raises glibc's mmap threshold: per-image buffers then come from the
    // heap instead of fresh pages (a page fault per 4 KiB). Without this
    // the first ops measured pay those faults and the later ones do not.
    std::hint::black_box(vec![1u8; 16 << 20]);
    let (small, large) = (gray28(), rgb224());
    let batch: Vec<Image> = (0..32).map(|_| large.clone()).collect();
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("rayon pool");
    let all = rayon::ThreadPoolBuilder::new().build().expect("rayon pool");
    let sev = Severity::new(3).expect("valid");
    let with_batch = std::env::var("IMAGE_BENCH_BATCH").map_or(true, |v| v != "0");
    println!("Severity 3, images/s; {} cores in the batch pool.\n", all.current_num_threads());
    println!(
        "| op | 28x28 gray, 1 thread | 224x224 RGB, 1 thread | 224 RGB batch, rayon 1 thread | 224 RGB batch, rayon all cores |"
    );
    println!("|---|---:|---:|---:|---:|");
    for op in ops() {
        if only.as_ref().is_some_and(|names| !names.iter().any(|n| n == op.name())) {
            continue;
        }
        let mut seed = 0u64;
        let s28 = rate(budget, || {
            seed += 1;
            black_box(op.apply(black_box(&small), sev, seed));
            1
        });
        let s224 = rate(budget, || {
            seed += 1;
            black_box(op.apply(black_box(&large), sev, seed));
            1
        });
        let (b1, bn) = if with_batch {
            let b1 = batch_rate(&one, op, &batch, budget);
            (format!("{b1:.0}"), format!("{:.0}", batch_rate(&all, op, &batch, budget)))
        } else {
            (String::new(), String::new())
        };
        println!("| {} | {:.0} | {:.0} | {b1} | {bn} |", op.name(), s28, s224);
    }
}
