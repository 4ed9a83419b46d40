//! The verified identity taken from a token's claims: `sub` and `email`, already
//! checked to be safe to put in HTTP headers (no CR/LF or other control character can
//! reach the upstream), and the other claims some header or rule needs, by name.

use super::claims::time_claim;
use super::error::TokenError;
use crate::header_text::{claim_as_header, is_header_safe};
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
    /// The verified claims a header forwards or a rule reads, by name, as the token
    /// has them (only those: the cache holds no more than it needs).
    pub claims: Vec<(String, Value)>,
    /// `exp` (seconds since the epoch).
    pub expires_at: u64,
    /// `nbf`, when present.
    pub not_before: Option<u64>,
    /// `iat`, when present and a valid time: revocation by time compares it.
    pub issued_at: Option<u64>,
    /// `jti`, when present and a string: revocation of one token matches it.
    pub token_id: Option<String>,
}

/// Leading or trailing whitespace: header parsers trim it, so the upstream would
/// read another value in the header than the one in the signed assertion.
fn has_edge_whitespace(s: &str) -> bool {
    s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace)
}

/// Which claims an identity keeps, by their top-level names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeptClaims {
    /// Sent upstream in headers (`[identity.claims]`): each must be header-safe, or
    /// the token is refused.
    pub forwarded: Vec<String>,
    /// Read by route rules only (`require`, `require_scope`).
    pub for_rules: Vec<String>,
}

impl Identity {
    /// The kept claim `name`, as the token has it.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// An identity of `subject` with `claims` kept (for tests of the rules).
    #[cfg(test)]
    pub(crate) fn for_test(subject: &str, claims: Value) -> Self {
        Self {
            subject: subject.into(),
            email: None,
            claims: claims
                .as_object()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            expires_at: u64::MAX,
            not_before: None,
            issued_at: None,
            token_id: None,
        }
    }

    /// Builds the identity of an access token: `sub` and `email`, plus the claims
    /// named in `forward`.
    pub fn from_claims(claims: &Map<String, Value>, kept: &KeptClaims) -> Result<Self, TokenError> {
        Self::build(claims.get("sub"), claims.get("email"), claims, None, kept)
    }

    /// Builds the identity of a Better Auth `session_data` cookie of strategy `jwt`
    /// (HS256 with the shared secret). Only Better Auth's own shape is accepted:
    /// `session.userId` and `user.id`, equal, and no top-level `sub`. Anything else
    /// signed with the secret (an HS256 access token, say) is not a session cookie.
    pub fn from_hs256_session_cookie(
        claims: &Map<String, Value>,
        kept: &KeptClaims,
    ) -> Result<Self, TokenError> {
        let nested = |outer: &str, inner: &str| claims.get(outer).and_then(|o| o.get(inner));
        if claims.contains_key("sub") {
            return Err(TokenError::WrongTokenType);
        }
        let (user_id, session_user) = match (nested("user", "id"), nested("session", "userId")) {
            (Some(Value::String(u)), Some(Value::String(s))) => (u, s),
            _ => return Err(TokenError::WrongTokenType),
        };
        if user_id != session_user {
            return Err(TokenError::BadSubject);
        }
        let user = claims.get("user").and_then(Value::as_object);
        Self::build(
            nested("user", "id"),
            nested("user", "email"),
            claims,
            user,
            kept,
        )
    }

    /// Builds the identity of the JWT plugin's JWKS-signed `session_data` cookie:
    /// the subject is `sub`, which must agree with `user.id` when that is present.
    pub fn from_jwks_session_cookie(
        claims: &Map<String, Value>,
        kept: &KeptClaims,
    ) -> Result<Self, TokenError> {
        let user = claims.get("user");
        if let (Some(sub), Some(id)) = (claims.get("sub"), user.and_then(|u| u.get("id"))) {
            if sub != id {
                return Err(TokenError::BadSubject);
            }
        }
        let email = claims
            .get("email")
            .or_else(|| user.and_then(|u| u.get("email")));
        let user = user.and_then(Value::as_object);
        Self::build(claims.get("sub"), email, claims, user, kept)
    }

    /// `user` is the `user` object of a Better Auth session cookie: a kept claim the
    /// cookie does not carry at its top level (`role`, `emailVerified`) is read from
    /// it, so rules read the same names from a cookie as from an access token.
    fn build(
        subject: Option<&Value>,
        email: Option<&Value>,
        claims: &Map<String, Value>,
        user: Option<&Map<String, Value>>,
        kept: &KeptClaims,
    ) -> Result<Self, TokenError> {
        let subject = match subject {
            Some(Value::String(s)) => s,
            _ => return Err(TokenError::MissingClaim),
        };
        if subject.is_empty()
            || subject.len() > MAX_SUBJECT_BYTES
            || !is_header_safe(subject)
            || has_edge_whitespace(subject)
        {
            return Err(TokenError::BadSubject);
        }
        let email = match email {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if is_header_safe(s) && !has_edge_whitespace(s) => {
                Some(s.clone())
            }
            Some(_) => return Err(TokenError::BadClaim),
        };
        let expires_at = time_claim(claims, "exp")?.ok_or(TokenError::MissingClaim)?;
        let not_before = time_claim(claims, "nbf")?;
        let find = |name: &str| claims.get(name).or_else(|| user.and_then(|u| u.get(name)));
        // Read for revocation only: a malformed `iat` counts as none (revocation by
        // time then refuses the token while its subject is revoked).
        let issued_at = time_claim(claims, "iat").ok().flatten();
        let token_id = claims
            .get("jti")
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut kept_claims: Vec<(String, Value)> = Vec::new();
        for name in &kept.forwarded {
            if let Some(value) = find(name) {
                claim_as_header(value).map_err(|_| TokenError::BadClaim)?;
                kept_claims.push((name.clone(), value.clone()));
            }
        }
        for name in &kept.for_rules {
            if let Some(value) = find(name) {
                if !kept_claims.iter().any(|(n, _)| n == name) {
                    kept_claims.push((name.clone(), value.clone()));
                }
            }
        }
        Ok(Self {
            subject: subject.clone(),
            email,
            claims: kept_claims,
            expires_at,
            not_before,
            issued_at,
            token_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fwd(names: &[&str]) -> KeptClaims {
        KeptClaims {
            forwarded: names.iter().map(|n| n.to_string()).collect(),
            for_rules: Vec::new(),
        }
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn builds_identity_and_renders_claims() {
        let c =
            map(json!({"sub":"u1","email":"a@b.c","exp":100,"name":"Al","roles":["a","b"],"n":3}));
        let mut kept = fwd(&["name", "roles", "n", "absent"]);
        kept.for_rules = vec!["roles".into(), "email".into(), "exp".into()];
        let id = Identity::from_claims(&c, &kept).unwrap();
        assert_eq!(id.subject, "u1");
        assert_eq!(id.email.as_deref(), Some("a@b.c"));
        assert_eq!(id.expires_at, 100);
        assert_eq!((id.issued_at, id.token_id.as_deref()), (None, None));
        let c = map(json!({"sub":"u1","exp":100,"iat":90,"jti":"j-1"}));
        let with = Identity::from_claims(&c, &KeptClaims::default()).unwrap();
        assert_eq!(
            (with.issued_at, with.token_id.as_deref()),
            (Some(90), Some("j-1"))
        );
        let c = map(json!({"sub":"u1","exp":100,"iat":"soon","jti":7}));
        let odd = Identity::from_claims(&c, &KeptClaims::default()).unwrap();
        assert_eq!(
            (odd.issued_at, odd.token_id.as_deref()),
            (None, None),
            "not a time, not a string"
        );
        assert_eq!(
            id.claims,
            vec![
                ("name".into(), json!("Al")),
                ("roles".into(), json!(["a", "b"])),
                ("n".into(), json!(3)),
                ("email".into(), json!("a@b.c")),
                ("exp".into(), json!(100)),
            ],
            "forwarded claims, then those only rules read, each once"
        );
        assert_eq!(id.claim("roles"), Some(&json!(["a", "b"])));
        assert_eq!(id.claim("absent"), None);
    }

    #[test]
    fn control_characters_are_refused() {
        let fwd = fwd(&["name"]);
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
        assert_eq!(id.claim("name"), Some(&json!(["x\ny"])));
        // A claim only a rule reads is not sent anywhere: it need not be header-safe.
        let rules_only = KeptClaims {
            forwarded: Vec::new(),
            for_rules: vec!["name".into()],
        };
        let c = map(json!({"sub":"u","exp":1,"name":"x\ry"}));
        assert!(Identity::from_claims(&c, &rules_only).is_ok());
        // DEL is not escaped by serde_json: refused rather than sent (found by fuzzing).
        let c = map(json!({"sub":"u","exp":1,"name":["x\u{7f}y"]}));
        assert_eq!(Identity::from_claims(&c, &fwd), Err(TokenError::BadClaim));
    }

    #[test]
    fn a_session_cookie_s_claims_are_read_from_its_user_object() {
        let kept = KeptClaims {
            forwarded: vec!["name".into()],
            for_rules: vec!["role".into(), "exp".into()],
        };
        let c = map(
            json!({"session":{"userId":"u1"},"user":{"id":"u1","role":"admin,user","name":"Al"},"exp":5}),
        );
        let id = Identity::from_hs256_session_cookie(&c, &kept).unwrap();
        assert_eq!(id.claim("role"), Some(&json!("admin,user")));
        assert_eq!(id.claim("name"), Some(&json!("Al")));
        assert_eq!(id.claim("exp"), Some(&json!(5)), "the top level first");
        // An access token's claims are its top level only.
        let c = map(json!({"sub":"u1","user":{"role":"admin"},"exp":5}));
        assert_eq!(
            Identity::from_claims(&c, &kept).unwrap().claim("role"),
            None
        );
    }

    #[test]
    fn hs256_session_cookie_needs_better_auths_shape() {
        let c = map(
            json!({"session":{"userId":"u1","token":"raw"},"user":{"id":"u1","email":"a@b"},"exp":5}),
        );
        let id = Identity::from_hs256_session_cookie(&c, &KeptClaims::default()).unwrap();
        assert_eq!(
            (id.subject.as_str(), id.email.as_deref()),
            ("u1", Some("a@b"))
        );
        // An access token signed with the same secret is not a session cookie.
        let c = map(json!({"sub":"u3","exp":5}));
        assert_eq!(
            Identity::from_hs256_session_cookie(&c, &KeptClaims::default()),
            Err(TokenError::WrongTokenType)
        );
        let c = map(json!({"sub":"u1","session":{"userId":"u1"},"user":{"id":"u1"},"exp":5}));
        assert_eq!(
            Identity::from_hs256_session_cookie(&c, &KeptClaims::default()),
            Err(TokenError::WrongTokenType)
        );
        // Half the shape, or two users, is refused.
        let c = map(json!({"session":{"userId":"u2"},"exp":5}));
        assert_eq!(
            Identity::from_hs256_session_cookie(&c, &KeptClaims::default()),
            Err(TokenError::WrongTokenType)
        );
        let c = map(json!({"session":{"userId":"u1"},"user":{"id":"u2"},"exp":5}));
        assert_eq!(
            Identity::from_hs256_session_cookie(&c, &KeptClaims::default()),
            Err(TokenError::BadSubject)
        );
        let c = map(json!({"session":{"userId":"u\r\n"},"user":{"id":"u\r\n"},"exp":5}));
        assert_eq!(
            Identity::from_hs256_session_cookie(&c, &KeptClaims::default()),
            Err(TokenError::BadSubject)
        );
    }

    #[test]
    fn jwks_session_cookie_subject_is_sub_and_agrees_with_user() {
        let c = map(json!({"sub":"u3","user":{"id":"u3","email":"c@d"},"exp":5}));
        let id = Identity::from_jwks_session_cookie(&c, &KeptClaims::default()).unwrap();
        assert_eq!(
            (id.subject.as_str(), id.email.as_deref()),
            ("u3", Some("c@d"))
        );
        let c = map(json!({"sub":"u3","user":{"id":"other"},"exp":5}));
        assert_eq!(
            Identity::from_jwks_session_cookie(&c, &KeptClaims::default()),
            Err(TokenError::BadSubject)
        );
        let c = map(json!({"user":{"id":"u1"},"exp":5}));
        assert_eq!(
            Identity::from_jwks_session_cookie(&c, &KeptClaims::default()),
            Err(TokenError::MissingClaim)
        );
        // An access token needs `sub` itself.
        assert_eq!(
            Identity::from_claims(&c, &KeptClaims::default()),
            Err(TokenError::MissingClaim)
        );
    }

    #[test]
    fn whitespace_at_the_edges_of_sub_or_email_is_refused() {
        for bad in [" alice", "alice ", "\u{a0}alice", "alice\u{2003}"] {
            let c = map(json!({"sub": bad, "exp": 1}));
            assert_eq!(
                Identity::from_claims(&c, &KeptClaims::default()),
                Err(TokenError::BadSubject),
                "{bad:?}"
            );
            let c = map(json!({"sub": "alice", "email": bad, "exp": 1}));
            assert_eq!(
                Identity::from_claims(&c, &KeptClaims::default()),
                Err(TokenError::BadClaim),
                "{bad:?}"
            );
        }
        let c = map(json!({"sub": "al ice", "email": "a b@c", "exp": 1}));
        assert!(
            Identity::from_claims(&c, &KeptClaims::default()).is_ok(),
            "inner spaces are fine"
        );
    }

    #[test]
    fn wrong_types_are_refused() {
        let c = map(json!({"sub": 5, "exp": 1}));
        assert_eq!(
            Identity::from_claims(&c, &KeptClaims::default()),
            Err(TokenError::MissingClaim)
        );
        let c = map(json!({"sub": "u", "exp": 1, "email": 5}));
        assert_eq!(
            Identity::from_claims(&c, &KeptClaims::default()),
            Err(TokenError::BadClaim)
        );
        let long = "x".repeat(2000);
        let c = map(json!({"sub": long, "exp": 1}));
        assert_eq!(
            Identity::from_claims(&c, &KeptClaims::default()),
            Err(TokenError::BadSubject)
        );
    }
}
