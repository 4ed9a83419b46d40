//! Token extraction and verification. No proxy types here: plain inputs, plain
//! outputs, unit-tested on their own. This is the one place that decodes JWTs.
//!
//! - [`bearer`] and [`cookie`] find the credential;
//! - [`header`] parses and screens the JOSE header;
//! - [`keys`], [`jwk`] and [`jwks`] hold the verifying keys (static or fetched);
//! - [`verify`] chooses the key, checks signature and claims, and uses the [`cache`];
//! - [`claims`] turns verified claims into a header-safe [`Identity`].

pub mod bearer;
pub mod cache;
pub mod claims;
pub mod cookie;
pub mod error;
pub mod header;
pub mod jwk;
pub mod jwks;
pub mod keys;
pub mod metrics;
#[doc(hidden)]
#[cfg(any(test, feature = "testkeys"))]
pub mod testkeys;
pub mod verify;

pub use bearer::{bearer_token, BearerError};
pub use claims::Identity;
pub use error::TokenError;
pub use jwks::{RemoteJwks, RemoteJwksConfig};
pub use keys::{ClaimRules, KeyAlg, KeySet, VerifyingKey};
pub use metrics::AuthMetrics;
pub use verify::{KeySource, Purpose, Verifier, VerifierOptions};
