//! authgate: a reverse proxy that verifies Bearer JWTs at the edge (401/403), strips
//! client-sent identity headers and forwards the verified identity, with a signed
//! assertion, to an unmodified upstream.
//!
//! Layout: `auth` (tokens and keys, no proxy types), `policy` and `path` (route rules
//! on one canonical path), `gate` (the decision), `identity`, `assertion` and
//! `forwarding` (headers sent upstream), `reject` (responses we write), `proxy`
//! (Pingora glue), `config` (file → validated settings).

pub mod assertion;
pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod forwarding;
pub mod gate;
pub mod identity;
pub mod path;
pub mod policy;
pub mod proxy;
pub mod refresh;
pub mod reject;
pub mod secret;
pub mod telemetry;

use pingora::prelude::HttpPeer;
use pingora::proxy::http_proxy_service_with_name;
use pingora::server::configuration::ServerConf;
use pingora::server::Server;
use pingora::services::background::background_service;
use std::net::{SocketAddr, ToSocketAddrs};

use crate::auth::Verifier;
use crate::config::Settings;
use crate::gate::Gate;
use crate::proxy::AuthGate;
use crate::refresh::JwksRefresher;

/// Failure to start serving (after the config was accepted).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The upstream host name does not resolve.
    #[error("cannot resolve upstream `{0}`")]
    Resolve(String),
}

fn resolve_upstream(address: &str) -> Result<SocketAddr, StartError> {
    address
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| StartError::Resolve(address.to_string()))
}

/// Builds the proxy application from validated settings.
pub fn build_app(settings: &Settings) -> Result<AuthGate, StartError> {
    let addr = resolve_upstream(&settings.upstream.address)?;
    let mut peer = HttpPeer::new(addr, false, settings.upstream.host.clone());
    peer.options.connection_timeout = Some(settings.upstream.connect_timeout);
    peer.options.total_connection_timeout = Some(settings.upstream.connect_timeout);
    peer.options.read_timeout = Some(settings.upstream.read_timeout);
    peer.options.write_timeout = Some(settings.upstream.write_timeout);
    peer.options.idle_timeout = Some(std::time::Duration::from_secs(60));
    let verifier = Verifier::new(
        settings.sources.clone(),
        settings.verifier.clone(),
        settings.metrics.clone(),
    );
    Ok(AuthGate {
        gate: Gate::new(
            settings.routes.clone(),
            verifier,
            settings.cors_preflight,
            settings.session_cookie.clone(),
        ),
        strip_cookie_prefix: settings.strip_cookie_prefix.clone(),
        identity: settings.identity.clone(),
        assertion: settings.assertion.clone(),
        peer,
        realm: settings.realm.clone(),
        keep_authorization: settings.keep_authorization,
        health_path: settings.health_path.clone(),
        ready_path: settings.ready_path.clone(),
    })
}

/// Pingora's server configuration derived from ours (users never write Pingora YAML).
pub fn server_conf(settings: &Settings) -> ServerConf {
    let grace = settings.grace_period.as_secs();
    // Pingora waits the whole grace period, then gives runtimes a final timeout:
    // split our budget so that SIGTERM completes within `grace_period_secs`.
    let final_step = grace.min(1);
    ServerConf {
        threads: settings.threads,
        grace_period_seconds: Some(grace - final_step),
        graceful_shutdown_timeout_seconds: Some(final_step),
        upstream_keepalive_pool_size: settings.upstream.keepalive_pool_size,
        // Connect errors are answered with 502 at once rather than retried blindly.
        max_retries: 1,
        work_stealing: false,
        ..ServerConf::default()
    }
}

/// Builds the Pingora server listening on `settings.listen` (port already concrete).
pub fn build_server(settings: &Settings) -> Result<Server, StartError> {
    let app = build_app(settings)?;
    let remotes: Vec<_> = app.gate.verifier().remote_sources().cloned().collect();
    let mut server = Server::new_with_opt_and_conf(None, server_conf(settings));
    server.bootstrap();
    if !remotes.is_empty() {
        server.add_service(background_service(
            "jwks-refresh",
            JwksRefresher::new(remotes),
        ));
    }
    let mut service = http_proxy_service_with_name(&server.configuration, app, "authgate");
    service.add_tcp(&settings.listen.to_string());
    server.add_service(service);
    Ok(server)
}
