//! Finding the token in `Authorization: Bearer <token>` (RFC 6750 §2.1).

use http::HeaderValue;

/// Why the `Authorization` header could not yield a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// More than one `Authorization` header: ambiguous, never guessed at (400).
    Multiple,
    /// `Bearer` with no token, or characters outside RFC 6750's `b64token`.
    Malformed,
}

/// RFC 6750 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &[u8]) -> bool {
    let body_len = token.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    body_len > 0
        && token[..body_len]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// Extracts the bearer token from the request's `Authorization` header values.
///
/// `Ok(None)` means no bearer credentials were presented (no header, or another scheme
/// such as `Basic`). The scheme name is case-insensitive; the token is never taken from
/// anywhere else (no query string, no form body).
pub fn bearer_token<'a, I>(mut values: I) -> Result<Option<&'a str>, BearerError>
where
    I: Iterator<Item = &'a HeaderValue>,
{
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(BearerError::Multiple);
    }
    let bytes = value.as_bytes();
    let (scheme, rest) = match bytes.iter().position(|&b| b == b' ') {
        Some(i) => (&bytes[..i], &bytes[i..]),
        None => (bytes, &b""[..]),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Ok(None);
    }
    let token = rest.trim_ascii();
    if !is_b64token(token) {
        return Err(BearerError::Malformed);
    }
    // b64token is ASCII, so this cannot fail; stay total anyway.
    std::str::from_utf8(token)
        .map(Some)
        .map_err(|_| BearerError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hv(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    fn one(s: &str) -> Result<Option<String>, BearerError> {
        let v = [hv(s)];
        bearer_token(v.iter()).map(|t| t.map(str::to_string))
    }

    #[test]
    fn scheme_is_case_insensitive() {
        assert_eq!(one("Bearer abc.def.ghi").unwrap().unwrap(), "abc.def.ghi");
        assert_eq!(one("bearer abc").unwrap().unwrap(), "abc");
        assert_eq!(one("BEARER abc").unwrap().unwrap(), "abc");
        assert_eq!(one("Bearer   abc  ").unwrap().unwrap(), "abc");
    }

    #[test]
    fn other_schemes_are_no_token() {
        assert_eq!(one("Basic dXNlcjpwYXNz").unwrap(), None);
        assert_eq!(one("Bearerabc").unwrap(), None);
        assert_eq!(bearer_token(std::iter::empty()).unwrap(), None);
    }

    #[test]
    fn malformed_and_multiple() {
        assert_eq!(one("Bearer").unwrap_err(), BearerError::Malformed);
        assert_eq!(one("Bearer    ").unwrap_err(), BearerError::Malformed);
        assert_eq!(one("Bearer a b").unwrap_err(), BearerError::Malformed);
        assert_eq!(one("Bearer a,b").unwrap_err(), BearerError::Malformed);
        assert_eq!(one("Bearer ===").unwrap_err(), BearerError::Malformed);
        assert_eq!(one("Bearer abc==").unwrap().unwrap(), "abc==");
        let two = [hv("Bearer a"), hv("Bearer b")];
        assert_eq!(bearer_token(two.iter()).unwrap_err(), BearerError::Multiple);
    }
}
