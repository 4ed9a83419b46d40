//! Logging through `tracing` (Pingora's `log` records are bridged in). `RUST_LOG`
//! filters; the default is `info`. Lines go to stderr through the [`LogSink`], in
//! batches written by a thread of its own, so a slow log consumer does not hold up
//! requests; the access log (`access_log`) writes its lines there too.
//!
//! Pingora's own records are capped at INFO whatever `RUST_LOG` says: at DEBUG it
//! prints request heads, bearer tokens and assertions included.

use std::io::IsTerminal;
use tracing::Level;
use tracing_subscriber::filter::{filter_fn, EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, Layer};

use crate::access_log;
use crate::config::LogFormat;
use crate::log_sink::{LogSink, SinkWriter};

/// Whether a record may be logged: Pingora's targets only up to INFO.
pub fn is_allowed(target: &str, level: &Level) -> bool {
    !target.starts_with("pingora") || *level <= Level::INFO
}

/// Installs the global subscriber; later calls are no-ops.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let writer = || SinkWriter;
    // The hint makes the global max level RUST_LOG's (INFO by default), not TRACE:
    // disabled `debug!`/`trace!` sites then cost one compare, and `try_init` sets the
    // `log` crate's max level from it, so Pingora's own debug records are skipped
    // before they reach the log bridge (about 7 000 instructions a request otherwise).
    let hint = filter.max_level_hint().unwrap_or(LevelFilter::TRACE);
    let cap = filter_fn(|meta| is_allowed(meta.target(), meta.level())).with_max_level_hint(hint);
    let ansi = std::io::stderr().is_terminal();
    let layer = match format {
        LogFormat::Text => fmt::layer().with_writer(writer).with_ansi(ansi).boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(writer)
            .boxed(),
    };
    if tracing_subscriber::registry()
        .with(layer.with_filter(filter).with_filter(cap))
        .try_init()
        .is_ok()
    {
        access_log::set_format(format);
    }
}

/// Writes out every buffered line (before the process exits on its own).
pub fn flush() {
    LogSink::global().flush();
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
