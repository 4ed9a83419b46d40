//! The most common set-up of the edge tests: the real authgate with a given config
//! in front of the echo upstream.

use std::net::SocketAddr;

use crate::echo::{self, Echo};
use crate::process::{Authgate, Service};
use crate::raw::{self, RawResponse};

/// Rules most tests share: `/public/**` open, everything under another user's
/// `/api/{user_id}` behind an owner rule.
pub const ROUTES: &str = r#"
[[routes]]
path = "/public/**"
auth = "public"

[[routes]]
path = "/api/{user_id}/**"
auth = "required"
owner = "user_id"
"#;

/// authgate in front of an echo upstream.
pub struct Gated {
    /// The upstream.
    pub echo: Echo,
    /// authgate.
    pub proxy: Service,
    _dir: tempfile::TempDir,
}

impl Gated {
    /// Starts both, authgate with `config` (TOML text).
    pub async fn start(config: &str) -> Self {
        let echo = echo::start().await;
        let (proxy, dir) = Authgate::new(config, echo.addr).start();
        Self {
            echo,
            proxy,
            _dir: dir,
        }
    }

    /// Where authgate listens.
    pub fn addr(&self) -> SocketAddr {
        self.proxy.addr
    }

    /// Sends raw bytes to authgate.
    pub fn send(&self, request: &[u8]) -> RawResponse {
        raw::send(self.proxy.addr, request).expect("a response")
    }

    /// `GET path` with `headers`.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> RawResponse {
        self.send(&raw::get(path, headers))
    }
}
