//! What each command line does: run the proxy ([`serve`]), or one of the
//! subcommands, each of which returns what to print so that only [`run`] prints
//! and picks the exit code.

mod check;
mod dev_token;
mod explain;
mod revoke;
mod serve;

use std::process::ExitCode;
use std::time::Duration;

use crate::cli::{Cli, Command};
use crate::config::{self, Settings, DEFAULT_SECRET_ENV};
use crate::error::EXIT_CONFIG;
use crate::secret::Secret;

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn config_error() -> ExitCode {
    ExitCode::from(EXIT_CONFIG as u8)
}

/// The settings of `cli`, or the exit code after printing why not (64).
fn load(cli: &Cli) -> Result<Settings, ExitCode> {
    let metrics = &crate::metrics::metrics().auth;
    config::load(
        cli.run.config.as_deref(),
        &cli.run.overrides,
        &env_var,
        metrics,
    )
    .map_err(|e| {
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

/// What `authgate check` prints for `settings` (for the config tests).
#[cfg(test)]
pub(crate) fn check_report(settings: &Settings) -> Result<String, toml::ser::Error> {
    check::report(settings)
}

/// Runs what `cli` asks for; the process's exit code.
pub fn run(cli: Cli) -> ExitCode {
    match &cli.command {
        None => serve::run(&cli),
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
        Some(Command::Revoke(args)) => revoke::run(&cli, args),
        Some(Command::Explain {
            method,
            target,
            token,
            headers,
            json,
            jwks_file,
            peer,
        }) => {
            let question = explain::Question {
                method: method.clone(),
                target: target.clone(),
                token: token.clone(),
                headers: headers.clone(),
                jwks_file: jwks_file.clone(),
                peer: *peer,
            };
            run_explain(&cli, &question, *json)
        }
        Some(Command::Probe { url, timeout_ms }) => probe(url, *timeout_ms),
    }
}

/// `authgate explain`: the answer as text or JSON.
fn run_explain(cli: &Cli, question: &explain::Question, json: bool) -> ExitCode {
    let settings = match load(cli) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("authgate: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let answer = runtime.block_on(explain::explain(&settings, question));
    print_or_fail(
        "explain",
        answer.and_then(|a| {
            if json {
                serde_json::to_string_pretty(&a).map_err(|e| e.to_string())
            } else {
                Ok(a.to_text())
            }
        }),
    )
}

/// `authgate probe URL`: exit 0 on 200.
fn probe(url: &str, timeout_ms: u64) -> ExitCode {
    match crate::probe::status_blocking(url, Duration::from_millis(timeout_ms)) {
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
