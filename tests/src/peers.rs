//! The Python peers of `tests/clients/` (a gRPC server, a WebSocket server) as
//! child processes, and their clients run to completion.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::process::STARTUP_DEADLINE;
use crate::tools::client_script;

/// A running Python server; killed on drop.
pub struct Peer {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `script serve` with `python`; waits for `<ready> HOST:PORT` on stdout.
pub fn serve(python: &Path, script: &str, ready: &str) -> Peer {
    serve_with(python, script, &[], ready)
}

/// Starts `script serve args…` with `python`; waits for `<ready> HOST:PORT` on stdout.
pub fn serve_with(python: &Path, script: &str, args: &[&str], ready: &str) -> Peer {
    let mut child = Command::new(python)
        .arg(client_script(script))
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn peer");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    let ready = ready.to_string();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix(&ready) {
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(STARTUP_DEADLINE)
        .unwrap_or_else(|_| panic!("{script} did not start"));
    Peer {
        child,
        addr: addr.parse().expect("peer address"),
    }
}

/// Runs `script call args…` (30 s at most) and parses the JSON it prints.
pub fn call(python: &Path, script: &str, args: &[&str]) -> serde_json::Value {
    let mut child = Command::new(python)
        .arg(client_script(script))
        .arg("call")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn client");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{script} call {args:?} did not finish in 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("client output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "{script} call {args:?}: not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
