//! Process state that outlives config reloads: draining after SIGTERM, requests in
//! flight, whether the upstream passes its health check. The admin listener reads
//! it for `/readyz`; shutdown waits on it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Shared by the proxy, the admin listener, the health poller and shutdown.
#[derive(Debug)]
pub struct Lifecycle {
    draining: AtomicBool,
    in_flight: AtomicUsize,
    upstream_healthy: AtomicBool,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            draining: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            // Until a health check says otherwise (or when none is configured).
            upstream_healthy: AtomicBool::new(true),
        }
    }
}

impl Lifecycle {
    /// SIGTERM arrived: `/readyz` answers 503 from now on.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Requests being served now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Records the upstream health check's latest answer.
    pub fn set_upstream_healthy(&self, healthy: bool) {
        self.upstream_healthy.store(healthy, Ordering::SeqCst);
    }

    /// The upstream health check's latest answer (true when none runs).
    pub fn upstream_healthy(&self) -> bool {
        self.upstream_healthy.load(Ordering::SeqCst)
    }

    /// Counts a request until the guard is dropped.
    pub fn track(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }
}

/// One request in flight; dropping it (however the request ended) uncounts it.
#[derive(Debug)]
pub struct InFlight(Arc<Lifecycle>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_requests_in_flight() {
        let l = Arc::new(Lifecycle::default());
        let a = l.track();
        let b = l.track();
        assert_eq!(l.in_flight(), 2);
        drop(a);
        assert_eq!(l.in_flight(), 1);
        drop(b);
        assert_eq!(l.in_flight(), 0);
        assert!(!l.is_draining() && l.upstream_healthy());
        l.start_draining();
        assert!(l.is_draining());
    }
}
