//! Connection limits in front of the proxy application:
//! - `server.max_connections`: connections beyond it get a 503 and are closed;
//! - `server.header_read_timeout_secs`: a deadline for a whole request head, so a
//!   client trickling its head a line at a time cannot hold a connection (Pingora
//!   only times single reads out).
//!
//! The deadline lives in a wrapper around the connection's stream: it is armed at
//! accept and whenever the first bytes of a new request arrive after a response,
//! and disarmed once the end of the head (an empty line) has been read.

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, Stream,
    TimingDigest, UniqueID, UniqueIDType,
};
use pingora::server::ShutdownWatch;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Limits applied to every client connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Deadline for one request head.
    pub header_read_timeout: Duration,
}

/// Wraps the proxy application with [`Limits`].
pub struct Limited<A> {
    inner: Arc<A>,
    limits: Limits,
    open: Arc<AtomicUsize>,
}

impl<A> Limited<A> {
    /// `inner` under `limits`.
    pub fn new(inner: A, limits: Limits) -> Self {
        Self {
            inner: Arc::new(inner),
            limits,
            open: Arc::new(AtomicUsize::new(0)),
        }
    }
}

/// Decrements the open-connection count when the connection ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

const BUSY_BODY: &str = r#"{"error":"service_unavailable","message":"too many connections"}"#;

fn busy_response() -> String {
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{BUSY_BODY}",
        BUSY_BODY.len()
    )
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for Limited<A> {
    async fn process_new(
        self: &Arc<Self>,
        mut stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let open = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        let _slot = Slot(self.open.clone());
        if open > self.limits.max_connections {
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                stream.write_all(busy_response().as_bytes()),
            )
            .await;
            tracing::debug!(open, "connection refused: server.max_connections reached");
            return None;
        }
        let stream: Stream = Box::new(HeadDeadline::new(stream, self.limits.header_read_timeout));
        // The inner application serves every request of the connection; nothing
        // comes back for reuse at this level.
        self.inner.process_new(stream, shutdown).await
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await;
    }
}

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

/// A stream whose request heads must arrive within a deadline.
#[derive(Debug)]
pub struct HeadDeadline {
    inner: Stream,
    timeout: Duration,
    phase: Phase,
    deadline: Pin<Box<Sleep>>,
    /// The last bytes of the head read so far, to find `\r\n\r\n` across reads.
    tail: [u8; 3],
}

/// Whether `tail` + `data` contain the end of a request head (`\n\n` or `\n\r\n`),
/// and the new tail. Only the line feeds are visited (memchr), not every byte.
fn find_head_end(tail: [u8; 3], data: &[u8]) -> (bool, [u8; 3]) {
    // The byte `back` places before `data[i]`, reaching into `tail`.
    let before = |i: usize, back: usize| {
        if i >= back {
            data[i - back]
        } else {
            tail[3 + i - back]
        }
    };
    for i in memchr::memchr_iter(b'\n', data) {
        let prev = before(i, 1);
        if prev == b'\n' || (prev == b'\r' && before(i, 2) == b'\n') {
            return (true, [0; 3]);
        }
    }
    let mut joined = [0u8; 6];
    joined[..3].copy_from_slice(&tail);
    let n = data.len().min(3);
    joined[3..3 + n].copy_from_slice(&data[data.len() - n..]);
    let mut window = [0u8; 3];
    window.copy_from_slice(&joined[n..n + 3]);
    (false, window)
}

impl HeadDeadline {
    fn new(inner: Stream, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            phase: Phase::Head,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            tail: [0; 3],
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
        if this.phase == Phase::Head && this.deadline.as_mut().poll(cx).is_ready() {
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
                    this.tail = [0; 3];
                    let at = Instant::now() + this.timeout;
                    this.deadline.as_mut().reset(at);
                }
                if this.phase == Phase::Head {
                    let (done, tail) = find_head_end(this.tail, data);
                    this.tail = tail;
                    if done {
                        this.phase = Phase::AfterHead;
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
        // A response (not an interim 1xx such as 100 Continue) ends the request:
        // the next bytes read start a new head.
        let interim = buf.starts_with(b"HTTP/1.1 1") || buf.starts_with(b"HTTP/1.0 1");
        if self.phase == Phase::AfterHead && !interim {
            self.phase = Phase::Idle;
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[async_trait]
impl Shutdown for HeadDeadline {
    async fn shutdown(&mut self) {
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
    fn head_ends_match_a_byte_by_byte_scan_at_every_split() {
        fn naive(tail: [u8; 3], data: &[u8]) -> (bool, [u8; 3]) {
            let mut w = tail;
            for &b in data {
                if b == b'\n' && (w[2] == b'\n' || w[1..] == *b"\n\r") {
                    return (true, [0; 3]);
                }
                w = [w[1], w[2], b];
            }
            (false, w)
        }
        let heads: [&[u8]; 5] = [
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY",
            b"GET / HTTP/1.0\nA: b\n\n",
            b"GET / HTTP/1.1\r\nA: \r\r\n\rB: c\r\n",
            b"\n\r\n",
            b"x\r\n\r",
        ];
        for head in heads {
            for cut in 0..=head.len() {
                let (a, b) = head.split_at(cut);
                let first = find_head_end([0; 3], a);
                assert_eq!(first, naive([0; 3], a), "{head:?} cut at {cut}");
                if !first.0 {
                    assert_eq!(
                        find_head_end(first.1, b),
                        naive(first.1, b),
                        "{head:?} {cut}"
                    );
                }
            }
        }
    }

    #[test]
    fn head_ends_are_found_across_reads() {
        assert!(find_head_end([0; 3], b"GET / HTTP/1.1\r\n\r\n").0);
        assert!(find_head_end([0; 3], b"GET / HTTP/1.0\n\n").0);
        let (done, tail) = find_head_end([0; 3], b"GET / HTTP/1.1\r\nHost: x\r");
        assert!(!done);
        let (done, tail) = find_head_end(tail, b"\n\r");
        assert!(!done);
        assert!(find_head_end(tail, b"\n").0);
        assert!(!find_head_end([0; 3], b"GET / HTTP/1.1\r\nHost: x\r\n").0);
    }
}
