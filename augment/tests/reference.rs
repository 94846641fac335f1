//! Corruptions held against the reference implementations.
//!
//! `fixtures/corruptions/reference.json` was made by
//! `bench/corruption_reference.sh` from Hendrycks & Dietterich's code
//! (imagecorruptions 1.1.2 for ImageNet-C at 224 px, `make_tinyimagenet_c.py`'s
//! tables at 64 px, `make_cifar_c.py`'s at 32 px) on three photographs, and
//! MNIST-C's `corruptions.py` on three 28 px gray digits: for every op, table and severity,
//! the mean absolute change the reference makes to each image (over several
//! seeds for the random ops), and for the deterministic ops its output
//! bytes at 1,024 fixed positions (every pixel of a 28 px digit).
//!
//! Two checks, as the benchmarks define faithfulness: every op is within
//! 0.8-1.25 of the reference's strength at every severity (summed over the
//! three images), and the deterministic ones within 3 levels of its output.
//! `REFERENCE_REPORT=1` prints every ratio instead of stopping at the first
//! failure.

use std::collections::BTreeMap;
use std::path::PathBuf;

use augment::image::{Image, find};
use augment::severity::Severity;
use augment::table::Table;
use serde_json::Value;

const STRENGTH: std::ops::RangeInclusive<f64> = 0.8..=1.25;
const OUTPUT_LEVELS: f64 = 3.0;

/// This package's folder as Cargo gives it to the running test, and only
/// failing that as it was when the test was compiled: a test binary built in
/// another checkout sharing the target folder (Cargo does not rebuild it when
/// only the path differs) must read this checkout's files.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

fn fixtures() -> PathBuf {
    manifest_dir().join("tests/fixtures/corruptions")
}

/// An input as stored: gray digits stay one channel, photographs are RGB.
fn load(name: &str, size: u64) -> Image {
    let path = fixtures().join(format!("inputs/{name}_{size}.png"));
    match image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
        image::DynamicImage::ImageLuma8(gray) => {
            Image::new(gray.width(), gray.height(), 1, gray.into_raw()).expect("valid image")
        }
        other => {
            let rgb = other.to_rgb8();
            Image::new(rgb.width(), rgb.height(), 3, rgb.into_raw()).expect("valid image")
        }
    }
}

fn mean_abs_change(a: &Image, b: &Image) -> f64 {
    let sum: u64 = a.as_bytes().iter().zip(b.as_bytes()).map(|(&x, &y)| u64::from(x.abs_diff(y))).sum();
    sum as f64 / a.as_bytes().len() as f64
}

#[derive(Default)]
struct Cell {
    temper: f64,
    reference: f64,
    worst_output: f64,
}

#[test]
fn corruptions_match_the_reference_strength_and_output() {
    let text = std::fs::read_to_string(fixtures().join("reference.json")).expect("reference.json");
    let doc: Value = serde_json::from_str(&text).expect("valid json");
    let samples: BTreeMap<String, Vec<usize>> =
        serde_json::from_value(doc["sample_indices"].clone()).expect("sample indices");
    let mut images: BTreeMap<(String, u64), Image> = BTreeMap::new();
    let mut cells: BTreeMap<(String, String, u64), Cell> = BTreeMap::new();
    for case in doc["cases"].as_array().expect("cases") {
        let table_name = case["table"].as_str().expect("table");
        let table = Table::parse(table_name).expect("known table");
        let size = case["size"].as_u64().expect("size");
        let name = case["image"].as_str().expect("image");
        let op_name = case["op"].as_str().expect("op");
        let severity = case["severity"].as_u64().expect("severity");
        let seeds = case["seeds"].as_u64().expect("seeds");
        let input = images.entry((name.to_string(), size)).or_insert_with(|| load(name, size)).clone();
        let op = find(op_name).unwrap_or_else(|| panic!("no op {op_name}"));
        let level = Severity::new(severity as i64).expect("severity");
        let cell = cells.entry((op_name.to_string(), table_name.to_string(), severity)).or_default();
        let mut change = 0.0;
        for seed in 0..seeds {
            let out = op.apply_in(&input, level, Some(table), seed).expect("table");
            change += mean_abs_change(&input, &out);
            if seed == 0
                && let Some(expected) = case.get("samples").and_then(Value::as_array)
            {
                let at = &samples[&size.to_string()];
                let bytes = out.as_bytes();
                let diff: f64 = at
                    .iter()
                    .zip(expected)
                    .map(|(&i, e)| (f64::from(bytes[i]) - e.as_f64().expect("byte")).abs())
                    .sum::<f64>()
                    / at.len() as f64;
                cell.worst_output = cell.worst_output.max(diff);
            }
        }
        cell.temper += change / seeds as f64;
        cell.reference += case["mean_abs_change"].as_f64().expect("mean_abs_change");
    }
    let report = std::env::var_os("REFERENCE_REPORT").is_some();
    let mut failures = Vec::new();
    for ((op, table, severity), cell) in &cells {
        let ratio = cell.temper / cell.reference.max(1e-9);
        let ok = STRENGTH.contains(&ratio) && cell.worst_output <= OUTPUT_LEVELS;
        let line = format!(
            "{op} {table} severity {severity}: strength {ratio:.2} of the reference, \
             output off by {:.2} levels",
            cell.worst_output
        );
        if report {
            println!("{}{line}", if ok { "  " } else { "! " });
        }
        if !ok {
            failures.push(line);
        }
    }
    assert!(
        failures.is_empty(),
        "{} cells differ from the reference:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
