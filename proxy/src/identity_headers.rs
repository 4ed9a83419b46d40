//! Identity headers: one list of what to strip from clients, one place that injects
//! the verified identity. Names are compared case-insensitively with `_` and `-`
//! treated alike, because many servers (CGI, WSGI, nginx) map both to the same variable.

use http::HeaderName;
use pingora::http::RequestHeader;

use crate::auth::Identity;
use crate::header_names::{normalise, remove_where, same_header};
use crate::header_text::claim_as_header;

/// Identity headers stripped whatever the configuration says: the ones other auth
/// proxies, gateways and servers set for their upstreams, so that an unmodified
/// upstream written for one of them cannot be told who the caller is by the caller.
/// Documented in the README ("Headers authgate always strips").
pub(crate) const ALWAYS_STRIPPED: &[&str] = &[
    // oauth2-proxy, Vouch, generic reverse-proxy conventions
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-preferred-username",
    "x-forwarded-groups",
    "x-forwarded-access-token",
    "x-vouch-user",
    "x-auth-user",
    "x-auth-email",
    "x-auth-subject",
    "x-user",
    "x-user-id",
    "x-userid",
    "x-username",
    "x-user-email",
    "x-email",
    "x-authenticated-user",
    "x-authenticated-userid",
    "x-authenticated-email",
    "x-authenticated-groups",
    // REMOTE_USER conventions (Apache, CGI/WSGI), Authelia, Authentik
    "remote-user",
    "remote-email",
    "remote-name",
    "remote-groups",
    "x-remote-user",
    "x-remote-email",
    "x-remote-name",
    "x-remote-group",
    "x-remote-groups",
    "x-remote-extra",
    // Grafana auth proxy
    "x-webauth-user",
    "x-webauth-email",
    "x-webauth-name",
    "x-webauth-role",
    "x-grafana-org-id",
    // Kong consumers
    "x-consumer-id",
    "x-consumer-custom-id",
    "x-consumer-username",
    "x-consumer-groups",
    "x-credential-identifier",
    "x-anonymous-consumer",
    // Cloud identity-aware proxies: Google IAP, AWS ALB, Cloudflare Access, Azure
    "x-goog-authenticated-user-email",
    "x-goog-authenticated-user-id",
    "x-goog-iap-jwt-assertion",
    "x-amzn-oidc-data",
    "x-amzn-oidc-identity",
    "x-amzn-oidc-accesstoken",
    "cf-access-authenticated-user-email",
    "cf-access-jwt-assertion",
    "x-ms-client-principal",
    "x-ms-token-aad-id-token",
    "x-ms-token-aad-access-token",
    // Pomerium, Istio/Envoy, Traefik forward auth
    "x-pomerium-jwt-assertion",
    "x-jwt-assertion",
    "x-jwt-payload",
    "x-forwarded-client-cert",
    "x-istio-attributes",
];

/// Prefixes of identity headers stripped whatever the configuration says.
pub(crate) const STRIPPED_PREFIXES: &[&str] = &[
    "x-auth-request-",
    "x-ms-client-principal",
    "x-pomerium-claim-",
    "x-vouch-idp-",
];

/// The configured header names (`[identity]`).
#[derive(Debug, Clone, Copy)]
pub struct HeaderNames<'a> {
    /// Carries `sub`.
    pub user_id: &'a str,
    /// Carries `email`.
    pub email: &'a str,
    /// Carries authgate's signed assertion.
    pub assertion: &'a str,
    /// `(claim, header)` for each forwarded claim (`[identity.claims]`).
    pub claims: &'a [(String, String)],
    /// Further client headers to strip.
    pub extra_strip: &'a [String],
}

/// The identity headers of this deployment.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    user_id: HeaderName,
    email: HeaderName,
    assertion: HeaderName,
    /// `(claim, header)`: the claims forwarded, by name.
    claims: Vec<(String, HeaderName)>,
    /// Every name to strip, normalised.
    strip: Vec<String>,
}

impl IdentityHeaders {
    /// Builds the header set; errors name the offending header.
    pub fn new(names: &HeaderNames<'_>) -> Result<Self, String> {
        let parse = |n: &str| {
            HeaderName::from_bytes(n.as_bytes())
                .map_err(|_| format!("`{n}` is not a valid header name"))
        };
        let user_id = parse(names.user_id)?;
        let email = parse(names.email)?;
        let assertion = parse(names.assertion)?;
        let claims = names
            .claims
            .iter()
            .map(|(claim, header)| Ok((claim.clone(), parse(header)?)))
            .collect::<Result<Vec<_>, String>>()?;
        let extra_strip = names.extra_strip;
        for h in extra_strip {
            parse(h)?;
        }
        let mut strip: Vec<String> = [&user_id, &email, &assertion]
            .into_iter()
            .chain(claims.iter().map(|(_, h)| h))
            .map(|h| normalise(h.as_str()))
            .chain(extra_strip.iter().map(|h| normalise(h)))
            .chain(ALWAYS_STRIPPED.iter().map(|h| (*h).to_string()))
            .collect();
        strip.sort();
        strip.dedup();
        Ok(Self {
            user_id,
            email,
            assertion,
            claims,
            strip,
        })
    }

    /// The name of the header that carries authgate's assertion.
    pub(crate) fn assertion_header(&self) -> &str {
        self.assertion.as_str()
    }

    /// Whether a client-sent header `name` claims identity and must be removed.
    pub fn is_identity_header(&self, name: &str) -> bool {
        self.strip.iter().any(|s| same_header(s, name))
            || STRIPPED_PREFIXES
                .iter()
                .any(|p| name.len() > p.len() && same_header(p, &name[..p.len()]))
    }

    /// Removes every client-sent identity header, in every spelling.
    pub fn strip_inbound(&self, req: &mut RequestHeader) {
        remove_where(req, |name| self.is_identity_header(name));
    }

    /// Sets the verified identity and the proxy's assertion. Call after [`Self::strip_inbound`].
    /// Values were checked header-safe when the token was verified.
    pub fn inject(
        &self,
        req: &mut RequestHeader,
        identity: &Identity,
        assertion: &str,
    ) -> pingora::Result<()> {
        req.insert_header(self.user_id.clone(), identity.subject.as_str())?;
        if let Some(email) = &identity.email {
            req.insert_header(self.email.clone(), email.as_str())?;
        }
        for (claim, header) in &self.claims {
            // Checked header-safe when the token was verified.
            if let Some(Ok(Some(text))) = identity.claim(claim).map(claim_as_header) {
                req.insert_header(header.clone(), text)?;
            }
        }
        req.insert_header(self.assertion.clone(), assertion)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers() -> IdentityHeaders {
        IdentityHeaders::new(&HeaderNames {
            user_id: "X-Auth-User-Id",
            email: "X-Auth-Email",
            assertion: "X-Auth-Assertion",
            claims: &[("name".to_string(), "X-Auth-Name".to_string())],
            extra_strip: &["X-Tenant".to_string()],
        })
        .unwrap()
    }

    #[test]
    fn every_spelling_is_an_identity_header() {
        let h = headers();
        for name in [
            "x-auth-user-id",
            "x_auth_user_id",
            "x-auth_user-id",
            "x-auth-email",
            "x-auth-assertion",
            "x_auth_assertion",
            "x-auth-name",
            "x-tenant",
            "x_tenant",
            "x-forwarded-user",
            "x_forwarded_email",
            "x-auth-request-user",
            "x_auth_request_email",
            "remote-user",
        ] {
            assert!(h.is_identity_header(name), "{name}");
        }
        for name in [
            "x-auth-use",
            "x-auth-user-idx",
            "authorization",
            "x-forwarded-host",
            "x-auth-request-",
        ] {
            assert!(!h.is_identity_header(name), "{name}");
        }
    }

    #[test]
    fn headers_that_unmodified_upstreams_trust_are_stripped_in_every_spelling() {
        let h = headers();
        for name in ALWAYS_STRIPPED {
            let upper = name.to_ascii_uppercase();
            let underscored = name.replace('-', "_");
            for spelling in [name.to_string(), upper, underscored] {
                assert!(h.is_identity_header(&spelling), "{spelling}");
            }
        }
        for name in [
            "Remote-User",
            "X-Remote-User",
            "X-User",
            "X-WEBAUTH-USER",
            "x_webauth_user",
            "X-Ms-Client-Principal-Name",
            "X-Pomerium-Claim-Email",
        ] {
            assert!(h.is_identity_header(name), "{name}");
        }
    }

    #[test]
    fn strip_then_inject_leaves_exactly_one_trusted_value() {
        let h = headers();
        let mut req = RequestHeader::build("GET", b"/api/alice/tasks", None).unwrap();
        req.append_header("X-Auth-User-Id", "mallory").unwrap();
        req.append_header("x_auth_user_id", "mallory").unwrap();
        req.append_header("X-AUTH-USER-ID", "mallory").unwrap();
        req.append_header("X-Auth-Request-Email", "m@evil").unwrap();
        req.append_header("X-Other", "kept").unwrap();
        h.strip_inbound(&mut req);
        let id = Identity {
            subject: "alice".into(),
            email: None,
            claims: vec![("name".into(), "Alice".into())],
            expires_at: 0,
            not_before: None,
            issued_at: None,
            token_id: None,
        };
        h.inject(&mut req, &id, "assertion").unwrap();
        let values: Vec<_> = req.headers.get_all("x-auth-user-id").iter().collect();
        assert_eq!(values, ["alice"]);
        assert!(req.headers.get("x_auth_user_id").is_none());
        assert!(req.headers.get("x-auth-request-email").is_none());
        assert!(req.headers.get("x-auth-email").is_none());
        assert_eq!(req.headers.get("x-auth-name").unwrap(), "Alice");
        assert_eq!(req.headers.get("x-other").unwrap(), "kept");
    }

    #[test]
    fn bad_names_are_config_errors() {
        let names = |user_id, claims| HeaderNames {
            user_id,
            email: "e",
            assertion: "a",
            claims,
            extra_strip: &[],
        };
        assert!(IdentityHeaders::new(&names("bad header", &[])).is_err());
        assert!(IdentityHeaders::new(&names("u", &[("c".into(), "x\n".into())])).is_err());
    }
}
