//! Validation of the registered claims of a verified token: `exp` and `nbf` against
//! the clock (with leeway), `iss` and `aud` against a source's pins, by the kind of
//! token (access token or one of Better Auth's session cookies).

use serde_json::{Map, Value};
use std::time::Duration;

use super::error::TokenError;
use crate::trace::{Step, Tracer};

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
    /// Each check is recorded in `trace`.
    pub fn validate<T: Tracer>(
        &self,
        claims: &Map<String, Value>,
        now: u64,
        mode: ClaimMode,
        trace: &mut T,
    ) -> Result<(), TokenError> {
        let leeway = self.leeway.as_secs();
        let exp = traced(
            trace,
            "exp",
            time_claim(claims, "exp").and_then(|e| {
                let exp = e.ok_or(TokenError::MissingClaim)?;
                check_time(exp, None, leeway, now).map(|()| exp)
            }),
        )?;
        traced(
            trace,
            "nbf",
            time_claim(claims, "nbf").and_then(|nbf| check_time(exp, nbf, leeway, now)),
        )?;
        let (issuers, audiences) = self.pins(claims, mode);
        if issuers.is_empty() {
            trace.step(|| Step::Claim {
                claim: "iss",
                result: "not_checked",
            });
        } else {
            traced(
                trace,
                "iss",
                match claims.get("iss") {
                    None => Err(TokenError::MissingClaim),
                    Some(Value::String(iss)) if issuers.iter().any(|i| i == iss) => Ok(()),
                    Some(_) => Err(TokenError::BadIssuer),
                },
            )?;
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
            traced(trace, "aud", audience_ok(&|a| a == SESSION_CACHE_AUDIENCE))?;
        } else if !audiences.is_empty() {
            traced(
                trace,
                "aud",
                audience_ok(&|a| audiences.iter().any(|w| w == a)),
            )?;
        } else {
            trace.step(|| Step::Claim {
                claim: "aud",
                result: "not_checked",
            });
        }
        Ok(())
    }

    /// The issuers and audiences pinned for `mode` (empty: not checked).
    fn pins(&self, claims: &Map<String, Value>, mode: ClaimMode) -> (&[String], &[String]) {
        let if_present = |name: &str, pins: &'_ [String]| -> bool {
            claims.contains_key(name) && !pins.is_empty()
        };
        match mode {
            ClaimMode::Access => (&self.issuer, &self.audience),
            ClaimMode::SessionCookieHs256 => (
                if if_present("iss", &self.issuer) {
                    &self.issuer
                } else {
                    &[]
                },
                if if_present("aud", &self.audience) {
                    &self.audience
                } else {
                    &[]
                },
            ),
            ClaimMode::SessionCookieJwks => (&self.issuer, &[]),
        }
    }
}

/// Records a claim check's result in `trace` and passes it on.
fn traced<T: Tracer, V>(
    trace: &mut T,
    claim: &'static str,
    result: Result<V, TokenError>,
) -> Result<V, TokenError> {
    trace.step(|| Step::Claim {
        claim,
        result: match &result {
            Ok(_) => "ok",
            Err(e) => e.reason(),
        },
    });
    result
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
    use crate::trace::NoTrace;
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
        assert!(r
            .validate(&map(json!({"exp": 1000})), 1005, b, &mut NoTrace)
            .is_ok());
        assert_eq!(
            r.validate(&map(json!({"exp": 1000})), 1011, b, &mut NoTrace),
            Err(TokenError::Expired)
        );
        assert_eq!(
            r.validate(&map(json!({})), 1, b, &mut NoTrace),
            Err(TokenError::MissingClaim)
        );
        assert_eq!(
            r.validate(&map(json!({"exp": "x"})), 1, b, &mut NoTrace),
            Err(TokenError::MissingClaim)
        );
        assert_eq!(
            r.validate(&map(json!({"exp": -5})), 1, b, &mut NoTrace),
            Err(TokenError::MissingClaim)
        );
        assert!(r
            .validate(
                &map(json!({"exp": 5000, "nbf": 1009})),
                1000,
                b,
                &mut NoTrace
            )
            .is_ok());
        assert_eq!(
            r.validate(
                &map(json!({"exp": 5000, "nbf": 1011})),
                1000,
                b,
                &mut NoTrace
            ),
            Err(TokenError::NotYetValid)
        );
        assert!(r
            .validate(&map(json!({"exp": 1000.5})), 1000, b, &mut NoTrace)
            .is_ok());
    }

    #[test]
    fn issuer_and_audience() {
        let r = rules(&["https://a"], &["https://b"]);
        let ok = json!({"exp": 9, "iss": "https://a", "aud": "https://b"});
        assert!(r
            .validate(&map(ok), 1, ClaimMode::Access, &mut NoTrace)
            .is_ok());
        let list = json!({"exp": 9, "iss": "https://a", "aud": ["x", "https://b"]});
        assert!(r
            .validate(&map(list), 1, ClaimMode::Access, &mut NoTrace)
            .is_ok());
        let bad_iss = json!({"exp": 9, "iss": "https://z", "aud": "https://b"});
        assert_eq!(
            r.validate(&map(bad_iss), 1, ClaimMode::Access, &mut NoTrace),
            Err(TokenError::BadIssuer)
        );
        let iss_list = json!({"exp": 9, "iss": ["https://a"], "aud": "https://b"});
        assert_eq!(
            r.validate(&map(iss_list), 1, ClaimMode::Access, &mut NoTrace),
            Err(TokenError::BadIssuer)
        );
        let bad_aud = json!({"exp": 9, "iss": "https://a", "aud": ["x"]});
        assert_eq!(
            r.validate(&map(bad_aud), 1, ClaimMode::Access, &mut NoTrace),
            Err(TokenError::BadAudience)
        );
        let no_aud = json!({"exp": 9, "iss": "https://a"});
        assert_eq!(
            r.validate(&map(no_aud), 1, ClaimMode::Access, &mut NoTrace),
            Err(TokenError::MissingClaim)
        );
    }

    #[test]
    fn session_cookie_rules() {
        let r = rules(&["https://a"], &["https://b"]);
        // HS256 cookie: no iss/aud in Better Auth's payload, none checked.
        assert!(r
            .validate(
                &map(json!({"exp": 9})),
                1,
                ClaimMode::SessionCookieHs256,
                &mut NoTrace
            )
            .is_ok());
        let jwks_cookie = json!({"exp": 9, "iss": "https://a", "aud": SESSION_CACHE_AUDIENCE});
        assert!(r
            .validate(
                &map(jwks_cookie.clone()),
                1,
                ClaimMode::SessionCookieJwks,
                &mut NoTrace
            )
            .is_ok());
        // A session-cache token is not an access token for this audience.
        assert_eq!(
            r.validate(&map(jwks_cookie), 1, ClaimMode::Access, &mut NoTrace),
            Err(TokenError::BadAudience)
        );
        let access = json!({"exp": 9, "iss": "https://a", "aud": "https://b"});
        assert_eq!(
            r.validate(&map(access), 1, ClaimMode::SessionCookieJwks, &mut NoTrace),
            Err(TokenError::BadAudience)
        );
    }
}
