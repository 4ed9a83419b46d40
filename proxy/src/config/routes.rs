//! `[[routes]]` → the compiled [`RouteTable`], requirements included.

use serde_json::Value;

use super::context::Ctx;
use super::schema::{RouteAuth, RouteSection};
use crate::error::ConfigError;
use crate::policy::{AuthMode, Pattern, Route, RouteTable};
use crate::requirements::{ClaimPath, Requirement};

/// Compiles every rule, in order; `policies` are the names of the rate-limit
/// policies a rule may apply, `upstreams` the names of the upstreams it may pick
/// (`[upstream]` first).
pub(super) fn resolve(
    cx: &Ctx<'_>,
    routes: &[RouteSection],
    policies: &[&str],
    upstreams: &[&str],
) -> Result<RouteTable, ConfigError> {
    let compiled = routes
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let route = resolve_route(cx, i, r)?;
            rate_limits(cx, i, &r.rate_limit, policies)?;
            Ok(Route {
                rate_limit: r.rate_limit.clone(),
                upstream: upstream(cx, i, r.upstream.as_deref(), upstreams)?,
                ..route
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RouteTable::new(compiled))
}

/// `rate_limit`: names of `[[rate_limits]]` policies, each once.
fn rate_limits(
    cx: &Ctx<'_>,
    i: usize,
    names: &[String],
    policies: &[&str],
) -> Result<(), ConfigError> {
    for (j, name) in names.iter().enumerate() {
        let key = format!("routes[{i}].rate_limit[{j}]");
        if !policies.contains(&name.as_str()) {
            return Err(cx.err(key, format!("no [[rate_limits]] policy is named `{name}`")));
        }
        if names[..j].contains(name) {
            return Err(cx.err(key, format!("`{name}` is listed twice")));
        }
    }
    Ok(())
}

/// `upstream`: the index of the named upstream; none is `[upstream]` (0).
fn upstream(
    cx: &Ctx<'_>,
    i: usize,
    name: Option<&str>,
    upstreams: &[&str],
) -> Result<usize, ConfigError> {
    let Some(name) = name else {
        return Ok(0);
    };
    upstreams.iter().position(|u| *u == name).ok_or_else(|| {
        cx.err(
            format!("routes[{i}].upstream"),
            format!(
                "no upstream is named `{name}` (names: {})",
                upstreams.join(", ")
            ),
        )
    })
}

fn resolve_route(cx: &Ctx<'_>, i: usize, r: &RouteSection) -> Result<Route, ConfigError> {
    let pattern = Pattern::parse(&r.path)
        .map_err(|m| cx.err(format!("routes[{i}].path"), format!("`{}`: {m}", r.path)))?;
    let methods = methods(cx, i, &r.methods)?;
    let auth = match r.auth {
        RouteAuth::Public => AuthMode::Public,
        RouteAuth::Required => AuthMode::Required,
        RouteAuth::Optional => AuthMode::Optional,
    };
    let mut requirements = Vec::new();
    if let Some(owner) = &r.owner {
        if !pattern.has_param(owner) {
            return Err(cx.err(
                format!("routes[{i}].owner"),
                format!("`{owner}` is not a {{parameter}} of `{}`", r.path),
            ));
        }
        if auth != AuthMode::Required {
            return Err(cx.err(
                format!("routes[{i}].owner"),
                "an owner rule needs auth = \"required\"",
            ));
        }
        requirements.push(Requirement::Owner {
            param: owner.clone(),
        });
    }
    for (name, value) in &r.require {
        requirements.push(claim_requirement(cx, i, name, value)?);
    }
    if !r.require_scope.is_empty() {
        requirements.push(Requirement::Scopes(scopes(cx, i, &r.require_scope)?));
    }
    if auth == AuthMode::Public {
        for (key, present) in [
            ("require", !r.require.is_empty()),
            ("require_scope", !r.require_scope.is_empty()),
        ] {
            if present {
                return Err(cx.err(
                    format!("routes[{i}].{key}"),
                    "needs auth = \"required\" or \"optional\" (a public route has no token to check)",
                ));
            }
        }
    }
    Ok(Route {
        pattern,
        methods,
        auth,
        requirements,
        rate_limit: Vec::new(),
        upstream: 0,
    })
}

/// `methods`: HTTP method names, upper-cased.
fn methods(cx: &Ctx<'_>, i: usize, names: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut methods = Vec::new();
    for m in names {
        if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(cx.err(
                format!("routes[{i}].methods"),
                format!("`{m}` is not an HTTP method"),
            ));
        }
        methods.push(m.to_ascii_uppercase());
    }
    Ok(methods)
}

/// `require.<name> = value` → the requirement it states.
fn claim_requirement(
    cx: &Ctx<'_>,
    i: usize,
    name: &str,
    value: &toml::Value,
) -> Result<Requirement, ConfigError> {
    let key = format!("routes[{i}].require.{name}");
    if name.is_empty() || name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return Err(cx.err(
            key,
            "is not a claim name (`role`, or `org.role` inside an object)",
        ));
    }
    let claim = ClaimPath::new(name);
    let single = |value: Value| {
        Ok(Requirement::Equals {
            claim: claim.clone(),
            value,
        })
    };
    match value {
        toml::Value::String(s) => single(Value::from(s.as_str())),
        toml::Value::Boolean(b) => single(Value::from(*b)),
        toml::Value::Integer(n) => single(Value::from(*n)),
        toml::Value::Float(f) if f.is_finite() => single(Value::from(*f)),
        toml::Value::Array(items) => {
            let values: Option<Vec<String>> = items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect();
            match values {
                Some(values) if !values.is_empty() => Ok(Requirement::AnyOf {
                    claim: claim.clone(),
                    values,
                }),
                _ => Err(cx.err(key, "a list must hold at least one string")),
            }
        }
        _ => Err(cx.err(
            key,
            "must be true or false, a number, a string, or a list of strings",
        )),
    }
}

/// `require_scope`: RFC 6749 scope tokens (printable ASCII but space, `"` and `\\`).
fn scopes(cx: &Ctx<'_>, i: usize, scopes: &[String]) -> Result<Vec<String>, ConfigError> {
    for (j, scope) in scopes.iter().enumerate() {
        let token = !scope.is_empty()
            && scope
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
        if !token {
            return Err(cx.err(
                format!("routes[{i}].require_scope[{j}]"),
                format!("`{scope}` is not a scope (printable ASCII without spaces, quotes or backslashes)"),
            ));
        }
    }
    Ok(scopes.to_vec())
}
