//! Several upstreams: routes pick theirs by name; `https://` upstreams have their
//! certificate checked (a CA of `ca_file`, or the system's roots; `tls_insecure`
//! only when asked for, with a warning), `h2c://` ones get HTTP/2; `/readyz` names
//! the upstream whose health path fails; metrics and the access log say which
//! upstream; bad `[[upstreams]]` are config errors naming the key.

#![allow(clippy::unwrap_used)]

use authgate_tests::echo::{self, header_values};
use authgate_tests::h2c;
use authgate_tests::peers::{self, Peer};
use authgate_tests::pki::{TestCa, Usage};
use authgate_tests::process::{authgate_check, binary, Authgate, Service};
use authgate_tests::raw::{self, RawResponse};
use authgate_tests::tokens::{bearer, claims, decoded, hs256};
use authgate_tests::tools::have;
use authgate_tests::{ASSERTION_SECRET, BETTER_AUTH_SECRET};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The one key source every config here has.
const SOURCE: &str = "[[auth.sources]]\ntype = \"shared_secret\"\n";

fn get(service: &Service, path: &str, headers: &[(&str, &str)]) -> RawResponse {
    raw::send(service.addr, &raw::get(path, headers)).unwrap()
}

/// `[upstream]` gets `/`, `api` (a second echo) gets `/api/**` with a token.
const TWO: &str = r#"
[server]
threads = 1

[[upstreams]]
name = "api"
url = "http://API_ADDR"

[[auth.sources]]
type = "shared_secret"

[[routes]]
path = "/api/**"
auth = "required"
upstream = "api"

[[routes]]
path = "/**"
auth = "public"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_send_requests_to_the_upstream_they_name() {
    let web = echo::start().await;
    let api = echo::start().await;
    let config = TWO.replace("API_ADDR", &api.addr.to_string());
    let (proxy, _dir) = Authgate::new(&config, web.addr).start();
    let token = hs256(&claims("alice"), BETTER_AUTH_SECRET);
    let resp = get(&proxy, "/api/tasks", &[("Authorization", &bearer(&token))]);
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.json()["path"], "/api/tasks");
    assert_eq!((api.hits(), web.hits()), (1, 0), "/api/** went to `api`");
    // The assertion is for the upstream that gets it.
    let assertion = header_values(&resp.json(), "x-auth-assertion");
    assert_eq!(decoded(&assertion[0], 1)["aud"], "api");
    let resp = get(&proxy, "/index.html", &[]);
    assert_eq!(resp.status, 200);
    assert_eq!(
        (api.hits(), web.hits()),
        (1, 1),
        "the rest went to [upstream]"
    );
    // The access log and the metrics name the upstream.
    let log = proxy.stderr_containing("path=/index.html", Duration::from_secs(5));
    assert!(log.contains("subject=alice upstream=api "), "{log}");
    assert!(log.contains("upstream=upstream-api "), "{log}");
    for upstream in ["api", "upstream-api"] {
        let line = format!(
            "authgate_upstream_connections_total{{reused=\"false\",upstream=\"{upstream}\"}}"
        );
        assert_eq!(proxy.metric(&line), 1.0, "{line}");
    }
    // A closed upstream counts its errors under its own name.
    let closed = echo::closed_port();
    let config = TWO.replace("API_ADDR", &closed.to_string());
    let (proxy, _dir) = Authgate::new(&config, web.addr).start();
    let resp = get(&proxy, "/api/x", &[("Authorization", &bearer(&token))]);
    assert_eq!(resp.status, 502);
    let line = "authgate_upstream_errors_total{kind=\"connect\",upstream=\"api\"}";
    assert_eq!(proxy.metric(line), 1.0);
}

#[test]
fn explain_names_the_upstream_a_route_picks() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("authgate.toml");
    std::fs::write(&config, TWO.replace("API_ADDR", "127.0.0.1:9001")).unwrap();
    let token = hs256(&claims("alice"), BETTER_AUTH_SECRET);
    let explain = |target: &str| {
        let out = Command::new(binary("authgate"))
            .args(["explain", "--config"])
            .arg(&config)
            .args(["GET", target, "--token", &token])
            .env("BETTER_AUTH_SECRET", BETTER_AUTH_SECRET)
            .env("AUTHGATE_ASSERTION_SECRET", ASSERTION_SECRET)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = explain("/api/tasks");
    assert!(
        text.contains("upstream    api (http://127.0.0.1:9001)"),
        "{text}"
    );
    let text = explain("/");
    assert!(
        text.contains("upstream    upstream-api (http://127.0.0.1:8000)"),
        "{text}"
    );
}

/// The HTTPS peer (Python's standard library) with a certificate of `ca`.
fn https_peer(test: &str, ca: &TestCa) -> Option<Peer> {
    if !have(test, "python3") {
        return None;
    }
    let cert = ca.issue("upstream", Usage::Server);
    let (cert, key) = (
        cert.cert.display().to_string(),
        cert.key.display().to_string(),
    );
    Some(peers::serve_with(
        Path::new("python3"),
        "https_peer.py",
        &[&cert, &key],
        "https peer listening on ",
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstreams_have_their_certificate_checked() {
    let test = "https_upstreams_have_their_certificate_checked";
    if !have(test, "openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(&dir.path().join("ca"), "upstream");
    let Some(peer) = https_peer(test, &ca) else {
        return;
    };
    let url = format!("https://{}", peer.addr);
    // Three upstreams at one address: its CA, the system's roots, no check at all.
    let config = format!(
        r#"
[server]
threads = 1

[[auth.sources]]
type = "shared_secret"

[[upstreams]]
name = "trusted"
url = "{url}"
ca_file = "{ca}"
health_path = "/healthz"
health_interval_secs = 1

[[upstreams]]
name = "unknown-ca"
url = "{url}"
health_path = "/healthz"
health_interval_secs = 1

[[upstreams]]
name = "insecure"
url = "{url}"
tls_insecure = true

[[routes]]
path = "/trusted/**"
auth = "public"
upstream = "trusted"

[[routes]]
path = "/unknown/**"
auth = "public"
upstream = "unknown-ca"

[[routes]]
path = "/insecure/**"
auth = "public"
upstream = "insecure"
"#,
        ca = ca.cert.display()
    );
    let (proxy, _dir) = Authgate::new(&config, echo::closed_port()).start();
    let resp = get(&proxy, "/trusted/x", &[]);
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.json()["server"], "https");
    assert_eq!(resp.json()["path"], "/trusted/x");
    // A certificate no trusted CA signed: 502, never the upstream's answer.
    let resp = get(&proxy, "/unknown/x", &[]);
    assert_eq!(resp.status, 502, "{resp:?}");
    let log = proxy.stderr_containing("path=/unknown/x", Duration::from_secs(5));
    assert!(
        log.contains("reason=tls") && log.contains("upstream=unknown-ca"),
        "{log}"
    );
    let tls = "authgate_upstream_errors_total{kind=\"tls\",upstream=\"unknown-ca\"}";
    assert_eq!(proxy.metric(tls), 1.0);
    // Only when asked for is any certificate accepted.
    let resp = get(&proxy, "/insecure/x", &[]);
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.json()["server"], "https");
    // The health polls check the certificate too: `trusted` answers its health path
    // (else /readyz would name it first), `unknown-ca` does not.
    let admin = proxy.admin.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut resp = raw::send(admin, &raw::get("/readyz", &[])).unwrap();
    while resp.status != 503 {
        assert!(Instant::now() < deadline, "{resp:?}");
        std::thread::sleep(Duration::from_millis(50));
        resp = raw::send(admin, &raw::get("/readyz", &[])).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let resp = raw::send(admin, &raw::get("/readyz", &[])).unwrap();
    assert_eq!(resp.json()["upstream"], "unknown-ca", "{resp:?}");
    // And `check` warns about it.
    let env = [
        ("BETTER_AUTH_SECRET", BETTER_AUTH_SECRET),
        ("AUTHGATE_ASSERTION_SECRET", ASSERTION_SECRET),
    ];
    let (code, _, err) = authgate_check(&config, &env);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("upstreams[2].tls_insecure") && err.contains("not checked"),
        "{err}"
    );
    assert!(!err.contains("upstreams[0].tls_insecure"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_upstreams_get_http2_with_prior_knowledge() {
    let server = h2c::start().await;
    let config = format!(
        "[server]\nthreads = 1\n{SOURCE}[[upstreams]]\nname = \"grpc\"\nurl = \"h2c://{}\"\n\
         health_path = \"/healthz\"\nhealth_interval_secs = 1\n\
         [[routes]]\npath = \"/h2/**\"\nauth = \"public\"\nupstream = \"grpc\"\n",
        server.addr
    );
    let web = echo::start().await;
    let (proxy, _dir) = Authgate::new(&config, web.addr).start();
    for _ in 0..2 {
        let resp = get(&proxy, "/h2/hello", &[]);
        assert_eq!(resp.status, 200, "{resp:?}");
        assert_eq!(resp.json()["version"], "HTTP/2.0");
        assert_eq!(resp.json()["path"], "/h2/hello");
    }
    // Its health path is polled over HTTP/2 too: ready.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.hits() < 3 {
        assert!(
            Instant::now() < deadline,
            "the health path was never polled"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(proxy.ready_status(), 200);
    assert_eq!(web.hits(), 0);
    // The same server as an http:// upstream: HTTP/1.1 fails its handshake.
    let (plain, _dir) =
        Authgate::new(&format!("[server]\nthreads = 1\n{SOURCE}"), server.addr).start();
    let token = hs256(&claims("alice"), BETTER_AUTH_SECRET);
    let resp = get(&plain, "/h2/hello", &[("Authorization", &bearer(&token))]);
    assert_eq!(resp.status, 502, "{resp:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_the_upstream_whose_health_path_fails() {
    let web = echo::start().await;
    let closed = echo::closed_port();
    let config = format!(
        "[server]\nthreads = 1\n{SOURCE}[upstream]\nhealth_path = \"/healthz\"\nhealth_interval_secs = 1\n\
         [[upstreams]]\nname = \"billing\"\nurl = \"http://{closed}\"\nhealth_path = \"/healthz\"\n\
         health_interval_secs = 1\n"
    );
    let (proxy, _dir) = Authgate::new(&config, web.addr).start();
    let admin = proxy.admin.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut resp = raw::send(admin, &raw::get("/readyz", &[])).unwrap();
    while resp.status != 503 {
        assert!(Instant::now() < deadline, "{resp:?}");
        std::thread::sleep(Duration::from_millis(50));
        resp = raw::send(admin, &raw::get("/readyz", &[])).unwrap();
    }
    assert_eq!(resp.json()["reason"], "upstream_unhealthy");
    assert_eq!(resp.json()["upstream"], "billing");
    assert!(web.hits() >= 1, "[upstream]'s health path was polled too");
    // Both healthy: ready.
    let config = config.replace(&closed.to_string(), &web.addr.to_string());
    let (proxy, _dir) = Authgate::new(&config, web.addr).start();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(proxy.ready_status(), 200);
}

#[test]
fn bad_upstreams_are_config_errors_naming_the_key() {
    let env = [
        ("BETTER_AUTH_SECRET", BETTER_AUTH_SECRET),
        ("AUTHGATE_ASSERTION_SECRET", ASSERTION_SECRET),
    ];
    let web = "[[upstreams]]\nname = \"web\"\nurl = \"http://127.0.0.1:1\"\n";
    let cases = [
        (
            format!("{web}[[routes]]\npath = \"/a\"\nupstream = \"wbe\"\n"),
            "`routes[0].upstream`",
            "no upstream is named `wbe`",
        ),
        (
            format!("{web}{web}"),
            "`upstreams[1].name`",
            "`web` is already the name of upstreams[0]",
        ),
        (
            "[[upstreams]]\nname = \"upstream-api\"\nurl = \"http://127.0.0.1:1\"\n".into(),
            "`upstreams[0].name`",
            "already the name of [upstream]",
        ),
        (
            "[[upstreams]]\nname = \"files\"\nurl = \"ftp://127.0.0.1:1\"\n".into(),
            "`upstreams[0].url`",
            "scheme `ftp` is not supported",
        ),
        (
            "[upstream]\nurl = \"ftp://127.0.0.1:1\"\n".into(),
            "`upstream.url`",
            "scheme `ftp` is not supported",
        ),
        (
            "[upstream]\nurl = \"http://127.0.0.1:1\"\ntls_insecure = true\n".into(),
            "`upstream.tls_insecure`",
            "https:// upstreams only",
        ),
    ];
    for (config, key, message) in cases {
        let (code, _, err) = authgate_check(&config, &env);
        assert_eq!(code, 64, "{config}: {err}");
        assert!(err.contains(key), "{config}: {err}");
        assert!(err.contains(message), "{config}: {err}");
        assert!(err.contains("authgate.toml"), "the file is named: {err}");
    }
}
