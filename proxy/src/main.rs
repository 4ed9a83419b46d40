//! `authgate`: parse the CLI, load the config, run. Config errors exit 64.

use clap::Parser;
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::time::Duration;

use authgate::cli::{Cli, Command};
use authgate::commands::{check, dev_token, probe};
use authgate::config::{self, Settings, DEFAULT_SECRET_ENV};
use authgate::error::EXIT_CONFIG;
use authgate::reload::{spawn_sighup_handler, Reloader};
use authgate::secret::Secret;
use authgate::{build_server, telemetry};

// glibc malloc was ~17 % of the proxy's CPU under load (bench/RESULTS.md). Built
// without transparent huge pages: with them peak RSS at 256 connections doubled.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn config_error() -> ExitCode {
    ExitCode::from(EXIT_CONFIG as u8)
}

fn load(cli: &Cli) -> Result<Settings, ExitCode> {
    config::load(cli.run.config.as_deref(), &cli.run.overrides, &env_var).map_err(|e| {
        eprintln!("authgate: {e}");
        config_error()
    })
}

fn print_or_fail<E: std::fmt::Display>(what: &str, result: Result<String, E>) -> ExitCode {
    match result {
        Ok(text) => {
            println!("{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("authgate: cannot {what}: {e}");
            ExitCode::FAILURE
        }
    }
}

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

fn run(cli: &Cli) -> ExitCode {
    let mut settings = match load(cli) {
        Ok(s) => s,
        Err(code) => return code,
    };
    telemetry::init(settings.server.log_format);
    for warning in &settings.warnings {
        tracing::warn!(warning = %warning, "configuration warning");
    }
    let server = &mut settings.server;
    match (
        concrete(server.listen, "server.listen"),
        concrete(server.admin_listen, "admin.listen"),
    ) {
        (Ok(listen), Ok(admin)) => (server.listen, server.admin_listen) = (listen, admin),
        (Err(code), _) | (_, Err(code)) => return code,
    }
    let built = match build_server(&settings) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("authgate: {e}");
            return ExitCode::FAILURE;
        }
    };
    let reloader = Reloader::new(
        cli.run.config.clone(),
        cli.run.overrides.clone(),
        env_var,
        settings.server.clone(),
        built.current.clone(),
        built.generations.clone(),
    );
    if let Err(e) = spawn_sighup_handler(reloader) {
        eprintln!("authgate: cannot handle SIGHUP: {e}");
        return ExitCode::FAILURE;
    }
    tracing::info!(listen = %settings.server.listen, admin = %settings.server.admin_listen, upstream = %settings.upstream.address, threads = settings.server.threads, "authgate starting");
    println!("authgate listening on {}", settings.server.listen);
    println!(
        "authgate admin listening on {}",
        settings.server.admin_listen
    );
    built.run();
    telemetry::flush();
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Check) => match load(&cli) {
            Ok(settings) => {
                for warning in &settings.warnings {
                    eprintln!("authgate: warning: {warning}");
                }
                print_or_fail("print the configuration", check::report(&settings))
            }
            Err(code) => code,
        },
        Some(Command::DevToken {
            sub,
            email,
            ttl_secs,
        }) => {
            let Some(secret) = env_var(DEFAULT_SECRET_ENV) else {
                eprintln!("authgate: {DEFAULT_SECRET_ENV} is not set");
                return config_error();
            };
            let token = dev_token::mint(&Secret::new(secret), sub, email.as_deref(), *ttl_secs);
            print_or_fail("sign", token)
        }
        Some(Command::Probe { url, timeout_ms }) => {
            match probe::status(url, Duration::from_millis(*timeout_ms)) {
                Ok(200) => ExitCode::SUCCESS,
                Ok(status) => {
                    eprintln!("authgate: probe {url}: status {status}");
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("authgate: probe {url}: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        None => run(&cli),
    }
}
