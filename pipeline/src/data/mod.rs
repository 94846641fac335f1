//! Datasets: tables read with polars, checked, and held compactly in memory.
//!
//! A [`Split`] has the train and test sets with one class list, ordered by
//! first appearance in the training data and saved with the run.

mod error;
mod images;
mod table;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;

pub use error::{DataError, ImageProblem};
pub use images::{ImageSet, decode};
pub use table::read_table;

use crate::config::{DataPlan, DataSource, Modality};

/// The inputs of one split.
#[derive(Debug, Clone, PartialEq)]
pub enum Inputs {
    /// Decoded images.
    Images(ImageSet),
    /// Texts.
    Texts(Vec<String>),
}

impl Inputs {
    /// Number of examples.
    pub fn len(&self) -> usize {
        match self {
            Inputs::Images(s) => s.len(),
            Inputs::Texts(t) => t.len(),
        }
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn select(&self, rows: &[usize]) -> Inputs {
        match self {
            Inputs::Images(s) => Inputs::Images(s.select(rows)),
            Inputs::Texts(t) => Inputs::Texts(rows.iter().map(|&r| t[r].clone()).collect()),
        }
    }
}

/// One split: inputs and class indices.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The examples.
    pub inputs: Inputs,
    /// Class index per example, into [`Split::classes`].
    pub labels: Vec<usize>,
}

impl Dataset {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Train and test sets sharing one class list.
#[derive(Debug, Clone)]
pub struct Split {
    /// Training examples.
    pub train: Dataset,
    /// Test examples.
    pub test: Dataset,
    /// Class names, in order of first appearance in the training data.
    pub classes: Vec<String>,
    /// Per table with image paths: the digest over its referenced files.
    pub image_digests: Vec<(PathBuf, String)>,
}

/// Rows read from one table, before the split and label indexing.
struct Rows {
    file: PathBuf,
    inputs: Inputs,
    labels: Vec<String>,
    /// 1-based row number in `file` for each row kept.
    row_numbers: Vec<usize>,
}

fn read_rows(path: &Path, plan: &DataPlan) -> Result<(Rows, polars::prelude::DataFrame), DataError> {
    let df = read_table(path)?;
    let input_col = table::column(&df, path, &plan.input_column, "data.input-column")?;
    let label_col = table::column(&df, path, &plan.label_column, "data.label-column")?;
    let labels = table::labels(path, label_col)?;
    let inputs = match plan.modality {
        Modality::Text => Inputs::Texts(table::strings(path, input_col)?),
        Modality::Image => {
            let cells = table::image_cells(path, input_col)?;
            Inputs::Images(images::decode_all(&cells, path, &plan.image)?)
        }
    };
    let row_numbers = (1..=labels.len()).collect();
    Ok((Rows { file: path.to_path_buf(), inputs, labels, row_numbers }, df))
}

impl Rows {
    fn select(&self, rows: &[usize]) -> Rows {
        Rows {
            file: self.file.clone(),
            inputs: self.inputs.select(rows),
            labels: rows.iter().map(|&r| self.labels[r].clone()).collect(),
            row_numbers: rows.iter().map(|&r| self.row_numbers[r]).collect(),
        }
    }
}

/// Reads, checks and splits the configured data. `seed` drives
/// `test-fraction` splits.
pub fn load(plan: &DataPlan, seed: u64) -> Result<Split, DataError> {
    let (train, test) = match &plan.source {
        DataSource::Files { train, test } => (read_rows(train, plan)?.0, read_rows(test, plan)?.0),
        DataSource::SplitColumn { path, column } => {
            let (rows, df) = read_rows(path, plan)?;
            let col = table::column(&df, path, column, "data.split-column")?;
            let values = table::labels(path, col)?;
            let (mut tr, mut te) = (Vec::new(), Vec::new());
            for (i, v) in values.iter().enumerate() {
                match v.to_ascii_lowercase().as_str() {
                    "train" => tr.push(i),
                    "test" => te.push(i),
                    _ => {
                        return Err(DataError::SplitValue {
                            file: path.clone(),
                            row: i + 1,
                            column: column.clone(),
                            value: v.clone(),
                        });
                    }
                }
            }
            (rows.select(&tr), rows.select(&te))
        }
        DataSource::Fraction { path, test_fraction } => {
            let (rows, _) = read_rows(path, plan)?;
            let n = rows.labels.len();
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut augment::seed::rng(augment::seed::derive(seed, 0, 0, "test_split")));
            let n_test = ((n as f64 * test_fraction).round() as usize).clamp(1, n.saturating_sub(1).max(1));
            let (mut te, mut tr) = (order[..n_test].to_vec(), order[n_test..].to_vec());
            te.sort_unstable();
            tr.sort_unstable();
            (rows.select(&tr), rows.select(&te))
        }
    };
    for (rows, what) in [(&train, "the training split"), (&test, "the test split")] {
        if rows.labels.is_empty() {
            return Err(DataError::Empty { file: rows.file.clone(), what: what.to_owned() });
        }
    }
    index_labels(train, test)
}

/// Assigns class indices in order of first appearance in training.
fn index_labels(train: Rows, test: Rows) -> Result<Split, DataError> {
    let mut image_digests: Vec<(PathBuf, String)> = Vec::new();
    for rows in [&train, &test] {
        if let Inputs::Images(ImageSet { files_sha256: Some(d), .. }) = &rows.inputs
            && !image_digests.iter().any(|(f, _)| f == &rows.file)
        {
            image_digests.push((rows.file.clone(), d.clone()));
        }
    }
    let mut classes: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let train_labels: Vec<usize> = train
        .labels
        .iter()
        .map(|l| {
            *index.entry(l.clone()).or_insert_with(|| {
                classes.push(l.clone());
                classes.len() - 1
            })
        })
        .collect();
    if classes.len() < 2 {
        return Err(DataError::TooFewClasses { file: train.file.clone(), count: classes.len() });
    }
    let test_labels = test
        .labels
        .iter()
        .zip(&test.row_numbers)
        .map(|(l, &row)| {
            index.get(l).copied().ok_or_else(|| DataError::UnseenLabel {
                file: test.file.clone(),
                row,
                label: l.clone(),
                classes: classes.join(", "),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Split {
        train: Dataset { inputs: train.inputs, labels: train_labels },
        test: Dataset { inputs: test.inputs, labels: test_labels },
        classes,
        image_digests,
    })
}
