//! One bounded GET of a JSON document (a JWKS, an OpenID discovery document).
//! Redirects are followed here rather than by reqwest, so that each hop can be
//! checked: never from https to http, and, for a discovery document, never off the
//! issuer's origin (scheme, host, port).

use reqwest::{StatusCode, Url};

/// Largest document accepted.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 1 << 20;
/// Most redirects followed for one document.
const MAX_REDIRECTS: usize = 3;

/// A fetched document.
#[derive(Debug)]
pub(crate) struct Document {
    /// The body, at most [`MAX_DOCUMENT_BYTES`].
    pub body: Vec<u8>,
    /// `Cache-Control: max-age` of the response, seconds.
    pub max_age: Option<u64>,
}

/// GETs `url`, following at most [`MAX_REDIRECTS`] redirects. With `origin`, a
/// redirect to any other origin is an error. Error texts never repeat a URL's
/// password.
pub(crate) async fn get_document(
    client: &reqwest::Client,
    url: &str,
    origin: Option<&Url>,
) -> Result<Document, String> {
    let mut current = Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    for _ in 0..=MAX_REDIRECTS {
        let resp = client
            .get(current.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            // reqwest's message repeats the URL, password included: leave it out.
            .map_err(|e| format!("request failed: {}", e.without_url()))?;
        if !is_redirect(resp.status()) {
            return read_body(resp).await;
        }
        let next = redirect_target(&current, &resp)?;
        if let Some(origin) = origin.filter(|o| o.origin() != next.origin()) {
            return Err(format!(
                "redirected from {} to another origin, {}: refused",
                origin.origin().ascii_serialization(),
                next.origin().ascii_serialization()
            ));
        }
        current = next;
    }
    Err(format!("more than {MAX_REDIRECTS} redirects"))
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Where a redirect response points, resolved against the URL that answered it.
fn redirect_target(current: &Url, resp: &reqwest::Response) -> Result<Url, String> {
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| format!("HTTP {} without a usable Location", resp.status()))?;
    let next = current
        .join(location)
        .map_err(|e| format!("HTTP {} to an unreadable Location: {e}", resp.status()))?;
    if !allowed_hop(current, &next) {
        return Err(format!(
            "redirected from {} to {}: refused",
            current.origin().ascii_serialization(),
            next.origin().ascii_serialization()
        ));
    }
    Ok(next)
}

/// Whether a redirect from `current` to `next` keeps to http(s) and never drops
/// from https to http.
fn allowed_hop(current: &Url, next: &Url) -> bool {
    matches!(
        (current.scheme(), next.scheme()),
        ("https", "https") | ("http", "http" | "https")
    )
}

async fn read_body(mut resp: reqwest::Response) -> Result<Document, String> {
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status()));
    }
    if resp
        .content_length()
        .is_some_and(|l| l as usize > MAX_DOCUMENT_BYTES)
    {
        return Err("document too large".into());
    }
    let max_age = resp
        .headers()
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_max_age);
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("reading body: {}", e.without_url()))?
    {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err("document too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Document { body, max_age })
}

/// `max-age` of a `Cache-Control` value, seconds.
fn parse_max_age(value: &str) -> Option<u64> {
    value.split(',').find_map(|d| {
        let (k, v) = d.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| v.trim().trim_matches('"').parse().ok())?
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use warp::Filter;

    /// What a [`TestServer`] answers on one path.
    pub(crate) enum Answer {
        /// 200 with this body and `Cache-Control: max-age=15`.
        Doc(String),
        /// 307 to this location.
        Redirect(String),
        /// This status, no body.
        Status(u16),
    }

    /// A server on a port of its own, answering what [`TestServer::answer`] set
    /// (404 elsewhere) and counting the requests for each path.
    pub(crate) struct TestServer {
        pub(crate) base: String,
        answers: Arc<Mutex<Vec<(String, Answer)>>>,
        hits: Arc<Mutex<Vec<String>>>,
    }

    impl TestServer {
        pub(crate) async fn start() -> Self {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let answers: Arc<Mutex<Vec<(String, Answer)>>> = Arc::default();
            let hits: Arc<Mutex<Vec<String>>> = Arc::default();
            let (served, seen) = (answers.clone(), hits.clone());
            let route = warp::path::full().map(move |full: warp::path::FullPath| {
                seen.lock().unwrap().push(full.as_str().to_string());
                let reply = warp::http::Response::builder();
                let answers = served.lock().unwrap();
                match answers.iter().rev().find(|(p, _)| p == full.as_str()) {
                    Some((_, Answer::Doc(body))) => reply
                        .header("cache-control", "public, max-age=15")
                        .body(body.clone()),
                    Some((_, Answer::Redirect(to))) => {
                        reply.status(307).header("location", to).body(String::new())
                    }
                    Some((_, Answer::Status(status))) => reply.status(*status).body(String::new()),
                    None => reply.status(404).body(String::new()),
                }
            });
            tokio::spawn(warp::serve(route).incoming(listener).run());
            Self {
                base,
                answers,
                hits,
            }
        }

        /// Answers `path` with `answer` from now on.
        pub(crate) fn answer(&self, path: &str, answer: Answer) {
            self.answers.lock().unwrap().push((path.into(), answer));
        }

        /// How many requests `path` got.
        pub(crate) fn hits(&self, path: &str) -> usize {
            self.hits
                .lock()
                .unwrap()
                .iter()
                .filter(|p| *p == path)
                .count()
        }
    }

    /// A client that leaves redirects to [`get_document`], as authgate's does.
    pub(crate) fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn redirects_are_followed_within_the_origin_and_bounded() {
        let server = TestServer::start().await;
        server.answer("/doc", Answer::Doc("{}".into()));
        server.answer("/here", Answer::Redirect("/doc".into()));
        server.answer("/loop", Answer::Redirect("/loop".into()));
        let base = &server.base;
        let pin = Url::parse(base).unwrap();
        let doc = get_document(&client(), &format!("{base}/here"), Some(&pin))
            .await
            .unwrap();
        assert_eq!(doc.body, b"{}");
        assert_eq!(doc.max_age, Some(15));
        let e = get_document(&client(), &format!("{base}/loop"), None)
            .await
            .unwrap_err();
        assert!(e.contains("more than 3 redirects"), "{e}");
        assert_eq!(server.hits("/loop"), 4, "the first request and 3 redirects");
    }

    #[tokio::test]
    async fn a_pinned_origin_refuses_redirects_elsewhere() {
        let (server, other) = (TestServer::start().await, TestServer::start().await);
        other.answer("/doc", Answer::Doc("{}".into()));
        server.answer("/away", Answer::Redirect(format!("{}/doc", other.base)));
        let base = &server.base;
        let pin = Url::parse(base).unwrap();
        let e = get_document(&client(), &format!("{base}/away"), Some(&pin))
            .await
            .unwrap_err();
        assert!(
            e.contains("to another origin") && e.contains(&other.base),
            "{e}"
        );
        assert_eq!(other.hits("/doc"), 0, "never asked");
        // Unpinned (a JWKS URL), the same redirect is followed.
        let doc = get_document(&client(), &format!("{base}/away"), None)
            .await
            .unwrap();
        assert_eq!(doc.body, b"{}");
        server.answer("/gone", Answer::Status(503));
        let e = get_document(&client(), &format!("{base}/gone"), None)
            .await
            .unwrap_err();
        assert_eq!(e, "HTTP 503 Service Unavailable");
    }

    #[test]
    fn https_never_redirects_to_http() {
        for (from, to, ok) in [
            ("https://a.example/x", "http://a.example/y", false),
            ("https://a.example/x", "https://b.example/y", true),
            ("http://a.example/x", "https://a.example/y", true),
            ("http://a.example/x", "http://b.example/y", true),
            ("http://a.example/x", "file:///etc/passwd", false),
        ] {
            let (from_url, to_url) = (Url::parse(from).unwrap(), Url::parse(to).unwrap());
            assert_eq!(allowed_hop(&from_url, &to_url), ok, "{from} → {to}");
        }
    }

    #[test]
    fn max_age_parsing() {
        assert_eq!(parse_max_age("public, max-age=300"), Some(300));
        assert_eq!(parse_max_age("MAX-AGE=\"5\""), Some(5));
        assert_eq!(parse_max_age("no-store"), None);
        assert_eq!(parse_max_age("max-age=x"), None);
    }
}
