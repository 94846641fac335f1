//! What `temper list` prints: every operation's name, summary and parameter
//! table, for both modalities.

/// One row of an operation's parameter table: the value at severities 1..=5.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Parameter name as used in the literature (`sigma`, `angle_deg`).
    pub name: &'static str,
    /// Its value at severities 1..=5, as text so units can be given.
    pub values: [&'static str; 5],
}

/// Which kind of input an operation takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modality {
    /// 8-bit grayscale or RGB images.
    Image,
    /// Unicode text.
    Text,
}

/// Whether an operation is an evaluation corruption or a training
/// augmentation. AugMix excludes corruptions so that evaluation stays unseen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Used in corruption benchmarks (ImageNet-C, MNIST-C, text noise).
    Corruption,
    /// Used for training-time augmentation only.
    Augmentation,
}

/// A catalog entry as printed by `temper list`.
#[derive(Debug, Clone, Copy)]
pub struct OpInfo {
    /// Stable snake_case name used in configs, metrics and reports.
    pub name: &'static str,
    /// Image or text.
    pub modality: Modality,
    /// Corruption or augmentation.
    pub purpose: Purpose,
    /// One line: what it does and where it comes from.
    pub summary: &'static str,
    /// The parameter table for severities 1..=5.
    pub params: &'static [Param],
}

/// Every operation of both catalogs, images first.
pub fn all() -> Vec<OpInfo> {
    crate::image::ops().iter().map(|op| op.info).chain(crate::text::ops().iter().map(|op| op.info)).collect()
}
