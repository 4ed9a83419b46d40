//! `upstream-api` binary: parse, configure, connect, bind, serve. Nothing else.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use upstream_api::config::{secret_from_env, Cli, Command, Config, SECRET_ENV, SECRET_FILE_ENV};
use upstream_api::db::Store;
use upstream_api::trust::AssertionVerifier;
use upstream_api::App;

/// EX_USAGE: the configuration is wrong.
const EXIT_USAGE: u8 = 64;
/// The service could not start (database, port).
const EXIT_STARTUP: u8 = 1;

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
    if let Some(Command::Probe { url }) = &cli.command {
        return probe(url);
    }
    let secret = secret_from_env(
        std::env::var_os(SECRET_FILE_ENV),
        std::env::var_os(SECRET_ENV),
    );
    let config = match secret.and_then(|secret| Config::from_cli(cli, secret)) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("upstream-api: configuration error: {err}");
            return ExitCode::from(EXIT_USAGE);
        }
    };

    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("upstream-api: cannot start the async runtime: {err}");
            return ExitCode::from(EXIT_STARTUP);
        }
    };
    runtime.block_on(serve(config))
}

/// `upstream-api probe URL`: one GET over plain HTTP; success only on 200.
fn probe(url: &str) -> ExitCode {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpStream, ToSocketAddrs};
    use std::time::Duration;
    let Some(rest) = url.strip_prefix("http://") else {
        eprintln!("upstream-api: probe: only http:// URLs");
        return ExitCode::from(EXIT_USAGE);
    };
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let answer = (|| -> std::io::Result<bool> {
        let addr = host
            .to_socket_addrs()?
            .next()
            .ok_or(std::io::ErrorKind::NotFound)?;
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line)?;
        Ok(line.split_whitespace().nth(1) == Some("200"))
    })();
    match answer {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("upstream-api: probe {url}: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> ExitCode {
    let store = match Store::connect(&config.database).await {
        Ok(store) => store,
        Err(err) => {
            eprintln!("upstream-api: cannot open the database: {err}");
            return ExitCode::from(EXIT_STARTUP);
        }
    };
    let listener = match TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("upstream-api: cannot listen on {}: {err}", config.listen);
            return ExitCode::from(EXIT_STARTUP);
        }
    };
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(err) => {
            eprintln!("upstream-api: cannot read the bound address: {err}");
            return ExitCode::from(EXIT_STARTUP);
        }
    };
    let verifier = AssertionVerifier::new(
        &config.secret,
        &config.assertion_issuer,
        &config.service_name,
    )
    .with_replay_capacity(config.replay_cache_capacity);

    // Machine-readable for tests and scripts: exactly this line on stdout, once bound.
    println!("upstream-api listening on {addr}");
    tracing::info!(
        %addr,
        database = %describe(&config.database),
        replay_cache_capacity = config.replay_cache_capacity,
        swagger_ui = upstream_api::docs::SWAGGER_UI_VERSION.unwrap_or("not built in"),
        "upstream-api listening"
    );

    upstream_api::run(
        listener,
        App::new(store.clone(), verifier),
        shutdown_signal(),
    )
    .await;
    store.close().await;
    tracing::info!("upstream-api stopped");
    ExitCode::SUCCESS
}

/// Which backend, without credentials.
fn describe(target: &upstream_api::db::DatabaseTarget) -> String {
    match target {
        upstream_api::db::DatabaseTarget::SqliteFile(path) => format!("sqlite:{}", path.display()),
        upstream_api::db::DatabaseTarget::Url(url) => {
            url.split(':').next().unwrap_or("database").to_owned()
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
