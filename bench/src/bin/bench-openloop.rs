//! `bench-openloop`: a fixed-rate (open-loop) HTTP/1.1 load generator.
//!
//! Request `i` is due at `start + i / rate`, whatever happened to earlier requests. A
//! dispatcher thread hands due requests to a pool of keep-alive connections; each
//! request's latency is measured from its *scheduled* time, so time spent queued behind a
//! slow response counts (no coordinated omission). The run is bounded: dispatching stops
//! after `--duration-secs`, and anything unfinished `--drain-secs` later counts as an
//! error. Only loopback targets are accepted. Prints one JSON object on stdout.

use authgate_bench::stats::percentile;
use authgate_bench::target::{parse_loopback_url, LoopbackUrl};
use bytes::Bytes;
use clap::Parser;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, HOST};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Mutex};

/// Fixed-rate open-loop load against a loopback URL.
#[derive(Debug, Parser)]
#[command(name = "bench-openloop", version, about)]
struct Args {
    /// Target, `http://127.0.0.1:PORT/path` (loopback IP literals only).
    #[arg(long)]
    url: String,
    /// Requests per second.
    #[arg(long, default_value_t = 5000.0)]
    rate: f64,
    /// Seconds during which requests are scheduled.
    #[arg(long, default_value_t = 5.0)]
    duration_secs: f64,
    /// Seconds allowed after the last scheduled request for the stragglers.
    #[arg(long, default_value_t = 5.0)]
    drain_secs: f64,
    /// Keep-alive connections (one request in flight on each).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Runtime worker threads (the dispatcher has its own thread besides).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Extra request header, `Name: value`; repeatable.
    #[arg(long = "header", short = 'H')]
    headers: Vec<String>,
    /// File of tokens, one per line: request `i` sends `Authorization: Bearer` with line
    /// `i mod N`.
    #[arg(long)]
    token_file: Option<std::path::PathBuf>,
}

/// One scheduled request: its number and when it was due.
type Job = (u64, Instant);

/// What one connection saw.
#[derive(Debug, Default)]
struct ConnStats {
    latencies_us: Vec<u64>,
    ok: u64,
    non2xx: u64,
    errors: u64,
    /// Still busy at the deadline (its in-flight request counts as unfinished).
    cut_off: bool,
}

/// Everything a connection needs to build requests.
struct Plan {
    target: LoopbackUrl,
    host: HeaderValue,
    headers: Vec<(HeaderName, HeaderValue)>,
    tokens: Vec<HeaderValue>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-openloop: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_header(raw: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = raw
        .split_once(':')
        .ok_or_else(|| format!("header {raw:?}: expected `Name: value`"))?;
    let name = HeaderName::try_from(name.trim()).map_err(|e| format!("header {raw:?}: {e}"))?;
    let value = HeaderValue::try_from(value.trim()).map_err(|e| format!("header {raw:?}: {e}"))?;
    Ok((name, value))
}

fn load_tokens(path: &std::path::Path) -> Result<Vec<HeaderValue>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let tokens: Vec<HeaderValue> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|t| {
            HeaderValue::try_from(format!("Bearer {t}"))
                .map_err(|e| format!("{}: {e}", path.display()))
        })
        .collect::<Result<_, _>>()?;
    if tokens.is_empty() {
        return Err(format!("{}: no tokens", path.display()));
    }
    Ok(tokens)
}

fn run(args: &Args) -> Result<serde_json::Value, String> {
    if !(args.rate > 0.0 && args.rate <= 1_000_000.0) {
        return Err("--rate must be in (0, 1000000]".into());
    }
    if !(args.duration_secs > 0.0 && args.duration_secs <= 600.0) {
        return Err("--duration-secs must be in (0, 600]".into());
    }
    if !(0.0..=60.0).contains(&args.drain_secs) {
        return Err("--drain-secs must be in [0, 60]".into());
    }
    let target = parse_loopback_url(&args.url)?;
    let host = HeaderValue::try_from(target.addr.to_string()).map_err(|e| e.to_string())?;
    let headers = args
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<Result<Vec<_>, _>>()?;
    let tokens = match &args.token_file {
        Some(p) => load_tokens(p)?,
        None => Vec::new(),
    };
    let plan = Arc::new(Plan {
        target,
        host,
        headers,
        tokens,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(drive(args, plan))
}

async fn drive(args: &Args, plan: Arc<Plan>) -> Result<serde_json::Value, String> {
    let total = (args.rate * args.duration_secs).round() as u64;
    let (tx, rx) = mpsc::unbounded_channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));

    // Open every connection before the clock starts.
    let mut senders = Vec::with_capacity(args.connections.max(1));
    for _ in 0..args.connections.max(1) {
        senders.push(connect(&plan).await?);
    }
    let rate = args.rate;
    let start = Instant::now() + Duration::from_millis(20);
    let deadline = start
        + Duration::from_secs_f64(args.duration_secs)
        + Duration::from_secs_f64(args.drain_secs);
    let mut tasks = Vec::with_capacity(senders.len());
    for sender in senders {
        tasks.push(tokio::spawn(serve_jobs(
            sender,
            plan.clone(),
            rx.clone(),
            deadline,
        )));
    }
    drop(rx);
    let dispatcher = std::thread::spawn(move || dispatch(tx, start, rate, total));

    // Every task returns by the deadline, with what it measured until then.
    let mut merged = ConnStats::default();
    let mut cut_off = 0u64;
    for task in tasks {
        match task.await {
            Ok(s) => {
                merged.latencies_us.extend(s.latencies_us);
                merged.ok += s.ok;
                merged.non2xx += s.non2xx;
                merged.errors += s.errors;
                cut_off += u64::from(s.cut_off);
            }
            Err(_) => merged.errors += 1,
        }
    }
    // The dispatcher finishes on its own once it has scheduled `total` requests.
    let (dispatched, mut lags_us) = dispatcher.join().unwrap_or_default();
    let completed = merged.ok + merged.non2xx + merged.errors;
    // Whatever was scheduled but never answered before the deadline is an error too.
    let unfinished = total.saturating_sub(completed);

    merged.latencies_us.sort_unstable();
    lags_us.sort_unstable();
    let p = |q: f64| percentile(&merged.latencies_us, q).unwrap_or(0);
    let elapsed = start.elapsed().as_secs_f64();
    Ok(serde_json::json!({
        "rate": args.rate,
        "duration_secs": args.duration_secs,
        "connections": args.connections,
        "scheduled": total,
        "dispatched": dispatched,
        "ok": merged.ok,
        "non2xx": merged.non2xx,
        "errors": merged.errors + unfinished,
        "connections_cut_off_at_deadline": cut_off,
        "p50_us": p(50.0),
        "p90_us": p(90.0),
        "p99_us": p(99.0),
        "p999_us": p(99.9),
        "max_us": merged.latencies_us.last().copied().unwrap_or(0),
        "dispatch_lag_p50_us": percentile(&lags_us, 50.0).unwrap_or(0),
        "dispatch_lag_p99_us": percentile(&lags_us, 99.0).unwrap_or(0),
        "achieved_rps": if elapsed > 0.0 { completed as f64 / elapsed } else { 0.0 },
    }))
}

/// Sends job `i` at `start + i / rate`. Sleeps (no spinning: the load generator shares a
/// core with the upstream in the pinned layout) and hands over every job already due, so
/// a late wake-up never drops or delays the schedule itself. Returns the jobs dispatched
/// and how late each was handed over (microseconds): the tool's own timing error.
fn dispatch(
    tx: mpsc::UnboundedSender<Job>,
    start: Instant,
    rate: f64,
    total: u64,
) -> (u64, Vec<u64>) {
    let due = |i: u64| start + Duration::from_secs_f64(i as f64 / rate);
    let mut lags = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    let mut i = 0;
    while i < total {
        let next = due(i);
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
            continue;
        }
        if tx.send((i, next)).is_err() {
            break;
        }
        lags.push(u64::try_from((now - next).as_micros()).unwrap_or(u64::MAX));
        i += 1;
    }
    (i, lags)
}

async fn connect(plan: &Plan) -> Result<http1::SendRequest<Empty<Bytes>>, String> {
    let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(plan.target.addr))
        .await
        .map_err(|_| format!("connect to {}: timed out", plan.target.addr))?
        .map_err(|e| format!("connect to {}: {e}", plan.target.addr))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake with {}: {e}", plan.target.addr))?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes the connection.
        let _ = conn.await;
    });
    Ok(sender)
}

fn build_request(plan: &Plan, i: u64) -> Result<Request<Empty<Bytes>>, http::Error> {
    let mut builder = Request::get(plan.target.path.as_str()).header(HOST, plan.host.clone());
    for (name, value) in &plan.headers {
        builder = builder.header(name, value.clone());
    }
    if !plan.tokens.is_empty() {
        let idx = (i % plan.tokens.len() as u64) as usize;
        if let Some(token) = plan.tokens.get(idx) {
            builder = builder.header(AUTHORIZATION, token.clone());
        }
    }
    builder.body(Empty::new())
}

/// One keep-alive connection: takes due jobs off the shared queue until the queue
/// closes or `deadline` passes, whichever comes first.
async fn serve_jobs(
    sender: http1::SendRequest<Empty<Bytes>>,
    plan: Arc<Plan>,
    rx: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>,
    deadline: Instant,
) -> ConnStats {
    let mut stats = ConnStats::default();
    let deadline = tokio::time::Instant::from_std(deadline);
    let finished =
        tokio::time::timeout_at(deadline, take_jobs(sender, &plan, &rx, &mut stats)).await;
    stats.cut_off = finished.is_err();
    stats
}

async fn take_jobs(
    mut sender: http1::SendRequest<Empty<Bytes>>,
    plan: &Plan,
    rx: &Mutex<mpsc::UnboundedReceiver<Job>>,
    stats: &mut ConnStats,
) {
    loop {
        let job = rx.lock().await.recv().await;
        let Some((i, due)) = job else { break };
        if sender.ready().await.is_err() {
            // The server closed this connection: open a new one for this job.
            match connect(plan).await {
                Ok(s) => sender = s,
                Err(_) => {
                    stats.errors += 1;
                    continue;
                }
            }
        }
        let Ok(request) = build_request(plan, i) else {
            stats.errors += 1;
            continue;
        };
        match sender.send_request(request).await {
            Ok(response) => {
                let status = response.status();
                let body = response.into_body().collect().await;
                let latency = u64::try_from(due.elapsed().as_micros()).unwrap_or(u64::MAX);
                match body {
                    Ok(_) if status.is_success() => {
                        stats.ok += 1;
                        stats.latencies_us.push(latency);
                    }
                    Ok(_) => stats.non2xx += 1,
                    Err(_) => stats.errors += 1,
                }
            }
            Err(_) => stats.errors += 1,
        }
    }
}
