//! Validation of the registered claims of a verified token: `exp` and `nbf` against
//! the clock (with leeway), `iss` and `aud` against a source's pins, by the kind of
//! token (access token or one of Better Auth's session cookies).

use serde_json::{Map, Value};
use std::time::Duration;

use super::error::TokenError;

/// Which claim rules apply: they differ between access tokens and Better Auth's
/// session cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimMode {
    /// `Authorization: Bearer` access token: the source's `iss`/`aud` rules.
    Access,
    /// Better Auth's `session_data` cookie (strategy `jwt`, HS256): Better Auth
    /// sets no `iss`/`aud`, so they are required by nothing; but when the token
    /// carries one, the source's pins apply (a token minted for another issuer or
    /// audience with the same secret is not accepted as a cookie either).
    SessionCookieHs256,
    /// Better Auth's JWKS-signed `session_data` cookie: the source's `iss`, and
    /// `aud` = `better-auth:session-cache`.
    SessionCookieJwks,
}

/// `aud` of Better Auth's JWKS-signed session cookie.
pub(crate) const SESSION_CACHE_AUDIENCE: &str = "better-auth:session-cache";

/// Claim rules of one key source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimRules {
    /// Accepted issuers; empty means `iss` is not checked.
    pub issuer: Vec<String>,
    /// Accepted audiences; empty means `aud` is not checked.
    pub audience: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
}

/// A NumericDate claim (`exp`, `nbf`, `iat`) in whole seconds: absent is `None`,
/// anything but a finite non-negative number is an error. The one rule for time
/// claims, for validation and for the identity kept in the cache alike.
pub(crate) fn time_claim(
    claims: &Map<String, Value>,
    name: &str,
) -> Result<Option<u64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| Some(f as u64))
            .ok_or(TokenError::MissingClaim),
    }
}

impl ClaimRules {
    /// Checks the registered claims at time `now`: `exp` required and not past,
    /// `nbf` not in the future, `iss` and `aud` when the rules (for `mode`) name them.
    pub fn validate(
        &self,
        claims: &Map<String, Value>,
        now: u64,
        mode: ClaimMode,
    ) -> Result<(), TokenError> {
        let exp = time_claim(claims, "exp")?.ok_or(TokenError::MissingClaim)?;
        let nbf = time_claim(claims, "nbf")?;
        check_time(exp, nbf, self.leeway.as_secs(), now)?;
        let (issuers, audiences): (&[String], &[String]) = match mode {
            ClaimMode::Access => (&self.issuer, &self.audience),
            ClaimMode::SessionCookieHs256 => (
                if claims.contains_key("iss") {
                    &self.issuer
                } else {
                    &[]
                },
                if claims.contains_key("aud") {
                    &self.audience
                } else {
                    &[]
                },
            ),
            ClaimMode::SessionCookieJwks => (&self.issuer, &[]),
        };
        if !issuers.is_empty() {
            match claims.get("iss") {
                None => return Err(TokenError::MissingClaim),
                Some(Value::String(iss)) if issuers.iter().any(|i| i == iss) => {}
                Some(_) => return Err(TokenError::BadIssuer),
            }
        }
        let audience_ok = |wanted: &dyn Fn(&str) -> bool| match claims.get("aud") {
            None => Err(TokenError::MissingClaim),
            Some(Value::String(a)) if wanted(a) => Ok(()),
            Some(Value::Array(list)) if list.iter().any(|a| a.as_str().is_some_and(wanted)) => {
                Ok(())
            }
            Some(_) => Err(TokenError::BadAudience),
        };
        if mode == ClaimMode::SessionCookieJwks {
            audience_ok(&|a| a == SESSION_CACHE_AUDIENCE)?;
        } else if !audiences.is_empty() {
            audience_ok(&|a| audiences.iter().any(|w| w == a))?;
        }
        Ok(())
    }
}

/// `exp`/`nbf` against `now` with `leeway`: also used on every cache hit.
pub(crate) fn check_time(
    exp: u64,
    nbf: Option<u64>,
    leeway: u64,
    now: u64,
) -> Result<(), TokenError> {
    if exp.saturating_add(leeway) < now {
        return Err(TokenError::Expired);
    }
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn rules(iss: &[&str], aud: &[&str]) -> ClaimRules {
        ClaimRules {
            issuer: iss.iter().map(|s| s.to_string()).collect(),
            audience: aud.iter().map(|s| s.to_string()).collect(),
            leeway: Duration::from_secs(10),
        }
    }

    #[test]
    fn time_claims_with_leeway() {
        let r = rules(&[], &[]);
        let b = ClaimMode::Access;
        assert!(r.validate(&map(json!({"exp": 1000})), 1005, b).is_ok());
        assert_eq!(
            r.validate(&map(json!({"exp": 1000})), 1011, b),
            Err(TokenError::Expired)
        );
        assert_eq!(
            r.validate(&map(json!({})), 1, b),
            Err(TokenError::MissingClaim)
        );
        assert_eq!(
            r.validate(&map(json!({"exp": "x"})), 1, b),
            Err(TokenError::MissingClaim)
        );
        assert_eq!(
            r.validate(&map(json!({"exp": -5})), 1, b),
            Err(TokenError::MissingClaim)
        );
        assert!(r
            .validate(&map(json!({"exp": 5000, "nbf": 1009})), 1000, b)
            .is_ok());
        assert_eq!(
            r.validate(&map(json!({"exp": 5000, "nbf": 1011})), 1000, b),
            Err(TokenError::NotYetValid)
        );
        assert!(r.validate(&map(json!({"exp": 1000.5})), 1000, b).is_ok());
    }

    #[test]
    fn issuer_and_audience() {
        let r = rules(&["https://a"], &["https://b"]);
        let ok = json!({"exp": 9, "iss": "https://a", "aud": "https://b"});
        assert!(r.validate(&map(ok), 1, ClaimMode::Access).is_ok());
        let list = json!({"exp": 9, "iss": "https://a", "aud": ["x", "https://b"]});
        assert!(r.validate(&map(list), 1, ClaimMode::Access).is_ok());
        let bad_iss = json!({"exp": 9, "iss": "https://z", "aud": "https://b"});
        assert_eq!(
            r.validate(&map(bad_iss), 1, ClaimMode::Access),
            Err(TokenError::BadIssuer)
        );
        let iss_list = json!({"exp": 9, "iss": ["https://a"], "aud": "https://b"});
        assert_eq!(
            r.validate(&map(iss_list), 1, ClaimMode::Access),
            Err(TokenError::BadIssuer)
        );
        let bad_aud = json!({"exp": 9, "iss": "https://a", "aud": ["x"]});
        assert_eq!(
            r.validate(&map(bad_aud), 1, ClaimMode::Access),
            Err(TokenError::BadAudience)
        );
        let no_aud = json!({"exp": 9, "iss": "https://a"});
        assert_eq!(
            r.validate(&map(no_aud), 1, ClaimMode::Access),
            Err(TokenError::MissingClaim)
        );
    }

    #[test]
    fn session_cookie_rules() {
        let r = rules(&["https://a"], &["https://b"]);
        // HS256 cookie: no iss/aud in Better Auth's payload, none checked.
        assert!(r
            .validate(&map(json!({"exp": 9})), 1, ClaimMode::SessionCookieHs256)
            .is_ok());
        let jwks_cookie = json!({"exp": 9, "iss": "https://a", "aud": SESSION_CACHE_AUDIENCE});
        assert!(r
            .validate(&map(jwks_cookie.clone()), 1, ClaimMode::SessionCookieJwks)
            .is_ok());
        // A session-cache token is not an access token for this audience.
        assert_eq!(
            r.validate(&map(jwks_cookie), 1, ClaimMode::Access),
            Err(TokenError::BadAudience)
        );
        let access = json!({"exp": 9, "iss": "https://a", "aud": "https://b"});
        assert_eq!(
            r.validate(&map(access), 1, ClaimMode::SessionCookieJwks),
            Err(TokenError::BadAudience)
        );
    }
}
