//! `authgate dev-token`: an HS256 token for local trials, signed like Better Auth's
//! own HS256 tokens with `BETTER_AUTH_SECRET`.

use crate::secret::Secret;

/// Signs `{sub, email?, iat, exp}` with `secret`.
pub(super) fn mint(
    secret: &Secret,
    sub: &str,
    email: Option<&str>,
    ttl_secs: u64,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims = serde_json::json!({ "sub": sub, "iat": now, "exp": now + ttl_secs });
    if let Some(email) = email {
        claims["email"] = email.into();
    }
    let key = jsonwebtoken::EncodingKey::from_secret(secret.expose());
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};

    #[test]
    fn minted_tokens_verify_with_the_secret() {
        let secret = Secret::new("0123456789abcdef0123456789abcdef");
        let token = mint(&secret, "alice", Some("a@example.com"), 60).unwrap();
        let key = DecodingKey::from_secret(secret.expose());
        let claims = decode::<serde_json::Value>(&token, &key, &Validation::new(Algorithm::HS256))
            .unwrap()
            .claims;
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["email"], "a@example.com");
    }
}
