//! The replay record in Redis, with the real binary and a Redis server of the test's own
//! (`authgate_tests::redis`): shared by replicas, keys that expire with their
//! assertion, 503 (never a pass) while Redis is down or slow, recovery without a
//! restart, and the URL's password kept out of the logs.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use authgate_tests::process::Service;
use authgate_tests::raw::{self, RawResponse};
use authgate_tests::redis::RedisServer;
use authgate_tests::upstream::{self, Database};
use serde_json::{json, Value};

use crate::common::*;

const PATH: &str = "/api/alice/tasks";
const LEEWAY_SECS: u64 = upstream_api::trust::CLOCK_LEEWAY_SECS;

/// A replica: the real upstream-api on its own SQLite file, with `env` (Redis settings).
struct Replica {
    service: Service,
    _database: Database,
}

impl Replica {
    fn start(env: &[(&str, &str)]) -> Self {
        let database = Database::sqlite();
        let mut cmd = upstream::command(Path::new(env!("CARGO_BIN_EXE_upstream-api")), &database);
        cmd.env("AUTHGATE_ASSERTION_SECRET", SECRET);
        for (name, value) in env {
            cmd.env(name, value);
        }
        Self {
            service: upstream::spawn(cmd),
            _database: database,
        }
    }

    fn with_redis(redis: &RedisServer) -> Self {
        Self::start(&[("REDIS_URL", &redis.url())])
    }

    fn addr(&self) -> SocketAddr {
        self.service.addr
    }

    /// `GET /api/alice/tasks` with `assertion`.
    fn get(&self, assertion: &str) -> RawResponse {
        let addr = self.addr();
        let request = format!(
            "GET {PATH} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nX-Auth-Assertion: {assertion}\r\n\r\n"
        );
        raw::send(addr, request.as_bytes()).unwrap_or_else(|| panic!("no response from {addr}"))
    }
}

/// The claims of a fresh assertion for `GET /api/alice/tasks`.
fn fresh_claims() -> Value {
    claims("alice", "GET", PATH)
}

fn jti(claims: &Value) -> String {
    claims["jti"].as_str().expect("jti").to_owned()
}

fn replay_key(claims: &Value) -> String {
    format!("upstream-api:jti:{}", jti(claims))
}

fn unix_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    u64::try_from(since.as_millis()).expect("ms fit in u64")
}

fn assert_replayed(response: &RawResponse, what: &str) {
    assert_eq!(response.status, 401, "{what}: {}", response.body);
    assert_eq!(
        response.json()["message"],
        "assertion was already used",
        "{what}"
    );
}

fn assert_unavailable(response: &RawResponse, what: &str) {
    assert_eq!(response.status, 503, "{what}: {}", response.body);
    assert_eq!(response.header("retry-after"), Some("1"), "{what}");
    let body = response.json();
    assert_eq!(body["error"], "service_unavailable", "{what}: {body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("Redis")),
        "{what}: {body}"
    );
}

#[test]
fn two_replicas_sharing_redis_accept_an_assertion_once() {
    let Some(redis) = RedisServer::start("two_replicas_sharing_redis_accept_an_assertion_once")
    else {
        return;
    };
    let a = Replica::with_redis(&redis);
    let b = Replica::with_redis(&redis);

    let first = fresh_claims();
    let token = sign(&first);
    assert_eq!(a.get(&token).status, 200);
    assert_replayed(&b.get(&token), "the other replica");
    assert_replayed(&a.get(&token), "the same replica");

    let second = fresh_claims();
    let token = sign(&second);
    assert_eq!(b.get(&token).status, 200);
    assert_replayed(&a.get(&token), "the first replica, the other way round");

    // Each accepted id is one key under the fixed prefix.
    let mut connection = redis.connection();
    for claims in [&first, &second] {
        let exists: bool = ::redis::cmd("EXISTS")
            .arg(replay_key(claims))
            .query(&mut connection)
            .expect("EXISTS");
        assert!(exists, "no key for {}", jti(claims));
    }
}

#[test]
fn the_replay_key_expires_with_the_assertion() {
    let Some(redis) = RedisServer::start("the_replay_key_expires_with_the_assertion") else {
        return;
    };
    let replica = Replica::with_redis(&redis);
    let mut connection = redis.connection();
    let pttl = |connection: &mut ::redis::Connection, claims: &Value| -> i64 {
        ::redis::cmd("PTTL")
            .arg(replay_key(claims))
            .query(connection)
            .expect("PTTL")
    };

    // A usual assertion: the key lives until the end of the last second in which the
    // assertion can pass (exp + leeway), no shorter (a replay window) and no longer.
    let claims = fresh_claims();
    let exp = claims["exp"].as_u64().expect("exp");
    let ends_ms = (exp + LEEWAY_SECS + 1) * 1000;
    let before = unix_ms();
    assert_eq!(replica.get(&sign(&claims)).status, 200);
    let ttl = pttl(&mut connection, &claims);
    let after = unix_ms();
    let ttl = u64::try_from(ttl).unwrap_or_else(|_| panic!("no expiry on the key: PTTL {ttl}"));
    assert!(
        ttl <= ends_ms - before && ttl >= ends_ms - after - 50,
        "PTTL {ttl} ms; the assertion passes for {}..{} ms more",
        ends_ms - after,
        ends_ms - before
    );

    // An assertion in its last seconds (expired 3 s ago, within the 5 s leeway): its key
    // is gone within about 2 s, and by then the assertion itself is refused as expired.
    let now = unix_ms() / 1000;
    let mut claims = fresh_claims();
    claims["iat"] = json!(now - 10);
    claims["exp"] = json!(now - 3);
    let token = sign(&claims);
    assert_eq!(replica.get(&token).status, 200, "within the leeway");
    let ttl = pttl(&mut connection, &claims);
    assert!((1..=3000).contains(&ttl), "PTTL {ttl} ms");
    let deadline = Instant::now() + Duration::from_secs(5);
    while pttl(&mut connection, &claims) != -2 {
        assert!(Instant::now() < deadline, "the key outlived its assertion");
        std::thread::sleep(Duration::from_millis(100));
    }
    let response = replica.get(&token);
    assert_eq!(response.status, 401, "{}", response.body);
    assert_eq!(response.json()["message"], "assertion expired");
}

#[test]
fn a_stopped_redis_is_503_and_requests_pass_again_once_it_is_back() {
    let Some(mut redis) =
        RedisServer::start("a_stopped_redis_is_503_and_requests_pass_again_once_it_is_back")
    else {
        return;
    };
    let mut replica = Replica::with_redis(&redis);
    assert_eq!(replica.get(&sign(&fresh_claims())).status, 200);

    redis.stop();
    for round in 0..4 {
        let started = Instant::now();
        let response = replica.get(&sign(&fresh_claims()));
        assert_unavailable(&response, &format!("request {round} with Redis stopped"));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a refusal took {:?}",
            started.elapsed()
        );
    }
    // Refused with 503: not used up, it passes once Redis is back.
    let held = sign(&fresh_claims());
    assert_unavailable(&replica.get(&held), "the held assertion");

    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = replica.get(&sign(&fresh_claims()));
        if response.status == 200 {
            break;
        }
        assert_unavailable(&response, "while Redis comes back");
        assert!(
            Instant::now() < deadline,
            "upstream-api did not use Redis again within 15 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        replica.service.is_running(),
        "upstream-api was not restarted"
    );
    assert_eq!(replica.get(&held).status, 200, "a 503 did not use it up");
    assert_replayed(&replica.get(&held), "after the outage");

    // One line when the outage began and one when it ended, not one per request.
    let log = replica
        .service
        .stderr_containing("Redis answers again", Duration::from_secs(5));
    let warnings = log.matches("Redis does not answer").count();
    let recoveries = log.matches("Redis answers again").count();
    assert_eq!((warnings, recoveries), (1, 1), "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("Redis does not answer")),
        "{log}"
    );
}

#[test]
fn a_slow_redis_is_503_not_a_pass() {
    let Some(redis) = RedisServer::start("a_slow_redis_is_503_not_a_pass") else {
        return;
    };
    let replica = Replica::with_redis(&redis);
    assert_eq!(replica.get(&sign(&fresh_claims())).status, 200);

    // Redis holds every write for 2 s; the default timeout is 50 ms.
    let mut connection = redis.connection();
    let _: () = ::redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(2000)
        .arg("WRITE")
        .query(&mut connection)
        .expect("CLIENT PAUSE");
    let started = Instant::now();
    let response = replica.get(&sign(&fresh_claims()));
    let took = started.elapsed();
    assert_unavailable(&response, "while Redis is paused");
    assert!(took < Duration::from_secs(1), "the refusal took {took:?}");

    let deadline = Instant::now() + Duration::from_secs(10);
    while replica.get(&sign(&fresh_claims())).status != 200 {
        assert!(Instant::now() < deadline, "no pass after the pause");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_redis_url_can_come_from_a_file_and_its_password_is_never_logged() {
    const PASSWORD: &str = "redis-test-password-0123456789";
    let Some(redis) = RedisServer::start_with_password(
        "the_redis_url_can_come_from_a_file_and_its_password_is_never_logged",
        PASSWORD,
    ) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("redis-url");
    std::fs::write(&file, format!("{}\n", redis.url())).expect("write");
    let file = file.to_str().expect("utf-8 path");
    let mut replica = Replica::start(&[("REDIS_URL_FILE", file)]);
    let token = sign(&fresh_claims());
    assert_eq!(replica.get(&token).status, 200);
    assert_replayed(&replica.get(&token), "the same assertion");

    // A wrong password is a failing Redis: 503, never a pass.
    let wrong = redis.url().replace(PASSWORD, "not-the-password-0123456789");
    let mut refused = Replica::start(&[("REDIS_URL", &wrong)]);
    assert_unavailable(&refused.get(&sign(&fresh_claims())), "wrong password");

    for service in [&mut replica.service, &mut refused.service] {
        let status = service.terminate(Duration::from_secs(30));
        assert!(status.is_some_and(|s| s.success()), "{status:?}");
    }
    let log = replica.service.stderr();
    assert!(!log.contains(PASSWORD), "password logged: {log}");
    assert!(
        log.contains(&format!("redis://:***@127.0.0.1:{}", redis.port())),
        "{log}"
    );
    let log = refused.service.stderr();
    assert!(!log.contains("not-the-password"), "password logged: {log}");
    assert!(log.contains("Redis does not answer"), "{log}");
    assert!(log.contains("Password authentication failed"), "{log}");
}

#[test]
fn rediss_checks_the_server_certificate() {
    let Some(redis) = RedisServer::start_tls("rediss_checks_the_server_certificate") else {
        return;
    };
    let ca = redis.ca_file();
    let ca = ca.to_str().expect("utf-8 path");
    let tls_url = redis.tls_url();
    // The test CA as the only trusted root: TLS to Redis works, replicas share the record.
    let a = Replica::start(&[("REDIS_URL", &tls_url), ("SSL_CERT_FILE", ca)]);
    let b = Replica::start(&[("REDIS_URL", &tls_url), ("SSL_CERT_FILE", ca)]);
    let claims = fresh_claims();
    let token = sign(&claims);
    assert_eq!(a.get(&token).status, 200);
    assert_replayed(&b.get(&token), "the other replica, over TLS");
    let exists: bool = ::redis::cmd("EXISTS")
        .arg(replay_key(&claims))
        .query(&mut redis.connection())
        .expect("EXISTS");
    assert!(exists, "the key is not in the server that spoke TLS");

    // The system's roots do not know the test CA: the certificate is refused, and so is
    // the request (503), rather than an unverified connection used.
    let mut untrusting = Replica::start(&[("REDIS_URL", &tls_url)]);
    assert_unavailable(
        &untrusting.get(&sign(&fresh_claims())),
        "certificate not trusted",
    );
    untrusting.service.terminate(Duration::from_secs(30));
    let log = untrusting.service.stderr();
    assert!(log.contains("Redis does not answer"), "{log}");
    assert!(log.contains("invalid peer certificate"), "{log}");
}
