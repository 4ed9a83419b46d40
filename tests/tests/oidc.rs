//! `type = "oidc"` against the real Better Auth OpenID provider (npm better-auth 1.7.5
//! with `@better-auth/oauth-provider` 1.7.5, tests/issuer/oidc): authgate reads the
//! plugin's discovery document, fetches the JWKS it names, and verifies the access
//! tokens the plugin's token endpoint issues; the source behaves as a `jwks_url`
//! source (503 before its first keys, stale keys while the provider is down); a
//! document naming another issuer leaves the source without keys, and says why.

#![allow(clippy::unwrap_used)]

use authgate_tests::echo::{self, header_values, Echo};
use authgate_tests::oidc_provider::{OidcProvider, RESOURCE};
use authgate_tests::process::{authgate_check, binary, Authgate, Service};
use authgate_tests::raw::{self, RawResponse};
use authgate_tests::tokens::{bearer, decoded, tamper};
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

fn oidc_config(issuer: &str, extra: &str) -> String {
    format!(
        r#"
[server]
threads = 1
grace_period_secs = 1

[auth]
leeway_secs = 0

[[auth.sources]]
type = "oidc"
issuer = "{issuer}"
audience = ["{RESOURCE}"]
timeout_ms = 1000
{extra}

[[routes]]
path = "/api/**"
auth = "required"
"#
    )
}

fn get(proxy: &Service, path: &str, token: &str) -> RawResponse {
    let auth = bearer(token);
    raw::send(proxy.addr, &raw::get(path, &[("Authorization", &auth)])).expect("a response")
}

/// Waits (bounded) until `done` holds.
async fn wait_for(what: &str, proxy: &Service, limit: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: {}", proxy.stderr());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The plugin serves its document under the issuer's path and names the issuer
/// with Better Auth's base path; its JWKS is the jwt plugin's.
async fn check_the_plugins_document(provider: &OidcProvider) {
    let doc = provider.discovery_document().await;
    let issuer = provider.issuer();
    println!(
        "{issuer}/.well-known/openid-configuration: issuer {} jwks_uri {}",
        doc["issuer"], doc["jwks_uri"]
    );
    assert_eq!(doc["issuer"], issuer.as_str());
    assert_eq!(doc["jwks_uri"], format!("{issuer}/jwks").as_str());
    let root = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        provider.base
    ))
    .await
    .unwrap();
    assert_eq!(root.status(), 404, "not at the origin's root");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_tokens_of_better_auths_oauth_provider_pass_through_discovery() {
    let provider = OidcProvider::start(0, None);
    check_the_plugins_document(&provider).await;
    let issuer = provider.issuer();
    let config = oidc_config(&issuer, "");
    let echo = echo::start().await;
    let (proxy, dir) = Authgate::new(&config, echo.addr).wait_until_ready().start();
    let log = proxy.stderr_containing("OpenID discovery: JWKS found", Duration::from_secs(5));
    assert!(log.contains(&format!("jwks_uri={issuer}/jwks")), "{log}");

    let (token, client_id) = provider.client_credentials_token().await;
    let (header, claims) = (decoded(&token, 0), decoded(&token, 1));
    println!("access token header {header}, claims {claims}");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(claims["iss"], issuer.as_str());
    assert_eq!(claims["aud"], RESOURCE);
    let resp = get(&proxy, "/api/tasks", &token);
    assert_eq!(resp.status, 200, "{resp:?}\n{}", proxy.stderr());
    let seen = resp.json();
    assert_eq!(header_values(&seen, "x-auth-user-id"), [client_id.as_str()]);
    let resp = get(&proxy, "/api/tasks", &tamper(&token));
    assert_eq!(resp.status, 401);
    assert!(resp
        .header("www-authenticate")
        .unwrap()
        .contains("invalid signature"));

    // The jwt plugin's own session JWT is signed by the same key but names the
    // origin as `iss`: the pinned issuer refuses it.
    let session_jwt = provider.session_jwt("bob@example.com").await;
    assert_eq!(decoded(&session_jwt, 1)["iss"], provider.base.as_str());
    let resp = get(&proxy, "/api/tasks", &session_jwt);
    assert_eq!(resp.status, 401);
    assert!(resp
        .header("www-authenticate")
        .unwrap()
        .contains("invalid issuer"));

    let ok = format!("authgate_jwks_fetches_total{{source=\"{issuer}\",result=\"ok\"}}");
    assert!(proxy.metric(&ok) >= 1.0, "labelled by the issuer");
    explain_verifies_through_discovery(&dir.path().join("authgate.toml"), &issuer, &token);
    drop(echo);
}

/// `authgate explain` loads the source as the proxy does: discovery, then the JWKS.
fn explain_verifies_through_discovery(config: &std::path::Path, issuer: &str, token: &str) {
    let out = Command::new(binary("authgate"))
        .args(["explain", "--config"])
        .arg(config)
        .args(["GET", "/api/tasks", "--token", token])
        .env(
            "AUTHGATE_ASSERTION_SECRET",
            authgate_tests::ASSERTION_SECRET,
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let kid = decoded(token, 0)["kid"].as_str().unwrap().to_string();
    for line in [
        format!("key         oidc:{issuer} kid={kid} EdDSA: verified"),
        "result      allow: forwarded to the upstream".to_string(),
    ] {
        assert!(
            text.contains(&line),
            "missing {line:?} in\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

async fn start_unready(config: &str) -> (Echo, Service, tempfile::TempDir) {
    let echo = echo::start().await;
    let (proxy, dir) = Authgate::new(config, echo.addr).start();
    (echo, proxy, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oidc_source_is_503_until_its_provider_answers_and_keeps_its_keys_when_it_goes() {
    let port = echo::closed_port().port();
    let issuer = format!("http://127.0.0.1:{port}/api/auth");
    let (_echo, proxy, _dir) = start_unready(&oidc_config(&issuer, "refresh_secs = 1")).await;
    let stranger = authgate_tests::tokens::forge(
        &json!({"alg": "EdDSA", "kid": "whatever"}),
        &json!({"sub": "u", "iss": issuer, "exp": authgate_tests::tokens::now() + 60}),
        None,
    ) + "c2ln";
    let resp = get(&proxy, "/api/tasks", &stranger);
    assert_eq!(resp.status, 503, "{resp:?}");
    assert_eq!(resp.header("retry-after"), Some("5"));
    assert_eq!(proxy.ready_status(), 503);

    let provider = OidcProvider::start(port, None);
    wait_for(
        "never became ready",
        &proxy,
        Duration::from_secs(45),
        || proxy.ready_status() == 200,
    )
    .await;
    let (first, _) = provider.client_credentials_token().await;
    let (second, _) = provider.client_credentials_token().await;
    assert_eq!(get(&proxy, "/api/tasks", &first).status, 200);
    // The fetches that failed before the provider came up count too.
    let failed = format!("authgate_jwks_fetches_total{{source=\"{issuer}\",result=\"error\"}}");
    let failed_before = proxy.metric(&failed);
    provider.stop();
    wait_for(
        "refreshes were never attempted",
        &proxy,
        Duration::from_secs(20),
        || proxy.metric(&failed) >= failed_before + 2.0,
    )
    .await;
    // Never seen (not cached): verified with the last good keys.
    assert_eq!(
        get(&proxy, "/api/tasks", &second).status,
        200,
        "stale-on-error"
    );
    assert_eq!(proxy.ready_status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discovery_document_naming_another_issuer_loads_no_keys_and_says_why() {
    let elsewhere = format!("http://127.0.0.1:{}/api/auth", echo::closed_port().port());
    let provider = OidcProvider::start(0, Some(&elsewhere));
    let issuer = provider.issuer();
    assert_eq!(
        provider.discovery_document().await["issuer"],
        elsewhere.as_str()
    );
    let (_echo, proxy, _dir) = start_unready(&oidc_config(&issuer, "")).await;
    let why = format!("names issuer `{elsewhere}`, not the configured `{issuer}`: refused");
    let log = proxy.stderr_containing(&why, Duration::from_secs(10));
    let line = log.lines().find(|l| l.contains(&why)).expect(&why);
    println!("{line}");
    assert!(line.contains("JWKS fetch failed"), "{line}");
    let failed = format!("authgate_jwks_fetches_total{{source=\"{issuer}\",result=\"error\"}}");
    assert!(proxy.metric(&failed) >= 1.0);
    assert_eq!(proxy.ready_status(), 503, "no keys");
    // The provider's tokens name the other issuer and are signed by keys authgate
    // never loaded: unavailable, never a pass.
    let (token, _) = provider.client_credentials_token().await;
    assert_eq!(get(&proxy, "/api/tasks", &token).status, 503);
    assert!(proxy.metric("authgate_jwks_keys{") < 1.0, "no keys loaded");
}

#[test]
fn check_shows_an_oidc_source_and_names_a_bad_issuer() {
    let env = [(
        "AUTHGATE_ASSERTION_SECRET",
        authgate_tests::ASSERTION_SECRET,
    )];
    let good = oidc_config("https://auth.example.com/api/auth", "");
    let (code, out, err) = authgate_check(&good, &env);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("type = \"oidc\""), "{out}");
    assert!(
        out.contains("issuer = \"https://auth.example.com/api/auth\""),
        "{out}"
    );
    let bad = oidc_config("https://auth.example.com/?tenant=a", "");
    let (code, _, err) = authgate_check(&bad, &env);
    assert_eq!(code, 64, "{err}");
    assert!(
        err.contains("authgate.toml: `auth.sources[0].issuer`: an issuer has no query or fragment"),
        "{err}"
    );
}
