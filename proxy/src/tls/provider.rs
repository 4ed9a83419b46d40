//! One rustls crypto provider for the whole process: aws-lc-rs, which authgate's
//! JWT verification and its HTTP client already use. Pingora's rustls backend
//! installs ring as the process default unless one is installed first, and a
//! rustls built with both providers has no default of its own (it would panic at
//! the first TLS configuration built without one), so `serve` installs
//! aws-lc-rs before anything else runs.

use rustls::crypto::CryptoProvider;
use std::sync::{Arc, LazyLock};

/// aws-lc-rs's default provider (cipher suites, key exchange groups, key loading).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: LazyLock<Arc<CryptoProvider>> =
        LazyLock::new(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    PROVIDER.clone()
}

/// Makes aws-lc-rs the process's default provider (a second call does nothing).
pub(crate) fn install_process_provider() {
    let _ = CryptoProvider::install_default((*provider()).clone());
}
