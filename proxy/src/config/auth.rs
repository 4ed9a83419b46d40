//! `[auth]` → [`AuthSettings`]: the verifier's limits, the key sources, the session
//! cookie and the cache.

use std::sync::Arc;
use std::time::Duration;

use super::context::Ctx;
use super::schema::{AuthSection, SessionCookieSection, SourceSection};
use super::secrets::SecretReader;
use super::sources::{self, SourceCtx};
use crate::auth::{AuthMetrics, KeptClaims, KeySource, VerifierOptions};
use crate::error::ConfigError;
use crate::header_text::is_quotable;
use crate::secret::Secret;

/// How tokens are found and verified.
#[derive(Debug)]
pub struct AuthSettings {
    /// `realm` of every `WWW-Authenticate` challenge (quotable text).
    pub realm: String,
    /// Forward `Authorization` upstream.
    pub keep_authorization: bool,
    /// Let CORS preflights through.
    pub cors_preflight: bool,
    /// Key sources (remote ones not fetched yet).
    pub sources: Vec<KeySource>,
    /// Verification counters, shared by the verifier and the JWKS clients.
    pub metrics: Arc<AuthMetrics>,
    /// Better Auth cookie prefix when the session cookie is accepted as a credential.
    pub session_cookie: Option<String>,
    /// Better Auth cookie prefix whose cookies are removed before forwarding.
    pub strip_cookie_prefix: Option<String>,
    /// Token size limit, forwarded claims and the cache size, for the verifier.
    pub verifier: VerifierOptions,
    /// Origins besides the request's own allowed to send cookie-authenticated
    /// unsafe requests (CSRF defence).
    pub cookie_allowed_origins: Vec<String>,
}

/// Validates `[auth]`; `kept_claims` are the claims headers forward or rules read.
/// Also returns the HS256 secrets read, by source index.
pub(super) fn resolve(
    cx: &Ctx<'_>,
    a: &AuthSection,
    kept_claims: KeptClaims,
    secrets: &mut SecretReader<'_>,
) -> Result<(AuthSettings, Vec<(usize, Secret)>), ConfigError> {
    if !is_quotable(&a.realm) {
        return Err(cx.err(
            "auth.realm",
            "must be non-empty, without quotes, backslashes or control characters",
        ));
    }
    if a.leeway_secs > 600 {
        return Err(cx.err("auth.leeway_secs", "must be at most 600"));
    }
    if !(256..=65_536).contains(&a.max_token_bytes) {
        return Err(cx.err("auth.max_token_bytes", "must be between 256 and 65536"));
    }
    let metrics = Arc::new(cx.metrics.clone());
    let mut sc = SourceCtx {
        cx,
        leeway: Duration::from_secs(a.leeway_secs),
        metrics: &metrics,
        secrets,
        hs256_secrets: Vec::new(),
    };
    let sources = sources::resolve(&mut sc, &a.sources)?;
    let hs256_secrets = sc.hs256_secrets;
    check_cookie_prefix(cx, &a.session_cookie)?;
    let cookie_allowed_origins = allowed_origins(cx, &a.session_cookie)?;
    if a.session_cookie.enabled {
        warn_about_cookie_pins(cx, a);
    }
    if a.cache.enabled && a.cache.max_entries == 0 {
        return Err(cx.err(
            "auth.cache.max_entries",
            "must be at least 1 (or set enabled = false)",
        ));
    }
    let cookie = &a.session_cookie;
    let settings = AuthSettings {
        realm: a.realm.clone(),
        keep_authorization: a.keep_authorization,
        cors_preflight: a.cors_preflight,
        sources,
        metrics,
        session_cookie: cookie.enabled.then(|| cookie.cookie_prefix.clone()),
        strip_cookie_prefix: cookie.strip.then(|| cookie.cookie_prefix.clone()),
        verifier: VerifierOptions {
            max_token_bytes: a.max_token_bytes,
            kept_claims,
            cache_entries: if a.cache.enabled {
                a.cache.max_entries
            } else {
                0
            },
        },
        cookie_allowed_origins,
    };
    Ok((settings, hs256_secrets))
}

/// `allowed_origins` are serialized origins: `scheme://host[:port]`, nothing else.
fn allowed_origins(
    cx: &Ctx<'_>,
    cookie: &SessionCookieSection,
) -> Result<Vec<String>, ConfigError> {
    let mut origins = Vec::new();
    for (i, origin) in cookie.allowed_origins.iter().enumerate() {
        let key = format!("auth.session_cookie.allowed_origins[{i}]");
        let uri: http::Uri = origin
            .parse()
            .map_err(|_| cx.err(&key, format!("`{origin}` is not an origin")))?;
        let is_origin = matches!(uri.scheme_str(), Some("http" | "https"))
            && uri.authority().is_some()
            && uri
                .path_and_query()
                .is_none_or(|p| p.as_str() == "/" || p.as_str().is_empty())
            && !origin.ends_with('/');
        if !is_origin {
            return Err(cx.err(
                &key,
                format!("`{origin}`: expected scheme://host[:port], such as https://app.example"),
            ));
        }
        origins.push(origin.to_ascii_lowercase());
    }
    Ok(origins)
}

/// The HS256 cookie carries no `iss`/`aud` of its own, so a shared secret's pins
/// do not protect it: say so.
fn warn_about_cookie_pins(cx: &Ctx<'_>, a: &AuthSection) {
    for (i, source) in a.sources.iter().enumerate() {
        if let SourceSection::SharedSecret(s) = source {
            if !s.issuer.is_empty() || !s.audience.is_empty() {
                cx.warn(
                    format!("auth.sources[{i}]"),
                    "the session cookie is on: Better Auth's HS256 cookie has no iss/aud, so the issuer/audience pins of this secret apply only to tokens that carry them; any cookie of Better Auth's shape signed with the secret is accepted",
                );
            }
        }
    }
}

fn check_cookie_prefix(cx: &Ctx<'_>, cookie: &SessionCookieSection) -> Result<(), ConfigError> {
    let prefix = &cookie.cookie_prefix;
    let valid = !prefix.is_empty()
        && prefix
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b';' && b != b'=');
    if valid {
        Ok(())
    } else {
        Err(cx.err(
            "auth.session_cookie.cookie_prefix",
            "must be a non-empty cookie name prefix",
        ))
    }
}
