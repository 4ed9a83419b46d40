//! A certificate/key pair from PEM files, checked before it is served: the chain
//! parses, the key is one rustls can sign with and belongs to the leaf, and the
//! leaf has not expired. Errors never include key material.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::RootCertStore;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use super::provider;

/// A checked pair, ready to serve.
pub(crate) struct CertPair {
    /// Chain and signing key, as rustls serves them.
    pub(crate) key: Arc<CertifiedKey>,
    /// The leaf's `notAfter`, seconds since the epoch.
    pub(crate) not_after: i64,
    /// The leaf's serial number, hex (for the log).
    pub(crate) serial: String,
}

impl fmt::Debug for CertPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertPair")
            .field("serial", &self.serial)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// Why a pair cannot be served, by the file at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PairError {
    /// The certificate file, or the pair as a whole (a key of another certificate).
    #[error("{0}")]
    Cert(String),
    /// The key file.
    #[error("{0}")]
    Key(String),
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{} is not PEM certificates: {e}", path.display()))?;
    if chain.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    // The parser's own message may quote a line of the file: not repeated here.
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| {
        format!(
            "{} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)",
            path.display()
        )
    })
}

/// The leaf's validity end and serial; an expired leaf is refused.
fn leaf_facts(leaf: &CertificateDer<'_>, path: &Path) -> Result<(i64, String), String> {
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref()).map_err(|e| {
        format!(
            "{}: the first certificate does not parse: {e}",
            path.display()
        )
    })?;
    let not_after = cert.validity().not_after.timestamp();
    let now = chrono::Utc::now().timestamp();
    if not_after < now {
        return Err(format!(
            "{}: the certificate expired at {}",
            path.display(),
            cert.validity().not_after
        ));
    }
    Ok((not_after, cert.tbs_certificate.raw_serial_as_string()))
}

/// Reads and checks the pair in `cert` and `key`.
pub(crate) fn load_pair(cert: &Path, key: &Path) -> Result<CertPair, PairError> {
    let chain = read_chain(cert).map_err(PairError::Cert)?;
    let (not_after, serial) = leaf_facts(&chain[0], cert).map_err(PairError::Cert)?;
    let der = read_key(key).map_err(PairError::Key)?;
    let certified = CertifiedKey::from_der(chain, der, &provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => PairError::Cert(format!(
            "{} does not match the private key in {}",
            cert.display(),
            key.display()
        )),
        _ => PairError::Key(format!(
            "{}: not a private key this server can use",
            key.display()
        )),
    })?;
    Ok(CertPair {
        key: Arc::new(certified),
        not_after,
        serial,
    })
}

/// The CAs of `server.tls.client_ca_file` (at least one).
pub(crate) fn load_client_roots(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in read_chain(path)? {
        roots
            .add(cert)
            .map_err(|e| format!("{}: not a CA certificate: {e}", path.display()))?;
    }
    Ok(roots)
}
