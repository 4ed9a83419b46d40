//! A real gRPC server and client (Python grpcio) through authgate, over h2c and
//! over TLS (h2 by ALPN): allowed unary, server-streaming and bidirectional calls
//! pass with their trailers and the identity; refusals come back as gRPC statuses.

#![allow(clippy::unwrap_used)]

use authgate_tests::peers;
use authgate_tests::pki::{TestCa, Usage};
use authgate_tests::process::Authgate;
use authgate_tests::tokens::{claims, hs256};
use authgate_tests::tools::{have, python_clients};
use authgate_tests::BETTER_AUTH_SECRET;
use serde_json::Value;

const RULES: &str = r#"
[[auth.sources]]
type = "shared_secret"

[[routes]]
path = "/grpc/{user_id}/**"
auth = "required"
owner = "user_id"
"#;

fn assert_allowed(result: &Value, transport: &str) {
    let expect = [
        ("unary", vec!["hello"]),
        ("stream", vec!["tick-0", "tick-1", "tick-2"]),
        ("chat", vec!["ONE", "TWO"]),
    ];
    for (call, messages) in expect {
        let r = &result[call];
        assert_eq!(r["code"], "OK", "{transport} {call}: {r}");
        assert_eq!(
            r["messages"],
            serde_json::json!(messages),
            "{transport} {call}"
        );
        // The trailers came through, with what the server saw.
        assert_eq!(
            r["trailers"]["x-seen-user"], "alice",
            "{transport} {call}: {r}"
        );
        assert_eq!(r["trailers"]["x-seen-assertion"], "yes");
        assert_eq!(r["trailers"]["x-seen-authorization"], "no");
    }
}

fn assert_refused(result: &Value, code: &str, details: &str) {
    for call in ["unary", "stream", "chat"] {
        let r = &result[call];
        assert_eq!(r["code"], code, "{call}: {r}");
        assert!(
            r["details"].as_str().unwrap().contains(details),
            "{call}: {r}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_calls_pass_with_trailers_and_refusals_are_grpc_statuses() {
    let test = "grpc_calls_pass_with_trailers_and_refusals_are_grpc_statuses";
    let Some(python) = python_clients(test) else {
        return;
    };
    if !have(test, "openssl") {
        return;
    }
    let server = peers::serve(&python, "grpc_peer.py", "grpc peer listening on ");
    let h2c = format!("[server]\nthreads = 1\nh2c = true\n{RULES}");
    let (gate, _dir) = Authgate::new(&h2c, server.addr).start();
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(&dir.path().join("ca"), "authgate");
    let cert = ca.issue("server", Usage::Server);
    let tls = format!(
        "[server]\nthreads = 1\n[server.tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n{RULES}",
        cert.cert.display(),
        cert.key.display()
    );
    let (tls_gate, _tls_dir) = Authgate::new(&tls, server.addr).start();
    let alice = hs256(&claims("alice"), BETTER_AUTH_SECRET);
    let plain_target = gate.addr.to_string();
    let tls_target = format!("localhost:{}", tls_gate.addr.port());
    let ca_path = ca.cert.display().to_string();
    let call = |target: &str, prefix: &str, token: &str, ca: Option<&str>| {
        let mut args = vec![target, prefix, token];
        args.extend(ca);
        peers::call(&python, "grpc_peer.py", &args)
    };
    let own = "/grpc/alice/demo.Echo";
    assert_allowed(&call(&plain_target, own, &alice, None), "h2c");
    assert_allowed(
        &call(&tls_target, own, &alice, Some(&ca_path)),
        "h2 over TLS",
    );
    assert_refused(
        &call(&plain_target, own, "-", None),
        "UNAUTHENTICATED",
        "a bearer token is required",
    );
    assert_refused(
        &call(&tls_target, own, "not-a-token", Some(&ca_path)),
        "UNAUTHENTICATED",
        "malformed",
    );
    assert_refused(
        &call(&plain_target, "/grpc/bob/demo.Echo", &alice, None),
        "PERMISSION_DENIED",
        "does not match the token subject",
    );
    // Logs and metrics say what they say for HTTP.
    let missing = "authgate_requests_total{decision=\"reject\",reason=\"missing_token\"}";
    assert_eq!(gate.metric(missing), 3.0);
    let owner = "authgate_requests_total{decision=\"reject\",reason=\"owner_mismatch\"}";
    assert_eq!(gate.metric(owner), 3.0);
    assert_eq!(
        gate.metric("authgate_requests_total{decision=\"allow\""),
        3.0
    );
    let log = gate.stderr();
    assert!(
        log.contains(
            "path=/grpc/bob/demo.Echo/Unary status=200 decision=reject reason=owner_mismatch"
        ),
        "{log}"
    );
}
