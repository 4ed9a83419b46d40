//! Liveness and readiness, answered the same on the admin listener (`/healthz`,
//! `/readyz`) and, when configured, on the proxy port (`server.health_path`,
//! `server.ready_path`).

use http::StatusCode;

use crate::generation::Generation;
use crate::lifecycle::Lifecycle;

/// Which question a probe asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    /// Is the process alive? Always yes while it answers.
    Live,
    /// Should traffic come here?
    Ready,
}

/// Why authgate is not ready, if it is not: shutting down, keys not loaded yet, or
/// the upstream's health path failing.
pub(crate) fn not_ready_reason(
    generation: &Generation,
    lifecycle: &Lifecycle,
) -> Option<&'static str> {
    if lifecycle.is_draining() {
        Some("shutting_down")
    } else if !generation.is_ready() {
        Some("keys_not_loaded")
    } else if !generation.upstream.is_healthy() {
        Some("upstream_unhealthy")
    } else {
        None
    }
}

/// The status and JSON body answering `probe`.
pub(crate) fn answer(
    probe: Probe,
    generation: &Generation,
    lifecycle: &Lifecycle,
) -> (StatusCode, String) {
    let reason = match probe {
        Probe::Live => None,
        Probe::Ready => not_ready_reason(generation, lifecycle),
    };
    match reason {
        None => (StatusCode::OK, r#"{"status":"ok"}"#.to_string()),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(r#"{{"status":"not_ready","reason":"{reason}"}}"#),
        ),
    }
}
