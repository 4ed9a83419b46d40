//! Token extraction and verification. No proxy types here: plain inputs, plain
//! outputs, unit-tested on their own. This is the one place that decodes JWTs.
//!
//! - [`bearer`] and [`cookie`] find the credential;
//! - [`jose`] parses and screens the JOSE header;
//! - [`keys`], [`jwk`] and [`jwks`] hold the verifying keys (static or fetched:
//!   [`fetch`] gets a document, [`discovery`] finds an OpenID provider's JWKS);
//! - [`verify`] chooses the key, checks the signature, then the registered claims
//!   ([`claims`]), and uses the [`cache`];
//! - [`identity`] turns verified claims into a header-safe [`Identity`].

pub(crate) mod alg;
pub(crate) mod bearer;
pub(crate) mod cache;
pub(crate) mod claims;
pub(crate) mod cookie;
pub(crate) mod discovery;
pub(crate) mod error;
pub(crate) mod fetch;
pub(crate) mod identity;
pub(crate) mod jose;
pub(crate) mod jwk;
pub(crate) mod jwks;
pub(crate) mod keys;
pub(crate) mod metrics;
#[doc(hidden)]
#[cfg(any(test, feature = "testkeys"))]
pub(crate) mod testkeys;
pub(crate) mod verify;

pub use alg::KeyAlg;
pub(crate) use bearer::{bearer_token, BearerError};
pub use claims::{ClaimMode, ClaimRules};
pub(crate) use error::TokenError;
pub use identity::{Identity, KeptClaims};
pub(crate) use jwks::{JwksLocation, RemoteJwks, RemoteJwksConfig};
pub use keys::{KeySet, VerifyingKey};
pub use metrics::AuthMetrics;
pub use verify::{KeySource, Purpose, Verifier, VerifierOptions};
