//! The signature algorithms authgate verifies, by their JOSE names.

use jsonwebtoken::Algorithm;

/// The signature algorithms authgate verifies. HS384/HS512 are deliberately absent:
/// the shared secret is HS256 only.
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlg {
    /// HMAC SHA-256 (the shared secret).
    HS256,
    /// RSASSA-PKCS1-v1_5 SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 SHA-512.
    RS512,
    /// RSASSA-PSS SHA-256.
    PS256,
    /// RSASSA-PSS SHA-384.
    PS384,
    /// RSASSA-PSS SHA-512.
    PS512,
    /// ECDSA P-256 SHA-256.
    ES256,
    /// ECDSA P-384 SHA-384.
    ES384,
    /// ECDSA P-521 SHA-512 (jsonwebtoken lacks it; verified with aws-lc-rs directly).
    ES512,
    /// Ed25519 (Better Auth's default).
    EdDSA,
}

impl KeyAlg {
    /// Every asymmetric algorithm, the default allow-list of a JWKS source.
    pub const ASYMMETRIC: [KeyAlg; 10] = [
        Self::EdDSA,
        Self::ES256,
        Self::ES384,
        Self::ES512,
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
    ];

    /// Parses the exact JOSE name (case-sensitive, as RFC 7515 requires).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "HS256" => Self::HS256,
            "RS256" => Self::RS256,
            "RS384" => Self::RS384,
            "RS512" => Self::RS512,
            "PS256" => Self::PS256,
            "PS384" => Self::PS384,
            "PS512" => Self::PS512,
            "ES256" => Self::ES256,
            "ES384" => Self::ES384,
            "ES512" => Self::ES512,
            "EdDSA" => Self::EdDSA,
            _ => return None,
        })
    }

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::ES512 => "ES512",
            Self::EdDSA => "EdDSA",
        }
    }

    pub(super) fn jsonwebtoken(self) -> Option<Algorithm> {
        Some(match self {
            Self::HS256 => Algorithm::HS256,
            Self::RS256 => Algorithm::RS256,
            Self::RS384 => Algorithm::RS384,
            Self::RS512 => Algorithm::RS512,
            Self::PS256 => Algorithm::PS256,
            Self::PS384 => Algorithm::PS384,
            Self::PS512 => Algorithm::PS512,
            Self::ES256 => Algorithm::ES256,
            Self::ES384 => Algorithm::ES384,
            Self::EdDSA => Algorithm::EdDSA,
            Self::ES512 => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alg_names_are_exact() {
        for a in KeyAlg::ASYMMETRIC.iter().chain([KeyAlg::HS256].iter()) {
            assert_eq!(KeyAlg::parse(a.as_str()), Some(*a));
        }
        for bad in ["none", "HS384", "HS512", "eddsa", "Ed25519", "RS256 ", ""] {
            assert_eq!(KeyAlg::parse(bad), None, "{bad}");
        }
    }
}
