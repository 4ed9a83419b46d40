//! Logging through `tracing` (Pingora's `log` records are bridged in). `RUST_LOG`
//! filters; the default is `info`. Lines go to stderr through a non-blocking writer,
//! so a slow log consumer does not hold up requests.
//!
//! Pingora's own records are capped at INFO whatever `RUST_LOG` says: at DEBUG it
//! prints request heads, bearer tokens and assertions included.

use std::io::IsTerminal;
use std::sync::Mutex;
use tracing::Level;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, Layer};

use crate::config::LogFormat;

/// Lines buffered for the writer thread before a request would wait for it.
const BUFFERED_LINES: usize = 65_536;

/// Flushes the log writer when dropped (kept until exit, see [`flush`]).
static GUARD: Mutex<Option<WorkerGuard>> = Mutex::new(None);

/// Whether a record may be logged: Pingora's targets only up to INFO.
pub fn is_allowed(target: &str, level: &Level) -> bool {
    !target.starts_with("pingora") || *level <= Level::INFO
}

/// Installs the global subscriber; later calls are no-ops.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Not lossy: under a flood the request path waits for the writer rather than
    // drop access-log lines; the buffer makes that wait rare.
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(BUFFERED_LINES)
        .finish(std::io::stderr());
    let cap = filter_fn(|meta| is_allowed(meta.target(), meta.level()));
    let ansi = std::io::stderr().is_terminal();
    let layer = match format {
        LogFormat::Text => fmt::layer().with_writer(writer).with_ansi(ansi).boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(writer)
            .boxed(),
    };
    let installed = tracing_subscriber::registry()
        .with(layer.with_filter(filter).with_filter(cap))
        .try_init();
    if installed.is_ok() {
        if let Ok(mut slot) = GUARD.lock() {
            *slot = Some(guard);
        }
    }
}

/// Writes out every buffered line (before the process exits on its own).
pub fn flush() {
    if let Ok(mut slot) = GUARD.lock() {
        slot.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pingora_is_capped_at_info_and_others_are_not() {
        assert!(is_allowed("pingora_core::protocols", &Level::INFO));
        assert!(!is_allowed("pingora_core::protocols", &Level::DEBUG));
        assert!(!is_allowed("pingora_proxy", &Level::TRACE));
        assert!(is_allowed("authgate::access", &Level::DEBUG));
    }
}
