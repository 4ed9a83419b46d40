//! The real Better Auth (tests/issuer/server.mjs, better-auth 1.7.25 with the jwt
//! plugin) as a child process, and the HTTP calls a browser app would make to it.

use serde_json::{json, Value};
use std::process::Command;

use crate::process::{workspace_root, Service};

/// How to start the issuer.
#[derive(Debug, Clone)]
pub struct IssuerOptions {
    /// `JWT_ALG`.
    pub alg: String,
    /// `JWT_EXPIRATION`, e.g. `3s`.
    pub expiration: Option<String>,
    /// `COOKIE_CACHE`: `jwt` or `jwks`.
    pub cookie_cache: Option<String>,
    /// Fixed port (0 = any).
    pub port: u16,
    /// `ADMIN_PLUGIN=1`: Better Auth's admin plugin (`role`, `banned` in tokens).
    pub admin_plugin: bool,
    /// `AUTHGATE_REDIS_URL`: the admin plugin and authgate's revocation hook
    /// (`revocation-hook.mjs`) on this Redis.
    pub redis_url: Option<String>,
}

impl IssuerOptions {
    /// Defaults with `alg`.
    pub fn alg(alg: &str) -> Self {
        Self {
            alg: alg.into(),
            expiration: None,
            cookie_cache: None,
            port: 0,
            admin_plugin: false,
            redis_url: None,
        }
    }
}

/// A running Better Auth.
pub struct Issuer {
    service: Service,
    /// Its base URL (`iss` and `aud` of its tokens).
    pub base: String,
}

impl Issuer {
    /// Starts the issuer and waits until it serves.
    pub fn start(opts: &IssuerOptions) -> Issuer {
        let dir = workspace_root().join("tests/issuer");
        assert!(
            dir.join("node_modules/better-auth").exists(),
            "tests/issuer/node_modules is missing: run `npm ci` there (scripts/test.sh does)"
        );
        let mut cmd = Command::new("node");
        cmd.arg("server.mjs")
            .current_dir(&dir)
            .env("BETTER_AUTH_SECRET", crate::BETTER_AUTH_SECRET)
            .env("ISSUER_PORT", opts.port.to_string())
            .env("JWT_ALG", &opts.alg)
            .env_remove("BETTER_AUTH_SECRETS")
            .env_remove("NODE_ENV");
        if let Some(e) = &opts.expiration {
            cmd.env("JWT_EXPIRATION", e);
        }
        if let Some(c) = &opts.cookie_cache {
            cmd.env("COOKIE_CACHE", c);
        }
        if opts.admin_plugin {
            cmd.env("ADMIN_PLUGIN", "1");
        }
        match &opts.redis_url {
            Some(url) => cmd.env("AUTHGATE_REDIS_URL", url),
            None => cmd.env_remove("AUTHGATE_REDIS_URL"),
        };
        let service = Service::spawn(cmd, "ISSUER_READY http://", None);
        let base = format!("http://{}", service.addr);
        Issuer { service, base }
    }

    /// `…/api/auth/jwks`.
    pub fn jwks_url(&self) -> String {
        format!("{}/api/auth/jwks", self.base)
    }

    /// How many times its JWKS was fetched.
    pub async fn jwks_fetches(&self) -> u64 {
        let stats: Value = reqwest::get(format!("{}/__stats", self.base))
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats JSON");
        stats["jwks_fetches"].as_u64().expect("jwks_fetches")
    }

    /// Stops it (SIGTERM).
    pub fn stop(mut self) {
        let _ = self.service.terminate(std::time::Duration::from_secs(10));
    }
}

/// A signed-up user and the cookies Better Auth set.
#[derive(Debug, Clone)]
pub struct User {
    /// Better Auth's user id (`sub`).
    pub id: String,
    /// Email.
    pub email: String,
    /// `name=value` pairs from `Set-Cookie`, as received.
    pub cookies: Vec<(String, String)>,
}

impl User {
    /// A cookie's value.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A `Cookie` header with the named cookies.
    pub fn cookie_header(&self, names: &[&str]) -> String {
        self.cookies
            .iter()
            .filter(|(n, _)| names.contains(&n.as_str()))
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn set_cookies(resp: &reqwest::Response) -> Vec<(String, String)> {
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|nv| nv.split_once('='))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Signs a new user up with email and password, as the Better Auth client does.
pub async fn sign_up(issuer: &Issuer, email: &str) -> User {
    let body = json!({"email": email, "password": PASSWORD, "name": "Test User"});
    session_call(issuer, "sign-up/email", email, body).await
}

/// Signs an existing user in: a new session.
pub async fn sign_in(issuer: &Issuer, email: &str) -> User {
    let body = json!({"email": email, "password": PASSWORD});
    session_call(issuer, "sign-in/email", email, body).await
}

const PASSWORD: &str = "correct-horse-battery";

/// POSTs `body` to `/api/auth/<path>` (sign-up or sign-in): the user and its cookies.
async fn session_call(issuer: &Issuer, path: &str, email: &str, body: Value) -> User {
    let resp = reqwest::Client::new()
        .post(format!("{}/api/auth/{path}", issuer.base))
        .header("Origin", &issuer.base)
        .json(&body)
        .send()
        .await
        .expect("sign-up/in request");
    assert_eq!(resp.status(), 200, "{path} failed");
    let cookies = set_cookies(&resp);
    let body: Value = resp.json().await.expect("sign-up/in JSON");
    User {
        id: body["user"]["id"].as_str().expect("user id").to_string(),
        email: email.to_string(),
        cookies,
    }
}

/// POSTs `body` to `/api/auth/<path>` with `user`'s session cookie; asserts 200.
async fn post_as(issuer: &Issuer, user: &User, path: &str, body: Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/api/auth/{path}", issuer.base))
        .header("Origin", &issuer.base)
        .header("Cookie", user.cookie_header(&["better-auth.session_token"]))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(status, 200, "{path}: {text}");
}

/// Signs `user` out (Better Auth deletes the session).
pub async fn sign_out(issuer: &Issuer, user: &User) {
    post_as(issuer, user, "sign-out", json!({})).await;
}

/// `admin` bans the user `user_id` with the admin plugin.
pub async fn ban(issuer: &Issuer, admin: &User, user_id: &str) {
    post_as(
        issuer,
        admin,
        "admin/ban-user",
        json!({ "userId": user_id }),
    )
    .await;
}

/// `GET /api/auth/token` with the session cookie: the Bearer JWT.
pub async fn access_token(issuer: &Issuer, user: &User) -> String {
    let resp = reqwest::Client::new()
        .get(format!("{}/api/auth/token", issuer.base))
        .header("Cookie", user.cookie_header(&["better-auth.session_token"]))
        .send()
        .await
        .expect("token request");
    assert_eq!(resp.status(), 200, "token request failed");
    let body: Value = resp.json().await.expect("token JSON");
    body["token"].as_str().expect("token").to_string()
}

/// `POST /api/auth/admin/set-role` as `admin` (the admin plugin's own endpoint): the
/// user's roles become `roles` (Better Auth stores several joined with commas).
pub async fn set_role(issuer: &Issuer, admin: &User, user_id: &str, roles: &[&str]) {
    let resp = reqwest::Client::new()
        .post(format!("{}/api/auth/admin/set-role", issuer.base))
        .header("Origin", &issuer.base)
        .header(
            "Cookie",
            admin.cookie_header(&["better-auth.session_token"]),
        )
        .json(&json!({"userId": user_id, "role": roles}))
        .send()
        .await
        .expect("set-role request");
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    assert_eq!(status, 200, "set-role failed: {body}");
}
