use super::parse::parse_str;
use super::*;

/// `resolve` with metrics of its own.
fn resolve(
    file: PathBuf,
    cfg: FileConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    super::resolve(file, cfg, env, &AuthMetrics::default())
}

/// `load` with metrics of its own.
fn load(
    path: Option<&Path>,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    super::load(path, overrides, env, &AuthMetrics::default())
}
use std::collections::HashMap;
use std::time::Duration;

const GOOD_SECRET: &str = "0123456789abcdef0123456789abcdef";
const ASSERTION_SECRET: &str = "assertion-secret-0123456789abcdef";

fn env_with(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn secrets() -> impl Fn(&str) -> Option<String> {
    env_with(&[
        ("BETTER_AUTH_SECRET", GOOD_SECRET),
        ("AUTHGATE_ASSERTION_SECRET", ASSERTION_SECRET),
    ])
}

fn load_text(text: &str) -> Result<Settings, ConfigError> {
    let cfg = parse_str(text, Path::new("test.toml"))?;
    resolve(PathBuf::from("test.toml"), cfg, &secrets())
}

const MINIMAL: &str = "[[auth.sources]]\ntype = \"shared_secret\"\n";

#[test]
fn the_sample_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config.toml");
    let s = load(Some(&path), &Overrides::default(), &secrets()).unwrap();
    assert_eq!(s.process.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(s.default_upstream().address, "127.0.0.1:8000");
    assert_eq!(s.default_upstream().name, "upstream-api");
}

#[test]
fn defaults_apply_to_a_minimal_file() {
    let s = load_text(MINIMAL).unwrap();
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert_eq!(s.process.threads, cpus, "the CPUs this process may use");
    assert_eq!(s.process.grace_period, Duration::from_secs(10));
    // The proxy port answers no health path of its own: the upstream's stay reachable.
    assert_eq!(s.server.health_path, None);
    assert_eq!(s.process.admin_listen.to_string(), "127.0.0.1:9901");
    assert_eq!(s.process.header_read_timeout, Duration::from_secs(10));
    assert_eq!(s.process.drain_delay, Duration::ZERO);
    assert!(s.process.threads >= 1);
    assert_eq!(s.auth.realm, "authgate");
    assert_eq!(s.auth.verifier.max_token_bytes, 8192);
    assert!(!s.auth.keep_authorization);
    assert_eq!(s.auth.sources.len(), 1);
}

#[test]
fn no_file_means_built_in_defaults() {
    let s = load(None, &Overrides::default(), &secrets()).unwrap();
    assert_eq!(s.file, PathBuf::from("<defaults>"));
    assert_eq!(s.auth.sources.len(), 1);
}

#[test]
fn flags_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        format!("[server]\nlisten = \"127.0.0.1:1\"\nthreads = 3\n{MINIMAL}"),
    )
    .unwrap();
    let o = Overrides {
        listen: Some("127.0.0.1:2".into()),
        upstream: Some("http://10.0.0.1:9".into()),
        log_format: Some(super::overrides::LogFormatFlag::Json),
        ..Overrides::default()
    };
    let s = load(Some(&path), &o, &secrets()).unwrap();
    assert_eq!(s.process.listen.to_string(), "127.0.0.1:2");
    assert_eq!(s.process.threads, 3, "unset overrides keep the file value");
    assert_eq!(s.default_upstream().address, "10.0.0.1:9");
    assert_eq!(s.process.log_format, crate::log_format::LogFormat::Json);
}

fn err(text: &str) -> ConfigError {
    load_text(text).expect_err("config should be refused")
}

#[test]
fn unknown_keys_are_errors_naming_the_key_and_file() {
    let e = err(&format!("[server]\nlistne = \"x\"\n{MINIMAL}"));
    assert_eq!(e.key, "server.listne");
    assert!(e.message.contains("unknown field"), "{e}");
    assert!(e.to_string().contains("test.toml"), "{e}");
    let e = err(&format!("colour = 1\n{MINIMAL}"));
    assert_eq!(e.key, "colour");
    let e = err("[[auth.sources]]\ntype = \"shared_secret\"\nsecret = \"inline\"\n");
    assert_eq!(e.key, "auth.sources[0].secret");
    let e = err(&format!(
        "[[routes]]\npath = \"/x\"\nowner_id = \"x\"\n{MINIMAL}"
    ));
    assert_eq!(e.key, "routes[0].owner_id");
}

#[test]
fn wrong_types_name_the_key_and_line() {
    let e = err(&format!("[server]\nthreads = \"two\"\n{MINIMAL}"));
    assert_eq!(e.key, "server.threads");
    assert!(e.message.contains("line 2"), "{e}");
    let e = err("[server\n");
    assert_eq!(e.key, "<toml>");
}

/// A bad value in each section, and the key its error must name.
const BAD_VALUES: &[(&str, &str)] = &[
    (
        "[server]\nbody_read_timeout_secs = 0\n",
        "server.body_read_timeout_secs",
    ),
    ("[admin]\nmax_connections = 0\n", "admin.max_connections"),
    ("[server]\nlisten = \"localhost\"\n", "server.listen"),
    ("[server]\nthreads = 0\n", "server.threads"),
    ("[server]\nlog_format = \"xml\"\n", "server.log_format"),
    (
        "[server]\nhealth_path = \"healthz\"\n",
        "server.health_path",
    ),
    (
        "[server]\nhealth_path = \"/healthz\"\nready_path = \"/healthz\"\n",
        "server.ready_path",
    ),
    (
        "[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n",
        "server.trusted_proxies[0]",
    ),
    ("[server]\nmax_connections = 0\n", "server.max_connections"),
    (
        "[server]\nheader_read_timeout_secs = 0\n",
        "server.header_read_timeout_secs",
    ),
    ("[admin]\nlisten = \"nowhere\"\n", "admin.listen"),
    ("[upstream]\nhealth_path = \"up\"\n", "upstream.health_path"),
    (
        "[auth.session_cookie]\nallowed_origins = [\"https://a.example/path\"]\n",
        "auth.session_cookie.allowed_origins[0]",
    ),
    ("[upstream]\nurl = \"ftp://x:1\"\n", "upstream.url"),
    (
        "[upstream]\nurl = \"http://x:1\"\ntls_insecure = true\n",
        "upstream.tls_insecure",
    ),
    (
        "[upstream]\nurl = \"https://x:1\"\nca_file = \"/nonexistent/ca.pem\"\n",
        "upstream.ca_file",
    ),
    (
        "[[upstreams]]\nname = \"web\"\nurl = \"gopher://x:1\"\n",
        "upstreams[0].url",
    ),
    (
        "[[upstreams]]\nname = \"upstream-api\"\nurl = \"http://x:1\"\n",
        "upstreams[0].name",
    ),
    (
        "[[upstreams]]\nname = \"web\"\nurl = \"http://x:1\"\n[[upstreams]]\nname = \"web\"\nurl = \"http://y:1\"\n",
        "upstreams[1].name",
    ),
    (
        "[[upstreams]]\nname = \"web\"\nurl = \"http://x:1\"\nkeepalive_pool_size = 3\n",
        "upstreams[0].keepalive_pool_size",
    ),
    (
        "[[routes]]\npath = \"/a\"\nupstream = \"nowhere\"\n",
        "routes[0].upstream",
    ),
    ("[upstream]\nurl = \"http://x:1/prefix\"\n", "upstream.url"),
    ("[upstream]\nurl = \"not a url\"\n", "upstream.url"),
    (
        "[upstream]\nread_timeout_ms = 0\n",
        "upstream.read_timeout_ms",
    ),
    ("[auth]\nrealm = \"a\\\"b\"\n", "auth.realm"),
    ("[auth]\nmax_token_bytes = 10\n", "auth.max_token_bytes"),
    (
        "[identity]\nassertion_ttl_secs = 61\n",
        "identity.assertion_ttl_secs",
    ),
    ("[identity]\nuser_id_header = \"bad header\"\n", "identity"),
    (
        "[identity.claims]\nname = \"Authorization\"\n",
        "identity.claims.name",
    ),
    (
        "[identity.claims]\nname = \"X-Auth-User-Id\"\n",
        "identity.claims.name",
    ),
    ("[[routes]]\npath = \"api/x\"\n", "routes[0].path"),
    ("[[routes]]\npath = \"/a/**/b\"\n", "routes[0].path"),
    (
        "[[routes]]\npath = \"/a\"\nauth = \"maybe\"\n",
        "routes[0].auth",
    ),
    (
        "[[routes]]\npath = \"/a\"\nmethods = [\"G T\"]\n",
        "routes[0].methods",
    ),
    (
        "[[routes]]\npath = \"/a/{x}\"\nowner = \"y\"\n",
        "routes[0].owner",
    ),
    (
        "[[routes]]\npath = \"/a/{x}\"\nowner = \"x\"\nauth = \"public\"\n",
        "routes[0].owner",
    ),    (
        "[[rate_limits]]\nname = \"a b\"\nkey = \"sub\"\nrate = 1\nper = \"1m\"\n",
        "rate_limits[0].name",
    ),
    (
        "[[rate_limits]]\nname = \"a\"\nkey = \"ip\"\nrate = 1\nper = \"1m\"\n",
        "rate_limits[0].key",
    ),
    (
        "[[rate_limits]]\nname = \"a\"\nkey = \"header:bad header\"\nrate = 1\nper = \"1m\"\n",
        "rate_limits[0].key",
    ),
    (
        "[[rate_limits]]\nname = \"a\"\nkey = \"sub\"\nrate = 0\nper = \"1m\"\n",
        "rate_limits[0].rate",
    ),
    (
        "[[rate_limits]]\nname = \"a\"\nkey = \"sub\"\nrate = 1\nper = \"60\"\n",
        "rate_limits[0].per",
    ),
    (
        "[[rate_limits]]\nname = \"a\"\nkey = \"sub\"\nrate = 1\nper = \"1m\"\nburst = 0\n",
        "rate_limits[0].burst",
    ),
    (
        "[[rate_limits]]\nname = \"a\"\nkey = \"sub\"\nrate = 1\nper = \"1m\"\non_redis_error = \"maybe\"\n",
        "rate_limits[0].on_redis_error",
    ),
    (
        "[[rate_limits]]\nname = \"a\"\nkey = \"sub\"\nrate = 1\nper = \"1m\"\n[[rate_limits]]\nname = \"a\"\nkey = \"client_ip\"\nrate = 1\nper = \"1s\"\n",
        "rate_limits[1].name",
    ),
    (
        "[[routes]]\npath = \"/a\"\nrate_limit = [\"nope\"]\n",
        "routes[0].rate_limit[0]",
    ),
    ("[redis]\n", "redis.url"),
    ("[redis]\nurl = \"http://cache:6379\"\n", "redis.url"),
    (
        "[redis]\nurl = \"redis://cache\"\nurl_file = \"u\"\n",
        "redis.url_file",
    ),
    (
        "[redis]\nurl = \"redis://cache\"\ntimeout_ms = 0\n",
        "redis.timeout_ms",
    ),
    (
        "[redis]\nurl = \"redis://cache\"\nkey_prefix = \"a b\"\n",
        "redis.key_prefix",
    ),
    ("[revocation]\nresync_secs = 5\n", "revocation"),
    (
        "[redis]\nurl = \"redis://cache\"\n[revocation]\nmax_token_lifetime_secs = 0\n",
        "revocation.max_token_lifetime_secs",
    ),
];

#[test]
fn bad_values_name_the_key() {
    let cases = BAD_VALUES;
    for (text, key) in cases {
        let e = err(&format!("{text}{MINIMAL}"));
        assert_eq!(&e.key, key, "{text}: {e}");
    }
    let e = err("[auth]\nleeway_secs = 1\n");
    assert_eq!(e.key, "auth.sources");
    let e = err("[[auth.sources]]\ntype = \"magic\"\n");
    assert_eq!(e.key, "auth.sources[0].type");
}

#[test]
fn missing_or_short_secrets_are_errors() {
    let cfg = parse_str(MINIMAL, Path::new("t.toml")).unwrap();
    let e = resolve(
        PathBuf::from("t.toml"),
        cfg.clone(),
        &env_with(&[("AUTHGATE_ASSERTION_SECRET", ASSERTION_SECRET)]),
    )
    .unwrap_err();
    assert_eq!(e.key, "auth.sources[0].secret_env");
    assert!(e.message.contains("BETTER_AUTH_SECRET"), "{e}");
    let e = resolve(
        PathBuf::from("t.toml"),
        cfg.clone(),
        &env_with(&[
            ("BETTER_AUTH_SECRET", "short"),
            ("AUTHGATE_ASSERTION_SECRET", ASSERTION_SECRET),
        ]),
    )
    .unwrap_err();
    assert!(e.message.contains("at least 32"), "{e}");
    assert!(
        !e.to_string().contains("short"),
        "the secret itself is never printed"
    );
    let e = resolve(
        PathBuf::from("t.toml"),
        cfg,
        &env_with(&[("BETTER_AUTH_SECRET", GOOD_SECRET)]),
    )
    .unwrap_err();
    assert_eq!(e.key, "identity.assertion_secret_env");
}

#[test]
fn settings_debug_never_shows_secrets() {
    let s = load_text(MINIMAL).unwrap();
    let debug = format!("{s:?}");
    assert!(!debug.contains(GOOD_SECRET));
    assert!(!debug.contains(ASSERTION_SECRET));
}

#[test]
fn one_secret_for_tokens_and_assertions_is_refused() {
    let cfg = parse_str(MINIMAL, Path::new("t.toml")).unwrap();
    let e = resolve(
        PathBuf::from("t.toml"),
        cfg,
        &env_with(&[
            ("BETTER_AUTH_SECRET", GOOD_SECRET),
            ("AUTHGATE_ASSERTION_SECRET", GOOD_SECRET),
        ]),
    )
    .unwrap_err();
    assert_eq!(e.key, "identity.assertion_secret_env");
    assert!(e.message.contains("must differ"), "{e}");
    assert!(!e.to_string().contains(GOOD_SECRET));
}

#[test]
fn secrets_come_from_files_before_variables() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hs.key"), format!("{GOOD_SECRET}\n")).unwrap();
    let assertion = dir.path().join("assertion.key");
    std::fs::write(&assertion, format!("{ASSERTION_SECRET}\r\n")).unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "[[auth.sources]]\ntype = \"shared_secret\"\nsecret_file = \"hs.key\"\n",
    )
    .unwrap();
    let assertion_path = assertion.display().to_string();
    let env = env_with(&[("AUTHGATE_ASSERTION_SECRET_FILE", assertion_path.as_str())]);
    let s = load(Some(&path), &Overrides::default(), &env).unwrap();
    assert_eq!(s.auth.sources.len(), 1);
    assert!(
        s.secret_sources.iter().any(|x| x.contains("hs.key")),
        "{:?}",
        s.secret_sources
    );
    assert!(s
        .secret_sources
        .iter()
        .any(|x| x.starts_with("AUTHGATE_ASSERTION_SECRET_FILE=")));
    // The trailing newline is not part of the key: the same secret in a variable
    // is refused as identical to the file's.
    let env = env_with(&[("AUTHGATE_ASSERTION_SECRET", GOOD_SECRET)]);
    let e = load(Some(&path), &Overrides::default(), &env).unwrap_err();
    assert!(e.message.contains("must differ"), "{e}");
    // A missing file names the key and the path, never a value.
    std::fs::remove_file(dir.path().join("hs.key")).unwrap();
    let e = load(Some(&path), &Overrides::default(), &secrets()).unwrap_err();
    assert_eq!(e.key, "auth.sources[0].secret_file");
    assert!(e.message.contains("hs.key"), "{e}");
}

#[test]
fn jwks_flags_set_issuer_and_audience_and_unchecked_sources_warn() {
    let o = Overrides {
        jwks_url: Some("http://auth:3000/api/auth/jwks".into()),
        jwks_issuer: vec!["http://auth:3000".into()],
        jwks_audience: vec!["a".into(), " b ".into()],
        ..Overrides::default()
    };
    let env = env_with(&[("AUTHGATE_ASSERTION_SECRET", ASSERTION_SECRET)]);
    let s = load(None, &o, &env).unwrap();
    assert_eq!(
        s.auth.sources.len(),
        1,
        "JWKS only: no BETTER_AUTH_SECRET needed"
    );
    let text = crate::commands::check_report(&s).unwrap();
    assert!(text.contains("issuer = [\"http://auth:3000\"]"), "{text}");
    assert!(
        text.contains("audience = [\n    \"a\",\n    \"b\",\n]") || text.contains("\"b\""),
        "{text}"
    );
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let o = Overrides {
        jwks_url: Some("http://auth:3000/api/auth/jwks".into()),
        ..Overrides::default()
    };
    let s = load(None, &o, &env).unwrap();
    assert!(
        s.warnings.iter().any(|w| w.contains("neither iss nor aud")),
        "{:?}",
        s.warnings
    );
    let o = Overrides {
        jwks_issuer: vec!["http://auth:3000".into()],
        ..Overrides::default()
    };
    let e = load(None, &o, &secrets()).unwrap_err();
    assert_eq!(e.key, "AUTHGATE_JWKS_ISSUER");
}

#[test]
fn session_cookie_with_pinned_secret_warns() {
    let s = load_text(
        "[[auth.sources]]\ntype = \"shared_secret\"\nissuer = [\"https://a\"]\n[auth.session_cookie]\nenabled = true\n",
    )
    .unwrap();
    assert!(
        s.warnings.iter().any(|w| w.contains("session cookie")),
        "{:?}",
        s.warnings
    );
}

#[test]
fn source_keys_of_another_type_are_refused_by_the_schema() {
    let e = err("[[auth.sources]]\ntype = \"shared_secret\"\nurl = \"http://x\"\n");
    assert_eq!(e.key, "auth.sources[0].url");
    assert!(e.message.contains("unknown field"), "{e}");
    let e = err("[[auth.sources]]\ntype = \"jwks_url\"\n");
    assert_eq!(e.key, "auth.sources[0].url");
    assert!(e.message.contains("missing field"), "{e}");
    let e = err("[[auth.sources]]\ntype = \"jwks_file\"\npath = \"x\"\nrefresh_secs = 1\n");
    assert_eq!(e.key, "auth.sources[0].refresh_secs");
}

#[test]
fn an_open_admin_port_and_trust_in_everyone_warn() {
    let s = load_text(&format!(
        "{MINIMAL}[admin]\nlisten = \"0.0.0.0:9901\"\n[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"::/0\"]\n"
    ))
    .unwrap();
    assert!(
        s.warnings.iter().any(|w| w.starts_with("`admin.listen`")),
        "{:?}",
        s.warnings
    );
    assert!(
        s.warnings
            .iter()
            .any(|w| w.starts_with("`server.trusted_proxies[1]`") && w.contains("every peer")),
        "{:?}",
        s.warnings
    );
    assert!(!s.warnings.iter().any(|w| w.contains("trusted_proxies[0]")));
    let s = load_text(&format!(
        "{MINIMAL}[server]\ntrusted_proxies = [\"0.0.0.0/0\"]\n"
    ))
    .unwrap();
    assert!(
        s.warnings.iter().any(|w| w.contains("every peer")),
        "{:?}",
        s.warnings
    );
}

#[test]
fn an_oidc_source_pins_iss_to_its_issuer() {
    let s = load_text(
        "[[auth.sources]]\ntype = \"oidc\"\nissuer = \"https://auth.example.com/api/auth\"\naudience = [\"https://api.example.com\"]\ntimeout_ms = 500\n",
    )
    .unwrap();
    let [crate::auth::KeySource::Remote(remote)] = s.auth.sources.as_slice() else {
        panic!("one remote source: {:?}", s.auth.sources);
    };
    let config = remote.config();
    assert_eq!(
        config.location,
        crate::auth::JwksLocation::Discovered {
            issuer: "https://auth.example.com/api/auth".into()
        }
    );
    assert_eq!(config.rules.issuer, ["https://auth.example.com/api/auth"]);
    assert_eq!(config.rules.audience, ["https://api.example.com"]);
    assert_eq!(config.timeout, Duration::from_millis(500));
    assert_eq!(
        config.refresh,
        Duration::from_secs(300),
        "jwks_url's default"
    );
    assert_eq!(remote.url(), "https://auth.example.com/api/auth");
    assert!(
        !s.warnings.iter().any(|w| w.contains("neither iss nor aud")),
        "iss is always checked: {:?}",
        s.warnings
    );
}

#[test]
fn redis_in_the_file_turns_revocation_on_and_its_password_never_shows() {
    let s = load_text(&format!(
        "{MINIMAL}[redis]\nurl = \"redis://:hunter2@cache:6379\"\n"
    ))
    .unwrap();
    let redis = s.redis.as_ref().unwrap();
    assert_eq!(redis.url.to_string(), "redis://:***@cache:6379");
    assert_eq!(redis.timeout, Duration::from_millis(50));
    assert_eq!(redis.key_prefix, "authgate:");
    let revocation = s.revocation.as_ref().unwrap();
    assert_eq!(revocation.retention, 900 + 30, "lifetime plus leeway");
    assert!(!revocation.require_iat);
    for warned in ["`redis.url`", "`revocation.require_iat`"] {
        assert!(
            s.warnings.iter().any(|w| w.starts_with(warned)),
            "{warned}: {:?}",
            s.warnings
        );
    }
    let text = crate::commands::check_report(&s).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("redis://:***@cache:6379"), "{text}");
    assert!(!format!("{s:?}").contains("hunter2"));
}

#[test]
fn the_redis_url_may_come_from_a_file_or_the_environment_alone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("redis_url"),
        "rediss://:from-file@cache:6380/1\n",
    )
    .unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        format!("{MINIMAL}[redis]\nurl_file = \"redis_url\"\n[revocation]\nrequire_iat = true\nmax_token_lifetime_secs = 60\n"),
    )
    .unwrap();
    let s = load(Some(&path), &Overrides::default(), &secrets()).unwrap();
    assert_eq!(
        s.redis.as_ref().unwrap().url.to_string(),
        "rediss://:***@cache:6380/1"
    );
    assert_eq!(s.revocation.as_ref().unwrap().retention, 90);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    assert!(
        s.secret_sources
            .iter()
            .any(|w| w.contains("redis_url (Redis URL)")),
        "{:?}",
        s.secret_sources
    );

    let env = env_with(&[
        ("BETTER_AUTH_SECRET", GOOD_SECRET),
        ("AUTHGATE_ASSERTION_SECRET", ASSERTION_SECRET),
        ("AUTHGATE_REDIS_URL", "redis://127.0.0.1:6390"),
    ]);
    let path = dir.path().join("minimal.toml");
    std::fs::write(&path, MINIMAL).unwrap();
    let s = load(Some(&path), &Overrides::default(), &env).unwrap();
    assert_eq!(
        s.redis.as_ref().unwrap().url.to_string(),
        "redis://127.0.0.1:6390",
        "the variable alone turns Redis on"
    );
    let s = load_text(&format!(
        "{MINIMAL}[redis]\nurl = \"redis://cache\"\n[revocation]\nenabled = false\n"
    ))
    .unwrap();
    assert!(s.redis.is_some() && s.revocation.is_none());
    let s = load_text(MINIMAL).unwrap();
    assert!(
        s.redis.is_none() && s.revocation.is_none(),
        "no Redis: no revocation"
    );
}

#[test]
fn an_oidc_issuer_must_be_an_absolute_http_url_without_query_or_fragment() {
    let source = |issuer: &str| format!("[[auth.sources]]\ntype = \"oidc\"\nissuer = {issuer}\n");
    for (issuer, why) in [
        ("\"auth.example.com\"", "not an absolute URL"),
        ("\"/api/auth\"", "not an absolute URL"),
        (
            "\"ftp://auth.example.com\"",
            "expected an http:// or https:// URL",
        ),
        (
            "\"https://auth.example.com/?tenant=a\"",
            "no query or fragment",
        ),
        ("\"https://auth.example.com/#x\"", "no query or fragment"),
        (
            "\"https://user:hunter2@auth.example.com\"",
            "no user name or password",
        ),
    ] {
        let e = err(&source(issuer));
        assert_eq!(e.key, "auth.sources[0].issuer", "{issuer}: {e}");
        assert_eq!(e.file, PathBuf::from("test.toml"));
        assert!(e.message.contains(why), "{issuer}: {e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
    // A type error inside a tagged source names the source (serde buffers it).
    let e = err(&source("[\"https://auth.example.com\"]"));
    assert_eq!(e.key, "auth.sources[0]");
    assert!(e.message.contains("invalid type"), "{e}");
    let e = err("[[auth.sources]]\ntype = \"oidc\"\n");
    assert_eq!(e.key, "auth.sources[0].issuer");
    assert!(e.message.contains("missing field"), "{e}");
    let e = err("[[auth.sources]]\ntype = \"oidc\"\nissuer = \"https://a.example\"\nurl = \"https://a.example/jwks\"\n");
    assert_eq!(e.key, "auth.sources[0].url");
    let e = err(
        "[[auth.sources]]\ntype = \"oidc\"\nissuer = \"https://a.example\"\nrefresh_secs = 0\n",
    );
    assert_eq!(e.key, "auth.sources[0].refresh_secs");
    let e = err("[[auth.sources]]\ntype = \"oidc\"\nissuer = \"https://a.example\"\nalgorithms = [\"HS256\"]\n");
    assert_eq!(e.key, "auth.sources[0].algorithms");
}

#[test]
fn rate_limits_resolve_and_routes_apply_them_by_name() {
    let s = load_text(&format!(
        "{MINIMAL}[[rate_limits]]\nname = \"per-org\"\nkey = \"claim:org\"\nrate = 100\nper = \"1m\"\n\n[[rate_limits]]\nname = \"per-key\"\nkey = \"header:X-Api-Key\"\nrate = 5\nper = \"1s\"\nburst = 1\non_redis_error = \"deny\"\n\n[[routes]]\npath = \"/api/**\"\nrate_limit = [\"per-org\", \"per-key\"]\n"
    ))
    .unwrap();
    let [org, key] = &s.rate_limits[..] else {
        panic!("{:?}", s.rate_limits)
    };
    assert_eq!(
        (org.rate, org.per_secs, org.burst),
        (100, 60, 100),
        "burst defaults to rate"
    );
    assert_eq!(org.key, crate::rate_limit::LimitKey::Claim("org".into()));
    assert_eq!(key.on_redis_error, crate::rate_limit::Fallback::Deny);
    assert_eq!(
        s.routes.lookup("GET", "/api/x").rate_limits(),
        ["per-org", "per-key"]
    );
    assert!(
        s.auth
            .verifier
            .kept_claims
            .for_rules
            .contains(&"org".to_string()),
        "the claim a policy counts by is kept"
    );
    let e = err(&format!(
        "{MINIMAL}[[rate_limits]]\nname = \"a\"\nkey = \"sub\"\nrate = 1\nper = \"1m\"\n[[routes]]\npath = \"/x\"\nrate_limit = [\"a\", \"a\"]\n"
    ));
    assert_eq!(e.key, "routes[0].rate_limit[1]");
}
