//! `[server]` and `[admin]` → [`ServerSettings`].

use ipnet::IpNet;
use std::net::SocketAddr;
use std::time::Duration;

use super::context::Ctx;
use super::schema::{AdminSection, LogFormat, ServerSection};
use crate::error::ConfigError;

/// The listeners, threads, shutdown, logging and connection limits.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Admin listener address.
    pub admin_listen: SocketAddr,
    /// Most admin connections at once.
    pub admin_max_connections: usize,
    /// Worker threads.
    pub threads: usize,
    /// SIGTERM grace period.
    pub grace_period: Duration,
    /// Time to keep accepting after SIGTERM.
    pub drain_delay: Duration,
    /// Log format.
    pub log_format: LogFormat,
    /// Liveness path on the proxy port, when enabled.
    pub health_path: Option<String>,
    /// Readiness path on the proxy port, when enabled.
    pub ready_path: Option<String>,
    /// Trusted proxies.
    pub trusted_proxies: Vec<IpNet>,
    /// Deadline for a whole request head.
    pub header_read_timeout: Duration,
    /// Idle keep-alive timeout.
    pub keepalive_timeout: Duration,
    /// Time for a whole request body, from the end of its head.
    pub body_read_timeout: Duration,
    /// Most client connections at once.
    pub max_connections: usize,
}

fn address(cx: &Ctx<'_>, key: &str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse()
        .map_err(|_| cx.err(key, format!("`{text}` is not an IP:PORT address")))
}

fn probe_path(cx: &Ctx<'_>, key: &str, p: &Option<String>) -> Result<(), ConfigError> {
    match p {
        Some(p) if !p.starts_with('/') || p.contains(['?', '#', ' ']) => {
            Err(cx.err(key, "must be an absolute path such as /healthz"))
        }
        _ => Ok(()),
    }
}

fn seconds(cx: &Ctx<'_>, key: &str, v: u64, min: u64, max: u64) -> Result<Duration, ConfigError> {
    if (min..=max).contains(&v) {
        Ok(Duration::from_secs(v))
    } else {
        Err(cx.err(key, format!("must be between {min} and {max}")))
    }
}

/// The CPUs this process may use (Rust reads cgroup quotas), for the default threads.
fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(256))
}

/// `server.trusted_proxies`: CIDRs, or bare addresses meaning just that host.
fn trusted_proxies(cx: &Ctx<'_>, texts: &[String]) -> Result<Vec<IpNet>, ConfigError> {
    texts
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
        .collect()
}

/// Validates `[server]` and `[admin]`.
pub(super) fn resolve(
    cx: &Ctx<'_>,
    s: &ServerSection,
    admin: &AdminSection,
) -> Result<ServerSettings, ConfigError> {
    let listen = address(cx, "server.listen", &s.listen)?;
    let admin_listen = address(cx, "admin.listen", &admin.listen)?;
    if listen.port() != 0 && listen == admin_listen {
        return Err(cx.err("admin.listen", "must differ from server.listen"));
    }
    let threads = s.threads.unwrap_or_else(available_cpus);
    if !(1..=256).contains(&threads) {
        return Err(cx.err("server.threads", "must be between 1 and 256"));
    }
    probe_path(cx, "server.health_path", &s.health_path)?;
    probe_path(cx, "server.ready_path", &s.ready_path)?;
    if s.health_path.is_some() && s.health_path == s.ready_path {
        return Err(cx.err("server.ready_path", "must differ from server.health_path"));
    }
    if !admin_listen.ip().is_loopback() {
        cx.warn(
            "admin.listen",
            format!("{admin_listen} is not a loopback address: /metrics and /readyz are open to the network; restrict the port (NetworkPolicy, firewall)"),
        );
    }
    let trusted_proxies = trusted_proxies(cx, &s.trusted_proxies)?;
    for (i, net) in trusted_proxies.iter().enumerate() {
        if net.prefix_len() == 0 {
            cx.warn(
                format!("server.trusted_proxies[{i}]"),
                format!("{net} trusts every peer: any client can set X-Forwarded-For, X-Forwarded-Proto and the request id"),
            );
        }
    }
    if s.max_connections == 0 {
        return Err(cx.err("server.max_connections", "must be at least 1"));
    }
    if admin.max_connections == 0 {
        return Err(cx.err("admin.max_connections", "must be at least 1"));
    }
    Ok(ServerSettings {
        listen,
        admin_listen,
        admin_max_connections: admin.max_connections,
        threads,
        grace_period: seconds(cx, "server.grace_period_secs", s.grace_period_secs, 0, 3600)?,
        drain_delay: seconds(cx, "server.drain_delay_secs", s.drain_delay_secs, 0, 3600)?,
        log_format: s.log_format,
        health_path: s.health_path.clone(),
        ready_path: s.ready_path.clone(),
        trusted_proxies,
        header_read_timeout: seconds(
            cx,
            "server.header_read_timeout_secs",
            s.header_read_timeout_secs,
            1,
            600,
        )?,
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
        max_connections: s.max_connections,
    })
}
