//! The certificate in use and its reload. rustls asks the resolver for the
//! certificate at every ClientHello, so a swap takes effect for the next
//! handshake; connections already open keep the one they were made with. A pair
//! that does not check out (see `certs`) keeps the old one, logged and counted.

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::sync::Arc;

use super::certs::{load_pair, CertPair, PairError};
use super::TlsFiles;
use crate::metrics::metrics;

/// The certificate every new handshake gets.
struct CurrentCert(ArcSwap<CertifiedKey>);

impl std::fmt::Debug for CurrentCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CurrentCert")
    }
}

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load_full())
    }
}

/// Reloads the pair of `server.tls` into the listener's resolver.
pub(crate) struct CertReloader {
    files: TlsFiles,
    current: Arc<CurrentCert>,
}

impl std::fmt::Debug for CertReloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertReloader")
            .field("cert_file", &self.files.cert_file)
            .field("key_file", &self.files.key_file)
            .finish_non_exhaustive()
    }
}

impl CertReloader {
    /// Loads the pair of `files` (the first time: a failure stops the start).
    pub(crate) fn load(files: &TlsFiles) -> Result<Self, PairError> {
        let pair = load_pair(&files.cert_file, &files.key_file)?;
        metrics().set_tls_cert_expiry(pair.not_after);
        tracing::info!(serial = %pair.serial, not_after = pair.not_after, cert_file = %files.cert_file.display(), "TLS certificate loaded");
        Ok(Self {
            files: files.clone(),
            current: Arc::new(CurrentCert(ArcSwap::new(pair.key))),
        })
    }

    /// The resolver the TLS configuration serves from.
    pub(crate) fn resolver(&self) -> Arc<dyn ResolvesServerCert> {
        self.current.clone()
    }

    /// The files being served.
    pub(crate) fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// Reads the files again and serves the new pair if it checks out; `why` is
    /// logged (`SIGHUP`, `files changed`).
    pub(crate) fn reload(&self, why: &str) -> Result<(), PairError> {
        let result = load_pair(&self.files.cert_file, &self.files.key_file);
        metrics().record_tls_reload(result.is_ok());
        match result {
            Ok(CertPair {
                key,
                not_after,
                serial,
            }) => {
                self.current.0.store(key);
                metrics().set_tls_cert_expiry(not_after);
                tracing::info!(%why, %serial, not_after, "TLS certificate reloaded");
                Ok(())
            }
            Err(e) => {
                tracing::error!(%why, error = %e, "TLS certificate reload failed; the previous certificate stays");
                Err(e)
            }
        }
    }
}
