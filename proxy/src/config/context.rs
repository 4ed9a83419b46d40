//! What every section resolver shares: the file name that each error carries.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use crate::auth::AuthMetrics;
use crate::error::ConfigError;
use crate::header_text::is_header_safe;

/// Validation context: the file name for every error, and the warnings found.
pub(super) struct Ctx<'a> {
    pub(super) file: &'a Path,
    /// Where the key sources count (the process's metrics: a reload keeps
    /// counting into the same series).
    pub(super) metrics: &'a AuthMetrics,
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

/// An absolute path for a probe (`/healthz`): no fragment, space or control
/// character, and no query unless `query` allows one.
pub(super) fn probe_path(
    cx: &Ctx<'_>,
    key: &str,
    path: Option<&str>,
    query: bool,
) -> Result<(), ConfigError> {
    match path {
        Some(p)
            if !p.starts_with('/')
                || p.contains(['#', ' '])
                || (!query && p.contains('?'))
                || !is_header_safe(p) =>
        {
            Err(cx.err(key, "must be an absolute path such as /healthz"))
        }
        _ => Ok(()),
    }
}

/// `path` as named in the config file: relative to the file's directory.
pub(super) fn relative_to(config: &Path, path: &str) -> PathBuf {
    config
        .parent()
        .map_or_else(|| PathBuf::from(path), |dir| dir.join(path))
}
