//! Command line and environment, checked once into a [`Config`].
//!
//! Bad configuration is an error naming what is wrong; `main` exits with 64 (EX_USAGE).

use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::builder::TypedValueParser as _;
use clap::Parser;

use crate::db::DatabaseTarget;
use crate::replay::redis::{RedisUrl, DEFAULT_TIMEOUT_MS};
use crate::trust::{AssertionSecret, SecretTooShort};

/// Environment variable holding the HS256 key shared with authgate.
///
/// Read from the environment only, never from a flag, so it does not show up in `ps`.
pub const SECRET_ENV: &str = "AUTHGATE_ASSERTION_SECRET";

/// `upstream-api`: a per-user task API that trusts identity only from authgate.
#[derive(Debug, Parser)]
#[command(
    name = "upstream-api",
    version,
    about,
    after_help = "Environment:\n  AUTHGATE_ASSERTION_SECRET       HS256 key shared with authgate (required, at least 32 bytes)\n  AUTHGATE_ASSERTION_SECRET_FILE  a file holding it instead\n  RUST_LOG                        log filter (default: info)"
)]
pub struct Cli {
    /// Without a subcommand upstream-api serves.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "UPSTREAM_API_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,

    /// Database URL: `postgres://…` for PostgreSQL or `sqlite:…`. Unset: SQLite at --sqlite-path.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// SQLite file used when DATABASE_URL is unset; created if missing.
    #[arg(
        long,
        env = "UPSTREAM_API_SQLITE_PATH",
        default_value = "upstream-api.db"
    )]
    pub sqlite_path: PathBuf,

    /// Expected `iss` of authgate's assertions.
    #[arg(
        long,
        env = "UPSTREAM_API_ASSERTION_ISSUER",
        default_value = "authgate"
    )]
    pub assertion_issuer: String,

    /// This service's name: the `aud` authgate's assertions must carry.
    #[arg(
        long,
        env = "UPSTREAM_API_SERVICE_NAME",
        default_value = "upstream-api"
    )]
    pub service_name: String,

    /// How many live assertion ids (`jti`) to remember against replay; when that many
    /// are live, further requests get 503 until the oldest expire (fail closed).
    #[arg(
        long,
        env = "UPSTREAM_API_REPLAY_CACHE_CAPACITY",
        default_value_t = crate::replay::DEFAULT_CAPACITY,
        value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize)
    )]
    pub replay_cache_capacity: usize,

    /// Redis URL (redis://, rediss://) of a replay record shared by every replica;
    /// unset: the in-process record. Prefer REDIS_URL_FILE for a URL with a password.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<Sensitive>,

    /// A file holding the Redis URL (one trailing newline trimmed); not with REDIS_URL.
    #[arg(long, env = "REDIS_URL_FILE")]
    pub redis_url_file: Option<PathBuf>,

    /// Milliseconds Redis may take to answer one replay check before the request gets
    /// 503 (1 to 60000).
    #[arg(
        long,
        env = "REDIS_TIMEOUT_MS",
        default_value_t = DEFAULT_TIMEOUT_MS,
        value_parser = clap::value_parser!(u64).range(1..=60_000)
    )]
    pub redis_timeout_ms: u64,
}

/// A command-line or environment value that may carry a password: `Debug` shows `***`.
#[derive(Clone)]
pub struct Sensitive(String);

impl From<String> for Sensitive {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// GET an http:// URL (e.g. http://127.0.0.1:8000/healthz); exit 0 on 200, else 1
    /// with the reason on stderr. A container health check without curl in the image.
    Probe(ProbeArgs),
}

/// `upstream-api probe URL [--timeout-ms N]`.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// The URL.
    pub url: String,

    /// Milliseconds allowed for the whole exchange (connect, request, response head).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,
}

/// Where the secret may also come from: a file this variable names (the Docker and
/// Kubernetes secrets convention); one trailing newline is trimmed.
pub const SECRET_FILE_ENV: &str = "AUTHGATE_ASSERTION_SECRET_FILE";

/// The secret from [`SECRET_FILE_ENV`]'s file or from [`SECRET_ENV`]; setting both is
/// an error (which one would win is not obvious).
pub fn secret_from_env(
    file: Option<OsString>,
    value: Option<OsString>,
) -> Result<Option<OsString>, ConfigError> {
    match (file, value) {
        (Some(_), Some(_)) => Err(ConfigError::TwoSecrets),
        (Some(path), None) => match read_value_file(Path::new(&path)) {
            Ok(secret) => Ok(Some(OsString::from(secret))),
            Err(FileError::NotUtf8) => Err(ConfigError::SecretNotUtf8),
            Err(err) => Err(ConfigError::SecretFile(err.describe(Path::new(&path)))),
        },
        (None, value) => Ok(value),
    }
}

/// Why a `_FILE` could not be used.
enum FileError {
    Read(std::io::Error),
    NotUtf8,
}

impl FileError {
    fn describe(&self, path: &Path) -> String {
        match self {
            Self::Read(err) => format!("{}: {err}", path.display()),
            Self::NotUtf8 => format!("{}: not valid UTF-8", path.display()),
        }
    }
}

/// The text of a `_FILE` (the Docker and Kubernetes secrets convention), one trailing
/// newline (`\n` or `\r\n`) trimmed.
fn read_value_file(path: &Path) -> Result<String, FileError> {
    let mut bytes = std::fs::read(path).map_err(FileError::Read)?;
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    String::from_utf8(bytes).map_err(|_| FileError::NotUtf8)
}

/// Validated configuration.
#[derive(Debug)]
pub struct Config {
    /// Address to bind.
    pub listen: SocketAddr,
    /// Where the tasks live.
    pub database: DatabaseTarget,
    /// Key for the assertions.
    pub secret: AssertionSecret,
    /// Expected `iss`.
    pub assertion_issuer: String,
    /// Expected `aud`.
    pub service_name: String,
    /// Live assertion ids remembered against replay (in-process record only).
    pub replay_cache_capacity: usize,
    /// The shared replay record, when a Redis URL is set.
    pub redis: Option<RedisSettings>,
}

/// Where the shared replay record lives and how long a check may wait.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// The server (`Debug` and `Display` hide its password).
    pub url: RedisUrl,
    /// Longest wait for one reply before the request gets 503.
    pub timeout: Duration,
}

/// What is wrong with the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The secret is not set.
    #[error("{SECRET_ENV} is not set: upstream-api needs the secret it shares with authgate")]
    MissingSecret,
    /// The secret is not valid UTF-8.
    #[error("{SECRET_ENV} is not valid UTF-8")]
    SecretNotUtf8,
    /// The secret is too short.
    #[error(transparent)]
    SecretTooShort(#[from] SecretTooShort),
    /// The database URL names a backend we do not support.
    #[error("DATABASE_URL must start with postgres://, postgresql:// or sqlite:")]
    UnsupportedDatabaseUrl,
    /// An issuer or service name is empty.
    #[error("--{0} must not be empty")]
    Empty(&'static str),
    /// Both the secret and a secret file are set.
    #[error("set {SECRET_ENV} or {SECRET_FILE_ENV}, not both")]
    TwoSecrets,
    /// The secret file cannot be read.
    #[error("cannot read {SECRET_FILE_ENV} ({0})")]
    SecretFile(String),
    /// Both a Redis URL and a Redis URL file are set.
    #[error("set REDIS_URL (--redis-url) or REDIS_URL_FILE (--redis-url-file), not both")]
    TwoRedisUrls,
    /// The Redis URL file cannot be read.
    #[error("cannot read REDIS_URL_FILE ({0})")]
    RedisUrlFile(String),
    /// The Redis URL is not usable (the message never contains the URL).
    #[error("the Redis URL is not usable: {0}")]
    RedisUrl(String),
}

impl Config {
    /// Checks `cli` plus the secret from the environment ([`secret_from_env`]).
    pub fn from_env(cli: Cli) -> Result<Self, ConfigError> {
        let secret = secret_from_env(
            std::env::var_os(SECRET_FILE_ENV),
            std::env::var_os(SECRET_ENV),
        )?;
        Self::from_cli(cli, secret)
    }

    /// Checks `cli` plus the secret (the value of [`SECRET_ENV`], if set).
    pub fn from_cli(cli: Cli, secret: Option<OsString>) -> Result<Self, ConfigError> {
        // Destructured whole so a new flag cannot be forgotten here.
        let Cli {
            command: _,
            listen,
            database_url,
            sqlite_path,
            assertion_issuer,
            service_name,
            replay_cache_capacity,
            redis_url,
            redis_url_file,
            redis_timeout_ms,
        } = cli;

        let secret = match secret {
            None => return Err(ConfigError::MissingSecret),
            Some(value) if value.is_empty() => return Err(ConfigError::MissingSecret),
            Some(value) => value
                .into_string()
                .map_err(|_| ConfigError::SecretNotUtf8)?,
        };
        let secret = AssertionSecret::new(secret)?;

        let database = match database_url.filter(|url| !url.trim().is_empty()) {
            None => DatabaseTarget::SqliteFile(sqlite_path),
            Some(url) => {
                let supported = ["postgres://", "postgresql://", "sqlite:"]
                    .iter()
                    .any(|scheme| url.starts_with(scheme));
                if !supported {
                    return Err(ConfigError::UnsupportedDatabaseUrl);
                }
                DatabaseTarget::Url(url)
            }
        };

        if assertion_issuer.trim().is_empty() {
            return Err(ConfigError::Empty("assertion-issuer"));
        }
        if service_name.trim().is_empty() {
            return Err(ConfigError::Empty("service-name"));
        }

        let redis =
            redis_url_from(redis_url, redis_url_file.as_deref())?.map(|url| RedisSettings {
                url,
                timeout: Duration::from_millis(redis_timeout_ms),
            });

        Ok(Self {
            listen,
            database,
            secret,
            assertion_issuer,
            service_name,
            replay_cache_capacity,
            redis,
        })
    }
}

/// The Redis URL from `--redis-url`/`REDIS_URL` or from the file `REDIS_URL_FILE`
/// names; both is an error, an empty value is none.
fn redis_url_from(
    value: Option<Sensitive>,
    file: Option<&Path>,
) -> Result<Option<RedisUrl>, ConfigError> {
    let value = value.filter(|Sensitive(text)| !text.trim().is_empty());
    let text = match (value, file) {
        (Some(_), Some(_)) => return Err(ConfigError::TwoRedisUrls),
        (Some(Sensitive(text)), None) => text,
        (None, Some(path)) => {
            read_value_file(path).map_err(|err| ConfigError::RedisUrlFile(err.describe(path)))?
        }
        (None, None) => return Ok(None),
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    RedisUrl::parse(&text)
        .map(Some)
        .map_err(|err| ConfigError::RedisUrl(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "config-test-secret-0123456789abcdef";

    fn cli(args: &[&str]) -> Cli {
        let mut argv = vec!["upstream-api"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).expect("parse")
    }

    #[test]
    fn missing_or_empty_secret_is_an_error() {
        assert!(matches!(
            Config::from_cli(cli(&[]), None),
            Err(ConfigError::MissingSecret)
        ));
        assert!(matches!(
            Config::from_cli(cli(&[]), Some(OsString::new())),
            Err(ConfigError::MissingSecret)
        ));
    }

    #[test]
    fn short_secret_is_an_error() {
        let err = Config::from_cli(cli(&[]), Some("too-short".into())).expect_err("short");
        assert!(err.to_string().contains("at least 32"), "{err}");
    }

    #[test]
    fn sqlite_is_the_default_and_postgres_is_accepted() {
        let config = Config::from_cli(
            cli(&["--sqlite-path", "/tmp/x.db", "--listen", "127.0.0.1:0"]),
            Some(SECRET.into()),
        )
        .expect("valid");
        assert_eq!(config.listen.port(), 0);
        // The environment of the test run may set these; only check defaults when it does not.
        if std::env::var_os("DATABASE_URL").is_none() {
            assert!(
                matches!(config.database, DatabaseTarget::SqliteFile(ref p) if p.ends_with("x.db"))
            );
        }
        if std::env::var_os("UPSTREAM_API_ASSERTION_ISSUER").is_none() {
            assert_eq!(config.assertion_issuer, "authgate");
        }
        if std::env::var_os("UPSTREAM_API_SERVICE_NAME").is_none() {
            assert_eq!(config.service_name, "upstream-api");
        }

        let config = Config::from_cli(
            cli(&["--database-url", "postgres://u@localhost/db"]),
            Some(SECRET.into()),
        )
        .expect("valid");
        assert!(matches!(config.database, DatabaseTarget::Url(_)));
    }

    #[test]
    fn replay_cache_capacity_defaults_and_must_be_positive() {
        if std::env::var_os("UPSTREAM_API_REPLAY_CACHE_CAPACITY").is_none() {
            let config = Config::from_cli(cli(&[]), Some(SECRET.into())).expect("valid");
            assert_eq!(config.replay_cache_capacity, 100_000);
        }
        let config = Config::from_cli(cli(&["--replay-cache-capacity", "5"]), Some(SECRET.into()))
            .expect("valid");
        assert_eq!(config.replay_cache_capacity, 5);
        for bad in ["0", "-1", "many"] {
            let parsed = Cli::try_parse_from(["upstream-api", "--replay-cache-capacity", bad]);
            assert!(parsed.is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn unsupported_database_url_is_an_error() {
        let result = Config::from_cli(
            cli(&["--database-url", "mysql://localhost/db"]),
            Some(SECRET.into()),
        );
        assert!(matches!(result, Err(ConfigError::UnsupportedDatabaseUrl)));
    }

    #[test]
    fn redis_is_off_by_default_and_its_timeout_is_50_ms() {
        let config = Config::from_cli(cli(&[]), Some(SECRET.into())).expect("valid");
        if std::env::var_os("REDIS_URL").is_none() && std::env::var_os("REDIS_URL_FILE").is_none() {
            assert!(config.redis.is_none());
        }
        let config = Config::from_cli(
            cli(&["--redis-url", "redis://127.0.0.1:6390/1"]),
            Some(SECRET.into()),
        )
        .expect("valid");
        let redis = config.redis.expect("redis set");
        assert_eq!(redis.url.redacted(), "redis://127.0.0.1:6390/1");
        if std::env::var_os("REDIS_TIMEOUT_MS").is_none() {
            assert_eq!(redis.timeout, Duration::from_millis(50));
        }
        let config = Config::from_cli(
            cli(&["--redis-url", "redis://h", "--redis-timeout-ms", "250"]),
            Some(SECRET.into()),
        )
        .expect("valid");
        assert_eq!(
            config.redis.map(|r| r.timeout),
            Some(Duration::from_millis(250))
        );
        for bad in ["0", "60001", "soon"] {
            let parsed = Cli::try_parse_from(["upstream-api", "--redis-timeout-ms", bad]);
            assert!(parsed.is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn the_redis_url_comes_from_a_file_never_both_and_its_password_stays_hidden() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("redis-url");
        std::fs::write(&file, "redis://:hunter2hunter2@127.0.0.1:6390\n").expect("write");
        let path = file.to_str().expect("utf-8 path");
        let config =
            Config::from_cli(cli(&["--redis-url-file", path]), Some(SECRET.into())).expect("valid");
        let shown = format!("{config:?}");
        assert!(shown.contains("redis://:***@127.0.0.1:6390"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");

        let both = cli(&["--redis-url-file", path, "--redis-url", "redis://h"]);
        assert!(!format!("{both:?}").contains("redis://h"), "{both:?}");
        assert!(matches!(
            Config::from_cli(both, Some(SECRET.into())),
            Err(ConfigError::TwoRedisUrls)
        ));
        let missing = dir.path().join("absent");
        let missing = missing.to_str().expect("utf-8 path");
        assert!(matches!(
            Config::from_cli(cli(&["--redis-url-file", missing]), Some(SECRET.into())),
            Err(ConfigError::RedisUrlFile(_))
        ));
        let err = Config::from_cli(
            cli(&["--redis-url", "http://:hunter2hunter2@h"]),
            Some(SECRET.into()),
        )
        .expect_err("not a redis URL");
        assert!(matches!(err, ConfigError::RedisUrl(_)), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn config_debug_hides_the_secret() {
        let config = Config::from_cli(cli(&[]), Some(SECRET.into())).expect("valid");
        assert!(!format!("{config:?}").contains(SECRET));
    }
}
