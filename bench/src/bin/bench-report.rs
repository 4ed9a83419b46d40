//! `bench-report`: prints the markdown tables for `RESULTS.md` from the raw JSON lines
//! `run.sh` collected (see `authgate_bench::report`).

use authgate_bench::report::{parse_raw, render, RenderOptions};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// Render benchmark tables from raw.jsonl.
#[derive(Debug, Parser)]
#[command(name = "bench-report", version, about)]
struct Args {
    /// The raw results, one JSON object per line.
    #[arg(long)]
    raw: PathBuf,
    /// Connections used by the closed-loop runs (for the captions).
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// Layouts, in the order to show them.
    #[arg(long, value_delimiter = ',', default_value = "pinned,unpinned")]
    layouts: Vec<String>,
    /// Layout of the peak-RSS pass (`none` if it did not run).
    #[arg(long, default_value = "none")]
    rss_layout: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let text = match std::fs::read_to_string(&args.raw) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("bench-report: {}: {e}", args.raw.display());
            return ExitCode::FAILURE;
        }
    };
    let records = match parse_raw(&text) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench-report: {}: {e}", args.raw.display());
            return ExitCode::FAILURE;
        }
    };
    print!(
        "{}",
        render(
            &records,
            &RenderOptions {
                connections: args.connections,
                layouts: args.layouts,
                rss_layout: (args.rss_layout != "none").then_some(args.rss_layout),
            }
        )
    );
    ExitCode::SUCCESS
}
