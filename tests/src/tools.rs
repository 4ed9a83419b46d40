//! Outside programs some tests drive (curl, openssl, the Python peers). Without
//! one, a test prints `SKIP: …` and passes on a laptop; under `CI=true` it fails,
//! so CI never passes a test it did not run.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::process::workspace_root;

/// Whether a missing tool must fail the test (`CI=true`).
fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn missing(test: &str, what: &str) {
    let hint = "scripts/ensure-deps.sh installs it";
    assert!(
        !required(),
        "{test}: {what} is required under CI=true ({hint})"
    );
    eprintln!("SKIP: {test}: {what} is missing ({hint})");
}

/// Whether `program --version` runs; else SKIP (or a failure under CI).
pub fn have(test: &str, program: &str) -> bool {
    let ran = Command::new(program)
        .arg(if program == "openssl" {
            "version"
        } else {
            "--version"
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ran {
        missing(test, program);
    }
    ran
}

/// The Python of `target/test-clients` (grpcio, websockets), set up by
/// `scripts/ensure-test-clients.sh`; else SKIP (or a failure under CI).
pub fn python_clients(test: &str) -> Option<PathBuf> {
    let python = workspace_root().join("target/test-clients/bin/python");
    if python.exists() {
        Some(python)
    } else {
        missing(
            test,
            "target/test-clients (the Python gRPC/WebSocket peers)",
        );
        None
    }
}

/// A script of `tests/clients/`.
pub fn client_script(name: &str) -> PathBuf {
    workspace_root().join("tests/clients").join(name)
}
