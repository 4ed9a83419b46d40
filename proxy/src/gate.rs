//! The edge decision for one request: which rule applies, is a token needed, is it
//! valid, does its subject own the resource. Pure logic over method, canonical path
//! and headers, so it is tested without a server.

use http::header::{AUTHORIZATION, ORIGIN};
use http::{HeaderMap, Method};

use crate::auth::{bearer_token, Identity, Verifier};
use crate::policy::{AuthMode, RouteTable};
use crate::reject::Rejection;

/// A request let through, with its verified identity when one was required or offered.
#[derive(Debug)]
pub struct Admission<'r> {
    /// The verified caller; `None` for anonymous access (public, optional, preflight).
    pub identity: Option<Identity>,
    /// The rule that applied, for the access log.
    pub rule: &'r str,
}

/// Route rules plus the verifier.
#[derive(Debug)]
pub struct Gate {
    routes: RouteTable,
    verifier: Verifier,
    cors_preflight: bool,
}

fn is_cors_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS
        && headers.contains_key(ORIGIN)
        && headers.contains_key("access-control-request-method")
}

impl Gate {
    /// A gate over `routes` using `verifier`.
    pub fn new(routes: RouteTable, verifier: Verifier, cors_preflight: bool) -> Self {
        Self {
            routes,
            verifier,
            cors_preflight,
        }
    }

    /// Whether tokens can be verified now (readiness).
    pub fn is_ready(&self) -> bool {
        self.verifier.is_ready()
    }

    /// Decides whether the request may pass. `path` must be canonical.
    pub fn admit(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<Admission<'_>, Box<Rejection>> {
        if self.cors_preflight && is_cors_preflight(method, headers) {
            return Ok(Admission {
                identity: None,
                rule: "<cors-preflight>",
            });
        }
        let matched = self.routes.lookup(method.as_str(), path);
        let rule = matched.label();
        let mode = matched.auth();
        if mode == AuthMode::Public {
            return Ok(Admission {
                identity: None,
                rule,
            });
        }
        let token = bearer_token(headers.get_all(AUTHORIZATION).iter())
            .map_err(|e| Box::new(Rejection::bad_authorization(e)))?;
        let Some(token) = token else {
            return match mode {
                AuthMode::Optional => Ok(Admission {
                    identity: None,
                    rule,
                }),
                _ => Err(Box::new(Rejection::missing_token())),
            };
        };
        let identity = self
            .verifier
            .verify(token)
            .map_err(|e| Box::new(Rejection::invalid_token(e)))?;
        if !matched.owner_matches_subject(&identity.subject) {
            return Err(Box::new(Rejection::owner_mismatch(
                matched.owner_param().unwrap_or("owner"),
                &identity.subject,
            )));
        }
        Ok(Admission {
            identity: Some(identity),
            rule,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{ClaimRules, KeySet, VerifierOptions, VerifyingKey};
    use crate::policy::{Pattern, Route};
    use crate::secret::Secret;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;
    use std::sync::Arc;
    use std::time::Duration;

    const SECRET: &str = "test-secret-test-secret-test-secret!";

    fn gate(cors: bool) -> Gate {
        let rules = ClaimRules {
            leeway: Duration::from_secs(0),
            ..ClaimRules::default()
        };
        let key = VerifyingKey::hs256(&Secret::new(SECRET), &rules, "test".into());
        let verifier = Verifier::new(
            KeySet::new(vec![Arc::new(key)]),
            VerifierOptions {
                max_token_bytes: 4096,
                forward_claims: vec![],
            },
        );
        let route = |p: &str, auth, owner: Option<&str>| Route {
            pattern: Pattern::parse(p).unwrap(),
            methods: vec![],
            auth,
            owner: owner.map(str::to_string),
        };
        let routes = RouteTable::new(vec![
            route("/openapi.json", AuthMode::Public, None),
            route(
                "/api/{user_id}/tasks/**",
                AuthMode::Required,
                Some("user_id"),
            ),
            route("/feed/**", AuthMode::Optional, None),
        ]);
        Gate::new(routes, verifier, cors)
    }

    fn token(sub: &str) -> String {
        let exp = jsonwebtoken::get_current_timestamp() + 600;
        encode(
            &Header::default(),
            &json!({"sub": sub, "exp": exp}),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn bearer(sub: &str) -> HeaderMap {
        headers(&[("authorization", &format!("Bearer {}", token(sub)))])
    }

    #[test]
    fn owner_rule_allows_owner_and_forbids_others() {
        let g = gate(false);
        let ok = g
            .admit(&Method::GET, "/api/alice/tasks", &bearer("alice"))
            .unwrap();
        assert_eq!(ok.identity.unwrap().subject, "alice");
        let err = g
            .admit(&Method::GET, "/api/alice/tasks/1", &bearer("bob"))
            .unwrap_err();
        assert_eq!(err.status, 403);
    }

    #[test]
    fn missing_and_invalid_tokens() {
        let g = gate(false);
        let err = g
            .admit(&Method::GET, "/api/alice/tasks", &HeaderMap::new())
            .unwrap_err();
        assert_eq!((err.status, err.reason), (401, "missing_token"));
        let h = headers(&[("authorization", "Bearer not.a.jwt")]);
        assert_eq!(g.admit(&Method::GET, "/x", &h).unwrap_err().status, 401);
        let two = headers(&[
            ("authorization", &format!("Bearer {}", token("a"))),
            ("authorization", &format!("Bearer {}", token("a"))),
        ]);
        assert_eq!(g.admit(&Method::GET, "/x", &two).unwrap_err().status, 400);
    }

    #[test]
    fn public_optional_and_unmatched() {
        let g = gate(false);
        assert!(g
            .admit(&Method::GET, "/openapi.json", &HeaderMap::new())
            .unwrap()
            .identity
            .is_none());
        assert!(g
            .admit(&Method::GET, "/feed/x", &HeaderMap::new())
            .unwrap()
            .identity
            .is_none());
        let bad = headers(&[("authorization", "Bearer a.b.c")]);
        assert_eq!(
            g.admit(&Method::GET, "/feed/x", &bad).unwrap_err().status,
            401
        );
        assert_eq!(
            g.admit(&Method::GET, "/feed/x", &bearer("u"))
                .unwrap()
                .identity
                .unwrap()
                .subject,
            "u"
        );
        assert_eq!(
            g.admit(&Method::GET, "/unlisted", &HeaderMap::new())
                .unwrap_err()
                .status,
            401
        );
    }

    #[test]
    fn cors_preflight_bypass_only_when_enabled_and_complete() {
        let pre = headers(&[
            ("origin", "https://app"),
            ("access-control-request-method", "GET"),
        ]);
        assert!(gate(true)
            .admit(&Method::OPTIONS, "/api/alice/tasks", &pre)
            .is_ok());
        assert_eq!(
            gate(false)
                .admit(&Method::OPTIONS, "/api/alice/tasks", &pre)
                .unwrap_err()
                .status,
            401
        );
        let half = headers(&[("origin", "https://app")]);
        assert_eq!(
            gate(true)
                .admit(&Method::OPTIONS, "/api/alice/tasks", &half)
                .unwrap_err()
                .status,
            401
        );
    }
}
