//! Configuration in three layers (River's shape): the file schema ([`schema`]),
//! overrides from flags and environment ([`Overrides`]), and the validated
//! [`Settings`] the proxy runs on. Precedence: flag > env > file > default.
//! Every error names the file and the key.

pub mod schema;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::assertion::{AssertionSigner, MAX_TTL_SECS};
use crate::auth::jwk::{parse_jwks, JwkContext};
use crate::auth::{
    AuthMetrics, ClaimRules, KeyAlg, KeySet, KeySource, RemoteJwks, RemoteJwksConfig,
    VerifierOptions, VerifyingKey,
};
use crate::error::ConfigError;
use crate::identity::IdentityHeaders;
use crate::policy::{AuthMode, Pattern, Route, RouteTable};
use crate::secret::Secret;
pub use schema::FileConfig;

/// Shortest HMAC secret accepted (RFC 7518 §3.2: at least the hash size).
pub const MIN_SECRET_BYTES: usize = 32;

/// Values from CLI flags or `AUTHGATE_*` environment variables (clap merges the two,
/// flag first). `None` keeps the file's value.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen` / `AUTHGATE_LISTEN`.
    pub listen: Option<String>,
    /// `--upstream` / `AUTHGATE_UPSTREAM`.
    pub upstream: Option<String>,
    /// `--upstream-name` / `AUTHGATE_UPSTREAM_NAME`.
    pub upstream_name: Option<String>,
    /// `--log-format` / `AUTHGATE_LOG_FORMAT`.
    pub log_format: Option<String>,
    /// `--threads` / `AUTHGATE_THREADS`.
    pub threads: Option<usize>,
    /// `--grace-period-secs` / `AUTHGATE_GRACE_PERIOD_SECS`.
    pub grace_period_secs: Option<u64>,
    /// `--jwks-url` / `AUTHGATE_JWKS_URL`: adds a `jwks_url` key source.
    pub jwks_url: Option<String>,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Where and how to reach the upstream.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// `host:port` to connect to.
    pub address: String,
    /// The host name (for logs and SNI-less peers).
    pub host: String,
    /// The upstream's name (`aud` of assertions).
    pub name: String,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Read timeout.
    pub read_timeout: Duration,
    /// Write timeout.
    pub write_timeout: Duration,
    /// Idle connections kept.
    pub keepalive_pool_size: usize,
}

/// The validated configuration, with keys and rules compiled once.
#[derive(Debug)]
pub struct Settings {
    /// The file it came from.
    pub file: PathBuf,
    /// The effective file-level configuration (after overrides), for `authgate check`.
    pub effective: FileConfig,
    /// Listen address.
    pub listen: SocketAddr,
    /// Worker threads.
    pub threads: usize,
    /// SIGTERM grace period.
    pub grace_period: Duration,
    /// Log format.
    pub log_format: LogFormat,
    /// Liveness path.
    pub health_path: String,
    /// Readiness path.
    pub ready_path: String,
    /// Upstream.
    pub upstream: UpstreamSettings,
    /// `WWW-Authenticate` realm.
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
    /// Verifier limits.
    pub verifier: VerifierOptions,
    /// Route rules.
    pub routes: RouteTable,
    /// Identity header names.
    pub identity: IdentityHeaders,
    /// Assertion signer.
    pub assertion: Arc<AssertionSigner>,
    /// Names of the secrets in use and where they come from (for `check`).
    pub secret_sources: Vec<String>,
}

/// Reads and parses a config file (no validation beyond the schema).
pub fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(path, "<file>", format!("cannot read: {e}")))?;
    parse_str(&text, path)
}

/// Parses TOML text; errors carry the dotted key path and the line.
pub fn parse_str(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
    let line_of = |span: Option<std::ops::Range<usize>>| {
        span.map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
    };
    let de = toml::Deserializer::parse(text).map_err(|e| {
        let at = line_of(e.span())
            .map(|l| format!(" (line {l})"))
            .unwrap_or_default();
        ConfigError::new(path, "<toml>", format!("{}{at}", e.message().trim()))
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.inner();
        let at = line_of(inner.span())
            .map(|l| format!(" (line {l})"))
            .unwrap_or_default();
        let key = if key == "." || key.is_empty() {
            "<root>".to_string()
        } else {
            key
        };
        ConfigError::new(path, key, format!("{}{at}", inner.message().trim()))
    })
}

/// Loads `path` (or the built-in defaults when `None`), applies overrides and reads
/// secrets through `env`, then validates everything.
pub fn load(
    path: Option<&Path>,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    let (file, mut cfg) = match path {
        Some(p) => (p.to_path_buf(), read_file(p)?),
        None => (PathBuf::from("<defaults>"), FileConfig::default()),
    };
    apply_overrides(&mut cfg, overrides);
    if path.is_none() {
        // Built-in defaults: HS256 with BETTER_AUTH_SECRET when it is set or when no
        // JWKS URL was given (then a missing secret is reported).
        if cfg.auth.sources.is_empty() || env(DEFAULT_SECRET_ENV).is_some() {
            cfg.auth
                .sources
                .insert(0, schema::SourceSection::of_kind("shared_secret"));
        }
    }
    resolve(file, cfg, env)
}

/// Where the HS256 shared secret is read from by default.
pub const DEFAULT_SECRET_ENV: &str = "BETTER_AUTH_SECRET";

fn apply_overrides(cfg: &mut FileConfig, o: &Overrides) {
    let Overrides {
        listen,
        upstream,
        upstream_name,
        log_format,
        threads,
        grace_period_secs,
        jwks_url,
    } = o.clone();
    if let Some(v) = listen {
        cfg.server.listen = v;
    }
    if let Some(v) = upstream {
        cfg.upstream.url = v;
    }
    if let Some(v) = upstream_name {
        cfg.upstream.name = v;
    }
    if let Some(v) = log_format {
        cfg.server.log_format = v;
    }
    if let Some(v) = threads {
        cfg.server.threads = v;
    }
    if let Some(v) = grace_period_secs {
        cfg.server.grace_period_secs = v;
    }
    if let Some(url) = jwks_url {
        let mut source = schema::SourceSection::of_kind("jwks_url");
        source.url = Some(url);
        cfg.auth.sources.push(source);
    }
}

/// Validation context: the file name for every error.
struct Ctx<'a> {
    file: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, key: impl Into<String>, msg: impl Into<String>) -> ConfigError {
        ConfigError::new(self.file, key, msg)
    }

    fn secret(
        &self,
        key: &str,
        var: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Secret, ConfigError> {
        let value = env(var).ok_or_else(|| {
            self.err(
                key,
                format!("environment variable {var} is not set (it holds the secret)"),
            )
        })?;
        if value.len() < MIN_SECRET_BYTES {
            return Err(self.err(
                key,
                format!(
                    "the secret in {var} is {} bytes; at least {MIN_SECRET_BYTES} are required",
                    value.len()
                ),
            ));
        }
        Ok(Secret::new(value))
    }
}

fn header_safe(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c.is_control() || c == '"' || c == '\\')
}

fn resolve(
    file: PathBuf,
    cfg: FileConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    let cx = Ctx { file: &file };
    let s = &cfg.server;
    let listen: SocketAddr = s.listen.parse().map_err(|_| {
        cx.err(
            "server.listen",
            format!("`{}` is not an IP:PORT address", s.listen),
        )
    })?;
    if !(1..=256).contains(&s.threads) {
        return Err(cx.err("server.threads", "must be between 1 and 256"));
    }
    let log_format = match s.log_format.as_str() {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            return Err(cx.err(
                "server.log_format",
                format!("`{other}`: expected `text` or `json`"),
            ))
        }
    };
    for (key, p) in [
        ("server.health_path", &s.health_path),
        ("server.ready_path", &s.ready_path),
    ] {
        if !p.starts_with('/') || p.contains(['?', '#', ' ']) {
            return Err(cx.err(key, "must be an absolute path such as /healthz"));
        }
    }
    if s.health_path == s.ready_path {
        return Err(cx.err("server.ready_path", "must differ from server.health_path"));
    }
    if s.grace_period_secs > 3600 {
        return Err(cx.err("server.grace_period_secs", "must be at most 3600"));
    }

    let upstream = resolve_upstream(&cx, &cfg.upstream)?;

    let a = &cfg.auth;
    if !header_safe(&a.realm) {
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
    if a.sources.is_empty() {
        return Err(cx.err("auth.sources", "at least one key source is required"));
    }
    let metrics = Arc::new(AuthMetrics::default());
    let mut sources = Vec::new();
    let mut secret_sources = Vec::new();
    let leeway = Duration::from_secs(a.leeway_secs);
    for (i, src) in a.sources.iter().enumerate() {
        sources.push(resolve_source(
            &cx,
            i,
            src,
            leeway,
            env,
            &metrics,
            &mut secret_sources,
        )?);
    }
    let cookie = &a.session_cookie;
    if cookie.cookie_prefix.is_empty()
        || !cookie
            .cookie_prefix
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b';' && b != b'=')
    {
        return Err(cx.err(
            "auth.session_cookie.cookie_prefix",
            "must be a non-empty cookie name prefix",
        ));
    }
    if a.cache.enabled && a.cache.max_entries == 0 {
        return Err(cx.err(
            "auth.cache.max_entries",
            "must be at least 1 (or set enabled = false)",
        ));
    }

    let id = &cfg.identity;
    if !(1..=MAX_TTL_SECS).contains(&id.assertion_ttl_secs) {
        return Err(cx.err(
            "identity.assertion_ttl_secs",
            format!("must be between 1 and {MAX_TTL_SECS}"),
        ));
    }
    if !header_safe(&id.assertion_issuer) {
        return Err(cx.err(
            "identity.assertion_issuer",
            "must be non-empty, without control characters",
        ));
    }
    let claim_names: Vec<String> = id.claims.keys().cloned().collect();
    let claim_headers: Vec<String> = id.claims.values().cloned().collect();
    for (claim, header) in &id.claims {
        if claim.is_empty() {
            return Err(cx.err("identity.claims", "claim names must be non-empty"));
        }
        let reserved = [&id.user_id_header, &id.email_header, &id.assertion_header];
        if reserved.iter().any(|r| r.eq_ignore_ascii_case(header)) || is_reserved_header(header) {
            return Err(cx.err(
                format!("identity.claims.{claim}"),
                format!("`{header}` is reserved"),
            ));
        }
    }
    let identity = IdentityHeaders::new(
        &id.user_id_header,
        &id.email_header,
        &id.assertion_header,
        &claim_headers,
        &id.strip_headers,
    )
    .map_err(|m| cx.err("identity", m))?;
    let assertion_secret = cx.secret(
        "identity.assertion_secret_env",
        &id.assertion_secret_env,
        env,
    )?;
    secret_sources.push(format!(
        "{} (assertion signing key)",
        id.assertion_secret_env
    ));
    let assertion = Arc::new(AssertionSigner::new(
        &assertion_secret,
        id.assertion_issuer.clone(),
        upstream.name.clone(),
        id.assertion_ttl_secs,
    ));

    let mut routes = Vec::new();
    for (i, r) in cfg.routes.iter().enumerate() {
        routes.push(resolve_route(&cx, i, r)?);
    }

    Ok(Settings {
        listen,
        threads: s.threads,
        grace_period: Duration::from_secs(s.grace_period_secs),
        log_format,
        health_path: s.health_path.clone(),
        ready_path: s.ready_path.clone(),
        upstream,
        realm: a.realm.clone(),
        keep_authorization: a.keep_authorization,
        cors_preflight: a.cors_preflight,
        sources,
        metrics,
        session_cookie: cookie.enabled.then(|| cookie.cookie_prefix.clone()),
        strip_cookie_prefix: cookie.strip.then(|| cookie.cookie_prefix.clone()),
        verifier: VerifierOptions {
            max_token_bytes: a.max_token_bytes,
            forward_claims: claim_names,
            cache_entries: if a.cache.enabled {
                a.cache.max_entries
            } else {
                0
            },
        },
        routes: RouteTable::new(routes),
        identity,
        assertion,
        secret_sources,
        file,
        effective: cfg,
    })
}

/// Validates one `[[auth.sources]]` entry and builds its keys (remote ones empty).
fn resolve_source(
    cx: &Ctx<'_>,
    i: usize,
    src: &schema::SourceSection,
    leeway: Duration,
    env: &dyn Fn(&str) -> Option<String>,
    metrics: &Arc<AuthMetrics>,
    secret_sources: &mut Vec<String>,
) -> Result<KeySource, ConfigError> {
    let key = |field: &str| format!("auth.sources[{i}].{field}");
    let only = |field: &str, set: bool, kinds: &str| -> Result<(), ConfigError> {
        if set {
            Err(cx.err(key(field), format!("only applies to type = {kinds}")))
        } else {
            Ok(())
        }
    };
    let remote_only = [
        ("refresh_secs", src.refresh_secs.is_some()),
        (
            "min_refetch_interval_secs",
            src.min_refetch_interval_secs.is_some(),
        ),
        ("timeout_ms", src.timeout_ms.is_some()),
    ];
    let rules = Arc::new(ClaimRules {
        issuer: src.issuer.clone(),
        audience: src.audience.clone(),
        leeway,
    });
    let mut allowed = Vec::new();
    for name in &src.algorithms {
        match KeyAlg::parse(name) {
            Some(alg) if alg != KeyAlg::HS256 => allowed.push(alg),
            _ => {
                return Err(cx.err(
                    key("algorithms"),
                    format!("`{name}`: expected one of EdDSA, ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512"),
                ))
            }
        }
    }
    if allowed.is_empty() {
        allowed = KeyAlg::ASYMMETRIC.to_vec();
    }
    match src.kind.as_str() {
        "shared_secret" => {
            only("url", src.url.is_some(), "jwks_url")?;
            only("path", src.path.is_some(), "jwks_file")?;
            only(
                "algorithms",
                !src.algorithms.is_empty(),
                "jwks_url or jwks_file",
            )?;
            for (field, set) in remote_only {
                only(field, set, "jwks_url")?;
            }
            let var = src.secret_env.as_deref().unwrap_or(DEFAULT_SECRET_ENV);
            let secret = cx.secret(&key("secret_env"), var, env)?;
            secret_sources.push(format!("{var} (HS256 key of auth.sources[{i}])"));
            let label: Arc<str> = format!("shared_secret:{var}").into();
            let key = VerifyingKey::hs256(&secret, rules, label);
            Ok(KeySource::Static(Arc::new(KeySet::new(vec![Arc::new(
                key,
            )]))))
        }
        "jwks_file" => {
            only("secret_env", src.secret_env.is_some(), "shared_secret")?;
            only("url", src.url.is_some(), "jwks_url")?;
            for (field, set) in remote_only {
                only(field, set, "jwks_url")?;
            }
            let rel = src
                .path
                .as_deref()
                .ok_or_else(|| cx.err(key("path"), "is required for type = jwks_file"))?;
            let path = cx
                .file
                .parent()
                .map_or_else(|| PathBuf::from(rel), |dir| dir.join(rel));
            let doc = std::fs::read(&path)
                .map_err(|e| cx.err(key("path"), format!("cannot read {}: {e}", path.display())))?;
            let label: Arc<str> = format!("jwks_file:{}", path.display()).into();
            let parsed = parse_jwks(
                &doc,
                &JwkContext {
                    allowed: &allowed,
                    rules: &rules,
                    source: &label,
                    previous: None,
                },
            )
            .map_err(|e| cx.err(key("path"), e))?;
            if parsed.keys.is_empty() {
                return Err(cx.err(
                    key("path"),
                    format!("no usable key: {}", parsed.skipped.join("; ")),
                ));
            }
            Ok(KeySource::Static(Arc::new(KeySet::new(parsed.keys))))
        }
        "jwks_url" => {
            only("secret_env", src.secret_env.is_some(), "shared_secret")?;
            only("path", src.path.is_some(), "jwks_file")?;
            let url = src
                .url
                .as_deref()
                .ok_or_else(|| cx.err(key("url"), "is required for type = jwks_url"))?;
            let parsed = reqwest::Url::parse(url)
                .map_err(|e| cx.err(key("url"), format!("not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err(cx.err(key("url"), "expected an http:// or https:// URL"));
            }
            let secs =
                |v: Option<u64>, default: u64, field: &str, max: u64| -> Result<u64, ConfigError> {
                    match v.unwrap_or(default) {
                        0 => Err(cx.err(key(field), "must be at least 1")),
                        n if n > max => Err(cx.err(key(field), format!("must be at most {max}"))),
                        n => Ok(n),
                    }
                };
            let config = RemoteJwksConfig {
                url: url.to_string(),
                allowed,
                rules,
                refresh: Duration::from_secs(secs(src.refresh_secs, 300, "refresh_secs", 86_400)?),
                min_refetch_interval: Duration::from_secs(secs(
                    src.min_refetch_interval_secs,
                    10,
                    "min_refetch_interval_secs",
                    3600,
                )?),
                timeout: Duration::from_millis(secs(src.timeout_ms, 2000, "timeout_ms", 60_000)?),
            };
            let remote =
                RemoteJwks::new(config, metrics.clone()).map_err(|e| cx.err(key("url"), e))?;
            Ok(KeySource::Remote(Arc::new(remote)))
        }
        other => Err(cx.err(
            key("type"),
            format!("`{other}`: expected `shared_secret`, `jwks_url` or `jwks_file`"),
        )),
    }
}

/// Headers an identity claim may not be mapped onto.
fn is_reserved_header(name: &str) -> bool {
    [
        "authorization",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "cookie",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-request-id",
    ]
    .iter()
    .any(|r| r.eq_ignore_ascii_case(&name.replace('_', "-")))
}

fn resolve_upstream(
    cx: &Ctx<'_>,
    u: &schema::UpstreamSection,
) -> Result<UpstreamSettings, ConfigError> {
    let key = "upstream.url";
    let uri: http::Uri = u
        .url
        .parse()
        .map_err(|_| cx.err(key, format!("`{}` is not a URL", u.url)))?;
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
    if !header_safe(&u.name) {
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
    Ok(UpstreamSettings {
        address,
        host,
        name: u.name.clone(),
        connect_timeout: Duration::from_millis(u.connect_timeout_ms),
        read_timeout: Duration::from_millis(u.read_timeout_ms),
        write_timeout: Duration::from_millis(u.write_timeout_ms),
        keepalive_pool_size: u.keepalive_pool_size,
    })
}

fn resolve_route(cx: &Ctx<'_>, i: usize, r: &schema::RouteSection) -> Result<Route, ConfigError> {
    let pattern = Pattern::parse(&r.path)
        .map_err(|m| cx.err(format!("routes[{i}].path"), format!("`{}`: {m}", r.path)))?;
    let auth = AuthMode::parse(&r.auth).ok_or_else(|| {
        cx.err(
            format!("routes[{i}].auth"),
            format!("`{}`: expected `public`, `required` or `optional`", r.auth),
        )
    })?;
    let mut methods = Vec::new();
    for m in &r.methods {
        if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(cx.err(
                format!("routes[{i}].methods"),
                format!("`{m}` is not an HTTP method"),
            ));
        }
        methods.push(m.to_ascii_uppercase());
    }
    if let Some(owner) = &r.owner {
        if !pattern.has_param(owner) {
            return Err(cx.err(
                format!("routes[{i}].owner"),
                format!("`{owner}` is not a {{parameter}} of `{}`", r.path),
            ));
        }
        if auth != AuthMode::Required {
            return Err(cx.err(
                format!("routes[{i}].owner"),
                "an owner rule needs auth = \"required\"",
            ));
        }
    }
    Ok(Route {
        pattern,
        methods,
        auth,
        owner: r.owner.clone(),
    })
}

#[cfg(test)]
mod tests;
