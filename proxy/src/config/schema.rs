//! The `config.toml` schema as users write it. Every field documents its default;
//! unknown keys are errors (`deny_unknown_fields`). Secrets never live here: they
//! come from environment variables named below.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// Listener, threads, shutdown, logging, health endpoints.
    pub server: ServerSection,
    /// Where verified requests go.
    pub upstream: UpstreamSection,
    /// Token verification.
    pub auth: AuthSection,
    /// Headers sent to the upstream.
    pub identity: IdentitySection,
    /// Ordered route rules; first match wins; unmatched paths require a token.
    pub routes: Vec<RouteSection>,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// Address to listen on. Default `127.0.0.1:8080`. Flag `--listen`, env `AUTHGATE_LISTEN`.
    /// Port 0 picks a free port, printed on start-up.
    pub listen: String,
    /// Worker threads. Default 2. Flag `--threads`, env `AUTHGATE_THREADS`.
    pub threads: usize,
    /// Seconds a SIGTERM waits for in-flight requests before exiting. Default 10.
    /// Flag `--grace-period-secs`, env `AUTHGATE_GRACE_PERIOD_SECS`.
    pub grace_period_secs: u64,
    /// `text` or `json`. Default `text`. Flag `--log-format`, env `AUTHGATE_LOG_FORMAT`.
    pub log_format: String,
    /// Liveness endpoint answered by authgate itself. Default `/healthz`.
    pub health_path: String,
    /// Readiness endpoint answered by authgate itself. Default `/readyz`.
    pub ready_path: String,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            threads: 2,
            grace_period_secs: 10,
            log_format: "text".into(),
            health_path: "/healthz".into(),
            ready_path: "/readyz".into(),
        }
    }
}

/// `[upstream]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamSection {
    /// `http://host:port` of the protected service. Default `http://127.0.0.1:8000`.
    /// Flag `--upstream`, env `AUTHGATE_UPSTREAM`.
    pub url: String,
    /// The upstream's name: the `aud` of the identity assertion. Default `upstream-api`.
    /// Flag `--upstream-name`, env `AUTHGATE_UPSTREAM_NAME`.
    pub name: String,
    /// TCP connect timeout in milliseconds (then 504). Default 2000.
    pub connect_timeout_ms: u64,
    /// Timeout waiting for upstream response bytes, in milliseconds (then 504). Default 30000.
    pub read_timeout_ms: u64,
    /// Timeout writing the request upstream, in milliseconds (then 504). Default 30000.
    pub write_timeout_ms: u64,
    /// Idle upstream connections kept for reuse. Default 128.
    pub keepalive_pool_size: usize,
}

impl Default for UpstreamSection {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8000".into(),
            name: "upstream-api".into(),
            connect_timeout_ms: 2000,
            read_timeout_ms: 30_000,
            write_timeout_ms: 30_000,
            keepalive_pool_size: 128,
        }
    }
}

/// `[auth]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSection {
    /// `realm` in `WWW-Authenticate`. Default `authgate`.
    pub realm: String,
    /// Clock skew allowed on `exp`/`nbf`, seconds. Default 30.
    pub leeway_secs: u64,
    /// Longest accepted token in bytes; longer ones are 401. Default 8192.
    pub max_token_bytes: usize,
    /// Forward the client's `Authorization` header upstream. Default `false` (stripped).
    pub keep_authorization: bool,
    /// Let CORS preflights (OPTIONS with `Origin` and `Access-Control-Request-Method`)
    /// through without a token. Default `false`.
    pub cors_preflight: bool,
    /// Key sources, tried by `kid` then by algorithm. At least one is required.
    pub sources: Vec<SourceSection>,
    /// Better Auth's `session_data` cookie as a credential (opt-in).
    pub session_cookie: SessionCookieSection,
    /// Verified-token cache.
    pub cache: CacheSection,
}

impl Default for AuthSection {
    fn default() -> Self {
        Self {
            realm: "authgate".into(),
            leeway_secs: 30,
            max_token_bytes: 8192,
            keep_authorization: false,
            cors_preflight: false,
            sources: Vec::new(),
            session_cookie: SessionCookieSection::default(),
            cache: CacheSection::default(),
        }
    }
}

/// `[[auth.sources]]`: one key source.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSection {
    /// `shared_secret` (HS256 with the secret in `secret_env`), `jwks_url` (a JWKS
    /// fetched over HTTP, e.g. Better Auth's `/api/auth/jwks`) or `jwks_file`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `shared_secret`: environment variable holding the HS256 secret (raw UTF-8
    /// bytes, at least 32). Default `BETTER_AUTH_SECRET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// `jwks_url`: the JWKS URL (http or https).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `jwks_file`: path of a JWKS JSON file, read at start-up (relative to the config file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// JWKS sources: accepted algorithms. Default every asymmetric one
    /// (EdDSA, ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub algorithms: Vec<String>,
    /// Accepted `iss` values; when set, `iss` is required and must match one.
    /// Better Auth: its base URL's origin, e.g. `http://localhost:3000`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issuer: Vec<String>,
    /// Accepted `aud` values; when set, `aud` is required and must contain one.
    /// Better Auth: its base URL's origin by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audience: Vec<String>,
    /// `jwks_url`: refresh interval in seconds when the response has no
    /// `Cache-Control: max-age`. Default 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_secs: Option<u64>,
    /// `jwks_url`: at most one unknown-`kid` refetch per this many seconds. Default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_refetch_interval_secs: Option<u64>,
    /// `jwks_url`: HTTP timeout in milliseconds. Default 2000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

impl SourceSection {
    /// A source of `kind` with nothing else set.
    pub fn of_kind(kind: &str) -> Self {
        Self {
            kind: kind.into(),
            secret_env: None,
            url: None,
            path: None,
            algorithms: Vec::new(),
            issuer: Vec::new(),
            audience: Vec::new(),
            refresh_secs: None,
            min_refetch_interval_secs: None,
            timeout_ms: None,
        }
    }
}

/// `[auth.session_cookie]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionCookieSection {
    /// Accept Better Auth's `session_data` cookie when no bearer token is sent:
    /// strategy `jwt` (HS256, verified by a `shared_secret` source) and the JWKS-signed
    /// variant. Default `false`.
    pub enabled: bool,
    /// Better Auth's cookie prefix (`advanced.cookiePrefix`). Default `better-auth`.
    pub cookie_prefix: String,
    /// Remove Better Auth's cookies (they carry the raw session token) before
    /// forwarding, keeping the others. Default `true`.
    pub strip: bool,
}

impl Default for SessionCookieSection {
    fn default() -> Self {
        Self {
            enabled: false,
            cookie_prefix: "better-auth".into(),
            strip: true,
        }
    }
}

/// `[auth.cache]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSection {
    /// Cache successful verifications. Default `true`.
    pub enabled: bool,
    /// Most tokens remembered. Default 10000.
    pub max_entries: usize,
}

impl Default for CacheSection {
    fn default() -> Self {
        Self {
            enabled: true,
            max_entries: 10_000,
        }
    }
}

/// `[identity]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentitySection {
    /// Header carrying the token's `sub`. Default `X-Auth-User-Id`.
    pub user_id_header: String,
    /// Header carrying the token's `email`, when present. Default `X-Auth-Email`.
    pub email_header: String,
    /// Header carrying authgate's signed assertion. Default `X-Auth-Assertion`.
    pub assertion_header: String,
    /// `iss` of the assertion. Default `authgate`.
    pub assertion_issuer: String,
    /// Assertion lifetime in seconds, 1 to 60. Default 30.
    pub assertion_ttl_secs: u64,
    /// Environment variable holding the assertion's HS256 secret (at least 32 bytes).
    /// Default `AUTHGATE_ASSERTION_SECRET`.
    pub assertion_secret_env: String,
    /// Extra client headers to strip (as well as every identity header). Default none.
    pub strip_headers: Vec<String>,
    /// Claim → header map for further claims (arrays/objects sent as compact JSON).
    pub claims: BTreeMap<String, String>,
}

impl Default for IdentitySection {
    fn default() -> Self {
        Self {
            user_id_header: "X-Auth-User-Id".into(),
            email_header: "X-Auth-Email".into(),
            assertion_header: "X-Auth-Assertion".into(),
            assertion_issuer: "authgate".into(),
            assertion_ttl_secs: 30,
            assertion_secret_env: "AUTHGATE_ASSERTION_SECRET".into(),
            strip_headers: Vec::new(),
            claims: BTreeMap::new(),
        }
    }
}

/// `[[routes]]`: one rule.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSection {
    /// Path pattern: literal segments, `{name}` (one segment), `*` (one segment) and a
    /// trailing `**` (any rest, including nothing).
    pub path: String,
    /// Methods this rule applies to; empty means all. Default all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// `public`, `required` or `optional`. Default `required`.
    #[serde(default = "default_route_auth")]
    pub auth: String,
    /// A `{param}` of `path` that must equal the token's `sub` (else 403).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

fn default_route_auth() -> String {
    "required".into()
}
