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
            Some("csv") => {
                // Polars renames a repeated header name (`label_duplicated_0`)
                // and reads on; refuse instead.
                check_csv_header(path)?;
                CsvReadOptions::default()
                    .with_has_header(true)
                    .with_infer_schema_length(Some(10_000))
                    .into_reader_with_file_handle(open()?)
                    .finish()
                    .map_err(read_err)?
            }
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

/// Refuses a CSV header that names a column twice.
fn check_csv_header(path: &Path) -> Result<(), DataError> {
    use std::io::{BufRead, Read};
    let file =
        File::open(path).map_err(|e| DataError::Read { file: path.to_path_buf(), message: e.to_string() })?;
    let mut header = Vec::new();
    // A header longer than this is not a header a person wrote; polars reports it.
    std::io::BufReader::new(file)
        .take(1 << 20)
        .read_until(b'\n', &mut header)
        .map_err(|e| DataError::Read { file: path.to_path_buf(), message: e.to_string() })?;
    let names = csv_fields(&String::from_utf8_lossy(&header));
    for (j, name) in names.iter().enumerate() {
        if let Some(i) = names[..j].iter().position(|n| n == name) {
            return Err(DataError::DuplicateColumn {
                file: path.to_path_buf(),
                column: name.clone(),
                first: i + 1,
                second: j + 1,
            });
        }
    }
    Ok(())
}

/// The fields of one CSV line: comma separated, `"` quoting with `""` as
/// an escaped quote, surrounding line ending removed.
fn csv_fields(line: &str) -> Vec<String> {
    let line = line.trim_end_matches(['\n', '\r']).trim_start_matches('\u{feff}');
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_header_fields_follow_quoting() {
        assert_eq!(
            csv_fields("path,label,\"a,b\",\"say \"\"hi\"\"\"\r\n"),
            ["path", "label", "a,b", "say \"hi\""]
        );
    }

    #[test]
    fn a_repeated_header_name_is_refused_naming_file_and_column() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "path,label,label\na.png,cat,dog\n").expect("write");
        let e = read_table(&path).expect_err("duplicate");
        let text = e.to_string();
        assert!(
            text.contains("t.csv") && text.contains("`label` twice") && text.contains("columns 2 and 3"),
            "{text}"
        );
        std::fs::write(&path, "path,label,\"label \"\na.png,cat,dog\n").expect("write");
        assert!(read_table(&path).is_ok(), "`label ` is another name");
    }
}
