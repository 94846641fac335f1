//! Data errors: each names the table file, and the row and column when the
//! problem is in one.

use std::path::PathBuf;

/// Something wrong with a dataset table or what it references.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be read or parsed as a table.
    #[error("{file}: cannot read table: {message}")]
    Read {
        /// The table.
        file: PathBuf,
        /// The reader's explanation.
        message: String,
    },
    /// Not `.csv`, `.parquet`, `.ndjson` or `.jsonl`.
    #[error("{file}: unknown table format; use a .csv, .parquet, .ndjson or .jsonl file")]
    Format {
        /// The table.
        file: PathBuf,
    },
    /// The table has no rows (or a split has none).
    #[error("{file}: {what} has no rows")]
    Empty {
        /// The table.
        file: PathBuf,
        /// "the table", "the test split", ...
        what: String,
    },
    /// A configured column is absent.
    #[error("{file}: no column `{column}` (config key `{key}`); columns are: {available}")]
    MissingColumn {
        /// The table.
        file: PathBuf,
        /// The missing column.
        column: String,
        /// The config key that named it.
        key: String,
        /// The columns present, comma separated.
        available: String,
    },
    /// A column holds the wrong type.
    #[error("{file}: column `{column}` is {found}, expected {expected}")]
    ColumnType {
        /// The table.
        file: PathBuf,
        /// The column.
        column: String,
        /// The type found.
        found: String,
        /// What was expected.
        expected: String,
    },
    /// A cell is empty where a value is required.
    #[error("{file}: row {row}: column `{column}` is empty")]
    MissingValue {
        /// The table.
        file: PathBuf,
        /// 1-based data row.
        row: usize,
        /// The column.
        column: String,
    },
    /// A split column value other than `train` or `test`.
    #[error("{file}: row {row}: split column `{column}` must be `train` or `test` (got {value:?})")]
    SplitValue {
        /// The table.
        file: PathBuf,
        /// 1-based data row.
        row: usize,
        /// The split column.
        column: String,
        /// The value found.
        value: String,
    },
    /// A test label that the training set never had.
    #[error("{file}: row {row}: label {label:?} never occurs in the training data (classes: {classes})")]
    UnseenLabel {
        /// The table.
        file: PathBuf,
        /// 1-based data row.
        row: usize,
        /// The label.
        label: String,
        /// The training classes, comma separated.
        classes: String,
    },
    /// The header names a column twice; which of the two a run would read is
    /// a guess, so neither is read.
    #[error("{file}: the header names column `{column}` twice (columns {first} and {second}); rename one")]
    DuplicateColumn {
        /// The table.
        file: PathBuf,
        /// The repeated name.
        column: String,
        /// 1-based position of its first occurrence.
        first: usize,
        /// 1-based position of the repeat.
        second: usize,
    },
    /// Fewer than two classes: nothing to classify.
    #[error("{file}: the training data has {count} class(es); a classifier needs at least 2")]
    TooFewClasses {
        /// The table.
        file: PathBuf,
        /// The count.
        count: usize,
    },
    /// A problem with one image.
    #[error("{file}: row {row}: {problem}")]
    Image {
        /// The table.
        file: PathBuf,
        /// 1-based data row.
        row: usize,
        /// What is wrong.
        problem: ImageProblem,
    },
}

/// What can be wrong with one referenced or embedded image.
#[derive(Debug, thiserror::Error)]
pub enum ImageProblem {
    /// The referenced file is missing.
    #[error("image file {0} does not exist")]
    NotFound(PathBuf),
    /// The path leaves the dataset folder (`..`, absolute, or a symlink).
    #[error(
        "image path {path:?} points outside the dataset folder {root} (set `data.allow-absolute-paths` to allow absolute paths)"
    )]
    OutsideRoot {
        /// The path as written.
        path: String,
        /// The dataset folder.
        root: PathBuf,
    },
    /// The file could not be read.
    #[error("cannot read image {path}: {message}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The bytes are not a decodable image.
    #[error("image {source_name} does not decode: {message}")]
    Decode {
        /// File path or "bytes".
        source_name: String,
        /// The decoder's explanation.
        message: String,
    },
    /// A declared side over the configured limit.
    #[error("image {source_name} is {width}x{height}, a side over the limit of {limit} (`data.max-side`)")]
    TooWide {
        /// File path or "bytes".
        source_name: String,
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The limit.
        limit: u32,
    },
    /// Declared dimensions over the configured limit (decompression bomb).
    #[error(
        "image {source_name} is {width}x{height} = {pixels} pixels, over the limit of {limit} (`data.max-pixels`)"
    )]
    TooLarge {
        /// File path or "bytes".
        source_name: String,
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// width × height.
        pixels: u64,
        /// The limit.
        limit: u64,
    },
}
