//! Connection limits in front of an application (the proxy, and the admin
//! listener with a cap of its own):
//! - `server.max_connections`: connections beyond it get a 503 and are closed;
//! - `server.header_read_timeout_secs`: each stream is wrapped in a
//!   [`HeadDeadline`].

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use crate::head_deadline::{refuse_connection, HeadDeadline};
use crate::reject::Rejection;

/// Limits applied to every client connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Deadline for one request head.
    pub header_read_timeout: Duration,
}

/// Wraps the proxy application with [`Limits`].
pub(crate) struct Limited<A> {
    inner: Arc<A>,
    limits: Limits,
    open: Arc<AtomicUsize>,
}

impl<A> Limited<A> {
    /// `inner` under `limits`.
    pub(crate) fn new(inner: A, limits: Limits) -> Self {
        Self {
            inner: Arc::new(inner),
            limits,
            open: Arc::new(AtomicUsize::new(0)),
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
        let open = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        let _slot = Slot(self.open.clone());
        if open > self.limits.max_connections {
            let refusal = Rejection::too_many_connections();
            refuse_connection(&mut stream, &refusal, Instant::now(), "").await;
            return None;
        }
        let stream: Stream = Box::new(HeadDeadline::new(stream, self.limits.header_read_timeout));
        // The inner application serves every request of the connection; nothing
        // comes back for reuse at this level.
        self.inner.process_new(stream, shutdown).await
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await;
    }
}
