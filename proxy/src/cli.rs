//! Command line: `authgate` runs the proxy, `authgate check` validates a config,
//! `authgate dev-token` mints an HS256 token for local trials.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

use crate::config::Overrides;

/// Auth-verifying reverse proxy for Better Auth JWTs.
#[derive(Debug, Parser)]
#[command(name = "authgate", version, about)]
pub struct Cli {
    /// What to do; without a subcommand authgate runs the proxy.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings shared by every subcommand.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration and print the effective settings (secrets redacted).
    /// Exits 64 on any error.
    Check,
    /// Print an HS256 token signed with BETTER_AUTH_SECRET, for local testing only.
    DevToken {
        /// The `sub` claim (user id).
        #[arg(long)]
        sub: String,
        /// The `email` claim.
        #[arg(long)]
        email: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 900)]
        ttl_secs: u64,
    },
}

/// Config file and overrides. Precedence: flag > environment > file > default.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Config file (TOML). Without one, built-in defaults apply.
    #[arg(long, short = 'c', env = "AUTHGATE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Listen address, IP:PORT (port 0 picks a free port).
    #[arg(long, env = "AUTHGATE_LISTEN", global = true)]
    pub listen: Option<String>,
    /// Upstream URL, http://host:port.
    #[arg(long, env = "AUTHGATE_UPSTREAM", global = true)]
    pub upstream: Option<String>,
    /// Upstream name (the `aud` of the identity assertion).
    #[arg(long, env = "AUTHGATE_UPSTREAM_NAME", global = true)]
    pub upstream_name: Option<String>,
    /// Log format: text or json.
    #[arg(long, env = "AUTHGATE_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
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
}

impl RunArgs {
    /// The overrides to apply over the file.
    pub fn overrides(&self) -> Overrides {
        // Destructured whole so a new flag that is not wired in fails to compile.
        let Self {
            config: _,
            listen,
            upstream,
            upstream_name,
            log_format,
            threads,
            grace_period_secs,
            jwks_url,
        } = self.clone();
        Overrides {
            listen,
            upstream,
            upstream_name,
            log_format,
            threads,
            grace_period_secs,
            jwks_url,
        }
    }
}
