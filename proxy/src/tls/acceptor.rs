//! The rustls server configuration and the handshake. authgate listens on plain
//! TCP and runs the handshake itself (inside the connection limits), so the head
//! deadline covers it: Pingora's own TLS listener allows any handshake 60 s.

use pingora::listeners::tls::Acceptor;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::Stream;
use rustls::server::{ResolvesServerCert, ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::ServerConfig;
use std::sync::Arc;
use tokio::time::Instant;

use super::certs::load_client_roots;
use super::{provider, MinVersion, TlsFiles};

/// TLS sessions remembered for resumption by session id (TLS 1.2) besides the
/// stateless tickets (both versions).
const SESSION_CACHE_ENTRIES: usize = 4096;

/// Why a handshake did not complete.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HandshakeError {
    /// It did not complete before the head deadline.
    #[error("TLS handshake not complete within server.header_read_timeout_secs")]
    Timeout,
    /// The client's hello, certificate or protocol was refused, or it went away.
    #[error("TLS handshake failed: {0}")]
    Failed(String),
}

/// Accepts TLS connections with the certificate `resolver` serves.
pub(crate) struct TlsAcceptor {
    acceptor: Acceptor,
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsAcceptor")
    }
}

/// The server configuration: versions from `min_version`, ALPN `h2` then
/// `http/1.1`, client certificates required when `client_ca_file` is set,
/// resumption by ticket and by session id, no 0-RTT (replayable).
fn server_config(
    files: &TlsFiles,
    resolver: Arc<dyn ResolvesServerCert>,
) -> Result<ServerConfig, String> {
    let versions: &[&rustls::SupportedProtocolVersion] = match files.min_version {
        MinVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        MinVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| format!("TLS versions: {e}"))?;
    let builder = match &files.client_ca_file {
        Some(path) => {
            let roots = Arc::new(load_client_roots(path)?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider())
                .build()
                .map_err(|e| format!("{}: {e}", path.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE_ENTRIES);
    config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new().map_err(|e| e.to_string())?;
    Ok(config)
}

impl TlsAcceptor {
    /// An acceptor for `files`, serving what `resolver` returns.
    pub(crate) fn new(
        files: &TlsFiles,
        resolver: Arc<dyn ResolvesServerCert>,
    ) -> Result<Self, String> {
        let config = server_config(files, resolver)?;
        Ok(Self {
            acceptor: Acceptor::from_server_config(Arc::new(config)),
        })
    }

    /// Runs the handshake on a freshly accepted TCP connection, until `deadline`.
    pub(crate) async fn handshake(
        &self,
        stream: Stream,
        deadline: Instant,
    ) -> Result<Stream, HandshakeError> {
        let tcp = stream
            .into_any()
            .downcast::<L4Stream>()
            .map_err(|_| HandshakeError::Failed("not a TCP connection".into()))?;
        match tokio::time::timeout_at(deadline, self.acceptor.tls_handshake(*tcp)).await {
            Err(_) => Err(HandshakeError::Timeout),
            Ok(Err(e)) => Err(HandshakeError::Failed(e.to_string())),
            Ok(Ok(tls)) => Ok(Box::new(tls)),
        }
    }
}
