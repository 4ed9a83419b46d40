//! Command line and environment, checked once into a [`Config`].
//!
//! Bad configuration is an error naming what is wrong; `main` exits with 64 (EX_USAGE).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::TypedValueParser as _;
use clap::Parser;

use crate::db::DatabaseTarget;
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
    after_help = "Environment:\n  AUTHGATE_ASSERTION_SECRET  HS256 key shared with authgate (required, at least 32 bytes)\n  RUST_LOG                   log filter (default: info)"
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
}

/// Subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// GET an http:// URL (e.g. http://127.0.0.1:8000/healthz); exit 0 on 200, else 1.
    /// A container health check without curl in the image.
    Probe {
        /// The URL.
        url: String,
    },
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
        (Some(path), None) => {
            let mut bytes = std::fs::read(&path).map_err(|e| {
                ConfigError::SecretFile(format!("{}: {e}", PathBuf::from(&path).display()))
            })?;
            if bytes.last() == Some(&b'\n') {
                bytes.pop();
                if bytes.last() == Some(&b'\r') {
                    bytes.pop();
                }
            }
            String::from_utf8(bytes)
                .map(|s| Some(OsString::from(s)))
                .map_err(|_| ConfigError::SecretNotUtf8)
        }
        (None, value) => Ok(value),
    }
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
    /// Live assertion ids remembered against replay.
    pub replay_cache_capacity: usize,
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
}

impl Config {
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

        Ok(Self {
            listen,
            database,
            secret,
            assertion_issuer,
            service_name,
            replay_cache_capacity,
        })
    }
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
    fn config_debug_hides_the_secret() {
        let config = Config::from_cli(cli(&[]), Some(SECRET.into())).expect("valid");
        assert!(!format!("{config:?}").contains(SECRET));
    }
}
