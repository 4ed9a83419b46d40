//! `server.tls` and `server.h2c` → [`ListenerSettings`]: what the proxy listener
//! speaks. A restart setting (part of `ProcessSettings`): the certificate files'
//! contents reload without one (`tls::CertReloader`), their paths and the rest do
//! not. The pair is checked here, so `check` and start-up refuse a bad one.

use super::context::{relative_to, Ctx};
use super::schema::{ServerSection, TlsSection, TlsVersion};
use crate::error::ConfigError;
use crate::tls::{self, MinVersion, PairError, TlsFiles};

/// What the proxy listener speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerSettings {
    /// Plaintext HTTP/1.1, and HTTP/2 with prior knowledge when `h2c`.
    Plain {
        /// `server.h2c`.
        h2c: bool,
    },
    /// TLS; HTTP/2 or HTTP/1.1 by ALPN.
    Tls(TlsFiles),
}

/// Validates `server.tls` (the files are read and the pair checked) and `server.h2c`.
pub(super) fn resolve(cx: &Ctx<'_>, s: &ServerSection) -> Result<ListenerSettings, ConfigError> {
    let Some(t) = &s.tls else {
        return Ok(ListenerSettings::Plain { h2c: s.h2c });
    };
    if s.h2c {
        return Err(cx.err(
            "server.h2c",
            "applies to a plaintext listener; over TLS, HTTP/2 is negotiated by ALPN",
        ));
    }
    let files = tls_files(cx, t)?;
    tls::load_pair(&files.cert_file, &files.key_file).map_err(|e| {
        let key = match e {
            PairError::Key(_) => "server.tls.key_file",
            PairError::Cert(_) => "server.tls.cert_file",
        };
        cx.err(key, e.to_string())
    })?;
    if let Some(ca) = &files.client_ca_file {
        tls::load_client_roots(ca).map_err(|e| cx.err("server.tls.client_ca_file", e))?;
    }
    Ok(ListenerSettings::Tls(files))
}

fn tls_files(cx: &Ctx<'_>, t: &TlsSection) -> Result<TlsFiles, ConfigError> {
    for (key, value, other) in [
        ("server.tls.cert_file", &t.cert_file, "--tls-cert-file"),
        ("server.tls.key_file", &t.key_file, "--tls-key-file"),
    ] {
        if value.is_empty() {
            return Err(cx.err(
                key,
                format!("is required with [server.tls] (or {other} / its AUTHGATE_TLS_* variable)"),
            ));
        }
    }
    Ok(TlsFiles {
        cert_file: relative_to(cx.file, &t.cert_file),
        key_file: relative_to(cx.file, &t.key_file),
        min_version: match t.min_version {
            TlsVersion::Tls12 => MinVersion::Tls12,
            TlsVersion::Tls13 => MinVersion::Tls13,
        },
        client_ca_file: t.client_ca_file.as_deref().map(|p| relative_to(cx.file, p)),
    })
}
