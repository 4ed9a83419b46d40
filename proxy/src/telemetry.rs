//! Logging through `tracing` (Pingora's `log` records are bridged in). `RUST_LOG`
//! filters; the default is `info`. Lines go to stderr through the [`LogSink`], in
//! batches written by a thread of its own, so a slow log consumer does not hold up
//! requests; the access log (`access_log`) writes its lines there too.
//!
//! Pingora's own records are capped at INFO whatever `RUST_LOG` says: at DEBUG it
//! prints request heads, bearer tokens and assertions included.

use std::io::IsTerminal;
use tracing::Level;
use tracing_log::AsLog;
use tracing_subscriber::filter::{filter_fn, EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{fmt, Layer};

use crate::access_log;
use crate::log_format::LogFormat;
use crate::log_sink::{LogSink, SinkWriter};

/// Whether a record may be logged: Pingora's targets only up to INFO.
pub(crate) fn is_allowed(target: &str, level: &Level) -> bool {
    !target.starts_with("pingora") || *level <= Level::INFO
}

/// Installs the global subscriber; later calls are no-ops.
pub(crate) fn init(format: LogFormat) {
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
    let subscriber =
        tracing_subscriber::registry().with(layer.with_filter(filter).with_filter(cap));
    if tracing::subscriber::set_global_default(subscriber).is_ok() {
        access_log::set_format(format);
        // Pingora logs through `log`: bridged here (rather than by tracing-log's own
        // bridge) so that its records nobody can act on are demoted on the way.
        if log::set_boxed_logger(Box::new(PingoraBridge)).is_ok() {
            log::set_max_level(hint.as_log());
        }
    }
}

/// Forwards `log` records (Pingora's) to `tracing`, demoting the ones that are not
/// an operator's problem (see [`demoted_level`]).
struct PingoraBridge;

impl log::Log for PingoraBridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        tracing_log::LogTracer::new().enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        let level = demoted_level(record.target(), record.level(), record.args());
        if level == record.level() {
            let _ = tracing_log::format_trace(record);
            return;
        }
        let demoted = log::Record::builder()
            .args(*record.args())
            .level(level)
            .target(record.target())
            .module_path(record.module_path())
            .file(record.file())
            .line(record.line())
            .build();
        if tracing_log::LogTracer::new().enabled(demoted.metadata()) {
            let _ = tracing_log::format_trace(&demoted);
        }
    }

    fn flush(&self) {}
}

/// The level a Pingora record is logged at. Errors that are the client's doing (a
/// client gone or too slow: authgate answers, logs and counts those itself) and
/// Pingora's internal pool misses are DEBUG, not ERROR: an ERROR line should be
/// worth someone's attention.
pub(crate) fn demoted_level(
    target: &str,
    level: log::Level,
    message: &std::fmt::Arguments<'_>,
) -> log::Level {
    if level != log::Level::Error || !target.starts_with("pingora") {
        return level;
    }
    let text = match message.as_str() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(message.to_string()),
    };
    let not_actionable = match target {
        "pingora_proxy" => text.starts_with("Fail to proxy: Downstream"),
        "pingora_core::apps::http_app" => {
            text.starts_with("HTTP server fails to read from downstream")
        }
        "pingora_core::connectors" => text.starts_with("failed to acquire reusable stream"),
        _ => false,
    };
    if not_actionable {
        log::Level::Debug
    } else {
        level
    }
}

/// Writes out every buffered line (before the process exits on its own).
pub(crate) fn flush() {
    LogSink::global().flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pingoras_errors_about_clients_are_demoted_and_others_kept() {
        let e = log::Level::Error;
        let debug = log::Level::Debug;
        for (target, message, want) in [
            (
                "pingora_proxy",
                format_args!("Fail to proxy: Downstream ReadError context: x"),
                debug,
            ),
            (
                "pingora_proxy",
                format_args!("Fail to proxy: Upstream ConnectRefused"),
                e,
            ),
            (
                "pingora_core::apps::http_app",
                format_args!("HTTP server fails to read from downstream: x"),
                debug,
            ),
            (
                "pingora_core::connectors",
                format_args!("failed to acquire reusable stream"),
                debug,
            ),
            (
                "pingora_core::connectors",
                format_args!("something else"),
                e,
            ),
            ("authgate", format_args!("Fail to proxy: Downstream"), e),
        ] {
            assert_eq!(
                demoted_level(target, e, &message),
                want,
                "{target}: {message}"
            );
        }
        let warn = format_args!("Fail to proxy: Downstream");
        assert_eq!(
            demoted_level("pingora_proxy", log::Level::Warn, &warn),
            log::Level::Warn
        );
    }

    #[test]
    fn pingora_is_capped_at_info_and_others_are_not() {
        assert!(is_allowed("pingora_core::protocols", &Level::INFO));
        assert!(!is_allowed("pingora_core::protocols", &Level::DEBUG));
        assert!(!is_allowed("pingora_proxy", &Level::TRACE));
        assert!(is_allowed("authgate::access", &Level::DEBUG));
    }
}
