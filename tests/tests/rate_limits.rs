//! Rate limits across replicas: two authgate replicas counting in one Redis (a test
//! Redis of its own on a free port, never the machine's), and what happens when that
//! Redis stops under load and comes back, for each `on_redis_error`.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use authgate_tests::echo;
use authgate_tests::metrics::{sample, scrape};
use authgate_tests::process::Service;
use authgate_tests::raw::RawResponse;
use authgate_tests::redis::RedisServer;
use authgate_tests::shared_state::{bearer_issued_at, config, get, replica};
use authgate_tests::tokens::now;

/// 10 per minute, 5 at once, per subject, on `/api/**`.
const PER_USER: &str = r#"
[revocation]
enabled = false

[[rate_limits]]
name = "per-user"
key = "sub"
rate = 10
per = "1m"
burst = 5

[[routes]]
path = "/api/**"
auth = "optional"
rate_limit = ["per-user"]
"#;

fn bearer(sub: &str) -> String {
    bearer_issued_at(sub, now(), None)
}

/// Redis keys matching `pattern`, read with the test's own connection.
fn keys(redis: &RedisServer, pattern: &str) -> Vec<String> {
    redis::cmd("KEYS")
        .arg(pattern)
        .query(&mut redis.connection())
        .expect("KEYS")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subjects_requests_over_two_replicas_share_one_limit() {
    let Some(redis) = RedisServer::start("a_subjects_requests_over_two_replicas_share_one_limit")
    else {
        return;
    };
    let echo = echo::start().await;
    let config = config(&redis, PER_USER);
    let (a, _da) = replica(&config, echo.addr);
    let (b, _db) = replica(&config, echo.addr);
    let alice = bearer("alice");
    let started = Instant::now();
    let mut passed = [0_u32; 2];
    let mut refused = [0_u32; 2];
    let mut last_refusal: Option<RawResponse> = None;
    for i in 0..40 {
        let (n, proxy) = if i % 2 == 0 { (0, &a) } else { (1, &b) };
        let resp = get(proxy, "/api/x", &alice);
        match resp.status {
            200 => {
                passed[n] += 1;
                assert_eq!(
                    resp.header("ratelimit-policy"),
                    Some("\"per-user\";q=10;w=60"),
                    "{resp:?}"
                );
                assert!(
                    resp.header("ratelimit")
                        .is_some_and(|v| v.starts_with("\"per-user\";r=")),
                    "{resp:?}"
                );
            }
            429 => {
                refused[n] += 1;
                last_refusal = Some(resp);
            }
            other => panic!("unexpected {other}: {resp:?}"),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total: u32 = passed.iter().sum();
    // GCRA's bound over `elapsed`: the burst, plus what refilled meanwhile.
    let bound = 5 + (10.0 * elapsed / 60.0).floor() as u32;
    assert!(
        (5..=bound).contains(&total),
        "{total} passed over both replicas in {elapsed:.1} s; the policy's total is {bound} (per replica {passed:?})"
    );
    assert!(
        refused[0] > 0 && refused[1] > 0,
        "both replicas refused: one bucket {refused:?}"
    );
    let refusal = last_refusal.expect("a refusal");
    assert_eq!(refusal.json()["error"], "rate_limited");
    let retry: u64 = refusal.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=6).contains(&retry), "one request in 6 s: {retry}");
    assert_eq!(
        refusal.header("ratelimit"),
        Some(format!("\"per-user\";r=0;t={retry}").as_str())
    );

    // Another subject has a bucket of its own, on both replicas.
    let bob = bearer("bob");
    for i in 0..5 {
        let proxy = if i % 2 == 0 { &a } else { &b };
        assert_eq!(get(proxy, "/api/x", &bob).status, 200, "bob's request {i}");
    }
    let buckets = keys(&redis, "authgate:rl:per-user:*");
    assert_eq!(
        buckets.len(),
        2,
        "one bucket each for alice and bob: {buckets:?}"
    );
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&buckets[0])
        .query(&mut redis.connection())
        .unwrap();
    assert!(
        ttl > 0 && ttl <= 60_000,
        "buckets expire once full again: {ttl} ms"
    );
    let metrics = scrape(&a);
    assert!(
        sample(
            &metrics,
            "authgate_rate_limit_checks_total{policy=\"per-user\",result=\"limited\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{metrics}"
    );
    assert!(
        sample(
            &metrics,
            "authgate_requests_total{decision=\"reject\",reason=\"rate_limited\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{metrics}"
    );
    assert!(
        sample(
            &metrics,
            "authgate_redis_requests_total{op=\"rate_limit\",result=\"ok\"}"
        )
        .is_some_and(|n| n >= 20.0),
        "{metrics}"
    );
}

/// Three policies, one per `on_redis_error`, each on its own route: 1 per minute, 3 at
/// once.
const FALLBACKS: &str = r#"
[revocation]
enabled = false

[[rate_limits]]
name = "local-fallback"
key = "sub"
rate = 1
per = "1m"
burst = 3
on_redis_error = "local"

[[rate_limits]]
name = "open-fallback"
key = "sub"
rate = 1
per = "1m"
burst = 3
on_redis_error = "allow"

[[rate_limits]]
name = "closed-fallback"
key = "sub"
rate = 1
per = "1m"
burst = 3
on_redis_error = "deny"

[[routes]]
path = "/local/**"
rate_limit = ["local-fallback"]

[[routes]]
path = "/allow/**"
rate_limit = ["open-fallback"]

[[routes]]
path = "/deny/**"
rate_limit = ["closed-fallback"]
"#;

/// The statuses `sub` gets for `n` requests to `path`.
fn statuses(proxy: &Service, path: &str, sub: &str, n: usize) -> Vec<u16> {
    let bearer = bearer(sub);
    (0..n).map(|_| get(proxy, path, &bearer).status).collect()
}

/// Requests from other subjects to every route until `stop`: what came back.
struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    unexpected: Arc<std::sync::Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(addr: std::net::SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let unexpected = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (s, n, u) = (stop.clone(), sent.clone(), unexpected.clone());
        let thread = std::thread::spawn(move || {
            let mut i = 0_u64;
            while !s.load(Ordering::Relaxed) {
                i += 1;
                let path = ["/local/x", "/allow/x", "/deny/x"][(i % 3) as usize];
                let bearer = bearer(&format!("load-{}", i % 7));
                let req = authgate_tests::raw::get(path, &[("Authorization", &bearer)]);
                match authgate_tests::raw::send(addr, &req) {
                    Some(r) if matches!(r.status, 200 | 429 | 503) => {}
                    other => u.lock().unwrap().push(format!("{path}: {other:?}")),
                }
                n.fetch_add(1, Ordering::Relaxed);
            }
        });
        Self {
            stop,
            sent,
            unexpected,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("load thread");
        }
        let unexpected = self.unexpected.lock().unwrap().clone();
        (self.sent.load(Ordering::Relaxed), unexpected)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_under_load_follows_on_redis_error_and_enforcement_resumes() {
    let Some(mut redis) = RedisServer::start("redis_stopped_under_load_follows_on_redis_error")
    else {
        return;
    };
    let echo = echo::start().await;
    let (mut proxy, _dir) = replica(&config(&redis, FALLBACKS), echo.addr);
    let load = Load::start(proxy.addr);
    for path in ["/local/x", "/allow/x", "/deny/x"] {
        assert_eq!(
            statuses(&proxy, path, "carol", 4),
            [200, 200, 200, 429],
            "{path}, Redis up"
        );
    }
    for policy in ["local-fallback", "open-fallback", "closed-fallback"] {
        let pattern = format!("authgate:rl:{policy}:*");
        assert!(
            !keys(&redis, &pattern).is_empty(),
            "{pattern}: counted in Redis"
        );
    }

    redis.stop();
    assert_eq!(
        statuses(&proxy, "/local/x", "dave", 5),
        [200, 200, 200, 429, 429],
        "local: this replica enforces the policy on its own"
    );
    assert_eq!(
        statuses(&proxy, "/allow/x", "dave", 6),
        [200; 6],
        "allow: no limit"
    );
    let denied = get(&proxy, "/deny/x", &bearer("dave"));
    assert_eq!(denied.status, 503, "deny: {denied:?}");
    assert_eq!(denied.header("retry-after"), Some("1"));
    assert_eq!(
        denied.header("ratelimit-policy"),
        Some("\"closed-fallback\";q=1;w=60")
    );
    std::thread::sleep(Duration::from_millis(500));

    redis.restart();
    // Redis is back, empty: enforcement goes through it again once the connection is
    // made again (each check waits at most the 500 ms timeout meanwhile).
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(&proxy, "/deny/x", &bearer(&format!("erin-{}", now()))).status != 200 {
        assert!(
            Instant::now() < deadline,
            "Redis never answered again; log:\n{}",
            proxy.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        statuses(&proxy, "/deny/x", "frank", 4),
        [200, 200, 200, 429],
        "deny route limited through Redis again"
    );
    assert!(
        keys(&redis, "authgate:rl:closed-fallback:*").len() >= 2,
        "buckets are in the restarted Redis"
    );
    let (sent, unexpected) = load.finish();
    assert!(
        unexpected.is_empty(),
        "{sent} requests under load: {unexpected:?}"
    );
    assert!(proxy.is_running(), "authgate did not crash");
    let log = proxy.stderr_containing("Redis answers again", Duration::from_secs(5));
    assert_eq!(
        log.matches("Redis does not answer").count(),
        1,
        "the outage is logged once, whatever the {sent} requests; log:\n{log}"
    );
    assert_eq!(log.matches("Redis answers again").count(), 1, "{log}");
    let metrics = scrape(&proxy);
    for (action, at_least) in [("local", 2.0), ("allow", 6.0), ("deny", 1.0)] {
        let policy = match action {
            "local" => "local-fallback",
            "allow" => "open-fallback",
            _ => "closed-fallback",
        };
        let line = format!(
            "authgate_rate_limit_redis_fallbacks_total{{policy=\"{policy}\",action=\"{action}\"}}"
        );
        assert!(
            sample(&metrics, &line).is_some_and(|n| n >= at_least),
            "{line}\n{metrics}"
        );
    }
}

/// One replica without Redis: a per-subject policy of 1 per minute, `burst` at once.
fn local_policy(burst: u32, comment: &str) -> String {
    format!(
        "[server]\nthreads = 1\n\n[[auth.sources]]\ntype = \"shared_secret\"\n\n# {comment}\n[[rate_limits]]\nname = \"per-user\"\nkey = \"sub\"\nrate = 1\nper = \"1m\"\nburst = {burst}\n\n[[routes]]\npath = \"/api/**\"\nrate_limit = [\"per-user\"]\n"
    )
}

/// Sends SIGHUP and waits until the `n`th reload is logged.
fn reload(proxy: &Service, n: usize) {
    proxy.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.stderr().matches("configuration reloaded").count() < n {
        assert!(
            Instant::now() < deadline,
            "not reloaded: {}",
            proxy.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_survive_a_reload_unless_the_policy_changed() {
    let echo = echo::start().await;
    let (proxy, dir) =
        authgate_tests::process::Authgate::new(&local_policy(2, "first"), echo.addr).start();
    let file = dir.path().join("authgate.toml");
    assert_eq!(statuses(&proxy, "/api/x", "gina", 3), [200, 200, 429]);
    // The same policy (another comment): gina's bucket is kept.
    std::fs::write(&file, local_policy(2, "same policy")).unwrap();
    reload(&proxy, 1);
    assert_eq!(
        statuses(&proxy, "/api/x", "gina", 1),
        [429],
        "kept across the reload"
    );
    // A changed policy starts afresh.
    std::fs::write(&file, local_policy(3, "changed")).unwrap();
    reload(&proxy, 2);
    assert_eq!(statuses(&proxy, "/api/x", "gina", 4), [200, 200, 200, 429]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_is_checked_against_the_servers_ca() {
    let Some(redis) = RedisServer::start_tls("rediss_is_checked_against_the_servers_ca") else {
        return;
    };
    let echo = echo::start().await;
    let config = PER_USER.to_string()
        + &format!(
            "\n[server]\nthreads = 1\n\n[[auth.sources]]\ntype = \"shared_secret\"\n\n[redis]\nurl = \"{}\"\ntimeout_ms = 500\n",
            redis.tls_url()
        );
    let ca = redis.ca_file();
    let (trusting, _d1) = authgate_tests::process::Authgate::new(&config, echo.addr)
        .env("SSL_CERT_FILE", ca.to_str().unwrap())
        .start();
    assert_eq!(statuses(&trusting, "/api/x", "hana", 6)[..5], [200; 5]);
    assert!(
        !keys(&redis, "authgate:rl:per-user:*").is_empty(),
        "counted in Redis over TLS"
    );
    // Without the CA the certificate is refused: Redis "does not answer", the policy
    // falls back to this replica (local), and the log says why once.
    let (doubting, _d2) = authgate_tests::process::Authgate::new(&config, echo.addr)
        .env("SSL_CERT_FILE", "/nonexistent/ca.pem")
        .start();
    assert_eq!(
        statuses(&doubting, "/api/x", "ivy", 6),
        [200, 200, 200, 200, 200, 429]
    );
    let log = doubting.stderr_containing("Redis does not answer", Duration::from_secs(5));
    assert_eq!(log.matches("Redis does not answer").count(), 1, "{log}");
}
