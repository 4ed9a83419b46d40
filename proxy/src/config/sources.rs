//! `[[auth.sources]]` → key sources. serde has already checked each source's shape
//! (its `type` and only that type's keys); this checks values and builds the keys.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::context::Ctx;
use super::schema::{JwksFileSource, JwksUrlSource, OidcSource, SharedSecretSource, SourceSection};
use super::secrets::{SecretReader, SecretSpec};
use crate::auth::jwk::{parse_jwks, JwkContext};
use crate::auth::{
    AuthMetrics, ClaimRules, JwksLocation, KeyAlg, KeySet, KeySource, RemoteJwks, RemoteJwksConfig,
    VerifyingKey,
};
use crate::error::ConfigError;
use crate::secret::Secret;

/// Where the HS256 shared secret is read from by default.
pub(crate) const DEFAULT_SECRET_ENV: &str = "BETTER_AUTH_SECRET";

/// What every source resolver needs.
pub(super) struct SourceCtx<'a, 'e> {
    pub(super) cx: &'a Ctx<'a>,
    pub(super) leeway: Duration,
    pub(super) metrics: &'a Arc<AuthMetrics>,
    pub(super) secrets: &'a mut SecretReader<'e>,
    /// The HS256 secrets read, by source index (no assertion may share one).
    pub(super) hs256_secrets: Vec<(usize, Secret)>,
}

/// Validates every source, in order.
pub(super) fn resolve(
    sc: &mut SourceCtx<'_, '_>,
    sources: &[SourceSection],
) -> Result<Vec<KeySource>, ConfigError> {
    if sources.is_empty() {
        return Err(sc
            .cx
            .err("auth.sources", "at least one key source is required"));
    }
    let mut resolved = Vec::with_capacity(sources.len());
    for (i, source) in sources.iter().enumerate() {
        resolved.push(match source {
            SourceSection::SharedSecret(s) => shared_secret(sc, i, s)?,
            SourceSection::JwksUrl(s) => jwks_url(sc, i, s)?,
            SourceSection::JwksFile(s) => jwks_file(sc, i, s)?,
            SourceSection::Oidc(s) => oidc(sc, i, s)?,
        });
    }
    Ok(resolved)
}

fn key(i: usize, field: &str) -> String {
    format!("auth.sources[{i}].{field}")
}

fn rules(sc: &SourceCtx<'_, '_>, issuer: &[String], audience: &[String]) -> Arc<ClaimRules> {
    Arc::new(ClaimRules {
        issuer: issuer.to_vec(),
        audience: audience.to_vec(),
        leeway: sc.leeway,
    })
}

/// The allow-list of a JWKS source; empty means every asymmetric algorithm.
fn algorithms(cx: &Ctx<'_>, i: usize, names: &[String]) -> Result<Vec<KeyAlg>, ConfigError> {
    let mut allowed = Vec::new();
    for name in names {
        match KeyAlg::parse(name) {
            Some(alg) if alg != KeyAlg::HS256 => allowed.push(alg),
            _ => return Err(cx.err(
                key(i, "algorithms"),
                format!("`{name}`: expected one of EdDSA, ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512"),
            )),
        }
    }
    if allowed.is_empty() {
        allowed = KeyAlg::ASYMMETRIC.to_vec();
    }
    Ok(allowed)
}

fn shared_secret(
    sc: &mut SourceCtx<'_, '_>,
    i: usize,
    s: &SharedSecretSource,
) -> Result<KeySource, ConfigError> {
    let var = s.secret_env.as_deref().unwrap_or(DEFAULT_SECRET_ENV);
    let purpose = format!("HS256 key of auth.sources[{i}]");
    let (env_key, file_key) = (key(i, "secret_env"), key(i, "secret_file"));
    let secret = sc.secrets.read(
        sc.cx,
        &SecretSpec {
            file: s.secret_file.as_deref().map(|f| (file_key.as_str(), f)),
            env: (&env_key, var),
            purpose: &purpose,
        },
    )?;
    sc.hs256_secrets.push((i, secret.clone()));
    let label: Arc<str> = format!("shared_secret:{var}").into();
    let rules = rules(sc, &s.issuer, &s.audience);
    let key = VerifyingKey::hs256(&secret, rules, label);
    Ok(KeySource::Static(Arc::new(KeySet::new(vec![Arc::new(
        key,
    )]))))
}

fn jwks_file(
    sc: &mut SourceCtx<'_, '_>,
    i: usize,
    s: &JwksFileSource,
) -> Result<KeySource, ConfigError> {
    let cx = sc.cx;
    if s.issuer.is_empty() && s.audience.is_empty() {
        cx.warn(
            format!("auth.sources[{i}]"),
            "this JWKS source checks neither iss nor aud: any token its keys signed is accepted",
        );
    }
    let allowed = algorithms(cx, i, &s.algorithms)?;
    let path = cx
        .file
        .parent()
        .map_or_else(|| PathBuf::from(&s.path), |dir| dir.join(&s.path));
    let doc = std::fs::read(&path).map_err(|e| {
        cx.err(
            key(i, "path"),
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let label: Arc<str> = format!("jwks_file:{}", path.display()).into();
    let rules = rules(sc, &s.issuer, &s.audience);
    let parsed = parse_jwks(
        &doc,
        &JwkContext {
            allowed: &allowed,
            rules: &rules,
            source: &label,
            previous: None,
        },
    )
    .map_err(|e| cx.err(key(i, "path"), e))?;
    if parsed.keys.is_empty() {
        return Err(cx.err(
            key(i, "path"),
            format!("no usable key: {}", parsed.skipped.join("; ")),
        ));
    }
    Ok(KeySource::Static(Arc::new(KeySet::new(parsed.keys))))
}

fn jwks_url(
    sc: &mut SourceCtx<'_, '_>,
    i: usize,
    s: &JwksUrlSource,
) -> Result<KeySource, ConfigError> {
    let cx = sc.cx;
    if s.issuer.is_empty() && s.audience.is_empty() {
        cx.warn(
            format!("auth.sources[{i}]"),
            "this JWKS source checks neither iss nor aud: any token its keys signed is accepted (set issuer/audience, or AUTHGATE_JWKS_ISSUER/AUTHGATE_JWKS_AUDIENCE)",
        );
    }
    let parsed = reqwest::Url::parse(&s.url)
        .map_err(|e| cx.err(key(i, "url"), format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(cx.err(key(i, "url"), "expected an http:// or https:// URL"));
    }
    let remote = Remote {
        location: JwksLocation::Url(s.url.clone()),
        algorithms: &s.algorithms,
        issuer: &s.issuer,
        audience: &s.audience,
        refresh_secs: s.refresh_secs,
        min_refetch_interval_secs: s.min_refetch_interval_secs,
        timeout_ms: s.timeout_ms,
    };
    remote_source(sc, i, remote, "url")
}

/// `type = "oidc"`: the issuer is where the keys are found and the `iss` every
/// token must carry.
fn oidc(sc: &mut SourceCtx<'_, '_>, i: usize, s: &OidcSource) -> Result<KeySource, ConfigError> {
    let cx = sc.cx;
    let field = key(i, "issuer");
    let parsed = reqwest::Url::parse(&s.issuer)
        .map_err(|e| cx.err(&field, format!("not an absolute URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(cx.err(
            &field,
            "expected an http:// or https:// URL such as https://auth.example.com",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(cx.err(&field, "an issuer has no query or fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(cx.err(&field, "an issuer has no user name or password"));
    }
    let remote = Remote {
        location: JwksLocation::Discovered {
            issuer: s.issuer.clone(),
        },
        algorithms: &s.algorithms,
        issuer: std::slice::from_ref(&s.issuer),
        audience: &s.audience,
        refresh_secs: s.refresh_secs,
        min_refetch_interval_secs: s.min_refetch_interval_secs,
        timeout_ms: s.timeout_ms,
    };
    remote_source(sc, i, remote, "issuer")
}

/// The settings a `jwks_url` and an `oidc` source share.
struct Remote<'a> {
    location: JwksLocation,
    algorithms: &'a [String],
    issuer: &'a [String],
    audience: &'a [String],
    refresh_secs: u64,
    min_refetch_interval_secs: u64,
    timeout_ms: u64,
}

/// A remote source from `r`; `location_key` names the key its location came from.
fn remote_source(
    sc: &mut SourceCtx<'_, '_>,
    i: usize,
    r: Remote<'_>,
    location_key: &str,
) -> Result<KeySource, ConfigError> {
    let cx = sc.cx;
    let bounded = |v: u64, field: &str, max: u64| -> Result<u64, ConfigError> {
        match v {
            0 => Err(cx.err(key(i, field), "must be at least 1")),
            n if n > max => Err(cx.err(key(i, field), format!("must be at most {max}"))),
            n => Ok(n),
        }
    };
    let config = RemoteJwksConfig {
        location: r.location,
        allowed: algorithms(cx, i, r.algorithms)?,
        rules: rules(sc, r.issuer, r.audience),
        refresh: Duration::from_secs(bounded(r.refresh_secs, "refresh_secs", 86_400)?),
        min_refetch_interval: Duration::from_secs(bounded(
            r.min_refetch_interval_secs,
            "min_refetch_interval_secs",
            3600,
        )?),
        timeout: Duration::from_millis(bounded(r.timeout_ms, "timeout_ms", 60_000)?),
    };
    let remote =
        RemoteJwks::new(config, sc.metrics.clone()).map_err(|e| cx.err(key(i, location_key), e))?;
    Ok(KeySource::Remote(Arc::new(remote)))
}
