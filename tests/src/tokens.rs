//! Tokens minted by the tests themselves (the Better Auth interop tests get theirs
//! from the real package instead).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::BETTER_AUTH_SECRET;

/// Seconds since the epoch.
pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// An HS256 token over `claims` with `secret`.
pub fn hs256(claims: &Value, secret: &str) -> String {
    sign(Algorithm::HS256, claims, secret)
}

/// A token of an HMAC `alg` over `claims` with `secret`.
pub fn sign(alg: Algorithm, claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

/// Valid claims for `sub` expiring in 10 minutes.
pub fn claims(sub: &str) -> Value {
    json!({ "sub": sub, "email": format!("{sub}@example.com"), "iat": now(), "exp": now() + 600 })
}

/// A valid HS256 token for `alice`, signed with [`BETTER_AUTH_SECRET`].
pub fn alice_token() -> String {
    hs256(&claims("alice"), BETTER_AUTH_SECRET)
}

/// The `Authorization` value that carries `token`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A token with an arbitrary header, signed HS256 with `secret` over the exact bytes
/// (or left unsigned when `secret` is `None`).
pub fn forge(header: &Value, claims: &Value, secret: Option<&str>) -> String {
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{h}.{c}");
    let sig = match secret {
        Some(s) => {
            let key = EncodingKey::from_secret(s.as_bytes());
            jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::HS256).expect("sign")
        }
        None => String::new(),
    };
    format!("{input}.{sig}")
}

/// Flips the first signature character: a real token, one bit off.
pub fn tamper(token: &str) -> String {
    let (head, sig) = token.rsplit_once('.').expect("a JWT");
    let first = if sig.starts_with('A') { 'B' } else { 'A' };
    format!("{head}.{first}{}", &sig[1..])
}

/// The JSON of a token's `part` (0 the header, 1 the claims).
pub fn decoded(token: &str, part: usize) -> Value {
    let text = URL_SAFE_NO_PAD
        .decode(token.split('.').nth(part).expect("a JWT part"))
        .expect("base64url");
    serde_json::from_slice(&text).expect("JSON")
}
