//! Token extraction and verification. No proxy types here: plain inputs, plain
//! outputs, unit-tested on their own. This is the one place that decodes JWTs.

mod bearer;
mod claims;
mod error;
mod keys;
mod verify;

pub use bearer::{bearer_token, BearerError};
pub use claims::Identity;
pub use error::TokenError;
pub use keys::{ClaimRules, KeySet, VerifyingKey};
pub use verify::{Verifier, VerifierOptions};
