//! `authgate`: parse the CLI, load the config, run. Config errors exit 64.

use clap::Parser;
use std::net::TcpListener;
use std::process::ExitCode;

use authgate::auth::jwks::redact_password;
use authgate::cli::{Cli, Command};
use authgate::config::{self, Settings};
use authgate::error::EXIT_CONFIG;
use authgate::{build_server, telemetry};

// glibc malloc was ~17 % of the proxy's CPU under load (bench/RESULTS.md). Built
// without transparent huge pages: with them peak RSS at 256 connections doubled.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn load(cli: &Cli) -> Result<Settings, ExitCode> {
    config::load(cli.run.config.as_deref(), &cli.run.overrides(), &env_var).map_err(|e| {
        eprintln!("authgate: {e}");
        ExitCode::from(EXIT_CONFIG as u8)
    })
}

fn check(cli: &Cli) -> ExitCode {
    let settings = match load(cli) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut effective = settings.effective.clone();
    for source in &mut effective.auth.sources {
        source.url = source.url.as_deref().map(redact_password);
    }
    match toml::to_string_pretty(&effective) {
        Ok(text) => {
            println!("# authgate: configuration OK ({})", settings.file.display());
            println!("# secrets (values never printed):");
            for s in &settings.secret_sources {
                println!("#   {s} = \"***\"");
            }
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("authgate: cannot print the configuration: {e}");
            ExitCode::FAILURE
        }
    }
}

fn dev_token(sub: &str, email: Option<&str>, ttl_secs: u64) -> ExitCode {
    let Some(secret) = env_var("BETTER_AUTH_SECRET") else {
        eprintln!("authgate: BETTER_AUTH_SECRET is not set");
        return ExitCode::from(EXIT_CONFIG as u8);
    };
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims = serde_json::json!({ "sub": sub, "iat": now, "exp": now + ttl_secs });
    if let Some(email) = email {
        claims["email"] = email.into();
    }
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    match jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("authgate: cannot sign: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> ExitCode {
    let mut settings = match load(cli) {
        Ok(s) => s,
        Err(code) => return code,
    };
    telemetry::init(settings.log_format);
    // Bind once ourselves: a clear error for a busy port, and port 0 becomes concrete
    // (Pingora needs a fixed address) and is printed for whoever started us.
    match TcpListener::bind(settings.listen).and_then(|l| l.local_addr()) {
        Ok(addr) => settings.listen = addr,
        Err(e) => {
            eprintln!("authgate: cannot listen on {}: {e}", settings.listen);
            return ExitCode::FAILURE;
        }
    }
    let server = match build_server(&settings) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("authgate: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(listen = %settings.listen, upstream = %settings.upstream.address, "authgate starting");
    println!("authgate listening on {}", settings.listen);
    server.run_forever()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Check) => check(&cli),
        Some(Command::DevToken {
            sub,
            email,
            ttl_secs,
        }) => dev_token(sub, email.as_deref(), *ttl_secs),
        None => run(&cli),
    }
}
