//! TOML text → [`FileConfig`], with errors that carry the dotted key and the line.

use std::path::Path;

use super::schema::FileConfig;
use crate::error::ConfigError;

/// Reads and parses a config file (no validation beyond the schema).
pub(super) fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(path, "<file>", format!("cannot read: {e}")))?;
    parse_str(&text, path)
}

/// Parses TOML text; errors carry the dotted key path and the line.
pub fn parse_str(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
    let line_of = |span: Option<std::ops::Range<usize>>| {
        span.map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
            .map(|l| format!(" (line {l})"))
            .unwrap_or_default()
    };
    let de = toml::Deserializer::parse(text).map_err(|e| {
        let at = line_of(e.span());
        ConfigError::new(path, "<toml>", format!("{}{at}", e.message().trim()))
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let inner = e.inner();
        let message = inner.message().trim();
        let key = refine_key(e.path().to_string(), message);
        let at = line_of(inner.span());
        ConfigError::new(path, key, format!("{message}{at}"))
    })
}

/// The dotted key an error is about. Inside an internally tagged enum (a key
/// source) serde reports the enclosing table, so the field the message names is
/// appended: `auth.sources[0]` + "unknown field `secret`" → `auth.sources[0].secret`.
fn refine_key(path: String, message: &str) -> String {
    let path = if path == "." || path.is_empty() {
        "<root>".to_string()
    } else {
        path
    };
    let named = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string)
    };
    let field = named("unknown field `")
        .or_else(|| named("missing field `"))
        .or_else(|| {
            // An unknown `type` of an array element: only sources are tagged enums.
            (message.starts_with("unknown variant") && path.ends_with(']'))
                .then(|| "type".to_string())
        });
    match field {
        Some(f) if !path.ends_with(&format!(".{f}")) && path != f => {
            if path == "<root>" {
                f
            } else {
                format!("{path}.{f}")
            }
        }
        _ => path,
    }
}
