//! `[upstream]` and `[[upstreams]]` → [`UpstreamSettings`], the default first.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::time::Duration;

use super::context::{probe_path, relative_to, Ctx};
use super::schema::UpstreamSection;
use crate::error::ConfigError;
use crate::header_text::is_quotable;

/// How authgate speaks to an upstream (the scheme of its `url`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamScheme {
    /// `http://`: HTTP/1.1 in the clear (gRPC calls: h2c).
    Http,
    /// `https://`: TLS, the certificate checked against the system's roots or
    /// `ca_file`, SNI from the URL's host.
    Https,
    /// `h2c://`: HTTP/2 in the clear with prior knowledge, every request.
    H2c,
}

impl UpstreamScheme {
    /// The scheme as written in the URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
            Self::H2c => "h2c",
        }
    }
}

/// Where and how to reach one upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamSettings {
    /// `host:port` to connect to.
    pub address: String,
    /// The host name (SNI and the certificate's name for `https://`).
    pub host: String,
    /// The upstream's name: `aud` of assertions, the metrics label, what routes
    /// pick it by.
    pub name: String,
    /// The protocol spoken to it.
    pub scheme: UpstreamScheme,
    /// The CA certificates (DER) of `ca_file`, when given; else the system's roots.
    pub ca: Option<Vec<Vec<u8>>>,
    /// Skip the certificate checks (`tls_insecure`).
    pub tls_insecure: bool,
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

/// Validates `[upstream]` and each of `[[upstreams]]`: the default upstream is
/// first, and names are unique (routes pick upstreams by name).
pub(super) fn resolve_all(
    cx: &Ctx<'_>,
    default: &UpstreamSection,
    named: &[UpstreamSection],
) -> Result<Vec<UpstreamSettings>, ConfigError> {
    let mut all = vec![resolve(cx, "upstream", default)?];
    let default_pool = UpstreamSection::default().keepalive_pool_size;
    for (i, section) in named.iter().enumerate() {
        let key = format!("upstreams[{i}]");
        if section.keepalive_pool_size != default_pool {
            return Err(cx.err(
                format!("{key}.keepalive_pool_size"),
                "the pool is shared: set it in [upstream] only",
            ));
        }
        let settings = resolve(cx, &key, section)?;
        if let Some(other) = all.iter().position(|u| u.name == settings.name) {
            let owner = if other == 0 {
                "[upstream]".to_string()
            } else {
                format!("upstreams[{}]", other - 1)
            };
            return Err(cx.err(
                format!("{key}.name"),
                format!(
                    "`{}` is already the name of {owner}; every upstream needs a name of its own",
                    settings.name
                ),
            ));
        }
        all.push(settings);
    }
    Ok(all)
}

/// Validates one upstream section; `prefix` is how errors name it.
fn resolve(
    cx: &Ctx<'_>,
    prefix: &str,
    u: &UpstreamSection,
) -> Result<UpstreamSettings, ConfigError> {
    let (scheme, host, address) = host_and_address(cx, &format!("{prefix}.url"), &u.url)?;
    if !is_quotable(&u.name) {
        return Err(cx.err(
            format!("{prefix}.name"),
            "must be non-empty, without control characters",
        ));
    }
    for (k, v) in [
        ("connect_timeout_ms", u.connect_timeout_ms),
        ("read_timeout_ms", u.read_timeout_ms),
        ("write_timeout_ms", u.write_timeout_ms),
    ] {
        if v == 0 || v > 3_600_000 {
            return Err(cx.err(format!("{prefix}.{k}"), "must be between 1 and 3600000"));
        }
    }
    probe_path(
        cx,
        &format!("{prefix}.health_path"),
        u.health_path.as_deref(),
        true,
    )?;
    for (k, v) in [
        ("resolve_interval_secs", u.resolve_interval_secs),
        ("health_interval_secs", u.health_interval_secs),
    ] {
        if v == 0 || v > 3600 {
            return Err(cx.err(format!("{prefix}.{k}"), "must be between 1 and 3600"));
        }
    }
    let ca = tls_settings(cx, prefix, u, scheme)?;
    Ok(UpstreamSettings {
        address,
        host,
        name: u.name.clone(),
        scheme,
        ca,
        tls_insecure: u.tls_insecure,
        connect_timeout: Duration::from_millis(u.connect_timeout_ms),
        read_timeout: Duration::from_millis(u.read_timeout_ms),
        write_timeout: Duration::from_millis(u.write_timeout_ms),
        resolve_interval: Duration::from_secs(u.resolve_interval_secs),
        health_path: u.health_path.clone(),
        health_interval: Duration::from_secs(u.health_interval_secs),
    })
}

/// The CA certificates that `ca_file` holds (each must parse: a bad file is found
/// here rather than at the first request), and the `tls_insecure` warning.
fn tls_settings(
    cx: &Ctx<'_>,
    prefix: &str,
    u: &UpstreamSection,
    scheme: UpstreamScheme,
) -> Result<Option<Vec<Vec<u8>>>, ConfigError> {
    let https = scheme == UpstreamScheme::Https;
    if u.tls_insecure {
        if !https {
            return Err(cx.err(
                format!("{prefix}.tls_insecure"),
                "applies to https:// upstreams only",
            ));
        }
        cx.warn(
            format!("{prefix}.tls_insecure"),
            format!("the certificate of upstream `{}` is not checked: anyone on the path can pose as it (for tests only)", u.name),
        );
    }
    let Some(file) = &u.ca_file else {
        return Ok(None);
    };
    let key = format!("{prefix}.ca_file");
    if !https {
        return Err(cx.err(key, "applies to https:// upstreams only"));
    }
    let path = relative_to(cx.file, file);
    let bytes = std::fs::read(&path)
        .map_err(|e| cx.err(&key, format!("cannot read {}: {e}", path.display())))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| cx.err(&key, format!("{} is not PEM certificates", path.display())))?;
    if certs.is_empty() {
        return Err(cx.err(&key, format!("{} holds no PEM certificate", path.display())));
    }
    for (i, cert) in certs.iter().enumerate() {
        if x509_parser::parse_x509_certificate(cert.as_ref()).is_err() {
            return Err(cx.err(
                &key,
                format!("certificate {i} of {} does not parse", path.display()),
            ));
        }
    }
    let der = certs.iter().map(|c| c.as_ref().to_vec()).collect();
    Ok(Some(der))
}

/// `http://`, `https://` or `h2c://host:port` → (scheme, host, `host:port`); no
/// path, no query.
fn host_and_address(
    cx: &Ctx<'_>,
    key: &str,
    url: &str,
) -> Result<(UpstreamScheme, String, String), ConfigError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| cx.err(key, format!("`{url}` is not a URL")))?;
    let (scheme, default_port) = match uri.scheme_str() {
        Some("http") => (UpstreamScheme::Http, 80),
        Some("https") => (UpstreamScheme::Https, 443),
        Some("h2c") => (UpstreamScheme::H2c, 80),
        Some(other) => {
            return Err(cx.err(
                key,
                format!("scheme `{other}` is not supported; use http://, https:// or h2c://"),
            ))
        }
        None => return Err(cx.err(key, "must start with http://, https:// or h2c://")),
    };
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
    let port = uri.port_u16().unwrap_or(default_port);
    let address = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Ok((scheme, host, address))
}
