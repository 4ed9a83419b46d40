//! `[upstream]` → [`UpstreamSettings`].

use std::time::Duration;

use super::context::{probe_path, Ctx};
use super::schema::UpstreamSection;
use crate::error::ConfigError;
use crate::header_text::is_quotable;

/// Where and how to reach the upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamSettings {
    /// `host:port` to connect to.
    pub address: String,
    /// The host name (for logs and SNI-less peers).
    pub host: String,
    /// The upstream's name (`aud` of assertions).
    pub name: String,
    /// Longest TCP connect (1 ms–1 h); then 502, or 504 when it timed out.
    pub connect_timeout: Duration,
    /// Longest wait for response bytes (1 ms–1 h); then 504.
    pub read_timeout: Duration,
    /// Longest wait writing the request (1 ms–1 h); then 504.
    pub write_timeout: Duration,
    /// Time between DNS look-ups of the host (1 s–1 h); a failed one keeps the last address.
    pub resolve_interval: Duration,
    /// Health-check path, when enabled.
    pub health_path: Option<String>,
    /// Time between polls of `health_path` (1 s–1 h).
    pub health_interval: Duration,
}

/// Validates `[upstream]`.
pub(super) fn resolve(cx: &Ctx<'_>, u: &UpstreamSection) -> Result<UpstreamSettings, ConfigError> {
    let (host, address) = host_and_address(cx, &u.url)?;
    if !is_quotable(&u.name) {
        return Err(cx.err(
            "upstream.name",
            "must be non-empty, without control characters",
        ));
    }
    for (k, v) in [
        ("upstream.connect_timeout_ms", u.connect_timeout_ms),
        ("upstream.read_timeout_ms", u.read_timeout_ms),
        ("upstream.write_timeout_ms", u.write_timeout_ms),
    ] {
        if v == 0 || v > 3_600_000 {
            return Err(cx.err(k, "must be between 1 and 3600000"));
        }
    }
    probe_path(cx, "upstream.health_path", u.health_path.as_deref(), true)?;
    for (k, v) in [
        ("upstream.resolve_interval_secs", u.resolve_interval_secs),
        ("upstream.health_interval_secs", u.health_interval_secs),
    ] {
        if v == 0 || v > 3600 {
            return Err(cx.err(k, "must be between 1 and 3600"));
        }
    }
    Ok(UpstreamSettings {
        address,
        host,
        name: u.name.clone(),
        connect_timeout: Duration::from_millis(u.connect_timeout_ms),
        read_timeout: Duration::from_millis(u.read_timeout_ms),
        write_timeout: Duration::from_millis(u.write_timeout_ms),
        resolve_interval: Duration::from_secs(u.resolve_interval_secs),
        health_path: u.health_path.clone(),
        health_interval: Duration::from_secs(u.health_interval_secs),
    })
}

/// `http://host:port` → (host, `host:port`); no other scheme, no path, no query.
fn host_and_address(cx: &Ctx<'_>, url: &str) -> Result<(String, String), ConfigError> {
    let key = "upstream.url";
    let uri: http::Uri = url
        .parse()
        .map_err(|_| cx.err(key, format!("`{url}` is not a URL")))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => {
            return Err(cx.err(
                key,
                format!("scheme `{other}` is not supported; use http://"),
            ))
        }
        None => return Err(cx.err(key, "must start with http://")),
    }
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| cx.err(key, "has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    if uri.path() != "/" && !uri.path().is_empty() || uri.query().is_some() {
        return Err(cx.err(
            key,
            "must not have a path or query (requests keep their own path)",
        ));
    }
    let port = uri.port_u16().unwrap_or(80);
    let address = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Ok((host, address))
}
