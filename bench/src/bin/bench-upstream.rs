//! `bench-upstream`: the tiny static upstream every benchmark scenario shares. Answers any
//! request on any path with `200` and a 20-byte body, on a multi-threaded runtime, so it is
//! never what limits a run. Prints `bench-upstream listening on ADDR` once bound.
//!
//! With `--jwks FILE` it is the benchmark's JWKS server instead: `GET
//! /.well-known/jwks.json` answers the file, so authgate loads its keys over HTTP
//! (`jwks_url`) exactly as it does from Better Auth.
//!
//! `GET /.bench/connections` answers how many connections it has accepted so far (that
//! request's own included): `run.sh` reads it before and after a proxy's run to count the
//! upstream connections the proxy opened, whatever the proxy reports itself.
//!
//! With `--read-body` it reads each request's whole body before it answers, as an
//! application that parses a body does (the abuse run, `abuse.sh`, sends slow bodies
//! through it; without it the answer goes out at once and the body is never waited for).

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;

/// The response body: 20 bytes.
const BODY: &[u8] = b"hello from upstream\n";

/// Static 200 responder for load benchmarks (loopback only).
#[derive(Debug, Parser)]
#[command(name = "bench-upstream", version, about)]
struct Args {
    /// Address to listen on; port 0 picks a free port. Must be a loopback address.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Serve this JWKS file at `/.well-known/jwks.json`.
    #[arg(long)]
    jwks: Option<std::path::PathBuf>,
    /// Read each request's whole body before answering.
    #[arg(long)]
    read_body: bool,
}

/// Path the JWKS is served at.
const JWKS_PATH: &str = "/.well-known/jwks.json";

/// Path that answers the number of connections accepted so far.
const CONNECTIONS_PATH: &str = "/.bench/connections";

/// Connections accepted so far.
static ACCEPTED: AtomicU64 = AtomicU64::new(0);

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "bench-upstream: refusing to listen on non-loopback {}",
            args.listen
        );
        return ExitCode::from(64);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench-upstream: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let jwks = match &args.jwks {
        None => None,
        Some(path) => match std::fs::read(path) {
            Ok(doc) => Some(Bytes::from(doc)),
            Err(e) => {
                eprintln!("bench-upstream: cannot read {}: {e}", path.display());
                return ExitCode::from(64);
            }
        },
    };
    match runtime.block_on(serve(args.listen, jwks, args.read_body)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-upstream: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The answer to `req`: the JWKS at its path when one is served, else the static body.
fn respond(req: &Request<hyper::body::Incoming>, jwks: Option<&Bytes>) -> Response<Full<Bytes>> {
    if req.uri().path() == CONNECTIONS_PATH {
        let n = ACCEPTED.load(Ordering::Relaxed);
        return Response::new(Full::new(Bytes::from(format!("{n}\n"))));
    }
    match jwks {
        Some(doc) if req.uri().path() == JWKS_PATH => {
            let mut resp = Response::new(Full::new(doc.clone()));
            resp.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json"),
            );
            resp
        }
        _ => Response::new(Full::new(Bytes::from_static(BODY))),
    }
}

/// Accepts connections forever, one task per connection, keep-alive on.
async fn serve(listen: SocketAddr, jwks: Option<Bytes>, read_body: bool) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    println!("bench-upstream listening on {}", listener.local_addr()?);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors and the like: back off instead of spinning.
                eprintln!("bench-upstream: accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        ACCEPTED.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let jwks = jwks.clone();
        tokio::spawn(async move {
            let service = service_fn(|req: Request<hyper::body::Incoming>| {
                let resp = respond(&req, jwks.as_ref());
                async move {
                    if read_body {
                        // A body that never completes holds the request; a broken one
                        // is answered all the same.
                        let _ = req.into_body().collect().await;
                    }
                    Ok::<_, Infallible>(resp)
                }
            });
            // A client closing its connection mid-request is normal at the end of a run.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
