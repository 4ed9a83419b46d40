//! The real Better Auth OpenID provider (tests/issuer/oidc/server.mjs: better-auth
//! 1.7.5 with the jwt plugin and `@better-auth/oauth-provider` 1.7.5) as a child
//! process, and the OAuth calls a client makes to it.

use serde_json::Value;
use std::process::Command;

use crate::process::{workspace_root, Service};

/// The protected resource its client may get tokens for (`aud` of those tokens).
pub const RESOURCE: &str = "https://api.example.com";

/// A running provider.
pub struct OidcProvider {
    service: Service,
    /// Its base URL, `http://127.0.0.1:<port>`.
    pub base: String,
}

impl OidcProvider {
    /// Starts the provider on `port` (0 = any). With `jwt_issuer`, its jwt plugin's
    /// `jwt.issuer` is set, and the discovery document names that issuer.
    pub fn start(port: u16, jwt_issuer: Option<&str>) -> OidcProvider {
        let dir = workspace_root().join("tests/issuer/oidc");
        assert!(
            dir.join("node_modules/@better-auth/oauth-provider")
                .exists(),
            "tests/issuer/oidc/node_modules is missing: run `npm ci` there (scripts/test.sh does)"
        );
        let mut cmd = Command::new("node");
        cmd.arg("server.mjs")
            .current_dir(&dir)
            .env("BETTER_AUTH_SECRET", crate::BETTER_AUTH_SECRET)
            .env("ISSUER_PORT", port.to_string())
            .env_remove("JWT_ISSUER")
            .env_remove("BETTER_AUTH_SECRETS")
            .env_remove("NODE_ENV");
        if let Some(issuer) = jwt_issuer {
            cmd.env("JWT_ISSUER", issuer);
        }
        let service = Service::spawn(cmd, "ISSUER_READY http://", None);
        let base = format!("http://{}", service.addr);
        OidcProvider { service, base }
    }

    /// The issuer the plugin names by default: the base URL with Better Auth's
    /// `/api/auth` base path.
    pub fn issuer(&self) -> String {
        format!("{}/api/auth", self.base)
    }

    /// `GET {issuer}/.well-known/openid-configuration`, as the plugin serves it.
    pub async fn discovery_document(&self) -> Value {
        let url = format!("{}/.well-known/openid-configuration", self.issuer());
        let resp = reqwest::get(&url).await.expect("discovery request");
        assert_eq!(resp.status(), 200, "{url}");
        resp.json().await.expect("discovery JSON")
    }

    /// An access token for [`RESOURCE`] from the plugin's token endpoint
    /// (client_credentials grant, RFC 6749 §4.4, with an RFC 8707 `resource`), as
    /// the registered client gets one. Returns the token and the client id (its `sub`).
    pub async fn client_credentials_token(&self) -> (String, String) {
        let client: Value = reqwest::get(format!("{}/__client", self.base))
            .await
            .expect("client request")
            .json()
            .await
            .expect("client JSON");
        let (id, secret) = (
            client["client_id"].as_str().expect("client_id"),
            client["client_secret"].as_str().expect("client_secret"),
        );
        // Both are alphanumeric; the resource URL is percent-encoded by hand.
        let form = format!(
            "grant_type=client_credentials&client_id={id}&client_secret={secret}&scope=tasks%3Aread&resource=https%3A%2F%2Fapi.example.com"
        );
        let resp = reqwest::Client::new()
            .post(format!("{}/api/auth/oauth2/token", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .expect("token request");
        let status = resp.status();
        let body: Value = resp.json().await.expect("token JSON");
        assert_eq!(status, 200, "token endpoint: {body}");
        let token = body["access_token"].as_str().expect("access_token");
        (token.to_string(), id.to_string())
    }

    /// A user's JWT from the jwt plugin (`GET /api/auth/token` after sign-up). Its
    /// `iss` is the base URL's origin, not the issuer the discovery document names.
    pub async fn session_jwt(&self, email: &str) -> String {
        let client = reqwest::Client::new();
        let resp = client
            .post(format!("{}/api/auth/sign-up/email", self.base))
            .header("Origin", &self.base)
            .json(&serde_json::json!({"email": email, "password": "correct-horse-battery", "name": "Bob"}))
            .send()
            .await
            .expect("sign-up request");
        assert_eq!(resp.status(), 200, "sign-up failed");
        let session = resp
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()?.split(';').next())
            .find(|c| c.starts_with("better-auth.session_token="))
            .expect("session cookie")
            .to_string();
        let body: Value = client
            .get(format!("{}/api/auth/token", self.base))
            .header("Cookie", session)
            .send()
            .await
            .expect("token request")
            .json()
            .await
            .expect("token JSON");
        body["token"].as_str().expect("token").to_string()
    }

    /// Stops it (SIGTERM).
    pub fn stop(mut self) {
        let _ = self.service.terminate(std::time::Duration::from_secs(10));
    }
}
