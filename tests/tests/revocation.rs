//! Revocation across replicas: `authgate revoke` (and the Better Auth hook running the
//! same script) against authgate replicas that follow one test Redis (of its own, on
//! a free port, never the machine's).

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use authgate_tests::echo;
use authgate_tests::gated::assert_invalid_token;
use authgate_tests::metrics::{sample, scrape};
use authgate_tests::process::{authgate_check, Service};
use authgate_tests::raw;
use authgate_tests::redis::RedisServer;
use authgate_tests::shared_state::{bearer_issued_at, config, get, replica, revoke};
use authgate_tests::tokens::now;

/// Revocations kept 900 s plus the 30 s leeway; the version checked every second.
const FOLLOW: &str = r#"
[revocation]
resync_secs = 1

[[routes]]
path = "/api/**"
"#;

fn config_file(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("authgate.toml")
}

/// Polls `path` with `bearer` on `addr` until it is refused as revoked; when that
/// happened, or `None` after `limit`.
fn first_refusal(
    addr: SocketAddr,
    bearer: String,
    limit: Duration,
) -> std::thread::JoinHandle<Option<Instant>> {
    std::thread::spawn(move || {
        let deadline = Instant::now() + limit;
        let req = raw::get("/api/x", &[("Authorization", &bearer)]);
        while Instant::now() < deadline {
            if let Some(r) = raw::send(addr, &req) {
                if r.status == 401 {
                    return Some(Instant::now());
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    })
}

/// Another subject's requests to every replica until stopped; the statuses that
/// were not 200.
fn steady_load(
    addrs: Vec<SocketAddr>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(usize, Vec<u16>)> {
    std::thread::spawn(move || {
        let bob = bearer_issued_at("bob", now() - 5, None);
        let req = raw::get("/api/x", &[("Authorization", &bob)]);
        let (mut sent, mut bad) = (0, Vec::new());
        while !stop.load(Ordering::Relaxed) {
            for addr in &addrs {
                sent += 1;
                match raw::send(*addr, &req).map(|r| r.status) {
                    Some(200) => {}
                    other => bad.push(other.unwrap_or(0)),
                }
            }
        }
        (sent, bad)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_subject_is_refused_on_every_replica_within_a_second() {
    let Some(redis) = RedisServer::start("a_revoked_subject_is_refused_on_every_replica") else {
        return;
    };
    let echo = echo::start().await;
    let config = config(&redis, FOLLOW);
    let (a, dir) = replica(&config, echo.addr);
    let (b, _db) = replica(&config, echo.addr);
    let alice_old = bearer_issued_at("alice", now() - 5, None);
    for proxy in [&a, &b] {
        assert_eq!(get(proxy, "/api/x", &alice_old).status, 200);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let load = steady_load(vec![a.addr, b.addr], stop.clone());
    let watchers: Vec<_> = [&a, &b]
        .iter()
        .map(|p| first_refusal(p.addr, alice_old.clone(), Duration::from_secs(5)))
        .collect();

    let asked = Instant::now();
    let (code, out, err) = revoke(&config_file(&dir), &["--sub", "alice"]);
    let done = Instant::now();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("revoked subject \"alice\""), "{out}");
    for (name, watcher) in ["a", "b"].iter().zip(watchers) {
        let refused = watcher.join().unwrap().expect("the old token was refused");
        let after = refused.saturating_duration_since(asked);
        eprintln!(
            "replica {name}: refused {} ms after `authgate revoke` started ({} ms after it exited)",
            after.as_millis(),
            refused.saturating_duration_since(done).as_millis()
        );
        assert!(after <= Duration::from_secs(1), "replica {name}: {after:?}");
    }
    for proxy in [&a, &b] {
        let resp = get(proxy, "/api/x", &alice_old);
        assert_invalid_token(&resp, "token revoked", &alice_old);
    }
    // A token issued after the revocation (iat has whole seconds, so the second of
    // the revocation counts as before it) passes on both.
    std::thread::sleep(Duration::from_millis(1100));
    let alice_new = bearer_issued_at("alice", now(), None);
    for proxy in [&a, &b] {
        assert_eq!(get(proxy, "/api/x", &alice_new).status, 200);
    }
    // A replica started after the revocation refuses the old token from its first
    // request.
    let (c, _dc) = replica(&config, echo.addr);
    assert_eq!(get(&c, "/api/x", &alice_old).status, 401);
    assert_eq!(get(&c, "/api/x", &alice_new).status, 200);
    // --before: only tokens issued before that moment.
    let before = rfc3339(now() - 100);
    let (code, out, err) = revoke(&config_file(&dir), &["--sub", "carol", "--before", &before]);
    assert_eq!(code, 0, "{out}{err}");
    let carol_older = bearer_issued_at("carol", now() - 200, None);
    let carol_newer = bearer_issued_at("carol", now() - 50, None);
    let limit = Duration::from_secs(1);
    answers_within(
        &c,
        &carol_older,
        401,
        Instant::now(),
        limit,
        "carol's older token",
    );
    assert_eq!(get(&c, "/api/x", &carol_newer).status, 200);

    stop.store(true, Ordering::Relaxed);
    let (sent, bad) = load.join().unwrap();
    assert!(bad.is_empty(), "bob was affected: {bad:?} of {sent}");
    let metrics = scrape(&a);
    assert_eq!(
        sample(&metrics, "authgate_revocations{kind=\"sub\"}"),
        Some(2.0),
        "{metrics}"
    );
    assert!(
        sample(
            &metrics,
            "authgate_requests_total{decision=\"reject\",reason=\"revoked\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{metrics}"
    );
}

/// Polls `/api/x` with `bearer` until it answers `want`; how long that took from
/// `since`. Fails after `limit` (from `since`), saying `what`.
fn answers_within(
    proxy: &Service,
    bearer: &str,
    want: u16,
    since: Instant,
    limit: Duration,
    what: &str,
) -> Duration {
    while get(proxy, "/api/x", bearer).status != want {
        assert!(
            since.elapsed() < limit,
            "{what}: not {want} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    since.elapsed()
}

/// `secs` since the epoch as RFC 3339 (UTC), with `date`.
fn rfc3339(secs: u64) -> String {
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .expect("run date");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Revocations kept 2 s (no leeway), the version checked every second.
const SHORT_LIVED: &str = r#"
[auth]
leeway_secs = 0

[revocation]
max_token_lifetime_secs = 2
resync_secs = 1

[[routes]]
path = "/api/**"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_by_its_jti_is_listed_and_expires_after_the_lifetime() {
    let Some(redis) = RedisServer::start("one_token_by_its_jti_is_listed_and_expires") else {
        return;
    };
    let echo = echo::start().await;
    let (proxy, dir) = replica(&config(&redis, SHORT_LIVED), echo.addr);
    let file = config_file(&dir);
    let first = bearer_issued_at("carol", now() - 1, Some("token-1"));
    let second = bearer_issued_at("carol", now() - 1, Some("token-2"));
    let (code, out, err) = revoke(&file, &["--jti", "token-1"]);
    assert_eq!(code, 0, "{out}{err}");
    let limit = Duration::from_secs(1);
    answers_within(&proxy, &first, 401, Instant::now(), limit, "token-1");
    assert_eq!(
        get(&proxy, "/api/x", &second).status,
        200,
        "only that token"
    );
    let (code, listed, err) = revoke(&file, &["--list"]);
    assert_eq!(code, 0, "{err}");
    assert!(listed.contains("jti\t\"token-1\"\t"), "{listed}");

    // Two seconds later every token the revocation could refuse has expired: it is
    // gone from Redis's listing and from the replica.
    let limit = Duration::from_secs(5);
    answers_within(
        &proxy,
        &first,
        200,
        Instant::now(),
        limit,
        "the expired revocation",
    );
    let (_, listed, _) = revoke(&file, &["--list"]);
    assert_eq!(listed.trim(), "no revocation in force");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_message_is_caught_by_the_version_check() {
    let Some(redis) = RedisServer::start("a_lost_message_is_caught_by_the_version_check") else {
        return;
    };
    let echo = echo::start().await;
    let (proxy, _dir) = replica(&config(&redis, FOLLOW), echo.addr);
    let dave = bearer_issued_at("dave", now() - 5, None);
    assert_eq!(get(&proxy, "/api/x", &dave).status, 200);
    // The record written as `authgate revoke` writes it, but announced on a channel
    // nobody follows: the message is lost.
    let script = std::fs::read_to_string(
        authgate_tests::process::workspace_root().join("proxy/src/revocation/revoke.lua"),
    )
    .unwrap();
    let written = Instant::now();
    let _: Vec<u64> = redis::cmd("EVAL")
        .arg(script)
        .arg(3)
        .arg(
            &[
                "authgate:revoked:sub",
                "authgate:revoked:jti",
                "authgate:revoked:version",
            ][..],
        )
        .arg(&["sub", "dave", "", "930", "nobody-listens"][..])
        .query(&mut redis.connection())
        .unwrap();
    let limit = Duration::from_millis(2500);
    answers_within(
        &proxy,
        &dave,
        401,
        written,
        limit,
        "the resync (every second)",
    );
    eprintln!("caught after {} ms", written.elapsed().as_millis());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_needs_redis_and_never_shows_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let no_redis = dir.path().join("no-redis.toml");
    std::fs::write(&no_redis, "[[auth.sources]]\ntype = \"shared_secret\"\n").unwrap();
    let (code, out, err) = revoke(&no_redis, &["--sub", "alice"]);
    assert_eq!(code, 64, "{out}{err}");
    assert!(
        err.contains("revoke needs Redis") && err.contains("no-redis.toml"),
        "{err}"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = dir.path().join("down.toml");
    std::fs::write(
        &down,
        format!("[redis]\nurl = \"redis://:secret-pw-123@127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let (code, out, err) = revoke(&down, &["--jti", "x"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains(&format!("redis://:***@127.0.0.1:{port}")),
        "{err}"
    );
    assert!(
        !err.contains("secret-pw-123") && !out.contains("secret-pw-123"),
        "{err}"
    );
    let (code, _, err) = revoke(
        &down,
        &["--sub", "alice", "--before", "2999-01-01T00:00:00Z"],
    );
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("future"), "{err}");

    let (code, _, err) = authgate_check(
        "[[auth.sources]]\ntype = \"shared_secret\"\n[redis]\nurl = \"redis://cache:6379\"\n",
        &[
            ("BETTER_AUTH_SECRET", authgate_tests::BETTER_AUTH_SECRET),
            (
                "AUTHGATE_ASSERTION_SECRET",
                authgate_tests::ASSERTION_SECRET,
            ),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("revocation.require_iat") && err.contains("iat"),
        "{err}"
    );
}

mod better_auth {
    use super::*;
    use authgate_tests::issuer::{self, access_token, sign_up, Issuer, IssuerOptions};

    /// The real better-auth 1.7.25 with the admin plugin and the hook of the README
    /// (tests/issuer/revocation-hook.mjs, node-redis): signing out and a ban revoke
    /// the user's tokens at authgate within a second; a new sign-in's token passes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sign_out_and_ban_revoke_through_the_better_auth_hook() {
        let Some(redis) =
            RedisServer::start("sign_out_and_ban_revoke_through_the_better_auth_hook")
        else {
            return;
        };
        let mut options = IssuerOptions::alg("EdDSA");
        options.redis_url = Some(redis.url());
        let issuer = Issuer::start(&options);
        let echo = echo::start().await;
        let base = &issuer.base;
        let config = format!(
            "[server]\nthreads = 1\n\n[[auth.sources]]\ntype = \"jwks_url\"\nurl = \"{}\"\nissuer = [\"{base}\"]\naudience = [\"{base}\"]\n\n[redis]\nurl = \"{}\"\ntimeout_ms = 500\n\n[revocation]\nrequire_iat = true\n\n[[routes]]\npath = \"/api/**\"\n",
            issuer.jwks_url(),
            redis.url()
        );
        let (proxy, _dir) = authgate_tests::process::Authgate::new(&config, echo.addr)
            .wait_until_ready()
            .start();

        // Sign-out: Better Auth deletes the session; the hook revokes the user.
        let mut ann = sign_up(&issuer, "ann@example.com").await;
        let token = format!("Bearer {}", access_token(&issuer, &ann).await);
        assert_eq!(get(&proxy, "/api/x", &token).status, 200);
        let signed_out = Instant::now();
        issuer::sign_out(&issuer, &ann).await;
        let took = answers_within(
            &proxy,
            &token,
            401,
            signed_out,
            Duration::from_secs(1),
            "sign-out",
        );
        eprintln!(
            "sign-out: refused {} ms after sign-out returned",
            took.as_millis()
        );
        let resp = get(&proxy, "/api/x", &token);
        assert_eq!(
            resp.header("www-authenticate")
                .map(|c| c.contains("token revoked")),
            Some(true)
        );
        // Signing in again (a second later: iat has whole seconds) gives a token that
        // passes.
        std::thread::sleep(Duration::from_millis(1100));
        ann = issuer::sign_in(&issuer, "ann@example.com").await;
        let fresh = format!("Bearer {}", access_token(&issuer, &ann).await);
        assert_eq!(get(&proxy, "/api/x", &fresh).status, 200);

        // Ban: the admin plugin marks the user banned and deletes their sessions.
        let ben = sign_up(&issuer, "ben@example.com").await;
        let ben_token = format!("Bearer {}", access_token(&issuer, &ben).await);
        // root@ signs up as admin (the issuer's bootstrap hook).
        let admin = sign_up(&issuer, "root@example.com").await;
        assert_eq!(get(&proxy, "/api/x", &ben_token).status, 200);
        let banned = Instant::now();
        issuer::ban(&issuer, &admin, &ben.id).await;
        let took = answers_within(
            &proxy,
            &ben_token,
            401,
            banned,
            Duration::from_secs(1),
            "ban",
        );
        eprintln!(
            "ban: refused {} ms after the ban returned",
            took.as_millis()
        );
        assert_eq!(
            get(&proxy, "/api/x", &fresh).status,
            200,
            "ann is not affected"
        );
        let (_, listed, _) = {
            let file = _dir.path().join("authgate.toml");
            revoke(&file, &["--list"])
        };
        assert!(listed.contains(&format!("sub\t\"{}\"", ann.id)), "{listed}");
        assert!(listed.contains(&format!("sub\t\"{}\"", ben.id)), "{listed}");
        issuer.stop();
    }
}
