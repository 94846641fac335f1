//! Reading tables with polars, by file extension, and pulling typed columns
//! out of them with errors that name the file and column.

use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use super::error::DataError;

/// Reads a CSV, Parquet or NDJSON table.
pub fn read_table(path: &Path) -> Result<DataFrame, DataError> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let read_err =
        |e: PolarsError| DataError::Read { file: path.to_path_buf(), message: tidy(&e.to_string()) };
    let open =
        || File::open(path).map_err(|e| DataError::Read { file: path.to_path_buf(), message: e.to_string() });
    let read = || -> Result<DataFrame, DataError> {
        Ok(match ext.as_deref() {
            Some("csv") => CsvReadOptions::default()
                .with_has_header(true)
                .with_infer_schema_length(Some(10_000))
                .into_reader_with_file_handle(open()?)
                .finish()
                .map_err(read_err)?,
            Some("parquet") => ParquetReader::new(open()?).finish().map_err(read_err)?,
            Some("ndjson" | "jsonl") => {
                JsonReader::new(open()?).with_json_format(JsonFormat::JsonLines).finish().map_err(read_err)?
            }
            _ => return Err(DataError::Format { file: path.to_path_buf() }),
        })
    };
    // Polars panics on some corrupt Parquet pages (found by fuzzing); that is
    // a bad file, not a crash.
    let df = crate::guard::quietly(read).map_err(|panic| DataError::Read {
        file: path.to_path_buf(),
        message: format!("the file is corrupt ({panic})"),
    })??;
    if df.height() == 0 {
        return Err(DataError::Empty { file: path.to_path_buf(), what: "the table".to_owned() });
    }
    Ok(df)
}

/// Polars' messages carry hints for its Python API (`infer_schema_length=`,
/// `ignore_errors`); keep the part that describes the file.
fn tidy(message: &str) -> String {
    if let Some(start) = message.find("Original error: ```") {
        let inner = &message[start + "Original error: ```".len()..];
        return inner.trim_end_matches(['`', '\n', ' ']).trim().to_owned();
    }
    let first = message.split("\n\n").next().unwrap_or(message).trim();
    first.replace("Consider setting 'truncate_ragged_lines=true'.", "").trim().to_owned()
}

/// A column by name, or an error listing the columns present.
pub fn column<'a>(df: &'a DataFrame, file: &Path, name: &str, key: &str) -> Result<&'a Column, DataError> {
    df.column(name).map_err(|_| DataError::MissingColumn {
        file: file.to_path_buf(),
        column: name.to_owned(),
        key: key.to_owned(),
        available: df.get_column_names().iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", "),
    })
}

fn type_error(file: &Path, col: &Column, expected: &str) -> DataError {
    DataError::ColumnType {
        file: file.to_path_buf(),
        column: col.name().to_string(),
        found: col.dtype().to_string(),
        expected: expected.to_owned(),
    }
}

/// Cell results of one column: a missing cell is an error naming its row,
/// kept per row so bad rows can be skipped.
pub type Cells<T> = Vec<Result<T, DataError>>;

fn missing(file: &Path, col: &Column, i: usize) -> DataError {
    DataError::MissingValue { file: file.to_path_buf(), row: i + 1, column: col.name().to_string() }
}

/// A text column.
pub fn strings(file: &Path, col: &Column) -> Result<Cells<String>, DataError> {
    let ca = col.str().map_err(|_| type_error(file, col, "text (a string column)"))?;
    Ok(ca
        .iter()
        .enumerate()
        .map(|(i, v)| v.map(str::to_owned).ok_or_else(|| missing(file, col, i)))
        .collect())
}

/// A label column as strings: string or integer types are accepted.
pub fn labels(file: &Path, col: &Column) -> Result<Cells<String>, DataError> {
    match col.dtype() {
        DataType::String => {
            let ca = col.str().map_err(|_| type_error(file, col, "strings or integers"))?;
            Ok(ca
                .iter()
                .enumerate()
                .map(|(i, v)| match v.map(str::trim) {
                    Some(s) if !s.is_empty() => Ok(s.to_owned()),
                    _ => Err(missing(file, col, i)),
                })
                .collect())
        }
        dt if dt.is_integer() => {
            let cast =
                col.cast(&DataType::Int64).map_err(|_| type_error(file, col, "strings or integers"))?;
            let ca = cast.i64().map_err(|_| type_error(file, col, "strings or integers"))?;
            Ok(ca
                .iter()
                .enumerate()
                .map(|(i, v)| v.map(|n| n.to_string()).ok_or_else(|| missing(file, col, i)))
                .collect())
        }
        _ => Err(type_error(file, col, "strings or integers")),
    }
}

/// An image column: encoded bytes (binary) or paths (strings).
pub enum ImageCells {
    /// Encoded PNG/JPEG bytes per row.
    Bytes(Cells<Vec<u8>>),
    /// File paths per row, relative to the table's folder.
    Paths(Cells<String>),
}

/// Reads an image column of either kind.
pub fn image_cells(file: &Path, col: &Column) -> Result<ImageCells, DataError> {
    match col.dtype() {
        DataType::String => strings(file, col).map(ImageCells::Paths),
        DataType::Binary => {
            let ca = col.binary().map_err(|_| type_error(file, col, "image bytes or paths"))?;
            Ok(ImageCells::Bytes(
                ca.iter()
                    .enumerate()
                    .map(|(i, v)| v.map(<[u8]>::to_vec).ok_or_else(|| missing(file, col, i)))
                    .collect(),
            ))
        }
        _ => Err(type_error(file, col, "image bytes (binary) or file paths (strings)")),
    }
}
