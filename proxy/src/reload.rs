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

use crate::config::{self, Overrides, ServerSettings};
use crate::generation::Generation;
use crate::metrics::metrics;

/// Everything a reload needs.
pub struct Reloader {
    config: Option<PathBuf>,
    overrides: Overrides,
    env: fn(&str) -> Option<String>,
    /// The server settings the process started with (not reloadable).
    running: ServerSettings,
    current: Arc<ArcSwap<Generation>>,
    generations: watch::Sender<Arc<Generation>>,
}

/// Names of the server settings that differ and need a restart.
fn needs_restart(running: &ServerSettings, new: &ServerSettings) -> Vec<&'static str> {
    // Port 0 was made concrete at start: only a different request counts.
    let moved = |running: SocketAddr, new: SocketAddr| {
        new.ip() != running.ip() || new.port() != 0 && new.port() != running.port()
    };
    let mut changed = Vec::new();
    for (name, differs) in [
        ("server.listen", moved(running.listen, new.listen)),
        (
            "admin.listen",
            moved(running.admin_listen, new.admin_listen),
        ),
        ("server.threads", new.threads != running.threads),
        ("server.log_format", new.log_format != running.log_format),
        (
            "server.grace_period_secs",
            new.grace_period != running.grace_period,
        ),
        (
            "server.drain_delay_secs",
            new.drain_delay != running.drain_delay,
        ),
        (
            "server.header_read_timeout_secs",
            new.header_read_timeout != running.header_read_timeout,
        ),
        (
            "server.max_connections",
            new.max_connections != running.max_connections,
        ),
        (
            "admin.max_connections",
            new.admin_max_connections != running.admin_max_connections,
        ),
    ] {
        if differs {
            changed.push(name);
        }
    }
    changed
}

impl Reloader {
    /// A reloader for the process started with `running` settings.
    pub fn new(
        config: Option<PathBuf>,
        overrides: Overrides,
        env: fn(&str) -> Option<String>,
        running: ServerSettings,
        current: Arc<ArcSwap<Generation>>,
        generations: watch::Sender<Arc<Generation>>,
    ) -> Self {
        Self {
            config,
            overrides,
            env,
            running,
            current,
            generations,
        }
    }

    /// Reloads once; the error says why the old configuration stays.
    pub async fn reload(&self) -> Result<(), String> {
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
        let settings = config::load(self.config.as_deref(), &self.overrides, &self.env)
            .map_err(|e| e.to_string())?;
        for warning in &settings.warnings {
            tracing::warn!(warning = %warning, "configuration warning");
        }
        let restart = needs_restart(&self.running, &settings.server);
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
        let next = Arc::new(next);
        self.current.store(next.clone());
        let _ = self.generations.send(next);
        Ok(())
    }
}

/// Starts the thread that reloads on every SIGHUP. Returns once the handler is
/// installed, so a SIGHUP right after start-up reloads instead of killing us.
pub fn spawn_sighup_handler(reloader: Reloader) -> std::io::Result<()> {
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
                }
            });
        })?;
    ready_rx
        .recv()
        .map_err(|_| std::io::Error::other("the reload thread stopped"))?
}
