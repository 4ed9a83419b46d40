//! Errors that stop authgate before it serves: they name the file and the key.

use std::fmt;
use std::path::PathBuf;

/// Exit code for configuration errors (sysexits `EX_USAGE`).
pub(crate) const EXIT_CONFIG: i32 = 64;

/// A configuration problem: which file, which key, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file being loaded (or `<defaults>` when none was given).
    pub file: PathBuf,
    /// Dotted key path (`routes[2].owner`), or the environment variable / flag at fault.
    pub key: String,
    /// What is wrong, for a human.
    pub message: String,
}

impl ConfigError {
    /// Builds an error for `key` in `file`.
    pub fn new(
        file: impl Into<PathBuf>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.into(),
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "config error in {}: `{}`: {}",
            self.file.display(),
            self.key,
            self.message
        )
    }
}

impl std::error::Error for ConfigError {}
