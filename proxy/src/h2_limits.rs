//! HTTP/2 on the proxy listener (h2 by ALPN, h2c with prior knowledge): Pingora's
//! switches and the h2 limits, the same for both. Each is a bound a client cannot
//! raise; the README's "HTTP/2 and gRPC" lists them.

use pingora::apps::HttpServerOptions;
use pingora::protocols::http::v2::server::H2Options;
use std::time::Duration;

use crate::listener::ListenerKind;

/// Streams one connection may have open at once (`SETTINGS_MAX_CONCURRENT_STREAMS`).
pub(crate) const MAX_CONCURRENT_STREAMS: u32 = 100;
/// Decoded size of one request's header list (`SETTINGS_MAX_HEADER_LIST_SIZE`);
/// beyond it the stream is refused.
pub(crate) const MAX_HEADER_LIST_BYTES: u32 = 64 * 1024;
/// Rapid reset (CVE-2023-44487): streams the client opened and reset before they
/// were served; beyond it the connection closes (GOAWAY ENHANCE_YOUR_CALM).
pub(crate) const MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;
/// Streams authgate's side reset because the client broke the protocol; beyond it
/// the connection closes.
pub(crate) const MAX_LOCAL_ERROR_RESET_STREAMS: usize = 1024;
/// Reset streams remembered (to ignore their late frames) at once.
pub(crate) const MAX_CONCURRENT_RESET_STREAMS: usize = 50;

/// The h2 server settings of every HTTP/2 connection.
pub(crate) fn h2_options() -> H2Options {
    let mut options = H2Options::new();
    options
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .max_header_list_size(MAX_HEADER_LIST_BYTES)
        .max_pending_accept_reset_streams(MAX_PENDING_ACCEPT_RESET_STREAMS)
        .max_local_error_reset_streams(Some(MAX_LOCAL_ERROR_RESET_STREAMS))
        .max_concurrent_reset_streams(MAX_CONCURRENT_RESET_STREAMS);
    options
}

/// Pingora's HTTP switches for `listener`: h2c when it allows it, and an idle
/// HTTP/2 connection closed after `idle` (as an idle HTTP/1 one is).
pub(crate) fn server_options(listener: &ListenerKind, idle: Duration) -> HttpServerOptions {
    let mut options = HttpServerOptions::default();
    options.h2c = listener.h2c();
    options.h2_idle_timeout = Some(idle);
    options
}
