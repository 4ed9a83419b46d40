//! Connection limits in front of an application (the proxy, and the admin
//! listener with a cap of its own):
//! - `server.max_connections`: connections beyond it get a 503 and are closed
//!   (over TLS they are closed before the handshake: no answer, no TLS work);
//! - `server.header_read_timeout_secs`: the TLS handshake, if the listener has
//!   one, and then each request head must arrive in time: the stream is wrapped
//!   in a [`HeadDeadline`] that knows what the connection speaks.

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use crate::head_deadline::{account_refusal, refuse_connection, HeadDeadline, Refused};
use crate::listener::ListenerKind;
use crate::metrics::metrics;
use crate::reject::Rejection;
use crate::tls::HandshakeError;

/// Limits applied to every client connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Deadline for one request head.
    pub header_read_timeout: Duration,
}

/// Wraps an application on a listener of some kind with [`Limits`].
pub(crate) struct Limited<A> {
    inner: Arc<A>,
    limits: Limits,
    listener: ListenerKind,
    open: Arc<AtomicUsize>,
}

impl<A> Limited<A> {
    /// `inner`, on `listener`, under `limits`.
    pub(crate) fn new(inner: A, listener: ListenerKind, limits: Limits) -> Self {
        Self {
            inner: Arc::new(inner),
            limits,
            listener,
            open: Arc::new(AtomicUsize::new(0)),
        }
    }
}

/// A connection over the cap: a plaintext one is answered 503 (HTTP/1, the only
/// thing a client that sent nothing yet can be assumed to read); a TLS one is
/// closed before any TLS work. Both are logged and counted.
async fn refuse_over_cap(listener: &ListenerKind, stream: &mut Stream, opened: Instant) {
    let refusal = Rejection::too_many_connections();
    match listener {
        ListenerKind::Plain { .. } => refuse_connection(stream, &refusal, opened, "").await,
        ListenerKind::Tls(_) => {
            let id = uuid::Uuid::new_v4().to_string();
            let refused = Refused {
                request_id: &id,
                method: "",
                path: "",
                started: opened,
                error: "closed before the TLS handshake",
                answered: false,
            };
            account_refusal(&refusal, &refused);
        }
    }
}

/// Decrements the open-connection count when the connection ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for Limited<A> {
    async fn process_new(
        self: &Arc<Self>,
        mut stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let opened = Instant::now();
        let open = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        let _slot = Slot(self.open.clone());
        if open > self.limits.max_connections {
            refuse_over_cap(&self.listener, &mut stream, opened).await;
            return None;
        }
        let timeout = self.limits.header_read_timeout;
        let (stream, speaks) = match self.listener.open(stream, opened + timeout).await {
            Ok(opened) => opened,
            Err(e) => {
                let kind = match e {
                    HandshakeError::Timeout => "timeout",
                    HandshakeError::Failed(_) => "failed",
                };
                metrics().record_tls_handshake_error(kind);
                tracing::debug!(error = %e, "TLS handshake did not complete");
                return None;
            }
        };
        let stream: Stream = Box::new(HeadDeadline::new(stream, timeout, opened, speaks));
        // The inner application serves every request of the connection; nothing
        // comes back for reuse at this level.
        self.inner.process_new(stream, shutdown).await
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await;
    }
}
