//! Header names as servers read them: case-insensitive, with `_` and `-` alike
//! (CGI, WSGI and nginx map both to the same variable), and the one loop that
//! removes every header a rule selects.

use http::HeaderName;
use pingora::http::RequestHeader;

/// Lower-cases and maps `_` to `-`.
pub(crate) fn normalise(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'_' => '-',
            b => char::from(b.to_ascii_lowercase()),
        })
        .collect()
}

/// Whether `name` is `normalised` (lower case, `-`) once case and `_`/`-` are
/// ignored.
pub(crate) fn same_header(normalised: &str, name: &str) -> bool {
    normalised.len() == name.len()
        && normalised.bytes().zip(name.bytes()).all(|(a, b)| {
            let b = if b == b'_' {
                b'-'
            } else {
                b.to_ascii_lowercase()
            };
            a == b
        })
}

/// Whether `name` is one of `list` (normalised names), in any spelling.
pub(crate) fn in_list(list: &[&str], name: &str) -> bool {
    list.iter().any(|w| same_header(w, name))
}

/// Removes every header whose name `doomed` selects (all its values). The names
/// are collected first: the map cannot change while it is read.
pub(crate) fn remove_where(req: &mut RequestHeader, doomed: impl Fn(&str) -> bool) {
    let names: Vec<HeaderName> = req
        .headers
        .keys()
        .filter(|n| doomed(n.as_str()))
        .cloned()
        .collect();
    for name in &names {
        req.remove_header(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_are_one_name() {
        assert!(same_header("x-auth-user-id", "X_Auth-USER_id"));
        assert!(!same_header("x-auth-user-id", "x-auth-user-ids"));
        assert_eq!(normalise("X_Auth-User"), "x-auth-user");
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.append_header("X-A", "1").unwrap();
        req.append_header("x_a", "2").unwrap();
        req.append_header("X-B", "3").unwrap();
        remove_where(&mut req, |n| in_list(&["x-a"], n));
        assert_eq!(req.headers.len(), 1);
        assert!(req.headers.contains_key("x-b"));
    }
}
