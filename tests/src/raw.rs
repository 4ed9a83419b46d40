//! A raw HTTP/1.1 client: sends bytes exactly as written (no path normalisation, no
//! header clean-up), so tests can send what a well-behaved client never would.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A parsed response.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// Body as text.
    pub body: String,
}

impl RawResponse {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

/// Sends `request` verbatim and reads the response until the server closes or the
/// body (by Content-Length) is complete. `None` when the connection fails or closes
/// without a response.
pub fn send(addr: SocketAddr, request: &[u8]) -> Option<RawResponse> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    stream.write_all(request).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(resp) = parse(&buf) {
            return Some(resp);
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return parse_partial(&buf),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn split_head(buf: &[u8]) -> Option<(RawResponse, usize, Option<usize>)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok());
    Some((
        RawResponse {
            status,
            headers,
            body: String::new(),
        },
        end + 4,
        len,
    ))
}

fn parse(buf: &[u8]) -> Option<RawResponse> {
    let (mut resp, start, len) = split_head(buf)?;
    let len = len?;
    if buf.len() < start + len {
        return None;
    }
    resp.body = String::from_utf8_lossy(&buf[start..start + len]).into_owned();
    Some(resp)
}

fn parse_partial(buf: &[u8]) -> Option<RawResponse> {
    let (mut resp, start, _) = split_head(buf)?;
    resp.body = String::from_utf8_lossy(&buf[start..]).into_owned();
    Some(resp)
}

/// `GET path` with `Connection: close`; the status, or `None` if nothing answered.
pub fn blocking_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    send(addr, req.as_bytes()).map(|r| r.status)
}

/// Builds a GET request with extra header lines.
pub fn get(path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.into_bytes()
}
