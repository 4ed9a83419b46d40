//! The edge decision for one request: which rule applies, is a token needed, is it
//! valid, does its subject own the resource. Pure logic over method, canonical path
//! and headers, so it is tested without a server.

use http::header::{AUTHORIZATION, COOKIE, ORIGIN};
use http::{HeaderMap, Method};
use std::net::IpAddr;
use std::sync::Arc;

use crate::auth::cookie::find_session_data;
use crate::auth::{bearer_token, Identity, Purpose, TokenError, Verifier};
use crate::forwarding::Scheme;
use crate::policy::{AuthMode, RouteMatch, RouteTable};
use crate::rate_limit::{Caller, RateLimitFields, RateLimits};
use crate::reject::Rejection;
use crate::revocation::{Refused, Revocations};
use crate::trace::{Step, Tracer};

/// What the gate looks at in a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GateRequest<'a> {
    /// The method.
    pub(crate) method: &'a Method,
    /// The canonical path (what the rules match).
    pub(crate) path: &'a str,
    /// The request's headers.
    pub(crate) headers: &'a HeaderMap,
    /// The scheme the client used (for the CSRF origin check).
    pub(crate) scheme: Scheme,
    /// The client's address, after trusted proxies (for rate limits by address).
    pub(crate) client_ip: Option<IpAddr>,
}

/// What the gate decided, and under which rule.
#[derive(Debug)]
pub(crate) struct Verdict {
    /// The rule that applied (for the access log, refusals included).
    pub(crate) rule: Rule,
    /// The verified caller (`None` for anonymous access: public, optional,
    /// preflight), or the refusal.
    pub(crate) outcome: Result<Option<Arc<Identity>>, Box<Rejection>>,
    /// The rate-limit fields for the response, when the route is rate-limited.
    pub(crate) rate_limit: Option<RateLimitFields>,
    /// Where the request goes when it passes: an index into the configured
    /// upstreams (0 is `[upstream]`), picked by the matched route.
    pub(crate) upstream: usize,
}

/// Which rule let a request through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rule {
    /// No rule matched (a token is required).
    Default,
    /// A CORS preflight let through by `auth.cors_preflight`.
    CorsPreflight,
    /// The configured rule with this path pattern.
    Route(Arc<str>),
}

impl Rule {
    /// The label in access logs.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Default => "<default>",
            Self::CorsPreflight => "<cors-preflight>",
            Self::Route(pattern) => pattern,
        }
    }
}

/// Route rules plus the verifier.
#[derive(Debug)]
pub(crate) struct Gate {
    /// The route rules, in order.
    pub(crate) routes: RouteTable,
    /// Verifies tokens against the key sources.
    pub(crate) verifier: Verifier,
    /// Let CORS preflights through without a token (`auth.cors_preflight`).
    pub(crate) cors_preflight: bool,
    /// Better Auth cookie prefix when its `session_data` cookie is a credential.
    pub(crate) session_cookie: Option<String>,
    /// Origins besides the request's own that may send cookie-authenticated
    /// unsafe requests.
    pub(crate) allowed_origins: Vec<String>,
    /// The rate-limit policies routes apply.
    pub(crate) rate_limits: RateLimits,
    /// The revocations in force, when revocation is on.
    pub(crate) revocations: Option<Arc<Revocations>>,
}

/// A CORS preflight: OPTIONS with `Origin` and `Access-Control-Request-Method`, and
/// no body (a preflight never has one; one with a body is an ordinary request).
fn is_cors_preflight(method: &Method, headers: &HeaderMap) -> bool {
    let has_body = headers.contains_key(http::header::TRANSFER_ENCODING)
        || headers
            .get(http::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    method == Method::OPTIONS
        && headers.contains_key(ORIGIN)
        && headers.contains_key("access-control-request-method")
        && !has_body
}

/// Methods that do not change state (RFC 9110 §9.2.1): no CSRF check.
fn is_safe_method(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a cookie-authenticated request comes from where it may (CSRF defence):
/// `Sec-Fetch-Site: same-origin`, or an `Origin` that is this site (the request's
/// scheme and host) or allowed. Without either header the request is refused:
/// browsers send `Origin` on every cross-site unsafe request, so a client that
/// sends neither is not a browser page and should use a bearer token.
fn same_origin_or_allowed(headers: &HeaderMap, allowed: &[String], scheme: Scheme) -> bool {
    let fetch_site = headers.get("sec-fetch-site").map(|v| v.as_bytes());
    if fetch_site == Some(b"same-origin".as_slice()) {
        return true;
    }
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let origin = origin.to_ascii_lowercase();
    if allowed.contains(&origin) {
        return true;
    }
    // Same origin: the Origin's scheme is the request's and its authority the Host
    // the request was sent to (`http://app` is another origin than `https://app`).
    let authority = origin
        .strip_prefix(scheme.as_str())
        .and_then(|o| o.strip_prefix("://"));
    let host = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    matches!((authority, host), (Some(a), Some(h)) if a == h)
}

impl Gate {
    /// Whether tokens can be verified now (readiness).
    pub(crate) fn is_ready(&self) -> bool {
        self.verifier.is_ready()
    }

    /// The verifier (for its key sources and counters).
    pub(crate) fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// A CORS preflight let through by `auth.cors_preflight`.
    fn preflight<T: Tracer>(&self, req: &GateRequest<'_>, trace: &mut T) -> Verdict {
        trace.step(|| Step::Rule {
            index: None,
            pattern: Rule::CorsPreflight.as_str().into(),
            auth: "public",
        });
        // The preflight goes where the request it announces would go.
        let announced = req
            .headers
            .get("access-control-request-method")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("OPTIONS");
        let upstream = self.routes.lookup(announced, req.path).upstream();
        Verdict {
            rule: Rule::CorsPreflight,
            outcome: Ok(None),
            rate_limit: None,
            upstream,
        }
    }

    /// Decides whether the request may pass, recording each step in `trace`.
    pub(crate) async fn admit<T: Tracer>(&self, req: &GateRequest<'_>, trace: &mut T) -> Verdict {
        if self.cors_preflight && is_cors_preflight(req.method, req.headers) {
            return self.preflight(req, trace);
        }
        let matched = self.routes.lookup(req.method.as_str(), req.path);
        let upstream = matched.upstream();
        let rule = matched.pattern_text().map_or(Rule::Default, Rule::Route);
        trace.step(|| Step::Rule {
            index: matched.index,
            pattern: rule.as_str().into(),
            auth: matched.auth().as_str(),
        });
        let outcome = self.decide(req, &matched, &rule, trace).await;
        let Ok(identity) = outcome else {
            return Verdict {
                rule,
                outcome,
                rate_limit: None,
                upstream,
            };
        };
        // Then the route's rate limits, for the caller now known.
        let policies = matched.rate_limits();
        if !policies.is_empty() {
            trace.step(|| Step::RateLimits {
                policies: policies.to_vec(),
            });
        }
        let caller = Caller {
            identity: identity.as_deref(),
            client_ip: req.client_ip,
            headers: req.headers,
        };
        match self.rate_limits.check(policies, &caller).await {
            Ok(fields) => Verdict {
                rule,
                outcome: Ok(identity),
                rate_limit: fields,
                upstream,
            },
            Err(refusal) => {
                let mut rejection = Rejection::rate_limit(refusal);
                rejection.subject = identity.as_ref().map(|i| i.subject.clone());
                Verdict {
                    rule,
                    outcome: Err(Box::new(rejection)),
                    rate_limit: None,
                    upstream,
                }
            }
        }
    }

    async fn decide<T: Tracer>(
        &self,
        req: &GateRequest<'_>,
        matched: &RouteMatch<'_, '_>,
        rule: &Rule,
        trace: &mut T,
    ) -> Result<Option<Arc<Identity>>, Box<Rejection>> {
        let mode = matched.auth();
        if mode == AuthMode::Public {
            return Ok(None);
        }
        let headers = req.headers;
        let bearer = bearer_token(headers.get_all(AUTHORIZATION).iter())
            .map_err(|e| Box::new(Rejection::bad_authorization(e)))?;
        let cookie;
        let (token, purpose) = match (bearer, &self.session_cookie) {
            (Some(t), _) => (t, Purpose::Bearer),
            (None, Some(prefix)) => match find_session_data(headers.get_all(COOKIE).iter(), prefix)
            {
                Some(c) => {
                    cookie = c;
                    (cookie.as_str(), Purpose::SessionCookie)
                }
                None => return Self::anonymous(mode, trace),
            },
            (None, None) => return Self::anonymous(mode, trace),
        };
        trace.step(|| Step::Credential {
            found: match purpose {
                Purpose::Bearer => "bearer",
                Purpose::SessionCookie => "session_cookie",
            },
        });
        let identity = self.verify(token, purpose, trace).await?;
        if purpose == Purpose::SessionCookie && !is_safe_method(req.method) {
            let allowed = same_origin_or_allowed(headers, &self.allowed_origins, req.scheme);
            trace.step(|| Step::Csrf { allowed });
            if !allowed {
                return Err(Box::new(Rejection::cross_site()));
            }
        }
        if let Some(unmet) = matched.first_unmet(&identity, trace) {
            return Err(Box::new(Rejection::requirement_unmet(
                unmet,
                rule.as_str(),
                &identity.subject,
            )));
        }
        Ok(Some(identity))
    }

    /// A verified identity whose token has not been revoked.
    async fn verify<T: Tracer>(
        &self,
        token: &str,
        purpose: Purpose,
        trace: &mut T,
    ) -> Result<Arc<Identity>, Box<Rejection>> {
        let identity = self
            .verifier
            .verify(token, purpose, trace)
            .await
            .map_err(|e| {
                Box::new(match e {
                    TokenError::KeysUnavailable => Rejection::keys_unavailable(),
                    e => Rejection::invalid_token(e),
                })
            })?;
        if let Some(revocations) = &self.revocations {
            let checked = revocations.check(&identity);
            trace.step(|| Step::Claim {
                claim: "revocation",
                result: match checked {
                    Ok(()) => "ok",
                    Err(Refused::Revoked) => "revoked",
                    Err(Refused::MissingIat) => "missing_iat",
                },
            });
            checked.map_err(|refused| {
                Box::new(match refused {
                    Refused::Revoked => Rejection::revoked(&identity.subject),
                    Refused::MissingIat => Rejection::invalid_token(TokenError::MissingClaim),
                })
            })?;
        }
        Ok(identity)
    }

    /// No credential was presented.
    fn anonymous<T: Tracer>(
        mode: AuthMode,
        trace: &mut T,
    ) -> Result<Option<Arc<Identity>>, Box<Rejection>> {
        trace.step(|| Step::Credential { found: "none" });
        match mode {
            AuthMode::Optional => Ok(None),
            _ => Err(Box::new(Rejection::missing_token())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{AuthMetrics, ClaimRules, KeySet, KeySource, VerifierOptions, VerifyingKey};
    use crate::policy::{Pattern, Route};
    use crate::requirements::Requirement;
    use crate::secret::Secret;
    use crate::trace::NoTrace;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;
    use std::sync::Arc;
    use std::time::Duration;

    const SECRET: &str = "test-secret-test-secret-test-secret!";

    /// A request let through: what the old API returned, for these tests.
    #[derive(Debug)]
    struct Admission {
        identity: Option<Arc<Identity>>,
        #[allow(dead_code)]
        rule: Rule,
        rate_limit: Option<RateLimitFields>,
    }

    impl Gate {
        async fn admit_http(
            &self,
            method: &Method,
            path: &str,
            headers: &HeaderMap,
        ) -> Result<Admission, Box<Rejection>> {
            let request = GateRequest {
                method,
                path,
                headers,
                scheme: Scheme::Http,
                client_ip: None,
            };
            let verdict = self.admit(&request, &mut NoTrace).await;
            verdict.outcome.map(|identity| Admission {
                identity,
                rule: verdict.rule,
                rate_limit: verdict.rate_limit,
            })
        }
    }

    fn gate(cors: bool) -> Gate {
        let rules = Arc::new(ClaimRules {
            leeway: Duration::from_secs(0),
            ..ClaimRules::default()
        });
        let key = VerifyingKey::hs256(&Secret::new(SECRET), rules, "test".into());
        let verifier = Verifier::new(
            vec![KeySource::Static(Arc::new(KeySet::new(vec![Arc::new(
                key,
            )])))],
            VerifierOptions {
                max_token_bytes: 4096,
                kept_claims: Default::default(),
                cache_entries: 0,
            },
            Arc::new(AuthMetrics::default()),
        );
        let route = |p: &str, auth, owner: Option<&str>| Route {
            pattern: Pattern::parse(p).unwrap(),
            methods: vec![],
            auth,
            requirements: owner
                .map(|param| Requirement::Owner {
                    param: param.to_string(),
                })
                .into_iter()
                .collect(),
            rate_limit: Vec::new(),
            upstream: 0,
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
        Gate {
            routes,
            verifier,
            cors_preflight: cors,
            session_cookie: Some("better-auth".into()),
            allowed_origins: Vec::new(),
            rate_limits: RateLimits::default(),
            revocations: None,
        }
    }

    fn token(sub: &str) -> String {
        let now = jsonwebtoken::get_current_timestamp();
        encode(
            &Header::default(),
            &json!({"sub": sub, "iat": now, "exp": now + 600}),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    /// Better Auth's `session_data` cookie (strategy `jwt`) for `user`.
    fn session_cookie(user: &str) -> String {
        encode(
            &Header::default(),
            &json!({"session": {"userId": user}, "user": {"id": user}, "exp": jsonwebtoken::get_current_timestamp() + 60}),
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

    #[tokio::test]
    async fn owner_rule_allows_owner_and_forbids_others() {
        let g = gate(false);
        let ok = g
            .admit_http(&Method::GET, "/api/alice/tasks", &bearer("alice"))
            .await
            .unwrap();
        assert_eq!(ok.identity.unwrap().subject, "alice");
        let err = g
            .admit_http(&Method::GET, "/api/alice/tasks/1", &bearer("bob"))
            .await
            .unwrap_err();
        assert_eq!(err.status, 403);
    }

    #[tokio::test]
    async fn missing_and_invalid_tokens() {
        let g = gate(false);
        let err = g
            .admit_http(&Method::GET, "/api/alice/tasks", &HeaderMap::new())
            .await
            .unwrap_err();
        assert_eq!((err.status, err.reason), (401, "missing_token"));
        let h = headers(&[("authorization", "Bearer not.a.jwt")]);
        assert_eq!(
            g.admit_http(&Method::GET, "/x", &h)
                .await
                .unwrap_err()
                .status,
            401
        );
        let two = headers(&[
            ("authorization", &format!("Bearer {}", token("a"))),
            ("authorization", &format!("Bearer {}", token("a"))),
        ]);
        assert_eq!(
            g.admit_http(&Method::GET, "/x", &two)
                .await
                .unwrap_err()
                .status,
            400
        );
    }

    #[tokio::test]
    async fn public_optional_and_unmatched() {
        let g = gate(false);
        assert!(g
            .admit_http(&Method::GET, "/openapi.json", &HeaderMap::new())
            .await
            .unwrap()
            .identity
            .is_none());
        assert!(g
            .admit_http(&Method::GET, "/feed/x", &HeaderMap::new())
            .await
            .unwrap()
            .identity
            .is_none());
        let bad = headers(&[("authorization", "Bearer a.b.c")]);
        assert_eq!(
            g.admit_http(&Method::GET, "/feed/x", &bad)
                .await
                .unwrap_err()
                .status,
            401
        );
        assert_eq!(
            g.admit_http(&Method::GET, "/feed/x", &bearer("u"))
                .await
                .unwrap()
                .identity
                .unwrap()
                .subject,
            "u"
        );
        assert_eq!(
            g.admit_http(&Method::GET, "/unlisted", &HeaderMap::new())
                .await
                .unwrap_err()
                .status,
            401
        );
    }

    #[tokio::test]
    async fn session_cookie_is_a_credential_only_without_bearer() {
        let g = gate(false);
        let cookie = session_cookie("alice");
        let h = headers(&[(
            "cookie",
            &format!("theme=dark; better-auth.session_data={cookie}"),
        )]);
        let ok = g
            .admit_http(&Method::GET, "/api/alice/tasks", &h)
            .await
            .unwrap();
        assert_eq!(ok.identity.unwrap().subject, "alice");
        let h = headers(&[("cookie", "better-auth.session_data=bad.cookie.value")]);
        assert_eq!(
            g.admit_http(&Method::GET, "/api/alice/tasks", &h)
                .await
                .unwrap_err()
                .status,
            401
        );
    }

    #[tokio::test]
    async fn the_verdict_carries_the_upstream_of_the_matched_route() {
        let mut g = gate(true);
        let api = |p: &str, methods: Vec<String>| Route {
            pattern: Pattern::parse(p).unwrap(),
            methods,
            auth: AuthMode::Public,
            requirements: vec![],
            rate_limit: vec![],
            upstream: 2,
        };
        g.routes = RouteTable::new(vec![
            api("/api/**", vec!["POST".into()]),
            Route {
                upstream: 1,
                ..api("/**", vec![])
            },
        ]);
        let upstream = |method: &'static str, path: &'static str, h: HeaderMap| {
            let g = &g;
            async move {
                let method = Method::from_bytes(method.as_bytes()).unwrap();
                let request = GateRequest {
                    method: &method,
                    path,
                    headers: &h,
                    scheme: Scheme::Http,
                    client_ip: None,
                };
                g.admit(&request, &mut NoTrace).await.upstream
            }
        };
        assert_eq!(upstream("POST", "/api/x", HeaderMap::new()).await, 2);
        assert_eq!(upstream("GET", "/api/x", HeaderMap::new()).await, 1);
        // A preflight goes where the request it announces would.
        let preflight = |m| {
            headers(&[
                ("origin", "https://app.example"),
                ("access-control-request-method", m),
            ])
        };
        assert_eq!(upstream("OPTIONS", "/api/x", preflight("POST")).await, 2);
        assert_eq!(upstream("OPTIONS", "/api/x", preflight("GET")).await, 1);
    }

    #[tokio::test]
    async fn cors_preflight_bypass_only_when_enabled_and_complete() {
        let pre = headers(&[
            ("origin", "https://app"),
            ("access-control-request-method", "GET"),
        ]);
        assert!(gate(true)
            .admit_http(&Method::OPTIONS, "/api/alice/tasks", &pre)
            .await
            .is_ok());
        assert_eq!(
            gate(false)
                .admit_http(&Method::OPTIONS, "/api/alice/tasks", &pre)
                .await
                .unwrap_err()
                .status,
            401
        );
        let half = headers(&[("origin", "https://app")]);
        assert_eq!(
            gate(true)
                .admit_http(&Method::OPTIONS, "/api/alice/tasks", &half)
                .await
                .unwrap_err()
                .status,
            401
        );
    }

    #[tokio::test]
    async fn a_cookie_from_another_scheme_is_cross_site() {
        let g = gate(false);
        let cookie = session_cookie("alice");
        let cookie = format!("better-auth.session_data={cookie}");
        let from = |origin: &str| {
            headers(&[
                ("cookie", &cookie),
                ("origin", origin),
                ("host", "app.example"),
            ])
        };
        async fn post(g: &Gate, h: HeaderMap, scheme: Scheme) -> Result<(), &'static str> {
            let request = GateRequest {
                method: &Method::POST,
                path: "/api/alice/tasks",
                headers: &h,
                scheme,
                client_ip: None,
            };
            g.admit(&request, &mut NoTrace)
                .await
                .outcome
                .map_err(|r| r.reason)
                .map(|_| ())
        }
        assert_eq!(
            post(&g, from("https://app.example"), Scheme::Https).await,
            Ok(())
        );
        assert_eq!(
            post(&g, from("http://app.example"), Scheme::Http).await,
            Ok(())
        );
        assert_eq!(
            post(&g, from("http://app.example"), Scheme::Https).await,
            Err("csrf")
        );
        assert_eq!(
            post(&g, from("https://app.example"), Scheme::Http).await,
            Err("csrf")
        );
        assert_eq!(
            post(&g, from("https://evil.example"), Scheme::Https).await,
            Err("csrf")
        );
    }

    fn limited_gate(burst: u64) -> Gate {
        use crate::rate_limit::{Fallback, LimitKey, PolicySettings};
        let mut g = gate(false);
        g.routes = RouteTable::new(vec![Route {
            pattern: Pattern::parse("/limited/**").unwrap(),
            methods: vec![],
            auth: AuthMode::Optional,
            requirements: vec![],
            rate_limit: vec!["per-user".into()],
            upstream: 0,
        }]);
        let policy = PolicySettings {
            name: "per-user".into(),
            key: LimitKey::Subject,
            rate: 1,
            per_secs: 60,
            burst,
            on_redis_error: Fallback::Local,
        };
        g.rate_limits = RateLimits::build(&[policy], None, "authgate:", None);
        g
    }

    #[tokio::test]
    async fn a_limited_route_counts_each_subject_and_answers_429_with_the_fields() {
        let g = limited_gate(2);
        let ip: Option<std::net::IpAddr> = Some("10.0.0.1".parse().unwrap());
        let alice = bearer("alice");
        async fn get(
            g: &Gate,
            h: &HeaderMap,
            ip: Option<std::net::IpAddr>,
        ) -> Result<Admission, Box<Rejection>> {
            let request = GateRequest {
                method: &Method::GET,
                path: "/limited/x",
                headers: h,
                scheme: Scheme::Http,
                client_ip: ip,
            };
            let verdict = g.admit(&request, &mut NoTrace).await;
            verdict.outcome.map(|identity| Admission {
                identity,
                rule: verdict.rule,
                rate_limit: verdict.rate_limit,
            })
        }
        let first = get(&g, &alice, ip).await.unwrap();
        let fields = first.rate_limit.unwrap();
        assert_eq!(fields.policy, "\"per-user\";q=1;w=60");
        assert_eq!(fields.limit, "\"per-user\";r=1;t=60");
        assert!(get(&g, &alice, ip).await.is_ok());
        let refused = get(&g, &alice, ip).await.unwrap_err();
        assert_eq!((refused.status, refused.reason), (429, "rate_limited"));
        assert_eq!(refused.subject.as_deref(), Some("alice"));
        let answer = refused.answer("authgate");
        let header = |name: &str| {
            answer
                .headers
                .iter()
                .find(|(n, _)| n.as_str() == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("retry-after"), Some("60"));
        assert_eq!(header("ratelimit-policy"), Some("\"per-user\";q=1;w=60"));
        assert_eq!(header("ratelimit"), Some("\"per-user\";r=0;t=60"));
        assert!(
            get(&g, &bearer("bob"), ip).await.is_ok(),
            "bob has his own bucket"
        );
        // Anonymous callers count by address.
        let anonymous = HeaderMap::new();
        assert!(get(&g, &anonymous, ip).await.is_ok());
        assert!(get(&g, &anonymous, ip).await.is_ok());
        assert_eq!(get(&g, &anonymous, ip).await.unwrap_err().status, 429);
        // Unlimited routes carry no fields.
        let request = GateRequest {
            method: &Method::GET,
            path: "/elsewhere",
            headers: &alice,
            scheme: Scheme::Http,
            client_ip: ip,
        };
        let other = g.admit(&request, &mut NoTrace).await;
        assert!(other.outcome.is_ok());
        assert_eq!(other.rate_limit, None);
    }

    #[tokio::test]
    async fn a_revoked_subject_or_token_id_is_401_revoked() {
        use crate::redis::{RedisClient, RedisUrl};
        use crate::revocation::{Entry, Kind, RevocationSettings, Revocations};
        let mut g = gate(false);
        let url = RedisUrl::parse("redis://127.0.0.1:1").unwrap();
        let client = Arc::new(RedisClient::new(&url, Duration::from_millis(10)).unwrap());
        let settings = RevocationSettings {
            retention: 900,
            resync: Duration::from_secs(5),
            require_iat: false,
        };
        let revocations = Arc::new(Revocations::new(settings, client, "authgate:"));
        let alice = bearer("alice");
        g.revocations = Some(revocations.clone());
        let get = |h: HeaderMap| {
            let g = &g;
            async move { g.admit_http(&Method::GET, "/api/alice/tasks", &h).await }
        };
        assert!(get(alice.clone()).await.is_ok());
        let now = jsonwebtoken::get_current_timestamp();
        revocations.insert_locally(&Entry {
            kind: Kind::Subject,
            id: "alice".into(),
            at: now + 1,
        });
        let refused = get(alice).await.unwrap_err();
        assert_eq!((refused.status, refused.reason), (401, "revoked"));
        assert_eq!(
            refused.www_authenticate("x").unwrap(),
            "Bearer realm=\"x\", error=\"invalid_token\", error_description=\"token revoked\""
        );
        let bob = g
            .admit_http(&Method::GET, "/api/bob/tasks", &bearer("bob"))
            .await;
        assert!(bob.is_ok(), "another subject is not affected");
    }
}
