//! Benchmark parameter tables: which paper's numbers a corruption uses.
//!
//! ImageNet-C, Tiny-ImageNet-C, CIFAR-10-C and MNIST-C share corruption
//! names but not parameters: each was tuned for its image size, so
//! "gaussian_noise at severity 3" is sigma 0.18 in ImageNet-C and 0.08 in
//! CIFAR-10-C. Results are only comparable with a paper's when the table is
//! the paper's, so every corruption carries the tables it has and a run
//! records which one each corruption used.

use std::fmt;

use crate::severity::Severity;

/// One benchmark's parameter table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Hendrycks & Dietterich 2019, `make_imagenet_c.py`: 224 px RGB.
    ImagenetC,
    /// Hendrycks & Dietterich 2019, `make_tinyimagenet_c.py`: 64 px RGB.
    TinyImagenetC,
    /// Hendrycks & Dietterich 2019, `make_cifar_c.py`: 32 px RGB.
    Cifar10C,
    /// Mu & Gilmer 2019, `corruptions.py`: 28 px grayscale digits.
    MnistC,
}

impl Table {
    /// Every table, largest images first.
    pub const ALL: [Table; 4] = [Table::ImagenetC, Table::TinyImagenetC, Table::Cifar10C, Table::MnistC];

    /// The stable name used in configs, metrics and reports.
    pub fn name(self) -> &'static str {
        match self {
            Table::ImagenetC => "imagenet_c",
            Table::TinyImagenetC => "tiny_imagenet_c",
            Table::Cifar10C => "cifar10_c",
            Table::MnistC => "mnist_c",
        }
    }

    /// The table with this name.
    pub fn parse(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The image size the benchmark was made at, in pixels per side.
    pub fn native_size(self) -> u32 {
        match self {
            Table::ImagenetC => 224,
            Table::TinyImagenetC => 64,
            Table::Cifar10C => 32,
            Table::MnistC => 28,
        }
    }

    /// One line for `temper list`: the paper, its code and its images.
    pub fn summary(self) -> &'static str {
        match self {
            Table::ImagenetC => {
                "ImageNet-C (Hendrycks & Dietterich 2019, make_imagenet_c.py; imagecorruptions 1.1.2 \
                 for any size): 224 px RGB"
            }
            Table::TinyImagenetC => {
                "Tiny-ImageNet-C (Hendrycks & Dietterich 2019, make_tinyimagenet_c.py): 64 px RGB"
            }
            Table::Cifar10C => "CIFAR-10-C (Hendrycks & Dietterich 2019, make_cifar_c.py): 32 px RGB",
            Table::MnistC => {
                "MNIST-C (Mu & Gilmer 2019, corruptions.py): 28 px grayscale; the published dataset \
                 uses one severity per corruption"
            }
        }
    }

    /// The table a benchmark of images this size would use, as the
    /// benchmarks were made: 28 px grayscale is MNIST-C, up to 32 px
    /// CIFAR-10-C, up to 64 px Tiny-ImageNet-C, larger ImageNet-C.
    pub fn for_image(width: u32, height: u32, channels: u8) -> Table {
        let side = width.max(height);
        if channels == 1 && side <= 28 {
            Table::MnistC
        } else if side <= 32 {
            Table::Cifar10C
        } else if side <= 64 {
            Table::TinyImagenetC
        } else {
            Table::ImagenetC
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a config asks for: one table for every corruption, or each
/// corruption's table for the image size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TableChoice {
    /// [`Table::for_image`], falling back as [`crate::image::ImageOp::resolve`] says.
    #[default]
    Auto,
    /// This table, for every corruption (an error for one that lacks it).
    Fixed(Table),
}

impl TableChoice {
    /// `auto` or a table name.
    pub fn parse(name: &str) -> Option<TableChoice> {
        if name == "auto" { Some(TableChoice::Auto) } else { Table::parse(name).map(TableChoice::Fixed) }
    }

    /// Every accepted name, for error messages.
    pub fn names() -> Vec<&'static str> {
        std::iter::once("auto").chain(Table::ALL.map(Table::name)).collect()
    }

    /// The name as a config writes it.
    pub fn name(self) -> &'static str {
        match self {
            TableChoice::Auto => "auto",
            TableChoice::Fixed(t) => t.name(),
        }
    }
}

/// One parameter of a table: its value at severities 1..=5, in the units the
/// benchmark's code uses (pixels of the benchmark's images, or shares of the
/// image size where the name ends in `_x_size`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    /// Parameter name as in the literature (`sigma`, `photons`).
    pub name: &'static str,
    /// The value at severities 1..=5.
    pub values: [f32; 5],
}

/// A [`Row`], shorter to write in tables.
pub(crate) const fn row(name: &'static str, values: [f32; 5]) -> Row {
    Row { name, values }
}

/// An op's parameters under one benchmark.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TableParams {
    /// Which benchmark.
    pub table: Table,
    /// The parameters, in the order the benchmark's code lists them.
    pub rows: &'static [Row],
    /// The severity the benchmark's published dataset uses, where it uses
    /// one only (MNIST-C).
    pub benchmark_severity: Option<u8>,
}

impl TableParams {
    /// A table whose benchmark grades all five severities.
    pub const fn graded(table: Table, rows: &'static [Row]) -> Self {
        TableParams { table, rows, benchmark_severity: None }
    }

    /// A table whose benchmark's dataset uses one severity only.
    pub const fn at(table: Table, rows: &'static [Row], severity: u8) -> Self {
        TableParams { table, rows, benchmark_severity: Some(severity) }
    }
}

/// The parameter values an op computes with: its rows under one table at
/// one severity.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The table in use.
    pub table: Table,
    /// The severity, never 0.
    pub severity: Severity,
    rows: &'static [Row],
}

impl Setting {
    pub(crate) fn new(params: &TableParams, severity: Severity) -> Self {
        Setting { table: params.table, severity, rows: params.rows }
    }

    /// The value of parameter `name`. Every op reads only rows its tables
    /// define; the catalog tests apply every op under every table.
    pub fn get(&self, name: &str) -> f32 {
        match self.rows.iter().find(|r| r.name == name) {
            Some(row) => self.severity.pick(&row.values),
            None => unreachable!("{} table has no row {name}", self.table),
        }
    }

    /// [`Setting::get`] as a count (iterations, pixels).
    pub fn count(&self, name: &str) -> usize {
        self.get(name).max(0.0).round() as usize
    }

    /// [`Setting::get`] as a flag (non-zero is true).
    pub fn flag(&self, name: &str) -> bool {
        self.get(name) != 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in Table::ALL {
            assert_eq!(Table::parse(t.name()), Some(t));
            assert_eq!(TableChoice::parse(t.name()), Some(TableChoice::Fixed(t)));
        }
        assert_eq!(TableChoice::parse("auto"), Some(TableChoice::Auto));
        assert_eq!(TableChoice::parse("imagenet"), None);
        assert_eq!(TableChoice::names(), ["auto", "imagenet_c", "tiny_imagenet_c", "cifar10_c", "mnist_c"]);
    }

    #[test]
    fn auto_follows_the_sizes_the_benchmarks_were_made_at() {
        assert_eq!(Table::for_image(28, 28, 1), Table::MnistC);
        assert_eq!(Table::for_image(28, 28, 3), Table::Cifar10C);
        assert_eq!(Table::for_image(32, 32, 1), Table::Cifar10C);
        assert_eq!(Table::for_image(32, 32, 3), Table::Cifar10C);
        assert_eq!(Table::for_image(64, 48, 3), Table::TinyImagenetC);
        assert_eq!(Table::for_image(65, 65, 3), Table::ImagenetC);
        assert_eq!(Table::for_image(224, 224, 3), Table::ImagenetC);
        for t in Table::ALL {
            let channels = if t == Table::MnistC { 1 } else { 3 };
            assert_eq!(Table::for_image(t.native_size(), t.native_size(), channels), t);
        }
    }

    #[test]
    fn settings_pick_the_severity_row() {
        static ROWS: &[Row] = &[Row { name: "sigma", values: [1.0, 2.0, 3.0, 4.0, 5.0] }];
        let params = TableParams::graded(Table::Cifar10C, ROWS);
        let s = Setting::new(&params, Severity::new(4).expect("valid"));
        assert_eq!(s.get("sigma"), 4.0);
        assert_eq!(s.count("sigma"), 4);
        assert!(s.flag("sigma"));
    }
}
