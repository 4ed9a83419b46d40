//! Interop with the real Better Auth (npm `better-auth` 1.7.25, jwt plugin): tokens and
//! cookies it issues go through the real authgate to an echo upstream.

#![allow(clippy::unwrap_used)]

use authgate_tests::echo::{self, header_values, Echo};
use authgate_tests::issuer::{access_token, sign_up, Issuer, IssuerOptions, User};
use authgate_tests::process::{Authgate, Service};
use authgate_tests::raw::{self, RawResponse};
use authgate_tests::tokens::{bearer, decoded, tamper};
use serde_json::json;
use std::time::{Duration, Instant};

fn jwks_config(issuer: &Issuer, extra_source: &str) -> String {
    format!(
        r#"
[server]
threads = 1
grace_period_secs = 1

[auth]
leeway_secs = 0

[[auth.sources]]
type = "jwks_url"
url = "{jwks}"
issuer = ["{base}"]
audience = ["{base}"]
min_refetch_interval_secs = 1
{extra_source}

[[routes]]
path = "/api/{{user_id}}/tasks/**"
auth = "required"
owner = "user_id"
"#,
        jwks = issuer.jwks_url(),
        base = issuer.base,
    )
}

fn get(proxy: &Service, path: &str, headers: &[(&str, &str)]) -> RawResponse {
    raw::send(proxy.addr, &raw::get(path, headers)).expect("a response")
}

fn free_port() -> u16 {
    echo::closed_port().port()
}

/// authgate in front of an echo upstream, once its keys are loaded.
async fn start_proxy(config: &str) -> (Echo, Service, tempfile::TempDir) {
    let echo = echo::start().await;
    let (proxy, dir) = Authgate::new(config, echo.addr).wait_until_ready().start();
    (echo, proxy, dir)
}

async fn every_algorithm_round_trip(alg: &str) {
    let issuer = Issuer::start(&IssuerOptions {
        expiration: Some("3s".into()),
        ..IssuerOptions::alg(alg)
    });
    let (_echo, proxy, _dir) = start_proxy(&jwks_config(&issuer, "")).await;
    let user = sign_up(&issuer, &format!("{}@example.com", alg.to_lowercase())).await;
    let token = access_token(&issuer, &user).await;
    let header = decoded(&token, 0);
    assert_eq!(header["alg"], alg, "Better Auth signed with {alg}");
    let obtained = Instant::now();

    let path = format!("/api/{}/tasks", user.id);
    let resp = get(&proxy, &path, &[("Authorization", &bearer(&token))]);
    assert_eq!(resp.status, 200, "{alg}: {resp:?}\n{}", proxy.stderr());
    let seen = resp.json();
    assert_eq!(header_values(&seen, "x-auth-user-id"), [user.id.as_str()]);
    assert_eq!(header_values(&seen, "x-auth-email"), [user.email.as_str()]);

    let resp = get(
        &proxy,
        &path,
        &[("Authorization", &bearer(&tamper(&token)))],
    );
    assert_eq!(resp.status, 401, "{alg}: tampered");
    assert!(resp
        .header("www-authenticate")
        .unwrap()
        .contains("invalid signature"));

    // The token lives 3 s; leeway is 0. Wait past `exp` (second granularity).
    let wait = Duration::from_millis(4500).saturating_sub(obtained.elapsed());
    tokio::time::sleep(wait).await;
    let resp = get(&proxy, &path, &[("Authorization", &bearer(&token))]);
    assert_eq!(resp.status, 401, "{alg}: expired");
    assert!(resp
        .header("www-authenticate")
        .unwrap()
        .contains("token expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eddsa_tokens_from_better_auth() {
    every_algorithm_round_trip("EdDSA").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn es256_tokens_from_better_auth() {
    every_algorithm_round_trip("ES256").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn es512_tokens_from_better_auth() {
    every_algorithm_round_trip("ES512").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_tokens_from_better_auth() {
    every_algorithm_round_trip("RS256").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ps256_tokens_from_better_auth() {
    every_algorithm_round_trip("PS256").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_and_audience_must_match_when_configured() {
    let issuer = Issuer::start(&IssuerOptions::alg("EdDSA"));
    let user = sign_up(&issuer, "iss@example.com").await;
    let token = access_token(&issuer, &user).await;
    let path = format!("/api/{}/tasks", user.id);
    for (key, other, refused) in [
        ("issuer", "https://auth.other.example", "invalid issuer"),
        ("audience", "https://api.other.example", "invalid audience"),
    ] {
        let config = jwks_config(&issuer, "").replacen(
            &format!("{key} = [\"{}\"]", issuer.base),
            &format!("{key} = [\"{other}\"]"),
            1,
        );
        let (_echo, proxy, _dir) = start_proxy(&config).await;
        let resp = get(&proxy, &path, &[("Authorization", &bearer(&token))]);
        assert_eq!(resp.status, 401, "{key}");
        let challenge = resp.header("www-authenticate").unwrap();
        assert!(challenge.contains(refused), "{challenge}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_without_restarting_authgate() {
    let port = free_port();
    let opts = IssuerOptions {
        port,
        ..IssuerOptions::alg("EdDSA")
    };
    let first = Issuer::start(&opts);
    let (_echo, proxy, _dir) = start_proxy(&jwks_config(&first, "")).await;
    let alice = sign_up(&first, "alice@example.com").await;
    let old_token = access_token(&first, &alice).await;
    let path = format!("/api/{}/tasks", alice.id);
    assert_eq!(
        get(&proxy, &path, &[("Authorization", &bearer(&old_token))]).status,
        200
    );

    // Restart: the memory adapter makes a new key with a new kid.
    first.stop();
    let second = Issuer::start(&opts);
    let bob = sign_up(&second, "bob@example.com").await;
    let new_token = access_token(&second, &bob).await;
    let old_kid = old_token.split('.').next().unwrap().to_string();
    assert_ne!(new_token.split('.').next().unwrap(), old_kid, "a new kid");
    let resp = get(
        &proxy,
        &format!("/api/{}/tasks", bob.id),
        &[("Authorization", &bearer(&new_token))],
    );
    assert_eq!(
        resp.status,
        200,
        "new key picked up by an unknown-kid refetch: {}",
        proxy.stderr()
    );
    // The old key left the JWKS: its token (cached before) no longer verifies.
    let resp = get(&proxy, &path, &[("Authorization", &bearer(&old_token))]);
    assert_eq!(resp.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_keys_keep_working_while_the_jwks_is_down() {
    let issuer = Issuer::start(&IssuerOptions::alg("ES256"));
    let config = jwks_config(&issuer, "refresh_secs = 1");
    let (_echo, proxy, _dir) = start_proxy(&config).await;
    let alice = sign_up(&issuer, "alice@example.com").await;
    let bob = sign_up(&issuer, "bob@example.com").await;
    let alice_token = access_token(&issuer, &alice).await;
    let bob_token = access_token(&issuer, &bob).await;
    let alice_path = format!("/api/{}/tasks", alice.id);
    let alice_status = || {
        get(
            &proxy,
            &alice_path,
            &[("Authorization", &bearer(&alice_token))],
        )
        .status
    };
    assert_eq!(alice_status(), 200);
    issuer.stop();
    // Wait (bounded) until at least two periodic refreshes have failed, as the
    // admin metrics count them.
    let admin = proxy.admin.expect("admin listener");
    let failed_fetches = || {
        let metrics = authgate_tests::raw::send(admin, &authgate_tests::raw::get("/metrics", &[]))
            .map(|r| r.body)
            .unwrap_or_default();
        metrics
            .lines()
            .filter(|l| {
                l.starts_with("authgate_jwks_fetches_total{") && l.contains("result=\"error\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while failed_fetches() < 2.0 {
        assert!(
            Instant::now() < deadline,
            "refreshes were never attempted: {}",
            proxy.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        proxy
            .stderr_containing("JWKS fetch failed", Duration::from_secs(5))
            .contains("JWKS fetch failed"),
        "refreshes were attempted"
    );
    // Bob's token was never seen (not cached): verified with the last good keys.
    let resp = get(
        &proxy,
        &format!("/api/{}/tasks", bob.id),
        &[("Authorization", &bearer(&bob_token))],
    );
    assert_eq!(resp.status, 200, "stale-on-error");
    assert_eq!(alice_status(), 200);
    assert_eq!(proxy.ready_status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_jwks_is_503_until_it_comes_up() {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let config = format!(
        r#"
[server]
threads = 1
grace_period_secs = 1
[[auth.sources]]
type = "jwks_url"
url = "{base}/api/auth/jwks"
issuer = ["{base}"]
timeout_ms = 500
[[routes]]
path = "/api/{{user_id}}/tasks/**"
auth = "required"
owner = "user_id"
"#
    );
    let echo = echo::start().await;
    let (proxy, _dir) = Authgate::new(&config, echo.addr).start();
    let stranger = authgate_tests::tokens::forge(
        &json!({"alg": "EdDSA", "kid": "whatever"}),
        &json!({"sub": "u", "exp": authgate_tests::tokens::now() + 60}),
        None,
    ) + "c2ln";
    let resp = get(
        &proxy,
        "/api/u/tasks",
        &[("Authorization", &bearer(&stranger))],
    );
    assert_eq!(resp.status, 503, "{resp:?}");
    assert_eq!(resp.header("retry-after"), Some("5"));
    assert!(
        resp.header("www-authenticate").is_none(),
        "not the client's fault"
    );
    assert_eq!(proxy.ready_status(), 503);
    // Missing tokens are still the client's problem.
    assert_eq!(get(&proxy, "/api/u/tasks", &[]).status, 401);

    let issuer = Issuer::start(&IssuerOptions {
        port,
        ..IssuerOptions::alg("EdDSA")
    });
    let deadline = Instant::now() + Duration::from_secs(45);
    while proxy.ready_status() != 200 {
        assert!(
            Instant::now() < deadline,
            "never became ready: {}",
            proxy.stderr()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let user = sign_up(&issuer, "late@example.com").await;
    let token = access_token(&issuer, &user).await;
    let resp = get(
        &proxy,
        &format!("/api/{}/tasks", user.id),
        &[("Authorization", &bearer(&token))],
    );
    assert_eq!(resp.status, 200);
}

fn cookie_config(issuer: &Issuer) -> String {
    jwks_config(
        issuer,
        r#"
[[auth.sources]]
type = "shared_secret"

[auth.session_cookie]
enabled = true
"#,
    )
}

/// Better Auth (EdDSA) with its session cookie cache in `mode` (`jwt` or `jwks`), and a
/// user signed up there (the sign-up sets the cookies).
async fn signed_up_with_cookie_cache(mode: &str, email: &str) -> (Issuer, User) {
    let issuer = Issuer::start(&IssuerOptions {
        cookie_cache: Some(mode.into()),
        ..IssuerOptions::alg("EdDSA")
    });
    let user = sign_up(&issuer, email).await;
    (issuer, user)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_data_cookie_strategy_jwt() {
    let (issuer, user) = signed_up_with_cookie_cache("jwt", "cookie@example.com").await;
    let session_data = user
        .cookie("better-auth.session_data")
        .expect("session_data cookie set");
    assert!(
        session_data.starts_with("eyJhbGciOiJIUzI1NiJ9."),
        "HS256 cookie"
    );
    let cookie = format!(
        "theme=dark; {}; lang=en",
        user.cookie_header(&["better-auth.session_token", "better-auth.session_data"])
    );
    let (_echo, proxy, _dir) = start_proxy(&cookie_config(&issuer)).await;
    let path = format!("/api/{}/tasks", user.id);
    let resp = get(&proxy, &path, &[("Cookie", &cookie)]);
    assert_eq!(resp.status, 200, "{resp:?}\n{}", proxy.stderr());
    let seen = resp.json();
    assert_eq!(header_values(&seen, "x-auth-user-id"), [user.id.as_str()]);
    assert_eq!(header_values(&seen, "x-auth-email"), [user.email.as_str()]);
    // The session cookies (raw session token) never reach the upstream; others do.
    assert_eq!(header_values(&seen, "cookie"), ["theme=dark; lang=en"]);
    let all = seen.to_string();
    assert!(!all.contains(user.cookie("better-auth.session_token").unwrap()));
    assert!(!all.contains(session_data));

    // Chunked cookies are joined.
    let (a, b) = session_data.split_at(300);
    let chunked = format!("better-auth.session_data.0={a}; better-auth.session_data.1={b}");
    assert_eq!(get(&proxy, &path, &[("Cookie", &chunked)]).status, 200);
    // Someone else's path: 403 even with a valid cookie.
    assert_eq!(
        get(&proxy, "/api/someone-else/tasks", &[("Cookie", &cookie)]).status,
        403
    );

    // The same cookie checked with another secret: 401.
    let echo = echo::start().await;
    let (other, _dir2) = Authgate::new(&cookie_config(&issuer), echo.addr)
        .env(
            "BETTER_AUTH_SECRET",
            "a-completely-different-secret-0123456789",
        )
        .wait_until_ready()
        .start();
    let resp = get(&other, &path, &[("Cookie", &cookie)]);
    assert_eq!(resp.status, 401);
    assert_eq!(echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_data_cookie_signed_by_the_jwks() {
    let (issuer, user) = signed_up_with_cookie_cache("jwks", "jwks-cookie@example.com").await;
    let session_data = user
        .cookie("better-auth.session_data")
        .expect("session_data cookie set")
        .to_string();
    let (_echo, proxy, _dir) = start_proxy(&cookie_config(&issuer)).await;
    let path = format!("/api/{}/tasks", user.id);
    let resp = get(
        &proxy,
        &path,
        &[(
            "Cookie",
            &format!("better-auth.session_data={session_data}"),
        )],
    );
    assert_eq!(resp.status, 200, "{resp:?}\n{}", proxy.stderr());
    assert_eq!(
        header_values(&resp.json(), "x-auth-user-id"),
        [user.id.as_str()]
    );
    // The typed session-cache token is not a bearer token.
    let resp = get(&proxy, &path, &[("Authorization", &bearer(&session_data))]);
    assert_eq!(resp.status, 401);
    assert!(resp
        .header("www-authenticate")
        .unwrap()
        .contains("wrong token type"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_kids_cannot_hammer_the_issuer() {
    let issuer = Issuer::start(&IssuerOptions::alg("EdDSA"));
    // One unknown-kid refetch per 10 s: a request whose turn is further than 1 s
    // away does not wait for it.
    let config = jwks_config(&issuer, "").replace(
        "min_refetch_interval_secs = 1\n",
        "min_refetch_interval_secs = 10\n",
    );
    let (_echo, proxy, _dir) = start_proxy(&config).await;
    let before = issuer.jwks_fetches().await;
    assert_eq!(before, 1, "the start-up load");
    let addr = proxy.addr;
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            tokio::task::spawn_blocking(move || {
                let token = authgate_tests::tokens::forge(
                    &json!({"alg": "EdDSA", "kid": format!("random-kid-{i}-{}", authgate_tests::tokens::now())}),
                    &json!({"sub": "u", "exp": authgate_tests::tokens::now() + 60}),
                    None,
                ) + "c2lnbmF0dXJl";
                raw::send(addr, &raw::get("/api/u/tasks", &[("Authorization", &format!("Bearer {token}"))]))
                    .map(|r| r.status)
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), Some(401));
    }
    let after = issuer.jwks_fetches().await;
    assert!(
        after - before <= 1,
        "{} refetches for 60 random kids",
        after - before
    );
}

/// A token with a random `kid`, signed with nothing the issuer has.
fn forged_kid_token(i: usize) -> String {
    authgate_tests::tokens::forge(
        &json!({"alg": "EdDSA", "kid": format!("flood-{i}-{}", authgate_tests::tokens::now())}),
        &json!({"sub": "u", "exp": authgate_tests::tokens::now() + 60}),
        None,
    ) + "c2lnbmF0dXJl"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_key_is_usable_at_once_under_a_flood_of_unknown_kids() {
    let port = free_port();
    let opts = IssuerOptions {
        port,
        ..IssuerOptions::alg("EdDSA")
    };
    let first = Issuer::start(&opts);
    // The default interval: one unknown-kid refetch per second.
    let config = jwks_config(&first, "").replace("min_refetch_interval_secs = 1\n", "");
    let (_echo, proxy, _dir) = start_proxy(&config).await;
    let addr = proxy.addr;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Each forged request waits (up to 1 s) for the next refetch: many clients at
    // once make the flood.
    let flooders: Vec<_> = (0..16)
        .map(|t| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut sent = 0usize;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let auth = format!("Bearer {}", forged_kid_token(t * 1_000_000 + sent));
                    let status =
                        raw::send(addr, &raw::get("/api/u/tasks", &[("Authorization", &auth)]))
                            .map(|r| r.status);
                    assert_eq!(status, Some(401));
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    // Rotate: the issuer comes back with a new key while the flood goes on.
    first.stop();
    let second = Issuer::start(&opts);
    let fetches_before = second.jwks_fetches().await;
    let bob = sign_up(&second, "bob@example.com").await;
    let token = access_token(&second, &bob).await;
    let flood_started = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    let first_use = Instant::now();
    let resp = get(
        &proxy,
        &format!("/api/{}/tasks", bob.id),
        &[("Authorization", &bearer(&token))],
    );
    let waited = first_use.elapsed();
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent: usize = flooders.into_iter().map(|f| f.join().unwrap()).sum();
    let flood_secs = flood_started.elapsed().as_secs_f64();
    let fetches = second.jwks_fetches().await - fetches_before;
    assert_eq!(resp.status, 200, "the genuine token at its first use");
    assert!(
        waited <= Duration::from_millis(1500),
        "the first use waited {waited:?}"
    );
    // Bounded: one refetch per second of flood (plus the one in progress).
    assert!(
        (fetches as f64) <= flood_secs.ceil() + 1.0,
        "{fetches} JWKS fetches in {flood_secs:.1} s of flood ({sent} forged requests)"
    );
    assert!(sent >= 32, "the flood ran: {sent} requests");
}
