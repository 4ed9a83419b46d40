//! One HTTP GET for its status code, through reqwest: `authgate probe` (a health
//! check for images without curl) and the upstream health poll both use it.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::{UpstreamScheme, UpstreamSettings};

/// A client for probes: the whole exchange within `timeout`, no redirects followed,
/// no proxy taken from the environment (a probe of 127.0.0.1 must reach 127.0.0.1).
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("authgate-probe/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// A client for the health path of `upstream`, connecting to `addr` whatever the
/// host resolves to: TLS trusting `ca_file` only when one is given (else the
/// system's roots), no check under `tls_insecure`, HTTP/2 with prior knowledge to
/// an `h2c://` upstream.
pub(crate) fn upstream_client(
    upstream: &UpstreamSettings,
    addr: SocketAddr,
) -> Result<reqwest::Client, String> {
    let timeout = upstream.connect_timeout + Duration::from_secs(2);
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("authgate-probe/", env!("CARGO_PKG_VERSION")))
        .resolve(&upstream.host, addr);
    match upstream.scheme {
        UpstreamScheme::Https => {
            if let Some(ca) = &upstream.ca {
                let certs = ca
                    .iter()
                    .map(|der| reqwest::Certificate::from_der(der))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("the upstream's CA: {e}"))?;
                builder = builder.tls_certs_only(certs);
            }
            builder = builder.tls_danger_accept_invalid_certs(upstream.tls_insecure);
        }
        UpstreamScheme::H2c => builder = builder.http2_prior_knowledge(),
        UpstreamScheme::Http => builder = builder.http1_only(),
    }
    builder
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// The URL of `path` on `upstream` (`h2c://` is `http://` to the client).
pub(crate) fn upstream_url(upstream: &UpstreamSettings, path: &str) -> String {
    let scheme = match upstream.scheme {
        UpstreamScheme::Https => "https",
        UpstreamScheme::Http | UpstreamScheme::H2c => "http",
    };
    // `address` is `host:port` (IPv6 in brackets); `resolve` maps the host.
    format!("{scheme}://{}{path}", upstream.address)
}

/// GETs `url` and returns the status code.
pub(crate) async fn status(client: &reqwest::Client, url: &str) -> Result<u16, String> {
    let parsed = reqwest::Url::parse(url).map_err(|_| format!("`{url}` is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("only http:// and https:// URLs can be probed".into());
    }
    let response = client
        .get(parsed)
        .send()
        .await
        // reqwest's message repeats the URL, which may carry a password.
        .map_err(|e| e.without_url().to_string())?;
    Ok(response.status().as_u16())
}

/// [`status`] from synchronous code (the `probe` subcommand).
pub(crate) fn status_blocking(url: &str, timeout: Duration) -> Result<u16, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    runtime.block_on(async { status(&client(timeout)?, url).await })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls() {
        let e = status_blocking("ftp://127.0.0.1:1/", Duration::from_millis(100)).unwrap_err();
        assert!(e.contains("only http"), "{e}");
        assert!(status_blocking("not a url", Duration::from_millis(100)).is_err());
    }

    #[tokio::test]
    async fn the_status_of_a_live_server_and_an_error_for_a_closed_port() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                .await;
        });
        let c = client(Duration::from_secs(2)).unwrap();
        assert_eq!(status(&c, &format!("http://{addr}/readyz")).await, Ok(503));
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert!(status(&c, &format!("http://{closed}/")).await.is_err());
    }
}
