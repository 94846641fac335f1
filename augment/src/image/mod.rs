//! The image catalog: 8-bit grayscale or RGB images, grouped into modules
//! by corruption family.
//!
//! Operations work on [`Image`], a compact interleaved `u8` buffer, and never
//! change its size or channel count unless that is their purpose. Every op
//! takes gray and RGB images of any size, 1x1 included, and never panics.
//!
//! Modules: `noise` (gaussian, shot, impulse, speckle), `blur` (defocus,
//! glass, motion, zoom, gaussian), `weather` (snow, frost, fog) and `spatter`,
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
mod spatter;
mod tone;
mod weather;

pub use pixels::{Image, ImageError};

use crate::catalog::OpInfo;
use crate::seed::{self, Rng};
use crate::severity::Severity;
use crate::table::{Setting, Table, TableChoice, TableParams};

/// The signature of an op without benchmark tables. Severity is never 0 here.
pub(crate) type ApplyFn = fn(&Image, Severity, &mut Rng) -> Image;
/// The signature of a corruption with benchmark tables: it reads its
/// parameters from the [`Setting`].
pub(crate) type TabledFn = fn(&Image, Setting, &mut Rng) -> Image;

#[derive(Debug, Clone, Copy)]
enum Apply {
    Plain(ApplyFn),
    Tabled(TabledFn),
}

/// One image operation of the catalog.
#[derive(Debug)]
pub struct ImageOp {
    /// Name, summary and parameter tables.
    pub info: OpInfo,
    apply: Apply,
    intensity: fn(Severity) -> f32,
}

/// A benchmark table an op does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{op} has no {table} parameters (it has {available}); choose one of those tables or \"auto\"")]
pub struct TableError {
    /// The op.
    pub op: &'static str,
    /// The table asked for.
    pub table: Table,
    /// The tables it has, comma-separated.
    pub available: String,
}

impl ImageOp {
    pub(crate) const fn new(info: OpInfo, apply: ApplyFn) -> Self {
        ImageOp { info, apply: Apply::Plain(apply), intensity: Severity::intensity }
    }

    /// A corruption whose parameters come from `info.tables`.
    pub(crate) const fn tabled(info: OpInfo, apply: TabledFn) -> Self {
        ImageOp { info, apply: Apply::Tabled(apply), intensity: Severity::intensity }
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

    /// The benchmark tables this op has; empty for ops without any.
    pub fn tables(&self) -> impl Iterator<Item = Table> + '_ {
        self.info.tables.iter().map(|t| t.table)
    }

    fn params(&self, table: Table) -> Option<&'static TableParams> {
        self.info.tables.iter().find(|t| t.table == table)
    }

    /// The table this op uses on `width`x`height`x`channels` images under
    /// `choice`, or `None` for an op without tables.
    ///
    /// `auto` takes [`Table::for_image`] when the op has it, else the op's
    /// table made at the nearest image size. `within` narrows the tables
    /// `auto` may pick (a suite's benchmark family); a fixed choice the op
    /// lacks is an error, never a substitute.
    pub fn resolve(
        &self,
        choice: TableChoice,
        within: Option<&[Table]>,
        (width, height, channels): (u32, u32, u8),
    ) -> Result<Option<Table>, TableError> {
        if self.info.tables.is_empty() {
            return Ok(None);
        }
        match choice {
            TableChoice::Fixed(table) => match self.params(table) {
                Some(_) => Ok(Some(table)),
                None => Err(TableError {
                    op: self.name(),
                    table,
                    available: self.tables().map(Table::name).collect::<Vec<_>>().join(", "),
                }),
            },
            TableChoice::Auto => {
                let allowed = |t: &Table| within.is_none_or(|w| w.contains(t));
                let mut candidates: Vec<Table> = self.tables().filter(allowed).collect();
                if candidates.is_empty() {
                    candidates = self.tables().collect();
                }
                let preferred = Table::for_image(width, height, channels);
                if candidates.contains(&preferred) {
                    return Ok(Some(preferred));
                }
                let side = width.max(height);
                Ok(candidates.into_iter().min_by_key(|t| t.native_size().abs_diff(side)))
            }
        }
    }

    /// Applies the operation with the table `auto` picks for this image;
    /// severity 0 returns an identical copy.
    pub fn apply(&self, image: &Image, severity: Severity, seed: u64) -> Image {
        let dims = (image.width(), image.height(), image.channels());
        let auto = self.resolve(TableChoice::Auto, None, dims).ok().flatten();
        self.run(image, severity, auto.and_then(|t| self.params(t)), seed)
    }

    /// Applies the operation with `table`'s parameters (`None`: the table
    /// `auto` picks); severity 0 returns an identical copy. A table the op
    /// lacks is an error.
    pub fn apply_in(
        &self,
        image: &Image,
        severity: Severity,
        table: Option<Table>,
        seed: u64,
    ) -> Result<Image, TableError> {
        let Some(t) = table else { return Ok(self.apply(image, severity, seed)) };
        let dims = (image.width(), image.height(), image.channels());
        let resolved = self.resolve(TableChoice::Fixed(t), None, dims)?;
        Ok(self.run(image, severity, resolved.and_then(|t| self.params(t)), seed))
    }

    fn run(&self, image: &Image, severity: Severity, params: Option<&TableParams>, seed: u64) -> Image {
        if severity.is_identity() || image.is_empty() {
            return image.clone();
        }
        let rng = &mut seed::rng(seed);
        match (self.apply, params) {
            (Apply::Plain(f), _) => f(image, severity, rng),
            (Apply::Tabled(f), Some(p)) => f(image, Setting::new(p, severity), rng),
            // `resolve` always finds a table for a tabled op.
            (Apply::Tabled(_), None) => unreachable!("{} has no tables", self.name()),
        }
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
    spatter::SPATTER_OP,
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
        // Every corruption takes its parameters from benchmark tables (MNIST-C's
        // overlays too: their severity 3 is the published corruption).
        for op in ops() {
            let tabled = !op.info.tables.is_empty();
            assert!(
                tabled == op.info.params.is_empty(),
                "{} needs parameters or tables, not both",
                op.name()
            );
            assert_eq!(tabled, op.info.purpose == Purpose::Corruption, "{}", op.name());
        }
    }

    #[test]
    fn every_op_runs_under_every_table_it_has() {
        // Each table's rows are read by name: a missing row would stop here.
        let scene = |w: u32, h: u32, c: u8| {
            let data = (0..w * h * u32::from(c)).map(|i| (i * 37 % 251) as u8).collect();
            Image::new(w, h, c, data).expect("valid")
        };
        for op in ops().iter().filter(|op| !op.info.tables.is_empty()) {
            for table in op.tables() {
                for (w, h, c) in [(1, 1, 3), (5, 3, 1), (28, 28, 1), (32, 32, 3), (64, 40, 3)] {
                    let img = scene(w, h, c);
                    for severity in Severity::all() {
                        let out = op.apply_in(&img, severity, Some(table), 3).expect("its own table");
                        assert_eq!(
                            (out.width(), out.height(), out.channels()),
                            (w, h, c),
                            "{} {table}",
                            op.name()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn tables_resolve_by_size_and_refuse_what_an_op_lacks() {
        let noise = find("gaussian_noise").expect("op");
        let auto = |dims| noise.resolve(TableChoice::Auto, None, dims).expect("auto");
        assert_eq!(auto((224, 224, 3)), Some(Table::ImagenetC));
        assert_eq!(auto((64, 64, 3)), Some(Table::TinyImagenetC));
        assert_eq!(auto((32, 32, 3)), Some(Table::Cifar10C));
        // No MNIST-C gaussian noise: the nearest size's table, CIFAR-10-C.
        assert_eq!(auto((28, 28, 1)), Some(Table::Cifar10C));
        // A suite may keep auto inside its benchmark family.
        let within = noise.resolve(TableChoice::Auto, Some(&[Table::ImagenetC]), (32, 32, 3));
        assert_eq!(within, Ok(Some(Table::ImagenetC)));
        let err = noise
            .resolve(TableChoice::Fixed(Table::MnistC), None, (28, 28, 1))
            .expect_err("no MNIST-C table");
        assert_eq!(
            err.to_string(),
            "gaussian_noise has no mnist_c parameters (it has imagenet_c, tiny_imagenet_c, cifar10_c); choose one of those tables or \"auto\""
        );
        let shot = find("shot_noise").expect("op");
        assert_eq!(shot.resolve(TableChoice::Auto, None, (28, 28, 1)), Ok(Some(Table::MnistC)));
        // Ops without tables resolve to none, whatever is asked.
        let flip = find("hflip").expect("op");
        assert_eq!(flip.resolve(TableChoice::Fixed(Table::ImagenetC), None, (8, 8, 3)), Ok(None));
        // A table changes the result: ImageNet-C's noise is stronger.
        let img = Image::filled(32, 32, 3, 128);
        let sev = Severity::new(3).expect("valid");
        let change = |t| {
            let out = noise.apply_in(&img, sev, Some(t), 1).expect("table");
            out.as_bytes().iter().map(|&v| u32::from(v.abs_diff(128))).sum::<u32>()
        };
        assert!(change(Table::ImagenetC) > 2 * change(Table::Cifar10C));
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
