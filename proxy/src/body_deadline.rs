//! `server.body_read_timeout_secs` on HTTP/2. On HTTP/1 the deadline is a read
//! timeout of the connection (`proxy.rs`), which Pingora does not have for an
//! HTTP/2 stream (its `set_read_timeout` does nothing there). So every HTTP/2
//! request runs under a [`BodyClock`]: the proxy arms it once the request is
//! admitted and stops it at the end of the body. A request whose body is not
//! complete at the deadline is dropped: its stream is reset (h2 sends RST_STREAM
//! CANCEL) and the upstream request goes with it. It is logged and counted like
//! the HTTP/1 case (`reason=body_timeout`, status 0: the session that could have
//! written a 408 is gone).

use async_trait::async_trait;
use pingora::apps::{HttpServerApp, HttpServerOptions, ReusedHttpStream};
use pingora::protocols::http::v2::server::H2Options;
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::head_deadline::{account_refusal, Refused};
use crate::reject::Rejection;

tokio::task_local! {
    /// The clock of the HTTP/2 request this task serves.
    static CLOCK: Arc<BodyClock>;
}

/// An armed deadline and what the log says about its request.
#[derive(Debug, Clone)]
struct Armed {
    deadline: Instant,
    started: Instant,
    request_id: String,
    method: String,
    path: String,
}

/// The body deadline of one HTTP/2 request.
#[derive(Debug)]
struct BodyClock {
    armed: watch::Sender<Option<Armed>>,
}

/// What the log says about the request whose body is being timed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyOf<'a> {
    /// When the whole body must be in.
    pub deadline: std::time::Instant,
    /// When the request began.
    pub started: std::time::Instant,
    /// Its request id.
    pub request_id: &'a str,
    /// Its method.
    pub method: &'a str,
    /// Its canonical path.
    pub path: &'a str,
}

/// Starts the body deadline of the HTTP/2 request being served (nothing on HTTP/1).
pub(crate) fn arm(body: BodyOf<'_>) {
    let _ = CLOCK.try_with(|clock| {
        clock.armed.send_replace(Some(Armed {
            deadline: Instant::from_std(body.deadline),
            started: Instant::from_std(body.started),
            request_id: body.request_id.to_string(),
            method: body.method.to_string(),
            path: body.path.to_string(),
        }));
    });
}

/// The whole body arrived: the deadline no longer applies.
pub(crate) fn stop() {
    let _ = CLOCK.try_with(|clock| clock.armed.send_replace(None));
}

/// Resolves when an armed deadline passes.
async fn expiry(mut armed: watch::Receiver<Option<Armed>>) -> Armed {
    loop {
        let current = armed.borrow_and_update().clone();
        let changed = match current {
            None => armed.changed().await,
            Some(a) => tokio::select! {
                () = tokio::time::sleep_until(a.deadline) => return a,
                changed = armed.changed() => changed,
            },
        };
        if changed.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// An HTTP application whose HTTP/2 requests have body deadlines.
pub(crate) struct BodyDeadlines<A> {
    inner: Arc<A>,
}

impl<A> BodyDeadlines<A> {
    /// `inner`, with body deadlines on HTTP/2.
    pub(crate) fn new(inner: A) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }
}

#[async_trait]
impl<A: HttpServerApp + Send + Sync + 'static> HttpServerApp for BodyDeadlines<A> {
    async fn process_new_http(
        self: &Arc<Self>,
        session: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        if !session.is_http2() {
            return self.inner.process_new_http(session, shutdown).await;
        }
        let (armed, watching) = watch::channel(None);
        let clock = Arc::new(BodyClock { armed });
        let request = CLOCK.scope(clock, self.inner.process_new_http(session, shutdown));
        tokio::select! {
            reused = request => reused,
            a = expiry(watching) => {
                let refused = Refused {
                    request_id: &a.request_id,
                    method: &a.method,
                    path: &a.path,
                    started: a.started,
                    error: "ReadTimedout",
                    answered: false,
                };
                account_refusal(&Rejection::body_timeout(), &refused);
                None
            }
        }
    }

    fn h2_options(&self) -> Option<H2Options> {
        self.inner.h2_options()
    }

    fn server_options(&self) -> Option<&HttpServerOptions> {
        self.inner.server_options()
    }

    async fn http_cleanup(&self) {
        self.inner.http_cleanup().await;
    }
}
