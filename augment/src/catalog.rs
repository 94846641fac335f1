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
    /// The parameter table for severities 1..=5, for ops without benchmark
    /// tables.
    pub params: &'static [Param],
    /// The benchmark tables of a corruption, one per benchmark that defines
    /// it; empty for ops with only [`OpInfo::params`].
    pub tables: &'static [crate::table::TableParams],
}

impl OpInfo {
    /// An image corruption whose parameters are its benchmark tables.
    pub(crate) const fn image_corruption(
        name: &'static str,
        summary: &'static str,
        tables: &'static [crate::table::TableParams],
    ) -> OpInfo {
        OpInfo { name, modality: Modality::Image, purpose: Purpose::Corruption, summary, params: &[], tables }
    }
}

/// Every operation of both catalogs, images first.
pub fn all() -> Vec<OpInfo> {
    crate::image::ops().iter().map(|op| op.info).chain(crate::text::ops().iter().map(|op| op.info)).collect()
}

/// Test support: the parameter tables are written twice, as the numbers an
/// op computes with and as the strings [`Param`] shows. These check that
/// the two agree.
#[cfg(test)]
pub(crate) mod check {
    use super::{OpInfo, Param};

    /// The number a display string shows: less a `+`, `±` or `1±` in front
    /// (jitter around 1), and a `%` behind read as hundredths.
    fn shown(value: &str) -> Option<f64> {
        let bare = ["1±", "±", "+"].iter().find_map(|p| value.strip_prefix(p)).unwrap_or(value);
        match bare.strip_suffix('%') {
            Some(percent) => percent.parse::<f64>().ok().map(|v| v / 100.0),
            None => bare.parse().ok(),
        }
    }

    /// Asserts that `row` shows `values`, one per severity.
    #[track_caller]
    pub(crate) fn assert_row(op: &str, row: &Param, values: [f32; 5]) {
        for (level, (text, &want)) in row.values.iter().zip(&values).enumerate() {
            let got = shown(text).unwrap_or_else(|| panic!("{op}.{}: {text:?} is not a number", row.name));
            assert!(
                (got - f64::from(want)).abs() <= 1e-6 * f64::from(want).abs().max(1.0),
                "{op}.{} at severity {}: shows {text:?}, computes with {want}",
                row.name,
                level + 1,
            );
        }
    }

    /// Asserts that `info`'s row `name` shows `values`, one per severity.
    #[track_caller]
    pub(crate) fn assert_param(info: &OpInfo, name: &str, values: [f32; 5]) {
        let Some(row) = info.params.iter().find(|p| p.name == name) else {
            panic!("{} has no parameter {name}", info.name);
        };
        assert_row(info.name, row, values);
    }

    #[test]
    fn display_strings_parse_as_their_numbers() {
        assert_eq!(shown("0.10"), Some(0.1));
        assert_eq!(shown("±6"), Some(6.0));
        assert_eq!(shown("+0.05"), Some(0.05));
        assert_eq!(shown("1±0.03"), Some(0.03));
        assert_eq!(shown("30%"), Some(0.3));
        assert_eq!(shown("yes"), None);
        let row = Param { name: "x", values: ["1", "2.0", "±3", "4", "5"] };
        assert_row("op", &row, [1.0, 2.0, 3.0, 4.0, 5.0]);
        let caught = std::panic::catch_unwind(|| assert_row("op", &row, [1.0, 2.0, 3.0, 4.0, 5.5]));
        assert!(caught.is_err());
    }
}
