//! Better Auth's session cookies: finding `session_data` (plain, `__Secure-`, or split
//! into `.0`, `.1`, … chunks) and removing every Better Auth cookie before a request
//! goes upstream — they carry the raw session token.

use http::HeaderValue;

/// At most this many chunks are joined (Better Auth splits above ~4 KB).
const MAX_CHUNKS: usize = 16;

fn pairs<'a>(
    values: impl Iterator<Item = &'a HeaderValue>,
) -> impl Iterator<Item = (&'a str, &'a str)> {
    values
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|p| p.trim().split_once('='))
        .map(|(n, v)| (n.trim(), v.trim()))
}

/// Whether `name` is one of Better Auth's cookies for `prefix` (`better-auth` by default).
pub fn is_session_cookie(name: &str, prefix: &str) -> bool {
    let bare = name
        .strip_prefix("__Secure-")
        .or_else(|| name.strip_prefix("__Host-"))
        .unwrap_or(name);
    bare.strip_prefix(prefix)
        .is_some_and(|rest| rest.starts_with('.'))
}

/// The `session_data` cookie's value, joined from chunks when split.
pub fn find_session_data<'a>(
    values: impl Iterator<Item = &'a HeaderValue>,
    prefix: &str,
) -> Option<String> {
    let values: Vec<&HeaderValue> = values.collect();
    for name in [
        format!("{prefix}.session_data"),
        format!("__Secure-{prefix}.session_data"),
    ] {
        if let Some((_, v)) = pairs(values.iter().copied()).find(|(n, _)| *n == name) {
            return Some(v.to_string());
        }
        let mut joined = String::new();
        for i in 0..MAX_CHUNKS {
            let chunk = format!("{name}.{i}");
            match pairs(values.iter().copied()).find(|(n, _)| *n == chunk) {
                Some((_, v)) => joined.push_str(v),
                None => break,
            }
        }
        if !joined.is_empty() {
            return Some(joined);
        }
    }
    None
}

/// The `Cookie` header without Better Auth's cookies: `None` when nothing changes,
/// `Some("")` when nothing is left.
pub fn without_session_cookies<'a>(
    values: impl Iterator<Item = &'a HeaderValue>,
    prefix: &str,
) -> Option<String> {
    let values: Vec<&HeaderValue> = values.collect();
    if !pairs(values.iter().copied()).any(|(n, _)| is_session_cookie(n, prefix)) {
        return None;
    }
    let kept: Vec<String> = pairs(values.iter().copied())
        .filter(|(n, _)| !is_session_cookie(n, prefix))
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    Some(kept.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hv(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    #[test]
    fn finds_plain_secure_and_chunked() {
        let v = [hv(
            "theme=dark; better-auth.session_data=abc.def.ghi; better-auth.session_token=tok",
        )];
        assert_eq!(
            find_session_data(v.iter(), "better-auth").as_deref(),
            Some("abc.def.ghi")
        );
        let v = [hv("__Secure-better-auth.session_data=x.y.z")];
        assert_eq!(
            find_session_data(v.iter(), "better-auth").as_deref(),
            Some("x.y.z")
        );
        let v = [
            hv("better-auth.session_data.1=def; a=b"),
            hv("better-auth.session_data.0=abc."),
        ];
        assert_eq!(
            find_session_data(v.iter(), "better-auth").as_deref(),
            Some("abc.def")
        );
        let v = [hv("better-auth.session_data.1=def")];
        assert_eq!(
            find_session_data(v.iter(), "better-auth"),
            None,
            "chunks start at .0"
        );
        let v = [hv("better-auth.session_token=tok")];
        assert_eq!(find_session_data(v.iter(), "better-auth"), None);
        let v = [hv("myapp.session_data=q")];
        assert_eq!(find_session_data(v.iter(), "myapp").as_deref(), Some("q"));
    }

    #[test]
    fn strips_only_better_auth_cookies() {
        let v = [hv("theme=dark; better-auth.session_token=tok; __Secure-better-auth.session_data.0=x; lang=en")];
        assert_eq!(
            without_session_cookies(v.iter(), "better-auth").as_deref(),
            Some("theme=dark; lang=en")
        );
        let v = [hv("better-auth.session_token=tok")];
        assert_eq!(
            without_session_cookies(v.iter(), "better-auth").as_deref(),
            Some("")
        );
        let v = [hv("theme=dark; better-authx=1")];
        assert_eq!(without_session_cookies(v.iter(), "better-auth"), None);
    }
}
