//! `upstream-api`: an example upstream for authgate — a per-user task API that trusts
//! identity only from authgate's signed, request-bound assertion.
//!
//! Layout (the shape of warp's todos example):
//!
//! - `main.rs` parses, builds and runs: [`config::Cli`] → [`config::Config`] →
//!   [`server::run_until_signal`] (or [`probe::probe`] for `upstream-api probe URL`).
//! - [`server`]: open the database, bind, build the verifier, announce, serve until
//!   SIGTERM; [`logging`]: the subscriber.
//! - [`filters`]: the public routes, one function each, and `/api`, where authgate's
//!   assertion is checked once per request before [`routing`] matches the task routes;
//!   handlers never see an unauthenticated request.
//! - [`handlers`]: plain async functions; [`models`]: wire types, limits and their
//!   validation error (it imports nothing else of the crate).
//! - [`db`]: the SQLite/PostgreSQL store; [`error`]: errors as JSON, DB detail hidden.
//! - [`trust`]: verification of authgate's `X-Auth-Assertion`; [`replay`]: its one-use
//!   record of assertion ids, in this process or in Redis.
//! - [`openapi`]: the OpenAPI 3.1 document served at `/openapi.json`; [`docs`]: Swagger
//!   UI over it at `/docs`, its assets embedded at build time.
//!
//! [`run`] takes its listener and a shutdown future, so tests bind `127.0.0.1:0`.

pub mod config;
pub mod db;
pub mod docs;
pub mod error;
pub mod filters;
pub mod handlers;
pub mod logging;
pub mod models;
pub mod openapi;
pub mod probe;
pub mod replay;
pub mod routing;
pub mod server;
pub mod trust;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::db::Store;
use crate::trust::AssertionVerifier;

/// Exit code for bad configuration or a bad command line (EX_USAGE).
pub const EXIT_USAGE: u8 = 64;
/// Exit code when the service cannot start (database, port).
pub const EXIT_STARTUP: u8 = 1;

/// What every request needs: the store and the assertion verifier.
#[derive(Debug, Clone)]
pub struct App {
    /// The task store.
    pub store: Store,
    /// Verifies authgate's assertions.
    pub verifier: Arc<AssertionVerifier>,
}

impl App {
    /// Bundles a store and a verifier.
    pub fn new(store: Store, verifier: AssertionVerifier) -> Self {
        Self {
            store,
            verifier: Arc::new(verifier),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets requests in flight
/// finish.
pub async fn run<S>(listener: TcpListener, app: App, shutdown: S)
where
    S: Future<Output = ()> + Send + 'static,
{
    warp::serve(filters::routes(app))
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
}
