//! Route requirements against the real binary: claim rules (`require`) and scopes
//! (`require_scope`) with every value type, on required and optional routes; the
//! 403 they answer; metrics and the access log; a reload that adds one; and
//! Better Auth's admin plugin, whose `role` claim is a comma-separated string.

#![allow(clippy::unwrap_used)]

use authgate_tests::echo;
use authgate_tests::gated::Gated;
use authgate_tests::issuer::{access_token, set_role, sign_up, Issuer, IssuerOptions};
use authgate_tests::process::{authgate_check, Authgate};
use authgate_tests::raw::{self, RawResponse};
use authgate_tests::tokens::{hs256, now};
use authgate_tests::BETTER_AUTH_SECRET;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const RULES: &str = r#"
[[routes]]
path = "/roles/**"
require = { role = ["admin", "editor"] }

[[routes]]
path = "/verified/**"
require = { emailVerified = true }

[[routes]]
path = "/tier/**"
require = { tier = 2 }

[[routes]]
path = "/tenant/**"
require = { tenant = "acme" }

[[routes]]
path = "/org/**"
require = { "org.role" = ["owner"] }

[[routes]]
path = "/scoped/**"
require_scope = ["tasks:write", "tasks:read"]

[[routes]]
path = "/both/{user_id}/**"
owner = "user_id"
require = { role = ["admin"], emailVerified = true }

[[routes]]
path = "/feed/**"
auth = "optional"
require = { role = ["reader"] }
"#;

fn config() -> String {
    format!(
        "[server]\nthreads = 2\ngrace_period_secs = 1\n[[auth.sources]]\ntype = \"shared_secret\"\n{RULES}"
    )
}

fn token(extra: Value) -> String {
    let mut claims = json!({"sub": "alice", "exp": now() + 600});
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    hs256(&claims, BETTER_AUTH_SECRET)
}

fn with(f: &Gated, path: &str, claims: Value) -> RawResponse {
    f.get(
        path,
        &[("Authorization", &format!("Bearer {}", token(claims)))],
    )
}

/// Every value type and edge of `require` and `require_scope`, with the status
/// each gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_requirement_holds_or_is_403() {
    let f = Gated::start(&config()).await;
    let cases: &[(&str, Value, u16)] = &[
        // A list: at least one of, in a comma/space-separated string or an array.
        ("/roles/x", json!({"role": "admin"}), 200),
        ("/roles/x", json!({"role": "user,editor"}), 200),
        ("/roles/x", json!({"role": " user , admin "}), 200),
        ("/roles/x", json!({"role": "user admin"}), 200),
        ("/roles/x", json!({"role": ["user", "editor"]}), 200),
        ("/roles/x", json!({"role": "user"}), 403),
        ("/roles/x", json!({"role": "administrator"}), 403),
        ("/roles/x", json!({"role": ["Admin"]}), 403),
        ("/roles/x", json!({"role": true}), 403),
        ("/roles/x", json!({}), 403),
        // Exactly, type included.
        ("/verified/x", json!({"emailVerified": true}), 200),
        ("/verified/x", json!({"emailVerified": "true"}), 403),
        ("/verified/x", json!({"emailVerified": false}), 403),
        ("/verified/x", json!({}), 403),
        ("/tier/x", json!({"tier": 2}), 200),
        ("/tier/x", json!({"tier": 2.0}), 200),
        ("/tier/x", json!({"tier": "2"}), 403),
        ("/tenant/x", json!({"tenant": "acme"}), 200),
        ("/tenant/x", json!({"tenant": "acme2"}), 403),
        ("/tenant/x", json!({"tenant": ["acme"]}), 403),
        // A dotted name reaches into an object claim.
        ("/org/x", json!({"org": {"role": "owner"}}), 200),
        ("/org/x", json!({"org": {"role": "member"}}), 403),
        ("/org/x", json!({"org": "owner"}), 403),
        // Scopes: all of them, from `scope` (space-separated) or `scp` (array).
        ("/scoped/x", json!({"scope": "tasks:read tasks:write"}), 200),
        (
            "/scoped/x",
            json!({"scp": ["tasks:write", "tasks:read"]}),
            200,
        ),
        (
            "/scoped/x",
            json!({"scope": "tasks:read", "scp": ["tasks:write"]}),
            200,
        ),
        ("/scoped/x", json!({"scope": "tasks:read"}), 403),
        ("/scoped/x", json!({"scope": "tasks:read,tasks:write"}), 403),
        // The owner rule and claims together: all must hold.
        (
            "/both/alice/x",
            json!({"role": "admin", "emailVerified": true}),
            200,
        ),
        (
            "/both/bob/x",
            json!({"role": "admin", "emailVerified": true}),
            403,
        ),
        ("/both/alice/x", json!({"role": "admin"}), 403),
        // Optional: with a token the requirement applies.
        ("/feed/x", json!({"role": "reader"}), 200),
        ("/feed/x", json!({"role": "writer"}), 403),
        // Rules with requirements match literals in any case.
        ("/ROLES/x", json!({"role": "user"}), 403),
        ("/Feed/x", json!({"role": "writer"}), 403),
    ];
    for (path, claims, status) in cases {
        let resp = with(&f, path, claims.clone());
        assert_eq!(resp.status, *status, "{path} {claims}: {resp:?}");
        if *status == 403 {
            let challenge = resp.header("www-authenticate").unwrap();
            assert!(
                challenge.starts_with("Bearer realm=\"authgate\", error=\"insufficient_scope\""),
                "{challenge}"
            );
            let body = resp.json();
            assert_eq!(body["error"], "insufficient_scope");
            // The rule is named, the token's values never are.
            for (_, v) in claims.as_object().unwrap() {
                if let Some(s) = v.as_str() {
                    // (a value the rule itself names may appear, as the rule's)
                    assert!(
                        !resp.body.contains(s) || RULES.contains(s),
                        "{path}: {}",
                        resp.body
                    );
                }
            }
        }
    }
    // Optional without a token: anonymous, the requirement does not apply.
    assert_eq!(f.get("/feed/x", &[]).status, 200);
    assert_eq!(f.get("/roles/x", &[]).status, 401);
    let scope = with(&f, "/scoped/x", json!({"scope": "tasks:read"}));
    assert!(
        scope
            .header("www-authenticate")
            .unwrap()
            .ends_with("scope=\"tasks:write tasks:read\""),
        "{scope:?}"
    );
    let role = with(&f, "/roles/x", json!({"role": "user"})).json();
    assert_eq!(
        role["message"],
        "route `/roles/**` requires role contains one of [\"admin\", \"editor\"]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_counted_and_logged_by_requirement() {
    let f = Gated::start(&config()).await;
    assert_eq!(with(&f, "/roles/x", json!({"role": "user"})).status, 403);
    assert_eq!(with(&f, "/scoped/x", json!({})).status, 403);
    assert_eq!(with(&f, "/both/bob/x", json!({})).status, 403);
    let admin = f.proxy.admin.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = raw::send(admin, &raw::get("/metrics", &[])).unwrap().body;
        let has = |reason: &str| {
            text.contains(&format!(
                "authgate_requests_total{{decision=\"reject\",reason=\"{reason}\"}} 1"
            ))
        };
        if has("claim_mismatch") && has("scope_missing") && has("owner_mismatch") {
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = f
        .proxy
        .stderr_containing("scope grants", Duration::from_secs(5));
    assert!(
        log.contains(r#"reason=claim_mismatch rule=/roles/** requirement="role contains one of [\"admin\", \"editor\"]" subject=alice"#),
        "{log}"
    );
    assert!(
        log.contains("reason=scope_missing rule=/scoped/**"),
        "{log}"
    );
    assert!(
        log.contains(
            r#"reason=owner_mismatch rule=/both/{user_id}/** requirement="owner {user_id} = sub""#
        ),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_adds_a_requirement_applies_it_to_the_next_request() {
    let echo = echo::start().await;
    let base = "[server]\nthreads = 1\ngrace_period_secs = 1\n[[auth.sources]]\ntype = \"shared_secret\"\n[[routes]]\npath = \"/admin/**\"\n";
    let (proxy, dir) = Authgate::new(base, echo.addr).start();
    let auth = format!("Bearer {}", token(json!({"role": "user"})));
    let get = || {
        raw::send(
            proxy.addr,
            &raw::get("/admin/x", &[("Authorization", &auth)]),
        )
        .unwrap()
        .status
    };
    assert_eq!(get(), 200);
    std::fs::write(
        dir.path().join("authgate.toml"),
        format!("{base}require = {{ role = [\"admin\"] }}\n"),
    )
    .unwrap();
    proxy.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while get() != 403 {
        assert!(
            Instant::now() < deadline,
            "not reloaded: {}",
            proxy.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

const SECRETS: &[(&str, &str)] = &[
    ("BETTER_AUTH_SECRET", BETTER_AUTH_SECRET),
    (
        "AUTHGATE_ASSERTION_SECRET",
        authgate_tests::ASSERTION_SECRET,
    ),
];

#[test]
fn check_refuses_requirements_that_cannot_hold() {
    let cases = [
        (
            "[[routes]]\npath = \"/a\"\nauth = \"public\"\nrequire = { role = [\"x\"] }\n",
            "routes[0].require",
        ),
        (
            "[[routes]]\npath = \"/a\"\nauth = \"public\"\nrequire_scope = [\"x\"]\n",
            "routes[0].require_scope",
        ),
        (
            "[[routes]]\npath = \"/a\"\nrequire = { role = { x = 1 } }\n",
            "routes[0].require.role",
        ),
        (
            "[[routes]]\npath = \"/a\"\nrequire = { role = [] }\n",
            "routes[0].require.role",
        ),
        (
            "[[routes]]\npath = \"/a\"\nrequire = { role = [1, 2] }\n",
            "routes[0].require.role",
        ),
        (
            "[[routes]]\npath = \"/a\"\nrequire = { \"org..role\" = true }\n",
            "routes[0].require.org..role",
        ),
        (
            "[[routes]]\npath = \"/a\"\nrequire_scope = [\"tasks write\"]\n",
            "routes[0].require_scope[0]",
        ),
        (
            "[[routes]]\npath = \"/a\"\nrequire_scope = [\"a\\\"b\"]\n",
            "routes[0].require_scope[0]",
        ),
        (
            "[[routes]]\npath = \"/a\"\nrequired = { role = [\"x\"] }\n",
            "routes[0]",
        ),
    ];
    for (routes, key) in cases {
        let text = format!("[[auth.sources]]\ntype = \"shared_secret\"\n{routes}");
        let (code, _, stderr) = authgate_check(&text, SECRETS);
        assert_eq!(code, 64, "{routes}: {stderr}");
        assert!(stderr.contains(&format!("`{key}")), "{routes}: {stderr}");
        assert!(stderr.contains("authgate.toml"), "names the file: {stderr}");
    }
    let ok = format!("[[auth.sources]]\ntype = \"shared_secret\"\n{RULES}");
    let (code, stdout, stderr) = authgate_check(&ok, SECRETS);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("require_scope"), "{stdout}");
}

/// The payload of a compact JWS, decoded (no verification: for display).
fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Better Auth's admin plugin: `role` as it writes it ("admin", "user", and
/// "admin,user" when the plugin sets two roles), `emailVerified` camelCase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn better_auths_admin_plugin_roles_gate_the_admin_routes() {
    let issuer = Issuer::start(&IssuerOptions {
        admin_plugin: true,
        ..IssuerOptions::alg("EdDSA")
    });
    let root = sign_up(&issuer, "root@example.com").await;
    let carol = sign_up(&issuer, "carol@example.com").await;
    let dave = sign_up(&issuer, "dave@example.com").await;
    set_role(&issuer, &root, &dave.id, &["admin", "user"]).await;
    let tokens = [
        ("root", access_token(&issuer, &root).await),
        ("carol", access_token(&issuer, &carol).await),
        ("dave", access_token(&issuer, &dave).await),
    ];
    for (who, t) in &tokens {
        let p = payload(t);
        println!(
            "{who}: role = {}, banned = {}, emailVerified = {}",
            p["role"], p["banned"], p["emailVerified"]
        );
    }
    assert_eq!(payload(&tokens[0].1)["role"], "admin");
    assert_eq!(payload(&tokens[1].1)["role"], "user");
    assert_eq!(
        payload(&tokens[2].1)["role"],
        "admin,user",
        "as Better Auth writes two roles"
    );
    assert_eq!(payload(&tokens[1].1)["emailVerified"], false);
    let config = format!(
        r#"
[server]
threads = 1
grace_period_secs = 1

[[auth.sources]]
type = "jwks_url"
url = "{jwks}"
issuer = ["{base}"]
audience = ["{base}"]

[[routes]]
path = "/api/admin/**"
require = {{ role = ["admin"] }}

[[routes]]
path = "/api/verified/**"
require = {{ emailVerified = true }}

[[routes]]
path = "/api/not-banned/**"
require = {{ banned = false }}
"#,
        jwks = issuer.jwks_url(),
        base = issuer.base,
    );
    let echo = echo::start().await;
    let (proxy, _dir) = Authgate::new(&config, echo.addr).wait_until_ready().start();
    let get = |path: &str, token: &str| {
        raw::send(
            proxy.addr,
            &raw::get(path, &[("Authorization", &format!("Bearer {token}"))]),
        )
        .unwrap()
    };
    assert_eq!(
        get("/api/admin/users", &tokens[0].1).status,
        200,
        "root is an admin"
    );
    assert_eq!(
        get("/api/admin/users", &tokens[2].1).status,
        200,
        "dave: admin,user"
    );
    let refused = get("/api/admin/users", &tokens[1].1);
    assert_eq!(refused.status, 403, "carol is a plain user");
    assert!(refused
        .header("www-authenticate")
        .unwrap()
        .contains("error=\"insufficient_scope\""));
    assert_eq!(
        get("/api/verified/x", &tokens[1].1).status,
        403,
        "email not verified"
    );
    assert_eq!(get("/api/not-banned/x", &tokens[1].1).status, 200);
}
