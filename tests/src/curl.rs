//! curl as a real HTTP/1.1 and HTTP/2 client (TLS, ALPN, h2c prior knowledge).

use std::process::Command;

use crate::raw::RawResponse;

/// What curl got: the response (status 0 when none came; headers of the last
/// response, names lower-cased) and how.
#[derive(Debug, Clone)]
pub struct CurlResponse {
    /// curl's exit code (0: a response came; 35: TLS handshake failed …).
    pub exit: i32,
    /// The HTTP version used: `1.1`, `2`.
    pub version: String,
    /// What curl said on stderr.
    pub stderr: String,
    /// The response.
    pub http: RawResponse,
}

impl std::ops::Deref for CurlResponse {
    type Target = RawResponse;

    fn deref(&self) -> &RawResponse {
        &self.http
    }
}

/// Runs `curl -sS <args> URL…` (10 s at most) and collects the response.
pub fn curl(args: &[&str]) -> CurlResponse {
    let dir = tempfile::tempdir().expect("temp dir");
    let (body, head) = (dir.path().join("body"), dir.path().join("head"));
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-o"])
        .arg(&body)
        .arg("-D")
        .arg(&head)
        .args(["-w", "%{http_code} %{http_version}"])
        .args(args)
        .output()
        .expect("run curl");
    let written = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut parts = written.split(' ');
    let status = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let version = parts.next().unwrap_or("").to_string();
    let head = std::fs::read_to_string(&head).unwrap_or_default();
    // The last response's headers (a 100 Continue may come first).
    let last = head
        .rsplit("\r\n\r\n")
        .find(|b| !b.trim().is_empty())
        .unwrap_or("");
    let headers = last
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    CurlResponse {
        exit: out.status.code().unwrap_or(-1),
        version,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        http: RawResponse {
            status,
            headers,
            body: std::fs::read_to_string(&body).unwrap_or_default(),
        },
    }
}
