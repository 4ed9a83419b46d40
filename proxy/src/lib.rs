//! authgate: a reverse proxy that verifies Bearer JWTs at the edge (401/403), strips
//! client-sent identity headers and forwards the verified identity, with a signed
//! assertion, to an unmodified upstream.
//!
//! Layout:
//! - `auth`: tokens and keys, no proxy types;
//! - `path`, `target`, `policy`: the canonical path and the route rules on it;
//! - `inbound`: what is refused or corrected before any rule (`framing`: request
//!   smuggling checks);
//! - `gate`: the edge decision (allow / 401 / 403 / 503);
//! - `outbound`: what goes upstream, in one ordered function, built on `identity`,
//!   `assertion` and `forwarding`;
//! - `reject`: responses authgate writes; `decision`: the outcome word for logs and
//!   metrics; `proxy`: the Pingora glue;
//! - `generation`: one configuration's runtime objects; `reload` swaps them on
//!   SIGHUP; `background` runs their JWKS refresh, DNS and health tasks;
//! - `connections`: connection cap and head deadline; `lifecycle`, `shutdown`:
//!   draining and exit; `admin`, `metrics`: the admin listener;
//! - `telemetry`: logging set-up; `log_sink`: the batched stderr writer;
//!   `access_log`: the per-request line;
//! - `config`: file → validated settings, one resolver per section;
//! - `cli`, `commands`: the command line and the subcommands besides running.

pub mod access_log;
pub mod admin;
pub mod assertion;
pub mod auth;
pub mod background;
pub mod cli;
pub mod commands;
pub mod config;
pub mod connections;
pub mod decision;
pub mod error;
pub mod forwarding;
pub mod framing;
pub mod gate;
pub mod generation;
pub mod head_deadline;
pub mod http1_head;
pub mod identity;
pub mod inbound;
pub mod lifecycle;
pub mod log_sink;
pub mod metrics;
pub mod outbound;
pub mod path;
pub mod policy;
pub mod proxy;
pub mod reject;
pub mod reload;
pub mod secret;
pub mod shutdown;
pub mod target;
pub mod telemetry;

use arc_swap::ArcSwap;
use pingora::proxy::http_proxy;
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server};
use pingora::services::background::background_service;
use pingora::services::listening::Service;
use std::sync::Arc;
use tokio::sync::watch;

use crate::admin::AdminApp;
use crate::background::Supervisor;
use crate::config::Settings;
use crate::connections::{Limited, Limits};
use crate::generation::Generation;
use crate::lifecycle::Lifecycle;
use crate::proxy::AuthGate;
use crate::shutdown::Shutdown;

pub use crate::generation::StartError;

/// Pingora's server configuration derived from ours (users never write Pingora YAML).
pub fn server_conf(settings: &Settings) -> ServerConf {
    // authgate's own exit watcher ends the grace period (`shutdown.rs`): Pingora's
    // timer runs a second longer, so it never cuts a request before then.
    let grace = settings.server.grace_period.as_secs();
    ServerConf {
        threads: settings.server.threads,
        grace_period_seconds: Some(grace + 1),
        graceful_shutdown_timeout_seconds: Some(1),
        upstream_keepalive_pool_size: settings.upstream.keepalive_pool_size,
        // Connect errors are answered with 502 at once rather than retried blindly.
        max_retries: 1,
        // With one runtime per thread, Pingora 0.9's upstream pool races its own
        // idle watcher (cloudflare/pingora#998): about one pooled connection in ten
        // was dropped as "not reusable" and a new one opened. Work stealing keeps
        // the watcher and the next request apart in practice.
        work_stealing: true,
        ..ServerConf::default()
    }
}

/// A built server and what running and reloading it need.
pub struct Built {
    /// The Pingora server.
    pub server: Server,
    /// The signal watcher to run it with.
    pub shutdown: Shutdown,
    /// The configuration new requests take.
    pub current: Arc<ArcSwap<Generation>>,
    /// Where new generations are announced (to the background tasks).
    pub generations: watch::Sender<Arc<Generation>>,
    /// Draining and in-flight state.
    pub lifecycle: Arc<Lifecycle>,
}

impl Built {
    /// Runs until shutdown.
    pub fn run(self) {
        self.server.run(RunArgs {
            shutdown_signal: Box::new(self.shutdown),
        });
    }
}

/// Builds the Pingora server: the proxy on `settings.server.listen` and the admin
/// listener on `settings.server.admin_listen` (ports already concrete).
pub fn build_server(settings: &Settings) -> Result<Built, StartError> {
    let generation = Arc::new(Generation::build(settings, None)?);
    let current = Arc::new(ArcSwap::from(generation.clone()));
    let (generations, generations_rx) = watch::channel(generation);
    let lifecycle = Arc::new(Lifecycle::default());
    let mut server = Server::new_with_opt_and_conf(None, server_conf(settings));
    server.bootstrap();
    server.add_service(background_service(
        "background",
        Supervisor::new(generations_rx, lifecycle.clone()),
    ));
    let app = AuthGate {
        current: current.clone(),
        lifecycle: lifecycle.clone(),
    };
    let limits = Limits {
        max_connections: settings.server.max_connections,
        header_read_timeout: settings.server.header_read_timeout,
    };
    let proxy = Limited::new(http_proxy(&server.configuration, app), limits);
    let mut service = Service::new("authgate".to_string(), proxy);
    service.add_tcp(&settings.server.listen.to_string());
    server.add_service(service);
    let admin = AdminApp {
        current: current.clone(),
        lifecycle: lifecycle.clone(),
    };
    // The admin port gets the same head deadline and a cap of its own: it may
    // listen on 0.0.0.0 in a pod, and shares the process's file descriptors.
    let admin_limits = Limits {
        max_connections: settings.server.admin_max_connections,
        ..limits
    };
    let admin = Limited::new(admin, admin_limits);
    let mut admin_service = Service::new("authgate-admin".to_string(), admin);
    admin_service.add_tcp(&settings.server.admin_listen.to_string());
    server.add_service(admin_service);
    Ok(Built {
        server,
        shutdown: Shutdown::new(
            lifecycle.clone(),
            settings.server.drain_delay,
            settings.server.grace_period,
        ),
        current,
        generations,
        lifecycle,
    })
}

/// What the fuzz targets drive (`fuzz/`): the hand-written parsers, each held to the
/// one it shadows. Not an API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::http1_head::{request_target, HeadScanner};
}
