//! The Pingora server authgate runs: the proxy service behind the connection
//! limits, the admin service, and the background tasks, configured from the
//! settings (users never write Pingora's YAML).

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
use crate::body_deadline::BodyDeadlines;
use crate::config::Settings;
use crate::connections::{Limited, Limits};
use crate::generation::Generation;
use crate::h2_limits;
use crate::lifecycle::Lifecycle;
use crate::listener::ListenerKind;
use crate::proxy::AuthGate;
use crate::shutdown::Shutdown;
use crate::tls::CertReloader;
use crate::upstream::StartError;

/// Pingora's server configuration derived from ours (users never write Pingora YAML).
pub(crate) fn server_conf(settings: &Settings) -> ServerConf {
    // authgate's own exit watcher ends the grace period (`shutdown.rs`): Pingora's
    // timer runs a second longer, so it never cuts a request before then.
    let grace = settings.process.grace_period.as_secs();
    ServerConf {
        threads: settings.process.threads,
        grace_period_seconds: Some(grace + 1),
        graceful_shutdown_timeout_seconds: Some(1),
        upstream_keepalive_pool_size: settings.process.upstream_keepalive_pool_size,
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
pub(crate) struct Built {
    /// The Pingora server.
    pub server: Server,
    /// The signal watcher to run it with.
    pub shutdown: Shutdown,
    /// The configuration new requests take.
    pub current: Arc<ArcSwap<Generation>>,
    /// Where new generations are announced (to the background tasks).
    pub generations: watch::Sender<Arc<Generation>>,
    /// The TLS listener's certificate, when the proxy listener is TLS.
    pub tls: Option<Arc<CertReloader>>,
    /// What the proxy listener speaks (for the start-up log).
    pub listener: ListenerKind,
}

impl Built {
    /// Runs until shutdown.
    pub(crate) fn run(self) {
        self.server.run(RunArgs {
            shutdown_signal: Box::new(self.shutdown),
        });
    }
}

/// The proxy service on `listener`: authgate's `ProxyHttp` in Pingora's HTTP
/// proxy (h2 limits, h2c as the listener says), HTTP/2 body deadlines, then the
/// connection limits.
fn proxy_service(
    server: &Server,
    app: AuthGate,
    listener: ListenerKind,
    settings: &Settings,
    limits: Limits,
) -> Service<Limited<BodyDeadlines<pingora::proxy::HttpProxy<AuthGate>>>> {
    let mut proxy = http_proxy(&server.configuration, app);
    proxy.server_options = Some(h2_limits::server_options(
        &listener,
        settings.server.keepalive_timeout,
    ));
    proxy.h2_options = Some(h2_limits::h2_options());
    let proxy = Limited::new(BodyDeadlines::new(proxy), listener, limits);
    let mut service = Service::new("authgate".to_string(), proxy);
    service.add_tcp(&settings.process.listen.to_string());
    service
}

/// Builds the Pingora server: the proxy on `settings.process.listen` and the admin
/// listener on `settings.process.admin_listen` (ports already concrete).
pub(crate) fn build_server(settings: &Settings) -> Result<Built, StartError> {
    let (listener, tls) =
        ListenerKind::proxy(&settings.process.listener).map_err(StartError::Tls)?;
    let generation = Arc::new(Generation::build(settings, None)?);
    let current = Arc::new(ArcSwap::from(generation.clone()));
    let (generations, generations_rx) = watch::channel(generation);
    let lifecycle = Arc::new(Lifecycle::default());
    let mut server = Server::new_with_opt_and_conf(None, server_conf(settings));
    server.bootstrap();
    server.add_service(background_service(
        "background",
        Supervisor::new(generations_rx),
    ));
    let app = AuthGate {
        current: current.clone(),
        lifecycle: lifecycle.clone(),
        scheme: listener.scheme(),
    };
    let limits = Limits {
        max_connections: settings.process.max_connections,
        header_read_timeout: settings.process.header_read_timeout,
    };
    let service = proxy_service(&server, app, listener.clone(), settings, limits);
    server.add_service(service);
    let admin = AdminApp {
        current: current.clone(),
        lifecycle: lifecycle.clone(),
    };
    // The admin port gets the same head deadline and a cap of its own: it may
    // listen on 0.0.0.0 in a pod, and shares the process's file descriptors.
    let admin_limits = Limits {
        max_connections: settings.process.admin_max_connections,
        ..limits
    };
    let admin = Limited::new(admin, ListenerKind::admin(), admin_limits);
    let mut admin_service = Service::new("authgate-admin".to_string(), admin);
    admin_service.add_tcp(&settings.process.admin_listen.to_string());
    server.add_service(admin_service);
    Ok(Built {
        server,
        shutdown: Shutdown::new(
            lifecycle,
            settings.process.drain_delay,
            settings.process.grace_period,
        ),
        current,
        generations,
        tls,
        listener,
    })
}
