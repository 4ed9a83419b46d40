//! `upstream-api probe URL`: a container health check without curl in the image. One
//! `GET` through reqwest, no proxy, no redirect followed; success only on 200.

use std::time::Duration;

use reqwest::StatusCode;

/// Why a probe failed; its `Display` is the one-line reason printed on stderr.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Not an `http://` URL (the probe speaks plain HTTP to a local port).
    #[error("only http:// URLs can be probed")]
    NotHttp,
    /// The exchange did not finish within the timeout.
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    /// Connecting or sending failed.
    #[error("{0}")]
    Request(String),
    /// An answer other than 200.
    #[error("status {0}")]
    Status(StatusCode),
    /// The probe's own runtime or client could not be set up.
    #[error("cannot start the probe: {0}")]
    Setup(String),
}

impl ProbeError {
    /// Whether the URL itself is wrong (a usage error) rather than the service unhealthy.
    pub fn is_usage(&self) -> bool {
        matches!(self, Self::NotHttp)
    }
}

/// GETs `url`, allowing `timeout` for the whole exchange; `Ok` only on 200.
pub fn probe(url: &str, timeout: Duration) -> Result<(), ProbeError> {
    if !url
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
    {
        return Err(ProbeError::NotHttp);
    }
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|err| ProbeError::Setup(err.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| ProbeError::Setup(err.to_string()))?;
    let status = runtime
        .block_on(async { client.get(url).send().await })
        .map_err(|err| {
            if err.is_timeout() {
                ProbeError::Timeout(timeout)
            } else {
                ProbeError::Request(one_line(&err))
            }
        })?
        .status();
    if status == StatusCode::OK {
        Ok(())
    } else {
        Err(ProbeError::Status(status))
    }
}

/// The error and its causes on one line (reqwest's own text is only the outermost).
fn one_line(err: &dyn std::error::Error) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_are_probed() {
        for url in ["https://127.0.0.1:1/", "ftp://x/", "127.0.0.1:1", ""] {
            let err = probe(url, Duration::from_millis(100)).expect_err(url);
            assert!(err.is_usage(), "{url}: {err}");
        }
    }

    #[test]
    fn a_closed_port_fails_with_a_one_line_reason() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("free port")
            .port();
        let err = probe(
            &format!("http://127.0.0.1:{port}/healthz"),
            Duration::from_secs(2),
        )
        .expect_err("nothing listens");
        assert!(!err.is_usage());
        let reason = err.to_string();
        assert!(!reason.is_empty() && !reason.contains('\n'), "{reason}");
    }

    #[test]
    fn a_silent_server_times_out() {
        // Accepts (the kernel does, from the backlog) and never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let err = probe(
            &format!("http://{addr}/healthz"),
            Duration::from_millis(200),
        )
        .expect_err("no answer");
        assert!(matches!(err, ProbeError::Timeout(_)), "{err}");
        assert_eq!(err.to_string(), "no answer within 200 ms");
        drop(listener);
    }
}
