//! Turning a JWKS document into verifying keys, once per fetch (never per request).
//! Each key verifies only with its own algorithm: `alg` from the JWK, or inferred where
//! the key type leaves no choice (Ed25519 → EdDSA, P-256 → ES256, P-384 → ES384,
//! P-521 → ES512). Symmetric keys, `use: "enc"` keys, RSA keys outside 2048–8192 bits
//! (counted without leading zeros) and RSA keys with a bad exponent are ignored; one
//! bad key never discards the others.

use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

use super::alg::KeyAlg;
use super::claims::ClaimRules;
use super::jose::decode_part;
use super::keys::{ed25519_material, p521_material, KeySet, Material, VerifyingKey};

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

/// RSA modulus sizes the verifier takes (aws-lc-rs' `RSA_*_2048_8192_*` parameters).
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;
/// Largest public exponent, in bits: `e < 2^33`, the bound of BoringSSL/aws-lc and ring.
const RSA_MAX_EXPONENT_BITS: usize = 33;

/// `bytes` without its leading zero bytes.
fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// Significant bits of a big-endian unsigned integer without leading zero bytes.
/// `None` only if the count would not fit a `usize`.
fn bit_length(minimal: &[u8]) -> Option<usize> {
    let Some(&first) = minimal.first() else {
        return Some(0);
    };
    let top = 8 - usize::try_from(first.leading_zeros()).ok()?;
    (minimal.len() - 1).checked_mul(8)?.checked_add(top)
}

/// Checks an RSA public key (`n`, `e` as decoded, big-endian) and returns both without
/// leading zeros. Some encoders prefix a zero byte (RFC 7518 §6.3.1.1 notes it), so
/// zeros are tolerated but never counted: a padded 1024-bit modulus is 1024 bits.
/// `e` must be odd, at least 3 and under 2^33 (RFC 8017 §3.1; larger exponents are
/// refused by the common verifiers and only make verification slow).
fn rsa_components<'k>(n: &'k [u8], e: &'k [u8]) -> Result<(&'k [u8], &'k [u8]), String> {
    let n = strip_leading_zeros(n);
    if n.is_empty() {
        return Err("`n` is empty or zero".into());
    }
    // Bounded by the byte length first, so no count below can overflow.
    if n.len() > RSA_MAX_BITS / 8 + 1 {
        return Err(format!(
            "RSA modulus of {} bytes is over {RSA_MAX_BITS} bits",
            n.len()
        ));
    }
    let bits = bit_length(n).ok_or("RSA modulus too large")?;
    if bits < RSA_MIN_BITS {
        return Err(format!(
            "RSA modulus of {bits} bits is under {RSA_MIN_BITS}"
        ));
    }
    if bits > RSA_MAX_BITS {
        return Err(format!("RSA modulus of {bits} bits is over {RSA_MAX_BITS}"));
    }
    if n.last().is_some_and(|b| b & 1 == 0) {
        return Err("RSA modulus is even".into());
    }
    let e = strip_leading_zeros(e);
    if e.is_empty() {
        return Err("`e` is empty or zero".into());
    }
    let e_bits = bit_length(e).ok_or("`e` too large")?;
    if e_bits > RSA_MAX_EXPONENT_BITS {
        return Err(format!(
            "`e` of {e_bits} bits is over {RSA_MAX_EXPONENT_BITS}"
        ));
    }
    let value = e.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
    if value < 3 || value % 2 == 0 {
        return Err(format!("`e` must be odd and at least 3 (it is {value})"));
    }
    Ok((n, e))
}

fn build_key(raw: RawJwk, cx: &JwkContext<'_>) -> Result<Arc<VerifyingKey>, String> {
    check_use(&raw)?;
    let alg = pinned_alg(&raw, cx)?;
    let fingerprint = fingerprint(&raw, alg);
    // An unchanged key keeps its prepared material (and its cache entries).
    if let Some(prev) = cx
        .previous
        .and_then(|p| p.iter().find(|k| k.fingerprint == fingerprint))
    {
        return Ok(prev.clone());
    }
    let material = material(&raw, alg)?;
    Ok(Arc::new(VerifyingKey::new(
        raw.kid,
        alg,
        material,
        cx.rules.clone(),
        cx.source.clone(),
        fingerprint,
    )))
}

/// Only signature keys: `use` must be `sig` and `key_ops` must allow `verify`, when set.
fn check_use(raw: &RawJwk) -> Result<(), String> {
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
    Ok(())
}

/// The one algorithm this key verifies: its `alg` (or the one its curve implies),
/// consistent with its `kty`/`crv`, and allowed for the source. Never symmetric.
fn pinned_alg(raw: &RawJwk, cx: &JwkContext<'_>) -> Result<KeyAlg, String> {
    if raw.kty == "oct" {
        return Err("symmetric keys are never taken from a JWKS".into());
    }
    let inferred = infer_alg(raw);
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
    Ok(alg)
}

/// Everything that makes the key what it is, to recognise it on the next refresh.
fn fingerprint(raw: &RawJwk, alg: KeyAlg) -> String {
    format!(
        "{}|{}|{}|{}|{}|{}|{}|{}",
        raw.kty,
        raw.crv.as_deref().unwrap_or(""),
        alg.as_str(),
        raw.kid.as_deref().unwrap_or(""),
        raw.x.as_deref().unwrap_or(""),
        raw.y.as_deref().unwrap_or(""),
        raw.n.as_deref().unwrap_or(""),
        raw.e.as_deref().unwrap_or(""),
    )
}

/// The verifying material for `alg` from the key's coordinates or modulus.
fn material(raw: &RawJwk, alg: KeyAlg) -> Result<Material, String> {
    Ok(match alg {
        KeyAlg::EdDSA => {
            let x = coordinate(&raw.x, "x", 32)?;
            ed25519_material(&x)
                .ok_or("`x` is not an Ed25519 key (off the curve or small order)")?
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
            let n = decode_part(raw.n.as_deref().ok_or("missing `n`")?)
                .map_err(|_| "`n` is not base64url")?;
            let e = decode_part(raw.e.as_deref().ok_or("missing `e`")?)
                .map_err(|_| "`e` is not base64url")?;
            let (n, e) = rsa_components(&n, &e)?;
            Material::Jwt(DecodingKey::from_rsa_raw_components(n, e))
        }
    })
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

    /// Small-order Ed25519 keys (the identity, a point of order 8) verify forged
    /// signatures under a cofactorless check; they are skipped at load, and a key
    /// off the curve too.
    #[test]
    fn small_order_and_off_curve_ed25519_keys_are_skipped() {
        let rules = Arc::new(ClaimRules::default());
        let source: Arc<str> = "test".into();
        let mut identity = [0u8; 32];
        identity[0] = 1;
        // y = 0: a point of order 4.
        let order4 = [0u8; 32];
        // y = 2 is not on the curve.
        let mut off = [0u8; 32];
        off[0] = 2;
        // y = p + 3: a large-order point, encoded non-canonically.
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xf0;
        non_canonical[31] = 0x7f;
        for x in [identity, order4, off, non_canonical] {
            let doc = json!({"keys":[{"kty":"OKP","crv":"Ed25519","x":b64(&x),"kid":"k"}]});
            let parsed = parse_jwks(
                doc.to_string().as_bytes(),
                &cx(&KeyAlg::ASYMMETRIC, &rules, &source),
            )
            .unwrap();
            assert!(parsed.keys.is_empty(), "{x:?}");
            assert!(
                parsed.skipped[0].contains("not an Ed25519 key"),
                "{:?}",
                parsed.skipped
            );
        }
    }

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A big-endian odd number of exactly `bits` bits, after `zeros` zero bytes.
    fn modulus(bits: usize, zeros: usize) -> Vec<u8> {
        let len = bits.div_ceil(8);
        let mut n = vec![0u8; zeros];
        n.push(1u8 << ((bits - 1) % 8));
        n.extend(std::iter::repeat_n(0x5a, len - 1));
        *n.last_mut().unwrap() |= 1;
        n
    }

    /// Parses one RS256 key; `Ok` when loaded, else why it was skipped.
    fn rsa(n: &str, e: &str) -> Result<(), String> {
        let rules = Arc::new(ClaimRules::default());
        let source: Arc<str> = "test".into();
        let doc = json!({"keys":[{"kty":"RSA","alg":"RS256","kid":"k","n":n,"e":e}]});
        let parsed = parse_jwks(
            doc.to_string().as_bytes(),
            &cx(&KeyAlg::ASYMMETRIC, &rules, &source),
        )
        .unwrap();
        match (parsed.keys.len(), parsed.skipped.as_slice()) {
            (1, []) => Ok(()),
            (0, [why]) => Err(why.clone()),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn rsa_modulus_bits_are_counted_after_leading_zeros() {
        for zeros in [0, 1, 129, 300] {
            let err = rsa(&b64(&modulus(1024, zeros)), "AQAB").unwrap_err();
            assert!(err.contains("1024 bits is under 2048"), "{zeros}: {err}");
        }
        let err = rsa(&b64(&modulus(2047, 1)), "AQAB").unwrap_err();
        assert!(err.contains("2047 bits"), "{err}");
        for zeros in [0, 1, 3] {
            rsa(&b64(&modulus(2048, zeros)), "AQAB").unwrap();
        }
        rsa(&b64(&modulus(4097, 0)), "AQAB").unwrap();
        rsa(&b64(&modulus(8192, 2)), "AQAB").unwrap();
        let err = rsa(&b64(&modulus(8193, 0)), "AQAB").unwrap_err();
        assert!(err.contains("8193 bits is over 8192"), "{err}");
        let mut even = modulus(2048, 0);
        *even.last_mut().unwrap() &= !1;
        assert!(rsa(&b64(&even), "AQAB").unwrap_err().contains("even"));
    }

    #[test]
    fn empty_or_zero_modulus_is_refused() {
        for n in ["", "AA", "AAAA", "AAAAAAAAAAAAAAAAAAAA"] {
            let err = rsa(n, "AQAB").unwrap_err();
            assert!(err.contains("`n` is empty or zero"), "{n:?}: {err}");
        }
        assert!(rsa("not base64!", "AQAB")
            .unwrap_err()
            .contains("base64url"));
    }

    #[test]
    fn bad_public_exponents_are_refused() {
        let n = b64(&modulus(2048, 0));
        for (e, why) in [
            (String::new(), "`e` is empty or zero"),
            (b64(&[0]), "`e` is empty or zero"),
            (b64(&[0, 0, 0]), "`e` is empty or zero"),
            (b64(&[1]), "`e` must be odd and at least 3"),
            (b64(&[2]), "`e` must be odd and at least 3"),
            (b64(&[1, 0, 0]), "`e` must be odd and at least 3"),
            (b64(&[2, 0, 0, 0, 1]), "`e` of 34 bits is over 33"),
            (b64(&[0xff; 64]), "`e` of 512 bits is over 33"),
            ("AQ*B".into(), "`e` is not base64url"),
        ] {
            let err = rsa(&n, &e).unwrap_err();
            assert!(err.contains(why), "{e:?}: {err}");
        }
        for e in [
            b64(&[3]),
            "AQAB".into(),
            b64(&[0, 1, 0, 1]),
            b64(&[1, 0xff, 0xff, 0xff, 0xff]),
        ] {
            rsa(&n, &e).unwrap_or_else(|err| panic!("{e:?}: {err}"));
        }
    }
}
