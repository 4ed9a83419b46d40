//! The library server and the real binary: bind port 0, announce the address, serve,
//! shut down gracefully; bad configuration exits 64. The binary is started by the
//! workspace's one test harness (`authgate-tests`).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use authgate_tests::raw;
use authgate_tests::upstream::{self, Database};

use crate::common::*;

const DEADLINE: Duration = Duration::from_secs(30);

/// A minimal HTTP/1.1 exchange through the shared raw client; returns (status, body).
fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("Content-Length: 0\r\n\r\n");
    let response = raw::send(addr, request.as_bytes())
        .unwrap_or_else(|| panic!("no response to {method} {path}"));
    (response.status, response.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_on_a_given_listener_until_shutdown() {
    let (store, _dir) = sqlite_store().await;
    let (app, _routes) = routes(store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(upstream_api::run(listener, app, async {
        let _ = stopped.await;
    }));

    let (status, body) = tokio::task::spawn_blocking(move || http(addr, "GET", "/healthz", &[]))
        .await
        .expect("join");
    assert_eq!(status, 200);
    assert_eq!(body, r#"{"status":"ok"}"#);

    stop.send(()).expect("signal");
    tokio::time::timeout(DEADLINE, server)
        .await
        .expect("server stops after the shutdown signal")
        .expect("server task");
}

/// The binary with a clean environment (no inherited config) plus `env`.
fn command(env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_upstream-api"));
    for name in upstream::ENV_VARS {
        command.env_remove(name);
    }
    command.env("RUST_LOG", "info");
    for (name, value) in env {
        command.env(name, value);
    }
    command.args(args);
    command
}

#[test]
fn binary_announces_its_address_serves_and_stops_on_sigterm() {
    let database = Database::sqlite();
    let mut cmd = upstream::command(Path::new(env!("CARGO_BIN_EXE_upstream-api")), &database);
    cmd.env("AUTHGATE_ASSERTION_SECRET", SECRET);
    let mut service = upstream::spawn(cmd);
    let addr = service.addr;

    assert_eq!(
        http(addr, "GET", "/healthz", &[]),
        (200, r#"{"status":"ok"}"#.to_owned())
    );
    let (status, body) = http(addr, "GET", "/openapi.json", &[]);
    assert_eq!(status, 200);
    assert!(body.contains("\"openapi\":\"3.1"), "{body}");

    let (status, _) = http(
        addr,
        "GET",
        "/api/alice/tasks",
        &[("X-Auth-User-Id", "alice")],
    );
    assert_eq!(status, 401);
    let token = assertion("alice", "GET", "/api/alice/tasks");
    let (status, body) = http(
        addr,
        "GET",
        "/api/alice/tasks",
        &[("X-Auth-Assertion", &token)],
    );
    assert_eq!((status, body.as_str()), (200, "[]"));
    let (status, _) = http(
        addr,
        "GET",
        "/api/alice/tasks",
        &[("X-Auth-Assertion", &token), ("X-Auth-Assertion", &token)],
    );
    assert_eq!(status, 401, "two assertion headers must be refused");

    let status = service
        .terminate(DEADLINE)
        .unwrap_or_else(|| panic!("process did not exit within {DEADLINE:?}"));
    assert!(status.success(), "exit status after SIGTERM: {status}");

    // One access line per request, and never the assertion.
    // The process has exited: its stderr is complete.
    let logs = service.stderr();
    assert!(logs.contains("/api/alice/tasks"), "{logs}");
    assert!(logs.contains("status=401"), "{logs}");
    assert!(!logs.contains(&token), "assertion logged: {logs}");
    assert!(!logs.contains(SECRET), "secret logged: {logs}");
    let db = database.sqlite_path().expect("sqlite");
    assert!(db.exists(), "{} not created", db.display());
}

#[test]
fn missing_secret_exits_64_with_a_clear_message() {
    let output = command(&[], &["--listen", "127.0.0.1:0"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("AUTHGATE_ASSERTION_SECRET"), "{stderr}");
}

#[test]
fn short_secret_and_bad_flags_exit_64() {
    let output = command(&[("AUTHGATE_ASSERTION_SECRET", "short")], &[])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("at least 32"), "{stderr}");
    assert!(
        !stderr.contains("short\n") && !stderr.contains("\"short\""),
        "{stderr}"
    );

    let output = command(
        &[("AUTHGATE_ASSERTION_SECRET", SECRET)],
        &["--listen", "nonsense"],
    )
    .output()
    .expect("run");
    assert_eq!(output.status.code(), Some(64));

    let output = command(
        &[
            ("AUTHGATE_ASSERTION_SECRET", SECRET),
            ("DATABASE_URL", "mysql://localhost/x"),
        ],
        &[],
    )
    .output()
    .expect("run");
    assert_eq!(output.status.code(), Some(64));
}

#[test]
fn the_secret_can_come_from_a_file_and_probe_checks_health() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("assertion-secret");
    std::fs::write(&file, format!("{SECRET}\n")).expect("write secret");
    let file = file.display().to_string();
    // Both a file and a value: refused rather than guessed.
    let output = command(
        &[
            ("AUTHGATE_ASSERTION_SECRET_FILE", &file),
            ("AUTHGATE_ASSERTION_SECRET", SECRET),
        ],
        &["--listen", "127.0.0.1:0"],
    )
    .output()
    .expect("run");
    assert_eq!(output.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not both"));
    // The file alone (its trailing newline trimmed): assertions signed with the
    // secret verify.
    let database = Database::sqlite();
    let mut cmd = upstream::command(Path::new(env!("CARGO_BIN_EXE_upstream-api")), &database);
    cmd.env_remove("AUTHGATE_ASSERTION_SECRET")
        .env("AUTHGATE_ASSERTION_SECRET_FILE", &file);
    let service = upstream::spawn(cmd);
    let token = assertion("alice", "GET", "/api/alice/tasks");
    let (status, _) = http(
        service.addr,
        "GET",
        "/api/alice/tasks",
        &[("X-Auth-Assertion", &token)],
    );
    assert_eq!(status, 200);
    // `probe` exits 0 on 200 and 1 otherwise, saying why in one line; 64 for a URL it
    // cannot probe.
    let probe = |url: String| {
        let output = command(&[], &["probe", &url]).output().expect("run probe");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status.code(), stderr)
    };
    assert_eq!(
        probe(format!("http://{}/healthz", service.addr)),
        (Some(0), String::new())
    );
    let (code, stderr) = probe(format!("http://{}/no-such-path", service.addr));
    assert_eq!(code, Some(1));
    assert!(stderr.ends_with(": status 404 Not Found\n"), "{stderr:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (code, stderr) = probe(format!("http://{closed}/healthz"));
    assert_eq!(code, Some(1));
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    let (code, stderr) = probe(format!("https://{}/healthz", service.addr));
    assert_eq!(code, Some(64));
    assert!(stderr.contains("only http://"), "{stderr:?}");
}
