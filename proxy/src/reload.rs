//! Hot reload on SIGHUP: re-read the config file and every secret file, validate,
//! build a new generation and swap it in atomically. Requests in flight finish
//! under the generation they started with. An invalid config keeps the old one
//! (the error names the file and the key). Settings that only a restart can
//! change (listeners, threads, limits) are logged as such and keep their value.

use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

use crate::config::{self, Overrides, ProcessSettings};
use crate::generation::Generation;
use crate::metrics::metrics;
use crate::tls::CertReloader;

/// Everything a reload needs.
pub(crate) struct Reloader {
    /// The config file and overrides the process was started with.
    pub source: ConfigSource,
    /// The settings the process started with, which only a restart changes.
    pub running: ProcessSettings,
    /// The configuration new requests take.
    pub current: Arc<ArcSwap<Generation>>,
    /// Where new generations are announced (to the background tasks).
    pub generations: watch::Sender<Arc<Generation>>,
    /// The TLS listener's certificate, read again on every SIGHUP too.
    pub tls: Option<Arc<CertReloader>>,
}

/// Where the configuration is read from, again on every reload.
#[derive(Debug, Clone)]
pub(crate) struct ConfigSource {
    /// The config file, if any.
    pub file: Option<PathBuf>,
    /// Command-line and environment overrides.
    pub overrides: Overrides,
    /// Reads environment variables (secrets among them).
    pub env: fn(&str) -> Option<String>,
}

/// The config keys whose new value needs a restart. Every field of
/// [`ProcessSettings`] is named here: the struct is taken apart without `..`, so
/// a new one does not compile until its key is listed.
fn needs_restart(running: &ProcessSettings, new: &ProcessSettings) -> Vec<&'static str> {
    let ProcessSettings {
        listen,
        listener,
        admin_listen,
        admin_max_connections,
        threads,
        grace_period,
        drain_delay,
        log_format,
        header_read_timeout,
        max_connections,
        upstream_keepalive_pool_size,
    } = new;
    // Port 0 was made concrete at start: only a different request counts.
    let moved = |running: &SocketAddr, new: &SocketAddr| {
        new.ip() != running.ip() || new.port() != 0 && new.port() != running.port()
    };
    [
        ("server.listen", moved(&running.listen, listen)),
        ("server.tls / server.h2c", *listener != running.listener),
        ("admin.listen", moved(&running.admin_listen, admin_listen)),
        (
            "admin.max_connections",
            *admin_max_connections != running.admin_max_connections,
        ),
        ("server.threads", *threads != running.threads),
        (
            "server.grace_period_secs",
            *grace_period != running.grace_period,
        ),
        (
            "server.drain_delay_secs",
            *drain_delay != running.drain_delay,
        ),
        ("server.log_format", *log_format != running.log_format),
        (
            "server.header_read_timeout_secs",
            *header_read_timeout != running.header_read_timeout,
        ),
        (
            "server.max_connections",
            *max_connections != running.max_connections,
        ),
        (
            "upstream.keepalive_pool_size",
            *upstream_keepalive_pool_size != running.upstream_keepalive_pool_size,
        ),
    ]
    .into_iter()
    .filter_map(|(key, changed)| changed.then_some(key))
    .collect()
}

impl Reloader {
    /// Reloads once; the error says why the old configuration stays.
    pub(crate) async fn reload(&self) -> Result<(), String> {
        let result = self.try_reload().await;
        metrics().record_reload(result.is_ok());
        match &result {
            Ok(()) => tracing::info!("configuration reloaded"),
            Err(e) => {
                tracing::error!(error = %e, "reload failed; the previous configuration stays")
            }
        }
        result
    }

    async fn try_reload(&self) -> Result<(), String> {
        let source = &self.source;
        let auth_metrics = &metrics().auth;
        let settings = config::load(
            source.file.as_deref(),
            &source.overrides,
            &source.env,
            auth_metrics,
        )
        .map_err(|e| e.to_string())?;
        for warning in &settings.warnings {
            tracing::warn!(warning = %warning, "configuration warning");
        }
        let restart = needs_restart(&self.running, &settings.process);
        if !restart.is_empty() {
            tracing::warn!(
                keys = %restart.join(", "),
                "these settings changed but only take effect after a restart; they keep their running values"
            );
        }
        let previous = self.current.load_full();
        let next = Generation::build(&settings, Some(&previous)).map_err(|e| e.to_string())?;
        // A new JWKS source is fetched before it takes traffic (bounded by its
        // timeout; on failure it keeps retrying in the background, as at start).
        for source in next.remote_sources() {
            if !source.is_loaded() {
                let _ = source.fetch().await;
            }
        }
        // A new revocation view is read before it takes traffic, as at start.
        if let Some(revocations) = next.revocations().filter(|r| !r.is_loaded()) {
            if let Err(e) = revocations.load_once().await {
                tracing::warn!(error = %e, "revocations not loaded yet; following them in the background");
            }
        }
        // The gauges of a JWKS URL no source uses any more go with it.
        for old in previous.remote_sources() {
            if !next
                .remote_sources()
                .iter()
                .any(|new| new.url() == old.url())
            {
                auth_metrics.forget_source(old.url());
            }
        }
        let next = Arc::new(next);
        self.current.store(next.clone());
        let _ = self.generations.send(next);
        Ok(())
    }
}

/// Starts the thread that reloads on every SIGHUP. Returns once the handler is
/// installed, so a SIGHUP right after start-up reloads instead of killing us.
pub(crate) fn spawn_sighup_handler(reloader: Reloader) -> std::io::Result<()> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("authgate-reload".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            runtime.block_on(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let mut hangups = match signal(SignalKind::hangup()) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                while hangups.recv().await.is_some() {
                    tracing::info!("SIGHUP: reloading the configuration");
                    let _ = reloader.reload().await;
                    if let Some(tls) = &reloader.tls {
                        let _ = tls.reload("SIGHUP");
                    }
                }
            });
        })?;
    ready_rx
        .recv()
        .map_err(|_| std::io::Error::other("the reload thread stopped"))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ListenerSettings;
    use crate::log_format::LogFormat;
    use std::time::Duration;

    fn running() -> ProcessSettings {
        ProcessSettings {
            listen: "127.0.0.1:8080".parse().unwrap(),
            listener: ListenerSettings::Plain { h2c: false },
            admin_listen: "127.0.0.1:9901".parse().unwrap(),
            admin_max_connections: 64,
            threads: 2,
            grace_period: Duration::from_secs(10),
            drain_delay: Duration::ZERO,
            log_format: LogFormat::Text,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            upstream_keepalive_pool_size: 128,
        }
    }

    #[test]
    fn every_process_setting_that_changed_is_named() {
        let r = running();
        assert!(needs_restart(&r, &r).is_empty());
        let mut port_zero = r.clone();
        port_zero.listen = "127.0.0.1:0".parse().unwrap();
        assert!(
            needs_restart(&r, &port_zero).is_empty(),
            "port 0 was made concrete"
        );
        let new = ProcessSettings {
            listen: "127.0.0.1:8081".parse().unwrap(),
            listener: ListenerSettings::Plain { h2c: true },
            admin_listen: "0.0.0.0:9901".parse().unwrap(),
            admin_max_connections: 8,
            threads: 3,
            grace_period: Duration::from_secs(1),
            drain_delay: Duration::from_secs(1),
            log_format: LogFormat::Json,
            header_read_timeout: Duration::from_secs(1),
            max_connections: 1,
            upstream_keepalive_pool_size: 1,
        };
        assert_eq!(needs_restart(&r, &new).len(), 11);
    }
}
