//! `authgate`: parse the command line, run it.

use clap::Parser;
use std::process::ExitCode;

// glibc malloc was ~17 % of the proxy's CPU under load (bench/RESULTS.md). Built
// without transparent huge pages: with them peak RSS at 256 connections doubled.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    authgate::run(authgate::Cli::parse())
}
