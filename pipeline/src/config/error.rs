//! Config errors that name the file, the dotted key and, when known, the
//! line and column.

use std::fmt;
use std::path::PathBuf;

/// Something wrong in a config file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// Dotted key path (`train.augment[1].op`), when the error has one.
    pub key: Option<String>,
    /// 1-based line and column, when the parser knows them.
    pub location: Option<(usize, usize)>,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl ConfigError {
    /// An error about one key.
    pub fn at(file: impl Into<PathBuf>, key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError { file: file.into(), key: Some(key.into()), location: None, message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.location {
            write!(f, ":{line}:{col}")?;
        }
        match &self.key {
            Some(key) if !key.is_empty() => write!(f, ": `{key}`: {}", self.message),
            _ => write!(f, ": {}", self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_location_and_key() {
        let mut e = ConfigError::at("c.toml", "train.epochs", "must be at least 1 (got 0)");
        e.location = Some((3, 10));
        assert_eq!(e.to_string(), "c.toml:3:10: `train.epochs`: must be at least 1 (got 0)");
    }
}
