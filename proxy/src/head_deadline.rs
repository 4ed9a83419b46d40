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
//! On HTTP/2 (ALPN `h2`, or the h2c preface on an h2c listener) nothing is
//! scanned and nothing is written: the deadline covers the handshake and the
//! connection preface, then h2's own limits take over (`h2_limits`).
//!
//! The wrapper also accounts for what Pingora refuses on its own while reading a
//! head (an unparseable head, `Content-Length: abc`, CONNECT): Pingora writes a
//! bare error with no hook for the application, so its canned response is
//! recognised on the way out (it lacks the `X-Request-Id` every response of
//! authgate's carries), replaced by authgate's JSON answer with a request id, and
//! logged and counted like any other refusal.

use async_trait::async_trait;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::tls::{SslDigest, TlsRef};
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, Stream,
    TimingDigest, UniqueID, UniqueIDType, ALPN,
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
use crate::listener::Speaks;
use crate::metrics::{metrics, RequestLabels};
use crate::reject::Rejection;

/// How long the 408 may take to write before the connection is dropped anyway.
const REFUSAL_WRITE_LIMIT: Duration = Duration::from_secs(1);

/// What an HTTP/2 client sends first (RFC 9113 §3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Where the connection is in the request/response cycle, as its bytes show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading a request head; the deadline runs.
    Head,
    /// The head is complete (a body may follow); no deadline.
    AfterHead,
    /// A response was written; the next bytes read start a new head.
    Idle,
    /// HTTP/2 by ALPN: the deadline runs until this many more bytes of the
    /// connection preface have arrived.
    H2Preface(usize),
    /// HTTP/2 past its preface: bytes pass untouched, without a deadline.
    H2,
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
    /// The h2c preface switches the connection to HTTP/2.
    h2c: bool,
}

impl HeadDeadline {
    /// `inner`, opened at `opened` (the first deadline counts from there: it covers
    /// a TLS handshake too), speaking `speaks`; each head must arrive within
    /// `timeout`.
    pub(crate) fn new(inner: Stream, timeout: Duration, opened: Instant, speaks: Speaks) -> Self {
        let phase = match speaks {
            Speaks::H2 => Phase::H2Preface(H2_PREFACE.len()),
            Speaks::Http1 | Speaks::Http1OrH2c => Phase::Head,
        };
        Self {
            inner,
            timeout,
            phase,
            deadline: Box::pin(tokio::time::sleep_until(opened + timeout)),
            head_started: opened,
            head_bytes: false,
            scanner: HeadScanner::new(),
            pending: None,
            upgraded: false,
            h2c: speaks == Speaks::Http1OrH2c,
        }
    }

    /// Whether the connection speaks HTTP/2 (nothing is scanned or answered).
    fn is_h2(&self) -> bool {
        matches!(self.phase, Phase::H2Preface(_) | Phase::H2)
    }

    /// Whether the deadline is running.
    fn deadline_runs(&self) -> bool {
        matches!(self.phase, Phase::Head | Phase::H2Preface(_))
    }
}

impl HeadDeadline {
    /// Answers `rejection` on this connection (once) and accounts for it.
    fn answer(&mut self, rejection: &Rejection, error: &str) {
        if self.pending.is_some() {
            return;
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        account_refusal(
            rejection,
            &on_connection(&request_id, self.head_started, error),
        );
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

/// A request refused outside the proxy's own request cycle: on the connection
/// itself (before Pingora reads a head) or by the HTTP/2 body deadline.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refused<'a> {
    /// Its request id (fresh, or the request's own).
    pub request_id: &'a str,
    /// Its method and path, when a head was read.
    pub method: &'a str,
    /// The path as logged.
    pub path: &'a str,
    /// When it began.
    pub started: Instant,
    /// What happened, for the log's `error` field.
    pub error: &'a str,
    /// Whether the refusal was written (else the connection or stream closed
    /// without an answer and the log says status 0).
    pub answered: bool,
}

/// Logs and counts `rejection` like a request's.
pub(crate) fn account_refusal(rejection: &Rejection, refused: &Refused<'_>) {
    let elapsed = refused.started.elapsed();
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
            request_id: refused.request_id,
            method: refused.method,
            path: refused.path,
            status: if refused.answered {
                rejection.status
            } else {
                0
            },
            decision: "reject",
            reason: rejection.reason,
            rule: "",
            requirement: "",
            subject: "",
            upstream: "",
            latency_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            error: refused.error,
        },
    );
}

/// A refusal written on the connection before any head: no method, no path.
fn on_connection<'a>(request_id: &'a str, started: Instant, error: &'a str) -> Refused<'a> {
    Refused {
        request_id,
        method: "",
        path: "",
        started,
        error,
        answered: true,
    }
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
    account_refusal(rejection, &on_connection(&request_id, started, error));
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

impl HeadDeadline {
    /// The deadline passed: answer 408 on HTTP/1 when part of a head arrived (a
    /// connection that never sent a byte, or an HTTP/2 one, gets nothing), then
    /// fail the read.
    fn poll_missed_deadline(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.head_bytes && !self.is_h2() {
            self.answer(&Rejection::head_timeout(), "ReadTimedout");
            if std::task::ready!(self.poll_pending(cx)).is_ok() {
                let _ = std::task::ready!(Pin::new(&mut self.inner).poll_flush(cx));
            }
        }
        Poll::Ready(Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "request head not complete within server.header_read_timeout_secs",
        )))
    }

    /// Follows the request/response cycle through `data`, just read.
    fn saw(&mut self, data: &[u8]) {
        match self.phase {
            Phase::H2 | Phase::AfterHead => return,
            Phase::H2Preface(left) => {
                self.phase = match left.saturating_sub(data.len()) {
                    0 => Phase::H2,
                    left => Phase::H2Preface(left),
                };
                return;
            }
            Phase::Idle => {
                self.phase = Phase::Head;
                self.scanner = HeadScanner::new();
                self.head_started = Instant::now();
                let at = self.head_started + self.timeout;
                self.deadline.as_mut().reset(at);
            }
            Phase::Head => {}
        }
        self.head_bytes = true;
        if self.scanner.feed(data).is_some() {
            self.phase = Phase::AfterHead;
            self.head_bytes = false;
        }
    }
}

impl AsyncRead for HeadDeadline {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.deadline_runs() && this.deadline.as_mut().poll(cx).is_ready() {
            // The 408 goes out before the read fails (whoever closes the connection
            // next).
            return this.poll_missed_deadline(cx);
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let data = &buf.filled()[before..];
            if !data.is_empty() {
                this.saw(data);
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
        if this.is_h2() {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
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

/// TLS facts pass through: Pingora picks HTTP/2 by the ALPN it finds here.
impl Ssl for HeadDeadline {
    fn get_ssl(&self) -> Option<&TlsRef> {
        self.inner.get_ssl()
    }

    fn get_ssl_digest(&self) -> Option<Arc<SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

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

/// Pingora peeks for the h2c preface before reading anything: the peek waits no
/// longer than the head deadline, and a preface switches the connection to HTTP/2.
#[async_trait]
impl Peek for HeadDeadline {
    async fn try_peek(&mut self, buf: &mut [u8]) -> std::io::Result<bool> {
        let until = self.deadline.deadline();
        let peeked = match tokio::time::timeout_at(until, self.inner.try_peek(buf)).await {
            Ok(peeked) => peeked?,
            Err(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no request within server.header_read_timeout_secs",
                ))
            }
        };
        if peeked && self.h2c && self.phase == Phase::Head && buf == H2_PREFACE.as_slice() {
            self.phase = Phase::H2;
        }
        Ok(peeked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pingora::protocols::l4::stream::Stream as L4Stream;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpStream;

    const TIMEOUT: Duration = Duration::from_millis(300);

    /// A loopback connection: authgate's side wrapped, the client's side raw.
    async fn wrapped(speaks: Speaks) -> (HeadDeadline, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let server: Stream = Box::new(L4Stream::from(server));
        let stream = HeadDeadline::new(server, TIMEOUT, Instant::now(), speaks);
        (stream, client)
    }

    /// What arrives within 100 ms; `Err` when the deadline failed the read.
    async fn read_some(stream: &mut HeadDeadline) -> std::io::Result<Vec<u8>> {
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
            Ok(n) => Ok(buf[..n?].to_vec()),
            Err(_) => Ok(Vec::new()),
        }
    }

    #[tokio::test]
    async fn on_http2_the_deadline_covers_the_preface_only_and_nothing_is_answered() {
        let (mut stream, mut client) = wrapped(Speaks::H2).await;
        client.write_all(&H2_PREFACE[..10]).await.unwrap();
        assert_eq!(read_some(&mut stream).await.unwrap().len(), 10);
        tokio::time::sleep(TIMEOUT).await;
        let err = read_some(&mut stream).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        drop(stream);
        let mut answered = Vec::new();
        let _ = client.read_to_end(&mut answered).await;
        assert!(
            answered.is_empty(),
            "no HTTP/1 bytes on an HTTP/2 connection"
        );

        let (mut stream, mut client) = wrapped(Speaks::H2).await;
        client.write_all(H2_PREFACE).await.unwrap();
        assert_eq!(read_some(&mut stream).await.unwrap().len(), 24);
        tokio::time::sleep(TIMEOUT * 2).await;
        // Frames with CRLFs, long after: no head is scanned, no deadline runs.
        client
            .write_all(b"\0\0\x04\x08\0\0\0\0\0\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(read_some(&mut stream).await.unwrap().len(), 13);
        let canned = b"HTTP/1.1 400 Bad Request\r\nServer: Pingora\r\n\r\n";
        stream.write_all(canned).await.unwrap();
        let mut seen = vec![0u8; canned.len()];
        client.read_exact(&mut seen).await.unwrap();
        assert_eq!(seen, canned, "written through as it is");
    }

    #[tokio::test]
    async fn the_h2c_preface_switches_a_connection_to_http2() {
        let (mut stream, mut client) = wrapped(Speaks::Http1OrH2c).await;
        client.write_all(H2_PREFACE).await.unwrap();
        let mut peeked = [0u8; 24];
        assert!(stream.try_peek(&mut peeked).await.unwrap());
        assert_eq!(stream.phase, Phase::H2);
        tokio::time::sleep(TIMEOUT * 2).await;
        assert_eq!(read_some(&mut stream).await.unwrap().len(), 24);

        // An HTTP/1 head stays under the deadline, and so does a peek that waits.
        let (mut stream, mut client) = wrapped(Speaks::Http1OrH2c).await;
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: a\r\nX: ")
            .await
            .unwrap();
        let mut peeked = [0u8; 24];
        assert!(stream.try_peek(&mut peeked).await.unwrap());
        assert_eq!(stream.phase, Phase::Head);
        let (mut slow, mut slow_client) = wrapped(Speaks::Http1OrH2c).await;
        slow_client.write_all(b"GET / HT").await.unwrap();
        let err = slow.try_peek(&mut peeked).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    }

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
