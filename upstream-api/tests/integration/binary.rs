//! The library server and the real binary: bind port 0, announce the address, serve,
//! shut down gracefully; bad configuration exits 64.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::*;

const DEADLINE: Duration = Duration::from_secs(30);

/// A minimal HTTP/1.1 exchange; returns (status, body).
fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("Content-Length: 0\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
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
    for name in [
        "AUTHGATE_ASSERTION_SECRET",
        "DATABASE_URL",
        "UPSTREAM_API_LISTEN",
        "UPSTREAM_API_SQLITE_PATH",
        "UPSTREAM_API_ASSERTION_ISSUER",
        "UPSTREAM_API_SERVICE_NAME",
    ] {
        command.env_remove(name);
    }
    command.env("RUST_LOG", "info");
    for (name, value) in env {
        command.env(name, value);
    }
    command.args(args);
    command
}

/// Starts the binary and waits for `upstream-api listening on <addr>` on stdout.
fn start(dir: &std::path::Path) -> (Child, SocketAddr, mpsc::Receiver<String>) {
    let db = dir.join("bin.db");
    let mut child = command(
        &[("AUTHGATE_ASSERTION_SECRET", SECRET)],
        &[
            "--listen",
            "127.0.0.1:0",
            "--sqlite-path",
            db.to_str().expect("utf-8 path"),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn upstream-api");

    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let stderr = child.stderr.take().expect("stderr");
    let (err_tx, err_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if err_tx.send(line).is_err() {
                break;
            }
        }
    });

    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines_rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(addr) = line.strip_prefix("upstream-api listening on ") {
                    let addr = addr.parse().expect("address in the listening line");
                    return (child, addr, err_rx);
                }
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let logs: Vec<String> = err_rx.try_iter().collect();
                panic!("no listening line within {DEADLINE:?}; stderr: {logs:#?}");
            }
        }
    }
}

fn wait_for_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process did not exit within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn binary_announces_its_address_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr, stderr) = start(dir.path());

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

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    let status = wait_for_exit(&mut child);
    assert!(status.success(), "exit status after SIGTERM: {status}");

    // One access line per request, and never the assertion.
    // The process has exited: read stderr to its end.
    let mut logs = Vec::new();
    while let Ok(line) = stderr.recv_timeout(DEADLINE) {
        logs.push(line);
    }
    let logs = logs.join("\n");
    assert!(logs.contains("/api/alice/tasks"), "{logs}");
    assert!(logs.contains("status=401"), "{logs}");
    assert!(!logs.contains(&token), "assertion logged: {logs}");
    assert!(!logs.contains(SECRET), "secret logged: {logs}");
    assert!(dir.path().join("bin.db").exists());
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
