//! Running authgate in production, with the real binary: the admin listener and its
//! metrics, hot reload on SIGHUP (with secret files), shutdown on SIGTERM, the
//! forwarding headers behind a trusted ingress, and the connection limits.

#![allow(clippy::unwrap_used)]

use authgate_tests::echo::{self, header_values};
use authgate_tests::gated::{Gated, CONFIG, ROUTES};
use authgate_tests::metrics::sample;
use authgate_tests::process::Authgate;
use authgate_tests::raw::{self, RawResponse};
use authgate_tests::tokens::{self, alice_token, claims, hs256};
use authgate_tests::{ASSERTION_SECRET, BETTER_AUTH_SECRET};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn base_config(extra_server: &str) -> String {
    format!(
        "[server]\nthreads = 2\ngrace_period_secs = 5\n{extra_server}\n[[auth.sources]]\ntype = \"shared_secret\"\n{ROUTES}"
    )
}

fn bearer(sub: &str, secret: &str) -> String {
    format!("Bearer {}", hs256(&claims(sub), secret))
}

fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> RawResponse {
    raw::send(addr, &raw::get(path, headers)).expect("a response")
}

/// Without `threads`, authgate runs one worker thread per CPU it may use: one when
/// its affinity is a single CPU (as `taskset`, a cpuset or a CPU quota would make it),
/// every CPU otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_default_to_the_cpus_the_process_may_use() {
    let echo = echo::start().await;
    let config = format!("[server]\n[[auth.sources]]\ntype = \"shared_secret\"\n{ROUTES}");
    let (pinned, _d1) = Authgate::new(&config, echo.addr).on_cpus("0").start();
    let log = pinned.stderr_containing("authgate starting", Duration::from_secs(5));
    assert!(log.contains("threads=1"), "{log}");
    assert_eq!(get(pinned.addr, "/public/x", &[]).status, 200);

    let cpus = std::thread::available_parallelism().unwrap().get();
    let (free, _d2) = Authgate::new(&config, echo.addr).start();
    let log = free.stderr_containing("authgate starting", Duration::from_secs(5));
    assert!(log.contains(&format!("threads={cpus}")), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_listener_serves_metrics_with_bounded_labels() {
    let echo = echo::start().await;
    let (proxy, _dir) = Authgate::new(&base_config(""), echo.addr).start();
    let alice = bearer("alice", BETTER_AUTH_SECRET);
    assert_eq!(
        get(proxy.addr, "/api/alice/tasks", &[("Authorization", &alice)]).status,
        200
    );
    assert_eq!(
        get(proxy.addr, "/api/alice/tasks", &[("Authorization", &alice)]).status,
        200
    );
    assert_eq!(
        get(proxy.addr, "/api/bob/tasks", &[("Authorization", &alice)]).status,
        403
    );
    assert_eq!(get(proxy.addr, "/api/alice/tasks", &[]).status, 401);
    assert_eq!(get(proxy.addr, "/public/x", &[]).status, 200);
    let admin = proxy.admin.unwrap();
    // A request is counted once its response is written, a moment after the
    // client has it: wait (bounded) for all five.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut metrics = get(admin, "/metrics", &[]);
    while sample(&metrics.body, "authgate_request_duration_seconds_count") < Some(5.0)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
        metrics = get(admin, "/metrics", &[]);
    }
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{metrics:?}"
    );
    let text = &metrics.body;
    for (line, at_least) in [
        (
            "authgate_requests_total{decision=\"allow\",reason=\"\"}",
            2.0,
        ),
        (
            "authgate_requests_total{decision=\"reject\",reason=\"owner_mismatch\"}",
            1.0,
        ),
        (
            "authgate_requests_total{decision=\"reject\",reason=\"missing_token\"}",
            1.0,
        ),
        (
            "authgate_requests_total{decision=\"anonymous\",reason=\"\"}",
            1.0,
        ),
        ("authgate_request_duration_seconds_count", 5.0),
        ("authgate_token_cache_lookups_total{result=\"hit\"}", 1.0),
        ("authgate_token_cache_lookups_total{result=\"miss\"}", 1.0),
        ("authgate_build_info{version=", 1.0),
    ] {
        let value = sample(text, line).unwrap_or_else(|| panic!("{line} missing:\n{text}"));
        assert!(value >= at_least, "{line} = {value}");
    }
    // Bounded labels: no path and no subject ever appears.
    assert!(!text.contains("alice") && !text.contains("/api/"), "{text}");
    // The admin port is never proxied and needs no token.
    assert_eq!(get(admin, "/api/alice/tasks", &[]).status, 404);
    assert_eq!(echo.hits(), 3);
    // Probes are not access-logged at INFO.
    for _ in 0..3 {
        assert_eq!(get(admin, "/readyz", &[]).status, 200);
    }
    // The log is written asynchronously: wait for the five request lines.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut log = proxy.stderr();
    while log.matches("authgate::access").count() < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        log = proxy.stderr();
    }
    std::thread::sleep(Duration::from_millis(100));
    let log = proxy.stderr();
    assert!(!log.contains("/readyz"), "{log}");
    assert_eq!(log.matches("authgate::access").count(), 5, "{log}");
}

/// Prometheus itself (Debian's package) scrapes the admin port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_the_admin_port() {
    let Some(prometheus) = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        assert!(
            std::env::var_os("CI").is_none() && std::env::var_os("REQUIRE_PROMETHEUS").is_none(),
            "prometheus is required here (scripts/ensure-deps.sh installs it)"
        );
        println!("SKIP: prometheus is not installed (scripts/ensure-deps.sh installs it)");
        return;
    };
    let echo = echo::start().await;
    let (proxy, _dir) = Authgate::new(&base_config(""), echo.addr).start();
    let alice = bearer("alice", BETTER_AUTH_SECRET);
    for _ in 0..3 {
        assert_eq!(
            get(proxy.addr, "/api/alice/x", &[("Authorization", &alice)]).status,
            200
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let admin = proxy.admin.unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: authgate\n    static_configs:\n      - targets: ['{admin}']\n"
        ),
    )
    .unwrap();
    let web = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut child = std::process::Command::new(prometheus)
        .arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={web}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
        .spawn()
        .expect("start prometheus");
    let client = reqwest::Client::new();
    let query = |q: &'static str| {
        let client = client.clone();
        async move {
            let mut url = reqwest::Url::parse(&format!("http://{web}/api/v1/query")).ok()?;
            url.query_pairs_mut().append_pair("query", q);
            let resp = client.get(url).send().await.ok()?;
            let v: serde_json::Value = resp.json().await.ok()?;
            v["data"]["result"][0]["value"][1]
                .as_str()?
                .parse::<f64>()
                .ok()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut up, mut requests) = (None, None);
    while Instant::now() < deadline {
        up = query("up{job=\"authgate\"}").await;
        requests = query("sum(authgate_requests_total{decision=\"allow\"})").await;
        if up == Some(1.0) && requests.is_some_and(|r| r > 0.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();
    assert_eq!(
        up,
        Some(1.0),
        "Prometheus sees authgate up; its log:\n{log}"
    );
    assert!(
        requests.is_some_and(|r| r >= 3.0),
        "requests counted: {requests:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_routes_and_keeps_the_old_config_when_the_new_is_invalid() {
    let echo = echo::start().await;
    let (proxy, dir) = Authgate::new(&base_config(""), echo.addr).start();
    let config = dir.path().join("authgate.toml");
    assert_eq!(get(proxy.addr, "/open/x", &[]).status, 401);
    let reloads = |result: &str| {
        let text = get(proxy.admin.unwrap(), "/metrics", &[]).body;
        sample(
            &text,
            &format!("authgate_config_reloads_total{{result=\"{result}\"}}"),
        )
        .unwrap_or(0.0)
    };
    // A new public route.
    std::fs::write(
        &config,
        format!(
            "{}\n[[routes]]\npath = \"/open/**\"\nauth = \"public\"\n",
            base_config("")
        ),
    )
    .unwrap();
    proxy.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(proxy.addr, "/open/x", &[]).status != 200 {
        assert!(
            Instant::now() < deadline,
            "not reloaded: {}",
            proxy.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(reloads("success"), 1.0);
    // An invalid file keeps the running configuration and says where the error is.
    std::fs::write(
        &config,
        "[[routes]]\npath = \"/open/**\"\nauth = \"maybe\"\n",
    )
    .unwrap();
    proxy.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while reloads("error") < 1.0 {
        assert!(
            Instant::now() < deadline,
            "no failed reload: {}",
            proxy.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        get(proxy.addr, "/open/x", &[]).status,
        200,
        "old config still serving"
    );
    let log = proxy.stderr_containing("routes[0].auth", Duration::from_secs(5));
    assert!(
        log.contains("routes[0].auth") && log.contains("authgate.toml"),
        "{log}"
    );
    // A change that needs a restart is said to need one.
    std::fs::write(
        &config,
        base_config("threads = 1\n").replace("threads = 2\n", ""),
    )
    .unwrap();
    proxy.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !proxy.stderr().contains("server.threads") {
        assert!(Instant::now() < deadline, "{}", proxy.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        get(proxy.admin.unwrap(), "/healthz", &[]).status == 200,
        "still alive after SIGHUPs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_a_secret_file_with_sighup_switches_keys() {
    let echo = echo::start().await;
    let secrets = tempfile::tempdir().unwrap();
    let key = secrets.path().join("better-auth-secret");
    let old = "old-better-auth-secret-0123456789abcdef";
    let new = "new-better-auth-secret-0123456789abcdef";
    std::fs::write(&key, format!("{old}\n")).unwrap();
    let config = format!(
        "[server]\nthreads = 1\n[[auth.sources]]\ntype = \"shared_secret\"\nsecret_file = \"{}\"\n{ROUTES}",
        key.display()
    );
    let (proxy, _dir) = Authgate::new(&config, echo.addr)
        .env(
            "BETTER_AUTH_SECRET",
            "ignored-because-the-file-wins-0123456789",
        )
        .start();
    let status = |secret: &str| {
        get(
            proxy.addr,
            "/api/alice/x",
            &[("Authorization", &bearer("alice", secret))],
        )
        .status
    };
    assert_eq!(status(old), 200);
    assert_eq!(status(new), 401);
    std::fs::write(&key, format!("{new}\n")).unwrap();
    proxy.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(new) != 200 {
        assert!(Instant::now() < deadline, "{}", proxy.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(status(old), 401, "the old key is refused once rotated");
}

/// A request and the status it must get.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16);

/// Requests of every kind while the config is reloaded over and over: none fails,
/// none is decided wrongly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_loses_and_misjudges_nothing() {
    let echo = echo::start().await;
    let (proxy, dir) = Authgate::new(&base_config(""), echo.addr).start();
    let config = dir.path().join("authgate.toml");
    let addr = proxy.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, wrong) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let alice = bearer("alice", BETTER_AUTH_SECRET);
    let mut workers = Vec::new();
    for worker in 0..4 {
        let (stop, sent, wrong, alice) = (stop.clone(), sent.clone(), wrong.clone(), alice.clone());
        workers.push(std::thread::spawn(move || {
            let cases: [Case; 4] = [
                (
                    "/api/alice/tasks",
                    vec![("Authorization", alice.as_str())],
                    200,
                ),
                (
                    "/api/bob/tasks",
                    vec![("Authorization", alice.as_str())],
                    403,
                ),
                ("/api/alice/tasks", vec![], 401),
                ("/public/page", vec![], 200),
            ];
            let mut i = worker;
            while !stop.load(Ordering::SeqCst) {
                let (path, headers, want) = &cases[i % cases.len()];
                let status = raw::send(addr, &raw::get(path, headers)).map(|r| r.status);
                sent.fetch_add(1, Ordering::SeqCst);
                if status != Some(*want) {
                    eprintln!("{path}: {status:?}, wanted {want}");
                    wrong.fetch_add(1, Ordering::SeqCst);
                }
                i += 1;
            }
        }));
    }
    let started = Instant::now();
    for round in 0..10 {
        // Alternate between two equivalent configs (one adds an unrelated route).
        let extra = if round % 2 == 0 {
            "\n[[routes]]\npath = \"/other/**\"\nauth = \"public\"\n"
        } else {
            ""
        };
        std::fs::write(&config, format!("{}{extra}", base_config(""))).unwrap();
        proxy.signal("HUP");
        std::thread::sleep(Duration::from_millis(300));
    }
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
    let text = get(proxy.admin.unwrap(), "/metrics", &[]).body;
    let reloaded =
        sample(&text, "authgate_config_reloads_total{result=\"success\"}").unwrap_or(0.0);
    let (sent, wrong) = (sent.load(Ordering::SeqCst), wrong.load(Ordering::SeqCst));
    println!(
        "reload under load: {sent} requests in {:.1} s across {reloaded} reloads, {wrong} failed or wrong",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(reloaded, 10.0, "{}", proxy.stderr());
    assert!(sent > 100, "load was applied: {sent}");
    assert_eq!(wrong, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_at_once_when_idle() {
    let echo = echo::start().await;
    let (mut proxy, _dir) = Authgate::new(&base_config(""), echo.addr).start();
    let started = Instant::now();
    proxy.signal("TERM");
    let status = proxy.wait_exit(Duration::from_secs(5)).expect("exited");
    let took = started.elapsed();
    println!("idle SIGTERM → exit in {} ms", took.as_millis());
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_finishes_requests_in_flight_and_is_not_ready() {
    let echo = echo::start().await;
    let (mut proxy, _dir) =
        Authgate::new(&base_config("drain_delay_secs = 1\n"), echo.addr).start();
    let addr = proxy.addr;
    let admin = proxy.admin.unwrap();
    let slow = std::thread::spawn(move || {
        raw::send(addr, &raw::get("/public/slow?delay_ms=1500", &[])).map(|r| r.status)
    });
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    proxy.signal("TERM");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        get(admin, "/readyz", &[]).status,
        503,
        "not ready while draining"
    );
    assert_eq!(get(admin, "/healthz", &[]).status, 200, "still alive");
    // During the drain delay new connections are still served.
    assert_eq!(get(addr, "/public/during-drain", &[]).status, 200);
    assert_eq!(
        slow.join().unwrap(),
        Some(200),
        "the request in flight completed"
    );
    let status = proxy.wait_exit(Duration::from_secs(8)).expect("exited");
    let took = started.elapsed();
    println!(
        "SIGTERM with a 1.5 s request in flight and 1 s drain delay → exit in {} ms",
        took.as_millis()
    );
    assert!(status.success());
    assert!(
        took < Duration::from_secs(4),
        "exits once idle, not after the grace period: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_from_trusted_and_untrusted_peers() {
    let echo = echo::start().await;
    let spoofed: [(&str, &str); 5] = [
        ("X-Forwarded-For", "203.0.113.9"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "app.example"),
        ("X-Request-Id", "ingress-req-1"),
        ("Forwarded", "for=203.0.113.9;proto=https"),
    ];
    // Not trusted: authgate is the edge and replaces everything.
    let (proxy, _d1) = Authgate::new(&base_config(""), echo.addr).start();
    let resp = get(proxy.addr, "/public/x", &spoofed);
    let seen = resp.json();
    assert_eq!(header_values(&seen, "x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(header_values(&seen, "x-forwarded-proto"), ["http"]);
    assert!(header_values(&seen, "x-forwarded-host").is_empty());
    assert_eq!(
        header_values(&seen, "forwarded"),
        ["for=127.0.0.1;proto=http"]
    );
    let rid = header_values(&seen, "x-request-id");
    assert_ne!(rid, ["ingress-req-1"]);
    assert_eq!(
        resp.header("x-request-id"),
        Some(rid[0].as_str()),
        "the id is returned"
    );
    // Trusted (loopback is the ingress here): appended to and kept.
    let (proxy, _d2) = Authgate::new(
        &base_config("trusted_proxies = [\"127.0.0.0/8\"]\n"),
        echo.addr,
    )
    .start();
    let resp = get(proxy.addr, "/public/x", &spoofed);
    let seen = resp.json();
    assert_eq!(
        header_values(&seen, "x-forwarded-for"),
        ["203.0.113.9, 127.0.0.1"]
    );
    assert_eq!(header_values(&seen, "x-forwarded-proto"), ["https"]);
    assert_eq!(header_values(&seen, "x-forwarded-host"), ["app.example"]);
    assert_eq!(header_values(&seen, "x-request-id"), ["ingress-req-1"]);
    assert_eq!(resp.header("x-request-id"), Some("ingress-req-1"));
    assert_eq!(
        header_values(&seen, "forwarded"),
        ["for=203.0.113.9;proto=https, for=127.0.0.1"]
    );
    // An insane request id is replaced even from a trusted peer.
    let resp = get(proxy.addr, "/public/x", &[("X-Request-Id", "a b\"c")]);
    let rid = header_values(&resp.json(), "x-request-id");
    assert_eq!(rid.len(), 1);
    assert_ne!(rid[0], "a b\"c");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_request_head_is_cut_off_at_the_deadline() {
    let echo = echo::start().await;
    let (proxy, _dir) =
        Authgate::new(&base_config("header_read_timeout_secs = 1\n"), echo.addr).start();
    let mut stream = TcpStream::connect(proxy.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    stream.write_all(b"GET /public/x HTTP/1.1\r\n").unwrap();
    let mut closed_after = None;
    for i in 0..20 {
        std::thread::sleep(Duration::from_millis(300));
        if stream
            .write_all(format!("X-Trickle-{i}: 1\r\n").as_bytes())
            .is_err()
        {
            closed_after = Some(started.elapsed());
            break;
        }
        let mut probe = [0u8; 1];
        stream.set_nonblocking(true).unwrap();
        let read = stream.read(&mut probe);
        stream.set_nonblocking(false).unwrap();
        if matches!(read, Ok(0))
            || matches!(&read, Err(e) if e.kind() != std::io::ErrorKind::WouldBlock)
        {
            closed_after = Some(started.elapsed());
            break;
        }
    }
    let closed_after = closed_after.expect("the trickling connection was closed");
    println!("trickled head closed after {} ms", closed_after.as_millis());
    assert!(closed_after < Duration::from_secs(3), "{closed_after:?}");
    assert_eq!(echo.hits(), 0);
    // A normal request on a new connection is unaffected.
    assert_eq!(get(proxy.addr, "/public/x", &[]).status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_refused() {
    let echo = echo::start().await;
    let (proxy, _dir) = Authgate::new(&base_config("max_connections = 2\n"), echo.addr).start();
    // Two connections that hold their slots (one may find the slot of the harness's
    // readiness probe not yet released and be refused: replace it).
    let mut held: Vec<TcpStream> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while held.len() < 2 {
        assert!(Instant::now() < deadline, "could not hold two slots");
        let s = TcpStream::connect(proxy.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut probe = [0u8; 1];
        match (&s).read(&mut probe) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                held.push(s)
            }
            _ => {}
        }
    }
    let refused = get(proxy.addr, "/public/x", &[]);
    assert_eq!(refused.status, 503, "{refused:?}");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    while get(proxy.addr, "/public/x", &[]).status != 200 {
        assert!(Instant::now() < deadline, "slots were not released");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_only_deployment_needs_no_better_auth_secret() {
    let (code, out, err) = authgate_tests::process::authgate_check(
        "[[routes]]\npath = \"/x\"\nauth = \"public\"\n",
        &[
            ("AUTHGATE_ASSERTION_SECRET", ASSERTION_SECRET),
            ("AUTHGATE_JWKS_URL", "http://127.0.0.1:1/api/auth/jwks"),
            ("AUTHGATE_JWKS_ISSUER", "http://127.0.0.1:1"),
            ("AUTHGATE_JWKS_AUDIENCE", "http://127.0.0.1:1,api"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("issuer = [\"http://127.0.0.1:1\"]"), "{out}");
    assert!(!err.contains("warning"), "{err}");
    let (code, _out, err) = authgate_tests::process::authgate_check(
        "[[routes]]\npath = \"/x\"\nauth = \"public\"\n",
        &[
            ("AUTHGATE_ASSERTION_SECRET", ASSERTION_SECRET),
            ("AUTHGATE_JWKS_URL", "http://127.0.0.1:1/api/auth/jwks"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning") && err.contains("neither iss nor aud"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_endpoints_live_on_the_admin_listener() {
    let f = Gated::start(CONFIG).await;
    let admin = f.proxy.admin.expect("admin listener");
    for path in ["/healthz", "/readyz"] {
        let resp = raw::send(admin, &raw::get(path, &[])).unwrap();
        assert_eq!(resp.status, 200, "{path}");
        assert_eq!(resp.json()["status"], "ok");
    }
    let post = raw::send(
        admin,
        b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    assert_eq!(f.echo.hits(), 0, "admin requests are never proxied");
    // On the proxy port /healthz is the upstream's path like any other.
    let token = alice_token();
    let resp = f.get("/healthz", &[("Authorization", &tokens::bearer(&token))]);
    assert_eq!(resp.status, 200);
    assert_eq!(f.echo.hits(), 1, "the upstream's /healthz is reachable");
    // The proxy port can answer them itself when configured to.
    let config = CONFIG.replace(
        "[server]\n",
        "[server]\nhealth_path = \"/healthz\"\nready_path = \"/readyz\"\n",
    );
    let (proxy, _dir) = Authgate::new(&config, f.echo.addr).start();
    for path in ["/healthz", "/readyz"] {
        let resp = raw::send(proxy.addr, &raw::get(path, &[])).unwrap();
        assert_eq!(resp.status, 200, "{path}");
    }
    assert_eq!(f.echo.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_upstreams_health_path() {
    let config = base_config("").replace(
        "[[auth.sources]]",
        "[upstream]\nhealth_path = \"/healthz\"\nhealth_interval_secs = 1\n\n[[auth.sources]]",
    );
    let ready = |admin: SocketAddr| get(admin, "/readyz", &[]);
    // An upstream that is down: not ready, and the answer says why.
    let (down, _d1) = Authgate::new(&config, echo::closed_port()).start();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut resp = ready(down.admin.unwrap());
    while resp.status != 503 {
        assert!(Instant::now() < deadline, "{resp:?}");
        std::thread::sleep(Duration::from_millis(50));
        resp = ready(down.admin.unwrap());
    }
    assert_eq!(resp.json()["reason"], "upstream_unhealthy");
    assert_eq!(
        get(down.admin.unwrap(), "/healthz", &[]).status,
        200,
        "alive all the same"
    );
    // An upstream that answers its health path: ready, and authgate polled it.
    let echo = echo::start().await;
    let (up, _d2) = Authgate::new(&config, echo.addr).start();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(ready(up.admin.unwrap()).status, 200);
    assert!(echo.hits() >= 1, "the health path was polled");
}

/// A JWKS source removed by a reload takes its gauges (`authgate_jwks_keys`, the
/// last success) with it; its fetch counters stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_source_removed_by_reload_leaves_no_gauges() {
    use warp::Filter;
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            authgate_tests::process::workspace_root()
                .join("tests/issuer/fixtures/access-jwt-EdDSA.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let jwks = fixture["jwks"].clone();
    let route = warp::path!(String / "jwks").map(move |_| warp::reply::json(&jwks));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(route).incoming(listener).run());
    let echo = echo::start().await;
    let source = |name: &str| {
        format!(
            "[[auth.sources]]\ntype = \"jwks_url\"\nurl = \"http://{jwks_addr}/{name}/jwks\"\nissuer = [\"http://x\"]\n"
        )
    };
    let config =
        |sources: &str| format!("[server]\nthreads = 1\ngrace_period_secs = 1\n{sources}{ROUTES}");
    let (proxy, dir) = Authgate::new(&config(&(source("a") + &source("b"))), echo.addr)
        .wait_until_ready()
        .start();
    let gauge = |name: &str| {
        let text = get(proxy.admin.unwrap(), "/metrics", &[]).body;
        sample(
            &text,
            &format!("authgate_jwks_keys{{source=\"http://{jwks_addr}/{name}/jwks\"}}"),
        )
    };
    assert_eq!(gauge("a"), Some(1.0));
    assert_eq!(gauge("b"), Some(1.0));
    std::fs::write(dir.path().join("authgate.toml"), config(&source("a"))).unwrap();
    proxy.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while gauge("b").is_some() {
        assert!(
            Instant::now() < deadline,
            "the removed source's gauge stayed: {}",
            proxy.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(gauge("a"), Some(1.0), "the kept source keeps its gauge");
    let text = get(proxy.admin.unwrap(), "/metrics", &[]).body;
    assert!(
        !text.contains(&format!(
            "authgate_jwks_last_success_timestamp_seconds{{source=\"http://{jwks_addr}/b/jwks\"}}"
        )),
        "{text}"
    );
}
