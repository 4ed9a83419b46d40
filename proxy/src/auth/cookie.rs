//! Better Auth's session cookies: finding `session_data` (plain, `__Secure-`, or split
//! into `.0`, `.1`, … chunks) and removing every Better Auth cookie before a request
//! goes upstream — they carry the raw session token.
//!
//! Everything works on the header's bytes: a `Cookie` header may carry any byte but
//! CR, LF and NUL, and one non-ASCII byte must neither hide a session cookie from the
//! stripping nor cost the user the other cookies of the header.

/// At most this many chunks are joined (Better Auth splits above ~4 KB).
const MAX_CHUNKS: usize = 16;

/// Optional whitespace around a pair (RFC 6265 §5.4, RFC 9110 OWS).
fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_by(bytes: &[u8], trim: impl Fn(u8) -> bool) -> &[u8] {
    let start = bytes.iter().position(|&b| !trim(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| !trim(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// Every `;`-separated pair of every header value, trimmed of surrounding whitespace,
/// exactly as sent otherwise. Empty pairs (`a=1;;b=2`) are left out.
fn pairs<'a, V>(values: impl IntoIterator<Item = &'a V>) -> impl Iterator<Item = &'a [u8]>
where
    V: AsRef<[u8]> + ?Sized + 'a,
{
    values
        .into_iter()
        .flat_map(|v| v.as_ref().split(|&b| b == b';'))
        .map(|p| trim_by(p, is_ows))
        .filter(|p| !p.is_empty())
}

/// A pair's name and value (both trimmed of whitespace); a pair without `=` is all value.
fn name_value(pair: &[u8]) -> (&[u8], &[u8]) {
    match pair.iter().position(|&b| b == b'=') {
        Some(i) => (trim_by(&pair[..i], is_ows), trim_by(&pair[i + 1..], is_ows)),
        None => (&[], pair),
    }
}

/// Whether `name` is one of Better Auth's cookies for `prefix` (`better-auth` by
/// default). Generous on purpose, since it decides what is removed: ASCII case is
/// ignored, and so is anything but visible ASCII at the name's ends (servers that
/// decode Latin-1 or UTF-8 and then trim would read `\xa0better-auth.x` as
/// `better-auth.x`).
pub fn is_session_cookie(name: &[u8], prefix: &str) -> bool {
    let bare = trim_by(name, |b| !b.is_ascii_graphic());
    let bare = strip_prefix_ignore_case(bare, b"__Secure-")
        .or_else(|| strip_prefix_ignore_case(bare, b"__Host-"))
        .unwrap_or(bare);
    strip_prefix_ignore_case(bare, prefix.as_bytes())
        .is_some_and(|rest| rest.first() == Some(&b'.'))
}

fn strip_prefix_ignore_case<'a>(bytes: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = bytes.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &bytes[prefix.len()..])
}

/// Whether a pair must not go upstream: its name is a session cookie's, or a
/// comma-separated part of it is (RFC 2965's separator, which some servers still split
/// on: `a=b, better-auth.session_token=t`).
fn is_session_pair(pair: &[u8], prefix: &str) -> bool {
    // A part without `=` counts as a name here: some servers read `name` alone as a
    // cookie with an empty value.
    pair.split(|&b| b == b',').any(|part| {
        let name = part.split(|&b| b == b'=').next().unwrap_or(part);
        is_session_cookie(name, prefix)
    })
}

/// The `session_data` cookie's value, joined from chunks when split. Names are
/// compared exactly (this is the credential); a value that is not UTF-8 is returned
/// lossily, so it fails verification (401) instead of being ignored.
pub fn find_session_data<'a, V>(
    values: impl IntoIterator<Item = &'a V>,
    prefix: &str,
) -> Option<String>
where
    V: AsRef<[u8]> + ?Sized + 'a,
{
    let values: Vec<&[u8]> = values.into_iter().map(AsRef::as_ref).collect();
    let lookup = |name: &[u8]| {
        pairs(values.iter().copied())
            .map(name_value)
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    };
    for name in [
        format!("{prefix}.session_data"),
        format!("__Secure-{prefix}.session_data"),
    ] {
        if let Some(v) = lookup(name.as_bytes()) {
            return Some(String::from_utf8_lossy(v).into_owned());
        }
        let mut joined = Vec::new();
        for i in 0..MAX_CHUNKS {
            match lookup(format!("{name}.{i}").as_bytes()) {
                Some(v) => joined.extend_from_slice(v),
                None => break,
            }
        }
        if !joined.is_empty() {
            return Some(String::from_utf8_lossy(&joined).into_owned());
        }
    }
    None
}

/// The `Cookie` header without Better Auth's cookies, as one value: `None` when
/// nothing changes, `Some(empty)` when nothing is left. Every other pair is kept byte
/// for byte (only the whitespace around it is normalised), in order, joined by `; `.
pub fn without_session_cookies<'a, V>(
    values: impl IntoIterator<Item = &'a V>,
    prefix: &str,
) -> Option<Vec<u8>>
where
    V: AsRef<[u8]> + ?Sized + 'a,
{
    let values: Vec<&[u8]> = values.into_iter().map(AsRef::as_ref).collect();
    if !pairs(values.iter().copied()).any(|p| is_session_pair(p, prefix)) {
        return None;
    }
    let mut kept = Vec::new();
    for pair in pairs(values.iter().copied()).filter(|p| !is_session_pair(p, prefix)) {
        if !kept.is_empty() {
            kept.extend_from_slice(b"; ");
        }
        kept.extend_from_slice(pair);
    }
    Some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn hv(s: &[u8]) -> HeaderValue {
        HeaderValue::from_bytes(s).unwrap()
    }

    fn strip(values: &[&[u8]]) -> Option<Vec<u8>> {
        let values: Vec<HeaderValue> = values.iter().map(|v| hv(v)).collect();
        without_session_cookies(values.iter(), "better-auth")
    }

    #[test]
    fn finds_plain_secure_and_chunked() {
        let v = [hv(
            b"theme=dark; better-auth.session_data=abc.def.ghi; better-auth.session_token=tok",
        )];
        assert_eq!(
            find_session_data(v.iter(), "better-auth").as_deref(),
            Some("abc.def.ghi")
        );
        let v = [hv(b"__Secure-better-auth.session_data=x.y.z")];
        assert_eq!(
            find_session_data(v.iter(), "better-auth").as_deref(),
            Some("x.y.z")
        );
        let v = [
            hv(b"better-auth.session_data.1=def; a=b"),
            hv(b"better-auth.session_data.0=abc."),
        ];
        assert_eq!(
            find_session_data(v.iter(), "better-auth").as_deref(),
            Some("abc.def")
        );
        let v = [hv(b"better-auth.session_data.1=def")];
        assert_eq!(
            find_session_data(v.iter(), "better-auth"),
            None,
            "chunks start at .0"
        );
        let v = [hv(b"better-auth.session_token=tok")];
        assert_eq!(find_session_data(v.iter(), "better-auth"), None);
        let v = [hv(b"myapp.session_data=q")];
        assert_eq!(find_session_data(v.iter(), "myapp").as_deref(), Some("q"));
    }

    #[test]
    fn session_data_is_found_beside_non_ascii_bytes() {
        let v = [hv(b"x=\xe9; better-auth.session_data=a.b.c")];
        assert_eq!(
            find_session_data(v.iter(), "better-auth").as_deref(),
            Some("a.b.c")
        );
        let v = [
            hv(b"x=\xe9"),
            hv(b"better-auth.session_data.0=a.; better-auth.session_data.1=b.c"),
        ];
        assert_eq!(
            find_session_data(v.iter(), "better-auth").as_deref(),
            Some("a.b.c")
        );
        // A value that is not UTF-8 is still the credential: it fails verification.
        let v = [hv(b"better-auth.session_data=a.\xff.c")];
        assert_eq!(
            find_session_data(v.iter(), "better-auth").as_deref(),
            Some("a.\u{fffd}.c")
        );
        // Names are exact here: a look-alike is no credential (but it is stripped).
        let v = [hv(
            b"\xa0better-auth.session_data=a.b.c; Better-Auth.session_data=d",
        )];
        assert_eq!(find_session_data(v.iter(), "better-auth"), None);
        for odd in [
            &b""[..],
            b";",
            b"=",
            b";;=;",
            b"\xff\xfe",
            b"better-auth.session_data",
        ] {
            let v = [hv(odd)];
            assert_eq!(find_session_data(v.iter(), "better-auth"), None, "{odd:?}");
        }
    }

    #[test]
    fn strips_only_better_auth_cookies() {
        assert_eq!(
            strip(&[b"theme=dark; better-auth.session_token=tok; __Secure-better-auth.session_data.0=x; lang=en"]).as_deref(),
            Some(&b"theme=dark; lang=en"[..])
        );
        assert_eq!(
            strip(&[b"better-auth.session_token=tok"]).as_deref(),
            Some(&b""[..])
        );
        assert_eq!(strip(&[b"theme=dark; better-authx=1"]), None);
        assert_eq!(strip(&[b"\xe9=1; x=\xff"]), None);
    }

    #[test]
    fn strips_beside_non_ascii_bytes_and_keeps_them() {
        assert_eq!(
            strip(&[b"better-auth.session_token=SECRET; x=\xe9"]).as_deref(),
            Some(&b"x=\xe9"[..])
        );
        assert_eq!(
            strip(&[b"a=1; better-auth.session_token=SECRET", b"x=\xe9; y=2"]).as_deref(),
            Some(&b"a=1; x=\xe9; y=2"[..])
        );
        assert_eq!(
            strip(&[b"x=\xe9\xff", b"better-auth.session_data=d; z=\x80"]).as_deref(),
            Some(&b"x=\xe9\xff; z=\x80"[..])
        );
    }

    #[test]
    fn other_pairs_are_kept_byte_for_byte() {
        assert_eq!(
            strip(&[b"  q=\"a b\" ;k=v=w;flag\t;;\tbetter-auth.session_token=t; e="]).as_deref(),
            Some(&b"q=\"a b\"; k=v=w; flag; e="[..])
        );
    }

    #[test]
    fn look_alike_and_comma_hidden_session_cookies_are_stripped() {
        for hidden in [
            &b"Better-Auth.Session_Token=t"[..],
            b"__secure-better-auth.session_token=t",
            b"__Host-better-auth.session_token=t",
            b"\xa0better-auth.session_token=t",
            b"\xc2\xa0better-auth.session_token\xc2\xa0=t",
            b"a=b, better-auth.session_token=t",
            b"better-auth.session_token",
        ] {
            let mut header = b"keep=1; ".to_vec();
            header.extend_from_slice(hidden);
            assert_eq!(
                strip(&[&header]).as_deref(),
                Some(&b"keep=1"[..]),
                "{}",
                String::from_utf8_lossy(hidden)
            );
        }
    }
}
