//! `authgate` without a subcommand: bind both listeners, build the server and
//! run it until shutdown, reloading on SIGHUP.

use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;

use super::{env_var, load};
use crate::cli::Cli;
use crate::reload::{spawn_sighup_handler, ConfigSource, Reloader};
use crate::revocation::Revocations;
use crate::server::build_server;
use crate::telemetry;
use crate::tls;

/// Binds `addr` once ourselves: a clear error for a busy port, and port 0 becomes
/// concrete (Pingora needs a fixed address) and is printed for whoever started us.
fn concrete(addr: SocketAddr, what: &str) -> Result<SocketAddr, ExitCode> {
    TcpListener::bind(addr)
        .and_then(|l| l.local_addr())
        .map_err(|e| {
            eprintln!("authgate: cannot listen on {addr} ({what}): {e}");
            ExitCode::FAILURE
        })
}

/// Reads the revocation record before the proxy serves, so that a replica started
/// after a revocation refuses its tokens from its first request. Redis down: the
/// proxy starts anyway (`/readyz` does not depend on Redis) and the follower loads
/// the record when Redis answers.
fn load_revocations(revocations: &Revocations) {
    let loaded = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|runtime| {
            runtime
                .block_on(revocations.load_once())
                .map_err(|e| e.to_string())
        });
    match loaded {
        Ok(()) => {
            let (subjects, tokens) = revocations.held();
            tracing::info!(subjects, tokens, "revocations loaded");
        }
        Err(e) => tracing::warn!(
            error = %e,
            "revocations not loaded: tokens revoked before now pass until Redis answers"
        ),
    }
}

/// Runs the proxy until it is shut down.
pub(super) fn run(cli: &Cli) -> ExitCode {
    // Before anything builds a TLS configuration (Pingora would install ring).
    tls::install_process_provider();
    let mut settings = match load(cli) {
        Ok(s) => s,
        Err(code) => return code,
    };
    telemetry::init(settings.process.log_format);
    for warning in &settings.warnings {
        tracing::warn!(warning = %warning, "configuration warning");
    }
    let process = &mut settings.process;
    match (
        concrete(process.listen, "server.listen"),
        concrete(process.admin_listen, "admin.listen"),
    ) {
        (Ok(listen), Ok(admin)) => (process.listen, process.admin_listen) = (listen, admin),
        (Err(code), _) | (_, Err(code)) => return code,
    }
    let built = match build_server(&settings) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("authgate: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(revocations) = built.current.load().revocations() {
        load_revocations(revocations);
    }
    let reloader = Reloader {
        source: ConfigSource {
            file: cli.run.config.clone(),
            overrides: cli.run.overrides.clone(),
            env: env_var,
        },
        running: settings.process.clone(),
        current: built.current.clone(),
        generations: built.generations.clone(),
        tls: built.tls.clone(),
    };
    if let Err(e) = spawn_sighup_handler(reloader) {
        eprintln!("authgate: cannot handle SIGHUP: {e}");
        return ExitCode::FAILURE;
    }
    if let Some(certs) = &built.tls {
        if let Err(e) = tls::spawn_watcher(certs.clone()) {
            eprintln!("authgate: cannot watch the TLS certificate files: {e}");
            return ExitCode::FAILURE;
        }
    }
    tracing::info!(listen = %settings.process.listen, protocols = built.listener.describe(), admin = %settings.process.admin_listen, upstream = %settings.default_upstream().address, upstreams = settings.upstreams.len(), threads = settings.process.threads, "authgate starting");
    println!("authgate listening on {}", settings.process.listen);
    println!(
        "authgate admin listening on {}",
        settings.process.admin_listen
    );
    built.run();
    telemetry::flush();
    ExitCode::SUCCESS
}
