//! A Redis server of the test's own: Debian's `redis-server` on a free loopback port,
//! nothing saved to disk, killed on drop. Never the machine's Redis.
//!
//! The port is picked by binding port 0 and closing the socket (`redis-server --port 0`
//! means "no TCP at all"); if another process takes it in between, the start is retried
//! on another port. Without `redis-server` on `PATH` the test prints `SKIP: …` and
//! passes, unless `CI` is set (or `REQUIRE_REDIS=1`): then it fails. A TLS server
//! ([`RedisServer::start_tls`]) also listens with TLS on a second free port, under a
//! certificate of a throw-away CA made with the `openssl` command.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a fresh server may take to answer `PING`.
const START_DEADLINE: Duration = Duration::from_secs(10);
/// Attempts on different ports before giving up.
const START_ATTEMPTS: usize = 5;

/// Whether a missing `redis-server` must fail the test: `CI` set (to anything but
/// empty, `0` or `false`) or `REQUIRE_REDIS=1`.
pub fn required() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| {
        let v = v.trim();
        !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false")
    });
    ci || std::env::var("REQUIRE_REDIS").is_ok_and(|v| v.trim() == "1")
}

/// A running `redis-server`.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    password: Option<String>,
    tls_port: Option<u16>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// A fresh server on a free port, or `None` (after printing `SKIP: …`) when
    /// `redis-server` is not installed and [`required`] is false.
    pub fn start(test: &str) -> Option<Self> {
        Self::start_with(test, None, false)
    }

    /// Like [`Self::start`], with `requirepass password`.
    pub fn start_with_password(test: &str, password: &str) -> Option<Self> {
        Self::start_with(test, Some(password.to_owned()), false)
    }

    /// Like [`Self::start`], also listening with TLS ([`Self::tls_url`]) under a
    /// certificate for `127.0.0.1` signed by a CA of its own ([`Self::ca_file`]). Needs
    /// the `openssl` command, as [`Self::start`] needs `redis-server`.
    pub fn start_tls(test: &str) -> Option<Self> {
        Self::start_with(test, None, true)
    }

    fn start_with(test: &str, password: Option<String>, tls: bool) -> Option<Self> {
        let mut needed = vec![("redis-server", "--version")];
        if tls {
            needed.push(("openssl", "version"));
        }
        for (program, version) in needed {
            if !installed(program, version) {
                assert!(
                    !required(),
                    "{test}: {program} is required (CI or REQUIRE_REDIS=1) but is not on PATH; \
                     scripts/ensure-deps.sh installs it"
                );
                eprintln!("SKIP: {test}: {program} is not installed");
                return None;
            }
        }
        let dir = tempfile::tempdir().expect("temp dir");
        if tls {
            make_certificates(dir.path());
        }
        let mut server = Self {
            child: None,
            port: 0,
            password,
            tls_port: None,
            dir,
        };
        for _ in 0..START_ATTEMPTS {
            server.port = free_port();
            server.tls_port = tls.then(free_port);
            if server.spawn() {
                return Some(server);
            }
        }
        panic!(
            "{test}: redis-server did not start after {START_ATTEMPTS} attempts; log:\n{}",
            server.log()
        );
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://[:password@]127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// `rediss://127.0.0.1:<tls port>`, for a server started by [`Self::start_tls`].
    pub fn tls_url(&self) -> String {
        let port = self.tls_port.expect("started with start_tls");
        format!("rediss://127.0.0.1:{port}")
    }

    /// The PEM file of the CA that signed the TLS certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// A connection of the test's own (plain TCP), for inspecting keys.
    pub fn connection(&self) -> ::redis::Connection {
        ::redis::Client::open(self.url())
            .expect("redis url")
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("connect to the test redis")
    }

    /// Kills the server (SIGKILL: no goodbye to its clients) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (after [`Self::stop`]); empty, as nothing was
    /// saved.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + START_DEADLINE;
        // The port was ours a moment ago; retry while the kernel lets it go.
        while !self.spawn() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not restart on port {}; log:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What the server logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// Starts `redis-server` on `self.port` and waits for `PING`; `false` if it exited
    /// (port taken) or never answered.
    fn spawn(&mut self) -> bool {
        let mut cmd = Command::new("redis-server");
        cmd.arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.log_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(password) = &self.password {
            cmd.arg("--requirepass").arg(password);
        }
        if let Some(port) = self.tls_port {
            let file = |name: &str| self.dir.path().join(name);
            cmd.arg("--tls-port")
                .arg(port.to_string())
                .arg("--tls-cert-file")
                .arg(file("server.crt"))
                .arg("--tls-key-file")
                .arg(file("server.key"))
                .arg("--tls-ca-cert-file")
                .arg(file("ca.crt"))
                .args(["--tls-auth-clients", "no"]);
        }
        let mut child = cmd.spawn().expect("spawn redis-server");
        let deadline = Instant::now() + START_DEADLINE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return false;
            }
            if self.answers_ping() {
                self.child = Some(child);
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    fn answers_ping(&self) -> bool {
        let Ok(client) = ::redis::Client::open(self.url()) else {
            return false;
        };
        let Ok(mut connection) = client.get_connection_with_timeout(Duration::from_millis(500))
        else {
            return false;
        };
        ::redis::cmd("PING")
            .query::<String>(&mut connection)
            .is_ok_and(|reply| reply == "PONG")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether `program` runs at all (asked for its `version`).
fn installed(program: &str, version: &str) -> bool {
    Command::new(program)
        .arg(version)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A CA (`ca.crt`) and a certificate for `127.0.0.1` it signed (`server.crt`,
/// `server.key`) in `dir`, valid for a day.
fn make_certificates(dir: &std::path::Path) {
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write extensions");
    let steps: [&[&str]; 3] = [
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "1",
            "-subj",
            "/CN=authgate test CA",
        ],
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "1",
            "-extfile",
            "server.ext",
        ],
    ];
    for args in steps {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            output.status.success(),
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind");
    listener.local_addr().expect("local addr").port()
}
