//! `upstream-api` binary: parse, build, run. Everything else is in the library.

use std::fmt::Display;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use upstream_api::config::{Cli, Command, Config};
use upstream_api::{logging, probe, server, EXIT_STARTUP, EXIT_USAGE};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => err.exit(), // --help, --version
        Err(err) => {
            // Best effort: if stderr is gone there is nobody to tell.
            let _ = err.print();
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Some(Command::Probe(args)) = &cli.command {
        return match probe::probe(&args.url, Duration::from_millis(args.timeout_ms)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) if err.is_usage() => fail(format!("probe: {err}"), EXIT_USAGE),
            Err(err) => fail(format!("probe {}: {err}", args.url), 1),
        };
    }
    let config = match Config::from_env(cli) {
        Ok(config) => config,
        Err(err) => return fail(format!("configuration error: {err}"), EXIT_USAGE),
    };
    logging::init();
    match server::run_until_signal(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(err, EXIT_STARTUP),
    }
}

/// Says why on stderr and exits with `code`.
fn fail(reason: impl Display, code: u8) -> ExitCode {
    eprintln!("upstream-api: {reason}");
    ExitCode::from(code)
}
