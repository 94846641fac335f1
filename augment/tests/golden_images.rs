//! Golden images: every op at severity 3 with a fixed seed, on a synthetic
//! RGB scene and a synthetic gray digit, compared with the PNGs in
//! `tests/golden/` within a small tolerance (floating-point library
//! differences may move a few values by a step or two).
//!
//! `REGENERATE=1 cargo test -p augment --test golden_images` rewrites them
//! after an intended change; review the new PNGs before keeping them.

use std::path::PathBuf;

use augment::image::{Image, ops};
use augment::severity::Severity;

const SEED: u64 = 7;

/// A 32x32 RGB scene: a sky gradient, a red disk and a checkered patch.
fn scene() -> Image {
    let mut data = Vec::with_capacity(32 * 32 * 3);
    for y in 0..32i32 {
        for x in 0..32i32 {
            let (dx, dy) = (x - 12, y - 14);
            let px = if dx * dx + dy * dy <= 49 {
                [210, 40, 50]
            } else if (20..30).contains(&x) && (18..28).contains(&y) {
                if (x / 2 + y / 2) % 2 == 0 { [250, 250, 240] } else { [20, 30, 90] }
            } else {
                [60 + (y * 4) as u8, 120 + (y * 3) as u8, 220 - (x * 2) as u8]
            };
            data.extend_from_slice(&px);
        }
    }
    Image::new(32, 32, 3, data).expect("valid scene")
}

/// A 28x28 gray "7": a white bar and a diagonal stroke on black, MNIST-like.
fn digit() -> Image {
    let mut data = vec![0u8; 28 * 28];
    for y in 0..28usize {
        for x in 0..28usize {
            let bar = (5..9).contains(&y) && (6..22).contains(&x);
            let stroke_x = 21.0 - (y as f32 - 8.0) * 0.55;
            let stroke = (8..24).contains(&y) && (x as f32 - stroke_x).abs() < 2.0;
            if bar || stroke {
                data[y * 28 + x] = 240;
            }
        }
    }
    Image::new(28, 28, 1, data).expect("valid digit")
}

/// This package's folder as Cargo gives it to the running test, and only
/// failing that as it was when the test was compiled: a test binary built in
/// another checkout sharing the target folder (Cargo does not rebuild it when
/// only the path differs) must read this checkout's files.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

fn golden_dir() -> PathBuf {
    manifest_dir().join("tests").join("golden")
}

fn save(path: &PathBuf, img: &Image) {
    let colour =
        if img.channels() == 1 { image::ExtendedColorType::L8 } else { image::ExtendedColorType::Rgb8 };
    image::save_buffer(path, img.as_bytes(), img.width(), img.height(), colour).expect("write golden PNG");
}

fn load(path: &PathBuf, channels: u8) -> Option<Image> {
    let decoded = image::open(path).ok()?;
    let (w, h) = (decoded.width(), decoded.height());
    let data = if channels == 1 { decoded.to_luma8().into_raw() } else { decoded.to_rgb8().into_raw() };
    Image::new(w, h, channels, data).ok()
}

/// Mean absolute difference and the share of values off by more than 2.
fn difference(a: &Image, b: &Image) -> (f32, f32) {
    let n = a.as_bytes().len().max(1) as f32;
    let diffs = a.as_bytes().iter().zip(b.as_bytes()).map(|(&x, &y)| x.abs_diff(y));
    let (sum, far) = diffs.fold((0u64, 0usize), |(s, f), d| (s + u64::from(d), f + usize::from(d > 2)));
    (sum as f32 / n, far as f32 / n)
}

#[test]
fn every_op_matches_its_golden_images() {
    let regenerate = std::env::var_os("REGENERATE").is_some();
    let dir = golden_dir();
    let severity = Severity::new(3).expect("valid");
    let mut failures = Vec::new();
    for op in ops() {
        for (suffix, input) in [("rgb", scene()), ("gray", digit())] {
            let out = op.apply(&input, severity, SEED);
            let path = dir.join(format!("{}_{suffix}.png", op.name()));
            if regenerate {
                std::fs::create_dir_all(&dir).expect("golden dir");
                save(&path, &out);
                continue;
            }
            let Some(want) = load(&path, input.channels()) else {
                failures.push(format!("{}: missing or unreadable; run with REGENERATE=1", path.display()));
                continue;
            };
            if (want.width(), want.height()) != (out.width(), out.height()) {
                failures.push(format!("{}: size changed", path.display()));
                continue;
            }
            let (mean, far) = difference(&out, &want);
            if mean > 1.0 || far > 0.02 {
                failures.push(format!(
                    "{}: mean diff {mean:.2}, {:.1}% off by > 2",
                    path.display(),
                    far * 100.0
                ));
            }
        }
    }
    assert!(failures.is_empty(), "golden mismatches:\n{}", failures.join("\n"));
}

#[test]
fn the_inputs_are_what_the_goldens_were_made_from() {
    // Guards the fixtures themselves: a changed input would make every
    // golden comparison meaningless.
    let sum = |img: &Image| img.as_bytes().iter().map(|&v| u64::from(v)).sum::<u64>();
    assert_eq!(sum(&scene()), 454_984);
    assert_eq!(sum(&digit()), 240 * digit().as_bytes().iter().filter(|&&v| v > 0).count() as u64);
}
