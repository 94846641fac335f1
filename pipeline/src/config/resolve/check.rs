//! The validation toolkit every section's resolver uses: errors that name
//! the file and key, and ranges worded like ruff's.

use std::path::{Path, PathBuf};

use crate::config::error::ConfigError;

/// Builds errors that all name the same file.
pub(super) struct Check<'a> {
    pub(super) file: &'a Path,
    pub(super) base: &'a Path,
}

impl Check<'_> {
    pub(super) fn err(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::at(self.file, key, message)
    }

    /// One of `all` by its config name (`name`), `default` when unset; an
    /// unknown name is an error that lists the choices (`what` names them).
    pub(super) fn choice<T: Copy>(
        &self,
        key: &str,
        what: &str,
        value: Option<&str>,
        default: T,
        all: &[T],
        name: fn(T) -> &'static str,
    ) -> Result<T, ConfigError> {
        let Some(given) = value else { return Ok(default) };
        all.iter().copied().find(|&t| name(t) == given).ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|&t| name(t)).collect();
            self.err(key, crate::suggest::unknown_value(what, given, &names))
        })
    }

    pub(super) fn int(
        &self,
        key: &str,
        value: Option<i64>,
        default: i64,
        min: i64,
        max: i64,
    ) -> Result<i64, ConfigError> {
        let v = value.unwrap_or(default);
        if (min..=max).contains(&v) {
            Ok(v)
        } else {
            Err(self.err(key, format!("must be between {min} and {max} (got {v})")))
        }
    }

    pub(super) fn usize(
        &self,
        key: &str,
        value: Option<i64>,
        default: i64,
        min: i64,
        max: i64,
    ) -> Result<usize, ConfigError> {
        self.int(key, value, default, min, max).map(|v| v as usize)
    }

    pub(super) fn float(
        &self,
        key: &str,
        value: Option<f64>,
        default: f64,
        range: FloatRange,
    ) -> Result<f64, ConfigError> {
        let v = value.unwrap_or(default);
        if v.is_finite() && range.contains(v) {
            Ok(v)
        } else {
            Err(self.err(key, format!("must be {} (got {v})", range.describe())))
        }
    }

    /// Refuses the first key of `present` that is set: it does not apply here.
    pub(super) fn refuse_set(
        &self,
        section: &str,
        present: &[(&str, bool)],
        why: &str,
    ) -> Result<(), ConfigError> {
        match present.iter().find(|(_, set)| *set) {
            Some((k, _)) => Err(self.err(&format!("{section}.{k}"), why)),
            None => Ok(()),
        }
    }

    pub(super) fn path(&self, key: &str, value: &str) -> Result<PathBuf, ConfigError> {
        if value.trim().is_empty() {
            return Err(self.err(key, "must name a file"));
        }
        let p = Path::new(value);
        let full = if p.is_absolute() { p.to_path_buf() } else { self.base.join(p) };
        if !full.is_file() {
            return Err(self.err(key, format!("table file {} does not exist", full.display())));
        }
        Ok(full)
    }
}

/// A closed or half-open float range for messages like ruff's.
#[derive(Clone, Copy)]
pub(super) enum FloatRange {
    /// min <= v <= max
    Closed(f64, f64),
    /// min < v <= max
    OpenLow(f64, f64),
    /// min < v < max
    Open(f64, f64),
    /// min <= v < max
    OpenHigh(f64, f64),
}

impl FloatRange {
    pub(super) fn contains(self, v: f64) -> bool {
        match self {
            FloatRange::Closed(a, b) => a <= v && v <= b,
            FloatRange::OpenLow(a, b) => a < v && v <= b,
            FloatRange::Open(a, b) => a < v && v < b,
            FloatRange::OpenHigh(a, b) => a <= v && v < b,
        }
    }

    pub(super) fn describe(self) -> String {
        match self {
            FloatRange::Closed(a, b) => format!("between {a} and {b}"),
            FloatRange::OpenLow(a, b) => format!("greater than {a} and at most {b}"),
            FloatRange::Open(a, b) => format!("strictly between {a} and {b}"),
            FloatRange::OpenHigh(a, b) => format!("at least {a} and less than {b}"),
        }
    }
}
