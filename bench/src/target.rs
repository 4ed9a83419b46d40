//! Benchmark targets: loopback only, by construction.

use std::net::SocketAddr;

/// A parsed `http://IP:PORT/path` on a loopback address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopbackUrl {
    /// Where to connect.
    pub addr: SocketAddr,
    /// Path and query sent in the request line (at least `/`).
    pub path: String,
}

/// Parses `http://IP:PORT[/path]`, refusing anything that is not a loopback IP literal:
/// load from these tools must never leave the machine.
pub fn parse_loopback_url(url: &str) -> Result<LoopbackUrl, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr: SocketAddr = authority
        .parse()
        .map_err(|_| format!("{url}: the host must be an IP literal with a port"))?;
    if !addr.ip().is_loopback() {
        return Err(format!("{url}: refusing a non-loopback target"));
    }
    Ok(LoopbackUrl {
        addr,
        path: path.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_loopback_with_and_without_path() {
        let u = parse_loopback_url("http://127.0.0.1:8080/api/x?y=1").expect("valid");
        assert_eq!(u.addr, "127.0.0.1:8080".parse().expect("addr"));
        assert_eq!(u.path, "/api/x?y=1");
        let u = parse_loopback_url("http://[::1]:9").expect("valid");
        assert_eq!(u.path, "/");
    }

    #[test]
    fn refuses_other_hosts_and_schemes() {
        assert!(parse_loopback_url("http://10.0.0.1:80/").is_err());
        assert!(parse_loopback_url("http://example.com:80/").is_err());
        assert!(parse_loopback_url("https://127.0.0.1:443/").is_err());
        assert!(parse_loopback_url("http://127.0.0.1/").is_err());
    }
}
