//! Command line: `authgate` runs the proxy, `authgate check` validates a config,
//! `authgate dev-token` mints an HS256 token for local trials, `authgate probe`
//! checks a health endpoint (for container health checks without curl), `authgate
//! revoke` revokes tokens on every replica.

use clap::{ArgGroup, Args, Parser, Subcommand};
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
    /// Explain, offline, what authgate would do with one request and why: each step
    /// (canonical path, rule, credential, key, claims, requirements), the status,
    /// and for a request let through the headers the upstream would get. The token
    /// is never printed.
    Explain {
        /// The method, e.g. GET.
        method: String,
        /// The request-target, e.g. /api/bob/tasks?limit=5.
        target: String,
        /// A bearer token (sent as `Authorization: Bearer …`).
        #[arg(long)]
        token: Option<String>,
        /// A header line `Name: value` (repeatable), e.g. a `Cookie`.
        #[arg(short = 'H', long = "header")]
        headers: Vec<String>,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
        /// A JWKS document to use in place of every `jwks_url` and `oidc` source (no fetch).
        #[arg(long)]
        jwks_file: Option<PathBuf>,
        /// The client's address (for `server.trusted_proxies`). Default 127.0.0.1.
        #[arg(long, default_value = "127.0.0.1")]
        peer: std::net::IpAddr,
    },
    /// Revoke tokens on every replica through Redis: a subject's tokens issued before
    /// a moment, or one token by its jti; --list shows what is in force. Exits 64
    /// when the config has no [redis].
    Revoke(RevokeArgs),
    /// GET an http:// URL (e.g. the admin /readyz); exit 0 on 200, 1 otherwise.
    Probe {
        /// The URL to fetch, e.g. http://127.0.0.1:9901/readyz.
        url: String,
        /// Give up after this many milliseconds.
        #[arg(long, default_value_t = 2000)]
        timeout_ms: u64,
    },
}

/// What `authgate revoke` does: exactly one of `--sub`, `--jti`, `--list`.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("what").required(true).args(["sub", "jti", "list"])))]
pub struct RevokeArgs {
    /// Refuse this subject's tokens issued before `--before`.
    #[arg(long)]
    pub sub: Option<String>,
    /// The moment (RFC 3339, e.g. 2026-12-02T10:00:00Z; not in the future). Default
    /// now: every token of the subject issued so far, this second included.
    #[arg(long, requires = "sub")]
    pub before: Option<String>,
    /// Refuse the one token with this `jti`.
    #[arg(long)]
    pub jti: Option<String>,
    /// Print the revocations in force.
    #[arg(long)]
    pub list: bool,
}

/// Config file and overrides. Precedence: flag > environment > file > default.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Config file (TOML). Without one, built-in defaults apply.
    #[arg(long, short = 'c', env = "AUTHGATE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Values over the file's (each also an `AUTHGATE_*` variable).
    #[command(flatten)]
    pub overrides: Overrides,
}
