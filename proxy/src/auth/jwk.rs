//! Turning a JWKS document into verifying keys, once per fetch (never per request).
//! Each key verifies only with its own algorithm: `alg` from the JWK, or inferred where
//! the key type leaves no choice (Ed25519 → EdDSA, P-256 → ES256, P-384 → ES384,
//! P-521 → ES512). Symmetric keys, `use: "enc"` keys and RSA keys under 2048 bits are
//! ignored; one bad key never discards the others.

use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

use super::header::decode_part;
use super::keys::{p521_material, ClaimRules, KeyAlg, KeySet, Material, VerifyingKey};

#[derive(Deserialize)]
struct JwkSetDoc {
    keys: Vec<Value>,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// Keys parsed from one JWKS document.
#[derive(Debug, Default)]
pub struct ParsedJwks {
    /// Usable keys.
    pub keys: Vec<Arc<VerifyingKey>>,
    /// Why other keys were ignored (for logs).
    pub skipped: Vec<String>,
}

/// Where the keys go and what they may do.
pub struct JwkContext<'a> {
    /// Algorithms this source accepts.
    pub allowed: &'a [KeyAlg],
    /// The source's claim rules.
    pub rules: &'a Arc<ClaimRules>,
    /// Source label for logs.
    pub source: &'a Arc<str>,
    /// The previous key set: unchanged keys are kept as the same objects, so cached
    /// verifications made with them stay valid across refreshes.
    pub previous: Option<&'a KeySet>,
}

/// Parses a JWKS document. Errors only when the document itself is not a JWKS.
pub fn parse_jwks(doc: &[u8], cx: &JwkContext<'_>) -> Result<ParsedJwks, String> {
    let set: JwkSetDoc =
        serde_json::from_slice(doc).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut out = ParsedJwks::default();
    for (i, value) in set.keys.into_iter().enumerate() {
        let raw: RawJwk = match serde_json::from_value(value) {
            Ok(r) => r,
            Err(e) => {
                out.skipped.push(format!("key {i}: {e}"));
                continue;
            }
        };
        let label = raw.kid.clone().unwrap_or_else(|| format!("#{i}"));
        match build_key(raw, cx) {
            Ok(key) => out.keys.push(key),
            Err(why) => out.skipped.push(format!("key {label}: {why}")),
        }
    }
    Ok(out)
}

fn infer_alg(raw: &RawJwk) -> Result<KeyAlg, String> {
    match (raw.kty.as_str(), raw.crv.as_deref()) {
        ("OKP", Some("Ed25519")) => Ok(KeyAlg::EdDSA),
        ("EC", Some("P-256")) => Ok(KeyAlg::ES256),
        ("EC", Some("P-384")) => Ok(KeyAlg::ES384),
        ("EC", Some("P-521")) => Ok(KeyAlg::ES512),
        ("RSA", _) => Err("RSA key without `alg` is ambiguous".into()),
        (kty, crv) => Err(format!("unsupported key type {kty}/{}", crv.unwrap_or("-"))),
    }
}

fn coordinate(value: &Option<String>, name: &str, len: usize) -> Result<Vec<u8>, String> {
    let v = value
        .as_deref()
        .ok_or_else(|| format!("missing `{name}`"))?;
    let bytes = decode_part(v).map_err(|_| format!("`{name}` is not base64url"))?;
    if bytes.len() != len {
        return Err(format!(
            "`{name}` has {} bytes, expected {len}",
            bytes.len()
        ));
    }
    Ok(bytes)
}

fn build_key(raw: RawJwk, cx: &JwkContext<'_>) -> Result<Arc<VerifyingKey>, String> {
    if let Some(u) = raw.use_.as_deref() {
        if u != "sig" {
            return Err(format!("use = {u}"));
        }
    }
    if let Some(ops) = &raw.key_ops {
        if !ops.iter().any(|o| o == "verify") {
            return Err("key_ops lacks verify".into());
        }
    }
    if raw.kty == "oct" {
        return Err("symmetric keys are never taken from a JWKS".into());
    }
    let inferred = infer_alg(&raw);
    let alg = match raw.alg.as_deref() {
        Some(a) => KeyAlg::parse(a).ok_or_else(|| format!("unsupported alg {a}"))?,
        None => inferred.clone()?,
    };
    let consistent = match alg {
        KeyAlg::HS256 => false,
        KeyAlg::RS256
        | KeyAlg::RS384
        | KeyAlg::RS512
        | KeyAlg::PS256
        | KeyAlg::PS384
        | KeyAlg::PS512 => raw.kty == "RSA",
        other => inferred.as_ref().is_ok_and(|i| *i == other),
    };
    if !consistent {
        return Err(format!(
            "alg {} does not fit kty {} / crv {}",
            alg.as_str(),
            raw.kty,
            raw.crv.as_deref().unwrap_or("-")
        ));
    }
    if !cx.allowed.contains(&alg) {
        return Err(format!("alg {} not allowed for this source", alg.as_str()));
    }
    let fingerprint = format!(
        "{}|{}|{}|{}|{}|{}|{}|{}",
        raw.kty,
        raw.crv.as_deref().unwrap_or(""),
        alg.as_str(),
        raw.kid.as_deref().unwrap_or(""),
        raw.x.as_deref().unwrap_or(""),
        raw.y.as_deref().unwrap_or(""),
        raw.n.as_deref().unwrap_or(""),
        raw.e.as_deref().unwrap_or(""),
    );
    if let Some(prev) = cx
        .previous
        .and_then(|p| p.iter().find(|k| k.fingerprint == fingerprint))
    {
        return Ok(prev.clone());
    }
    let material = match alg {
        KeyAlg::EdDSA => {
            coordinate(&raw.x, "x", 32)?;
            let x = raw.x.as_deref().unwrap_or_default();
            Material::Jwt(DecodingKey::from_ed_components(x).map_err(|e| e.to_string())?)
        }
        KeyAlg::ES256 | KeyAlg::ES384 => {
            let len = if alg == KeyAlg::ES256 { 32 } else { 48 };
            coordinate(&raw.x, "x", len)?;
            coordinate(&raw.y, "y", len)?;
            let (x, y) = (
                raw.x.as_deref().unwrap_or_default(),
                raw.y.as_deref().unwrap_or_default(),
            );
            Material::Jwt(DecodingKey::from_ec_components(x, y).map_err(|e| e.to_string())?)
        }
        KeyAlg::ES512 => {
            let x = coordinate(&raw.x, "x", 66)?;
            let y = coordinate(&raw.y, "y", 66)?;
            p521_material(&x, &y).ok_or("bad P-521 point")?
        }
        _ => {
            let n = raw.n.as_deref().ok_or("missing `n`")?;
            let e = raw.e.as_deref().ok_or("missing `e`")?;
            let modulus = decode_part(n).map_err(|_| "`n` is not base64url")?;
            let bits =
                modulus.len() * 8 - modulus.first().map_or(8, |b| b.leading_zeros() as usize);
            if bits < 2048 {
                return Err(format!("RSA modulus of {bits} bits is under 2048"));
            }
            Material::Jwt(DecodingKey::from_rsa_components(n, e).map_err(|e| e.to_string())?)
        }
    };
    Ok(Arc::new(VerifyingKey::new(
        raw.kid,
        alg,
        material,
        cx.rules.clone(),
        cx.source.clone(),
        fingerprint,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cx<'a>(
        allowed: &'a [KeyAlg],
        rules: &'a Arc<ClaimRules>,
        source: &'a Arc<str>,
    ) -> JwkContext<'a> {
        JwkContext {
            allowed,
            rules,
            source,
            previous: None,
        }
    }

    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    #[test]
    fn infers_only_unambiguous_algorithms_and_skips_unusable_keys() {
        let rules = Arc::new(ClaimRules::default());
        let source: Arc<str> = "test".into();
        let doc = json!({"keys": [
            {"kty":"OKP","crv":"Ed25519","x":ED_X,"kid":"ed"},
            {"kty":"OKP","crv":"Ed25519","x":ED_X,"kid":"enc","use":"enc"},
            {"kty":"oct","k":"c2VjcmV0","kid":"sym","alg":"HS256"},
            {"kty":"RSA","n":"AQAB","e":"AQAB","kid":"rsa-no-alg"},
            {"kty":"RSA","n":"AQAB","e":"AQAB","kid":"rsa-small","alg":"RS256"},
            {"kty":"OKP","crv":"Ed25519","x":ED_X,"kid":"wrong-alg","alg":"ES256"},
            {"kty":"EC","crv":"P-256","x":"AA","y":"AA","kid":"short"},
            {"kty":"OKP","crv":"Ed25519","x":ED_X,"kid":"ops","key_ops":["sign"]},
            {"nonsense": true}
        ]});
        let parsed = parse_jwks(
            doc.to_string().as_bytes(),
            &cx(&KeyAlg::ASYMMETRIC, &rules, &source),
        )
        .unwrap();
        assert_eq!(parsed.keys.len(), 1, "{:?}", parsed.skipped);
        assert_eq!(parsed.keys[0].kid.as_deref(), Some("ed"));
        assert_eq!(parsed.keys[0].alg, KeyAlg::EdDSA);
        assert_eq!(parsed.skipped.len(), 8, "{:?}", parsed.skipped);
    }

    #[test]
    fn allow_list_and_reuse_across_refreshes() {
        let rules = Arc::new(ClaimRules::default());
        let source: Arc<str> = "test".into();
        let doc = json!({"keys":[{"kty":"OKP","crv":"Ed25519","x":ED_X,"kid":"ed"}]}).to_string();
        let none = parse_jwks(doc.as_bytes(), &cx(&[KeyAlg::RS256], &rules, &source)).unwrap();
        assert!(none.keys.is_empty());
        let first = parse_jwks(doc.as_bytes(), &cx(&KeyAlg::ASYMMETRIC, &rules, &source)).unwrap();
        let set = KeySet::new(first.keys);
        let again = parse_jwks(
            doc.as_bytes(),
            &JwkContext {
                previous: Some(&set),
                ..cx(&KeyAlg::ASYMMETRIC, &rules, &source)
            },
        )
        .unwrap();
        assert!(Arc::ptr_eq(&again.keys[0], set.iter().next().unwrap()));
    }

    #[test]
    fn garbage_documents_are_errors() {
        let rules = Arc::new(ClaimRules::default());
        let source: Arc<str> = "test".into();
        for doc in ["", "[]", "{\"keys\":5}", "<html>"] {
            assert!(
                parse_jwks(doc.as_bytes(), &cx(&KeyAlg::ASYMMETRIC, &rules, &source)).is_err(),
                "{doc}"
            );
        }
    }
}
