//! The upstream: its peer (the address follows DNS, see `background`), and
//! whether its health path answers.

use arc_swap::ArcSwap;
use pingora::prelude::HttpPeer;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::config::UpstreamSettings;

/// Failure to start serving (after the config was accepted).
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    /// The upstream host name does not resolve.
    #[error("cannot resolve upstream `{0}`")]
    Resolve(String),
    /// The TLS listener cannot be set up (its certificate changed since `check`).
    #[error("TLS listener: {0}")]
    Tls(String),
    /// The Redis client cannot be set up (the URL or TLS set-up is unusable).
    #[error("{0}")]
    Redis(String),
}

/// The upstream peer; its address follows DNS (see `background`).
#[derive(Debug)]
pub(crate) struct Upstream {
    /// The settings it was built from.
    pub settings: UpstreamSettings,
    peer: ArcSwap<HttpPeer>,
    addr: ArcSwap<SocketAddr>,
    /// The health path's latest answer (true until one says otherwise, and when
    /// no health path is configured).
    healthy: AtomicBool,
}

impl Upstream {
    pub(crate) fn new(settings: UpstreamSettings, addr: SocketAddr) -> Self {
        let peer = ArcSwap::from_pointee(peer_for(&settings, addr));
        Self {
            settings,
            peer,
            addr: ArcSwap::from_pointee(addr),
            healthy: AtomicBool::new(true),
        }
    }

    /// The peer for one request.
    pub(crate) fn peer(&self) -> HttpPeer {
        (**self.peer.load()).clone()
    }

    /// The address connected to now.
    pub(crate) fn address(&self) -> SocketAddr {
        **self.addr.load()
    }

    /// Records the health path's latest answer.
    pub(crate) fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::SeqCst);
    }

    /// The health path's latest answer (true when none is polled).
    pub(crate) fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }

    /// Points new requests at `addr` (after a DNS change).
    pub(crate) fn set_address(&self, addr: SocketAddr) {
        self.peer.store(Arc::new(peer_for(&self.settings, addr)));
        self.addr.store(Arc::new(addr));
    }
}

fn peer_for(u: &UpstreamSettings, addr: SocketAddr) -> HttpPeer {
    let mut peer = HttpPeer::new(addr, false, u.host.clone());
    peer.options.connection_timeout = Some(u.connect_timeout);
    peer.options.total_connection_timeout = Some(u.connect_timeout);
    peer.options.read_timeout = Some(u.read_timeout);
    peer.options.write_timeout = Some(u.write_timeout);
    peer.options.idle_timeout = Some(Duration::from_secs(60));
    peer
}

/// Streams one HTTP/2 upstream connection carries at once.
const H2_STREAMS_PER_CONNECTION: usize = 100;

/// Makes `peer` speak HTTP/2 with prior knowledge (h2c): gRPC calls, whose
/// trailers HTTP/1 cannot carry. The upstream's TLS and `h2c://` schemes are not
/// here yet; this is the plaintext case only.
pub(crate) fn speak_h2(peer: &mut HttpPeer) {
    peer.options.set_http_version(2, 2);
    peer.options.max_h2_streams = H2_STREAMS_PER_CONNECTION;
}

/// Resolves `host:port` once (blocking; at start and on reload).
pub(crate) fn resolve_address(address: &str) -> Result<SocketAddr, StartError> {
    address
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| StartError::Resolve(address.to_string()))
}
