//! Which bucket a request draws on: the value a policy's `key` names, hashed. A
//! hash keeps every bucket key the same small size in memory and in Redis (a header
//! value can be kilobytes), and keeps subjects, addresses and header values out of
//! Redis's key space.

use aws_lc_rs::digest;
use http::{HeaderMap, HeaderName};
use std::net::IpAddr;

use crate::auth::Identity;

/// The first 16 bytes of SHA-256 over what is counted.
pub(crate) type Partition = [u8; 16];

/// What a policy counts (`key` of `[[rate_limits]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LimitKey {
    /// The token's subject; anonymous requests count by client address.
    Subject,
    /// The client's address (after `server.trusted_proxies`); IPv6 by its /64.
    ClientIp,
    /// A top-level claim of the token; without it, the client address.
    Claim(String),
    /// A request header (all its values); without it, the client address.
    Header(HeaderName),
}

impl LimitKey {
    /// As written in the config.
    pub(crate) fn text(&self) -> String {
        match self {
            Self::Subject => "sub".into(),
            Self::ClientIp => "client_ip".into(),
            Self::Claim(name) => format!("claim:{name}"),
            Self::Header(name) => format!("header:{name}"),
        }
    }
}

/// What is known about the caller when the limits are checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller<'a> {
    /// The verified identity, if any.
    pub identity: Option<&'a Identity>,
    /// The client's address, after trusted proxies.
    pub client_ip: Option<IpAddr>,
    /// The request's headers.
    pub headers: &'a HeaderMap,
}

/// The bucket of `caller` under `key`. Each kind of value is hashed with its own
/// tag, so a subject named like an address is not that address.
pub(crate) fn partition(key: &LimitKey, caller: &Caller<'_>) -> Partition {
    let mut hash = digest::Context::new(&digest::SHA256);
    let counted = match key {
        LimitKey::Subject => caller.identity.map(|i| {
            hash.update(b"sub\0");
            hash.update(i.subject.as_bytes());
        }),
        LimitKey::ClientIp => None,
        LimitKey::Claim(name) => caller.identity.and_then(|i| i.claim(name)).map(|value| {
            hash.update(b"claim\0");
            match value {
                serde_json::Value::String(s) => hash.update(s.as_bytes()),
                other => hash.update(other.to_string().as_bytes()),
            }
        }),
        LimitKey::Header(name) => {
            let mut values = caller.headers.get_all(name).iter().peekable();
            values.peek().is_some().then(|| {
                hash.update(b"header\0");
                for value in values {
                    hash.update(value.as_bytes());
                    hash.update(b"\n");
                }
            })
        }
    };
    if counted.is_none() {
        hash.update(b"ip\0");
        match caller.client_ip.map(network) {
            Some(IpAddr::V4(v4)) => hash.update(&v4.octets()),
            Some(IpAddr::V6(v6)) => hash.update(&v6.octets()[..8]),
            None => hash.update(b"unknown"),
        }
    }
    let mut partition = [0; 16];
    partition.copy_from_slice(&hash.finish().as_ref()[..16]);
    partition
}

/// An IPv4 address seen through IPv6 (`::ffff:a.b.c.d`) is that IPv4 address.
fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn caller<'a>(identity: Option<&'a Identity>, ip: &str, headers: &'a HeaderMap) -> Caller<'a> {
        Caller {
            identity,
            client_ip: Some(ip.parse().unwrap()),
            headers,
        }
    }

    #[test]
    fn anonymous_requests_on_a_subject_policy_count_by_address() {
        let h = HeaderMap::new();
        let alice = Identity::for_test("alice", json!({"org": "acme", "n": 3}));
        let by_sub = |id, ip| partition(&LimitKey::Subject, &caller(id, ip, &h));
        assert_eq!(
            by_sub(Some(&alice), "10.0.0.1"),
            by_sub(Some(&alice), "10.0.0.2")
        );
        assert_eq!(
            by_sub(None, "10.0.0.1"),
            partition(&LimitKey::ClientIp, &caller(Some(&alice), "10.0.0.1", &h))
        );
        assert_ne!(by_sub(None, "10.0.0.1"), by_sub(None, "10.0.0.2"));
        // A subject that looks like an address is not that address.
        let ip_named = Identity::for_test("10.0.0.1", json!({}));
        assert_ne!(
            by_sub(Some(&ip_named), "10.0.0.9"),
            by_sub(None, "10.0.0.1")
        );
    }

    #[test]
    fn claims_and_headers_fall_back_to_the_address() {
        let mut h = HeaderMap::new();
        let alice = Identity::for_test("alice", json!({"org": "acme", "n": 3}));
        let org = LimitKey::Claim("org".into());
        let other = Identity::for_test("bob", json!({"org": "acme"}));
        assert_eq!(
            partition(&org, &caller(Some(&alice), "10.0.0.1", &h)),
            partition(&org, &caller(Some(&other), "10.0.0.2", &h)),
            "one bucket per organisation"
        );
        let missing = LimitKey::Claim("tier".into());
        assert_eq!(
            partition(&missing, &caller(Some(&alice), "10.0.0.1", &h)),
            partition(&LimitKey::ClientIp, &caller(None, "10.0.0.1", &h))
        );
        let api_key = LimitKey::Header(HeaderName::from_static("x-api-key"));
        let none = partition(&api_key, &caller(None, "10.0.0.1", &h));
        h.insert("x-api-key", "k1".parse().unwrap());
        let k1 = partition(&api_key, &caller(None, "10.0.0.1", &h));
        assert_ne!(none, k1);
        assert_eq!(k1, partition(&api_key, &caller(None, "10.0.0.2", &h)));
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        let h = HeaderMap::new();
        let ip = |a| partition(&LimitKey::ClientIp, &caller(None, a, &h));
        assert_eq!(ip("2001:db8:1:2::1"), ip("2001:db8:1:2:ffff::9"));
        assert_ne!(ip("2001:db8:1:2::1"), ip("2001:db8:1:3::1"));
        assert_eq!(ip("::ffff:10.0.0.1"), ip("10.0.0.1"));
    }
}
