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
pub(crate) use upstream::UpstreamSettings;

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
    /// Where verified requests go, with its timeouts and health path.
    pub upstream: UpstreamSettings,
    /// Key sources, claim rules, the session cookie and the token cache.
    pub auth: AuthSettings,
    /// Identity headers and the assertion.
    pub identity: IdentitySettings,
    /// The route rules, in order (first match wins).
    pub routes: RouteTable,
    /// Names of the secrets in use and where they come from (for `check`).
    pub secret_sources: Vec<String>,
    /// Valid but risky choices, for `check` and the start-up log.
    pub warnings: Vec<String>,
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
    let upstream = upstream::resolve(&cx, &cfg.upstream)?;
    let routes = routes::resolve(&cx, &cfg.routes)?;
    // An identity keeps the claims headers forward and those rules read: no more.
    let kept_claims = KeptClaims {
        forwarded: cfg.identity.claims.keys().cloned().collect(),
        for_rules: routes.claims_read(),
    };
    let (auth, hs256) = auth::resolve(&cx, &cfg.auth, kept_claims, &mut secrets)?;
    let identity = identity::resolve(&cx, &cfg.identity, &upstream.name, &mut secrets, &hs256)?;
    let warnings = cx.warnings.into_inner();
    Ok(Settings {
        warnings,
        process,
        server,
        upstream,
        auth,
        identity,
        routes,
        secret_sources: secrets.used,
        file,
        effective: cfg,
    })
}

#[cfg(test)]
mod tests;
