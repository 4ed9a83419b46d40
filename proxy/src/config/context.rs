//! What every section resolver shares: the file name that each error carries.

use std::cell::RefCell;
use std::path::Path;

use crate::error::ConfigError;

/// Validation context: the file name for every error, and the warnings found.
pub(super) struct Ctx<'a> {
    pub(super) file: &'a Path,
    pub(super) warnings: RefCell<Vec<String>>,
}

impl Ctx<'_> {
    /// Notes something valid but risky (printed by `check`, logged at start).
    pub(super) fn warn(&self, key: impl AsRef<str>, msg: impl AsRef<str>) {
        self.warnings
            .borrow_mut()
            .push(format!("`{}`: {}", key.as_ref(), msg.as_ref()));
    }

    /// An error for `key` in this file.
    pub(super) fn err(&self, key: impl Into<String>, msg: impl Into<String>) -> ConfigError {
        ConfigError::new(self.file, key, msg)
    }
}

/// Safe inside a quoted header parameter: non-empty, no control characters, quotes or
/// backslashes.
pub(super) fn header_safe(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c.is_control() || c == '"' || c == '\\')
}
