//! The service's life: open the database, bind, build the verifier and its replay
//! record, announce the address, serve until SIGTERM or Ctrl-C, close.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::db::{Store, StoreError};
use crate::replay::redis::RedisSetupError;
use crate::replay::{RedisReplay, ReplayStore};
use crate::trust::AssertionVerifier;
use crate::App;

/// Line printed on stdout once bound, followed by the address (for tests and scripts).
pub const READY_LINE: &str = "upstream-api listening on";

/// Why the service could not start (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The Tokio runtime could not be built.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The database could not be opened or migrated.
    #[error("cannot open the database: {0}")]
    Database(StoreError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// Why not.
        source: std::io::Error,
    },
    /// The bound address could not be read back.
    #[error("cannot read the bound address: {0}")]
    BoundAddress(std::io::Error),
    /// The Redis client could not be set up (not: Redis is down, which is a 503).
    #[error(transparent)]
    Redis(#[from] RedisSetupError),
}

/// Runs the service on a runtime of its own until SIGTERM or Ctrl-C.
pub fn run_until_signal(config: Config) -> Result<(), StartupError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(StartupError::Runtime)?
        .block_on(serve(config, shutdown_signal()))
}

/// Opens, binds, announces and serves until `shutdown` completes; then lets requests
/// in flight finish and closes the database.
pub async fn serve<S>(config: Config, shutdown: S) -> Result<(), StartupError>
where
    S: Future<Output = ()> + Send + 'static,
{
    let store = Store::connect(&config.database)
        .await
        .map_err(StartupError::Database)?;
    let listener =
        TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartupError::Listen {
                addr: config.listen,
                source,
            })?;
    let addr = listener.local_addr().map_err(StartupError::BoundAddress)?;
    let verifier = AssertionVerifier::new(
        &config.secret,
        &config.assertion_issuer,
        &config.service_name,
    )
    .with_replay_store(replay_store(&config).await?);

    announce(addr, &config);
    crate::run(listener, App::new(store.clone(), verifier), shutdown).await;
    store.close().await;
    tracing::info!("upstream-api stopped");
    Ok(())
}

/// Redis when a URL is set, else the in-process record. A Redis that does not answer
/// yet is logged (by the store, at WARN) and is an outage like any other: requests get
/// 503 until it answers; the service starts all the same.
async fn replay_store(config: &Config) -> Result<ReplayStore, StartupError> {
    let Some(redis) = &config.redis else {
        return Ok(ReplayStore::memory(config.replay_cache_capacity));
    };
    let store = RedisReplay::connect(redis.url.clone(), redis.timeout)?;
    if store.check().await.is_ok() {
        tracing::info!(redis = %redis.url, "Redis answers");
    }
    Ok(ReplayStore::Redis(Box::new(store)))
}

/// The one stdout line (machine-readable), then the same at INFO with the settings,
/// never a credential.
fn announce(addr: SocketAddr, config: &Config) {
    println!("{READY_LINE} {addr}");
    let replay_record = match &config.redis {
        Some(redis) => format!(
            "redis {} (timeout {} ms)",
            redis.url,
            redis.timeout.as_millis()
        ),
        None => format!("in process (capacity {})", config.replay_cache_capacity),
    };
    tracing::info!(
        %addr,
        database = %config.database.describe(),
        replay_record,
        swagger_ui = crate::docs::SWAGGER_UI_VERSION.unwrap_or("not built in"),
        "upstream-api listening"
    );
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
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
