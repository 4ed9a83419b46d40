//! The most common set-up of the integration tests: the real authgate with a given
//! config in front of the echo upstream; the configs the tests share, and the tokens
//! and checks that go with them.

use std::net::SocketAddr;

use serde_json::{json, Value};

use crate::echo::{self, Echo};
use crate::process::{Authgate, Service};
use crate::raw::{self, RawResponse};
use crate::tokens::{claims, hs256};
use crate::BETTER_AUTH_SECRET;

/// Rules most tests share: `/public/**` open, everything under another user's
/// `/api/{user_id}` behind an owner rule.
pub const ROUTES: &str = r#"
[[routes]]
path = "/public/**"
auth = "public"

[[routes]]
path = "/api/{user_id}/**"
auth = "required"
owner = "user_id"
"#;

/// A full config: HS256 tokens with the shared secret and 5 s of leeway, the `name`
/// and `roles` claims forwarded as `X-Auth-Name` and `X-Auth-Roles`, `/public/**`
/// open, `/feed/**` optional, an owner rule on `/api/{user_id}/tasks/**` (any other
/// path needs a token), one worker thread, 1 s of shutdown grace and a 1.5 s upstream
/// read timeout.
pub const CONFIG: &str = r#"
[server]
threads = 1
grace_period_secs = 1

[upstream]
read_timeout_ms = 1500

[auth]
leeway_secs = 5

[[auth.sources]]
type = "shared_secret"

[identity.claims]
name = "X-Auth-Name"
roles = "X-Auth-Roles"

[[routes]]
path = "/public/**"
auth = "public"

[[routes]]
path = "/feed/**"
auth = "optional"

[[routes]]
path = "/api/{user_id}/tasks/**"
auth = "required"
owner = "user_id"
"#;

/// A config whose shared-secret source pins issuer and audience to
/// `https://auth.example`, then `extra` (TOML), then [`ROUTES`]; one worker thread
/// and 1 s of shutdown grace.
pub fn pinned_config(extra: &str) -> String {
    format!(
        "[server]\nthreads = 1\ngrace_period_secs = 1\n\n[[auth.sources]]\ntype = \"shared_secret\"\nissuer = [\"https://auth.example\"]\naudience = [\"https://auth.example\"]\n{extra}\n{ROUTES}"
    )
}

/// Valid claims for `sub` with the issuer and audience [`pinned_config`] pins.
pub fn pinned_claims(sub: &str) -> Value {
    let mut c = claims(sub);
    c["iss"] = json!("https://auth.example");
    c["aud"] = json!("https://auth.example");
    c
}

/// An `Authorization` value for `sub` that [`pinned_config`] accepts.
pub fn pinned_bearer(sub: &str) -> String {
    format!("Bearer {}", hs256(&pinned_claims(sub), BETTER_AUTH_SECRET))
}

/// Asserts a 401 with an RFC 6750 challenge (`error="invalid_token"` and
/// `description`) and a JSON body, neither of which echoes `token`.
pub fn assert_invalid_token(resp: &RawResponse, description: &str, token: &str) {
    assert_eq!(resp.status, 401, "{resp:?}");
    let challenge = resp.header("www-authenticate").expect("WWW-Authenticate");
    assert!(
        challenge.starts_with("Bearer realm=\"authgate\""),
        "{challenge}"
    );
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert!(
        challenge.contains(&format!("error_description=\"{description}\"")),
        "{challenge}"
    );
    let body = resp.json();
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(body["message"], description);
    assert!(!resp.body.contains(token) && !challenge.contains(token));
}

/// authgate in front of an echo upstream.
pub struct Gated {
    /// The upstream.
    pub echo: Echo,
    /// authgate.
    pub proxy: Service,
    _dir: tempfile::TempDir,
}

impl Gated {
    /// Starts both, authgate with `config` (TOML text).
    pub async fn start(config: &str) -> Self {
        let echo = echo::start().await;
        let (proxy, dir) = Authgate::new(config, echo.addr).start();
        Self {
            echo,
            proxy,
            _dir: dir,
        }
    }

    /// Where authgate listens.
    pub fn addr(&self) -> SocketAddr {
        self.proxy.addr
    }

    /// Sends raw bytes to authgate.
    pub fn send(&self, request: &[u8]) -> RawResponse {
        raw::send(self.proxy.addr, request).expect("a response")
    }

    /// `GET path` with `headers`.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> RawResponse {
        self.send(&raw::get(path, headers))
    }
}
