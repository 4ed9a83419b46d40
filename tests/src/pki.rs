//! A test PKI made at test time with the `openssl` CLI: a CA, server
//! certificates for `localhost` / 127.0.0.1 and client certificates, EC P-256,
//! each with a serial of its own (to tell which one a server presents), signed
//! with `openssl ca` so that validity dates can be set (an expired certificate).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A certificate and its key, as PEM files.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// Its serial number, upper-case hex as `openssl x509 -serial` prints it.
    pub serial: String,
}

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// A TLS server for `localhost` and 127.0.0.1.
    Server,
    /// A TLS client.
    Client,
}

/// A CA in a directory of its own.
pub struct TestCa {
    dir: PathBuf,
    /// The CA certificate (PEM): what clients trust.
    pub cert: PathBuf,
    next: AtomicU32,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn new_key(dir: &Path, key: &str) {
    let curve = "ec_paramgen_curve:P-256";
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            curve,
            "-out",
            key,
        ],
    );
}

const CA_CONFIG: &str = "[ca]\ndefault_ca = test\n[test]\ndatabase = index.txt\n\
new_certs_dir = .\ncertificate = ca.crt\nprivate_key = ca.key\nserial = serial\n\
default_md = sha256\npolicy = any\nunique_subject = no\n[any]\ncommonName = supplied\n\
[server]\nsubjectAltName = DNS:localhost,IP:127.0.0.1\nextendedKeyUsage = serverAuth\n\
basicConstraints = CA:FALSE\n[client]\nextendedKeyUsage = clientAuth\nbasicConstraints = CA:FALSE\n";

impl TestCa {
    /// A new CA named `name` in `dir` (created).
    pub fn new(dir: &Path, name: &str) -> Self {
        std::fs::create_dir_all(dir).expect("ca dir");
        std::fs::write(dir.join("ca.cnf"), CA_CONFIG).expect("ca config");
        std::fs::write(dir.join("index.txt"), "").expect("ca index");
        new_key(dir, "ca.key");
        let subject = format!("/CN={name} test CA");
        openssl(
            dir,
            &[
                "req", "-x509", "-new", "-key", "ca.key", "-out", "ca.crt", "-days", "2", "-subj",
                &subject,
            ],
        );
        Self {
            dir: dir.to_path_buf(),
            cert: dir.join("ca.crt"),
            next: AtomicU32::new(0x1001),
        }
    }

    /// A certificate named `name` for `usage`, valid from an hour ago for a day.
    pub fn issue(&self, name: &str, usage: Usage) -> Issued {
        self.issue_with(name, usage, None, ("-1h", "+1d"))
    }

    /// Like [`Self::issue`]; `key` reuses an existing key, `valid` is the
    /// (start, end) of validity as `openssl ca` takes them (`YYMMDDHHMMSSZ`) or
    /// `-1h` / `+1d` relative to now.
    pub fn issue_with(
        &self,
        name: &str,
        usage: Usage,
        key: Option<&Path>,
        valid: (&str, &str),
    ) -> Issued {
        let serial = self.next.fetch_add(1, Ordering::SeqCst);
        std::fs::write(self.dir.join("serial"), format!("{serial:X}\n")).expect("serial");
        let key = key.map_or_else(
            || {
                new_key(&self.dir, &format!("{name}.key"));
                self.dir.join(format!("{name}.key"))
            },
            Path::to_path_buf,
        );
        let (csr, cert) = (format!("{name}.csr"), format!("{name}.crt"));
        let subject = format!("/CN={name}");
        let key_arg = key.display().to_string();
        openssl(
            &self.dir,
            &[
                "req", "-new", "-key", &key_arg, "-out", &csr, "-subj", &subject,
            ],
        );
        let (start, end) = (absolute(valid.0), absolute(valid.1));
        let extensions = match usage {
            Usage::Server => "server",
            Usage::Client => "client",
        };
        openssl(
            &self.dir,
            &[
                "ca",
                "-config",
                "ca.cnf",
                "-batch",
                "-notext",
                "-in",
                &csr,
                "-out",
                &cert,
                "-startdate",
                &start,
                "-enddate",
                &end,
                "-extensions",
                extensions,
                "-extfile",
                "ca.cnf",
            ],
        );
        Issued {
            cert: self.dir.join(cert),
            key,
            serial: format!("{serial:X}"),
        }
    }
}

/// `-1h` / `+1d` (relative to now) or an absolute `YYMMDDHHMMSSZ` as is.
fn absolute(when: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let secs = match when {
        "-1h" => now - 3600,
        "+1d" => now + 86_400,
        other => return other.to_string(),
    };
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%y%m%d%H%M%SZ"])
        .output()
        .expect("run date");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The serial (upper-case hex) of the certificate a TLS server at `addr`
/// presents, read with `openssl s_client`.
pub fn served_serial(addr: std::net::SocketAddr, ca: &Path) -> Option<String> {
    let script = format!(
        "openssl s_client -connect {addr} -servername localhost -CAfile {} </dev/null 2>/dev/null | openssl x509 -noout -serial",
        ca.display()
    );
    let out = Command::new("sh").arg("-c").arg(script).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().strip_prefix("serial=").map(str::to_string)
}
