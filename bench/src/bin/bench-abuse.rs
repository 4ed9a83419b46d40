//! `bench-abuse`: a valid fixed-rate load while abusive clients hold connections, to
//! check that the abuse neither slows the valid requests down nor outlives its deadline.
//!
//! At the same time, for `--duration-secs`:
//!
//! - **valid**: `--rate` requests/s spread over `--connections` keep-alive connections
//!   (connection `k` sends requests `k, k + C, k + 2C …`, request `i` due at
//!   `start + i / rate`); latency runs from the scheduled time to the end of the body,
//!   so a stall counts for every request it delays;
//! - **idle**: `--idle` connections that send nothing; closed ones are reconnected;
//! - **slowloris**: `--slowloris` connections that send a request line, then one header
//!   line every `--slowloris-interval-ms`; half of them begin with `\r\n\r\n` (empty
//!   lines before the request line, which a head deadline must not take for the end of
//!   a head); closed ones are reconnected;
//! - **slow body**: `--slow-body` connections that send a whole head with
//!   `Content-Length: --slow-body-length`, then one body byte every
//!   `--slow-body-interval-ms`; closed ones are reconnected.
//!
//! An abusive connection's close time runs from its first byte (from the connect for
//! idle ones, which send none) to the end of the stream as the client sees it. It must
//! be at most its deadline (`--head-deadline-secs` for idle and slowloris connections,
//! `--body-deadline-secs` for slow bodies) plus `--slack-secs`; a connection still open
//! at the end must not be older than that either. The valid requests must all succeed
//! with a p99 under `--p99-limit-ms`. Prints a JSON summary on stdout and markdown
//! tables to `--markdown` (or stderr), and exits 1 when a goal fails. Loopback only.

use authgate_bench::stats::percentile;
use authgate_bench::target::parse_loopback_url;
use bytes::Bytes;
use clap::Parser;
use http::header::{HeaderValue, AUTHORIZATION, HOST};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant};

/// Valid load plus idle, slowloris and slow-body connections against a loopback URL.
#[derive(Debug, Parser)]
#[command(name = "bench-abuse", version, about)]
struct Args {
    /// URL of the valid requests, `http://127.0.0.1:PORT/path`; the abusive connections
    /// go to the same address.
    #[arg(long)]
    url: String,
    /// File whose first line is the token the valid requests send as a bearer token.
    #[arg(long)]
    token_file: Option<std::path::PathBuf>,
    /// Path of the slowloris request line.
    #[arg(long, default_value = "/api/bench")]
    slowloris_path: String,
    /// Path the slow bodies are sent to (a public route reaches the body read without
    /// a token).
    #[arg(long, default_value = "/public/upload")]
    slow_body_path: String,
    /// Seconds of valid load; the abuse starts `--lead-secs` earlier and ends with it.
    #[arg(long, default_value_t = 20.0)]
    duration_secs: f64,
    /// Seconds the abuse runs before the valid load starts.
    #[arg(long, default_value_t = 1.0)]
    lead_secs: f64,
    /// Valid requests per second.
    #[arg(long, default_value_t = 500.0)]
    rate: f64,
    /// Keep-alive connections of the valid load.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Idle connections.
    #[arg(long, default_value_t = 300)]
    idle: usize,
    /// Slowloris connections.
    #[arg(long, default_value_t = 50)]
    slowloris: usize,
    /// Milliseconds between two header lines of a slowloris connection.
    #[arg(long, default_value_t = 1000)]
    slowloris_interval_ms: u64,
    /// Slow-body connections.
    #[arg(long, default_value_t = 20)]
    slow_body: usize,
    /// Milliseconds between two body bytes of a slow-body connection.
    #[arg(long, default_value_t = 500)]
    slow_body_interval_ms: u64,
    /// `Content-Length` of the slow bodies.
    #[arg(long, default_value_t = 100_000)]
    slow_body_length: u64,
    /// The server's head deadline (`server.header_read_timeout_secs`).
    #[arg(long)]
    head_deadline_secs: f64,
    /// The server's body deadline (`server.body_read_timeout_secs`).
    #[arg(long)]
    body_deadline_secs: f64,
    /// How much later than its deadline an abusive connection may be closed.
    #[arg(long, default_value_t = 1.0)]
    slack_secs: f64,
    /// The valid requests' p99 latency must stay under this.
    #[arg(long, default_value_t = 10.0)]
    p99_limit_ms: f64,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Write the results as markdown tables to this file (else to stderr).
    #[arg(long)]
    markdown: Option<std::path::PathBuf>,
}

/// The abusive classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Idle,
    Slowloris,
    SlowBody,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Idle => "idle",
            Class::Slowloris => "slowloris",
            Class::SlowBody => "slow body",
        }
    }
}

/// How an abusive connection ended.
#[derive(Debug, Clone, Default)]
struct Ending {
    /// Seconds from its first byte (idle: from the connect) to the close.
    after_s: f64,
    /// The status of what the server wrote before closing, if anything (e.g. 408).
    status: Option<u16>,
}

/// What one class of abusive connections saw.
#[derive(Debug, Default)]
struct ClassStats {
    /// Connections closed by the server (or reset) during the run.
    closed: Vec<Ending>,
    /// Ages (seconds from the first byte) of the connections still open at the end.
    open_at_end: Vec<f64>,
    /// Connects that failed.
    connect_errors: u64,
    /// Of the slowloris connections: those that began with empty lines.
    variants: [u64; 2],
}

/// What one valid connection saw.
#[derive(Debug, Default)]
struct ValidStats {
    latencies_us: Vec<u64>,
    ok: u64,
    non2xx: u64,
    errors: u64,
    reconnects: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(pass) => {
            if pass {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("bench-abuse: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<bool, String> {
    if !(args.rate > 0.0 && args.rate <= 100_000.0) {
        return Err("--rate must be in (0, 100000]".into());
    }
    if !(args.duration_secs > 0.0 && args.duration_secs <= 600.0) {
        return Err("--duration-secs must be in (0, 600]".into());
    }
    if !(0.0..=60.0).contains(&args.lead_secs) {
        return Err("--lead-secs must be in [0, 60]".into());
    }
    if args.connections == 0 || args.connections > 1000 {
        return Err("--connections must be 1..1000".into());
    }
    if args.idle + args.slowloris + args.slow_body > 20_000 {
        return Err("at most 20 000 abusive connections".into());
    }
    if args.slowloris_interval_ms == 0 || args.slow_body_interval_ms == 0 {
        return Err("the intervals must be at least 1 ms".into());
    }
    let target = parse_loopback_url(&args.url)?;
    let token = match &args.token_file {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let t = text.lines().next().unwrap_or("").trim().to_string();
            if t.is_empty() {
                return Err(format!("{}: no token", p.display()));
            }
            Some(
                HeaderValue::try_from(format!("Bearer {t}"))
                    .map_err(|e| format!("{}: {e}", p.display()))?,
            )
        }
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let summary = runtime.block_on(drive(args, target.addr, target.path, token))?;
    println!("{}", summary.json);
    match &args.markdown {
        Some(path) => std::fs::write(path, &summary.markdown)
            .map_err(|e| format!("{}: {e}", path.display()))?,
        None => eprint!("{}", summary.markdown),
    }
    Ok(summary.pass)
}

struct Summary {
    json: serde_json::Value,
    markdown: String,
    pass: bool,
}

async fn drive(
    args: &Args,
    addr: SocketAddr,
    path: String,
    token: Option<HeaderValue>,
) -> Result<Summary, String> {
    // Check the valid request once before anything starts.
    let mut probe = connect_valid(addr).await?;
    let resp = probe
        .send_request(valid_request(addr, &path, token.as_ref())?)
        .await
        .map_err(|e| format!("pre-flight request: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("pre-flight request answered {}", resp.status()));
    }
    drop(probe);

    let abuse_start = Instant::now() + Duration::from_millis(50);
    let valid_start = abuse_start + Duration::from_secs_f64(args.lead_secs);
    let end = valid_start + Duration::from_secs_f64(args.duration_secs);

    let mut abusers = Vec::new();
    let mut class_stats = Vec::new();
    for (class, count, interval_ms) in [
        (Class::Idle, args.idle, 0),
        (Class::Slowloris, args.slowloris, args.slowloris_interval_ms),
        (Class::SlowBody, args.slow_body, args.slow_body_interval_ms),
    ] {
        let stats = Arc::new(Mutex::new(ClassStats::default()));
        for k in 0..count {
            // Spread the first connects over the first 500 ms.
            let first = abuse_start + Duration::from_millis((k * 500 / count.max(1)) as u64);
            let plan = AbusePlan {
                class,
                addr,
                interval: Duration::from_millis(interval_ms),
                leading_empty_lines: class == Class::Slowloris && k % 2 == 0,
                slowloris_path: args.slowloris_path.clone(),
                slow_body_path: args.slow_body_path.clone(),
                slow_body_length: args.slow_body_length,
            };
            abusers.push(tokio::spawn(abuse(plan, first, end, stats.clone())));
        }
        class_stats.push((class, stats));
    }

    let total = (args.rate * args.duration_secs).round() as u64;
    let drain = end + Duration::from_secs(5);
    let path = Arc::new(path);
    let mut valid = Vec::new();
    for k in 0..args.connections as u64 {
        valid.push(tokio::spawn(valid_connection(
            addr,
            path.clone(),
            token.clone(),
            ValidSchedule {
                first: k,
                step: args.connections as u64,
                total,
                rate: args.rate,
                start: valid_start,
                drain,
            },
        )));
    }

    let mut merged = ValidStats::default();
    for v in valid {
        let s = v.await.map_err(|e| format!("valid task: {e}"))?;
        merged.latencies_us.extend(s.latencies_us);
        merged.ok += s.ok;
        merged.non2xx += s.non2xx;
        merged.errors += s.errors;
        merged.reconnects += s.reconnects;
    }
    for a in abusers {
        a.await.map_err(|e| format!("abusive task: {e}"))?;
    }
    let unfinished = total.saturating_sub(merged.ok + merged.non2xx + merged.errors);
    merged.errors += unfinished;
    merged.latencies_us.sort_unstable();

    // Every abusive task has ended: the statistics are final.
    let classes = class_stats
        .into_iter()
        .map(|(c, s)| {
            let taken = s.lock().map(|mut g| std::mem::take(&mut *g));
            (c, taken.unwrap_or_default())
        })
        .collect();
    Ok(summarise(args, total, &merged, classes))
}

// ---------------------------------------------------------------- valid load

struct ValidSchedule {
    first: u64,
    step: u64,
    total: u64,
    rate: f64,
    start: Instant,
    drain: Instant,
}

async fn connect_valid(addr: SocketAddr) -> Result<http1::SendRequest<Empty<Bytes>>, String> {
    let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| format!("connect to {addr}: timed out"))?
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake with {addr}: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

fn valid_request(
    addr: SocketAddr,
    path: &str,
    token: Option<&HeaderValue>,
) -> Result<Request<Empty<Bytes>>, String> {
    let mut b = Request::get(path).header(HOST, addr.to_string());
    if let Some(t) = token {
        b = b.header(AUTHORIZATION, t.clone());
    }
    b.body(Empty::new()).map_err(|e| e.to_string())
}

/// One keep-alive connection sending its share of the schedule, until it is done or
/// the drain deadline passes.
async fn valid_connection(
    addr: SocketAddr,
    path: Arc<String>,
    token: Option<HeaderValue>,
    plan: ValidSchedule,
) -> ValidStats {
    let mut stats = ValidStats::default();
    let drain = plan.drain;
    let _ = tokio::time::timeout_at(drain, async {
        let mut sender = connect_valid(addr).await.ok();
        let mut i = plan.first;
        while i < plan.total {
            let due = plan.start + Duration::from_secs_f64(i as f64 / plan.rate);
            sleep_until(due).await;
            i += plan.step;
            let ready = match sender.as_mut() {
                Some(s) => s.ready().await.is_ok(),
                None => false,
            };
            if !ready {
                stats.reconnects += 1;
                match connect_valid(addr).await {
                    Ok(s) => sender = Some(s),
                    Err(_) => {
                        sender = None;
                        stats.errors += 1;
                        continue;
                    }
                }
            }
            let Some(s) = sender.as_mut() else { continue };
            let Ok(req) = valid_request(addr, &path, token.as_ref()) else {
                stats.errors += 1;
                continue;
            };
            match s.send_request(req).await {
                Ok(resp) => {
                    let status = resp.status();
                    let body = resp.into_body().collect().await;
                    let us = u64::try_from(due.elapsed().as_micros()).unwrap_or(u64::MAX);
                    match body {
                        Ok(_) if status.is_success() => {
                            stats.ok += 1;
                            stats.latencies_us.push(us);
                        }
                        Ok(_) => stats.non2xx += 1,
                        Err(_) => stats.errors += 1,
                    }
                }
                Err(_) => stats.errors += 1,
            }
        }
    })
    .await;
    stats
}

// ---------------------------------------------------------------- abuse

#[derive(Debug, Clone)]
struct AbusePlan {
    class: Class,
    addr: SocketAddr,
    interval: Duration,
    leading_empty_lines: bool,
    slowloris_path: String,
    slow_body_path: String,
    slow_body_length: u64,
}

/// One abusive client: connects at `first`, holds the connection its way until the
/// server closes it, reconnects, until `end`.
async fn abuse(plan: AbusePlan, first: Instant, end: Instant, stats: Arc<Mutex<ClassStats>>) {
    sleep_until(first).await;
    while Instant::now() < end {
        let stream = match tokio::time::timeout_at(end, TcpStream::connect(plan.addr)).await {
            Err(_) => break,
            Ok(Ok(s)) => s,
            Ok(Err(_)) => {
                if let Ok(mut s) = stats.lock() {
                    s.connect_errors += 1;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match hold(&plan, stream, end).await {
            Held::Closed(ending) => {
                if let Ok(mut s) = stats.lock() {
                    s.closed.push(ending);
                    if plan.class == Class::Slowloris {
                        s.variants[usize::from(plan.leading_empty_lines)] += 1;
                    }
                }
            }
            Held::OpenAtEnd(age) => {
                if let Ok(mut s) = stats.lock() {
                    s.open_at_end.push(age);
                    if plan.class == Class::Slowloris {
                        s.variants[usize::from(plan.leading_empty_lines)] += 1;
                    }
                }
                break;
            }
        }
    }
}

enum Held {
    Closed(Ending),
    /// Still open when the run ended, this many seconds after its first byte.
    OpenAtEnd(f64),
}

/// Sends the class's bytes on `stream` until the server closes it or `end` comes.
async fn hold(plan: &AbusePlan, stream: TcpStream, end: Instant) -> Held {
    let (mut rd, mut wr) = stream.into_split();
    let started = Instant::now();
    let first_bytes: Vec<u8> = match plan.class {
        Class::Idle => Vec::new(),
        Class::Slowloris => {
            let prefix = if plan.leading_empty_lines { "\r\n\r\n" } else { "" };
            format!("{prefix}GET {} HTTP/1.1\r\nHost: abuse\r\n", plan.slowloris_path).into_bytes()
        }
        Class::SlowBody => format!(
            "POST {} HTTP/1.1\r\nHost: abuse\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            plan.slow_body_path, plan.slow_body_length
        )
        .into_bytes(),
    };
    let mut got = Vec::new();
    let closed = |got: &[u8], at: Instant| {
        Held::Closed(Ending {
            after_s: at.duration_since(started).as_secs_f64(),
            status: status_of(got),
        })
    };
    if !first_bytes.is_empty() && wr.write_all(&first_bytes).await.is_err() {
        return closed(&got, Instant::now());
    }
    let mut sent: u64 = 0;
    let mut next = started + plan.interval;
    let mut chunk = [0u8; 2048];
    loop {
        let tick = async {
            if plan.class == Class::Idle {
                std::future::pending::<()>().await;
            }
            sleep_until(next).await;
        };
        tokio::select! {
            r = rd.read(&mut chunk) => match r {
                Ok(0) | Err(_) => return closed(&got, Instant::now()),
                Ok(n) => got.extend_from_slice(&chunk[..n.min(chunk.len())]),
            },
            () = tick => {
                next += plan.interval;
                let bytes = match plan.class {
                    Class::Slowloris => format!("X-Slow-{sent}: 1\r\n").into_bytes(),
                    _ => b"x".to_vec(),
                };
                sent += 1;
                if plan.class == Class::SlowBody && sent > plan.slow_body_length {
                    // The whole body went out: wait for the answer only.
                    next = end + Duration::from_secs(3600);
                } else if wr.write_all(&bytes).await.is_err() {
                    // Reset while writing: read what came before it.
                    let _ = tokio::time::timeout(Duration::from_millis(200), rd.read_to_end(&mut got)).await;
                    return closed(&got, Instant::now());
                }
            },
            () = sleep_until(end) => {
                return Held::OpenAtEnd(end.duration_since(started).as_secs_f64());
            },
        }
    }
}

/// The status code of an HTTP/1 response at the start of `bytes`.
fn status_of(bytes: &[u8]) -> Option<u16> {
    let rest = bytes.strip_prefix(b"HTTP/1.")?;
    let code = rest.get(2..5)?;
    std::str::from_utf8(code).ok()?.parse().ok()
}

// ---------------------------------------------------------------- summary

fn secs_at(sorted: &[u64], p: f64) -> f64 {
    percentile(sorted, p).unwrap_or(0) as f64 / 1e6
}

fn summarise(
    args: &Args,
    total: u64,
    valid: &ValidStats,
    classes: Vec<(Class, ClassStats)>,
) -> Summary {
    let mut pass = true;
    let mut goals = Vec::new();
    let mut md = String::new();
    let p = |q: f64| percentile(&valid.latencies_us, q).unwrap_or(0) as f64 / 1000.0;
    let (p50, p90, p99, p999) = (p(50.0), p(90.0), p(99.0), p(99.9));
    let max = valid.latencies_us.last().copied().unwrap_or(0) as f64 / 1000.0;
    let bad = valid.non2xx + valid.errors;
    let p99_ok = valid.ok > 0 && p99 < args.p99_limit_ms;
    let all_ok = bad == 0;
    goals.push((
        format!("valid requests: p99 < {} ms", args.p99_limit_ms),
        p99_ok,
    ));
    goals.push(("valid requests: none failed".to_string(), all_ok));
    pass &= p99_ok && all_ok;

    let _ = writeln!(
        md,
        "### Valid load: {} req/s for {} s on {} keep-alive connections\n\n\
         Latency from each request's scheduled send time to the end of its body.\n\n\
         | scheduled | 2xx | non-2xx | errors | reconnects | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n\
         | {total} | {} | {} | {} | {} | {p50:.3} | {p90:.3} | {p99:.3} | {p999:.3} | {max:.3} |\n",
        args.rate, args.duration_secs, args.connections, valid.ok, valid.non2xx, valid.errors,
        valid.reconnects
    );
    let _ = writeln!(
        md,
        "### Abusive connections\n\n\
         Close time from the connection's first byte (idle: from its connect) to the close \
         as the client saw it; a closed connection was reconnected at once. Deadline = \
         the server's setting; the goal is every close within deadline + {} s, and no \
         connection open at the end of the run older than that.\n\n\
         | class | concurrent | deadline s | closed | answered 408 | other answer | no answer | close time min / p50 / p90 / p99 / max s | closed late | open at the end | of which past deadline + slack (oldest s) | connect errors |\n\
         |---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|",
        args.slack_secs
    );
    let mut class_json = serde_json::Map::new();
    for (class, s) in &classes {
        let (concurrent, deadline) = match class {
            Class::Idle => (args.idle, args.head_deadline_secs),
            Class::Slowloris => (args.slowloris, args.head_deadline_secs),
            Class::SlowBody => (args.slow_body, args.body_deadline_secs),
        };
        if concurrent == 0 {
            continue;
        }
        let limit = deadline + args.slack_secs;
        let mut times: Vec<u64> = s.closed.iter().map(|e| (e.after_s * 1e6) as u64).collect();
        times.sort_unstable();
        let late = s.closed.iter().filter(|e| e.after_s > limit).count();
        let oldest_open = s.open_at_end.iter().copied().fold(0.0_f64, f64::max);
        let open_late = s.open_at_end.iter().filter(|&&a| a > limit).count();
        let with_408 = s.closed.iter().filter(|e| e.status == Some(408)).count();
        let other = s
            .closed
            .iter()
            .filter(|e| e.status.is_some() && e.status != Some(408))
            .count();
        let none = s.closed.iter().filter(|e| e.status.is_none()).count();
        let ok = late == 0 && open_late == 0 && !s.closed.is_empty();
        pass &= ok;
        goals.push((
            format!(
                "{}: every connection closed within {limit} s of its first byte",
                class.name()
            ),
            ok,
        ));
        let min = times.first().copied().unwrap_or(0) as f64 / 1e6;
        let maxt = times.last().copied().unwrap_or(0) as f64 / 1e6;
        let distribution = if times.is_empty() {
            "none closed".to_string()
        } else {
            format!(
                "{min:.2} / {:.2} / {:.2} / {:.2} / {maxt:.2}",
                secs_at(&times, 50.0),
                secs_at(&times, 90.0),
                secs_at(&times, 99.0)
            )
        };
        let label = if *class == Class::Slowloris {
            format!(
                "slowloris ({} with `\\r\\n\\r\\n` first, {} without)",
                s.variants[1], s.variants[0]
            )
        } else {
            class.name().to_string()
        };
        let _ = writeln!(
            md,
            "| {label} | {concurrent} | {deadline} | {} | {with_408} | {other} | {none} | {distribution} | {late} | {} | {open_late} ({oldest_open:.2}) | {} |",
            s.closed.len(),
            s.open_at_end.len(),
            s.connect_errors,
        );
        let mut statuses = serde_json::Map::new();
        for e in &s.closed {
            let k = e.status.map_or("none".to_string(), |c| c.to_string());
            let n = statuses
                .get(&k)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            statuses.insert(k, (n + 1).into());
        }
        class_json.insert(
            class.name().replace(' ', "_"),
            serde_json::json!({
                "concurrent": concurrent,
                "deadline_s": deadline,
                "limit_s": limit,
                "closed": s.closed.len(),
                "statuses": statuses,
                "close_s": {
                    "min": min,
                    "p50": secs_at(&times, 50.0),
                    "p90": secs_at(&times, 90.0),
                    "p99": secs_at(&times, 99.0),
                    "max": maxt,
                },
                "closed_late": late,
                "open_at_end": s.open_at_end.len(),
                "open_at_end_oldest_s": oldest_open,
                "open_at_end_late": open_late,
                "connect_errors": s.connect_errors,
                "slowloris_with_empty_lines_first": s.variants[1],
                "pass": ok,
            }),
        );
    }
    md.push_str("\n### Goals\n\n");
    for (goal, ok) in &goals {
        let _ = writeln!(md, "- {}: {goal}", if *ok { "PASS" } else { "FAIL" });
    }
    let _ = writeln!(md, "\nOverall: **{}**", if pass { "PASS" } else { "FAIL" });
    let json = serde_json::json!({
        "valid": {
            "rate": args.rate,
            "duration_secs": args.duration_secs,
            "connections": args.connections,
            "scheduled": total,
            "ok": valid.ok,
            "non2xx": valid.non2xx,
            "errors": valid.errors,
            "reconnects": valid.reconnects,
            "p50_ms": p50,
            "p90_ms": p90,
            "p99_ms": p99,
            "p999_ms": p999,
            "max_ms": max,
            "pass": p99_ok && all_ok,
        },
        "abuse": class_json,
        "goals": goals.iter().map(|(g, ok)| serde_json::json!({"goal": g, "pass": ok})).collect::<Vec<_>>(),
        "pass": pass,
    });
    Summary {
        json,
        markdown: md,
        pass,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_of_a_response() {
        assert_eq!(status_of(b"HTTP/1.1 408 Request Timeout\r\n"), Some(408));
        assert_eq!(status_of(b"HTTP/1.0 200 OK\r\n"), Some(200));
        assert_eq!(status_of(b""), None);
        assert_eq!(status_of(b"garbage"), None);
    }
}
