//! A JWKS fetched over HTTP (Better Auth's `/api/auth/jwks`, or the `jwks_uri` an
//! OpenID provider's discovery document names): loaded at start-up with backoff,
//! refreshed periodically (honouring `Cache-Control: max-age`), refetched once on
//! an unknown `kid` — single-flight and rate-limited so a flood of random kids
//! cannot hammer the issuer — and kept as it was when a refresh fails
//! (stale-on-error).

use arc_swap::{ArcSwap, ArcSwapOption};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{watch, Mutex};

use super::alg::KeyAlg;
use super::claims::ClaimRules;
use super::discovery::discover_jwks_uri;
use super::fetch::get_document;
use super::jwk::{parse_jwks, JwkContext};
use super::keys::KeySet;
use super::metrics::AuthMetrics;

/// First retry delay while no keys were ever loaded.
const INITIAL_BACKOFF: Duration = Duration::from_millis(250);
/// Longest retry delay.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Longest a request with an unknown `kid` waits for the next refetch its turn
/// allows: a key published just after the last refetch is then usable at its
/// first use, however many forged kids came before it.
const MAX_UNKNOWN_KID_WAIT: Duration = Duration::from_secs(1);

/// When the unknown-kid refetches started.
#[derive(Debug, Default)]
struct Refetches {
    /// The last one, successful or not.
    last: Option<Instant>,
    /// The last successful one.
    last_ok: Option<Instant>,
}

/// Where a remote JWKS is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksLocation {
    /// At this URL (`type = "jwks_url"`).
    Url(String),
    /// At the `jwks_uri` of this issuer's OpenID discovery document (`type = "oidc"`).
    Discovered {
        /// The issuer, exactly as configured (and as its document must name it).
        issuer: String,
    },
}

/// Settings of one remote JWKS. Equal settings on reload keep the loaded source.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteJwksConfig {
    /// Where the JWKS is.
    pub location: JwksLocation,
    /// Algorithms accepted from it.
    pub allowed: Vec<KeyAlg>,
    /// Claim rules for its tokens.
    pub rules: Arc<ClaimRules>,
    /// Time between refreshes when the response has no `max-age` (1 s–1 day).
    pub refresh: Duration,
    /// Minimum time between two unknown-kid refetches.
    pub min_refetch_interval: Duration,
    /// Longest fetch of the document (connect included), 1 ms–60 s.
    pub timeout: Duration,
}

/// A remote key set and its fetch state.
pub struct RemoteJwks {
    config: RemoteJwksConfig,
    /// The URL without any password it may carry (the issuer, for a discovered
    /// JWKS), for logs and metric labels.
    shown_url: String,
    label: Arc<str>,
    client: reqwest::Client,
    keys: ArcSwap<KeySet>,
    /// The `jwks_uri` discovery found, kept until a fetch from it fails.
    discovered: ArcSwapOption<String>,
    /// Bumped on every successful fetch.
    generation: AtomicU64,
    /// Unix seconds of the last successful fetch; 0 = never.
    loaded_at: AtomicU64,
    /// `max-age` of the last response, seconds; 0 = none.
    max_age: AtomicU64,
    /// Held while an unknown-kid refetch runs or waits for its turn.
    refetch: Mutex<Refetches>,
    metrics: Arc<AuthMetrics>,
}

impl std::fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJwks")
            .field("url", &self.shown_url)
            .field("keys", &self.keys.load().key_count())
            .field("generation", &self.generation())
            .finish()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl RemoteJwks {
    /// A source with no keys yet; call [`Self::run`] (or [`Self::fetch`]) to load them.
    pub fn new(config: RemoteJwksConfig, metrics: Arc<AuthMetrics>) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // Fetches are rare and may run on different runtimes: no idle pool.
            .pool_max_idle_per_host(0)
            // Redirects are followed by `get_document`, which checks each hop.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("authgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let (shown_url, label) = match &config.location {
            JwksLocation::Url(url) => {
                let shown = redact_password(url);
                let label = format!("jwks:{shown}");
                (shown, label)
            }
            JwksLocation::Discovered { issuer } => {
                let shown = redact_password(issuer);
                let label = format!("oidc:{shown}");
                (shown, label)
            }
        };
        Ok(Self {
            label: label.into(),
            shown_url,
            config,
            client,
            keys: ArcSwap::from_pointee(KeySet::default()),
            discovered: ArcSwapOption::empty(),
            generation: AtomicU64::new(0),
            loaded_at: AtomicU64::new(0),
            max_age: AtomicU64::new(0),
            refetch: Mutex::new(Refetches::default()),
            metrics,
        })
    }

    /// Its settings.
    pub fn config(&self) -> &RemoteJwksConfig {
        &self.config
    }

    /// The current keys.
    pub fn keys(&self) -> arc_swap::Guard<Arc<KeySet>> {
        self.keys.load()
    }

    /// Whether keys were ever loaded.
    pub fn is_loaded(&self) -> bool {
        self.loaded_at.load(Ordering::Acquire) != 0
    }

    /// Successful fetches so far.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The URL, or the issuer of a discovered JWKS, for logs and metric labels (a
    /// password in it is replaced by `***`).
    pub fn url(&self) -> &str {
        &self.shown_url
    }

    /// Fetches and installs the key set. On any failure the current keys stay.
    pub async fn fetch(&self) -> Result<usize, String> {
        let result = self.fetch_inner().await;
        let outcome = result.as_ref().map(|n| *n).map_err(|_| ());
        self.metrics
            .record_fetch(&self.shown_url, outcome, unix_now());
        match &result {
            Ok(n) => tracing::info!(url = %self.shown_url, keys = n, "JWKS loaded"),
            Err(e) => {
                tracing::warn!(url = %self.shown_url, error = %e, "JWKS fetch failed; keeping the last good keys")
            }
        }
        result
    }

    async fn fetch_inner(&self) -> Result<usize, String> {
        match &self.config.location {
            JwksLocation::Url(url) => self.fetch_from(url).await,
            JwksLocation::Discovered { issuer } => self.fetch_discovered(issuer).await,
        }
    }

    /// Fetches the JWKS at `url` and installs its keys.
    async fn fetch_from(&self, url: &str) -> Result<usize, String> {
        let doc = get_document(&self.client, url, None).await?;
        self.install(&doc.body, doc.max_age)
    }

    /// Fetches the JWKS that `issuer`'s discovery document names. The `jwks_uri`
    /// is kept until a fetch from it fails; then the document is read again at
    /// once, and a `jwks_uri` that moved is tried.
    async fn fetch_discovered(&self, issuer: &str) -> Result<usize, String> {
        let cached = self.discovered.load_full();
        let uri = match &cached {
            Some(uri) => uri.clone(),
            None => self.discover(issuer).await?,
        };
        let failed = match self.fetch_from(&uri).await {
            Ok(n) => return Ok(n),
            Err(e) => format!("JWKS {}: {e}", redact_password(&uri)),
        };
        self.discovered.store(None);
        if cached.is_none() {
            return Err(failed);
        }
        let fresh = self
            .discover(issuer)
            .await
            .map_err(|e| format!("{failed}; then {e}"))?;
        if fresh == uri {
            return Err(failed);
        }
        self.fetch_from(&fresh)
            .await
            .map_err(|e| format!("JWKS {}: {e}", redact_password(&fresh)))
    }

    /// Reads `issuer`'s discovery document; keeps and returns its `jwks_uri`.
    async fn discover(&self, issuer: &str) -> Result<Arc<String>, String> {
        let uri = discover_jwks_uri(&self.client, issuer)
            .await
            .map_err(|e| format!("OpenID discovery {e}"))?;
        tracing::info!(issuer = %self.shown_url, jwks_uri = %redact_password(&uri), "OpenID discovery: JWKS found");
        let uri = Arc::new(uri);
        self.discovered.store(Some(uri.clone()));
        Ok(uri)
    }

    /// Loads keys from a JWKS document given in place of a fetch (`authgate explain
    /// --jwks-file`), with the source's own rules.
    pub(crate) fn load_document(&self, body: &[u8]) -> Result<usize, String> {
        self.install(body, None)
    }

    /// Parses `body` and installs its keys; `max_age` is the response's, if any.
    fn install(&self, body: &[u8], max_age: Option<u64>) -> Result<usize, String> {
        let previous = self.keys.load_full();
        let parsed = parse_jwks(
            body,
            &JwkContext {
                allowed: &self.config.allowed,
                rules: &self.config.rules,
                source: &self.label,
                previous: Some(&previous),
            },
        )?;
        for why in &parsed.skipped {
            tracing::warn!(url = %self.shown_url, "JWKS key ignored: {why}");
        }
        if parsed.keys.is_empty() {
            return Err("the JWKS has no usable key".into());
        }
        let count = parsed.keys.len();
        self.keys.store(Arc::new(KeySet::new(parsed.keys)));
        self.max_age.store(max_age.unwrap_or(0), Ordering::Release);
        self.loaded_at.store(unix_now().max(1), Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(count)
    }

    /// A refetch because a token that arrived at `arrived` named an unknown `kid`.
    /// Returns whether a fetch that started after `arrived` succeeded, i.e. whether
    /// verifying again can help.
    ///
    /// At most one refetch starts per `min_refetch_interval` (concurrent callers
    /// share it), so a flood of forged kids costs the issuer one fetch per
    /// interval. A caller whose turn comes within [`MAX_UNKNOWN_KID_WAIT`] waits for
    /// it rather than failing: the flood cannot use up the turn a genuine new key
    /// needs.
    pub async fn refetch_for_unknown_kid(&self, arrived: Instant) -> bool {
        let mut state = self.refetch.lock().await;
        loop {
            if state.last_ok.is_some_and(|t| t >= arrived) {
                return true;
            }
            let now = Instant::now();
            let turn = state
                .last
                .map_or(now, |t| t + self.config.min_refetch_interval);
            if turn <= now {
                break;
            }
            if turn.duration_since(arrived) > MAX_UNKNOWN_KID_WAIT {
                return false;
            }
            // Waiting holds the lock: callers behind share this refetch.
            tokio::time::sleep_until(turn.into()).await;
        }
        let started = Instant::now();
        state.last = Some(started);
        let ok = self.fetch().await.is_ok();
        if ok {
            state.last_ok = Some(started);
        }
        ok
    }

    /// Loads the keys (retrying with backoff until the first success), then refreshes
    /// them periodically until `shutdown` turns true.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        let mut delay = INITIAL_BACKOFF;
        loop {
            if self.is_loaded() || self.fetch().await.is_ok() {
                break;
            }
            if sleep_or_shutdown(delay, &mut shutdown).await {
                return;
            }
            delay = (delay * 2).min(MAX_BACKOFF);
        }
        loop {
            let floor = self.config.min_refetch_interval.max(Duration::from_secs(1));
            let wait = match self.max_age.load(Ordering::Acquire) {
                0 => self.config.refresh,
                secs => Duration::from_secs(secs),
            }
            .clamp(floor, Duration::from_secs(86_400));
            if sleep_or_shutdown(wait, &mut shutdown).await {
                return;
            }
            if self.fetch().await.is_err() {
                // Stale-on-error: keep serving the last keys, try again sooner.
                let retry = wait.min(MAX_BACKOFF);
                if sleep_or_shutdown(retry, &mut shutdown).await {
                    return;
                }
                let _ = self.fetch().await;
            }
        }
    }
}

/// `url` with its password, if any, replaced by `***`.
pub(crate) fn redact_password(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Sleeps for `d`; true when shutdown was signalled first.
async fn sleep_or_shutdown(d: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    if *shutdown.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        changed = shutdown.changed() => changed.is_err() || *shutdown.borrow(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::fetch::tests::{Answer, TestServer};
    use std::sync::atomic::AtomicUsize;
    use warp::Filter;

    const JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k1","alg":"EdDSA"}]}"#;

    /// A JWKS server counting its hits; `up` switches between 200 and 503.
    async fn server(up: Arc<std::sync::atomic::AtomicBool>) -> (String, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let route = warp::path("jwks").map(move || {
            h.fetch_add(1, Ordering::SeqCst);
            if up.load(Ordering::SeqCst) {
                warp::http::Response::builder()
                    .header("cache-control", "public, max-age=120")
                    .body(JWKS.to_string())
            } else {
                warp::http::Response::builder()
                    .status(503)
                    .body(String::new())
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(warp::serve(route).incoming(listener).run());
        (format!("http://{addr}/jwks"), hits)
    }

    fn source(url: String, min_refetch: Duration) -> RemoteJwks {
        remote(JwksLocation::Url(url), min_refetch)
    }

    fn remote(location: JwksLocation, min_refetch: Duration) -> RemoteJwks {
        RemoteJwks::new(
            RemoteJwksConfig {
                location,
                allowed: KeyAlg::ASYMMETRIC.to_vec(),
                rules: Arc::new(ClaimRules::default()),
                refresh: Duration::from_secs(300),
                min_refetch_interval: min_refetch,
                timeout: Duration::from_secs(2),
            },
            Arc::new(AuthMetrics::default()),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn fetch_installs_keys_and_reads_max_age() {
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (url, _) = server(up).await;
        let s = source(url, Duration::from_secs(10));
        assert!(!s.is_loaded());
        assert_eq!(s.fetch().await.unwrap(), 1);
        assert!(s.is_loaded() && s.keys().has_kid("k1"));
        assert_eq!(s.max_age.load(Ordering::SeqCst), 120);
        assert_eq!(s.generation(), 1);
    }

    #[tokio::test]
    async fn failed_refresh_keeps_the_last_keys() {
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (url, _) = server(up.clone()).await;
        let s = source(url, Duration::from_secs(10));
        s.fetch().await.unwrap();
        up.store(false, Ordering::SeqCst);
        assert!(s.fetch().await.is_err());
        assert!(s.keys().has_kid("k1"), "stale-on-error");
        assert_eq!(s.generation(), 1);
        assert_eq!(s.metrics.snapshot().jwks_fetch_err, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unknown_kid_refetches_are_single_flight_and_rate_limited() {
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (url, hits) = server(up).await;
        let s = Arc::new(source(url, Duration::from_secs(60)));
        s.fetch().await.unwrap();
        let arrived = Instant::now();
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move { s.refetch_for_unknown_kid(arrived).await })
            })
            .collect();
        for t in tasks {
            assert!(
                t.await.unwrap(),
                "the shared refetch started after they arrived"
            );
        }
        assert_eq!(
            hits.load(Ordering::SeqCst),
            2,
            "one load plus one shared refetch"
        );
        // The next turn is 60 s away: no wait, no fetch.
        assert!(
            !s.refetch_for_unknown_kid(Instant::now()).await,
            "rate-limited"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_whose_turn_is_near_waits_for_it() {
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (url, hits) = server(up).await;
        let mut s = source(url, Duration::from_secs(60));
        s.config.min_refetch_interval = Duration::from_millis(400);
        let s = Arc::new(s);
        assert!(s.refetch_for_unknown_kid(Instant::now()).await);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        // Arrives after that refetch started: waits for the next turn, then fetches.
        let arrived = Instant::now();
        assert!(s.refetch_for_unknown_kid(arrived).await);
        assert!(arrived.elapsed() >= Duration::from_millis(300));
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn passwords_in_urls_are_never_shown() {
        let s = source(
            "http://user:hunter2-secret@127.0.0.1:9/jwks".into(),
            Duration::from_secs(1),
        );
        assert_eq!(s.url(), "http://user:***@127.0.0.1:9/jwks");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(redact_password("http://h/jwks"), "http://h/jwks");
    }

    #[tokio::test]
    async fn fetch_errors_do_not_repeat_the_url() {
        let s = source(
            format!("http://user:hunter2-secret@{}/jwks", closed_addr()),
            Duration::from_secs(1),
        );
        let err = s.fetch().await.unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }

    fn closed_addr() -> std::net::SocketAddr {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }

    const DISCOVERY: &str = "/oidc/.well-known/openid-configuration";

    /// `server` as an OpenID provider at `{base}/oidc`: its document names
    /// `issuer` and the JWKS at `{base}{jwks}`, which it serves.
    fn publish(server: &TestServer, issuer: &str, jwks: &str) {
        let doc = format!(
            r#"{{"issuer":"{issuer}","jwks_uri":"{}{jwks}"}}"#,
            server.base
        );
        server.answer(DISCOVERY, Answer::Doc(doc));
        server.answer(jwks, Answer::Doc(JWKS.into()));
    }

    fn discovered(server: &TestServer) -> RemoteJwks {
        let issuer = format!("{}/oidc", server.base);
        remote(JwksLocation::Discovered { issuer }, Duration::from_secs(1))
    }

    #[tokio::test]
    async fn a_discovered_jwks_is_found_again_when_it_moves() {
        let server = TestServer::start().await;
        let issuer = format!("{}/oidc", server.base);
        publish(&server, &issuer, "/jwks-a");
        let s = discovered(&server);
        assert_eq!(s.url(), issuer, "labelled by its issuer");
        assert_eq!(s.fetch().await.unwrap(), 1);
        assert_eq!(s.fetch().await.unwrap(), 1);
        assert_eq!(server.hits(DISCOVERY), 1, "jwks_uri kept");
        server.answer("/jwks-a", Answer::Status(404));
        publish(&server, &issuer, "/jwks-b");
        assert_eq!(s.fetch().await.unwrap(), 1, "found again at once");
        assert_eq!(server.hits(DISCOVERY), 2);
        assert_eq!(s.generation(), 3);
    }

    #[tokio::test]
    async fn a_document_naming_another_issuer_loads_no_keys() {
        let server = TestServer::start().await;
        let issuer = format!("{}/oidc", server.base);
        publish(&server, "https://elsewhere.example", "/jwks-a");
        let s = discovered(&server);
        let e = s.fetch().await.unwrap_err();
        assert!(
            e.contains("names issuer `https://elsewhere.example`"),
            "{e}"
        );
        assert!(!s.is_loaded());
        assert_eq!(s.metrics.snapshot().jwks_fetch_err, 1);
        // Once it names the issuer, keys load; when it stops, the keys stay
        // (stale-on-error) and the next fetch reads the document again.
        publish(&server, &issuer, "/jwks-a");
        s.fetch().await.unwrap();
        server.answer("/jwks-a", Answer::Status(404));
        publish(&server, "https://elsewhere.example", "/jwks-b");
        let e = s.fetch().await.unwrap_err();
        assert!(
            e.contains("then OpenID discovery") && e.contains("names issuer"),
            "{e}"
        );
        assert!(s.keys().has_kid("k1"), "stale-on-error");
        assert_eq!(server.hits(DISCOVERY), 3);
    }
}
