//! Arbitrary bytes as a CSV, NDJSON or Parquet training table (the first
//! byte picks the format), loaded through a text and an image config: a
//! clear error or a consistent split, never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

struct Fixture {
    dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("img.png"), []).expect("write");
        Fixture { dir }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let ext = ["csv", "ndjson", "parquet"][usize::from(pick % 3)];
    let dir = fixture().dir.path();
    let table = dir.join(format!("t.{ext}"));
    if std::fs::write(&table, body).is_err() {
        return;
    }
    let configs = [
        format!(
            "[data]\nmodality = \"text\"\npath = \"t.{ext}\"\ntest-fraction = 0.5\non-bad-row = \"{}\"\n",
            if pick & 4 == 0 { "fail" } else { "skip" }
        ),
        format!(
            "[data]\nmodality = \"image\"\npath = \"t.{ext}\"\ntest-fraction = 0.5\ninput-column = \"image\"\nwidth = 8\nheight = 8\nmax-pixels = 4096\non-bad-row = \"{}\"\n",
            if pick & 4 == 0 { "fail" } else { "skip" }
        ),
    ];
    for text in &configs {
        let Ok(plan) = temper::config::parse(text, &dir.join("c.toml")) else { continue };
        if let Ok(split) = temper::data::load(&plan.data, 1) {
            assert_eq!(split.train.labels.len(), split.train.len());
            assert_eq!(split.test.labels.len(), split.test.len());
            assert!(split.train.labels.iter().chain(&split.test.labels).all(|&l| l < split.classes.len()));
        }
    }
});
