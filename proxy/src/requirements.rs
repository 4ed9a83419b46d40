//! What a route demands of a verified caller, as data (`owner`, `require`,
//! `require_scope` in `[[routes]]`), and the one function that checks it:
//! [`first_unmet`] returns the first requirement the identity does not meet.
//!
//! The order is fixed: the owner rule, then the `require` claims by name
//! (alphabetically, as the config table is read), then the scopes.

use serde_json::Value;
use std::fmt;

use crate::auth::Identity;
use crate::path::decode_segment;
use crate::trace::{Step, Tracer};

/// A claim named in a rule: a top-level claim, or a dotted path into an object
/// claim (`org.role`). A claim whose own name holds the dots (`https://x.io/roles`)
/// is found by its whole name first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath {
    text: String,
}

impl ClaimPath {
    /// The claim as written in the rule.
    pub fn new(text: &str) -> Self {
        Self { text: text.into() }
    }

    /// As written.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The top-level claims an identity must keep for this path to be read.
    pub(crate) fn roots(&self) -> impl Iterator<Item = &str> {
        let first = self.text.split('.').next().filter(|r| *r != self.text);
        std::iter::once(self.text.as_str()).chain(first)
    }

    /// The value in `identity`, if it has one.
    fn find<'i>(&self, identity: &'i Identity) -> Option<&'i Value> {
        if let Some(v) = identity.claim(&self.text) {
            return Some(v);
        }
        let mut parts = self.text.split('.');
        let mut value = identity.claim(parts.next()?)?;
        for part in parts {
            value = value.as_object()?.get(part)?;
        }
        Some(value)
    }
}

/// One thing a route demands of a verified caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Requirement {
    /// The path's `{param}` (percent-decoded) is the token's `sub`.
    Owner {
        /// The parameter's name.
        param: String,
    },
    /// The claim holds at least one of `values`: a string claim split on commas and
    /// whitespace (Better Auth's `role = "admin,user"`), or an array of strings.
    AnyOf {
        /// The claim.
        claim: ClaimPath,
        /// Accepted values, at least one.
        values: Vec<String>,
    },
    /// The claim equals `value` exactly, type included (`"true"` is not `true`);
    /// numbers compare by value.
    Equals {
        /// The claim.
        claim: ClaimPath,
        /// A boolean, number or string.
        value: Value,
    },
    /// Every scope is granted by `scope` (space-separated, RFC 8693/9068) or `scp`
    /// (an array, or a space-separated string).
    Scopes(Vec<String>),
}

impl Requirement {
    /// The metrics reason when it is not met (bounded).
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Self::Owner { .. } => "owner_mismatch",
            Self::AnyOf { .. } | Self::Equals { .. } => "claim_mismatch",
            Self::Scopes(_) => "scope_missing",
        }
    }

    /// Whether `identity` meets it; `owner_value` is the raw path segment of the
    /// owner parameter, when the route has one and matched.
    fn is_met(&self, identity: &Identity, owner_value: Option<&str>) -> bool {
        match self {
            Self::Owner { .. } => owner_value
                .and_then(decode_segment)
                .is_some_and(|v| v == identity.subject),
            Self::AnyOf { claim, values } => claim
                .find(identity)
                .is_some_and(|v| list_items(v).any(|item| values.iter().any(|w| w == item))),
            Self::Equals { claim, value } => claim.find(identity).is_some_and(|v| same(v, value)),
            Self::Scopes(wanted) => {
                let granted: Vec<&str> = ["scope", "scp"]
                    .into_iter()
                    .filter_map(|name| identity.claim(name))
                    .flat_map(scope_items)
                    .collect();
                wanted.iter().all(|w| granted.contains(&w.as_str()))
            }
        }
    }
}

/// How the requirement reads in messages, logs and `explain`: what it asks for,
/// never what a token holds.
impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Owner { param } => write!(f, "owner {{{param}}} = sub"),
            Self::AnyOf { claim, values } => {
                write!(f, "{} contains one of {values:?}", claim.as_str())
            }
            Self::Equals { claim, value } => write!(f, "{} = {value}", claim.as_str()),
            Self::Scopes(scopes) => write!(f, "scope grants {scopes:?}"),
        }
    }
}

/// The items of a list claim: a string split on commas and whitespace, or the
/// strings of an array. Anything else has none.
fn list_items(value: &Value) -> Box<dyn Iterator<Item = &str> + '_> {
    match value {
        Value::String(s) => Box::new(
            s.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|t| !t.is_empty()),
        ),
        Value::Array(items) => Box::new(items.iter().filter_map(Value::as_str)),
        _ => Box::new(std::iter::empty()),
    }
}

/// The scopes a `scope`/`scp` claim grants: space-separated, or an array.
fn scope_items(value: &Value) -> Box<dyn Iterator<Item = &str> + '_> {
    match value {
        Value::String(s) => Box::new(s.split(' ').filter(|t| !t.is_empty())),
        Value::Array(items) => Box::new(items.iter().filter_map(Value::as_str)),
        _ => Box::new(std::iter::empty()),
    }
}

/// Exact equality, type included; numbers by value (`5` is `5.0`).
fn same(claim: &Value, wanted: &Value) -> bool {
    match (claim, wanted) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

/// The first of `requirements` that `identity` does not meet, in their order; each
/// one checked is recorded in `trace`.
pub(crate) fn first_unmet<'r, T: Tracer>(
    requirements: &'r [Requirement],
    identity: &Identity,
    owner_value: Option<&str>,
    trace: &mut T,
) -> Option<&'r Requirement> {
    requirements.iter().find(|r| {
        let met = r.is_met(identity, owner_value);
        trace.step(|| Step::Requirement {
            requirement: r.to_string(),
            met,
        });
        !met
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::NoTrace;
    use serde_json::json;

    fn identity(claims: Value) -> Identity {
        Identity::for_test("alice", claims)
    }

    fn any_of(claim: &str, values: &[&str]) -> Requirement {
        Requirement::AnyOf {
            claim: ClaimPath::new(claim),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    fn equals(claim: &str, value: Value) -> Requirement {
        Requirement::Equals {
            claim: ClaimPath::new(claim),
            value,
        }
    }

    fn met(r: &Requirement, claims: Value) -> bool {
        first_unmet(
            std::slice::from_ref(r),
            &identity(claims),
            None,
            &mut NoTrace,
        )
        .is_none()
    }

    #[test]
    fn a_list_claim_is_a_comma_or_space_separated_string_or_an_array() {
        let admin = any_of("role", &["admin"]);
        assert!(met(&admin, json!({"role": "admin"})));
        assert!(met(&admin, json!({"role": "user,admin"})));
        assert!(met(&admin, json!({"role": " user , admin "})));
        assert!(met(&admin, json!({"role": "user admin"})));
        assert!(met(&admin, json!({"role": ["user", "admin"]})));
        assert!(!met(&admin, json!({"role": "administrator"})));
        assert!(!met(&admin, json!({"role": "Admin"})));
        assert!(!met(&admin, json!({"role": ["user"]})));
        assert!(!met(&admin, json!({"role": true})));
        assert!(!met(&admin, json!({})), "a missing claim fails");
        assert!(met(
            &any_of("role", &["editor", "admin"]),
            json!({"role": "admin"})
        ));
    }

    #[test]
    fn single_values_must_equal_in_type_too() {
        let verified = equals("emailVerified", json!(true));
        assert!(met(&verified, json!({"emailVerified": true})));
        assert!(!met(&verified, json!({"emailVerified": "true"})));
        assert!(!met(&verified, json!({"emailVerified": false})));
        assert!(!met(&verified, json!({})));
        let tier = equals("tier", json!(2));
        assert!(met(&tier, json!({"tier": 2})));
        assert!(met(&tier, json!({"tier": 2.0})));
        assert!(!met(&tier, json!({"tier": "2"})));
        let name = equals("tenant", json!("acme"));
        assert!(met(&name, json!({"tenant": "acme"})));
        assert!(!met(&name, json!({"tenant": ["acme"]})));
    }

    #[test]
    fn dotted_names_reach_into_objects_and_whole_names_win() {
        let org = any_of("org.role", &["owner"]);
        assert!(met(&org, json!({"org": {"role": "owner"}})));
        assert!(!met(&org, json!({"org": {"role": "member"}})));
        assert!(!met(&org, json!({"org": "owner"})));
        assert!(met(&org, json!({"org.role": "owner"})));
        let ns = any_of("https://x.io/roles", &["a"]);
        assert!(met(&ns, json!({"https://x.io/roles": ["a"]})));
        assert_eq!(
            ClaimPath::new("org.role").roots().collect::<Vec<_>>(),
            ["org.role", "org"]
        );
        assert_eq!(ClaimPath::new("role").roots().collect::<Vec<_>>(), ["role"]);
    }

    #[test]
    fn every_scope_must_be_granted_by_scope_or_scp() {
        let write = Requirement::Scopes(vec!["tasks:write".into(), "tasks:read".into()]);
        assert!(met(&write, json!({"scope": "tasks:read tasks:write"})));
        assert!(met(&write, json!({"scp": ["tasks:write", "tasks:read"]})));
        assert!(met(
            &write,
            json!({"scope": "tasks:read", "scp": ["tasks:write"]})
        ));
        assert!(!met(&write, json!({"scope": "tasks:read"})));
        assert!(!met(&write, json!({"scope": "tasks:read,tasks:write"})));
        assert!(!met(&write, json!({})));
    }

    #[test]
    fn the_first_unmet_requirement_is_reported_in_order() {
        let rules = vec![
            Requirement::Owner {
                param: "user_id".into(),
            },
            any_of("role", &["admin"]),
            equals("emailVerified", json!(true)),
        ];
        let id = identity(json!({"role": "admin", "emailVerified": false}));
        let unmet = |id: &Identity, owner| first_unmet(&rules, id, owner, &mut NoTrace);
        assert_eq!(unmet(&id, Some("bob")), Some(&rules[0]));
        assert_eq!(unmet(&id, Some("alice")), Some(&rules[2]));
        assert_eq!(unmet(&id, Some("al%69ce")), Some(&rules[2]));
        let ok = identity(json!({"role": "admin", "emailVerified": true}));
        assert_eq!(unmet(&ok, Some("alice")), None);
        // The trace says what was checked, up to the first unmet one.
        let mut trace = crate::trace::Trace::default();
        first_unmet(&rules, &id, Some("alice"), &mut trace);
        let met: Vec<bool> = trace
            .steps
            .iter()
            .map(|s| matches!(s, Step::Requirement { met: true, .. }))
            .collect();
        assert_eq!(met, [true, true, false]);
        assert_eq!(rules[1].reason(), "claim_mismatch");
        assert_eq!(rules[1].to_string(), r#"role contains one of ["admin"]"#);
    }
}
