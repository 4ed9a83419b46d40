//! The verified identity taken from a token's claims, already checked to be safe to
//! put in HTTP headers (no CR/LF or other control characters can reach the upstream).

use super::TokenError;
use serde_json::{Map, Value};

/// Longest `sub` accepted, in bytes.
const MAX_SUBJECT_BYTES: usize = 1024;

/// Who the token says the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `sub`: non-empty, header-safe.
    pub subject: String,
    /// `email`, when the token has one.
    pub email: Option<String>,
    /// Forwarded claims as `(index into the configured claim list, header-safe value)`.
    pub claims: Vec<(usize, String)>,
    /// `exp` (seconds since the epoch).
    pub expires_at: u64,
    /// `nbf`, when present.
    pub not_before: Option<u64>,
}

/// True when `s` can be sent as a header value without being altered or split:
/// no control characters (CR, LF, NUL, TAB, DEL…).
pub(crate) fn is_header_safe(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

fn header_safe_string(value: &Value) -> Result<Option<String>, TokenError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if is_header_safe(s) => Ok(Some(s.clone())),
        Value::String(_) => Err(TokenError::BadClaim),
        Value::Bool(_) | Value::Number(_) => Ok(Some(value.to_string())),
        // serde_json escapes control characters inside strings, so compact JSON is safe.
        Value::Array(_) | Value::Object(_) => Ok(Some(value.to_string())),
    }
}

impl Identity {
    /// Builds the identity of an access token: `sub` and `email`, plus the claims
    /// named in `forward`.
    pub fn from_claims(
        claims: &Map<String, Value>,
        forward: &[String],
    ) -> Result<Self, TokenError> {
        Self::build(claims.get("sub"), claims.get("email"), claims, forward)
    }

    /// Builds the identity of a Better Auth `session_data` cookie: the subject is
    /// `sub` (JWKS variant) or `user.id` / `session.userId` (strategy `jwt`), the
    /// email `email` or `user.email`.
    pub fn from_session_claims(
        claims: &Map<String, Value>,
        forward: &[String],
    ) -> Result<Self, TokenError> {
        let nested = |outer: &str, inner: &str| claims.get(outer).and_then(|o| o.get(inner));
        let subject = claims
            .get("sub")
            .or_else(|| nested("user", "id"))
            .or_else(|| nested("session", "userId"));
        let email = claims.get("email").or_else(|| nested("user", "email"));
        Self::build(subject, email, claims, forward)
    }

    fn build(
        subject: Option<&Value>,
        email: Option<&Value>,
        claims: &Map<String, Value>,
        forward: &[String],
    ) -> Result<Self, TokenError> {
        let subject = match subject {
            Some(Value::String(s)) => s,
            _ => return Err(TokenError::MissingClaim),
        };
        if subject.is_empty() || subject.len() > MAX_SUBJECT_BYTES || !is_header_safe(subject) {
            return Err(TokenError::BadSubject);
        }
        let email = match email {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if is_header_safe(s) => Some(s.clone()),
            Some(_) => return Err(TokenError::BadClaim),
        };
        let time = |name: &str| {
            claims
                .get(name)
                .and_then(Value::as_f64)
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(|v| v as u64)
        };
        let expires_at = time("exp").ok_or(TokenError::MissingClaim)?;
        let not_before = time("nbf");
        let mut forwarded = Vec::new();
        for (i, name) in forward.iter().enumerate() {
            if let Some(value) = claims.get(name) {
                if let Some(rendered) = header_safe_string(value)? {
                    forwarded.push((i, rendered));
                }
            }
        }
        Ok(Self {
            subject: subject.clone(),
            email,
            claims: forwarded,
            expires_at,
            not_before,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn builds_identity_and_renders_claims() {
        let c =
            map(json!({"sub":"u1","email":"a@b.c","exp":100,"name":"Al","roles":["a","b"],"n":3}));
        let fwd = vec![
            "name".to_string(),
            "roles".into(),
            "n".into(),
            "absent".into(),
        ];
        let id = Identity::from_claims(&c, &fwd).unwrap();
        assert_eq!(id.subject, "u1");
        assert_eq!(id.email.as_deref(), Some("a@b.c"));
        assert_eq!(id.expires_at, 100);
        assert_eq!(
            id.claims,
            vec![
                (0, "Al".into()),
                (1, r#"["a","b"]"#.into()),
                (2, "3".into())
            ]
        );
    }

    #[test]
    fn control_characters_are_refused() {
        let fwd: Vec<String> = vec!["name".into()];
        for bad in ["a\r\nX-Auth-User-Id: admin", "a\nb", "a\0b", "a\tb", ""] {
            let c = map(json!({"sub": bad, "exp": 1}));
            assert!(Identity::from_claims(&c, &fwd).is_err(), "{bad:?}");
        }
        let c = map(json!({"sub":"u","exp":1,"email":"x\r\ny"}));
        assert_eq!(Identity::from_claims(&c, &fwd), Err(TokenError::BadClaim));
        let c = map(json!({"sub":"u","exp":1,"name":"x\ry"}));
        assert_eq!(Identity::from_claims(&c, &fwd), Err(TokenError::BadClaim));
        // Inside JSON the control character is escaped, so it is safe.
        let c = map(json!({"sub":"u","exp":1,"name":["x\ny"]}));
        let id = Identity::from_claims(&c, &fwd).unwrap();
        assert_eq!(id.claims[0].1, r#"["x\ny"]"#);
    }

    #[test]
    fn session_cookie_identity_comes_from_user_or_session() {
        let c = map(
            json!({"session":{"userId":"u1","token":"raw"},"user":{"id":"u1","email":"a@b"},"exp":5}),
        );
        let id = Identity::from_session_claims(&c, &[]).unwrap();
        assert_eq!(
            (id.subject.as_str(), id.email.as_deref()),
            ("u1", Some("a@b"))
        );
        let c = map(json!({"session":{"userId":"u2"},"exp":5}));
        assert_eq!(
            Identity::from_session_claims(&c, &[]).unwrap().subject,
            "u2"
        );
        let c = map(json!({"sub":"u3","user":{"id":"other"},"exp":5}));
        assert_eq!(
            Identity::from_session_claims(&c, &[]).unwrap().subject,
            "u3"
        );
        let c = map(json!({"user":{"id":"u\r\n"},"exp":5}));
        assert_eq!(
            Identity::from_session_claims(&c, &[]),
            Err(TokenError::BadSubject)
        );
        // An access token needs `sub` itself.
        let c = map(json!({"user":{"id":"u1"},"exp":5}));
        assert_eq!(
            Identity::from_claims(&c, &[]),
            Err(TokenError::MissingClaim)
        );
    }

    #[test]
    fn wrong_types_are_refused() {
        let c = map(json!({"sub": 5, "exp": 1}));
        assert_eq!(
            Identity::from_claims(&c, &[]),
            Err(TokenError::MissingClaim)
        );
        let c = map(json!({"sub": "u", "exp": 1, "email": 5}));
        assert_eq!(Identity::from_claims(&c, &[]), Err(TokenError::BadClaim));
        let long = "x".repeat(2000);
        let c = map(json!({"sub": long, "exp": 1}));
        assert_eq!(Identity::from_claims(&c, &[]), Err(TokenError::BadSubject));
    }
}
