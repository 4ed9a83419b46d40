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
    let grace = settings.server.grace_period.as_secs();
    // Pingora waits the whole grace period (authgate exits earlier once idle),
    // then gives runtimes a final timeout: split our budget so that SIGTERM
    // completes within `grace_period_secs` whatever is still running.
    let final_step = grace.min(1);
    ServerConf {
        threads: settings.server.threads,
        grace_period_seconds: Some(grace - final_step),
        graceful_shutdown_timeout_seconds: Some(final_step),
        upstream_keepalive_pool_size: settings.upstream.keepalive_pool_size,
        // Connect errors are answered with 502 at once rather than retried blindly.
        max_retries: 1,
        work_stealing: false,
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
    let mut admin_service = Service::new("authgate-admin".to_string(), admin);
    admin_service.add_tcp(&settings.server.admin_listen.to_string());
    server.add_service(admin_service);
    Ok(Built {
        server,
        shutdown: Shutdown::new(lifecycle.clone(), settings.server.drain_delay),
        current,
        generations,
        lifecycle,
    })
}
