//! `authgate explain`: what authgate would do with one request, and why, offline.
//!
//! It builds the request head as a client would send it, then runs the proxy's own
//! code on it: the inbound checks (`inbound::examine`), the gate with a [`Trace`]
//! (every rule, key, claim and requirement it looked at), and for a request let
//! through, the outbound rewrite (`OutboundPolicy::prepare`). Nothing is decided
//! here. The token never appears in what it prints; the subject does.

use pingora::http::RequestHeader;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;

use crate::auth::Identity;
use crate::config::{ListenerSettings, Settings, UpstreamSettings};
use crate::forwarding::{client_ip, client_scheme, Scheme, TrustedProxies};
use crate::gate::{Gate, GateRequest};
use crate::generation::{gate, outbound};
use crate::inbound::{self, HealthPaths, Inbound};
use crate::outbound::Admitted;
use crate::rate_limit::RateLimits;
use crate::reject::Rejection;
use crate::trace::{Step, Trace};

/// What to explain (`authgate explain …`).
#[derive(Debug, Clone)]
pub(crate) struct Question {
    /// The method.
    pub(crate) method: String,
    /// The request-target as sent.
    pub(crate) target: String,
    /// A bearer token, sent as `Authorization: Bearer …`.
    pub(crate) token: Option<String>,
    /// Further header lines, `Name: value`.
    pub(crate) headers: Vec<String>,
    /// A JWKS document standing in for every `jwks_url` and `oidc` source.
    pub(crate) jwks_file: Option<PathBuf>,
    /// The TCP peer the request comes from (`server.trusted_proxies` applies).
    pub(crate) peer: std::net::IpAddr,
}

/// The answer: the steps, the result, and what would go upstream.
#[derive(Debug, Serialize)]
pub(crate) struct Explanation {
    /// `METHOD target`, as asked.
    request: String,
    /// What authgate looked at, in order.
    steps: Vec<Step>,
    /// What it decided.
    result: Outcome,
    /// For a request let through: the upstream it goes to, `name (url)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream: Option<String>,
    /// For a request let through: the headers the upstream would get (the
    /// assertion and any credential redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_headers: Option<Vec<(String, String)>>,
}

/// The decision.
#[derive(Debug, Serialize)]
struct Outcome {
    /// `allow`, `anonymous` or `reject`.
    decision: &'static str,
    /// The status authgate answers itself; none when the request goes upstream.
    status: Option<u16>,
    /// The refusal's reason (`missing_token`, `expired`, `claim_mismatch` …).
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'static str,
    /// The verified subject, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
}

/// Headers whose value is a credential or a secret: shown as `***`.
const REDACTED: &[&str] = &["authorization", "cookie"];

/// The head a client would send: request line, `Host`, the token, the headers.
fn raw_head(q: &Question) -> String {
    let mut head = format!("{} {} HTTP/1.1\r\n", q.method, q.target);
    let has_host = q.headers.iter().any(|h| {
        h.split(':')
            .next()
            .is_some_and(|n| n.trim().eq_ignore_ascii_case("host"))
    });
    if !has_host {
        head.push_str("Host: localhost\r\n");
    }
    if let Some(token) = &q.token {
        let _ = write!(head, "Authorization: Bearer {token}\r\n");
    }
    for h in &q.headers {
        let _ = write!(head, "{}\r\n", h.trim_end_matches(['\r', '\n']));
    }
    head.push_str("\r\n");
    head
}

/// Parses the head as Pingora does (httparse), or says why it would refuse it.
fn parse_head(raw: &[u8]) -> Result<RequestHeader, String> {
    let mut slots = [httparse::EMPTY_HEADER; 256];
    let mut parsed = httparse::Request::new(&mut slots);
    match parsed.parse(raw) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err("incomplete request head".into()),
        Err(e) => return Err(format!("unreadable request head: {e}")),
    }
    let (Some(method), Some(path)) = (parsed.method, parsed.path) else {
        return Err("unreadable request line".into());
    };
    let mut req = RequestHeader::build(method, path.as_bytes(), Some(parsed.headers.len()))
        .map_err(|e| format!("unreadable request line: {e}"))?;
    for h in parsed.headers.iter() {
        req.append_header(h.name.to_string(), h.value)
            .map_err(|_| format!("unreadable header `{}`", h.name))?;
    }
    Ok(req)
}

/// Loads every `jwks_url` and `oidc` source's keys as the proxy does at start (or from
/// `q.jwks_file`); a failure leaves the source without keys, as in the proxy.
async fn load_keys(gate: &crate::gate::Gate, q: &Question) {
    for source in gate.verifier.remote_sources() {
        let loaded = match &q.jwks_file {
            Some(file) => std::fs::read(file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))
                .and_then(|body| source.load_document(&body)),
            None => source.fetch().await,
        };
        if let Err(e) = loaded {
            eprintln!("authgate: JWKS {}: {e}", source.url());
        }
    }
}

/// Answers `q` under `settings`, fetching JWKS sources as the proxy would (or
/// loading `q.jwks_file` in their place).
pub(crate) async fn explain(settings: &Settings, q: &Question) -> Result<Explanation, String> {
    let gate = offline_gate(settings);
    load_keys(&gate, q).await;
    let raw = raw_head(q);
    let mut trace = Trace::default();
    let mut req = match parse_head(raw.as_bytes()) {
        Ok(req) => req,
        Err(why) => return Ok(refused_head(q, trace, why, &Rejection::unreadable_head())),
    };
    let trusted = TrustedProxies::new(settings.server.trusted_proxies.clone());
    let peer_trusted = trusted.contains(Some(q.peer));
    let listener_scheme = listener_scheme(settings);
    let health = HealthPaths {
        live: settings.server.health_path.as_deref(),
        ready: settings.server.ready_path.as_deref(),
    };
    let examined = inbound::examine(&mut req, Some(raw.as_bytes()), peer_trusted, health);
    let target = match examined.outcome {
        Ok(Inbound::Route(target)) => target,
        Ok(Inbound::Health(_)) => return Ok(health_probe(q, trace)),
        Err(r) => return Ok(refused_head(q, trace, r.message.to_string(), &r)),
    };
    trace.steps.push(Step::Target {
        canonical: Some(target.path.clone()),
        refused: None,
    });
    let request = GateRequest {
        method: &req.method,
        path: &target.path,
        headers: &req.headers,
        scheme: client_scheme(&req, peer_trusted, listener_scheme),
        client_ip: client_ip(&req.headers, Some(q.peer), peer_trusted, &trusted),
    };
    let verdict = gate.admit(&request, &mut trace).await;
    let upstream = upstream_of(settings, verdict.upstream);
    let identity = match verdict.outcome {
        Ok(identity) => identity,
        Err(rejection) => {
            let subject = rejection.subject.clone();
            return Ok(refused(q, trace, &rejection, subject));
        }
    };
    let peer = q.peer.to_string();
    let admitted = Admitted {
        path: &target.path,
        rewritten_target: target.rewritten.as_deref(),
        identity: identity.as_deref(),
        client_ip: Some(&peer),
        peer_trusted,
        request_id: examined.request_id.as_deref().unwrap_or("<request id>"),
        scheme: listener_scheme,
        upstream_h2: crate::grpc::is_grpc(&req),
        audience: &upstream.name,
    };
    let headers = upstream_headers(settings, &req, &admitted)?;
    Ok(Explanation {
        upstream: Some(describe_upstream(upstream)),
        ..let_through(q, trace, identity.as_deref(), headers)
    })
}

/// The upstream at `index` (a verdict's), `[upstream]` when out of range.
fn upstream_of(settings: &Settings, index: usize) -> &UpstreamSettings {
    settings
        .upstreams
        .get(index)
        .unwrap_or(settings.default_upstream())
}

/// `name (scheme://host:port)`.
fn describe_upstream(u: &UpstreamSettings) -> String {
    format!("{} ({}://{})", u.name, u.scheme.as_str(), u.address)
}

/// The proxy's gate without shared state: explain counts no rate limit and looks up
/// no revocation.
fn offline_gate(settings: &Settings) -> Gate {
    gate(
        settings,
        settings.auth.sources.clone(),
        RateLimits::default(),
        None,
    )
}

/// The scheme the configured proxy listener speaks.
fn listener_scheme(settings: &Settings) -> Scheme {
    match settings.process.listener {
        ListenerSettings::Plain { .. } => Scheme::Http,
        ListenerSettings::Tls(_) => Scheme::Https,
    }
}

/// A request the gate lets through, and the headers it goes upstream with.
fn let_through(
    q: &Question,
    trace: Trace,
    identity: Option<&Identity>,
    headers: Vec<(String, String)>,
) -> Explanation {
    Explanation {
        request: format!("{} {}", q.method, q.target),
        steps: trace.steps,
        result: Outcome {
            decision: if identity.is_some() {
                "allow"
            } else {
                "anonymous"
            },
            status: None,
            reason: "",
            subject: identity.map(|i| i.subject.clone()),
        },
        upstream_headers: Some(headers),
        upstream: None,
    }
}

/// The headers the upstream would get: the outbound rewrite, the assertion and
/// any credential shown as `***`.
fn upstream_headers(
    settings: &Settings,
    req: &RequestHeader,
    admitted: &Admitted<'_>,
) -> Result<Vec<(String, String)>, String> {
    let mut upstream = req.clone();
    outbound(settings)
        .prepare(&mut upstream, admitted)
        .map_err(|e| format!("cannot prepare the upstream request: {e}"))?;
    let assertion = settings
        .identity
        .headers
        .assertion_header()
        .to_ascii_lowercase();
    Ok(upstream
        .headers
        .iter()
        .map(|(name, value)| {
            let name = name.as_str().to_string();
            let shown = if name == assertion || REDACTED.contains(&name.as_str()) {
                "***".to_string()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name, shown)
        })
        .collect())
}

/// A head or target refused before any rule.
fn refused_head(q: &Question, mut trace: Trace, why: String, r: &Rejection) -> Explanation {
    trace.steps.push(Step::Target {
        canonical: None,
        refused: Some(why),
    });
    refused(q, trace, r, None)
}

/// A probe of the proxy port's own health paths.
fn health_probe(q: &Question, mut trace: Trace) -> Explanation {
    trace.steps.push(Step::Target {
        canonical: Some(q.target.clone()),
        refused: None,
    });
    Explanation {
        request: format!("{} {}", q.method, q.target),
        steps: trace.steps,
        result: Outcome {
            decision: "health",
            status: Some(200),
            reason: "",
            subject: None,
        },
        upstream_headers: None,
        upstream: None,
    }
}

fn refused(q: &Question, trace: Trace, r: &Rejection, subject: Option<String>) -> Explanation {
    Explanation {
        request: format!("{} {}", q.method, q.target),
        steps: trace.steps,
        result: Outcome {
            decision: "reject",
            status: Some(r.status),
            reason: r.reason,
            subject,
        },
        upstream_headers: None,
        upstream: None,
    }
}

impl Explanation {
    /// The text `explain` prints without `--json`.
    pub(crate) fn to_text(&self) -> String {
        let mut out = format!("authgate explain: {}\n", self.request);
        for step in &self.steps {
            let (what, line) = describe(step);
            let _ = writeln!(out, "  {what:<12}{line}");
        }
        let r = &self.result;
        let verdict = match (r.status, r.decision) {
            (None, decision) => format!("{decision}: forwarded to the upstream"),
            (Some(status), "reject") => format!("{status} {} (refused)", r.reason),
            (Some(status), decision) => format!("{status} ({decision})"),
        };
        let _ = writeln!(out, "  {:<12}{verdict}", "result");
        if let Some(subject) = &r.subject {
            let _ = writeln!(out, "  {:<12}{subject}", "subject");
        }
        if let Some(upstream) = &self.upstream {
            let _ = writeln!(out, "  {:<12}{upstream}", "upstream");
        }
        if let Some(headers) = &self.upstream_headers {
            out.push_str("  upstream headers:\n");
            for (name, value) in headers {
                let _ = writeln!(out, "    {name}: {value}");
            }
        }
        out
    }
}

/// One step as a line: its kind and what it found.
fn describe(step: &Step) -> (&'static str, String) {
    match step {
        Step::Target {
            canonical: Some(path),
            ..
        } => ("target", format!("canonical path {path}")),
        Step::Target { refused, .. } => (
            "target",
            format!("refused: {}", refused.as_deref().unwrap_or("?")),
        ),
        Step::Rule {
            index,
            pattern,
            auth,
        } => (
            "rule",
            match index {
                Some(i) => format!("routes[{i}] {pattern} (auth {auth})"),
                None => format!("{pattern} (auth {auth})"),
            },
        ),
        Step::Credential { found } => ("credential", (*found).to_string()),
        Step::Key {
            source,
            kid,
            alg,
            result,
        } => (
            "key",
            format!(
                "{source} kid={} {alg}: {result}",
                kid.as_deref().unwrap_or("-")
            ),
        ),
        Step::NoKey { reason } => ("key", format!("none tried: {reason}")),
        Step::Claim { claim, result } => ("claim", format!("{claim}: {result}")),
        Step::Csrf { allowed } => (
            "csrf",
            if *allowed {
                "allowed origin"
            } else {
                "cross-site"
            }
            .to_string(),
        ),
        Step::Requirement { requirement, met } => (
            "requirement",
            format!("{requirement}: {}", if *met { "met" } else { "NOT met" }),
        ),
        Step::RateLimits { policies } => (
            "rate limit",
            format!("{} (not counted by explain)", policies.join(", ")),
        ),
    }
}
