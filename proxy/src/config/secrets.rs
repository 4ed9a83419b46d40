//! Secrets are never in the file. Each comes, in this order, from a file the config
//! names (`secret_file`, `assertion_secret_file`), from a file named by the
//! variable `<VAR>_FILE` (the Docker and Kubernetes convention), or from the
//! variable `<VAR>` itself. Files lose one trailing newline and are read again on
//! every reload, so a rotated Kubernetes Secret volume plus SIGHUP switches keys.

use std::path::Path;

use super::context::{relative_to, Ctx};
use crate::error::ConfigError;
use crate::secret::Secret;

/// Shortest HMAC secret accepted (RFC 7518 §3.2: at least the hash size).
pub(super) const MIN_SECRET_BYTES: usize = 32;

/// Where one secret is looked for.
pub(super) struct SecretSpec<'a> {
    /// The config key that names the file, and the file (relative to the config).
    pub(super) file: Option<(&'a str, &'a str)>,
    /// The config key that names the variable, and the variable.
    pub(super) env: (&'a str, &'a str),
    /// What the secret is for (shown by `check`, never the value).
    pub(super) purpose: &'a str,
}

/// Reads secrets through an environment lookup (a closure, so tests pass their own).
pub(super) struct SecretReader<'e> {
    env: &'e dyn Fn(&str) -> Option<String>,
    /// `where (what it is for)`, in the order read.
    pub(super) used: Vec<String>,
}

/// One trailing newline (`\n` or `\r\n`) off, as editors and `echo` add it.
fn trim_newline(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    bytes
}

impl<'e> SecretReader<'e> {
    pub(super) fn new(env: &'e dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            env,
            used: Vec::new(),
        }
    }

    /// Reads one secret; errors name the key (or variable) and never the value.
    pub(super) fn read(
        &mut self,
        cx: &Ctx<'_>,
        spec: &SecretSpec<'_>,
    ) -> Result<Secret, ConfigError> {
        let (env_key, var) = spec.env;
        let file_var = format!("{var}_FILE");
        let (key, origin, bytes) = if let Some((key, rel)) = spec.file {
            let path = relative_to(cx.file, rel);
            let bytes = read_secret_file(cx, key, &path)?;
            (key.to_string(), path.display().to_string(), bytes)
        } else if let Some(path) = (self.env)(&file_var) {
            let bytes = read_secret_file(cx, &file_var, Path::new(&path))?;
            (file_var.clone(), format!("{file_var}={path}"), bytes)
        } else {
            let value = (self.env)(var).ok_or_else(|| {
                cx.err(
                    env_key,
                    format!(
                        "environment variable {var} is not set (it holds the secret; or set {file_var} to a file holding it)"
                    ),
                )
            })?;
            (env_key.to_string(), var.to_string(), value.into_bytes())
        };
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(cx.err(
                key,
                format!(
                    "the secret in {origin} is {} bytes; at least {MIN_SECRET_BYTES} are required",
                    bytes.len()
                ),
            ));
        }
        self.used.push(format!("{origin} ({})", spec.purpose));
        Ok(Secret::new(bytes))
    }
}

fn read_secret_file(cx: &Ctx<'_>, key: &str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map(trim_newline).map_err(|e| {
        cx.err(
            key,
            format!("cannot read secret file {}: {e}", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_trailing_newline_is_trimmed() {
        assert_eq!(trim_newline(b"abc\n".to_vec()), b"abc");
        assert_eq!(trim_newline(b"abc\r\n".to_vec()), b"abc");
        assert_eq!(trim_newline(b"abc\n\n".to_vec()), b"abc\n");
        assert_eq!(trim_newline(b"abc".to_vec()), b"abc");
    }
}
