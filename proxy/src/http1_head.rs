//! Reading an HTTP/1 request head as raw bytes, the way the parser Pingora uses
//! (httparse) reads it, for the two places that must see the bytes themselves:
//! - [`HeadScanner`]: where a head ends in a stream read in pieces (the head
//!   deadline is disarmed there);
//! - [`request_target`]: the request-target as sent (the parsed URI has already
//!   dropped a `#fragment`).
//!
//! Both skip the empty lines a client may send before the request line, as httparse
//! does (RFC 9112 §2.2). `fuzz/fuzz_targets/http1_head.rs` holds them to httparse.

/// Finds the end of one request head in bytes that arrive in pieces.
///
/// A head ends at the first empty line after the request line (`\n\n` or
/// `\n\r\n`); empty lines before the request line (`\r\n` or `\n`) are skipped, so
/// they cannot pass for the end of a head that has not begun.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeadScanner {
    /// The request line has begun (a byte other than CR or LF was read).
    started: bool,
    /// Before the request line: a CR was read, its LF is due.
    pending_cr: bool,
    /// The last three bytes of the head read so far (zeros before the start).
    tail: [u8; 3],
}

impl HeadScanner {
    /// A scanner at the start of a head.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether any byte of the request line has been read.
    pub fn started(&self) -> bool {
        self.started
    }

    /// Feeds the next bytes read. Returns how many of them belong to the head when
    /// it ends within them (the rest is body or the next request); `None` while the
    /// head goes on.
    pub fn feed(&mut self, data: &[u8]) -> Option<usize> {
        let mut skipped = 0;
        if !self.started {
            for &b in data {
                match (self.pending_cr, b) {
                    (_, b'\n') => self.pending_cr = false,
                    (false, b'\r') => self.pending_cr = true,
                    // Anything else begins the request line. (A CR not followed by
                    // LF is an error to httparse; the head is then never complete.)
                    _ => {
                        self.started = true;
                        self.pending_cr = false;
                        self.tail = [0; 3];
                        break;
                    }
                }
                skipped += 1;
            }
            if !self.started {
                return None;
            }
        }
        let rest = &data[skipped..];
        match find_empty_line(self.tail, rest) {
            Ok(end) => {
                *self = Self::new();
                Some(skipped + end)
            }
            Err(tail) => {
                self.tail = tail;
                None
            }
        }
    }
}

/// In `tail` (the three bytes before `data`) + `data`: the offset in `data` just
/// past the first `\n\n` or `\n\r\n`, or the new tail. Only the line feeds are
/// visited (memchr), not every byte.
fn find_empty_line(tail: [u8; 3], data: &[u8]) -> Result<usize, [u8; 3]> {
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
            return Ok(i + 1);
        }
    }
    let mut joined = [0u8; 6];
    joined[..3].copy_from_slice(&tail);
    let n = data.len().min(3);
    joined[3..3 + n].copy_from_slice(&data[data.len() - n..]);
    let mut window = [0u8; 3];
    window.copy_from_slice(&joined[n..n + 3]);
    Err(window)
}

/// The request-target exactly as the client sent it on the request line of
/// `raw_head`, after any empty lines before it; `None` when there is no request
/// line of the form `METHOD SP target SP version`.
pub fn request_target(raw_head: &[u8]) -> Option<&[u8]> {
    let start = raw_head.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let line = raw_head[start..].split(|&b| b == b'\n').next()?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let from = line.iter().position(|&b| b == b' ')? + 1;
    let to = line.iter().rposition(|&b| b == b' ')?;
    (from < to).then(|| &line[from..to])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Byte by byte, what the scanner promises.
    fn naive(data: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < data.len() {
            match (data[i], data.get(i + 1)) {
                (b'\n', _) => i += 1,
                (b'\r', Some(b'\n')) => i += 2,
                (b'\r', None) => return None,
                _ => break,
            }
        }
        let start = i;
        (start..data.len()).find_map(|j| {
            let ends = data[j] == b'\n'
                && ((j > start && data[j - 1] == b'\n')
                    || (j >= start + 2 && data[j - 1] == b'\r' && data[j - 2] == b'\n'));
            ends.then_some(j + 1)
        })
    }

    fn scan_in_two(data: &[u8], cut: usize) -> Option<usize> {
        let mut s = HeadScanner::new();
        let (a, b) = data.split_at(cut);
        s.feed(a).or_else(|| s.feed(b).map(|n| n + cut))
    }

    #[test]
    fn the_end_is_the_same_at_every_split() {
        let heads: [&[u8]; 9] = [
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY",
            b"GET / HTTP/1.0\nA: b\n\n",
            b"GET / HTTP/1.1\r\nA: \r\r\n\rB: c\r\n",
            b"\r\n\r\nGET /openapi.json HTTP/1.1\r\nA: b\r\n",
            b"\r\n\r\nGET / HTTP/1.1\r\n\r\n",
            b"\n\n\nGET / HTTP/1.1\n\n",
            b"\n\r\n",
            b"x\r\n\r",
            b"\r\nGET /api/alice/tasks#/../../bob HTTP/1.1\r\nHost: x\r\n\r\n",
        ];
        for head in heads {
            for cut in 0..=head.len() {
                assert_eq!(scan_in_two(head, cut), naive(head), "{head:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn empty_lines_before_the_request_line_do_not_end_it() {
        let mut s = HeadScanner::new();
        assert_eq!(s.feed(b"\r\n\r\n"), None);
        assert!(!s.started());
        assert_eq!(s.feed(b"GET /openapi.json HTTP/1.1\r\n"), None);
        assert_eq!(s.feed(b"A: b\r\n"), None);
        assert_eq!(s.feed(b"\r\nrest"), Some(2));
        // The scanner is ready for the next head.
        assert_eq!(s.feed(b"\nGET / HTTP/1.1\n\n"), Some(17));
    }

    #[test]
    fn the_raw_target_keeps_what_the_uri_dropped() {
        assert_eq!(
            request_target(b"GET /api/bob#/alice HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(&b"/api/bob#/alice"[..])
        );
        assert_eq!(
            request_target(b"\r\n\nGET /api/alice/tasks#/../../bob HTTP/1.1\r\n\r\n"),
            Some(&b"/api/alice/tasks#/../../bob"[..])
        );
        assert_eq!(request_target(b"GET /a HTTP/1.0\n\n"), Some(&b"/a"[..]));
        assert_eq!(request_target(b"garbage"), None);
        assert_eq!(request_target(b"\r\n\r\n"), None);
    }
}
