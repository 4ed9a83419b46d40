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
    /// A token of another type (`typ`), e.g. a session-cache cookie sent as a bearer token.
    WrongTokenType,
    /// No signing keys could be loaded yet (JWKS unreachable since start): a 503, not
    /// the client's fault.
    KeysUnavailable,
}

impl TokenError {
    /// Every variant, for counters.
    pub const ALL: [TokenError; 16] = [
        Self::TooLarge,
        Self::Malformed,
        Self::AlgorithmNotAllowed,
        Self::EmbeddedKey,
        Self::CriticalHeader,
        Self::UnknownKey,
        Self::BadSignature,
        Self::Expired,
        Self::NotYetValid,
        Self::BadIssuer,
        Self::BadAudience,
        Self::MissingClaim,
        Self::BadSubject,
        Self::BadClaim,
        Self::WrongTokenType,
        Self::KeysUnavailable,
    ];

    /// Position in [`Self::ALL`]. An exhaustive `match`, so a new variant does not
    /// compile until it has a place (and `ALL` grows with it).
    pub const fn index(self) -> usize {
        match self {
            Self::TooLarge => 0,
            Self::Malformed => 1,
            Self::AlgorithmNotAllowed => 2,
            Self::EmbeddedKey => 3,
            Self::CriticalHeader => 4,
            Self::UnknownKey => 5,
            Self::BadSignature => 6,
            Self::Expired => 7,
            Self::NotYetValid => 8,
            Self::BadIssuer => 9,
            Self::BadAudience => 10,
            Self::MissingClaim => 11,
            Self::BadSubject => 12,
            Self::BadClaim => 13,
            Self::WrongTokenType => 14,
            Self::KeysUnavailable => 15,
        }
    }

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
            Self::WrongTokenType => "wrong token type",
            Self::KeysUnavailable => "signing keys are not available yet",
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
            Self::WrongTokenType => "wrong_typ",
            Self::KeysUnavailable => "keys_unavailable",
        }
    }
}

// Every entry of ALL sits at its own index, checked when compiling.
const _: () = {
    let mut i = 0;
    while i < TokenError::ALL.len() {
        assert!(TokenError::ALL[i].index() == i);
        i += 1;
    }
};

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for TokenError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_variant_in_order() {
        // `index` is exhaustive, so every variant has an index; each index must be
        // its position in ALL, which therefore lists every variant exactly once.
        for (i, e) in TokenError::ALL.iter().enumerate() {
            assert_eq!(e.index(), i, "{e:?}");
        }
        let mut reasons: Vec<_> = TokenError::ALL.iter().map(|e| e.reason()).collect();
        reasons.sort_unstable();
        reasons.dedup();
        assert_eq!(
            reasons.len(),
            TokenError::ALL.len(),
            "reason labels are distinct"
        );
    }
}
