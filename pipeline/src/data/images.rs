//! Decoding images once, safely, into one compact `u8` buffer.
//!
//! Untrusted data is bounded: the declared size is read from the header and
//! checked against `max-pixels` before any pixel is decoded, the decoder's
//! allocation is capped, and paths must stay inside the table's folder.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageReader, Limits, imageops::FilterType};
use rayon::prelude::*;

use super::error::{DataError, ImageProblem};
use super::table::ImageCells;
use crate::config::ImageSpec;

/// Every image of one split, resized to one shape, stored back to back.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    /// Width of every image.
    pub width: u32,
    /// Height of every image.
    pub height: u32,
    /// 1 or 3.
    pub channels: u8,
    /// `len × height × width × channels` bytes, HWC per image.
    pub pixels: Vec<u8>,
    /// For path-based tables: SHA-256 over every referenced file's digest,
    /// in row order, so a swapped or edited image changes it.
    pub files_sha256: Option<String>,
}

impl ImageSet {
    /// An empty set of images of this size.
    pub fn clone_shape(&self) -> ImageSet {
        ImageSet {
            width: self.width,
            height: self.height,
            channels: self.channels,
            pixels: Vec::new(),
            files_sha256: None,
        }
    }

    /// Bytes per image.
    pub fn stride(&self) -> usize {
        self.width as usize * self.height as usize * usize::from(self.channels)
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.pixels.len().checked_div(self.stride()).unwrap_or(0)
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.pixels.is_empty()
    }

    /// The bytes of image `i`.
    pub fn bytes(&self, i: usize) -> &[u8] {
        let s = self.stride();
        &self.pixels[i * s..(i + 1) * s]
    }

    /// Image `i` as the augment crate's type.
    pub fn image(&self, i: usize) -> augment::Image {
        augment::Image::new(self.width, self.height, self.channels, self.bytes(i).to_vec())
            .unwrap_or_else(|_| unreachable!("an ImageSet's stride matches its shape"))
    }

    /// A subset in the given order.
    pub fn select(&self, rows: &[usize]) -> ImageSet {
        let mut pixels = Vec::with_capacity(rows.len() * self.stride());
        for &r in rows {
            pixels.extend_from_slice(self.bytes(r));
        }
        ImageSet { pixels, files_sha256: self.files_sha256.clone(), ..*self }
    }
}

/// Decodes every cell in parallel: one result per row, and for path cells
/// the digest over the referenced files. `table`'s folder is the root.
pub fn decode_rows(
    cells: &ImageCells,
    table: &Path,
    spec: &ImageSpec,
) -> (Vec<Result<Vec<u8>, DataError>>, Option<String>) {
    let root = table.parent().unwrap_or(Path::new("."));
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let image_err = |i: usize, problem| DataError::Image { file: table.to_path_buf(), row: i + 1, problem };
    let (rows, digests): (Vec<Result<Vec<u8>, DataError>>, Vec<String>) = match cells {
        ImageCells::Bytes(cells) => (
            cells
                .par_iter()
                .enumerate()
                .map(|(i, b)| match b {
                    Ok(b) => decode(b, "bytes", spec).map_err(|p| image_err(i, p)),
                    Err(e) => Err(clone_missing(e)),
                })
                .collect(),
            Vec::new(),
        ),
        ImageCells::Paths(cells) => cells
            .par_iter()
            .enumerate()
            .map(|(i, cell)| {
                let p = match cell {
                    Ok(p) => p,
                    Err(e) => return (Err(clone_missing(e)), String::new()),
                };
                let read = resolve_path(p, &root, spec.allow_absolute_paths).and_then(|file| {
                    std::fs::read(&file)
                        .map(|bytes| (file.clone(), bytes))
                        .map_err(|e| ImageProblem::Unreadable { path: file, message: e.to_string() })
                });
                match read {
                    Ok((file, bytes)) => {
                        let digest = crate::hash::sha256_bytes(&bytes);
                        (
                            decode(&bytes, &file.display().to_string(), spec).map_err(|p| image_err(i, p)),
                            digest,
                        )
                    }
                    Err(problem) => (Err(image_err(i, problem)), String::new()),
                }
            })
            .unzip(),
    };
    let files_sha256 =
        (!digests.is_empty()).then(|| crate::hash::sha256_bytes(digests.join("\n").as_bytes()));
    (rows, files_sha256)
}

/// Cell errors are only ever missing values; rebuild one for the row.
fn clone_missing(e: &DataError) -> DataError {
    match e {
        DataError::MissingValue { file, row, column } => {
            DataError::MissingValue { file: file.clone(), row: *row, column: column.clone() }
        }
        other => DataError::Read { file: std::path::PathBuf::new(), message: other.to_string() },
    }
}

/// Resolves a path cell against the dataset folder, refusing escapes.
fn resolve_path(cell: &str, root: &Path, allow_absolute: bool) -> Result<PathBuf, ImageProblem> {
    let written = Path::new(cell);
    let outside = || ImageProblem::OutsideRoot { path: cell.to_owned(), root: root.to_path_buf() };
    if written.is_absolute() && !allow_absolute {
        return Err(outside());
    }
    let joined = root.join(written);
    // Canonicalising resolves `..` and symlinks, so both kinds of escape show.
    let real = joined.canonicalize().map_err(|_| ImageProblem::NotFound(joined.clone()))?;
    if !(written.is_absolute() || real.starts_with(root)) {
        return Err(outside());
    }
    Ok(real)
}

/// Decodes one image within the limits and converts it to the spec's shape.
pub fn decode(bytes: &[u8], source_name: &str, spec: &ImageSpec) -> Result<Vec<u8>, ImageProblem> {
    let fail = |e: image::ImageError| ImageProblem::Decode {
        source_name: source_name.to_owned(),
        message: e.to_string(),
    };
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageProblem::Decode { source_name: source_name.to_owned(), message: e.to_string() })?;
    let (width, height) = reader.into_dimensions().map_err(fail)?;
    let pixels = u64::from(width) * u64::from(height);
    if width.max(height) > spec.max_side {
        return Err(ImageProblem::TooWide {
            source_name: source_name.to_owned(),
            width,
            height,
            limit: spec.max_side,
        });
    }
    if pixels > spec.max_pixels {
        return Err(ImageProblem::TooLarge {
            source_name: source_name.to_owned(),
            width,
            height,
            pixels,
            limit: spec.max_pixels,
        });
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageProblem::Decode { source_name: source_name.to_owned(), message: e.to_string() })?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(spec.max_side);
    limits.max_image_height = Some(spec.max_side);
    // 16 bytes per pixel covers 16-bit RGBA, the widest format decoded here.
    limits.max_alloc = Some(spec.max_pixels.saturating_mul(16).max(1 << 20));
    reader.limits(limits);
    let img = reader.decode().map_err(fail)?;
    Ok(convert(img, spec))
}

/// Converts to the spec's channels and size (bilinear resize when needed).
fn convert(img: DynamicImage, spec: &ImageSpec) -> Vec<u8> {
    let img = if img.width() != spec.width || img.height() != spec.height {
        img.resize_exact(spec.width, spec.height, FilterType::Triangle)
    } else {
        img
    };
    match spec.channels {
        1 => img.into_luma8().into_raw(),
        _ => img.into_rgb8().into_raw(),
    }
}
