//! What the tests of authgate's shared state (rate limits, revocation) share:
//! authgate replicas on one test Redis, tokens with `iat` and `jti`, and `authgate
//! revoke` run as an operator runs it.

use serde_json::json;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use crate::process::{binary, Authgate, Service};
use crate::raw::{self, RawResponse};
use crate::redis::RedisServer;
use crate::tokens::{hs256, now};
use crate::BETTER_AUTH_SECRET;

/// A config on `redis` (one worker thread, HS256 tokens, a generous Redis timeout
/// for debug builds on a busy machine), then `extra` (TOML).
pub fn config(redis: &RedisServer, extra: &str) -> String {
    format!(
        "[server]\nthreads = 1\ngrace_period_secs = 1\n\n[[auth.sources]]\ntype = \"shared_secret\"\n\n[redis]\nurl = \"{}\"\ntimeout_ms = 500\n\n{extra}\n",
        redis.url()
    )
}

/// A replica of authgate with `config` in front of `upstream`; the directory holds
/// its config file (`authgate.toml`).
pub fn replica(config: &str, upstream: SocketAddr) -> (Service, tempfile::TempDir) {
    Authgate::new(config, upstream).start()
}

/// An `Authorization` value: an HS256 token of `sub` issued at `iat`, valid for ten
/// minutes, with `jti` when given.
pub fn bearer_issued_at(sub: &str, iat: u64, jti: Option<&str>) -> String {
    let mut claims = json!({ "sub": sub, "iat": iat, "exp": now() + 600 });
    if let Some(jti) = jti {
        claims["jti"] = json!(jti);
    }
    format!("Bearer {}", hs256(&claims, BETTER_AUTH_SECRET))
}

/// `GET path` on `proxy` with `Authorization: authorization` (none when empty).
pub fn get(proxy: &Service, path: &str, authorization: &str) -> RawResponse {
    let headers: Vec<(&str, &str)> = if authorization.is_empty() {
        Vec::new()
    } else {
        vec![("Authorization", authorization)]
    };
    raw::send(proxy.addr, &raw::get(path, &headers)).expect("a response")
}

/// Runs `authgate revoke --config <config> <args>`; (exit code, stdout, stderr).
pub fn revoke(config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary("authgate"))
        .arg("revoke")
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("AUTHGATE_CONFIG")
        .env_remove("AUTHGATE_REDIS_URL")
        .env_remove("AUTHGATE_REDIS_URL_FILE")
        .output()
        .expect("run authgate revoke");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
