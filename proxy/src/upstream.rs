//! An upstream: its peer (the address follows DNS, see `background`; TLS or
//! HTTP/2 as its URL's scheme says), and whether its health path answers.

use arc_swap::ArcSwap;
use pingora::prelude::HttpPeer;
use pingora::protocols::tls::CaType;
use pingora::utils::tls::{parse_x509, WrappedX509};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{UpstreamScheme, UpstreamSettings};
use crate::metrics::{metrics, UpstreamCounters};

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

/// One upstream's peer; its address follows DNS (see `background`).
#[derive(Debug)]
pub(crate) struct Upstream {
    /// The settings it was built from.
    pub settings: UpstreamSettings,
    /// `ca_file`'s certificates as Pingora's TLS connector takes them.
    ca: Option<Arc<CaType>>,
    /// Its errors and connections, labelled with its name.
    pub counters: UpstreamCounters,
    peer: ArcSwap<HttpPeer>,
    addr: ArcSwap<SocketAddr>,
    /// The health path's latest answer (true until one says otherwise, and when
    /// no health path is configured).
    healthy: AtomicBool,
}

impl Upstream {
    pub(crate) fn new(settings: UpstreamSettings, addr: SocketAddr) -> Self {
        // Each certificate parsed when the config was loaded: `parse_x509` cannot fail.
        let ca = settings.ca.as_ref().map(|certs| {
            let wrapped: Vec<WrappedX509> = certs
                .iter()
                .map(|der| WrappedX509::new(der.clone(), parse_x509))
                .collect();
            Arc::<CaType>::from(wrapped)
        });
        let peer = ArcSwap::from_pointee(peer_for(&settings, ca.as_ref(), addr));
        Self {
            counters: metrics().upstream_counters(&settings.name),
            settings,
            ca,
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
        let peer = peer_for(&self.settings, self.ca.as_ref(), addr);
        self.peer.store(Arc::new(peer));
        self.addr.store(Arc::new(addr));
    }
}

/// The peer for `u` at `addr`. Pingora pools connections by the peer's hash
/// (address, scheme, SNI, verification flags, `group_key`): the group key holds
/// what else tells upstreams apart (name, CA, scheme), so two upstreams at one
/// address never share a connection, nor does a reload that changed the CA reuse
/// one checked against the old.
fn peer_for(u: &UpstreamSettings, ca: Option<&Arc<CaType>>, addr: SocketAddr) -> HttpPeer {
    let tls = u.scheme == UpstreamScheme::Https;
    let mut peer = HttpPeer::new(addr, tls, u.host.clone());
    if tls {
        peer.options.ca = ca.cloned();
        peer.options.verify_cert = !u.tls_insecure;
        peer.options.verify_hostname = !u.tls_insecure;
    }
    if u.scheme == UpstreamScheme::H2c {
        speak_h2(&mut peer);
    }
    let mut group = DefaultHasher::new();
    (&u.name, u.scheme.as_str(), &u.ca, u.tls_insecure).hash(&mut group);
    peer.group_key = group.finish();
    peer.options.connection_timeout = Some(u.connect_timeout);
    peer.options.total_connection_timeout = Some(u.connect_timeout);
    peer.options.read_timeout = Some(u.read_timeout);
    peer.options.write_timeout = Some(u.write_timeout);
    peer.options.idle_timeout = Some(Duration::from_secs(60));
    peer
}

/// Streams one HTTP/2 upstream connection carries at once.
const H2_STREAMS_PER_CONNECTION: usize = 100;

/// Makes `peer` speak HTTP/2: with prior knowledge (h2c) to an `http://` or
/// `h2c://` upstream, by ALPN to an `https://` one. gRPC calls need it (HTTP/1
/// cannot carry their trailers); an `h2c://` upstream gets every request so.
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

#[cfg(test)]
mod tests {
    use super::*;
    use pingora::upstreams::peer::Peer;

    fn settings(name: &str, scheme: UpstreamScheme) -> UpstreamSettings {
        UpstreamSettings {
            address: "localhost:8443".into(),
            host: "localhost".into(),
            name: name.into(),
            scheme,
            ca: None,
            tls_insecure: false,
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            write_timeout: Duration::from_secs(1),
            resolve_interval: Duration::from_secs(5),
            health_path: None,
            health_interval: Duration::from_secs(5),
        }
    }

    fn peer(s: UpstreamSettings) -> HttpPeer {
        Upstream::new(s, "127.0.0.1:8443".parse().unwrap()).peer()
    }

    #[test]
    fn upstreams_at_one_address_never_share_a_pool() {
        let web = peer(settings("web", UpstreamScheme::Https));
        let api = peer(settings("api", UpstreamScheme::Https));
        let insecure = peer(UpstreamSettings {
            tls_insecure: true,
            ..settings("web", UpstreamScheme::Https)
        });
        let plain = peer(settings("web", UpstreamScheme::Http));
        let hashes = [&web, &api, &insecure, &plain].map(|p| p.reuse_hash());
        for (i, a) in hashes.iter().enumerate() {
            for b in &hashes[i + 1..] {
                assert_ne!(a, b, "{hashes:?}");
            }
        }
        // The same upstream keeps its pool across requests.
        let again = peer(settings("web", UpstreamScheme::Https));
        assert_eq!(web.reuse_hash(), again.reuse_hash());
    }

    #[test]
    fn the_scheme_decides_tls_sni_verification_and_http2() {
        let https = peer(settings("web", UpstreamScheme::Https));
        assert!(https.is_tls());
        assert_eq!(https.sni, "localhost");
        assert!(https.options.verify_cert && https.options.verify_hostname);
        let insecure = peer(UpstreamSettings {
            tls_insecure: true,
            ..settings("web", UpstreamScheme::Https)
        });
        assert!(!insecure.options.verify_cert && !insecure.options.verify_hostname);
        let h2c = peer(settings("grpc", UpstreamScheme::H2c));
        assert!(!h2c.is_tls());
        assert_eq!(h2c.options.alpn, pingora::protocols::ALPN::H2);
        let http = peer(settings("web", UpstreamScheme::Http));
        assert!(!http.is_tls());
        assert_eq!(http.options.alpn, pingora::protocols::ALPN::H1);
    }
}
