//! Background work of the current generation, on Pingora's runtime, stopping with
//! the server: keeping remote JWKS fresh, following each upstream's DNS, polling
//! each upstream's health path, and following the revocations in Redis. When a reload installs a new generation, the old
//! generation's tasks are stopped and the new one's started (a kept JWKS source
//! keeps its loaded keys, so nothing is refetched in a hurry).

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::generation::Generation;
use crate::probe;
use crate::upstream::Upstream;

/// Runs the background tasks of whichever generation is current.
pub(crate) struct Supervisor {
    generations: watch::Receiver<Arc<Generation>>,
}

impl Supervisor {
    /// Follows `generations`.
    pub(crate) fn new(generations: watch::Receiver<Arc<Generation>>) -> Self {
        Self { generations }
    }

    fn spawn_all(&self, g: &Generation, tasks: &mut JoinSet<()>, stop: &watch::Receiver<bool>) {
        for source in g.remote_sources() {
            let stop = stop.clone();
            tasks.spawn(async move { source.run(stop).await });
        }
        if let Some(revocations) = g.revocations().cloned() {
            tasks.spawn(revocations.follow(stop.clone()));
        }
        for upstream in &g.upstreams {
            if upstream.settings.host.parse::<std::net::IpAddr>().is_err() {
                tasks.spawn(follow_dns(upstream.clone(), system_lookup));
            }
            if let Some(path) = upstream.settings.health_path.clone() {
                tasks.spawn(poll_health(upstream.clone(), path));
            }
        }
    }
}

#[async_trait]
impl BackgroundService for Supervisor {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut generations = self.generations.clone();
        loop {
            let current = generations.borrow_and_update().clone();
            // Each generation's tasks get their own stop signal.
            let (stop_tx, stop_rx) = watch::channel(false);
            let mut tasks = JoinSet::new();
            self.spawn_all(&current, &mut tasks, &stop_rx);
            drop(current);
            let server_stopping = tokio::select! {
                _ = shutdown.changed() => true,
                changed = generations.changed() => changed.is_err(),
            };
            let _ = stop_tx.send(true);
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
            if server_stopping {
                return;
            }
        }
    }
}

/// The future a [`Lookup`] returns.
type LookupFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<SocketAddr, String>> + Send>>;

/// A DNS look-up of `host:port`: the first address, or why there is none.
type Lookup = fn(String) -> LookupFuture;

/// The system resolver (getaddrinfo, through tokio).
fn system_lookup(address: String) -> LookupFuture {
    Box::pin(async move {
        match tokio::net::lookup_host(address.as_str()).await {
            Ok(mut addrs) => addrs.next().ok_or_else(|| "no address".to_string()),
            Err(e) => Err(e.to_string()),
        }
    })
}

/// Looks the upstream host up every `resolve_interval`; a new address is used by
/// new requests, a failed look-up keeps the last good one.
async fn follow_dns(upstream: Arc<Upstream>, lookup: Lookup) {
    let interval = upstream.settings.resolve_interval;
    loop {
        tokio::time::sleep(interval).await;
        match lookup(upstream.settings.address.clone()).await {
            Ok(addr) if addr != upstream.address() => {
                tracing::info!(upstream = %upstream.settings.address, from = %upstream.address(), to = %addr, "upstream address changed");
                upstream.set_address(addr);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(upstream = %upstream.settings.address, error = %e, "upstream look-up failed; keeping the last address")
            }
        }
    }
}

/// GETs the upstream's health path every `health_interval`, the way requests
/// reach it (TLS with its CA and host name, or HTTP/2): 2xx is healthy.
async fn poll_health(upstream: Arc<Upstream>, path: String) {
    let name = upstream.settings.name.clone();
    let mut client: Option<(SocketAddr, reqwest::Client)> = None;
    loop {
        let addr = upstream.address();
        if client.as_ref().is_none_or(|(at, _)| *at != addr) {
            match probe::upstream_client(&upstream.settings, addr) {
                Ok(c) => client = Some((addr, c)),
                Err(e) => {
                    tracing::error!(upstream = %name, error = %e, "cannot poll the upstream's health");
                    upstream.set_healthy(false);
                    return;
                }
            }
        }
        let healthy = match &client {
            Some((_, c)) => probe::status(c, &probe::upstream_url(&upstream.settings, &path))
                .await
                .is_ok_and(|status| (200..300).contains(&status)),
            None => false,
        };
        if healthy != upstream.is_healthy() {
            tracing::warn!(upstream = %name, healthy, path = %path, "upstream health changed");
        }
        upstream.set_healthy(healthy);
        tokio::time::sleep(upstream.settings.health_interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UpstreamSettings;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    static CALLS: AtomicUsize = AtomicUsize::new(0);

    /// Answers 10.0.0.1, then fails, then 10.0.0.2 for ever.
    fn scripted(_address: String) -> LookupFuture {
        let n = CALLS.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            match n {
                0 => Ok("10.0.0.1:8000".parse().unwrap()),
                1 => Err("SERVFAIL".to_string()),
                _ => Ok("10.0.0.2:8000".parse().unwrap()),
            }
        })
    }

    #[tokio::test(start_paused = true)]
    async fn dns_changes_are_followed_and_failures_keep_the_last_address() {
        let settings = UpstreamSettings {
            address: "upstream:8000".into(),
            host: "upstream".into(),
            name: "upstream-api".into(),
            scheme: crate::config::UpstreamScheme::Http,
            ca: None,
            tls_insecure: false,
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            write_timeout: Duration::from_secs(1),
            resolve_interval: Duration::from_secs(5),
            health_path: None,
            health_interval: Duration::from_secs(5),
        };
        let start: SocketAddr = "10.0.0.9:8000".parse().unwrap();
        let upstream = Arc::new(Upstream::new(settings, start));
        let task = tokio::spawn(follow_dns(upstream.clone(), scripted));
        let mut seen = Vec::new();
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(5001)).await;
            tokio::task::yield_now().await;
            seen.push(upstream.address());
        }
        task.abort();
        let expected: Vec<SocketAddr> = ["10.0.0.1:8000", "10.0.0.1:8000", "10.0.0.2:8000"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(seen, expected, "a failed look-up keeps the last address");
        assert_eq!(upstream.peer()._address.to_string(), "10.0.0.2:8000");
    }
}
