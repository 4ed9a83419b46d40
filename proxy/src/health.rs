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
/// an upstream's health path failing (with that upstream's name).
pub(crate) fn not_ready_reason(
    generation: &Generation,
    lifecycle: &Lifecycle,
) -> Option<(&'static str, Option<String>)> {
    if lifecycle.is_draining() {
        Some(("shutting_down", None))
    } else if !generation.is_ready() {
        Some(("keys_not_loaded", None))
    } else {
        generation
            .unhealthy_upstream()
            .map(|u| ("upstream_unhealthy", Some(u.settings.name.clone())))
    }
}

/// The status and JSON body answering `probe`; an unhealthy upstream is named
/// (`"upstream":"web"`) so the operator knows which one to look at.
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
        Some((reason, upstream)) => {
            // The name is JSON-escaped (it may hold quotes); the rest is fixed text.
            let named = upstream.map_or_else(String::new, |name| {
                format!(r#","upstream":{}"#, serde_json::Value::from(name))
            });
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(r#"{{"status":"not_ready","reason":"{reason}"{named}}}"#),
            )
        }
    }
}
