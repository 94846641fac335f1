//! The image catalog: 8-bit grayscale or RGB images, one corruption family
//! per module.
//!
//! Operations work on [`Image`], a compact interleaved `u8` buffer, and never
//! change its size or channel count unless that is their purpose.

mod blur;
mod color;
mod geometric;
mod noise;
mod pixels;

pub use pixels::{Image, ImageError};

use crate::catalog::OpInfo;
use crate::seed::{self, Rng};
use crate::severity::Severity;

/// The signature every image operation implements. Severity is never 0 here.
pub(crate) type ApplyFn = fn(&Image, Severity, &mut Rng) -> Image;

/// One image operation of the catalog.
#[derive(Debug)]
pub struct ImageOp {
    /// Name, summary and parameter table.
    pub info: OpInfo,
    apply: ApplyFn,
}

impl ImageOp {
    pub(crate) const fn new(info: OpInfo, apply: ApplyFn) -> Self {
        ImageOp { info, apply }
    }

    /// The stable snake_case name.
    pub fn name(&self) -> &'static str {
        self.info.name
    }

    /// Applies the operation; severity 0 returns an identical copy.
    pub fn apply(&self, image: &Image, severity: Severity, seed: u64) -> Image {
        if severity.is_identity() || image.is_empty() {
            return image.clone();
        }
        (self.apply)(image, severity, &mut seed::rng(seed))
    }
}

static OPS: &[ImageOp] =
    &[noise::GAUSSIAN_NOISE, blur::GAUSSIAN_BLUR, color::BRIGHTNESS, color::CONTRAST, geometric::ROTATE];

/// Every image operation, in catalog order.
pub fn ops() -> &'static [ImageOp] {
    OPS
}

/// The operation with this name.
pub fn find(name: &str) -> Option<&'static ImageOp> {
    OPS.iter().find(|op| op.name() == name)
}

/// Every operation name, for error messages and `temper list`.
pub fn names() -> Vec<&'static str> {
    OPS.iter().map(ImageOp::name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32, c: u8) -> Image {
        let data = (0..w * h * u32::from(c)).map(|i| (i * 7 % 256) as u8).collect();
        Image::new(w, h, c, data).expect("valid image")
    }

    #[test]
    fn names_are_unique_snake_case() {
        let names = names();
        for (i, n) in names.iter().enumerate() {
            assert!(n.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()), "{n}");
            assert!(!names[i + 1..].contains(n), "duplicate {n}");
        }
    }

    #[test]
    fn every_op_keeps_shape_and_is_deterministic() {
        for op in ops() {
            for c in [1, 3] {
                for (w, h) in [(1, 1), (5, 3), (28, 28)] {
                    let img = gradient(w, h, c);
                    assert_eq!(op.apply(&img, Severity::NONE, 1), img, "{} identity", op.name());
                    for s in Severity::all() {
                        let a = op.apply(&img, s, 42);
                        assert_eq!((a.width(), a.height(), a.channels()), (w, h, c), "{}", op.name());
                        assert_eq!(a, op.apply(&img, s, 42), "{} determinism", op.name());
                    }
                }
            }
        }
    }

    #[test]
    fn every_op_changes_a_textured_image_at_top_severity() {
        let img = gradient(28, 28, 3);
        for op in ops() {
            let out = op.apply(&img, Severity::new(5).expect("valid"), 3);
            assert_ne!(out, img, "{} left the image unchanged", op.name());
        }
    }
}
