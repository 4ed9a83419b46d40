//! Configuration in three layers (River's shape): the file schema ([`schema`]),
//! overrides from flags and environment ([`Overrides`]), and the validated
//! [`Settings`] the proxy runs on, resolved section by section. Precedence:
//! flag > env > file > default. Every error names the file and the key.

mod auth;
mod context;
mod identity;
mod listener;
mod overrides;
mod parse;
mod rate_limits;
mod redis;
mod revocation;
mod routes;
pub(crate) mod schema;
mod secrets;
mod server;
mod sources;
mod upstream;

use std::path::{Path, PathBuf};

use crate::auth::{AuthMetrics, KeptClaims};
use crate::error::ConfigError;
use crate::policy::RouteTable;
use crate::rate_limit::{LimitKey, PolicySettings};
use crate::redis::RedisSettings;
use crate::revocation::RevocationSettings;
use context::Ctx;
use secrets::SecretReader;

pub(crate) use auth::AuthSettings;
pub(crate) use identity::IdentitySettings;
pub(crate) use listener::ListenerSettings;
pub use overrides::Overrides;
pub use parse::parse_str;
use parse::read_file;
pub(crate) use schema::FileConfig;
pub(crate) use server::{ProcessSettings, ServerSettings};
pub(crate) use sources::DEFAULT_SECRET_ENV;
pub(crate) use upstream::{UpstreamScheme, UpstreamSettings};

/// The validated configuration, with keys and rules compiled once.
#[derive(Debug)]
pub struct Settings {
    /// The file it came from.
    pub file: PathBuf,
    /// The effective file-level configuration (after overrides), for `authgate check`.
    pub effective: FileConfig,
    /// What needs a restart to change.
    pub process: ProcessSettings,
    /// The `[server]` settings a reload applies.
    pub server: ServerSettings,
    /// Where verified requests go, with their timeouts and health paths:
    /// `[upstream]` first, then `[[upstreams]]` in order (routes pick them by index).
    pub upstreams: Vec<UpstreamSettings>,
    /// Key sources, claim rules, the session cookie and the token cache.
    pub auth: AuthSettings,
    /// Identity headers and the assertion.
    pub identity: IdentitySettings,
    /// The route rules, in order (first match wins).
    pub routes: RouteTable,
    /// The rate-limit policies routes apply.
    pub(crate) rate_limits: Vec<PolicySettings>,
    /// The Redis replicas share, when configured.
    pub(crate) redis: Option<RedisSettings>,
    /// Revocation, when on.
    pub(crate) revocation: Option<RevocationSettings>,
    /// Names of the secrets in use and where they come from (for `check`).
    pub secret_sources: Vec<String>,
    /// Valid but risky choices, for `check` and the start-up log.
    pub warnings: Vec<String>,
}

impl Settings {
    /// `[upstream]`: where requests go unless their route names another.
    pub fn default_upstream(&self) -> &UpstreamSettings {
        &self.upstreams[0]
    }
}

/// Loads `path` (or the built-in defaults when `None`), applies overrides and reads
/// secrets through `env`, then validates everything. Key sources count into
/// `metrics`.
pub fn load(
    path: Option<&Path>,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
    metrics: &AuthMetrics,
) -> Result<Settings, ConfigError> {
    let jwks_pins = [
        ("AUTHGATE_JWKS_ISSUER", &overrides.jwks_issuer),
        ("AUTHGATE_JWKS_AUDIENCE", &overrides.jwks_audience),
    ];
    for (var, pins) in jwks_pins {
        if !pins.is_empty() && overrides.jwks_url.is_none() {
            let file = path.map_or_else(|| PathBuf::from("<defaults>"), Path::to_path_buf);
            return Err(ConfigError::new(
                file,
                var,
                "applies to the source that AUTHGATE_JWKS_URL adds, which is not set",
            ));
        }
    }
    let (file, mut cfg) = match path {
        Some(p) => (p.to_path_buf(), read_file(p)?),
        None => (PathBuf::from("<defaults>"), FileConfig::default()),
    };
    overrides.clone().apply(&mut cfg);
    // AUTHGATE_REDIS_URL(_FILE) alone turns Redis on, with the section's defaults.
    let url_file_env = format!("{}_FILE", redis::URL_ENV);
    if cfg.redis.is_none() && (env(redis::URL_ENV).is_some() || env(&url_file_env).is_some()) {
        cfg.redis = Some(schema::RedisSection::default());
    }
    if path.is_none() {
        // Built-in defaults: HS256 with BETTER_AUTH_SECRET when it is set or when no
        // JWKS URL was given (then a missing secret is reported).
        if cfg.auth.sources.is_empty() || env(DEFAULT_SECRET_ENV).is_some() {
            let source = schema::SourceSection::SharedSecret(Default::default());
            cfg.auth.sources.insert(0, source);
        }
    }
    resolve(file, cfg, env, metrics)
}

/// What `authgate revoke` needs: the Redis and how long a revocation counts.
#[derive(Debug)]
pub(crate) struct RevocationTarget {
    /// The file it came from.
    pub file: PathBuf,
    /// The Redis, when one is configured.
    pub redis: Option<RedisSettings>,
    /// Seconds a revocation counts (`revocation.max_token_lifetime_secs` plus
    /// `auth.leeway_secs`).
    pub retention: u64,
}

/// Reads only `[redis]`, `[revocation]` and `auth.leeway_secs` of `path`: revoking
/// needs neither the signing keys nor the assertion secret.
pub(crate) fn load_revocation_target(
    path: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<RevocationTarget, ConfigError> {
    let (file, mut cfg) = match path {
        Some(p) => (p.to_path_buf(), read_file(p)?),
        None => (PathBuf::from("<defaults>"), FileConfig::default()),
    };
    let url_file_env = format!("{}_FILE", redis::URL_ENV);
    if cfg.redis.is_none() && (env(redis::URL_ENV).is_some() || env(&url_file_env).is_some()) {
        cfg.redis = Some(schema::RedisSection::default());
    }
    let metrics = AuthMetrics::default();
    let cx = Ctx {
        file: &file,
        metrics: &metrics,
        warnings: Default::default(),
    };
    if cfg.auth.leeway_secs > 600 {
        return Err(cx.err("auth.leeway_secs", "must be at most 600"));
    }
    let mut secrets = SecretReader::new(env);
    let redis = redis::resolve(&cx, cfg.redis.as_ref(), &mut secrets)?;
    let section = schema::RevocationSection {
        enabled: true,
        ..cfg.revocation.clone().unwrap_or_default()
    };
    let settings = match &redis {
        Some(_) => revocation::resolve(&cx, Some(&section), redis.as_ref(), cfg.auth.leeway_secs)?,
        None => None,
    };
    Ok(RevocationTarget {
        retention: settings.map_or(0, |s| s.retention),
        redis,
        file,
    })
}

/// Validates a parsed file section by section.
fn resolve(
    file: PathBuf,
    cfg: FileConfig,
    env: &dyn Fn(&str) -> Option<String>,
    metrics: &AuthMetrics,
) -> Result<Settings, ConfigError> {
    let cx = Ctx {
        file: &file,
        metrics,
        warnings: Default::default(),
    };
    let mut secrets = SecretReader::new(env);
    let process = server::resolve_process(&cx, &cfg.server, &cfg.admin, &cfg.upstream)?;
    let server = server::resolve(&cx, &cfg.server)?;
    let upstreams = upstream::resolve_all(&cx, &cfg.upstream, &cfg.upstreams)?;
    let rate_limits = rate_limits::resolve(&cx, &cfg.rate_limits)?;
    let names: Vec<&str> = rate_limits.iter().map(|p| p.name.as_str()).collect();
    let upstream_names: Vec<&str> = upstreams.iter().map(|u| u.name.as_str()).collect();
    let routes = routes::resolve(&cx, &cfg.routes, &names, &upstream_names)?;
    // An identity keeps the claims headers forward and those rules and rate limits
    // read: no more.
    let mut for_rules = routes.claims_read();
    for policy in &rate_limits {
        if let LimitKey::Claim(name) = &policy.key {
            if !for_rules.contains(name) {
                for_rules.push(name.clone());
            }
        }
    }
    let kept_claims = KeptClaims {
        forwarded: cfg.identity.claims.keys().cloned().collect(),
        for_rules,
    };
    let (auth, hs256) = auth::resolve(&cx, &cfg.auth, kept_claims, &mut secrets)?;
    let identity = identity::resolve(&cx, &cfg.identity, &mut secrets, &hs256)?;
    let redis = redis::resolve(&cx, cfg.redis.as_ref(), &mut secrets)?;
    let revocation = revocation::resolve(
        &cx,
        cfg.revocation.as_ref(),
        redis.as_ref(),
        cfg.auth.leeway_secs,
    )?;
    let warnings = cx.warnings.into_inner();
    Ok(Settings {
        warnings,
        process,
        server,
        upstreams,
        auth,
        identity,
        routes,
        rate_limits,
        redis,
        revocation,
        secret_sources: secrets.used,
        file,
        effective: cfg,
    })
}

#[cfg(test)]
mod tests;
