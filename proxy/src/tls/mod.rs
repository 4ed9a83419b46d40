//! TLS on the proxy listener, with rustls (through Pingora's `rustls` feature) and
//! aws-lc-rs as the one crypto provider of the process:
//! - `certs`: a certificate/key pair read from PEM files and checked (parses, the
//!   key matches the leaf, not expired);
//! - `acceptor`: the rustls server configuration (TLS 1.2+ or 1.3 only, ALPN `h2`
//!   and `http/1.1`, optional client certificates) and the handshake, which the
//!   connection limits run under the head deadline;
//! - `reload`: the certificate in use, swapped without a restart on SIGHUP and
//!   when the files change (`watch`); connections already open keep theirs.

mod acceptor;
mod certs;
mod provider;
mod reload;
mod watch;

use std::path::PathBuf;

pub(crate) use acceptor::{HandshakeError, TlsAcceptor};
pub(crate) use certs::{load_client_roots, load_pair, PairError};
pub(crate) use provider::{install_process_provider, provider};
pub(crate) use reload::CertReloader;
pub(crate) use watch::spawn_watcher;

/// `server.tls.min_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinVersion {
    /// TLS 1.2 and 1.3.
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// The files of `[server.tls]`, resolved against the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first (PEM).
    pub cert_file: PathBuf,
    /// The leaf's private key (PEM).
    pub key_file: PathBuf,
    /// Oldest TLS version accepted.
    pub min_version: MinVersion,
    /// CAs that client certificates must chain to, when they are required.
    pub client_ca_file: Option<PathBuf>,
}
