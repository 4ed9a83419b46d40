//! Why a token was refused. The descriptions go to clients in `error_description`,
//! so they are fixed strings that never repeat any part of the token.

use std::fmt;

/// A verification failure (always a 401 at the edge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Longer than `auth.max_token_bytes`.
    TooLarge,
    /// Not three base64url parts of JSON.
    Malformed,
    /// `alg` is `none`, unknown, or not the one pinned to the key.
    AlgorithmNotAllowed,
    /// The header carries key material or a key URL (`jwk`, `jku`, `x5u`, `x5c`).
    EmbeddedKey,
    /// The header lists `crit` extensions we do not implement.
    CriticalHeader,
    /// No configured key has the token's `kid`.
    UnknownKey,
    /// The signature does not verify.
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iss` is not an accepted issuer.
    BadIssuer,
    /// `aud` has no accepted audience.
    BadAudience,
    /// A required claim (`exp`, `sub`, `iss`, `aud`) is missing or of the wrong type.
    MissingClaim,
    /// `sub` is empty, too long, or has characters that cannot go in a header.
    BadSubject,
    /// `email` or a mapped claim cannot go in a header (control characters).
    BadClaim,
}

impl TokenError {
    /// Fixed text for `error_description` and logs.
    pub fn description(self) -> &'static str {
        match self {
            Self::TooLarge => "token too large",
            Self::Malformed => "malformed token",
            Self::AlgorithmNotAllowed => "token algorithm not allowed",
            Self::EmbeddedKey => "embedded keys and key URLs are not accepted",
            Self::CriticalHeader => "unsupported critical header",
            Self::UnknownKey => "unknown signing key",
            Self::BadSignature => "invalid signature",
            Self::Expired => "token expired",
            Self::NotYetValid => "token not yet valid",
            Self::BadIssuer => "invalid issuer",
            Self::BadAudience => "invalid audience",
            Self::MissingClaim => "missing or invalid required claim",
            Self::BadSubject => "invalid subject",
            Self::BadClaim => "claim not representable as a header",
        }
    }

    /// Short machine label for access logs and metrics.
    pub fn reason(self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
            Self::AlgorithmNotAllowed => "alg_not_allowed",
            Self::EmbeddedKey => "embedded_key",
            Self::CriticalHeader => "crit",
            Self::UnknownKey => "unknown_kid",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::BadIssuer => "bad_iss",
            Self::BadAudience => "bad_aud",
            Self::MissingClaim => "missing_claim",
            Self::BadSubject => "bad_sub",
            Self::BadClaim => "bad_claim",
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for TokenError {}

impl From<jsonwebtoken::errors::Error> for TokenError {
    fn from(e: jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind as K;
        match e.kind() {
            K::InvalidSignature => Self::BadSignature,
            K::ExpiredSignature => Self::Expired,
            K::ImmatureSignature => Self::NotYetValid,
            K::InvalidIssuer => Self::BadIssuer,
            K::InvalidAudience => Self::BadAudience,
            K::InvalidAlgorithm | K::MissingAlgorithm | K::InvalidAlgorithmName => {
                Self::AlgorithmNotAllowed
            }
            K::MissingRequiredClaim(_) | K::InvalidClaimFormat(_) => Self::MissingClaim,
            K::InvalidSubject => Self::BadSubject,
            _ => Self::Malformed,
        }
    }
}
