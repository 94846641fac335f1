//! `[data]`: the tables, columns, image decoding limits, text operations'
//! user data, and digest pins.

use std::path::PathBuf;

use super::DEFAULT_MAX_PIXELS;
use super::check::{Check, FloatRange};
use crate::config::error::ConfigError;
use crate::config::plan::*;
use crate::config::raw::*;
use crate::suggest::unknown_value;

pub(super) fn resolve_data(c: &Check, mut raw: RawData) -> Result<DataPlan, ConfigError> {
    let modality = match raw.modality.as_deref() {
        Some("image") => Modality::Image,
        Some("text") => Modality::Text,
        Some(other) => {
            return Err(c.err("data.modality", unknown_value("modality", other, &["image", "text"])));
        }
        None => return Err(c.err("data.modality", "is required (allowed: image, text)")),
    };
    let source = resolve_source(
        c,
        raw.train.take(),
        raw.test.take(),
        raw.path.take(),
        raw.split_column.take(),
        raw.test_fraction,
    )?;
    let default_input = if modality == Modality::Image { "image" } else { "text" };
    let channels = c.int("data.channels", raw.channels, 1, 1, 3)?;
    if channels == 2 {
        return Err(c.err("data.channels", "must be 1 (gray) or 3 (RGB) (got 2)"));
    }
    if modality == Modality::Text
        && (raw.channels.is_some()
            || raw.width.is_some()
            || raw.height.is_some()
            || raw.max_pixels.is_some()
            || raw.max_side.is_some())
    {
        return Err(c.err("data", "`channels`, `width`, `height` and `max-pixels` apply to image data only"));
    }
    if modality == Modality::Image
        && (raw.protected.is_some()
            || raw.synonyms.is_some()
            || raw.replacements.is_some()
            || raw.keyboard.is_some())
    {
        return Err(
            c.err("data", "`protected`, `synonyms`, `replacements` and `keyboard` apply to text data only")
        );
    }
    let text =
        resolve_text(c, raw.protected.unwrap_or_default(), raw.synonyms, raw.replacements, raw.keyboard)?;
    let image = ImageSpec {
        channels: channels as u8,
        width: c.int("data.width", raw.width, 28, 1, 4096)? as u32,
        height: c.int("data.height", raw.height, 28, 1, 4096)? as u32,
        max_pixels: c.int("data.max-pixels", raw.max_pixels, DEFAULT_MAX_PIXELS as i64, 1, 1 << 40)? as u64,
        max_side: c.int("data.max-side", raw.max_side, 16_384, 1, 1 << 20)? as u32,
        allow_absolute_paths: raw.allow_absolute_paths.unwrap_or(false),
    };
    let pins = resolve_pins(c, raw.sha256.take().unwrap_or_default(), &source)?;
    let skip_bad_rows = match raw.on_bad_row.as_deref().unwrap_or("fail") {
        "fail" => false,
        "skip" => true,
        other => return Err(c.err("data.on-bad-row", unknown_value("value", other, &["fail", "skip"]))),
    };
    Ok(DataPlan {
        skip_bad_rows,
        pins,
        modality,
        source,
        input_column: raw.input_column.unwrap_or_else(|| default_input.to_owned()),
        label_column: raw.label_column.unwrap_or_else(|| "label".to_owned()),
        image,
        text,
    })
}

fn resolve_text(
    c: &Check,
    protected: Vec<String>,
    synonyms: Option<String>,
    replacements: Option<String>,
    keyboard: Option<String>,
) -> Result<TextSpec, ConfigError> {
    use augment::text::{KeyboardLayout, SynonymTable, TextContext, WordMap};
    let mut context = TextContext::default();
    for (i, pattern) in protected.iter().enumerate() {
        let compiled = TextContext::compile_protected(std::slice::from_ref(pattern))
            .map_err(|e| c.err(&format!("data.protected[{i}]"), e.to_string()))?;
        context.protected.extend(compiled);
    }
    let keyboard = keyboard.unwrap_or_else(|| "qwerty".to_owned());
    context.layout = KeyboardLayout::from_name(&keyboard).ok_or_else(|| {
        c.err("data.keyboard", unknown_value("keyboard layout", &keyboard, &["qwerty", "azerty"]))
    })?;
    let read = |key: &str, value: &str| -> Result<(PathBuf, String), ConfigError> {
        let path = c.path(key, value)?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| c.err(key, format!("cannot read {}: {e}", path.display())))?;
        Ok((path, text))
    };
    let synonyms = match synonyms {
        Some(v) => {
            let (path, text) = read("data.synonyms", &v)?;
            let table = SynonymTable::parse(&text)
                .map_err(|e| c.err("data.synonyms", format!("{}: {e}", path.display())))?;
            context.synonyms = Some(table);
            Some(path)
        }
        None => None,
    };
    let replacements = match replacements {
        Some(v) => {
            let (path, text) = read("data.replacements", &v)?;
            context.replacements = WordMap::parse(&text)
                .map_err(|e| c.err("data.replacements", format!("{}: {e}", path.display())))?;
            Some(path)
        }
        None => None,
    };
    Ok(TextSpec { protected, synonyms, replacements, keyboard, context })
}

/// Where the train and test rows come from: two tables, or one with a
/// split column or a test fraction.
fn resolve_source(
    c: &Check,
    train: Option<String>,
    test: Option<String>,
    path: Option<String>,
    split_column: Option<String>,
    test_fraction: Option<f64>,
) -> Result<DataSource, ConfigError> {
    Ok(match (train, test, path) {
        (Some(train), Some(test), None) => {
            if split_column.is_some() || test_fraction.is_some() {
                return Err(c.err(
                    "data",
                    "`split-column` and `test-fraction` go with `path`, not with `train`/`test`",
                ));
            }
            DataSource::Files { train: c.path("data.train", &train)?, test: c.path("data.test", &test)? }
        }
        (None, None, Some(path)) => {
            let path = c.path("data.path", &path)?;
            match (split_column, test_fraction) {
                (Some(column), None) => DataSource::SplitColumn { path, column },
                (None, Some(f)) => DataSource::Fraction {
                    path,
                    test_fraction: c.float("data.test-fraction", Some(f), 0.2, FloatRange::Open(0.0, 1.0))?,
                },
                (None, None) => {
                    return Err(
                        c.err("data.path", "needs `split-column` or `test-fraction` to find the test rows")
                    );
                }
                (Some(_), Some(_)) => {
                    return Err(c.err("data", "give either `split-column` or `test-fraction`, not both"));
                }
            }
        }
        (Some(_), None, None) => return Err(c.err("data.test", "is required with `train`")),
        (None, Some(_), None) => return Err(c.err("data.train", "is required with `test`")),
        (None, None, None) => {
            return Err(c.err(
                "data",
                "name the tables: `train` and `test`, or `path` with `split-column` or `test-fraction`",
            ));
        }
        _ => return Err(c.err("data.path", "give either `path` or `train` and `test`, not both")),
    })
}

/// The `data.sha256` pins, each naming a table of the source.
fn resolve_pins(
    c: &Check,
    digests: std::collections::BTreeMap<String, String>,
    source: &DataSource,
) -> Result<Vec<Pin>, ConfigError> {
    let mut pins = Vec::new();
    for (name, hex) in digests {
        let key = format!("data.sha256.{name}");
        let table = name.strip_suffix("-images").unwrap_or(&name);
        let file = match (source, table) {
            (DataSource::Files { train, .. }, "train") => train.clone(),
            (DataSource::Files { test, .. }, "test") => test.clone(),
            (DataSource::SplitColumn { path, .. } | DataSource::Fraction { path, .. }, "path") => {
                path.clone()
            }
            (DataSource::Files { .. }, _) => {
                let allowed = ["train", "test", "train-images", "test-images"];
                return Err(c.err(&key, unknown_value("table", &name, &allowed)));
            }
            _ => return Err(c.err(&key, unknown_value("table", &name, &["path", "path-images"]))),
        };
        let hex = hex.to_ascii_lowercase();
        if hex.len() != 64 || !hex.chars().all(|ch| ch.is_ascii_hexdigit()) {
            return Err(c.err(&key, format!("must be 64 hexadecimal digits (got {:?})", hex)));
        }
        pins.push(Pin { images: name.ends_with("-images"), key, file, sha256: hex });
    }
    Ok(pins)
}
