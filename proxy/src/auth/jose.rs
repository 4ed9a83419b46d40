//! The JOSE header of a compact JWS, parsed by us rather than by jsonwebtoken so that
//! every algorithm Better Auth uses (ES512 included) goes through one path, and so the
//! dangerous members are refused before any key is chosen.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use super::alg::KeyAlg;
use super::error::TokenError;

/// `typ` Better Auth sets on its JWKS-signed session cookie. Such a token is a cookie,
/// never a bearer token (RFC 8725 §3.11, explicit typing).
pub(crate) const SESSION_CACHE_TYP: &str = "better-auth.session-cache+jwt";

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<Value>,
    kid: Option<Value>,
    typ: Option<Value>,
    crit: Option<Value>,
    jku: Option<Value>,
    jwk: Option<Value>,
    x5u: Option<Value>,
    x5c: Option<Value>,
}

/// A parsed, already-screened header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoseHeader {
    /// The algorithm named by the token (checked against the key's pinned one).
    pub alg: KeyAlg,
    /// `kid`, when present.
    pub kid: Option<String>,
    /// `typ`, when present.
    pub typ: Option<String>,
}

/// A compact JWS split into its parts.
#[derive(Debug, Clone, Copy)]
pub struct Compact<'t> {
    /// `header.payload`: the signed bytes.
    pub signing_input: &'t str,
    /// The base64url payload.
    pub payload: &'t str,
    /// The base64url signature.
    pub signature: &'t str,
}

/// Splits a token into exactly three non-empty base64url parts.
pub fn split(token: &str) -> Result<(&str, Compact<'_>), TokenError> {
    let mut parts = token.splitn(4, '.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let b64 = |x: &str| {
        x.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    // An empty signature passes here so that `alg: none` is reported as such; it can
    // never verify.
    if h.is_empty() || p.is_empty() || !(b64(h) && b64(p) && b64(s)) {
        return Err(TokenError::Malformed);
    }
    Ok((
        h,
        Compact {
            signing_input: &token[..h.len() + 1 + p.len()],
            payload: p,
            signature: s,
        },
    ))
}

/// Decodes a base64url (unpadded) part.
pub fn decode_part(part: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed)
}

impl JoseHeader {
    /// Parses and screens the header: `alg` must be a supported algorithm (never
    /// `none`), and `jku`, `jwk`, `x5u`, `x5c` and `crit` are refused.
    pub fn parse(encoded: &str) -> Result<Self, TokenError> {
        let bytes = decode_part(encoded)?;
        // RFC 7515 §4: the header is UTF-8 JSON, also in members we ignore (serde
        // skips those without checking them; found by fuzzing).
        let text = std::str::from_utf8(&bytes).map_err(|_| TokenError::Malformed)?;
        let raw: RawHeader = serde_json::from_str(text).map_err(|_| TokenError::Malformed)?;
        if raw.jku.is_some() || raw.jwk.is_some() || raw.x5u.is_some() || raw.x5c.is_some() {
            return Err(TokenError::EmbeddedKey);
        }
        if raw.crit.is_some() {
            return Err(TokenError::CriticalHeader);
        }
        let alg = match raw.alg {
            Some(Value::String(a)) => KeyAlg::parse(&a).ok_or(TokenError::AlgorithmNotAllowed)?,
            _ => return Err(TokenError::Malformed),
        };
        let text = |v: Option<Value>| match v {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(TokenError::Malformed),
        };
        Ok(Self {
            alg,
            kid: text(raw.kid)?,
            typ: text(raw.typ)?,
        })
    }
}

#[cfg(test)]
mod header_text_tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn a_header_must_be_utf8_json_even_where_it_is_ignored() {
        let mut raw = br#"{"alg":"HS256","x":""#.to_vec();
        raw.extend_from_slice(b"\xff\xfe");
        raw.extend_from_slice(br#""}"#);
        let encoded = URL_SAFE_NO_PAD.encode(&raw);
        assert_eq!(
            JoseHeader::parse(&encoded).err(),
            Some(TokenError::Malformed)
        );
        let fine = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","x":"\u00e9"}"#);
        assert!(JoseHeader::parse(&fine).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn enc(v: Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn parses_better_auth_headers() {
        let h = JoseHeader::parse(&enc(json!({"alg":"EdDSA","kid":"abc"}))).unwrap();
        assert_eq!(
            (h.alg, h.kid.as_deref(), h.typ),
            (KeyAlg::EdDSA, Some("abc"), None)
        );
        let h = JoseHeader::parse(&enc(
            json!({"alg":"ES512","kid":"k","typ":SESSION_CACHE_TYP}),
        ))
        .unwrap();
        assert_eq!(h.alg, KeyAlg::ES512);
        assert_eq!(h.typ.as_deref(), Some(SESSION_CACHE_TYP));
    }

    #[test]
    fn refuses_dangerous_headers() {
        for (h, e) in [
            (json!({"alg":"none"}), TokenError::AlgorithmNotAllowed),
            (json!({"alg":"NONE"}), TokenError::AlgorithmNotAllowed),
            (json!({"alg":"HS512"}), TokenError::AlgorithmNotAllowed),
            (json!({"alg":"hs256"}), TokenError::AlgorithmNotAllowed),
            (
                json!({"alg":"HS256","jku":"http://x"}),
                TokenError::EmbeddedKey,
            ),
            (json!({"alg":"HS256","jwk":{}}), TokenError::EmbeddedKey),
            (
                json!({"alg":"HS256","x5u":"http://x"}),
                TokenError::EmbeddedKey,
            ),
            (json!({"alg":"HS256","x5c":[]}), TokenError::EmbeddedKey),
            (
                json!({"alg":"HS256","crit":["b64"]}),
                TokenError::CriticalHeader,
            ),
            (json!({"alg":5}), TokenError::Malformed),
            (json!({"kid":"x"}), TokenError::Malformed),
            (json!({"alg":"HS256","kid":7}), TokenError::Malformed),
        ] {
            assert_eq!(JoseHeader::parse(&enc(h.clone())), Err(e), "{h}");
        }
        assert_eq!(JoseHeader::parse("!!"), Err(TokenError::Malformed));
        assert_eq!(
            JoseHeader::parse(&URL_SAFE_NO_PAD.encode("[1]")),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn split_wants_three_base64url_parts() {
        let (h, c) = split("aa.bb.cc").unwrap();
        assert_eq!(
            (h, c.signing_input, c.payload, c.signature),
            ("aa", "aa.bb", "bb", "cc")
        );
        for bad in [
            "aa.bb",
            "aa.bb.cc.dd",
            "aa..cc",
            ".bb.cc",
            "a=.bb.cc",
            "a+.b.c",
        ] {
            assert!(split(bad).is_err(), "{bad}");
        }
    }
}
