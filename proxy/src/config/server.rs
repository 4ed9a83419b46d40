//! `[server]` and `[admin]` (and `upstream.keepalive_pool_size`) → the settings
//! fixed for the life of the process ([`ProcessSettings`]) and the `[server]`
//! settings each reload takes afresh ([`ServerSettings`]).

use ipnet::IpNet;
use std::net::SocketAddr;
use std::time::Duration;

use super::context::{probe_path, Ctx};
use super::listener::{self, ListenerSettings};
use super::schema::{self, AdminSection, ServerSection, UpstreamSection};
use crate::error::ConfigError;
use crate::log_format::LogFormat;

/// What needs a restart to change: listeners, threads, shutdown, the log format,
/// the connection limits and Pingora's upstream pool. A reload that changes one
/// says so and keeps the running value (`reload.rs` lists them by destructuring
/// this struct, so a new field cannot be forgotten there).
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessSettings {
    /// The proxy listener.
    pub listen: SocketAddr,
    /// What it speaks: TLS (the certificate files' paths; their contents reload)
    /// or plaintext, with or without h2c.
    pub listener: ListenerSettings,
    /// The admin listener.
    pub admin_listen: SocketAddr,
    /// Most admin connections open at once.
    pub admin_max_connections: usize,
    /// Worker threads, 1–256.
    pub threads: usize,
    /// Longest wait for requests in flight after SIGTERM (and the drain delay).
    pub grace_period: Duration,
    /// How long connections are still accepted after SIGTERM.
    pub drain_delay: Duration,
    /// Text or JSON log lines.
    pub log_format: LogFormat,
    /// Deadline for a whole request head.
    pub header_read_timeout: Duration,
    /// Most proxy connections open at once.
    pub max_connections: usize,
    /// Idle upstream connections Pingora keeps for reuse.
    pub upstream_keepalive_pool_size: usize,
}

/// The `[server]` settings a reload applies to the next requests.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    /// Liveness path answered on the proxy port, when enabled.
    pub health_path: Option<String>,
    /// Readiness path answered on the proxy port, when enabled.
    pub ready_path: Option<String>,
    /// Peers whose forwarding headers are kept.
    pub trusted_proxies: Vec<IpNet>,
    /// An idle kept-alive client connection closes after this.
    pub keepalive_timeout: Duration,
    /// Time for a whole request body, from the end of its head.
    pub body_read_timeout: Duration,
}

fn address(cx: &Ctx<'_>, key: &str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse()
        .map_err(|_| cx.err(key, format!("`{text}` is not an IP:PORT address")))
}

fn seconds(cx: &Ctx<'_>, key: &str, v: u64, min: u64, max: u64) -> Result<Duration, ConfigError> {
    if (min..=max).contains(&v) {
        Ok(Duration::from_secs(v))
    } else {
        Err(cx.err(key, format!("must be between {min} and {max}")))
    }
}

fn at_least_one(cx: &Ctx<'_>, key: &str, v: usize) -> Result<usize, ConfigError> {
    if v == 0 {
        Err(cx.err(key, "must be at least 1"))
    } else {
        Ok(v)
    }
}

/// The CPUs this process may use (Rust reads cgroup quotas), for the default threads.
fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(256))
}

/// `server.trusted_proxies`: CIDRs, or bare addresses meaning just that host.
fn trusted_proxies(cx: &Ctx<'_>, texts: &[String]) -> Result<Vec<IpNet>, ConfigError> {
    let nets = texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    cx.err(
                        format!("server.trusted_proxies[{i}]"),
                        format!("`{text}` is not a CIDR such as 10.0.0.0/8 or an IP address"),
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (i, net) in nets.iter().enumerate() {
        if net.prefix_len() == 0 {
            cx.warn(
                format!("server.trusted_proxies[{i}]"),
                format!("{net} trusts every peer: any client can set X-Forwarded-For, X-Forwarded-Proto and the request id"),
            );
        }
    }
    Ok(nets)
}

/// Validates what needs a restart.
pub(super) fn resolve_process(
    cx: &Ctx<'_>,
    s: &ServerSection,
    admin: &AdminSection,
    upstream: &UpstreamSection,
) -> Result<ProcessSettings, ConfigError> {
    let listen = address(cx, "server.listen", &s.listen)?;
    let admin_listen = address(cx, "admin.listen", &admin.listen)?;
    if listen.port() != 0 && listen == admin_listen {
        return Err(cx.err("admin.listen", "must differ from server.listen"));
    }
    if !admin_listen.ip().is_loopback() {
        cx.warn(
            "admin.listen",
            format!("{admin_listen} is not a loopback address: /metrics and /readyz are open to the network; restrict the port (NetworkPolicy, firewall)"),
        );
    }
    let threads = s.threads.unwrap_or_else(available_cpus);
    if !(1..=256).contains(&threads) {
        return Err(cx.err("server.threads", "must be between 1 and 256"));
    }
    Ok(ProcessSettings {
        listen,
        listener: listener::resolve(cx, s)?,
        admin_listen,
        admin_max_connections: at_least_one(cx, "admin.max_connections", admin.max_connections)?,
        threads,
        grace_period: seconds(cx, "server.grace_period_secs", s.grace_period_secs, 0, 3600)?,
        drain_delay: seconds(cx, "server.drain_delay_secs", s.drain_delay_secs, 0, 3600)?,
        log_format: match s.log_format {
            schema::LogFormat::Text => LogFormat::Text,
            schema::LogFormat::Json => LogFormat::Json,
        },
        header_read_timeout: seconds(
            cx,
            "server.header_read_timeout_secs",
            s.header_read_timeout_secs,
            1,
            600,
        )?,
        max_connections: at_least_one(cx, "server.max_connections", s.max_connections)?,
        upstream_keepalive_pool_size: upstream.keepalive_pool_size,
    })
}

/// Validates what each reload takes afresh.
pub(super) fn resolve(cx: &Ctx<'_>, s: &ServerSection) -> Result<ServerSettings, ConfigError> {
    probe_path(cx, "server.health_path", s.health_path.as_deref(), false)?;
    probe_path(cx, "server.ready_path", s.ready_path.as_deref(), false)?;
    if s.health_path.is_some() && s.health_path == s.ready_path {
        return Err(cx.err("server.ready_path", "must differ from server.health_path"));
    }
    Ok(ServerSettings {
        health_path: s.health_path.clone(),
        ready_path: s.ready_path.clone(),
        trusted_proxies: trusted_proxies(cx, &s.trusted_proxies)?,
        keepalive_timeout: seconds(
            cx,
            "server.keepalive_timeout_secs",
            s.keepalive_timeout_secs,
            1,
            3600,
        )?,
        body_read_timeout: seconds(
            cx,
            "server.body_read_timeout_secs",
            s.body_read_timeout_secs,
            1,
            86_400,
        )?,
    })
}
