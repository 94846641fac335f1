//! Malformed tables and hostile images: one clear error (exit 2) naming the
//! file, never a panic.

use temper::synth::ImageLayout;

use crate::harness::{Sandbox, digits_config};

fn validate_fails(sb: &Sandbox, config: &str, needles: &[&str]) {
    let cfg = sb.write("v.toml", config);
    let out = sb.temper(&["validate", cfg.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    for n in needles {
        assert!(out.stderr.contains(n), "{n:?} not in: {}", out.stderr);
    }
}

const TEXT: &str = "[data]\nmodality = \"text\"\ntrain = \"t.csv\"\ntest = \"t.csv\"\n";

#[test]
fn malformed_csv_files() {
    let sb = Sandbox::new();
    for (body, needle) in [
        (&b"text,label\n\"unbalanced quote,spam\nhello,ham\n"[..], "not properly escaped"),
        (&b"text,label\nhello,ham,extra\nbye,spam\n"[..], "more fields"),
        (&b"text,label\nhell\xff\xfeo,ham\nbye,spam\n"[..], "invalid utf-8"),
        (&b""[..], "empty CSV"),
    ] {
        sb.write("t.csv", body);
        validate_fails(&sb, TEXT, &["t.csv", needle]);
    }
    let out = sb.temper(&["validate", sb.write("v.toml", TEXT).to_str().unwrap()]);
    assert!(!out.stderr.contains("infer_schema_length"), "Python-only hints are dropped: {}", out.stderr);
}

#[test]
fn wrong_label_type_and_long_texts() {
    let sb = Sandbox::new();
    sb.write("t.csv", "text,label\nhello,0.5\nbye,1.5\n");
    validate_fails(&sb, TEXT, &["t.csv", "column `label` is f64, expected strings or integers"]);
    let long = "word ".repeat(200_000);
    sb.write("t.csv", format!("text,label\n{long},a\nshort,b\n"));
    let out = sb.temper(&["validate", sb.write("v.toml", TEXT).to_str().unwrap()]);
    assert_eq!(out.code, 0, "a 1 MB text is data, not an error: {}", out.stderr);
}

/// A PNG whose header declares `w`×`h` pixels, with valid chunk CRCs.
fn png_header(w: u32, h: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in bytes {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
        }
        !c
    }
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    // An empty IDAT: decoders read the header up to the first data chunk.
    png.extend_from_slice(&0u32.to_be_bytes());
    png.extend_from_slice(b"IDAT");
    png.extend_from_slice(&crc32(b"IDAT").to_be_bytes());
    png
}

#[test]
fn hostile_images_are_refused_with_the_row() {
    let sb = Sandbox::new();
    sb.digits(20, 5, ImageLayout::CsvPaths);
    let good = std::fs::read(sb.path().join("digits/test/00000.png")).unwrap();
    let jpeg = {
        let img = image::GrayImage::from_pixel(28, 28, image::Luma([200]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
        out.into_inner()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "bomb.png",
            png_header(16_000, 16_000),
            "16000x16000 = 256000000 pixels, over the limit of 67108864",
        ),
        ("wide.png", png_header(100_000, 10), "100000x10, a side over the limit of 16384"),
        ("truncated.png", good[..good.len() / 2].to_vec(), "does not decode"),
        ("truncated.jpg", jpeg[..jpeg.len() / 3].to_vec(), "does not decode"),
        ("empty.png", Vec::new(), "does not decode"),
    ];
    let cfg = digits_config("digits/train.csv", "digits/test.csv", "");
    for (name, bytes, needle) in cases {
        sb.write(&format!("digits/test/{name}"), bytes);
        sb.write("digits/test.csv", format!("path,label\ntest/00000.png,1\ntest/{name},2\n"));
        validate_fails(&sb, &cfg, &["test.csv", "row 2", name, needle]);
    }
}

#[test]
fn parquet_with_wrong_types() {
    use polars::prelude::*;
    let sb = Sandbox::new();
    let mut df = DataFrame::new(
        2,
        vec![Column::new("text".into(), [1i64, 2]), Column::new("label".into(), ["a", "b"])],
    )
    .unwrap();
    let file = std::fs::File::create(sb.path().join("t.parquet")).unwrap();
    ParquetWriter::new(file).finish(&mut df).unwrap();
    validate_fails(
        &sb,
        &TEXT.replace("t.csv", "t.parquet"),
        &["t.parquet", "column `text` is i64, expected text"],
    );
}

#[test]
fn image_side_limit_and_pinned_image_digests() {
    let sb = Sandbox::new();
    sb.digits(40, 10, ImageLayout::CsvPaths);
    let cfg = digits_config("digits/train.csv", "digits/test.csv", "")
        .replace("height = 28", "height = 28\nmax-side = 20");
    validate_fails(
        &sb,
        &cfg,
        &["train.csv", "row 1", "28x28, a side over the limit of 20 (`data.max-side`)"],
    );

    let pinned = |hex: &str| {
        digits_config("digits/train.csv", "digits/test.csv", "")
            .replace("epochs = 2", "epochs = 1")
            .replace("height = 28", &format!("height = 28\nsha256 = {{ train-images = \"{hex}\" }}"))
    };
    let cfg = sb.write("c.toml", pinned(&"0".repeat(64)));
    let out = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("data.sha256.train-images"), "{}", out.stderr);
    assert!(sb.run_dirs().is_empty());
    // The digest a run records is the one to pin.
    let open = sb.write(
        "c.toml",
        pinned(&"0".repeat(64)).replace(&format!("sha256 = {{ train-images = \"{}\" }}", "0".repeat(64)), ""),
    );
    assert_eq!(sb.temper(&["train", "--config", open.to_str().unwrap(), "--quiet"]).code, 0);
    let manifest = sb.json(&sb.run_dirs()[0].join("manifest.json"));
    let digest = manifest["inputs"][0]["images_sha256"].as_str().unwrap().to_owned();
    let cfg = sb.write("c.toml", pinned(&digest));
    let out = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Swapping one referenced image changes the digest: refused.
    std::fs::copy(sb.path().join("digits/train/00001.png"), sb.path().join("digits/train/00000.png"))
        .unwrap();
    let out = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("refusing to start on changed data"), "{}", out.stderr);
}

#[test]
fn on_bad_row_skip_counts_and_reports_instead_of_failing() {
    let sb = Sandbox::new();
    sb.digits(60, 20, ImageLayout::CsvPaths);
    let train = std::fs::read_to_string(sb.path().join("digits/train.csv")).unwrap();
    // Three bad rows: a missing file, an empty label and an undecodable image.
    sb.write("digits/train/broken.png", b"not an image");
    let bad = format!("{train}train/missing.png,3\ntrain/00001.png,\ntrain/broken.png,4\n");
    sb.write("digits/train.csv", &bad);
    let cfg = digits_config("digits/train.csv", "digits/test.csv", "").replace("epochs = 2", "epochs = 1");
    validate_fails(&sb, &cfg, &["train.csv", "row 61", "missing.png does not exist"]);

    let skip = cfg.replace("input-column = \"path\"", "input-column = \"path\"\non-bad-row = \"skip\"");
    let c = sb.write("c.toml", &skip);
    let run = sb.temper(&["train", "--config", c.to_str().unwrap(), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dir = sb.run_dirs()[0].clone();
    let metrics = sb.json(&dir.join("metrics.json"));
    assert_eq!(metrics["run"]["skipped_rows"], 3);
    assert_eq!(metrics["run"]["train_examples"], 60);
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("3 bad rows were skipped"), "{report}");
    let log = std::fs::read_to_string(dir.join("log.jsonl")).unwrap();
    assert!(log.contains("skipped_rows") && log.contains("row 62"), "{log}");
}
