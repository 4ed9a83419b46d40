//! `server.log_format`: how every log line is written, access lines included.

/// How log lines are written (`server.log_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines, as `tracing-subscriber` writes them.
    Text,
    /// One JSON object per line.
    Json,
}
