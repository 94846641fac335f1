//! The image catalog: 8-bit grayscale or RGB images, grouped into modules
//! by corruption family.
//!
//! Operations work on [`Image`], a compact interleaved `u8` buffer, and never
//! change its size or channel count unless that is their purpose. Every op
//! takes gray and RGB images of any size, 1x1 included, and never panics.
//!
//! Modules: `noise` (gaussian, shot, impulse, speckle), `blur` (defocus,
//! glass, motion, zoom, gaussian), `weather` (snow, frost, fog, spatter),
//! `color` (brightness, contrast, saturate; colour jitter and grayscale for
//! training), ImageNet-C's digital family in `pixelate` and `jpeg`,
//! `geometric` (ImageNet-C's elastic transform, MNIST-C's shear, scale,
//! rotate and translate; flips, crop and affine for training), `mnist_c`
//! (stripe, dotted line, zigzag, Canny edges), and the other training
//! augmentations in `occlusion` (cutout), `tone` (PIL's tone ops) and
//! [`augmix`].
//! Batch-level [`mix`] (mixup, cutmix) changes labels too, so it is not a
//! catalog op; [`gallery`] draws a contact sheet of ops and severities.

pub mod augmix;
mod blur;
mod color;
mod font;
pub mod gallery;
mod geometric;
mod jpeg;
pub mod mix;
mod mnist_c;
mod noise;
mod occlusion;
mod pixelate;
mod pixels;
mod planes;
mod tone;
mod weather;

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
    intensity: fn(Severity) -> f32,
}

impl ImageOp {
    pub(crate) const fn new(info: OpInfo, apply: ApplyFn) -> Self {
        ImageOp { info, apply, intensity: Severity::intensity }
    }

    /// The same op with its own intensity score.
    pub(crate) const fn with_intensity(self, intensity: fn(Severity) -> f32) -> Self {
        ImageOp { intensity, ..self }
    }

    /// How strongly this op changes an image at `severity`, 0..100 (AugLy's
    /// intensity score): 0 at severity 0, 100 at the strongest setting.
    /// Linear in severity unless the op is all-or-nothing (flips: 100).
    pub fn intensity(&self, severity: Severity) -> f32 {
        (self.intensity)(severity)
    }

    /// Whether this op is an evaluation corruption or a training augmentation.
    pub fn purpose(&self) -> crate::catalog::Purpose {
        self.info.purpose
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

static OPS: &[ImageOp] = &[
    // ImageNet-C / CIFAR-10-C corruptions.
    noise::GAUSSIAN_NOISE,
    noise::SHOT_NOISE,
    noise::IMPULSE_NOISE,
    noise::SPECKLE_NOISE,
    blur::DEFOCUS_BLUR,
    blur::GLASS_BLUR,
    blur::MOTION_BLUR,
    blur::ZOOM_BLUR,
    blur::GAUSSIAN_BLUR,
    weather::SNOW_OP,
    weather::FROST_OP,
    weather::FOG_OP,
    weather::SPATTER_OP,
    color::BRIGHTNESS,
    color::CONTRAST,
    color::SATURATE_OP,
    geometric::ELASTIC_TRANSFORM,
    pixelate::PIXELATE,
    jpeg::JPEG_COMPRESSION,
    // MNIST-C corruptions.
    geometric::SHEAR_OP,
    geometric::SCALE_OP,
    geometric::ROTATE,
    geometric::TRANSLATE,
    mnist_c::STRIPE,
    mnist_c::DOTTED_LINE,
    mnist_c::ZIGZAG,
    mnist_c::CANNY_EDGES,
    // Training augmentations.
    geometric::HFLIP,
    geometric::VFLIP,
    geometric::RANDOM_CROP,
    geometric::AFFINE_OP,
    color::COLOR_JITTER,
    color::GRAYSCALE,
    occlusion::CUTOUT,
    tone::POSTERIZE,
    tone::SOLARIZE,
    tone::EQUALIZE,
    tone::AUTOCONTRAST,
    tone::SHARPNESS_OP,
    augmix::AUGMIX,
];

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
        // Mid-range values, so range-stretching ops have something to do.
        let data = (0..28 * 28 * 3).map(|i| (40 + (i * 7 % 160)) as u8).collect();
        let img = Image::new(28, 28, 3, data).expect("valid image");
        for op in ops() {
            let out = op.apply(&img, Severity::new(5).expect("valid"), 3);
            assert_ne!(out, img, "{} left the image unchanged", op.name());
        }
    }

    #[test]
    fn grayscale_at_full_severity_gives_equal_channels() {
        let out =
            find("grayscale").expect("op").apply(&gradient(9, 7, 3), Severity::new(5).expect("valid"), 0);
        assert_eq!(out.channels(), 3);
        assert!(out.as_bytes().chunks_exact(3).all(|p| p[0] == p[1] && p[1] == p[2]));
    }

    #[test]
    fn purposes_split_corruptions_from_augmentations() {
        use crate::catalog::Purpose;
        let augmentations: Vec<&str> =
            ops().iter().filter(|op| op.purpose() == Purpose::Augmentation).map(ImageOp::name).collect();
        assert_eq!(
            augmentations,
            [
                "hflip",
                "vflip",
                "random_crop",
                "affine",
                "color_jitter",
                "grayscale",
                "cutout",
                "posterize",
                "solarize",
                "equalize",
                "autocontrast",
                "sharpness",
                "augmix"
            ]
        );
        assert_eq!(ops().len() - augmentations.len(), 27, "19 ImageNet-C + 8 MNIST-C corruptions");
        for op in ops() {
            assert!(!op.info.params.is_empty(), "{} has no parameter table", op.name());
        }
    }

    #[test]
    fn every_op_in_a_policy_is_parallel_equals_sequential() {
        use crate::policy::{Policy, PolicyStep};
        let imgs: Vec<Image> =
            (0..12).map(|i| gradient(9 + i % 3, 7, if i % 2 == 0 { 1 } else { 3 })).collect();
        let indices: Vec<u64> = (0..12).collect();
        for op in ops() {
            let step = PolicyStep {
                op,
                min: Severity::new(1).expect("valid"),
                max: Severity::new(5).expect("valid"),
                p: 1.0,
            };
            let policy = Policy::new(vec![step]);
            let parallel = policy.apply_batch(&imgs, &indices, 5, 1);
            let sequential: Vec<Image> =
                imgs.iter().zip(&indices).map(|(im, &i)| policy.apply(im, 5, i, 1)).collect();
            assert_eq!(parallel, sequential, "{}", op.name());
        }
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        /// Gray or RGB images from 1x1 to 13x13, any bytes.
        fn images() -> impl Strategy<Value = Image> {
            (1u32..=13, 1u32..=13, prop_oneof![Just(1u8), Just(3u8)]).prop_flat_map(|(w, h, c)| {
                proptest::collection::vec(any::<u8>(), (w * h * u32::from(c)) as usize)
                    .prop_map(move |data| Image::new(w, h, c, data).expect("valid image"))
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(40))]

            #[test]
            fn every_op_keeps_shape_is_deterministic_and_zero_is_identity(
                img in images(),
                seed in any::<u64>(),
                level in 1i64..=5,
            ) {
                let severity = Severity::new(level).expect("valid");
                for op in ops() {
                    prop_assert_eq!(&op.apply(&img, Severity::NONE, seed), &img, "{} identity", op.name());
                    let out = op.apply(&img, severity, seed);
                    prop_assert_eq!(
                        (out.width(), out.height(), out.channels()),
                        (img.width(), img.height(), img.channels()),
                        "{} shape", op.name()
                    );
                    prop_assert_eq!(&out, &op.apply(&img, severity, seed), "{} determinism", op.name());
                }
            }
        }

        #[test]
        fn intensity_starts_at_zero_and_rises_to_at_most_100() {
            for op in ops() {
                let scores: Vec<f32> =
                    (0..=5).map(|l| op.intensity(Severity::new(l).expect("valid"))).collect();
                assert_eq!(scores[0], 0.0, "{}", op.name());
                assert!(scores.windows(2).all(|w| w[0] <= w[1]), "{} {scores:?}", op.name());
                assert!(scores[5] > 0.0 && scores[5] <= 100.0, "{}", op.name());
            }
        }
    }
}
