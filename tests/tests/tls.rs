//! TLS on the proxy listener, with a test CA made by the `openssl` CLI and real
//! clients (curl, reqwest, `openssl s_client`): ALPN, versions, client
//! certificates, certificate reload under load, the handshake deadline.

#![allow(clippy::unwrap_used)]

use authgate_tests::curl::curl;
use authgate_tests::echo::header_values;
use authgate_tests::gated::{Gated, ROUTES};
use authgate_tests::pki::{served_serial, Issued, TestCa, Usage};
use authgate_tests::process::authgate_check;
use authgate_tests::raw;
use authgate_tests::tokens::{claims, hs256};
use authgate_tests::tools::have;
use authgate_tests::BETTER_AUTH_SECRET;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn tools(test: &str) -> bool {
    have(test, "openssl") && have(test, "curl")
}

fn config(server: &Issued, tls_extra: &str, server_extra: &str) -> String {
    format!(
        "[server]\nthreads = 1\n{server_extra}\n[server.tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n{tls_extra}\n[[auth.sources]]\ntype = \"shared_secret\"\n{ROUTES}",
        server.cert.display(),
        server.key.display()
    )
}

fn bearer(sub: &str) -> String {
    format!(
        "Authorization: Bearer {}",
        hs256(&claims(sub), BETTER_AUTH_SECRET)
    )
}

fn https(addr: SocketAddr, path: &str) -> String {
    format!("https://127.0.0.1:{}{path}", addr.port())
}

fn ca_arg(ca: &TestCa) -> String {
    ca.cert.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_speaks_http1_and_h2_by_alpn_and_says_https_upstream() {
    if !tools("https_speaks_http1_and_h2_by_alpn_and_says_https_upstream") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(&dir.path().join("ca"), "authgate");
    let server = ca.issue("server", Usage::Server);
    let g = Gated::start(&config(&server, "", "")).await;
    let url = https(g.addr(), "/api/alice/tasks");
    let auth = bearer("alice");
    for (flag, version) in [("--http1.1", "1.1"), ("--http2", "2")] {
        let r = curl(&[
            "--cacert",
            &ca_arg(&ca),
            flag,
            "-H",
            &auth,
            "-H",
            "X-Forwarded-Proto: http",
            "-H",
            "X-Auth-User-Id: mallory",
            &url,
        ]);
        assert_eq!((r.status, r.version.as_str()), (200, version), "{r:?}");
        let seen = r.json();
        assert_eq!(header_values(&seen, "x-forwarded-proto"), ["https"]);
        assert_eq!(
            header_values(&seen, "forwarded"),
            ["for=127.0.0.1;proto=https"]
        );
        assert_eq!(header_values(&seen, "x-auth-user-id"), ["alice"]);
        let host = format!("127.0.0.1:{}", g.addr().port());
        assert_eq!(header_values(&seen, "host"), [host]);
    }
    let refused = curl(&["--cacert", &ca_arg(&ca), "--http2", &url]);
    assert_eq!((refused.status, refused.version.as_str()), (401, "2"));
    assert_eq!(
        refused.header("www-authenticate"),
        Some("Bearer realm=\"authgate\"")
    );
    // Plaintext HTTP on the TLS port gets no HTTP answer, and reaches nothing.
    let plain = raw::send(g.addr(), &raw::get("/public/x", &[]));
    assert!(plain.as_ref().is_none_or(|r| r.status != 200), "{plain:?}");
    assert_eq!(g.echo.hits(), 2);
}

/// Better Auth's strategy-`jwt` session cookie for `user`.
fn session_cookie(user: &str) -> String {
    let now = authgate_tests::tokens::now();
    let payload = serde_json::json!({
        "session": {"id": "s1", "userId": user, "token": "raw-session-token"},
        "user": {"id": user, "email": format!("{user}@example.com")},
        "iat": now, "exp": now + 300,
    });
    format!(
        "Cookie: better-auth.session_data={}",
        hs256(&payload, BETTER_AUTH_SECRET)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_tls_the_csrf_origin_check_takes_https_as_the_scheme() {
    if !tools("behind_tls_the_csrf_origin_check_takes_https_as_the_scheme") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(&dir.path().join("ca"), "authgate");
    let server = ca.issue("server", Usage::Server);
    let cookies = "[auth.session_cookie]\nenabled = true";
    let g = Gated::start(&format!("{}\n{cookies}\n", config(&server, "", ""))).await;
    let url = https(g.addr(), "/api/alice/tasks");
    let cookie = session_cookie("alice");
    let port = g.addr().port();
    let (https_origin, http_origin) = (
        format!("Origin: https://127.0.0.1:{port}"),
        format!("Origin: http://127.0.0.1:{port}"),
    );
    for version in ["--http1.1", "--http2"] {
        let post = |origin: &str| {
            curl(&[
                "--cacert",
                &ca_arg(&ca),
                version,
                "--data",
                "",
                "-H",
                &cookie,
                "-H",
                origin,
                &url,
            ])
        };
        // The same host reached over TLS is the same origin only as https://.
        assert_eq!(post(&https_origin).status, 200, "{version}");
        let other = post(&http_origin);
        assert_eq!(other.status, 403, "{version}: {other:?}");
        assert_eq!(other.json()["error"], "forbidden");
    }
    let csrf = "authgate_requests_total{decision=\"reject\",reason=\"csrf\"}";
    assert_eq!(
        g.proxy.metric_reaching(csrf, 2.0, Duration::from_secs(3)),
        2.0
    );
    assert_eq!(g.echo.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls13_only_listener_refuses_tls12_clients() {
    if !tools("a_tls13_only_listener_refuses_tls12_clients") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(&dir.path().join("ca"), "authgate");
    let server = ca.issue("server", Usage::Server);
    let modern = Gated::start(&config(&server, "min_version = \"1.3\"", "")).await;
    let default = Gated::start(&config(&server, "", "")).await;
    let ca = ca_arg(&ca);
    for (g, tls12_ok) in [(&modern, false), (&default, true)] {
        let url = https(g.addr(), "/public/x");
        let tls12 = curl(&["--cacert", &ca, "--tlsv1.2", "--tls-max", "1.2", &url]);
        assert_eq!(tls12.status == 200, tls12_ok, "{tls12:?}");
        if !tls12_ok {
            assert_eq!(tls12.exit, 35, "a handshake failure: {tls12:?}");
        }
        let tls13 = curl(&["--cacert", &ca, "--tlsv1.3", &url]);
        assert_eq!(tls13.status, 200, "{tls13:?}");
    }
    assert_eq!(modern.echo.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_are_required_and_refused_in_the_handshake() {
    if !tools("client_certificates_are_required_and_refused_in_the_handshake") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(&dir.path().join("ca"), "authgate");
    let clients = TestCa::new(&dir.path().join("clients"), "clients");
    let stranger_ca = TestCa::new(&dir.path().join("stranger"), "stranger");
    let server = ca.issue("server", Usage::Server);
    let client = clients.issue("client", Usage::Client);
    let stranger = stranger_ca.issue("stranger", Usage::Client);
    let mtls = format!("client_ca_file = \"{}\"", clients.cert.display());
    let g = Gated::start(&config(&server, &mtls, "")).await;
    let url = https(g.addr(), "/public/x");
    let ca = ca_arg(&ca);
    let with = |id: &Issued, version: &str| {
        let (cert, key) = (id.cert.display().to_string(), id.key.display().to_string());
        curl(&[
            "--cacert", &ca, version, "--cert", &cert, "--key", &key, &url,
        ])
    };
    for version in ["--tlsv1.2", "--tlsv1.3"] {
        assert_eq!(with(&client, version).status, 200, "{version}");
        let nobody = curl(&["--cacert", &ca, version, &url]);
        assert_eq!(nobody.status, 0, "{version}: {nobody:?}");
        let foreign = with(&stranger, version);
        assert_eq!(foreign.status, 0, "{version}: {foreign:?}");
    }
    assert_eq!(
        g.echo.hits(),
        2,
        "only the clients with a certificate got through"
    );
    let failed = "authgate_tls_handshake_errors_total{kind=\"failed\"}";
    assert!(g.proxy.metric_reaching(failed, 4.0, Duration::from_secs(5)) >= 4.0);
}

/// A Kubernetes Secret volume: `name -> ..data/name`, `..data -> ..<version>`.
struct SecretVolume {
    dir: std::path::PathBuf,
    versions: usize,
}

impl SecretVolume {
    fn new(dir: &Path, pair: &Issued) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let mut v = Self {
            dir: dir.to_path_buf(),
            versions: 0,
        };
        v.publish(&pair.cert, &pair.key);
        for name in ["tls.crt", "tls.key"] {
            std::os::unix::fs::symlink(format!("..data/{name}"), dir.join(name)).unwrap();
        }
        v
    }

    /// Writes a new version and swaps `..data` to it in one rename, as the
    /// kubelet does.
    fn publish(&mut self, cert: &Path, key: &Path) {
        self.versions += 1;
        let version = format!("..v{}", self.versions);
        let dir = self.dir.join(&version);
        std::fs::create_dir(&dir).unwrap();
        std::fs::copy(cert, dir.join("tls.crt")).unwrap();
        std::fs::copy(key, dir.join("tls.key")).unwrap();
        let tmp = self.dir.join("..data_tmp");
        std::os::unix::fs::symlink(&version, &tmp).unwrap();
        std::fs::rename(&tmp, self.dir.join("..data")).unwrap();
    }
}

/// New TLS connections, one request each, from `workers` tasks until `stop`:
/// (answered 200, failed).
fn load(
    addr: SocketAddr,
    ca: &Path,
    workers: usize,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<(usize, usize)>> {
    let root = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    (0..workers)
        .map(|_| {
            let client = reqwest::Client::builder()
                .tls_certs_only([root.clone()])
                .pool_max_idle_per_host(0)
                .build()
                .unwrap();
            let (stop, url) = (stop.clone(), https(addr, "/public/load"));
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0, 0);
                while !stop.load(Ordering::SeqCst) {
                    match client.get(&url).send().await {
                        Ok(r) if r.status() == 200 => ok += 1,
                        Ok(r) => panic!("status {}", r.status()),
                        Err(e) => {
                            eprintln!("request failed: {e:?}");
                            failed += 1;
                        }
                    }
                }
                (ok, failed)
            })
        })
        .collect()
}

fn wait_for_serial(addr: SocketAddr, ca: &Path, serial: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let served = served_serial(addr, ca);
        if served.as_deref() == Some(serial) || Instant::now() > deadline {
            return served;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_swap_under_load_and_a_broken_pair_is_kept_out() {
    if !tools("certificates_swap_under_load_and_a_broken_pair_is_kept_out") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(&dir.path().join("ca"), "authgate");
    let (first, second) = (
        ca.issue("first", Usage::Server),
        ca.issue("second", Usage::Server),
    );
    // The third certificate comes with the second's key: a pair that does not match.
    let third = ca.issue("third", Usage::Server);
    let mut volume = SecretVolume::new(&dir.path().join("secret"), &first);
    let mounted = Issued {
        cert: volume.dir.join("tls.crt"),
        key: volume.dir.join("tls.key"),
        serial: first.serial.clone(),
    };
    let g = Gated::start(&config(&mounted, "", "")).await;
    assert_eq!(
        served_serial(g.addr(), &ca.cert),
        Some(first.serial.clone())
    );

    let stop = Arc::new(AtomicBool::new(false));
    let workers = load(g.addr(), &ca.cert, 3, stop.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    volume.publish(&second.cert, &second.key);
    let served =
        tokio::task::block_in_place(|| wait_for_serial(g.addr(), &ca.cert, &second.serial));
    assert_eq!(
        served,
        Some(second.serial.clone()),
        "the new certificate is served"
    );
    volume.publish(&third.cert, &second.key);
    let errors = "authgate_tls_reloads_total{result=\"error\"}";
    let seen = tokio::task::block_in_place(|| {
        g.proxy
            .metric_reaching(errors, 1.0, Duration::from_secs(10))
    });
    assert_eq!(seen, 1.0, "the broken pair was tried once");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::SeqCst);
    let (mut ok, mut failed) = (0, 0);
    for w in workers {
        let (o, f) = w.await.unwrap();
        (ok, failed) = (ok + o, failed + f);
    }
    assert_eq!(
        failed, 0,
        "no request failed across the swaps ({ok} answered)"
    );
    assert!(ok > 20, "the load ran: {ok}");
    assert_eq!(
        served_serial(g.addr(), &ca.cert),
        Some(second.serial.clone())
    );
    let log = g.proxy.stderr();
    assert!(log.contains("TLS certificate reload failed; the previous certificate stays"));
    assert!(!log.contains("PRIVATE KEY"), "no key material in the log");

    // SIGHUP reloads too, even when the files did not change since (the watcher
    // would not): the count of successes goes up.
    let successes = "authgate_tls_reloads_total{result=\"success\"}";
    let before = g.proxy.metric(successes);
    volume.publish(&first.cert, &first.key);
    g.proxy.signal("HUP");
    let after = g
        .proxy
        .metric_reaching(successes, before + 1.0, Duration::from_secs(5));
    assert!(after > before, "{before} -> {after}");
    assert_eq!(
        wait_for_serial(g.addr(), &ca.cert, &first.serial),
        Some(first.serial.clone())
    );
    let expiry = g.proxy.metric("authgate_tls_cert_expiry_timestamp_seconds");
    assert!(expiry > authgate_tests::tokens::now() as f64, "{expiry}");
}

/// Reads until the server closes; how long that took, or `None` after `limit`.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(started.elapsed())
            }
            Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handshake_is_cut_at_the_head_deadline_and_the_cap_holds() {
    if !tools("a_slow_handshake_is_cut_at_the_head_deadline_and_the_cap_holds") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(&dir.path().join("ca"), "authgate");
    let server = ca.issue("server", Usage::Server);
    let limits = "header_read_timeout_secs = 1\nmax_connections = 2";
    let g = Gated::start(&config(&server, "", limits)).await;
    let url = https(g.addr(), "/public/x");
    let started = Instant::now();
    let mut silent = TcpStream::connect(g.addr()).unwrap();
    let mut partial = TcpStream::connect(g.addr()).unwrap();
    // A TLS record header announcing a 512-byte ClientHello, and 4 bytes of it.
    partial
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01])
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let over_cap = curl(&["--cacert", &ca_arg(&ca), &url]);
    assert_eq!(
        over_cap.status, 0,
        "the third connection is over the cap: {over_cap:?}"
    );
    for stream in [&mut silent, &mut partial] {
        let closed = closed_within(stream, Duration::from_secs(5)).expect("closed by authgate");
        let total = started.elapsed();
        assert!(
            total >= Duration::from_millis(900),
            "not before the deadline: {total:?}"
        );
        assert!(
            closed < Duration::from_secs(4),
            "at the deadline: {closed:?}"
        );
    }
    assert_eq!(curl(&["--cacert", &ca_arg(&ca), &url]).status, 200);
    let timeouts = "authgate_tls_handshake_errors_total{kind=\"timeout\"}";
    assert!(
        g.proxy
            .metric_reaching(timeouts, 2.0, Duration::from_secs(3))
            >= 2.0
    );
    let capped = "authgate_requests_total{decision=\"reject\",reason=\"connection_limit\"}";
    assert!(g.proxy.metric(capped) >= 1.0);
}

#[test]
fn tls_config_errors_name_the_file_and_the_key() {
    if !have("tls_config_errors_name_the_file_and_the_key", "openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(&dir.path().join("ca"), "authgate");
    let good = ca.issue("good", Usage::Server);
    let other = ca.issue("other", Usage::Server);
    let expired = ca.issue_with(
        "expired",
        Usage::Server,
        None,
        ("200101000000Z", "200102000000Z"),
    );
    let env = [
        ("BETTER_AUTH_SECRET", BETTER_AUTH_SECRET),
        (
            "AUTHGATE_ASSERTION_SECRET",
            authgate_tests::ASSERTION_SECRET,
        ),
    ];
    let mismatched = Issued {
        key: other.key.clone(),
        ..good.clone()
    };
    let no_key = format!(
        "[server.tls]\ncert_file = \"{}\"\n[[auth.sources]]\ntype = \"shared_secret\"\n",
        good.cert.display()
    );
    let missing_ca = config(&good, "client_ca_file = \"nowhere.pem\"", "");
    let cases = [
        (no_key, "`server.tls.key_file`", "required"),
        (
            config(&mismatched, "", ""),
            "`server.tls.cert_file`",
            "does not match",
        ),
        (
            config(&expired, "", ""),
            "`server.tls.cert_file`",
            "expired",
        ),
        (config(&good, "", "h2c = true"), "`server.h2c`", "ALPN"),
        (
            config(&good, "min_version = \"1.1\"", ""),
            "`server.tls.min_version`",
            "1.3",
        ),
        (missing_ca, "`server.tls.client_ca_file`", "nowhere.pem"),
    ];
    for (text, key, why) in cases {
        let (code, _, stderr) = authgate_check(&text, &env);
        assert_eq!(code, 64, "{key}: {stderr}");
        assert!(
            stderr.contains("authgate.toml") && stderr.contains(key),
            "{stderr}"
        );
        assert!(stderr.contains(why), "{key}: {stderr}");
        assert!(!stderr.contains("PRIVATE KEY"), "{stderr}");
    }
    // The flags' variables turn TLS on without a [server.tls] section.
    let (cert, key) = (
        good.cert.display().to_string(),
        good.key.display().to_string(),
    );
    let env_tls = [
        env[0],
        env[1],
        ("AUTHGATE_TLS_CERT_FILE", cert.as_str()),
        ("AUTHGATE_TLS_KEY_FILE", key.as_str()),
    ];
    let (code, stdout, stderr) =
        authgate_check("[[auth.sources]]\ntype = \"shared_secret\"\n", &env_tls);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("[server.tls]") && stdout.contains(&cert),
        "{stdout}"
    );
    let (code, _, stderr) = authgate_check(
        "[[auth.sources]]\ntype = \"shared_secret\"\n",
        &[env[0], env[1], ("AUTHGATE_TLS_CERT_FILE", cert.as_str())],
    );
    assert_eq!(code, 64);
    assert!(stderr.contains("`server.tls.key_file`"), "{stderr}");
}
