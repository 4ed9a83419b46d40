//! OpenID Connect Discovery 1.0 (§4; RFC 8414 §3 for the same rules): an issuer
//! publishes `{issuer}/.well-known/openid-configuration`, whose `jwks_uri` names
//! its keys. The document must come from the issuer's own origin and name that
//! issuer exactly, or an attacker who can answer for one URL could choose the keys.
//! `jwks_uri` may be on another host (many providers serve keys from a CDN), but
//! must be an absolute https URL (http only for an http issuer: local set-ups).

use reqwest::Url;
use serde::Deserialize;

use super::fetch::get_document;

/// The path appended to the issuer.
const WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// The fields read from a discovery document; the others are ignored.
#[derive(Deserialize)]
struct DiscoveryDocument {
    issuer: Option<serde_json::Value>,
    jwks_uri: Option<serde_json::Value>,
}

/// The discovery document's URL: the issuer, without its trailing slash, and
/// `/.well-known/openid-configuration` (OIDC Discovery §4.1).
pub(crate) fn discovery_url(issuer: &str) -> String {
    format!("{}{WELL_KNOWN}", issuer.trim_end_matches('/'))
}

/// Fetches `issuer`'s discovery document (no redirect may leave its origin) and
/// returns the `jwks_uri` it names.
pub(crate) async fn discover_jwks_uri(
    client: &reqwest::Client,
    issuer: &str,
) -> Result<String, String> {
    let origin = Url::parse(issuer).map_err(|e| format!("issuer is not a URL: {e}"))?;
    let url = discovery_url(issuer);
    let doc = get_document(client, &url, Some(&origin))
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    jwks_uri_of(&doc.body, issuer, &origin).map_err(|e| format!("{url}: {e}"))
}

/// The `jwks_uri` of `body`, a discovery document that must name `issuer`.
fn jwks_uri_of(body: &[u8], issuer: &str, issuer_url: &Url) -> Result<String, String> {
    let doc: DiscoveryDocument =
        serde_json::from_slice(body).map_err(|e| format!("not a discovery document: {e}"))?;
    match doc.issuer {
        Some(serde_json::Value::String(named)) if named == issuer => {}
        Some(serde_json::Value::String(named)) => {
            return Err(format!(
                "the document names issuer `{}`, not the configured `{issuer}`: refused",
                named.escape_debug()
            ))
        }
        _ => return Err("the document has no `issuer` string: refused".into()),
    }
    let Some(serde_json::Value::String(jwks_uri)) = doc.jwks_uri else {
        return Err("the document has no `jwks_uri` string".into());
    };
    let parsed = Url::parse(&jwks_uri)
        .map_err(|e| format!("`jwks_uri` is not an absolute URL ({e}): refused"))?;
    let scheme_ok = match parsed.scheme() {
        "https" => true,
        "http" => issuer_url.scheme() == "http",
        _ => false,
    };
    if !scheme_ok || parsed.host_str().is_none() {
        return Err(format!(
            "`jwks_uri` must be an https URL{}: refused",
            if issuer_url.scheme() == "http" {
                " (or http, as the issuer is)"
            } else {
                ""
            }
        ));
    }
    Ok(jwks_uri)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::fetch::tests::{client, Answer, TestServer};

    #[test]
    fn the_discovery_url_is_the_issuer_and_the_well_known_path() {
        assert_eq!(
            discovery_url("https://auth.example.com"),
            "https://auth.example.com/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://auth.example.com/"),
            "https://auth.example.com/.well-known/openid-configuration"
        );
        // Better Auth's OAuth provider: the issuer has a path.
        assert_eq!(
            discovery_url("http://127.0.0.1:3000/api/auth"),
            "http://127.0.0.1:3000/api/auth/.well-known/openid-configuration"
        );
    }

    fn check(issuer: &str, doc: &str) -> Result<String, String> {
        jwks_uri_of(doc.as_bytes(), issuer, &Url::parse(issuer).unwrap())
    }

    #[test]
    fn the_document_must_name_the_issuer_exactly() {
        let iss = "https://auth.example.com";
        let ok =
            r#"{"issuer":"https://auth.example.com","jwks_uri":"https://keys.example.net/jwks"}"#;
        assert_eq!(check(iss, ok).unwrap(), "https://keys.example.net/jwks");
        for (doc, why) in [
            (
                r#"{"issuer":"https://evil.example","jwks_uri":"https://auth.example.com/jwks"}"#,
                "names issuer `https://evil.example`",
            ),
            (
                r#"{"issuer":"https://auth.example.com/","jwks_uri":"https://auth.example.com/jwks"}"#,
                "names issuer `https://auth.example.com/`",
            ),
            (
                r#"{"jwks_uri":"https://auth.example.com/jwks"}"#,
                "no `issuer`",
            ),
            (
                r#"{"issuer":["https://auth.example.com"],"jwks_uri":"https://a/jwks"}"#,
                "no `issuer`",
            ),
            ("[]", "not a discovery document"),
        ] {
            let e = check(iss, doc).unwrap_err();
            assert!(e.contains(why), "{doc}: {e}");
        }
    }

    #[test]
    fn jwks_uri_must_be_absolute_and_https_unless_the_issuer_is_http() {
        let doc = |iss: &str, uri: &str| format!(r#"{{"issuer":"{iss}","jwks_uri":"{uri}"}}"#);
        let https = "https://auth.example.com";
        for bad in [
            "/jwks",
            "jwks",
            "http://auth.example.com/jwks",
            "ftp://auth.example.com/jwks",
            "file:///etc/jwks",
        ] {
            let e = check(https, &doc(https, bad)).unwrap_err();
            assert!(e.contains("`jwks_uri`"), "{bad}: {e}");
        }
        let e = check(https, r#"{"issuer":"https://auth.example.com"}"#).unwrap_err();
        assert!(e.contains("no `jwks_uri`"), "{e}");
        let http = "http://127.0.0.1:3000/api/auth";
        let local = "http://127.0.0.1:3000/api/auth/jwks";
        assert_eq!(check(http, &doc(http, local)).unwrap(), local);
    }

    fn doc(issuer: &str, jwks_uri: &str) -> Answer {
        Answer::Doc(format!(
            r#"{{"issuer":"{issuer}","jwks_uri":"{jwks_uri}"}}"#
        ))
    }

    #[tokio::test]
    async fn discovery_under_the_issuer_path_with_or_without_a_trailing_slash() {
        let p = TestServer::start().await;
        let base = &p.base;
        p.answer(
            "/api/auth/.well-known/openid-configuration",
            doc(
                &format!("{base}/api/auth"),
                &format!("{base}/api/auth/jwks"),
            ),
        );
        p.answer(
            "/.well-known/openid-configuration",
            doc(&format!("{base}/"), &format!("{base}/keys")),
        );
        let issuer = format!("{base}/api/auth");
        let uri = discover_jwks_uri(&client(), &issuer).await.unwrap();
        assert_eq!(uri, format!("{base}/api/auth/jwks"));
        // An issuer with a trailing slash: no `//.well-known`; it must then be
        // named with the slash.
        let uri = discover_jwks_uri(&client(), &format!("{base}/"))
            .await
            .unwrap();
        assert_eq!(uri, format!("{base}/keys"));
        let e = discover_jwks_uri(&client(), &format!("{issuer}/"))
            .await
            .unwrap_err();
        assert!(e.contains("names issuer"), "{e}");
        // No document there: the provider's 404, with the URL asked for.
        let e = discover_jwks_uri(&client(), &format!("{base}/other"))
            .await
            .unwrap_err();
        assert!(
            e.contains("/other/.well-known/openid-configuration: HTTP 404"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_redirect_off_the_issuer_origin_is_refused() {
        let (issuer, elsewhere) = (TestServer::start().await, TestServer::start().await);
        let base = &issuer.base;
        // Another port of the same host is another origin. Its document names the
        // first issuer, as an attacker's would.
        elsewhere.answer(
            "/.well-known/openid-configuration",
            doc(base, &format!("{}/jwks", elsewhere.base)),
        );
        issuer.answer(
            "/.well-known/openid-configuration",
            Answer::Redirect(format!(
                "{}/.well-known/openid-configuration",
                elsewhere.base
            )),
        );
        let e = discover_jwks_uri(&client(), base).await.unwrap_err();
        assert!(
            e.contains("to another origin") && e.contains(&elsewhere.base),
            "{e}"
        );
        // A redirect within the origin is followed.
        issuer.answer(
            "/old/.well-known/openid-configuration",
            Answer::Redirect("/new/.well-known/openid-configuration".into()),
        );
        issuer.answer(
            "/new/.well-known/openid-configuration",
            doc(&format!("{base}/old"), &format!("{base}/jwks")),
        );
        let uri = discover_jwks_uri(&client(), &format!("{base}/old"))
            .await
            .unwrap();
        assert_eq!(uri, format!("{base}/jwks"));
    }
}
