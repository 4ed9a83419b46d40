//! What the gate did with one request, step by step, as it decided: the proxy
//! passes [`NoTrace`], which records nothing and costs nothing (each step is built
//! by a closure that is never called), and `authgate explain` passes a [`Trace`]
//! and prints it. So explain runs the proxy's own code, not a second copy of any
//! rule.

use serde::Serialize;

/// Where a decision's steps go.
pub trait Tracer {
    /// Records the step `step` builds (only when something is recorded).
    fn step(&mut self, step: impl FnOnce() -> Step);
}

/// Records nothing: the proxy's tracer.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTrace;

impl Tracer for NoTrace {
    #[inline(always)]
    fn step(&mut self, _step: impl FnOnce() -> Step) {}
}

/// Every step, in order: `explain`'s tracer.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Trace {
    /// The steps, first to last.
    pub(crate) steps: Vec<Step>,
}

impl Tracer for Trace {
    fn step(&mut self, step: impl FnOnce() -> Step) {
        self.steps.push(step());
    }
}

/// One thing the gate looked at, and what it found. Never a token or a secret;
/// claim values only as the checks need to say why (`exp` as a time).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// The request line and head as authgate reads them.
    Target {
        /// The canonical path rules match, when the target was accepted.
        canonical: Option<String>,
        /// Why the head or target was refused, if it was.
        refused: Option<String>,
    },
    /// The rule that applies.
    Rule {
        /// Its index in `[[routes]]`; none for the default rule.
        index: Option<usize>,
        /// Its path pattern, `<default>` or `<cors-preflight>`.
        pattern: String,
        /// `public`, `required` or `optional`.
        auth: &'static str,
    },
    /// Where the credential was found: `bearer`, `session_cookie` or `none`.
    Credential {
        /// Where.
        found: &'static str,
    },
    /// A key the signature was checked with.
    Key {
        /// The key's source (`shared_secret:…`, `jwks:…`).
        source: String,
        /// The key's `kid`, if it has one.
        kid: Option<String>,
        /// The algorithm it is pinned to.
        alg: &'static str,
        /// `verified`, or why not.
        result: &'static str,
    },
    /// No key could be tried, and why (unknown `kid`, no key for the algorithm…).
    NoKey {
        /// The reason, as the refusal names it.
        reason: &'static str,
    },
    /// A registered claim check (`exp`, `nbf`, `iss`, `aud`) or the identity's.
    Claim {
        /// The claim.
        claim: &'static str,
        /// `ok`, `absent`, `not_checked`, or the refusal reason.
        result: &'static str,
    },
    /// The CSRF check of a cookie-authenticated unsafe request.
    Csrf {
        /// Whether the request came from where it may.
        allowed: bool,
    },
    /// A route requirement.
    Requirement {
        /// What it asks for.
        requirement: String,
        /// Whether the identity meets it.
        met: bool,
    },
    /// The rate-limit policies the route applies (counted by the running proxy;
    /// `explain` counts nothing).
    RateLimits {
        /// Their names, in order.
        policies: Vec<String>,
    },
}
