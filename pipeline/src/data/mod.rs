//! Datasets: tables read with polars, checked, and held compactly in memory.
//!
//! A [`Split`] has the train and test sets with one class list, ordered by
//! first appearance in the training data and saved with the run.

mod error;
mod images;
pub mod provenance;
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

    /// Appends `other`'s examples (same modality and image size). Planted
    /// rows change the set's file digest, so it is dropped.
    ///
    /// # Panics
    /// If the modalities differ: callers build `other` from `self`'s shape.
    pub fn append(&mut self, other: Dataset) {
        match (&mut self.inputs, other.inputs) {
            (Inputs::Images(a), Inputs::Images(b)) => {
                a.pixels.extend_from_slice(&b.pixels);
                a.files_sha256 = None;
            }
            (Inputs::Texts(a), Inputs::Texts(b)) => a.extend(b),
            (_, other) => panic!("appending {} examples to a set of another modality", other.len()),
        }
        self.labels.extend(other.labels);
    }

    /// The examples at `rows`, in that order.
    pub fn subset(&self, rows: &[usize]) -> Dataset {
        Dataset { inputs: self.inputs.select(rows), labels: rows.iter().map(|&r| self.labels[r]).collect() }
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
    /// Rows left out under `on-bad-row = "skip"`, each with its reason.
    pub skipped: Vec<String>,
}

impl Split {
    /// Maps the test labels onto a saved run's class list, so a model
    /// trained on `run_classes` is scored on this split; a test label the
    /// run never saw is an error naming `file` and the row.
    pub fn align_classes(&mut self, run_classes: &[String], file: &Path) -> Result<(), DataError> {
        let mut labels = Vec::with_capacity(self.test.labels.len());
        for (row, &l) in self.test.labels.iter().enumerate() {
            let name = &self.classes[l];
            let idx = run_classes.iter().position(|c| c == name).ok_or_else(|| DataError::UnseenLabel {
                file: file.to_path_buf(),
                row: row + 1,
                label: name.clone(),
                classes: run_classes.join(", "),
            })?;
            labels.push(idx);
        }
        self.test.labels = labels;
        self.classes = run_classes.to_vec();
        Ok(())
    }
}

/// Rows read from one table, before the split and label indexing.
struct Rows {
    file: PathBuf,
    inputs: Inputs,
    labels: Vec<String>,
    /// 1-based row number in `file` for each row kept.
    row_numbers: Vec<usize>,
}

fn read_rows(
    path: &Path,
    plan: &DataPlan,
    skipped: &mut Vec<String>,
) -> Result<(Rows, polars::prelude::DataFrame), DataError> {
    let df = read_table(path)?;
    let input_col = table::column(&df, path, &plan.input_column, "data.input-column")?;
    let label_col = table::column(&df, path, &plan.label_column, "data.label-column")?;
    let labels = table::labels(path, label_col)?;
    let (inputs, digest) = input_cells(path, input_col, plan)?;
    let (mut kept_labels, mut kept_inputs, mut row_numbers) = (Vec::new(), Vec::new(), Vec::new());
    for (i, (label, input)) in labels.into_iter().zip(inputs).enumerate() {
        match (label, input) {
            (Ok(l), Ok(x)) => {
                kept_labels.push(l);
                kept_inputs.push(x);
                row_numbers.push(i + 1);
            }
            (Err(e), _) | (_, Err(e)) => {
                if !plan.skip_bad_rows {
                    return Err(e);
                }
                skipped.push(e.to_string());
            }
        }
    }
    let inputs = assemble(kept_inputs, plan, digest);
    Ok((Rows { file: path.to_path_buf(), inputs, labels: kept_labels, row_numbers }, df))
}

/// Each cell's input or why it is bad, and the digest of the image files a
/// path column names.
type Cells = (Vec<Result<Input, DataError>>, Option<String>);

/// Every cell of the input column, decoded and checked.
fn input_cells(path: &Path, col: &polars::prelude::Column, plan: &DataPlan) -> Result<Cells, DataError> {
    Ok(match plan.modality {
        Modality::Text => {
            (table::strings(path, col)?.into_iter().map(|r| r.map(Input::Text)).collect(), None)
        }
        Modality::Image => {
            let cells = table::image_cells(path, col)?;
            let (rows, digest) = images::decode_rows(&cells, path, &plan.image);
            (rows.into_iter().map(|r| r.map(Input::Pixels)).collect(), digest)
        }
    })
}

/// Kept rows' inputs as one collection of the plan's modality.
fn assemble(kept: Vec<Input>, plan: &DataPlan, digest: Option<String>) -> Inputs {
    match plan.modality {
        Modality::Text => Inputs::Texts(
            kept.into_iter().filter_map(|x| if let Input::Text(t) = x { Some(t) } else { None }).collect(),
        ),
        Modality::Image => {
            let mut pixels = Vec::new();
            for x in kept {
                if let Input::Pixels(p) = x {
                    pixels.extend_from_slice(&p);
                }
            }
            let spec = &plan.image;
            Inputs::Images(ImageSet {
                width: spec.width,
                height: spec.height,
                channels: spec.channels,
                pixels,
                files_sha256: digest,
            })
        }
    }
}

/// The inputs of a table without labels (an attacker's unlabelled queries):
/// the data's input column, decoded and checked as the training data is;
/// labels are 0. Bad rows are skipped only under `on-bad-row = "skip"`.
pub fn load_inputs(path: &Path, plan: &DataPlan) -> Result<Dataset, DataError> {
    let df = read_table(path)?;
    let col = table::column(&df, path, &plan.input_column, "data.input-column")?;
    let (inputs, digest) = input_cells(path, col, plan)?;
    let mut kept = Vec::with_capacity(inputs.len());
    for input in inputs {
        match input {
            Ok(x) => kept.push(x),
            Err(e) if !plan.skip_bad_rows => return Err(e),
            Err(_) => {}
        }
    }
    if kept.is_empty() {
        return Err(DataError::Empty { file: path.to_path_buf(), what: "the query table".to_owned() });
    }
    let labels = vec![0; kept.len()];
    Ok(Dataset { inputs: assemble(kept, plan, digest), labels })
}

/// One row's input before assembly.
enum Input {
    Text(String),
    Pixels(Vec<u8>),
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
    let mut skipped = Vec::new();
    let (train, test) = match &plan.source {
        DataSource::Files { train, test } => {
            (read_rows(train, plan, &mut skipped)?.0, read_rows(test, plan, &mut skipped)?.0)
        }
        DataSource::SplitColumn { path, column } => {
            let (rows, df) = read_rows(path, plan, &mut skipped)?;
            let col = table::column(&df, path, column, "data.split-column")?;
            let values = table::labels(path, col)?;
            let (mut tr, mut te) = (Vec::new(), Vec::new());
            // `rows` holds the rows kept so far; map each back to its table row.
            for (k, &row) in rows.row_numbers.iter().enumerate() {
                let problem = match &values[row - 1] {
                    Ok(v) if v.eq_ignore_ascii_case("train") => {
                        tr.push(k);
                        continue;
                    }
                    Ok(v) if v.eq_ignore_ascii_case("test") => {
                        te.push(k);
                        continue;
                    }
                    Ok(v) => DataError::SplitValue {
                        file: path.clone(),
                        row,
                        column: column.clone(),
                        value: v.clone(),
                    },
                    Err(_) => DataError::MissingValue { file: path.clone(), row, column: column.clone() },
                };
                if !plan.skip_bad_rows {
                    return Err(problem);
                }
                skipped.push(problem.to_string());
            }
            (rows.select(&tr), rows.select(&te))
        }
        DataSource::Fraction { path, test_fraction } => {
            let (rows, _) = read_rows(path, plan, &mut skipped)?;
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
    index_labels(train, test, plan.skip_bad_rows, skipped)
}

/// Assigns class indices in order of first appearance in training.
fn index_labels(train: Rows, test: Rows, skip: bool, mut skipped: Vec<String>) -> Result<Split, DataError> {
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
    let mut test_labels = Vec::with_capacity(test.labels.len());
    let mut keep = Vec::with_capacity(test.labels.len());
    for (i, (l, &row)) in test.labels.iter().zip(&test.row_numbers).enumerate() {
        match index.get(l) {
            Some(&c) => {
                test_labels.push(c);
                keep.push(i);
            }
            None => {
                let e = DataError::UnseenLabel {
                    file: test.file.clone(),
                    row,
                    label: l.clone(),
                    classes: classes.join(", "),
                };
                if !skip {
                    return Err(e);
                }
                skipped.push(e.to_string());
            }
        }
    }
    let test = if keep.len() == test.labels.len() { test } else { test.select(&keep) };
    if test.labels.is_empty() {
        return Err(DataError::Empty {
            file: test.file.clone(),
            what: "the test split, after skipping bad rows,".to_owned(),
        });
    }
    Ok(Split {
        train: Dataset { inputs: train.inputs, labels: train_labels },
        test: Dataset { inputs: test.inputs, labels: test_labels },
        classes,
        image_digests,
        skipped,
    })
}
