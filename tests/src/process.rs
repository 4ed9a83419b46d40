//! Spawning the real binaries: port 0, the bound address read from the first stdout
//! line, readiness polled with a deadline, killed on drop.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a service may take to come up.
pub const STARTUP_DEADLINE: Duration = Duration::from_secs(20);

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Path of a workspace binary built by `cargo build --workspace --bins`.
pub fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let path = target.join("debug").join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first with `cargo build --workspace --bins` (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A running child process that serves HTTP.
pub struct Service {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// authgate's admin listener (`/metrics`, `/healthz`, `/readyz`), when it has one.
    pub admin: Option<SocketAddr>,
    stderr_file: tempfile::NamedTempFile,
}

/// The admin listener's start-up line.
const ADMIN_PREFIX: &str = "authgate admin listening on ";

impl Service {
    /// Spawns `cmd` (stdout piped, stderr to a temp file), waits for a stdout line
    /// starting with `ready_prefix` followed by the address, then for `GET health_path`
    /// to answer 200 (or any status when `health_path` is `None`).
    pub fn spawn(cmd: Command, ready_prefix: &str, health_path: Option<&str>) -> Service {
        Self::spawn_with_admin(cmd, ready_prefix, health_path, false)
    }

    /// Like [`Self::spawn`]; with `admin`, also waits for authgate's admin line and
    /// polls `health_path` there.
    pub fn spawn_with_admin(
        mut cmd: Command,
        ready_prefix: &str,
        health_path: Option<&str>,
        admin: bool,
    ) -> Service {
        let stderr_file = tempfile::NamedTempFile::new().expect("temp file");
        let stderr = stderr_file.reopen().expect("reopen temp file");
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .stdin(Stdio::null());
        let mut child = cmd.spawn().expect("spawn service");
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, rx) = mpsc::channel();
        let prefixes: Vec<String> = std::iter::once(ready_prefix.to_string())
            .chain(admin.then(|| ADMIN_PREFIX.to_string()))
            .collect();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                for (i, prefix) in prefixes.iter().enumerate() {
                    if let Some(rest) = line.strip_prefix(prefix.as_str()) {
                        let _ = tx.send((i, rest.trim().to_string()));
                    }
                }
            }
        });
        let wanted = if admin { 2 } else { 1 };
        let mut found: Vec<Option<SocketAddr>> = vec![None; wanted];
        let deadline = Instant::now() + STARTUP_DEADLINE;
        while found.iter().any(Option::is_none) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((i, a)) => found[i] = Some(a.parse().expect("address on the ready line")),
                Err(_) => {
                    let _ = child.kill();
                    let log = std::fs::read_to_string(stderr_file.path()).unwrap_or_default();
                    panic!("service did not print `{ready_prefix}` in time; stderr:\n{log}");
                }
            }
        }
        let mut service = Service {
            child,
            addr: found[0].expect("ready address"),
            admin: found.get(1).copied().flatten(),
            stderr_file,
        };
        service.wait_ready(health_path.unwrap_or("/"), health_path.is_some());
        service
    }

    fn wait_ready(&mut self, path: &str, need_ok: bool) {
        let deadline = Instant::now() + STARTUP_DEADLINE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "service exited early ({status}); stderr:\n{}",
                    self.stderr()
                );
            }
            let probed = self.admin.unwrap_or(self.addr);
            if let Some(status) = crate::raw::blocking_status(probed, path) {
                // The admin and proxy listeners start side by side: the proxy port
                // must accept connections too.
                let proxy_up = probed == self.addr
                    || std::net::TcpStream::connect_timeout(&self.addr, Duration::from_secs(1))
                        .is_ok();
                if (!need_ok || status == 200) && proxy_up {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "service at {} not ready in time; stderr:\n{}",
                    self.addr,
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// `http://addr` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `http://admin` + `path` (authgate's admin listener).
    pub fn admin_url(&self, path: &str) -> String {
        let admin = self.admin.expect("this service has an admin listener");
        format!("http://{admin}{path}")
    }

    /// The status of authgate's admin `/readyz` (0 when it does not answer).
    pub fn ready_status(&self) -> u16 {
        let admin = self.admin.expect("authgate has an admin listener");
        crate::raw::blocking_status(admin, "/readyz").unwrap_or(0)
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`HUP`, `TERM`, …) to the child.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits up to `limit` for the child to exit by itself.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    /// Everything the service wrote to stderr (its logs) so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr_file.path()).unwrap_or_default()
    }

    /// The log once it contains `needle` (logs are written asynchronously), or
    /// after `limit` whatever it holds.
    pub fn stderr_containing(&self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let log = self.stderr();
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits up to `limit` for the exit.
    pub fn terminate(&mut self, limit: Duration) -> Option<ExitStatus> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The value of the first metric sample on the admin `/metrics` whose line
    /// starts with `line_start` (`name{labels}`), 0 when there is none.
    pub fn metric(&self, line_start: &str) -> f64 {
        let admin = self.admin.expect("this service has an admin listener");
        let text = crate::raw::send(admin, &crate::raw::get("/metrics", &[]))
            .map(|r| r.body)
            .unwrap_or_default();
        text.lines()
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }

    /// Waits up to `limit` for [`Self::metric`] to reach `at_least`; its last value.
    pub fn metric_reaching(&self, line_start: &str, at_least: f64, limit: Duration) -> f64 {
        let deadline = Instant::now() + limit;
        loop {
            let v = self.metric(line_start);
            if v >= at_least || Instant::now() > deadline {
                return v;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Options for starting authgate.
pub struct Authgate {
    config: String,
    upstream: String,
    env: Vec<(String, String)>,
    args: Vec<String>,
    wait_path: &'static str,
    cpus: Option<String>,
}

impl Authgate {
    /// authgate with `config` (TOML text) in front of `upstream`.
    pub fn new(config: &str, upstream: SocketAddr) -> Self {
        Self {
            config: config.to_string(),
            upstream: format!("http://{upstream}"),
            env: vec![
                (
                    "BETTER_AUTH_SECRET".into(),
                    crate::BETTER_AUTH_SECRET.into(),
                ),
                (
                    "AUTHGATE_ASSERTION_SECRET".into(),
                    crate::ASSERTION_SECRET.into(),
                ),
            ],
            args: Vec::new(),
            wait_path: "/healthz",
            cpus: None,
        }
    }

    /// Waits for `/readyz` (keys loaded) instead of `/healthz` (process up) on start.
    pub fn wait_until_ready(mut self) -> Self {
        self.wait_path = "/readyz";
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Adds command-line arguments.
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Runs it with its CPU affinity set to `cpus` (a `taskset -c` list).
    pub fn on_cpus(mut self, cpus: &str) -> Self {
        self.cpus = Some(cpus.into());
        self
    }

    /// Starts it and waits until the admin `/healthz` (or `/readyz`) answers 200.
    pub fn start(self) -> (Service, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("authgate.toml");
        std::fs::write(&config, &self.config).expect("write config");
        // taskset sets the affinity and execs authgate: same pid, same signals.
        let mut cmd = match &self.cpus {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpus).arg(binary("authgate"));
                c
            }
            None => Command::new(binary("authgate")),
        };
        cmd.arg("--config")
            .arg(&config)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--admin-listen")
            .arg("127.0.0.1:0")
            .arg("--upstream")
            .arg(&self.upstream)
            .args(&self.args)
            .env_remove("AUTHGATE_CONFIG")
            .env("RUST_LOG", "info");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let service =
            Service::spawn_with_admin(cmd, "authgate listening on ", Some(self.wait_path), true);
        (service, dir)
    }
}

/// Runs `authgate check` on `config` text; returns (exit code, stdout, stderr).
pub fn authgate_check(config: &str, env: &[(&str, &str)]) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("authgate.toml");
    std::fs::write(&path, config).expect("write config");
    authgate_check_file(&path, env)
}

/// Runs `authgate check --config path`.
pub fn authgate_check_file(path: &Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(binary("authgate"));
    cmd.arg("check").arg("--config").arg(path);
    cmd.env_remove("BETTER_AUTH_SECRET")
        .env_remove("AUTHGATE_ASSERTION_SECRET")
        .env_remove("AUTHGATE_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run authgate check");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
