//! Where an HTTP/1 request head ends, read in pieces: `HeadScanner` must agree with
//! httparse (the parser Pingora reads heads with) on every byte stream, cut at any
//! points. The head deadline is disarmed where the scanner says the head ends, so
//! the property that matters is that it never ends a head httparse still waits on
//! (that was the empty-lines-first bypass). And the raw request-target read from a
//! complete head is the target httparse parsed.
#![no_main]

use authgate::fuzzing::{request_target, HeadScanner};
use libfuzzer_sys::fuzz_target;

/// httparse's verdict on `data`: `Some(Some(n))` complete at `n`, `Some(None)`
/// partial, `None` an error.
fn httparse_end(data: &[u8]) -> Option<Option<usize>> {
    let mut headers = [httparse::EMPTY_HEADER; 256];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(data) {
        Ok(httparse::Status::Complete(n)) => Some(Some(n)),
        Ok(httparse::Status::Partial) => Some(None),
        Err(_) => None,
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&cuts, rest)) = input.split_first() else {
        return;
    };
    let cuts = usize::from(cuts % 8).min(rest.len());
    let (cut_bytes, data) = rest.split_at(cuts);
    let mut points: Vec<usize> = cut_bytes
        .iter()
        .map(|&b| usize::from(b) % (data.len() + 1))
        .collect();
    points.push(data.len());
    points.sort_unstable();

    let mut scanner = HeadScanner::new();
    let mut from = 0;
    let mut end = None;
    for &to in &points {
        if let Some(n) = scanner.feed(&data[from..to]) {
            end = Some(from + n);
            break;
        }
        from = to;
    }

    match httparse_end(data) {
        Some(Some(n)) => {
            assert_eq!(end, Some(n), "httparse ends the head at {n}");
            let mut headers = [httparse::EMPTY_HEADER; 256];
            let mut req = httparse::Request::new(&mut headers);
            let _ = req.parse(data);
            let path = req.path.map(str::as_bytes);
            assert_eq!(request_target(&data[..n]), path, "the raw target");
        }
        Some(None) => assert_eq!(end, None, "httparse still waits for the head"),
        // An error closes the connection; the scanner may say anything, but never
        // that a head ended where httparse would still wait.
        None => {
            if let Some(e) = end {
                assert_ne!(httparse_end(&data[..e]), Some(None), "ended at {e}");
            }
        }
    }
});
