//! One canonical form of the request path, used both to match route rules and as the
//! path forwarded upstream, so the proxy and the upstream can never disagree about
//! which resource a request names (`/api/alice/../bob/tasks` is `/api/bob/tasks` for both).
//!
//! Canonicalisation resolves dot-segments, merges repeated slashes, decodes
//! percent-encoded unreserved characters and upper-cases the hex of the rest. Anything
//! that different servers interpret differently is refused instead of guessed at.

use std::borrow::Cow;
use std::fmt;

/// Why a request target was refused (400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// Not origin-form (`/path`): absolute-form, authority-form or `*`.
    NotOriginForm,
    /// `%2F`: an encoded slash splits segments differently per server.
    EncodedSlash,
    /// A backslash, raw or encoded: some servers treat it as a separator.
    Backslash,
    /// A NUL or other control character, raw or encoded.
    ControlCharacter,
    /// `%` not followed by two hex digits.
    BadPercentEncoding,
    /// A dot-segment spelled with `%2E`.
    EncodedDotSegment,
    /// A `;` path parameter (matrix parameters mean different things to different servers).
    PathParameter,
    /// `..` above the root.
    EscapesRoot,
    /// A raw byte outside printable ASCII.
    NonAscii,
    /// A raw `#`: a fragment never belongs in a request-target (RFC 9112 §3.2).
    Fragment,
    /// A raw character that RFC 3986 does not allow in a path (space, `"`, `<`,
    /// `>`, `[`, `]`, `^`, `` ` ``, `{`, `|`, `}`): it must be percent-encoded.
    DisallowedCharacter,
}

impl PathError {
    /// A short, safe description for the client (it never repeats the path).
    pub fn message(self) -> &'static str {
        match self {
            Self::NotOriginForm => "request target must be an absolute path (origin-form)",
            Self::EncodedSlash => "encoded slash (%2F) in path",
            Self::Backslash => "backslash in path",
            Self::ControlCharacter => "control character in path",
            Self::BadPercentEncoding => "malformed percent-encoding in path",
            Self::EncodedDotSegment => "encoded dot-segment in path",
            Self::PathParameter => "path parameters (;) are not accepted",
            Self::EscapesRoot => "path climbs above the root",
            Self::NonAscii => "non-ASCII byte in path",
            Self::Fragment => "fragment (#) in request target",
            Self::DisallowedCharacter => "character not allowed in a path; percent-encode it",
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for PathError {}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Checks one raw byte of the path for what is refused outright.
fn check_raw_byte(b: u8) -> Result<(), PathError> {
    match b {
        b'\\' => Err(PathError::Backslash),
        b';' => Err(PathError::PathParameter),
        0..=0x1f | 0x7f => Err(PathError::ControlCharacter),
        0x80..=0xff => Err(PathError::NonAscii),
        b'#' => Err(PathError::Fragment),
        b' ' | b'"' | b'<' | b'>' | b'[' | b']' | b'^' | b'`' | b'{' | b'|' | b'}' => {
            Err(PathError::DisallowedCharacter)
        }
        _ => Ok(()),
    }
}

/// Checks the raw query: no fragment, no control characters or spaces, ASCII
/// only. Other characters pass as sent (browsers leave `{`, `|`, `^` raw there).
pub(crate) fn check_query(query: &[u8]) -> Result<(), PathError> {
    query.iter().try_for_each(|&b| match b {
        b'#' => Err(PathError::Fragment),
        0..=0x20 | 0x7f => Err(PathError::ControlCharacter),
        0x80..=0xff => Err(PathError::NonAscii),
        _ => Ok(()),
    })
}

/// True when `path` is already canonical, so the common case allocates nothing.
fn is_already_canonical(path: &[u8]) -> bool {
    if path.first() != Some(&b'/') {
        return false;
    }
    let mut prev = 0u8;
    for &b in path {
        if b == b'%' || check_raw_byte(b).is_err() {
            return false;
        }
        if b == b'/' && prev == b'/' {
            return false;
        }
        // A segment starting with '.' may be a dot-segment: take the slow path.
        if b == b'.' && prev == b'/' {
            return false;
        }
        prev = b;
    }
    true
}

/// Decodes one raw segment: unreserved escapes become characters, other escapes are
/// kept with upper-case hex. Returns the segment and whether it contained escapes.
fn canonical_segment(raw: &str) -> Result<(String, bool), PathError> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    let mut escaped = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let (hi, lo) = match (bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(&h), Some(&l)) => (h, l),
                _ => return Err(PathError::BadPercentEncoding),
            };
            let value = match (hex_value(hi), hex_value(lo)) {
                (Some(h), Some(l)) => h << 4 | l,
                _ => return Err(PathError::BadPercentEncoding),
            };
            match value {
                b'/' => return Err(PathError::EncodedSlash),
                b'\\' => return Err(PathError::Backslash),
                0..=0x1f | 0x7f => return Err(PathError::ControlCharacter),
                v if is_unreserved(v) => out.push(char::from(v)),
                v => {
                    out.push('%');
                    out.push(char::from(b"0123456789ABCDEF"[usize::from(v >> 4)]));
                    out.push(char::from(b"0123456789ABCDEF"[usize::from(v & 0xf)]));
                }
            }
            escaped = true;
            i += 3;
        } else {
            check_raw_byte(b)?;
            out.push(char::from(b));
            i += 1;
        }
    }
    Ok((out, escaped))
}

/// Canonicalises an origin-form path (no query). See the module docs for the rules.
pub fn canonicalize(path: &str) -> Result<Cow<'_, str>, PathError> {
    if is_already_canonical(path.as_bytes()) {
        return Ok(Cow::Borrowed(path));
    }
    let rest = path.strip_prefix('/').ok_or(PathError::NotOriginForm)?;
    let mut segments: Vec<String> = Vec::new();
    let mut trailing_slash = false;
    for raw in rest.split('/') {
        let (segment, escaped) = canonical_segment(raw)?;
        trailing_slash = false;
        match segment.as_str() {
            "." | ".." if escaped => return Err(PathError::EncodedDotSegment),
            "" | "." => trailing_slash = true,
            ".." => {
                segments.pop().ok_or(PathError::EscapesRoot)?;
                trailing_slash = true;
            }
            _ => segments.push(segment),
        }
    }
    let mut out = String::with_capacity(path.len());
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if trailing_slash || segments.is_empty() {
        out.push('/');
    }
    Ok(Cow::Owned(out))
}

/// Fully percent-decodes one canonical segment (for comparing a path parameter with a
/// token subject). `None` when the bytes are not UTF-8.
pub fn decode_segment(segment: &str) -> Option<Cow<'_, str>> {
    if !segment.contains('%') {
        return Some(Cow::Borrowed(segment));
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let h = hex_value(*bytes.get(i + 1)?)?;
            let l = hex_value(*bytes.get(i + 2)?)?;
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(p: &str) -> Result<String, PathError> {
        canonicalize(p).map(Cow::into_owned)
    }

    #[test]
    fn plain_paths_are_borrowed_unchanged() {
        assert!(matches!(
            canonicalize("/api/alice/tasks"),
            Ok(Cow::Borrowed(_))
        ));
        assert_eq!(canon("/").unwrap(), "/");
        assert_eq!(canon("/api/alice/tasks/").unwrap(), "/api/alice/tasks/");
        assert_eq!(canon("/a.b/c-d_e~f").unwrap(), "/a.b/c-d_e~f");
    }

    #[test]
    fn dot_segments_resolve() {
        assert_eq!(canon("/api/alice/../bob/tasks").unwrap(), "/api/bob/tasks");
        assert_eq!(canon("/api/./alice/tasks").unwrap(), "/api/alice/tasks");
        assert_eq!(canon("/api/alice/tasks/..").unwrap(), "/api/alice/");
        assert_eq!(canon("/api/alice/tasks/.").unwrap(), "/api/alice/tasks/");
        assert_eq!(canon("/a/b/../../c").unwrap(), "/c");
        assert_eq!(canon("/..").unwrap_err(), PathError::EscapesRoot);
        assert_eq!(canon("/a/../../b").unwrap_err(), PathError::EscapesRoot);
    }

    #[test]
    fn repeated_slashes_merge() {
        assert_eq!(canon("//api///alice//tasks").unwrap(), "/api/alice/tasks");
    }

    #[test]
    fn unreserved_escapes_decode_and_others_normalise() {
        assert_eq!(canon("/api/%61lice/tasks").unwrap(), "/api/alice/tasks");
        assert_eq!(canon("/a%7e/b%2d").unwrap(), "/a~/b-");
        assert_eq!(canon("/a%20b/%c3%a9").unwrap(), "/a%20b/%C3%A9");
        assert_eq!(canon("/a%3bb").unwrap(), "/a%3Bb");
    }

    #[test]
    fn hostile_paths_are_refused() {
        assert_eq!(
            canon("/api/alice%2F..%2Fbob").unwrap_err(),
            PathError::EncodedSlash
        );
        assert_eq!(canon("/api/alice%2f").unwrap_err(), PathError::EncodedSlash);
        assert_eq!(
            canon("/api/%2e%2e/bob").unwrap_err(),
            PathError::EncodedDotSegment
        );
        assert_eq!(
            canon("/api/.%2E/bob").unwrap_err(),
            PathError::EncodedDotSegment
        );
        assert_eq!(
            canon("/api/%2e/bob").unwrap_err(),
            PathError::EncodedDotSegment
        );
        assert_eq!(canon("/api/a\\..\\bob").unwrap_err(), PathError::Backslash);
        assert_eq!(canon("/api/a%5cb").unwrap_err(), PathError::Backslash);
        assert_eq!(canon("/api/a%00").unwrap_err(), PathError::ControlCharacter);
        assert_eq!(
            canon("/api/a%0d%0a").unwrap_err(),
            PathError::ControlCharacter
        );
        assert_eq!(
            canon("/api/alice;x=1/tasks").unwrap_err(),
            PathError::PathParameter
        );
        assert_eq!(
            canon("/api/%zz").unwrap_err(),
            PathError::BadPercentEncoding
        );
        assert_eq!(canon("/api/%4").unwrap_err(), PathError::BadPercentEncoding);
        assert_eq!(canon("*").unwrap_err(), PathError::NotOriginForm);
        assert_eq!(canon("api/x").unwrap_err(), PathError::NotOriginForm);
        assert_eq!(canon("/caf\u{e9}").unwrap_err(), PathError::NonAscii);
    }

    #[test]
    fn canonical_form_is_a_fixed_point() {
        // Every input here is accepted: the fixed point is checked for each one.
        for (p, want) in [
            ("/a/../b/./c//d/", "/b/c/d/"),
            ("/%41%2e", "/A."),
            ("/x/%7E/y%20z", "/x/~/y%20z"),
            ("/a/b/..", "/a/"),
        ] {
            let once = canon(p).unwrap_or_else(|e| panic!("{p} refused: {e}"));
            assert_eq!(once, want, "{p}");
            assert_eq!(canon(&once).unwrap(), once, "{p}");
        }
        // And refused inputs stay refused, whatever the fixed point.
        assert!(canon("/%41%2f").is_err());
    }

    #[test]
    fn decode_segment_handles_utf8_and_rejects_garbage() {
        assert_eq!(decode_segment("alice").unwrap(), "alice");
        assert_eq!(decode_segment("a%40b").unwrap(), "a@b");
        assert_eq!(decode_segment("%C3%A9").unwrap(), "\u{e9}");
        assert!(decode_segment("%FF").is_none());
    }
}
