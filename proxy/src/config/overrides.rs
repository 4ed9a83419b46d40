//! Flags and `AUTHGATE_*` environment variables over the file. clap reads this struct
//! directly (`#[command(flatten)]` in the CLI), so a new flag is one field here plus
//! one line in [`Overrides::apply`], which destructures the struct so that a field
//! left unapplied fails to compile.

use clap::Args;

use std::path::Path;

use super::schema::{FileConfig, JwksUrlSource, LogFormat, SourceSection};

/// `--log-format`: the command line's own spelling, converted into the file's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormatFlag {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl From<LogFormatFlag> for LogFormat {
    fn from(flag: LogFormatFlag) -> Self {
        match flag {
            LogFormatFlag::Text => Self::Text,
            LogFormatFlag::Json => Self::Json,
        }
    }
}

/// Values from CLI flags or environment variables (clap merges the two, flag first).
/// `None` keeps the file's value.
#[derive(Debug, Clone, Default, Args)]
pub struct Overrides {
    /// Listen address, IP:PORT (port 0 picks a free port).
    #[arg(long, env = "AUTHGATE_LISTEN", global = true)]
    pub listen: Option<String>,
    /// Upstream URL, http://host:port.
    #[arg(long, env = "AUTHGATE_UPSTREAM", global = true)]
    pub upstream: Option<String>,
    /// Upstream name (the `aud` of the identity assertion).
    #[arg(long, env = "AUTHGATE_UPSTREAM_NAME", global = true)]
    pub upstream_name: Option<String>,
    /// Log format.
    #[arg(long, env = "AUTHGATE_LOG_FORMAT", global = true, value_enum)]
    pub log_format: Option<LogFormatFlag>,
    /// Worker threads.
    #[arg(long, env = "AUTHGATE_THREADS", global = true)]
    pub threads: Option<usize>,
    /// Seconds SIGTERM waits for in-flight requests.
    #[arg(long, env = "AUTHGATE_GRACE_PERIOD_SECS", global = true)]
    pub grace_period_secs: Option<u64>,
    /// JWKS URL to verify asymmetric tokens with (adds a `jwks_url` key source), e.g.
    /// Better Auth's http://auth:3000/api/auth/jwks.
    #[arg(long, env = "AUTHGATE_JWKS_URL", global = true)]
    pub jwks_url: Option<String>,
    /// Accepted `iss` of the `--jwks-url` source, comma-separated (Better Auth: its
    /// base URL, e.g. http://localhost:3000).
    #[arg(
        long,
        env = "AUTHGATE_JWKS_ISSUER",
        global = true,
        value_delimiter = ','
    )]
    pub jwks_issuer: Vec<String>,
    /// Accepted `aud` of the `--jwks-url` source, comma-separated.
    #[arg(
        long,
        env = "AUTHGATE_JWKS_AUDIENCE",
        global = true,
        value_delimiter = ','
    )]
    pub jwks_audience: Vec<String>,
    /// Admin listener address, IP:PORT (`/metrics`, `/healthz`, `/readyz`).
    #[arg(long, env = "AUTHGATE_ADMIN_LISTEN", global = true)]
    pub admin_listen: Option<String>,
    /// TLS certificate chain (PEM) for the proxy listener; turns TLS on with
    /// `--tls-key-file`. A relative path is relative to the working directory.
    #[arg(long, env = "AUTHGATE_TLS_CERT_FILE", global = true)]
    pub tls_cert_file: Option<String>,
    /// TLS private key (PEM) for the proxy listener.
    #[arg(long, env = "AUTHGATE_TLS_KEY_FILE", global = true)]
    pub tls_key_file: Option<String>,
}

impl Overrides {
    /// Writes every set value into `cfg`.
    pub fn apply(self, cfg: &mut FileConfig) {
        let Self {
            listen,
            upstream,
            upstream_name,
            log_format,
            threads,
            grace_period_secs,
            jwks_url,
            jwks_issuer,
            jwks_audience,
            admin_listen,
            tls_cert_file,
            tls_key_file,
        } = self;
        set(&mut cfg.server.listen, listen);
        set(&mut cfg.upstream.url, upstream);
        set(&mut cfg.upstream.name, upstream_name);
        set(&mut cfg.server.log_format, log_format.map(LogFormat::from));
        set(&mut cfg.server.threads, threads.map(Some));
        set(&mut cfg.server.grace_period_secs, grace_period_secs);
        set(&mut cfg.admin.listen, admin_listen);
        if tls_cert_file.is_some() || tls_key_file.is_some() {
            let tls = cfg.server.tls.get_or_insert_with(Default::default);
            set(&mut tls.cert_file, tls_cert_file.map(from_working_dir));
            set(&mut tls.key_file, tls_key_file.map(from_working_dir));
        }
        let trimmed = |v: Vec<String>| -> Vec<String> {
            v.into_iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        if let Some(url) = jwks_url {
            let mut source = JwksUrlSource::for_url(url);
            source.issuer = trimmed(jwks_issuer);
            source.audience = trimmed(jwks_audience);
            cfg.auth.sources.push(SourceSection::JwksUrl(source));
        }
    }
}

/// A path given on the command line or in the environment, made absolute against
/// the working directory (paths in the file are relative to the file).
fn from_working_dir(path: String) -> String {
    match std::env::current_dir() {
        Ok(dir) if Path::new(&path).is_relative() => dir.join(path).display().to_string(),
        _ => path,
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}
