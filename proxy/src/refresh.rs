//! The background service that keeps remote JWKS key sets loaded and fresh, on
//! Pingora's runtime, stopping with the server.

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;

use crate::auth::RemoteJwks;

/// Runs [`RemoteJwks::run`] for every remote source, concurrently.
pub struct JwksRefresher {
    sources: Vec<Arc<RemoteJwks>>,
}

impl JwksRefresher {
    /// A refresher for `sources`.
    pub fn new(sources: Vec<Arc<RemoteJwks>>) -> Self {
        Self { sources }
    }
}

#[async_trait]
impl BackgroundService for JwksRefresher {
    async fn start(&self, shutdown: ShutdownWatch) {
        let mut tasks = tokio::task::JoinSet::new();
        for source in &self.sources {
            let (source, shutdown) = (source.clone(), shutdown.clone());
            tasks.spawn(async move { source.run(shutdown).await });
        }
        while tasks.join_next().await.is_some() {}
    }
}
