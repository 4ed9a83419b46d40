//! The `config.toml` schema as users write it. Every field documents its default;
//! unknown keys are errors (`deny_unknown_fields`). Secrets never live here: they
//! come from environment variables named below.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `server.log_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// Listener, threads, shutdown, logging, limits, trusted proxies.
    pub server: ServerSection,
    /// The admin listener: metrics and probes, never proxied.
    pub admin: AdminSection,
    /// Where verified requests go (unless their route names one of `upstreams`).
    pub upstream: UpstreamSection,
    /// Further upstreams, by name; a route picks one with `upstream = "name"`.
    /// Default none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub upstreams: Vec<UpstreamSection>,
    /// Token verification.
    pub auth: AuthSection,
    /// Headers sent to the upstream.
    pub identity: IdentitySection,
    /// Ordered route rules; first match wins; unmatched paths require a token.
    pub routes: Vec<RouteSection>,
    /// Named rate-limit policies, applied by routes (`rate_limit = ["name"]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rate_limits: Vec<RateLimitSection>,
    /// The Redis that replicas share (rate limits, revocations). Default none: rate
    /// limits are kept per process and revocation is off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisSection>,
    /// Token revocation (`authgate revoke`), on whenever Redis is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation: Option<RevocationSection>,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// Address to listen on. Default `127.0.0.1:8080`. Flag `--listen`, env `AUTHGATE_LISTEN`.
    /// Port 0 picks a free port, printed on start-up.
    pub listen: String,
    /// Worker threads. Default: the CPUs available to the process (cgroup quotas
    /// respected). Flag `--threads`, env `AUTHGATE_THREADS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// Seconds a SIGTERM waits for in-flight requests before exiting. Default 10.
    /// Flag `--grace-period-secs`, env `AUTHGATE_GRACE_PERIOD_SECS`.
    pub grace_period_secs: u64,
    /// Seconds to keep accepting connections after SIGTERM (with `/readyz` already
    /// 503), for platforms without a preStop hook. Default 0.
    pub drain_delay_secs: u64,
    /// `text` or `json`. Default `text`. Flag `--log-format`, env `AUTHGATE_LOG_FORMAT`.
    pub log_format: LogFormat,
    /// Liveness path answered by authgate itself on the proxy port. Default none:
    /// the upstream's own paths stay reachable; probes use the admin listener.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_path: Option<String>,
    /// Readiness path answered on the proxy port. Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_path: Option<String>,
    /// CIDRs of proxies in front of authgate (an ingress) whose `X-Forwarded-*`,
    /// `Forwarded` and `X-Request-Id` are kept and appended to. Default none.
    pub trusted_proxies: Vec<String>,
    /// Seconds a client has to send a whole request head. Default 10.
    pub header_read_timeout_secs: u64,
    /// Seconds an idle keep-alive connection stays open. Default 60.
    pub keepalive_timeout_secs: u64,
    /// Seconds a client has to send a whole request body, counted from the end of
    /// its head (1–86400); then 408 and the connection closes. Default 60. A whole
    /// body rather than a minimum rate: a rate floor can be met a byte at a time
    /// for as long as the declared length lasts.
    pub body_read_timeout_secs: u64,
    /// Most client connections open at once; more are refused. Default 10000.
    pub max_connections: usize,
    /// HTTP/2 with prior knowledge (h2c) on a plaintext listener, beside HTTP/1.1.
    /// Default `false`. Over TLS, h2 is negotiated by ALPN instead.
    pub h2c: bool,
    /// TLS on the proxy listener. Default none (plaintext).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSection>,
}

/// `server.tls.min_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum TlsVersion {
    /// TLS 1.2 and 1.3.
    #[serde(rename = "1.2")]
    Tls12,
    /// TLS 1.3 only.
    #[serde(rename = "1.3")]
    Tls13,
}

/// `[server.tls]`: the proxy listener's certificate. The files are PEM, read again
/// on SIGHUP and whenever they change.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSection {
    /// Certificate chain (leaf first), relative to the config file. Required. Flag
    /// `--tls-cert-file`, env `AUTHGATE_TLS_CERT_FILE` (relative to the working
    /// directory there).
    pub cert_file: String,
    /// Private key (PKCS#8, PKCS#1 or SEC1) of the leaf. Required. Flag
    /// `--tls-key-file`, env `AUTHGATE_TLS_KEY_FILE`.
    pub key_file: String,
    /// Oldest TLS version accepted: `"1.2"` (default) or `"1.3"`.
    pub min_version: TlsVersion,
    /// CA certificates (PEM) that client certificates must chain to; when set, a
    /// client without a valid certificate is refused during the handshake.
    /// Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ca_file: Option<String>,
}

impl Default for TlsSection {
    fn default() -> Self {
        Self {
            cert_file: String::new(),
            key_file: String::new(),
            min_version: TlsVersion::Tls12,
            client_ca_file: None,
        }
    }
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            threads: None,
            grace_period_secs: 10,
            drain_delay_secs: 0,
            log_format: LogFormat::Text,
            health_path: None,
            ready_path: None,
            trusted_proxies: Vec::new(),
            header_read_timeout_secs: 10,
            keepalive_timeout_secs: 60,
            body_read_timeout_secs: 60,
            max_connections: 10_000,
            h2c: false,
            tls: None,
        }
    }
}

/// `[admin]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSection {
    /// Address of the admin listener (`/metrics`, `/healthz`, `/readyz`). Default
    /// `127.0.0.1:9901`. Flag `--admin-listen`, env `AUTHGATE_ADMIN_LISTEN`.
    pub listen: String,
    /// Most admin connections open at once; more get 503. Default 64 (probes and
    /// scrapes need a handful; the cap keeps the admin port from using up the
    /// process's file descriptors).
    pub max_connections: usize,
}

impl Default for AdminSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9901".into(),
            max_connections: 64,
        }
    }
}

/// `[upstream]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamSection {
    /// `http://host:port`, `https://host:port` (TLS, certificate verified) or
    /// `h2c://host:port` (HTTP/2 with prior knowledge, for gRPC servers) of the
    /// protected service. Default `http://127.0.0.1:8000`.
    /// Flag `--upstream`, env `AUTHGATE_UPSTREAM`.
    pub url: String,
    /// The upstream's name: the `aud` of the identity assertion, the `upstream`
    /// label of metrics and what routes pick it by. Default `upstream-api`.
    /// Flag `--upstream-name`, env `AUTHGATE_UPSTREAM_NAME`.
    pub name: String,
    /// PEM file of the CAs an `https://` upstream's certificate must chain to,
    /// instead of the system's roots. Default none (the system's roots).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Accept any certificate from an `https://` upstream (no chain or name check):
    /// for tests only; `authgate check` warns. Default `false`.
    pub tls_insecure: bool,
    /// TCP connect timeout in milliseconds (then 504). Default 2000.
    pub connect_timeout_ms: u64,
    /// Timeout waiting for upstream response bytes, in milliseconds (then 504). Default 30000.
    pub read_timeout_ms: u64,
    /// Timeout writing the request upstream, in milliseconds (then 504). Default 30000.
    pub write_timeout_ms: u64,
    /// Idle upstream connections kept for reuse, all upstreams together (set in
    /// `[upstream]` only). Default 128.
    pub keepalive_pool_size: usize,
    /// Seconds between DNS look-ups of the upstream host (the last good addresses
    /// stay when one fails). Default 5.
    pub resolve_interval_secs: u64,
    /// A path authgate GETs on the upstream every `health_interval_secs`; while it
    /// does not answer 2xx, the admin `/readyz` is 503. Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_path: Option<String>,
    /// Seconds between upstream health checks. Default 5.
    pub health_interval_secs: u64,
}

impl Default for UpstreamSection {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8000".into(),
            name: "upstream-api".into(),
            ca_file: None,
            tls_insecure: false,
            connect_timeout_ms: 2000,
            read_timeout_ms: 30_000,
            write_timeout_ms: 30_000,
            keepalive_pool_size: 128,
            resolve_interval_secs: 5,
            health_path: None,
            health_interval_secs: 5,
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

/// `[[auth.sources]]`: one key source, chosen by its `type`. Each type has only its
/// own keys, so a key of another type (`url` on a `shared_secret`) is an error.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SourceSection {
    /// HS256 with a shared secret (Better Auth's `BETTER_AUTH_SECRET`).
    SharedSecret(SharedSecretSource),
    /// A JWKS fetched over HTTP, e.g. Better Auth's `/api/auth/jwks`.
    JwksUrl(JwksUrlSource),
    /// A JWKS JSON file read at start-up.
    JwksFile(JwksFileSource),
    /// The JWKS an OpenID provider names in its discovery document.
    Oidc(OidcSource),
}

/// `type = "shared_secret"`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SharedSecretSource {
    /// Environment variable holding the HS256 secret (raw UTF-8 bytes, at least 32).
    /// Default `BETTER_AUTH_SECRET`; `<VAR>_FILE` may name a file holding it instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// A file holding the secret (one trailing newline trimmed), relative to the
    /// config file; re-read on SIGHUP. Takes precedence over `secret_env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<String>,
    /// Accepted `iss` values; when set, `iss` is required and must match one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issuer: Vec<String>,
    /// Accepted `aud` values; when set, `aud` is required and must contain one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audience: Vec<String>,
}

/// `type = "jwks_url"`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JwksUrlSource {
    /// The JWKS URL (http or https). Required.
    pub url: String,
    /// Accepted algorithms. Default every asymmetric one
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
    /// Refresh interval in seconds when the response has no `Cache-Control: max-age`.
    /// Default 300.
    #[serde(default = "default_refresh_secs")]
    pub refresh_secs: u64,
    /// At most one unknown-`kid` refetch per this many seconds (1–3600); a token
    /// with an unknown `kid` waits up to 1 s for the next one. Default 1.
    #[serde(default = "default_min_refetch_interval_secs")]
    pub min_refetch_interval_secs: u64,
    /// HTTP timeout in milliseconds. Default 2000.
    #[serde(default = "default_jwks_timeout_ms")]
    pub timeout_ms: u64,
}

impl JwksUrlSource {
    /// A source for `url` with every other key at its default.
    pub fn for_url(url: String) -> Self {
        Self {
            url,
            algorithms: Vec::new(),
            issuer: Vec::new(),
            audience: Vec::new(),
            refresh_secs: default_refresh_secs(),
            min_refetch_interval_secs: default_min_refetch_interval_secs(),
            timeout_ms: default_jwks_timeout_ms(),
        }
    }
}

fn default_refresh_secs() -> u64 {
    300
}

fn default_min_refetch_interval_secs() -> u64 {
    1
}

fn default_jwks_timeout_ms() -> u64 {
    2000
}

/// `type = "jwks_file"`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JwksFileSource {
    /// Path of a JWKS JSON file, relative to the config file. Required.
    pub path: String,
    /// Accepted algorithms. Default every asymmetric one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub algorithms: Vec<String>,
    /// Accepted `iss` values; when set, `iss` is required and must match one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issuer: Vec<String>,
    /// Accepted `aud` values; when set, `aud` is required and must contain one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audience: Vec<String>,
}

/// `type = "oidc"`: the keys of an OpenID provider, found through its discovery
/// document, then fetched, refreshed and refetched as a `jwks_url` source's.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSource {
    /// The issuer, e.g. `https://auth.example.com` (an absolute http or https URL
    /// without query or fragment). Required. Its
    /// `{issuer}/.well-known/openid-configuration` must name exactly this issuer,
    /// and every token must carry it as `iss`. Better Auth's OAuth provider
    /// plugin: its base URL with `/api/auth`.
    pub issuer: String,
    /// Accepted algorithms. Default every asymmetric one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub algorithms: Vec<String>,
    /// Accepted `aud` values; when set, `aud` is required and must contain one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audience: Vec<String>,
    /// Refresh interval in seconds when the JWKS response has no
    /// `Cache-Control: max-age`. Default 300.
    #[serde(default = "default_refresh_secs")]
    pub refresh_secs: u64,
    /// At most one unknown-`kid` refetch per this many seconds (1–3600). Default 1.
    #[serde(default = "default_min_refetch_interval_secs")]
    pub min_refetch_interval_secs: u64,
    /// HTTP timeout of each request (discovery, JWKS) in milliseconds. Default 2000.
    #[serde(default = "default_jwks_timeout_ms")]
    pub timeout_ms: u64,
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
    /// CSRF defence: origins (`https://app.example`) besides the request's own host
    /// allowed to send cookie-authenticated unsafe requests (POST, PUT, PATCH,
    /// DELETE …). Default none: same-origin only.
    pub allowed_origins: Vec<String>,
}

impl Default for SessionCookieSection {
    fn default() -> Self {
        Self {
            enabled: false,
            cookie_prefix: "better-auth".into(),
            strip: true,
            allowed_origins: Vec::new(),
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
    /// Assertion lifetime in seconds, 1 to 60. Default 10 (a captured assertion is
    /// worth little for long; the upstream also refuses a second use of its `jti`).
    pub assertion_ttl_secs: u64,
    /// Environment variable holding the assertion's HS256 secret (at least 32 bytes).
    /// Default `AUTHGATE_ASSERTION_SECRET`; `<VAR>_FILE` may name a file instead.
    pub assertion_secret_env: String,
    /// A file holding the assertion secret (one trailing newline trimmed), relative
    /// to the config file; re-read on SIGHUP. Takes precedence over the variable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assertion_secret_file: Option<String>,
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
            assertion_ttl_secs: 10,
            assertion_secret_env: "AUTHGATE_ASSERTION_SECRET".into(),
            assertion_secret_file: None,
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
    pub auth: RouteAuth,
    /// A `{param}` of `path` that must equal the token's `sub` (else 403).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Claims the verified token must hold, all of them (else 403
    /// `insufficient_scope`): a list of strings means "at least one of" (the claim
    /// a comma/space-separated string or an array), `true`/`false`, a number or a
    /// string means "exactly"; a dotted name reaches into an object claim. Needs
    /// `auth = "required"` or `"optional"`. Default none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub require: BTreeMap<String, toml::Value>,
    /// Scopes the token must be granted, all of them, by `scope` (space-separated)
    /// or `scp` (an array). Needs `auth = "required"` or `"optional"`. Default none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require_scope: Vec<String>,
    /// Names of `[[rate_limits]]` policies this route applies, in order. Default none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rate_limit: Vec<String>,
    /// The `name` of the upstream (`[upstream]` or one of `[[upstreams]]`) this
    /// route's requests go to. Default `[upstream]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
}

fn default_route_auth() -> RouteAuth {
    RouteAuth::Required
}

/// `routes[].auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteAuth {
    /// No token needed; identity headers are still stripped.
    Public,
    /// A valid token is needed.
    Required,
    /// No token passes anonymously; a present but invalid token is refused.
    Optional,
}

/// `[[rate_limits]]`: one named policy (GCRA: `rate` requests per `per`, up to
/// `burst` at once).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSection {
    /// The policy's name: 1 to 64 of `[A-Za-z0-9._-]`, unique. Required.
    pub name: String,
    /// What is counted: `sub` (the token's subject; anonymous requests count by
    /// `client_ip`), `client_ip` (after `server.trusted_proxies`), `claim:<name>` or
    /// `header:<Name>` (either missing: `client_ip`). Required.
    pub key: String,
    /// Requests allowed per `per`, at least 1. Required.
    pub rate: u64,
    /// The period of `rate`: whole seconds, minutes, hours or days (`"30s"`, `"1m"`,
    /// `"1h"`, `"1d"`), 1 s to 1 d. Required.
    pub per: String,
    /// Requests allowed at once (the bucket's size), 1 to 1 000 000. Default `rate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u64>,
    /// When Redis fails or is slower than `redis.timeout_ms`: `local` (this replica
    /// enforces the policy on its own), `allow` or `deny` (503). Default `local`.
    #[serde(default)]
    pub on_redis_error: OnRedisError,
}

/// `rate_limits[].on_redis_error`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnRedisError {
    /// Each replica enforces the policy on its own until Redis answers again.
    #[default]
    Local,
    /// Let the request through unlimited.
    Allow,
    /// Refuse it (503).
    Deny,
}

/// `[redis]`: the Redis every replica shares. `Debug` hides the URL's password.
#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSection {
    /// `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. Env
    /// `AUTHGATE_REDIS_URL` wins over it; keep a password out of this file (use
    /// `url_file`). Default none (then `url_file` or the environment must give it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A file holding the URL (one trailing newline dropped), relative to the config
    /// file; re-read on SIGHUP. Wins over `AUTHGATE_REDIS_URL_FILE`,
    /// `AUTHGATE_REDIS_URL` and `url`. Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_file: Option<String>,
    /// Longest wait for one reply on a request's path, 1 to 60000 ms; a slower answer
    /// counts as a failure (`on_redis_error`). Default 50.
    pub timeout_ms: u64,
    /// Prefix of every key and channel authgate uses. Default `authgate:`.
    pub key_prefix: String,
}

impl std::fmt::Debug for RedisSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSection")
            .field("url", &self.url.as_deref().map(crate::redis::shown))
            .field("url_file", &self.url_file)
            .field("timeout_ms", &self.timeout_ms)
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

impl Default for RedisSection {
    fn default() -> Self {
        Self {
            url: None,
            url_file: None,
            timeout_ms: 50,
            key_prefix: "authgate:".into(),
        }
    }
}

/// `[revocation]`: refusing tokens revoked with `authgate revoke` (needs Redis).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RevocationSection {
    /// Follow revocations. Default `true` (when Redis is configured).
    pub enabled: bool,
    /// The longest lifetime (`exp - iat`) of any token the sources accept, in seconds
    /// (1 to 2592000): a revocation is kept this long plus `auth.leeway_secs`, after
    /// which every token it refuses has expired anyway. Default 900 (Better Auth's
    /// `jwt` plugin issues 15-minute tokens).
    pub max_token_lifetime_secs: u64,
    /// Seconds between checks that no change was missed (1 to 3600). Default 5.
    pub resync_secs: u64,
    /// Refuse tokens without `iat` (otherwise such a token is refused only while its
    /// subject has a revocation in force). Default `false`.
    pub require_iat: bool,
}

impl Default for RevocationSection {
    fn default() -> Self {
        Self {
            enabled: true,
            max_token_lifetime_secs: 900,
            resync_secs: 5,
            require_iat: false,
        }
    }
}
