//! What each listener speaks (River's `ListenerKind`): plaintext or TLS, and which
//! HTTP versions. Whatever depends on it asks here: the connection limits (the TLS
//! handshake, what the head deadline may scan and answer), the scheme of
//! `X-Forwarded-Proto` / `Forwarded` and of the CSRF origin check, and Pingora's
//! h2c switch. The admin listener is always [`ListenerKind::Plain`] without h2c.

use pingora::protocols::{Stream, ALPN};
use std::sync::Arc;
use tokio::time::Instant;

use crate::config::ListenerSettings;
use crate::forwarding::Scheme;
use crate::tls::{CertReloader, HandshakeError, TlsAcceptor};

/// What a listener speaks.
#[derive(Debug, Clone)]
pub(crate) enum ListenerKind {
    /// Plaintext HTTP/1.1; with `h2c`, HTTP/2 with prior knowledge too.
    Plain {
        /// `server.h2c`.
        h2c: bool,
    },
    /// TLS, then HTTP/2 or HTTP/1.1 as ALPN picks (HTTP/1.1 without ALPN).
    Tls(Arc<TlsAcceptor>),
}

/// What one accepted connection speaks, as far as its first bytes are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Speaks {
    /// HTTP/1.x.
    Http1,
    /// HTTP/1.x, or HTTP/2 if it opens with the h2c preface.
    Http1OrH2c,
    /// HTTP/2 (ALPN `h2`).
    H2,
}

impl ListenerKind {
    /// The proxy listener of `settings`, and the reloader of its certificate when it
    /// is TLS (whose first load must succeed).
    pub(crate) fn proxy(
        settings: &ListenerSettings,
    ) -> Result<(Self, Option<Arc<CertReloader>>), String> {
        match settings {
            ListenerSettings::Plain { h2c } => Ok((Self::Plain { h2c: *h2c }, None)),
            ListenerSettings::Tls(files) => {
                let reloader = Arc::new(CertReloader::load(files).map_err(|e| e.to_string())?);
                let acceptor = TlsAcceptor::new(files, reloader.resolver())?;
                Ok((Self::Tls(Arc::new(acceptor)), Some(reloader)))
            }
        }
    }

    /// The admin listener: plaintext HTTP/1.1.
    pub(crate) fn admin() -> Self {
        Self::Plain { h2c: false }
    }

    /// The scheme clients reach this listener with.
    pub(crate) fn scheme(&self) -> Scheme {
        match self {
            Self::Plain { .. } => Scheme::Http,
            Self::Tls(_) => Scheme::Https,
        }
    }

    /// Whether Pingora should look for the h2c preface.
    pub(crate) fn h2c(&self) -> bool {
        matches!(self, Self::Plain { h2c: true })
    }

    /// The protocols, for the start-up log.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Self::Plain { h2c: false } => "http/1.1",
            Self::Plain { h2c: true } => "http/1.1, h2c (prior knowledge)",
            Self::Tls(_) => "tls: h2, http/1.1 (ALPN)",
        }
    }

    /// Opens a freshly accepted connection: the TLS handshake, if any, must be done
    /// by `deadline`.
    pub(crate) async fn open(
        &self,
        stream: Stream,
        deadline: Instant,
    ) -> Result<(Stream, Speaks), HandshakeError> {
        match self {
            Self::Plain { h2c: false } => Ok((stream, Speaks::Http1)),
            Self::Plain { h2c: true } => Ok((stream, Speaks::Http1OrH2c)),
            Self::Tls(acceptor) => {
                let tls = acceptor.handshake(stream, deadline).await?;
                let speaks = if tls.selected_alpn_proto() == Some(ALPN::H2) {
                    Speaks::H2
                } else {
                    Speaks::Http1
                };
                Ok((tls, speaks))
            }
        }
    }
}
