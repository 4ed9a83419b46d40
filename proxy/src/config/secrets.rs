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
        let Some(found) = self.locate(cx, spec)? else {
            return Err(cx.err(
                env_key,
                format!(
                    "environment variable {var} is not set (it holds the secret; or set {var}_FILE to a file holding it)"
                ),
            ));
        };
        if found.bytes.len() < MIN_SECRET_BYTES {
            return Err(cx.err(
                found.key,
                format!(
                    "the secret in {} is {} bytes; at least {MIN_SECRET_BYTES} are required",
                    found.origin,
                    found.bytes.len()
                ),
            ));
        }
        self.used
            .push(format!("{} ({})", found.origin, spec.purpose));
        Ok(Secret::new(found.bytes))
    }

    /// Reads a value that is secret but not a key (a URL with a password): no
    /// length rule, and `None` when none of the places holds it. The key it came
    /// from is returned with it, for errors about the value.
    pub(super) fn read_text(
        &mut self,
        cx: &Ctx<'_>,
        spec: &SecretSpec<'_>,
    ) -> Result<Option<(String, String)>, ConfigError> {
        let Some(found) = self.locate(cx, spec)? else {
            return Ok(None);
        };
        let text = String::from_utf8(found.bytes)
            .map_err(|_| cx.err(&found.key, format!("{} is not UTF-8 text", found.origin)))?;
        self.used
            .push(format!("{} ({})", found.origin, spec.purpose));
        Ok(Some((found.key, text)))
    }

    /// The bytes from the first place that has them.
    fn locate(&self, cx: &Ctx<'_>, spec: &SecretSpec<'_>) -> Result<Option<Found>, ConfigError> {
        let (env_key, var) = spec.env;
        let file_var = format!("{var}_FILE");
        let found = if let Some((key, rel)) = spec.file {
            let path = relative_to(cx.file, rel);
            let bytes = read_secret_file(cx, key, &path)?;
            Some(Found {
                key: key.to_string(),
                origin: path.display().to_string(),
                bytes,
            })
        } else if let Some(path) = (self.env)(&file_var) {
            let bytes = read_secret_file(cx, &file_var, Path::new(&path))?;
            Some(Found {
                key: file_var.clone(),
                origin: format!("{file_var}={path}"),
                bytes,
            })
        } else {
            (self.env)(var).map(|value| Found {
                key: env_key.to_string(),
                origin: var.to_string(),
                bytes: value.into_bytes(),
            })
        };
        Ok(found)
    }
}

/// Where a secret was found, and its bytes.
struct Found {
    key: String,
    origin: String,
    bytes: Vec<u8>,
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
