//! `[[routes]]` → the compiled [`RouteTable`].

use super::context::Ctx;
use super::schema::{RouteAuth, RouteSection};
use crate::error::ConfigError;
use crate::policy::{AuthMode, Pattern, Route, RouteTable};

/// Compiles every rule, in order.
pub(super) fn resolve(cx: &Ctx<'_>, routes: &[RouteSection]) -> Result<RouteTable, ConfigError> {
    let compiled = routes
        .iter()
        .enumerate()
        .map(|(i, r)| resolve_route(cx, i, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RouteTable::new(compiled))
}

fn resolve_route(cx: &Ctx<'_>, i: usize, r: &RouteSection) -> Result<Route, ConfigError> {
    let pattern = Pattern::parse(&r.path)
        .map_err(|m| cx.err(format!("routes[{i}].path"), format!("`{}`: {m}", r.path)))?;
    let mut methods = Vec::new();
    for m in &r.methods {
        if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(cx.err(
                format!("routes[{i}].methods"),
                format!("`{m}` is not an HTTP method"),
            ));
        }
        methods.push(m.to_ascii_uppercase());
    }
    let auth = match r.auth {
        RouteAuth::Public => AuthMode::Public,
        RouteAuth::Required => AuthMode::Required,
        RouteAuth::Optional => AuthMode::Optional,
    };
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
    }
    Ok(Route {
        pattern,
        methods,
        auth,
        owner: r.owner.clone(),
    })
}
