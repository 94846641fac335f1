//! The bundled default datasets, generated deterministically from the
//! project's own templates: nothing third-party is copied.
//!
//! `temper synth` writes them; tests call [`write_digits`] and
//! [`write_messages`] on small sizes.

pub mod digits;
pub mod messages;

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;

/// How image tables reference their images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageLayout {
    /// A Parquet table with PNG bytes in a binary column.
    ParquetBytes,
    /// A CSV of `path,label` beside a folder of PNG files.
    CsvPaths,
}

/// Errors while writing generated data.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A file could not be written.
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

fn write_err(path: &Path, e: impl std::fmt::Display) -> SynthError {
    SynthError::Write { path: path.to_path_buf(), message: e.to_string() }
}

fn png(pixels: &[u8]) -> Result<Vec<u8>, image::ImageError> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out).write_image(
        pixels,
        digits::SIZE,
        digits::SIZE,
        image::ExtendedColorType::L8,
    )?;
    Ok(out)
}

/// Writes `train` and `test` digit tables into `dir`; returns their paths.
pub fn write_digits(
    dir: &Path,
    n_train: usize,
    n_test: usize,
    seed: u64,
    layout: ImageLayout,
) -> Result<(PathBuf, PathBuf), SynthError> {
    std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
    let mut paths = Vec::new();
    for (split, n, split_seed) in [("train", n_train, seed), ("test", n_test, seed ^ 0x7e57)] {
        let samples = digits::generate(n, split_seed);
        let labels: Vec<i64> = samples.iter().map(|(d, _)| *d as i64).collect();
        let encoded = samples
            .iter()
            .map(|(_, px)| png(px))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| write_err(dir, e))?;
        let path = match layout {
            ImageLayout::ParquetBytes => {
                let path = dir.join(format!("{split}.parquet"));
                let slices: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
                let mut df = DataFrame::new(
                    n,
                    vec![Column::new("image".into(), slices), Column::new("label".into(), labels)],
                )
                .map_err(|e| write_err(&path, e))?;
                let file = File::create(&path).map_err(|e| write_err(&path, e))?;
                ParquetWriter::new(file).finish(&mut df).map_err(|e| write_err(&path, e))?;
                path
            }
            ImageLayout::CsvPaths => {
                let folder = dir.join(split);
                std::fs::create_dir_all(&folder).map_err(|e| write_err(&folder, e))?;
                let path = dir.join(format!("{split}.csv"));
                let mut csv = String::from("path,label\n");
                for (i, (bytes, label)) in encoded.iter().zip(&labels).enumerate() {
                    let name = format!("{split}/{i:05}.png");
                    std::fs::write(dir.join(&name), bytes).map_err(|e| write_err(&dir.join(&name), e))?;
                    csv.push_str(&format!("{name},{label}\n"));
                }
                std::fs::write(&path, csv).map_err(|e| write_err(&path, e))?;
                path
            }
        };
        paths.push(path);
    }
    let test = paths.pop().unwrap_or_default();
    let train = paths.pop().unwrap_or_default();
    Ok((train, test))
}

/// Writes `train.csv` and `test.csv` message tables (`text,label`) into `dir`.
pub fn write_messages(
    dir: &Path,
    n_train: usize,
    n_test: usize,
    seed: u64,
) -> Result<(PathBuf, PathBuf), SynthError> {
    std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
    let mut out = Vec::new();
    for (split, n, split_seed) in [("train", n_train, seed), ("test", n_test, seed ^ 0x7e57)] {
        let path = dir.join(format!("{split}.csv"));
        let mut csv = String::from("text,label\n");
        for (label, text) in messages::generate(n, split_seed) {
            csv.push_str(&format!("\"{}\",{}\n", text.replace('"', "\"\""), messages::CLASSES[label]));
        }
        std::fs::write(&path, csv).map_err(|e| write_err(&path, e))?;
        out.push(path);
    }
    let test = out.pop().unwrap_or_default();
    let train = out.pop().unwrap_or_default();
    Ok((train, test))
}
