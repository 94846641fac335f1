//! Corruption suites: named lists of catalog operations, evaluated together
//! and reported in a fixed order.
//!
//! - `imagenet_c`: the 15 corruptions of ImageNet-C (Hendrycks & Dietterich,
//!   "Benchmarking Neural Network Robustness to Common Corruptions and
//!   Perturbations", ICLR 2019), in the paper's order: noise, blur, weather,
//!   digital.
//! - `imagenet_c_extra`: its 4 held-out extra corruptions, meant for
//!   validation so the 15 stay unseen.
//! - `mnist_c`: the 15 corruptions of MNIST-C (Mu & Gilmer, "MNIST-C: A
//!   Robustness Benchmark for Computer Vision", arXiv:1906.02337, 2019), in
//!   the paper's order.
//! - `text_noise`: a default set of character-level text noise.

use crate::catalog::Modality;
use crate::table::Table;

/// A named list of catalog operations of one modality.
#[derive(Debug, Clone, Copy)]
pub struct Suite {
    /// Stable snake_case name, usable where a config lists operations.
    pub name: &'static str,
    /// Which catalog its operations come from.
    pub modality: Modality,
    /// One line: what it holds and where it comes from.
    pub summary: &'static str,
    /// Catalog operation names, in report order.
    pub ops: &'static [&'static str],
    /// The benchmark tables its ops use under `auto`: the family the
    /// benchmark belongs to (empty: any).
    pub tables: &'static [Table],
}

/// ImageNet-C's family: the same corruptions tuned for 224, 64 and 32 px.
const IMAGENET_FAMILY: &[Table] = &[Table::ImagenetC, Table::TinyImagenetC, Table::Cifar10C];

/// Every suite: ImageNet-C's 15 corruptions and its 4 extras (Hendrycks &
/// Dietterich 2019), MNIST-C's 15 (Mu & Gilmer 2019), and character-level
/// text noise.
pub const SUITES: &[Suite] = &[
    Suite {
        name: "imagenet_c",
        modality: Modality::Image,
        summary: "ImageNet-C's 15 corruptions: noise, blur, weather, digital (Hendrycks & Dietterich 2019)",
        ops: &[
            "gaussian_noise",
            "shot_noise",
            "impulse_noise",
            "defocus_blur",
            "glass_blur",
            "motion_blur",
            "zoom_blur",
            "snow",
            "frost",
            "fog",
            "brightness",
            "contrast",
            "elastic_transform",
            "pixelate",
            "jpeg_compression",
        ],
        tables: IMAGENET_FAMILY,
    },
    Suite {
        name: "imagenet_c_extra",
        modality: Modality::Image,
        summary: "ImageNet-C's 4 held-out extra corruptions, for validation (Hendrycks & Dietterich 2019)",
        ops: &["speckle_noise", "gaussian_blur", "spatter", "saturate"],
        tables: IMAGENET_FAMILY,
    },
    Suite {
        name: "mnist_c",
        modality: Modality::Image,
        summary: "MNIST-C's 15 corruptions (Mu & Gilmer 2019)",
        ops: &[
            "shot_noise",
            "impulse_noise",
            "glass_blur",
            "motion_blur",
            "shear",
            "scale",
            "rotate",
            "brightness",
            "translate",
            "stripe",
            "fog",
            "spatter",
            "dotted_line",
            "zigzag",
            "canny_edges",
        ],
        tables: &[Table::MnistC],
    },
    Suite {
        name: "text_noise",
        modality: Modality::Text,
        summary: "character-level noise: typos, character edits, look-alike and invisible characters, \
                  leetspeak, OCR errors, spacing and case",
        ops: &[
            "typo",
            "char_swap",
            "char_delete",
            "char_insert",
            "homoglyph",
            "zero_width",
            "leetspeak",
            "ocr_error",
            "insert_whitespace",
            "change_case",
        ],
        tables: &[],
    },
];

/// The suite with this name.
pub fn suite(name: &str) -> Option<&'static Suite> {
    SUITES.iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op_exists(modality: Modality, name: &str) -> bool {
        match modality {
            Modality::Image => crate::image::find(name).is_some(),
            Modality::Text => crate::text::find(name).is_some(),
        }
    }

    #[test]
    fn every_op_of_every_suite_is_in_its_catalog() {
        for s in SUITES {
            assert!(!s.ops.is_empty(), "{}", s.name);
            for op in s.ops {
                assert!(op_exists(s.modality, op), "suite {} names unknown op {op}", s.name);
            }
            for (i, op) in s.ops.iter().enumerate() {
                assert!(!s.ops[i + 1..].contains(op), "suite {} lists {op} twice", s.name);
            }
        }
    }

    #[test]
    fn names_are_unique_and_never_an_op_name() {
        for (i, s) in SUITES.iter().enumerate() {
            assert!(s.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{}", s.name);
            assert!(SUITES[i + 1..].iter().all(|t| t.name != s.name), "duplicate suite {}", s.name);
            assert!(crate::image::find(s.name).is_none(), "{} is also an image op", s.name);
            assert!(crate::text::find(s.name).is_none(), "{} is also a text op", s.name);
            assert_eq!(suite(s.name).map(|found| found.ops), Some(s.ops));
        }
        assert!(suite("gaussian_noise").is_none());
    }

    #[test]
    fn sizes_match_the_papers() {
        let len = |name| suite(name).map(|s| s.ops.len());
        // Hendrycks & Dietterich 2019: 15 corruptions, 4 held-out extras.
        assert_eq!(len("imagenet_c"), Some(15));
        assert_eq!(len("imagenet_c_extra"), Some(4));
        // Mu & Gilmer 2019: 15 corruptions.
        assert_eq!(len("mnist_c"), Some(15));
        assert_eq!(len("text_noise"), Some(10));
        // The extras are held out: no overlap with the 15.
        let (main, extra) = (suite("imagenet_c").expect("suite"), suite("imagenet_c_extra").expect("suite"));
        assert!(extra.ops.iter().all(|op| !main.ops.contains(op)));
    }

    #[test]
    fn image_suites_hold_corruptions_only() {
        use crate::catalog::Purpose;
        for s in SUITES.iter().filter(|s| s.modality == Modality::Image) {
            for op in s.ops {
                let purpose = crate::image::find(op).map(crate::image::ImageOp::purpose);
                assert_eq!(purpose, Some(Purpose::Corruption), "{} in {}", op, s.name);
            }
        }
    }

    #[test]
    fn each_benchmark_suite_has_its_own_table_for_every_op() {
        // ImageNet-C's suites define every op at 224, 64 and 32 px; every
        // MNIST-C op has MNIST-C's table.
        for s in SUITES.iter().filter(|s| !s.tables.is_empty()) {
            for name in s.ops {
                let op = crate::image::find(name).expect("image op");
                for table in s.tables {
                    assert!(op.tables().any(|t| t == *table), "{name} in {} lacks {table}", s.name);
                }
            }
        }
    }
}
