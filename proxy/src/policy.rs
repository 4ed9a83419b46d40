//! Route rules: which requests need a token, which are public, and what a verified
//! caller must also meet (`requirements`: the owner rule, claims, scopes). Ordered,
//! first match wins; a path no rule matches requires a token (fail closed).

use std::sync::Arc;

use crate::auth::Identity;
use crate::path::decode_segment;
use crate::requirements::{first_unmet, Requirement};
use crate::trace::Tracer;

/// What a route demands of the caller (`auth = "…"` in a route rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// No token needed; identity headers are still stripped.
    Public,
    /// A valid token is needed.
    Required,
    /// No token passes anonymously; a present but invalid token is refused.
    Optional,
}

impl AuthMode {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Required => "required",
            Self::Optional => "optional",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    AnyOne,
    Rest,
}

/// A compiled path pattern such as `/api/{user_id}/tasks/**`.
#[derive(Debug, Clone)]
pub struct Pattern {
    text: Arc<str>,
    segments: Vec<Segment>,
}

impl Pattern {
    /// Compiles a pattern; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let rest = text
            .strip_prefix('/')
            .ok_or_else(|| "must start with '/'".to_string())?;
        let mut segments = Vec::new();
        let raw: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        for (i, seg) in raw.iter().enumerate() {
            let last = i + 1 == raw.len();
            let compiled = match *seg {
                "**" if last => Segment::Rest,
                "**" => return Err("'**' is only allowed as the last segment".into()),
                "*" => Segment::AnyOne,
                "" => return Err("empty segment (double or trailing '/')".into()),
                "." | ".." => return Err("dot-segments are not allowed".into()),
                s if s.starts_with('{') && s.ends_with('}') => {
                    let name = &s[1..s.len() - 1];
                    if name.is_empty()
                        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    {
                        return Err(format!("bad parameter name in '{s}'"));
                    }
                    if segments
                        .iter()
                        .any(|p| matches!(p, Segment::Param(n) if n == name))
                    {
                        return Err(format!("parameter '{name}' appears twice"));
                    }
                    Segment::Param(name.to_string())
                }
                s => {
                    if let Some(bad) = s
                        .bytes()
                        .find(|&b| !(b.is_ascii_alphanumeric() || b"-._~!$&'()+,=:@".contains(&b)))
                    {
                        return Err(format!(
                            "character '{}' not allowed in a literal segment",
                            char::from(bad)
                        ));
                    }
                    Segment::Literal(s.to_string())
                }
            };
            segments.push(compiled);
        }
        Ok(Self {
            text: text.into(),
            segments,
        })
    }

    /// Whether the pattern names `{param}`.
    pub fn has_param(&self, param: &str) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Param(n) if n == param))
    }

    /// Matches a canonical path; on success returns the raw value of `capture`
    /// (if that parameter exists). With `fold_case`, literal segments match whatever
    /// their ASCII case.
    fn matches<'p>(
        &self,
        path: &'p str,
        capture: Option<&str>,
        fold_case: bool,
    ) -> Option<Option<&'p str>> {
        let rest = path.strip_prefix('/')?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let mut parts = rest.split('/').filter(|s| !s.is_empty());
        let mut captured = None;
        for seg in &self.segments {
            match seg {
                Segment::Rest => return Some(captured),
                Segment::Literal(lit) => {
                    // Compared decoded, as an upstream that decodes before routing
                    // reads it: `%40me` is the literal `@me` (found by fuzzing).
                    let part = decode_segment(parts.next()?)?;
                    let same = if fold_case {
                        part.eq_ignore_ascii_case(lit)
                    } else {
                        part == lit.as_str()
                    };
                    if !same {
                        return None;
                    }
                }
                Segment::AnyOne => {
                    parts.next()?;
                }
                Segment::Param(name) => {
                    let value = parts.next()?;
                    if capture == Some(name.as_str()) {
                        captured = Some(value);
                    }
                }
            }
        }
        parts.next().is_none().then_some(captured)
    }
}

/// One configured rule.
#[derive(Debug, Clone)]
pub struct Route {
    /// The path pattern.
    pub pattern: Pattern,
    /// Upper-case methods; empty means every method.
    pub methods: Vec<String>,
    /// What the route demands.
    pub auth: AuthMode,
    /// What a verified caller must also meet, in the order they are checked.
    pub requirements: Vec<Requirement>,
    /// The rate-limit policies it applies, by name, in order.
    pub rate_limit: Vec<String>,
    /// Where its requests go: an index into the configured upstreams
    /// (0 is `[upstream]`).
    pub upstream: usize,
}

impl Route {
    /// GET implies HEAD (RFC 9110 §9.3.2): a rule for GET covers HEAD too, so a
    /// HEAD cannot slip past a GET-only rule to a later, weaker one.
    fn applies_to(&self, method: &str) -> bool {
        self.methods.is_empty()
            || self
                .methods
                .iter()
                .any(|m| m == method || (method == "HEAD" && m == "GET"))
    }

    /// Rules that demand a token match literal segments in any case, rules that relax
    /// (public, optional) only as written: an upstream that routes case-insensitively
    /// (Express, ASP.NET, IIS…) can then never be reached at `/API/bob/tasks` past an
    /// owner rule on `/api/{user_id}/tasks/**`, while `/PUBLIC/x` is not made public
    /// by a rule for `/public/**`.
    /// A rule with requirements folds case too, whatever its `auth`: an optional
    /// rule with a claim requirement that matched only as written would leave
    /// `/FEED/admin` to the default rule, which requires a token but no claim.
    fn folds_case(&self) -> bool {
        self.auth == AuthMode::Required || !self.requirements.is_empty()
    }

    /// The `{param}` of the owner rule, if the route has one.
    fn owner_param(&self) -> Option<&str> {
        self.requirements.iter().find_map(|r| match r {
            Requirement::Owner { param } => Some(param.as_str()),
            _ => None,
        })
    }
}

/// The rule a request fell under, with the owner parameter's raw value.
#[derive(Debug, Clone, Copy)]
pub struct RouteMatch<'r, 'p> {
    /// The matched rule; `None` means no rule matched (treated as `required`).
    pub route: Option<&'r Route>,
    /// The owner parameter's raw (still percent-encoded) path segment, when the rule
    /// has an owner and matched.
    pub owner_value: Option<&'p str>,
    /// The rule's index in `[[routes]]`.
    pub index: Option<usize>,
}

impl<'r> RouteMatch<'r, '_> {
    /// What the request must present.
    pub fn auth(&self) -> AuthMode {
        self.route.map_or(AuthMode::Required, |r| r.auth)
    }

    /// The matched pattern, or `<default>` (for tests).
    #[cfg(test)]
    pub fn label(&self) -> &'r str {
        self.route.map_or("<default>", |r| &r.pattern.text)
    }

    /// The matched pattern's text, shared (cheap to keep per request).
    pub fn pattern_text(&self) -> Option<Arc<str>> {
        self.route.map(|r| r.pattern.text.clone())
    }

    /// The upstream the matched route picks (0, `[upstream]`, when none matched).
    pub fn upstream(&self) -> usize {
        self.route.map_or(0, |r| r.upstream)
    }

    /// The rate-limit policies of the matched route, by name.
    pub fn rate_limits(&self) -> &'r [String] {
        self.route.map_or(&[], |r| &r.rate_limit)
    }

    /// The first of the route's requirements `identity` does not meet, if any; each
    /// one checked is recorded in `trace`.
    pub fn first_unmet<T: Tracer>(
        &self,
        identity: &Identity,
        trace: &mut T,
    ) -> Option<&'r Requirement> {
        let route = self.route?;
        first_unmet(&route.requirements, identity, self.owner_value, trace)
    }
}

/// Ordered rules.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// Builds a table from rules in priority order.
    pub fn new(routes: Vec<Route>) -> Self {
        Self { routes }
    }

    /// Every claim some rule reads (top-level names): an identity keeps these.
    pub fn claims_read(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for requirement in self.routes.iter().flat_map(|r| &r.requirements) {
            let roots: Vec<&str> = match requirement {
                Requirement::AnyOf { claim, .. } | Requirement::Equals { claim, .. } => {
                    claim.roots().collect()
                }
                Requirement::Scopes(_) => vec!["scope", "scp"],
                Requirement::Owner { .. } => Vec::new(),
            };
            for root in roots {
                if !names.iter().any(|n| n == root) {
                    names.push(root.to_string());
                }
            }
        }
        names
    }

    /// Finds the first rule for `method` and canonical `path`.
    pub fn lookup<'r, 'p>(&'r self, method: &str, path: &'p str) -> RouteMatch<'r, 'p> {
        for (index, route) in self.routes.iter().enumerate() {
            if !route.applies_to(method) {
                continue;
            }
            let capture = route.owner_param();
            if let Some(owner_value) = route.pattern.matches(path, capture, route.folds_case()) {
                return RouteMatch {
                    route: Some(route),
                    owner_value,
                    index: Some(index),
                };
            }
        }
        RouteMatch {
            route: None,
            owner_value: None,
            index: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(path: &str, methods: &[&str], auth: AuthMode, owner: Option<&str>) -> Route {
        Route {
            pattern: Pattern::parse(path).unwrap(),
            methods: methods.iter().map(|m| m.to_string()).collect(),
            auth,
            requirements: owner
                .map(|param| Requirement::Owner {
                    param: param.to_string(),
                })
                .into_iter()
                .collect(),
            rate_limit: Vec::new(),
            upstream: 0,
        }
    }

    fn owns(m: &RouteMatch<'_, '_>, subject: &str) -> bool {
        m.first_unmet(
            &Identity::for_test(subject, serde_json::json!({})),
            &mut crate::trace::NoTrace,
        )
        .is_none()
    }

    fn table() -> RouteTable {
        RouteTable::new(vec![
            route("/healthz", &[], AuthMode::Public, None),
            route("/openapi.json", &["GET"], AuthMode::Public, None),
            route(
                "/api/{user_id}/tasks/**",
                &[],
                AuthMode::Required,
                Some("user_id"),
            ),
            route("/public/**", &[], AuthMode::Public, None),
            route("/feed/*", &["GET"], AuthMode::Optional, None),
        ])
    }

    #[test]
    fn literals_match_their_percent_encoded_spelling() {
        let t = RouteTable::new(vec![
            route("/users/@me/**", &[], AuthMode::Required, None),
            route(
                "/users/{user_id}/**",
                &[],
                AuthMode::Required,
                Some("user_id"),
            ),
            route(
                "/api/{user_id}/tasks:export",
                &[],
                AuthMode::Required,
                Some("user_id"),
            ),
        ]);
        // `%40me` is `@me` to an upstream that decodes: the same rule applies.
        assert_eq!(
            t.lookup("GET", "/users/%40me/profile").label(),
            "/users/@me/**"
        );
        let m = t.lookup("GET", "/api/bob/tasks%3Aexport");
        assert_eq!(m.label(), "/api/{user_id}/tasks:export");
        assert!(!owns(&m, "alice"), "the owner rule still applies");
    }

    #[test]
    fn a_get_rule_covers_head() {
        let t = RouteTable::new(vec![
            route("/admin/**", &["GET"], AuthMode::Required, None),
            route("/admin/**", &[], AuthMode::Public, None),
        ]);
        assert_eq!(t.lookup("GET", "/admin/x").auth(), AuthMode::Required);
        assert_eq!(t.lookup("HEAD", "/admin/x").auth(), AuthMode::Required);
        assert_eq!(t.lookup("POST", "/admin/x").auth(), AuthMode::Public);
        let head_only = RouteTable::new(vec![route("/x", &["HEAD"], AuthMode::Public, None)]);
        assert_eq!(head_only.lookup("GET", "/x").auth(), AuthMode::Required);
    }

    #[test]
    fn first_match_wins_and_unmatched_is_required() {
        let t = table();
        assert_eq!(t.lookup("GET", "/openapi.json").auth(), AuthMode::Public);
        assert_eq!(t.lookup("POST", "/openapi.json").auth(), AuthMode::Required);
        assert_eq!(t.lookup("GET", "/public").auth(), AuthMode::Public);
        assert_eq!(t.lookup("GET", "/public/a/b/c").auth(), AuthMode::Public);
        assert_eq!(t.lookup("GET", "/feed/x").auth(), AuthMode::Optional);
        assert_eq!(t.lookup("GET", "/feed/x/y").auth(), AuthMode::Required);
        assert_eq!(t.lookup("GET", "/nothing/here").auth(), AuthMode::Required);
        assert!(t.lookup("GET", "/nothing").route.is_none());
    }

    #[test]
    fn owner_rule_compares_decoded_segment_with_subject() {
        let t = table();
        let m = t.lookup("GET", "/api/alice/tasks");
        assert_eq!(m.label(), "/api/{user_id}/tasks/**");
        assert!(owns(&m, "alice"));
        assert!(!owns(&m, "bob"));
        let m = t.lookup("DELETE", "/api/alice/tasks/42/complete");
        assert!(owns(&m, "alice"));
        let m = t.lookup("GET", "/api/a%40b/tasks");
        assert!(owns(&m, "a@b"));
        assert!(!owns(&m, "a%40b"));
        // The tasks literal must be there: /api/alice is not under the owner rule.
        assert!(t.lookup("GET", "/api/alice").route.is_none());
    }

    #[test]
    fn strict_rules_ignore_case_and_relaxing_rules_do_not() {
        let t = table();
        let m = t.lookup("GET", "/API/alice/TASKS/1");
        assert_eq!(m.label(), "/api/{user_id}/tasks/**");
        assert!(owns(&m, "alice"));
        assert!(!owns(&t.lookup("GET", "/Api/bob/Tasks"), "alice"));
        assert_eq!(t.lookup("GET", "/PUBLIC/x").auth(), AuthMode::Required);
        assert_eq!(t.lookup("GET", "/OpenAPI.json").auth(), AuthMode::Required);
        assert_eq!(t.lookup("GET", "/FEED/x").auth(), AuthMode::Required);
        // An optional rule with a requirement folds case: `/FEED/admin` must not
        // fall to the default rule, which requires no claim.
        let mut admin = route("/feed/admin/**", &[], AuthMode::Optional, None);
        admin
            .requirements
            .push(Requirement::Scopes(vec!["admin".into()]));
        let t = RouteTable::new(vec![admin]);
        assert_eq!(t.lookup("GET", "/FEED/Admin/x").auth(), AuthMode::Optional);
    }

    #[test]
    fn routes_without_owner_accept_any_subject() {
        let t = table();
        assert!(owns(&t.lookup("GET", "/feed/x"), "anyone"));
    }

    #[test]
    fn bad_patterns_are_rejected() {
        for bad in [
            "api", "/a//b", "/a/**/b", "/{}", "/{a-b}", "/{x}/{x}", "/a/../b", "/a?b", "/a%2Fb",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
        assert!(Pattern::parse("/").is_ok());
        assert!(Pattern::parse("/**").is_ok());
    }

    #[test]
    fn root_and_catch_all() {
        let t = RouteTable::new(vec![route("/", &[], AuthMode::Public, None)]);
        assert_eq!(t.lookup("GET", "/").auth(), AuthMode::Public);
        assert_eq!(t.lookup("GET", "/x").auth(), AuthMode::Required);
        let t = RouteTable::new(vec![route("/**", &[], AuthMode::Optional, None)]);
        assert_eq!(t.lookup("GET", "/").auth(), AuthMode::Optional);
        assert_eq!(t.lookup("GET", "/x/y").auth(), AuthMode::Optional);
    }
}
