//! Shutdown on signals, replacing Pingora's watcher:
//! - SIGTERM (and SIGQUIT): `/readyz` turns 503 at once; connections are still
//!   accepted for `server.drain_delay_secs`; then Pingora stops accepting and the
//!   requests in flight finish; the process exits as soon as none is left, and
//!   at the latest `grace_period_secs` later;
//! - SIGINT: fast shutdown.

use async_trait::async_trait;
use pingora::server::{ShutdownSignal, ShutdownSignalWatch};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, SignalKind};

use crate::lifecycle::Lifecycle;

/// How often the exit watcher looks at the requests in flight.
const IDLE_POLL: Duration = Duration::from_millis(10);

/// The signal watcher handed to Pingora's `Server::run`.
pub(crate) struct Shutdown {
    lifecycle: Arc<Lifecycle>,
    drain_delay: Duration,
    grace: Duration,
}

impl Shutdown {
    /// A watcher that drains for `drain_delay` after SIGTERM, then lets requests
    /// in flight run for up to `grace`.
    pub(crate) fn new(lifecycle: Arc<Lifecycle>, drain_delay: Duration, grace: Duration) -> Self {
        Self {
            lifecycle,
            drain_delay,
            grace,
        }
    }
}

/// Exits the process once no request is in flight, or when `grace` has passed
/// with some still running (after the log is flushed). This, not Pingora's own
/// timer, ends the grace period: Pingora cancels its tasks a moment later, so
/// requests in flight get the whole of `grace_period_secs`.
fn exit_when_idle(lifecycle: Arc<Lifecycle>, grace: Duration) {
    let deadline = Instant::now() + grace;
    let spawned = std::thread::Builder::new()
        .name("authgate-exit".into())
        .spawn(move || {
            loop {
                let left = lifecycle.in_flight();
                if left == 0 {
                    tracing::info!("no request in flight; exiting");
                    break;
                }
                if Instant::now() >= deadline {
                    tracing::warn!(
                        in_flight = left,
                        "grace period over; cutting the requests still in flight"
                    );
                    break;
                }
                std::thread::sleep(IDLE_POLL);
            }
            crate::telemetry::flush();
            std::process::exit(0);
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot watch for idleness; waiting the whole grace period");
    }
}

#[async_trait]
impl ShutdownSignalWatch for Shutdown {
    async fn recv(&self) -> ShutdownSignal {
        let (Ok(mut term), Ok(mut quit), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::quit()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot install signal handlers");
            std::future::pending::<()>().await;
            return ShutdownSignal::FastShutdown;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = quit.recv() => {}
            _ = int.recv() => {
                tracing::info!("SIGINT: fast shutdown");
                return ShutdownSignal::FastShutdown;
            }
        }
        self.lifecycle.start_draining();
        tracing::info!(
            drain_delay_secs = self.drain_delay.as_secs(),
            "SIGTERM: not ready any more; draining"
        );
        if !self.drain_delay.is_zero() {
            // A second signal cuts the delay short.
            tokio::select! {
                _ = tokio::time::sleep(self.drain_delay) => {}
                _ = term.recv() => {}
                _ = int.recv() => return ShutdownSignal::FastShutdown,
            }
        }
        exit_when_idle(self.lifecycle.clone(), self.grace);
        ShutdownSignal::GracefulTerminate
    }
}
