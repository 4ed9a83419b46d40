//! `server.header_read_timeout_secs`: a deadline for a whole request head, so a
//! client trickling its head a line at a time cannot hold a connection (Pingora
//! only times single reads out).
//!
//! The deadline lives in a wrapper around the connection's stream: it is armed at
//! accept and whenever the first bytes of a new request arrive after a response,
//! and disarmed where [`HeadScanner`] finds the end of the head (empty lines
//! before the request line do not count). A head that misses it is answered 408
//! when some of it arrived.
//!
//! The wrapper also accounts for what Pingora refuses on its own while reading a
//! head (an unparseable head, `Content-Length: abc`, CONNECT): Pingora writes a
//! bare error with no hook for the application, so its canned response is
//! recognised on the way out (it lacks the `X-Request-Id` every response of
//! authgate's carries), replaced by authgate's JSON answer with a request id, and
//! logged and counted like any other refusal.

use async_trait::async_trait;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, Stream,
    TimingDigest, UniqueID, UniqueIDType,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::access_log;
use crate::http1_head::HeadScanner;
use crate::metrics::{metrics, RequestLabels};
use crate::reject::Rejection;

/// How long the 408 may take to write before the connection is dropped anyway.
const REFUSAL_WRITE_LIMIT: Duration = Duration::from_secs(1);

/// Where the connection is in the request/response cycle, as its bytes show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading a request head; the deadline runs.
    Head,
    /// The head is complete (a body may follow); no deadline.
    AfterHead,
    /// A response was written; the next bytes read start a new head.
    Idle,
}

/// authgate's own answer, written before anything else goes out: in place of
/// Pingora's canned error, or the 408 of a head that missed its deadline.
#[derive(Debug)]
struct Pending {
    bytes: Vec<u8>,
    written: usize,
}

/// A stream whose request heads must arrive within a deadline.
#[derive(Debug)]
pub(crate) struct HeadDeadline {
    inner: Stream,
    timeout: Duration,
    phase: Phase,
    deadline: Pin<Box<Sleep>>,
    /// When the head being read began (for the refusal's latency).
    head_started: Instant,
    /// Bytes of the current head have arrived (a head timeout is then answered).
    head_bytes: bool,
    /// Where the head being read ends.
    scanner: HeadScanner,
    /// authgate's answer, once there is one to write.
    pending: Option<Pending>,
    /// A `101 Switching Protocols` was written: the bytes are another protocol's.
    upgraded: bool,
}

impl HeadDeadline {
    /// `inner` whose heads must each arrive within `timeout`.
    pub(crate) fn new(inner: Stream, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            phase: Phase::Head,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            head_started: Instant::now(),
            head_bytes: false,
            scanner: HeadScanner::new(),
            pending: None,
            upgraded: false,
        }
    }
}

impl HeadDeadline {
    /// Answers `rejection` on this connection (once) and accounts for it.
    fn answer(&mut self, rejection: &Rejection, error: &str) {
        if self.pending.is_some() {
            return;
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        account_refusal(rejection, &request_id, self.head_started, error);
        self.pending = Some(Pending {
            bytes: rejection.answer("").to_http1(&request_id),
            written: 0,
        });
    }

    /// Writes what is left of authgate's own answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let Some(p) = self.pending.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        while p.written < p.bytes.len() {
            match Pin::new(&mut self.inner).poll_write(cx, &p.bytes[p.written..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()))
                }
                Poll::Ready(Ok(n)) => p.written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// A refusal answered on the connection itself, outside any request Pingora hands
/// to the proxy: logged and counted like a request's.
pub(crate) fn account_refusal(
    rejection: &Rejection,
    request_id: &str,
    started: Instant,
    error: &str,
) {
    let elapsed = started.elapsed();
    metrics().record_request(
        RequestLabels {
            decision: "reject",
            reason: rejection.reason,
        },
        elapsed,
    );
    access_log::log(
        access_log::Level::Info,
        &access_log::Entry {
            request_id,
            method: "",
            path: "",
            status: rejection.status,
            decision: "reject",
            reason: rejection.reason,
            rule: "",
            requirement: "",
            subject: "",
            latency_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            error,
        },
    );
}

/// Writes `rejection` (with `Connection: close`) on a raw connection and accounts
/// for it; bounded by [`REFUSAL_WRITE_LIMIT`].
pub(crate) async fn refuse_connection<S: AsyncWrite + Unpin + ?Sized>(
    stream: &mut S,
    rejection: &Rejection,
    started: Instant,
    error: &str,
) {
    let request_id = uuid::Uuid::new_v4().to_string();
    let bytes = rejection.answer("").to_http1(&request_id);
    let _ = tokio::time::timeout(REFUSAL_WRITE_LIMIT, stream.write_all(&bytes)).await;
    account_refusal(rejection, &request_id, started, error);
}

/// The status of Pingora's own canned error response in `buf`, if it is one: an
/// HTTP/1 response head with `Server: Pingora` and no `X-Request-Id`.
fn canned_error_status(buf: &[u8]) -> Option<u16> {
    let rest = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let status = std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()?;
    let end = memchr::memmem::find(buf, b"\r\n\r\n").unwrap_or(buf.len());
    let head = buf[..end].to_ascii_lowercase();
    let has = |needle: &[u8]| memchr::memmem::find(&head, needle).is_some();
    (has(b"\r\nserver: pingora") && !has(b"\r\nx-request-id:")).then_some(status)
}

/// authgate's answer for a canned Pingora error with `status`.
fn replacement_for(status: u16) -> Rejection {
    match status {
        400 => Rejection::unreadable_head(),
        405 => Rejection::method_refused(),
        other => Rejection::for_status(other),
    }
}

impl AsyncRead for HeadDeadline {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.phase == Phase::Head && this.deadline.as_mut().poll(cx).is_ready() {
            // The 408 goes out before the read fails (whoever closes the connection
            // next). A connection that never sent a byte is closed without one.
            if this.head_bytes {
                this.answer(&Rejection::head_timeout(), "ReadTimedout");
                if std::task::ready!(this.poll_pending(cx)).is_ok() {
                    let _ = std::task::ready!(Pin::new(&mut this.inner).poll_flush(cx));
                }
            }
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "request head not complete within server.header_read_timeout_secs",
            )));
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let data = &buf.filled()[before..];
            if !data.is_empty() {
                if this.phase == Phase::Idle {
                    this.phase = Phase::Head;
                    this.scanner = HeadScanner::new();
                    this.head_started = Instant::now();
                    let at = this.head_started + this.timeout;
                    this.deadline.as_mut().reset(at);
                }
                if this.phase == Phase::Head {
                    this.head_bytes = true;
                    if this.scanner.feed(data).is_some() {
                        this.phase = Phase::AfterHead;
                        this.head_bytes = false;
                    }
                }
            }
        }
        result
    }
}

impl AsyncWrite for HeadDeadline {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        // Only a response head can be Pingora's canned error: the first write of a
        // request/response cycle, never body bytes (Idle) or a tunnel's.
        let head_expected = this.phase != Phase::Idle && !this.upgraded;
        if head_expected && this.pending.is_none() {
            if let Some(status) = canned_error_status(buf) {
                this.answer(&replacement_for(status), "InvalidHTTPHeader");
                // Pingora's response counts as written once authgate's is.
                return this.poll_pending(cx).map_ok(|()| buf.len());
            }
        }
        if this.pending.is_some() {
            std::task::ready!(this.poll_pending(cx))?;
        }
        if head_expected {
            let interim = buf.starts_with(b"HTTP/1.1 1") || buf.starts_with(b"HTTP/1.0 1");
            this.upgraded = buf.starts_with(b"HTTP/1.1 101");
            if this.phase == Phase::AfterHead && !interim {
                this.phase = Phase::Idle;
            }
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        std::task::ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        // A 408 still to write goes out before the connection closes.
        if std::task::ready!(self.poll_pending(cx)).is_ok() {
            std::task::ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[async_trait]
impl Shutdown for HeadDeadline {
    async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(
            REFUSAL_WRITE_LIMIT,
            std::future::poll_fn(|cx| self.poll_pending(cx)),
        )
        .await;
        Shutdown::shutdown(&mut *self.inner).await;
    }
}

impl UniqueID for HeadDeadline {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for HeadDeadline {}

impl GetTimingDigest for HeadDeadline {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }
}

impl GetProxyDigest for HeadDeadline {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }
}

impl GetSocketDigest for HeadDeadline {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest);
    }
}

#[async_trait]
impl Peek for HeadDeadline {
    async fn try_peek(&mut self, buf: &mut [u8]) -> std::io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pingoras_own_errors_are_recognised() {
        let canned = b"HTTP/1.1 400 Bad Request\r\nServer: Pingora\r\nDate: x\r\nContent-Length: 0\r\nCache-Control: private, no-store\r\nConnection: close\r\n\r\n";
        assert_eq!(canned_error_status(canned), Some(400));
        let ours = b"HTTP/1.1 400 Bad Request\r\nServer: Pingora\r\nX-Request-Id: 1\r\n\r\n";
        assert_eq!(canned_error_status(ours), None);
        let upstream = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(canned_error_status(upstream), None);
        assert_eq!(canned_error_status(b"HTTP/1.1 4"), None);
        assert_eq!(canned_error_status(b"{\"server: pingora\"}"), None);
    }
}
